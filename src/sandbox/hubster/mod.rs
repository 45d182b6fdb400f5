//! The Hubster simulator: the identity server's token endpoint and the engine API's
//! conversation and activities endpoints (seed `004_6eb8e1953263da1a.txt`,
//! `/work/shared/providers/README.md` §4 and §6 items 24–26), on two loopback ports
//! as the real identity and engine hosts are two hosts.
//!
//! Behaviour (choices where the sources are silent are marked *choice*):
//! - **Identity** `POST /connect/token`, form-encoded `grant_type=client_credentials`,
//!   `client_id`, `client_secret` (optional `scope`) → `{access_token, expires_in,
//!   token_type: "Bearer", scope}`. Two clients exist: the engine client (scope
//!   `hubster-engine-api`) and a portal client (scope `hubster-portal-api`), whose
//!   token the engine refuses. Tokens live [`HubsterSimSettings::token_lifetime`]
//!   (30 days). Errors are OAuth 2.0 bodies: 400 `{"error": "invalid_client" |
//!   "unsupported_grant_type" | "invalid_request" | "invalid_scope"}` (as the
//!   IdentityServer behind Hubster answers; *choice*).
//! - **Engine auth**: `Authorization: Bearer <engine token>`; missing, unknown,
//!   expired, revoked or portal tokens → 401 with ENG000102.
//! - **Errors**: `{"status": <http status>, "errors": [{"code": <n>, "description":
//!   "... (code: ENG00nnnn)"}]}`; 401 ENG000102, unknown route 404 ENG000105,
//!   unknown conversation 404 ENG006500, bad request 400 ENG000100 (*choice*), 429
//!   ENG000110 (*choice*).
//! - **Rate limit**: a token bucket per client at [`HubsterSimSettings::rate_per_sec`]
//!   (default 20/s, *choice*: Hubster documents only "429 — API usage limit has been
//!   reached"); past it 429 without `Retry-After` (none is documented).
//! - `GET /api/v1/conversations/{id}` → the conversation (*choice* for the inner shape
//!   of `integration` and `properties`, which the docs elide).
//! - `GET /api/v1/interactions/activities/{conversationId}?type=Customer|Agent|Bot&leid=`
//!   → the bare array of activities whose sender *or* recipient has that
//!   integration type, in event order; `type` is required and matched
//!   case-insensitively (400 otherwise); `leid` (epoch ms, default 0) returns
//!   activities with `eventId >= leid` ([`HubsterSimSettings::leid_inclusive`],
//!   default true; false: `> leid`; the docs leave it open). Messages carry
//!   `interactionId`, events carry `event: {type: "payload", payloadType, payload}`;
//!   bot replies run as `flowProcess: AutoReplay` (*choice*).
//! - [`HubsterSimHandle::push_message`] appends a live message to a conversation (for
//!   incremental reads); [`HubsterSimHandle::expire_tokens`] expires every token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::time::Instant;

use super::common::{SimCounters, TokenBuckets};
use super::rng::mix;
use super::world::World;
use super::world_hub::{Content, HubActivity, HubData, Party};

mod handlers;
pub mod ids;
#[cfg(test)]
mod tests;

/// The engine scope.
pub const ENGINE_SCOPE: &str = "hubster-engine-api";
/// The portal scope (not accepted by the engine).
pub const PORTAL_SCOPE: &str = "hubster-portal-api";

/// Hubster simulator behaviour.
#[derive(Clone, Debug)]
pub struct HubsterSimSettings {
    /// The engine API client (default `hubster.engine.api.sandbox`).
    pub client_id: String,
    pub client_secret: String,
    /// A portal API client, whose tokens the engine refuses.
    pub portal_client_id: String,
    pub portal_client_secret: String,
    /// Lifetime of issued tokens (default 30 days).
    pub token_lifetime: Duration,
    /// Engine requests per second per client (default 20; 0 = unlimited).
    pub rate_per_sec: u32,
    /// Number of conversations (default 60).
    pub conversations: usize,
    /// `leid` includes activities at that millisecond (default true).
    pub leid_inclusive: bool,
    /// Added before every engine response (default 0).
    pub latency: Duration,
}

impl Default for HubsterSimSettings {
    fn default() -> Self {
        HubsterSimSettings {
            client_id: "hubster.engine.api.sandbox".into(),
            client_secret: "sandbox-hubster-secret".into(),
            portal_client_id: "hubster.portal.api.sandbox".into(),
            portal_client_secret: "sandbox-hubster-portal-secret".into(),
            token_lifetime: Duration::from_secs(30 * 24 * 3600),
            rate_per_sec: 20,
            conversations: 60,
            leid_inclusive: true,
            latency: Duration::ZERO,
        }
    }
}

/// An issued token.
#[derive(Debug, Clone)]
struct Issued {
    scope: &'static str,
    client: String,
    expires: Instant,
}

/// State shared by both servers and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    data: HubData,
    /// Activities appended at run time, per conversation index.
    live: Mutex<HashMap<usize, Vec<HubActivity>>>,
    tokens: Mutex<HashMap<String, Issued>>,
    issued: AtomicU64,
    /// Every activities read: (conversation index, type, leid).
    reads: Mutex<Vec<ActivityRead>>,
}

