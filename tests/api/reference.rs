//! The reference queries of BENCHMARKS.md ("Upstream requests"): what each costs
//! upstream, counted by the simulators, against its theoretical minimum and against
//! what resolving each field on its own would cost. Every number in that section
//! comes from a test here; run them with `cargo test --test api reference:: -- --nocapture`
//! to see the figures printed.

use std::collections::{BTreeMap, BTreeSet};

use convograph::{providers::ProviderKind, sandbox::gong::ids as gong_ids};
use serde_json::{Value, json};

use crate::helpers::{TestApp, settings_for, spawn_with};

/// POSTs `query` with the cost report (which also bypasses the response cache).
async fn debug_data(app: &TestApp, query: &str, variables: Value) -> (Value, Value) {
    let body: Value = app
        .client
        .post(app.url("/graphql"))
        .header("x-convograph-debug", "1")
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON body");
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
    (body["data"].clone(), body["extensions"]["convograph"].clone())
}

fn edges(list: &Value) -> &Vec<Value> {
    list["edges"].as_array().expect("edges")
}

/// Reference query 1: a page of 100 Gong calls with host, transcript and scores.
pub const GONG_CALLS_WITH_SCORES: &str = r#"{
  calls(connectionId: "gong-demo", first: 100) {
    edges { node { remoteId title startedAt host { name email }
      transcript { segments(first: 3) { edges { node { speakerId text } } } }
      scores(first: 10) { totalCount edges { node { remoteId scorecardName overallScore reviewedAt } } } } }
  }
}"#;

#[tokio::test]
async fn ref1_100_gong_calls_with_host_transcript_and_scores_cost_the_theoretical_minimum() {
    let app = spawn_with(settings_for(ProviderKind::Gong)).await;
    let world = app.world.clone();
    let (data, report) = debug_data(&app, GONG_CALLS_WITH_SCORES, json!({})).await;
    let calls = edges(&data["calls"]);
    assert_eq!(calls.len(), 100);

    // Each call has exactly the world's reviews of it, oldest first.
    let mut reviewed = 0;
    for c in calls {
        let call = gong_ids::call_index(c["node"]["remoteId"].as_str().unwrap()).unwrap();
        let mut want: Vec<_> = world.answered_scorecards.iter().filter(|a| a.call == call).collect();
        want.sort_by_key(|a| (a.review_time, a.index));
        let got: Vec<String> =
            edges(&c["node"]["scores"]).iter().map(|s| s["node"]["remoteId"].as_str().unwrap().to_owned()).collect();
        let want: Vec<String> = want.iter().map(|a| gong_ids::answered_scorecard_id(a.index).to_string()).collect();
        assert_eq!(got, want, "call {call}");
        assert_eq!(c["node"]["scores"]["totalCount"], want.len() as u64);
        reviewed += usize::from(!want.is_empty());
    }
    assert!(reviewed > 5, "the page has reviewed calls: {reviewed}");

    // The theoretical minimum: one calls page, one transcript batch, one users batch
    // (the hosts), and the answered-scorecard pages of the days the page spans (Gong
    // filters them by call date, not by call id; 100 a page).
    let days: BTreeSet<_> = calls
        .iter()
        .map(|c| {
            world
                .local_date(world.calls[gong_ids::call_index(c["node"]["remoteId"].as_str().unwrap()).unwrap()].started)
        })
        .collect();
    let (first, last) = (*days.first().unwrap(), *days.last().unwrap());
    let in_range = world
        .answered_scorecards
        .iter()
        .filter(|a| (first..=last).contains(&world.local_date(world.calls[a.call].started)))
        .count();
    let scorecard_pages = in_range.div_ceil(100).max(1) as u64;
    assert_eq!(app.gong.requests("POST", "/v2/calls/extensive"), 1);
    assert_eq!(app.gong.requests("POST", "/v2/calls/transcript"), 1);
    assert_eq!(app.gong.requests("POST", "/v2/users/extensive"), 1);
    assert_eq!(app.gong.requests("POST", "/v2/stats/activity/scorecards"), scorecard_pages);
    let minimum = 3 + scorecard_pages;
    assert_eq!(app.gong.total_requests(), minimum);
    assert_eq!(report["upstreamRequests"], minimum);

    // Each field on its own: the page, then per call one host lookup, one transcript
    // and one scorecard read (of the call's day: at least one page).
    let per_field = 1 + 3 * calls.len() as u64;
    println!("ref1: minimum {minimum}, convograph {minimum}, each field on its own {per_field}");
    assert!(per_field >= 30 * minimum, "{per_field} vs {minimum}");

    // Within the TTL the repeat costs nothing.
    let (again, report) = debug_data(&app, GONG_CALLS_WITH_SCORES, json!({})).await;
    assert_eq!(again, data);
    assert_eq!(report["upstreamRequests"], 0);
}

#[tokio::test]
async fn execvision_call_scores_split_one_read_of_the_scores_list() {
    let app = spawn_with(settings_for(ProviderKind::ExecVision)).await;
    let world = app.world.clone();
    let ev = app.execvision.data();
    let query = r#"{ calls(connectionId: "execvision-demo", first: 100) {
        edges { node { remoteId scores(first: 20) { edges { node { remoteId call { remoteId } } } } } } } }"#;
    let (data, _) = debug_data(&app, query, json!({})).await;
    let mut results_by_call: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &ev.results {
        let call = world.answered_scorecards[r.answered].call;
        let id = convograph::sandbox::execvision::ids::call_id(call);
        results_by_call.entry(id).or_default().push(convograph::sandbox::execvision::ids::result_id(r.answered));
    }
    let mut reviewed = 0;
    for c in edges(&data["calls"]) {
        let id = c["node"]["remoteId"].as_str().unwrap();
        let mut got: Vec<String> =
            edges(&c["node"]["scores"]).iter().map(|s| s["node"]["remoteId"].as_str().unwrap().to_owned()).collect();
        got.sort();
        let mut want = results_by_call.get(id).cloned().unwrap_or_default();
        want.sort();
        assert_eq!(got, want, "call {id}");
        reviewed += usize::from(!want.is_empty());
        for s in edges(&c["node"]["scores"]) {
            assert_eq!(s["node"]["call"]["remoteId"], id);
        }
    }
    assert!(reviewed > 5, "{reviewed}");

    // The scores list was read once, as a whole (what `scorecards`, which needs every
    // score, costs on a fresh server).
    let whole = spawn_with(settings_for(ProviderKind::ExecVision)).await;
    whole.data(r#"{ scorecards(connectionId: "execvision-demo") { edges { node { name } } } }"#, json!({})).await;
    let route = ("GET", "/api/ev/2/scores");
    assert_eq!(app.execvision.requests(route.0, route.1), whole.execvision.requests(route.0, route.1));
}
