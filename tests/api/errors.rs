//! Partial failure: a failing connection nulls only its own fields, with a code.

use std::time::Duration;

use convograph::{
    config::{ConnectionSettings, CredentialsConfig, SecretSource, TrafficSettings},
    providers::ProviderKind,
    sandbox::{Sandbox, SandboxSettings},
};
use serde_json::json;

use crate::helpers::{codes, spawn_with, test_settings};

fn secret_file(dir: &tempfile::TempDir, name: &str, value: &str) -> SecretSource {
    let path = dir.path().join(name);
    std::fs::write(&path, value).unwrap();
    SecretSource::File(path)
}

fn gong_connection(
    id: &str,
    base_url: &str,
    key: SecretSource,
    secret: SecretSource,
    traffic: TrafficSettings,
) -> ConnectionSettings {
    ConnectionSettings {
        webhook: None,
        id: id.into(),
        provider: ProviderKind::Gong,
        base_url: base_url.parse().unwrap(),
        credentials: CredentialsConfig::Basic { username: key, password: secret },
        time_zone: Some("America/New_York".into()),
        workspace_id: None,
        conversation_ids: Vec::new(),
        traffic,
    }
}

const BOTH: &str = r#"{
  good: calls(connectionId: "gong-demo", first: 2) { edges { node { title } } }
  bad: calls(connectionId: "gong-bad", first: 2) { edges { node { title } } }
}"#;

#[tokio::test]
async fn bad_credentials_null_only_that_connections_field() {
    let dir = tempfile::tempdir().unwrap();
    let other = Sandbox::start(SandboxSettings { people: 4, calls: 20, ..SandboxSettings::default() }).await.unwrap();
    let mut settings = test_settings();
    settings.connections.push(gong_connection(
        "gong-bad",
        other.gong.base_url(),
        secret_file(&dir, "k", "wrong-key"),
        secret_file(&dir, "s", "wrong-secret-9f8e7d"),
        TrafficSettings::default(),
    ));
    let app = spawn_with(settings).await;

    let body = app.query(BOTH, json!({})).await;
    assert_eq!(body["data"]["good"]["edges"].as_array().unwrap().len(), 2);
    assert!(body["data"]["bad"].is_null());
    assert_eq!(codes(&body), vec!["PROVIDER_ERROR"]);
    let ext = &body["errors"][0]["extensions"];
    assert_eq!((ext["provider"].as_str(), ext["connection"].as_str()), (Some("gong"), Some("gong-bad")));
    assert_eq!(ext["http"]["status"], 401);
    assert!(!body.to_string().contains("wrong-secret-9f8e7d"), "no secret in the response");

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "readiness reflects the failing connection");
}

#[tokio::test]
async fn an_unreachable_provider_is_provider_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings();
    // Nothing listens on port 9 on loopback (discard service is not run here).
    let traffic = TrafficSettings { max_retries: Some(0), ..TrafficSettings::default() };
    settings.connections.push(gong_connection(
        "gong-bad",
        "http://127.0.0.1:9",
        secret_file(&dir, "k", "k"),
        secret_file(&dir, "s", "s"),
        traffic,
    ));
    let app = spawn_with(settings).await;
    let body = app.query(BOTH, json!({})).await;
    assert_eq!(body["data"]["good"]["edges"].as_array().unwrap().len(), 2);
    assert!(body["data"]["bad"].is_null());
    assert_eq!(codes(&body), vec!["PROVIDER_UNAVAILABLE"]);
}

#[tokio::test]
async fn a_retry_after_beyond_the_queue_bound_fails_fast_with_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let other = Sandbox::start(SandboxSettings { people: 4, calls: 20, ..SandboxSettings::default() }).await.unwrap();
    let mut settings = test_settings();
    let traffic = TrafficSettings { max_queue_wait: Some(Duration::from_millis(300)), ..TrafficSettings::default() };
    settings.connections.push(gong_connection(
        "gong-bad",
        other.gong.base_url(),
        secret_file(&dir, "k", other.gong.access_key()),
        secret_file(&dir, "s", other.gong.access_key_secret()),
        traffic,
    ));
    let app = spawn_with(settings).await;
    other.gong.inject_429(5);
    let started = std::time::Instant::now();
    let body = app.query(BOTH, json!({})).await;
    assert!(started.elapsed() < Duration::from_secs(5), "does not hang");
    assert_eq!(body["data"]["good"]["edges"].as_array().unwrap().len(), 2);
    assert_eq!(codes(&body), vec!["RATE_LIMITED"]);
    assert!(body["errors"][0]["extensions"]["retryAfterMs"].as_u64().unwrap() >= 500);
    assert_eq!(other.gong.requests("POST", "/v2/calls/extensive"), 1, "no retry that would overrun the bound");
}

#[tokio::test]
async fn an_unknown_connection_id_is_not_found() {
    let app = spawn_with(test_settings()).await;
    let body = app.query(r#"{ calls(connectionId: "nope", first: 1) { totalCount } }"#, json!({})).await;
    assert_eq!(codes(&body), vec!["NOT_FOUND"]);
}
