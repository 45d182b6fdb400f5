//! Pacing against a cost budget per time window that the provider reports in
//! response headers (Salesloft: `x-ratelimit-remaining-minute` and
//! `x-ratelimit-endpoint-cost`, 600 per minute per team, shared by every integration
//! of the team, deep pages cost more).
//!
//! The budget resets at window boundaries aligned to the wall clock (the minute,
//! which is what public Salesloft clients assume; the documentation does not say).
//! Before a request is sent its expected cost is taken from what is known to be left
//! in the current window; when it does not fit, the request waits for the next window
//! instead of being refused with 429, or fails at once with `RATE_LIMITED` and the
//! time to retry when that wait is longer than the caller may wait. Every response
//! narrows the estimate (the team's other integrations spend the same budget), and a
//! 429 empties it until the window ends.

use std::{
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::time::Instant;

/// A budget per window.
#[derive(Debug)]
pub struct CostBudget {
    window: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Index of the window the estimate is about.
    window: u64,
    /// Budget known to be left in that window (`None`: nothing known yet).
    remaining: Option<i64>,
    /// The largest budget seen in a window (its capacity, as far as we know).
    capacity: Option<i64>,
}

fn window_index(t: SystemTime, window: Duration) -> u64 {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (since.as_nanos() / window.as_nanos().max(1)) as u64
}

impl CostBudget {
    /// A budget that resets every `window` (aligned to the wall clock).
    pub fn new(window: Duration) -> Self {
        Self { window: window.max(Duration::from_millis(10)), state: Mutex::new(State::default()) }
    }

    /// Extra wait after a window boundary, for clock skew and rounding.
    fn margin(&self) -> Duration {
        (self.window / 50).clamp(Duration::from_millis(20), Duration::from_secs(1))
    }

    /// From `now` to the start of the next window, plus the margin.
    fn until_next(&self, now: SystemTime) -> Duration {
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        let w = self.window.as_nanos().max(1);
        let into = since.as_nanos() % w;
        Duration::from_nanos(u64::try_from(w - into).unwrap_or(u64::MAX)) + self.margin()
    }

    fn roll(&self, st: &mut State, now: SystemTime) {
        let w = window_index(now, self.window);
        if w > st.window {
            st.window = w;
            st.remaining = st.capacity;
        }
    }

    /// Takes `cost` at `now`, or says how long until the next window.
    fn try_take(&self, cost: u32, now: SystemTime) -> Result<(), Duration> {
        let mut st = self.state.lock().expect("budget lock");
        self.roll(&mut st, now);
        match st.remaining {
            None => Ok(()),
            Some(r) if r >= i64::from(cost) => {
                st.remaining = Some(r - i64::from(cost));
                Ok(())
            }
            Some(_) => Err(self.until_next(now)),
        }
    }

    /// Waits until `cost` fits in the budget; `Err(retry in)` when that would pass
    /// `deadline`.
    pub async fn reserve(&self, cost: u32, deadline: Instant) -> Result<(), Duration> {
        loop {
            match self.try_take(cost, SystemTime::now()) {
                Ok(()) => return Ok(()),
                Err(wait) => {
                    if Instant::now() + wait > deadline {
                        return Err(wait);
                    }
                    tracing::info!(
                        wait_ms = wait.as_millis() as u64,
                        cost,
                        "Cost budget spent; waiting for the next window."
                    );
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// What a response said: the budget left after it and what it cost.
    pub fn observe(&self, remaining: Option<i64>, cost: Option<i64>) {
        self.observe_at(remaining, cost, SystemTime::now());
    }

    fn observe_at(&self, remaining: Option<i64>, cost: Option<i64>, now: SystemTime) {
        let Some(remaining) = remaining else { return };
        let mut st = self.state.lock().expect("budget lock");
        self.roll(&mut st, now);
        let seen = remaining + cost.unwrap_or(0);
        let grew = st.capacity.is_none_or(|c| seen > c);
        st.capacity = Some(st.capacity.map_or(seen, |c| c.max(seen)));
        // Our own requests still in flight are already taken from the estimate, so the
        // lower of the two is the better bound; unless the budget turned out larger
        // than we knew (a first window shared with others), when the report wins.
        st.remaining = Some(match st.remaining {
            Some(r) if !grew => r.min(remaining),
            _ => remaining,
        });
    }

    /// The current window: its index, the time until the next one (with the margin),
    /// and the window's length.
    pub fn window_now(&self) -> (u64, Duration, Duration) {
        let now = SystemTime::now();
        (window_index(now, self.window), self.until_next(now), self.window)
    }

    /// The largest budget a window was seen to have (its capacity, as far as known).
    pub fn capacity(&self) -> Option<i64> {
        self.state.lock().expect("budget lock").capacity
    }

    /// The provider refused a request (429): nothing is left until the next window,
    /// which is returned.
    pub fn refused(&self) -> Duration {
        let now = SystemTime::now();
        let mut st = self.state.lock().expect("budget lock");
        self.roll(&mut st, now);
        st.remaining = Some(0);
        self.until_next(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    #[test]
    fn unknown_budgets_pass_then_headers_bound_them_until_the_next_window() {
        let b = CostBudget::new(Duration::from_secs(60));
        let t = at(6_000, 0);
        assert_eq!(b.try_take(1, t), Ok(()), "nothing known yet");
        b.observe_at(Some(3), Some(1), t);
        assert_eq!(b.try_take(2, t), Ok(()));
        assert_eq!(b.try_take(1, t), Ok(()));
        let wait = b.try_take(1, at(6_030, 0)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(30) + Duration::from_millis(1000).min(Duration::from_secs(60) / 50));
        // Next window: the capacity learned (3 + 1) is available again.
        for _ in 0..4 {
            assert_eq!(b.try_take(1, at(6_060, 10)), Ok(()));
        }
        assert!(b.try_take(1, at(6_060, 20)).is_err());
    }

    #[test]
    fn a_budget_learned_while_others_had_spent_it_is_corrected_by_the_next_report() {
        let b = CostBudget::new(Duration::from_secs(60));
        b.observe_at(Some(0), Some(1), at(600, 0));
        // Next window: we believe the budget is 1, Salesloft says 599 are left.
        assert_eq!(b.try_take(1, at(660, 100)), Ok(()));
        b.observe_at(Some(599), Some(1), at(660, 200));
        for _ in 0..599 {
            assert_eq!(b.try_take(1, at(660, 300)), Ok(()));
        }
        assert!(b.try_take(1, at(660, 400)).is_err());
    }

    #[test]
    fn other_integrations_spending_lower_the_estimate_and_deep_pages_need_room() {
        let b = CostBudget::new(Duration::from_secs(60));
        let t = at(12_000, 0);
        b.observe_at(Some(599), Some(1), t);
        b.observe_at(Some(5), Some(1), t);
        assert!(b.try_take(8, t).is_err(), "a page costing 8 does not fit in 5");
        assert_eq!(b.try_take(3, t), Ok(()));
        // A stale, higher report does not raise it again.
        b.observe_at(Some(400), Some(1), t);
        assert!(b.try_take(3, t).is_err());
    }

    #[tokio::test]
    async fn a_wait_past_the_deadline_fails_at_once_with_the_time_to_retry() {
        let b = CostBudget::new(Duration::from_secs(3600));
        let wait = b.refused();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(3600) + Duration::from_secs(1));
        let err = b.reserve(1, Instant::now() + Duration::from_millis(50)).await.unwrap_err();
        assert!(err > Duration::from_millis(50), "the time to retry: {err:?}");
    }
}
