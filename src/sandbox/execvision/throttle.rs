//! ExecVision's rate limit: a queue, never a 429.
//!
//! 5 requests/s from 6 AM to 9 PM US Eastern (DST-aware, `America/New_York`) and
//! 25 requests/s otherwise, as a token bucket of that capacity (a burst of `rate`
//! requests passes at once, then one request every `1/rate` s). A request beyond the
//! budget waits in a FIFO queue (its response is delayed); a request that would wait
//! `queue_timeout` (default 60 s) or more waits `queue_timeout` and is then answered
//! 504 without being served.
//!
//! Time: queueing uses tokio's clock (so `tokio::time::pause`/`advance` drive it);
//! the day/night schedule uses [`SimClock`], a wall clock that can be pinned and then
//! advances with tokio's clock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use tokio::time::Instant;

/// The simulator's wall clock: the system clock, or a pinned instant that advances
/// with tokio's (possibly paused) clock.
#[derive(Debug, Default)]
pub(crate) struct SimClock {
    pinned: Mutex<Option<(DateTime<Utc>, Instant)>>,
}

impl SimClock {
    pub(crate) fn new(start: Option<DateTime<Utc>>) -> Self {
        SimClock { pinned: Mutex::new(start.map(|t| (t, Instant::now()))) }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        match *self.pinned.lock().expect("clock lock") {
            Some((t, at)) => t + chrono::Duration::from_std(at.elapsed()).unwrap_or_default(),
            None => Utc::now(),
        }
    }

    /// Pins the wall clock to `t` from now on.
    pub(crate) fn set(&self, t: DateTime<Utc>) {
        *self.pinned.lock().expect("clock lock") = Some((t, Instant::now()));
    }
}

/// The documented rate at wall-clock time `t`: `day` from 06:00 (inclusive) to 21:00
/// (exclusive) US Eastern, else `night`.
pub fn rate_at(t: DateTime<Utc>, day: u32, night: u32) -> u32 {
    let hour = t.with_timezone(&chrono_tz::America::New_York).hour();
    if (6..21).contains(&hour) { day } else { night }
}

/// What happens to one arriving request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Served at once.
    Now,
    /// Served after waiting this long.
    Wait(Duration),
    /// Would wait `queue_timeout` or more: times out.
    Timeout,
}

#[derive(Debug)]
pub(crate) struct Throttle {
    day_rate: u32,
    night_rate: u32,
    queue_timeout: Duration,
    /// GCRA "theoretical arrival time" of the next request.
    tat: Mutex<Option<Instant>>,
    depth: AtomicUsize,
    max_depth: AtomicUsize,
    queued: AtomicU64,
    timeouts: AtomicU64,
}

