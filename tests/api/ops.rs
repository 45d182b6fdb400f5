//! The real binary, watched as an operator would: OTLP traces reach a (fake,
//! loopback) collector with the request, resolver and upstream spans; JSON logs
//! carry request ids; and no configured secret appears in any log line, error,
//! metric, exported span or debug output of a full run, failures included.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, routing::post};
use base64::Engine;
use convograph::{
    auth::api_key_sha256,
    sandbox::{ExecVisionSimSettings, GongSimSettings, Sandbox, SandboxSettings},
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest, common::v1::any_value, trace::v1::Span,
};
use prost::Message;
use serde_json::{Value, json};

/// A collector on a loopback port that keeps every export body.
struct FakeCollector {
    endpoint: String,
    bodies: Arc<Mutex<Vec<Bytes>>>,
}

async fn fake_collector() -> FakeCollector {
    let bodies: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let app = Router::new()
        .route(
            "/v1/traces",
            post(|State(store): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes| async move {
                store.lock().unwrap().push(body);
                ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
            }),
        )
        .with_state(bodies.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeCollector { endpoint, bodies }
}

impl FakeCollector {
    fn spans(&self) -> Vec<Span> {
        let bodies = self.bodies.lock().unwrap();
        bodies
            .iter()
            .flat_map(|b| ExportTraceServiceRequest::decode(b.as_ref()).expect("OTLP protobuf").resource_spans)
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect()
    }

    fn raw(&self) -> Vec<u8> {
        self.bodies.lock().unwrap().iter().flat_map(|b| b.to_vec()).collect()
    }
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        other => Some(format!("{other:?}")),
    })
}

