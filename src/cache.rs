//! Cross-request cache of provider results (moka). Keys always start with the
//! connection id, so two connections never share an entry; concurrent misses for one
//! key run one fetch; each entry lives for its resource kind's TTL; values are held
//! packed ([`pack`]: compressed bytes, decoded on every hit), and the cache is bounded
//! by the bytes they hold.

mod l2;
pub(crate) mod pack;

use std::{
    any::Any,
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::{Duration, Instant},
};

use futures::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use moka::{Expiry, future::Cache as MokaCache};
use serde::{Serialize, de::DeserializeOwned};

use self::pack::{Dict, Encoded, PackError, Packed};
use crate::{
    accounting::{self, Note},
    config::CacheSettings,
    metrics::Metrics,
    providers::ProviderError,
    shared::Shared as Replicas,
};

/// What a cached value must be: packable (every domain record and list of them is).
pub trait Cacheable: Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Cacheable for T {}

/// Results of one in-flight batch fetch, by id (type-erased; each id's value has the
/// same type), with the notes the fetch made.
type BatchResult = Result<Arc<Batch>, ProviderError>;

struct Batch {
    by_id: HashMap<String, Arc<dyn Any + Send + Sync>>,
    notes: Vec<Note>,
    /// The ids read from another replica's entries (not fetched), with the time
    /// those have left.
    shared: HashMap<String, Duration>,
}

impl Batch {
    /// The notes for a caller that asked for `ids`: those about its records, and those
    /// about no record in particular.
    fn notes_for<'a>(&'a self, ids: &'a [String]) -> impl Iterator<Item = &'a Note> + 'a {
        self.notes.iter().filter(|n| n.record.as_ref().is_none_or(|r| ids.contains(r)))
    }
}

/// What the shared level gave a batch ([`Cache::batch_from_l2`]).
struct FromL2 {
    /// The ids still to fetch.
    rest: Vec<String>,
    /// The locks this replica took on them.
    lock: Option<l2::Lock>,
    /// The ids read from Redis, with their time left.
    left: HashMap<String, Duration>,
    /// The notes kept with those.
    notes: Vec<Note>,
}

/// Notes as an entry keeps them (none: no allocation).
fn kept(notes: &[Note]) -> Option<Arc<[Note]>> {
    (!notes.is_empty()).then(|| Arc::from(notes))
}
type InFlight = Shared<BoxFuture<'static, BatchResult>>;

/// Heap bytes moka and this module hold per entry besides the packed value and the
/// key's fingerprint: moka's entry, its deque and timer nodes and hash-table slot,
/// the [`Entry`] and the key (measured in `tests/cache_memory.rs`).
const ENTRY_OVERHEAD: usize = 320;

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

/// A cache key: connection, operation, and the request's own fingerprint. One
/// operation always caches values of one type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub connection: Arc<str>,
    pub op: &'static str,
    pub fingerprint: String,
}

