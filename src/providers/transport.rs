//! The one place that sends provider requests: limiter → send → classify → retry.
//!
//! Policy (per connection): a GCRA limiter at the provider's documented rate (burst 1,
//! so even jittered arrivals stay inside the provider's window); a 429's `Retry-After`
//! pauses the whole connection; 429, 5xx, timeouts and connection errors are retried
//! a bounded number of times with jittered backoff, but only for idempotent requests;
//! no wait (limiter or `Retry-After`) may exceed `max_queue_wait`: past it the request
//! fails with `RATE_LIMITED` and the time to retry instead of hanging.
//!
//! The `Authorization` header comes from [`Auth`](super::auth): fixed credentials, or
//! a client-credentials token that is renewed once when the provider answers 401.
//! Providers with a cost budget per window (Salesloft) also pace against the budget
//! their responses report ([`CostBudget`]).

use std::{
    num::NonZeroU32,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use governor::{
    DefaultDirectRateLimiter, Quota, RateLimiter,
    clock::DefaultClock,
    middleware::StateInformationMiddleware,
    state::{InMemoryState, NotKeyed},
};
use rand::Rng;
use reqwest::{Method, header::HeaderValue};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use super::{
    ProviderError, ProviderErrorKind, ProviderKind,
    auth::Auth,
    breaker::{Admit, Breaker, CircuitState},
    budget::CostBudget,
};
use crate::{
    accounting,
    config::{Credentials, TrafficSettings},
    metrics::ConnectionMetrics,
    shared::{Shared, Turn},
};

/// How many requests per second a provider allows, possibly by time of day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateSchedule {
    /// The same rate all day.
    Fixed(f64),
    /// One rate from 6 AM to 9 PM US Eastern time (DST-aware), another at night
    /// (ExecVision: 5/s by day, 25/s at night).
    UsEasternBusinessHours { day: f64, night: f64 },
}

impl RateSchedule {
    /// The day rate, and the night rate when it differs by time of day.
    fn day_night(&self) -> (f64, Option<f64>) {
        match *self {
            Self::Fixed(rate) => (rate, None),
            Self::UsEasternBusinessHours { day, night } => (day, Some(night)),
        }
    }

    /// The rate in force at `now`.
    pub fn rate_at(&self, now: chrono::DateTime<chrono::Utc>) -> f64 {
        match *self {
            Self::Fixed(rate) => rate,
            Self::UsEasternBusinessHours { day, night } => {
                if is_us_eastern_business_hours(now) {
                    day
                } else {
                    night
                }
            }
        }
    }
}

/// 6:00 (inclusive) to 21:00 (exclusive) in America/New_York.
pub fn is_us_eastern_business_hours(now: chrono::DateTime<chrono::Utc>) -> bool {
    use chrono::Timelike;
    let hour = now.with_timezone(&chrono_tz::America::New_York).hour();
    (6..21).contains(&hour)
}

/// Fully resolved traffic policy of one connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrafficPolicy {
    pub schedule: RateSchedule,
    pub timeout: Duration,
    pub max_retries: u32,
    pub max_queue_wait: Duration,
    /// Requests allowed per day (Gong: 10,000 per company), `None` for no daily cap.
    pub daily_quota: Option<u32>,
    /// Failed requests in a row that open the circuit (`0`: never).
    pub breaker_failures: u32,
    /// How long an open circuit answers at once.
    pub breaker_open_for: Duration,
}

impl TrafficPolicy {
    /// Fills what `settings` leaves out from the provider's documented schedule. A
    /// configured `rate_per_sec` replaces the schedule with that fixed rate.
    pub fn resolve(settings: &TrafficSettings, default: RateSchedule) -> Self {
        Self {
            schedule: settings.rate_per_sec.map_or(default, RateSchedule::Fixed),
            timeout: settings.timeout.unwrap_or(Duration::from_secs(30)),
            max_retries: settings.max_retries.unwrap_or(3),
            max_queue_wait: settings.max_queue_wait.unwrap_or(Duration::from_secs(15)),
            daily_quota: settings.daily_quota.filter(|n| *n > 0),
            breaker_failures: settings.breaker_failures.unwrap_or(5),
            breaker_open_for: settings.breaker_open_for.unwrap_or(Duration::from_secs(30)),
        }
    }

