//! Every type that implements `Node` round-trips through `node(id:)`, and every one
//! carries the provider's record as `remoteData`.

use std::collections::BTreeSet;

use convograph::{config::SandboxConfig, providers::ProviderKind};
use serde_json::{Value, json};

use crate::helpers::{JOINED, codes, joined_settings, spawn_with};

/// One id of every kind, from the lists that hold them.
const IDS: &str = r#"{
  users(first: 1) { edges { node { id } } }
  gong: calls(connectionId: "gong-demo", first: 1) { edges { node { id transcript { id } } } }
  ev: calls(connectionId: "execvision-demo", first: 1) { edges { node { id transcript { id } } } }
  activity(connectionId: "gong-demo", startTime: "2026-03-02T05:00:00Z", endTime: "2026-03-16T04:00:00Z", aggregationPeriod: WEEK, first: 1) { edges { node { id } } }
  interactions(connectionId: "gong-demo", startTime: "2026-03-02T05:00:00Z", endTime: "2026-03-16T04:00:00Z", first: 1) { edges { node { id } } }
  gongScores: scores(connectionId: "gong-demo", first: 1) { edges { node { id } } }
  evScores: scores(connectionId: "execvision-demo", first: 1) { edges { node { id } } }
  scorecards(connectionId: "gong-demo", first: 1) { edges { node { id } } }
  teams(first: 1) { edges { node { id manager { id } } } }
  departments(first: 1) { edges { node { id } } }
  topics(first: 1) { edges { node { id } } }
  topicMatches(first: 1) { edges { node { id } } }
  listens(first: 1) { edges { node { id } } }
  feedback(first: 1) { edges { node { id } } }
  shares(first: 1) { edges { node { id } } }
  kpis(first: 1) { edges { node { id } } }
  coachingPlans(first: 1) { edges { node { id } } }
  coachingMeetings(first: 1) { edges { node { id } } }
}"#;

const NODE: &str = r#"query($id: ID!) { node(id: $id) { __typename id
  ... on User { remoteData } ... on Call { remoteData } ... on Transcript { remoteData }
  ... on Activity { remoteData } ... on Interaction { remoteData } ... on Score { remoteData }
  ... on Scorecard { remoteData } ... on Coaching { remoteData } ... on Team { remoteData }
  ... on Department { remoteData } ... on Topic { remoteData } ... on CallTopicMatches { remoteData }
  ... on Listen { remoteData } ... on Feedback { remoteData } ... on Share { remoteData }
  ... on Kpi { remoteData } ... on CoachingPlan { remoteData } ... on CoachingMeeting { remoteData } } }"#;

