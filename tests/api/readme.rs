//! Every GraphQL example in the README runs against the default sandbox without errors.

use convograph::config::SandboxConfig;
use serde_json::{Value, json};

use crate::helpers::{spawn_with, test_settings};

fn readme_queries() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```graphql") => current = Some(String::new()),
            (Some(q), "```") => {
                out.push(std::mem::take(q));
                current = None;
            }
            (Some(q), _) => {
                q.push_str(line);
                q.push('\n');
            }
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn every_readme_example_query_works_on_the_sandbox() {
    let mut settings = test_settings();
    settings.sandbox = Some(SandboxConfig::default());
    let app = spawn_with(settings).await;
    let queries = readme_queries();
    assert!(queries.len() >= 6, "found {} examples", queries.len());

    let mut manager_id = Value::Null;
    for q in &queries {
        if q.trim_start().starts_with("subscription") {
            // Subscriptions run over SSE: the stream opens, and no error comes first.
            let mut sub = crate::live::SseSubscription::open(&app, None, q).await;
            if let Some(event) = sub.next(std::time::Duration::from_millis(1500)).await {
                assert!(event.get("errors").is_none(), "{event:#} for:\n{q}");
            }
            continue;
        }
        let variables = if q.contains("$managerId") { json!({ "managerId": manager_id }) } else { json!({}) };
        let data = app.data(q, variables).await;
        // Every top-level field answered with data.
        for (field, value) in data.as_object().unwrap() {
            assert!(!value.is_null(), "`{field}` is null in:\n{q}");
        }
        if let Some(id) = data.pointer("/user/manager/id") {
            manager_id = id.clone();
        }
        if q.contains("query Rep ") {
            assert_eq!(data["user"]["name"], "Vera Rossi", "found by alias, any case");
            assert!(data["user"]["calls"]["totalCount"].as_u64().unwrap() > 0);
        }
        if q.contains("query Timeline") {
            let providers: std::collections::BTreeSet<&str> = data["calls"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["provider"].as_str().unwrap())
                .collect();
            assert!(providers.len() > 1, "one timeline over several providers: {providers:?}");
        }
        if q.contains("query Person") {
            assert!(data["user"]["identities"].as_array().unwrap().len() > 1, "joined across providers");
            assert!(data["user"]["calls"]["totalCount"].as_u64().unwrap() > 0);
            assert!(!data["user"]["scores"]["edges"].as_array().unwrap().is_empty());
            let providers: std::collections::BTreeSet<&str> = data["user"]["calls"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["provider"].as_str().unwrap())
                .collect();
            assert!(providers.len() > 1, "their calls from several providers: {providers:?}");
        }
        if q.contains("query Filtered") {
            assert!(!data["calls"]["edges"].as_array().unwrap().is_empty(), "the example filter finds calls");
        }
        if q.contains("query ManagerCoaching") {
            assert!(!data["coaching"][0]["directReports"].as_array().unwrap().is_empty());
        }
    }
}
