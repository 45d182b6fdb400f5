//! Pieces shared by every provider simulator: request counters, fault injection
//! (failing and held routes included),
//! a token-bucket rate limiter and a loopback server with graceful shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Whether `headers` carry HTTP Basic credentials equal to `user` and `password`.
pub(crate) fn basic_auth_matches(headers: &HeaderMap, user: &str, password: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = STANDARD.decode(token.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    text.split_once(':').is_some_and(|(u, p)| u == user && p == password)
}

/// Request counters and fault-injection switches of one simulator (cheap to clone;
/// clones share the counts).
#[derive(Clone, Debug, Default)]
pub struct SimCounters {
    inner: Arc<CountersInner>,
}

#[derive(Debug, Default)]
struct CountersInner {
    total: AtomicU64,
    rejected_429: AtomicU64,
    inject_429: AtomicU64,
    /// Pending injected failures and their status.
    inject_failures: AtomicU64,
    failure_status: AtomicU16,
    /// While non-zero, every request is answered with this status ("down").
    down: AtomicU16,
    per_route: Mutex<HashMap<(String, String), u64>>,
    /// The stuck-paging fault: on, and the first answers it repeats.
    stuck_paging: AtomicBool,
    /// Routes held (their requests wait until released), by (METHOD, route).
    held: Mutex<HashMap<(String, String), tokio::sync::watch::Sender<bool>>>,
    /// Routes failing with a status until cleared, by (METHOD, route).
    failing: Mutex<HashMap<(String, String), u16>>,
    first_pages: Mutex<HashMap<String, FirstPage>>,
}

/// A successful answer kept by the stuck-paging fault.
#[derive(Debug, Clone)]
struct FirstPage {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// Every provider's paging tokens: Gong's `cursor` (query or body), ExecVision's
/// `since` and `last_id`, Salesloft's `page`, Hubster's `leid`.
const PAGING_TOKENS: &[&str] = &["cursor", "since", "last_id", "page", "leid"];

/// The largest request body the stuck-paging fault reads.
const MAX_BODY: usize = 1 << 20;

impl SimCounters {
    /// Requests received for `method` on `route` (the path template, e.g.
    /// `/v2/calls/{id}`; unmatched paths count under `<unmatched>`).
    pub fn requests(&self, method: &str, route: &str) -> u64 {
        let map = self.inner.per_route.lock().expect("counter lock");
        map.get(&(method.to_ascii_uppercase(), route.to_string())).copied().unwrap_or(0)
    }

    /// All requests received (every status included).
    pub fn total_requests(&self) -> u64 {
        self.inner.total.load(Ordering::SeqCst)
    }

    /// Requests received by route (method, path template), sorted.
    pub fn per_route(&self) -> Vec<(String, String, u64)> {
        let map = self.inner.per_route.lock().expect("counter lock");
        let mut out: Vec<_> = map.iter().map(|((m, r), n)| (m.clone(), r.clone(), *n)).collect();
        out.sort();
        out
    }

    /// How many 429 responses were sent (rate limit and injected).
    pub fn rejected_429(&self) -> u64 {
        self.inner.rejected_429.load(Ordering::SeqCst)
    }

    /// The next `n` requests get 429 + `Retry-After: 1` (adds to any pending ones).
    pub fn inject_429(&self, n: u64) {
        self.inner.inject_429.fetch_add(n, Ordering::SeqCst);
    }

    /// The next `n` requests are answered with `status` (e.g. 500, 502, 503) and the
    /// provider's error body; replaces any pending injected failures.
    pub fn inject_failures(&self, n: u64, status: u16) {
        self.inner.failure_status.store(status, Ordering::SeqCst);
        self.inner.inject_failures.store(n, Ordering::SeqCst);
    }

    /// Takes the provider down (`Some(status)`: every request is answered with that
    /// status, e.g. 503) or brings it back (`None`).
    pub fn set_down(&self, status: Option<u16>) {
        self.inner.down.store(status.unwrap_or(0), Ordering::SeqCst);
    }

    /// The stuck-paging fault: while on, a request that differs from an earlier one
    /// only in its paging tokens gets the earlier (first) answer again, with its
    /// cursor or next page: a server that ignores the token and repeats the first
    /// page, as mocks and some real APIs do. Off clears the kept answers.
    pub fn set_stuck_paging(&self, on: bool) {
        self.inner.stuck_paging.store(on, Ordering::SeqCst);
        if !on {
            self.inner.first_pages.lock().expect("first pages lock").clear();
        }
    }

    /// Holds `method` `route` (a path template): its requests are counted on arrival,
    /// then wait, unanswered, until [`Self::release`]. Lets a test observe what a
    /// client receives while a provider read is outstanding, without sleeping.
    pub fn hold(&self, method: &str, route: &str) {
        let key = (method.to_ascii_uppercase(), route.to_owned());
        self.inner.held.lock().expect("held lock").insert(key, tokio::sync::watch::Sender::new(true));
    }

    /// Lets the held requests of `method` `route` (and later ones) through.
    pub fn release(&self, method: &str, route: &str) {
        let key = (method.to_ascii_uppercase(), route.to_owned());
        if let Some(gate) = self.inner.held.lock().expect("held lock").remove(&key) {
            gate.send_replace(false);
        }
    }

    /// Answers every request of `method` `route` with `status` (and the provider's
    /// error body) from now on (`Some`), or serves them again (`None`).
    pub fn fail_route(&self, method: &str, route: &str, status: Option<u16>) {
        let key = (method.to_ascii_uppercase(), route.to_owned());
        let mut failing = self.inner.failing.lock().expect("failing lock");
        match status {
            Some(status) => failing.insert(key, status),
            None => failing.remove(&key),
        };
    }

    /// What a simulator's gate does with a request of `method` `route` before
    /// serving it: waits while the route is held, then returns the status to answer
    /// instead (a failing route, down, or an injected failure, which this consumes).
    pub(crate) async fn injected(&self, method: &str, route: &str) -> Option<u16> {
        let key = (method.to_ascii_uppercase(), route.to_owned());
        let gate = self.inner.held.lock().expect("held lock").get(&key).map(|g| g.subscribe());
        if let Some(mut gate) = gate {
            // A dropped sender (released) lets the request through as well.
            let _ = gate.wait_for(|held| !held).await;
        }
        if let Some(status) = self.inner.failing.lock().expect("failing lock").get(&key) {
            return Some(*status);
        }
        self.take_injected_failure()
    }

    /// Serves `req` through `next`, or with the first answer kept for it while paging
    /// is stuck. Every simulator's gate ends with this.
    pub(crate) async fn serve(&self, req: Request, next: Next) -> Response {
        if !self.inner.stuck_paging.load(Ordering::SeqCst) {
            return next.run(req).await;
        }
        let (parts, body) = req.into_parts();
        let Ok(body) = to_bytes(body, MAX_BODY).await else {
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        };
        let key = unpaged_key(&parts, &body);
        if let Some(first) = self.inner.first_pages.lock().expect("first pages lock").get(&key).cloned() {
            let mut resp = Response::new(Body::from(first.body));
            *resp.status_mut() = first.status;
            *resp.headers_mut() = first.headers;
            return resp;
        }
        let resp = next.run(Request::from_parts(parts, Body::from(body))).await;
        let (head, body) = resp.into_parts();
        let Ok(body) = to_bytes(body, usize::MAX).await else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        if head.status.is_success() {
            let first = FirstPage { status: head.status, headers: head.headers.clone(), body: body.clone() };
            self.inner.first_pages.lock().expect("first pages lock").insert(key, first);
        }
        Response::from_parts(head, Body::from(body))
    }

    /// The status to answer this request with instead of serving it (down, or an
    /// injected failure, which this consumes).
    pub(crate) fn take_injected_failure(&self) -> Option<u16> {
        match self.inner.down.load(Ordering::SeqCst) {
            0 => {}
            status => return Some(status),
        }
        self.inner
            .inject_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .ok()
            .map(|_| self.inner.failure_status.load(Ordering::SeqCst))
    }

    pub(crate) fn record(&self, method: &str, route: &str) {
        self.inner.total.fetch_add(1, Ordering::SeqCst);
        let mut map = self.inner.per_route.lock().expect("counter lock");
        *map.entry((method.to_string(), route.to_string())).or_insert(0) += 1;
    }

    /// Consumes one pending injected 429, if any.
    pub(crate) fn take_injected_429(&self) -> bool {
        self.inner.inject_429.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    pub(crate) fn count_429(&self) {
        self.inner.rejected_429.fetch_add(1, Ordering::SeqCst);
    }
}

/// What a request asks for, less its paging tokens: method, path, the other query
/// parameters (sorted) and a JSON body without top-level tokens.
fn unpaged_key(parts: &Parts, body: &[u8]) -> String {
    let mut query: Vec<(String, String)> = url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
        .filter(|(k, _)| !PAGING_TOKENS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    query.sort();
    let body = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut map)) => {
            for token in PAGING_TOKENS {
                map.remove(*token);
            }
            serde_json::Value::Object(map).to_string()
        }
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    format!("{} {} {query:?} {body}", parts.method, parts.uri.path())
}

/// Token buckets keyed by caller (credentials): capacity `rate`, refilled at `rate`
/// tokens per second. `rate == 0` disables limiting.
#[derive(Debug)]
pub(crate) struct TokenBuckets {
    rate: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl TokenBuckets {
    pub(crate) fn new(rate: u32) -> Self {
        TokenBuckets { rate, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token for `key`; false when the bucket is empty.
    pub(crate) fn try_take(&self, key: &str) -> bool {
        if self.rate == 0 {
            return true;
        }
        let cap = f64::from(self.rate);
        let now = Instant::now();
        let mut map = self.buckets.lock().expect("bucket lock");
        let (tokens, last) = map.entry(key.to_string()).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * cap).min(cap);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A running simulator: where it listens, its credentials and its counters.
#[derive(Clone, Debug)]
pub struct SimHandle {
    base_url: String,
    access_key: String,
    access_key_secret: String,
    counters: SimCounters,
}

impl SimHandle {
    pub(crate) fn new(addr: SocketAddr, access_key: String, access_key_secret: String, counters: SimCounters) -> Self {
        SimHandle { base_url: format!("http://{addr}"), access_key, access_key_secret, counters }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The Basic-auth user (Gong's access key).
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The Basic-auth password (Gong's access key secret).
    pub fn access_key_secret(&self) -> &str {
        &self.access_key_secret
    }

    /// Requests received for `method` on `route` (path template, e.g. `/v2/calls/{id}`).
    pub fn requests(&self, method: &str, route: &str) -> u64 {
        self.counters.requests(method, route)
    }

    /// All requests received (429s and 401s included).
    pub fn total_requests(&self) -> u64 {
        self.counters.total_requests()
    }

    /// How many 429 responses were sent.
    pub fn rejected_429(&self) -> u64 {
        self.counters.rejected_429()
    }

    /// The next `n` requests get 429 + `Retry-After: 1`.
    pub fn inject_429(&self, n: u64) {
        self.counters.inject_429(n);
    }

    /// The next `n` requests get `status` (e.g. 500) with the provider's error body.
    pub fn inject_failures(&self, n: u64, status: u16) {
        self.counters.inject_failures(n, status);
    }

    /// `Some(status)`: every request gets `status` until `set_down(None)`.
    pub fn set_down(&self, status: Option<u16>) {
        self.counters.set_down(status);
    }

    /// While on, every page request is answered with the first page again (see
    /// [`SimCounters::set_stuck_paging`]).
    pub fn set_stuck_paging(&self, on: bool) {
        self.counters.set_stuck_paging(on);
    }

    /// The shared counters.
    pub fn counters(&self) -> &SimCounters {
        &self.counters
    }
}

/// A spawned server task with its shutdown switch.
#[derive(Debug)]
pub(crate) struct Server {
    shutdown: oneshot::Sender<()>,
    join: JoinHandle<()>,
}

impl Server {
    pub(crate) async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.join.await;
    }
}

/// Binds `127.0.0.1:0` and serves `router` until stopped.
pub(crate) async fn serve(router: Router) -> anyhow::Result<(SocketAddr, Server)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let join = tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "sandbox simulator stopped with an error");
        }
    });
    Ok((addr, Server { shutdown: tx, join }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_capacity_then_rejects() {
        let b = TokenBuckets::new(3);
        assert!(b.try_take("k"));
        assert!(b.try_take("k"));
        assert!(b.try_take("k"));
        assert!(!b.try_take("k"));
        assert!(b.try_take("other"));
        let unlimited = TokenBuckets::new(0);
        assert!((0..100).all(|_| unlimited.try_take("k")));
    }

    #[test]
    fn injected_failures_are_consumed_and_down_lasts() {
        let c = SimCounters::default();
        c.inject_failures(2, 502);
        assert_eq!(c.take_injected_failure(), Some(502));
        assert_eq!(c.take_injected_failure(), Some(502));
        assert_eq!(c.take_injected_failure(), None);
        c.set_down(Some(503));
        assert_eq!(c.take_injected_failure(), Some(503));
        assert_eq!(c.take_injected_failure(), Some(503));
        c.set_down(None);
        assert_eq!(c.take_injected_failure(), None);
    }

    #[test]
    fn injected_429s_are_consumed() {
        let c = SimCounters::default();
        c.inject_429(2);
        assert!(c.take_injected_429());
        assert!(c.take_injected_429());
        assert!(!c.take_injected_429());
    }
}
