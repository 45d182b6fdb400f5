//! The ExecVision (Mediafly Coach) Conversation Intelligence API simulator (axum),
//! faithful to seed `002_5a0a667aa6938614.txt` (`/work/shared/seeds/`) and
//! `/work/shared/providers/README.md` §2 and §6 items 14–18.
//!
//! Base path `/api/ev/2/`; every route of the seed is served from the shared
//! [`World`] plus the ExecVision-only [`EvData`] (see [`crate::sandbox::world_ev`]).
//! Ids: [`ids`].
//!
//! Behaviour (choices where the seed is silent are marked *choice*):
//! - **Auth**: HTTP Basic with [`ExecVisionSimSettings::user_id`] / `password`.
//!   Missing or wrong → 401 with `WWW-Authenticate: Basic realm="ExecVision"` and
//!   the body `{"error": "..."}` (*choice*: the seed shows no error body; every error
//!   of this simulator uses that shape). 401s are answered at once, not queued.
//! - **Rate limit** ([`throttle`]): 5 req/s 6 AM–9 PM US Eastern, 25 req/s otherwise;
//!   excess requests are queued (delayed), never 429. A request that would wait
//!   ≥ `queue_timeout` (60 s) waits that long and gets **504** (*choice*).
//! - **Paging** (`since` [+ `last_id`] + `limit`): `since` is required where the seed
//!   lists it (400 when missing or not ISO-8601 date-time; `+` in an offset must be
//!   URL-encoded), its seconds are ignored (truncated to the minute); records with a
//!   last-modified time ≥ that minute, ordered by (time, id), at most `limit`.
//!   `last_id` (calls, calls/deleted, call_topics) continues after that record in the
//!   ordering (ignored when it is not among the candidates). The documented bug is
//!   deterministic: with [`ExecVisionSimSettings::repeat_last_id`] (default true) the
//!   page *starts with* the `last_id` record again, and it counts towards `limit`
//!   (so `limit=1` never progresses — clients must de-duplicate and use limit > 1).
//!   `limit`: non-negative integer, default 100, max 1000 (`call_topics` and `calls`
//!   with `render_templates=true`: 100); above the max → 400 (*choice*: the seed says
//!   "maximum allowed value"); `limit=0` → `[]`. Since-only endpoints ignore
//!   `last_id`.
//! - **Calls**: each call carries a top-level `modified` (its last state change, the
//!   `since` key) — *choice*: the seed's field table omits it but its paging recipe
//!   needs "the last modified timestamp" of the last entry. Without
//!   `include_transcripts` the `transcript` field is `null`; without
//!   `include_crm_matches` the `crmMatches` field is absent; `render_templates=true`
//!   adds `metadata.call_card_templates` (`[{"name", "content"}]`, *choice*).
//!   Booleans are `true`/`false` (else 400).
//! - **Deleted calls** are absent from `calls`, `calls/search`, `call/{id}` (404),
//!   `transcript/{id}` (404) and `call_topics`, and listed by `calls/deleted`.
//!   `DELETE call/{id}`: 403 unless [`ExecVisionSimSettings::delete_enabled`]; when
//!   enabled, 204 (*choice*) and the call moves to `calls/deleted` with `deletedAt` =
//!   the simulator clock; unknown or already deleted → 404.
//! - **Search** `calls/search?{field}={value}`: exactly one query parameter (else
//!   400); fields are `metadata.<key>` of the call's metadata (plus the top-level
//!   `id`, `callerId`, `callerEmail`, `direction`, `state`); a call matches when its
//!   value rendered as text and lowercased equals the given value exactly (so an
//!   uppercase value matches nothing); unknown fields match nothing; at most 1000 ids,
//!   in (modified, id) order; no paging.
//! - **Live calls** ([`crate::sandbox::LiveCalls`]) exist from the moment they end
//!   (by [`World::now`]); until their transcript is ready they are `PROCESSING` (no
//!   transcript, summary or topic matches; `transcript/{id}` 404) with `modified` = the
//!   moment they appeared, then `COMPLETE` with `modified` = the moment the transcript
//!   became ready. Their scores appear (with `modified` = review time) once reviewed.
//! - **Listens** are computed nightly: only listens whose nightly `modified` time has
//!   passed on the simulator clock are visible.
//! - Field-level choices: `Listen` carries `modified` (the seed's example has it, its
//!   table does not); `Topic.words` is an array of strings (as the example, not the
//!   table); a topic match's `topicId` is a string (the table) while `Topic.id` is a
//!   number; scorecard questions use `questionId` (the example, not `questionID`);
//!   `YesNo`/`PassFail` answers are the numbers 1 (yes/pass) and 0; meetings and
//!   plans render times with the US Eastern offset (as the seed's examples), all
//!   other timestamps are UTC `Z` (fractional seconds only when non-zero); KPI
//!   observer/observed ids are user UUIDs; `call/{id}` of a call ExecVision could not
//!   convert (`CONVERTER_REJECTED`) has `transcript`/`callSummary` null and zero
//!   stats; `estimatedMissedMeetings` counts planned slots elapsed by the simulator
//!   clock minus completed meetings.
//! - Records derived from a call (listens, scores, feedback, shares, reviews) are
//!   only generated for calls not deleted before start; calls deleted through the API
//!   keep theirs (dangling ids, as a real deletion would leave).
//! - Unknown routes → 404, wrong method → 405 (same error body).
//! - Fault injection ([`ExecVisionSimHandle::inject_failures`], `set_down`): the
//!   injected status with the same error body, before auth and the queue.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::common::{SimCounters, SimHandle};
use super::world::World;
use super::world_ev::{EvCall, EvData};

