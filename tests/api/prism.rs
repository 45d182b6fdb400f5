//! convograph against a Gong mock that is not ours: Stoplight Prism (npm
//! `@stoplight/prism-cli`, installed in `tests/gateway` by `scripts/test.sh`) serving
//! Gong's own OpenAPI document (`tests/fixtures/gong/openapi.json`), once from the
//! document's examples (static mode: every page names the same cursor) and once with
//! responses generated from its schemas (dynamic mode, seeded).
//!
//! A counting proxy on loopback sits between convograph and Prism, so the upstream
//! requests of each root field are counted by the test, not only by convograph. Every
//! root field must answer within 5 s with HTTP 200 and data or coded errors, and
//! spend few requests: the document's repeated cursor ends a walk at once.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    process::Stdio,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::IntoResponse,
};
use convograph::{
    config::{ConnectionSettings, CredentialsConfig, SecretSource, Settings},
    providers::ProviderKind,
    schema::id::{Kind, encode},
    startup::Application,
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::oneshot,
};

/// The bound on each root field's answer (the issue's 5 s).
const FIELD_DEADLINE: Duration = Duration::from_secs(5);
/// The most upstream requests one root field may spend against the mock. A walk over
/// a repeating cursor stops after at most 2 extra requests; a few fields read two
/// lists (users, then calls or stats), and a person's newest calls at Gong (which lists
/// oldest first) are found by probing time windows.
const FIELD_REQUEST_BOUND: u64 = 16;
/// Bound on Prism's start (Node loads the 11,000-line document).
const START_DEADLINE: Duration = Duration::from_secs(90);
const CONNECTION: &str = "gong-prism";

/// A Prism process; killed when dropped.
struct Prism {
    _child: Child,
    base_url: String,
}

impl Prism {
    /// Starts `prism mock` on a free loopback port and waits for the line that says it
    /// listens (its own readiness signal, not a sleep).
    async fn start(extra: &[&str]) -> Prism {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let bin = root.join("tests/gateway/node_modules/.bin/prism");
        assert!(
            bin.exists(),
            "Prism is missing: run `npm ci --prefix tests/gateway` (scripts/test.sh does) for @stoplight/prism-cli"
        );
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let doc = root.join("tests/fixtures/gong/openapi.json");
        let mut cmd = Command::new(bin);
        cmd.arg("mock")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(extra)
            .arg(doc)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("cannot run Prism (Node.js 20+ is required)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = Vec::new();
        let ready = tokio::time::timeout(START_DEADLINE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("Prism is listening") {
                    return true;
                }
                seen.push(line);
            }
            false
        })
        .await;
        assert!(matches!(ready, Ok(true)), "Prism did not start ({ready:?}):\n{}", seen.join("\n"));
        // Keep draining its log (one line per request) so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Prism { _child: child, base_url: format!("http://127.0.0.1:{port}") }
    }
}

/// A loopback proxy that forwards every request to Prism and counts them.
#[derive(Clone)]
struct CountingProxy {
    upstream: String,
    client: reqwest::Client,
    requests: Arc<AtomicU64>,
    /// Where Prism says its own answer breaks the document's schema (its
    /// `sl-violations` header): path -> the violations, e.g. `calls.0.metaData.started
    /// must be string` where the document's example gives epoch seconds.
    violations: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>>,
}

