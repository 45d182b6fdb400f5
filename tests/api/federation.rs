//! Federation v2: `_service` and `_entities` (slots, order, batching, errors).

use std::collections::HashMap;

use convograph::{
    sandbox::gong::ids as gong_ids,
    schema::id::{self, Kind},
    startup::SANDBOX_GONG_CONNECTION,
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, codes, gong_call_ids, spawn_app};

const ENTITIES: &str = r#"query($r: [_Any!]!) { _entities(representations: $r) {
    __typename ... on User { id email name } ... on Call { id title } } }"#;

#[tokio::test]
async fn service_sdl_is_the_published_schema_with_v2_keys() {
    let app = spawn_app().await;
    let data = app.data("{ _service { sdl } }", json!({})).await;
    let sdl = data["_service"]["sdl"].as_str().unwrap();
    assert!(sdl.contains("https://specs.apollo.dev/federation/v2"));
    assert!(sdl.contains(r#"type User implements Node @key(fields: "id") @key(fields: "email")"#));
    assert!(sdl.contains(r#"type Call implements Node @key(fields: "id")"#));
}

#[tokio::test]
async fn entities_resolve_users_by_id_and_email_and_calls_by_id_in_order() {
    let app = spawn_app().await;
    let data = app
        .data(
            "{ users(first: 2) { edges { node { id email } } } calls(first: 2) { edges { node { id title } } } }",
            json!({}),
        )
        .await;
    let u0 = &data["users"]["edges"][0]["node"];
    let u1 = &data["users"]["edges"][1]["node"];
    let c0 = &data["calls"]["edges"][0]["node"];
    let reps = json!([
        { "__typename": "Call", "id": c0["id"] },
        { "__typename": "User", "email": u1["email"] },
        { "__typename": "User", "id": u0["id"] },
    ]);
    let got = app.data(ENTITIES, json!({ "r": reps })).await;
    let e = &got["_entities"];
    assert_eq!(e[0]["title"], c0["title"]);
    assert_eq!(e[1]["id"], u1["id"]);
    assert_eq!(e[2]["email"], u0["email"]);
}

#[tokio::test]
async fn an_unknown_entity_is_null_in_its_slot_with_a_not_found_error_at_that_slot() {
    let app = spawn_app().await;
    let data = app.data("{ users(first: 1) { edges { node { id email } } } }", json!({})).await;
    let u0 = &data["users"]["edges"][0]["node"];
    let reps = json!([
        { "__typename": "User", "id": u0["id"] },
        { "__typename": "User", "email": "nobody@nowhere.example" },
    ]);
    let body = app.query(ENTITIES, json!({ "r": reps })).await;
    assert_eq!(body["data"]["_entities"][0]["email"], u0["email"]);
    assert!(body["data"]["_entities"][1].is_null());
    assert_eq!(codes(&body), ["NOT_FOUND"], "{body:#}");
    assert_eq!(body["errors"][0]["path"], json!(["_entities", 1]));
}

/// Global ids of `n` Gong calls of the world, in a scrambled order, with their titles.
fn scrambled_calls(app: &TestApp, n: usize) -> Vec<(String, String, String)> {
    let titles: HashMap<String, String> = app
        .world
        .calls
        .iter()
        .filter(|c| c.recorded_by.gong)
        .map(|c| (gong_ids::call_id(c.index), c.title.clone()))
        .collect();
    let mut ids = gong_call_ids(&app.world);
    ids.truncate(n);
    // Interleave the two halves, reversed: an order no provider returns them in.
    let (a, b) = ids.split_at(n / 2);
    let mixed: Vec<String> = b.iter().rev().zip(a.iter()).flat_map(|(x, y)| [x.clone(), y.clone()]).collect();
    mixed
        .into_iter()
        .map(|remote| {
            let global = id::encode(Kind::Call, SANDBOX_GONG_CONNECTION, &remote).to_string();
            let title = titles[&remote].clone();
            (global, remote, title)
        })
        .collect()
}

const CALL_ENTITIES: &str =
    r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on Call { id remoteId title } } }"#;

#[tokio::test]
async fn a_hundred_call_representations_cost_one_upstream_request_and_keep_their_order() {
    let app = spawn_app().await;
    let calls = scrambled_calls(&app, 100);
    assert_eq!(calls.len(), 100);
    let reps: Vec<Value> = calls.iter().map(|(id, ..)| json!({ "__typename": "Call", "id": id })).collect();
    let (before, total_before) = (app.gong.requests("POST", "/v2/calls/extensive"), app.gong.total_requests());

    let data = app.data(CALL_ENTITIES, json!({ "r": reps })).await;

    let got = data["_entities"].as_array().unwrap();
    assert_eq!(got.len(), 100);
    for (slot, (id, remote, title)) in got.iter().zip(&calls) {
        assert_eq!(slot["id"], id.as_str());
        assert_eq!(slot["remoteId"], remote.as_str());
        assert_eq!(slot["title"], title.as_str());
    }
    assert_eq!(app.gong.requests("POST", "/v2/calls/extensive") - before, 1, "one batched lookup for 100 ids");
    assert_eq!(app.gong.total_requests() - total_before, 1, "and nothing else");
}

#[tokio::test]
async fn unknown_and_malformed_call_ids_are_null_in_their_slots_and_the_rest_resolve() {
    let app = spawn_app().await;
    let calls = scrambled_calls(&app, 100);
    let unknown = id::encode(Kind::Call, SANDBOX_GONG_CONNECTION, "999999999999999999").to_string();
    let mut reps: Vec<Value> = calls.iter().map(|(id, ..)| json!({ "__typename": "Call", "id": id })).collect();
    reps[17] = json!({ "__typename": "Call", "id": unknown });
    reps[60] = json!({ "__typename": "Call", "id": "not-an-id" });
    let before = app.gong.total_requests();

    let body = app.query(CALL_ENTITIES, json!({ "r": reps })).await;

    let got = body["data"]["_entities"].as_array().unwrap();
    assert_eq!(got.len(), 100);
    for (i, (slot, (_, remote, _))) in got.iter().zip(&calls).enumerate() {
        if i == 17 || i == 60 {
            assert!(slot.is_null(), "slot {i}: {slot}");
        } else {
            assert_eq!(slot["remoteId"], remote.as_str(), "slot {i}");
        }
    }
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{body:#}");
    let at =
        |slot: usize| errors.iter().find(|e| e["path"] == json!(["_entities", slot])).expect("an error at the slot");
    assert_eq!(at(17)["extensions"]["code"], "NOT_FOUND");
    assert!(at(17)["message"].as_str().unwrap().contains(&unknown));
    assert_eq!(at(60)["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(app.gong.total_requests() - before, 1, "still one upstream request");
}

#[tokio::test]
async fn duplicate_representations_each_get_their_entity() {
    let app = spawn_app().await;
    let calls = scrambled_calls(&app, 2);
    let reps = json!([
        { "__typename": "Call", "id": calls[0].0 },
        { "__typename": "Call", "id": calls[1].0 },
        { "__typename": "Call", "id": calls[0].0 },
    ]);
    let data = app.data(CALL_ENTITIES, json!({ "r": reps })).await;
    let remote = |i: usize| data["_entities"][i]["remoteId"].clone();
    assert_eq!([remote(0), remote(1), remote(2)], [json!(calls[0].1), json!(calls[1].1), json!(calls[0].1)]);
}

#[tokio::test]
async fn an_error_inside_an_entity_carries_the_slot_in_its_path() {
    let app = spawn_app().await;
    let data = app.data("{ users(first: 2) { edges { node { id } } } }", json!({})).await;
    let reps: Vec<Value> =
        (0..2).map(|i| json!({ "__typename": "User", "id": data["users"]["edges"][i]["node"]["id"] })).collect();
    let query = r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on User { name
        activity(startTime: "2026-02-01T00:00:00Z", endTime: "2026-01-01T00:00:00Z") { totalCount } } } }"#;
    let body = app.query(query, json!({ "r": reps })).await;
    let mut paths: Vec<Value> = body["errors"].as_array().unwrap().iter().map(|e| e["path"].clone()).collect();
    paths.sort_by_key(Value::to_string);
    assert_eq!(paths, [json!(["_entities", 0, "activity"]), json!(["_entities", 1, "activity"])], "{body:#}");
    assert!(codes(&body).iter().all(|c| c == "BAD_USER_INPUT"));
    // Each entity is still there (async-graphql 7 leaves a failed field out of its
    // object rather than nulling the parent).
    for i in 0..2 {
        assert!(body["data"]["_entities"][i]["name"].is_string(), "{body:#}");
    }
}
