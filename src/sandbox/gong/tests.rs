//! HTTP tests of the Gong simulator, through reqwest on loopback.

use chrono::{NaiveDate, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::ids;
use crate::sandbox::world::Speaker;
use crate::sandbox::{GongSimSettings, Sandbox, SandboxSettings};

fn settings(seed: u64, rate: u32) -> SandboxSettings {
    SandboxSettings {
        seed,
        people: 8,
        calls: 260,
        gong: GongSimSettings {
            rate_per_sec: rate,
            today: NaiveDate::from_ymd_opt(2026, 11, 1),
            ..GongSimSettings::default()
        },
        ..SandboxSettings::default()
    }
}

async fn start(seed: u64, rate: u32) -> Sandbox {
    Sandbox::start(settings(seed, rate)).await.expect("sandbox")
}

struct Resp {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

async fn send(sb: &Sandbox, req: reqwest::RequestBuilder, auth: bool) -> Resp {
    let req = if auth { req.basic_auth(sb.gong.access_key(), Some(sb.gong.access_key_secret())) } else { req };
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    Resp { status, retry_after, body }
}

async fn get(sb: &Sandbox, path: &str) -> Resp {
    let url = format!("{}{path}", sb.gong.base_url());
    send(sb, reqwest::Client::new().get(url), true).await
}

async fn post(sb: &Sandbox, path: &str, body: Value) -> Resp {
    let url = format!("{}{path}", sb.gong.base_url());
    send(sb, reqwest::Client::new().post(url).json(&body), true).await
}

fn assert_error(r: &Resp, status: StatusCode) {
    assert_eq!(r.status, status, "{}", r.body);
    assert!(r.body["requestId"].as_str().is_some_and(|s| !s.is_empty()), "{}", r.body);
    let errors = r.body["errors"].as_array().expect("errors array");
    assert!(!errors.is_empty() && errors.iter().all(Value::is_string));
}

fn without_request_id(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("requestId");
    v
}

#[tokio::test]
async fn same_seed_same_answers_different_seed_different() {
    let a = start(7, 0).await;
    let b = start(7, 0).await;
    let c = start(8, 0).await;
    let body = json!({ "filter": {}, "contentSelector": { "exposedFields": { "parties": true } } });
    let ra = post(&a, "/v2/calls/extensive", body.clone()).await;
    let rb = post(&b, "/v2/calls/extensive", body.clone()).await;
    let rc = post(&c, "/v2/calls/extensive", body).await;
    assert_eq!(ra.status, StatusCode::OK);
    assert_ne!(ra.body["requestId"], rb.body["requestId"]);
    assert_eq!(without_request_id(ra.body.clone()), without_request_id(rb.body));
    assert_ne!(without_request_id(ra.body), without_request_id(rc.body));
    assert_eq!(a.world(), b.world());
    for s in [a, b, c] {
        s.shutdown().await;
    }
}

#[tokio::test]
async fn auth_is_required_with_gong_error_bodies() {
    let sb = start(7, 0).await;
    let base = sb.gong.base_url().to_string();
    let http = reqwest::Client::new();
    let r = send(&sb, http.get(format!("{base}/v2/calls")), false).await;
    assert_error(&r, StatusCode::UNAUTHORIZED);
    let wrong = http
        .post(format!("{base}/v2/calls/extensive"))
        .basic_auth(sb.gong.access_key(), Some("nope"))
        .json(&json!({ "filter": {} }));
    assert_error(&send(&sb, wrong, false).await, StatusCode::UNAUTHORIZED);
    let bearer = http.get(format!("{base}/v2/calls/{}", ids::call_id(0))).bearer_auth("token");
    assert_error(&send(&sb, bearer, false).await, StatusCode::UNAUTHORIZED);
    // 403 (not 401) where the spec says so.
    for path in ["/v2/users", "/v2/coaching?workspace-id=1&manager-id=1&from=x&to=y", "/v2/workspaces"] {
        let r = send(&sb, http.get(format!("{base}{path}")), false).await;
        assert_error(&r, StatusCode::FORBIDDEN);
    }
    let ok = get(&sb, "/v2/workspaces").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body["workspaces"][0]["id"], json!(ids::WORKSPACE_ID));
    sb.shutdown().await;
}

#[tokio::test]
async fn paging_visits_every_call_once_in_order() {
    let sb = start(7, 0).await;
    let world = sb.world();
    let from = "2026-01-05T00:00:00Z";
    let to = "2026-07-01T00:00:00Z";
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/v2/calls?fromDateTime={from}&toDateTime={to}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = get(&sb, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let rec = &r.body["records"];
        assert_eq!(rec["totalRecords"], json!(260));
        assert_eq!(rec["currentPageNumber"], json!(pages));
        let calls = r.body["calls"].as_array().unwrap();
        assert_eq!(rec["currentPageSize"], json!(calls.len()));
        seen.extend(calls.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        pages += 1;
        match rec.get("cursor") {
            Some(c) => {
                assert_eq!(calls.len(), 100);
                cursor = Some(c.as_str().unwrap().to_string());
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..260).map(ids::call_id).collect();
    assert_eq!(seen, expected);
    assert!(world.calls.windows(2).all(|w| w[0].started <= w[1].started));

    // POST paging with a top-level cursor; the cursor is bound to the filter.
    let filter = json!({ "fromDateTime": from, "toDateTime": to });
    let first = post(&sb, "/v2/calls/extensive", json!({ "filter": filter })).await;
    let c = first.body["records"]["cursor"].as_str().unwrap().to_string();
    let second = post(&sb, "/v2/calls/extensive", json!({ "filter": filter, "cursor": c })).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body["calls"][0]["metaData"]["id"], json!(ids::call_id(100)));
    let other = json!({ "fromDateTime": "2026-02-01T00:00:00Z", "toDateTime": to });
    let r = post(&sb, "/v2/calls/extensive", json!({ "filter": other, "cursor": c })).await;
    assert_error(&r, StatusCode::BAD_REQUEST);
    let r = get(&sb, "/v2/calls?cursor=not-a-cursor").await;
    assert_error(&r, StatusCode::BAD_REQUEST);
    sb.shutdown().await;
}

#[tokio::test]
async fn empty_results_and_unknown_ids_are_404() {
    let sb = start(7, 0).await;
    let window = "fromDateTime=2025-01-01T00:00:00Z&toDateTime=2025-02-01T00:00:00Z";
    let r = get(&sb, &format!("/v2/calls?{window}")).await;
    assert_error(&r, StatusCode::NOT_FOUND);
    assert_eq!(r.body["errors"][0], json!("No calls found corresponding to the provided filters"));
    let empty = json!({ "filter": { "fromDateTime": "2025-01-01T00:00:00Z", "toDateTime": "2025-02-01T00:00:00Z" } });
    for path in ["/v2/calls/extensive", "/v2/calls/transcript"] {
        assert_error(&post(&sb, path, empty.clone()).await, StatusCode::NOT_FOUND);
    }
    let r =
        post(&sb, "/v2/users/extensive", json!({ "filter": { "createdFromDateTime": "2030-01-01T00:00:00Z" } })).await;
    assert_error(&r, StatusCode::NOT_FOUND);
    assert_error(&get(&sb, "/v2/calls/1234567890123456789").await, StatusCode::NOT_FOUND);
    assert_error(&get(&sb, "/v2/users/42").await, StatusCode::NOT_FOUND);
    assert_error(&get(&sb, "/v2/nothing-here").await, StatusCode::NOT_FOUND);
    let del = reqwest::Client::new().delete(format!("{}/v2/calls", sb.gong.base_url()));
    assert_error(&send(&sb, del, true).await, StatusCode::METHOD_NOT_ALLOWED);
    // The known ones work.
    let r = get(&sb, &format!("/v2/calls/{}", ids::call_id(5))).await;
    assert_eq!(r.body["call"]["id"], json!(ids::call_id(5)));
    let r = get(&sb, &format!("/v2/users/{}", ids::user_id(3))).await;
    assert_eq!(r.body["user"]["emailAddress"], json!(sb.world().people[3].email));
    sb.shutdown().await;
}

#[tokio::test]
async fn users_list_extensive_and_avatars() {
    let sb = start(7, 0).await;
    let world = sb.world();
    let r = get(&sb, "/v2/users").await;
    assert_eq!(r.status, StatusCode::OK);
    let users = r.body["users"].as_array().unwrap();
    assert_eq!(users.len(), world.people.len());
    assert!(r.body["records"].get("cursor").is_none());
    let u = &users[2];
    assert_eq!(u["id"], json!(ids::user_id(2)));
    assert_eq!(u["managerId"], json!(ids::user_id(world.people[2].manager.unwrap())));
    assert!(u["settings"]["emailsImported"].is_boolean());
    assert!(users[0].get("managerId").is_none());
    let r = get(&sb, "/v2/users?includeAvatars=true").await;
    assert_eq!(r.body["users"].as_array().unwrap().len(), world.people.len() + 2);
    let r =
        post(&sb, "/v2/users/extensive", json!({ "filter": { "userIds": [ids::user_id(1), ids::user_id(4)] } })).await;
    let got: Vec<&str> = r.body["users"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![ids::user_id(1), ids::user_id(4)]);
    // Late hires are created inside the window.
    let r =
        post(&sb, "/v2/users/extensive", json!({ "filter": { "createdFromDateTime": "2026-01-05T00:00:00-05:00" } }))
            .await;
    assert_eq!(r.body["users"].as_array().unwrap().len(), 2);
    assert_error(&post(&sb, "/v2/users/extensive", json!({})).await, StatusCode::BAD_REQUEST);
    sb.shutdown().await;
}

#[tokio::test]
async fn content_selector_returns_only_requested_parts() {
    let sb = start(7, 0).await;
    let id = ids::call_id(10);
    let only = |sel: Value| json!({ "filter": { "callIds": [id] }, "contentSelector": sel });
    let r = post(&sb, "/v2/calls/extensive", only(json!({}))).await;
    let call = &r.body["calls"][0];
    let keys: Vec<&String> = call.as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["metaData"]);
    assert_eq!(call["metaData"]["id"], json!(id));

    let sel = json!({ "exposedFields": { "parties": true, "content": { "topics": true, "trackers": true } } });
    let r = post(&sb, "/v2/calls/extensive", only(sel)).await;
    let call = &r.body["calls"][0];
    let mut keys: Vec<&String> = call.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, vec!["content", "metaData", "parties"]);
    let mut ckeys: Vec<&String> = call["content"].as_object().unwrap().keys().collect();
    ckeys.sort();
    assert_eq!(ckeys, vec!["topics", "trackers"]);
    assert!(call["content"]["trackers"].as_array().unwrap().iter().all(|t| t.get("occurrences").is_none()));

    let sel = json!({
        "context": "Extended",
        "contextTiming": ["Now", "TimeOfCall"],
        "exposedFields": {
            "content": { "trackers": true, "trackerOccurrences": true, "pointsOfInterest": true,
                         "brief": true, "outline": true, "highlights": true, "callOutcome": true,
                         "keyPoints": true, "structure": true },
            "interaction": { "speakers": true, "video": true, "personInteractionStats": true, "questions": true },
            "collaboration": { "publicComments": true },
            "media": true
        }
    });
    let r = post(&sb, "/v2/calls/extensive", only(sel)).await;
    let call = &r.body["calls"][0];
    for k in ["context", "content", "interaction", "collaboration", "media"] {
        assert!(call.get(k).is_some(), "{k} missing");
    }
    assert!(call.get("parties").is_none());
    let poi = &call["content"]["pointsOfInterest"]["actionItems"][0];
    assert!(poi["speakerID"].is_string() && poi.get("speakerId").is_none());
    let stats: Vec<&str> = call["interaction"]["interactionStats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(stats, vec!["Talk Ratio", "Longest Monologue", "Longest Customer Story", "Interactivity", "Patience"]);
    assert!(call["content"]["trackers"][0]["occurrences"][0]["startTime"].is_number());
    // contextTiming without Extended is rejected, as are unknown context values.
    let bad = only(json!({ "context": "Basic", "contextTiming": ["Now"] }));
    assert_error(&post(&sb, "/v2/calls/extensive", bad).await, StatusCode::BAD_REQUEST);
    let bad = only(json!({ "context": "Everything" }));
    assert_error(&post(&sb, "/v2/calls/extensive", bad).await, StatusCode::BAD_REQUEST);
    sb.shutdown().await;
}

#[tokio::test]
async fn transcripts_join_to_parties() {
    let sb = start(7, 0).await;
    let world = sb.world();
    let picks = [3usize, 42, 200];
    let call_ids: Vec<String> = picks.iter().map(|&j| ids::call_id(j)).collect();
    let r = post(&sb, "/v2/calls/transcript", json!({ "filter": { "callIds": call_ids } })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ext = post(
        &sb,
        "/v2/calls/extensive",
        json!({ "filter": { "callIds": call_ids }, "contentSelector": { "exposedFields": { "parties": true } } }),
    )
    .await;
    let transcripts = r.body["callTranscripts"].as_array().unwrap();
    assert_eq!(transcripts.len(), 3);
    for (t, &j) in transcripts.iter().zip(picks.iter()) {
        assert_eq!(t["callId"], json!(ids::call_id(j)));
        let call = &world.calls[j];
        let parties = ext.body["calls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["metaData"]["id"] == t["callId"])
            .unwrap()["parties"]
            .as_array()
            .unwrap()
            .clone();
        let speaker_ids: Vec<&str> = parties.iter().filter_map(|p| p["speakerId"].as_str()).collect();
        let mut sentences = 0;
        for m in t["transcript"].as_array().unwrap() {
            assert!(speaker_ids.contains(&m["speakerId"].as_str().unwrap()));
            assert!(m["topic"].is_string());
            for s in m["sentences"].as_array().unwrap() {
                let (start, end) = (s["start"].as_u64().unwrap(), s["end"].as_u64().unwrap());
                assert!(start < end && end <= u64::from(call.duration_secs) * 1000);
                sentences += 1;
            }
        }
        assert!((20..=80).contains(&sentences));
        let expected = world.transcript(j);
        assert_eq!(expected.monologues.len(), t["transcript"].as_array().unwrap().len());
        // The host's speaker id is that of the internal party with the host's user id.
        let host_party = parties.iter().find(|p| p["userId"] == json!(ids::user_id(call.host))).unwrap();
        assert_eq!(host_party["speakerId"], json!(ids::speaker_id(j, 0)));
        assert_eq!(call.participants[0].who, Speaker::Person(call.host));
    }
    // Calls outside the date window are not returned even when listed.
    let r = post(
        &sb,
        "/v2/calls/transcript",
        json!({ "filter": { "callIds": [ids::call_id(3)], "fromDateTime": "2026-06-01T00:00:00Z" } }),
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND);
    sb.shutdown().await;
}

#[tokio::test]
async fn stats_dates_are_validated() {
    let sb = start(7, 0).await;
    let bad = [
        json!({ "filter": { "fromDate": "2026-01-05" } }),
        json!({ "filter": { "toDate": "2026-01-05" } }),
        json!({ "filter": { "fromDate": "2026-1-5", "toDate": "2026-02-01" } }),
        json!({ "filter": { "fromDate": "2026-01-05T00:00:00Z", "toDate": "2026-02-01" } }),
        json!({ "filter": { "fromDate": "2026-01-05", "toDate": "2026-11-02" } }),
        json!({ "filter": { "fromDate": "2026-02-05", "toDate": "2026-02-01" } }),
        json!({ "nofilter": {} }),
    ];
    for path in ["/v2/stats/activity/aggregate", "/v2/stats/interaction", "/v2/stats/activity/aggregate-by-period"] {
        for b in &bad {
            let mut b = b.clone();
            b["aggregationPeriod"] = json!("WEEK");
            assert_error(&post(&sb, path, b).await, StatusCode::BAD_REQUEST);
        }
    }
    let url = format!("{}/v2/stats/activity/aggregate", sb.gong.base_url());
    let req = reqwest::Client::new().post(url).header("content-type", "application/json").body("{not json");
    assert_error(&send(&sb, req, true).await, StatusCode::BAD_REQUEST);
    // toDate == today is fine.
    let ok = json!({ "filter": { "fromDate": "2026-01-05", "toDate": "2026-11-01" } });
    assert_eq!(post(&sb, "/v2/stats/activity/aggregate", ok).await.status, StatusCode::OK);
    sb.shutdown().await;
}

#[tokio::test]
async fn activity_aggregates_and_weekly_periods() {
    let sb = start(7, 0).await;
    let world = sb.world();
    let (from, to) = ("2026-01-07", "2026-01-22"); // Wednesday .. Thursday
    let filter = json!({ "fromDate": from, "toDate": to });
    let agg = post(&sb, "/v2/stats/activity/aggregate", json!({ "filter": filter })).await;
    assert_eq!(agg.status, StatusCode::OK, "{}", agg.body);
    assert_eq!(agg.body["timeZone"], json!("America/New_York"));
    assert_eq!(agg.body["fromDateTime"], json!("2026-01-07T00:00:00-05:00"));
    assert_eq!(agg.body["toDateTime"], json!("2026-01-22T00:00:00-05:00"));
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let stats = agg.body["usersAggregateActivityStats"].as_array().unwrap();
    assert_eq!(stats.len(), world.people.len());
    for s in stats {
        let p = ids::person_index(s["userId"].as_str().unwrap()).unwrap();
        let expected = world.activity_sum(p, d(from), d(to));
        assert_eq!(s["userAggregateActivityStats"]["callsAsHost"], json!(expected.get("callsAsHost").unwrap()));
        assert_eq!(s["userAggregateActivityStats"].as_object().unwrap().len(), 15);
    }
    let hosted: u64 = stats.iter().map(|s| s["userAggregateActivityStats"]["callsAsHost"].as_u64().unwrap()).sum();
    assert_eq!(hosted as usize, world.calls_on_days(d(from), d(to)).len());

    let r =
        post(&sb, "/v2/stats/activity/aggregate-by-period", json!({ "filter": filter, "aggregationPeriod": "WEEK" }))
            .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let users = r.body["usersAggregateActivity"].as_array().unwrap();
    assert!(!users.is_empty());
    for u in users {
        let p = ids::person_index(u["userId"].as_str().unwrap()).unwrap();
        assert!(!world.activity_sum(p, d(from), d(to)).is_empty());
        let periods = u["userAggregateActivity"].as_array().unwrap();
        let bounds: Vec<(&str, &str)> =
            periods.iter().map(|x| (x["fromDate"].as_str().unwrap(), x["toDate"].as_str().unwrap())).collect();
        assert_eq!(
            bounds,
            vec![
                ("2026-01-07T00:00:00-05:00", "2026-01-12T00:00:00-05:00"),
                ("2026-01-12T00:00:00-05:00", "2026-01-19T00:00:00-05:00"),
                ("2026-01-19T00:00:00-05:00", "2026-01-22T00:00:00-05:00"),
            ]
        );
        let total: u64 = periods.iter().map(|x| x["callsAttended"].as_u64().unwrap()).sum();
        assert_eq!(total, u64::from(world.activity_sum(p, d(from), d(to)).get("callsAttended").unwrap()));
    }
    // People without activity are left out.
    let silent = (0..world.people.len()).filter(|&p| world.activity_sum(p, d(from), d(to)).is_empty()).count();
    assert_eq!(users.len(), world.people.len() - silent);
    // Months and quarters clip too.
    let r = post(
        &sb,
        "/v2/stats/activity/aggregate-by-period",
        json!({ "filter": { "fromDate": "2026-02-10", "toDate": "2026-05-03" }, "aggregationPeriod": "QUARTER" }),
    )
    .await;
    let periods = r.body["usersAggregateActivity"][0]["userAggregateActivity"].as_array().unwrap();
    assert_eq!(periods.len(), 2);
    assert_eq!(periods[0]["toDate"], json!("2026-04-01T00:00:00-04:00"));
    let r = post(
        &sb,
        "/v2/stats/activity/aggregate-by-period",
        json!({ "filter": filter, "aggregationPeriod": "FORTNIGHT" }),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST);
    sb.shutdown().await;
}

#[tokio::test]
async fn interaction_stats_echo_dates() {
    let sb = start(7, 0).await;
    let r =
        post(&sb, "/v2/stats/interaction", json!({ "filter": { "fromDate": "2026-03-01", "toDate": "2026-04-01" } }))
            .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["timeZone"], json!("America/New_York"));
    assert_eq!(r.body["fromDateTime"], json!("2026-03-01T00:00:00-05:00"));
    assert_eq!(r.body["toDateTime"], json!("2026-04-01T00:00:00-04:00"));
    let people = r.body["peopleInteractionStats"].as_array().unwrap();
    assert!(!people.is_empty());
    for p in people {
        let names: Vec<&str> =
            p["personInteractionStats"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"Question Rate") && !names.contains(&"Talk Ratio"));
        assert!(names.contains(&"Engaging Questions"));
    }
    let r =
        post(&sb, "/v2/stats/interaction", json!({ "filter": { "fromDate": "2025-03-01", "toDate": "2025-04-01" } }))
            .await;
    assert_error(&r, StatusCode::NOT_FOUND);
    sb.shutdown().await;
}

#[tokio::test]
async fn scorecards_use_int64_ids() {
    let sb = start(7, 0).await;
    let world = sb.world();
    let r = get(&sb, "/v2/settings/scorecards").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.get("records").is_none());
    let cards = r.body["scorecards"].as_array().unwrap();
    assert_eq!(cards.len(), world.scorecards.len());
    for c in cards {
        assert!(c["scorecardId"].is_i64() && c["workspaceId"].is_i64());
        assert!(c["questions"].as_array().unwrap().iter().all(|q| q["questionId"].is_i64()));
        assert_eq!(c["questions"].as_array().unwrap().iter().filter(|q| q["isOverall"] == json!(true)).count(), 1);
    }
    let a = &world.answered_scorecards[0];
    let r = post(
        &sb,
        "/v2/stats/activity/scorecards",
        json!({ "filter": { "reviewedUserIds": [ids::user_id(a.reviewed)] } }),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let answered = r.body["answeredScorecards"].as_array().unwrap();
    let expected = world.answered_scorecards.iter().filter(|x| x.reviewed == a.reviewed).count();
    assert_eq!(answered.len(), expected.min(100));
    let first = &answered[0];
    for k in ["answeredScorecardId", "scorecardId", "callId", "reviewedUserId", "reviewerUserId"] {
        assert!(first[k].is_i64(), "{k}: {}", first[k]);
    }
    assert_eq!(first["callId"], json!(ids::call_id_num(a.call)));
    assert_eq!(first["reviewedUserId"], json!(ids::user_id_num(a.reviewed)));
    let r = post(
        &sb,
        "/v2/stats/activity/scorecards",
        json!({ "filter": { "callFromDate": "2025-01-01", "callToDate": "2025-02-01" } }),
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND);
    let r = post(&sb, "/v2/stats/activity/scorecards", json!({ "filter": { "callFromDate": "01/01/2026" } })).await;
    assert_error(&r, StatusCode::BAD_REQUEST);
    sb.shutdown().await;
}

#[tokio::test]
async fn coaching_takes_hyphenated_params() {
    let sb = start(7, 0).await;
    let world = sb.world();
    let manager = world.managers()[1];
    let path = format!(
        "/v2/coaching?workspace-id={}&manager-id={}&from=2026-01-05T00:00:00Z&to=2026-07-01T00:00:00Z",
        ids::WORKSPACE_ID,
        ids::user_id(manager)
    );
    let r = get(&sb, &path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get("records").is_none());
    let data = &r.body["coachingData"][0];
    assert_eq!(data["manager"]["id"], json!(ids::user_id(manager)));
    let reports = data["directReportsMetrics"].as_array().unwrap();
    assert_eq!(reports.len(), world.direct_reports(manager).len());
    assert!(reports[0]["metrics"]["callsListenedTo"].is_array());
    // camelCase names are not what Gong takes.
    let camel = format!(
        "/v2/coaching?workspaceId={}&managerId={}&from=2026-01-05T00:00:00Z&to=2026-07-01T00:00:00Z",
        ids::WORKSPACE_ID,
        ids::user_id(manager)
    );
    assert_error(&get(&sb, &camel).await, StatusCode::BAD_REQUEST);
    let wrong_ws = path.replace(ids::WORKSPACE_ID, "1");
    assert_error(&get(&sb, &wrong_ws).await, StatusCode::FORBIDDEN);
    sb.shutdown().await;
}

#[tokio::test]
async fn rate_limit_and_injected_429s() {
    let sb = start(7, 3).await;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..4 {
        let r = get(&sb, "/v2/workspaces").await;
        statuses.push(r.status);
        last = Some(r);
    }
    assert_eq!(&statuses[..3], &[StatusCode::OK, StatusCode::OK, StatusCode::OK]);
    let last = last.unwrap();
    assert_error(&last, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(last.retry_after.as_deref(), Some("1"));
    assert_eq!(sb.gong.rejected_429(), 1);
    sb.shutdown().await;

    let sb = start(7, 0).await;
    sb.gong.inject_429(2);
    for _ in 0..2 {
        let r = get(&sb, "/v2/workspaces").await;
        assert_error(&r, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.retry_after.as_deref(), Some("1"));
    }
    assert_eq!(get(&sb, "/v2/workspaces").await.status, StatusCode::OK);
    assert_eq!(sb.gong.rejected_429(), 2);
    sb.shutdown().await;
}

#[tokio::test]
async fn requests_are_counted_per_route() {
    let sb = start(7, 0).await;
    for j in 0..3 {
        get(&sb, &format!("/v2/calls/{}", ids::call_id(j))).await;
    }
    post(&sb, "/v2/calls/transcript", json!({ "filter": { "callIds": [ids::call_id(1)] } })).await;
    let http = reqwest::Client::new();
    send(&sb, http.get(format!("{}/v2/users", sb.gong.base_url())), false).await;
    assert_eq!(sb.gong.requests("GET", "/v2/calls/{id}"), 3);
    assert_eq!(sb.gong.requests("POST", "/v2/calls/transcript"), 1);
    assert_eq!(sb.gong.requests("GET", "/v2/users"), 1);
    assert_eq!(sb.gong.requests("GET", "/v2/calls"), 0);
    assert_eq!(sb.gong.total_requests(), 5);
    sb.shutdown().await;
}

#[tokio::test]
async fn default_sandbox_starts_quickly() {
    let t = std::time::Instant::now();
    let sb = Sandbox::start(SandboxSettings::default()).await.unwrap();
    assert!(t.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(sb.world().calls.len(), 2000);
    assert!(sb.gong.base_url().starts_with("http://127.0.0.1:"));
    assert!(!sb.gong.base_url().ends_with('/'));
    let first = &sb.world().calls[0];
    assert!(first.started >= Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap());
    sb.shutdown().await;
}
