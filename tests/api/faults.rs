//! The fault matrix: a fault-injecting proxy on loopback in front of each provider's
//! simulator, one fault at a time, switched at run time. For every provider × fault, a
//! query reading the faulty connection together with a healthy one answers HTTP 200
//! within the connection's timeout + 1 s; the healthy data is intact; the faulty part
//! is null with an error naming the connection and a stable `extensions.code`; the
//! server stays healthy; and once the fault is removed the same query (caches on, with
//! their normal TTLs) fully succeeds.
//!
//! Every (provider, fault) has a connection of its own behind the provider's proxy, so
//! the cases do not share limiter or pause state; the four provider rows run
//! concurrently, the faults of a row one after the other.

use std::{
    collections::BTreeSet,
    fmt,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use convograph::{
    config::{ConnectionSettings, CredentialsConfig, SandboxConfig, SecretSource, TrafficSettings},
    providers::ProviderKind,
    sandbox::{
        ExecVisionSimSettings, GongSimSettings, HubsterSimSettings, SalesloftSimSettings, Sandbox, SandboxSettings,
    },
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

use crate::helpers::{TEST_CALLS, TEST_PEOPLE, TestApp, spawn_with, test_settings};

/// The upstream timeout of every faulty connection.
const TIMEOUT: Duration = Duration::from_secs(1);

/// One fault the proxy injects into every request it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Forwards to the simulator unchanged.
    None,
    /// 429 to every request, with `Retry-After: 1` or without.
    Storm429 { retry_after: bool },
    /// This status with a small JSON body.
    Status(u16),
    /// Reads the request and never answers.
    Hang,
    /// Nothing listens on the port.
    Refused,
    /// The simulator's head and half its body, then a TCP reset.
    ResetMidBody,
    /// `Content-Length` of the whole body, half of it sent, then a clean close.
    Truncated,
    /// The simulator's body, one byte every 200 ms.
    Trickle,
    /// 200 with a JSON content type and a body that is not JSON.
    MalformedJson,
    /// 200 with an HTML error page.
    Html200,
    /// 200 with an empty body.
    Empty200,
    /// 200 with `{"unexpected": true}`.
    WrongShapeObject,
    /// 200 with an array where an object is expected.
    WrongShapeArray,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => write!(f, "none"),
            Self::Storm429 { retry_after: true } => write!(f, "429-retry-after"),
            Self::Storm429 { retry_after: false } => write!(f, "429-bare"),
            Self::Status(s) => write!(f, "{s}"),
            Self::Hang => write!(f, "no-answer"),
            Self::Refused => write!(f, "refused"),
            Self::ResetMidBody => write!(f, "reset-mid-body"),
            Self::Truncated => write!(f, "truncated"),
            Self::Trickle => write!(f, "trickle"),
            Self::MalformedJson => write!(f, "malformed-json"),
            Self::Html200 => write!(f, "html-200"),
            Self::Empty200 => write!(f, "empty-200"),
            Self::WrongShapeObject => write!(f, "shape-object"),
            Self::WrongShapeArray => write!(f, "shape-array"),
        }
    }
}

const FAULTS: &[Fault] = &[
    Fault::Storm429 { retry_after: true },
    Fault::Storm429 { retry_after: false },
    Fault::Status(500),
    Fault::Status(502),
    Fault::Status(503),
    Fault::Hang,
    Fault::Refused,
    Fault::ResetMidBody,
    Fault::Truncated,
    Fault::Trickle,
    Fault::MalformedJson,
    Fault::Html200,
    Fault::Empty200,
    Fault::WrongShapeObject,
    Fault::WrongShapeArray,
];

/// The code each fault must give, the same at every provider.
fn expected_code(fault: Fault) -> &'static str {
    match fault {
        Fault::Storm429 { .. } => "RATE_LIMITED",
        Fault::Status(_) | Fault::Hang | Fault::Refused | Fault::ResetMidBody | Fault::Truncated | Fault::Trickle => {
            "PROVIDER_UNAVAILABLE"
        }
        Fault::MalformedJson | Fault::Html200 | Fault::Empty200 | Fault::WrongShapeObject | Fault::WrongShapeArray => {
            "PROVIDER_ERROR"
        }
        Fault::None => unreachable!("not a fault"),
    }
}

