//! The reference queries of BENCHMARKS.md ("Upstream requests"): what each costs
//! upstream, counted by the simulators, against its theoretical minimum and against
//! what resolving each field on its own would cost. Every number in that section
//! comes from a test here; run them with `cargo test --test api reference:: -- --nocapture`
//! to see the figures printed.

use std::collections::{BTreeMap, BTreeSet};

use convograph::{
    config::SandboxConfig,
    providers::ProviderKind,
    sandbox::{gong::ids as gong_ids, world::World},
    schema::id::{self, Kind},
    startup::SANDBOX_GONG_CONNECTION,
};
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

/// The sandbox of the reference queries 2 and 3: the default world (40 people, 2000
/// calls), with `providers`.
async fn reference_app(providers: &[ProviderKind]) -> TestApp {
    let mut settings = settings_for(providers[0]);
    settings.sandbox = Some(SandboxConfig { providers: providers.to_vec(), ..SandboxConfig::default() });
    spawn_with(settings).await
}

/// Requests each simulator received, by route.
fn routes(app: &TestApp, kinds: &[ProviderKind]) -> BTreeMap<(ProviderKind, String, String), u64> {
    let mut out = BTreeMap::new();
    for &k in kinds {
        for (method, route, n) in app.sim(k).counters().per_route() {
            out.insert((k, method, route), n);
        }
    }
    out
}

fn total(app: &TestApp, kinds: &[ProviderKind]) -> u64 {
    kinds.iter().map(|k| app.sim(*k).total_requests()).sum()
}

/// The Gong answered-scorecard pages (100 a page) of the company-time-zone days the
/// world calls `calls` started on (how Gong is asked for the reviews of calls).
fn gong_call_score_pages(world: &World, calls: &[usize]) -> u64 {
    if calls.is_empty() {
        return 0;
    }
    let days: BTreeSet<_> = calls.iter().map(|c| world.local_date(world.calls[*c].started)).collect();
    let (first, last) = (*days.first().unwrap(), *days.last().unwrap());
    let in_range = world
        .answered_scorecards
        .iter()
        .filter(|a| (first..=last).contains(&world.local_date(world.calls[a.call].started)))
        .count();
    in_range.div_ceil(100).max(1) as u64
}

const JOINED3: [ProviderKind; 3] = [ProviderKind::Gong, ProviderKind::ExecVision, ProviderKind::Salesloft];

/// Reference query 2: one person's coaching dashboard across Gong, ExecVision and
/// Salesloft: their 20 latest calls (each with host, transcript and scores), activity,
/// interaction stats, scores and coaching plans.
pub const JOINED_DASHBOARD: &str = r#"query Dashboard($email: String!) {
  user(email: $email) {
    name identities { provider remoteId }
    calls(first: 20) { edges { node { remoteId provider title startedAt host { name }
      transcript { segments(first: 3) { edges { node { speakerId text } } } }
      scores(first: 5) { edges { node { scorecardName overallScore } } } } } }
    activity(startTime: "2026-01-05T05:00:00Z", endTime: "2026-04-01T04:00:00Z") {
      edges { node { provider metrics { callsHosted callsAttended } } } }
    interactions(startTime: "2026-01-05T05:00:00Z", endTime: "2026-04-01T04:00:00Z") {
      edges { node { provider metrics { interactivity longestMonologue } } } }
    scores(first: 10) { edges { node { provider scorecardName overallScore reviewedAt } } }
    coachingPlans(first: 5) { edges { node { name } } }
  }
}"#;

/// The same dashboard without the calls' nested fields: only the person's lists.
const JOINED_DASHBOARD_LISTS: &str = r#"query Dashboard($email: String!) {
  user(email: $email) {
    name identities { provider remoteId }
    calls(first: 20) { edges { node { remoteId provider title startedAt } } }
    activity(startTime: "2026-01-05T05:00:00Z", endTime: "2026-04-01T04:00:00Z") {
      edges { node { provider metrics { callsHosted callsAttended } } } }
    interactions(startTime: "2026-01-05T05:00:00Z", endTime: "2026-04-01T04:00:00Z") {
      edges { node { provider metrics { interactivity longestMonologue } } } }
    scores(first: 10) { edges { node { provider scorecardName overallScore reviewedAt } } }
    coachingPlans(first: 5) { edges { node { name } } }
  }
}"#;

