//! Live data for subscriptions: events about new and changed calls and scores.
//!
//! Subscribers listen to a connection's [`Feed`] (a broadcast channel in this
//! process). While a connection has listeners here, one poller task reads its
//! provider's incremental form ([`Provider::changes`]) every
//! `live.poll_interval`, whatever the number of listeners: 1,000 subscribers cost
//! the upstream requests of one. With Redis configured, one poller per connection
//! leads in the whole cluster (a lock that lives three intervals) and events reach
//! every replica's listeners through a Redis stream (`XADD`, capped), which each
//! replica reads from the last entry it saw: a reader that loses its connection
//! reads on from there when it is back, so an event is not lost to a reconnect as
//! it would be with pub/sub.
//!
//! Exactly once: what was sent is remembered per connection as a version per
//! record ([`marks`]); a poll re-reads `live.lookback` before the previous poll's
//! end (late-filed records are still found) and a record already sent in that
//! version is not sent again, whether the poll restarted, another replica took
//! over, or a webhook told first. The first poll of a connection nobody watched
//! records what is there without sending it: subscribers hear of what changes
//! after they subscribed.

mod marks;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use self::marks::{Marks, Seen};
use crate::{
    accounting::{self, RequestAccount},
    cache::Cache,
    config::LiveSettings,
    domain::{Call, Score},
    metrics::Metrics,
    providers::{ChangedCall, Changes, Provider, ProviderErrorKind, Registry},
    shared::Shared,
};

/// What changed on a call, in a `callUpdated` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum)]
pub enum CallChange {
    /// The call's own record changed (title, participants, state, …).
    Details,
    /// Its transcript became available.
    Transcript,
    /// A scorecard was answered for it.
    Scores,
}

/// Which subscription an event feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A call the provider did not have before.
    CallAdded,
    /// A call that changed.
    CallUpdated,
    /// An answered scorecard.
    ScoreAdded,
}

impl EventKind {
    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallAdded => "call_added",
            Self::CallUpdated => "call_updated",
            Self::ScoreAdded => "score_added",
        }
    }
}

/// Where an event was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A poll of the provider's incremental form.
    Poll,
    /// A webhook the provider posted.
    Webhook,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::Poll => "poll",
            Self::Webhook => "webhook",
        }
    }
}

/// One event of one connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// The connection it happened at.
    pub connection: String,
    /// What it is.
    pub kind: EventKind,
    /// When the provider says it happened (a call's end for Gong, its last
    /// modification for ExecVision and Salesloft, a score's review time).
    pub at: DateTime<Utc>,
    /// The call (call events) or the scored call, when read.
    pub call: Option<Call>,
    /// The score (`ScoreAdded`).
    pub score: Option<Score>,
    /// What changed (`CallUpdated`).
    pub changes: Vec<CallChange>,
    /// The record and its version: equal keys are the same event.
    pub key: String,
}

/// The events of every connection, and the pollers that find them.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

struct Inner {
    registry: Arc<Registry>,
    settings: LiveSettings,
    shared: Option<Shared>,
    cache: Cache,
    metrics: Metrics,
    feeds: Mutex<HashMap<Arc<str>, Feed>>,
    marks: Marks,
    /// This replica, in the leader lock.
    replica: String,
    subscriptions: std::sync::atomic::AtomicUsize,
    /// The lead's scripts, built (and their SHA-1 taken) once, not on every poll.
    take_lead: redis::Script,
    drop_lead: redis::Script,
}

/// Takes or renews a connection's lead: 1 when this replica holds it now.
const TAKE_LEAD: &str = "local v = redis.call('GET', KEYS[1]) \
     if (not v) or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end \
     return 0";
/// Gives up a connection's lead, if this replica holds it.
const DROP_LEAD: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/// One connection's listeners in this process.
struct Feed {
    tx: broadcast::Sender<Arc<Event>>,
    poller: Option<tokio::task::JoinHandle<()>>,
}

/// Events waiting for a slow subscriber before it misses some (it is then told).
const FEED_BUFFER: usize = 4096;

/// Why a subscription could not start.
#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    /// Subscriptions are turned off (`live.enabled: false`).
    #[error("subscriptions are turned off on this server")]
    Disabled,
    /// `live.max_subscriptions` are open.
    #[error("this server holds its most subscriptions ({0}); try again later")]
    Full(usize),
}