    /// The provider's documented daily quota, unless the settings name one (`0`
    /// turns the cap off).
    pub fn with_default_daily_quota(mut self, settings: &TrafficSettings, quota: u32) -> Self {
        if settings.daily_quota.is_none() {
            self.daily_quota = Some(quota);
        }
        self
    }
}

/// One upstream request.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub method: Method,
    /// Path below the base URL, e.g. `/v2/calls`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub json: Option<serde_json::Value>,
    /// Safe to send twice (reads, including Gong's POST queries).
    pub idempotent: bool,
    /// Expected cost against a cost budget (Salesloft deep pages cost more than 1).
    pub cost: u32,
}

impl UpstreamRequest {
    /// A GET.
    pub fn get(path: impl Into<String>) -> Self {
        Self { method: Method::GET, path: path.into(), query: Vec::new(), json: None, idempotent: true, cost: 1 }
    }
    /// A POST with a JSON body that only reads (idempotent).
    pub fn post_query(path: impl Into<String>, body: serde_json::Value) -> Self {
        Self { method: Method::POST, path: path.into(), query: Vec::new(), json: Some(body), idempotent: true, cost: 1 }
    }
    /// Adds a query parameter.
    pub fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_owned(), value.into()));
        self
    }
    /// Sets the expected cost against a cost budget.
    pub fn with_cost(mut self, cost: u32) -> Self {
        self.cost = cost;
        self
    }
}

/// A response the transport did not treat as a failure (2xx, 404, 4xx other than auth).
#[derive(Debug)]
pub struct UpstreamResponse {
    pub status: u16,
    pub body: bytes::Bytes,
}

/// Sends requests for one connection.
#[derive(Debug)]
pub struct Transport {
    provider: ProviderKind,
    connection: Arc<str>,
    client: reqwest::Client,
    base_url: Url,
    auth: Auth,
    budget: Option<CostBudget>,
    limiter: DefaultDirectRateLimiter,
    /// The night limiter of a day/night schedule.
    night_limiter: Option<DefaultDirectRateLimiter>,
    /// The daily quota: a bucket of `daily_quota` requests refilled evenly over a day.
    daily: Option<DailyLimiter>,
    /// Requests left in the daily bucket after the last one sent.
    daily_left: AtomicU64,
    policy: TrafficPolicy,
    paused_until: Mutex<Option<Instant>>,
    sent: AtomicU64,
    metrics: ConnectionMetrics,
    /// The schedule shared with the other replicas, when Redis is configured; the
    /// local limiters above then pace at the rate divided by the replica count and
    /// serve only while Redis cannot be reached.
    shared: Option<Shared>,
    /// The last turn was the local limiters' (Redis did not answer).
    acted_alone: AtomicBool,
    breaker: Breaker,
}

fn daily_limiter(quota_per_day: u32) -> Option<DailyLimiter> {
    NonZeroU32::new(quota_per_day).map(|n| {
        let per_request = Duration::from_secs(86_400) / n.get();
        let q = Quota::with_period(per_request).expect("non-zero period").allow_burst(n);
        RateLimiter::direct(q).with_middleware::<StateInformationMiddleware>()
    })
}

