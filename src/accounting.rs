//! Per-request accounting: how many upstream requests one GraphQL request cost, per
//! connection, how many provider results came from the cache, and how long the
//! request waited for rate limiters.
//!
//! The account rides in a tokio task-local for the duration of one request, so the
//! transport and the cache record into it without threading a handle through every
//! provider method. DataLoaders run their batches on spawned tasks; their spawner
//! re-enters the request's scope ([`spawner`]). Outside a request (readiness checks,
//! benchmarks) recording is a no-op.
//!
//! Two consumers: the `x-convograph-debug: 1` response extension (the GraphQL form of
//! Truto's debug mode), and the response's `Cache-Control` hint, which is the
//! shortest time to live among the cached resources the request read.
//!
//! The account also holds the request's upstream bounds ([`UpstreamLimits`]: the
//! upstream requests one query may spend, the pages one walk may read) and its
//! **notes**: errors that do not fail an operation but must reach the client with the
//! data (a walk ended early with the records read so far, a record read without one
//! of its fields). A note goes to the innermost [`capture`] around it (the cache
//! keeps a fetch's notes with its value; the schema reports a field's notes at that
//! field's path), else to the request, whose leftover notes are request errors.

use std::{
    cell::RefCell,
    collections::BTreeMap,
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde::Serialize;

use crate::providers::{ProviderError, ProviderKind};

/// Request header that asks for the cost report in the response's
/// `extensions.convograph` (`1` or `true`).
pub const DEBUG_HEADER: &str = "x-convograph-debug";

tokio::task_local! {
    static CURRENT: Arc<RequestAccount>;
    static SINK: RefCell<Vec<Note>>;
}

/// What one query may spend upstream (`limits.max_upstream_requests`,
/// `limits.max_pages_per_walk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// Upstream requests one query may send (`None`: no bound).
    pub max_requests: Option<u32>,
    /// Pages one walk over a provider list may read.
    pub max_pages_per_walk: u32,
}

impl Default for UpstreamLimits {
    fn default() -> Self {
        Self { max_requests: Some(DEFAULT_MAX_UPSTREAM_REQUESTS), max_pages_per_walk: DEFAULT_MAX_PAGES_PER_WALK }
    }
}

/// Default of `limits.max_upstream_requests`.
pub const DEFAULT_MAX_UPSTREAM_REQUESTS: u32 = 200;
/// Default of `limits.max_pages_per_walk`.
pub const DEFAULT_MAX_PAGES_PER_WALK: u32 = 500;

/// An error delivered with data rather than instead of it.
#[derive(Debug, Clone)]
pub struct Note {
    /// What happened, on which connection.
    pub error: ProviderError,
    /// It belongs to the data (a record's unreadable field): kept with the data in the
    /// cache and delivered with it on every hit. Otherwise it belongs to this read
    /// (a walk ended early), and data read with it is not cached.
    pub sticky: bool,
    /// The provider id of the record it is about, when it is about one.
    pub record: Option<String>,
}

impl Note {
    /// A note about this read (see [`Note::sticky`]).
    pub fn transient(error: ProviderError) -> Self {
        Self { error, sticky: false, record: None }
    }

    /// A note about the data of record `record`.
    pub fn about(error: ProviderError, record: Option<String>) -> Self {
        Self { error, sticky: true, record }
    }
}

/// What one request cost.
#[derive(Debug, Default)]
pub struct RequestAccount {
    inner: Mutex<Inner>,
    limits: UpstreamLimits,
    /// Upstream requests sent or about to be, against `limits.max_requests`.
    spent: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    connections: BTreeMap<Arc<str>, ConnectionAccount>,
    /// Shortest time to live of the cached resources read.
    min_ttl: Option<Duration>,
    /// Something was read that must not be cached downstream.
    uncacheable: bool,
    /// Notes no field captured, in order.
    notes: Vec<Note>,
    /// Notes of fields, by the field's path.
    field_notes: Vec<(Vec<async_graphql::PathSegment>, Note)>,
}

/// The cost on one connection.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionAccount {
    /// The provider of the connection.
    pub provider: Option<ProviderKind>,
    /// Upstream HTTP requests sent (every attempt, retries included).
    pub upstream_requests: u64,
    /// Of those, answered `429`.
    pub rate_limited_responses: u64,
    /// Provider results served from the cache (including waits on another request's
    /// fetch of the same key).
    pub cache_hits: u64,
    /// Provider results fetched because the cache did not hold them.
    pub cache_misses: u64,
    /// Total time spent waiting for the connection's limiter or a `Retry-After`.
    pub limiter_wait_ms: u64,
    /// Requests left in the connection's daily quota (Gong), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_quota_left: Option<u64>,
}

