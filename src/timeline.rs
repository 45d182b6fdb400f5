//! One timeline of calls across connections: each connection's calls as a stream in
//! start-time order, and a k-way merge of those streams that pages both ways.
//!
//! # A connection's stream
//! How a connection's calls are put in start-time order depends on what its provider
//! can do ([`CallFilterSupport`]); the walk direction is "up" (oldest first) or "down"
//! (newest first):
//! - **Chain**: the provider pages in the walk's order itself (Gong pages oldest first;
//!   a provider with `newest_first` pages newest first). Its pages are read one at a
//!   time, only as the merge needs them.
//! - **Windows**: the provider pages oldest first and filters by time, and the walk
//!   goes down (Gong `calls/extensive` for newest first). Time windows are read from
//!   the newest end backwards, each whole (all its provider pages) and reversed. A
//!   window is sized from the call density seen so far to hold about
//!   [`WINDOW_TARGET`] calls (one Gong page). The first window costs a probe: the
//!   list's first page (cached, and the same request as the first page of the
//!   ascending chain), which gives the earliest call (where the walk ends), the total
//!   and a first density.
//! - **Whole**: the provider cannot order by start time (ExecVision pages by last
//!   modification). Every call that may start in the range is read: all pages of the
//!   list from the filter's start (a call's last change is never before its start, so
//!   calls last changed earlier cannot start in the range; nothing bounds a list
//!   ordered by modification from above, so it is read to its end), then sorted.
//!   Pages are cached, so later pages of the timeline re-read them for free.
//!
//! Providers that page only newest first walk up by reading the whole list.
//!
//! # Cuts and hints
//! A position in the timeline is a [`Cut`] per connection: which of its calls come
//! before the position. A cut is a start time plus the (hashed) ids of the calls
//! that started at exactly that time and are on one side of it, so calls sharing a
//! start time are never lost nor repeated, whatever the page boundaries. Correctness
//! rests on cuts alone; a [`Hint`] per connection (the provider page or time window
//! where the next call is) only saves requests.
//!
//! # Merge
//! The timeline's order is start time (ascending or descending), ties broken by the
//! connection's rank (its place in the configuration). Paging forward takes the first
//! not-yet-taken call of every stream and emits the earliest in that order; paging
//! backward walks every stream the other way over the taken calls. Each emitted call
//! carries every stream's cut after it, so any edge can continue either way.
//!
//! # Failures
//! A stream whose provider fails keeps its cut, so the failed connection's calls are
//! neither skipped nor repeated: once it answers again, paging on from any later
//! cursor delivers them (possibly out of order with calls already shown). While one
//! has failed, the merge reports more pages in that direction.

use std::{collections::VecDeque, sync::Arc};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    domain::Call,
    providers::{
        CallFilterSupport, CallQuery, Provider, ProviderError, SortDirection, all_pages,
        paging::{self, Keyed},
    },
};

/// Calls a time window should hold (a little under Gong's page of 100, so a window
/// usually costs one request even when the density estimate is off by some).
pub const WINDOW_TARGET: f64 = 80.0;

/// Which way in time a walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Oldest first.
    Up,
    /// Newest first.
    Down,
}

impl Walk {
    /// The walk of a list in `order`.
    pub fn of(order: SortDirection) -> Self {
        match order {
            SortDirection::Asc => Self::Up,
            SortDirection::Desc => Self::Down,
        }
    }

    fn rev(self) -> Self {
        match self {
            Self::Up => Self::Down,
            Self::Down => Self::Up,
        }
    }

    fn order(self) -> SortDirection {
        match self {
            Self::Up => SortDirection::Asc,
            Self::Down => SortDirection::Desc,
        }
    }

    /// Whether time `a` comes strictly before time `b` on this walk.
    fn before(self, a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
        match self {
            Self::Up => a < b,
            Self::Down => a > b,
        }
    }

    fn sort(self, calls: &mut [Call]) {
        calls.sort_by(|a, b| (start_of(a), &a.remote_id).cmp(&(start_of(b), &b.remote_id)));
        if self == Self::Down {
            calls.reverse();
        }
    }
}