/// One `GET /api/v1/interactions/activities/{id}` the engine answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityRead {
    /// Conversation index.
    pub conversation: usize,
    /// The `type` asked (`Customer`, `Agent` or `Bot`, as sent).
    pub kind: String,
    /// The `leid` sent, if any.
    pub leid: Option<i64>,
    /// Activities returned.
    pub returned: usize,
}

impl Shared {
    /// Every activity of conversation `i` (generated, then live), in event order.
    fn activities(&self, i: usize) -> Vec<HubActivity> {
        let Some(c) = self.data.conversations.get(i) else { return Vec::new() };
        let mut all = c.activities.clone();
        if let Some(extra) = self.live.lock().expect("live lock").get(&i) {
            all.extend(extra.iter().cloned());
        }
        all.sort_by_key(|a| (a.event_id, a.seq));
        all
    }
}

pub(crate) struct Inner {
    world: Arc<World>,
    settings: HubsterSimSettings,
    counters: SimCounters,
    shared: Arc<Shared>,
    buckets: TokenBuckets,
}

pub(crate) type AppState = Arc<Inner>;

/// The running Hubster simulator.
#[derive(Clone, Debug)]
pub struct HubsterSimHandle {
    identity_url: String,
    engine_url: String,
    settings: HubsterSimSettings,
    identity: SimCounters,
    engine: SimCounters,
    shared: Arc<Shared>,
}

impl HubsterSimHandle {
    /// The identity server, `http://127.0.0.1:PORT`.
    pub fn identity_url(&self) -> &str {
        &self.identity_url
    }

    /// The token endpoint, `{identity}/connect/token`.
    pub fn token_url(&self) -> String {
        format!("{}/connect/token", self.identity_url)
    }

    /// The engine API, `http://127.0.0.1:PORT` (routes are `/api/v1/...`).
    pub fn engine_url(&self) -> &str {
        &self.engine_url
    }

    /// The engine client's id.
    pub fn client_id(&self) -> &str {
        &self.settings.client_id
    }

    /// The engine client's secret.
    pub fn client_secret(&self) -> &str {
        &self.settings.client_secret
    }

    /// The portal client's id and secret (its tokens are refused by the engine).
    pub fn portal_client(&self) -> (&str, &str) {
        (&self.settings.portal_client_id, &self.settings.portal_client_secret)
    }

    /// Engine requests received for `method` on `route` (the path template, e.g.
    /// `/api/v1/interactions/activities/{conversationId}`).
    pub fn requests(&self, method: &str, route: &str) -> u64 {
        self.engine.requests(method, route)
    }

    /// Every engine request received (401s and 429s included).
    pub fn total_requests(&self) -> u64 {
        self.engine.total_requests()
    }

    /// Token requests received by the identity server (failed ones included).
    pub fn token_requests(&self) -> u64 {
        self.identity.requests("POST", "/connect/token")
    }

    /// Tokens issued.
    pub fn tokens_issued(&self) -> u64 {
        self.shared.issued.load(Ordering::SeqCst)
    }

    /// How many 429s the engine sent.
    pub fn rejected_429(&self) -> u64 {
        self.engine.rejected_429()
    }

    /// While on, every page request is answered with the first page again (the
    /// stuck-paging fault: a server that ignores its paging tokens).
    pub fn set_stuck_paging(&self, on: bool) {
        self.engine.set_stuck_paging(on);
    }

    /// The next `n` engine requests get 429.
    pub fn inject_429(&self, n: u64) {
        self.engine.inject_429(n);
    }

    /// Expires every token issued so far (the next engine request with one is a 401).
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        for t in self.shared.tokens.lock().expect("token lock").values_mut() {
            t.expires = now;
        }
    }

    /// The generated data (without live messages).
    pub fn data(&self) -> &HubData {
        &self.shared.data
    }

    /// Every activity of conversation `i` now, generated and live, in event order.
    pub fn activities(&self, i: usize) -> Vec<HubActivity> {
        self.shared.activities(i)
    }

    /// Ids of every conversation, in opening order.
    pub fn conversation_ids(&self) -> Vec<String> {
        (0..self.shared.data.conversations.len()).map(ids::conversation_id).collect()
    }

    /// Every activities read answered so far, in arrival order.
    pub fn activity_reads(&self) -> Vec<ActivityRead> {
        self.shared.reads.lock().expect("reads lock").clone()
    }

    /// Appends a live text message to conversation `i` at `event_id` (epoch ms).
    pub fn push_message(&self, i: usize, sender: Party, recipient: Party, text: &str, event_id: i64) {
        let seq = self.shared.activities(i).len();
        let activity = HubActivity {
            event_id,
            sender,
            recipient,
            content: Content::Message(text.into()),
            is_echo: false,
            seq,
            auto_replay: false,
        };
        self.shared.live.lock().expect("live lock").entry(i).or_default().push(activity);
    }
}