mod handlers;
pub mod ids;
mod render;
#[cfg(test)]
mod tests;
pub mod throttle;

use throttle::{SimClock, Throttle};

/// The base path of every route.
pub const BASE_PATH: &str = "/api/ev/2";

/// ExecVision simulator behaviour.
#[derive(Clone, Debug)]
pub struct ExecVisionSimSettings {
    /// Basic-auth user (default `sandbox-ev-user`).
    pub user_id: String,
    /// Basic-auth password (default `sandbox-ev-password`).
    pub password: String,
    /// Allow `DELETE call/{id}` for these credentials (default false → 403).
    pub delete_enabled: bool,
    /// The documented paging bug: a page requested with `last_id` starts with that
    /// record again (default true; false → the page starts after it).
    pub repeat_last_id: bool,
    /// Requests per second 06:00–21:00 US Eastern (default 5; 0 = unlimited).
    pub day_rate_per_sec: u32,
    /// Requests per second 21:00–06:00 US Eastern (default 25; 0 = unlimited).
    pub night_rate_per_sec: u32,
    /// A request that would queue this long or longer waits this long and gets 504
    /// (default 60 s).
    pub queue_timeout: Duration,
    /// Pin the simulator's wall clock (day/night schedule, nightly listens, plans'
    /// missed meetings, `deletedAt` of API deletions) to this instant at start; it then
    /// advances with tokio's clock (so `tokio::time::pause`/`advance` move it).
    /// None (default) = the system clock. Also settable later with
    /// [`ExecVisionSimHandle::set_clock`].
    pub clock: Option<DateTime<Utc>>,
    /// Added before every response (default 0).
    pub latency: Duration,
}

impl Default for ExecVisionSimSettings {
    fn default() -> Self {
        ExecVisionSimSettings {
            user_id: "sandbox-ev-user".into(),
            password: "sandbox-ev-password".into(),
            delete_enabled: false,
            repeat_last_id: true,
            day_rate_per_sec: 5,
            night_rate_per_sec: 25,
            queue_timeout: Duration::from_secs(60),
            clock: None,
            latency: Duration::ZERO,
        }
    }
}

/// State shared by the router and the handle.
#[derive(Debug)]
pub struct ExecVisionShared {
    data: Arc<EvData>,
    clock: SimClock,
    throttle: Throttle,
    /// Calls deleted through the API: world call index → deletedAt.
    api_deleted: Mutex<BTreeMap<usize, DateTime<Utc>>>,
}

impl ExecVisionShared {
    fn deleted_at(&self, call: usize) -> Option<DateTime<Utc>> {
        self.data
            .call(call)
            .and_then(|c| c.deleted_at)
            .or_else(|| self.api_deleted.lock().expect("deleted lock").get(&call).copied())
    }