/// A call's start time for ordering (calls without one sort as if at the epoch).
pub fn start_of(call: &Call) -> DateTime<Utc> {
    call.started_at.unwrap_or(DateTime::UNIX_EPOCH)
}

/// A short hash of a call's id, as kept in cuts.
pub fn call_hash(remote_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(remote_id.as_bytes())[..6])
}

/// Which of one connection's calls come before a position of the timeline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cut {
    /// None of them (the start of the timeline).
    #[default]
    #[serde(rename = "n")]
    Nothing,
    /// All of them (the end of the timeline).
    #[serde(rename = "a")]
    All,
    /// Those that start before `t` in the timeline's order, and of those that start at
    /// `t` the ones hashed in `k` (or, when `x`, the ones not in `k`).
    #[serde(rename = "t")]
    At {
        t: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        k: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        x: bool,
    },
}

impl Cut {
    /// Whether `call` comes before this cut in a timeline walked `seq`.
    pub fn taken(&self, seq: Walk, call: &Call) -> bool {
        match self {
            Self::Nothing => false,
            Self::All => true,
            Self::At { t, k, x } => {
                let s = start_of(call);
                seq.before(s, *t) || (s == *t && k.contains(&call_hash(&call.remote_id)) != *x)
            }
        }
    }

    /// Moves the cut past `call`, the first call after it.
    pub fn take(&mut self, call: &Call) {
        let (s, h) = (start_of(call), call_hash(&call.remote_id));
        match self {
            Self::At { t, k, x } if *t == s => {
                if *x {
                    k.retain(|y| *y != h);
                } else {
                    k.push(h);
                }
            }
            _ => *self = Self::At { t: s, k: vec![h], x: false },
        }
    }

    /// Moves the cut back before `call`, the last call before it.
    pub fn untake(&mut self, call: &Call) {
        self.untake_key(start_of(call), &call_hash(&call.remote_id));
    }

    /// [`Self::untake`] by the call's start time and id hash.
    pub fn untake_key(&mut self, s: DateTime<Utc>, h: &str) {
        let h = h.to_owned();
        match self {
            Self::At { t, k, x } if *t == s => {
                if *x {
                    k.push(h);
                } else {
                    k.retain(|y| *y != h);
                }
            }
            _ => *self = Self::At { t: s, k: vec![h], x: true },
        }
    }

    fn time(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::At { t, .. } => Some(*t),
            _ => None,
        }
    }
}

/// Where a stream's next calls are, to save requests (never needed for correctness).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hint {
    /// A page of the provider's own ordered list whose near end is bounded by `a`
    /// (the list starts at `a`), at provider page token `p` (`None`: its first page).
    #[serde(rename = "c")]
    Chain {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        a: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p: Option<String>,
    },
    /// The time window `[lo, hi)` of a downward walk (`None`: the filter's own bound),
    /// with the earliest call `f` (where the walk ends), the window's width `w` in
    /// seconds and the estimated number of calls below `hi` (`r`, when the provider
    /// reports totals), which sizes the windows that follow.
    #[serde(rename = "w")]
    Window {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lo: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hi: Option<DateTime<Utc>>,
        f: DateTime<Utc>,
        w: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r: Option<u64>,
    },
    /// Nothing further this way.
    #[serde(rename = "d")]
    Done,
}

/// How a stream gets its calls in order (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Chain,
    Windows,
    Whole,
}

/// The strategy for walking `walk` over a provider that supports `caps`.
pub fn strategy(caps: &CallFilterSupport, walk: Walk) -> Strategy {
    match walk {
        Walk::Up if caps.oldest_first => Strategy::Chain,
        Walk::Down if caps.newest_first => Strategy::Chain,
        Walk::Down if caps.oldest_first && caps.time_range => Strategy::Windows,
        _ => Strategy::Whole,
    }
}