impl Hub {
    /// The hub over these connections. With `shared`, starts listening to the
    /// cluster's events.
    pub fn new(
        registry: Arc<Registry>,
        settings: LiveSettings,
        shared: Option<Shared>,
        cache: Cache,
        metrics: Metrics,
    ) -> Self {
        let hub = Self {
            inner: Arc::new(Inner {
                registry,
                marks: Marks::new(shared.clone(), settings.lookback * 2 + Duration::from_secs(600)),
                settings,
                shared: shared.clone(),
                cache,
                metrics,
                feeds: Mutex::new(HashMap::new()),
                replica: uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string(),
                subscriptions: Default::default(),
                take_lead: redis::Script::new(TAKE_LEAD),
                drop_lead: redis::Script::new(DROP_LEAD),
            }),
        };
        if let Some(shared) = shared {
            tokio::spawn(listen_cluster(Arc::downgrade(&hub.inner), shared));
        }
        hub
    }

    /// The settings.
    pub fn settings(&self) -> &LiveSettings {
        &self.inner.settings
    }

    /// Listens to the events of `connections` (starting their pollers as needed);
    /// the stream ends when the caller drops it.
    pub fn subscribe(
        &self,
        connections: &[Arc<str>],
    ) -> Result<impl Stream<Item = Arc<Event>> + use<>, SubscribeError> {
        let inner = &self.inner;
        if !inner.settings.enabled {
            return Err(SubscribeError::Disabled);
        }
        let max = inner.settings.max_subscriptions;
        let open = inner.subscriptions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if open >= max {
            inner.subscriptions.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            return Err(SubscribeError::Full(max));
        }
        let guard = Listening { hub: self.inner.clone(), connections: connections.to_vec() };
        let mut receivers = Vec::with_capacity(connections.len());
        {
            let mut feeds = inner.feeds.lock().expect("feeds lock");
            for conn in connections {
                let feed = feeds
                    .entry(conn.clone())
                    .or_insert_with(|| Feed { tx: broadcast::channel(FEED_BUFFER).0, poller: None });
                receivers.push(feed.tx.subscribe());
                if feed.poller.as_ref().is_none_or(|p| p.is_finished()) {
                    inner.metrics.live_poller(conn, 1);
                    feed.poller = Some(tokio::spawn(run_poller(Arc::downgrade(inner), conn.clone())));
                }
                inner.metrics.live_subscriber(conn, 1);
            }
        }
        let streams = receivers.into_iter().map(|rx| {
            futures::stream::unfold(rx, |mut rx| async move {
                loop {
                    match rx.recv().await {
                        Ok(event) => return Some((event, rx)),
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "A subscriber too slow for its feed missed events.");
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            })
            .boxed()
        });
        let merged = futures::stream::select_all(streams);
        // The guard lives as long as the stream.
        Ok(merged.map(move |e| {
            let _listening = &guard;
            e
        }))
    }

    /// Events a webhook told of: classified like a poll's findings (what was
    /// already sent, by either, is not sent again) and delivered.
    pub async fn ingest(&self, connection: &Arc<str>, changes: Changes) -> usize {
        let Some(provider) = self.inner.registry.get(connection).cloned() else { return 0 };
        let events = self.inner.classify(&provider, changes, Source::Webhook, false).await;
        let n = events.len();
        self.inner.deliver(events).await;
        n
    }

    /// Whether a poller of `connection` runs in this process (tests, `/metrics`).
    pub fn polling(&self, connection: &str) -> bool {
        self.inner
            .feeds
            .lock()
            .expect("feeds lock")
            .get(connection)
            .is_some_and(|f| f.poller.as_ref().is_some_and(|p| !p.is_finished()))
    }
}

/// Counts a subscription while it lives.
struct Listening {
    hub: Arc<Inner>,
    connections: Vec<Arc<str>>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.hub.subscriptions.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        for c in &self.connections {
            self.hub.metrics.live_subscriber(c, -1);
        }
    }
}

