//! Loop-proof paging and the per-query upstream budget, seen from GraphQL.
//!
//! The simulators' stuck-paging fault answers every page request with the first page
//! again (its cursor, next page or `last_id` included), as a server that ignores its
//! paging tokens does. Every walk must end with the records read, an
//! `UPSTREAM_PAGING_LOOP` error naming the connection, and at most two requests more
//! than the pages really there; the page fuse and the request budget end runaway
//! walks the same way.

use std::collections::BTreeSet;

use convograph::providers::ProviderKind;
use serde_json::{Value, json};

use crate::helpers::{
    JOINED, TestApp, calls_route, codes, connection_of, joined_settings, listed_calls, settings_for, spawn_with,
    test_settings, world_call,
};

const CALLS: &str = r#"query($c: ID, $after: String, $order: SortDirection) {
  calls(connectionId: $c, first: 100, after: $after, order: $order) {
    pageInfo { hasNextPage endCursor }
    edges { node { id remoteId provider } }
  }
}"#;

/// What a GraphQL walk over `calls` gave.
#[derive(Debug, Default)]
struct Walk {
    /// (provider, remote id) of every call, in order.
    calls: Vec<(String, String)>,
    /// Every error, with its code and connection.
    errors: Vec<Value>,
    /// GraphQL pages asked for.
    pages: usize,
}

impl Walk {
    fn codes_of(&self, connection: &str) -> Vec<&str> {
        self.errors
            .iter()
            .filter(|e| e["extensions"]["connection"] == connection)
            .filter_map(|e| e["extensions"]["code"].as_str())
            .collect()
    }

    fn distinct(&self) -> usize {
        self.calls.iter().collect::<BTreeSet<_>>().len()
    }

    /// Calls that came more than once.
    fn repeated(&self) -> Vec<&(String, String)> {
        let mut seen = BTreeSet::new();
        self.calls.iter().filter(|c| !seen.insert(*c)).collect()
    }
}