fn collect_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("id", Value::String(s)) => out.push(s.clone()),
                    _ => collect_ids(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_ids(i, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_node_type_round_trips_by_id_with_its_remote_data() {
    assert!(JOINED.contains(&ProviderKind::Gong) && JOINED.contains(&ProviderKind::ExecVision));
    let mut settings = joined_settings();
    // The default world, where every ExecVision record kind exists.
    settings.sandbox = Some(SandboxConfig { providers: JOINED.to_vec(), ..SandboxConfig::default() });
    let app = spawn_with(settings).await;
    let mut ids = Vec::new();
    collect_ids(&app.data(IDS, json!({})).await, &mut ids);
    let manager = app.data(r#"{ user(email: "vera.rossi@acme-demo.com") { manager { id } } }"#, json!({})).await;
    let coaching = app
        .data(
            r#"query($m: ID!) { coaching(managerId: $m, startTime: "2026-01-05T00:00:00Z", endTime: "2026-07-01T00:00:00Z") { id } }"#,
            json!({ "m": manager["user"]["manager"]["id"] }),
        )
        .await;
    collect_ids(&coaching, &mut ids);

    let mut types = BTreeSet::new();
    for id in &ids {
        let got = app.data(NODE, json!({ "id": id })).await;
        let node = &got["node"];
        assert_eq!(node["id"].as_str(), Some(id.as_str()), "{id} resolves to itself: {got}");
        assert!(!node["remoteData"].is_null(), "{id}: remoteData");
        types.insert(node["__typename"].as_str().unwrap().to_owned());
    }
    let schema = app.data(r#"{ __type(name: "Node") { possibleTypes { name fields { name } } } }"#, json!({})).await;
    let possible: BTreeSet<String> = schema["__type"]["possibleTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let fields: Vec<&str> =
                t["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
            assert!(fields.contains(&"remoteData"), "{} has remoteData", t["name"]);
            t["name"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(types, possible, "every Node type round-trips");
}

#[tokio::test]
async fn unknown_or_malformed_node_ids_are_null_or_bad_user_input() {
    let app = spawn_with(joined_settings()).await;
    let missing =
        convograph::schema::id::encode(convograph::schema::id::Kind::Listen, "execvision-demo", "no|such|listen");
    let got = app.query(NODE, json!({ "id": missing })).await;
    assert!(got["data"]["node"].is_null() && codes(&got).is_empty(), "{got}");
    let bad = convograph::schema::id::encode(convograph::schema::id::Kind::Activity, "gong-demo", "no-parts");
    assert_eq!(codes(&app.query(NODE, json!({ "id": bad })).await), ["BAD_USER_INPUT"]);
    let other = convograph::schema::id::encode(convograph::schema::id::Kind::Call, "nope", "1");
    assert_eq!(codes(&app.query(NODE, json!({ "id": other })).await), ["NOT_FOUND"]);
}

/// The simulator's own `calls/extensive` records for `ids`, asked for with the parts
/// convograph asks for, by id.
async fn gong_records(app: &crate::helpers::TestApp, ids: &[String]) -> std::collections::HashMap<String, Value> {
    let body = convograph::providers::gong::calls_extensive_body(&json!({ "callIds": ids }));
    let got: Value = app
        .client
        .post(format!("{}/v2/calls/extensive", app.gong.base_url()))
        .basic_auth(app.gong.access_key(), Some(app.gong.access_key_secret()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    got["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["metaData"]["id"].as_str().unwrap().to_owned(), c.clone()))
        .collect()
}

/// `remoteData` is the provider's record exactly, whether the call was just fetched or
/// read back from the cache (which keeps it compressed), listed or looked up by id.
#[tokio::test]
async fn remote_data_is_the_providers_record_exactly_also_from_the_cache() {
    // Without the whole-response cache, so repeated queries read the provider cache.
    let mut settings = crate::helpers::test_settings();
    settings.cache.responses_max_mib = 0;
    let app = spawn_with(settings).await;
    const LIST: &str =
        r#"{ calls(connectionId: "gong-demo", first: 40) { edges { node { id remoteId remoteData } } } }"#;
    let first = app.data(LIST, json!({})).await;
    let edges = first["calls"]["edges"].as_array().unwrap().clone();
    assert_eq!(edges.len(), 40);
    let ids: Vec<String> = edges.iter().map(|e| e["node"]["remoteId"].as_str().unwrap().to_owned()).collect();
    let fetches = app.gong.requests("POST", "/v2/calls/extensive");
    let expected = gong_records(&app, &ids).await;
    assert_eq!(expected.len(), ids.len());
    for e in &edges {
        let id = e["node"]["remoteId"].as_str().unwrap();
        assert_eq!(e["node"]["remoteData"], expected[id], "{id} as fetched");
    }

    // The same page again is a cache hit: the same records, no request upstream.
    let hit = app.data(LIST, json!({})).await;
    assert_eq!(hit, first, "a cached page answers as the fetched one");
    // By id: a miss fetches the calls in one batch, then a hit reads them back.
    let by_id = r#"query($id: ID!) { node(id: $id) { ... on Call { remoteId remoteData } } }"#;
    for round in ["miss", "hit"] {
        for e in edges.iter().take(5) {
            let got = app.data(by_id, json!({ "id": e["node"]["id"] })).await;
            let id = got["node"]["remoteId"].as_str().unwrap();
            assert_eq!(got["node"]["remoteData"], expected[id], "{id} by id ({round})");
        }
    }
    // One request is this test's own, one each the five calls looked up by id
    // (calls listed are not kept by id on Gong); the page and the second round of
    // lookups came from the cache.
    assert_eq!(app.gong.requests("POST", "/v2/calls/extensive") - fetches, 1 + 5);
}