/// The binary, serving; its stderr collected line by line.
struct Server {
    child: Option<Child>,
    url: String,
    log: Arc<Mutex<String>>,
    stdout: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Server {
    fn start(config: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_convograph"));
        cmd.args(["serve", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .env("CONVOGRAPH_LOG_FORMAT", "json")
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starts");
        let stderr = child.stderr.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        let stderr = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("convograph listening") {
                    let _ = tx.send(line.clone());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut server =
            Self { child: Some(child), url: String::new(), log, stdout: Some(stdout), stderr: Some(stderr) };
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
            panic!("the server did not start:\n{}", server.log.lock().unwrap());
        });
        let v: Value = serde_json::from_str(&line).expect("JSON log line");
        server.url = format!("http://{}", v["fields"]["addr"].as_str().unwrap());
        server
    }

    /// SIGTERM, then everything it wrote (stderr, then stdout).
    async fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(20), tokio::task::spawn_blocking(move || child.wait()))
            .await
            .expect("stops after SIGTERM")
            .unwrap()
            .unwrap();
        assert!(exit.success(), "{exit:?}");
        let stdout = self.stdout.take().unwrap().join().unwrap();
        self.stderr.take().unwrap().join().unwrap();
        let log = self.log.lock().unwrap().clone();
        format!("{log}{stdout}")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn traces_reach_an_otlp_collector_with_request_resolver_and_upstream_spans() {
    let collector = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("convograph.yaml");
    std::fs::write(
        &config,
        format!(
            "sandbox: {{ people: 12, calls: 260, providers: [gong] }}\n\
             telemetry:\n  otlp: {{ enabled: true, endpoint: \"{}\", service_name: convograph-test }}\n",
            collector.endpoint
        ),
    )
    .unwrap();
    let server = Server::start(&config, &[]);

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", server.url))
        .header("traceparent", format!("00-{trace_id}-{parent_id}-01"))
        .json(&json!({ "query": r#"query Traced { calls(connectionId: "gong-demo", first: 3) { edges { node { title host { name } } } } }"# }))
        .send()
        .await
        .unwrap();
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body:#}");
    let log = server.stop().await;
    assert!(log.contains("Sandbox mode") && log.contains("Running open"), "says it runs open");

    // The spans were flushed at shutdown.
    let spans = collector.spans();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let traced: Vec<&Span> = spans.iter().filter(|s| hex(&s.trace_id) == trace_id).collect();
    let names: Vec<&str> = traced.iter().map(|s| s.name.as_str()).collect();
    let find = |name: &str| *traced.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no {name} in {names:?}"));
    let request = find("POST /graphql");
    assert_eq!(hex(&request.parent_span_id), parent_id, "the caller's traceparent is the request's parent");
    assert_eq!(attr(request, "request_id").as_deref(), Some(request_id.as_str()));
    let resolver = find("Query.calls");
    assert_eq!(resolver.parent_span_id, request.span_id);
    let upstream: Vec<&&Span> = traced.iter().filter(|s| s.name == "gong POST").collect();
    let list = upstream
        .iter()
        .find(|s| attr(s, "url.path").as_deref() == Some("/v2/calls/extensive"))
        .expect("the calls page request");
    assert_eq!(attr(list, "http.response.status_code").as_deref(), Some("200"));
    assert_eq!(attr(list, "connection").as_deref(), Some("gong-demo"));
    assert_eq!(list.parent_span_id, resolver.span_id, "the resolver's upstream request is its child");
    // The hosts come through a DataLoader batch, still in the request's trace.
    let batch = find("loader.batch");
    assert!(upstream.iter().any(|s| s.parent_span_id == batch.span_id
        && attr(s, "url.path").as_deref() == Some("/v2/users/extensive")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_run_never_shows_a_configured_secret() {
    // Distinctive credentials for two providers, a connection with wrong ones,
    // two API keys, a JWT secret, the cursor key and the metrics token.
    let gong_key = "GONGKEY-7d1e5c0a9b";
    let gong_secret = "gong-secret-4a8f2e9d1c7b3a6e";
    let ev_user = "ev-user-e51b9f2c";
    let ev_password = "ev-password-93c7a1d5f0e8";
    let wrong_secret = "wrong-gong-secret-2f6b8d0c4e1a";
    let dash_key = "dash-api-key-6c2e9a1f7b3d5e8a0c4f";
    let coach_key = "coach-api-key-1b5d9f3a7c0e2d6b8f4a";
    let jwt_secret = "jwt-hs256-secret-0a1b2c3d4e5f6a7b8c9d0e1f";
    let cursor_secret = "cursor-secret-5e7a9c1b3d";
    let metrics_token = "metrics-token-8b0d2f4a6c";

    let sandbox = Sandbox::start(SandboxSettings {
        people: 12,
        calls: 260,
        gong: GongSimSettings {
            access_key: gong_key.into(),
            access_key_secret: gong_secret.into(),
            ..GongSimSettings::default()
        },
        execvision: ExecVisionSimSettings {
            user_id: ev_user.into(),
            password: ev_password.into(),
            ..ExecVisionSimSettings::default()
        },
        ..SandboxSettings::default()
    })
    .await
    .unwrap();
    let collector = fake_collector().await;
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, value: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        path.display().to_string()
    };
    let yaml = format!(
        r#"
server:
  cursor_secret: {{ file: {cursor} }}
  metrics: {{ bearer_token: {{ file: {metrics} }} }}
auth:
  api_keys:
    - {{ name: dashboard, sha256: "{dash}", connections: [gong-acme] }}
    - {{ name: coach, sha256: "{coach}", connections: ["*"] }}
  jwt:
    hs256_secret: {{ file: {jwt} }}
telemetry:
  otlp: {{ enabled: true, endpoint: "{otlp}" }}
connections:
  - id: gong-acme
    provider: gong
    base_url: "{gong_url}"
    traffic: {{ rate_per_sec: 50, max_queue_wait: 500ms }}
    credentials: {{ basic: {{ username: {{ file: {gong_key_file} }}, password: {{ file: {gong_secret_file} }} }} }}
  - id: ev-acme
    provider: execvision
    base_url: "{ev_url}"
    credentials: {{ basic: {{ username: {{ env: TEST_EV_USER }}, password: {{ env: TEST_EV_PASSWORD }} }} }}
  - id: gong-wrong
    provider: gong
    base_url: "{gong_url}"
    credentials: {{ basic: {{ username: {{ file: {gong_key_file} }}, password: {{ file: {wrong_file} }} }} }}
"#,
        cursor = file("cursor", cursor_secret),
        metrics = file("metrics", metrics_token),
        dash = api_key_sha256(dash_key),
        coach = api_key_sha256(coach_key),
        jwt = file("jwt", jwt_secret),
        otlp = collector.endpoint,
        gong_url = sandbox.gong.base_url(),
        ev_url = sandbox.execvision.base_url(),
        gong_key_file = file("gong-key", gong_key),
        gong_secret_file = file("gong-secret", gong_secret),
        wrong_file = file("wrong", wrong_secret),
    );
    let config = dir.path().join("convograph.yaml");
    std::fs::write(&config, yaml).unwrap();
    let server = Server::start(&config, &[("TEST_EV_USER", ev_user), ("TEST_EV_PASSWORD", ev_password)]);

    let exp = chrono::Utc::now().timestamp() + 600;
    let good_jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": "jwt-user", "exp": exp, "connections": ["gong-acme"] }),
        &jsonwebtoken::EncodingKey::from_secret(jwt_secret.as_bytes()),
    )
    .unwrap();
    let expired_jwt = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": "jwt-user", "exp": exp - 3600, "connections": ["*"] }),
        &jsonwebtoken::EncodingKey::from_secret(jwt_secret.as_bytes()),
    )
    .unwrap();

    let client = reqwest::Client::new();
    let mut seen = String::new();
    let mut request_ids = Vec::new();
    let queries: Vec<(Option<&str>, &str, Value)> = vec![
        (
            Some(coach_key),
            r#"{ calls(connectionId: "gong-acme", first: 3) { pageInfo { endCursor } edges { node { id title remoteData host { name } transcript { text } } } } }"#,
            json!({}),
        ),
        (
            Some(coach_key),
            r#"{ calls(connectionId: "ev-acme", first: 2) { edges { node { title transcript { text } } } } }"#,
            json!({}),
        ),
        (Some(&good_jwt), "{ connections { id } }", json!({})),
        (Some(dash_key), r#"{ calls(connectionId: "ev-acme", first: 1) { totalCount } }"#, json!({})),
        (
            Some(dash_key),
            r#"{ calls(connectionId: "gong-acme", first: 1, after: "bm90LWEtY3Vyc29y") { totalCount } }"#,
            json!({}),
        ),
        (Some(coach_key), r#"{ calls(connectionId: "gong-wrong", first: 1) { totalCount } }"#, json!({})),
        (Some(coach_key), "{ calls(connectionId: \"gong-acme\", first: 1) { edges { node { title ", json!({})),
        (Some(&expired_jwt), "{ connections { id } }", json!({})),
        (Some("not-a-key"), "{ connections { id } }", json!({})),
        (None, "{ connections { id } }", json!({})),
    ];
    for (credential, query, variables) in &queries {
        let mut req =
            client.post(format!("{}/graphql", server.url)).json(&json!({ "query": query, "variables": variables }));
        if let Some(c) = credential {
            req = req.bearer_auth(c);
        }
        let resp = req.send().await.unwrap();
        request_ids.push(resp.headers()["x-request-id"].to_str().unwrap().to_owned());
        seen.push_str(&resp.text().await.unwrap());
    }
    // A provider rate limit past the queue bound (RATE_LIMITED), on an uncached list.
    sandbox.gong.inject_429(1);
    let resp = client
        .post(format!("{}/graphql", server.url))
        .bearer_auth(coach_key)
        .json(&json!({ "query": r#"{ scorecards(connectionId: "gong-acme") { edges { node { name } } } }"# }))
        .send()
        .await
        .unwrap();
    seen.push_str(&resp.text().await.unwrap());
    for path in ["/readyz", "/healthz"] {
        seen.push_str(&client.get(format!("{}{path}", server.url)).send().await.unwrap().text().await.unwrap());
    }
    let metrics = client
        .get(format!("{}/metrics", server.url))
        .bearer_auth(metrics_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("convograph_upstream_requests_total"), "{metrics}");
    seen.push_str(&metrics);
    let codes_seen =
        ["FORBIDDEN", "BAD_CURSOR", "PROVIDER_ERROR", "GRAPHQL_PARSE_FAILED", "UNAUTHENTICATED", "RATE_LIMITED"];
    for code in codes_seen {
        assert!(seen.contains(code), "the run exercised {code}:\n{seen}");
    }
    let log = server.stop().await;
    seen.push_str(&log);

    // Debug output of the parts that hold secrets.
    let resolved = convograph::config::Credentials::Basic {
        username: convograph::config::Secret::new(gong_key),
        password: convograph::config::Secret::new(gong_secret),
    };
    let transport = convograph::providers::transport::Transport::new(
        convograph::providers::ProviderKind::Gong,
        Arc::from("gong-acme"),
        sandbox.gong.base_url().parse().unwrap(),
        &resolved,
        convograph::providers::transport::TrafficPolicy::resolve(
            &Default::default(),
            convograph::providers::transport::RateSchedule::Fixed(3.0),
        ),
    )
    .unwrap();
    seen.push_str(&format!("{resolved:?}\n{transport:?}\n"));
    let settings = convograph::config::Settings::load(Some(&config)).unwrap();
    seen.push_str(&format!("{settings:?}\n"));

    // Every secret, and the forms it travels in, is absent everywhere.
    let basic = |u: &str, p: &str| base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
    let secrets = [
        gong_key.to_owned(),
        gong_secret.to_owned(),
        ev_user.to_owned(),
        ev_password.to_owned(),
        wrong_secret.to_owned(),
        dash_key.to_owned(),
        coach_key.to_owned(),
        jwt_secret.to_owned(),
        cursor_secret.to_owned(),
        metrics_token.to_owned(),
        good_jwt.clone(),
        expired_jwt.clone(),
        basic(gong_key, gong_secret),
        basic(ev_user, ev_password),
        basic(gong_key, wrong_secret),
    ];
    let exported = String::from_utf8_lossy(&collector.raw()).into_owned();
    assert!(!exported.is_empty(), "spans were exported and are part of the scan");
    for secret in &secrets {
        assert!(!seen.contains(secret.as_str()), "a secret leaked into logs, responses, metrics or debug output");
        assert!(!exported.contains(secret.as_str()), "a secret leaked into exported spans");
    }

    // The scan covered a real debug-level JSON log of upstream traffic, with request ids.
    let lines: Vec<Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(lines.iter().any(|l| l["level"] == "DEBUG" && l["fields"]["message"] == "Upstream request."));
    for id in &request_ids {
        assert!(log.contains(&format!("\"request_id\":\"{id}\"")), "request {id} is in the logs");
    }
    sandbox.shutdown().await;
}