impl Transport {
    /// Builds the transport of one connection.
    pub fn new(
        provider: ProviderKind,
        connection: Arc<str>,
        base_url: Url,
        credentials: &Credentials,
        policy: TrafficPolicy,
    ) -> Result<Self, ProviderError> {
        let err = |m: String| ProviderError::new(provider, &connection, ProviderErrorKind::BadInput(m));
        let client = http_client(policy.timeout).map_err(|e| err(format!("http client: {e}")))?;
        let auth = Auth::new(credentials, &client).map_err(err)?;
        let (day, night) = policy.schedule.day_night();
        Ok(Self {
            limiter: RateLimiter::direct(quota(day)),
            night_limiter: night.map(|n| RateLimiter::direct(quota(n))),
            daily: policy.daily_quota.and_then(daily_limiter),
            daily_left: AtomicU64::new(policy.daily_quota.map_or(u64::MAX, u64::from)),
            provider,
            client,
            base_url,
            auth,
            budget: None,
            policy,
            paused_until: Mutex::new(None),
            sent: AtomicU64::new(0),
            metrics: ConnectionMetrics::detached(provider, connection.clone()),
            shared: None,
            acted_alone: AtomicBool::new(false),
            breaker: Breaker::new(
                policy.breaker_failures,
                policy.breaker_open_for,
                // A probe's request and its retries, with room.
                policy.timeout * (policy.max_retries + 1) + Duration::from_secs(1),
            ),
            connection,
        })
    }

    /// Shares the connection's schedule, daily quota and `Retry-After` pauses with
    /// every replica through Redis. The local limiters become the fallback for while
    /// Redis cannot be reached: the rate and quota divided by `redis.replicas`, so the
    /// replicas together stay within the provider's limits.
    pub fn with_shared(mut self, shared: Shared) -> Self {
        let n = f64::from(shared.replicas());
        let (day, night) = self.policy.schedule.day_night();
        self.limiter = RateLimiter::direct(quota(day / n));
        self.night_limiter = night.map(|r| RateLimiter::direct(quota(r / n)));
        if let Some(q) = self.policy.daily_quota {
            let share = (q / shared.replicas()).max(1);
            self.daily = daily_limiter(share);
            self.daily_left.store(u64::from(q), Ordering::Relaxed);
        }
        self.shared = Some(shared);
        self
    }

    /// Paces against a cost budget per `window` that responses report (Salesloft).
    pub fn with_cost_budget(mut self, window: Duration) -> Self {
        self.budget = Some(CostBudget::new(window));
        self
    }

    /// Reports upstream requests, limiter waits and rejections to `metrics`.
    pub fn with_metrics(mut self, metrics: ConnectionMetrics) -> Self {
        if let Some(left) = self.daily_quota_left() {
            metrics.daily_quota_left(left);
        }
        metrics.circuit(self.breaker.state());
        self.metrics = metrics;
        self
    }

    /// Requests sent so far (every attempt).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Requests left in the daily quota, when the connection has one.
    pub fn daily_quota_left(&self) -> Option<u64> {
        self.daily.as_ref().map(|_| self.daily_left.load(Ordering::Relaxed))
    }

    /// The connection's policy.
    pub fn policy(&self) -> &TrafficPolicy {
        &self.policy
    }

    fn error(&self, kind: ProviderErrorKind) -> ProviderError {
        ProviderError::new(self.provider, &self.connection, kind)
    }

    /// An error of this connection.
    pub fn error_of(&self, kind: ProviderErrorKind) -> ProviderError {
        self.error(kind)
    }

    /// A loop-proof walk over the pages of `what` on this connection.
    pub fn walk(&self, what: impl Into<std::borrow::Cow<'static, str>>) -> super::paging::Walk {
        super::paging::Walk::new(self.provider, &self.connection, what)
    }

    /// The connection's circuit now.
    pub fn circuit(&self) -> CircuitState {
        self.breaker.state()
    }

