//! `_entities` answers each representation on its own: one that cannot be resolved
//! (unknown type, no usable key, a malformed or foreign or unknown id) is `null` at
//! its index with a coded error at `["_entities", i]`, and every other index resolves
//! as it would alone, still batched upstream.

use convograph::schema::id::{self, Kind};
use serde_json::{Value, json};

use crate::{
    auth::{GONG_KEY, secured_settings},
    helpers::{TestApp, codes, gong_call_ids, spawn_app, spawn_with},
};

const ENTITIES: &str = r#"query($r: [_Any!]!) { _entities(representations: $r) {
    __typename ... on User { id email name } ... on Call { id remoteId title } } }"#;

/// A representation, and the code its slot must fail with (`None`: it resolves).
type Rep = (Value, Option<&'static str>);

/// The global ids of the first `n` Gong calls of the world.
fn gong_calls(app: &TestApp, n: usize) -> Vec<String> {
    gong_call_ids(&app.world).into_iter().take(n).map(|r| id::encode(Kind::Call, "gong-demo", &r).to_string()).collect()
}

/// Representations no entity resolver can take, with the code each must fail with.
fn malformed() -> Vec<Rep> {
    vec![
        (json!({ "__typename": "Nope", "id": "x" }), Some("BAD_USER_INPUT")),
        (json!({ "__typename": "User" }), Some("BAD_USER_INPUT")),
        (json!({ "__typename": "User", "id": { "nested": 1 }, "email": [1] }), Some("BAD_USER_INPUT")),
        (json!({ "__typename": "Call", "email": "a@b.example" }), Some("BAD_USER_INPUT")),
        (json!({ "id": "x" }), Some("BAD_USER_INPUT")),
        (json!({ "__typename": 7, "id": "x" }), Some("BAD_USER_INPUT")),
        (json!("just a string"), Some("BAD_USER_INPUT")),
        (json!({ "__typename": "Call", "id": "not-an-id" }), Some("BAD_USER_INPUT")),
    ]
}

/// Interleaves `bad` into `good` (one after every second good one), keeping the
/// order of each.
fn interleave(good: Vec<Rep>, bad: Vec<Rep>) -> Vec<Rep> {
    let mut bad = bad.into_iter();
    let mut out = Vec::new();
    for (i, g) in good.into_iter().enumerate() {
        out.push(g);
        if i % 2 == 1
            && let Some(b) = bad.next()
        {
            out.push(b);
        }
    }
    out.extend(bad);
    out
}

/// Asserts `body` answers `reps` slot by slot: a good one is what it is alone
/// (`alone[i]`), a bad one is `null` with exactly one error, at its index, with its code.
fn assert_slots(body: &Value, reps: &[Rep], alone: &[Value]) {
    let got = body["data"]["_entities"].as_array().unwrap_or_else(|| panic!("no _entities list: {body:#}"));
    assert_eq!(got.len(), reps.len(), "{body:#}");
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    for (i, ((rep, code), slot)) in reps.iter().zip(got).enumerate() {
        let at: Vec<&Value> = errors.iter().filter(|e| e["path"] == json!(["_entities", i])).collect();
        match code {
            None => {
                assert!(at.is_empty(), "slot {i} ({rep}) has errors: {at:#?}");
                assert!(slot.is_object(), "slot {i} ({rep}): {slot}");
                assert_eq!(slot, &alone[i], "slot {i} ({rep}) differs from the same representation alone");
            }
            Some(code) => {
                assert!(slot.is_null(), "slot {i} ({rep}): {slot}");
                assert_eq!(at.len(), 1, "slot {i} ({rep}): one error at its index: {body:#}");
                assert_eq!(at[0]["extensions"]["code"], *code, "slot {i} ({rep}): {:#}", at[0]);
                assert!(!at[0]["message"].as_str().unwrap_or_default().is_empty());
            }
        }
    }
    let bad = reps.iter().filter(|(_, c)| c.is_some()).count();
    assert_eq!(errors.len(), bad, "one error per bad representation and no other: {body:#}");
}

/// Each good representation of `reps` resolved alone (in its own request), by index;
/// `Null` for the bad ones.
async fn alone(app: &TestApp, credential: Option<&str>, reps: &[Rep]) -> Vec<Value> {
    let mut out = Vec::new();
    for (rep, code) in reps {
        if code.is_some() {
            out.push(Value::Null);
            continue;
        }
        let (status, body) = app.query_as(credential, ENTITIES, json!({ "r": [rep] })).await;
        assert_eq!(status, 200, "{body:#}");
        assert!(body.get("errors").is_none(), "{rep} alone: {body:#}");
        out.push(body["data"]["_entities"][0].clone());
    }
    out
}

#[tokio::test]
async fn each_bad_representation_is_null_at_its_index_and_the_others_resolve_as_alone() {
    // Gong and ExecVision connections; the client's key reads Gong only.
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_with(secured_settings(&dir)).await;
    let users = app.data_as(GONG_KEY, "{ users(first: 2) { edges { node { id email } } } }", json!({})).await;
    let user = |i: usize| users["users"]["edges"][i]["node"].clone();
    let calls = gong_calls(&app, 3);
    let foreign = id::encode(Kind::Call, "execvision-demo", "1").to_string();
    let missing = id::encode(Kind::Call, "gong-demo", "999999999999999999").to_string();

    let good: Vec<Rep> = vec![
        (json!({ "__typename": "Call", "id": calls[0] }), None),
        (json!({ "__typename": "User", "id": user(0)["id"] }), None),
        (json!({ "__typename": "Call", "id": calls[1] }), None),
        (json!({ "__typename": "User", "email": user(1)["email"] }), None),
        (json!({ "__typename": "Call", "id": calls[2] }), None),
        (json!({ "__typename": "User", "email": user(0)["email"] }), None),
    ];
    let mut bad = malformed();
    bad.push((json!({ "__typename": "Call", "id": foreign }), Some("FORBIDDEN")));
    bad.push((json!({ "__typename": "Call", "id": missing }), Some("NOT_FOUND")));
    bad.push((json!({ "__typename": "User", "email": "nobody@nowhere.example" }), Some("NOT_FOUND")));
    let reps = interleave(good, bad);

    let vars = json!({ "r": reps.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>() });
    let execvision_before = app.execvision.total_requests();
    let (status, body) = app.query_as(Some(GONG_KEY), ENTITIES, vars).await;

    assert_eq!(status, 200, "{body:#}");
    assert_eq!(app.execvision.total_requests(), execvision_before, "a foreign id costs nothing upstream");
    assert_slots(&body, &reps, &alone(&app, Some(GONG_KEY), &reps).await);
}

#[tokio::test]
async fn a_batch_of_only_bad_representations_is_a_list_of_nulls() {
    let app = spawn_app().await;
    let reps = malformed();
    let vars = json!({ "r": reps.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>() });
    let before = app.gong.total_requests();

    let body = app.query(ENTITIES, vars).await;

    assert_slots(&body, &reps, &vec![Value::Null; reps.len()]);
    assert_eq!(app.gong.total_requests() - before, 0, "nothing to look up");
}

#[tokio::test]
async fn bad_representations_do_not_change_the_upstream_cost_of_the_good_ones() {
    const N: usize = 40;
    let call_reps = |app: &TestApp| -> Vec<Rep> {
        gong_calls(app, N).into_iter().map(|id| (json!({ "__typename": "Call", "id": id }), None)).collect()
    };
    let cost = |app: &TestApp| (app.gong.requests("POST", "/v2/calls/extensive"), app.gong.total_requests());

    // The good ones alone, on a fresh server.
    let clean = spawn_app().await;
    let good = call_reps(&clean);
    let (lookups, total) = cost(&clean);
    let body = clean.query(ENTITIES, json!({ "r": good.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>() })).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let clean_cost = (cost(&clean).0 - lookups, cost(&clean).1 - total);
    assert_eq!(clean_cost, (1, 1), "one batched lookup for {N} calls");
    let clean_entities = body["data"]["_entities"].as_array().unwrap().clone();

    // The same with bad representations among them, on another fresh server.
    let app = spawn_app().await;
    let reps = interleave(call_reps(&app), malformed());
    let (lookups, total) = cost(&app);
    let body = app.query(ENTITIES, json!({ "r": reps.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>() })).await;

    assert_eq!((cost(&app).0 - lookups, cost(&app).1 - total), clean_cost, "the same upstream requests");
    let mut good = clean_entities.into_iter();
    let expected: Vec<Value> =
        reps.iter().map(|(_, c)| if c.is_none() { good.next().unwrap() } else { Value::Null }).collect();
    assert_slots(&body, &reps, &expected);
}

#[tokio::test]
async fn two_entities_fields_of_one_request_place_their_errors_at_their_own_indexes() {
    let app = spawn_app().await;
    let calls = gong_calls(&app, 2);
    let query = r#"query($a: [_Any!]!, $b: [_Any!]!) {
        a: _entities(representations: $a) { ... on Call { id } }
        b: _entities(representations: $b) { ... on Call { id } } }"#;
    let a = json!([{ "__typename": "Call", "id": calls[0] }, { "__typename": "Nope" }, { "__typename": "Call", "id": calls[1] }]);
    let b = json!([{ "__typename": "Nope" }, { "__typename": "Call", "id": calls[1] }, { "__typename": "User" }]);

    let body = app.query(query, json!({ "a": a, "b": b })).await;

    assert_eq!(body["data"]["a"], json!([{ "id": calls[0] }, null, { "id": calls[1] }]), "{body:#}");
    assert_eq!(body["data"]["b"], json!([null, { "id": calls[1] }, null]), "{body:#}");
    let mut paths: Vec<String> = body["errors"].as_array().unwrap().iter().map(|e| e["path"].to_string()).collect();
    paths.sort();
    assert_eq!(paths, [r#"["a",1]"#, r#"["b",0]"#, r#"["b",2]"#], "{body:#}");
    assert_eq!(codes(&body), vec!["BAD_USER_INPUT"; 3]);
}