#[tokio::test]
async fn ref2_a_joined_users_dashboard_across_three_providers_costs_its_lists_plus_one_batch_per_nested_field() {
    let app = reference_app(&JOINED3).await;
    let world = app.world.clone();
    // A rep at all three providers (ExecVision lists active users only) who is
    // coached (so has plans) and hosts calls at each of them.
    let person = world
        .people
        .iter()
        .find(|p| p.accounts.gong && p.accounts.execvision && p.accounts.salesloft && p.active && p.manager.is_some())
        .expect("a rep at every provider");
    let vars = json!({ "email": person.email });
    let (data, report) = debug_data(&app, JOINED_DASHBOARD, vars.clone()).await;
    let user = &data["user"];
    let calls = edges(&user["calls"]);
    assert_eq!(calls.len(), 20);
    let of = |kind: ProviderKind| -> Vec<usize> {
        calls
            .iter()
            .filter(|c| c["node"]["provider"] == kind.as_str().to_uppercase())
            .map(|c| crate::helpers::world_call(kind, c["node"]["remoteId"].as_str().unwrap()).unwrap())
            .collect()
    };
    let (gong, ev, sl) = (of(ProviderKind::Gong), of(ProviderKind::ExecVision), of(ProviderKind::Salesloft));
    assert!(!gong.is_empty() && !ev.is_empty() && !sl.is_empty(), "calls from every provider");
    for c in calls {
        assert_eq!(c["node"]["host"]["name"], format!("{} {}", person.first_name, person.last_name));
    }
    assert!(!edges(&user["activity"]).is_empty() && !edges(&user["interactions"]).is_empty());
    assert!(!edges(&user["scores"]).is_empty() && !edges(&user["coachingPlans"]).is_empty());

    // The person's lists alone, on a fresh server: each list read once (Gong: one
    // users page for the join, one calls page (the person hosts at most 100 Gong
    // calls), one activity and one interaction request, one page of the person's
    // reviews; ExecVision: the users list (with team and department names), the
    // calls list read whole (it has no host filter nor start-time order) with its
    // deletions, the scores list and the plans list; Salesloft: the users page and
    // one conversations page of the person's calls).
    let lists = reference_app(&JOINED3).await;
    let (lists_data, _) = debug_data(&lists, JOINED_DASHBOARD_LISTS, vars).await;
    assert_eq!(edges(&lists_data["user"]["calls"]).len(), 20);
    let hosted = |kind| {
        crate::helpers::listed_calls(&app, kind).iter().filter(|c| world.calls[**c].host == person.index).count()
    };
    assert!(hosted(ProviderKind::Gong) <= 100 && hosted(ProviderKind::Salesloft) <= 100);
    let reviews = world.answered_scorecards.iter().filter(|a| a.reviewed == person.index).count();
    assert!(reviews <= 100);
    let l = routes(&lists, &JOINED3);
    let at = |m: &BTreeMap<(ProviderKind, String, String), u64>, k: ProviderKind, method: &str, route: &str| {
        m.get(&(k, method.to_owned(), route.to_owned())).copied().unwrap_or(0)
    };
    for (method, route) in [
        ("GET", "/v2/users"),
        ("POST", "/v2/calls/extensive"),
        ("POST", "/v2/stats/activity/aggregate"),
        ("POST", "/v2/stats/interaction"),
        ("POST", "/v2/stats/activity/scorecards"),
    ] {
        assert_eq!(at(&l, ProviderKind::Gong, method, route), 1, "{route}");
    }
    for route in ["/api/ev/2/users", "/api/ev/2/teams", "/api/ev/2/departments", "/api/ev/2/scores", "/api/ev/2/plans"]
    {
        assert_eq!(at(&l, ProviderKind::ExecVision, "GET", route), 1, "{route}");
    }
    for route in ["/v2/users", "/v2/conversations"] {
        assert_eq!(at(&l, ProviderKind::Salesloft, "GET", route), 1, "{route}");
    }
    let lists_cost = total(&lists, &JOINED3);

    // The minimum: those list reads, plus for the calls' nested fields one batch per
    // provider that has a batch form and one request per call where it has none:
    // hosts come from the join's users (nothing), Gong transcripts in one
    // `calls/transcript`, Gong call scores in the reviews pages of the calls' days,
    // ExecVision scores from its scores list (already read), and one transcript
    // request per ExecVision call (`transcript/{id}`) and per Salesloft call
    // (`transcriptions/{id}/sentences`): neither provider has a batch form.
    let mut want = l;
    *want.entry((ProviderKind::Gong, "POST".into(), "/v2/calls/transcript".into())).or_default() += 1;
    *want.entry((ProviderKind::Gong, "POST".into(), "/v2/stats/activity/scorecards".into())).or_default() +=
        gong_call_score_pages(&world, &gong);
    *want.entry((ProviderKind::ExecVision, "GET".into(), "/api/ev/2/transcript/{id}".into())).or_default() +=
        ev.len() as u64;
    *want.entry((ProviderKind::Salesloft, "GET".into(), "/v2/transcriptions/{id}/sentences".into())).or_default() +=
        sl.len() as u64;
    let got = routes(&app, &JOINED3);
    assert_eq!(got, want);
    let minimum: u64 = want.values().sum();
    assert_eq!(total(&app, &JOINED3), minimum);
    assert_eq!(report["upstreamRequests"], minimum);

    // Each field on its own: the lists, then per call a host lookup, a transcript and
    // a scores read. A single person's page has only 20 nested records, and the
    // ExecVision and Salesloft transcripts cannot be batched at all, so the ratio here
    // is far below 30x: it is bounded by the lists and the per-call requests that no
    // provider API can save.
    let per_field = lists_cost + 3 * calls.len() as u64;
    println!("ref2: minimum {minimum}, convograph {minimum}, each field on its own {per_field}");
    assert!(per_field > 2 * minimum, "{per_field} vs {minimum}");
}

