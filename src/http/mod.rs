//! HTTP: the axum router. Wires the schema to GraphQL over HTTP and adds GraphiQL,
//! `/healthz`, `/readyz`, `/metrics`, `POST /webhooks/{connection}` (provider
//! webhooks, see [`crate::webhooks`]), request ids, CORS and request tracing. No
//! resolver logic here.

mod graphiql;
mod graphql;
mod incremental;
mod live;
mod response_cache;
mod webhooks;

pub use response_cache::ResponseCache;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;
use sha2::{Digest, Sha256};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    services::ServeDir,
    trace::{DefaultOnFailure, TraceLayer},
};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::{
    auth::Authenticator,
    config::{CorsSettings, GraphiqlSettings, LimitSettings, Secret},
    metrics::{Health, Metrics},
    providers::{ProviderErrorKind, Registry},
    schema::{AppSchema, limits::RequestGuard},
};

/// The request id header (set when the client sends none; echoed on the response).
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The alternative API key header.
pub const API_KEY_HEADER: &str = "x-api-key";

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Body size, batch size and deadline.
    pub limits: LimitSettings,
    /// CORS.
    pub cors: CorsSettings,
    /// Whether the sandbox runs (CORS is open there by default).
    pub sandbox: bool,
    /// Serve `/metrics`.
    pub metrics_enabled: bool,
    /// The bearer token scrapers must send, when set.
    pub metrics_token: Option<Secret>,
    /// How long an observed connection state stands before `/readyz` checks again.
    pub readiness_check_interval: Duration,
}

/// One in-flight readiness check per connection at most.
#[derive(Debug, Default)]
pub struct ReadinessChecks {
    locks: Mutex<HashMap<Arc<str>, Arc<tokio::sync::Mutex<()>>>>,
}

impl ReadinessChecks {
    fn lock_of(&self, connection: &Arc<str>) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.lock().expect("readiness lock").entry(connection.clone()).or_default().clone()
    }
}

/// Everything the HTTP handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub schema: AppSchema,
    pub registry: Arc<Registry>,
    pub graphiql: Arc<GraphiqlSettings>,
    pub auth: Arc<Authenticator>,
    pub guard: Arc<RequestGuard>,
    pub metrics: Metrics,
    pub readiness: Arc<ReadinessChecks>,
    pub options: Arc<HttpOptions>,
    /// Whole answers of repeated queries.
    pub responses: ResponseCache,
    /// State shared with other replicas (Redis), when configured.
    pub shared: Option<crate::shared::Shared>,
    /// Subscriptions' events (and the webhooks that feed them).
    pub live: crate::live::Hub,
    /// How each connection's webhooks are verified.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
}

/// The whole HTTP surface.
pub fn router(state: HttpState) -> Router {
    let mut router = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        // Signed by the provider, not by client credentials (see `webhooks`).
        .route("/webhooks/{connection}", post(webhooks::receive));
    if state.options.metrics_enabled {
        router = router.route("/metrics", get(metrics));
    }
    if let Some(dir) = state.graphiql.assets_dir.clone().filter(|_| state.graphiql.enabled) {
        router = router.nest_service(graphiql::LOCAL_ASSETS_PATH, ServeDir::new(dir));
    }
    // Inside out: CORS answers preflights before routing; the trace span covers the
    // handler and carries the request id set (or kept) by the outer layer; a panic
    // anywhere becomes a coded 500, never a dropped connection.
    if let Some(cors) = cors_layer(&state.options.cors, state.options.sandbox) {
        router = router.layer(cors);
    }
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    router
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                // Handlers log their own outcome (a 503 from /readyz is not an error to
                // page anyone for on every probe).
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG))
                .on_response(|res: &Response, _latency: Duration, span: &tracing::Span| {
                    span.record("http.response.status_code", res.status().as_u16());
                }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, RandomRequestId))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(Arc::new(state))
}

/// `GET /graphql`: a WebSocket upgrade (subscriptions), an event stream (GraphQL
/// over SSE), or a query / GraphiQL.
async fn graphql_get(State(state): State<Arc<HttpState>>, req: Request<Body>) -> Response {
    if live::is_websocket(req.headers()) {
        return live::websocket(state, req).await;
    }
    let headers = req.headers().clone();
    let raw = req.uri().query().map(str::to_owned);
    if live::wants_event_stream(&headers) {
        let request = async_graphql::http::parse_query_string(raw.as_deref().unwrap_or_default())
            .map_err(|e| format!("invalid GraphQL request: {e}"));
        return live::event_stream(state, &headers, request).await;
    }
    graphql::get_handler(State(state), headers, axum::extract::RawQuery(raw)).await
}

/// `POST /graphql`: an event stream (GraphQL over SSE) or a query.
async fn graphql_post(State(state): State<Arc<HttpState>>, headers: HeaderMap, body: Body) -> Response {
    if live::wants_event_stream(&headers) {
        let limit = state.options.limits.max_body_bytes;
        let request = match axum::body::to_bytes(body, limit).await {
            Ok(bytes) => serde_json::from_slice::<async_graphql::Request>(&bytes)
                .map_err(|e| format!("invalid GraphQL request: {e}")),
            Err(_) => Err(format!("could not read the body (at most {limit} bytes)")),
        };
        return live::event_stream(state, &headers, request).await;
    }
    graphql::post_handler(State(state), headers, body).await
}

