//! Activity, interactions, scores and scorecards.

use serde_json::json;

use crate::helpers::{codes, spawn_app};

#[tokio::test]
async fn activity_without_start_time_is_a_validation_error() {
    let app = spawn_app().await;
    let body = app.query(r#"{ activity(endTime: "2026-03-01T00:00:00Z") { totalCount } }"#, json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("startTime"), "{message}");
    assert_eq!(codes(&body), vec!["GRAPHQL_VALIDATION_FAILED"]);
    assert!(body["data"].is_null());
    assert_eq!(app.gong.total_requests(), 0);

    // With the GraphQL response media type a request error is a 400.
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": r#"{ activity(endTime: "2026-03-01T00:00:00Z") { totalCount } }"# }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn total_activity_counts_match_the_hosts_calls() {
    let app = spawn_app().await;
    let q = r#"{ activity(startTime: "2026-02-02T05:00:00Z", endTime: "2026-03-02T05:00:00Z") {
        totalCount
        edges { node { aggregationPeriod timezone startDate endDate user { id email } userEmail
          metrics { callsHosted callsAttended scorecardsFilled scorecardsReceived feedbackGiven } } } } }"#;
    let data = app.data(q, json!({})).await;
    let edges = data["activity"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for e in edges {
        let n = &e["node"];
        assert_eq!(n["aggregationPeriod"], "TOTAL");
        assert_eq!(n["timezone"], "America/New_York");
        assert_eq!((n["startDate"].as_str(), n["endDate"].as_str()), (Some("2026-02-02"), Some("2026-03-02")));
        assert_eq!(n["user"]["email"], n["userEmail"]);
        // The same number through the calls list of that host over the same days.
        let calls = app
            .data(
                r#"query($u: ID!) { calls(first: 100, filter: { hostIds: [$u], startedFrom: "2026-02-02T05:00:00Z", startedBefore: "2026-03-02T05:00:00Z" }) { totalCount } }"#,
                json!({ "u": n["user"]["id"] }),
            )
            .await;
        assert_eq!(n["metrics"]["callsHosted"], calls["calls"]["totalCount"], "{n}");
    }
}

#[tokio::test]
async fn weekly_activity_gives_monday_aligned_periods_clipped_to_the_range() {
    let app = spawn_app().await;
    let q = r#"{ activity(startTime: "2026-03-04T05:00:00Z", endTime: "2026-03-19T04:00:00Z", aggregationPeriod: WEEK, first: 100) {
        edges { node { userEmail startDate endDate aggregationPeriod metrics { callsHosted } } } } }"#;
    let data = app.data(q, json!({})).await;
    let edges = data["activity"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for e in edges {
        let n = &e["node"];
        assert_eq!(n["aggregationPeriod"], "WEEK");
        let start = chrono::NaiveDate::parse_from_str(n["startDate"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        let end = chrono::NaiveDate::parse_from_str(n["endDate"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        assert!(start >= chrono::NaiveDate::from_ymd_opt(2026, 3, 4).unwrap());
        assert!(end <= chrono::NaiveDate::from_ymd_opt(2026, 3, 19).unwrap());
        assert!(
            start == chrono::NaiveDate::from_ymd_opt(2026, 3, 4).unwrap() || start.weekday() == chrono::Weekday::Mon
        );
    }
}

use chrono::Datelike;

#[tokio::test]
async fn interactions_have_the_five_metrics_and_the_company_time_zone() {
    let app = spawn_app().await;
    let q = r#"{ interactions(startTime: "2026-01-05T05:00:00Z", endTime: "2026-07-01T04:00:00Z", first: 100) {
        totalCount edges { node { id timezone aggregationPeriod user { email }
          metrics { longestMonologue longestCustomerStory interactivity patience questionRate }
          additionalMetrics { name value } } } } }"#;
    let data = app.data(q, json!({})).await;
    let edges = data["interactions"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for e in edges {
        let n = &e["node"];
        assert_eq!(n["timezone"], "America/New_York");
        assert_eq!(n["aggregationPeriod"], "TOTAL");
        for m in ["longestMonologue", "longestCustomerStory", "interactivity", "patience", "questionRate"] {
            assert!(n["metrics"][m].is_number(), "{m} missing in {n}");
        }
    }
    assert_eq!(app.gong.requests("POST", "/v2/stats/interaction"), 1);
}

#[tokio::test]
async fn interactions_for_one_user_filter_at_gong() {
    let app = spawn_app().await;
    let users = app.data("{ users(first: 1) { edges { node { id email } } } }", json!({})).await;
    let user = &users["users"]["edges"][0]["node"];
    let q = r#"query($u: [ID!]) { interactions(startTime: "2026-01-05T05:00:00Z", endTime: "2026-07-01T04:00:00Z", userIds: $u) { edges { node { userEmail } } } }"#;
    let data = app.data(q, json!({ "u": [user["id"]] })).await;
    for e in data["interactions"]["edges"].as_array().unwrap() {
        assert_eq!(e["node"]["userEmail"], user["email"]);
    }
}

#[tokio::test]
async fn an_empty_range_is_bad_user_input_without_an_upstream_call() {
    let app = spawn_app().await;
    let body = app
        .query(
            r#"{ activity(startTime: "2026-03-02T00:00:00Z", endTime: "2026-03-01T00:00:00Z") { totalCount } }"#,
            json!({}),
        )
        .await;
    assert_eq!(codes(&body), vec!["BAD_USER_INPUT"]);
    assert_eq!(app.gong.total_requests(), 0);
}

#[tokio::test]
async fn scores_resolve_their_scorecard_call_and_people() {
    let app = spawn_app().await;
    let q = r#"{ scores(first: 20) { totalCount edges { node {
        id scorecardName overallScore percentage reviewedAt
        scorecard { name questions { text isOverall minScore maxScore } }
        call { id title }
        reviewee { email } reviewer { email title }
        answers { questionId question isOverall score percentage notApplicable } } } } }"#;
    let data = app.data(q, json!({})).await;
    let edges = data["scores"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty(), "the world has reviews");
    for e in edges {
        let n = &e["node"];
        assert_eq!(n["scorecard"]["name"], n["scorecardName"]);
        assert!(n["call"]["title"].is_string(), "{n}");
        assert!(n["reviewer"]["email"].is_string() && n["reviewee"]["email"].is_string());
        let p = n["percentage"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&p));
        assert!(n["answers"].as_array().unwrap().iter().all(|a| a["question"].is_string()));
    }
    assert_eq!(app.gong.requests("GET", "/v2/settings/scorecards"), 1, "templates fetched once");
}