    /// Sends `req`, applying the traffic policy and the circuit breaker.
    pub async fn send(&self, req: &UpstreamRequest) -> Result<UpstreamResponse, ProviderError> {
        // The gauge changes with the state, not with every request.
        match self.breaker.admit() {
            Admit::Refuse(retry_after) => return Err(self.error(ProviderErrorKind::CircuitOpen { retry_after })),
            Admit::Go { probe: true } => self.metrics.circuit(CircuitState::HalfOpen),
            Admit::Go { probe: false } => {}
        }
        let outcome = self.send_admitted(req).await;
        match &outcome {
            Err(e) if matches!(e.kind, ProviderErrorKind::Unavailable(_)) => {
                if self.breaker.failure() {
                    self.metrics.circuit(CircuitState::Open);
                    tracing::warn!(connection = %self.connection, open_for_ms = self.policy.breaker_open_for.as_millis() as u64, "The provider keeps failing; the circuit is open.");
                }
            }
            // Our own limits said no before the provider was asked: nothing learnt.
            Err(e) if matches!(e.kind, ProviderErrorKind::RateLimited { .. } | ProviderErrorKind::QueryBudget(_)) => {}
            _ => {
                if self.breaker.success() != CircuitState::Closed {
                    self.metrics.circuit(CircuitState::Closed);
                    tracing::info!(connection = %self.connection, "The provider answers again; the circuit is closed.");
                }
            }
        }
        outcome
    }