fn secs(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

fn ceil_secs(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = secs(t);
    if floor == t { floor } else { floor + TimeDelta::seconds(1) }
}

/// One connection's calls for the timeline.
#[derive(Debug, Clone)]
pub struct Source {
    pub provider: Arc<dyn Provider>,
    /// The unified filter, as the user gave it (applied locally to every call too).
    pub query: CallQuery,
    /// The connection's place among the timeline's connections (breaks ties).
    pub rank: usize,
    /// A read shared with other timelines (see [`Shared`]), if any.
    pub shared: Option<Shared>,
}

/// A read shared by the timelines of several hosts (the `calls` of a page of
/// people): the provider is asked for the calls of all of them, so every timeline
/// reads the same provider pages (cached, and coalesced while in flight), and each
/// keeps its own calls (the source's `query` still filters every call).
///
/// Only a walk from the start of the timeline shares (a cursor's position is one
/// timeline's own). After `budget` fetches of the shared list, the timelines that
/// still lack calls (their hosts have fewer than `want` calls in the batches read so
/// far: every such timeline has read the same batches, so all of them name the same
/// hosts) go on sharing a narrower read: the calls of just those hosts, beyond the
/// furthest start time read (inclusive: calls already emitted are behind the cut).
/// So a few hosts without recent calls neither make every timeline read far back
/// nor cost one list each. Positions of shared walks carry no hints (those would be
/// the shared list's, not the timeline's own).
#[derive(Debug, Clone, PartialEq)]
pub struct Shared {
    /// The hosts asked for (the remote ids of every host, this timeline's included).
    pub hosts: Vec<String>,
    /// Fetches the timeline makes of the shared list before narrowing it.
    pub budget: usize,
    /// Calls each timeline reads ahead: its page size plus one (to tell whether
    /// there are more).
    pub want: usize,
}

impl Shared {
    /// The read shared by the timelines of `hosts`, each showing a page of `page`.
    pub fn new(hosts: Vec<String>, page: usize) -> Self {
        let budget = Self::budget_for(hosts.len(), page);
        Self { hosts, budget, want: page + 1 }
    }

    /// The fetches `hosts` timelines of `want` calls each need of one shared list,
    /// if their calls are spread evenly, plus two for finding the first window and
    /// for unevenness.
    pub fn budget_for(hosts: usize, want: usize) -> usize {
        ((hosts * (want + 1)) as f64 / WINDOW_TARGET).ceil() as usize + 2
    }
}

/// One fetch of a stream.
struct Batch {
    /// Calls in walk order (before local filtering and cuts).
    items: Vec<Call>,
    /// The hint that leads back to this batch.
    at: Option<Hint>,
    /// The hint of the next batch.
    next: Hint,
    /// The provider's pages may split calls that share a start time.
    splits_ties: bool,
}

impl Source {
    fn caps(&self) -> CallFilterSupport {
        self.provider.capabilities().native_call_filters
    }

    /// The query sent to the provider: the filter with whole-second bounds widened to
    /// cover the filter's (the provider's time format has seconds), no order, and the
    /// shared read's hosts when there is one.
    fn base(&self) -> CallQuery {
        CallQuery {
            from: self.query.from.map(secs),
            to: self.query.to.map(ceil_secs),
            order: None,
            host_remote_ids: match &self.shared {
                Some(s) => s.hosts.clone(),
                None => self.query.host_remote_ids.clone(),
            },
            ..self.query.clone()
        }
    }

    /// Calls of this connection over the whole filter, when known without local
    /// filtering (or counted exactly, for streams read whole).
    pub async fn total(&self) -> Result<Option<u64>, ProviderError> {
        let caps = self.caps();
        if strategy(&caps, Walk::Up) == Strategy::Whole && strategy(&caps, Walk::Down) == Strategy::Whole {
            let all = self.whole().await?;
            return Ok(Some(all.iter().filter(|c| self.query.matches(c)).count() as u64));
        }
        if self.query.needs_local_filtering(&caps) {
            return Ok(None);
        }
        let order = if caps.oldest_first { SortDirection::Asc } else { SortDirection::Desc };
        // The provider's total of this timeline's own query, not of a shared one.
        let own = Source { shared: None, ..self.clone() };
        let q = CallQuery { order: Some(order), ..own.base() };
        Ok(self.provider.list_calls(&q, None).await?.total)
    }

    async fn whole(&self) -> Result<Vec<Call>, ProviderError> {
        let q = self.base();
        all_pages(self.provider.as_ref(), "calls", |page| self.provider.list_calls(&q, page)).await
    }

    /// The next batch walking `walk` from `from` (inclusive), or from `hint`.
    async fn fetch(&self, walk: Walk, from: Option<DateTime<Utc>>, hint: Option<Hint>) -> Result<Batch, ProviderError> {
        if hint == Some(Hint::Done) {
            return Ok(Batch::done());
        }
        match strategy(&self.caps(), walk) {
            Strategy::Chain => self.chain(walk, from, hint).await,
            Strategy::Windows => self.window(walk, from, hint).await,
            Strategy::Whole => {
                let mut items = self.whole().await?;
                walk.sort(&mut items);
                Ok(Batch { items, at: None, next: Hint::Done, splits_ties: false })
            }
        }
    }

    async fn chain(&self, walk: Walk, from: Option<DateTime<Utc>>, hint: Option<Hint>) -> Result<Batch, ProviderError> {
        let (anchor, token) = match hint {
            Some(Hint::Chain { a, p }) => (a, p),
            _ => (
                from.map(|t| match walk {
                    Walk::Up => secs(t),
                    Walk::Down => secs(t) + TimeDelta::seconds(1),
                }),
                None,
            ),
        };
        let mut q = CallQuery { order: Some(walk.order()), ..self.base() };
        if let Some(a) = anchor {
            match walk {
                Walk::Up => q.from = Some(q.from.map_or(a, |f| f.max(a))),
                Walk::Down => q.to = Some(q.to.map_or(a, |t| t.min(a))),
            }
        }
        let page = self.provider.list_calls(&q, token.clone()).await?;
        let mut items = page.items;
        walk.sort(&mut items);
        let next = match page.next {
            Some(p) => Hint::Chain { a: anchor, p: Some(p) },
            None => Hint::Done,
        };
        Ok(Batch { items, at: Some(Hint::Chain { a: anchor, p: token }), next, splits_ties: true })
    }

    /// The query of the time window `[lo, hi)` (`None`: the filter's own bound).
    fn window_query(base: &CallQuery, lo: Option<DateTime<Utc>>, hi: Option<DateTime<Utc>>) -> CallQuery {
        CallQuery {
            from: match (lo, base.from) {
                (Some(l), Some(f)) => Some(l.max(f)),
                (l, f) => l.or(f),
            },
            to: match (hi, base.to) {
                (Some(h), Some(t)) => Some(h.min(t)),
                (h, t) => h.or(t),
            },
            order: Some(SortDirection::Asc),
            ..base.clone()
        }
    }

    /// Downward windows over a provider that pages oldest first.
    async fn window(
        &self,
        walk: Walk,
        from: Option<DateTime<Utc>>,
        hint: Option<Hint>,
    ) -> Result<Batch, ProviderError> {
        debug_assert_eq!(walk, Walk::Down);
        let base = self.base();
        let (lo, hi, floor, width, left) = match hint {
            Some(Hint::Window { lo, hi, f, w, r }) => (lo, hi, f, w, r),
            _ => match self.first_window(&base, from).await? {
                First::Empty => return Ok(Batch::done()),
                First::Whole(mut items, floor) => {
                    walk.sort(&mut items);
                    let at = Hint::Window { lo: None, hi: None, f: floor, w: 0, r: None };
                    return Ok(Batch { items, at: Some(at), next: Hint::Done, splits_ties: false });
                }
                First::Window { lo, hi, floor, width, left } => (lo, hi, floor, width, left),
            },
        };
        let q = Self::window_query(&base, lo, hi);
        let mut items = all_pages(self.provider.as_ref(), "calls", |page| self.provider.list_calls(&q, page)).await?;
        let count = items.len();
        walk.sort(&mut items);
        let at = Hint::Window { lo, hi, f: floor, w: width, r: left };
        let next = match lo {
            None => Hint::Done,
            Some(lo) => {
                let below = left.map(|r| r.saturating_sub(count as u64));
                let w = match below {
                    // Few calls left: the next window is the rest of the range.
                    Some(b) if (b as f64) <= WINDOW_TARGET => None,
                    // Spread what is left over the time left.
                    Some(b) => Some((WINDOW_TARGET * (lo - floor).num_seconds() as f64 / b as f64).ceil() as i64),
                    // No total from the provider: from the density just seen, at most
                    // 8-fold changes at a time.
                    None if count == 0 => Some(width.saturating_mul(4)),
                    None => Some(
                        ((width as f64 * WINDOW_TARGET / count as f64).ceil() as i64)
                            .clamp((width / 8).max(1), width.saturating_mul(8)),
                    ),
                };
                let w = w.map(|w| w.max(1));
                let next_lo =
                    w.map(|w| lo - TimeDelta::seconds(w)).filter(|l| *l > floor && base.from.is_none_or(|f| *l > f));
                Hint::Window { lo: next_lo, hi: Some(lo), f: floor, w: w.unwrap_or(width), r: below }
            }
        };
        Ok(Batch { items, at: Some(at), next, splits_ties: false })
    }

    /// Finds the first window of a downward walk from `from` (the newest end when
    /// `None`): a probe (the list's first page: the earliest call, the total, a first
    /// density), then first pages of candidate windows (each reports how many calls
    /// it holds) until one holds between a third of the target and one provider page.
    async fn first_window(&self, base: &CallQuery, from: Option<DateTime<Utc>>) -> Result<First, ProviderError> {
        let probe =
            self.provider.list_calls(&CallQuery { order: Some(SortDirection::Asc), ..base.clone() }, None).await?;
        let Some(floor) = probe.items.iter().map(start_of).min() else {
            return Ok(First::Empty);
        };
        if probe.next.is_none() {
            return Ok(First::Whole(probe.items, floor));
        }
        let hi = match (from.map(|t| secs(t) + TimeDelta::seconds(1)), base.to) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let last = probe.items.iter().map(start_of).max().unwrap_or(floor);
        let n = probe.items.len() as f64;
        let total = probe.total.map(|t| t as f64);
        // Where the range ends and how dense it is: the filter's end and the total
        // when known, else extrapolated from the probe's page.
        let page_density = n / (last - floor).num_seconds().max(1) as f64;
        let end = match (base.to, total) {
            (Some(to), _) => to,
            (None, Some(t)) => floor + TimeDelta::seconds((t / page_density).ceil() as i64 + 1),
            (None, None) => last,
        };
        let span = |t: DateTime<Utc>| (t - floor).num_seconds().max(1) as f64;
        let density = total.map_or(page_density, |t| t / span(end));
        let top = hi.unwrap_or(end);
        // Calls below `top`, pro rata when the walk starts inside the range.
        let mut below_top = total.map(|t| (t * (span(top) / span(end)).min(1.0)).round());
        let mut width = ((WINDOW_TARGET / density).ceil() as i64).max(1);
        let mut lo = top - TimeDelta::seconds(width);
        if hi.is_none() {
            // The end is extrapolated: start a quarter of the range lower, since a
            // window with too many calls shows the density to aim with, and one with
            // none shows nothing.
            lo -= TimeDelta::seconds((top - floor).num_seconds() / 4);
        }
        let out_of_range = |lo: DateTime<Utc>| lo <= floor || base.from.is_some_and(|f| lo <= f);
        for attempt in 0..4 {
            if out_of_range(lo) {
                return Ok(First::Window { lo: None, hi, floor, width, left: below_top.map(|b| b as u64) });
            }
            let page = self.provider.list_calls(&Self::window_query(base, Some(lo), hi), None).await?;
            let count = page.total.map_or(page.items.len() as f64, |t| t as f64);
            if page.next.is_some() {
                // More than a page: raise the low end to where a little less than
                // the target's worth remain (room for the estimate to be off), at the
                // density this page shows.
                let seen = page.items.iter().map(start_of).max().unwrap_or(lo);
                let local = page.items.len() as f64 / (seen - lo).num_seconds().max(1) as f64;
                let aim = WINDOW_TARGET * 0.6;
                lo += TimeDelta::seconds((((count - aim) / local).ceil() as i64).max(1));
                if let Some(b) = below_top {
                    below_top = Some(b.max(count));
                }
            } else if count >= WINDOW_TARGET / 3.0 || attempt == 3 {
                break;
            } else {
                // Too few: lower the low end by the density of what lies below it.
                let left = below_top.map_or(0.0, |b| (b - count).max(0.0));
                if left <= 0.0 {
                    lo = floor;
                } else {
                    let rate = left / span(lo);
                    lo -= TimeDelta::seconds((((WINDOW_TARGET - count) / rate).ceil() as i64).max(1));
                }
            }
            width = (top - lo).num_seconds().max(1);
        }
        if out_of_range(lo) {
            return Ok(First::Window { lo: None, hi, floor, width, left: below_top.map(|b| b as u64) });
        }
        Ok(First::Window { lo: Some(lo), hi, floor, width, left: below_top.map(|b| b as u64) })
    }
}

impl Batch {
    fn done() -> Self {
        Self { items: Vec::new(), at: Some(Hint::Done), next: Hint::Done, splits_ties: false }
    }
}

/// The first window of a downward walk.
enum First {
    /// No calls at all.
    Empty,
    /// One provider page holds them all (with the earliest start).
    Whole(Vec<Call>, DateTime<Utc>),
    /// The window `[lo, hi)`, with the earliest call, the window's width and the
    /// estimated number of calls below `hi`.
    Window { lo: Option<DateTime<Utc>>, hi: Option<DateTime<Utc>>, floor: DateTime<Utc>, width: i64, left: Option<u64> },
}

/// One connection's part of a timeline position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPos {
    /// Which of its calls come before the position.
    #[serde(rename = "c", default)]
    pub cut: Cut,
    /// Where its next calls (after the position) are.
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Hint>,
}