    /// Recorded by ExecVision and not deleted (before start or through the API).
    fn is_live(&self, call: usize) -> bool {
        self.data.call(call).is_some() && self.deleted_at(call).is_none()
    }
}

pub(crate) struct Inner {
    world: Arc<World>,
    settings: ExecVisionSimSettings,
    counters: SimCounters,
    shared: Arc<ExecVisionShared>,
}

impl Inner {
    /// ExecVision's record of world call `call` as it stands at `now`: recorded, not
    /// deleted, and (a live call) already ended, with its state and `modified` as of
    /// `now` ([`crate::sandbox::world_ev::EvCall::as_of`]).
    fn call_at(&self, call: usize, now: DateTime<Utc>) -> Option<EvCall> {
        if !self.shared.is_live(call) || !self.world.is_visible(call, now) {
            return None;
        }
        self.shared.data.call(call).map(|c| c.as_of(now))
    }
}

pub(crate) type AppState = Arc<Inner>;

/// The running ExecVision simulator.
#[derive(Clone, Debug)]
pub struct ExecVisionSimHandle {
    sim: SimHandle,
    shared: Arc<ExecVisionShared>,
}

impl ExecVisionSimHandle {
    pub(crate) fn new(
        addr: std::net::SocketAddr,
        settings: &ExecVisionSimSettings,
        counters: SimCounters,
        shared: Arc<ExecVisionShared>,
    ) -> Self {
        ExecVisionSimHandle {
            sim: SimHandle::new(addr, settings.user_id.clone(), settings.password.clone(), counters),
            shared,
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash; routes are `/api/ev/2/...`).
    pub fn base_url(&self) -> &str {
        self.sim.base_url()
    }

    /// The Basic-auth user.
    pub fn user_id(&self) -> &str {
        self.sim.access_key()
    }

    /// The Basic-auth password.
    pub fn password(&self) -> &str {
        self.sim.access_key_secret()
    }

    /// Requests received for `method` on `route` (the path template, e.g.
    /// `/api/ev/2/call/{id}`; unmatched paths count under `<unmatched>`).
    pub fn requests(&self, method: &str, route: &str) -> u64 {
        self.sim.requests(method, route)
    }

    /// All requests received (401s, 504s and everything else included).
    pub fn total_requests(&self) -> u64 {
        self.sim.total_requests()
    }

    /// The shared counters.
    pub fn counters(&self) -> &SimCounters {
        self.sim.counters()
    }

    /// The next `n` requests get `status` (e.g. 500) with ExecVision's error body.
    pub fn inject_failures(&self, n: u64, status: u16) {
        self.sim.inject_failures(n, status);
    }

    /// While on, every page request is answered with the first page again (the
    /// stuck-paging fault: a server that ignores its paging tokens).
    pub fn set_stuck_paging(&self, on: bool) {
        self.sim.set_stuck_paging(on);
    }

    /// `Some(status)`: every request gets `status` until `set_down(None)`.
    pub fn set_down(&self, status: Option<u16>) {
        self.sim.set_down(status);
    }

    /// The generic handle (`rejected_429()` is always 0: ExecVision queues instead).
    pub fn sim(&self) -> &SimHandle {
        &self.sim
    }

    /// The deepest the rate-limit queue has been (requests waiting at once).
    pub fn max_queue_depth(&self) -> usize {
        self.shared.throttle.max_depth()
    }

    /// Requests waiting in the rate-limit queue right now.
    pub fn queue_depth(&self) -> usize {
        self.shared.throttle.depth()
    }

    /// Requests that had to wait (timed-out ones included).
    pub fn queued_requests(&self) -> u64 {
        self.shared.throttle.queued()
    }

    /// Requests answered 504 after waiting `queue_timeout`.
    pub fn queue_timeouts(&self) -> u64 {
        self.shared.throttle.timeouts()
    }

    /// Resets `max_queue_depth` (to the current depth), `queued_requests` and
    /// `queue_timeouts`.
    pub fn reset_queue_stats(&self) {
        self.shared.throttle.reset_stats();
    }

    /// The simulator's wall clock now.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    /// Pins the simulator's wall clock to `t` (it then advances with tokio's clock).
    pub fn set_clock(&self, t: DateTime<Utc>) {
        self.shared.clock.set(t);
    }

    /// The ExecVision-only data the simulator serves.
    pub fn data(&self) -> &EvData {
        &self.shared.data
    }

    /// Calls deleted through `DELETE call/{id}`: `(world call index, deletedAt)`.
    pub fn deleted_via_api(&self) -> Vec<(usize, DateTime<Utc>)> {
        self.shared.api_deleted.lock().expect("deleted lock").iter().map(|(k, v)| (*k, *v)).collect()
    }
}

/// The simulator's router over `world` (serve it yourself, or use
/// [`crate::sandbox::Sandbox::start`]); the counters see every request.
pub fn router(world: Arc<World>, settings: ExecVisionSimSettings) -> (Router, SimCounters, Arc<ExecVisionShared>) {
    let counters = SimCounters::default();
    let shared = Arc::new(ExecVisionShared {
        data: Arc::new(EvData::generate(&world)),
        clock: SimClock::new(settings.clock),
        throttle: Throttle::new(settings.day_rate_per_sec, settings.night_rate_per_sec, settings.queue_timeout),
        api_deleted: Mutex::new(BTreeMap::new()),
    });
    let state: AppState = Arc::new(Inner { world, settings, counters: counters.clone(), shared: shared.clone() });
    let r = |p: &str| format!("{BASE_PATH}/{p}");
    let router = Router::new()
        .route(&r("check"), get(handlers::check))
        .route(&r("users"), get(handlers::users))
        .route(&r("teams"), get(handlers::teams))
        .route(&r("departments"), get(handlers::departments))
        .route(&r("calls"), get(handlers::calls))
        .route(&r("calls/deleted"), get(handlers::calls_deleted))
        .route(&r("calls/search"), get(handlers::calls_search))
        .route(&r("call/{id}"), get(handlers::get_call).delete(handlers::delete_call))
        .route(&r("call_topics"), get(handlers::call_topics))
        .route(&r("listens"), get(handlers::listens))
        .route(&r("scores"), get(handlers::scores))
        .route(&r("scorecard/{id}"), get(handlers::scorecard))
        .route(&r("topics"), get(handlers::topics))
        .route(&r("feedback"), get(handlers::feedback))
        .route(&r("shares"), get(handlers::shares))
        .route(&r("meetings"), get(handlers::meetings))
        .route(&r("plans"), get(handlers::plans))
        .route(&r("kpis"), get(handlers::kpis))
        .route(&r("kpi/{id}"), get(handlers::kpi))
        .route(&r("transcript/{id}"), get(handlers::transcript))
        .fallback(handlers::unknown_route)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state);
    (router, counters, shared)
}