/// The poller of one connection: polls while anyone here listens, and (with Redis)
/// while it holds the connection's lead.
async fn run_poller(hub: Weak<Inner>, connection: Arc<str>) {
    let interval = match hub.upgrade() {
        Some(inner) => inner.settings.poll_interval,
        None => return,
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut polled = false;
    let mut unsupported = false;
    loop {
        tick.tick().await;
        let Some(inner) = hub.upgrade() else { return };
        let idle = {
            let mut feeds = inner.feeds.lock().expect("feeds lock");
            let idle = feeds.get(&connection).is_none_or(|f| f.tx.receiver_count() == 0);
            if idle {
                feeds.remove(&connection);
            }
            idle
        };
        if idle {
            inner.metrics.live_poller(&connection, -1);
            inner.release_lead(&connection).await;
            return;
        }
        if unsupported || !inner.lead(&connection).await {
            // Another replica polls (its events arrive through Redis), or this
            // provider has no change feed (webhooks may still tell).
            continue;
        }
        let Some(provider) = inner.registry.get(&connection).cloned() else { continue };
        match inner.poll_once(&provider, polled).await {
            Ok(()) => polled = true,
            Err(PollError::Unsupported) => {
                tracing::info!(connection = %connection, "This provider has no change feed: subscriptions to it hear only of webhooks.");
                unsupported = true;
            }
            Err(PollError::Failed) => {}
        }
    }
}

enum PollError {
    Unsupported,
    Failed,
}

impl Inner {
    fn lead_key(&self, connection: &str) -> Option<(Shared, String)> {
        self.shared.as_ref().map(|s| (s.clone(), s.key(&["live", "lead", connection])))
    }

    /// Whether this replica polls `connection` now: always without Redis (or while
    /// it cannot be reached); else while it holds the lead.
    async fn lead(&self, connection: &str) -> bool {
        let Some((shared, key)) = self.lead_key(connection) else { return true };
        let ttl = (self.settings.poll_interval * 3).as_millis() as u64;
        let me = self.replica.clone();
        let script = &self.take_lead;
        match shared
            .run(|mut c| async move { script.key(key).arg(me).arg(ttl).invoke_async::<i64>(&mut c).await })
            .await
        {
            Some(v) => v == 1,
            None => true,
        }
    }

    async fn release_lead(&self, connection: &str) {
        let Some((shared, key)) = self.lead_key(connection) else { return };
        let me = self.replica.clone();
        let script = &self.drop_lead;
        let _ = shared.run(|mut c| async move { script.key(key).arg(me).invoke_async::<i64>(&mut c).await }).await;
    }

    /// One poll: reads what changed since the last poll's end less the lookback,
    /// sends what is new, and moves the mark on when the read was whole.
    async fn poll_once(&self, provider: &Arc<dyn Provider>, polled: bool) -> Result<(), PollError> {
        let connection = provider.connection_id();
        let until = Utc::now();
        let lookback = chrono::Duration::from_std(self.settings.lookback).unwrap_or(chrono::Duration::hours(2));
        // A lead lapses 3 intervals after its last poll; a mark younger than twice that
        // is another poller's that just stopped (a failover), not a connection nobody
        // watched.
        let fresh =
            chrono::Duration::from_std(self.settings.poll_interval * 6).unwrap_or(chrono::Duration::seconds(90));
        let mark = self.marks.high_water(connection).await;
        // Resume from the mark when this poller already polled, or another one did
        // moments ago (a lead that moved); else start afresh: what is there now is
        // recorded, not sent.
        let (since, baseline) = match mark {
            Some(m) if polled || until - m < fresh => (m - lookback, false),
            _ => (until - lookback, true),
        };
        self.metrics.live_polled(connection);
        let account = RequestAccount::new();
        // Lists read fresh: a page cached a moment ago may not show what changed since.
        let read = crate::cache::fresh(accounting::scope(account.clone(), provider.changes(since, until))).await;
        let changes = match read {
            Ok(c) => c,
            Err(e) if matches!(e.kind, ProviderErrorKind::Unsupported(_)) => return Err(PollError::Unsupported),
            Err(e) => {
                tracing::warn!(connection = %connection, error = %e, "A change poll failed; the next one reads the same range again.");
                return Err(PollError::Failed);
            }
        };
        // A read that ended early (a page failed after the first) is used, but the
        // mark stays, so the next poll reads the range again.
        let (field_notes, notes) = account.take_notes();
        let whole = field_notes.is_empty() && notes.is_empty();
        let events = self.classify(provider, changes, Source::Poll, baseline).await;
        if whole {
            self.marks.set_high_water(connection, until).await;
        }
        self.deliver(events).await;
        Ok(())
    }

    /// Turns what a provider reported into the events not yet sent, in order.
    async fn classify(
        &self,
        provider: &Arc<dyn Provider>,
        changes: Changes,
        source: Source,
        baseline: bool,
    ) -> Vec<Event> {
        let connection = provider.connection_id();
        let mut events = Vec::new();
        let mut calls = changes.calls;
        calls.sort_by_key(|c| c.at);
        for ChangedCall { at, call, transcript, revision } in calls {
            let named = revision.is_some();
            let base = revision.unwrap_or_else(|| fingerprint(&call.raw, &call.remote_id));
            let version = format!("{base}|{}", flag(transcript));
            let seen = self.marks.observe(connection, &format!("call:{}", call.remote_id), &version).await;
            let (kind, changed) = match seen {
                Seen::Same => continue,
                // A configured conversation seen for the first time is not news.
                Seen::New if named => continue,
                Seen::New => (EventKind::CallAdded, Vec::new()),
                Seen::Changed(_) if named => {
                    let what = if transcript == Some(true) { CallChange::Transcript } else { CallChange::Details };
                    (EventKind::CallUpdated, vec![what])
                }
                Seen::Changed(old) => {
                    let mut changed = vec![CallChange::Details];
                    if transcript == Some(true) && !old.ends_with("|1") {
                        changed.push(CallChange::Transcript);
                    }
                    (EventKind::CallUpdated, changed)
                }
            };
            if kind == EventKind::CallUpdated {
                self.cache.forget(connection, &call.remote_id).await;
            }
            if baseline {
                continue;
            }
            events.push(Event {
                connection: connection.to_string(),
                kind,
                at,
                key: format!("{}:{}:{version}", kind.as_str(), call.remote_id),
                call: Some(call),
                score: None,
                changes: changed,
            });
        }
        let mut scores = changes.scores;
        scores.sort_by_key(|(at, _)| *at);
        let mut scored = Vec::new();
        for (at, score) in scores {
            let version = fingerprint(&score.raw, &score.remote_id);
            let seen = self.marks.observe(connection, &format!("score:{}", score.remote_id), &version).await;
            if seen != Seen::New {
                continue;
            }
            if let Some(call) = &score.call_remote_id {
                self.cache.forget(connection, call).await;
            }
            if baseline {
                continue;
            }
            if let Some(call) = &score.call_remote_id {
                scored.push((at, call.clone()));
            }
            events.push(Event {
                connection: connection.to_string(),
                kind: EventKind::ScoreAdded,
                at,
                key: format!("score_added:{}:{version}", score.remote_id),
                call: None,
                score: Some(score),
                changes: Vec::new(),
            });
        }
        if !scored.is_empty() {
            // The scored calls, as `callUpdated` events (one read for all of them).
            let ids: Vec<String> = scored.iter().map(|(_, id)| id.clone()).collect();
            let found = provider.calls_by_ids(&ids).await.unwrap_or_default();
            for (at, id) in scored {
                let Some(call) = found.iter().find(|c| c.remote_id == id) else { continue };
                events.push(Event {
                    connection: connection.to_string(),
                    kind: EventKind::CallUpdated,
                    at,
                    key: format!("call_updated:{id}:scores@{}", at.timestamp_millis()),
                    call: Some(call.clone()),
                    score: None,
                    changes: vec![CallChange::Scores],
                });
            }
        }
        events.sort_by_key(|e| e.at);
        for e in &events {
            self.metrics.live_event(connection, e.kind.as_str(), source.as_str());
        }
        events
    }

    /// Sends events to this cluster's listeners: through Redis when it answers,
    /// else straight to this process's.
    async fn deliver(&self, events: Vec<Event>) {
        for event in events {
            let event = Arc::new(event);
            if let Some(shared) = &self.shared
                && publish(shared, &event).await
            {
                continue;
            }
            self.deliver_here(event);
        }
    }

    fn deliver_here(&self, event: Arc<Event>) {
        if let Some(feed) = self.feeds.lock().expect("feeds lock").get(event.connection.as_str()) {
            let _ = feed.tx.send(event);
        }
    }
}

fn flag(transcript: Option<bool>) -> &'static str {
    match transcript {
        Some(true) => "1",
        Some(false) => "0",
        None => "-",
    }
}

