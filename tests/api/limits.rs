//! Bounded queries: depth, complexity, aliases, batch and body size, the request
//! deadline, introspection, automatic persisted queries and the safelist.

use std::time::Duration;

use convograph::{
    config::{ConnectionSettings, CredentialsConfig, SecretSource, Settings, TrafficSettings},
    providers::ProviderKind,
    schema::persisted::sha256_hex,
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, codes, spawn_app, spawn_with, test_settings};

/// Three nested full pages: users × their calls × each transcript's segments.
const THREE_NESTED_PAGES: &str = r#"{ users(first: 100) { edges { node { calls(first: 100) { edges { node {
    transcript { segments(first: 100) { edges { node { text } } } } } } } } } } }"#;

async fn post(app: &TestApp, body: Value) -> (u16, Value) {
    let resp = app.client.post(app.url("/graphql")).json(&body).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn a_query_over_the_complexity_limit_is_refused_before_any_upstream_request() {
    let app = spawn_app().await;
    let (status, body) = post(&app, json!({ "query": THREE_NESTED_PAGES })).await;
    assert_eq!(status, 200);
    assert_eq!(codes(&body), vec!["MAX_COMPLEXITY_LIMIT"], "{body:#}");
    let ext = &body["errors"][0]["extensions"];
    assert_eq!(ext["limit"], Settings::default().limits.max_complexity);
    // users: 1 + 100 × (edges 1 + node 1 + calls(1 + 100 × (1 + 1 + transcript(1 + segments(1 + 100 × 3))))).
    let calls = 1 + 100 * (1 + 1 + (1 + (1 + 100 * 3)));
    assert_eq!(ext["actual"], 1 + 100 * (1 + 1 + calls));
    assert!(body.get("data").is_none() || body["data"].is_null());
    assert_eq!(app.gong.total_requests(), 0, "refused before any resolver ran");

    // With the GraphQL response media type it is a 400, as any request error.
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": THREE_NESTED_PAGES }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn the_complexity_follows_first_and_last_and_the_configured_limit() {
    let mut settings = test_settings();
    settings.limits.max_complexity = 500;
    let app = spawn_with(settings).await;
    let q = "query($n: Int) { calls(first: $n) { edges { node { title host { name } } } } }";
    // 1 + n × 5: 100 calls cost 501, 99 cost 496.
    let (_, body) = post(&app, json!({ "query": q, "variables": { "n": 100 } })).await;
    assert_eq!(codes(&body), vec!["MAX_COMPLEXITY_LIMIT"]);
    assert_eq!(body["errors"][0]["extensions"]["actual"], 501);
    let (_, body) = post(&app, json!({ "query": q, "variables": { "n": 99 } })).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(body["data"]["calls"]["edges"].as_array().unwrap().len(), 99);
    // Without first/last a list costs the default page (25).
    let (_, body) = post(&app, json!({ "query": "{ calls { edges { node { title host { name } } } } }" })).await;
    assert!(body.get("errors").is_none(), "{body:#}");
}

#[tokio::test]
async fn depth_and_aliases_are_bounded() {
    let app = spawn_app().await;
    // 16 levels: refused before validation even looks at the (unknown) fields.
    let deep = format!("{{ {}x{} }}", "a { ".repeat(15), " }".repeat(15));
    let (_, body) = post(&app, json!({ "query": deep })).await;
    assert_eq!(codes(&body), vec!["MAX_DEPTH_LIMIT"], "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["actual"], 16);

    let aliases: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    let (_, body) = post(&app, json!({ "query": format!("{{ {aliases} }}") })).await;
    assert_eq!(codes(&body), vec!["MAX_ALIASES_LIMIT"], "{body:#}");
    let (_, body) = post(&app, json!({ "query": "{ a: __typename b: __typename }" })).await;
    assert_eq!(body["data"], json!({ "a": "Query", "b": "Query" }));
}

#[tokio::test]
async fn the_full_introspection_query_fits_the_default_limits() {
    let app = spawn_app().await;
    let (_, body) = post(&app, json!({ "query": INTROSPECTION })).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert!(body["data"]["__schema"]["types"].as_array().unwrap().len() > 50);
}

#[tokio::test]
async fn batches_and_bodies_are_bounded() {
    let app = spawn_app().await;
    let batch: Vec<Value> = (0..11).map(|_| json!({ "query": "{ __typename }" })).collect();
    let (status, body) = post(&app, json!(batch)).await;
    assert_eq!(status, 400);
    assert_eq!(codes(&body), vec!["BATCH_LIMIT_EXCEEDED"]);
    let (status, body) = post(&app, Value::Array(batch[..10].to_vec())).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 10);

    let limit = Settings::default().limits.max_body_bytes;
    let padding = " ".repeat(limit);
    let (status, body) = post(&app, json!({ "query": format!("{{ __typename {padding}}}") })).await;
    assert_eq!(status, 413);
    assert_eq!(codes(&body), vec!["PAYLOAD_TOO_LARGE"]);
    // Refused unread on its Content-Length: the connection ends, and the client is told.
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"query":"{{ __typename {padding}}}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.headers().get("connection").and_then(|v| v.to_str().ok()), Some("close"));
    // Streamed without a Content-Length, the body is cut off at the limit too.
    let json_body = format!(r#"{{"query":"{{ __typename {padding}}}"}}"#);
    let mut chunked = String::new();
    for piece in json_body.as_bytes().chunks(64 * 1024) {
        chunked.push_str(&format!("{:x}\r\n{}\r\n", piece.len(), std::str::from_utf8(piece).unwrap()));
    }
    chunked.push_str("0\r\n\r\n");
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{chunked}",
        app.addr
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The server may answer (and close) before reading everything: ignore write errors.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let head = String::from_utf8_lossy(&response);
    assert!(head.starts_with("HTTP/1.1 413"), "{}", head.lines().next().unwrap_or_default());
}

#[tokio::test]
async fn a_request_past_its_deadline_is_a_504_and_does_not_hang() {
    // A provider that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut held = Vec::new();
        tokio::select! {
            _ = async { while let Ok((s, _)) = listener.accept().await { held.push(s); } } => {}
            _ = rx => {}
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k"), "k").unwrap();
    let mut settings = test_settings();
    settings.limits.request_timeout = Duration::from_millis(400);
    settings.connections.push(ConnectionSettings {
        webhook: None,
        id: "gong-silent".into(),
        provider: ProviderKind::Gong,
        base_url: format!("http://{addr}").parse().unwrap(),
        credentials: CredentialsConfig::Basic {
            username: SecretSource::File(dir.path().join("k")),
            password: SecretSource::File(dir.path().join("k")),
        },
        time_zone: None,
        workspace_id: None,
        traffic: TrafficSettings::default(),
        conversation_ids: Vec::new(),
    });
    let app = spawn_with(settings).await;
    let started = std::time::Instant::now();
    let (status, body) =
        post(&app, json!({ "query": r#"{ calls(connectionId: "gong-silent", first: 1) { totalCount } }"# })).await;
    assert!(started.elapsed() < Duration::from_secs(10), "answered at the deadline, not the upstream timeout");
    assert_eq!(status, 504);
    assert_eq!(codes(&body), vec!["REQUEST_TIMEOUT"]);
    let _ = tx.send(());
}

#[tokio::test]
async fn introspection_and_graphiql_can_be_turned_off() {
    let mut settings = test_settings();
    settings.server.introspection = false;
    settings.server.graphiql.enabled = false;
    let app = spawn_with(settings).await;
    let (_, body) = post(&app, json!({ "query": "{ __schema { types { name } } }" })).await;
    assert_eq!(codes(&body), vec!["GRAPHQL_VALIDATION_FAILED"], "{body:#}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("introspection"));
    let (_, body) =
        post(&app, json!({ "query": "query { ...T } fragment T on Query { __type(name: \"Call\") { name } }" })).await;
    assert_eq!(codes(&body), vec!["GRAPHQL_VALIDATION_FAILED"]);
    // Gateways still get the subgraph SDL, and ordinary queries run.
    let (_, body) = post(&app, json!({ "query": "{ _service { sdl } connections { id } }" })).await;
    assert!(body["data"]["_service"]["sdl"].as_str().unwrap().contains("type Call"), "{body:#}");
    let resp = app.client.get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn automatic_persisted_queries_register_once_then_run_by_hash() {
    let app = spawn_app().await;
    let query = r#"query FirstCall { calls(connectionId: "gong-demo", first: 1) { edges { node { title } } } }"#;
    let hash = sha256_hex(query);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    let (_, body) = post(&app, json!({ "extensions": ext })).await;
    assert_eq!(codes(&body), vec!["PERSISTED_QUERY_NOT_FOUND"]);
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound", "the message Apollo clients look for");

    let (_, registered) = post(&app, json!({ "query": query, "extensions": ext })).await;
    assert!(registered.get("errors").is_none(), "{registered:#}");
    let (_, by_hash) = post(&app, json!({ "extensions": ext })).await;
    assert_eq!(by_hash["data"], registered["data"]);
    // Apollo clients send hashed queries over GET.
    let resp = app.client.get(app.url("/graphql")).query(&[("extensions", ext.to_string())]).send().await.unwrap();
    let by_get: Value = resp.json().await.unwrap();
    assert_eq!(by_get["data"], registered["data"]);

    // A wrong hash is refused; a query over the limits is never stored.
    let (_, body) = post(&app, json!({ "query": "{ __typename }", "extensions": ext })).await;
    assert_eq!(codes(&body), vec!["BAD_REQUEST"]);
    let big = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(THREE_NESTED_PAGES) } });
    let (_, body) = post(&app, json!({ "query": THREE_NESTED_PAGES, "extensions": big })).await;
    assert_eq!(codes(&body), vec!["MAX_COMPLEXITY_LIMIT"]);
    let (_, body) = post(&app, json!({ "extensions": big })).await;
    assert_eq!(codes(&body), vec!["PERSISTED_QUERY_NOT_FOUND"]);
}

#[tokio::test]
async fn safelist_mode_runs_registered_operations_only() {
    let dir = tempfile::tempdir().unwrap();
    let registered = r#"query Connections { connections { id provider } }"#;
    let manifest = dir.path().join("operations.json");
    std::fs::write(
        &manifest,
        json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": "connections-v1", "name": "Connections", "type": "query", "body": registered }]
        })
        .to_string(),
    )
    .unwrap();
    let mut settings = test_settings();
    settings.persisted_queries.safelist = Some(manifest);
    let app = spawn_with(settings).await;

    let by_id = json!({ "persistedQuery": { "version": 1, "sha256Hash": "connections-v1" } });
    let (_, body) = post(&app, json!({ "extensions": by_id })).await;
    assert_eq!(body["data"]["connections"][0]["id"], "gong-demo", "{body:#}");
    let (_, body) = post(&app, json!({ "query": registered })).await;
    assert_eq!(body["data"]["connections"][0]["id"], "gong-demo", "the registered text runs as is");

    let (_, body) =
        post(&app, json!({ "query": r#"{ calls(connectionId: "gong-demo", first: 1) { totalCount } }"# })).await;
    assert_eq!(codes(&body), vec!["PERSISTED_QUERY_NOT_IN_LIST"]);
    // Nothing can be registered at run time.
    let q = "{ __typename }";
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(q) } });
    let (_, body) = post(&app, json!({ "query": q, "extensions": ext })).await;
    assert_eq!(codes(&body), vec!["PERSISTED_QUERY_NOT_IN_LIST"]);
    assert_eq!(app.gong.total_requests(), 0);
}

/// The standard introspection query GraphiQL sends (schema, every type with its
/// fields, arguments, input fields, enum values and seven levels of `ofType`).
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}
"#;
