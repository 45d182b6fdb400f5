//! Federated tracing: `apollo-federation-include-trace: ftv1` adds `extensions.ftv1`,
//! Apollo's `Trace` protobuf in base64, decoded here with the crate's message types
//! (the Node tests decode it with Apollo's own decoder and through @apollo/gateway).

use base64::{Engine as _, engine::general_purpose::STANDARD};
use convograph::federation::ftv1::proto::{Node, NodeId, Trace};
use prost::Message as _;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const HEADER: &str = "apollo-federation-include-trace";

async fn traced(app: &TestApp, body: Value) -> Value {
    let resp = app.client.post(app.url("/graphql")).header(HEADER, "ftv1").json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn decode(body: &Value) -> Trace {
    let b64 = body["extensions"]["ftv1"].as_str().unwrap_or_else(|| panic!("no ftv1 in {body:#}"));
    Trace::decode(STANDARD.decode(b64).unwrap().as_slice()).expect("a Trace message")
}

fn child<'a>(n: &'a Node, name: &str) -> &'a Node {
    n.child
        .iter()
        .find(|c| c.id == Some(NodeId::ResponseName(name.into())))
        .unwrap_or_else(|| panic!("no child {name} in {n:#?}"))
}

fn item(n: &Node, i: u32) -> &Node {
    n.child.iter().find(|c| c.id == Some(NodeId::Index(i))).unwrap_or_else(|| panic!("no item {i}"))
}

/// Every field node of the tree starts after its parent field and ends before it
/// ends (a field's time includes its sub-selection), within the trace's duration.
fn assert_nested_timings(n: &Node, parent: (u64, u64), duration: u64) {
    let is_field = matches!(n.id, Some(NodeId::ResponseName(_)));
    let here = if is_field {
        assert!(n.start_time <= n.end_time, "{:?}", n.id);
        assert!(n.start_time >= parent.0 && n.end_time <= parent.1, "{:?} outside its parent", n.id);
        assert!(n.end_time <= duration);
        assert!(!n.parent_type.is_empty() && !n.r#type.is_empty(), "{:?} has types", n.id);
        (n.start_time, n.end_time)
    } else {
        parent
    };
    for c in &n.child {
        assert_nested_timings(c, here, duration);
    }
}

#[tokio::test]
async fn a_trace_has_one_node_per_field_with_types_and_nested_timings() {
    let app = spawn_app().await;
    let query = "{ calls(first: 3) { edges { node { title host { name } } } } }";
    let body = traced(&app, json!({ "query": query })).await;
    let edges = body["data"]["calls"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 3);
    let trace = decode(&body);

    let (start, end) = (trace.start_time.unwrap(), trace.end_time.unwrap());
    let wall_ns =
        |t: convograph::federation::ftv1::proto::Timestamp| t.seconds as i128 * 1_000_000_000 + t.nanos as i128;
    assert_eq!(wall_ns(end) - wall_ns(start), trace.duration_ns as i128);
    assert!(trace.duration_ns > 0);

    let root = trace.root.as_ref().unwrap();
    assert_nested_timings(root, (0, trace.duration_ns), trace.duration_ns);
    let calls = child(root, "calls");
    assert_eq!((calls.parent_type.as_str(), calls.r#type.as_str()), ("Query", "CallConnection!"));
    let edge_nodes = child(calls, "edges");
    assert_eq!(edge_nodes.child.len(), edges.len(), "one index node per list item");
    for (i, edge) in edges.iter().enumerate() {
        let node = child(item(edge_nodes, i as u32), "node");
        let title = child(node, "title");
        assert_eq!((title.parent_type.as_str(), title.r#type.as_str()), ("Call", "String"), "as in schema.graphql");
        let host = child(node, "host");
        assert_eq!(host.r#type, "User");
        assert!(edge["node"]["host"]["name"].is_string());
        assert_eq!(child(host, "name").parent_type, "User");
        // The host is loaded from the provider: it takes time, and its name after it.
        assert!(host.end_time > host.start_time);
    }
}

#[tokio::test]
async fn aliases_keep_the_field_name_and_errors_sit_at_their_path() {
    let app = spawn_app().await;
    let users = app.data("{ users(first: 1) { edges { node { id } } } }", json!({})).await;
    let id = users["users"]["edges"][0]["node"]["id"].clone();
    let query = r#"query($id: ID!) { who: user(id: $id) { name
        activity(startTime: "2026-02-01T00:00:00Z", endTime: "2026-01-01T00:00:00Z") { totalCount } } }"#;
    let body = traced(&app, json!({ "query": query, "variables": { "id": id } })).await;
    assert_eq!(body["errors"][0]["path"], json!(["who", "activity"]));
    let trace = decode(&body);
    let who = child(trace.root.as_ref().unwrap(), "who");
    assert_eq!(who.original_field_name, "user");
    let activity = child(who, "activity");
    assert_eq!(activity.error.len(), 1);
    let error = &activity.error[0];
    assert_eq!(error.message, body["errors"][0]["message"].as_str().unwrap());
    assert!(!error.location.is_empty());
    let as_json: Value = serde_json::from_str(&error.json).unwrap();
    assert_eq!(as_json["extensions"]["code"], "BAD_USER_INPUT");
    assert!(child(who, "name").error.is_empty());
}

#[tokio::test]
async fn only_requests_that_ask_get_a_trace_and_each_of_a_batch_gets_its_own() {
    let app = spawn_app().await;
    let plain = app.query("{ connections { id } }", json!({})).await;
    assert!(plain.get("extensions").is_none_or(|e| e.get("ftv1").is_none()), "{plain}");

    let other = app
        .client
        .post(app.url("/graphql"))
        .header(HEADER, "ftv2")
        .json(&json!({ "query": "{ connections { id } }" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(other.get("extensions").is_none_or(|e| e.get("ftv1").is_none()), "only ftv1 is known");

    let batch =
        traced(&app, json!([{ "query": "{ connections { id } }" }, { "query": "{ a: connections { provider } }" }]))
            .await;
    assert_eq!(child(decode(&batch[0]).root.as_ref().unwrap(), "connections").r#type, "[Connection!]!");
    assert_eq!(child(decode(&batch[1]).root.as_ref().unwrap(), "a").original_field_name, "connections");

    let get = app
        .client
        .get(app.url("/graphql"))
        .header(HEADER, "ftv1")
        .query(&[("query", "{ connections { id } }")])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(decode(&get).root.is_some(), "GET too");
}