/// Reference query 3: a page of 40 reps, each with their 5 latest calls, activity,
/// interaction stats and scores.
pub const REPS_PAGE: &str = r#"query Reps($from: DateTime!, $to: DateTime!) {
  users(first: 40) { edges { node { name identities { remoteId }
    calls(first: 5) { pageInfo { hasNextPage endCursor } edges { node { remoteId title startedAt } } }
    activity(startTime: $from, endTime: $to) { edges { node { metrics { callsHosted callsAttended } } } }
    interactions(startTime: $from, endTime: $to) { edges { node { metrics { interactivity longestMonologue } } } }
    scores(first: 5) { totalCount edges { node { remoteId scorecardName overallScore } } } } } }
}"#;

/// The range of the reference stats lists: the world's first 60 days.
fn stats_range(world: &World) -> Value {
    let from = world.window_start;
    json!({ "from": from.to_rfc3339(), "to": (from + chrono::TimeDelta::days(60)).to_rfc3339() })
}

#[tokio::test]
async fn ref3_40_reps_with_their_latest_calls_activity_interactions_and_scores() {
    let app = reference_app(&[ProviderKind::Gong]).await;
    let world = app.world.clone();
    let (data, report) = debug_data(&app, REPS_PAGE, stats_range(&world)).await;
    let users = edges(&data["users"]);
    assert_eq!(users.len(), 40);
    let people: Vec<usize> = users
        .iter()
        .map(|u| gong_ids::person_index(u["node"]["identities"][0]["remoteId"].as_str().unwrap()).unwrap())
        .collect();

    // Each rep's calls are the 5 latest they hosted (by start time, then id).
    let listed = crate::helpers::listed_calls(&app, ProviderKind::Gong);
    for (u, p) in users.iter().zip(&people) {
        let mut hosted: Vec<usize> = listed.iter().copied().filter(|c| world.calls[*c].host == *p).collect();
        hosted.sort_by_key(|c| (world.calls[*c].started, gong_ids::call_id(*c)));
        hosted.reverse();
        let want: Vec<String> = hosted.iter().take(5).map(|c| gong_ids::call_id(*c)).collect();
        let got: Vec<String> =
            edges(&u["node"]["calls"]).iter().map(|c| c["node"]["remoteId"].as_str().unwrap().to_owned()).collect();
        assert_eq!(got, want, "person {p}");
        assert_eq!(u["node"]["calls"]["pageInfo"]["hasNextPage"], hosted.len() > 5, "person {p}");
        let reviews = world.answered_scorecards.iter().filter(|a| a.reviewed == *p).count();
        assert_eq!(u["node"]["scores"]["totalCount"], reviews as u64, "person {p}");
    }

    // The minimum of the lists Gong can ask for many users at once: one users page;
    // one activity and one interaction request (their filters take the 40 user ids,
    // and a page holds 100 users' records); the reviews of the 40 reps, 100 a page.
    let reviews = world.answered_scorecards.iter().filter(|a| people.contains(&a.reviewed)).count();
    let score_pages = reviews.div_ceil(100).max(1) as u64;
    assert_eq!(app.gong.requests("GET", "/v2/users"), 1);
    assert_eq!(app.gong.requests("POST", "/v2/stats/activity/aggregate"), 1);
    assert_eq!(app.gong.requests("POST", "/v2/stats/interaction"), 1);
    assert_eq!(app.gong.requests("POST", "/v2/stats/activity/scorecards"), score_pages);
    // Calls: Gong lists calls oldest first only, so the 5 latest of each rep are found
    // by reading time windows backwards from the newest end, for all 40 reps at once
    // (their ids in `primaryUserIds`): one probe, at most three requests to size the
    // first window, then one request per window. No strategy can do without the
    // probe and the sizing, as nothing tells where the newest calls start; a rep with
    // fewer than 6 calls in the shared windows (chiefly reps who host none) is then
    // asked alone (one request each), so that one rep without calls does not make the
    // whole page read back to the first call.
    let calls_requests = app.gong.requests("POST", "/v2/calls/extensive");
    let lists = 1 + 1 + 1 + score_pages;
    let measured = lists + calls_requests;
    assert_eq!(app.gong.total_requests(), measured);
    assert_eq!(report["upstreamRequests"], measured);

    // Each field on its own: the users page, then per rep one calls list (at least one
    // request), one activity, one interaction and one scores request.
    let per_field = 1 + 4 * users.len() as u64;
    println!(
        "ref3: lists of many users {lists} (minimum {lists}), calls {calls_requests}, convograph {measured}, \
         each field on its own {per_field}"
    );
    assert!(calls_requests * 2 <= users.len() as u64, "calls {calls_requests}");
    assert!(per_field >= 6 * measured, "{per_field} vs {measured}");
}

