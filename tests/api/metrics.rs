//! `/metrics` after known traffic shows the right counts; `/readyz` spends no
//! upstream requests when traffic already showed the connection's health.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{TestApp, codes, spawn_app, spawn_with, test_settings};

async fn scrape(app: &TestApp) -> String {
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    resp.text().await.unwrap()
}

/// The value of the sample `series` (name and labels exactly as exposed), if any.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

const FIRST_CALLS: &str =
    r#"query FirstCalls($n: Int) { calls(connectionId: "gong-demo", first: $n) { edges { node { title } } } }"#;

#[tokio::test]
async fn a_scrape_after_known_queries_shows_their_counts() {
    let app = spawn_app().await;
    // Two sizes: the second is another answer (not the response cache's) over the
    // same cached provider page.
    app.data(FIRST_CALLS, json!({ "n": 5 })).await;
    app.data(FIRST_CALLS, json!({ "n": 4 })).await;
    let failing =
        app.query(r#"query Missing { calls(connectionId: "nope", first: 1) { totalCount } }"#, json!({})).await;
    assert_eq!(codes(&failing), vec!["NOT_FOUND"]);
    let upstream = app.gong.total_requests();
    assert!(upstream >= 1);

    let text = scrape(&app).await;
    let m = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(m(r#"convograph_http_requests_total{operation="FirstCalls",status="200"}"#), 2.0);
    assert_eq!(m(r#"convograph_http_request_duration_seconds_count{operation="FirstCalls"}"#), 2.0);
    assert_eq!(m(r#"convograph_http_requests_total{operation="Missing",status="200"}"#), 1.0);
    assert_eq!(m(r#"convograph_graphql_errors_total{operation="Missing",code="NOT_FOUND"}"#), 1.0);
    // Every request the simulator received, by status; and their latencies.
    let conn = r#"provider="gong",connection="gong-demo""#;
    assert_eq!(m(&format!(r#"convograph_upstream_requests_total{{{conn},status="200"}}"#)), upstream as f64);
    assert_eq!(m(&format!("convograph_upstream_request_duration_seconds_count{{{conn}}}")), upstream as f64);
    assert_eq!(m(&format!("convograph_limiter_wait_seconds_count{{{conn}}}")), upstream as f64);
    // The first query filled the cache, the second read it.
    assert_eq!(m(r#"convograph_cache_misses_total{connection="gong-demo",kind="calls"}"#), 1.0);
    assert_eq!(m(r#"convograph_cache_hits_total{connection="gong-demo",kind="calls"}"#), 1.0);
    // Gong's daily quota, as spent by this process.
    assert_eq!(m(&format!("convograph_upstream_daily_quota_remaining{{{conn}}}")), (10_000 - upstream) as f64);

    // OpenMetrics when the scraper asks for it.
    let resp = app
        .client
        .get(app.url("/metrics"))
        .header("accept", "application/openmetrics-text;version=1.0.0")
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    assert!(resp.text().await.unwrap().trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn rate_limit_rejections_and_upstream_429s_are_counted() {
    let other = convograph::sandbox::Sandbox::start(convograph::sandbox::SandboxSettings {
        people: 4,
        calls: 20,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, value: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, value).unwrap();
        convograph::config::SecretSource::File(path)
    };
    let mut settings = test_settings();
    settings.connections.push(convograph::config::ConnectionSettings {
        webhook: None,
        id: "gong-busy".into(),
        provider: convograph::providers::ProviderKind::Gong,
        base_url: other.gong.base_url().parse().unwrap(),
        credentials: convograph::config::CredentialsConfig::Basic {
            username: file("k", other.gong.access_key()),
            password: file("s", other.gong.access_key_secret()),
        },
        time_zone: None,
        workspace_id: None,
        traffic: convograph::config::TrafficSettings {
            max_queue_wait: Some(Duration::from_millis(300)),
            ..Default::default()
        },
        conversation_ids: Vec::new(),
    });
    let app = spawn_with(settings).await;
    other.gong.inject_429(1);
    let body = app.query(r#"{ calls(connectionId: "gong-busy", first: 1) { totalCount } }"#, json!({})).await;
    assert_eq!(codes(&body), vec!["RATE_LIMITED"]);
    let text = scrape(&app).await;
    let conn = r#"provider="gong",connection="gong-busy""#;
    assert_eq!(sample(&text, &format!(r#"convograph_upstream_requests_total{{{conn},status="429"}}"#)), Some(1.0));
    assert_eq!(sample(&text, &format!("convograph_limiter_rejections_total{{{conn}}}")), Some(1.0));
}

#[tokio::test]
async fn refused_credentials_are_counted_by_reason() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_with(crate::auth::secured_settings(&dir)).await;
    let (status, _) = app.query_as(None, "{ connections { id } }", json!({})).await;
    assert_eq!(status, 401);
    let (status, _) = app.query_as(Some("nope"), "{ connections { id } }", json!({})).await;
    assert_eq!(status, 401);
    let text = scrape(&app).await;
    assert_eq!(sample(&text, r#"convograph_auth_failures_total{reason="missing"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"convograph_auth_failures_total{reason="unknown_key"}"#), Some(1.0));
}

#[tokio::test]
async fn metrics_can_require_a_bearer_token_or_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("metrics-token");
    std::fs::write(&token, "scrape-token-3f9a\n").unwrap();
    let mut settings = test_settings();
    settings.server.metrics.bearer_token = Some(convograph::config::SecretSource::File(token));
    let app = spawn_with(settings).await;
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = app.client.get(app.url("/metrics")).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = app.client.get(app.url("/metrics")).bearer_auth("scrape-token-3f9a").send().await.unwrap();
    assert_eq!(resp.status(), 200);

    let mut settings = test_settings();
    settings.server.metrics.enabled = false;
    let app = spawn_with(settings).await;
    assert_eq!(app.client.get(app.url("/metrics")).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn readiness_uses_recent_traffic_and_checks_an_idle_connection_once_per_interval() {
    let app = spawn_app().await;
    let ready = |app: &TestApp| {
        let req = app.client.get(app.url("/readyz"));
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<serde_json::Value>().await.unwrap())
        }
    };
    // Idle: the first probe checks the connection, the next ones reuse the answer.
    let (status, body) = ready(&app).await;
    assert_eq!(status, 200, "{body:#}");
    let after_first = app.gong.total_requests();
    assert!(after_first >= 1, "an idle connection is checked");
    for _ in 0..5 {
        assert_eq!(ready(&app).await.0, 200);
    }
    assert_eq!(app.gong.total_requests(), after_first, "probes within the interval cost nothing");

    // Traffic shows the connection's health: no check needed.
    let app = spawn_app().await;
    app.data(FIRST_CALLS, json!({})).await;
    let before = app.gong.total_requests();
    let (status, body) = ready(&app).await;
    assert_eq!((status, &body["connections"]["gong-demo"]["status"]), (200, &json!("ok")));
    assert_eq!(app.gong.total_requests(), before);
}
