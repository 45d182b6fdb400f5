//! `spawn_app`: the server on a loopback port 0 over a small sandbox world, with the
//! simulator handle kept for request counts and fault injection.

use std::{net::SocketAddr, sync::Arc};

use convograph::{
    config::{SandboxConfig, Settings},
    providers::ProviderKind,
    sandbox::{GongSimHandle, World, execvision::ExecVisionSimHandle},
    startup::Application,
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Calls in the test world: not a multiple of Gong's page (100) nor of 25.
pub const TEST_CALLS: usize = 260;
/// People in the test world.
pub const TEST_PEOPLE: usize = 12;

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub gong: GongSimHandle,
    pub execvision: ExecVisionSimHandle,
    pub world: Arc<World>,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Settings of the test sandbox; `tweak` may change them before start.
pub fn test_settings() -> Settings {
    let mut settings = Settings {
        sandbox: Some(SandboxConfig {
            seed: 7,
            people: TEST_PEOPLE,
            calls: TEST_CALLS,
            providers: vec![ProviderKind::Gong],
        }),
        ..Settings::default()
    };
    settings.server.listen = "127.0.0.1:0".parse().unwrap();
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_with(test_settings()).await
}

pub async fn spawn_with(settings: Settings) -> TestApp {
    let app = Application::build(settings).await.expect("app builds");
    let addr = app.local_addr();
    let sandbox = app.sandbox().expect("sandbox mode");
    let gong = sandbox.gong.clone();
    let execvision = sandbox.execvision.clone();
    let world = sandbox.world_arc();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    TestApp { addr, client: reqwest::Client::new(), gong, execvision, world, stop: Some(tx) }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs a query; returns the whole JSON response.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let resp = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request sent");
        assert!(resp.status().is_success(), "HTTP {}", resp.status());
        resp.json().await.expect("JSON body")
    }

    /// POSTs a query with `Authorization: Bearer <credential>` (none when `None`);
    /// returns the HTTP status and the JSON body.
    pub async fn query_as(&self, credential: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut req = self.client.post(self.url("/graphql")).json(&json!({ "query": query, "variables": variables }));
        if let Some(c) = credential {
            req = req.bearer_auth(c);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON body"))
    }

    /// `query_as` that must succeed without errors; returns `data`.
    pub async fn data_as(&self, credential: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.query_as(Some(credential), query, variables).await;
        assert_eq!(status, 200, "{body:#}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// POSTs a query that must succeed without errors; returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }
}

/// The `extensions.code` of every error.
pub fn codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errs| errs.iter().filter_map(|e| e["extensions"]["code"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Remote ids of the Gong calls of the world, in Gong's order (start time).
pub fn gong_call_ids(world: &World) -> Vec<String> {
    let mut calls: Vec<_> = world.calls.iter().filter(|c| c.recorded_by.gong).collect();
    calls.sort_by_key(|c| (c.started, c.index));
    calls.iter().map(|c| convograph::sandbox::gong::ids::call_id(c.index)).collect()
}

/// A sandbox with only the ExecVision demo connection (default world size).
pub async fn spawn_execvision() -> TestApp {
    let mut settings = test_settings();
    settings.sandbox = Some(SandboxConfig { providers: vec![ProviderKind::ExecVision], ..SandboxConfig::default() });
    spawn_with(settings).await
}
