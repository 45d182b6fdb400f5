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

use crate::{config::CacheSettings, providers::ProviderError};

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
        let inner = MokaCache::builder()
            .max_capacity(settings.max_mib.saturating_mul(1024 * 1024))
            .weigher(|_k: &CacheKey, v: &Entry| v.weight)
            .expire_after(PerEntryTtl)
            .build();
        Self { inner, settings: settings.clone() }
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
        let entry = self
            .inner
            .try_get_with(key, async move {
                let value = fetch.await?;
                let weight = u32::try_from(value.weigh()).unwrap_or(u32::MAX);
                Ok::<_, ProviderError>(Entry { value: Arc::new(value), ttl, weight })
            })
            .await
            .map_err(|e: Arc<ProviderError>| (*e).clone())?;
        Ok(entry.value.downcast::<T>().expect("one type per cache key op"))
    }

    /// The cached value for `key`, without fetching.
    pub async fn peek<T: Send + Sync + 'static>(&self, key: &CacheKey) -> Option<Arc<T>> {
        self.inner.get(key).await.and_then(|e| e.value.downcast::<T>().ok())
    }

    /// Caches `value` under `key` (a record read as part of a list, for later lookups
    /// by id).
    pub async fn insert<T: Weigh + Send + Sync + 'static>(&self, key: CacheKey, kind: ResourceKind, value: T) {
        let ttl = self.ttl(kind);
        if ttl.is_zero() {
            return;
        }
        let weight = u32::try_from(value.weigh()).unwrap_or(u32::MAX);
        self.inner.insert(key, Entry { value: Arc::new(value), ttl, weight }).await;
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
