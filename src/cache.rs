//! Cross-request cache of provider results (moka). Keys always start with the
//! connection id, so two connections never share an entry; concurrent misses for one
//! key run one fetch (`try_get_with`); each entry lives for its resource kind's TTL;
//! the cache is bounded by the estimated size of what it holds.

use std::{
    any::Any,
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use moka::{Expiry, future::Cache as MokaCache};

use crate::{accounting, config::CacheSettings, metrics::Metrics, providers::ProviderError};

/// Results of one in-flight batch fetch, by id (type-erased; each id's entry holds
/// the same type).
type BatchResult = Result<Arc<HashMap<String, Arc<dyn Any + Send + Sync>>>, ProviderError>;
type InFlight = Shared<BoxFuture<'static, BatchResult>>;

/// What [`Cache::get_many`] stores per id: the record, or `None` when the provider
/// does not have it.
struct Found(Option<Arc<dyn Any + Send + Sync>>);

fn found<T: Send + Sync + 'static>(entry: &Entry) -> Option<Arc<T>> {
    let f = entry.value.clone().downcast::<Found>().ok()?;
    f.0.clone()?.downcast::<T>().ok()
}

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
    created: Instant,
    kind: ResourceKind,
}

impl Entry {
    /// Time this entry has left to live.
    fn left(&self) -> Duration {
        self.ttl.saturating_sub(self.created.elapsed())
    }
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
    /// Batch fetches under way, by the key of each id they fetch.
    in_flight: Arc<Mutex<HashMap<CacheKey, InFlight>>>,
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
        Self { inner: builder.build(), settings: settings.clone(), in_flight: Arc::default(), metrics }
    }

    /// Records one lookup: in the request's account and in the metrics.
    fn looked_up(&self, connection: &Arc<str>, kind: ResourceKind, hit: bool, left: Duration) {
        accounting::cache_lookup(None, connection, hit, left);
        if let Some(m) = &self.metrics {
            m.cache_lookup(connection, kind.as_str(), hit);
        }
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
            self.looked_up(&key.connection, kind, false, ttl);
            return fetch.await.map(Arc::new);
        }
        let connection = key.connection.clone();
        let entry = self
            .inner
            .entry(key)
            .or_try_insert_with(async move {
                let value = fetch.await?;
                let weight = u32::try_from(value.weigh()).unwrap_or(u32::MAX);
                Ok::<_, ProviderError>(Entry { value: Arc::new(value), ttl, weight, created: Instant::now(), kind })
            })
            .await;
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                // A failed fetch is a miss (errors are not cached).
                self.looked_up(&connection, kind, false, Duration::ZERO);
                return Err((*e).clone());
            }
        };
        // Fresh: this caller fetched. Not fresh: cached, or another caller's fetch
        // of the same key was awaited (coalesced), which costs nothing upstream.
        self.looked_up(&connection, kind, !entry.is_fresh(), entry.value().left());
        Ok(entry.into_value().value.downcast::<T>().expect("one type per cache key op"))
    }

    /// Records looked up by id, for providers that fetch many ids in one request.
    ///
    /// Each id is its own cache entry (so a later request with another mix of ids
    /// reuses what it can), ids nobody has asked for yet are fetched together in one
    /// `fetch` call, and ids another request is fetching right now are awaited rather
    /// than fetched again: twenty identical concurrent queries cost one upstream
    /// request. Ids the provider does not return are remembered as absent for the
    /// same time to live. Errors are not cached.
    pub async fn get_many<T, F, Fut>(
        &self,
        connection: &Arc<str>,
        op: &'static str,
        kind: ResourceKind,
        ids: &[String],
        fetch: F,
    ) -> Result<HashMap<String, Arc<T>>, ProviderError>
    where
        T: Weigh + Send + Sync + 'static,
        F: FnOnce(Vec<String>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<(String, T)>, ProviderError>> + Send + 'static,
    {
        let ttl = self.ttl(kind);
        let mut wanted: Vec<String> = ids.to_vec();
        wanted.sort();
        wanted.dedup();
        let key = |id: &str| CacheKey { connection: connection.clone(), op, fingerprint: id.to_owned() };
        let mut out = HashMap::new();
        if ttl.is_zero() {
            self.looked_up(connection, kind, false, ttl);
            let fetched = fetch(wanted).await?;
            return Ok(fetched.into_iter().map(|(id, v)| (id, Arc::new(v))).collect());
        }

        let mut missing = Vec::new();
        for id in wanted {
            match self.inner.get(&key(&id)).await {
                Some(entry) => {
                    self.looked_up(connection, kind, true, entry.left());
                    if let Some(v) = found::<T>(&entry) {
                        out.insert(id, v);
                    }
                }
                None => missing.push(id),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }

        // Split the misses: ids in flight elsewhere are awaited, the rest are ours.
        let mut awaited: Vec<(String, InFlight)> = Vec::new();
        let mine: Vec<String>;
        let own_batch: Option<InFlight>;
        {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            let mut own = Vec::new();
            for id in missing {
                match in_flight.get(&key(&id)) {
                    Some(f) => awaited.push((id, f.clone())),
                    None => own.push(id),
                }
            }
            mine = own;
            own_batch = (!mine.is_empty()).then(|| {
                let batch = self.batch_future(connection.clone(), op, kind, ttl, mine.clone(), fetch);
                for id in &mine {
                    in_flight.insert(key(id), batch.clone());
                }
                batch
            });
        }
        if let Some(batch) = own_batch {
            let results = batch.await?;
            for id in &mine {
                self.looked_up(connection, kind, false, ttl);
                if let Some(v) = results.get(id).and_then(|v| v.clone().downcast::<T>().ok()) {
                    out.insert(id.clone(), v);
                }
            }
        }
        for (id, batch) in awaited {
            let results = batch.await?;
            self.looked_up(connection, kind, true, ttl);
            if let Some(v) = results.get(&id).and_then(|v| v.clone().downcast::<T>().ok()) {
                out.insert(id, v);
            }
        }
        Ok(out)
    }

    /// The shared future that fetches `ids` once, caches each, and leaves the
    /// in-flight map. Any waiter may drive it, so a cancelled owner does not strand
    /// the others.
    fn batch_future<T, F, Fut>(
        &self,
        connection: Arc<str>,
        op: &'static str,
        kind: ResourceKind,
        ttl: Duration,
        ids: Vec<String>,
        fetch: F,
    ) -> InFlight
    where
        T: Weigh + Send + Sync + 'static,
        F: FnOnce(Vec<String>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<(String, T)>, ProviderError>> + Send + 'static,
    {
        let cache = self.inner.clone();
        let in_flight = self.in_flight.clone();
        async move {
            let key = |id: &str| CacheKey { connection: connection.clone(), op, fingerprint: id.to_owned() };
            // A batch that finished between the caller's cache lookup and its claim
            // on these ids has left them in the cache: take those from there.
            let mut by_id: HashMap<String, Arc<dyn Any + Send + Sync>> = HashMap::new();
            let mut need = Vec::new();
            for id in &ids {
                match cache.get(&key(id)).await {
                    Some(entry) => {
                        if let Ok(f) = entry.value.clone().downcast::<Found>()
                            && let Some(v) = &f.0
                        {
                            by_id.insert(id.clone(), v.clone());
                        }
                    }
                    None => need.push(id.clone()),
                }
            }
            let out = if need.is_empty() {
                Ok(by_id)
            } else {
                fetch(need.clone()).await.map(|items| {
                    for (id, v) in items {
                        by_id.insert(id, Arc::new(v));
                    }
                    by_id
                })
            };
            if let Ok(by_id) = &out {
                for id in &need {
                    let value = by_id.get(id).cloned();
                    let weight =
                        value.as_ref().and_then(|v| v.clone().downcast::<T>().ok()).map_or(64, |v| v.weigh() + 64);
                    let entry = Entry {
                        value: Arc::new(Found(value)),
                        ttl,
                        weight: u32::try_from(weight).unwrap_or(u32::MAX),
                        created: Instant::now(),
                        kind,
                    };
                    cache.insert(key(id), entry).await;
                }
            }
            // Leave the in-flight map only after the cache holds the results, so a
            // caller that misses the map finds them in the cache.
            let mut map = in_flight.lock().unwrap_or_else(|p| p.into_inner());
            for id in &ids {
                map.remove(&key(id));
            }
            out.map(Arc::new)
        }
        .boxed()
        .shared()
    }

    /// Estimated bytes held now (the weigher's sum, after pending maintenance).
    pub async fn weighted_size(&self) -> u64 {
        self.inner.run_pending_tasks().await;
        self.inner.weighted_size()
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
        self.inner.insert(key, Entry { value: Arc::new(value), ttl, weight, created: Instant::now(), kind }).await;
    }

    /// Caches `value` as the record of `id` for [`Self::get_many`] under `op` (a record
    /// read as part of a list, so a later lookup by id costs nothing).
    pub async fn insert_found<T: Weigh + Send + Sync + 'static>(
        &self,
        connection: &Arc<str>,
        op: &'static str,
        kind: ResourceKind,
        id: &str,
        value: T,
    ) {
        let ttl = self.ttl(kind);
        if ttl.is_zero() {
            return;
        }
        let weight = u32::try_from(value.weigh() + 64).unwrap_or(u32::MAX);
        let key = CacheKey { connection: connection.clone(), op, fingerprint: id.to_owned() };
        let entry = Entry { value: Arc::new(Found(Some(Arc::new(value)))), ttl, weight, created: Instant::now(), kind };
        self.inner.insert(key, entry).await;
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
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    impl Weigh for String {
        fn weigh(&self) -> usize {
            self.len()
        }
    }

    #[tokio::test]
    async fn get_many_fetches_each_id_once_across_concurrent_callers() {
        let cache = Cache::new(&CacheSettings::default());
        let conn: Arc<str> = Arc::from("c");
        let calls = Arc::new(AtomicU32::new(0));
        let ids: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let run = |subset: Vec<String>| {
            let (cache, conn, calls) = (cache.clone(), conn.clone(), calls.clone());
            async move {
                cache
                    .get_many(&conn, "t", ResourceKind::Transcripts, &subset, move |need| async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(need.into_iter().filter(|i| i != "7").map(|i| (i.clone(), format!("v{i}"))).collect())
                    })
                    .await
                    .unwrap()
            }
        };
        let mut tasks = Vec::new();
        for k in 0..20 {
            let subset: Vec<String> = ids.iter().skip(k % 3).cloned().collect();
            tasks.push(tokio::spawn(run(subset)));
        }
        for t in tasks {
            let got = t.await.unwrap();
            assert!(!got.contains_key("7"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let again = run(ids.clone()).await;
        assert_eq!(again.len(), 99);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "everything, absent ids included, was cached");
    }

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
