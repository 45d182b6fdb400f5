//! The merge over fake providers of every kind: exact-once paging both ways, ties,
//! failures mid-walk, and what each strategy reads.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::{
    domain::Page,
    providers::{Capabilities, ProviderErrorKind, ProviderKind},
};

/// How a fake provider pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Oldest first with a time filter (Gong).
    OldestFirst,
    /// Newest first with a time filter.
    NewestFirst,
    /// Some other order, no time filter (ExecVision).
    Unordered,
}

#[derive(Debug)]
struct Fake {
    id: Arc<str>,
    kind: Kind,
    /// (call, provider's tie order).
    calls: Vec<(Call, u32)>,
    page: usize,
    fail: AtomicBool,
    requests: AtomicUsize,
    /// Requests already answered (real providers cache their pages).
    seen: std::sync::Mutex<HashSet<String>>,
}

fn call(id: String, start: DateTime<Utc>) -> Call {
    Call::bare(id, start)
}

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().with_timezone(&Utc)
}

impl Fake {
    /// `n` calls over `slots` distinct start seconds (so many share a start time).
    fn new(id: &str, kind: Kind, n: usize, slots: u64, page: usize, seed: u64) -> Self {
        let mut r = Rng(seed | 1);
        let calls = (0..n)
            .map(|i| {
                let start = t0() + TimeDelta::seconds((r.below(slots) * 600) as i64);
                (call(format!("{id}-{i}"), start), r.below(1000) as u32)
            })
            .collect();
        Self {
            id: Arc::from(id),
            kind,
            calls,
            page,
            fail: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            seen: Default::default(),
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Provider for Fake {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Gong
    }
    fn connection_id(&self) -> &Arc<str> {
        &self.id
    }
    fn capabilities(&self) -> Capabilities {
        let native_call_filters = match self.kind {
            Kind::OldestFirst => CallFilterSupport { time_range: true, oldest_first: true, ..Default::default() },
            Kind::NewestFirst => CallFilterSupport { time_range: true, newest_first: true, ..Default::default() },
            Kind::Unordered => CallFilterSupport::default(),
        };
        Capabilities { calls: true, native_call_filters, ..Capabilities::default() }
    }
    async fn check(&self) -> Result<(), ProviderError> {
        Ok(())
    }
    async fn list_calls(&self, query: &CallQuery, page: Option<String>) -> Result<Page<Call>, ProviderError> {
        if self.fail.load(Ordering::SeqCst) {
            self.requests.fetch_add(1, Ordering::SeqCst);
            return Err(self.error(ProviderErrorKind::Unavailable("down".into())));
        }
        let key = format!("{:?}|{:?}|{:?}|{page:?}", query.from, query.to, query.order);
        if self.seen.lock().unwrap().insert(key) {
            self.requests.fetch_add(1, Ordering::SeqCst);
        }
        let mut items: Vec<&(Call, u32)> = self
            .calls
            .iter()
            .filter(|(c, _)| {
                self.kind == Kind::Unordered
                    || (query.from.is_none_or(|f| start_of(c) >= f) && query.to.is_none_or(|t| start_of(c) < t))
            })
            .collect();
        match self.kind {
            Kind::OldestFirst => items.sort_by_key(|(c, tie)| (start_of(c), *tie)),
            Kind::NewestFirst if query.order == Some(SortDirection::Desc) => {
                items.sort_by_key(|(c, tie)| (std::cmp::Reverse(start_of(c)), *tie))
            }
            Kind::NewestFirst => items.sort_by_key(|(c, tie)| (start_of(c), *tie)),
            Kind::Unordered => items.sort_by_key(|(_, tie)| *tie),
        }
        let offset: usize = page.as_deref().map_or(0, |p| p.parse().unwrap());
        let total = items.len();
        let slice: Vec<Call> = items.iter().skip(offset).take(self.page).map(|(c, _)| c.clone()).collect();
        let next = (offset + slice.len() < total).then(|| (offset + slice.len()).to_string());
        Ok(Page { items: slice, next, total: Some(total as u64) })
    }
}

fn sources(fakes: &[Arc<Fake>], query: &CallQuery) -> Vec<Source> {
    fakes
        .iter()
        .enumerate()
        .map(|(rank, f)| Source { provider: f.clone() as Arc<dyn Provider>, query: query.clone(), rank, shared: None })
        .collect()
}

/// The expected timeline: every matching call once, by start time, then rank, then id
/// (the same way as the start time).
fn expected(fakes: &[Arc<Fake>], query: &CallQuery, order: SortDirection) -> Vec<(usize, DateTime<Utc>, String)> {
    let mut all: Vec<(usize, DateTime<Utc>, String)> = fakes
        .iter()
        .enumerate()
        .flat_map(|(rank, f)| {
            f.calls.iter().filter(|(c, _)| query.matches(c)).map(move |(c, _)| (rank, start_of(c), c.remote_id.clone()))
        })
        .collect();
    all.sort_by(|a, b| {
        let (t, id) =
            if order == SortDirection::Asc { (a.1.cmp(&b.1), a.2.cmp(&b.2)) } else { (b.1.cmp(&a.1), b.2.cmp(&a.2)) };
        t.then(a.0.cmp(&b.0)).then(id)
    });
    all
}

/// A page boundary as a Relay cursor holds it.
#[derive(Clone)]
struct Cursor {
    after: Vec<StreamPos>,
    source: usize,
    call: Call,
}

impl Cursor {
    /// Positions for paging backward from this edge (excluding it).
    fn before(&self) -> Vec<StreamPos> {
        let mut p = self.after.clone();
        p[self.source].cut.untake(&self.call);
        p[self.source].hint = None;
        p
    }
}

fn cursor(m: &MergedCall) -> Cursor {
    Cursor { after: m.after.clone(), source: m.source, call: m.call.clone() }
}

fn key(m: &MergedCall) -> (usize, DateTime<Utc>, String) {
    (m.source, start_of(&m.call), m.call.remote_id.clone())
}

/// Checks the page is in the timeline's order (ties within one source in any order).
fn assert_ordered(keys: &[(usize, DateTime<Utc>, String)], order: SortDirection) {
    for w in keys.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let ok = match order {
            SortDirection::Asc => (a.1, a.0) <= (b.1, b.0),
            SortDirection::Desc => a.1 > b.1 || (a.1 == b.1 && a.0 <= b.0),
        };
        assert!(ok, "out of order: {a:?} then {b:?}");
    }
}

async fn walk_forward(
    fakes: &[Arc<Fake>],
    query: &CallQuery,
    order: SortDirection,
    size: usize,
) -> Vec<(usize, DateTime<Utc>, String)> {
    let mut pos = vec![StreamPos::default(); fakes.len()];
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let page = merge(sources(fakes, query), pos.clone(), order, true, size).await;
        assert!(page.failures.is_empty());
        seen.extend(page.calls.iter().map(key));
        if !page.more {
            assert!(page.calls.len() <= size);
            return seen;
        }
        assert_eq!(page.calls.len(), size, "a full page unless it is the last");
        pos = page.calls.last().unwrap().after.clone();
    }
    panic!("paging does not end");
}