    async fn send_admitted(&self, req: &UpstreamRequest) -> Result<UpstreamResponse, ProviderError> {
        let deadline = Instant::now() + self.policy.max_queue_wait;
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            // The query's own bound comes first: a request it may not send is not
            // worth waiting for.
            accounting::spend().map_err(|max| self.error(ProviderErrorKind::QueryBudget(max)))?;
            let waited_from = Instant::now();
            let turn = self.wait_for_turn(deadline).await;
            let turn = match (turn, &self.budget) {
                (Ok(()), Some(budget)) => self
                    .reserve_budget(budget, req.cost, deadline)
                    .await
                    .map_err(|retry_after| self.error(ProviderErrorKind::RateLimited { retry_after })),
                (turn, _) => turn,
            };
            let waited = waited_from.elapsed();
            accounting::limiter_wait(self.provider, &self.connection, waited);
            self.metrics.limiter_waited(waited);
            if turn.is_err() {
                self.metrics.limiter_rejected();
            }
            turn?;
            // A token request is an upstream request of this connection too.
            let token_request = |status| accounting::upstream_request(self.provider, &self.connection, status);
            let auth = self.auth.header(token_request).await.map_err(|k| self.error(k))?;
            self.sent.fetch_add(1, Ordering::Relaxed);
            let call = self.metrics.upstream_request(req.method.as_str(), &req.path);
            let outcome = self.send_once(req, &auth).instrument(call.span().clone()).await;
            let status = outcome.as_ref().ok().map(|r| r.status);
            call.finish(status);
            accounting::upstream_request(self.provider, &self.connection, status);
            if let Ok(resp) = &outcome {
                if let Some(budget) = &self.budget {
                    budget.observe(resp.budget_remaining, resp.budget_cost);
                    if let (Some(shared), Some(left)) = (&self.shared, resp.budget_remaining) {
                        let (window, _, len) = budget.window_now();
                        shared.observe_budget(&self.connection, window, len, left).await;
                    }
                }
                if resp.status != 401 {
                    self.auth.accepted(&auth);
                }
            }
            let retry_in = match outcome {
                Ok(resp) if resp.status == 429 => {
                    // A `Retry-After` says when to ask again; without one, a cost budget's
                    // 429 means the window is spent (and waits for the next one).
                    let after = resp
                        .retry_after
                        .or_else(|| self.budget.as_ref().map(CostBudget::refused))
                        .unwrap_or(Duration::from_secs(1));
                    self.pause(after);
                    if let Some(shared) = &self.shared {
                        shared.pause(&self.connection, after).await;
                    }
                    if !req.idempotent || attempt >= self.policy.max_retries || Instant::now() + after > deadline {
                        self.metrics.limiter_rejected();
                        return Err(self.error(ProviderErrorKind::RateLimited { retry_after: after }));
                    }
                    tracing::info!(connection = %self.connection, retry_after_ms = after.as_millis() as u64, "Provider rate limit hit; waiting.");
                    None
                }
                Ok(resp) if resp.status >= 500 => {
                    if !req.idempotent || attempt >= self.policy.max_retries {
                        return Err(self.error(ProviderErrorKind::Unavailable(format!("HTTP {}", resp.status))));
                    }
                    Some(backoff(attempt))
                }
                Ok(resp) if resp.status == 401 && !renewed && self.auth.refused(&auth).await => {
                    // A token the provider no longer takes (expired, revoked): one more
                    // try with a new one.
                    renewed = true;
                    tracing::info!(connection = %self.connection, "Access token refused; obtaining a new one.");
                    continue;
                }
                Ok(resp) if resp.status == 401 || resp.status == 403 => {
                    return Err(self.error(ProviderErrorKind::Unauthorized(resp.status)));
                }
                Ok(resp) => {
                    return Ok(UpstreamResponse { status: resp.status, body: resp.body });
                }
                Err(e) => {
                    if !req.idempotent || attempt >= self.policy.max_retries {
                        return Err(self.error(ProviderErrorKind::Unavailable(e)));
                    }
                    Some(backoff(attempt))
                }
            };
            if let Some(delay) = retry_in {
                if Instant::now() + delay > deadline {
                    return Err(self.error(ProviderErrorKind::Unavailable("retries exhausted".into())));
                }
                tokio::time::sleep(delay).await;
                accounting::limiter_wait(self.provider, &self.connection, delay);
            }
            attempt += 1;
        }
    }

    /// Waits for a pause (`Retry-After`) to end and for the limiter, within `deadline`.
    async fn wait_for_turn(&self, deadline: Instant) -> Result<(), ProviderError> {
        let paused = *self.paused_until.lock().expect("pause lock");
        if let Some(until) = paused {
            if until > deadline {
                return Err(self.error(ProviderErrorKind::RateLimited { retry_after: until - Instant::now() }));
            }
            tokio::time::sleep_until(until).await;
        }
        if let Some(shared) = &self.shared
            && let Some(turn) = self.shared_turn(shared, deadline).await
        {
            return turn;
        }
        if let Some(daily) = &self.daily {
            // A spent daily quota is not worth queueing for: fail fast with the time
            // the next request will be allowed.
            match daily.check() {
                Ok(state) => {
                    let left = u64::from(state.remaining_burst_capacity());
                    self.daily_left.store(left, Ordering::Relaxed);
                    self.metrics.daily_quota_left(left);
                }
                Err(not_until) => {
                    self.daily_left.store(0, Ordering::Relaxed);
                    self.metrics.daily_quota_left(0);
                    self.metrics.limiter_rejected();
                    let wait = not_until.wait_time_from(governor::clock::Clock::now(&DefaultClock::default()));
                    return Err(self.error(ProviderErrorKind::RateLimited { retry_after: wait }));
                }
            }
        }
        match tokio::time::timeout_at(deadline, self.current_limiter().until_ready()).await {
            Ok(()) => Ok(()),
            Err(_) => Err(self.error(ProviderErrorKind::RateLimited { retry_after: self.policy.max_queue_wait })),
        }
    }

    /// Takes `cost` from the cost budget: the replicas' shared one while Redis
    /// answers, else this process's estimate. Waits for the next window when it does
    /// not fit; `Err(retry in)` when that would pass `deadline`.
    async fn reserve_budget(&self, budget: &CostBudget, cost: u32, deadline: Instant) -> Result<(), Duration> {
        let Some(shared) = &self.shared else { return budget.reserve(cost, deadline).await };
        loop {
            let (window, until_next, len) = budget.window_now();
            match shared.take_budget(&self.connection, window, len, cost, budget.capacity()).await {
                Some(true) => return Ok(()),
                Some(false) => {
                    if Instant::now() + until_next > deadline {
                        return Err(until_next);
                    }
                    tokio::time::sleep(until_next).await;
                }
                None => return budget.reserve(cost, deadline).await,
            }
        }
    }

    /// The local limiter in force now (day or night).
    fn current_limiter(&self) -> &DefaultDirectRateLimiter {
        match &self.night_limiter {
            Some(night) if !is_us_eastern_business_hours(chrono::Utc::now()) => night,
            _ => &self.limiter,
        }
    }

    /// A turn of the schedule shared with the other replicas; `None` when Redis did
    /// not answer (the local limiters decide).
    async fn shared_turn(&self, shared: &Shared, deadline: Instant) -> Option<Result<(), ProviderError>> {
        let rate = self.policy.schedule.rate_at(chrono::Utc::now()).max(0.001);
        let interval = Duration::from_secs_f64(1.0 / rate);
        let max_wait = deadline.saturating_duration_since(Instant::now());
        // Back from acting alone: the other replicas' local requests are not in the
        // shared schedule, so leave one interval for them.
        let not_before = if self.acted_alone.load(Ordering::Relaxed) { interval } else { Duration::ZERO };
        let taken = shared.take_turn(&self.connection, interval, self.policy.daily_quota, max_wait, not_before).await;
        self.acted_alone.store(taken.is_none(), Ordering::Relaxed);
        let (turn, left) = taken?;
        if let Some(left) = left {
            self.daily_left.store(left, Ordering::Relaxed);
            self.metrics.daily_quota_left(left);
        }
        Some(match turn {
            Turn::After(wait) => {
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                // The local fallback counts this request too, so a replica that
                // loses Redis goes on at its share of the rate, without a burst.
                let _ = self.current_limiter().check();
                if let Some(daily) = &self.daily {
                    let _ = daily.check();
                }
                Ok(())
            }
            Turn::Refused { retry_after, .. } => {
                self.metrics.limiter_rejected();
                Err(self.error(ProviderErrorKind::RateLimited { retry_after }))
            }
        })
    }

    fn pause(&self, after: Duration) {
        let until = Instant::now() + after;
        let mut paused = self.paused_until.lock().expect("pause lock");
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    async fn send_once(&self, req: &UpstreamRequest, auth: &HeaderValue) -> Result<RawResponse, String> {
        let mut url = self.base_url.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{}", req.path));
        let mut builder =
            self.client.request(req.method.clone(), url).header(reqwest::header::AUTHORIZATION, auth.clone());
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        if let Some(body) = &req.json {
            builder = builder.json(body);
        }
        let started = std::time::Instant::now();
        let resp = builder.send().await.map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let number = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()?.trim().parse::<i64>().ok());
        let (budget_remaining, budget_cost) = (number(REMAINING_HEADER), number(COST_HEADER));
        let body = resp.bytes().await.map_err(|e| describe(&e))?;
        tracing::debug!(connection = %self.connection, method = %req.method, path = %req.path, status, elapsed_ms = started.elapsed().as_millis() as u64, "Upstream request.");
        Ok(RawResponse { status, body, retry_after, budget_remaining, budget_cost })
    }

    /// Decodes a JSON body into a wire model, leniently ([`super::wire`]): what had to
    /// be repaired (a field read as null, a record left out) becomes a note about
    /// that record, which the client sees with the data. Errors name the JSON path.
    pub fn decode<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, ProviderError> {
        let (decoded, issues) = super::wire::collecting(|| super::wire::decode::<T>(body));
        // A response that failed as a whole is one error, not notes about its records.
        let issues = if decoded.is_ok() { issues } else { Vec::new() };
        for issue in issues {
            let error = self.error(ProviderErrorKind::Record(issue.message));
            // About one record: kept with the data (it will read the same next time).
            // About the answer as a whole (its shape): this read only, so an odd
            // answer is not cached and the next read asks again.
            let note = match issue.record {
                Some(record) => accounting::Note::about(error, Some(record)),
                None => accounting::Note::transient(error),
            };
            accounting::note(note);
        }
        decoded.map_err(|e| self.error(ProviderErrorKind::Decode(e)))
    }

    /// An error for an unexpected status.
    pub fn status_error(&self, status: u16) -> ProviderError {
        self.error(ProviderErrorKind::Status { status })
    }
}