impl CountingProxy {
    async fn start(upstream: &str) -> (CountingProxy, SocketAddr) {
        let proxy = CountingProxy {
            upstream: upstream.to_owned(),
            client: reqwest::Client::new(),
            requests: Arc::new(AtomicU64::new(0)),
            violations: Arc::default(),
        };
        let app = Router::new().fallback(forward).with_state(proxy.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (proxy, addr)
    }

    fn take(&self) -> u64 {
        self.requests.swap(0, Ordering::SeqCst)
    }
}

async fn forward(
    State(proxy): State<CountingProxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    proxy.requests.fetch_add(1, Ordering::SeqCst);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = proxy.client.request(method, format!("{}{path}", proxy.upstream)).body(body);
    for name in ["authorization", "content-type", "accept"] {
        if let Some(v) = headers.get(name) {
            req = req.header(name, v);
        }
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            let content_type = resp.headers().get("content-type").cloned();
            let reported = resp.headers().get("sl-violations").and_then(|v| v.to_str().ok());
            if let Some(list) = reported.and_then(|v| serde_json::from_str::<Vec<Value>>(v).ok()) {
                let mut all = proxy.violations.lock().unwrap();
                let seen = all.entry(uri.path().to_owned()).or_default();
                for v in list {
                    let at: Vec<&str> =
                        v["location"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                    if at.first() == Some(&"response") {
                        seen.insert(format!("{}: {}", at[2..].join("."), v["code"].as_str().unwrap_or("?")));
                    }
                }
            }
            let bytes = resp.bytes().await.unwrap_or_default();
            let mut out = (status, bytes).into_response();
            if let Some(ct) = content_type {
                out.headers_mut().insert("content-type", ct);
            }
            out
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// convograph with one Gong connection at `base_url`, open (no client auth), caches off
/// so every query reads the mock.
async fn spawn_convograph(base_url: &str) -> (SocketAddr, oneshot::Sender<()>) {
    let dir = std::env::temp_dir();
    let key = dir.join(format!("convograph-prism-key-{}", std::process::id()));
    std::fs::write(&key, "prism-key").unwrap();
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings.auth.open = true;
    settings.cache.calls_ttl = Duration::ZERO;
    settings.cache.users_ttl = Duration::ZERO;
    settings.cache.transcripts_ttl = Duration::ZERO;
    settings.cache.stats_ttl = Duration::ZERO;
    settings.cache.responses_max_mib = 0;
    settings.connections.push(ConnectionSettings {
        webhook: None,
        id: CONNECTION.into(),
        provider: ProviderKind::Gong,
        base_url: base_url.parse().unwrap(),
        credentials: CredentialsConfig::Basic {
            username: SecretSource::File(key.clone()),
            password: SecretSource::File(key),
        },
        time_zone: Some("America/New_York".into()),
        workspace_id: Some("623457276584334".into()),
        conversation_ids: Vec::new(),
        traffic: Default::default(),
    });
    // The mock answers at once: no need to pace it like the real Gong (3/s).
    settings.traffic.gong.rate_per_sec = Some(1_000.0);
    let app = Application::build(settings).await.expect("app builds");
    let addr = app.local_addr();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    (addr, tx)
}

/// The queries every root field is asked with. `$user`, `$call`, `$email` come from
/// the first user and call the lists returned (or made-up ids when they returned none).
const FIELDS: &[(&str, &str)] = &[
    ("connections", "{ connections { id provider rateLimit { dailyQuota } } }"),
    ("providers", "{ providers { provider } }"),
    ("users", "{ users(first: 5) { totalCount edges { node { id email name } } } }"),
    ("users(connectionId)", r#"{ users(connectionId: "gong-prism", first: 5) { edges { node { id email } } } }"#),
    ("user(id)", "query($user: ID) { user(id: $user) { id email name calls(first: 2) { edges { node { id } } } } }"),
    ("user(email)", "query($email: String) { user(email: $email) { id email identities { remoteId } } }"),
    (
        "calls",
        r#"{ calls(first: 5, filter: { startedFrom: "2018-01-01T00:00:00Z" }) { edges { node { id title startedAt duration host { id } } } } }"#,
    ),
    (
        "calls(connectionId)",
        r#"{ calls(connectionId: "gong-prism", first: 5) { pageInfo { hasNextPage } edges { node { id title startedAt direction medium transcript { text } scores { edges { node { id } } } } } } }"#,
    ),
    ("call(id)", "query($call: ID!) { call(id: $call) { id title startedAt participants { name } } }"),
    ("node(call)", "query($call: ID!) { node(id: $call) { id ... on Call { title } } }"),
    ("node(user)", "query($user: ID!) { node(id: $user) { id ... on User { email } } }"),
    (
        "activity",
        r#"{ activity(startTime: "2024-01-01T00:00:00Z", endTime: "2024-02-01T00:00:00Z") { edges { node { id } } } }"#,
    ),
    (
        "interactions",
        r#"{ interactions(startTime: "2024-01-01T00:00:00Z", endTime: "2024-02-01T00:00:00Z") { edges { node { id } } } }"#,
    ),
    ("scores", "{ scores(first: 5) { edges { node { id } } } }"),
    ("scorecards", "{ scorecards(first: 5) { edges { node { id name } } } }"),
    (
        "coaching",
        r#"query($user: ID!) { coaching(managerId: $user, startTime: "2024-01-01T00:00:00Z", endTime: "2024-02-01T00:00:00Z") { __typename } }"#,
    ),
    ("coachingPlans", "{ coachingPlans(first: 5) { edges { node { id } } } }"),
    ("teams", "{ teams(first: 5) { edges { node { id } } } }"),
    ("topics", "{ topics(first: 5) { edges { node { id } } } }"),
    (
        "_entities",
        r#"query($reps: [_Any!]!) { _entities(representations: $reps) { ... on User { id email } ... on Call { id title } } }"#,
    ),
];

/// What every root field gave, and where Prism found the document's own answers at
/// odds with its schema.
struct Run {
    outcomes: Vec<Outcome>,
    violations: BTreeMap<String, BTreeSet<String>>,
}

struct Outcome {
    field: &'static str,
    requests: u64,
    elapsed: Duration,
    data: bool,
    codes: Vec<String>,
    body: Value,
}

/// Runs every root field against convograph over Prism started with `extra`; asserts
/// the contract; returns the outcomes (printed as a table).
async fn every_root_field_answers(extra: &[&str]) -> Run {
    let prism = Prism::start(extra).await;
    let (proxy, proxy_addr) = CountingProxy::start(&prism.base_url).await;
    let (addr, _stop) = spawn_convograph(&format!("http://{proxy_addr}")).await;
    let client = reqwest::Client::new();
    let post = |query: &str, variables: Value| {
        client
            .post(format!("http://{addr}/graphql"))
            .header("x-convograph-debug", "1")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
    };

    // Ids to ask for: the first user and call the lists give, else made-up ones.
    let lists = post(
        r#"{ users(connectionId: "gong-prism", first: 1) { edges { node { id email } } }
             calls(connectionId: "gong-prism", first: 1) { edges { node { id } } } }"#,
        json!({}),
    )
    .await
    .unwrap()
    .json::<Value>()
    .await
    .unwrap();
    let user = lists["data"]["users"]["edges"][0]["node"]["id"]
        .as_str()
        .map_or_else(|| encode(Kind::User, CONNECTION, "234599484848423").0, str::to_owned);
    let email = lists["data"]["users"]["edges"][0]["node"]["email"].as_str().unwrap_or("test@test.com").to_owned();
    let call = lists["data"]["calls"]["edges"][0]["node"]["id"]
        .as_str()
        .map_or_else(|| encode(Kind::Call, CONNECTION, "7782342274025937895").0, str::to_owned);
    let variables = json!({
        "user": user, "email": email, "call": call,
        "reps": [
            { "__typename": "User", "id": user },
            { "__typename": "User", "email": email },
            { "__typename": "Call", "id": call },
        ],
    });
    proxy.take();

    let mut out = Vec::new();
    for (field, query) in FIELDS {
        let started = Instant::now();
        let resp = tokio::time::timeout(FIELD_DEADLINE, post(query, variables.clone()))
            .await
            .unwrap_or_else(|_| panic!("{field}: no answer within {FIELD_DEADLINE:?}"))
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(resp.status(), 200, "{field}: HTTP {}", resp.status());
        let body: Value = resp.json().await.unwrap();
        let requests = proxy.take();
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        let codes: Vec<String> = errors
            .iter()
            .map(|e| {
                e["extensions"]["code"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{field}: an error without extensions.code: {e}"))
                    .to_owned()
            })
            .collect();
        for e in &errors {
            assert_ne!(e["extensions"]["code"], "INTERNAL", "{field}: {e}");
            let text = e["message"].as_str().unwrap_or_default();
            assert!(!text.contains("prism-key"), "{field}: a secret in an error: {e}");
        }
        let data = body["data"].as_object().is_some_and(|d| d.values().any(|v| !v.is_null()));
        assert!(data || !codes.is_empty(), "{field}: neither data nor a coded error: {body}");
        // convograph's own count agrees with the proxy's.
        let own = body["extensions"]["convograph"]["upstreamRequests"].as_u64().unwrap_or(0);
        assert_eq!(own, requests, "{field}: convograph counted {own}, the proxy {requests}: {body}");
        assert!(requests <= FIELD_REQUEST_BOUND, "{field}: {requests} upstream requests: {body}");
        out.push(Outcome { field, requests, elapsed, data, codes, body });
    }
    println!("Prism {extra:?}: field | upstream requests | ms | data | error codes");
    for o in &out {
        let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &o.codes {
            *codes.entry(c).or_default() += 1;
        }
        println!("  {:22} {:3} {:5} {:5} {codes:?}", o.field, o.requests, o.elapsed.as_millis(), o.data);
    }
    let violations = proxy.violations.lock().unwrap().clone();
    println!("Where Prism found its answers at odds with the document's schema:");
    for (path, list) in &violations {
        println!("  {path}: {list:?}");
    }
    Run { outcomes: out, violations }
}

fn outcome<'a>(all: &'a [Outcome], field: &str) -> &'a Outcome {
    all.iter().find(|o| o.field == field).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_root_field_answers_over_prism_serving_gongs_examples() {
    let run = every_root_field_answers(&[]).await;
    let all = &run.outcomes;
    // The document's examples: one user, one call (with epoch times where the schema
    // says ISO strings), and a cursor on every page. Reading them is the point.
    let calls = run.violations.get("/v2/calls/extensive").cloned().unwrap_or_default();
    assert!(
        calls.contains("calls.0.metaData.started: type"),
        "Prism no longer flags the example's epoch times: {calls:?}"
    );
    for field in ["users", "users(connectionId)", "user(id)", "user(email)", "calls(connectionId)", "call(id)"] {
        let o = outcome(all, field);
        assert!(o.data, "{field} gave no data: {:?}", o.codes);
    }
    // The example's `started: 1518863400` (epoch seconds where the schema says an
    // ISO string) is read as the time it means.
    let call = &outcome(all, "calls(connectionId)").body["data"]["calls"]["edges"][0]["node"];
    assert_eq!(call["startedAt"], "2018-02-17T10:30:00+00:00", "{call}");
    // The repeated cursor is reported, not followed: one page plus at most two more.
    let users = outcome(all, "users(connectionId)");
    assert!(users.codes.iter().any(|c| c == "UPSTREAM_PAGING_LOOP"), "{:?}", users.codes);
    assert!(users.requests <= 3, "{} requests for a one-page list", users.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_root_field_answers_over_prism_generating_from_gongs_schemas() {
    let run = every_root_field_answers(&["--dynamic", "--seed", "convograph"]).await;
    // Seeded generation names the same cursor on every page: the walks must end.
    let users = outcome(&run.outcomes, "users(connectionId)");
    assert!(users.codes.iter().any(|c| c == "UPSTREAM_PAGING_LOOP"), "{:?}", users.codes);
    assert!(users.data, "{:?}", users.codes);
}
