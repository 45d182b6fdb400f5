//! Live calls through every simulator's HTTP API: what exists, and what the
//! incremental forms return, at a moment when ten live calls have ended.
//!
//! The schedule is hourly and started ten hours ago, so nothing changes while a test
//! runs: live call 9 has just appeared (transcript not ready), live call 10 is an
//! hour away.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{
    ExecVisionSimSettings, GongSimSettings, LiveCalls, SalesloftSimSettings, Sandbox, SandboxSettings, execvision,
    gong, salesloft,
};

const EVERY: Duration = Duration::from_secs(3600);
/// After every ordinary record of the test world (its calls end before 2025-03-01).
const AFTER_ORDINARY: &str = "2025-06-01T00:00:00Z";

async fn start() -> Sandbox {
    let now = Utc::now();
    let settings = SandboxSettings {
        people: 12,
        calls: 200,
        window_start: Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0).unwrap(),
        window_end: Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap(),
        gong: GongSimSettings { rate_per_sec: 0, ..GongSimSettings::default() },
        execvision: ExecVisionSimSettings { day_rate_per_sec: 0, night_rate_per_sec: 0, ..Default::default() },
        salesloft: SalesloftSimSettings { budget: 0, ..SalesloftSimSettings::default() },
        live: Some(LiveCalls { every: EVERY, count: 40, start: now - EVERY * 10 }),
        ..SandboxSettings::default()
    };
    Sandbox::start(settings).await.expect("sandbox")
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn gong_get(sb: &Sandbox, path: &str) -> (StatusCode, Value) {
    let req = reqwest::Client::new().get(format!("{}{path}", sb.gong.base_url()));
    send(req.basic_auth(sb.gong.access_key(), Some(sb.gong.access_key_secret()))).await
}

async fn gong_post(sb: &Sandbox, path: &str, body: Value) -> (StatusCode, Value) {
    let req = reqwest::Client::new().post(format!("{}{path}", sb.gong.base_url())).json(&body);
    send(req.basic_auth(sb.gong.access_key(), Some(sb.gong.access_key_secret()))).await
}

async fn ev_get(sb: &Sandbox, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let req = reqwest::Client::new().get(format!("{}{}/{path}", sb.execvision.base_url(), execvision::BASE_PATH));
    send(req.query(query).basic_auth(sb.execvision.user_id(), Some(sb.execvision.password()))).await
}

async fn sl_get(sb: &Sandbox, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let req = reqwest::Client::new().get(format!("{}{path}", sb.salesloft.base_url())).query(query);
    send(req.bearer_auth(sb.salesloft.token())).await
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.as_array().expect("array").iter().map(|x| x[key].as_str().expect("string").to_owned()).collect()
}

/// Call indices sorted by (start, index), as Gong lists them.
fn by_start(sb: &Sandbox, mut calls: Vec<usize>) -> Vec<usize> {
    calls.sort_by_key(|&j| (sb.world().calls[j].started, j));
    calls
}

#[tokio::test]
async fn the_world_says_ten_live_calls_have_ended_and_nine_transcripts_are_ready() {
    let sb = start().await;
    let (w, now) = (sb.world(), sb.world().now());
    let live = w.live_calls();
    assert_eq!(live.len(), 40);
    let visible: Vec<usize> = live.iter().copied().filter(|&j| w.is_visible(j, now)).collect();
    assert_eq!(visible, live[..10]);
    let ready: Vec<usize> = live.iter().copied().filter(|&j| w.is_transcript_ready(j, now)).collect();
    assert_eq!(ready, live[..9]);
    assert!(live.iter().all(|&j| w.calls[j].recorded_by.gong && w.calls[j].recorded_by.salesloft));
}

