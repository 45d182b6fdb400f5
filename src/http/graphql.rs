//! GraphQL over HTTP (the GraphQL-over-HTTP spec): `POST` for everything, `GET` for
//! queries only (a mutation over `GET` is 405), `application/graphql-response+json`
//! when the client accepts it (then request errors are 4xx), `application/json`
//! otherwise (always 200). Browsers asking for HTML get GraphiQL.
//!
//! Before the engine runs: the caller is authenticated (`401 UNAUTHENTICATED`
//! otherwise), the body is bounded (`413 PAYLOAD_TOO_LARGE`) and so is the batch
//! (`400 BATCH_LIMIT_EXCEEDED`); the whole execution has a deadline
//! (`504 REQUEST_TIMEOUT`). Each operation is counted in the metrics and logged
//! once, with the caller's name and never a credential.

use std::{sync::Arc, time::Instant};

use async_graphql::{
    BatchRequest, BatchResponse,
    http::MultipartOptions,
    parser::types::{DocumentOperations, OperationType},
};
use axum::{
    body::Body,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use super::{API_KEY_HEADER, HttpState, graphiql};
use crate::{
    auth::{AuthError, Principal},
    error::ErrorCode,
    loaders::Loaders,
    metrics::ANONYMOUS_OPERATION,
};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The response media type the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaType {
    GraphqlResponseJson,
    Json,
}

fn negotiate(headers: &HeaderMap) -> MediaType {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    // Prefer the GraphQL media type whenever it is listed with a non-zero quality.
    let wants = |media: &str| {
        accept.split(',').any(|part| {
            let mut it = part.split(';');
            let ty = it.next().unwrap_or("").trim();
            let q_zero = it.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()).is_some_and(|q| q == 0.0)
            });
            ty.eq_ignore_ascii_case(media) && !q_zero
        })
    };
    if wants(GRAPHQL_RESPONSE_JSON) { MediaType::GraphqlResponseJson } else { MediaType::Json }
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').any(|p| p.trim().starts_with("text/html")))
}

/// The caller, or the `401` to answer.
fn authenticate(state: &HttpState, headers: &HeaderMap, media: MediaType) -> Result<Arc<Principal>, Box<Response>> {
    let value = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    state.auth.authenticate(value(header::AUTHORIZATION.as_str()), value(API_KEY_HEADER)).map_err(|e| {
        state.metrics.auth_failure(e.reason());
        tracing::info!(reason = e.reason(), "Request refused: not authenticated.");
        let challenge = match e {
            AuthError::Missing => "Bearer",
            _ => "Bearer error=\"invalid_token\"",
        };
        let mut resp = request_error(media, StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, &e.to_string());
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        Box::new(resp)
    })
}

/// `POST /graphql`.
pub(super) async fn post_handler(State(state): State<HttpState>, headers: HeaderMap, body: Body) -> Response {
    let media = negotiate(&headers);
    let principal = match authenticate(&state, &headers, media) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let limit = state.options.limits.max_body_bytes;
    let too_large = || {
        let message = format!("the request body is larger than {limit} bytes");
        request_error(media, StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, &message)
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            if e.into_inner().downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                return too_large();
            }
            return request_error(media, StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "could not read the body");
        }
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let batch = match async_graphql::http::receive_batch_body(content_type, bytes.as_ref(), MultipartOptions::default())
        .await
    {
        Ok(b) => b,
        Err(e) => {
            let message = format!("invalid GraphQL request: {e}");
            return request_error(media, StatusCode::BAD_REQUEST, ErrorCode::BadRequest, &message);
        }
    };
    execute(&state, media, principal, batch).await
}

