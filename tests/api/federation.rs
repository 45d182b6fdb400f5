//! Federation v2: `_service` and `_entities`.

use serde_json::json;

use crate::helpers::{codes, spawn_app};

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
async fn an_unknown_entity_is_null_in_its_slot() {
    let app = spawn_app().await;
    let data = app.data("{ users(first: 1) { edges { node { id email } } } }", json!({})).await;
    let u0 = &data["users"]["edges"][0]["node"];
    let reps = json!([
        { "__typename": "User", "email": "nobody@nowhere.example" },
        { "__typename": "User", "id": u0["id"] },
    ]);
    let body = app.query(ENTITIES, json!({ "r": reps })).await;
    assert!(body["data"]["_entities"][0].is_null());
    assert_eq!(body["data"]["_entities"][1]["email"], u0["email"]);
    assert!(codes(&body).is_empty(), "not found is null, not an error: {body}");
}
