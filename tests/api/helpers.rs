//! `spawn_app`: the server on a loopback port 0 over a small sandbox world, with the
//! simulator handle kept for request counts and fault injection.

use std::{net::SocketAddr, sync::Arc};

use convograph::{
    config::{SandboxConfig, Settings},
    providers::ProviderKind,
    sandbox::{
        GongSimHandle, HubsterSimHandle, SalesloftSimHandle, SandboxSettings, World, execvision::ExecVisionSimHandle,
    },
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
    pub salesloft: SalesloftSimHandle,
    pub hubster: HubsterSimHandle,
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
            ..SandboxConfig::default()
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
    spawn_with_simulators(settings, SandboxSettings::default()).await
}

/// As [`spawn_with`], with these simulator behaviours.
pub async fn spawn_with_simulators(settings: Settings, simulators: SandboxSettings) -> TestApp {
    let app = Application::build_with_simulators(settings, simulators).await.expect("app builds");
    let addr = app.local_addr();
    let sandbox = app.sandbox().expect("sandbox mode");
    let gong = sandbox.gong.clone();
    let execvision = sandbox.execvision.clone();
    let salesloft = sandbox.salesloft.clone();
    let hubster = sandbox.hubster.clone();
    let world = sandbox.world_arc();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    TestApp { addr, client: reqwest::Client::new(), gong, execvision, salesloft, hubster, world, stop: Some(tx) }
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

/// The world's live calls Gong records (`sandbox.live`): their ids, and when each
/// becomes visible, in the order they are filed.
pub fn gong_live_calls(world: &World) -> Vec<(String, chrono::DateTime<chrono::Utc>)> {
    world
        .live_calls()
        .iter()
        .filter(|&&j| world.calls[j].recorded_by.gong)
        .map(|&j| (convograph::sandbox::gong::ids::call_id(j), world.visible_at(j)))
        .collect()
}

/// The ids of [`gong_live_calls`].
pub fn gong_live_call_ids(world: &World) -> Vec<String> {
    gong_live_calls(world).into_iter().map(|(id, _)| id).collect()
}

/// A sandbox with only the ExecVision demo connection (default world size).
pub async fn spawn_execvision() -> TestApp {
    let mut settings = test_settings();
    settings.sandbox = Some(SandboxConfig { providers: vec![ProviderKind::ExecVision], ..SandboxConfig::default() });
    spawn_with(settings).await
}

/// The providers the cross-provider tests run over, in the sandbox's configuration
/// order. Adding a provider here (and its facts to the `match`es below: ids, what it
/// lists, its calls route, its simulator) runs every cross-provider test over it too.
pub const JOINED: &[ProviderKind] = &[ProviderKind::Gong, ProviderKind::ExecVision, ProviderKind::Salesloft];

/// The sandbox's demo connection of `kind` (`gong-demo`, `execvision-demo`, ...).
pub fn connection_of(kind: ProviderKind) -> String {
    format!("{}-demo", kind.as_str())
}

/// Test settings with a demo connection for every provider in [`JOINED`].
pub fn joined_settings() -> Settings {
    let mut settings = test_settings();
    if let Some(sandbox) = settings.sandbox.as_mut() {
        sandbox.providers = JOINED.to_vec();
        // Enough people that some are at one provider only (person 19 is at Gong
        // alone: see `World::generate`'s account rules).
        sandbox.people = 20;
    }
    settings
}

/// A sandbox with the same people at every provider in [`JOINED`].
pub async fn spawn_joined() -> TestApp {
    spawn_with(joined_settings()).await
}

/// The world call a provider's call id names.
pub fn world_call(kind: ProviderKind, remote_id: &str) -> Option<usize> {
    match kind {
        ProviderKind::Gong => convograph::sandbox::gong::ids::call_index(remote_id),
        ProviderKind::ExecVision => convograph::sandbox::execvision::ids::call_index(remote_id),
        ProviderKind::Salesloft => convograph::sandbox::salesloft::ids::call_index(remote_id),
        other => panic!("no ids for {other} in the tests yet"),
    }
}

/// The world person a provider's user id names.
pub fn world_person(kind: ProviderKind, remote_id: &str) -> Option<usize> {
    match kind {
        ProviderKind::Gong => convograph::sandbox::gong::ids::person_index(remote_id),
        ProviderKind::ExecVision => convograph::sandbox::execvision::ids::person_index(remote_id),
        ProviderKind::Salesloft => convograph::sandbox::salesloft::ids::person_of_guid(remote_id),
        other => panic!("no ids for {other} in the tests yet"),
    }
}

/// The route of a provider's calls list (method, path template), for request counts.
pub fn calls_route(kind: ProviderKind) -> (&'static str, &'static str) {
    match kind {
        ProviderKind::Gong => ("POST", "/v2/calls/extensive"),
        ProviderKind::ExecVision => ("GET", "/api/ev/2/calls"),
        ProviderKind::Salesloft => ("GET", "/v2/conversations"),
        other => panic!("no calls route for {other} in the tests yet"),
    }
}

/// Whether world person `p` has an account at `kind` that the provider lists.
pub fn listed_person(app: &TestApp, kind: ProviderKind, p: usize) -> bool {
    let person = &app.world.people[p];
    match kind {
        ProviderKind::Gong => person.accounts.gong,
        // ExecVision lists active users only.
        ProviderKind::ExecVision => person.accounts.execvision && person.active,
        ProviderKind::Salesloft => person.accounts.salesloft,
        other => panic!("no users for {other} in the tests yet"),
    }
}

/// The world calls a provider lists (ExecVision: recorded and not deleted).
pub fn listed_calls(app: &TestApp, kind: ProviderKind) -> std::collections::BTreeSet<usize> {
    app.world
        .calls
        .iter()
        .filter(|c| match kind {
            ProviderKind::Gong => c.recorded_by.gong,
            ProviderKind::ExecVision => app.execvision.data().call(c.index).is_some_and(|e| e.deleted_at.is_none()),
            ProviderKind::Salesloft => app.salesloft.data().conversation(c.index).is_some(),
            other => panic!("no calls for {other} in the tests yet"),
        })
        .map(|c| c.index)
        .collect()
}

impl TestApp {
    /// The simulator of `kind`.
    pub fn sim(&self, kind: ProviderKind) -> &convograph::sandbox::SimHandle {
        match kind {
            ProviderKind::Gong => &self.gong,
            ProviderKind::ExecVision => self.execvision.sim(),
            ProviderKind::Salesloft => self.salesloft.sim(),
            other => panic!("no simulator for {other} in the tests yet"),
        }
    }

    /// Every node of a list field (at `path` in `data`), paging forward with `$after`.
    pub async fn walk(&self, query: &str, variables: Value, path: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..10_000 {
            let mut vars = variables.clone();
            vars["after"] = json!(after);
            let data = self.data(query, vars).await;
            let list = data.pointer(path).unwrap_or_else(|| panic!("no {path} in {data}"));
            out.extend(list["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()));
            if list["pageInfo"]["hasNextPage"] == false {
                return out;
            }
            after = list["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
        panic!("paging does not end");
    }
}

/// Settings of a sandbox with only `provider`'s demo connection over the test world.
pub fn settings_for(provider: ProviderKind) -> Settings {
    let mut settings = test_settings();
    settings.sandbox = Some(SandboxConfig { providers: vec![provider], ..settings.sandbox.unwrap() });
    settings
}
