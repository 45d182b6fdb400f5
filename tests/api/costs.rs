//! What queries cost upstream: batching, the cross-request cache, coalesced
//! concurrent misses, the `x-convograph-debug` cost report and `Cache-Control`.

use convograph::providers::ProviderKind;
use serde_json::{Value, json};

use crate::helpers::{TestApp, codes, connection_of, settings_for, spawn_app, spawn_with, test_settings};

/// Reference query 1: a page of 100 Gong calls with host, participants' users and
/// transcript (see BENCHMARKS.md).
const CALLS_WITH_NESTED: &str = r#"{
  calls(connectionId: "gong-demo", first: 100) {
    edges { node { id title host { name email } participants { user { name } }
      transcript { speakers { name } segments(first: 2) { edges { node { text } } } } } }
  }
}"#;

/// Posts `query` with `variables`, asking for the cost report when `debug`.
async fn send(app: &TestApp, query: &str, variables: Value, debug: bool) -> (reqwest::header::HeaderMap, Value) {
    let mut req = app.client.post(app.url("/graphql")).json(&json!({ "query": query, "variables": variables }));
    if debug {
        req = req.header("x-convograph-debug", "1");
    }
    let resp = req.send().await.expect("request sent");
    let headers = resp.headers().clone();
    (headers, resp.json().await.expect("JSON body"))
}

async fn debug_query(app: &TestApp, query: &str) -> (reqwest::header::HeaderMap, Value) {
    send(app, query, Value::Null, true).await
}

#[tokio::test]
async fn nested_fields_of_100_calls_cost_one_request_per_endpoint() {
    let app = spawn_app().await;
    let (_, body) = debug_query(&app, CALLS_WITH_NESTED).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(body["data"]["calls"]["edges"].as_array().unwrap().len(), 100);
    // One calls page, one transcript batch, one users batch (hosts and participant
    // users together): the theoretical minimum.
    assert_eq!(app.gong.requests("POST", "/v2/calls/extensive"), 1);
    assert_eq!(app.gong.requests("POST", "/v2/calls/transcript"), 1);
    assert_eq!(app.gong.requests("POST", "/v2/users/extensive"), 1);
    assert_eq!(app.gong.total_requests(), 3);
    // The report agrees with what the simulator saw.
    let report = &body["extensions"]["convograph"];
    assert_eq!(report["upstreamRequests"], 3);
    assert_eq!(report["connections"]["gong-demo"]["upstreamRequests"], 3);
    assert_eq!(report["connections"]["gong-demo"]["provider"], "gong");
    assert_eq!(report["connections"]["gong-demo"]["rateLimitedResponses"], 0);
    assert!(report["cacheMisses"].as_u64().unwrap() >= 3, "{report}");
}

#[tokio::test]
async fn a_repeat_within_the_ttl_costs_nothing_upstream() {
    let app = spawn_app().await;
    let (headers, first) = debug_query(&app, CALLS_WITH_NESTED).await;
    let cold = app.gong.total_requests();
    assert!(cold > 0);
    // The shortest TTL involved is the calls list's (60 s by default).
    assert_eq!(headers["cache-control"], "private, max-age=60");

    let (_, second) = debug_query(&app, CALLS_WITH_NESTED).await;
    assert_eq!(app.gong.total_requests(), cold, "no upstream request for the repeat");
    assert_eq!(second["data"], first["data"]);
    let report = &second["extensions"]["convograph"];
    assert_eq!(report["upstreamRequests"], 0);
    assert_eq!(report["cacheMisses"], 0);
    assert!(report["cacheHits"].as_u64().unwrap() >= 3, "{report}");
}

#[tokio::test]
async fn twenty_identical_concurrent_cold_queries_cost_what_one_costs() {
    let one = spawn_app().await;
    let _ = one.data(CALLS_WITH_NESTED, json!({})).await;
    let single = one.gong.total_requests();

    let app = spawn_app().await;
    let queries = (0..20).map(|_| app.data(CALLS_WITH_NESTED, json!({})));
    let results = futures::future::join_all(queries).await;
    assert!(results.windows(2).all(|w| w[0] == w[1]), "every answer is the same");
    assert_eq!(app.gong.total_requests(), single, "concurrent misses were coalesced");
}