/// Counting, latency, auth, then the rate-limit queue.
async fn gate(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map_or_else(|| "<unmatched>".to_string(), |m| m.as_str().to_string());
    st.counters.record(req.method().as_str(), &route);
    if !st.settings.latency.is_zero() {
        tokio::time::sleep(st.settings.latency).await;
    }
    if let Some(status) = st.counters.injected(req.method().as_str(), &route).await {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return EvError::new(status, "Internal server error (injected by the sandbox)").into_response();
    }
    if !authorized(&st.settings, req.headers()) {
        let mut resp = EvError::new(StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"ExecVision\""));
        return resp;
    }
    let wall = st.shared.clock.now();
    if st.shared.throttle.acquire(wall).await.is_err() {
        return EvError::new(StatusCode::GATEWAY_TIMEOUT, "Request timed out waiting in the rate-limit queue")
            .into_response();
    }
    st.counters.serve(req, next).await
}

fn authorized(settings: &ExecVisionSimSettings, headers: &HeaderMap) -> bool {
    super::common::basic_auth_matches(headers, &settings.user_id, &settings.password)
}

/// An error answered as `{"error": "..."}`.
#[derive(Debug)]
pub(crate) struct EvError {
    status: StatusCode,
    message: String,
}

impl EvError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        EvError { status, message: message.into() }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for EvError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "error": self.message }))).into_response()
    }
}