#[tokio::test]
async fn page_wide_reads_give_each_person_their_own_lists_and_cursors() {
    page_wide_reads_equal_reads_alone("DESC").await;
}

#[tokio::test]
async fn page_wide_reads_oldest_first_give_each_person_their_own_lists_and_cursors() {
    page_wide_reads_equal_reads_alone("ASC").await;
}

/// Every person's lists in a page of people equal the person's lists alone, and
/// paging on from the page's cursors visits each call exactly once (calls in
/// `order`; Gong pages oldest first, so newest first reads time windows).
async fn page_wide_reads_equal_reads_alone(order: &str) {
    let app = crate::helpers::spawn_joined().await;
    let world = app.world.clone();
    let lists = format!(
        r#"
      calls(first: 3, order: {order}) {{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id }} }} }}
      activity(startTime: $from, endTime: $to) {{ edges {{ node {{ id }} }} }}
      interactions(startTime: $from, endTime: $to) {{ edges {{ node {{ id }} }} }}
      scores(first: 100) {{ edges {{ node {{ id }} }} }}"#
    );
    let page_query = format!(
        "query($from: DateTime!, $to: DateTime!) {{ users(first: 50) {{ edges {{ node {{ id {lists} }} }} }} }}"
    );
    let one_query = format!("query($id: ID!, $from: DateTime!, $to: DateTime!) {{ user(id: $id) {{ id {lists} }} }}");
    let calls_after = format!(
        r#"query($id: ID!, $after: String) {{ user(id: $id) {{
        calls(first: 3, after: $after, order: {order}) {{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id }} }} }} }} }}"#
    );
    let calls_after = calls_after.as_str();
    let range = stats_range(&world);
    let page = app.data(&page_query, range.clone()).await;
    let users = edges(&page["users"]);
    assert!(users.len() > 10);
    let strip = |v: &Value| {
        let mut v = v.clone();
        v["calls"]["pageInfo"]["endCursor"] = Value::Null;
        v
    };
    let mut with_calls = 0;
    for u in users {
        let id = u["node"]["id"].as_str().unwrap();
        // Alone, on a fresh server (nothing shared, nothing cached).
        let fresh = crate::helpers::spawn_joined().await;
        let mut vars = range.clone();
        vars["id"] = json!(id);
        let alone = fresh.data(&one_query, vars).await;
        assert_eq!(strip(&u["node"]), strip(&alone["user"]), "user {id}");
        // Paging on from the page's cursor gives the rest of the person's calls, each
        // once, as paging alone from the start does.
        let mut seen: Vec<Value> = edges(&u["node"]["calls"]).iter().map(|e| e["node"]["id"].clone()).collect();
        let mut after = u["node"]["calls"]["pageInfo"]["endCursor"].clone();
        let mut more = u["node"]["calls"]["pageInfo"]["hasNextPage"] == true;
        while more {
            let next = app.data(calls_after, json!({ "id": id, "after": after })).await;
            let list = &next["user"]["calls"];
            seen.extend(edges(list).iter().map(|e| e["node"]["id"].clone()));
            more = list["pageInfo"]["hasNextPage"] == true;
            after = list["pageInfo"]["endCursor"].clone();
        }
        let all = fresh.walk(calls_after, json!({ "id": id }), "/user/calls").await;
        let all: Vec<Value> = all.iter().map(|n| n["id"].clone()).collect();
        assert_eq!(seen, all, "user {id}");
        with_calls += usize::from(all.len() > 3);
    }
    assert!(with_calls > 5, "people with more than a page of calls: {with_calls}");
}

