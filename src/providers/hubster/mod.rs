//! Hubster engine: chat conversations as calls whose medium is chat, their messages
//! as transcripts, and every message and event as a typed chat activity.
//!
//! Hubster's engine API has no way to list conversations: a connection's `calls`
//! list reads the conversations its configuration names (`conversation_ids`), in that
//! order, 10 a page; `call(id:)` and `node` read any conversation by id.
//!
//! Activities are read per integration type (`Customer`, `Agent`, `Bot`: each read
//! returns the activities whose sender *or* recipient has that type), so a message
//! between customer and agent comes back twice: the reads are merged without
//! duplicates (equal activities are one) and ordered by event. Reads are incremental:
//! each conversation keeps its merged activities and, per type, the last event id
//! seen; once they are older than the calls TTL the next read asks only from
//! `leid` = that id − 1 (whether `leid` is inclusive is undocumented, so the last
//! millisecond is read again and the duplicates dropped: nothing is seen twice and
//! nothing that shares a millisecond with the last activity is lost).
//!
//! The connection authenticates with OAuth 2.0 client credentials: the transport
//! obtains the engine token, keeps it until shortly before it expires (30 days) and
//! obtains a new one when the engine answers 401.

mod client;
mod mapping;
mod model;

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use self::{
    client::HubClient,
    model::{Activity, WithRaw},
};
use super::{
    CallQuery, Capabilities, ChangedCall, Changes, Provider, ProviderError, ProviderKind, transport::Transport,
};
use crate::{
    accounting,
    cache::{Cache, CacheKey, ResourceKind},
    domain::{Call, ChatActivity, ChatActivityKind, Page, Transcript},
};

/// Requests per second convograph sends at most (Hubster documents no number).
pub const DEFAULT_RATE_PER_SEC: f64 = 10.0;
/// Conversations per page of a `calls` list.
const PAGE_SIZE: usize = 10;
/// Conversations read at once (no batch form exists).
const PER_ID_CONCURRENCY: usize = 4;
/// The integration types activities are read for.
const TYPES: [&str; 3] = ["Customer", "Agent", "Bot"];
/// Conversations whose activities are kept (idle ones leave after an hour).
const MAX_LOGS: u64 = 1_000;

/// Activities merged from several reads: each once, in event order.
#[derive(Default)]
pub(crate) struct Merged {
    pub(crate) items: Vec<WithRaw<Activity>>,
    keys: HashSet<String>,
}

impl Merged {
    /// Adds the activities not seen yet; keeps event order (ties in arrival order).
    pub(crate) fn merge(&mut self, read: Vec<WithRaw<Activity>>) {
        let before = self.items.len();
        for a in read {
            if self.keys.insert(mapping::canonical(&a.raw)) {
                self.items.push(a);
            }
        }
        if self.items.len() > before {
            self.items.sort_by_key(|a| a.data.event_id);
        }
    }
}

/// What is known of one conversation's activities.
#[derive(Default)]
struct Log {
    merged: Merged,
    /// Per type (as [`TYPES`]): the last event id read.
    last: [Option<i64>; 3],
    read_at: Option<Instant>,
    /// The engine said the conversation does not exist.
    missing: bool,
}

/// A call that may not exist (cached either way).
#[derive(Clone, Serialize, Deserialize)]
struct OptionalCall(Option<Call>);

/// A Hubster connection.
pub struct HubsterProvider {
    connection: Arc<str>,
    client: HubClient,
    cache: Cache,
    conversation_ids: Arc<Vec<String>>,
    logs: moka::future::Cache<String, Arc<Mutex<Log>>>,
    freshness: Duration,
    /// Where the next change poll starts in `conversation_ids` (each reads a slice).
    poll_next: std::sync::atomic::AtomicUsize,
}

/// Conversations one change poll reads (3 requests each, one per integration type):
/// 20 cost 60 requests, 6 s of Hubster's 10/s, so polls leave room for queries; a
/// longer list is read in turns.
const POLL_SLICE: usize = 20;

impl std::fmt::Debug for HubsterProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubsterProvider")
            .field("connection", &self.connection)
            .field("conversations", &self.conversation_ids.len())
            .finish_non_exhaustive()
    }
}