struct Stream {
    src: Source,
    pos: StreamPos,
    /// Calls fetched and not yet emitted, in walk order, with the hint of their batch.
    buf: VecDeque<(Call, Option<Hint>)>,
    /// The hint of the next fetch (`None` before the first).
    next: Option<Hint>,
    /// Calls of the last fetch held back because the next page may hold more calls
    /// with the same start time (so ties always come in id order), with their hint.
    held: Vec<Call>,
    held_at: Option<Hint>,
    fetched: bool,
    failed: Option<ProviderError>,
    /// Fetches made of the current shared read.
    shared_fetches: usize,
    /// Calls of the shared batches read, by host (see [`Shared`]).
    tally: std::collections::HashMap<String, usize>,
    /// The furthest start time read in shared batches, along the walk.
    edge: Option<DateTime<Utc>>,
    /// Whether the stream's query was narrowed by a shared read.
    narrowed: bool,
    /// Guards the stream's fetches against a provider that pages in a circle.
    guard: Option<paging::Walk>,
    /// Why the stream was ended early (its provider paged in a circle): reported like
    /// a failure, but the stream is at its end.
    stopped: Option<ProviderError>,
}

impl Stream {
    /// Narrows the shared read once its budget is spent (see [`Shared`]): to the
    /// hosts still lacking calls, beyond the furthest start read. Everything of the
    /// stream's own in the batches read so far has been emitted (the buffer is
    /// empty) but the calls held back at the furthest start, which are read again;
    /// what is read again is filtered by the cut.
    fn narrow_shared_read_when_spent(&mut self, walk: Walk) {
        let Some(shared) = &self.src.shared else { return };
        if self.shared_fetches < shared.budget {
            return;
        }
        let Some(edge) = self.edge else { return };
        let mut hosts: Vec<String> =
            shared.hosts.iter().filter(|h| self.tally.get(*h).copied().unwrap_or(0) < shared.want).cloned().collect();
        // The stream's own hosts lack calls (else it would not fetch); kept in any case.
        for own in &self.src.query.host_remote_ids {
            if !hosts.contains(own) {
                hosts.push(own.clone());
            }
        }
        hosts.sort();
        let q = &mut self.src.query;
        match walk {
            Walk::Down => {
                q.to =
                    Some(q.to.map_or(secs(edge) + TimeDelta::seconds(1), |t| t.min(secs(edge) + TimeDelta::seconds(1))))
            }
            Walk::Up => q.from = Some(q.from.map_or(secs(edge), |f| f.max(secs(edge)))),
        }
        self.src.shared = Some(Shared::new(hosts, shared.want - 1));
        self.shared_fetches = 0;
        self.narrowed = true;
        // The next fetch starts the narrower read from its beginning (the bound is in
        // the query), as every stream that narrows does, so they share it too.
        self.fetched = true;
        self.next = None;
        self.guard = None;
        self.held.clear();
        self.held_at = None;
    }