/// A short digest of a record as the provider sent it: its version.
fn fingerprint(raw: &crate::domain::Raw, id: &str) -> String {
    let mut bytes = Vec::new();
    if raw.write_json(&mut bytes).is_err() || bytes == b"null" {
        bytes = id.as_bytes().to_vec();
    }
    let digest = Sha256::digest(&bytes);
    hex::encode(&digest[..8])
}

/// The cluster's event log: one Redis stream for every connection's events, each
/// entry one field `e`, the packed event (which names its connection).
fn stream(shared: &Shared) -> String {
    shared.key(&["live", "stream"])
}

/// Entries the event log keeps (about): far more than a replica can miss while it
/// reconnects.
const STREAM_LEN: usize = 10_000;
/// How long one read of the log waits for new entries.
const READ_BLOCK: Duration = Duration::from_secs(2);
/// The name the log's reader gives its Redis connection (`CLIENT LIST`).
pub const READER_NAME: &str = "convograph-live-reader";

/// Appends an event to the cluster's log; false when Redis did not take it.
async fn publish(shared: &Shared, event: &Event) -> bool {
    let Ok(bytes) = crate::cache::pack::encode(event).and_then(|e| e.to_wire()) else { return false };
    let key = stream(shared);
    shared
        .run(|mut c| async move {
            redis::cmd("XADD")
                .arg(key)
                .arg("MAXLEN")
                .arg("~")
                .arg(STREAM_LEN)
                .arg("*")
                .arg("e")
                .arg(bytes)
                .query_async::<String>(&mut c)
                .await
        })
        .await
        .is_some()
}