/// Decrements the queue depth when a waiting request leaves (served, timed out or
/// cancelled by the client going away).
struct DepthGuard<'a>(&'a AtomicUsize);

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Throttle {
    pub(crate) fn new(day_rate: u32, night_rate: u32, queue_timeout: Duration) -> Self {
        Throttle {
            day_rate,
            night_rate,
            queue_timeout,
            tat: Mutex::new(None),
            depth: AtomicUsize::new(0),
            max_depth: AtomicUsize::new(0),
            queued: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
        }
    }

    /// Books a slot for a request arriving at `now` (tokio clock) when the wall clock
    /// reads `wall`.
    pub(crate) fn admit(&self, now: Instant, wall: DateTime<Utc>) -> Admission {
        let rate = rate_at(wall, self.day_rate, self.night_rate);
        if rate == 0 {
            return Admission::Now;
        }
        let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
        let tolerance = interval * (rate - 1);
        let mut tat = self.tat.lock().expect("throttle lock");
        let current = tat.unwrap_or(now).max(now);
        let start = current.checked_sub(tolerance).map_or(now, |t| t.max(now));
        let wait = start - now;
        if wait >= self.queue_timeout {
            return Admission::Timeout;
        }
        *tat = Some(current + interval);
        if wait.is_zero() { Admission::Now } else { Admission::Wait(wait) }
    }

    /// Waits for the request's turn; `Err(())` when it timed out in the queue.
    pub(crate) async fn acquire(&self, wall: DateTime<Utc>) -> Result<(), ()> {
        let admission = self.admit(Instant::now(), wall);
        let wait = match admission {
            Admission::Now => return Ok(()),
            Admission::Wait(d) => d,
            Admission::Timeout => self.queue_timeout,
        };
        let depth = self.depth.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = DepthGuard(&self.depth);
        self.max_depth.fetch_max(depth, Ordering::SeqCst);
        self.queued.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(wait).await;
        if admission == Admission::Timeout {
            self.timeouts.fetch_add(1, Ordering::SeqCst);
            return Err(());
        }
        Ok(())
    }

    pub(crate) fn depth(&self) -> usize {
        self.depth.load(Ordering::SeqCst)
    }

    pub(crate) fn max_depth(&self) -> usize {
        self.max_depth.load(Ordering::SeqCst)
    }

    pub(crate) fn queued(&self) -> u64 {
        self.queued.load(Ordering::SeqCst)
    }

    pub(crate) fn timeouts(&self) -> u64 {
        self.timeouts.load(Ordering::SeqCst)
    }

    /// Forgets the deepest-queue and counters (not the current bookings).
    pub(crate) fn reset_stats(&self) {
        self.max_depth.store(self.depth(), Ordering::SeqCst);
        self.queued.store(0, Ordering::SeqCst);
        self.timeouts.store(0, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn schedule_is_eastern_and_dst_aware() {
        // Winter (EST, UTC-5): 6 AM ET = 11:00 UTC, 9 PM ET = 02:00 UTC next day.
        assert_eq!(rate_at(utc(2026, 1, 14, 10, 59), 5, 25), 25);
        assert_eq!(rate_at(utc(2026, 1, 14, 11, 0), 5, 25), 5);
        assert_eq!(rate_at(utc(2026, 1, 15, 1, 59), 5, 25), 5);
        assert_eq!(rate_at(utc(2026, 1, 15, 2, 0), 5, 25), 25);
        // Summer (EDT, UTC-4): 6 AM ET = 10:00 UTC.
        assert_eq!(rate_at(utc(2026, 7, 14, 10, 0), 5, 25), 5);
        assert_eq!(rate_at(utc(2026, 7, 14, 9, 59), 5, 25), 25);
        // Across the March switch, 10:30 UTC is night before and day after.
        assert_eq!(rate_at(utc(2026, 3, 7, 10, 30), 5, 25), 25);
        assert_eq!(rate_at(utc(2026, 3, 9, 10, 30), 5, 25), 5);
        // And back in November.
        assert_eq!(rate_at(utc(2026, 10, 30, 10, 30), 5, 25), 5);
        assert_eq!(rate_at(utc(2026, 11, 2, 10, 30), 5, 25), 25);
    }

    #[test]
    fn burst_then_spacing_then_timeout() {
        let t = Throttle::new(5, 25, Duration::from_secs(60));
        let day = utc(2026, 1, 14, 15, 0);
        let now = Instant::now();
        for _ in 0..5 {
            assert_eq!(t.admit(now, day), Admission::Now);
        }
        assert_eq!(t.admit(now, day), Admission::Wait(Duration::from_millis(200)));
        assert_eq!(t.admit(now, day), Admission::Wait(Duration::from_millis(400)));
        // Two seconds later the bucket is full again.
        let later = now + Duration::from_secs(2);
        for _ in 0..5 {
            assert_eq!(t.admit(later, day), Admission::Now);
        }
        assert!(matches!(t.admit(later, day), Admission::Wait(_)));
        // Flood: eventually a request would wait >= 60 s and times out (not booked).
        let mut last = Admission::Now;
        for _ in 0..400 {
            last = t.admit(later, day);
            if last == Admission::Timeout {
                break;
            }
        }
        assert_eq!(last, Admission::Timeout);
        assert_eq!(t.admit(later, day), Admission::Timeout);
        // Night: 25 at once.
        let n = Throttle::new(5, 25, Duration::from_secs(60));
        let night = utc(2026, 1, 14, 3, 0);
        for _ in 0..25 {
            assert_eq!(n.admit(now, night), Admission::Now);
        }
        assert_eq!(n.admit(now, night), Admission::Wait(Duration::from_millis(40)));
        let off = Throttle::new(0, 0, Duration::from_secs(60));
        assert!((0..1000).all(|_| off.admit(now, day) == Admission::Now));
    }
}