    /// Counts the calls of a shared batch by host (those the stream's filter, but
    /// for the host, keeps) and moves the furthest start read.
    fn tally_shared(&mut self, walk: Walk, items: &[Call]) {
        let any_host = CallQuery { host_remote_ids: Vec::new(), ..self.src.query.clone() };
        for c in items {
            if let Some(h) = &c.host_remote_id
                && any_host.matches(c)
            {
                *self.tally.entry(h.clone()).or_default() += 1;
            }
            let t = start_of(c);
            self.edge = Some(match (self.edge, walk) {
                (None, _) => t,
                (Some(e), Walk::Down) => e.min(t),
                (Some(e), Walk::Up) => e.max(t),
            });
        }
    }

    fn done(&self) -> bool {
        self.next == Some(Hint::Done)
    }

    /// Fetches until a call is buffered, the stream ends or its provider fails.
    async fn refill(&mut self, seq: Walk, walk: Walk, forward: bool) {
        let nothing_that_way = if forward { Cut::All } else { Cut::Nothing };
        if !self.fetched && self.pos.cut == nothing_that_way {
            self.fetched = true;
            self.next = Some(Hint::Done);
        }
        while self.buf.is_empty() && !self.done() && self.failed.is_none() {
            self.narrow_shared_read_when_spent(walk);
            if self.src.shared.is_some() {
                self.shared_fetches += 1;
            }
            let (from, hint) = if self.fetched {
                (None, self.next.clone())
            } else {
                // Forward from a cut, the hint (when the cursor had one) says where to
                // read; backward, hints (which lead forward) do not apply.
                (self.pos.cut.time(), if forward { self.pos.hint.clone() } else { None })
            };
            let guard = self.guard.get_or_insert_with(|| {
                let p = &self.src.provider;
                let start = hint.as_ref().map(hint_token);
                let guard =
                    paging::Walk::new(p.kind(), p.connection_id(), "calls timeline").starting_at(start.as_ref());
                // Time windows may hold no call, one after another; but a window that
                // holds only calls read before means the provider ignored it.
                if matches!(strategy(&self.src.caps(), walk), Strategy::Chain) {
                    guard
                } else {
                    guard.steps_may_be_empty()
                }
            });
            match self.src.fetch(walk, from, hint).await {
                Ok(mut batch) => {
                    let next = (batch.next != Hint::Done).then(|| hint_token(&batch.next));
                    if let Err(e) = guard.step(batch.items.iter().map(Keyed::key_hash), next.as_ref()) {
                        self.stopped = Some(e);
                        batch.next = Hint::Done;
                    }
                    self.fetched = true;
                    if self.src.shared.is_some() {
                        self.tally_shared(walk, &batch.items);
                    }
                    let (mut items, at) = if self.held.is_empty() {
                        (batch.items, batch.at)
                    } else {
                        let mut items = std::mem::take(&mut self.held);
                        items.extend(batch.items);
                        walk.sort(&mut items);
                        // A provider that repeats its page sends the held calls again.
                        items.dedup_by(|a, b| a.remote_id == b.remote_id);
                        (items, self.held_at.take())
                    };
                    if batch.splits_ties && batch.next != Hint::Done {
                        let last = items.last().map(start_of);
                        let keep = items.iter().rposition(|c| Some(start_of(c)) != last).map_or(0, |i| i + 1);
                        self.held = items.split_off(keep);
                        self.held_at = at.clone();
                    }
                    self.next = Some(batch.next);
                    for call in items {
                        let wanted =
                            if forward { !self.pos.cut.taken(seq, &call) } else { self.pos.cut.taken(seq, &call) };
                        if wanted && self.src.query.matches(&call) {
                            self.buf.push_back((call, at.clone()));
                        }
                    }
                }
                Err(e) => self.failed = Some(e),
            }
        }
    }

