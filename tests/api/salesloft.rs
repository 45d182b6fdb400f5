//! Salesloft through GraphQL against its simulator: paging, every filter (unified
//! and `remoteQuery`), hosts and transcripts, users, the cost budget, errors.

use std::{collections::HashSet, time::Duration};

use chrono::{DateTime, Utc};
use convograph::{
    config::{ConnectionSettings, CredentialsConfig, SandboxConfig, SecretSource},
    providers::ProviderKind,
    sandbox::{
        SalesloftSimSettings, Sandbox, SandboxSettings,
        salesloft::ids,
        world_sl::{SlConversation, SlData},
    },
    schema::id::{Kind, encode},
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, codes, settings_for, spawn_with, spawn_with_simulators};

const CONN: &str = "salesloft-demo";

async fn spawn() -> TestApp {
    spawn_with(settings_for(ProviderKind::Salesloft)).await
}

/// Every node of a calls list, `first: 100` a page.
async fn walk(app: &TestApp, filter: Value, fields: &str) -> (Vec<Value>, Value) {
    let q = format!(
        r#"query($f: CallFilter, $after: String) {{ calls(connectionId: "{CONN}", first: 100, after: $after, filter: $f) {{ totalCount edges {{ node {{ {fields} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"#
    );
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app.data(&q, json!({ "f": filter, "after": after })).await;
        let total = data["calls"]["totalCount"].clone();
        out.extend(data["calls"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()));
        if data["calls"]["pageInfo"]["hasNextPage"] == false {
            return (out, total);
        }
        after = data["calls"]["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}

async fn walk_ids(app: &TestApp, filter: Value) -> (Vec<String>, Value) {
    let (nodes, total) = walk(app, filter, "remoteId").await;
    (nodes.iter().map(|n| n["remoteId"].as_str().unwrap().to_owned()).collect(), total)
}

/// Conversation ids kept by `keep`, in Salesloft's default order (newest created
/// first, ties by id).
fn expected(data: &SlData, keep: impl Fn(&SlConversation) -> bool) -> Vec<String> {
    let mut v: Vec<(DateTime<Utc>, String)> =
        data.conversations.iter().filter(|c| keep(c)).map(|c| (c.created_at, ids::conversation_id(c.call))).collect();
    v.sort();
    v.reverse();
    v.into_iter().map(|(_, id)| id).collect()
}

fn micros(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[tokio::test]
async fn every_conversation_is_listed_once_newest_first_with_its_total_at_one_request_per_100() {
    let app = spawn().await;
    let data = app.salesloft.data();
    let want = expected(data, |_| true);
    assert!(want.len() > 100, "more than one Salesloft page: {}", want.len());
    let q = r#"query($after: String) { calls(connectionId: "salesloft-demo", first: 25, after: $after) { totalCount edges { node { remoteId provider medium } } pageInfo { hasNextPage endCursor } } }"#;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let d = app.data(q, json!({ "after": after })).await;
        assert_eq!(d["calls"]["totalCount"], want.len() as u64, "include_paging_counts' total");
        for e in d["calls"]["edges"].as_array().unwrap() {
            assert_eq!(e["node"]["provider"], "SALESLOFT");
            seen.push(e["node"]["remoteId"].as_str().unwrap().to_owned());
        }
        if d["calls"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = d["calls"]["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, want);
    assert_eq!(app.salesloft.requests("GET", "/v2/conversations"), want.len().div_ceil(100) as u64);
}

#[tokio::test]
async fn paging_backward_crosses_a_salesloft_page_boundary() {
    let app = spawn().await;
    let want = expected(app.salesloft.data(), |_| true);
    let q = r#"query($first: Int, $after: String, $last: Int, $before: String) { calls(connectionId: "salesloft-demo", first: $first, after: $after, last: $last, before: $before) { edges { node { remoteId } } pageInfo { endCursor hasPreviousPage } } }"#;
    let d = app.data(q, json!({ "first": 100 })).await;
    let d = app.data(q, json!({ "first": 10, "after": d["calls"]["pageInfo"]["endCursor"] })).await;
    let back = app.data(q, json!({ "last": 20, "before": d["calls"]["pageInfo"]["endCursor"] })).await;
    let ids: Vec<&str> =
        back["calls"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["remoteId"].as_str().unwrap()).collect();
    assert_eq!(ids, want[89..109].iter().map(String::as_str).collect::<Vec<_>>());
}

#[tokio::test]
async fn unified_filters_are_applied_by_salesloft_or_locally_with_the_same_result() {
    let app = spawn().await;
    let data = app.salesloft.data();
    let world = app.world.clone();
    let owner = data.conversations[0].owner;
    let host = encode(Kind::User, CONN, &ids::user_guid(owner));
    let language = data.conversations.iter().map(|c| c.language_code.clone()).max().unwrap();
    let cases: Vec<(Value, Vec<String>, bool)> = vec![
        (json!({ "hostIds": [host] }), expected(data, |c| c.owner == owner), true),
        (json!({ "media": ["AUDIO"] }), expected(data, |c| c.media_type == "audio"), true),
        (json!({ "platforms": ["ZOOM"] }), expected(data, |c| c.platform == "zoom"), true),
        (json!({ "languages": [language.to_uppercase()] }), expected(data, |c| c.language_code == language), true),
        (
            json!({ "minDuration": 900, "maxDuration": 1800 }),
            expected(data, |c| (900_000.0..=1_800_000.0).contains(&c.duration_ms)),
            true,
        ),
        (json!({ "directions": ["UNKNOWN"] }), expected(data, |_| true), true),
        // Two platforms: one value per request at Salesloft, so filtered here.
        (
            json!({ "platforms": ["zoom", "google_meet"] }),
            expected(data, |c| c.platform == "zoom" || c.platform == "google_meet"),
            false,
        ),
        // Not Salesloft filters: start time and title substring, applied here.
        (
            json!({ "titleContains": "DISCOVERY", "startedFrom": "2026-03-01T00:00:00Z" }),
            expected(data, |c| {
                let call = &world.calls[c.call];
                call.title.to_lowercase().contains("discovery")
                    && call.started >= "2026-03-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
            }),
            false,
        ),
    ];
    for (filter, want, native) in cases {
        assert!(!want.is_empty(), "{filter}");
        let (got, total) = walk_ids(&app, filter.clone()).await;
        assert_eq!(got, want, "{filter}");
        if native {
            assert_eq!(total, want.len() as u64, "Salesloft's own total: {filter}");
        } else {
            assert_eq!(total, Value::Null, "no total once filtered here: {filter}");
        }
    }
    // Nothing can match: no request at all.
    let before = app.salesloft.total_requests();
    for filter in [json!({ "directions": ["INBOUND"] }), json!({ "media": ["CHAT"] }), json!({ "languages": ["eng"] })]
    {
        let (got, total) = walk_ids(&app, filter.clone()).await;
        assert!(got.is_empty(), "{filter}");
        assert_eq!(total, 0);
    }
    assert_eq!(app.salesloft.total_requests(), before);
}

#[tokio::test]
async fn remote_query_reaches_every_seed_003_filter_and_sort() {
    let app = spawn().await;
    let data = app.salesloft.data();
    let world = app.world.clone();
    let convs = &data.conversations;
    let s = &convs[convs.len() / 2];
    let title = world.calls[s.call].title.clone();
    let t = s.created_at;
    let u = s.updated_at;
    let recorded_by_other = convs.iter().find(|c| c.recorder != c.owner).expect("someone recorded another's call");
    let some: Vec<String> = convs.iter().step_by(9).map(|c| ids::conversation_id(c.call)).collect();
    let account = convs.iter().find_map(|c| c.account).unwrap();
    let person = convs.iter().find_map(|c| c.person).unwrap();
    let api = convs.iter().filter(|c| c.is_api).count();
    assert!(api > 0 && api < convs.len());
    type Keep<'a> = Box<dyn Fn(&SlConversation) -> bool + 'a>;
    let cases: Vec<(Value, Keep)> = vec![
        (json!({ "title": title }), Box::new(|c| world.calls[c.call].title == title)),
        (
            json!({ "title": { "_starts_with": "call with" } }),
            Box::new(|c| world.calls[c.call].title.starts_with("Call with")),
        ),
        (json!({ "title[_starts_with]": "Acme <>" }), Box::new(|c| world.calls[c.call].title.starts_with("Acme <>"))),
        (json!({ "created_at[gt]": micros(t) }), Box::new(move |c| c.created_at > t)),
        (json!({ "created_at[gte]": micros(t) }), Box::new(move |c| c.created_at >= t)),
        (json!({ "created_at": { "lt": micros(t) } }), Box::new(move |c| c.created_at < t)),
        (json!({ "created_at": { "lte": micros(t) } }), Box::new(move |c| c.created_at <= t)),
        (
            json!({ "updated_at": { "gte": micros(u - chrono::Duration::days(30)), "lt": micros(u) } }),
            Box::new(move |c| c.updated_at >= u - chrono::Duration::days(30) && c.updated_at < u),
        ),
        (
            json!({ "duration[gt]": s.duration_ms, "duration[lte]": s.duration_ms + 600_000.0 }),
            Box::new(|c| c.duration_ms > s.duration_ms && c.duration_ms <= s.duration_ms + 600_000.0),
        ),
        (json!({ "duration": { "lt": 600_000 } }), Box::new(|c| c.duration_ms < 600_000.0)),
        (json!({ "owner_ids": [ids::user_guid(s.owner)] }), Box::new(|c| c.owner == s.owner)),
        (
            json!({ "user_guids": ids::user_guid(recorded_by_other.recorder) }),
            Box::new(|c| c.recorder == recorded_by_other.recorder),
        ),
        (json!({ "ids": some }), Box::new(|c| some.contains(&ids::conversation_id(c.call)))),
        (json!({ "account_ids": [ids::account_id(account)] }), Box::new(move |c| c.account == Some(account))),
        (json!({ "person_ids": [ids::person_id(person).to_string()] }), Box::new(move |c| c.person == Some(person))),
        (json!({ "is_api": true }), Box::new(|c| c.is_api)),
        (json!({ "is_api": "false" }), Box::new(|c| !c.is_api)),
        (json!({ "media_type": "VIDEO" }), Box::new(|c| c.media_type == "video")),
        (json!({ "language_code": s.language_code }), Box::new(|c| c.language_code == s.language_code)),
        (json!({ "platform": "google_meet" }), Box::new(|c| c.platform == "google_meet")),
    ];
    for (rq, keep) in cases {
        let want = expected(data, &keep);
        let (got, total) = walk_ids(&app, json!({ "remoteQuery": rq })).await;
        assert_eq!(got, want, "{rq}");
        assert_eq!(total, want.len() as u64, "{rq}");
    }
    // The boundary of a microsecond.
    let one = chrono::Duration::microseconds(1);
    let sid = ids::conversation_id(s.call);
    let (after, _) = walk_ids(&app, json!({ "remoteQuery": { "created_at[gt]": micros(t - one) } })).await;
    assert!(after.contains(&sid));
    let (after, _) = walk_ids(&app, json!({ "remoteQuery": { "created_at[gt]": micros(t) } })).await;
    assert!(!after.contains(&sid));

    // Sorting: by duration, ascending (ties by id).
    let (nodes, _) =
        walk(&app, json!({ "remoteQuery": { "sort_by": "duration", "sort_direction": "asc" } }), "remoteId duration")
            .await;
    let mut want: Vec<(u64, String)> =
        convs.iter().map(|c| ((c.duration_ms * 1000.0) as u64, ids::conversation_id(c.call))).collect();
    want.sort();
    let got: Vec<String> = nodes.iter().map(|n| n["remoteId"].as_str().unwrap().to_owned()).collect();
    assert_eq!(got, want.into_iter().map(|(_, id)| id).collect::<Vec<_>>());
    // Unified and remote filters combine.
    let owner_host = encode(Kind::User, CONN, &ids::user_guid(s.owner));
    let (got, _) =
        walk_ids(&app, json!({ "hostIds": [owner_host], "media": ["VIDEO"], "remoteQuery": { "is_api": false } }))
            .await;
    assert_eq!(got, expected(data, |c| c.owner == s.owner && c.media_type == "video" && !c.is_api));
}

#[tokio::test]
async fn a_bad_remote_query_is_bad_user_input_naming_the_key_before_any_request() {
    let app = spawn().await;
    let q = r#"query($f: CallFilter) { calls(connectionId: "salesloft-demo", filter: $f) { edges { node { id } } } }"#;
    for (rq, key) in [
        (json!({ "colour": "blue" }), "colour"),
        (json!({ "created_at": { "since": "2026-01-01T00:00:00Z" } }), "created_at[since]"),
        (json!({ "created_at[gte]": "yesterday" }), "created_at[gte]"),
        (json!({ "updated_at": { "lt": 5 } }), "updated_at[lt]"),
        (json!({ "duration[gt]": "long" }), "duration[gt]"),
        (json!({ "is_api": "maybe" }), "is_api"),
        (json!({ "owner_ids": [true] }), "owner_ids"),
        (json!({ "platform": "skype" }), "platform"),
        (json!({ "media_type": "chat" }), "media_type"),
        (json!({ "language_code": "eng" }), "language_code"),
        (json!({ "sort_by": "title" }), "sort_by"),
        (json!({ "sort_direction": "sideways" }), "sort_direction"),
        (json!({ "per_page": 10 }), "per_page"),
        (json!({ "page": 3 }), "page"),
    ] {
        let body = app.query(q, json!({ "f": { "remoteQuery": rq } })).await;
        assert_eq!(codes(&body), ["BAD_USER_INPUT"], "{rq}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(key), "{rq}: {message}");
    }
    assert_eq!(app.salesloft.total_requests(), 0, "nothing was sent to Salesloft");
}

#[tokio::test]
async fn hosts_and_transcripts_of_a_page_cost_one_users_request_and_one_sentence_page_per_call() {
    let app = spawn().await;
    let data = app.salesloft.data();
    let want = expected(data, |_| true);
    let q = r#"{ calls(connectionId: "salesloft-demo", first: 30) { edges { node { remoteId duration medium platform language host { remoteId email name } transcript { speakers { speakerId } segments(first: 100) { totalCount edges { node { speakerId startMs text } } } } } } } }"#;
    let d = app.data(q, json!({})).await;
    let edges = d["calls"]["edges"].as_array().unwrap();
    let mut transcribed = 0;
    for (e, id) in edges.iter().zip(&want) {
        let n = &e["node"];
        assert_eq!(n["remoteId"], id.as_str());
        let call = ids::call_index(id).unwrap();
        let c = data.conversation(call).unwrap();
        assert_eq!(n["duration"].as_f64().unwrap(), c.duration_ms / 1000.0, "milliseconds to seconds");
        assert_eq!(
            (n["platform"].as_str(), n["language"].as_str()),
            (Some(c.platform), Some(c.language_code.as_str()))
        );
        assert_eq!(n["medium"], c.media_type.to_uppercase());
        let owner = data.user(c.owner).unwrap();
        assert_eq!(n["host"]["remoteId"], ids::user_guid(c.owner).as_str(), "joined through the guid");
        assert_eq!(n["host"]["email"], owner.email.as_str());
        let sentences = data.sentences(&app.world, call);
        if !c.transcribed {
            assert!(n["transcript"].is_null(), "{n}");
            continue;
        }
        transcribed += 1;
        let segs = n["transcript"]["segments"]["edges"].as_array().unwrap();
        assert_eq!(n["transcript"]["segments"]["totalCount"], sentences.len() as u64);
        for (seg, s) in segs.iter().zip(&sentences) {
            assert_eq!(seg["node"]["text"], s.text.as_str());
            assert_eq!(seg["node"]["startMs"], (s.start_secs * 1000.0).round() as i64);
            assert_eq!(seg["node"]["speakerId"], ids::attendee_id(call, s.participant).as_str());
        }
    }
    assert!(transcribed > 20);
    assert_eq!(
        app.salesloft.requests("GET", "/v2/conversations"),
        1,
        "the list only: its records serve the transcripts"
    );
    assert_eq!(app.salesloft.requests("GET", "/v2/conversations/{id}"), 0);
    assert_eq!(app.salesloft.requests("GET", "/v2/users"), 1, "30 hosts, one guid[] request");
    assert_eq!(app.salesloft.requests("GET", "/v2/transcriptions/{id}/sentences"), transcribed);
}

#[tokio::test]
async fn users_are_keyed_by_guid_and_found_by_their_salesloft_address_in_any_case() {
    let app = spawn().await;
    let data = app.salesloft.data();
    let d = app
        .data(r#"{ users(connectionId: "salesloft-demo", first: 100) { totalCount edges { node { remoteId email name title active } } } }"#, json!({}))
        .await;
    assert_eq!(d["users"]["totalCount"], data.users.len() as u64);
    let listed: HashSet<(String, String)> = d["users"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["node"]["remoteId"].as_str().unwrap().to_owned(), e["node"]["email"].as_str().unwrap().to_owned()))
        .collect();
    let want: HashSet<(String, String)> =
        data.users.iter().map(|u| (ids::user_guid(u.person), u.email.clone())).collect();
    assert_eq!(listed, want);
    // Some addresses differ from the person's primary one (alias or capitalisation).
    let differing = data.users.iter().find(|u| u.email != app.world.people[u.person].email).unwrap();
    let q = r#"query($e: String!) { user(email: $e) { remoteId provider name } }"#;
    let found = app.data(q, json!({ "e": differing.email.to_lowercase() })).await;
    assert_eq!(found["user"]["remoteId"], ids::user_guid(differing.person).as_str());
    assert_eq!(found["user"]["provider"], "SALESLOFT");
    assert_eq!(found["user"]["name"], app.world.people[differing.person].full_name().as_str());
}

#[tokio::test]
async fn calls_resolve_by_id_and_node_and_unknown_ids_are_null() {
    let app = spawn().await;
    let id = expected(app.salesloft.data(), |_| true)[7].clone();
    let gid = encode(Kind::Call, CONN, &id);
    let q = r#"query($id: ID!) { call(id: $id) { remoteId title } node(id: $id) { id ... on Call { remoteId } } }"#;
    let d = app.data(q, json!({ "id": gid })).await;
    assert_eq!(d["call"]["remoteId"], id.as_str());
    assert_eq!(d["node"]["remoteId"], id.as_str());
    assert_eq!(app.salesloft.requests("GET", "/v2/conversations"), 1, "one ids[] request for both");
    for unknown in ["3fa85f64-5717-4562-b3fc-2c963f66afa6", "../users"] {
        let d = app.data(q, json!({ "id": encode(Kind::Call, CONN, unknown) })).await;
        assert!(d["call"].is_null() && d["node"].is_null(), "{unknown}");
    }
}

fn budget_settings(calls: usize, budget: u32, window: Duration) -> (convograph::config::Settings, SandboxSettings) {
    let mut settings = settings_for(ProviderKind::Salesloft);
    settings.sandbox =
        Some(SandboxConfig { calls, providers: vec![ProviderKind::Salesloft], ..SandboxConfig::default() });
    let sims = SandboxSettings {
        salesloft: SalesloftSimSettings { budget, budget_window: window, ..SalesloftSimSettings::default() },
        ..SandboxSettings::default()
    };
    (settings, sims)
}

#[tokio::test]
async fn a_walk_that_would_overspend_the_budget_waits_for_the_next_window_and_is_never_refused() {
    let (settings, sims) = budget_settings(2000, 4, Duration::from_secs(1));
    let app = spawn_with_simulators(settings, sims).await;
    let want = expected(app.salesloft.data(), |_| true);
    let pages = want.len().div_ceil(100) as u64;
    assert!(pages > 8, "the walk costs two budgets and more: {pages} pages");
    // Another integration of the team has spent most of this window's budget.
    app.salesloft.spend(3);
    let (got, _) = walk_ids(&app, json!({})).await;
    assert_eq!(got, want);
    assert_eq!(app.salesloft.rejected_429(), 0, "paced before being refused");
    assert_eq!(app.salesloft.requests("GET", "/v2/conversations"), pages);
}

#[tokio::test]
async fn when_the_next_window_is_further_than_max_queue_wait_the_walk_fails_fast_with_rate_limited() {
    let (mut settings, sims) = budget_settings(2000, 3, Duration::from_secs(6 * 3600));
    settings.traffic.salesloft.max_queue_wait = Some(Duration::from_secs(2));
    let app = spawn_with_simulators(settings, sims).await;
    let q = r#"query($after: String) { calls(connectionId: "salesloft-demo", first: 100, after: $after) { edges { node { id } } pageInfo { endCursor } } }"#;
    let mut after: Option<String> = None;
    for _ in 0..3 {
        let d = app.data(q, json!({ "after": after })).await;
        after = d["calls"]["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let body = app.query(q, json!({ "after": after })).await;
    assert_eq!(codes(&body), ["RATE_LIMITED"], "{body}");
    let retry = body["errors"][0]["extensions"]["retryAfterMs"].as_u64().unwrap();
    assert!(retry > 2000 && retry <= 6 * 3600 * 1000 + 1000, "{retry}");
    assert_eq!(body["errors"][0]["extensions"]["provider"], "salesloft");
    assert_eq!(app.salesloft.rejected_429(), 0, "refused by convograph, not by Salesloft");
    assert_eq!(app.salesloft.requests("GET", "/v2/conversations"), 3);
}

#[tokio::test]
async fn a_429_waits_for_the_next_window_and_is_retried() {
    let (settings, sims) = budget_settings(260, 600, Duration::from_secs(1));
    let app = spawn_with_simulators(settings, sims).await;
    app.salesloft.inject_429(1);
    let d =
        app.data(r#"{ calls(connectionId: "salesloft-demo", first: 3) { edges { node { id } } } }"#, json!({})).await;
    assert_eq!(d["calls"]["edges"].as_array().unwrap().len(), 3);
    assert_eq!(app.salesloft.rejected_429(), 1);
    assert_eq!(app.salesloft.requests("GET", "/v2/conversations"), 2);
}

#[tokio::test]
async fn a_refused_token_is_provider_error_401_and_other_connections_answer() {
    let other = Sandbox::start(SandboxSettings { people: 4, calls: 20, ..SandboxSettings::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "not-the-token\n").unwrap();
    let mut settings = settings_for(ProviderKind::Salesloft);
    settings.connections.push(ConnectionSettings {
        webhook: None,
        id: "sl-bad".into(),
        provider: ProviderKind::Salesloft,
        base_url: other.salesloft.base_url().parse().unwrap(),
        credentials: CredentialsConfig::Bearer { token: SecretSource::File(token) },
        time_zone: None,
        workspace_id: None,
        conversation_ids: Vec::new(),
        traffic: Default::default(),
    });
    let app = spawn_with(settings).await;
    let body = app
        .query(
            r#"{ good: calls(connectionId: "salesloft-demo", first: 1) { edges { node { id } } } bad: calls(connectionId: "sl-bad", first: 1) { edges { node { id } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["good"]["edges"].as_array().unwrap().len(), 1);
    assert!(body["data"]["bad"].is_null());
    assert_eq!(codes(&body), ["PROVIDER_ERROR"]);
    assert_eq!(body["errors"][0]["extensions"]["http"]["status"], 401);
    assert!(!body.to_string().contains("not-the-token"), "the token never shows");
    other.shutdown().await;
}