/// Known gaps: (provider, fault, why). Their `Code` and `Recovery` failures are
/// printed, not asserted; a gap that passes fails the test, so the list only
/// shrinks. Empty: every provider meets every promise under every fault.
const KNOWN_GAPS: &[(ProviderKind, Fault, &str)] = &[];

mod proxy {
    //! A raw HTTP/1.1 proxy: one request per connection (`Connection: close`), so a
    //! fault applies to the next request at once and no pooled connection outlives a
    //! "refused".

    use super::*;

    #[derive(Debug)]
    pub(super) struct FaultProxy {
        pub(super) addr: SocketAddr,
        inner: Arc<Inner>,
        accept: Mutex<Option<JoinHandle<()>>>,
    }

    #[derive(Debug)]
    struct Inner {
        upstream: String,
        fault: Mutex<Fault>,
        client: reqwest::Client,
    }

    impl FaultProxy {
        /// A proxy on a loopback port forwarding to `upstream` (`http://host:port`).
        pub(super) async fn start(upstream: &str) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let inner = Arc::new(Inner {
                upstream: upstream.trim_end_matches('/').to_owned(),
                fault: Mutex::new(Fault::None),
                client: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap(),
            });
            let accept = Mutex::new(Some(tokio::spawn(accept_loop(listener, inner.clone()))));
            Self { addr, inner, accept }
        }

        pub(super) fn url(&self) -> String {
            format!("http://{}", self.addr)
        }

