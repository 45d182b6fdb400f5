//! Loop-proof walks over a provider's pages.
//!
//! Every walk (Gong's `records.cursor`, ExecVision's `since` + `last_id`, Salesloft's
//! `page`, the page tokens of any list) goes through a [`Walk`], which ends it when
//! the provider sends it in a circle, as a provider (or a mock of one) may:
//!
//! - a page token that comes back (the same cursor on every page, or a cycle of them);
//! - two pages in a row that bring no record not read before (a server that ignores
//!   the token and answers the first page again, with fresh-looking tokens);
//! - more pages than `limits.max_pages_per_walk` (the fuse when all else looks fine).
//!
//! So a looping provider costs at most two requests more than the pages it really
//! has. The walk ends with an error (`UPSTREAM_PAGING_LOOP`, `UPSTREAM_PAGE_LIMIT`)
//! delivered as a note: the records already read are kept and answered with it.

use std::{
    borrow::Cow,
    collections::HashSet,
    hash::{DefaultHasher, Hash, Hasher},
    sync::Arc,
};

use chrono::{DateTime, NaiveDate, Utc};

use super::{ProviderError, ProviderErrorKind, ProviderKind};
use crate::{
    accounting::{self, Note},
    domain::{Call, CallTopicMatches, CoachingPlan, Feedback, KpiObservation, Listen, Meeting, Score, Share, User},
};

/// Pages in a row without a new record that end a walk.
const STALE_PAGES: u32 = 2;

/// A stable 64-bit hash (the same in every process: `DefaultHasher::new()` has fixed
/// keys), for page tokens and record keys.
pub fn hash64(value: &(impl Hash + ?Sized)) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// The key of a provider record read as JSON: its `id` when it has one, else the
/// whole record.
pub fn raw_key(raw: &serde_json::Value) -> u64 {
    match raw.get("id") {
        Some(serde_json::Value::String(s)) => hash64(s.as_str()),
        Some(id @ serde_json::Value::Number(_)) => hash64(&id.to_string()),
        _ => hash64(&raw.to_string()),
    }
}

/// What identifies a record within its list, for telling new records from repeated
/// ones.
pub trait Keyed {
    /// Feeds the record's identity to `h`.
    fn key(&self, h: &mut DefaultHasher);

    /// The record's identity as one hash.
    fn key_hash(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.key(&mut h);
        h.finish()
    }
}

macro_rules! keyed_by_remote_id {
    ($($t:ty),*) => {$(impl Keyed for $t {
        fn key(&self, h: &mut DefaultHasher) {
            self.remote_id.hash(h);
        }
    })*};
}
keyed_by_remote_id!(User, Call, Score, CoachingPlan, Meeting);

impl Keyed for String {
    fn key(&self, h: &mut DefaultHasher) {
        self.hash(h);
    }
}

fn time(h: &mut DefaultHasher, t: Option<DateTime<Utc>>) {
    t.map(|t| t.timestamp_micros()).hash(h);
}

impl Keyed for CallTopicMatches {
    fn key(&self, h: &mut DefaultHasher) {
        self.call_remote_id.hash(h);
    }
}

impl Keyed for Listen {
    fn key(&self, h: &mut DefaultHasher) {
        (&self.call_remote_id, &self.listener_remote_id, self.date.map(|d: NaiveDate| d.to_string())).hash(h);
        self.seconds.map(f64::to_bits).hash(h);
    }
}

impl Keyed for Feedback {
    fn key(&self, h: &mut DefaultHasher) {
        (&self.call_remote_id, &self.author_remote_id, self.is_comment, self.is_highlight).hash(h);
        time(h, self.given_at);
        self.start_secs.map(f64::to_bits).hash(h);
    }
}

impl Keyed for Share {
    fn key(&self, h: &mut DefaultHasher) {
        (&self.call_remote_id, &self.sharer_remote_id, &self.recipient_remote_ids, &self.recipient_emails).hash(h);
        time(h, self.shared_at);
    }
}

impl Keyed for KpiObservation {
    fn key(&self, h: &mut DefaultHasher) {
        (&self.kpi_remote_id, &self.observer_remote_id, &self.observed_remote_id).hash(h);
        time(h, self.observed_at);
    }
}

