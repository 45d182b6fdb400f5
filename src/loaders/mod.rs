//! Per-request DataLoaders: every nested edge that needs a provider record goes
//! through one of these, so a page of 100 calls asking for `host` and `transcript`
//! makes one batched provider request per connection, not 100.
//!
//! Keys carry the connection; a batch is split by connection and each part calls the
//! provider's batch form. A failing connection fails only its own keys: values are
//! `Result`s, so one provider's outage nulls only its own fields.

use std::{collections::HashMap, hash::Hash, sync::Arc, time::Duration};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use futures::{StreamExt, future::BoxFuture};
use tracing::Instrument;

use crate::{
    accounting::{self, RequestAccount},
    domain::{Call, Score, Transcript, User},
    providers::{CallRef, Provider, ProviderError, Registry},
};

/// The people a `User` entity is listed with (`None`: fewer than two).
pub type EntityPage = Option<Arc<[Arc<crate::people::Person>]>>;

/// A record, or the error of its connection.
pub type Loaded<T> = Result<Arc<T>, ProviderError>;

/// Key of a provider record: connection id and remote id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteKey {
    pub connection: Arc<str>,
    pub remote_id: String,
}

/// How long a loader waits to gather keys before calling the provider. async-graphql
/// resolves a list of more than 30 items through `FuturesUnordered`, which yields
/// after every 32 polls, so the keys of a 100-item page arrive over several polls;
/// the delay must cover them even on a loaded machine (2 ms did not, under load).
/// It costs latency only on the first nested level that calls a provider: a root
/// field that looks one record up on its own does not wait ([`load_for`]).
const BATCH_DELAY: Duration = Duration::from_millis(8);

/// Provider requests in flight at once for one loader batch (the connection's
/// limiter paces them).
const PER_ID_CONCURRENCY: usize = 8;

/// The loaders of one request. Each remembers what it loaded for the rest of the
/// request, so sibling lookups ([`load_with_siblings`]) ask for a key once.
pub struct Loaders {
    pub users: DataLoader<UserLoader, HashMapCache>,
    pub calls: DataLoader<CallLoader, HashMapCache>,
    pub transcripts: DataLoader<TranscriptLoader, HashMapCache>,
    pub call_scores: DataLoader<CallScoresLoader, HashMapCache>,
    /// How this request joins accounts into people (decided once, on first need).
    pub people: tokio::sync::OnceCell<crate::people::Scope>,
    /// Whether this request has already reported connections missing from the join.
    pub people_reported: std::sync::atomic::AtomicBool,
    /// Per `_entities` field of the request (by its position in the query), the people
    /// of its `User` representations (found once, on first need): the page each
    /// `User` entity of that field is listed in.
    pub entity_people: std::sync::Mutex<HashMap<async_graphql::Pos, Arc<tokio::sync::OnceCell<EntityPage>>>>,
}

impl Loaders {
    /// Fresh loaders for one request. Their batches run as tasks inside the span
    /// current here (the request's), so their logs and traces stay with it, and
    /// record what they cost into `account`.
    pub fn new(registry: &Arc<Registry>, account: Option<Arc<RequestAccount>>) -> Self {
        let spawn = || spawner(account.clone());
        Self {
            users: DataLoader::with_cache(UserLoader(registry.clone()), spawn(), HashMapCache::default())
                .delay(BATCH_DELAY),
            calls: DataLoader::with_cache(CallLoader(registry.clone()), spawn(), HashMapCache::default())
                .delay(BATCH_DELAY),
            transcripts: DataLoader::with_cache(TranscriptLoader(registry.clone()), spawn(), HashMapCache::default())
                .delay(BATCH_DELAY),
            call_scores: DataLoader::with_cache(CallScoresLoader(registry.clone()), spawn(), HashMapCache::default())
                .delay(BATCH_DELAY),
            people: tokio::sync::OnceCell::new(),
            people_reported: Default::default(),
            entity_people: Default::default(),
        }
    }

    /// Forgets what was loaded. A subscription keeps its loaders for all its events,
    /// and each event must show the provider's data as it is when it is sent.
    pub fn forget_loaded(&self) {
        self.users.clear::<RemoteKey>();
        self.calls.clear::<RemoteKey>();
        self.transcripts.clear::<RemoteKey>();
        self.call_scores.clear::<CallKey>();
    }
}