/// The per-person lists of reference query 3, as a gateway asks for them.
const REP_LISTS: &str = r#"
    calls(first: 5) { edges { node { remoteId } } }
    activity(startTime: $from, endTime: $to) { edges { node { metrics { callsHosted callsAttended } } } }
    interactions(startTime: $from, endTime: $to) { edges { node { metrics { interactivity longestMonologue } } } }
    scores(first: 5) { totalCount edges { node { remoteId } } }"#;

fn reps_entities_query() -> String {
    format!(
        "query($r: [_Any!]!, $from: DateTime!, $to: DateTime!) {{
          _entities(representations: $r) {{ ... on User {{ id email {REP_LISTS} }} }} }}"
    )
}

/// Representations of the world's Gong people (at most `n`), newest account first
/// (an order no list returns them in): every other one by `email`, the rest by `id`.
fn gong_people_reps(world: &World, n: usize) -> Vec<Value> {
    world
        .people
        .iter()
        .filter(|p| p.accounts.gong)
        .take(n)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .enumerate()
        .map(|(i, p)| match i % 2 {
            0 => json!({ "__typename": "User", "email": p.email }),
            _ => json!({
                "__typename": "User",
                "id": id::encode(Kind::User, SANDBOX_GONG_CONNECTION, &gong_ids::user_id(p.index)).to_string(),
            }),
        })
        .collect()
}

/// Each entity of `entities` equals the same person's lists read alone, by
/// `user(email:)`, on `alone` (a server that did not serve the entities).
async fn assert_entities_equal_reads_alone(alone: &TestApp, entities: &[Value], range: &Value) {
    let one_query = format!(
        "query($email: String!, $from: DateTime!, $to: DateTime!) {{ user(email: $email) {{ id email {REP_LISTS} }} }}"
    );
    for e in entities {
        let mut vars = range.clone();
        vars["email"] = e["email"].clone();
        let one = alone.data(&one_query, vars).await;
        assert_eq!(e, &one["user"], "user {}", e["email"]);
    }
}

#[tokio::test]
async fn ref3_as_40_user_entities_costs_what_the_page_of_40_costs() {
    let world = reference_app(&[ProviderKind::Gong]).await.world.clone();
    let range = stats_range(&world);
    let reps = gong_people_reps(&world, 40);
    assert_eq!(reps.len(), 40);
    let by_id = reps.iter().filter(|r| r.get("id").is_some()).count();
    assert!(by_id > 0 && by_id < reps.len());

    // The 40 people as entities, on a fresh server.
    let app = reference_app(&[ProviderKind::Gong]).await;
    let mut vars = range.clone();
    vars["r"] = json!(reps);
    let (data, report) = debug_data(&app, &reps_entities_query(), vars).await;
    let entities = data["_entities"].as_array().expect("entities");
    assert_eq!(entities.len(), reps.len());
    // In the order of the representations.
    for (e, r) in entities.iter().zip(&reps) {
        match r.get("email") {
            Some(email) => assert_eq!(&e["email"], email),
            None => assert_eq!(&e["id"], &r["id"]),
        }
    }

    // The same selection under `users(first: 40)`, on another fresh server.
    let page = reference_app(&[ProviderKind::Gong]).await;
    let page_query = format!(
        "query($from: DateTime!, $to: DateTime!) {{ users(first: 40) {{ edges {{ node {{ id email {REP_LISTS} }} }} }} }}"
    );
    let page_data = page.data(&page_query, range.clone()).await;
    let listed: BTreeSet<&str> =
        edges(&page_data["users"]).iter().map(|u| u["node"]["email"].as_str().unwrap()).collect();
    let asked: BTreeSet<&str> = entities.iter().map(|e| e["email"].as_str().unwrap()).collect();
    assert_eq!(listed, asked, "the page lists the same people");

    // Per route, the entities cost what the page costs, plus the lookup of the
    // representations given by id: one batch (Gong takes 100 user ids a request).
    let lookup = (ProviderKind::Gong, "POST".to_owned(), "/v2/users/extensive".to_owned());
    let mut got = routes(&app, &[ProviderKind::Gong]);
    assert_eq!(got.remove(&lookup), Some(by_id.div_ceil(100) as u64));
    assert_eq!(got, routes(&page, &[ProviderKind::Gong]));
    let measured = total(&app, &[ProviderKind::Gong]);
    assert_eq!(report["upstreamRequests"], measured);
    // Each entity on its own: per person one calls list (at least one request), one
    // activity, one interaction and one scores request.
    let per_entity = 4 * reps.len() as u64;
    println!(
        "ref3 as entities: convograph {measured}, users page {}, each entity on its own {per_entity}",
        total(&page, &[ProviderKind::Gong])
    );
    assert!(per_entity >= 5 * measured, "{per_entity} vs {measured}");

    // Each entity's lists are the person's own.
    assert_entities_equal_reads_alone(&reference_app(&[ProviderKind::Gong]).await, entities, &range).await;
}