/// The span of one HTTP request: method, path (never the query string, which may
/// hold variables), request id, and the caller's trace as its parent.
/// Request ids for requests that come without one: random UUIDs (v4) drawn from the
/// thread's generator, so an id costs no system call (tower-http's own maker asks
/// the OS for randomness on every request, a measurable share of a cached query).
#[derive(Clone, Copy, Debug)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _req: &Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        HeaderValue::from_str(id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer())).ok().map(RequestId::new)
    }
}

fn request_span(req: &Request<Body>) -> tracing::Span {
    let request_id = req.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        otel.name = %format!("{} {}", req.method(), req.uri().path()),
        otel.kind = "server",
        http.request.method = %req.method(),
        url.path = %req.uri().path(),
        request_id = %request_id,
        http.response.status_code = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&opentelemetry_http::HeaderExtractor(req.headers()))
    });
    let _ = span.set_parent(parent);
    span
}

fn cors_layer(settings: &CorsSettings, sandbox: bool) -> Option<CorsLayer> {
    let origins = match &settings.allow_origins {
        Some(list) => list.clone(),
        None if sandbox => vec![crate::auth::ALL_CONNECTIONS.to_owned()],
        None => return None,
    };
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()))
    };
    let mut layer = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::AUTHORIZATION,
            HeaderName::from_static(API_KEY_HEADER),
            HeaderName::from_static(REQUEST_ID_HEADER),
            HeaderName::from_static("traceparent"),
            HeaderName::from_static("apollographql-client-name"),
            HeaderName::from_static("apollographql-client-version"),
        ])
        .expose_headers([HeaderName::from_static(REQUEST_ID_HEADER)]);
    if let Some(age) = settings.max_age {
        layer = layer.max_age(age);
    }
    Some(layer)
}

/// The process is up.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Every connection answering with valid credentials. What the transport observed
/// of real traffic stands for `server.readiness_check_interval`; only a connection
/// with nothing recent is checked (one check per connection at a time), so frequent
/// probes do not spend the providers' request quotas.
async fn readyz(State(state): State<Arc<HttpState>>) -> impl IntoResponse {
    let interval = state.options.readiness_check_interval;
    let checks = state.registry.iter().map(|p| {
        let state = state.clone();
        async move {
            let id = p.connection_id().clone();
            let recent = |m: &Metrics| m.health(&id).filter(|(at, _)| at.elapsed() < interval).map(|(_, h)| h);
            if let Some(h) = recent(&state.metrics) {
                return (id, h);
            }
            let lock = state.readiness.lock_of(&id);
            let _one_at_a_time = lock.lock().await;
            if let Some(h) = recent(&state.metrics) {
                return (id, h);
            }
            let health = match p.check().await {
                Ok(()) => Health::Ok,
                Err(e) => match e.kind {
                    ProviderErrorKind::Unauthorized(_) => Health::Unauthorized,
                    ProviderErrorKind::RateLimited { .. } => Health::Ok,
                    _ => Health::Unavailable,
                },
            };
            if health != Health::Ok {
                tracing::warn!(connection = %id, health = ?health, "Connection check failed.");
            }
            state.metrics.set_health(&id, health);
            (id, health)
        }
    });
    let results = futures::future::join_all(checks).await;
    let ready = results.iter().all(|(_, h)| *h == Health::Ok);
    let connections: serde_json::Map<String, serde_json::Value> = results
        .into_iter()
        .map(|(id, h)| {
            let mut v = match h {
                Health::Ok => json!({ "status": "ok" }),
                Health::Unauthorized => json!({ "status": "error", "code": "PROVIDER_ERROR" }),
                Health::Unavailable => json!({ "status": "error", "code": "PROVIDER_UNAVAILABLE" }),
            };
            if let Some(circuit) = state.metrics.circuit(&id) {
                v["circuit"] = json!(circuit.as_str());
            }
            (id.to_string(), v)
        })
        .collect();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut body = json!({ "status": if ready { "ready" } else { "not ready" }, "connections": connections });
    if let Some(shared) = &state.shared {
        // Redis down degrades (the replica acts alone) but does not make it unready.
        body["redis"] = if shared.is_up() {
            json!({ "status": "ok", "mode": "shared" })
        } else {
            json!({ "status": "unreachable", "mode": "local", "replicas": shared.replicas() })
        };
    }
    (status, Json(body))
}

/// Prometheus scrape: the text format, or OpenMetrics when the scraper asks for it.
async fn metrics(State(state): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.options.metrics_token {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        // Compare digests, so the comparison's timing says nothing about the token.
        if Sha256::digest(sent.trim().as_bytes()) != Sha256::digest(token.expose().as_bytes()) {
            return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "metrics need a bearer token")
                .into_response();
        }
    }
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let body = state.metrics.render(openmetrics);
    ([(header::CONTENT_TYPE, crate::metrics::content_type(openmetrics))], body).into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("A request handler panicked; answered 500.");
    let body = json!({ "errors": [ { "message": "internal error", "extensions": { "code": "INTERNAL" } } ] });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_is_off_by_default_outside_the_sandbox() {
        assert!(cors_layer(&CorsSettings::default(), false).is_none());
        assert!(cors_layer(&CorsSettings::default(), true).is_some());
        let listed = CorsSettings { allow_origins: Some(vec!["https://a.example".into()]), max_age: None };
        assert!(cors_layer(&listed, false).is_some());
    }
}