async fn walk_backward(
    fakes: &[Arc<Fake>],
    query: &CallQuery,
    order: SortDirection,
    size: usize,
) -> Vec<(usize, DateTime<Utc>, String)> {
    let mut pos = vec![StreamPos { cut: Cut::All, hint: None }; fakes.len()];
    let mut seen: Vec<(usize, DateTime<Utc>, String)> = Vec::new();
    for _ in 0..10_000 {
        let page = merge(sources(fakes, query), pos.clone(), order, false, size).await;
        let mut keys: Vec<_> = page.calls.iter().map(key).collect();
        keys.extend(seen);
        seen = keys;
        if !page.more {
            return seen;
        }
        pos = cursor(&page.calls[0]).before();
    }
    panic!("paging does not end");
}

fn fakes(seed: u64) -> Vec<Arc<Fake>> {
    vec![
        Arc::new(Fake::new("gong", Kind::OldestFirst, 230, 90, 10, seed)),
        Arc::new(Fake::new("ev", Kind::Unordered, 170, 90, 25, seed + 1)),
        Arc::new(Fake::new("desc", Kind::NewestFirst, 120, 90, 7, seed + 2)),
    ]
}

#[tokio::test]
async fn every_call_once_in_order_both_ways_at_odd_page_sizes() {
    for seed in [3, 17] {
        let fakes = fakes(seed);
        for order in [SortDirection::Desc, SortDirection::Asc] {
            let want = expected(&fakes, &CallQuery::default(), order);
            for size in [1, 7, 13, 100] {
                let got = walk_forward(&fakes, &CallQuery::default(), order, size).await;
                assert_ordered(&got, order);
                assert_eq!(got, want, "seed {seed} {order:?} first {size}");
                let back = walk_backward(&fakes, &CallQuery::default(), order, size).await;
                assert_eq!(back, want, "seed {seed} {order:?} last {size}");
            }
        }
    }
}

#[tokio::test]
async fn a_time_filter_is_respected_by_every_strategy() {
    let fakes = fakes(5);
    let query = CallQuery {
        from: Some(t0() + TimeDelta::seconds(600 * 20)),
        to: Some(t0() + TimeDelta::seconds(600 * 61 + 1)),
        ..CallQuery::default()
    };
    for order in [SortDirection::Desc, SortDirection::Asc] {
        let want = expected(&fakes, &query, order);
        assert!(want.len() > 50 && want.len() < 400);
        assert_eq!(walk_forward(&fakes, &query, order, 9).await, want);
        assert_eq!(walk_backward(&fakes, &query, order, 9).await, want);
    }
}

