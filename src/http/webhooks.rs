//! `POST /webhooks/{connection}`: what a provider posts, verified by its signature
//! (never by client API keys, which providers cannot send) and handed to the live
//! hub. Answers: 200 `{"accepted": n}` (n events sent: 0 for a repeat or a test
//! post), 202 `{"accepted": 0}` for an event that is not about calls, 401 for a
//! missing or bad signature, 400 for a body that cannot be read, 413 for one over
//! `limits.max_body_bytes`, 404 for an unknown connection or one without webhooks.
//! The body and the secrets are never echoed, nor logged.

use std::sync::Arc;

use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::HttpState;
use crate::webhooks::{
    GONG_SIGNATURE_HEADER, Received, SALESLOFT_EVENT_HEADER, SALESLOFT_SIGNATURE_HEADER, Signed, WebhookError,
};

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

pub(super) async fn receive(
    State(state): State<Arc<HttpState>>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let metrics = &state.metrics;
    let Some(provider) = state.registry.get(&connection).filter(|_| state.webhooks.accepts(&connection)) else {
        // An unknown id is not a label: it would let anyone grow the metric without bound.
        metrics.webhook("", "unknown_connection");
        return answer(StatusCode::NOT_FOUND, json!({ "error": "no webhook here" }));
    };
    let connection_id = provider.connection_id().clone();
    let limit = state.options.limits.max_body_bytes;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            metrics.webhook(&connection_id, "too_large");
            return answer(StatusCode::PAYLOAD_TOO_LARGE, json!({ "error": format!("body over {limit} bytes") }));
        }
    };
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = Signed {
        authorization: text(GONG_SIGNATURE_HEADER),
        salesloft_signature: text(SALESLOFT_SIGNATURE_HEADER),
        salesloft_event: text(SALESLOFT_EVENT_HEADER),
    };
    match state.webhooks.receive(&connection_id, signed, &bytes) {
        Ok(Received::Changes(changes)) => {
            let n = state.live.ingest(&connection_id, changes).await;
            metrics.webhook(&connection_id, "accepted");
            answer(StatusCode::OK, json!({ "accepted": n }))
        }
        Ok(Received::Test) => {
            metrics.webhook(&connection_id, "test");
            answer(StatusCode::OK, json!({ "accepted": 0 }))
        }
        Ok(Received::Ignored) => {
            metrics.webhook(&connection_id, "ignored");
            answer(StatusCode::ACCEPTED, json!({ "accepted": 0 }))
        }
        Err(WebhookError::NotConfigured) => {
            metrics.webhook("", "unknown_connection");
            answer(StatusCode::NOT_FOUND, json!({ "error": "no webhook here" }))
        }
        Err(WebhookError::BadSignature(reason)) => {
            tracing::warn!(connection = %connection_id, reason, "A webhook post with a missing or bad signature was refused.");
            metrics.webhook(&connection_id, "bad_signature");
            answer(StatusCode::UNAUTHORIZED, json!({ "error": "bad signature" }))
        }
        Err(WebhookError::Unreadable(reason)) => {
            tracing::info!(connection = %connection_id, reason = %reason, "A signed webhook body could not be read.");
            metrics.webhook(&connection_id, "unreadable");
            answer(StatusCode::BAD_REQUEST, json!({ "error": "unreadable body" }))
        }
    }
}
