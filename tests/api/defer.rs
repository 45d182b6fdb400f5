//! `@defer` over `multipart/mixed`: the page first, the deferred transcripts after,
//! at no extra upstream cost; errors inside the deferred items; the fallbacks.

use std::time::Duration;

use convograph::schema::persisted::sha256_hex;
use serde_json::{Value, json};

use crate::helpers::{TestApp, codes, spawn_app};

const MULTIPART: &str = "multipart/mixed;deferSpec=20220824, application/json";
const TRANSCRIPT_ROUTE: (&str, &str) = ("POST", "/v2/calls/transcript");

/// Five calls; each one's transcript deferred.
const DEFERRED: &str = r#"{ calls(first: 5) { edges { node { id title
    ... @defer(label: "t") { transcript { text speakers { name } } } } } } }"#;
/// The same without `@defer`.
const PLAIN: &str = r#"{ calls(first: 5) { edges { node { id title
    ... { transcript { text speakers { name } } } } } } }"#;

/// A `multipart/mixed` answer read part by part, as it arrives.
struct Parts {
    resp: reqwest::Response,
    buf: Vec<u8>,
    closed: bool,
}

impl Parts {
    async fn of(resp: reqwest::Response) -> Self {
        assert_eq!(resp.status(), 200);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert_eq!(ct, r#"multipart/mixed; boundary="-"; deferSpec=20220824"#);
        Parts { resp, buf: Vec::new(), closed: false }
    }

    /// The next part's JSON; `None` after the closing boundary. A part is whole once
    /// its JSON parses (the next boundary may not be sent yet).
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(v) = self.take() {
                return Some(v);
            }
            if self.buf.starts_with(b"\r\n-----\r\n") {
                self.closed = true;
                return None;
            }
            // A guard against hanging forever, not a synchronisation: parts come
            // as soon as they are ready.
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.resp.chunk())
                .await
                .expect("the next part within 30 s")
                .expect("the body reads");
            match chunk {
                Some(c) => self.buf.extend_from_slice(&c),
                None => panic!("the body ended without its closing boundary: {:?}", String::from_utf8_lossy(&self.buf)),
            }
        }
    }

    fn take(&mut self) -> Option<Value> {
        const START: &[u8] = b"\r\n---\r\n";
        if !self.buf.starts_with(START) {
            return None;
        }
        let head_end = find(&self.buf, START.len(), b"\r\n\r\n")? + 4;
        let headers = String::from_utf8_lossy(&self.buf[START.len()..head_end]).to_ascii_lowercase();
        assert!(headers.contains("content-type: application/json; charset=utf-8"), "{headers}");
        let end = find(&self.buf, head_end, b"\r\n---").unwrap_or(self.buf.len());
        let v = serde_json::from_slice(&self.buf[head_end..end]).ok()?;
        self.buf.drain(..end);
        Some(v)
    }

    /// Every part left.
    async fn rest(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(v) = self.next().await {
            out.push(v);
        }
        assert!(self.closed);
        out
    }
}

fn find(buf: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    buf.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|i| i + from)
}

async fn post_multipart(app: &TestApp, body: Value) -> reqwest::Response {
    app.client.post(app.url("/graphql")).header("accept", MULTIPART).json(&body).send().await.expect("request sent")
}

/// Deep-merges an incremental item's data into `data` at its path.
fn merge(data: &mut Value, path: &[Value], patch: &Value) {
    let mut at = data;
    for seg in path {
        at = match seg {
            Value::String(k) => &mut at[k.as_str()],
            Value::Number(n) => &mut at[n.as_u64().unwrap() as usize],
            other => panic!("bad path segment {other}"),
        };
    }
    deep_merge(at, patch);
}

fn deep_merge(at: &mut Value, patch: &Value) {
    match (at, patch) {
        (Value::Object(a), Value::Object(p)) => {
            for (k, v) in p {
                deep_merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (at, p) => *at = p.clone(),
    }
}

/// Every incremental item of `parts`, checking `hasNext` ends the stream.
fn items(parts: &[Value]) -> Vec<Value> {
    let (last, before) = parts.split_last().expect("at least one later part");
    assert_eq!(last["hasNext"], false, "{last}");
    assert!(before.iter().all(|p| p["hasNext"] == true), "{parts:?}");
    parts.iter().flat_map(|p| p["incremental"].as_array().cloned().unwrap_or_default()).collect()
}

#[tokio::test]
async fn deferred_transcripts_follow_the_page_and_merge_into_the_plain_answer_at_no_extra_cost() {
    // Arrange: two fresh apps over the same world, one asked plainly.
    let (deferred_app, plain_app) = (spawn_app().await, spawn_app().await);
    let plain = plain_app.data(PLAIN, json!({})).await;

    // Act
    let mut parts = Parts::of(post_multipart(&deferred_app, json!({ "query": DEFERRED })).await).await;
    let first = parts.next().await.expect("a first part");
    let rest = parts.rest().await;

    // Assert: the page first, without transcripts.
    assert_eq!(first["hasNext"], true);
    assert!(first.get("errors").is_none(), "{first:#}");
    let edges = first["data"]["calls"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 5);
    for e in edges {
        assert!(e["node"]["id"].is_string() && e["node"]["title"].is_string(), "{e}");
        assert_eq!(e["node"].as_object().unwrap().len(), 2, "no transcript in the first part: {e}");
    }
    // Then one item per call, at its node.
    let items = items(&rest);
    assert_eq!(items.len(), 5);
    let mut data = first["data"].clone();
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["path"], json!(["calls", "edges", i, "node"]));
        assert_eq!(item["label"], "t");
        assert!(item["data"]["transcript"]["text"].is_string(), "{item}");
        assert!(item.get("errors").is_none(), "{item}");
        merge(&mut data, item["path"].as_array().unwrap(), &item["data"]);
    }
    assert_eq!(data, plain, "the merged parts are the plain answer");
    // Running the initial and the full document together reads nothing twice.
    assert_eq!(deferred_app.gong.counters().per_route(), plain_app.gong.counters().per_route());
    assert_eq!(deferred_app.gong.requests(TRANSCRIPT_ROUTE.0, TRANSCRIPT_ROUTE.1), 1);
}