#[derive(Clone)]
struct Entry {
    packed: Arc<Packed>,
    /// Notes about the data (sticky ones only): delivered with it on every hit.
    notes: Option<Arc<[Note]>>,
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

/// The live dictionary of each operation of each connection ([`pack`]), held weakly:
/// the entries compressed with a dictionary keep it alive.
#[derive(Clone, Default)]
struct Dictionaries(Arc<Mutex<HashMap<DictKey, Weak<[u8]>>>>);

/// A connection and one of its operations.
type DictKey = (Arc<str>, &'static str);

impl Dictionaries {
    /// The live dictionary of `connection`'s `op`, or a new one made by `make` (then
    /// `true`: the caller weighs it).
    fn get_or_make(&self, connection: &Arc<str>, op: &'static str, make: impl FnOnce() -> Dict) -> (Dict, bool) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let slot = (connection.clone(), op);
        if let Some(dict) = map.get(&slot).and_then(Weak::upgrade) {
            return (dict, false);
        }
        let dict = make();
        map.insert(slot, Arc::downgrade(&dict));
        (dict, true)
    }
}

/// Packs values of one operation of one connection into entries. The small ones are
/// compressed against the operation's dictionary (made from them if none is live);
/// the first of them also carries the weight of a dictionary made here.
fn pack_entries(
    dicts: &Dictionaries,
    key: &CacheKey,
    kind: ResourceKind,
    ttl: Duration,
    encoded: &[Encoded],
) -> Result<Vec<Entry>, PackError> {
    let mut dict: Option<(Dict, usize)> = None;
    if encoded.iter().any(Encoded::is_small) {
        let (d, made) =
            dicts.get_or_make(&key.connection, key.op, || pack::dictionary(encoded.iter().filter(|e| e.is_small())));
        let weight = if made { d.len() } else { 0 };
        dict = Some((d, weight));
    }
    encoded
        .iter()
        .map(|e| {
            let (d, extra) = match (&mut dict, e.is_small()) {
                (Some((d, weight)), true) => (Some(&*d), std::mem::take(weight)),
                _ => (None, 0),
            };
            let packed = e.compress(d)?;
            let weight = ENTRY_OVERHEAD + key.fingerprint.len() + packed.heap_bytes() + extra;
            Ok(Entry {
                packed: Arc::new(packed),
                notes: None,
                ttl,
                weight: u32::try_from(weight).unwrap_or(u32::MAX),
                created: Instant::now(),
                kind,
            })
        })
        .collect()
}

tokio::task_local! {
    /// True while a read must reach the provider (a change poll: a page cached a
    /// moment ago may not show what changed since).
    static FRESH: bool;
}

/// Runs `fut` with its lists read from the provider, not the cache (and not cached).
pub async fn fresh<F: Future>(fut: F) -> F::Output {
    FRESH.scope(true, fut).await
}

/// Runs `fut` with the cache used as usual, inside a [`fresh`] read (records that
/// the read only looks up, e.g. a conversation whose activities it polls).
pub async fn cached<F: Future>(fut: F) -> F::Output {
    FRESH.scope(false, fut).await
}

/// Whether the current task reads fresh ([`fresh`]).
pub fn is_fresh() -> bool {
    FRESH.try_with(|f| *f).unwrap_or(false)
}

/// The shared provider-result cache.
#[derive(Clone)]
pub struct Cache {
    inner: MokaCache<CacheKey, Entry>,
    settings: CacheSettings,
    /// Batch fetches under way, by the key of each id they fetch.
    in_flight: Arc<Mutex<HashMap<CacheKey, InFlight>>>,
    dicts: Dictionaries,
    metrics: Option<Metrics>,
    /// The replicas' shared level under this one ([`l2`]), when Redis is configured.
    l2: Option<l2::L2>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("entries", &self.inner.entry_count()).finish()
    }
}

/// Why a fetch under [`Cache::get_or_fetch`] left no entry.
enum Unfilled {
    /// The fetch failed, with the notes it made before.
    Fetch(ProviderError, Vec<Note>),
    /// The value could not be packed (logged; the fetching caller still has it).
    Pack,
    /// The value is partial (a note about the read, e.g. a walk ended early): not
    /// kept, but handed packed to the callers that waited for it.
    Partial(Arc<Packed>, Vec<Note>),
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
        Self {
            inner: builder.build(),
            settings: settings.clone(),
            in_flight: Arc::default(),
            dicts: Dictionaries::default(),
            metrics,
            l2: None,
        }
    }

    /// Shares entries with the other replicas through Redis ([`l2`]): a miss here is
    /// looked up there, and a key missing there too is fetched by one replica only.
    /// Without Redis (`None`, or while it cannot be reached) the cache is this
    /// process's alone.
    pub fn with_shared(mut self, replicas: Option<Replicas>) -> Self {
        self.l2 = replicas.map(l2::L2::new);
        self
    }

