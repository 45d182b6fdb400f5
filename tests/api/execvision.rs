//! ExecVision through GraphQL against its simulator.

use std::collections::{HashMap, HashSet};

use convograph::sandbox::execvision::ids;
use serde_json::{Value, json};

use crate::helpers::{TestApp, codes, spawn_execvision};

async fn walk(app: &TestApp, root: &str, args: &str, fields: &str) -> Vec<Value> {
    let q = format!(
        "query($after: String) {{ {root}(first: 100, after: $after{args}) {{ edges {{ node {{ {fields} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    );
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app.data(&q, json!({ "after": after })).await;
        out.extend(data[root]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()));
        if data[root]["pageInfo"]["hasNextPage"] == false {
            return out;
        }
        after = data[root]["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}

/// Requests a full `since`+`last_id` walk needs at `limit` when each page after the
/// first repeats the previous page's last record (ExecVision's documented bug).
fn minimum_requests(records: usize, limit: usize) -> u64 {
    let (mut requests, mut read) = (1u64, records.min(limit));
    let mut page_len = read;
    while page_len == limit {
        let fresh = (records - read).min(limit - 1);
        page_len = 1 + fresh;
        read += fresh;
        requests += 1;
    }
    requests
}

#[tokio::test]
async fn every_live_call_is_listed_once_with_the_minimum_of_requests_and_deleted_calls_never() {
    let app = spawn_execvision().await;
    let data = app.execvision.data();
    let live: HashSet<String> =
        data.calls.iter().filter(|c| c.deleted_at.is_none()).map(|c| ids::call_id(c.call)).collect();
    let deleted: Vec<String> =
        data.calls.iter().filter(|c| c.deleted_at.is_some()).map(|c| ids::call_id(c.call)).collect();
    assert!(live.len() > 1000 && !deleted.is_empty(), "the default world spans several pages and has deletions");

    let calls = walk(&app, "calls", "", "remoteId state").await;
    let listed: Vec<String> = calls.iter().map(|c| c["remoteId"].as_str().unwrap().to_owned()).collect();
    let unique: HashSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len(), "no call twice, despite the repeated last_id record");
    assert_eq!(unique, live, "every live call, no deleted one");
    assert_eq!(app.execvision.requests("GET", "/api/ev/2/calls"), minimum_requests(live.len(), 1000));
    assert_eq!(app.execvision.requests("GET", "/api/ev/2/calls/deleted"), 1);

    let q = r#"query($id: ID!) { call(id: $id) { remoteId } }"#;
    let id = convograph::schema::id::encode(convograph::schema::id::Kind::Call, "execvision-demo", &deleted[0]);
    assert!(app.data(q, json!({ "id": id })).await["call"].is_null(), "a deleted call is not found by id either");
}

#[tokio::test]
async fn a_walk_of_5000_calls_at_limit_1000_makes_the_minimum_of_requests() {
    let mut settings = crate::helpers::test_settings();
    settings.sandbox = Some(convograph::config::SandboxConfig {
        calls: 9200,
        providers: vec![convograph::providers::ProviderKind::ExecVision],
        ..convograph::config::SandboxConfig::default()
    });
    let app = crate::helpers::spawn_with(settings).await;
    let live = app.execvision.data().calls.iter().filter(|c| c.deleted_at.is_none()).count();
    assert!(live >= 5000, "{live} live calls");
    let calls = walk(&app, "calls", "", "remoteId").await;
    assert_eq!(calls.len(), live);
    assert_eq!(app.execvision.requests("GET", "/api/ev/2/calls"), minimum_requests(live, 1000));
}

#[test]
fn the_minimum_counts_the_repeated_record() {
    assert_eq!(minimum_requests(5000, 1000), 6, "1000 + 4 × 999 = 4996, then 4 more");
    assert_eq!(minimum_requests(999, 1000), 1);
    assert_eq!(minimum_requests(1000, 1000), 2);
}

#[tokio::test]
async fn users_carry_team_department_and_system_ids() {
    let app = spawn_execvision().await;
    let data = app.execvision.data();
    let users = walk(&app, "users", "", "remoteId email team department systemIds").await;
    assert!(users.iter().any(|u| !u["systemIds"].as_array().unwrap().is_empty()), "some users have dialer/CRM ids");
    assert!(!users.is_empty());
    for u in &users {
        let person = ids::person_index(u["remoteId"].as_str().unwrap()).expect("an ExecVision user id");
        let team = data.person_team[person].map(|t| data.teams[t].name.as_str());
        let department = data.person_department[person].map(|d| data.departments[d].name.as_str());
        assert_eq!(u["team"].as_str(), team, "{u}");
        assert_eq!(u["department"].as_str(), department, "{u}");
        // ExecVision knows some people by an alias.
        assert_eq!(u["email"].as_str(), Some(convograph::sandbox::world_ev::ev_email(&app.world, person)));
    }
    let teams = app
        .data(
            "{ teams { totalCount edges { node { name manager { email } } } } departments { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(teams["teams"]["totalCount"], data.teams.len());
    assert_eq!(teams["departments"]["totalCount"], data.departments.len());
    // A team's manager resolves when the manager is an active ExecVision user.
    let user_emails: HashSet<&str> = users.iter().map(|u| u["email"].as_str().unwrap()).collect();
    let managers: Vec<&Value> =
        teams["teams"]["edges"].as_array().unwrap().iter().map(|t| &t["node"]["manager"]).collect();
    assert!(managers.iter().any(|m| m["email"].is_string()));
    for m in managers {
        if let Some(e) = m["email"].as_str() {
            assert!(user_emails.contains(e));
        }
    }
}

#[tokio::test]
async fn transcripts_have_typed_speakers_and_are_fetched_once_per_call() {
    let app = spawn_execvision().await;
    let q = "{ calls(first: 10) { edges { node { remoteId state transcript { speakers { speakerId affiliation name } segments(first: 100) { totalCount edges { node { speakerId startMs endMs text } } } } } } } }";
    let data = app.data(q, json!({})).await;
    let edges = data["calls"]["edges"].as_array().unwrap();
    let mut with_transcript = 0;
    for e in edges {
        let t = &e["node"]["transcript"];
        if e["node"]["state"] != "COMPLETE" {
            continue;
        }
        with_transcript += 1;
        let speakers: HashMap<&str, &str> = t["speakers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["speakerId"].as_str().unwrap(), s["affiliation"].as_str().unwrap()))
            .collect();
        assert!(speakers.values().any(|a| *a == "INTERNAL"), "the host is an internal speaker: {t}");
        let mut last = -1;
        for seg in t["segments"]["edges"].as_array().unwrap() {
            let n = &seg["node"];
            assert!(speakers.contains_key(n["speakerId"].as_str().unwrap()));
            assert!(n["startMs"].as_i64().unwrap() >= last, "in time order");
            last = n["startMs"].as_i64().unwrap();
        }
    }
    assert!(with_transcript > 0);
    assert_eq!(app.execvision.requests("GET", "/api/ev/2/transcript/{id}"), edges.len() as u64);
    // Asked again within the TTL: no new request.
    app.data(q, json!({})).await;
    assert_eq!(app.execvision.requests("GET", "/api/ev/2/transcript/{id}"), edges.len() as u64);
}

#[tokio::test]
async fn scores_have_scheme_percentages_reviewers_and_questions() {
    let app = spawn_execvision().await;
    let scores = walk(&app, "scores", "", "remoteId percentage reviewer { email } reviewee { email } scorecard { name questions { text } } answers { question percentage scheme skills }").await;
    assert_eq!(scores.len(), app.execvision.data().results.len(), "one score per scorecard result");
    for s in &scores {
        let answers = s["answers"].as_array().unwrap();
        let pcts: Vec<f64> = answers.iter().filter_map(|a| a["percentage"].as_f64()).collect();
        assert_eq!(pcts.len(), answers.len(), "every scheme yields a percentage: {s}");
        let mean = pcts.iter().sum::<f64>() / pcts.len() as f64;
        assert!((s["percentage"].as_f64().unwrap() - mean).abs() < 1e-9);
        assert!(s["reviewer"]["email"].is_string() && s["reviewee"]["email"].is_string(), "people found by email: {s}");
        let questions: HashSet<&str> =
            s["scorecard"]["questions"].as_array().unwrap().iter().map(|q| q["text"].as_str().unwrap()).collect();
        assert!(answers.iter().all(|a| questions.contains(a["question"].as_str().unwrap())));
    }
}

#[tokio::test]
async fn coaching_plans_list_their_meetings_and_people() {
    let app = spawn_execvision().await;
    let data = app.execvision.data();
    let plans = walk(&app, "coachingPlans", "", "remoteId coach { remoteId } recipient { remoteId email } skills { name } meetings(first: 100) { totalCount edges { node { remoteId planId coach { remoteId } skillScores { skill score } callReviews { callId } } } }").await;
    assert_eq!(plans.len(), data.plans.len());
    let mut meetings_seen = 0;
    for p in &plans {
        for m in p["meetings"]["edges"].as_array().unwrap() {
            meetings_seen += 1;
            assert_eq!(m["node"]["planId"], p["remoteId"]);
            assert_eq!(m["node"]["coach"]["remoteId"], p["coach"]["remoteId"]);
        }
    }
    assert_eq!(meetings_seen, data.meetings.len(), "every meeting under its plan");

    // The same plans through the recipient.
    let p = &plans[0];
    let q = r#"query($e: String!) { user(email: $e) { coachingPlans { edges { node { remoteId } } } } }"#;
    let got = app.data(q, json!({ "e": p["recipient"]["email"] })).await;
    let mine: Vec<&Value> =
        got["user"]["coachingPlans"]["edges"].as_array().unwrap().iter().map(|e| &e["node"]["remoteId"]).collect();
    assert!(mine.contains(&&p["remoteId"]));
}

#[tokio::test]
async fn topics_listens_feedback_shares_and_kpis_are_complete() {
    let app = spawn_execvision().await;
    let data = app.execvision.data();
    let active_topics = app.data("{ topics { totalCount edges { node { name words } } } }", json!({})).await;
    assert!(active_topics["topics"]["totalCount"].as_u64().unwrap() > 0);

    let feedback = walk(&app, "feedback", "", "text author { email } callId").await;
    assert_eq!(feedback.len(), data.feedback.len());
    // The full call behind a record resolves too (one `call/{id}` each, cached).
    let q = r#"{ feedback(first: 3) { edges { node { callId call { id title } } } } }"#;
    for e in app.data(q, json!({})).await["feedback"]["edges"].as_array().unwrap() {
        assert_eq!(e["node"]["call"]["id"], e["node"]["callId"]);
    }
    assert_eq!(walk(&app, "shares", "", "recipientEmails sharedBy { email }").await.len(), data.shares.len());
    let kpis =
        walk(&app, "kpis", "", "value kpiId definition { description frequency target } observed { email }").await;
    assert_eq!(kpis.len(), data.kpi_observations.len());
    assert!(kpis.iter().all(|k| k["definition"]["description"].is_string()));
    let distinct_kpis: HashSet<&str> = kpis.iter().map(|k| k["kpiId"].as_str().unwrap()).collect();
    assert_eq!(
        app.execvision.requests("GET", "/api/ev/2/kpi/{id}"),
        distinct_kpis.len() as u64,
        "one definition request per KPI"
    );
    // Listens are computed nightly; the simulator shows those already computed.
    let listens = walk(&app, "listens", "", "date timeListened listener { email } callId").await;
    assert!(!listens.is_empty());
}

#[tokio::test]
async fn topic_matches_honour_the_sliding_window_filter() {
    let app = spawn_execvision().await;
    let all =
        walk(&app, "topicMatches", "", "callRemoteId matches { topics { topicName matches { matchingText } } }").await;
    let filtered = walk(
        &app,
        "topicMatches",
        ", windowLength: 60, minimumMatches: 3",
        "callRemoteId matches { topics { topicName } }",
    )
    .await;
    let count = |v: &[Value]| -> usize {
        v.iter()
            .map(|c| {
                c["matches"].as_array().unwrap().iter().map(|m| m["topics"].as_array().unwrap().len()).sum::<usize>()
            })
            .sum()
    };
    assert!(count(&all) > 0);
    assert!(count(&filtered) < count(&all), "the window filter removes sparse topics");
    let ids: HashSet<&str> = all.iter().map(|c| c["callRemoteId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "each call once");

    let body = app.query("{ topicMatches(windowLength: 60) { totalCount } }", json!({})).await;
    assert_eq!(codes(&body), vec!["BAD_USER_INPUT"]);
}

mod pacing {
    use std::time::{Duration, Instant};

    use chrono::TimeZone;
    use convograph::{
        config::{ConnectionSettings, CredentialsConfig, SecretSource, TrafficSettings},
        providers::ProviderKind,
        sandbox::{Sandbox, SandboxSettings},
    };
    use serde_json::json;

    use crate::helpers::{codes, spawn_with, test_settings};

    async fn with_ev_connection(traffic: TrafficSettings) -> (crate::helpers::TestApp, Sandbox, tempfile::TempDir) {
        let mut sim = SandboxSettings::default();
        // Night in US Eastern: the simulator serves 25/s, at least the client's rate.
        sim.execvision.clock = Some(chrono::Utc.with_ymd_and_hms(2026, 3, 10, 4, 0, 0).unwrap());
        let ev = Sandbox::start(sim).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (user, pass) = (dir.path().join("u"), dir.path().join("p"));
        std::fs::write(&user, ev.execvision.user_id()).unwrap();
        std::fs::write(&pass, ev.execvision.password()).unwrap();
        let mut settings = test_settings();
        settings.connections.push(ConnectionSettings {
            webhook: None,
            id: "ev".into(),
            provider: ProviderKind::ExecVision,
            base_url: ev.execvision.base_url().parse().unwrap(),
            credentials: CredentialsConfig::Basic {
                username: SecretSource::File(user),
                password: SecretSource::File(pass),
            },
            time_zone: None,
            workspace_id: None,
            conversation_ids: Vec::new(),
            traffic,
        });
        (spawn_with(settings).await, ev, dir)
    }

    const TRANSCRIPTS: &str = r#"{ calls(connectionId: "ev", first: 30) { edges { node { remoteId transcript { segments(first: 1) { totalCount } } } } } }"#;

    #[tokio::test]
    async fn the_client_paces_itself_so_the_simulators_queue_stays_small() {
        let (app, ev, _dir) = with_ev_connection(TrafficSettings::default()).await;
        let data = app.data(TRANSCRIPTS, json!({})).await;
        assert_eq!(data["calls"]["edges"].as_array().unwrap().len(), 30);
        assert_eq!(ev.execvision.requests("GET", "/api/ev/2/transcript/{id}"), 30);
        assert!(ev.execvision.max_queue_depth() <= 2, "queue grew to {}", ev.execvision.max_queue_depth());
        assert_eq!(ev.execvision.queue_timeouts(), 0);
    }

    #[tokio::test]
    async fn requests_that_would_wait_past_the_bound_fail_with_rate_limited() {
        let traffic = TrafficSettings {
            rate_per_sec: Some(4.0),
            max_queue_wait: Some(Duration::from_millis(400)),
            ..TrafficSettings::default()
        };
        let (app, _ev, _dir) = with_ev_connection(traffic).await;
        let started = Instant::now();
        let body = app.query(TRANSCRIPTS, json!({})).await;
        assert!(started.elapsed() < Duration::from_secs(5), "bounded, took {:?}", started.elapsed());
        let errors = codes(&body);
        assert!(!errors.is_empty() && errors.iter().all(|c| c == "RATE_LIMITED"), "{errors:?}");
        assert!(body["errors"][0]["extensions"]["retryAfterMs"].as_u64().unwrap() > 0);
        let served = body["data"]["calls"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["node"]["transcript"].is_object())
            .count();
        assert!(served >= 1, "what fits in the bound is served");
    }
}