#[tokio::test]
async fn backward_from_any_edge_gives_exactly_the_calls_before_it() {
    let fakes = fakes(11);
    let order = SortDirection::Desc;
    let mut pos = vec![StreamPos::default(); fakes.len()];
    let mut prefix = Vec::new();
    for _ in 0..6 {
        let page = merge(sources(&fakes, &CallQuery::default()), pos, order, true, 19).await;
        prefix.extend(page.calls.iter().map(key));
        let edge = cursor(&page.calls[11]);
        // Backward from the 12th edge of this page: everything before it, in order.
        let before_edge = prefix.len() - page.calls.len() + 11;
        let back = merge(sources(&fakes, &CallQuery::default()), edge.before(), order, false, 500).await;
        assert!(!back.more);
        assert_eq!(back.calls.iter().map(key).collect::<Vec<_>>(), prefix[..before_edge].to_vec());
        // And forward from it again: the rest of this page.
        let fwd = merge(sources(&fakes, &CallQuery::default()), edge.after.clone(), order, true, 7).await;
        assert_eq!(
            fwd.calls.iter().map(key).collect::<Vec<_>>(),
            page.calls[12..19].iter().map(key).collect::<Vec<_>>()
        );
        pos = page.calls.last().unwrap().after.clone();
    }
}

#[tokio::test]
async fn a_provider_failing_mid_walk_loses_and_repeats_nothing() {
    for order in [SortDirection::Desc, SortDirection::Asc] {
        for failing in 0..3 {
            let fakes = fakes(23);
            let want = expected(&fakes, &CallQuery::default(), order);
            let mut pos = vec![StreamPos::default(); fakes.len()];
            let mut seen = Vec::new();
            for n in 0.. {
                // Down for pages 3 to 8.
                fakes[failing].fail.store((3..9).contains(&n), Ordering::SeqCst);
                let page = merge(sources(&fakes, &CallQuery::default()), pos.clone(), order, true, 17).await;
                if (3..9).contains(&n) {
                    assert_eq!(page.failures.len(), 1);
                    assert_eq!(page.failures[0].0, failing);
                    assert!(page.more, "more may come from the failed connection");
                    assert!(page.calls.iter().all(|c| c.source != failing));
                }
                seen.extend(page.calls.iter().map(key));
                if !page.more {
                    break;
                }
                if let Some(last) = page.calls.last() {
                    pos = last.after.clone();
                }
                assert!(n < 1000);
            }
            let unique: HashSet<_> = seen.iter().collect();
            assert_eq!(unique.len(), seen.len(), "{order:?}, source {failing} failing: a call came twice");
            assert_eq!(unique, want.iter().collect(), "{order:?}, source {failing} failing: calls lost");
        }
    }
}

#[tokio::test]
async fn newest_first_over_an_oldest_first_provider_reads_only_the_windows_it_needs() {
    let gong = Arc::new(Fake::new("gong", Kind::OldestFirst, 2000, 20_000, 100, 9));
    let fakes = vec![gong.clone()];
    let page =
        merge(sources(&fakes, &CallQuery::default()), vec![StreamPos::default()], SortDirection::Desc, true, 25).await;
    assert_eq!(page.calls.len(), 25);
    let want = expected(&fakes, &CallQuery::default(), SortDirection::Desc);
    assert_eq!(page.calls.iter().map(key).collect::<Vec<_>>(), want[..25]);
    // The probe, then a window of about one page (2000 calls are 20 pages).
    assert!(gong.requests() <= 3, "{} requests for the first page", gong.requests());
    let before = gong.requests();
    let all = walk_forward(&fakes, &CallQuery::default(), SortDirection::Desc, 100).await;
    assert_eq!(all.len(), 2000);
    let walk = gong.requests() - before;
    eprintln!("first page: {before} requests; a walk by 100: {walk} more");
    assert!(walk < 2000 / 100 * 2, "{walk} requests for a walk over 20 pages");
}

#[test]
fn cuts_keep_ties_apart_both_ways() {
    let t = t0();
    let (a, b, c) = (call("a".into(), t), call("b".into(), t), call("c".into(), t + TimeDelta::seconds(1)));
    let seq = Walk::Up;
    let mut cut = Cut::Nothing;
    cut.take(&a);
    assert!(cut.taken(seq, &a) && !cut.taken(seq, &b) && !cut.taken(seq, &c));
    cut.take(&b);
    cut.take(&c);
    assert!(cut.taken(seq, &a) && cut.taken(seq, &b) && cut.taken(seq, &c));
    cut.untake(&c);
    assert!(cut.taken(seq, &a) && cut.taken(seq, &b) && !cut.taken(seq, &c));
    cut.untake(&a);
    assert!(!cut.taken(seq, &a) && cut.taken(seq, &b));
    let mut all = Cut::All;
    all.untake(&c);
    assert!(cut.taken(seq, &b) && all.taken(seq, &a) && !all.taken(seq, &c));
    let json = serde_json::to_string(&all).unwrap();
    assert_eq!(serde_json::from_str::<Cut>(&json).unwrap(), all);
}