    /// A local entry for a value read from Redis, for the time it has left there.
    fn adopt(&self, key: &CacheKey, kind: ResourceKind, found: &l2::Found) -> Option<Entry> {
        match pack_entries(&self.dicts, key, kind, found.left, std::slice::from_ref(&found.encoded)) {
            Ok(mut entries) => entries.pop().map(|e| Entry { notes: kept(&found.notes), ..e }),
            Err(e) => {
                tracing::error!(connection = %key.connection, op = key.op, error = %e, "a shared value could not be cached");
                None
            }
        }
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

    /// The value of a cached entry, or `None` (logged, and the entry dropped) when it
    /// cannot be decoded, which would be a bug: the caller then fetches.
    async fn unpack<T: Cacheable>(&self, key: &CacheKey, entry: &Entry) -> Option<T> {
        match entry.packed.unpack::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!(connection = %key.connection, op = key.op, error = %e, "a cache entry could not be decoded");
                self.inner.invalidate(key).await;
                None
            }
        }
    }

    /// The cached value for `key`, or the result of `fetch` (run once for all
    /// concurrent callers of the same key). Errors are not cached. Every hit decodes
    /// the value anew, so the `Arc` returned is the caller's alone
    /// (`Arc::unwrap_or_clone` takes it without a copy).
    pub async fn get_or_fetch<T, F>(&self, key: CacheKey, kind: ResourceKind, fetch: F) -> Result<Arc<T>, ProviderError>
    where
        T: Cacheable,
        F: Future<Output = Result<T, ProviderError>>,
    {
        let ttl = self.ttl(kind);
        if ttl.is_zero() || is_fresh() {
            self.looked_up(&key.connection, kind, false, ttl);
            return fetch.await.map(Arc::new);
        }
        let mut fetch = Some(fetch);
        let mut fetched: Option<(T, Vec<Note>)> = None;
        let entry = self
            .inner
            .entry(key.clone())
            .or_try_insert_with(async {
                // Another replica's value, or its fetch, or the lock to fetch.
                let mut lock = None;
                if let Some(l2) = &self.l2 {
                    match l2.claim(&key).await {
                        l2::Claim::Found(found) => {
                            if let Some(entry) = self.adopt(&key, kind, &found) {
                                return Ok(entry);
                            }
                        }
                        l2::Claim::Held(held) => lock = Some(held),
                        l2::Claim::Alone => {}
                    }
                }
                let Some(fetch) = fetch.take() else { return Err(Unfilled::Pack) };
                let (value, notes) = match (&self.l2, &lock) {
                    (Some(l2), Some(lock)) => l2.holding(lock, accounting::capture(fetch)).await,
                    _ => accounting::capture(fetch).await,
                };
                let outcome = match value {
                    Err(e) => Err(Unfilled::Fetch(e, notes)),
                    Ok(value) => {
                        let partial = notes.iter().any(|n| !n.sticky);
                        let packed = pack::encode(&value).and_then(|encoded| {
                            let entries = pack_entries(&self.dicts, &key, kind, ttl, std::slice::from_ref(&encoded))?;
                            Ok((encoded, entries))
                        });
                        let entry = match packed {
                            Ok((encoded, mut entries)) => {
                                // A partial read is kept by no replica.
                                if let Some(l2) = self.l2.as_ref().filter(|_| !partial) {
                                    l2.put(&[(key.clone(), &encoded, notes.clone())], ttl).await;
                                }
                                entries.pop().ok_or(Unfilled::Pack)
                            }
                            Err(e) => {
                                tracing::error!(connection = %key.connection, op = key.op, error = %e, "a value could not be cached");
                                Err(Unfilled::Pack)
                            }
                        };
                        fetched = Some((value, notes.clone()));
                        match entry {
                            Ok(entry) if partial => Err(Unfilled::Partial(entry.packed, notes)),
                            Ok(entry) => Ok(Entry { notes: kept(&notes), ..entry }),
                            Err(e) => Err(e),
                        }
                    }
                };
                // Released once the value is stored: the replicas waiting for it find
                // it, or (none stored) fetch by themselves.
                if let (Some(l2), Some(lock)) = (&self.l2, lock) {
                    l2.release(lock).await;
                }
                outcome
            })
            .await;
        // This caller fetched: its own value, without decoding it again.
        if let Some((value, notes)) = fetched {
            accounting::emit(&notes);
            self.looked_up(&key.connection, kind, false, entry.as_ref().map_or(Duration::ZERO, |e| e.value().left()));
            return Ok(Arc::new(value));
        }
        match entry {
            // Cached, or another caller's fetch of the same key was awaited
            // (coalesced), which costs nothing upstream.
            Ok(entry) => {
                if let Some(value) = self.unpack::<T>(&key, entry.value()).await {
                    accounting::emit(entry.value().notes.as_deref().unwrap_or_default());
                    self.looked_up(&key.connection, kind, true, entry.value().left());
                    return Ok(Arc::new(value));
                }
            }
            Err(e) => match &*e {
                Unfilled::Fetch(e, notes) => {
                    // A failed fetch is a miss (errors are not cached).
                    accounting::emit(notes);
                    self.looked_up(&key.connection, kind, false, Duration::ZERO);
                    return Err(e.clone());
                }
                Unfilled::Partial(packed, notes) => {
                    if let Ok(value) = packed.unpack::<T>() {
                        accounting::emit(notes);
                        self.looked_up(&key.connection, kind, false, Duration::ZERO);
                        return Ok(Arc::new(value));
                    }
                }
                Unfilled::Pack => {}
            },
        }
        // The entry could not be decoded, or the other caller's value not packed:
        // fetch without the cache.
        self.looked_up(&key.connection, kind, false, Duration::ZERO);
        match fetch {
            Some(fetch) => fetch.await.map(Arc::new),
            None => unreachable!("a caller that ran its fetch returned above"),
        }
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
        T: Cacheable,
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
            let key = key(&id);
            let Some(entry) = self.inner.get(&key).await else {
                missing.push(id);
                continue;
            };
            match self.unpack::<Option<T>>(&key, &entry).await {
                Some(found) => {
                    accounting::emit(entry.notes.as_deref().unwrap_or_default());
                    self.looked_up(connection, kind, true, entry.left());
                    if let Some(v) = found {
                        out.insert(id, Arc::new(v));
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
                let batch = self.batch_future(connection.clone(), op, kind, mine.clone(), fetch);
                for id in &mine {
                    in_flight.insert(key(id), batch.clone());
                }
                batch
            });
        }
        if let Some(batch) = own_batch {
            let results = batch.await?;
            results.notes_for(&mine).for_each(|n| accounting::note(n.clone()));
            for id in &mine {
                match results.shared.get(id) {
                    Some(left) => self.looked_up(connection, kind, true, *left),
                    None => self.looked_up(connection, kind, false, ttl),
                }
                if let Some(v) = results.by_id.get(id).and_then(|v| v.clone().downcast::<T>().ok()) {
                    out.insert(id.clone(), v);
                }
            }
        }
        for (id, batch) in awaited {
            let results = batch.await?;
            results.notes_for(std::slice::from_ref(&id)).for_each(|n| accounting::note(n.clone()));
            self.looked_up(connection, kind, true, results.shared.get(&id).copied().unwrap_or(ttl));
            if let Some(v) = results.by_id.get(&id).and_then(|v| v.clone().downcast::<T>().ok()) {
                out.insert(id, v);
            }
        }
        Ok(out)
    }

    /// The shared future that fetches `ids` once, caches each, and leaves the
    /// in-flight map. Any waiter may drive it, so a cancelled owner does not strand
    /// the others. Waiters share the fetched records as they are (not packed).
    fn batch_future<T, F, Fut>(
        &self,
        connection: Arc<str>,
        op: &'static str,
        kind: ResourceKind,
        ids: Vec<String>,
        fetch: F,
    ) -> InFlight
    where
        T: Cacheable,
        F: FnOnce(Vec<String>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<(String, T)>, ProviderError>> + Send + 'static,
    {
        let this = self.clone();
        async move {
            let key = |id: &str| CacheKey { connection: connection.clone(), op, fingerprint: id.to_owned() };
            // A batch that finished between the caller's cache lookup and its claim
            // on these ids has left them in the cache: take those from there.
            let mut by_id: HashMap<String, Arc<dyn Any + Send + Sync>> = HashMap::new();
            let mut need = Vec::new();
            let mut cached_notes: Vec<Note> = Vec::new();
            for id in &ids {
                let cached = match this.inner.get(&key(id)).await {
                    Some(entry) => {
                        cached_notes.extend(entry.notes.iter().flat_map(|n| n.iter().cloned()));
                        this.unpack::<Option<T>>(&key(id), &entry).await
                    }
                    None => None,
                };
                match cached {
                    Some(Some(v)) => {
                        by_id.insert(id.clone(), Arc::new(v));
                    }
                    Some(None) => {}
                    None => need.push(id.clone()),
                }
            }
            // What other replicas hold or are fetching, and the lock on the rest.
            let mut shared = HashMap::new();
            let mut lock = None;
            if let Some(l2) = this.l2.as_ref().filter(|_| !need.is_empty()) {
                let found = this.batch_from_l2::<T>(l2, &connection, op, kind, need, &mut by_id).await;
                (need, lock, shared) = (found.rest, found.lock, found.left);
                cached_notes.extend(found.notes);
            }
            let out = if need.is_empty() {
                Ok(Batch { by_id, notes: cached_notes, shared })
            } else {
                let fetching = accounting::capture(fetch(need.clone()));
                let (items, mut notes) = match (&this.l2, &lock) {
                    (Some(l2), Some(lock)) => l2.holding(lock, fetching).await,
                    _ => fetching.await,
                };
                match items {
                    Ok(items) => {
                        let mut fetched: HashMap<String, T> = items.into_iter().collect();
                        // A partial read is not kept; the notes about a record are
                        // kept with it.
                        let partial = notes.iter().any(|n| !n.sticky || n.record.is_none());
                        if !partial {
                            this.insert_found(&connection, op, kind, &need, &fetched, &notes).await;
                        }
                        for (id, v) in fetched.drain() {
                            by_id.insert(id, Arc::new(v));
                        }
                        notes.extend(cached_notes);
                        Ok(Batch { by_id, notes, shared })
                    }
                    Err(e) => {
                        accounting::emit(&notes);
                        Err(e)
                    }
                }
            };
            if let (Some(l2), Some(lock)) = (&this.l2, lock) {
                l2.release(lock).await;
            }
            // Leave the in-flight map only after the cache holds the results, so a
            // caller that misses the map finds them in the cache.
            let mut map = this.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            for id in &ids {
                map.remove(&key(id));
            }
            out.map(Arc::new)
        }
        .boxed()
        .shared()
    }

    /// For the ids of a batch missing here: takes those Redis holds (caching them
    /// here too) into `by_id`, and claims the rest. When other replicas hold the
    /// locks of all of the rest, waits for their values; when they hold some, this
    /// replica fetches all (waiting for theirs while holding its own could leave
    /// two replicas waiting for each other).
    async fn batch_from_l2<T: Cacheable>(
        &self,
        l2: &l2::L2,
        connection: &Arc<str>,
        op: &'static str,
        kind: ResourceKind,
        need: Vec<String>,
        by_id: &mut HashMap<String, Arc<dyn Any + Send + Sync>>,
    ) -> FromL2 {
        let mut out = FromL2 { rest: Vec::new(), lock: None, left: HashMap::new(), notes: Vec::new() };
        let keys: Vec<CacheKey> =
            need.into_iter().map(|id| CacheKey { connection: connection.clone(), op, fingerprint: id }).collect();
        let found = l2.get_many(&keys).await;
        let rest = self.take_found::<T>(kind, keys.into_iter().zip(found), by_id, &mut out).await;
        let ids = |keys: Vec<CacheKey>| keys.into_iter().map(|k| k.fingerprint).collect::<Vec<_>>();
        if rest.is_empty() {
            return out;
        }
        match l2.claim_many(&rest).await {
            None => out.rest = ids(rest),
            Some((lock, mine)) if mine.iter().any(|m| *m) => {
                out.rest = ids(rest);
                out.lock = Some(lock);
            }
            Some(_) => {
                let found = l2.wait_many(&rest).await;
                let rest = self.take_found::<T>(kind, rest.into_iter().zip(found), by_id, &mut out).await;
                out.rest = ids(rest);
            }
        }
        out
    }

    /// Takes the values Redis had into `by_id` and this cache (packed together, they
    /// share one dictionary); returns the keys it had not (or whose value could not
    /// be read).
    async fn take_found<T: Cacheable>(
        &self,
        kind: ResourceKind,
        rows: impl Iterator<Item = (CacheKey, Option<l2::Found>)>,
        by_id: &mut HashMap<String, Arc<dyn Any + Send + Sync>>,
        out: &mut FromL2,
    ) -> Vec<CacheKey> {
        let mut rest = Vec::new();
        let mut hits = Vec::new();
        for (key, found) in rows {
            match found {
                Some(found) => hits.push((key, found)),
                None => rest.push(key),
            }
        }
        let encoded: Vec<Encoded> = hits.iter_mut().map(|(_, f)| std::mem::take(&mut f.encoded)).collect();
        let Some((first, _)) = hits.first() else { return rest };
        let entries = pack_entries(&self.dicts, first, kind, Duration::ZERO, &encoded).unwrap_or_else(|e| {
            tracing::error!(connection = %first.connection, op = first.op, error = %e, "shared values could not be cached");
            Vec::new()
        });
        let mut entries = entries.into_iter();
        for ((key, found), encoded) in hits.into_iter().zip(&encoded) {
            let entry = entries.next();
            let value = match encoded.unpack::<Option<T>>() {
                Ok(value) => value,
                Err(e) => {
                    tracing::error!(connection = %key.connection, op = key.op, error = %e, "a shared value could not be decoded");
                    rest.push(key);
                    continue;
                }
            };
            if let Some(entry) = entry {
                let entry = Entry { ttl: found.left, notes: kept(&found.notes), ..entry };
                self.inner.insert(key.clone(), entry).await;
            }
            if let Some(v) = value {
                by_id.insert(key.fingerprint.clone(), Arc::new(v));
            }
            out.left.insert(key.fingerprint, found.left);
            out.notes.extend(found.notes);
        }
        rest
    }

    /// Caches, for each of `ids`, its record in `found` or that it is absent, with the
    /// notes about it.
    async fn insert_found<T: Cacheable>(
        &self,
        connection: &Arc<str>,
        op: &'static str,
        kind: ResourceKind,
        ids: &[String],
        found: &HashMap<String, T>,
        notes: &[Note],
    ) {
        let values: Vec<(&String, Option<&T>)> = ids.iter().map(|id| (id, found.get(id))).collect();
        self.insert_packed(connection, op, kind, &values, notes).await;
    }

    /// Caches records under their ids (records read as part of a list, for later
    /// lookups by id). Packed together, they share one dictionary.
    pub async fn insert_many<T: Cacheable>(
        &self,
        connection: &Arc<str>,
        op: &'static str,
        kind: ResourceKind,
        records: &[(String, T)],
    ) {
        let values: Vec<(&String, &T)> = records.iter().map(|(id, v)| (id, v)).collect();
        self.insert_packed(connection, op, kind, &values, &[]).await;
    }

    /// Caches each value under its id, with the notes about that id.
    async fn insert_packed<V: Serialize>(
        &self,
        connection: &Arc<str>,
        op: &'static str,
        kind: ResourceKind,
        values: &[(&String, V)],
        notes: &[Note],
    ) {
        let ttl = self.ttl(kind);
        // The dictionary (and its weight) goes with the first id's entry.
        let Some((first, _)) = values.first() else { return };
        if ttl.is_zero() {
            return;
        }
        let key = |id: &str| CacheKey { connection: connection.clone(), op, fingerprint: id.to_owned() };
        let packed = values.iter().map(|(_, v)| pack::encode(v)).collect::<Result<Vec<_>, _>>().and_then(|encoded| {
            let entries = pack_entries(&self.dicts, &key(first), kind, ttl, &encoded)?;
            Ok((encoded, entries))
        });
        match packed {
            Ok((encoded, entries)) => {
                let mut shared = Vec::new();
                for (((id, _), entry), encoded) in values.iter().zip(entries).zip(&encoded) {
                    let about: Vec<Note> = notes.iter().filter(|n| n.record.as_ref() == Some(*id)).cloned().collect();
                    self.inner.insert(key(id), Entry { notes: kept(&about), ..entry }).await;
                    shared.push((key(id), encoded, about));
                }
                if let Some(l2) = &self.l2 {
                    l2.put(&shared, ttl).await;
                }
            }
            Err(e) => tracing::error!(connection = %connection, op, error = %e, "records could not be cached"),
        }
    }

    /// Bytes held now (the weigher's sum, after pending maintenance).
    pub async fn weighted_size(&self) -> u64 {
        self.inner.run_pending_tasks().await;
        self.inner.weighted_size()
    }

    /// Drops what is cached of record `id` of `connection` read by id (a call, its
    /// transcript, its scores), here and in the replicas' shared level: the record
    /// changed at the provider (a live event said so), and the next read must see it.
    pub async fn forget(&self, connection: &Arc<str>, id: &str) {
        let keys: Vec<CacheKey> = ["call", "transcript", "call_scores"]
            .into_iter()
            .map(|op| CacheKey { connection: connection.clone(), op, fingerprint: id.to_owned() })
            .collect();
        for k in &keys {
            self.inner.invalidate(k).await;
        }
        if let Some(l2) = &self.l2 {
            l2.forget(&keys).await;
        }
    }

    /// The cached value for `key`, without fetching.
    pub async fn peek<T: Cacheable>(&self, key: &CacheKey) -> Option<T> {
        let entry = self.inner.get(key).await?;
        self.unpack(key, &entry).await
    }

    /// Caches `value` under `key` (a record read as part of a list, for later lookups
    /// by id).
    pub async fn insert<T: Cacheable>(&self, key: CacheKey, kind: ResourceKind, value: &T) {
        let ttl = self.ttl(kind);
        if ttl.is_zero() {
            return;
        }
        let packed = pack::encode(value).and_then(|encoded| {
            let entries = pack_entries(&self.dicts, &key, kind, ttl, std::slice::from_ref(&encoded))?;
            Ok((encoded, entries))
        });
        match packed {
            Ok((encoded, mut entries)) => {
                if let Some(l2) = &self.l2 {
                    l2.put(&[(key.clone(), &encoded, Vec::new())], ttl).await;
                }
                if let Some(entry) = entries.pop() {
                    self.inner.insert(key, entry).await;
                }
            }
            Err(e) => {
                tracing::error!(connection = %key.connection, op = key.op, error = %e, "a value could not be cached")
            }
        }
    }

    /// Entries held now (after pending maintenance).
    pub async fn entry_count(&self) -> u64 {
        self.inner.run_pending_tasks().await;
        self.inner.entry_count()
    }
}

