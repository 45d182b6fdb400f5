//! The Salesloft API simulator (axum): conversations (seed
//! `003_0fb3853d59695cf5.txt`), their transcriptions, sentences, recordings and
//! artifacts, and users, faithful to `/work/shared/providers/README.md` §3 and §6
//! items 19–23.
//!
//! Behaviour (choices where the sources are silent are marked *choice*):
//! - **Auth**: `Authorization: Bearer <token>` with [`SalesloftSimSettings::token`]
//!   (an OAuth access token or an API key, sent the same way). Missing or wrong →
//!   401 `{"error": "..."}` (*choice*: Salesloft's error bodies are not documented;
//!   every error of this simulator is `{"error": message}` except validation errors,
//!   which are 422 `{"errors": {"<param>": ["message"]}}`, Rails style). 401s cost
//!   nothing and carry no budget headers.
//! - **Budget** ([`budget`]): a cost budget per window for the whole team (every
//!   token shares it): default 600 per minute. Each request costs 1, or by its `page`
//!   parameter 3 (101–150), 8 (151–250), 10 (251–500), 30 (501+). Every answered
//!   request carries `x-ratelimit-endpoint-cost` and `x-ratelimit-remaining-minute`;
//!   a request that costs more than what is left is refused with 429 (no
//!   `Retry-After`: Salesloft documents none) and costs nothing. Windows are aligned
//!   to the wall clock (multiples of the window length since the Unix epoch: the
//!   wall-clock minute by default, the assumption public clients make; *choice*).
//!   [`SalesloftSimHandle::spend`] spends budget as another integration of the team.
//! - **Lists** (`/v2/conversations`, `/v2/users`, `/v2/transcriptions/{id}/sentences`):
//!   `{"data": [...], "metadata": {"filtering", "sorting", "paging"}}`; `page`
//!   (default 1, ≥ 1), `per_page` (default 25, 1–100), `include_paging_counts`
//!   (`total_pages`/`total_count` only when true); `next_page` is null on the last
//!   page; a page past the end is empty. Bad values → 422. Unknown parameters are
//!   ignored (*choice*, as Rails does).
//! - **Conversation filters** (all ANDed): `title` (exact, case-sensitive),
//!   `title[_starts_with]` (prefix, case-insensitive; *choice*),
//!   `created_at[gt|gte|lt|lte]`, `updated_at[...]` (ISO-8601; compared at microsecond
//!   precision), `duration[gt|gte|lt|lte]` (milliseconds), `language_code`,
//!   `platform`, `media_type` (one value each, from the seed's lists, else 422),
//!   `owner_ids`, `user_guids`, `ids`, `account_ids`, `person_ids` (lists: repeated
//!   `name[]=v`, or comma-separated `name=a,b`), `is_api` (`true`/`false`).
//!   `sort_by` `created_at` (default) | `updated_at` | `duration`, `sort_direction`
//!   `asc` | `desc` (default, any case); ties are ordered by id (*choice*, so pages
//!   never overlap).
//! - **Users**: `ids` (integer ids), `guid` (lists as above), `active`; ordered by id.
//! - **Conversation** `GET /v2/conversations/{id}` → `{"data": {...}}`;
//!   `/recording` → `{"data": {"id", "url" (signed, 8 h), "content_type",
//!   "expires_at", "conversation"}}` (*choice*: the shape is not documented);
//!   `GET /v2/transcriptions/{id}` and `/artifact` as the README; sentences are
//!   ordered by `order_number` (1-based), `start_time`/`end_time` are seconds
//!   (*choice*: the unit is not documented). About 4% of conversations have no
//!   transcription (`transcription*` references null, 404 on its routes).
//! - **Transcriptions** `GET /v2/transcriptions`: the list envelope; filters
//!   `created_at[...]`, `updated_at[...]` (a transcription's two times are equal),
//!   `language_code`, `ids`; `sort_by` `created_at` (default) | `updated_at`.
//! - **Live calls** ([`crate::sandbox::LiveCalls`]): a conversation exists from the
//!   moment its call ends (`created_at` = that instant; 404 and absent from lists
//!   before); its transcription appears `every/2` later, when `updated_at` moves to
//!   that instant and the transcription's `created_at`/`updated_at` are that instant.
//! - Timestamps are UTC with microseconds (`2026-01-05T15:04:05.123456Z`);
//!   `duration` is milliseconds with a fraction; `started_recording_at` is epoch ms.
//! - Unknown routes → 404, wrong method → 405.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::common::{SimCounters, SimHandle};
use super::world::World;
use super::world_sl::SlData;