    /// The hint to store for a forward position: where this stream's head is.
    fn forward_hint(&self) -> Option<Hint> {
        if self.failed.is_some() {
            return self.pos.hint.clone();
        }
        if self.src.shared.is_some() || self.narrowed {
            // The shared read's windows and pages are not this timeline's own (nor
            // those of a query narrowed by it).
            return None;
        }
        match self.buf.front() {
            Some((_, h)) => h.clone(),
            None if !self.held.is_empty() => self.held_at.clone(),
            None => self.next.clone(),
        }
    }
}

/// One call of a merged page, with the position right after it.
#[derive(Debug, Clone)]
pub struct MergedCall {
    pub call: Call,
    /// Index of its source.
    pub source: usize,
    /// Every source's position after this call (in source order).
    pub after: Vec<StreamPos>,
}

/// A page of the timeline.
#[derive(Debug)]
pub struct MergedPage {
    /// In the timeline's order.
    pub calls: Vec<MergedCall>,
    /// More calls lie beyond the page in the direction paged (or may: a source failed).
    pub more: bool,
    /// Sources that failed (index, error).
    pub failures: Vec<(usize, ProviderError)>,
}

/// Reads `want` calls of the timeline over `sources` in `order`, from `positions`
/// (one per source): forward (after them) or backward (before them, the page
/// still in the timeline's order).
/// What identifies a fetch's position, for telling one that comes back.
fn hint_token(hint: &Hint) -> String {
    serde_json::to_string(hint).unwrap_or_default()
}

