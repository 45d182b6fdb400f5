//! Cross-request cache of provider results (moka). Keys always start with the
//! connection id, so two connections never share an entry; concurrent misses for one
//! key run one fetch (`try_get_with`); each entry lives for its resource kind's TTL;
//! the cache is bounded by the estimated size of what it holds.

use std::{
    any::Any,
    sync::Arc,
    time::{Duration, Instant},
};

use moka::{Expiry, future::Cache as MokaCache};

use crate::{config::CacheSettings, metrics::Metrics, providers::ProviderError};

/// Resource kinds, each with its own TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// Call lists and calls.
    Calls,
    /// Users.
    Users,
    /// Transcripts.
    Transcripts,
    /// Stats, scores, scorecards, coaching.
    Stats,
}

impl ResourceKind {
    /// The metrics label: `calls`, `users`, `transcripts`, `stats`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Calls => "calls",
            Self::Users => "users",
            Self::Transcripts => "transcripts",
            Self::Stats => "stats",
        }
    }
}

/// A cache key: connection, operation, and the request's own fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub connection: Arc<str>,
    pub op: &'static str,
    pub fingerprint: String,
}

#[derive(Clone)]
struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    ttl: Duration,
    weight: u32,
    kind: ResourceKind,
}

struct PerEntryTtl;

impl Expiry<CacheKey, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &CacheKey, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The shared provider-result cache.
#[derive(Clone)]
pub struct Cache {
    inner: MokaCache<CacheKey, Entry>,
    settings: CacheSettings,
    metrics: Option<Metrics>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("entries", &self.inner.entry_count()).finish()
    }
}

/// An estimate of how much memory a cached value holds.
pub trait Weigh {
    /// Approximate bytes.
    fn weigh(&self) -> usize;
}

impl<T: Weigh> Weigh for Vec<T> {
    fn weigh(&self) -> usize {
        self.iter().map(Weigh::weigh).sum::<usize>() + 24
    }
}

impl<T: Weigh> Weigh for crate::domain::Page<T> {
    fn weigh(&self) -> usize {
        self.items.weigh() + self.next.as_ref().map_or(0, String::len) + 32
    }
}

impl Cache {
    /// Builds the cache from settings.
    pub fn new(settings: &CacheSettings) -> Self {
        Self::build(settings, None)
    }

    /// Builds the cache, reporting hits, misses and evictions to `metrics`.
    pub fn with_metrics(settings: &CacheSettings, metrics: &Metrics) -> Self {
        Self::build(settings, Some(metrics.clone()))
    }

    fn build(settings: &CacheSettings, metrics: Option<Metrics>) -> Self {
        let mut builder = MokaCache::builder()
            .max_capacity(settings.max_mib.saturating_mul(1024 * 1024))
            .weigher(|_k: &CacheKey, v: &Entry| v.weight)
            .expire_after(PerEntryTtl);
        if let Some(m) = metrics.clone() {
            builder = builder.eviction_listener(move |k: Arc<CacheKey>, v: Entry, cause| {
                let cause = match cause {
                    moka::notification::RemovalCause::Expired => "expired",
                    moka::notification::RemovalCause::Size => "size",
                    _ => return,
                };
                m.cache_eviction(&k.connection, v.kind.as_str(), cause);
            });
        }
        Self { inner: builder.build(), settings: settings.clone(), metrics }
    }

    fn ttl(&self, kind: ResourceKind) -> Duration {
        match kind {
            ResourceKind::Calls => self.settings.calls_ttl,
            ResourceKind::Users => self.settings.users_ttl,
            ResourceKind::Transcripts => self.settings.transcripts_ttl,
            ResourceKind::Stats => self.settings.stats_ttl,
        }
    }

