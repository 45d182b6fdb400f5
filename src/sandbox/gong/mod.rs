//! The Gong REST API v2 simulator (axum), faithful to
//! `/work/shared/providers/README.md` §1 and Gong's OpenAPI spec.
//!
//! Behaviour: HTTP Basic auth on every route (401, or 403 on `GET /v2/users`,
//! `GET /v2/coaching` and `GET /v2/workspaces`); errors are
//! `{"requestId": "...", "errors": ["..."]}`; injected failures
//! ([`crate::sandbox::SimHandle::inject_failures`], `set_down`) answer with the
//! injected status and that body; list endpoints page by 100 with an opaque
//! cursor bound to the request's filter (absent on the last page); empty results are
//! 404; a token bucket per access key (capacity and refill `rate_per_sec`) answers 429
//! with `Retry-After: 1`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::common::{SimCounters, TokenBuckets};
use super::rng::mix;
use super::world::World;

mod handlers;
pub mod ids;
pub(crate) mod render;
#[cfg(test)]
mod tests;

/// Gong simulator behaviour.
#[derive(Clone, Debug)]
pub struct GongSimSettings {
    /// Token-bucket capacity and refill per second, per access key (default 3; 0 = no limit).
    pub rate_per_sec: u32,
    /// Added before every response (default 0).
    pub latency: Duration,
    /// Basic-auth user (default `sandbox-access-key`).
    pub access_key: String,
    /// Basic-auth password (default `sandbox-secret`).
    pub access_key_secret: String,
    /// "Today" in the company time zone for the stats `toDate` check (default: the clock).
    pub today: Option<NaiveDate>,
    /// Add one stat name Gong does not document (`"Engaging Questions"`) to
    /// `/v2/stats/interaction`, to exercise forward compatibility (default true).
    pub extra_interaction_stat: bool,
}

impl Default for GongSimSettings {
    fn default() -> Self {
        GongSimSettings {
            rate_per_sec: 3,
            latency: Duration::ZERO,
            access_key: "sandbox-access-key".into(),
            access_key_secret: "sandbox-secret".into(),
            today: None,
            extra_interaction_stat: true,
        }
    }
}

/// The page size Gong uses for every list endpoint.
pub const PAGE_SIZE: usize = 100;

pub(crate) struct Inner {
    pub(crate) world: Arc<World>,
    pub(crate) settings: GongSimSettings,
    counters: SimCounters,
    buckets: TokenBuckets,
}

pub(crate) type AppState = Arc<Inner>;

/// The Gong simulator's router over `world` (serve it yourself, or use
/// [`crate::sandbox::Sandbox::start`]); the counters see every request.
pub fn router(world: Arc<World>, settings: GongSimSettings) -> (Router, SimCounters) {
    let counters = SimCounters::default();
    let state: AppState = Arc::new(Inner {
        world,
        buckets: TokenBuckets::new(settings.rate_per_sec),
        settings,
        counters: counters.clone(),
    });
    let router = Router::new()
        .route("/v2/users", get(handlers::list_users))
        .route("/v2/users/{id}", get(handlers::get_user))
        .route("/v2/users/extensive", post(handlers::users_extensive))
        .route("/v2/calls", get(handlers::list_calls))
        .route("/v2/calls/{id}", get(handlers::get_call))
        .route("/v2/calls/extensive", post(handlers::calls_extensive))
        .route("/v2/calls/transcript", post(handlers::transcripts))
        .route("/v2/stats/activity/aggregate", post(handlers::activity_aggregate))
        .route("/v2/stats/activity/aggregate-by-period", post(handlers::activity_by_period))
        .route("/v2/stats/interaction", post(handlers::interaction_stats))
        .route("/v2/stats/activity/scorecards", post(handlers::answered_scorecards))
        .route("/v2/settings/scorecards", get(handlers::scorecards))
        .route("/v2/coaching", get(handlers::coaching))
        .route("/v2/workspaces", get(handlers::workspaces))
        .fallback(handlers::unknown_route)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state);
    (router, counters)
}