#[tokio::test]
async fn the_page_arrives_while_the_transcript_read_is_held() {
    let app = spawn_app().await;
    app.gong.counters().hold(TRANSCRIPT_ROUTE.0, TRANSCRIPT_ROUTE.1);

    let mut parts = Parts::of(post_multipart(&app, json!({ "query": DEFERRED })).await).await;
    let first = parts.next().await.expect("the first part, while transcripts are held");
    assert_eq!(first["hasNext"], true);
    assert_eq!(first["data"]["calls"]["edges"].as_array().unwrap().len(), 5);
    assert!(first["data"]["calls"]["edges"][0]["node"].get("transcript").is_none());

    app.gong.counters().release(TRANSCRIPT_ROUTE.0, TRANSCRIPT_ROUTE.1);
    let items = items(&parts.rest().await);
    assert_eq!(items.len(), 5);
    assert!(items.iter().all(|i| i["data"]["transcript"]["text"].is_string()), "{items:?}");
    assert_eq!(app.gong.requests(TRANSCRIPT_ROUTE.0, TRANSCRIPT_ROUTE.1), 1);
}

#[tokio::test]
async fn a_failing_transcript_read_errs_in_the_deferred_items_and_leaves_the_page_intact() {
    let app = spawn_app().await;
    app.gong.counters().fail_route(TRANSCRIPT_ROUTE.0, TRANSCRIPT_ROUTE.1, Some(503));

    let mut parts = Parts::of(post_multipart(&app, json!({ "query": DEFERRED })).await).await;
    let first = parts.next().await.unwrap();
    let items = items(&parts.rest().await);

    assert!(first.get("errors").is_none(), "the page read did not fail: {first:#}");
    assert_eq!(first["data"]["calls"]["edges"].as_array().unwrap().len(), 5);
    assert_eq!(items.len(), 5);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["path"], json!(["calls", "edges", i, "node"]));
        assert_eq!(item["data"], json!({ "transcript": null }), "{item}");
        let errors = item["errors"].as_array().unwrap_or_else(|| panic!("errors in {item}"));
        assert!(!errors.is_empty());
        for e in errors {
            assert!(e["extensions"]["code"].as_str().is_some_and(|c| !c.is_empty()), "coded: {e}");
            assert_eq!(e["path"], json!(["calls", "edges", i, "node", "transcript"]));
        }
    }
}

#[tokio::test]
async fn defer_if_false_is_answered_whole_in_the_first_part() {
    let app = spawn_app().await;
    let query = r#"query($d: Boolean!) { calls(first: 5) { edges { node { id title
        ... @defer(label: "t", if: $d) { transcript { text speakers { name } } } } } } }"#;

    let mut parts = Parts::of(post_multipart(&app, json!({ "query": query, "variables": { "d": false } })).await).await;
    let first = parts.next().await.unwrap();
    assert!(parts.rest().await.is_empty());

    assert_eq!(first["hasNext"], false);
    assert_eq!(first["data"], app.data(PLAIN, json!({})).await);
}

#[tokio::test]
async fn without_multipart_in_accept_the_answer_is_the_plain_json() {
    let app = spawn_app().await;
    let resp = app.client.post(app.url("/graphql")).json(&json!({ "query": DEFERRED })).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, app.query(PLAIN, json!({})).await);
}