pub mod budget;
pub(crate) mod handlers;
pub mod ids;
#[cfg(test)]
mod tests;

use budget::TeamBudget;

/// Salesloft simulator behaviour.
#[derive(Clone, Debug)]
pub struct SalesloftSimSettings {
    /// The bearer token (API key or OAuth access token) it accepts.
    pub token: String,
    /// Cost budget per window for the team (default 600; 0 = unlimited).
    pub budget: u32,
    /// Length of the budget window (default 60 s).
    pub budget_window: Duration,
    /// Added before every response (default 0).
    pub latency: Duration,
}

impl Default for SalesloftSimSettings {
    fn default() -> Self {
        SalesloftSimSettings {
            token: "sandbox-salesloft-api-key".into(),
            budget: 600,
            budget_window: Duration::from_secs(60),
            latency: Duration::ZERO,
        }
    }
}

pub(crate) struct Inner {
    world: Arc<World>,
    data: Arc<SlData>,
    settings: SalesloftSimSettings,
    counters: SimCounters,
    budget: Arc<TeamBudget>,
}

pub(crate) type AppState = Arc<Inner>;

/// The running Salesloft simulator.
#[derive(Clone, Debug)]
pub struct SalesloftSimHandle {
    sim: SimHandle,
    data: Arc<SlData>,
    budget: Arc<TeamBudget>,
    window: Duration,
}

impl SalesloftSimHandle {
    /// `http://127.0.0.1:PORT` (no trailing slash; routes are `/v2/...`).
    pub fn base_url(&self) -> &str {
        self.sim.base_url()
    }

    /// The bearer token it accepts.
    pub fn token(&self) -> &str {
        self.sim.access_key()
    }

    /// Requests received for `method` on `route` (the path template, e.g.
    /// `/v2/conversations/{id}`).
    pub fn requests(&self, method: &str, route: &str) -> u64 {
        self.sim.requests(method, route)
    }

    /// All requests received (401s and 429s included).
    pub fn total_requests(&self) -> u64 {
        self.sim.total_requests()
    }

    /// How many 429 responses were sent.
    pub fn rejected_429(&self) -> u64 {
        self.sim.rejected_429()
    }

    /// While on, every page request is answered with the first page again (the
    /// stuck-paging fault: a server that ignores its paging tokens).
    pub fn set_stuck_paging(&self, on: bool) {
        self.sim.set_stuck_paging(on);
    }

    /// The next `n` requests get 429 (without spending budget).
    pub fn inject_429(&self, n: u64) {
        self.sim.inject_429(n);
    }

    /// Spends `cost` of the current window's budget, as another integration of the
    /// team would (saturating at zero).
    pub fn spend(&self, cost: u32) {
        self.budget.spend(cost);
    }

    /// Budget left in the current window.
    pub fn budget_remaining(&self) -> u32 {
        self.budget.remaining()
    }

    /// Total cost charged so far (over all windows).
    pub fn charged(&self) -> u64 {
        self.budget.charged()
    }

    /// The budget window length.
    pub fn budget_window(&self) -> Duration {
        self.window
    }

    /// The Salesloft-only data it serves.
    pub fn data(&self) -> &SlData {
        &self.data
    }

    /// The generic handle.
    pub fn sim(&self) -> &SimHandle {
        &self.sim
    }
}