#[tokio::test]
async fn gong_serves_exactly_the_live_calls_that_have_ended() {
    let sb = start().await;
    let w = sb.world();
    let live = w.live_calls();
    let ids = |calls: &[usize]| calls.iter().map(|&j| gong::ids::call_id(j)).collect::<Vec<_>>();

    let (status, body) = gong_get(&sb, &format!("/v2/calls?fromDateTime={AFTER_ORDINARY}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["records"]["totalRecords"], json!(10));
    assert_eq!(strings(&body["calls"], "id"), ids(&by_start(&sb, live[..10].to_vec())));

    assert_eq!(gong_get(&sb, &format!("/v2/calls/{}", gong::ids::call_id(live[9]))).await.0, StatusCode::OK);
    let (status, body) = gong_get(&sb, &format!("/v2/calls/{}", gong::ids::call_id(live[10]))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let body = json!({ "filter": { "callIds": [gong::ids::call_id(live[10])] } });
    assert_eq!(gong_post(&sb, "/v2/calls/extensive", body).await.0, StatusCode::NOT_FOUND);

    // fromDateTime (start time) on the extensive form: the ended calls that started since.
    let from = w.calls[live[5]].started;
    let expected: Vec<usize> = live[..10].iter().copied().filter(|&j| w.calls[j].started >= from).collect();
    let body = json!({ "filter": { "fromDateTime": from.to_rfc3339() } });
    let (status, body) = gong_post(&sb, "/v2/calls/extensive", body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got: Vec<String> =
        body["calls"].as_array().unwrap().iter().map(|c| c["metaData"]["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(got, ids(&by_start(&sb, expected)));

    // Transcripts: the nine whose ready time has passed, not the one that just ended.
    let body = json!({ "filter": { "fromDateTime": AFTER_ORDINARY } });
    let (status, body) = gong_post(&sb, "/v2/calls/transcript", body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(strings(&body["callTranscripts"], "callId"), ids(&by_start(&sb, live[..9].to_vec())));
    let body = json!({ "filter": { "callIds": [gong::ids::call_id(live[9])] } });
    assert_eq!(gong_post(&sb, "/v2/calls/transcript", body).await.0, StatusCode::NOT_FOUND);

    // Answered scorecards of live calls: those reviewed by now, none later.
    let now = w.now();
    let expected: HashSet<i64> = w
        .answered_scorecards
        .iter()
        .filter(|a| w.is_live(a.call) && a.review_time <= now)
        .map(|a| gong::ids::answered_scorecard_id(a.index))
        .collect();
    assert!(w.answered_scorecards.iter().any(|a| w.is_live(a.call) && a.review_time > now));
    let body = json!({ "filter": { "callFromDate": "2025-06-01" } });
    let (status, body) = gong_post(&sb, "/v2/stats/activity/scorecards", body).await;
    if expected.is_empty() {
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    } else {
        assert_eq!(status, StatusCode::OK, "{body}");
        let got: HashSet<i64> = body["answeredScorecards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["answeredScorecardId"].as_i64().unwrap())
            .collect();
        assert_eq!(got, expected);
    }
}

#[tokio::test]
async fn execvision_pages_live_calls_by_their_last_change_and_hides_what_is_not_there_yet() {
    let sb = start().await;
    let w = sb.world();
    let now = w.now();
    let ev_live: Vec<usize> = w.live_calls().iter().copied().filter(|&j| w.calls[j].recorded_by.execvision).collect();
    assert!(ev_live.len() * 2 > w.live_calls().len(), "most live calls are at ExecVision: {}", ev_live.len());
    let ended: Vec<usize> = ev_live.iter().copied().filter(|&j| w.is_visible(j, now)).collect();
    // Last change: when the transcript became ready, or (not yet) when the call appeared.
    let modified = |j: usize| if w.is_transcript_ready(j, now) { w.transcript_ready_at(j) } else { w.visible_at(j) };

    let (status, body) = ev_get(&sb, "calls", &[("since", "2025-06-01T00:00Z"), ("limit", "1000")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut expected = ended.clone();
    expected.sort_by_key(|&j| (modified(j), execvision::ids::call_id(j)));
    assert_eq!(strings(&body, "id"), expected.iter().map(|&j| execvision::ids::call_id(j)).collect::<Vec<_>>());
    for c in body.as_array().unwrap() {
        let j = execvision::ids::call_index(c["id"].as_str().unwrap()).unwrap();
        let state = if w.is_transcript_ready(j, now) { "COMPLETE" } else { "PROCESSING" };
        assert_eq!(c["state"], json!(state), "{c}");
    }

    // since = the minute a transcript became ready: that call and every later change.
    let pivot = ended[ended.len() / 2];
    let since = w.transcript_ready_at(pivot).format("%Y-%m-%dT%H:%MZ").to_string();
    let (status, body) = ev_get(&sb, "calls", &[("since", since.as_str()), ("limit", "1000")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after: Vec<String> =
        expected.iter().filter(|&&j| modified(j) >= modified(pivot)).map(|&j| execvision::ids::call_id(j)).collect();
    assert_eq!(strings(&body, "id"), after);

    // By id: ended calls exist, later ones do not; transcripts only once ready.
    let later = ev_live.iter().copied().find(|&j| !w.is_visible(j, now)).expect("a live call still to come");
    assert_eq!(ev_get(&sb, &format!("call/{}", execvision::ids::call_id(later)), &[]).await.0, StatusCode::NOT_FOUND);
    for &j in &ended {
        let want = if w.is_transcript_ready(j, now) { StatusCode::OK } else { StatusCode::NOT_FOUND };
        assert_eq!(ev_get(&sb, &format!("transcript/{}", execvision::ids::call_id(j)), &[]).await.0, want);
        assert_eq!(ev_get(&sb, &format!("call/{}", execvision::ids::call_id(j)), &[]).await.0, StatusCode::OK);
    }

    // Scores of live calls: exactly the results reviewed by now.
    let expected: HashSet<String> = sb
        .execvision
        .data()
        .results
        .iter()
        .map(|r| &w.answered_scorecards[r.answered])
        .filter(|a| w.is_live(a.call) && a.review_time <= now)
        .map(|a| execvision::ids::result_id(a.index))
        .collect();
    let (status, body) = ev_get(&sb, "scores", &[("since", "2025-06-01T00:00Z"), ("limit", "1000")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got: HashSet<String> = body
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| execvision::ids::call_index(r["callId"].as_str().unwrap()).is_some_and(|j| w.is_live(j)))
        .map(|r| r["resultId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, expected);
}

/// Every id of a Salesloft list (all pages).
async fn sl_ids(sb: &Sandbox, path: &str, query: &[(&str, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    for page in 1.. {
        let page = page.to_string();
        let mut q = query.to_vec();
        q.extend([("per_page", "100"), ("page", page.as_str()), ("sort_direction", "ASC")]);
        let (status, body) = sl_get(sb, path, &q).await;
        assert_eq!(status, StatusCode::OK, "{query:?}: {body}");
        out.extend(strings(&body["data"], "id"));
        if body["metadata"]["paging"]["next_page"].is_null() {
            break;
        }
    }
    out
}

#[tokio::test]
async fn salesloft_filters_live_conversations_and_transcriptions_by_updated_at() {
    let sb = start().await;
    let w = sb.world();
    let live = w.live_calls();
    let conv = |calls: &[usize]| calls.iter().map(|&j| salesloft::ids::conversation_id(j)).collect::<Vec<_>>();
    let ts = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();

    // Created when they ended: the first ten, in that order.
    let created = sl_ids(&sb, "/v2/conversations", &[("created_at[gte]", AFTER_ORDINARY)]).await;
    assert_eq!(created, conv(&live[..10]));
    let (status, _) =
        sl_get(&sb, &format!("/v2/conversations/{}", salesloft::ids::conversation_id(live[10])), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // updated_at[gte] = the instant live call 5's transcript became ready, to the
    // microsecond: calls 5..=8 (updated then) and 9 (created after it, not updated yet).
    let pivot = ts(w.transcript_ready_at(live[5]));
    let q = [("updated_at[gte]", pivot.as_str()), ("sort_by", "updated_at")];
    assert_eq!(sl_ids(&sb, "/v2/conversations", &q).await, conv(&live[5..10]));
    let q = [("updated_at[gt]", pivot.as_str()), ("sort_by", "updated_at")];
    assert_eq!(sl_ids(&sb, "/v2/conversations", &q).await, conv(&live[6..10]));
    let (_, body) = sl_get(&sb, &format!("/v2/conversations/{}", salesloft::ids::conversation_id(live[9])), &[]).await;
    assert_eq!(body["data"]["updated_at"], body["data"]["created_at"]);
    assert!(body["data"]["transcription"].is_null(), "{body}");

    // Transcriptions: the nine that are ready; the tenth does not exist yet.
    let tids = |calls: &[usize]| calls.iter().map(|&j| salesloft::ids::transcription_id(j)).collect::<Vec<_>>();
    let q = [("updated_at[gte]", AFTER_ORDINARY), ("sort_by", "updated_at")];
    assert_eq!(sl_ids(&sb, "/v2/transcriptions", &q).await, tids(&live[..9]));
    let q = [("updated_at[gte]", pivot.as_str())];
    assert_eq!(sl_ids(&sb, "/v2/transcriptions", &q).await, tids(&live[5..9]));
    let (status, body) =
        sl_get(&sb, &format!("/v2/transcriptions/{}", salesloft::ids::transcription_id(live[8])), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["updated_at"], json!(ts(w.transcript_ready_at(live[8]))));
    let (status, _) =
        sl_get(&sb, &format!("/v2/transcriptions/{}", salesloft::ids::transcription_id(live[9])), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
