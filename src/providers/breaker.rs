//! A circuit breaker per connection: a provider that keeps failing (unreachable,
//! timing out, answering 5xx after the retries) stops being called for a while.
//!
//! Closed: requests go; `breaker_failures` failed requests in a row open it. Open:
//! requests are answered at once with `PROVIDER_UNAVAILABLE` (and the time to retry)
//! for `breaker_open_for`, without calling the provider. Then one request goes as a
//! probe (half-open) while the others keep being answered at once: its success closes
//! the circuit, its failure opens it again. A probe that never reports (its request
//! was dropped) is replaced after `probe_timeout`. Answers that show the provider is
//! there (any HTTP response, a 401, a 429) count as success; waits for our own limiter
//! count as nothing.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// What the circuit is doing (for `/metrics` and `/readyz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    /// `closed`, `open`, `half-open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        }
    }
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { since: Instant },
}

/// Whether a request may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Go (as the half-open probe when `probe`).
    Go { probe: bool },
    /// Answer at once: the circuit is open for about this long.
    Refuse(Duration),
}

/// One connection's breaker.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    probe_timeout: Duration,
    state: Mutex<State>,
}

impl Breaker {
    /// Opens after `threshold` failures in a row (`0`: never) for `open_for`.
    pub fn new(threshold: u32, open_for: Duration, probe_timeout: Duration) -> Self {
        Self { threshold, open_for, probe_timeout, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    /// Whether a request may go now.
    pub fn admit(&self) -> Admit {
        let now = Instant::now();
        let mut state = self.state.lock().expect("breaker lock");
        match *state {
            State::Closed { .. } => Admit::Go { probe: false },
            State::Open { until } if now < until => Admit::Refuse(until - now),
            State::HalfOpen { since } if now < since + self.probe_timeout => {
                Admit::Refuse(self.open_for.min(since + self.probe_timeout - now))
            }
            State::Open { .. } | State::HalfOpen { .. } => {
                *state = State::HalfOpen { since: now };
                Admit::Go { probe: true }
            }
        }
    }

    /// The provider answered: the circuit closes. Returns the state before.
    pub fn success(&self) -> CircuitState {
        let mut state = self.state.lock().expect("breaker lock");
        let before = Self::public(&state);
        *state = State::Closed { failures: 0 };
        before
    }

    /// A request failed; returns whether this opened the circuit.
    pub fn failure(&self) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let mut state = self.state.lock().expect("breaker lock");
        let open = State::Open { until: Instant::now() + self.open_for };
        match *state {
            State::Closed { failures } if failures + 1 >= self.threshold => {
                *state = open;
                true
            }
            State::Closed { failures } => {
                *state = State::Closed { failures: failures + 1 };
                false
            }
            State::HalfOpen { .. } => {
                *state = open;
                true
            }
            State::Open { .. } => false,
        }
    }

    /// The state now.
    pub fn state(&self) -> CircuitState {
        let state = self.state.lock().expect("breaker lock");
        match *state {
            State::Open { until } if Instant::now() >= until => CircuitState::HalfOpen,
            ref s => Self::public(s),
        }
    }

    fn public(state: &State) -> CircuitState {
        match state {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_answers_fast_then_probes_once() {
        let b = Breaker::new(3, Duration::from_millis(40), Duration::from_secs(5));
        for _ in 0..2 {
            assert_eq!(b.admit(), Admit::Go { probe: false });
            assert!(!b.failure());
        }
        assert!(b.failure(), "the third failure in a row opens it");
        assert_eq!(b.state(), CircuitState::Open);
        assert!(matches!(b.admit(), Admit::Refuse(d) if d <= Duration::from_millis(40)));
        std::thread::sleep(Duration::from_millis(45));
        assert_eq!(b.admit(), Admit::Go { probe: true }, "one probe after the open time");
        assert!(matches!(b.admit(), Admit::Refuse(_)), "the others wait for the probe");
        assert_eq!(b.success(), CircuitState::HalfOpen);
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(b.admit(), Admit::Go { probe: false });
    }

    #[test]
    fn a_failed_probe_opens_it_again_and_a_success_resets_the_count() {
        let b = Breaker::new(2, Duration::from_millis(10), Duration::from_secs(5));
        assert!(!b.failure());
        b.success();
        assert!(!b.failure(), "the count started again");
        assert!(b.failure());
        std::thread::sleep(Duration::from_millis(15));
        assert_eq!(b.admit(), Admit::Go { probe: true });
        assert!(b.failure(), "a failed probe opens it again");
        assert_eq!(b.state(), CircuitState::Open);
    }

    #[test]
    fn a_probe_that_never_reports_is_replaced() {
        let b = Breaker::new(1, Duration::from_millis(5), Duration::from_millis(20));
        assert!(b.failure());
        std::thread::sleep(Duration::from_millis(8));
        assert_eq!(b.admit(), Admit::Go { probe: true });
        std::thread::sleep(Duration::from_millis(25));
        assert_eq!(b.admit(), Admit::Go { probe: true }, "the lost probe is replaced");
    }

    #[test]
    fn a_threshold_of_zero_never_opens() {
        let b = Breaker::new(0, Duration::from_secs(1), Duration::from_secs(1));
        for _ in 0..100 {
            assert!(!b.failure());
        }
        assert_eq!(b.admit(), Admit::Go { probe: false });
    }
}
