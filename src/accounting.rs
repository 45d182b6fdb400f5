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

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::Serialize;

use crate::providers::ProviderKind;

/// Request header that asks for the cost report in the response's
/// `extensions.convograph` (`1` or `true`).
pub const DEBUG_HEADER: &str = "x-convograph-debug";

tokio::task_local! {
    static CURRENT: Arc<RequestAccount>;
}

/// What one request cost.
#[derive(Debug, Default)]
pub struct RequestAccount {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    connections: BTreeMap<Arc<str>, ConnectionAccount>,
    /// Shortest time to live of the cached resources read.
    min_ttl: Option<Duration>,
    /// Something was read that must not be cached downstream.
    uncacheable: bool,
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
}

/// The debug extension's body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSummary {
    /// Upstream requests of the whole request.
    pub upstream_requests: u64,
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
    /// A fresh account.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
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
