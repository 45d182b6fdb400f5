//! State that replicas share through Redis: each connection's rate schedule and
//! daily quota, `Retry-After` pauses, and (see [`crate::cache`]) cached provider
//! results, persisted queries and whole responses.
//!
//! Redis is a helper, never a dependency of a request: every command has a short
//! timeout (`redis.timeout`), and a replica that cannot reach Redis acts alone —
//! local limits at the provider's rate divided by `redis.replicas`, its own cache —
//! logs the change once, shows it in `/metrics` (`convograph_redis_up`) and
//! `/readyz`, and goes back to sharing as soon as Redis answers again. The
//! connection is made in the background (a replica starts while Redis is down) and
//! re-made by the client when it drops.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use redis::{
    Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::sync::RwLock;

use crate::{config::RedisSettings, metrics::Metrics};

/// Replicas' shared state (cheap to clone).
#[derive(Clone)]
pub struct Shared {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    prefix: String,
    timeout: Duration,
    replicas: u32,
    conn: RwLock<Option<ConnectionManager>>,
    /// Whether the last command reached Redis.
    up: AtomicBool,
    /// Commands that did not (timed out or failed).
    failures: AtomicU64,
    /// When Redis was last reached after being out of reach (ms since `epoch`).
    up_since: AtomicU64,
    /// While Redis is down, commands are not tried before this (ms since `epoch`):
    /// an outage costs each request nothing, not a timeout.
    retry_at: AtomicU64,
    epoch: std::time::Instant,
    metrics: Metrics,
    /// The scripts, built (and their SHA-1 taken) once.
    gcra: Script,
    take_budget: Script,
    observe_budget: Script,
}

/// How long a replica acts alone after a failed command before trying Redis again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// How often a replica that lost Redis checks whether it is back.
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How long a replica that reached Redis again keeps pacing alone before it takes
/// turns from the shared schedule: long enough for the other replicas to have
/// reached it too (they probe every [`PROBE_EVERY`]), so local and shared pacing
/// hardly overlap.
const SCHEDULE_GRACE: Duration = Duration::from_millis(600);

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").field("prefix", &self.inner.prefix).field("up", &self.is_up()).finish()
    }
}

/// Takes a turn of a connection's shared schedule (one atomic script):
///
/// - `KEYS[1]`: the rate's theoretical arrival time (µs, Redis clock);
/// - `KEYS[2]`: the connection's pause (`Retry-After`), set with a TTL;
/// - `KEYS[3]`: the daily quota's arrival time, when the connection has one;
/// - `ARGV[1]`: µs between requests; `ARGV[2]`: the longest wait (µs) worth a
///   reservation; `ARGV[3]`: µs between daily-quota requests (0: none); `ARGV[4]`:
///   the daily quota; `ARGV[5]`: µs the request may not go before (a replica back
///   from acting alone leaves one interval for the requests Redis did not see).
///
/// GCRA with a burst of one, as the local limiter: a request may go at
/// `max(now, pause end, TAT)`, and takes the slot (TAT moves one interval on) only
/// when that is within the longest wait. Returns `{wait µs, quota left}`; a negative
/// wait is a refusal (`-wait` µs until a request could go; `quota left` 0 when the
/// daily quota is what refused).
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local max_wait = tonumber(ARGV[2])
local day_interval = tonumber(ARGV[3])
local quota = tonumber(ARGV[4])
local start = now + tonumber(ARGV[5])
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then start = now + pause * 1000 end
local left = -1
local day_tat = 0
if day_interval > 0 then
  day_tat = tonumber(redis.call('GET', KEYS[3]) or '0')
  if day_tat < now then day_tat = now end
  local tolerance = day_interval * (quota - 1)
  local used = day_tat - now
  if used > tolerance then
    return {-(used - tolerance), 0}
  end
  left = math.floor((tolerance - used) / day_interval)
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(start, tat)
local wait = at - now
if wait > max_wait then return {-wait, left} end
redis.call('SET', KEYS[1], at + interval, 'PX', math.floor((at + interval - now) / 1000) + 1000)
if day_interval > 0 then
  redis.call('SET', KEYS[3], day_tat + day_interval, 'PX', math.floor((day_tat + day_interval - now) / 1000) + 1000)
end
return {wait, left}
"#;

/// Takes `ARGV[1]` from a cost budget's window (`KEYS[1]`, what is left in it):
/// a window nobody has seen a report of starts at the capacity `ARGV[2]` (`-1`:
/// unknown, the request goes). Returns 1 when it fits (and takes it), 0 otherwise.
const TAKE_BUDGET: &str = r#"
local left = redis.call('GET', KEYS[1])
if not left then
  if tonumber(ARGV[2]) < 0 then return 1 end
  left = ARGV[2]