        /// Switches to `fault`: "refused" closes the listening socket; any other
        /// fault listens again on the same port.
        pub(super) async fn set(&self, fault: Fault) {
            *self.inner.fault.lock().unwrap() = fault;
            let running = self.accept.lock().unwrap().take();
            match (fault, running) {
                (Fault::Refused, Some(task)) => {
                    task.abort();
                    let _ = task.await;
                }
                (Fault::Refused, None) => {}
                (_, Some(task)) => *self.accept.lock().unwrap() = Some(task),
                (_, None) => {
                    let listener = TcpListener::bind(self.addr).await.expect("the same port again");
                    *self.accept.lock().unwrap() = Some(tokio::spawn(accept_loop(listener, self.inner.clone())));
                }
            }
        }
    }

    impl Drop for FaultProxy {
        fn drop(&mut self) {
            if let Some(task) = self.accept.lock().unwrap().take() {
                task.abort();
            }
        }
    }

    async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(serve(stream, inner.clone()));
        }
    }

    struct Request {
        method: String,
        path: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    async fn read_request(stream: &mut TcpStream) -> Option<Request> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next()?.split(' ');
        let (method, path) = (request_line.next()?.to_owned(), request_line.next()?.to_owned());
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Some(Request { method, path, headers, body })
    }

    fn head(status: u16, headers: &[(String, String)], length: usize) -> Vec<u8> {
        let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!("content-length: {length}\r\nconnection: close\r\n\r\n"));
        out.into_bytes()
    }

    async fn answer(stream: &mut TcpStream, status: u16, content_type: &str, extra: &[(&str, &str)], body: &[u8]) {
        let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
        headers.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let _ = stream.write_all(&head(status, &headers, body.len())).await;
        let _ = stream.write_all(body).await;
        let _ = stream.shutdown().await;
    }

    /// The simulator's answer: status, headers worth forwarding, body.
    async fn forward(inner: &Inner, req: &Request) -> Option<(u16, Vec<(String, String)>, Vec<u8>)> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).ok()?;
        let mut builder = inner.client.request(method, format!("{}{}", inner.upstream, req.path));
        for (k, v) in &req.headers {
            if !matches!(k.as_str(), "host" | "connection" | "content-length" | "transfer-encoding") {
                builder = builder.header(k, v);
            }
        }
        let resp = builder.body(req.body.clone()).send().await.ok()?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter(|(k, _)| {
                !matches!(k.as_str(), "content-length" | "transfer-encoding" | "connection" | "keep-alive")
            })
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let body = resp.bytes().await.ok()?.to_vec();
        Some((status, headers, body))
    }

    /// Makes the coming drop send a TCP reset (a zero linger does not block the thread).
    #[allow(deprecated)]
    fn reset(stream: &TcpStream) {
        let _ = stream.set_linger(Some(Duration::ZERO));
    }

    async fn serve(mut stream: TcpStream, inner: Arc<Inner>) {
        let Some(req) = read_request(&mut stream).await else { return };
        let fault = *inner.fault.lock().unwrap();
        const JSON: &str = "application/json";
        match fault {
            Fault::Refused => {
                // Accepted just before the switch: closed unanswered.
                reset(&stream);
            }
            Fault::Storm429 { retry_after } => {
                let extra: &[(&str, &str)] = if retry_after { &[("retry-after", "1")] } else { &[] };
                answer(&mut stream, 429, JSON, extra, br#"{"errors":["Too Many Requests"]}"#).await;
            }
            Fault::Status(s) => answer(&mut stream, s, JSON, &[], br#"{"errors":["injected failure"]}"#).await,
            Fault::Hang => {
                // Never answers; holds the connection until the client gives up.
                let mut sink = [0u8; 1024];
                let _ = tokio::time::timeout(Duration::from_secs(60), async {
                    while stream.read(&mut sink).await.is_ok_and(|n| n > 0) {}
                })
                .await;
            }
            Fault::MalformedJson => {
                answer(&mut stream, 200, JSON, &[], br#"{"records": {"totalRecords": 3,, "calls": [{"id": "#).await
            }
            Fault::Html200 => {
                let page = b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body><h1>We'll be back soon</h1></body></html>";
                answer(&mut stream, 200, "text/html; charset=utf-8", &[], page).await;
            }
            Fault::Empty200 => answer(&mut stream, 200, JSON, &[], b"").await,
            Fault::WrongShapeObject => answer(&mut stream, 200, JSON, &[], br#"{"unexpected": true}"#).await,
            Fault::WrongShapeArray => answer(&mut stream, 200, JSON, &[], br#"[{"unexpected": true}]"#).await,
            Fault::None | Fault::ResetMidBody | Fault::Truncated | Fault::Trickle => {
                let Some((status, headers, body)) = forward(&inner, &req).await else {
                    answer(&mut stream, 599, JSON, &[], br#"{"errors":["the proxy could not reach the simulator"]}"#)
                        .await;
                    return;
                };
                let _ = stream.write_all(&head(status, &headers, body.len())).await;
                let half = &body[..body.len() / 2];
                match fault {
                    Fault::ResetMidBody => {
                        let _ = stream.write_all(half).await;
                        let _ = stream.flush().await;
                        reset(&stream);
                    }
                    Fault::Truncated => {
                        let _ = stream.write_all(half).await;
                        let _ = stream.shutdown().await;
                    }
                    Fault::Trickle => {
                        let started = Instant::now();
                        for byte in &body {
                            if stream.write_all(std::slice::from_ref(byte)).await.is_err()
                                || started.elapsed() > Duration::from_secs(30)
                            {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                    _ => {
                        let _ = stream.write_all(&body).await;
                        let _ = stream.shutdown().await;
                    }
                }
            }
        }
    }
}

use proxy::FaultProxy;

const PROVIDERS: [ProviderKind; 4] =
    [ProviderKind::Gong, ProviderKind::ExecVision, ProviderKind::Salesloft, ProviderKind::Hubster];

fn conn_id(provider: ProviderKind, fault: Fault) -> String {
    format!("{}-fault-{fault}", provider.as_str())
}

fn demo_id(provider: ProviderKind) -> String {
    format!("{}-demo", provider.as_str())
}

/// The query of a case: the healthy demo connection and the faulty one, same fields.
fn both_query(provider: ProviderKind, fault: Fault) -> String {
    let fields = "totalCount edges { node { remoteId title startedAt } }";
    format!(
        r#"{{ good: calls(connectionId: "{}", first: 2) {{ {fields} }} bad: calls(connectionId: "{}", first: 2) {{ {fields} }} }}"#,
        demo_id(provider),
        conn_id(provider, fault)
    )
}

fn secret(dir: &tempfile::TempDir, name: &str, value: &str) -> SecretSource {
    let path = dir.path().join(name);
    std::fs::write(&path, value).unwrap();
    SecretSource::File(path)
}

/// The faulty connection of `provider` for `fault`: the upstream sandbox's simulator
/// behind `proxy` (the Hubster token endpoint is reached directly).
fn connection(
    provider: ProviderKind,
    fault: Fault,
    proxy: &FaultProxy,
    upstream: &Sandbox,
    dir: &tempfile::TempDir,
) -> ConnectionSettings {
    let id = conn_id(provider, fault);
    let file = |name: &str, value: &str| secret(dir, &format!("{id}-{name}"), value);
    let credentials = match provider {
        ProviderKind::Gong => CredentialsConfig::Basic {
            username: file("user", upstream.gong.access_key()),
            password: file("pass", upstream.gong.access_key_secret()),
        },
        ProviderKind::ExecVision => CredentialsConfig::Basic {
            username: file("user", upstream.execvision.user_id()),
            password: file("pass", upstream.execvision.password()),
        },
        ProviderKind::Salesloft => CredentialsConfig::Bearer { token: file("token", upstream.salesloft.token()) },
        ProviderKind::Hubster => CredentialsConfig::ClientCredentials {
            client_id: file("id", upstream.hubster.client_id()),
            client_secret: file("secret", upstream.hubster.client_secret()),
            token_url: upstream.hubster.token_url().parse().unwrap(),
            scope: None,
        },
    };
    let (time_zone, workspace_id, conversation_ids) = match provider {
        ProviderKind::Gong => (
            Some(upstream.world().time_zone.name().to_owned()),
            Some(convograph::sandbox::gong::ids::WORKSPACE_ID.to_owned()),
            Vec::new(),
        ),
        ProviderKind::Hubster => (None, None, upstream.hubster.conversation_ids()),
        _ => (None, None, Vec::new()),
    };
    ConnectionSettings {
        webhook: None,
        id,
        provider,
        base_url: proxy.url().parse().unwrap(),
        credentials,
        time_zone,
        workspace_id,
        conversation_ids,
        traffic: TrafficSettings {
            // Our own limiter is not under test here: never the reason for a wait.
            rate_per_sec: Some(100.0),
            timeout: Some(TIMEOUT),
            max_retries: Some(1),
            max_queue_wait: Some(TIMEOUT),
            daily_quota: Some(0),
            ..TrafficSettings::default()
        },
    }
}

/// Which promise a failed check breaks: a known gap excuses only `Code` and
/// `Recovery`; the answer's bounds (HTTP 200 in time, healthy data intact, errors
/// naming the connection, `/healthz`) hold in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Bound,
    Code,
    Recovery,
}

/// What one case gave.
struct Outcome {
    provider: ProviderKind,
    fault: Fault,
    codes: BTreeSet<String>,
    /// How the faulty field answered: "null" or "partial".
    shape: &'static str,
    fault_ms: u128,
    recovery_ms: u128,
    /// How the recovery went: "ok", "ok after Nms" (the `retryAfterMs` hint followed
    /// once), "next window" (Salesloft's budget, see below) or "FAILED".
    recovery: String,
    failures: Vec<(Check, String)>,
}

async fn post(app: &TestApp, query: &str) -> Result<(u16, Value), String> {
    let resp = app
        .client
        .post(app.url("/graphql"))
        .timeout(Duration::from_secs(20))
        .json(&json!({ "query": query }))
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp.json().await.map_err(|e| format!("not JSON: {e}"))?;
    Ok((status, body))
}

/// The `retryAfterMs` of an answer whose only errors are `RATE_LIMITED`.
fn rate_limited_only(body: &Value) -> Option<u64> {
    let errors = body["errors"].as_array()?;
    let all = errors.iter().all(|e| e["extensions"]["code"] == "RATE_LIMITED");
    let max = errors.iter().filter_map(|e| e["extensions"]["retryAfterMs"].as_u64()).max();
    if all { max } else { None }
}

/// A bare 429 at Salesloft means the team's cost budget of the window (a minute) is
/// spent: the connection waits for the next window, as documented
/// (`src/providers/budget.rs`), and says so; the test does not wait a minute.
fn waits_for_the_budget_window(provider: ProviderKind, fault: Fault) -> bool {
    provider == ProviderKind::Salesloft && fault == Fault::Storm429 { retry_after: false }
}

/// One provider × one fault.
async fn case(app: &TestApp, proxy: &FaultProxy, provider: ProviderKind, fault: Fault, baseline: &Value) -> Outcome {
    let bad = conn_id(provider, fault);
    let query = both_query(provider, fault);
    let mut failures: Vec<(Check, String)> = Vec::new();
    let mut fail = |check: Check, m: String| failures.push((check, m));

    proxy.set(fault).await;
    let started = Instant::now();
    let answered = post(app, &query).await;
    let elapsed = started.elapsed();
    let fault_ms = elapsed.as_millis();
    let (mut codes, mut shape) = (BTreeSet::new(), "-");
    match answered {
        Err(e) => fail(Check::Bound, format!("under the fault: {e}")),
        Ok((status, body)) => {
            if status != 200 {
                fail(Check::Bound, format!("under the fault: HTTP {status}: {body}"));
            }
            if elapsed > TIMEOUT + Duration::from_secs(1) {
                fail(Check::Bound, format!("under the fault: answered in {fault_ms} ms, past the timeout + 1 s"));
            }
            if body["data"]["good"] != *baseline {
                fail(Check::Bound, format!("the healthy connection's data changed: {}", body["data"]["good"]));
            }
            let errors = body["errors"].as_array().cloned().unwrap_or_default();
            for e in &errors {
                let ext = &e["extensions"];
                if ext["connection"] != bad.as_str() {
                    fail(Check::Bound, format!("an error that does not name {bad}: {e}"));
                }
                match ext["code"].as_str() {
                    Some(code) => {
                        codes.insert(code.to_owned());
                    }
                    None => fail(Check::Bound, format!("an error without extensions.code: {e}")),
                }
            }
            if errors.is_empty() {
                fail(Check::Code, format!("under the fault: no error: {}", body["data"]["bad"]));
            }
            shape = if body["data"]["bad"].is_null() { "null" } else { "partial" };
            if shape != "null" {
                fail(Check::Code, format!("the faulty field is not null: {}", body["data"]["bad"]));
            }
            let want = expected_code(fault);
            if codes.iter().any(|c| c != want) {
                fail(Check::Code, format!("codes {codes:?}, expected {want}"));
            }
        }
    }
    match app.client.get(app.url("/healthz")).timeout(Duration::from_secs(5)).send().await {
        Ok(r) if r.status() == 200 => {}
        Ok(r) => fail(Check::Bound, format!("/healthz answered {}", r.status())),
        Err(e) => fail(Check::Bound, format!("/healthz: {e}")),
    }

    proxy.set(Fault::None).await;
    let started = Instant::now();
    let mut recovered = post(app, &query).await;
    let mut recovery = "ok".to_owned();
    // A connection that honoured a `Retry-After` may still be inside the pause it
    // announced (`retryAfterMs`, at most the 1 s the storm asked for): a client
    // follows that hint once.
    if let Ok((200, body)) = &recovered
        && let Some(wait) = rate_limited_only(body).filter(|ms| *ms <= 1_000)
    {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        recovery = format!("ok after {wait}ms");
        recovered = post(app, &query).await;
    }
    let recovery_ms = started.elapsed().as_millis();
    match recovered {
        Err(e) => fail(Check::Recovery, format!("after the fault: {e}")),
        Ok((200, body)) if waits_for_the_budget_window(provider, fault) => {
            let announced = rate_limited_only(&body);
            if announced.is_none_or(|ms| ms > 61_000) || body["errors"][0]["extensions"]["connection"] != bad.as_str() {
                fail(Check::Recovery, format!("after the fault, not a wait for the next budget window: {body}"));
            }
            recovery = "next window".into();
        }
        Ok((status, body)) => {
            if status != 200 || body.get("errors").is_some() {
                fail(Check::Recovery, format!("after the fault: HTTP {status}: {body}"));
            } else if body["data"]["bad"] != *baseline || body["data"]["good"] != *baseline {
                fail(Check::Recovery, format!("after the fault, not the simulator's data: {}", body["data"]));
            }
        }
    }
    if failures.iter().any(|(c, _)| *c == Check::Recovery) {
        recovery = "FAILED".into();
    }
    Outcome { provider, fault, codes, shape, fault_ms, recovery_ms, recovery, failures }
}

async fn row(app: &TestApp, proxy: &FaultProxy, provider: ProviderKind) -> Vec<Outcome> {
    let probe = format!(
        r#"{{ good: calls(connectionId: "{}", first: 2) {{ totalCount edges {{ node {{ remoteId title startedAt }} }} }} }}"#,
        demo_id(provider)
    );
    let baseline = app.data(&probe, json!({})).await["good"].clone();
    assert_eq!(baseline["edges"].as_array().map(Vec::len), Some(2), "{provider}: {baseline}");
    let mut out = Vec::new();
    for &fault in FAULTS {
        out.push(case(app, proxy, provider, fault, &baseline).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_under_every_fault_answers_in_time_with_a_coded_partial_error_and_recovers() {
    let started = Instant::now();
    // The proxied simulators serve the same world as the app's own (same seed and
    // sizes), with their rate limits off: only the injected faults fail.
    let upstream = Sandbox::start(SandboxSettings {
        people: TEST_PEOPLE,
        calls: TEST_CALLS,
        gong: GongSimSettings { rate_per_sec: 0, ..GongSimSettings::default() },
        execvision: ExecVisionSimSettings { day_rate_per_sec: 0, night_rate_per_sec: 0, ..Default::default() },
        salesloft: SalesloftSimSettings { budget: 0, ..SalesloftSimSettings::default() },
        hubster: HubsterSimSettings { rate_per_sec: 0, ..HubsterSimSettings::default() },
        ..SandboxSettings::default()
    })
    .await
    .unwrap();
    let proxies = [
        FaultProxy::start(upstream.gong.base_url()).await,
        FaultProxy::start(upstream.execvision.base_url()).await,
        FaultProxy::start(upstream.salesloft.base_url()).await,
        FaultProxy::start(upstream.hubster.engine_url()).await,
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings();
    settings.sandbox = Some(SandboxConfig { providers: PROVIDERS.to_vec(), ..settings.sandbox.unwrap() });
    for (provider, proxy) in PROVIDERS.iter().zip(&proxies) {
        for &fault in FAULTS {
            settings.connections.push(connection(*provider, fault, proxy, &upstream, &dir));
        }
    }
    let app = spawn_with(settings).await;

    let rows = futures::future::join_all(PROVIDERS.iter().zip(&proxies).map(|(p, proxy)| row(&app, proxy, *p))).await;
    let outcomes: Vec<Outcome> = rows.into_iter().flatten().collect();

    println!(
        "\nFault matrix (timeout {} ms, 1 retry): provider × fault → code, ms under the fault, recovery",
        TIMEOUT.as_millis()
    );
    println!(
        "{:<11} {:<16} {:<24} {:<8} {:>6}  {:<14} {:>6}",
        "provider", "fault", "code", "field", "ms", "recovery", "ms"
    );
    for o in &outcomes {
        let codes = o.codes.iter().cloned().collect::<Vec<_>>().join(",");
        let codes = if codes.is_empty() { "(none)".to_owned() } else { codes };
        println!(
            "{:<11} {:<16} {:<24} {:<8} {:>6}  {:<14} {:>6}",
            o.provider.as_str(),
            o.fault.to_string(),
            codes,
            o.shape,
            o.fault_ms,
            o.recovery,
            o.recovery_ms
        );
    }
    let gap = |o: &Outcome| KNOWN_GAPS.iter().find(|(p, f, _)| *p == o.provider && *f == o.fault);
    let mut known = Vec::new();
    let mut failures = Vec::new();
    for o in &outcomes {
        let line = |f: &str| format!("{} × {}: {f}", o.provider.as_str(), o.fault);
        for (check, f) in &o.failures {
            match gap(o) {
                Some((_, _, why)) if *check != Check::Bound => {
                    let short: String = f.chars().take(150).collect();
                    known.push(format!("{} [{why}]", line(&short)));
                }
                _ => failures.push(line(f)),
            }
        }
        if let Some((_, _, why)) = gap(o)
            && o.failures.is_empty()
        {
            failures.push(line(&format!("listed as a known gap ({why}) but passes: take it off KNOWN_GAPS")));
        }
    }
    if !known.is_empty() {
        println!("\nKnown gaps (reported, not asserted):");
        for k in &known {
            println!("  {k}");
        }
    }
    println!("\nMatrix run in {} ms", started.elapsed().as_millis());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    upstream.shutdown().await;
}