/// Counting, latency, injected faults, auth and rate limit, in that order.
async fn gate(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route =
        req.extensions().get::<MatchedPath>().map_or_else(|| "<unmatched>".to_string(), |m| m.as_str().to_string());
    st.counters.record(method.as_str(), &route);
    if !st.settings.latency.is_zero() {
        tokio::time::sleep(st.settings.latency).await;
    }
    if let Some(status) = st.counters.injected(method.as_str(), &route).await {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return ApiError::new(status, "Internal server error (injected by the sandbox)").into_response();
    }
    if st.counters.take_injected_429() {
        st.counters.count_429();
        return ApiError::rate_limited().into_response();
    }
    if !authorized(&st.settings, req.headers()) {
        let forbidden =
            method == Method::GET && matches!(route.as_str(), "/v2/users" | "/v2/coaching" | "/v2/workspaces");
        let status = if forbidden { StatusCode::FORBIDDEN } else { StatusCode::UNAUTHORIZED };
        return ApiError::new(status, "Access denied: missing or invalid access key / access key secret")
            .into_response();
    }
    if !st.buckets.try_take(&st.settings.access_key) {
        st.counters.count_429();
        return ApiError::rate_limited().into_response();
    }
    st.counters.serve(req, next).await
}

fn authorized(settings: &GongSimSettings, headers: &HeaderMap) -> bool {
    super::common::basic_auth_matches(headers, &settings.access_key, &settings.access_key_secret)
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(1);

/// A fresh Gong-looking request id (19 lowercase alphanumerics).
pub(crate) fn request_id() -> String {
    const ALPHA: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let n = REQUEST_SEQ.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut a = mix(n ^ nanos.rotate_left(17));
    let mut b = mix(a ^ n);
    (0..19)
        .map(|i| {
            let v = if i < 10 { &mut a } else { &mut b };
            let c = ALPHA[(*v % 36) as usize] as char;
            *v /= 36;
            c
        })
        .collect()
}

/// An error answered with Gong's `ErrorResponse` body.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into() }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    fn rate_limited() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "API request limit exceeded: too many requests, retry later")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "requestId": request_id(), "errors": [self.message] });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

pub(crate) type ApiResult = Result<axum::Json<Value>, ApiError>;

/// `serde_json` value with object keys sorted, as a string (filter fingerprints).
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> =
                keys.into_iter().map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k]))).collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(","))
        }
        other => other.to_string(),
    }
}

/// Fingerprint of a request's filter (route + filter inputs) that a cursor is bound to.
pub(crate) fn fingerprint(route: &str, filter: &Value) -> String {
    let mut h = Sha256::new();
    h.update(route.as_bytes());
    h.update([0]);
    h.update(canonical(filter).as_bytes());
    let digest = h.finalize();
    hex::encode(&digest[..12])
}

fn encode_cursor(page: usize, total: usize, fp: &str) -> String {
    let payload = json!({ "v": 1, "pageNumber": page, "total": total, "filter": fp });
    URL_SAFE_NO_PAD.encode(payload.to_string())
}

fn decode_cursor(cursor: &str, fp: &str) -> Result<usize, ApiError> {
    let invalid = || ApiError::bad_request("Invalid cursor value");
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| invalid())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if v["v"] != json!(1) {
        return Err(invalid());
    }
    if v["filter"].as_str() != Some(fp) {
        return Err(ApiError::bad_request(
            "The cursor does not match the request: repeat the original request unchanged with the cursor",
        ));
    }
    v["pageNumber"].as_u64().map(|p| p as usize).ok_or_else(invalid)
}

/// Cuts one page out of `items` (all matching records) for `cursor`, returning the
/// page and Gong's `records` object.
pub(crate) fn paginate<T>(items: Vec<T>, cursor: Option<&str>, fp: &str) -> Result<(Vec<T>, Value), ApiError> {
    let total = items.len();
    let page = match cursor {
        Some(c) if !c.is_empty() => decode_cursor(c, fp)?,
        _ => 0,
    };
    let start = page * PAGE_SIZE;
    if page > 0 && start >= total {
        return Err(ApiError::bad_request("Invalid cursor value"));
    }
    let slice: Vec<T> = items.into_iter().skip(start).take(PAGE_SIZE).collect();
    let mut records = json!({
        "totalRecords": total,
        "currentPageSize": slice.len(),
        "currentPageNumber": page,
    });
    if start + slice.len() < total {
        records["cursor"] = json!(encode_cursor(page + 1, total, fp));
    }
    Ok((slice, records))
}