#[tokio::test]
async fn unknown_user_entities_among_many_are_null_in_their_slots_and_cost_nothing_more() {
    let world = reference_app(&[ProviderKind::Gong]).await.world.clone();
    let range = stats_range(&world);
    let known = gong_people_reps(&world, 12);
    let nobody_id = id::encode(Kind::User, SANDBOX_GONG_CONNECTION, &gong_ids::user_id(world.people.len() + 7));
    let mut reps = known.clone();
    reps.insert(3, json!({ "__typename": "User", "email": "nobody@nowhere.example" }));
    reps.insert(8, json!({ "__typename": "User", "id": nobody_id.to_string() }));
    let unknown = [3, 8];

    let app = reference_app(&[ProviderKind::Gong]).await;
    let mut vars = range.clone();
    vars["r"] = json!(reps);
    let body = app.query(&reps_entities_query(), vars).await;
    let entities = body["data"]["_entities"].as_array().expect("entities");
    assert_eq!(entities.len(), reps.len());
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), unknown.len(), "{body:#}");
    for slot in unknown {
        assert!(entities[slot].is_null(), "slot {slot}: {body:#}");
        let e = errors.iter().find(|e| e["path"] == json!(["_entities", slot])).expect("an error at the slot");
        assert_eq!(e["extensions"]["code"], "NOT_FOUND");
    }
    let found: Vec<Value> =
        entities.iter().enumerate().filter(|(i, _)| !unknown.contains(i)).map(|(_, e)| e.clone()).collect();
    assert_entities_equal_reads_alone(&reference_app(&[ProviderKind::Gong]).await, &found, &range).await;

    // The unknown ones cost nothing more than the known ones alone.
    let without = reference_app(&[ProviderKind::Gong]).await;
    let mut vars = range.clone();
    vars["r"] = json!(known);
    let data = without.data(&reps_entities_query(), vars).await;
    assert_eq!(data["_entities"].as_array().unwrap(), &found);
    assert_eq!(routes(&app, &[ProviderKind::Gong]), routes(&without, &[ProviderKind::Gong]));
}

#[tokio::test]
async fn two_entities_fields_of_one_request_each_read_their_own_people() {
    let world = reference_app(&[ProviderKind::Gong]).await.world.clone();
    let range = stats_range(&world);
    let reps = gong_people_reps(&world, 12);
    let (a, b) = reps.split_at(6);
    let query = format!(
        "query($a: [_Any!]!, $b: [_Any!]!, $from: DateTime!, $to: DateTime!) {{
          a: _entities(representations: $a) {{ ... on User {{ id email {REP_LISTS} }} }}
          b: _entities(representations: $b) {{ ... on User {{ id email {REP_LISTS} }} }} }}"
    );
    let app = reference_app(&[ProviderKind::Gong]).await;
    let mut vars = range.clone();
    vars["a"] = json!(a);
    vars["b"] = json!(b);
    let data = app.data(&query, vars).await;
    let mut entities = data["a"].as_array().expect("a").clone();
    entities.extend(data["b"].as_array().expect("b").iter().cloned());
    assert_eq!(entities.len(), reps.len());
    assert_entities_equal_reads_alone(&reference_app(&[ProviderKind::Gong]).await, &entities, &range).await;
}