#[tokio::test]
async fn misused_defer_and_stream_are_coded_errors() {
    let app = spawn_app().await;
    let cases = [
        r#"{ calls(first: 1) { edges { node { ... @defer(label: 5) { title } } } } }"#,
        r#"{ calls(first: 1) { edges { node { ... @defer(if: "yes") { title } } } } }"#,
        r#"{ calls(first: 1) { edges { node { ... @defer(when: true) { title } } } } }"#,
        r#"query($d: Boolean) { calls(first: 1) { edges { node { ... @defer(if: $d) { title } } } } }"#,
        r#"{ calls(first: 1) { edges { node { title @defer } } } }"#,
        r#"{ calls(first: 1) @stream(initialCount: 1) { edges { node { title } } } }"#,
        r#"{ calls(first: 1) { edges { node { ... @defer(label: "a") { title } ... @defer(label: "a") { id } } } } }"#,
    ];
    for query in cases {
        for accept in [MULTIPART, "application/json"] {
            let resp = app
                .client
                .post(app.url("/graphql"))
                .header("accept", accept)
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{query}");
            let body: Value = resp.json().await.unwrap();
            assert_eq!(codes(&body), vec!["BAD_USER_INPUT"], "{query} ({accept}): {body:#}");
            assert!(body.get("data").is_none(), "{body}");
        }
    }
    // In a batch, each deferring operation is refused; the others run.
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("accept", MULTIPART)
        .json(&json!([{ "query": DEFERRED }, { "query": "{ __typename }" }]))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(codes(&body[0]), vec!["BAD_USER_INPUT"], "{body:#}");
    assert!(body[0]["errors"][0]["message"].as_str().unwrap().contains("batch"), "{body:#}");
    assert_eq!(body[1]["data"]["__typename"], "Query");
}

#[tokio::test]
async fn persisted_deferred_queries_run_by_hash_and_over_get() {
    let app = spawn_app().await;
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(DEFERRED) } });

    let mut registered = Parts::of(post_multipart(&app, json!({ "query": DEFERRED, "extensions": ext })).await).await;
    let first = registered.next().await.unwrap();
    let later = registered.rest().await;
    let mut by_hash = Parts::of(post_multipart(&app, json!({ "extensions": ext })).await).await;
    assert_eq!(by_hash.next().await.unwrap(), first);
    assert_eq!(by_hash.rest().await, later);
    // Apollo clients send hashed queries over GET.
    let resp = app
        .client
        .get(app.url("/graphql"))
        .header("accept", MULTIPART)
        .query(&[("extensions", ext.to_string())])
        .send()
        .await
        .unwrap();
    let mut by_get = Parts::of(resp).await;
    assert_eq!(by_get.next().await.unwrap(), first);
    assert_eq!(by_get.rest().await, later);
}

#[tokio::test]
async fn a_deferred_fragment_applies_only_to_objects_of_its_type() {
    // Arrange: a call read through the `Node` interface, with a fragment for calls
    // and one for users, both deferred.
    let app = spawn_app().await;
    let id =
        app.data("{ calls(first: 1) { edges { node { id title } } } }", json!({})).await["calls"]["edges"][0]["node"]
            .clone();
    let query = r#"query($id: ID!) { node(id: $id) { id
        ... on Call @defer(label: "call") { title }
        ... on User @defer(label: "user") { name } } }"#;

    // Act
    let mut parts =
        Parts::of(post_multipart(&app, json!({ "query": query, "variables": { "id": id["id"] } })).await).await;
    let first = parts.next().await.unwrap();
    let items = items(&parts.rest().await);

    // Assert: the call's fragment only.
    assert_eq!(first["data"], json!({ "node": { "id": id["id"] } }));
    assert_eq!(items, vec![json!({ "data": { "title": id["title"] }, "path": ["node"], "label": "call" })]);
}

#[tokio::test]
async fn a_selection_emptied_by_defer_arrives_as_an_empty_object() {
    let app = spawn_app().await;
    let query = r#"{ calls(first: 2) { edges { node { ... @defer { title } } } } }"#;

    let mut parts = Parts::of(post_multipart(&app, json!({ "query": query })).await).await;
    let first = parts.next().await.unwrap();
    let items = items(&parts.rest().await);

    assert_eq!(first["data"]["calls"]["edges"], json!([{ "node": {} }, { "node": {} }]), "{first}");
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["data"]["title"].is_string() && i.get("label").is_none()), "{items:?}");
}

#[tokio::test]
async fn a_deferred_named_fragment_with_its_own_variable_is_delivered_later() {
    // `$n` and `Segments` are used only inside the deferred part.
    let app = spawn_app().await;
    let query = r#"query($n: Int!) { calls(first: 2) { edges { node { id ...Segments @defer(label: "s") } } } }
        fragment Segments on Call { transcript { segments(first: $n) { edges { node { text } } } } }"#;
    let plain = r#"query($n: Int!) { calls(first: 2) { edges { node { id ...Segments } } } }
        fragment Segments on Call { transcript { segments(first: $n) { edges { node { text } } } } }"#;

    let body = json!({ "query": query, "variables": { "n": 2 } });
    let mut parts = Parts::of(post_multipart(&app, body).await).await;
    let first = parts.next().await.unwrap();
    let items = items(&parts.rest().await);

    assert!(first.get("errors").is_none(), "{first:#}");
    let mut data = first["data"].clone();
    assert_eq!(items.len(), 2);
    for item in &items {
        assert_eq!(item["label"], "s");
        merge(&mut data, item["path"].as_array().unwrap(), &item["data"]);
    }
    assert_eq!(data, app.data(plain, json!({ "n": 2 })).await);
}