/// The debug extension's body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSummary {
    /// Upstream requests of the whole request.
    pub upstream_requests: u64,
    /// The most the request could spend (`limits.max_upstream_requests`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_request_budget: Option<u32>,
    /// Cache hits of the whole request.
    pub cache_hits: u64,
    /// Cache misses of the whole request.
    pub cache_misses: u64,
    /// Limiter wait of the whole request.
    pub limiter_wait_ms: u64,
    /// Per connection, by id.
    pub connections: BTreeMap<String, ConnectionAccount>,
}

impl RequestAccount {
    /// A fresh account with the default limits.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A fresh account with these limits.
    pub fn with_limits(limits: UpstreamLimits) -> Arc<Self> {
        Arc::new(Self { limits, ..Self::default() })
    }

    /// The request's upstream limits.
    pub fn limits(&self) -> UpstreamLimits {
        self.limits
    }

    /// Records the daily quota a connection has left.
    pub fn set_daily_quota_left(&self, provider: ProviderKind, connection: &Arc<str>, left: u64) {
        self.with_connection(provider, connection, |c| c.daily_quota_left = Some(left));
    }

    /// Takes the notes collected so far: the fields' (with their paths), then the
    /// request's own.
    pub fn take_notes(&self) -> (Vec<(Vec<async_graphql::PathSegment>, Note)>, Vec<Note>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (std::mem::take(&mut inner.field_notes), std::mem::take(&mut inner.notes))
    }

    /// Files the notes of the field at `path`.
    pub fn field_notes(&self, path: Vec<async_graphql::PathSegment>, notes: Vec<Note>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.field_notes.extend(notes.into_iter().map(|n| (path.clone(), n)));
    }

    fn with_connection(&self, provider: ProviderKind, connection: &Arc<str>, f: impl FnOnce(&mut ConnectionAccount)) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let entry = inner.connections.entry(connection.clone()).or_default();
        entry.provider = Some(provider);
        f(entry);
    }

    /// Totals and per-connection figures.
    pub fn summary(&self) -> AccountSummary {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let sum = |f: fn(&ConnectionAccount) -> u64| inner.connections.values().map(f).sum();
        AccountSummary {
            upstream_requests: sum(|c| c.upstream_requests),
            upstream_request_budget: self.limits.max_requests,
            cache_hits: sum(|c| c.cache_hits),
            cache_misses: sum(|c| c.cache_misses),
            limiter_wait_ms: sum(|c| c.limiter_wait_ms),
            connections: inner.connections.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        }
    }

    /// How long a client or intermediary may reuse the response: the shortest time
    /// to live among the cached resources read; `None` when nothing cacheable was
    /// read or something uncacheable was.
    pub fn max_age(&self) -> Option<Duration> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.uncacheable { None } else { inner.min_ttl }
    }
}

/// Runs `fut` with `account` as the current request's account.
pub async fn scope<F: Future>(account: Arc<RequestAccount>, fut: F) -> F::Output {
    CURRENT.scope(account, fut).await
}