/// A spawner that runs tasks in the current span.
fn spawner(
    account: Option<Arc<RequestAccount>>,
) -> impl Fn(BoxFuture<'static, ()>) -> tokio::task::JoinHandle<()> + Send + Sync + 'static {
    let span = tracing::Span::current();
    move |task| {
        let task = task.instrument(span.clone());
        match &account {
            Some(a) => tokio::spawn(accounting::scope(a.clone(), task)),
            None => tokio::spawn(task),
        }
    }
}

/// Groups keys by connection, calls `batch` once per connection, and indexes the
/// results by `id_of`.
async fn load_grouped<T, F, Fut>(
    registry: &Registry,
    keys: &[RemoteKey],
    batch: F,
    id_of: impl Fn(&T) -> &str,
) -> HashMap<RemoteKey, Loaded<T>>
where
    F: Fn(Arc<dyn Provider>, Vec<String>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ProviderError>>,
{
    let mut by_conn: HashMap<Arc<str>, Vec<String>> = HashMap::new();
    for k in keys {
        by_conn.entry(k.connection.clone()).or_default().push(k.remote_id.clone());
    }
    // One request per connection where the provider has a batch form; otherwise one
    // per id (bounded), so a failure (say RATE_LIMITED) stays with its own id.
    let mut calls = Vec::new();
    for (conn, ids) in by_conn {
        let Some(provider) = registry.get(&conn) else { continue };
        if provider.capabilities().batch_lookups {
            calls.push((conn, ids));
        } else {
            calls.extend(ids.into_iter().map(|id| (conn.clone(), vec![id])));
        }
    }
    let fetches = calls.into_iter().map(|(conn, ids)| {
        let fut = registry.get(&conn).map(|p| batch(p.clone(), ids.clone()));
        let span = tracing::info_span!("loader.batch", connection = %conn, keys = ids.len());
        async move {
            let result = match fut {
                Some(f) => f.await,
                None => Ok(Vec::new()),
            };
            (conn, ids, result)
        }
        .instrument(span)
    });
    let results: Vec<_> = futures::stream::iter(fetches).buffer_unordered(PER_ID_CONCURRENCY).collect().await;
    let mut out = HashMap::new();
    for (conn, ids, result) in results {
        match result {
            Ok(items) => {
                for item in items {
                    let key = RemoteKey { connection: conn.clone(), remote_id: id_of(&item).to_owned() };
                    out.insert(key, Ok(Arc::new(item)));
                }
            }
            Err(e) => {
                for id in ids {
                    out.insert(RemoteKey { connection: conn.clone(), remote_id: id }, Err(e.clone()));
                }
            }
        }
    }
    out
}

/// Users by (connection, remote id).
pub struct UserLoader(Arc<Registry>);

impl Loader<RemoteKey> for UserLoader {
    type Value = Loaded<User>;
    type Error = std::convert::Infallible;

    async fn load(&self, keys: &[RemoteKey]) -> Result<HashMap<RemoteKey, Self::Value>, Self::Error> {
        Ok(load_grouped(&self.0, keys, |p, ids| async move { p.users_by_ids(&ids).await }, |u: &User| &u.remote_id)
            .await)
    }
}

/// Calls by (connection, remote id).
pub struct CallLoader(Arc<Registry>);

impl Loader<RemoteKey> for CallLoader {
    type Value = Loaded<Call>;
    type Error = std::convert::Infallible;

    async fn load(&self, keys: &[RemoteKey]) -> Result<HashMap<RemoteKey, Self::Value>, Self::Error> {
        Ok(load_grouped(&self.0, keys, |p, ids| async move { p.calls_by_ids(&ids).await }, |c: &Call| &c.remote_id)
            .await)
    }
}

/// Transcripts by (connection, call remote id).
pub struct TranscriptLoader(Arc<Registry>);

impl Loader<RemoteKey> for TranscriptLoader {
    type Value = Loaded<Transcript>;
    type Error = std::convert::Infallible;

    async fn load(&self, keys: &[RemoteKey]) -> Result<HashMap<RemoteKey, Self::Value>, Self::Error> {
        Ok(load_grouped(
            &self.0,
            keys,
            |p, ids| async move { p.transcripts(&ids).await },
            |t: &Transcript| &t.call_remote_id,
        )
        .await)
    }
}

/// Key of a call's records: connection and call (id and start time).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallKey {
    pub connection: Arc<str>,
    pub call: CallRef,
}

impl CallKey {
    /// The key of `call` at `connection`.
    pub fn of(connection: &Arc<str>, call: &Call) -> Self {
        Self { connection: connection.clone(), call: CallRef::of(call) }
    }
}

/// The reviews (answered scorecards) of calls: one provider read per connection for
/// all the calls asked together (see [`Provider::scores_by_calls`]); empty for
/// connections whose provider has no scores.
pub struct CallScoresLoader(Arc<Registry>);

impl Loader<CallKey> for CallScoresLoader {
    type Value = Loaded<Vec<Score>>;
    type Error = std::convert::Infallible;

    async fn load(&self, keys: &[CallKey]) -> Result<HashMap<CallKey, Self::Value>, Self::Error> {
        let mut by_conn: HashMap<Arc<str>, Vec<&CallKey>> = HashMap::new();
        for k in keys {
            by_conn.entry(k.connection.clone()).or_default().push(k);
        }
        let reads = by_conn.into_iter().map(|(conn, keys)| {
            let provider = self.0.get(&conn).cloned();
            let span = tracing::info_span!("loader.batch", connection = %conn, keys = keys.len());
            async move {
                let result = match provider {
                    Some(p) if p.capabilities().scores => {
                        let calls: Vec<CallRef> = keys.iter().map(|k| k.call.clone()).collect();
                        p.scores_by_calls(&calls).await
                    }
                    _ => Ok(HashMap::new()),
                };
                (keys, result)
            }
            .instrument(span)
        });
        let mut out = HashMap::new();
        for (keys, result) in futures::future::join_all(reads).await {
            match result {
                Ok(mut by_call) => {
                    for k in keys {
                        let scores = by_call.remove(&k.call.remote_id).unwrap_or_default();
                        out.insert(k.clone(), Ok(Arc::new(scores)));
                    }
                }
                Err(e) => out.extend(keys.into_iter().map(|k| (k.clone(), Err(e.clone())))),
            }
        }
        Ok(out)
    }
}

/// Whether the field resolving in `ctx` looks a record up on its own: a root field
/// other than `_entities` (`user(id:)`, `call(id:)`, `node(id:)`). Nothing else in the
/// request can join its batch, so waiting [`BATCH_DELAY`] would only add latency.
pub fn alone(ctx: &async_graphql::Context<'_>) -> bool {
    ctx.path_node.is_some_and(|n| n.parent.is_none()) && ctx.item.node.name.node != "_entities"
}

/// Loads `wanted` for the field resolving in `ctx`: at once when the field is
/// [`alone`] (then kept in the loader's cache for the rest of the request), else
/// batched with `siblings` and whatever else asks within [`BATCH_DELAY`].
pub async fn load_for<L, K, T>(
    ctx: &async_graphql::Context<'_>,
    loader: &DataLoader<L, HashMapCache>,
    wanted: K,
    siblings: impl IntoIterator<Item = K>,
) -> Result<Option<Arc<T>>, ProviderError>
where
    L: Loader<K, Value = Loaded<T>, Error = std::convert::Infallible>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
    T: Send + Sync + 'static,
{
    let mut siblings = siblings.into_iter().peekable();
    if siblings.peek().is_some() || !alone(ctx) {
        return load_with_siblings(loader, wanted, siblings).await;
    }
    let mut found = match loader.loader().load(std::slice::from_ref(&wanted)).await {
        Ok(found) => found,
        Err(never) => match never {},
    };
    let Some(value) = found.remove(&wanted) else { return Ok(None) };
    loader.feed_one(wanted, value.clone()).await;
    value.map(Some)
}

/// Loads `wanted` in one batch with `siblings`, the keys the other records of the
/// same page will ask for. However the executor interleaves the page's resolvers
/// (and however long they take under load), the first one to run asks for the
/// whole page, so a page of 100 calls costs one transcript request, not one per
/// batch window; the later ones find their record in the request's loader cache.
pub async fn load_with_siblings<L, K, T>(
    loader: &DataLoader<L, HashMapCache>,
    wanted: K,
    siblings: impl IntoIterator<Item = K>,
) -> Result<Option<Arc<T>>, ProviderError>
where
    L: Loader<K, Value = Loaded<T>, Error = std::convert::Infallible>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
    T: Send + Sync + 'static,
{
    let keys = siblings.into_iter().chain(std::iter::once(wanted.clone()));
    match loader.load_many(keys).await {
        Ok(mut found) => found.remove(&wanted).transpose(),
        Err(never) => match never {},
    }
}
