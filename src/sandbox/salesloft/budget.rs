//! Salesloft's cost-based rate limit: a budget per window (600 per minute by
//! default) shared by every integration of the team, with deep-page surcharges.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The cost of a request with `page = page` (README §3.3): 1 up to page 100, then 3
/// (101–150), 8 (151–250), 10 (251–500) and 30 (501+).
pub fn page_cost(page: u64) -> u32 {
    match page {
        0..=100 => 1,
        101..=150 => 3,
        151..=250 => 8,
        251..=500 => 10,
        _ => 30,
    }
}

/// The cost of a request with this query string (its `page` parameter, if any).
pub(crate) fn request_cost(query: Option<&str>) -> u32 {
    let page = query
        .into_iter()
        .flat_map(|q| url::form_urlencoded::parse(q.as_bytes()))
        .filter(|(k, _)| k == "page")
        .filter_map(|(_, v)| v.trim().parse::<u64>().ok())
        .last();
    page.map_or(1, page_cost)
}

/// The index of the window holding `t` (windows are aligned to the Unix epoch).
pub fn window_index(t: SystemTime, window: Duration) -> u64 {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (since.as_nanos() / window.as_nanos().max(1)) as u64
}

/// The team's budget.
#[derive(Debug)]
pub(crate) struct TeamBudget {
    capacity: u32,
    window: Duration,
    /// (window index, cost spent in it).
    state: Mutex<(u64, u32)>,
    charged: AtomicU64,
}

impl TeamBudget {
    pub(crate) fn new(capacity: u32, window: Duration) -> Self {
        TeamBudget { capacity, window, state: Mutex::new((0, 0)), charged: AtomicU64::new(0) }
    }

    fn with_window<R>(&self, f: impl FnOnce(&mut u32) -> R) -> R {
        let now = window_index(SystemTime::now(), self.window);
        let mut st = self.state.lock().expect("budget lock");
        if st.0 != now {
            *st = (now, 0);
        }
        f(&mut st.1)
    }

    /// Charges `cost`: `Ok(remaining after)`, or `Err(remaining)` when it does not fit.
    pub(crate) fn charge(&self, cost: u32) -> Result<u32, u32> {
        if self.capacity == 0 {
            self.charged.fetch_add(u64::from(cost), Ordering::Relaxed);
            return Ok(u32::MAX);
        }
        self.with_window(|spent| {
            let remaining = self.capacity.saturating_sub(*spent);
            if cost > remaining {
                return Err(remaining);
            }
            *spent += cost;
            self.charged.fetch_add(u64::from(cost), Ordering::Relaxed);
            Ok(remaining - cost)
        })
    }

    /// Spends `cost` regardless (another integration).
    pub(crate) fn spend(&self, cost: u32) {
        self.with_window(|spent| *spent = spent.saturating_add(cost).min(self.capacity));
    }

    pub(crate) fn remaining(&self) -> u32 {
        if self.capacity == 0 {
            return u32::MAX;
        }
        self.with_window(|spent| self.capacity.saturating_sub(*spent))
    }

    pub(crate) fn charged(&self) -> u64 {
        self.charged.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_pages_cost_more() {
        assert_eq!(
            [1, 100, 101, 150, 151, 250, 251, 500, 501, 9000].map(page_cost),
            [1, 1, 3, 3, 8, 8, 10, 10, 30, 30]
        );
        assert_eq!(request_cost(Some("per_page=5&page=120")), 3);
        assert_eq!(request_cost(Some("page=x")), 1);
        assert_eq!(request_cost(None), 1);
    }

    #[test]
    fn a_charge_that_does_not_fit_is_refused_and_costs_nothing() {
        let b = TeamBudget::new(10, Duration::from_secs(3600));
        assert_eq!(b.charge(8), Ok(2));
        assert_eq!(b.charge(3), Err(2));
        assert_eq!(b.charge(2), Ok(0));
        assert_eq!(b.charged(), 10);
        b.spend(5);
        assert_eq!(b.remaining(), 0);
    }
}