/// Forwards the cluster's events (the Redis stream) to this process's listeners.
/// The reader keeps the id of the last entry it read: when its connection drops,
/// it reconnects and reads on from there, so no event published meanwhile is lost.
async fn listen_cluster(hub: Weak<Inner>, shared: Shared) {
    use redis::streams::{StreamReadOptions, StreamReadReply};

    let key = stream(&shared);
    let Ok(client) = redis::Client::open(shared.url()) else { return };
    // A blocking read holds its connection: a dedicated one, whose replies may take
    // as long as the block.
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(READ_BLOCK + Duration::from_secs(3)));
    let mut last: Option<String> = None;
    loop {
        if hub.strong_count() == 0 {
            return;
        }
        let Ok(mut conn) = client.get_multiplexed_async_connection_with_config(&config).await else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let _ = redis::cmd("CLIENT").arg("SETNAME").arg(READER_NAME).query_async::<()>(&mut conn).await;
        // The first time: from the log's newest entry on (what came before is old).
        if last.is_none() {
            let newest: Result<redis::streams::StreamRangeReply, _> =
                redis::cmd("XREVRANGE").arg(&key).arg("+").arg("-").arg("COUNT").arg(1).query_async(&mut conn).await;
            match newest {
                Ok(r) => last = Some(r.ids.first().map_or_else(|| "0-0".to_owned(), |e| e.id.clone())),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        let options = StreamReadOptions::default().block(READ_BLOCK.as_millis() as usize).count(512);
        loop {
            let from = last.clone().unwrap_or_else(|| "0-0".to_owned());
            let reply: StreamReadReply =
                match redis::AsyncCommands::xread_options(&mut conn, &[&key], &[&from], &options).await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::debug!(error = %e, "The live event log's reader lost Redis; it reconnects.");
                        break;
                    }
                };
            let Some(inner) = hub.upgrade() else { return };
            for entry in reply.keys.into_iter().flat_map(|k| k.ids) {
                last = Some(entry.id.clone());
                let Some(payload) = entry.get::<Vec<u8>>("e") else { continue };
                match crate::cache::pack::Encoded::from_wire(&payload).and_then(|e| e.unpack::<Event>()) {
                    Ok(event) => inner.deliver_here(Arc::new(event)),
                    Err(e) => tracing::warn!(error = %e, "An event from another replica could not be read."),
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests;