#[tokio::test]
async fn scorecards_list_their_questions_and_resolve_by_node_id() {
    let app = spawn_app().await;
    let data = app
        .data(
            "{ scorecards { totalCount edges { node { id name enabled questions { id text isOverall } } } } }",
            json!({}),
        )
        .await;
    let first = &data["scorecards"]["edges"][0]["node"];
    assert!(first["questions"].as_array().unwrap().iter().any(|q| q["isOverall"] == true));
    let got = app
        .data(r#"query($id: ID!) { node(id: $id) { ... on Scorecard { name } } }"#, json!({ "id": first["id"] }))
        .await;
    assert_eq!(got["node"]["name"], first["name"]);
}

#[tokio::test]
async fn coaching_lists_a_managers_direct_reports() {
    let app = spawn_app().await;
    let users = app.data("{ users(first: 100) { edges { node { id email manager { id email } } } } }", json!({})).await;
    let with_manager =
        users["users"]["edges"].as_array().unwrap().iter().find(|e| e["node"]["manager"].is_object()).unwrap();
    let manager = &with_manager["node"]["manager"];
    let q = r#"query($m: ID!) { coaching(managerId: $m, startTime: "2026-01-05T00:00:00Z", endTime: "2026-07-01T00:00:00Z") {
        manager { email user { id } } directReports { report { email } metrics { name values } } } }"#;
    let data = app.data(q, json!({ "m": manager["id"] })).await;
    let c = &data["coaching"][0];
    assert_eq!(c["manager"]["email"], manager["email"]);
    assert_eq!(c["manager"]["user"]["id"], manager["id"]);
    let reports: Vec<&str> =
        c["directReports"].as_array().unwrap().iter().map(|r| r["report"]["email"].as_str().unwrap()).collect();
    assert!(reports.contains(&with_manager["node"]["email"].as_str().unwrap()));
}

#[tokio::test]
async fn a_bad_cursor_on_a_stats_list_costs_no_upstream_request() {
    let app = spawn_app().await;
    let q = r#"{ activity(startTime: "2026-03-02T05:00:00Z", endTime: "2026-03-09T05:00:00Z", after: "Zm9yZ2Vk") { totalCount } }"#;
    let body = app.query(q, json!({})).await;
    assert_eq!(codes(&body), vec!["BAD_CURSOR"]);
    assert_eq!(app.gong.total_requests(), 0);
}
