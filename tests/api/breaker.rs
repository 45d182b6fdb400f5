//! Circuit breaking: a connection that keeps failing stops being called for a while,
//! answers at once with a coded error meanwhile, probes once, and recovers.

use std::time::{Duration, Instant};

use convograph::{
    config::{ConnectionSettings, CredentialsConfig, SecretSource, TrafficSettings},
    providers::ProviderKind,
    sandbox::{Sandbox, SandboxSettings},
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, codes, spawn_with, test_settings};

const OPEN_FOR: Duration = Duration::from_millis(600);

const BOTH: &str = r#"{
  good: calls(connectionId: "gong-demo", first: 2) { edges { node { id } } }
  flaky: users(connectionId: "gong-flaky", first: 2) { edges { node { id } } }
}"#;

async fn spawn_flaky(sim: &Sandbox) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, value: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, value).unwrap();
        SecretSource::File(path)
    };
    let mut settings = test_settings();
    // Nothing cached: every query asks the provider (or the open circuit).
    settings.cache.users_ttl = Duration::ZERO;
    settings.connections.push(ConnectionSettings {
        webhook: None,
        id: "gong-flaky".into(),
        provider: ProviderKind::Gong,
        base_url: sim.gong.base_url().parse().unwrap(),
        credentials: CredentialsConfig::Basic {
            username: file("k", sim.gong.access_key()),
            password: file("s", sim.gong.access_key_secret()),
        },
        time_zone: None,
        workspace_id: None,
        conversation_ids: Vec::new(),
        traffic: TrafficSettings {
            max_retries: Some(0),
            breaker_failures: Some(3),
            breaker_open_for: Some(OPEN_FOR),
            ..TrafficSettings::default()
        },
    });
    // The secrets are read at start-up; the files may go afterwards.
    spawn_with(settings).await
}

fn flaky_error(body: &Value) -> &Value {
    body["errors"].as_array().unwrap().iter().find(|e| e["extensions"]["connection"] == "gong-flaky").unwrap()
}

async fn metric(app: &TestApp) -> String {
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with("convograph_circuit_state{") && l.contains("gong-flaky"))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_failing_connection_is_cut_off_answers_fast_probes_once_and_recovers() {
    let sim = Sandbox::start(SandboxSettings { people: 4, calls: 10, ..SandboxSettings::default() }).await.unwrap();
    let app = spawn_flaky(&sim).await;
    sim.gong.set_down(Some(503));

    // Three failures in a row, each one request to the provider.
    for _ in 0..3 {
        let body = app.query(BOTH, json!({})).await;
        assert_eq!(codes(&body), vec!["PROVIDER_UNAVAILABLE"], "{body}");
        assert!(body["data"]["good"]["edges"].as_array().is_some_and(|e| e.len() == 2), "the healthy part: {body}");
    }
    assert_eq!(sim.gong.total_requests(), 3);

    // Open: answered at once, the provider not called, the state visible.
    let started = Instant::now();
    let body = app.query(BOTH, json!({})).await;
    assert!(started.elapsed() < Duration::from_millis(500), "answered fast: {:?}", started.elapsed());
    let e = flaky_error(&body);
    assert_eq!(e["extensions"]["code"], "PROVIDER_UNAVAILABLE", "{body}");
    assert!(e["extensions"]["retryAfterMs"].as_u64().is_some_and(|ms| ms <= OPEN_FOR.as_millis() as u64), "{e}");
    assert!(body["data"]["good"].is_object());
    assert_eq!(sim.gong.total_requests(), 3, "an open circuit does not call the provider");
    assert!(metric(&app).await.ends_with(" 2"), "{}", metric(&app).await);
    let ready: Value = app.client.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["connections"]["gong-flaky"]["circuit"], "open", "{ready}");

    // Still down when the open time is over: one probe, which opens it again.
    tokio::time::sleep(OPEN_FOR).await;
    let body = app.query(BOTH, json!({})).await;
    assert_eq!(flaky_error(&body)["extensions"]["code"], "PROVIDER_UNAVAILABLE");
    assert_eq!(sim.gong.total_requests(), 4, "one probe");
    let body = app.query(BOTH, json!({})).await;
    assert_eq!(flaky_error(&body)["extensions"]["code"], "PROVIDER_UNAVAILABLE");
    assert_eq!(sim.gong.total_requests(), 4, "open again after the failed probe");

    // Back: the next probe closes it and every query succeeds.
    sim.gong.set_down(None);
    tokio::time::sleep(OPEN_FOR).await;
    let body = app.query(BOTH, json!({})).await;
    assert!(body.get("errors").is_none(), "recovered: {body}");
    assert_eq!(body["data"]["flaky"]["edges"].as_array().map(Vec::len), Some(2));
    assert!(metric(&app).await.ends_with(" 0"), "{}", metric(&app).await);
    let body = app.query(BOTH, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
}