/// Test helpers: replicas' connections to the local Redis.
#[cfg(test)]
pub(crate) mod testing {
    use std::time::{Duration, Instant};

    use crate::{config::RedisSettings, metrics::Metrics, shared::Shared};

    /// `n` replicas' connections to the Redis at 127.0.0.1:6379 (each its own),
    /// under a key prefix of their own, once Redis answers all of them. Panics
    /// when it does not.
    pub(crate) async fn replicas(n: usize) -> Vec<Shared> {
        let prefix = format!("convograph-test-{:016x}", rand::random::<u64>());
        let settings =
            RedisSettings { url: "redis://127.0.0.1:6379".into(), key_prefix: prefix, ..RedisSettings::default() };
        let mut out = Vec::new();
        for _ in 0..n {
            let shared = Shared::connect(&settings, Metrics::new());
            let deadline = Instant::now() + Duration::from_secs(5);
            while !shared.is_up() {
                assert!(
                    Instant::now() < deadline,
                    "Redis at 127.0.0.1:6379 is required for this test (start redis-server; CI runs it as a service)"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            out.push(shared);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

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

    /// `n` bytes that do not compress.
    fn noise(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn key(id: &str) -> CacheKey {
        CacheKey { connection: Arc::from("c1"), op: "blob", fingerprint: id.to_owned() }
    }

    #[tokio::test]
    async fn hits_misses_and_size_evictions_are_counted() {
        let metrics = Metrics::new();
        let settings = CacheSettings { max_mib: 1, ..CacheSettings::default() };
        let cache = Cache::with_metrics(&settings, &metrics);
        let fetch = |n| async move { Ok::<_, ProviderError>(noise(n)) };
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

    /// Replicas' caches over the local Redis, under a key prefix of their own.
    mod shared {
        use super::*;
        use crate::{
            config::RedisSettings,
            providers::{ProviderErrorKind, ProviderKind},
        };

        fn settings(url: &str, prefix: &str) -> RedisSettings {
            RedisSettings { url: url.into(), key_prefix: prefix.into(), ..RedisSettings::default() }
        }

        /// `n` replicas' caches sharing one Redis (each its own connection).
        async fn replicas(n: usize) -> Vec<Cache> {
            let shared = crate::cache::testing::replicas(n).await;
            shared.into_iter().map(|s| Cache::new(&CacheSettings::default()).with_shared(Some(s))).collect()
        }

        fn note(record: Option<&str>, sticky: bool) -> Note {
            let error =
                ProviderError::new(ProviderKind::Gong, &Arc::from("c1"), ProviderErrorKind::Record("odd".into()));
            Note { error, sticky, record: record.map(str::to_owned) }
        }

        /// A fetch that counts its runs, takes `ms` and makes `notes`.
        fn counted(
            runs: &Arc<AtomicU32>,
            ms: u64,
            notes: Vec<Note>,
        ) -> impl Future<Output = Result<Vec<String>, ProviderError>> + use<> {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                accounting::emit(&notes);
                Ok(vec!["a".to_owned(), "b".to_owned()])
            }
        }

        #[tokio::test]
        async fn a_value_one_replica_fetched_is_a_hit_on_another_with_its_notes() {
            let r = replicas(2).await;
            let runs = Arc::new(AtomicU32::new(0));
            let got = r[0].get_or_fetch(key("k"), ResourceKind::Calls, counted(&runs, 0, vec![note(None, true)])).await;
            assert_eq!(*got.unwrap(), ["a", "b"]);
            let (got, notes) =
                accounting::capture(r[1].get_or_fetch(key("k"), ResourceKind::Calls, counted(&runs, 0, vec![]))).await;
            assert_eq!(*got.unwrap(), ["a", "b"]);
            assert_eq!(runs.load(Ordering::SeqCst), 1, "the second replica read the first one's value");
            assert_eq!(notes.len(), 1, "the note kept with the value came with it");
            assert!(notes[0].sticky && notes[0].error.to_string().contains("odd"));
            // Now in the second replica's own cache.
            assert_eq!(r[1].peek::<Vec<String>>(&key("k")).await.unwrap(), ["a", "b"]);
        }

        #[tokio::test]
        async fn a_partial_read_is_not_shared() {
            let r = replicas(2).await;
            let runs = Arc::new(AtomicU32::new(0));
            for c in &r {
                let fetch = counted(&runs, 0, vec![note(None, false)]);
                let (got, notes) = accounting::capture(c.get_or_fetch(key("p"), ResourceKind::Calls, fetch)).await;
                assert_eq!((got.unwrap().len(), notes.len()), (2, 1));
            }
            assert_eq!(runs.load(Ordering::SeqCst), 2);
        }

        #[tokio::test]
        async fn twenty_cold_gets_over_three_replicas_fetch_once() {
            let r = replicas(3).await;
            let runs = Arc::new(AtomicU32::new(0));
            let tasks: Vec<_> = (0..20)
                .map(|i| {
                    let (cache, fetch) = (r[i % 3].clone(), counted(&runs, 200, vec![]));
                    tokio::spawn(async move { cache.get_or_fetch(key("cold"), ResourceKind::Calls, fetch).await })
                })
                .collect();
            for t in tasks {
                assert_eq!(*t.await.unwrap().unwrap(), ["a", "b"]);
            }
            assert_eq!(runs.load(Ordering::SeqCst), 1);
        }

        #[tokio::test]
        async fn when_the_fetching_replica_fails_the_others_fetch_by_themselves() {
            let r = replicas(2).await;
            let failing = async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Err::<Vec<String>, _>(ProviderError::new(
                    ProviderKind::Gong,
                    &Arc::from("c1"),
                    ProviderErrorKind::Unavailable("down".into()),
                ))
            };
            let runs = Arc::new(AtomicU32::new(0));
            let started = Instant::now();
            let (a, b) = tokio::join!(r[0].get_or_fetch(key("f"), ResourceKind::Calls, failing), async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                r[1].get_or_fetch(key("f"), ResourceKind::Calls, counted(&runs, 0, vec![])).await
            });
            assert!(a.is_err());
            assert_eq!(*b.unwrap(), ["a", "b"]);
            assert_eq!(runs.load(Ordering::SeqCst), 1);
            assert!(started.elapsed() < Duration::from_secs(2), "the waiter did not wait out its bound");
        }

        #[tokio::test]
        async fn a_replica_that_dies_holding_the_lock_delays_the_others_by_the_lock_ttl_only() {
            let r = replicas(1).await;
            let l2 = r[0].l2.clone().unwrap();
            // A replica took the lock, then died (no renewal, no release, no value).
            let (_dead, mine) = l2.claim_many(&[key("d")]).await.unwrap();
            assert_eq!(mine, [true]);
            let runs = Arc::new(AtomicU32::new(0));
            let started = Instant::now();
            let got = r[0].get_or_fetch(key("d"), ResourceKind::Calls, counted(&runs, 0, vec![])).await;
            assert_eq!(*got.unwrap(), ["a", "b"]);
            assert_eq!(runs.load(Ordering::SeqCst), 1);
            let waited = started.elapsed();
            assert!(
                waited > l2::LOCK_TTL / 2 && waited < l2::LOCK_TTL + Duration::from_millis(500),
                "waited {waited:?}"
            );
        }

        #[tokio::test]
        async fn a_fetch_longer_than_the_lock_ttl_keeps_its_lock_and_is_awaited() {
            let r = replicas(2).await;
            let runs = Arc::new(AtomicU32::new(0));
            let long = l2::LOCK_TTL.as_millis() as u64 + 1500;
            let (a, b) =
                tokio::join!(r[0].get_or_fetch(key("l"), ResourceKind::Calls, counted(&runs, long, vec![])), async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    r[1].get_or_fetch(key("l"), ResourceKind::Calls, counted(&runs, 0, vec![])).await
                });
            assert_eq!((a.unwrap().len(), b.unwrap().len()), (2, 2));
            assert_eq!(runs.load(Ordering::SeqCst), 1, "the holder renewed its lock; the other waited for its value");
        }

        #[tokio::test]
        async fn overlapping_batches_on_two_replicas_never_wait_for_each_other() {
            let r = replicas(2).await;
            let conn: Arc<str> = Arc::from("c1");
            let (runs, asked) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
            let a: Vec<String> = (0..10).map(|i| i.to_string()).collect();
            let b: Vec<String> = (5..15).map(|i| i.to_string()).collect();
            let started = Instant::now();
            let (x, y) = tokio::join!(
                r[0].get_many(&conn, "t", ResourceKind::Transcripts, &a, batch(&runs, &asked, 300)),
                async {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    r[1].get_many(&conn, "t", ResourceKind::Transcripts, &b, batch(&runs, &asked, 300)).await
                }
            );
            assert_eq!((x.unwrap().len(), y.unwrap().len()), (9, 9));
            assert_eq!(runs.load(Ordering::SeqCst), 2);
            assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
        }

        type Fetched = BoxFuture<'static, Result<Vec<(String, String)>, ProviderError>>;

        /// A batch fetch that counts its runs and the ids it was asked for, and
        /// finds every id but "7".
        fn batch(
            runs: &Arc<AtomicU32>,
            asked: &Arc<AtomicU32>,
            ms: u64,
        ) -> impl FnOnce(Vec<String>) -> Fetched + Send + 'static {
            let (runs, asked) = (runs.clone(), asked.clone());
            move |need: Vec<String>| {
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    asked.fetch_add(need.len() as u32, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(need.into_iter().filter(|i| i != "7").map(|i| (i.clone(), format!("v{i}"))).collect())
                }
                .boxed()
            }
        }

        #[tokio::test]
        async fn records_by_id_one_replica_fetched_are_hits_on_another() {
            let r = replicas(2).await;
            let conn: Arc<str> = Arc::from("c1");
            let (runs, asked) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
            let ids: Vec<String> = (0..10).map(|i| i.to_string()).collect();
            let got = r[0].get_many(&conn, "t", ResourceKind::Transcripts, &ids[..5], batch(&runs, &asked, 0));
            assert_eq!(got.await.unwrap().len(), 5);
            let got = r[1].get_many(&conn, "t", ResourceKind::Transcripts, &ids, batch(&runs, &asked, 0));
            let got = got.await.unwrap();
            assert_eq!(got.len(), 9, "every id but the absent one");
            assert_eq!(*got["3"], "v3");
            assert_eq!((runs.load(Ordering::SeqCst), asked.load(Ordering::SeqCst)), (2, 10), "ids 0-4 came from Redis");
            // And the absent id was remembered as absent.
            let got = r[0].get_many(&conn, "t", ResourceKind::Transcripts, &ids, batch(&runs, &asked, 0));
            assert_eq!(got.await.unwrap().len(), 9);
            assert_eq!(runs.load(Ordering::SeqCst), 2);
        }

        #[tokio::test]
        async fn twenty_cold_batches_over_three_replicas_fetch_once() {
            let r = replicas(3).await;
            let conn: Arc<str> = Arc::from("c1");
            let (runs, asked) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
            let ids: Vec<String> = (0..50).map(|i| i.to_string()).collect();
            let tasks: Vec<_> = (0..20)
                .map(|i| {
                    let (cache, conn, ids, fetch) =
                        (r[i % 3].clone(), conn.clone(), ids.clone(), batch(&runs, &asked, 200));
                    tokio::spawn(
                        async move { cache.get_many(&conn, "t", ResourceKind::Transcripts, &ids, fetch).await },
                    )
                })
                .collect();
            for t in tasks {
                let got = t.await.unwrap().unwrap();
                assert_eq!((got.len(), got.contains_key("7")), (49, false));
            }
            assert_eq!((runs.load(Ordering::SeqCst), asked.load(Ordering::SeqCst)), (1, 50));
        }

        #[tokio::test]
        async fn without_redis_each_replica_acts_alone_and_every_read_returns() {
            let mut r = Vec::new();
            for _ in 0..2 {
                let shared = Replicas::connect(&settings("redis://127.0.0.1:1", "nowhere"), Metrics::new());
                r.push(Cache::new(&CacheSettings::default()).with_shared(Some(shared)));
            }
            let conn: Arc<str> = Arc::from("c1");
            let (runs, asked) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
            let started = Instant::now();
            for c in &r {
                let got = c.get_or_fetch(key("k"), ResourceKind::Calls, counted(&runs, 0, vec![])).await;
                assert_eq!(*got.unwrap(), ["a", "b"]);
                let got = c.get_or_fetch(key("k"), ResourceKind::Calls, counted(&runs, 0, vec![])).await;
                assert_eq!(*got.unwrap(), ["a", "b"]);
                let ids = ["1".to_owned(), "7".to_owned()];
                let got = c.get_many(&conn, "t", ResourceKind::Transcripts, &ids, batch(&runs, &asked, 0)).await;
                assert_eq!(got.unwrap().len(), 1);
            }
            assert_eq!(runs.load(Ordering::SeqCst), 4, "each replica fetched once per key, and cached");
            assert!(started.elapsed() < Duration::from_secs(1), "nobody waited for Redis");
        }
    }
}