/// The simulator's router over `world` and its handle's shared parts.
pub(crate) fn router(
    world: Arc<World>,
    settings: SalesloftSimSettings,
) -> (Router, SimCounters, Arc<SlData>, Arc<TeamBudget>) {
    let counters = SimCounters::default();
    let data = Arc::new(SlData::generate(&world));
    let budget = Arc::new(TeamBudget::new(settings.budget, settings.budget_window));
    let state: AppState =
        Arc::new(Inner { world, data: data.clone(), settings, counters: counters.clone(), budget: budget.clone() });
    let router = Router::new()
        .route("/v2/conversations", get(handlers::conversations))
        .route("/v2/conversations/{id}", get(handlers::conversation))
        .route("/v2/conversations/{id}/recording", get(handlers::recording))
        .route("/v2/transcriptions", get(handlers::transcriptions))
        .route("/v2/transcriptions/{id}", get(handlers::transcription))
        .route("/v2/transcriptions/{id}/sentences", get(handlers::sentences))
        .route("/v2/transcriptions/{id}/artifact", get(handlers::artifact))
        .route("/v2/users", get(handlers::users))
        .route("/v2/users/{id}", get(handlers::user))
        .fallback(handlers::unknown_route)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state);
    (router, counters, data, budget)
}

pub(crate) fn handle(
    addr: std::net::SocketAddr,
    settings: &SalesloftSimSettings,
    counters: SimCounters,
    data: Arc<SlData>,
    budget: Arc<TeamBudget>,
) -> SalesloftSimHandle {
    SalesloftSimHandle {
        sim: SimHandle::new(addr, settings.token.clone(), String::new(), counters),
        data,
        budget,
        window: settings.budget_window,
    }
}

/// The header naming the cost of the request.
pub const COST_HEADER: &str = "x-ratelimit-endpoint-cost";
/// The header naming the budget left in the window.
pub const REMAINING_HEADER: &str = "x-ratelimit-remaining-minute";

/// Counting, latency, auth, then the cost budget.
async fn gate(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map_or_else(|| "<unmatched>".to_string(), |m| m.as_str().to_string());
    st.counters.record(req.method().as_str(), &route);
    if !st.settings.latency.is_zero() {
        tokio::time::sleep(st.settings.latency).await;
    }
    if let Some(status) = st.counters.injected(req.method().as_str(), &route).await {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return SlError::new(status, "Injected failure (sandbox)").into_response();
    }
    if !authorized(&st.settings, req.headers()) {
        return SlError::new(StatusCode::UNAUTHORIZED, "Unauthorized: missing, invalid or expired token")
            .into_response();
    }
    let cost = budget::request_cost(req.uri().query());
    if st.counters.take_injected_429() {
        st.counters.count_429();
        return with_budget_headers(too_many(), cost, st.budget.remaining());
    }
    match st.budget.charge(cost) {
        Ok(remaining) => {
            let resp = st.counters.serve(req, next).await;
            with_budget_headers(resp, cost, remaining)
        }
        Err(remaining) => {
            st.counters.count_429();
            with_budget_headers(too_many(), cost, remaining)
        }
    }
}

fn too_many() -> Response {
    SlError::new(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded: the team's cost budget for this minute is spent")
        .into_response()
}

fn with_budget_headers(mut resp: Response, cost: u32, remaining: u32) -> Response {
    let h = resp.headers_mut();
    h.insert(COST_HEADER, HeaderValue::from(cost));
    h.insert(REMAINING_HEADER, HeaderValue::from(remaining));
    resp
}

fn authorized(settings: &SalesloftSimSettings, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer") && !settings.token.is_empty() && token.trim() == settings.token
}

/// An error: `{"error": message}`, or 422 `{"errors": {param: [message]}}`.
#[derive(Debug)]
pub(crate) struct SlError {
    status: StatusCode,
    body: Value,
}

impl SlError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        SlError { status, body: json!({ "error": message.into() }) }
    }

    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    /// A validation error naming the parameter.
    pub(crate) fn invalid(param: &str, message: impl Into<String>) -> Self {
        SlError { status: StatusCode::UNPROCESSABLE_ENTITY, body: json!({ "errors": { param: [message.into()] } }) }
    }
}

impl IntoResponse for SlError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}