#[tokio::test]
async fn without_the_debug_header_there_is_no_report_and_errors_are_not_cacheable() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": r#"{ calls(connectionId: "gong-demo", first: 1) { edges { node { id } } } }"# }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "private, max-age=60");
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("extensions").is_none_or(|e| e.get("convograph").is_none()), "{body}");

    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("x-convograph-debug", "1")
        .json(&json!({ "query": r#"{ calls(connectionId: "gong-demo", first: 1, after: "forged") { edges { node { id } } } }"# }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["extensions"]["convograph"]["upstreamRequests"], 0);
}

#[tokio::test]
async fn a_spent_daily_quota_fails_fast_without_calling_the_provider() {
    let mut settings = test_settings();
    settings.traffic.gong.daily_quota = Some(2);
    let app = spawn_with(settings).await;
    let conns = app.data("{ connections { id rateLimit { requestsPerSecond dailyQuota } } }", json!({})).await;
    assert_eq!(conns["connections"][0]["rateLimit"], json!({ "requestsPerSecond": 3.0, "dailyQuota": 2 }));
    let page = r#"query($after: String) { calls(connectionId: "gong-demo", first: 100, after: $after) {
        edges { node { id } } pageInfo { endCursor } } }"#;
    let first = app.data(page, json!({})).await;
    let cursor = first["calls"]["pageInfo"]["endCursor"].clone();
    let second = app.data(page, json!({ "after": cursor })).await;
    let cursor = second["calls"]["pageInfo"]["endCursor"].clone();
    assert_eq!(app.gong.total_requests(), 2);

    let body = app.query(page, json!({ "after": cursor })).await;
    assert_eq!(codes(&body), ["RATE_LIMITED"], "{body}");
    // The next request is allowed once a day's share of one request has passed.
    let retry_ms = body["errors"][0]["extensions"]["retryAfterMs"].as_u64().expect("retryAfterMs");
    assert!((40_000_000..=43_200_000).contains(&retry_ms), "{retry_ms}");
    assert_eq!(app.gong.total_requests(), 2, "the provider was not called");
}

async fn post(app: &TestApp, query: &str, variables: Value) -> (reqwest::header::HeaderMap, Value) {
    send(app, query, variables, false).await
}

#[tokio::test]
async fn a_repeated_query_is_answered_from_the_response_cache_only_when_it_is_the_same() {
    let app = spawn_app().await;
    let query = r#"query($n: Int) { calls(connectionId: "gong-demo", first: $n) { edges { node { id title host { name } } } } }"#;
    let (h1, first) = post(&app, query, json!({ "n": 30 })).await;
    assert_eq!(h1["x-convograph-response-cache"], "miss");
    let (h2, second) = post(&app, query, json!({ "n": 30 })).await;
    assert_eq!(h2["x-convograph-response-cache"], "hit");
    assert_eq!(first, second);
    let age: u64 = h2["cache-control"].to_str().unwrap().trim_start_matches("private, max-age=").parse().unwrap();
    assert!(age <= 60, "{age}");

    // The same request spaced otherwise is another body: answered by running it.
    let spaced = app
        .client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(format!("{{ \"query\" : {}, \"variables\" : {{ \"n\" : 30 }} }}", json!(query)))
        .send()
        .await
        .unwrap();
    assert_eq!(spaced.headers()["x-convograph-response-cache"], "miss");
    assert_eq!(spaced.json::<Value>().await.unwrap(), first);

    // Other variables are another answer.
    let (h3, third) = post(&app, query, json!({ "n": 31 })).await;
    assert_eq!(h3["x-convograph-response-cache"], "miss");
    assert_eq!(third["data"]["calls"]["edges"].as_array().unwrap().len(), 31);

    // Answers with errors are never kept.
    let bad = r#"{ calls(connectionId: "gong-demo", first: 1, after: "forged") { edges { node { id } } } }"#;
    for _ in 0..2 {
        let (h, body) = post(&app, bad, json!({})).await;
        assert_eq!(h["x-convograph-response-cache"], "miss");
        assert_eq!(codes(&body), ["BAD_CURSOR"]);
    }

    // A cost report describes an execution: it bypasses the response cache.
    let (h, body) = debug_query(
        &app,
        r#"{ calls(connectionId: "gong-demo", first: 30) { edges { node { id title host { name } } } } }"#,
    )
    .await;
    assert!(h.get("x-convograph-response-cache").is_none());
    assert!(body["extensions"]["convograph"]["cacheHits"].as_u64().unwrap() > 0);
}

/// Upstream requests a provider's simulator has answered (Hubster: its identity
/// server's token requests too).
fn upstream(app: &TestApp, kind: ProviderKind) -> u64 {
    match kind {
        ProviderKind::Hubster => app.hubster.total_requests() + app.hubster.token_requests(),
        other => app.sim(other).total_requests(),
    }
}