    /// The cached value for `key`, or the result of `fetch` (run once for all
    /// concurrent callers of the same key). Errors are not cached.
    pub async fn get_or_fetch<T, F>(&self, key: CacheKey, kind: ResourceKind, fetch: F) -> Result<Arc<T>, ProviderError>
    where
        T: Weigh + Send + Sync + 'static,
        F: Future<Output = Result<T, ProviderError>>,
    {
        let ttl = self.ttl(kind);
        if ttl.is_zero() {
            return fetch.await.map(Arc::new);
        }
        let connection = key.connection.clone();
        let entry = self
            .inner
            .entry(key)
            .or_try_insert_with(async move {
                let value = fetch.await?;
                let weight = u32::try_from(value.weigh()).unwrap_or(u32::MAX);
                Ok::<_, ProviderError>(Entry { value: Arc::new(value), ttl, weight, kind })
            })
            .await;
        if let Some(m) = &self.metrics {
            // Fresh: this call fetched it. Not fresh: cached, or fetched by a
            // concurrent caller this one waited for (no upstream request either way).
            // A failed fetch is a miss (errors are not cached).
            m.cache_lookup(&connection, kind.as_str(), entry.as_ref().is_ok_and(|e| !e.is_fresh()));
        }
        let entry = entry.map_err(|e: Arc<ProviderError>| (*e).clone())?;
        Ok(entry.into_value().value.downcast::<T>().expect("one type per cache key op"))
    }

    /// Entries held now (after pending maintenance).
    pub async fn entry_count(&self) -> u64 {
        self.inner.run_pending_tasks().await;
        self.inner.entry_count()
    }
}

/// Approximate heap size of a JSON value.
pub fn json_weight(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 16,
        Value::String(s) => 24 + s.len(),
        Value::Array(items) => 24 + items.iter().map(json_weight).sum::<usize>(),
        Value::Object(map) => 48 + map.iter().map(|(k, v)| 32 + k.len() + json_weight(v)).sum::<usize>(),
    }
}

mod weights {
    use super::{Weigh, json_weight};
    use crate::domain::{
        Activity, Call, CallTopicMatches, Coaching, CoachingPlan, Department, Feedback, Interaction, KpiDefinition,
        KpiObservation, Listen, Meeting, Score, Scorecard, Share, Team, Topic, Transcript, User,
    };

    macro_rules! weigh_by_raw {
        ($($t:ty => $base:expr),* $(,)?) => {$(
            impl Weigh for $t {
                fn weigh(&self) -> usize {
                    // The typed copy is roughly as large again as the raw record.
                    $base + 2 * json_weight(&self.raw)
                }
            }
        )*};
    }
    weigh_by_raw!(
        User => 256, Call => 512, Transcript => 128, Activity => 256, Interaction => 256, Score => 256,
        Scorecard => 256, Coaching => 256, Team => 128, Department => 96, Topic => 128, CallTopicMatches => 256,
        Listen => 128, Feedback => 192, Share => 160, KpiObservation => 128, KpiDefinition => 128,
        CoachingPlan => 256, Meeting => 256,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Blob(usize);

    impl Weigh for Blob {
        fn weigh(&self) -> usize {
            self.0
        }
    }

    fn key(id: &str) -> CacheKey {
        CacheKey { connection: Arc::from("c1"), op: "blob", fingerprint: id.to_owned() }
    }

    #[tokio::test]
    async fn hits_misses_and_size_evictions_are_counted() {
        let metrics = Metrics::new();
        let settings = CacheSettings { max_mib: 1, ..CacheSettings::default() };
        let cache = Cache::with_metrics(&settings, &metrics);
        let fetch = |n| async move { Ok::<_, ProviderError>(Blob(n)) };
        cache.get_or_fetch(key("a"), ResourceKind::Calls, fetch(600 * 1024)).await.unwrap();
        cache.get_or_fetch(key("a"), ResourceKind::Calls, fetch(600 * 1024)).await.unwrap();
        // A second 600 KiB entry does not fit in 1 MiB: one of the two is evicted.
        cache.get_or_fetch(key("b"), ResourceKind::Calls, fetch(600 * 1024)).await.unwrap();
        assert_eq!(cache.entry_count().await, 1);
        let text = metrics.render(false);
        let has = |line: &str| text.lines().any(|l| l == line);
        assert!(has(r#"convograph_cache_misses_total{connection="c1",kind="calls"} 2"#), "{text}");
        assert!(has(r#"convograph_cache_hits_total{connection="c1",kind="calls"} 1"#), "{text}");
        assert!(has(r#"convograph_cache_evictions_total{connection="c1",kind="calls",cause="size"} 1"#), "{text}");
    }
}
