//! GraphQL over HTTP: GET, media types, GraphiQL, health.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn get_runs_queries_but_a_mutation_is_405() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ connections { id provider } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["connections"][0], json!({ "id": "gong-demo", "provider": "GONG" }));

    let resp = app.client.get(app.url("/graphql")).query(&[("query", "mutation { x }")]).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
}

#[tokio::test]
async fn the_graphql_response_media_type_is_used_when_accepted() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json, application/json;q=0.9")
        .json(&json!({ "query": "{ connections { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/graphql-response+json"));

    // A parse error: 400 with the GraphQL media type, 200 with plain JSON.
    for (accept, status) in [("application/graphql-response+json", 400), ("application/json", 200)] {
        let resp = app
            .client
            .post(app.url("/graphql"))
            .header("accept", accept)
            .json(&json!({ "query": "{ connections { id " }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{accept}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["errors"][0]["message"].is_string());
        assert_eq!(body["errors"][0]["extensions"]["code"], "GRAPHQL_PARSE_FAILED");
    }
}

#[tokio::test]
async fn batched_requests_get_an_array_of_responses() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(app.url("/graphql"))
        .json(&json!([{ "query": "{ connections { id } }" }, { "query": "{ connections { provider } }" }]))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body[0]["data"]["connections"][0]["id"], "gong-demo");
    assert_eq!(body[1]["data"]["connections"][0]["provider"], "GONG");
}

#[tokio::test]
async fn browsers_get_graphiql() {
    let app = spawn_app().await;
    let resp =
        app.client.get(app.url("/graphql")).header("accept", "text/html,application/xhtml+xml").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("GraphiQL") && html.contains("unpkg.com/graphiql"));
    assert!(html.contains("FirstCalls"), "opens with an example query");
}

#[tokio::test]
async fn graphiql_assets_can_be_served_locally() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("graphiql.min.js"), "/* local */").unwrap();
    let mut settings = crate::helpers::test_settings();
    settings.server.graphiql.assets_dir = Some(dir.path().to_owned());
    let app = crate::helpers::spawn_with(settings).await;
    let html =
        app.client.get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap().text().await.unwrap();
    assert!(html.contains("/graphiql/assets/graphiql.min.js") && !html.contains("unpkg.com"));
    let js = app.client.get(app.url("/graphiql/assets/graphiql.min.js")).send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert_eq!(js.text().await.unwrap(), "/* local */");
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["connections"]["gong-demo"]["status"], "ok");
}

#[tokio::test]
async fn a_post_body_must_be_declared_json_and_a_failed_request_has_no_data_entry() {
    let app = spawn_app().await;
    let body = r#"{ "query": "{ connections { id } }" }"#;
    let resp = app.client.post(app.url("/graphql")).body(body).send().await.unwrap();
    assert_eq!(resp.status(), 415, "no Content-Type: not guessed at");
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["errors"][0]["extensions"]["code"], "BAD_REQUEST");
    let resp =
        app.client.post(app.url("/graphql")).header("content-type", "text/plain").body(body).send().await.unwrap();
    assert_eq!(resp.status(), 415);

    let typo =
        app.client.post(app.url("/graphql")).json(&json!({ "qeury": "{ connections { id } }" })).send().await.unwrap();
    assert_eq!(typo.status(), 400, "a request without a query is malformed");

    let failed = app.query("{ connections { nope } }", json!({})).await;
    assert_eq!(failed["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    assert!(failed.get("data").is_none(), "no data entry before execution: {failed}");
    let ran = app.query("{ connections { id } }", json!({})).await;
    assert!(ran.get("data").is_some());
}

async fn preflight(app: &crate::helpers::TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,authorization")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_is_open_in_the_sandbox_and_follows_the_configured_origins() {
    let app = spawn_app().await;
    let resp = preflight(&app, "http://localhost:3000").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let allowed = resp.headers()["access-control-allow-headers"].to_str().unwrap().to_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"), "{allowed}");

    let mut settings = crate::helpers::test_settings();
    settings.server.cors.allow_origins = Some(vec!["https://app.example.com".into()]);
    let app = crate::helpers::spawn_with(settings).await;
    let resp = preflight(&app, "https://app.example.com").await;
    assert_eq!(resp.headers()["access-control-allow-origin"], "https://app.example.com");
    let resp = preflight(&app, "https://evil.example.net").await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());

    let mut settings = crate::helpers::test_settings();
    settings.server.cors.allow_origins = Some(vec![]);
    let app = crate::helpers::spawn_with(settings).await;
    let resp = preflight(&app, "http://localhost:3000").await;
    assert!(resp.headers().get("access-control-allow-origin").is_none(), "[] turns CORS off");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_callers() {
    let app = spawn_app().await;
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let resp = app.client.get(app.url("/healthz")).header("x-request-id", "gateway-req-42").send().await.unwrap();
    assert_eq!(resp.headers()["x-request-id"], "gateway-req-42");
}