/// `GET /graphql`: GraphiQL for browsers, otherwise a query from the query string.
pub(super) async fn get_handler(
    State(state): State<HttpState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let has_query = raw.split('&').any(|kv| kv.starts_with("query=") || kv.starts_with("extensions="));
    if !has_query && wants_html(&headers) {
        if !state.graphiql.enabled {
            return (StatusCode::NOT_FOUND, "GraphiQL is disabled").into_response();
        }
        return Html(graphiql::page(&state.graphiql)).into_response();
    }
    let media = negotiate(&headers);
    let principal = match authenticate(&state, &headers, media) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let request = match async_graphql::http::parse_query_string(&raw) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("invalid GraphQL request: {e}");
            return request_error(media, StatusCode::BAD_REQUEST, ErrorCode::BadRequest, &message);
        }
    };
    if is_mutation(&request) {
        let mut resp = request_error(
            media,
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::BadRequest,
            "mutations are only accepted over POST",
        );
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    execute(&state, media, principal, BatchRequest::Single(request)).await
}

/// Whether the operation the request would run is a mutation.
fn is_mutation(req: &async_graphql::Request) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&req.query) else {
        return false;
    };
    let ty = match &doc.operations {
        DocumentOperations::Single(op) => Some(op.node.ty),
        DocumentOperations::Multiple(ops) => match &req.operation_name {
            Some(name) => ops.get(name.as_str()).map(|op| op.node.ty),
            None if ops.len() == 1 => ops.values().next().map(|op| op.node.ty),
            None => None,
        },
    };
    ty == Some(OperationType::Mutation)
}