/// Builds both routers over `world`.
pub(crate) fn routers(world: Arc<World>, settings: HubsterSimSettings) -> (Router, Router, HubsterParts) {
    let identity = SimCounters::default();
    let engine = SimCounters::default();
    let shared = Arc::new(Shared {
        data: HubData::generate(&world, settings.conversations),
        live: Mutex::new(HashMap::new()),
        tokens: Mutex::new(HashMap::new()),
        issued: AtomicU64::new(0),
        reads: Mutex::new(Vec::new()),
    });
    let identity_state: AppState = Arc::new(Inner {
        world: world.clone(),
        settings: settings.clone(),
        counters: identity.clone(),
        shared: shared.clone(),
        buckets: TokenBuckets::new(0),
    });
    let engine_state: AppState = Arc::new(Inner {
        world,
        buckets: TokenBuckets::new(settings.rate_per_sec),
        settings: settings.clone(),
        counters: engine.clone(),
        shared: shared.clone(),
    });
    let identity_router = Router::new()
        .route("/connect/token", post(handlers::token))
        .fallback(handlers::identity_unknown)
        .layer(middleware::from_fn_with_state(identity_state.clone(), count))
        .with_state(identity_state);
    let engine_router = Router::new()
        .route("/api/v1/conversations/{conversationId}", get(handlers::conversation))
        .route("/api/v1/interactions/activities/{conversationId}", get(handlers::activities))
        .fallback(handlers::engine_unknown)
        .method_not_allowed_fallback(handlers::engine_unknown)
        .layer(middleware::from_fn_with_state(engine_state.clone(), engine_gate))
        .with_state(engine_state);
    (identity_router, engine_router, HubsterParts { settings, identity, engine, shared })
}

/// What the handle needs besides the addresses.
pub(crate) struct HubsterParts {
    settings: HubsterSimSettings,
    identity: SimCounters,
    engine: SimCounters,
    shared: Arc<Shared>,
}

impl HubsterParts {
    pub(crate) fn into_handle(self, identity: std::net::SocketAddr, engine: std::net::SocketAddr) -> HubsterSimHandle {
        HubsterSimHandle {
            identity_url: format!("http://{identity}"),
            engine_url: format!("http://{engine}"),
            settings: self.settings,
            identity: self.identity,
            engine: self.engine,
            shared: self.shared,
        }
    }
}

fn route_of(req: &Request) -> String {
    req.extensions().get::<MatchedPath>().map_or_else(|| "<unmatched>".to_string(), |m| m.as_str().to_string())
}

async fn count(State(st): State<AppState>, req: Request, next: Next) -> Response {
    st.counters.record(req.method().as_str(), &route_of(&req));
    next.run(req).await
}

/// Counting, latency, injected 429s, auth (engine scope, not expired), rate limit.
async fn engine_gate(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = route_of(&req);
    st.counters.record(req.method().as_str(), &route);
    if !st.settings.latency.is_zero() {
        tokio::time::sleep(st.settings.latency).await;
    }
    if let Some(status) = st.counters.injected(req.method().as_str(), &route).await {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return HubError::new(status, 500, "Injected failure (sandbox)").into_response();
    }
    if st.counters.take_injected_429() {
        st.counters.count_429();
        return HubError::too_many().into_response();
    }
    let Some(client) = engine_client(&st, req.headers()) else {
        return HubError::new(
            StatusCode::UNAUTHORIZED,
            102,
            "Unauthorized: the access token is missing, expired or not valid for the Engine API",
        )
        .into_response();
    };
    if !st.buckets.try_take(&client) {
        st.counters.count_429();
        return HubError::too_many().into_response();
    }
    st.counters.serve(req, next).await
}

/// The client of a valid, unexpired engine token.
fn engine_client(st: &AppState, headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let tokens = st.shared.tokens.lock().expect("token lock");
    let issued = tokens.get(token.trim())?;
    (issued.scope == ENGINE_SCOPE && issued.expires > Instant::now()).then(|| issued.client.clone())
}

/// Issues a token for `client` with `scope`.
fn issue(st: &AppState, client: &str, scope: &'static str) -> String {
    let n = st.shared.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let token = format!("{:016x}{:016x}{:016x}", mix(n), mix(nanos ^ n.rotate_left(9)), mix(n ^ 0x4B5B));
    let issued = Issued { scope, client: client.into(), expires: Instant::now() + st.settings.token_lifetime };
    st.shared.tokens.lock().expect("token lock").insert(token.clone(), issued);
    token
}

/// Hubster's error body.
#[derive(Debug)]
pub(crate) struct HubError {
    status: StatusCode,
    code: u32,
    description: String,
}

impl HubError {
    pub(crate) fn new(status: StatusCode, code: u32, description: impl Into<String>) -> Self {
        HubError { status, code, description: description.into() }
    }

    fn too_many() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, 110, "Too many requests: API usage limit has been reached")
    }
}

impl IntoResponse for HubError {
    fn into_response(self) -> Response {
        let body = json!({
            "status": self.status.as_u16(),
            "errors": [ { "code": self.code, "description": format!("{} (code: ENG{:06})", self.description, self.code) } ],
        });
        (self.status, axum::Json(body)).into_response()
    }
}