/// The current request's account, if the caller runs inside one.
pub fn current() -> Option<Arc<RequestAccount>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// A DataLoader spawner that keeps batches inside the current request's account.
pub fn spawner(
    account: Option<Arc<RequestAccount>>,
) -> impl Fn(futures::future::BoxFuture<'static, ()>) -> tokio::task::JoinHandle<()> + Send + Sync + 'static {
    move |fut| match &account {
        Some(a) => tokio::spawn(CURRENT.scope(a.clone(), fut)),
        None => tokio::spawn(fut),
    }
}

fn record(f: impl FnOnce(&RequestAccount)) {
    let _ = CURRENT.try_with(|a| f(a));
}

/// The current request's upstream limits (the defaults outside a request).
pub fn limits() -> UpstreamLimits {
    CURRENT.try_with(|a| a.limits).unwrap_or_default()
}

/// Claims one upstream request of the current request's budget: `Err(limit)` when
/// the budget is spent (nothing outside a request is bounded).
pub fn spend() -> Result<(), u32> {
    CURRENT
        .try_with(|a| match a.limits.max_requests {
            Some(max) if a.spent.fetch_add(1, Ordering::Relaxed) >= u64::from(max) => Err(max),
            _ => Ok(()),
        })
        .unwrap_or(Ok(()))
}

/// Delivers `note` to the innermost [`capture`], else to the current request (and
/// logs it outside any).
pub fn note(note: Note) {
    let mut note = Some(note);
    let _ = SINK.try_with(|s| s.borrow_mut().push(note.take().expect("one note")));
    let Some(note) = note else { return };
    let mut note = Some(note);
    record(|a| a.inner.lock().unwrap_or_else(|p| p.into_inner()).notes.push(note.take().expect("one note")));
    if let Some(note) = note {
        tracing::warn!(error = %note.error, "Provider data read with an error outside a request.");
    }
}

/// Delivers each of `notes` (see [`note`]).
pub fn emit(notes: &[Note]) {
    for n in notes {
        note(n.clone());
    }
}

/// Runs `fut`, collecting the notes it makes instead of delivering them.
pub async fn capture<F: Future>(fut: F) -> (F::Output, Vec<Note>) {
    SINK.scope(RefCell::new(Vec::new()), async move {
        let out = fut.await;
        let notes = SINK.with(|s| s.take());
        (out, notes)
    })
    .await
}

/// One upstream attempt and its status (`None`: no response).
pub fn upstream_request(provider: ProviderKind, connection: &Arc<str>, status: Option<u16>) {
    record(|a| {
        a.with_connection(provider, connection, |c| {
            c.upstream_requests += 1;
            if status == Some(429) {
                c.rate_limited_responses += 1;
            }
        })
    });
}

/// Time spent waiting for a limiter or a pause.
pub fn limiter_wait(provider: ProviderKind, connection: &Arc<str>, waited: Duration) {
    if waited.is_zero() {
        return;
    }
    let ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
    record(|a| a.with_connection(provider, connection, |c| c.limiter_wait_ms = c.limiter_wait_ms.saturating_add(ms)));
}

/// A cache lookup of a provider result that has `ttl` left to live (zero: the
/// result is not cached at all).
pub fn cache_lookup(provider: Option<ProviderKind>, connection: &Arc<str>, hit: bool, ttl: Duration) {
    record(|a| {
        let mut inner = a.inner.lock().unwrap_or_else(|p| p.into_inner());
        if ttl.is_zero() {
            inner.uncacheable = true;
        } else {
            inner.min_ttl = Some(inner.min_ttl.map_or(ttl, |m| m.min(ttl)));
        }
        let entry = inner.connections.entry(connection.clone()).or_default();
        if entry.provider.is_none() {
            entry.provider = provider;
        }
        if hit {
            entry.cache_hits += 1;
        } else {
            entry.cache_misses += 1;
        }
    });
}

/// A provider read that bypassed the cache (so the response must not be reused).
pub fn uncached_read() {
    record(|a| a.inner.lock().unwrap_or_else(|p| p.into_inner()).uncacheable = true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_inside_a_scope_and_ignores_outside() {
        let conn: Arc<str> = Arc::from("c1");
        upstream_request(ProviderKind::Gong, &conn, Some(200));
        let account = RequestAccount::new();
        scope(account.clone(), async {
            upstream_request(ProviderKind::Gong, &conn, Some(200));
            upstream_request(ProviderKind::Gong, &conn, Some(429));
            cache_lookup(Some(ProviderKind::Gong), &conn, true, Duration::from_secs(60));
            cache_lookup(Some(ProviderKind::Gong), &conn, false, Duration::from_secs(600));
            limiter_wait(ProviderKind::Gong, &conn, Duration::from_millis(340));
            // A spawned loader batch stays in the request's account.
            let spawn = spawner(current());
            spawn(Box::pin(async move { upstream_request(ProviderKind::Gong, &Arc::from("c2"), Some(200)) }))
                .await
                .unwrap();
        })
        .await;
        let s = account.summary();
        assert_eq!(s.upstream_requests, 3);
        assert_eq!(s.connections["c1"].upstream_requests, 2);
        assert_eq!(s.connections["c1"].rate_limited_responses, 1);
        assert_eq!(s.connections["c2"].upstream_requests, 1);
        assert_eq!((s.cache_hits, s.cache_misses, s.limiter_wait_ms), (1, 1, 340));
        assert_eq!(account.max_age(), Some(Duration::from_secs(60)));
    }

    #[tokio::test]
    async fn an_uncacheable_read_removes_the_max_age() {
        let account = RequestAccount::new();
        scope(account.clone(), async {
            cache_lookup(None, &Arc::from("c"), true, Duration::from_secs(60));
            uncached_read();
        })
        .await;
        assert_eq!(account.max_age(), None);
    }
}