impl HubsterProvider {
    /// Builds the provider of one connection: `conversation_ids` is what its calls
    /// list reads; activities read less than `freshness` ago are not read again.
    pub fn new(
        transport: Transport,
        cache: Cache,
        connection: Arc<str>,
        conversation_ids: Vec<String>,
        freshness: Duration,
    ) -> Self {
        Self {
            connection,
            client: HubClient { transport },
            cache,
            conversation_ids: Arc::new(conversation_ids),
            logs: moka::future::Cache::builder().max_capacity(MAX_LOGS).time_to_idle(Duration::from_secs(3600)).build(),
            freshness,
            poll_next: Default::default(),
        }
    }

    fn key(&self, op: &'static str, fingerprint: String) -> CacheKey {
        CacheKey { connection: self.connection.clone(), op, fingerprint }
    }

    async fn call(&self, id: &str) -> Result<Option<Call>, ProviderError> {
        let found = self
            .cache
            .get_or_fetch(self.key("call", id.to_owned()), ResourceKind::Calls, async {
                Ok(OptionalCall(self.client.conversation(id).await?.map(mapping::call)))
            })
            .await?;
        Ok(Arc::unwrap_or_clone(found).0)
    }

    /// The conversation's activities, read incrementally; `None` when it does not exist.
    ///
    /// Like a cache entry: read at most once per `freshness` (the calls TTL), and
    /// concurrent readers of one conversation wait for the read under way (its lock)
    /// instead of reading again; each use is counted as a cache hit or miss.
    async fn activities(&self, id: &str) -> Result<Option<Vec<ChatActivity>>, ProviderError> {
        let log = self.logs.get_with(id.to_owned(), async { Arc::new(Mutex::new(Log::default())) }).await;
        let mut log = log.lock().await;
        let age = log.read_at.map(|t| t.elapsed());
        let stale = crate::cache::is_fresh() || age.is_none_or(|a| a >= self.freshness);
        let left = if stale { self.freshness } else { self.freshness.saturating_sub(age.unwrap_or_default()) };
        accounting::cache_lookup(Some(ProviderKind::Hubster), &self.connection, !stale, left);
        if stale {
            let reads = TYPES.iter().enumerate().map(|(i, kind)| {
                // One millisecond back: an activity sharing the last one's millisecond
                // but stored after our read is not lost, whatever `leid`'s inclusivity.
                let leid = log.last[i].map(|e| e.saturating_sub(1));
                async move { (i, self.client.activities(id, kind, leid).await) }
            });
            let results = futures::future::join_all(reads).await;
            for (i, result) in results {
                match result? {
                    None => log.missing = true,
                    Some(read) => {
                        if let Some(max) = read.iter().map(|a| a.data.event_id).max() {
                            log.last[i] = Some(log.last[i].map_or(max, |l| l.max(max)));
                        }
                        log.missing = false;
                        log.merged.merge(read);
                    }
                }
            }
            log.read_at = Some(Instant::now());
        }
        if log.missing && log.merged.items.is_empty() {
            return Ok(None);
        }
        Ok(Some(log.merged.items.iter().map(|a| mapping::activity(id, a)).collect()))
    }

    async fn transcript_of(&self, id: &str) -> Result<Option<Transcript>, ProviderError> {
        let Some(call) = self.call(id).await? else { return Ok(None) };
        let Some(activities) = self.activities(id).await? else { return Ok(None) };
        Ok(Some(mapping::transcript(&call, &activities)))
    }
}

/// What a Hubster connection fills (also the source of the coverage tables).
pub fn capabilities() -> Capabilities {
    Capabilities { calls: true, transcripts: true, chats: true, ..Capabilities::default() }
}

