//! The hub over a scripted provider: what each poll reads is set by the test, and
//! what subscribers receive is checked (new, changed, repeated, baseline, webhook).

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, Ordering},
};

use async_trait::async_trait;
use chrono::{DateTime, Duration as Days, Utc};
use futures::StreamExt;
use serde_json::json;

use super::*;
use crate::{
    config::CacheSettings,
    providers::{Capabilities, ProviderError, ProviderKind},
};

/// A provider whose change feed answers what the test put in `feed`.
#[derive(Debug)]
struct Scripted {
    id: Arc<str>,
    feed: Mutex<Vec<(String, String, Option<bool>)>>,
    reads: AtomicU64,
}

fn call(id: &str, version: &str, at: DateTime<Utc>) -> Call {
    Call {
        title: Some(format!("call {id}")),
        duration_secs: Some(60.0),
        raw: json!({ "id": id, "version": version }).into(),
        ..Call::bare(id, at)
    }
}

#[async_trait]
impl Provider for Scripted {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Gong
    }
    fn connection_id(&self) -> &Arc<str> {
        &self.id
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities { calls: true, ..Capabilities::default() }
    }
    async fn check(&self) -> Result<(), ProviderError> {
        Ok(())
    }
    async fn changes(&self, _since: DateTime<Utc>, until: DateTime<Utc>) -> Result<Changes, ProviderError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let feed = self.feed.lock().unwrap().clone();
        let base = until - Days::minutes(10);
        Ok(Changes {
            calls: feed
                .into_iter()
                .enumerate()
                .map(|(i, (id, version, transcript))| {
                    let at = base + Days::seconds(i as i64);
                    ChangedCall { at, call: call(&id, &version, at), transcript, revision: None }
                })
                .collect(),
            scores: Vec::new(),
        })
    }
}

fn hub_over(provider: Arc<Scripted>, interval: Duration) -> Hub {
    let mut registry = Registry::default();
    registry.insert(provider);
    let settings = LiveSettings { poll_interval: interval, ..LiveSettings::default() };
    Hub::new(Arc::new(registry), settings, None, Cache::new(&CacheSettings::default()), Metrics::new())
}

fn set(p: &Scripted, feed: &[(&str, &str, Option<bool>)]) {
    *p.feed.lock().unwrap() = feed.iter().map(|(a, b, c)| ((*a).into(), (*b).into(), *c)).collect();
}

/// Waits (in paused time) until the provider was read `n` times.
async fn until_read(p: &Scripted, n: u64) {
    while p.reads.load(Ordering::SeqCst) < n {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn next(stream: &mut (impl Stream<Item = Arc<Event>> + Unpin)) -> Arc<Event> {
    tokio::time::timeout(Duration::from_secs(5), stream.next()).await.expect("an event").expect("open")
}

#[tokio::test(start_paused = true)]
async fn the_first_poll_records_then_new_changed_and_repeated_records_are_told_once() {
    let p = Arc::new(Scripted { id: "c".into(), feed: Mutex::new(Vec::new()), reads: AtomicU64::new(0) });
    set(&p, &[("old", "1", None)]);
    let hub = hub_over(p.clone(), Duration::from_secs(1));
    let mut events = Box::pin(hub.subscribe(&[Arc::from("c")]).unwrap());
    until_read(&p, 1).await;
    // What was there before anyone listened is not news.
    set(&p, &[("old", "1", None), ("a", "1", Some(false))]);
    let e = next(&mut events).await;
    assert_eq!((e.kind, e.call.as_ref().unwrap().remote_id.as_str()), (EventKind::CallAdded, "a"));
    // The same records again (an overlapping poll): nothing; then `a` changes and
    // says its transcript is ready, `b` is new, `old` is unchanged.
    set(&p, &[("old", "1", None), ("a", "2", Some(true)), ("b", "1", Some(false))]);
    let e1 = next(&mut events).await;
    let e2 = next(&mut events).await;
    assert_eq!(e1.kind, EventKind::CallUpdated);
    assert_eq!(e1.changes, vec![CallChange::Details, CallChange::Transcript]);
    assert_eq!((e2.kind, e2.call.as_ref().unwrap().remote_id.as_str()), (EventKind::CallAdded, "b"));
    // A webhook telling of `b` again changes nothing; one telling of `c` is news once.
    let now = Utc::now();
    let told = |id: &str| Changes {
        calls: vec![ChangedCall { at: now, call: call(id, "1", now), transcript: Some(false), revision: None }],
        scores: Vec::new(),
    };
    assert_eq!(hub.ingest(&Arc::from("c"), told("b")).await, 0);
    assert_eq!(hub.ingest(&Arc::from("c"), told("c")).await, 1);
    let e = next(&mut events).await;
    assert_eq!(e.call.as_ref().unwrap().remote_id, "c");
    // ... and the next poll, which now also lists `c`, does not tell it again.
    set(
        &p,
        &[
            ("old", "1", None),
            ("a", "2", Some(true)),
            ("b", "1", Some(false)),
            ("c", "1", Some(false)),
            ("d", "1", None),
        ],
    );
    let e = next(&mut events).await;
    assert_eq!(e.call.as_ref().unwrap().remote_id, "d");
}

#[tokio::test(start_paused = true)]
async fn a_thousand_subscribers_share_one_poller_which_stops_when_they_leave() {
    let p = Arc::new(Scripted { id: "c".into(), feed: Mutex::new(Vec::new()), reads: AtomicU64::new(0) });
    let hub = hub_over(p.clone(), Duration::from_secs(1));
    let mut subs: Vec<_> = (0..1000).map(|_| Box::pin(hub.subscribe(&[Arc::from("c")]).unwrap())).collect();
    assert!(hub.polling("c"));
    until_read(&p, 1).await;
    set(&p, &[("a", "1", None)]);
    for s in &mut subs {
        assert_eq!(next(s).await.call.as_ref().unwrap().remote_id, "a");
    }
    let reads = p.reads.load(Ordering::SeqCst);
    // The baseline poll and the one that found `a` (a third may have started).
    assert!((2..=3).contains(&reads), "{reads} reads for 1,000 subscribers");
    drop(subs);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!hub.polling("c"), "nobody listens: the poller stopped");
    let after = p.reads.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(p.reads.load(Ordering::SeqCst), after, "and reads nothing more");
}