/// A page of a connection's calls with every nested lookup its provider has (hosts,
/// participants' users, transcripts; a Hubster page is 10 chats), and five calls from
/// beyond the provider's first page (100 calls, Hubster 10) looked up by id, as a
/// gateway does (`_entities`).
async fn nested_query(kind: ProviderKind) -> String {
    let scratch = spawn_with(settings_for(kind)).await;
    let q = r#"query($c: ID!, $n: Int, $after: String) { calls(connectionId: $c, first: $n, after: $after) {
        edges { node { id } } pageInfo { endCursor } } }"#;
    let conn = connection_of(kind);
    let page = if kind == ProviderKind::Hubster { 10 } else { 100 };
    let first = scratch.data(q, json!({ "c": conn, "n": page })).await;
    let after = &first["calls"]["pageInfo"]["endCursor"];
    let beyond = scratch.data(q, json!({ "c": conn, "n": 5, "after": after })).await;
    let ids: Vec<String> = beyond["calls"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!(r#"{{ __typename: "Call", id: "{}" }}"#, e["node"]["id"].as_str().unwrap()))
        .collect();
    assert_eq!(ids.len(), 5, "{kind}: more than a page and five calls");
    let nested = "id title host { name email } participants { name user { name } }
        transcript { speakers { name } segments(first: 2) { edges { node { text } } } }";
    format!(
        r#"{{ calls(connectionId: "{}", first: 10) {{ edges {{ node {{ {nested} }} }} }}
            _entities(representations: [{}]) {{ ... on Call {{ {nested} }} }} }}"#,
        connection_of(kind),
        ids.join(", ")
    )
}

const EVERY_PROVIDER: [ProviderKind; 4] =
    [ProviderKind::Gong, ProviderKind::ExecVision, ProviderKind::Salesloft, ProviderKind::Hubster];

#[tokio::test]
async fn for_every_provider_a_repeat_within_the_ttl_costs_nothing_upstream() {
    for kind in EVERY_PROVIDER {
        let query = nested_query(kind).await;
        let app = spawn_with(settings_for(kind)).await;
        let (_, first) = debug_query(&app, &query).await;
        assert!(first.get("errors").is_none(), "{kind}: {first:#}");
        assert_eq!(first["data"]["calls"]["edges"].as_array().unwrap().len(), 10, "{kind}");
        assert!(first["data"]["_entities"].as_array().unwrap().iter().all(|c| c["id"].is_string()), "{kind}");
        let cold = upstream(&app, kind);
        assert!(cold > 0, "{kind}");
        assert_eq!(first["extensions"]["convograph"]["upstreamRequests"], cold, "{kind}: the report agrees");

        // The cost report bypasses the response cache: this runs the query again.
        let (_, second) = debug_query(&app, &query).await;
        assert_eq!(second["data"], first["data"], "{kind}");
        assert_eq!(upstream(&app, kind), cold, "{kind}: no upstream request for the repeat");
        let report = &second["extensions"]["convograph"];
        assert_eq!(report["upstreamRequests"], 0, "{kind}: {report}");
        assert_eq!(report["cacheMisses"], 0, "{kind}: {report}");
    }
}

#[tokio::test]
async fn for_every_provider_twenty_identical_concurrent_cold_queries_cost_what_one_costs() {
    for kind in EVERY_PROVIDER {
        let query = nested_query(kind).await;
        let one = spawn_with(settings_for(kind)).await;
        let (_, alone) = debug_query(&one, &query).await;
        assert!(alone.get("errors").is_none(), "{kind}: {alone:#}");
        let single = upstream(&one, kind);

        // Each of these executes (the cost report bypasses the response cache), so
        // only the provider-result cache can make them share their lookups.
        let app = spawn_with(settings_for(kind)).await;
        let results = futures::future::join_all((0..20).map(|_| debug_query(&app, &query))).await;
        for (_, body) in &results {
            assert_eq!(body["data"], alone["data"], "{kind}: every answer is the same");
        }
        assert_eq!(upstream(&app, kind), single, "{kind}: concurrent misses were coalesced");
    }
}

/// Root fields that look one record up are fetched at once (nothing else can join
/// their batch); the same record asked by several root fields is still read once.
#[tokio::test]
async fn root_lookups_of_one_record_cost_what_one_lookup_costs() {
    // Gong alone: people come from lookups by id, not from a joined users list.
    let settings = test_settings();
    let remote = convograph::sandbox::gong::ids::user_id(3);
    let id = convograph::schema::id::encode(convograph::schema::id::Kind::User, "gong-demo", &remote).0;

    let one = spawn_with(settings.clone()).await;
    let (_, alone) = debug_query(&one, &format!(r#"{{ user(id: "{id}") {{ name email }} }}"#)).await;
    assert!(alone.get("errors").is_none(), "{alone:#}");
    assert!(alone["data"]["user"]["email"].is_string(), "{alone:#}");
    let cost_of_one = one.gong.total_requests();
    assert!(cost_of_one >= 1);

    let many = spawn_with(settings).await;
    let query =
        format!(r#"{{ a: user(id: "{id}") {{ name }} b: user(id: "{id}") {{ email }} c: node(id: "{id}") {{ id }} }}"#);
    let (_, body) = debug_query(&many, &query).await;
    assert!(body.get("errors").is_none(), "{body:#}");
    assert_eq!(body["data"]["a"]["name"], alone["data"]["user"]["name"]);
    assert_eq!(body["data"]["b"]["email"], alone["data"]["user"]["email"]);
    assert_eq!(body["data"]["c"]["id"], id);
    assert_eq!(many.gong.total_requests(), cost_of_one);
    assert_eq!(body["extensions"]["convograph"]["upstreamRequests"], cost_of_one);
}