#[async_trait]
impl Provider for HubsterProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Hubster
    }

    fn connection_id(&self) -> &Arc<str> {
        &self.connection
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    fn daily_quota_left(&self) -> Option<u64> {
        self.client.transport.daily_quota_left()
    }

    /// A token, and one engine read (an unknown conversation is a fine answer).
    async fn check(&self) -> Result<(), ProviderError> {
        let probe = self.conversation_ids.first().map_or("00000000-0000-0000-0000-000000000000", String::as_str);
        self.client.conversation(probe).await.map(|_| ())
    }

    /// The configured conversations, in configuration order, 10 a page (each costs a
    /// request: there is no batch form).
    async fn list_calls(&self, _query: &CallQuery, page: Option<String>) -> Result<Page<Call>, ProviderError> {
        let offset: usize = match page.as_deref() {
            None => 0,
            Some(t) => {
                t.parse().map_err(|_| self.error(super::ProviderErrorKind::BadInput("invalid calls page".into())))?
            }
        };
        let ids: Vec<String> = self.conversation_ids.iter().skip(offset).take(PAGE_SIZE).cloned().collect();
        let found = self.calls_by_ids(&ids).await?;
        let complete = found.len() == ids.len();
        let items: Vec<Call> = ids.iter().filter_map(|id| found.iter().find(|c| &c.remote_id == id).cloned()).collect();
        let end = offset + ids.len();
        Ok(Page {
            items,
            next: (end < self.conversation_ids.len()).then(|| end.to_string()),
            total: complete.then_some(self.conversation_ids.len() as u64),
        })
    }

    /// `GET /api/v1/conversations/{id}` per id (cached), a few at a time.
    async fn calls_by_ids(&self, ids: &[String]) -> Result<Vec<Call>, ProviderError> {
        // The first failure fails the list: the reads not yet answered are dropped
        // rather than waited for (a page of timeouts costs one timeout, not three).
        let fetches: Vec<_> = ids.iter().map(|id| self.call(id)).collect();
        let results: Vec<_> = stream::iter(fetches).buffered(PER_ID_CONCURRENCY).try_collect().await?;
        Ok(results.into_iter().flatten().collect())
    }

    /// Hubster has no list of conversations, nor of what changed: each poll reads the
    /// activities of the next [`POLL_SLICE`] configured conversations from their
    /// `leid` on (incremental, so a quiet chat costs its 3 requests and nothing more),
    /// in turns through the list. A chat's activities are its revision: new messages
    /// are a `callUpdated` with `TRANSCRIPT`.
    async fn changes(&self, _since: DateTime<Utc>, until: DateTime<Utc>) -> Result<Changes, ProviderError> {
        let n = self.conversation_ids.len();
        if n == 0 {
            return Ok(Changes::default());
        }
        let slice = n.min(POLL_SLICE);
        let start = self.poll_next.fetch_add(slice, std::sync::atomic::Ordering::Relaxed) % n;
        let ids: Vec<String> = (0..slice).map(|k| self.conversation_ids[(start + k) % n].clone()).collect();
        let reads = ids.into_iter().map(|id| async move {
            let Some(activities) = self.activities(&id).await? else { return Ok(None) };
            // The conversation record itself comes from the cache as usual.
            let Some(call) = crate::cache::cached(self.call(&id)).await? else { return Ok(None) };
            let last = activities.iter().map(|a| a.event_id).max();
            let messages = activities.iter().filter(|a| a.kind == ChatActivityKind::Message).count();
            let at = last.and_then(DateTime::<Utc>::from_timestamp_millis).unwrap_or(until);
            Ok::<_, ProviderError>(Some(ChangedCall {
                at,
                call,
                transcript: Some(messages > 0),
                revision: Some(format!("{}:{}", activities.len(), last.unwrap_or_default())),
            }))
        });
        let found: Vec<Option<ChangedCall>> = stream::iter(reads).buffered(PER_ID_CONCURRENCY).try_collect().await?;
        Ok(Changes { calls: found.into_iter().flatten().collect(), scores: Vec::new() })
    }

    async fn transcripts(&self, call_ids: &[String]) -> Result<Vec<Transcript>, ProviderError> {
        let fetches: Vec<_> = call_ids.iter().map(|id| self.transcript_of(id)).collect();
        let results: Vec<_> = stream::iter(fetches).buffer_unordered(PER_ID_CONCURRENCY).try_collect().await?;
        Ok(results.into_iter().flatten().collect())
    }

    async fn chat_activities(&self, call_id: &str) -> Result<Vec<ChatActivity>, ProviderError> {
        Ok(self.activities(call_id).await?.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests;
