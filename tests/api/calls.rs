//! Calls of one connection in the provider's order (`connectionId`, no `order`):
//! Relay paging over Gong's cursor pages, batching, rate limits, filters.

use serde_json::{Value, json};

use crate::helpers::{TEST_CALLS, codes, gong_call_ids, spawn_app};

const PAGE: &str = r#"
query Page($first: Int, $after: String, $last: Int, $before: String) {
  calls(connectionId: "gong-demo", first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { remoteId } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"#;

fn remote_ids(data: &Value) -> Vec<String> {
    data["calls"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["remoteId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn paging_forward_with_first_25_visits_every_call_once_in_order() {
    let app = spawn_app().await;
    let expected = gong_call_ids(&app.world);
    assert_eq!(expected.len(), TEST_CALLS);

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let data = app.data(PAGE, json!({ "first": 25, "after": after })).await;
        pages += 1;
        assert_eq!(data["calls"]["totalCount"], TEST_CALLS as u64);
        assert_eq!(data["calls"]["pageInfo"]["hasPreviousPage"], after.is_some());
        seen.extend(remote_ids(&data));
        if data["calls"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = data["calls"]["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        assert!(pages < 100, "paging does not end");
    }

    assert_eq!(seen, expected, "every call once, in Gong's order");
    assert_eq!(pages, TEST_CALLS.div_ceil(25));
    // 260 calls are 3 Gong pages of 100; the 11 GraphQL pages re-read cached pages.
    assert_eq!(app.gong.requests("POST", "/v2/calls/extensive"), 3);
}

#[tokio::test]
async fn paging_backward_from_the_end_visits_every_call_once() {
    let app = spawn_app().await;
    let expected = gong_call_ids(&app.world);

    let mut seen: Vec<String> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let data = app.data(PAGE, json!({ "last": 30, "before": before })).await;
        let mut ids = remote_ids(&data);
        ids.extend(seen);
        seen = ids;
        assert_eq!(data["calls"]["pageInfo"]["hasNextPage"], before.is_some());
        if data["calls"]["pageInfo"]["hasPreviousPage"] == false {
            break;
        }
        before = data["calls"]["pageInfo"]["startCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_forward_cursor_can_page_backward_across_a_provider_page_boundary() {
    let app = spawn_app().await;
    let expected = gong_call_ids(&app.world);
    // Reach position 110 (inside Gong's second page), then step back 20.
    let first = app.data(PAGE, json!({ "first": 100 })).await;
    let after = first["calls"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let next = app.data(PAGE, json!({ "first": 10, "after": after })).await;
    let cursor = next["calls"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let back = app.data(PAGE, json!({ "last": 20, "before": cursor })).await;
    assert_eq!(remote_ids(&back), expected[89..109].to_vec());
}

#[tokio::test]
async fn transcripts_of_50_calls_cost_one_transcript_request() {
    let app = spawn_app().await;
    let query = r#"{ calls(connectionId: "gong-demo", first: 50) { edges { node { remoteId transcript { segments(first: 2) { totalCount edges { node { text startMs speakerId } } } } } } } }"#;
    let data = app.data(query, json!({})).await;

    let edges = data["calls"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 50);
    for e in edges {
        let segs = &e["node"]["transcript"]["segments"];
        assert!(segs["totalCount"].as_u64().unwrap() > 0, "every call has a transcript: {e}");
        assert!(!segs["edges"][0]["node"]["text"].as_str().unwrap().is_empty());
    }
    assert_eq!(app.gong.requests("POST", "/v2/calls/transcript"), 1);
    assert_eq!(app.gong.requests("POST", "/v2/calls/extensive"), 1);
}

#[tokio::test]
async fn hosts_of_a_page_of_calls_cost_one_users_request() {
    let app = spawn_app().await;
    let data = app.data("{ calls(first: 100) { edges { node { host { email name } } } } }", json!({})).await;
    let edges = data["calls"]["edges"].as_array().unwrap();
    assert!(edges.iter().all(|e| e["node"]["host"]["email"].as_str().is_some_and(|m| m.contains('@'))));
    assert_eq!(app.gong.requests("POST", "/v2/users/extensive"), 1);
}

#[tokio::test]
async fn transcript_speakers_join_the_calls_participants() {
    let app = spawn_app().await;
    let data = app
        .data(
            "{ calls(first: 3) { edges { node { participants { name speakerId } transcript { speakers { name affiliation speakerId } segments(first: 100) { edges { node { speakerId } } } } } } } }",
            json!({}),
        )
        .await;
    for e in data["calls"]["edges"].as_array().unwrap() {
        let speakers = e["node"]["transcript"]["speakers"].as_array().unwrap();
        assert!(!speakers.is_empty());
        let ids: Vec<&str> = speakers.iter().map(|s| s["speakerId"].as_str().unwrap()).collect();
        for seg in e["node"]["transcript"]["segments"]["edges"].as_array().unwrap() {
            assert!(ids.contains(&seg["node"]["speakerId"].as_str().unwrap()), "segment speaker is a known speaker");
        }
    }
}

#[tokio::test]
async fn a_429_is_waited_out_and_the_query_succeeds() {
    let app = spawn_app().await;
    app.gong.inject_429(1);
    let data =
        app.data(r#"{ calls(connectionId: "gong-demo", first: 1) { edges { node { remoteId } } } }"#, json!({})).await;
    assert_eq!(data["calls"]["edges"].as_array().unwrap().len(), 1);
    assert_eq!(app.gong.rejected_429(), 1);
    assert_eq!(app.gong.requests("POST", "/v2/calls/extensive"), 2, "one refused, one retried after Retry-After");
}

#[tokio::test]
async fn a_tampered_cursor_is_bad_cursor() {
    let app = spawn_app().await;
    let data = app.data(PAGE, json!({ "first": 2 })).await;
    let cursor = data["calls"]["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let mut chars: Vec<char> = cursor.chars().collect();
    let mid = chars.len() / 3;
    chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();

    let body = app.query(PAGE, json!({ "first": 2, "after": tampered })).await;
    assert_eq!(codes(&body), vec!["BAD_CURSOR"]);
    assert!(body["data"].is_null() || body["data"]["calls"].is_null());

    let body = app.query(PAGE, json!({ "first": 2, "after": "bm90LWEtY3Vyc29y" })).await;
    assert_eq!(codes(&body), vec!["BAD_CURSOR"]);
}

#[tokio::test]
async fn a_cursor_of_another_list_is_bad_cursor() {
    let app = spawn_app().await;
    let data = app.data(PAGE, json!({ "first": 2 })).await;
    let cursor = data["calls"]["pageInfo"]["endCursor"].as_str().unwrap();
    let q = r#"query($after: String) { calls(first: 2, after: $after, filter: { startedFrom: "2026-02-01T00:00:00Z" }) { edges { node { id } } } }"#;
    let body = app.query(q, json!({ "after": cursor })).await;
    assert_eq!(codes(&body), vec!["BAD_CURSOR"]);
}

#[tokio::test]
async fn first_above_the_cap_or_negative_is_bad_user_input() {
    let app = spawn_app().await;
    for first in [101, -1] {
        let body = app.query(PAGE, json!({ "first": first })).await;
        assert_eq!(codes(&body), vec!["BAD_USER_INPUT"], "first = {first}");
    }
    assert_eq!(app.gong.total_requests(), 0, "rejected before any upstream request");
}

#[tokio::test]
async fn the_time_filter_is_applied_by_gong() {
    let app = spawn_app().await;
    let from = "2026-03-01T00:00:00Z";
    let before = "2026-03-15T00:00:00Z";
    let q = r#"query($f: CallFilter) { calls(first: 100, filter: $f) { totalCount edges { node { startedAt } } } }"#;
    let data = app.data(q, json!({ "f": { "startedFrom": from, "startedBefore": before } })).await;
    let (from, before): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        (from.parse().unwrap(), before.parse().unwrap());
    let expected =
        app.world.calls.iter().filter(|c| c.recorded_by.gong && c.started >= from && c.started < before).count();
    assert!(expected > 0);
    assert_eq!(data["calls"]["totalCount"], expected as u64);
    for e in data["calls"]["edges"].as_array().unwrap() {
        let t: chrono::DateTime<chrono::Utc> = e["node"]["startedAt"].as_str().unwrap().parse().unwrap();
        assert!(t >= from && t < before);
    }
}

#[tokio::test]
async fn call_by_id_and_node_round_trip() {
    let app = spawn_app().await;
    let data = app.data("{ calls(first: 1) { edges { node { id title remoteId } } } }", json!({})).await;
    let node = &data["calls"]["edges"][0]["node"];
    let q = r#"query($id: ID!) { call(id: $id) { id title } node(id: $id) { id ... on Call { remoteId } } }"#;
    let got = app.data(q, json!({ "id": node["id"] })).await;
    assert_eq!(got["call"]["title"], node["title"]);
    assert_eq!(got["node"]["remoteId"], node["remoteId"]);
}

#[tokio::test]
async fn unified_filters_gong_cannot_apply_are_applied_locally_by_the_same_rules() {
    let app = spawn_app().await;
    // Zoom conferences of 10 to 40 minutes whose title mentions "discovery":
    // Gong's API filters none of these, so convograph does.
    let mut expected: Vec<_> = app
        .world
        .calls
        .iter()
        .filter(|c| {
            c.direction == convograph::sandbox::world::Direction::Conference
                && c.system.as_str().eq_ignore_ascii_case("zoom")
                && (600..=2400).contains(&c.duration_secs)
                && c.title.to_lowercase().contains("discovery")
        })
        .collect();
    expected.sort_by_key(|c| (c.started, c.index));
    let expected: Vec<String> = expected.iter().map(|c| convograph::sandbox::gong::ids::call_id(c.index)).collect();
    assert!(expected.len() > 4, "the test world has more than a page of such calls: {}", expected.len());

    let query = r#"query($after: String) {
      calls(connectionId: "gong-demo", first: 4, after: $after, filter: { directions: [CONFERENCE], platforms: ["ZOOM"],
            minDuration: 600, maxDuration: 2400, titleContains: "DisCovery" }) {
        totalCount
        edges { node { remoteId direction platform duration title } }
        pageInfo { hasNextPage endCursor }
      }
    }"#;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app.data(query, json!({ "after": after })).await;
        // The provider's total no longer holds once convograph filters.
        assert_eq!(data["calls"]["totalCount"], Value::Null);
        seen.extend(remote_ids(&data));
        if data["calls"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = data["calls"]["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, expected);
    assert_eq!(app.gong.requests("POST", "/v2/calls/extensive"), 3, "each Gong page read once");
}

#[tokio::test]
async fn contradictory_or_unsupported_call_filters_are_coded_input_errors() {
    let app = spawn_app().await;
    for filter in
        [r#"{ minDuration: 60, maxDuration: 30 }"#, r#"{ minDuration: -1 }"#, r#"{ remoteQuery: { is_api: true } }"#]
    {
        let body =
            app.query(&format!("{{ calls(filter: {filter}) {{ edges {{ node {{ id }} }} }} }}"), json!({})).await;
        assert_eq!(codes(&body), ["BAD_USER_INPUT"], "{filter}: {body}");
    }
    assert_eq!(app.gong.total_requests(), 0);
}