/// Walks `calls` forward until `hasNextPage` is false (at most `max_pages` GraphQL
/// pages: a walk that does not end fails the test).
async fn walk(app: &TestApp, connection: Option<&str>, order: Option<&str>, max_pages: usize) -> Walk {
    let mut out = Walk::default();
    let mut after: Option<String> = None;
    loop {
        assert!(out.pages < max_pages, "the walk did not end in {max_pages} pages: {out:?}");
        out.pages += 1;
        let body = app.query(CALLS, json!({ "c": connection, "after": after, "order": order })).await;
        out.errors.extend(body["errors"].as_array().cloned().unwrap_or_default());
        let list = &body["data"]["calls"];
        assert!(list.is_object(), "the list itself failed: {body}");
        for e in list["edges"].as_array().unwrap() {
            let n = &e["node"];
            out.calls.push((n["provider"].as_str().unwrap().to_owned(), n["remoteId"].as_str().unwrap().to_owned()));
        }
        if list["pageInfo"]["hasNextPage"] == false {
            return out;
        }
        after = list["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}

fn stuck(app: &TestApp, kind: ProviderKind, on: bool) {
    app.sim(kind).set_stuck_paging(on);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_repeating_its_first_page_ends_each_providers_walk_with_what_was_read() {
    for kind in JOINED.iter().copied() {
        let connection = connection_of(kind);
        let settings = || {
            let mut settings = settings_for(kind);
            if kind == ProviderKind::ExecVision
                && let Some(sandbox) = settings.sandbox.as_mut()
            {
                // ExecVision pages hold up to 1,000 calls: enough calls for two.
                sandbox.calls = 2_000;
            }
            settings
        };
        let app = spawn_with(settings()).await;
        let (method, route) = calls_route(kind);

        // Control: the same walk over a well-behaved server reads every call once.
        let honest = walk(&app, Some(&connection), None, 50).await;
        assert!(honest.errors.is_empty(), "{kind}: {:?}", honest.errors);
        assert_eq!(honest.distinct(), listed_calls(&app, kind).len(), "{kind}");
        let honest_pages = app.sim(kind).requests(method, route);
        assert!(honest_pages >= 2, "{kind}: the world must span pages ({honest_pages})");

        // Paging stuck: every page request is answered with the first page.
        let app = spawn_with(settings()).await;
        stuck(&app, kind, true);
        let looped = walk(&app, Some(&connection), None, 30).await;
        let requests = app.sim(kind).requests(method, route);
        println!(
            "{kind}: honest walk {honest_pages} list requests; stuck walk {requests} requests, {} calls, {} pages, {:?}",
            looped.calls.len(),
            looped.pages,
            looped.errors
        );
        assert!(looped.codes_of(&connection).contains(&"UPSTREAM_PAGING_LOOP"), "{kind}: {:?}", looped.errors);
        for e in &looped.errors {
            assert_eq!(e["extensions"]["provider"], kind.as_str(), "{kind}: {e}");
        }
        assert!(!looped.calls.is_empty(), "{kind}: the first page's calls are kept");
        assert_eq!(looped.repeated(), Vec::<&(String, String)>::new(), "{kind}: a repeated page gives no call twice");
        // One page really there, then at most two requests that bring nothing new.
        assert!(requests <= 3, "{kind}: {requests} requests for one page repeated");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merged_timeline_keeps_the_other_connections_whole_when_one_repeats_its_pages() {
    for looping in JOINED.iter().copied() {
        let mut settings = joined_settings();
        if let Some(sandbox) = settings.sandbox.as_mut() {
            // Lists of several pages at every provider (ExecVision's hold 1,000).
            sandbox.calls = 2_000;
        }
        let app = spawn_with(settings).await;
        stuck(&app, looping, true);
        let timeline = walk(&app, None, Some("ASC"), 100).await;
        let bad = connection_of(looping);
        println!(
            "timeline while {looping} loops: {} calls in {} pages, errors {:?}",
            timeline.calls.len(),
            timeline.pages,
            timeline.errors
        );
        assert!(timeline.codes_of(&bad).contains(&"UPSTREAM_PAGING_LOOP"), "{looping}: {:?}", timeline.errors);
        assert_eq!(timeline.repeated(), Vec::<&(String, String)>::new(), "{looping}: no call twice");
        for kind in JOINED.iter().copied().filter(|k| *k != looping) {
            assert!(timeline.codes_of(&connection_of(kind)).is_empty(), "{kind}: {:?}", timeline.errors);
            let seen: BTreeSet<usize> = timeline
                .calls
                .iter()
                .filter(|(p, _)| p.eq_ignore_ascii_case(kind.as_str()))
                .filter_map(|(_, id)| world_call(kind, id))
                .collect();
            assert_eq!(seen, listed_calls(&app, kind), "{kind} lost calls while {looping} looped");
        }
        let (method, route) = calls_route(looping);
        let requests = app.sim(looping).requests(method, route);
        assert!(requests <= 4, "{looping}: {requests} list requests while looping");
    }
}

#[tokio::test]
async fn the_page_fuse_ends_a_walk_that_looks_fine_but_is_too_long() {
    let mut settings = settings_for(ProviderKind::Gong);
    settings.limits.max_pages_per_walk = 2;
    let app = spawn_with(settings).await;
    let w = walk(&app, Some("gong-demo"), None, 10).await;
    assert_eq!(w.codes_of("gong-demo"), vec!["UPSTREAM_PAGE_LIMIT"], "{:?}", w.errors);
    // Two Gong pages of 100 calls were read and answered.
    assert_eq!(w.distinct(), 200);
    assert_eq!(app.gong.requests("POST", "/v2/calls/extensive"), 2);
}

#[tokio::test]
async fn a_query_stops_at_its_upstream_request_budget_with_what_it_read() {
    let mut settings = settings_for(ProviderKind::Gong);
    settings.limits.max_upstream_requests = 2;
    let app = spawn_with(settings).await;
    // Three Gong calls pages, each call with its transcript: more than 2 requests.
    let query = r#"{
      a: calls(connectionId: "gong-demo", first: 100) { edges { node { id transcript { text } } } }
      b: users(connectionId: "gong-demo", first: 5) { edges { node { id } } }
      c: scorecards(connectionId: "gong-demo", first: 5) { edges { node { id } } }
    }"#;
    let body = app.query(query, json!({})).await;
    let sent = app.gong.total_requests();
    assert!(sent <= 2, "{sent} upstream requests over a budget of 2");
    assert!(codes(&body).contains(&"UPSTREAM_BUDGET_EXCEEDED".to_owned()), "{body}");
    assert!(body["data"].as_object().unwrap().values().any(|v| !v.is_null()), "what was read is answered: {body}");

    // The budget is per query: the next one starts afresh.
    let before = app.gong.total_requests();
    let body =
        app.query(r#"{ users(connectionId: "gong-demo", first: 5) { edges { node { id } } } }"#, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(app.gong.total_requests() - before <= 1);
}

#[tokio::test]
async fn the_debug_extension_shows_gongs_daily_quota_left() {
    let mut settings = test_settings();
    settings.traffic.gong.daily_quota = Some(500);
    let app = spawn_with(settings).await;
    let ask = |first: u32| {
        app.client
            .post(app.url("/graphql"))
            .header("x-convograph-debug", "1")
            .json(&json!({ "query": format!(r#"{{ calls(connectionId: "gong-demo", first: {first}) {{ edges {{ node {{ id }} }} }} }}"#) }))
            .send()
    };
    let first: Value = ask(3).await.unwrap().json().await.unwrap();
    let left = |body: &Value| body["extensions"]["convograph"]["connections"]["gong-demo"]["dailyQuotaLeft"].as_u64();
    let spent = app.gong.total_requests();
    assert_eq!(left(&first), Some(500 - spent), "{first}");
    let second: Value = ask(7).await.unwrap().json().await.unwrap();
    let spent = app.gong.total_requests();
    assert_eq!(left(&second), Some(500 - spent), "{second}");
    // Without the debug header there is no cost report.
    let plain = app.query(r#"{ connections { id } }"#, json!({})).await;
    assert!(plain.get("extensions").is_none_or(|e| e.get("convograph").is_none()), "{plain}");
}