/// One walk over the pages of one provider list.
#[derive(Debug)]
pub struct Walk {
    provider: ProviderKind,
    connection: Arc<str>,
    what: Cow<'static, str>,
    tokens: HashSet<u64>,
    keys: HashSet<u64>,
    pages: u32,
    stale: u32,
    max_pages: u32,
    /// Whether an empty step counts as one bringing nothing new (not for walks whose
    /// steps may be empty, like time windows).
    empty_is_stale: bool,
}

impl Walk {
    /// A walk over `what` (e.g. `calls`) of a connection, bounded by the current
    /// request's `limits.max_pages_per_walk`.
    pub fn new(provider: ProviderKind, connection: &Arc<str>, what: impl Into<Cow<'static, str>>) -> Self {
        Self {
            provider,
            connection: connection.clone(),
            what: what.into(),
            tokens: HashSet::new(),
            keys: HashSet::new(),
            pages: 0,
            stale: 0,
            max_pages: accounting::limits().max_pages_per_walk.max(1),
            empty_is_stale: true,
        }
    }

    /// A walk over disjoint steps that may be empty (time windows): an empty step is
    /// not a sign of a loop, but a step that brings only records read before is (a
    /// record cannot be in two disjoint windows: the provider ignored the window).
    pub fn steps_may_be_empty(mut self) -> Self {
        self.empty_is_stale = false;
        self
    }

    /// The walk starts at a page token the caller holds (so its coming back is a loop).
    pub fn starting_at(mut self, token: Option<&(impl Hash + ?Sized)>) -> Self {
        if let Some(t) = token {
            self.tokens.insert(hash64(t));
        }
        self
    }

    /// Pages read so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Takes one page read: the hashes of its records' keys and the token of the page
    /// after it. `Ok(true)`: read that page; `Ok(false)`: the list is at its end;
    /// `Err`: the walk must end here (the provider went in a circle, or the page
    /// limit is reached).
    pub fn step(
        &mut self,
        keys: impl IntoIterator<Item = u64>,
        next: Option<&(impl Hash + ?Sized)>,
    ) -> Result<bool, ProviderError> {
        let (mut seen, mut fresh) = (0, 0);
        for k in keys {
            seen += 1;
            fresh += usize::from(self.keys.insert(k));
        }
        self.turn(fresh, seen, next)
    }

    /// [`Self::step`] that also drops from `records` those read before on this walk
    /// (a provider that repeats records, or a page read again, adds nothing twice).
    pub fn step_dedup<R>(
        &mut self,
        records: &mut Vec<R>,
        key: impl Fn(&R) -> u64,
        next: Option<&(impl Hash + ?Sized)>,
    ) -> Result<bool, ProviderError> {
        let seen = records.len();
        records.retain(|r| self.keys.insert(key(r)));
        let fresh = records.len();
        self.turn(fresh, seen, next)
    }

    /// [`Self::step_dedup`] for a page that drops its own records: `retain` is given
    /// the test (new on this walk) to keep a record by its key hash.
    pub fn step_page(
        &mut self,
        retain: impl FnOnce(&mut dyn FnMut(u64) -> bool),
        next: Option<&(impl Hash + ?Sized)>,
    ) -> Result<bool, ProviderError> {
        let (mut seen, mut fresh) = (0, 0);
        retain(&mut |k| {
            let new = self.keys.insert(k);
            seen += 1;
            fresh += usize::from(new);
            new
        });
        self.turn(fresh, seen, next)
    }

    /// [`Self::step_dedup`] for a page of domain records.
    pub fn step_records<T: Keyed>(
        &mut self,
        records: &mut Vec<T>,
        next: Option<&(impl Hash + ?Sized)>,
    ) -> Result<bool, ProviderError> {
        self.step_dedup(records, Keyed::key_hash, next)
    }

    /// Ends a page of `seen` records, `fresh` of them new, that points to `next`.
    fn turn(&mut self, fresh: usize, seen: usize, next: Option<&(impl Hash + ?Sized)>) -> Result<bool, ProviderError> {
        self.pages += 1;
        let Some(next) = next else { return Ok(false) };
        if !self.tokens.insert(hash64(next)) {
            return Err(self.error(ProviderErrorKind::PagingLoop(format!(
                "{}: a page token came back after {} pages",
                self.what, self.pages
            ))));
        }
        if fresh > 0 {
            self.stale = 0;
        } else if seen > 0 || self.empty_is_stale {
            self.stale += 1;
        }
        if self.stale >= STALE_PAGES {
            return Err(self.error(ProviderErrorKind::PagingLoop(format!(
                "{}: {STALE_PAGES} pages in a row brought no new record",
                self.what
            ))));
        }
        if self.pages >= self.max_pages {
            return Err(self.error(ProviderErrorKind::PageLimit(self.max_pages)));
        }
        Ok(true)
    }