pub async fn merge(
    sources: Vec<Source>,
    positions: Vec<StreamPos>,
    order: SortDirection,
    forward: bool,
    want: usize,
) -> MergedPage {
    let seq = Walk::of(order);
    let walk = if forward { seq } else { seq.rev() };
    let mut streams: Vec<Stream> = sources
        .into_iter()
        .zip(positions)
        .map(|(src, pos)| Stream {
            src,
            pos,
            buf: VecDeque::new(),
            next: None,
            held: Vec::new(),
            held_at: None,
            fetched: false,
            failed: None,
            shared_fetches: 0,
            tally: Default::default(),
            edge: None,
            narrowed: false,
            guard: None,
            stopped: None,
        })
        .collect();
    let mut out = Vec::new();
    loop {
        join_all(streams.iter_mut().map(|s| s.refill(seq, walk, forward))).await;
        if out.len() >= want {
            break;
        }
        // The head that comes first on this walk: start time, then rank (the rank
        // order is the same both ways, so backward is the exact reverse of forward).
        let pick = streams
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.buf.front().map(|(c, _)| (i, start_of(c), s.src.rank)))
            .min_by(|a, b| {
                let by_time = if walk == Walk::Up { a.1.cmp(&b.1) } else { b.1.cmp(&a.1) };
                let by_rank = if forward { a.2.cmp(&b.2) } else { b.2.cmp(&a.2) };
                by_time.then(by_rank)
            });
        let Some((i, _, _)) = pick else { break };
        let (call, _) = streams[i].buf.pop_front().expect("picked a head");
        if forward {
            streams[i].pos.cut.take(&call);
            let after = streams.iter().map(|s| StreamPos { cut: s.pos.cut.clone(), hint: s.forward_hint() }).collect();
            out.push(MergedCall { call, source: i, after });
        } else {
            // The position after this call (in the timeline's order) is where the
            // streams stand before it is given back.
            let after = streams.iter().map(|s| StreamPos { cut: s.pos.cut.clone(), hint: None }).collect();
            streams[i].pos.cut.untake(&call);
            out.push(MergedCall { call, source: i, after });
        }
    }
    if !forward {
        out.reverse();
    }
    let more = streams.iter().any(|s| !s.buf.is_empty() || s.failed.is_some());
    let failures = streams
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.failed.clone().or_else(|| s.stopped.clone()).map(|e| (i, e)))
        .collect();
    MergedPage { calls: out, more, failures }
}

#[cfg(test)]
mod tests;