end
left = tonumber(left)
local cost = tonumber(ARGV[1])
if left < cost then return 0 end
redis.call('SET', KEYS[1], left - cost, 'PX', ARGV[3])
return 1
"#;

/// A response's report of what is left in a window (`ARGV[1]`): the lower of it and
/// what the replicas believe is kept (others spend the same budget).
const OBSERVE_BUDGET: &str = r#"
local left = redis.call('GET', KEYS[1])
if (not left) or tonumber(ARGV[1]) < tonumber(left) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"#;

/// What the shared schedule said about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Go after waiting this long (the slot is taken).
    After(Duration),
    /// No slot within the longest wait: the earliest a request could go, and whether
    /// the daily quota is what refused.
    Refused { retry_after: Duration, quota_spent: bool },
}

impl Shared {
    /// Starts connecting to Redis in the background; until it answers, the replica
    /// acts alone.
    pub fn connect(settings: &RedisSettings, metrics: Metrics) -> Self {
        metrics.redis_up(false);
        let shared = Self {
            inner: Arc::new(Inner {
                url: settings.url.clone(),
                prefix: settings.key_prefix.clone(),
                timeout: settings.timeout,
                replicas: settings.replicas.max(1),
                conn: RwLock::new(None),
                up: AtomicBool::new(false),
                failures: AtomicU64::new(0),
                retry_at: AtomicU64::new(0),
                up_since: AtomicU64::new(0),
                epoch: std::time::Instant::now(),
                metrics,
                gcra: Script::new(GCRA),
                take_budget: Script::new(TAKE_BUDGET),
                observe_budget: Script::new(OBSERVE_BUDGET),
            }),
        };
        let url = settings.url.clone();
        let weak = Arc::downgrade(&shared.inner);
        tokio::spawn(async move {
            let Ok(client) = redis::Client::open(url.as_str()) else {
                tracing::error!("redis.url is not a Redis URL; replicas do not share state");
                return;
            };
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(Duration::from_secs(1)))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_millis(500));
            let mut announced = false;
            loop {
                let Some(inner) = weak.upgrade() else { return };
                match ConnectionManager::new_with_config(client.clone(), config.clone()).await {
                    Ok(conn) => {
                        *inner.conn.write().await = Some(conn);
                        Shared { inner }.mark(true);
                        break;
                    }
                    Err(e) => {
                        if !announced {
                            tracing::warn!(error = %e, "Redis cannot be reached; this replica acts alone (local limits divided by redis.replicas, local cache) until it can");
                            announced = true;
                        }
                    }
                }
                drop(inner);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            // While Redis is marked down, probe it every second (requests do not wait
            // for it), so the replicas go back to sharing as soon as it answers.
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                let Some(inner) = weak.upgrade() else { return };
                let shared = Shared { inner };
                if !shared.is_up() {
                    shared.probe().await;
                }
            }
        });
        shared
    }

    /// One `PING`, whatever the retry gate says; marks Redis up or down.
    async fn probe(&self) {
        let Some(mut conn) = self.inner.conn.read().await.clone() else { return };
        let ping = redis::cmd("PING");
        let up =
            matches!(tokio::time::timeout(self.inner.timeout, ping.query_async::<String>(&mut conn)).await, Ok(Ok(_)));
        self.mark(up);
    }

    /// Whether the last command reached Redis.
    pub fn is_up(&self) -> bool {
        self.inner.up.load(Ordering::Relaxed)
    }

    /// Commands that failed or timed out so far.
    pub fn failures(&self) -> u64 {
        self.inner.failures.load(Ordering::Relaxed)
    }

    /// How many replicas share the limits (the divisor of the local fallback).
    pub fn replicas(&self) -> u32 {
        self.inner.replicas
    }

    /// The Redis URL (for connections of their own, e.g. pub/sub).
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// A key under the configured prefix.
    pub fn key(&self, parts: &[&str]) -> String {
        let mut key = self.inner.prefix.clone();
        for p in parts {
            key.push(':');
            key.push_str(p);
        }
        key
    }

    fn now_ms(&self) -> u64 {
        self.inner.epoch.elapsed().as_millis() as u64
    }

    fn mark(&self, up: bool) {
        let was = self.inner.up.swap(up, Ordering::Relaxed);
        self.inner.metrics.redis_up(up);
        if !up {
            self.inner.failures.fetch_add(1, Ordering::Relaxed);
            self.inner.metrics.redis_failed();
            let next = self.now_ms() + RETRY_AFTER_FAILURE.as_millis() as u64;
            self.inner.retry_at.store(next, Ordering::Relaxed);
        }
        match (was, up) {
            (false, true) => {
                self.inner.up_since.store(self.now_ms(), Ordering::Relaxed);
                tracing::info!("Redis reached: replicas share limits and caches")
            }
            (true, false) => tracing::warn!(
                replicas = self.inner.replicas,
                "Redis cannot be reached; this replica acts alone (local limits divided by redis.replicas, local cache) until it can"
            ),
            _ => {}
        }
    }

    /// Runs one Redis command (or script) within `redis.timeout`; `None` when Redis
    /// is not connected, fails or is too slow (and the replica then acts alone).
    pub async fn run<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.inner.conn.read().await.clone()?;
        if !self.is_up() && self.now_ms() < self.inner.retry_at.load(Ordering::Relaxed) {
            return None;
        }
        match tokio::time::timeout(self.inner.timeout, command(conn)).await {
            Ok(Ok(v)) => {
                self.mark(true);
                Some(v)
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "Redis command failed");
                self.mark(false);
                None
            }
            Err(_) => {
                self.mark(false);
                None
            }
        }
    }

    /// Takes a turn of connection `connection`'s shared schedule: one request every
    /// `interval`, a daily quota of `daily` (if any), after any shared pause; waits
    /// longer than `max_wait` are refused without taking a slot. `None`: Redis did
    /// not answer (act alone).
    pub async fn take_turn(
        &self,
        connection: &str,
        interval: Duration,
        daily: Option<u32>,
        max_wait: Duration,
        not_before: Duration,
    ) -> Option<(Turn, Option<u64>)> {
        let since = self.now_ms().saturating_sub(self.inner.up_since.load(Ordering::Relaxed));
        if !self.is_up() || since < SCHEDULE_GRACE.as_millis() as u64 {
            return None;
        }
        let keys =
            [self.key(&[connection, "rate"]), self.key(&[connection, "pause"]), self.key(&[connection, "daily"])];
        let day_interval = daily.map_or(0, |n| (86_400_000_000u64 / u64::from(n.max(1))).max(1));
        let script = &self.inner.gcra;
        let (wait, left): (i64, i64) = self
            .run(|mut conn| async move {
                script
                    .key(&keys[0])
                    .key(&keys[1])
                    .key(&keys[2])
                    .arg(interval.as_micros().max(1) as u64)
                    .arg(max_wait.as_micros() as u64)
                    .arg(day_interval)
                    .arg(daily.unwrap_or(0))
                    .arg(not_before.as_micros() as u64)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        let left = (left >= 0).then_some(left as u64);
        let turn = if wait >= 0 {
            Turn::After(Duration::from_micros(wait as u64))
        } else {
            Turn::Refused { retry_after: Duration::from_micros(wait.unsigned_abs()), quota_spent: left == Some(0) }
        };
        Some((turn, left))
    }

    /// Takes `cost` from window `window` (lasting `len`) of connection `connection`'s
    /// cost budget, shared by the replicas; `Some(false)`: it does not fit; `None`:
    /// Redis did not answer (act alone).
    pub async fn take_budget(
        &self,
        connection: &str,
        window: u64,
        len: Duration,
        cost: u32,
        capacity: Option<i64>,
    ) -> Option<bool> {
        let key = self.key(&[connection, "budget", &window.to_string()]);
        let ttl = (len * 2).as_millis().max(1) as u64;
        let script = &self.inner.take_budget;
        let taken: i64 = self
            .run(|mut conn| async move {
                script.key(&key).arg(cost).arg(capacity.unwrap_or(-1)).arg(ttl).invoke_async(&mut conn).await
            })
            .await?;
        Some(taken == 1)
    }

    /// Records what a response said is left in window `window` of the connection's
    /// cost budget.
    pub async fn observe_budget(&self, connection: &str, window: u64, len: Duration, remaining: i64) {
        let key = self.key(&[connection, "budget", &window.to_string()]);
        let ttl = (len * 2).as_millis().max(1) as u64;
        let script = &self.inner.observe_budget;
        let _: Option<i64> = self
            .run(|mut conn| async move { script.key(&key).arg(remaining).arg(ttl).invoke_async(&mut conn).await })
            .await;
    }

    /// Pauses connection `connection` on every replica for `after` (a `Retry-After`).
    /// A longer pause already in place is kept.
    pub async fn pause(&self, connection: &str, after: Duration) {
        let key = self.key(&[connection, "pause"]);
        let ms = after.as_millis().max(1) as u64;
        let _: Option<()> = self
            .run(|mut conn| async move {
                let left: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await?;
                if left < ms as i64 {
                    redis::cmd("SET").arg(&key).arg(1).arg("PX").arg(ms).query_async::<()>(&mut conn).await?;
                }
                Ok(())
            })
            .await;
    }
}