    fn error(&self, kind: ProviderErrorKind) -> ProviderError {
        ProviderError::new(self.provider, &self.connection, kind)
    }
}

/// Ends a walk early: `error` reaches the client with the records already read.
///
/// A loop belongs to what the provider answered: the records read are cached with
/// the error (and the error delivered on every hit), so a client paging through a
/// looping list does not make the provider loop again on every page. A page limit or
/// anything else belongs to this read only: what it read is not cached.
pub fn ended(error: ProviderError) {
    let note = match error.kind {
        ProviderErrorKind::PagingLoop(_) => Note::about(error, None),
        _ => Note::transient(error),
    };
    accounting::note(note);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk() -> Walk {
        Walk::new(ProviderKind::Gong, &Arc::from("g"), "calls")
    }

    #[test]
    fn a_list_that_ends_ends_the_walk() {
        let mut w = walk();
        assert!(w.step([1, 2], Some("a")).unwrap());
        assert!(w.step([3, 4], Some("b")).unwrap());
        assert!(!w.step([5], None::<&str>).unwrap());
    }

    #[test]
    fn a_repeated_token_ends_the_walk_on_the_page_that_repeats_it() {
        let mut w = walk();
        assert!(w.step([1, 2], Some("same")).unwrap());
        let e = w.step([3, 4], Some("same")).unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::PagingLoop(_)), "{e}");
        assert_eq!(w.pages(), 2);
        // A cycle of two tokens, and a token the walk started from.
        let mut w = walk();
        assert!(w.step([1], Some("a")).unwrap());
        assert!(w.step([2], Some("b")).unwrap());
        assert!(w.step([3], Some("a")).is_err());
        let mut w = walk().starting_at(Some("t0"));
        assert!(w.step([1], Some("t0")).is_err());
    }

    #[test]
    fn two_pages_without_a_new_record_end_the_walk() {
        let mut w = walk();
        assert!(w.step([1, 2], Some("a")).unwrap());
        assert!(w.step([1, 2], Some("b")).unwrap(), "one repeated page may be a provider's overlap");
        assert!(w.step([2, 1], Some("c")).is_err());
        // Empty pages that point on count the same.
        let mut w = walk();
        assert!(w.step([], Some("a")).unwrap());
        assert!(w.step([], Some("b")).is_err());
        // A new record in between resets the count.
        let mut w = walk();
        assert!(w.step([1], Some("a")).unwrap());
        assert!(w.step([1], Some("b")).unwrap());
        assert!(w.step([1, 2], Some("c")).unwrap());
        assert!(w.step([2], Some("d")).unwrap());
    }

    #[test]
    fn windows_may_be_empty_but_not_repeat_what_was_read() {
        let mut w = walk().steps_may_be_empty();
        for t in ["a", "b", "c", "d"] {
            assert!(w.step([], Some(t)).unwrap(), "empty windows, one after another");
        }
        assert!(w.step([1], Some("e")).unwrap());
        assert!(w.step([1], Some("f")).unwrap(), "one repeat may be an overlap");
        assert!(w.step([], Some("g")).unwrap());
        let e = w.step([1], Some("h")).unwrap_err();
        assert!(matches!(e.kind, ProviderErrorKind::PagingLoop(_)), "{e}");
    }

    #[test]
    fn records_read_before_on_the_walk_are_dropped() {
        let mut w = walk();
        let mut page = vec![1u64, 2, 3];
        assert!(w.step_dedup(&mut page, |k| *k, Some("a")).unwrap());
        let mut again = vec![3u64, 4, 2];
        assert!(w.step_dedup(&mut again, |k| *k, Some("b")).unwrap());
        assert_eq!(again, [4]);
    }

    #[tokio::test]
    async fn the_page_limit_is_the_current_requests() {
        let limits = accounting::UpstreamLimits { max_pages_per_walk: 3, ..Default::default() };
        accounting::scope(accounting::RequestAccount::with_limits(limits), async {
            let mut w = walk();
            assert!(w.step([1], Some("a")).unwrap());
            assert!(w.step([2], Some("b")).unwrap());
            let e = w.step([3], Some("c")).unwrap_err();
            assert!(matches!(e.kind, ProviderErrorKind::PageLimit(3)), "{e}");
        })
        .await;
    }
}