/// A direct limiter that reports how much of its burst is left.
type DailyLimiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

struct RawResponse {
    status: u16,
    body: bytes::Bytes,
    retry_after: Option<Duration>,
    /// `x-ratelimit-remaining-minute`.
    budget_remaining: Option<i64>,
    /// `x-ratelimit-endpoint-cost`.
    budget_cost: Option<i64>,
}

/// The budget left in the window (Salesloft).
const REMAINING_HEADER: &str = "x-ratelimit-remaining-minute";
/// The cost of the request (Salesloft).
const COST_HEADER: &str = "x-ratelimit-endpoint-cost";

/// The HTTP client of a connection (and of its token requests).
pub(crate) fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("convograph/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .build()
}

/// Transport errors without URLs (which could carry query secrets).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else if e.is_body() || e.is_decode() {
        "response body interrupted".into()
    } else {
        "request failed".into()
    }
}

/// Exponential backoff from 200 ms with ±50% jitter.
fn backoff(attempt: u32) -> Duration {
    let base = 200u64.saturating_mul(1 << attempt.min(6));
    let jitter = rand::rng().random_range(base / 2..=base + base / 2);
    Duration::from_millis(jitter)
}

/// A GCRA quota of `rate` requests per second with a burst of one.
fn quota(rate: f64) -> Quota {
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    Quota::with_period(period).expect("non-zero period").allow_burst(NonZeroU32::MIN)
}