async fn execute(state: &HttpState, media: MediaType, principal: Arc<Principal>, req: BatchRequest) -> Response {
    let started = Instant::now();
    let limits = &state.options.limits;
    let (batched, requests) = match req {
        BatchRequest::Single(r) => (false, vec![r]),
        BatchRequest::Batch(rs) => (true, rs),
    };
    if requests.len() > limits.max_batch {
        let message =
            format!("a batch may hold at most {} operations; this one holds {}", limits.max_batch, requests.len());
        return request_error(media, StatusCode::BAD_REQUEST, ErrorCode::BatchLimitExceeded, &message);
    }
    let loaders = Arc::new(Loaders::new(&state.registry));
    // Each operation passes the guard (persisted queries, parse, limits) first; only
    // those that do reach the engine.
    let mut operations = Vec::with_capacity(requests.len());
    let mut slots: Vec<Result<async_graphql::Request, async_graphql::Response>> = Vec::new();
    for mut r in requests {
        let mut name = None;
        let checked = state.guard.check(&mut r, &mut name);
        operations.push(state.metrics.operation_label(name.as_deref()));
        match checked {
            Ok(()) => {
                r.data.insert(principal.clone());
                r.data.insert(loaders.clone());
                slots.push(Ok(r));
            }
            Err(e) => slots.push(Err(async_graphql::Response::from_errors(vec![e]))),
        }
    }
    let run = futures::future::join_all(slots.into_iter().map(|slot| async move {
        match slot {
            Ok(r) => state.schema.execute(r).await,
            Err(refused) => refused,
        }
    }));
    let mut responses = match tokio::time::timeout(limits.request_timeout, run).await {
        Ok(responses) => responses,
        Err(_) => {
            let status = StatusCode::GATEWAY_TIMEOUT;
            for op in &operations {
                state.metrics.graphql_request(
                    op,
                    status.as_u16(),
                    started.elapsed(),
                    [ErrorCode::RequestTimeout.as_str()],
                );
            }
            tracing::warn!(
                operation = %operations.join(","),
                principal = principal.name(),
                timeout_ms = limits.request_timeout.as_millis() as u64,
                "GraphQL request exceeded its deadline."
            );
            let message = format!("the request did not complete within {:?}", limits.request_timeout);
            return request_error(media, status, ErrorCode::RequestTimeout, &message);
        }
    };
    responses.iter_mut().for_each(tag_request_errors);
    let resp = if batched {
        BatchResponse::Batch(responses)
    } else {
        BatchResponse::Single(responses.pop().expect("one response per request"))
    };
    // With the GraphQL media type, a request that never started executing (parse or
    // validation failure: no data, no error path) is a 400.
    let request_failed = match &resp {
        BatchResponse::Single(r) => is_request_error(r),
        BatchResponse::Batch(rs) => !rs.is_empty() && rs.iter().all(is_request_error),
    };
    let status = if media == MediaType::GraphqlResponseJson && request_failed {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    record(state, &principal, &operations, &resp, status, started);
    let body = serde_json::to_vec(&resp).unwrap_or_else(|_| b"{\"errors\":[{\"message\":\"internal\"}]}".to_vec());
    let mut out = (status, body).into_response();
    out.headers_mut().insert(header::CONTENT_TYPE, content_type(media));
    out
}

/// Counts and logs each operation of a response.
fn record(
    state: &HttpState,
    principal: &Principal,
    operations: &[String],
    resp: &BatchResponse,
    status: StatusCode,
    started: Instant,
) {
    let responses: Vec<&async_graphql::Response> = match resp {
        BatchResponse::Single(r) => vec![r],
        BatchResponse::Batch(rs) => rs.iter().collect(),
    };
    let elapsed = started.elapsed();
    for (i, r) in responses.iter().enumerate() {
        let operation = operations.get(i).map_or(ANONYMOUS_OPERATION, String::as_str);
        let codes: Vec<&str> = r
            .errors
            .iter()
            .filter_map(|e| e.extensions.as_ref()?.get("code"))
            .filter_map(|v| match v {
                async_graphql::Value::String(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        state.metrics.graphql_request(operation, status.as_u16(), elapsed, codes.iter().copied());
        tracing::info!(
            operation,
            principal = principal.name(),
            auth = principal.method().as_str(),
            status = status.as_u16(),
            elapsed_ms = elapsed.as_millis() as u64,
            errors = r.errors.len(),
            codes = %codes.join(","),
            "GraphQL request."
        );
    }
}

/// Gives validation errors raised by the engine (without a code) the code gateways
/// and clients know, `GRAPHQL_VALIDATION_FAILED` (parse failures are tagged
/// `GRAPHQL_PARSE_FAILED` by the request guard).
fn tag_request_errors(r: &mut async_graphql::Response) {
    if !is_request_error(r) {
        return;
    }
    for e in &mut r.errors {
        let ext = e.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", ErrorCode::GraphqlValidationFailed.as_str());
        }
    }
}

fn is_request_error(r: &async_graphql::Response) -> bool {
    r.data == async_graphql::Value::Null && !r.errors.is_empty() && r.errors.iter().all(|e| e.path.is_empty())
}

fn content_type(media: MediaType) -> HeaderValue {
    HeaderValue::from_static(match media {
        MediaType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
        MediaType::Json => "application/json; charset=utf-8",
    })
}

fn request_error(media: MediaType, status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [ { "message": message, "extensions": { "code": code.as_str() } } ] });
    let mut out = (status, body.to_string()).into_response();
    out.headers_mut().insert(header::CONTENT_TYPE, content_type(media));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn json_unless_the_graphql_media_type_is_accepted() {
        assert_eq!(negotiate(&HeaderMap::new()), MediaType::Json);
        assert_eq!(negotiate(&accept("application/json")), MediaType::Json);
        assert_eq!(negotiate(&accept("*/*")), MediaType::Json);
        assert_eq!(negotiate(&accept("application/graphql-response+json")), MediaType::GraphqlResponseJson);
        assert_eq!(
            negotiate(&accept("application/json;q=0.9, application/graphql-response+json")),
            MediaType::GraphqlResponseJson
        );
        assert_eq!(negotiate(&accept("application/graphql-response+json;q=0, application/json")), MediaType::Json);
    }

    #[test]
    fn mutation_detection_follows_the_operation_name() {
        let req = |q: &str, op: Option<&str>| {
            let mut r = async_graphql::Request::new(q);
            if let Some(op) = op {
                r = r.operation_name(op);
            }
            r
        };
        assert!(is_mutation(&req("mutation { x }", None)));
        assert!(!is_mutation(&req("{ x }", None)));
        assert!(is_mutation(&req("query A { x } mutation B { y }", Some("B"))));
        assert!(!is_mutation(&req("query A { x } mutation B { y }", Some("A"))));
        assert!(!is_mutation(&req("not graphql", None)));
    }
}