/// `id` when it is safe to put into a URL path as one segment (provider ids are
/// UUIDs, integers or similar tokens): anything else (a slash, `..`, percent signs,
/// an overlong value) is refused before a request is made, so a client cannot steer
/// a request to another endpoint.
pub(crate) fn path_segment(id: &str) -> Option<&str> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    ok.then_some(id)
}

/// A transport to a loopback server `app` started here, for providers' unit tests:
/// no pacing to speak of, the policy's other defaults.
#[cfg(test)]
pub(crate) async fn loopback(
    provider: ProviderKind,
    connection: &str,
    credentials: &Credentials,
    app: axum::Router,
) -> Transport {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let policy = TrafficPolicy::resolve(&TrafficSettings::default(), RateSchedule::Fixed(1000.0));
    Transport::new(
        provider,
        Arc::from(connection),
        format!("http://{addr}").parse().expect("a URL"),
        credentials,
        policy,
    )
    .expect("a transport")
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn the_eastern_schedule_switches_at_6_am_and_9_pm_local_time_across_dst() {
        let schedule = RateSchedule::UsEasternBusinessHours { day: 5.0, night: 25.0 };
        // Winter (EST, UTC-5): 6 AM local = 11:00 UTC, 9 PM local = 02:00 UTC next day.
        assert_eq!(schedule.rate_at(Utc.with_ymd_and_hms(2026, 1, 15, 10, 59, 0).unwrap()), 25.0);
        assert_eq!(schedule.rate_at(Utc.with_ymd_and_hms(2026, 1, 15, 11, 0, 0).unwrap()), 5.0);
        assert_eq!(schedule.rate_at(Utc.with_ymd_and_hms(2026, 1, 16, 1, 59, 0).unwrap()), 5.0);
        assert_eq!(schedule.rate_at(Utc.with_ymd_and_hms(2026, 1, 16, 2, 0, 0).unwrap()), 25.0);
        // Summer (EDT, UTC-4): 6 AM local = 10:00 UTC.
        assert_eq!(schedule.rate_at(Utc.with_ymd_and_hms(2026, 7, 15, 10, 0, 0).unwrap()), 5.0);
        assert_eq!(schedule.rate_at(Utc.with_ymd_and_hms(2026, 7, 15, 9, 59, 0).unwrap()), 25.0);
        // The DST change day (2026-03-08): 6 AM EDT = 10:00 UTC.
        assert_eq!(schedule.rate_at(Utc.with_ymd_and_hms(2026, 3, 8, 10, 0, 0).unwrap()), 5.0);
        assert_eq!(RateSchedule::Fixed(3.0).rate_at(Utc::now()), 3.0);
    }
}
