//! HTTP tests of the ExecVision simulator, through reqwest on loopback.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Timelike, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use super::ids;
use super::render::ts;
use crate::sandbox::world_ev::{CallState, runs};
use crate::sandbox::{ExecVisionSimSettings, Sandbox, SandboxSettings};

const SINCE_ALL: &str = "2020-01-01T00:00Z";

fn settings(seed: u64) -> SandboxSettings {
    SandboxSettings {
        seed,
        people: 8,
        calls: 260,
        execvision: ExecVisionSimSettings {
            day_rate_per_sec: 0,
            night_rate_per_sec: 0,
            clock: Some(Utc.with_ymd_and_hms(2026, 8, 1, 12, 0, 0).unwrap()),
            ..ExecVisionSimSettings::default()
        },
        ..SandboxSettings::default()
    }
}

async fn start_with(s: SandboxSettings) -> Sandbox {
    Sandbox::start(s).await.expect("sandbox")
}

async fn start(seed: u64) -> Sandbox {
    start_with(settings(seed)).await
}

struct Resp {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
    body: Value,
}

async fn send(req: reqwest::RequestBuilder) -> Resp {
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, headers, text, body }
}

fn authed(sb: &Sandbox, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    req.basic_auth(sb.execvision.user_id(), Some(sb.execvision.password()))
}

async fn get(sb: &Sandbox, path: &str) -> Resp {
    let url = format!("{}/api/ev/2/{path}", sb.execvision.base_url());
    send(authed(sb, reqwest::Client::new().get(url))).await
}

async fn ok(sb: &Sandbox, path: &str) -> Value {
    let r = get(sb, path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    r.body
}

async fn list(sb: &Sandbox, path: &str) -> Vec<Value> {
    ok(sb, path).await.as_array().unwrap_or_else(|| panic!("{path}: not an array")).clone()
}

fn assert_error(r: &Resp, status: StatusCode) {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(r.body["error"].as_str().is_some_and(|s| !s.is_empty()), "{}", r.text);
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn time(v: &Value, field: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v[field].as_str().expect(field)).expect("timestamp").with_timezone(&Utc)
}

/// Live (not deleted) ExecVision calls as (modified, id), in paging order.
fn live_calls(sb: &Sandbox) -> Vec<(DateTime<Utc>, String)> {
    let mut v: Vec<_> = sb
        .execvision
        .data()
        .calls
        .iter()
        .filter(|c| c.deleted_at.is_none())
        .map(|c| (c.modified, ids::call_id(c.call)))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn auth_is_basic_with_json_errors() {
    let sb = start(7).await;
    let url = format!("{}/api/ev/2/check", sb.execvision.base_url());
    let http = reqwest::Client::new();
    let r = send(http.get(&url)).await;
    assert_error(&r, StatusCode::UNAUTHORIZED);
    assert!(r.headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_error(
        &send(http.get(&url).basic_auth(sb.execvision.user_id(), Some("nope"))).await,
        StatusCode::UNAUTHORIZED,
    );
    assert_error(&send(http.get(&url).bearer_auth("token")).await, StatusCode::UNAUTHORIZED);
    let r = send(authed(&sb, http.get(&url))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.is_empty());
    assert_eq!(sb.execvision.user_id(), "sandbox-ev-user");
    assert_eq!(sb.execvision.password(), "sandbox-ev-password");
    assert!(!sb.execvision.base_url().ends_with('/'));
    assert_eq!(sb.execvision.requests("GET", "/api/ev/2/check"), 4);
    assert_eq!(sb.execvision.total_requests(), 4);
    assert_error(&get(&sb, "nope").await, StatusCode::NOT_FOUND);
    assert_eq!(sb.execvision.requests("GET", "<unmatched>"), 1);
    let r = send(authed(&sb, http.post(&url))).await;
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED);
    sb.shutdown().await;
}

#[tokio::test]
async fn org_endpoints_have_the_seed_shape() {
    let sb = start(7).await;
    let world = sb.world();
    let users = list(&sb, "users").await;
    let expected: Vec<usize> =
        world.people.iter().filter(|p| p.active && p.accounts.execvision).map(|p| p.index).collect();
    assert_eq!(users.len(), expected.len());
    let teams = list(&sb, "teams").await;
    let depts = list(&sb, "departments").await;
    let team_ids: HashSet<String> = teams.iter().map(id).collect();
    let dept_ids: HashSet<String> = depts.iter().map(id).collect();
    for (u, &p) in users.iter().zip(&expected) {
        assert_eq!(u["userId"], ids::user_id(p));
        assert_eq!(u["email"], crate::sandbox::world_ev::ev_email(world, p));
        assert_eq!(u["firstName"], world.people[p].first_name);
        assert_eq!(u["lastName"], world.people[p].last_name);
        assert!(team_ids.contains(u["teamId"].as_str().unwrap()));
        assert!(dept_ids.contains(u["departmentId"].as_str().unwrap()));
        assert!(u["systemIds"].as_array().unwrap().iter().all(Value::is_string));
    }
    for t in &teams {
        assert!(t["name"].is_string());
        assert!(ids::person_index(t["managerId"].as_str().unwrap()).is_some());
        assert!(dept_ids.contains(t["departmentId"].as_str().unwrap()));
    }
    assert!(depts.iter().all(|d| d["name"].is_string() && d.as_object().unwrap().len() == 2));
    let topics = list(&sb, "topics").await;
    assert!(!topics.is_empty());
    for t in &topics {
        assert!(t["id"].is_u64() && t["name"].is_string());
        assert!(t["words"].as_array().unwrap().iter().all(Value::is_string));
    }
    assert_eq!(topics.len(), sb.execvision.data().topics.iter().filter(|t| t.active).count());
    sb.shutdown().await;
}

#[tokio::test]
async fn calls_have_the_seed_shape_and_options() {
    let sb = start(7).await;
    let world = sb.world();
    let plain = list(&sb, &format!("calls?since={SINCE_ALL}&limit=20")).await;
    assert_eq!(plain.len(), 20);
    for c in &plain {
        let j = ids::call_index(&id(c)).expect("call id");
        let call = &world.calls[j];
        assert!(call.recorded_by.execvision);
        assert_eq!(c["callerId"], ids::user_id(call.host));
        assert_eq!(c["callerEmail"], crate::sandbox::world_ev::ev_email(world, call.host));
        assert_eq!(time(c, "callTime"), call.started);
        assert_eq!(c["duration"], call.duration_secs);
        assert!(matches!(c["direction"].as_str().unwrap(), "INBOUND" | "OUTBOUND" | "SCREENSHARE"));
        assert!(c["transcript"].is_null());
        assert!(c.get("crmMatches").is_none());
        assert!(c["originalPath"].is_string());
        assert_eq!(c["metadata"]["id"], id(c));
        assert_eq!(c["metadata"]["deleted"], false);
        assert!(c["metadata"].get("call_card_templates").is_none());
        assert!(c["modified"].is_string());
        let s = &c["stats"];
        assert!(s["internalTalkTime"].is_u64() && s["externalTalkTime"].is_u64());
        assert!(s["talkRatio"].is_f64() && s["interchangesPerMinute"].is_f64());
        assert!(s["longestSegmentDurations"].is_object() && s["talkSpeeds"].is_array());
        if c["state"] == "COMPLETE" {
            let sum = &c["callSummary"];
            assert_eq!(sum["summary"], call.brief);
            assert!(sum["nextSteps"].as_array().unwrap().iter().all(Value::is_string));
            for qa in sum["questionsAndAnswers"].as_array().unwrap() {
                assert!(qa["question"].as_str().unwrap().starts_with("Q: "));
                assert!(qa["answer"].as_str().unwrap().starts_with("A: "));
            }
            let speed = &s["talkSpeeds"][0];
            assert!(speed["start"].is_f64() && speed["end"].is_f64());
            assert!(speed["wordsPerMinute"].as_object().unwrap().values().all(Value::is_f64));
            assert!(s["longestSegmentDurations"]["0"].is_f64());
        }
    }
    let full = list(
        &sb,
        &format!(
            "calls?since={SINCE_ALL}&limit=20&include_transcripts=true&include_crm_matches=true&render_templates=true"
        ),
    )
    .await;
    let ids_plain: Vec<String> = plain.iter().map(id).collect();
    assert_eq!(full.iter().map(id).collect::<Vec<_>>(), ids_plain);
    let c =
        full.iter().find(|c| c["state"] == "COMPLETE" && c["metadata"]["company"].is_string()).expect("external call");
    let words = c["transcript"].as_array().unwrap();
    assert!(words.len() > 50);
    for w in words {
        let (s, e): (f64, f64) =
            (w["start"].as_str().unwrap().parse().unwrap(), w["end"].as_str().unwrap().parse().unwrap());
        assert!(s <= e);
        assert!(w["word"].is_string() && w["v"].is_u64());
        assert!(w.get("p").is_none_or(Value::is_string));
    }
    assert!(words.iter().any(|w| w.get("p").is_some()));
    let m = &c["crmMatches"][0];
    assert_eq!(m["crmName"], "Salesforce");
    assert!(m["activityCrmId"].is_string() && m["account"]["crmId"].is_string() && m["account"]["name"].is_string());
    assert!(m["contacts"].as_array().unwrap().iter().all(|k| k["crmId"].is_string() && k["name"].is_string()));
    assert!(m["engagement"].is_null() || m["engagement"]["crmId"].is_string());
    assert_eq!(c["metadata"]["call_card_templates"][0]["name"], "Call card");
    // call/{id} returns everything.
    let one = ok(&sb, &format!("call/{}", id(c))).await;
    assert_eq!(&one, c);
    assert_error(&get(&sb, &format!("call/{}", ids::call_id(99_999))).await, StatusCode::NOT_FOUND);
    assert_error(&get(&sb, "call/not-a-uuid").await, StatusCode::NOT_FOUND);
    // A call ExecVision could not convert has no transcript or summary.
    if let Some(rej) =
        sb.execvision.data().calls.iter().find(|c| c.state == CallState::ConverterRejected && c.deleted_at.is_none())
    {
        let v = ok(&sb, &format!("call/{}", ids::call_id(rej.call))).await;
        assert_eq!(v["state"], "CONVERTER_REJECTED");
        assert!(v["transcript"].is_null() && v["callSummary"].is_null());
        assert_error(&get(&sb, &format!("transcript/{}", ids::call_id(rej.call))).await, StatusCode::NOT_FOUND);
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn simplified_transcript_matches_the_world() {
    let sb = start(7).await;
    let world = sb.world();
    let ev =
        sb.execvision.data().calls.iter().find(|c| c.state == CallState::Complete && c.deleted_at.is_none()).unwrap();
    let v = ok(&sb, &format!("transcript/{}", ids::call_id(ev.call))).await;
    let call = &world.calls[ev.call];
    let speakers = v["speakers"].as_array().unwrap();
    assert_eq!(speakers.len(), call.participants.iter().filter(|p| p.attended).count());
    assert_eq!(speakers[0]["email"], crate::sandbox::world_ev::ev_email(world, call.host));
    assert_eq!(speakers[0]["speakerType"], "INTERNAL");
    assert_eq!(speakers[0]["speakerNumber"], 0);
    for s in speakers {
        assert!(matches!(s["speakerType"].as_str().unwrap(), "INTERNAL" | "EXTERNAL" | "UNKNOWN"));
    }
    let t = world.transcript(ev.call);
    let lines = v["transcript"].as_array().unwrap();
    assert_eq!(lines.len(), t.monologues.len());
    assert_eq!(
        lines[0]["text"].as_str().unwrap(),
        t.monologues[0].sentences.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ")
    );
    assert!(lines.iter().all(|l| l["startTime"].is_f64() && l["endTime"].is_f64() && l["speakerNumber"].is_u64()));
    sb.shutdown().await;
}

#[tokio::test]
async fn since_ignores_seconds_and_is_required() {
    let sb = start(7).await;
    let calls = live_calls(&sb);
    // A call modified at hh:mm:ss with ss > 0: asking from a later second of the same
    // minute still returns it.
    let (m, cid) = calls.iter().find(|(m, _)| m.second() > 0 && m.second() < 59).unwrap().clone();
    let later = m.with_second(59).unwrap().with_nanosecond(0).unwrap();
    let page = list(&sb, &format!("calls?since={}&limit=1000", ts(later))).await;
    assert!(page.iter().any(|c| id(c) == cid));
    let minute = m.with_second(0).unwrap().with_nanosecond(0).unwrap();
    let a = ok(&sb, &format!("calls?since={}&limit=50", later.format("%Y-%m-%dT%H:%M:%SZ"))).await;
    let b = ok(&sb, &format!("calls?since={}&limit=50", minute.format("%Y-%m-%dT%H:%MZ"))).await;
    let c = ok(
        &sb,
        &format!(
            "calls?since={}&limit=50",
            later.with_timezone(&chrono_tz::America::New_York).to_rfc3339().replace('+', "%2B")
        ),
    )
    .await;
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(time(&a[0], "modified"), calls.iter().find(|(t, _)| *t >= minute).unwrap().0);
    for path in [
        "calls",
        "calls/deleted",
        "call_topics",
        "listens",
        "scores",
        "feedback",
        "shares",
        "meetings",
        "plans",
        "kpis",
    ] {
        assert_error(&get(&sb, path).await, StatusCode::BAD_REQUEST);
        assert_error(&get(&sb, &format!("{path}?since=yesterday")).await, StatusCode::BAD_REQUEST);
        assert_error(&get(&sb, &format!("{path}?since=2026-01-01")).await, StatusCode::BAD_REQUEST);
    }
    // An unencoded '+' arrives as a space.
    assert_error(&get(&sb, "calls?since=2026-01-01T00:00:00+00:00").await, StatusCode::BAD_REQUEST);
    sb.shutdown().await;
}

#[tokio::test]
async fn limit_rules() {
    let sb = start(7).await;
    assert!(live_calls(&sb).len() > 100);
    assert_eq!(list(&sb, &format!("calls?since={SINCE_ALL}")).await.len(), 100);
    assert_eq!(list(&sb, &format!("calls?since={SINCE_ALL}&limit=0")).await.len(), 0);
    assert_eq!(list(&sb, &format!("calls?since={SINCE_ALL}&limit=1000")).await.len(), live_calls(&sb).len());
    for bad in [
        "calls?limit=1001",
        "calls?limit=-1",
        "calls?limit=ten",
        "calls?limit=101&render_templates=true",
        "call_topics?limit=101",
        "listens?limit=1001",
        "calls?include_transcripts=yes",
    ] {
        let sep = if bad.contains('?') { '&' } else { '?' };
        assert_error(&get(&sb, &format!("{bad}{sep}since={SINCE_ALL}")).await, StatusCode::BAD_REQUEST);
    }
    assert_eq!(list(&sb, &format!("calls?since={SINCE_ALL}&limit=100&render_templates=true")).await.len(), 100);
    assert_eq!(list(&sb, &format!("call_topics?since={SINCE_ALL}&limit=100")).await.len(), 100);
    // Scores: limit counts results, not answers.
    let one = list(&sb, &format!("scores?since={SINCE_ALL}&limit=1")).await;
    assert!(one.len() > 1);
    assert!(one.iter().all(|r| r["resultId"] == one[0]["resultId"]));
    let five = list(&sb, &format!("scores?since={SINCE_ALL}&limit=5")).await;
    assert_eq!(five.iter().map(|r| r["resultId"].as_str().unwrap()).collect::<HashSet<_>>().len(), 5);
    sb.shutdown().await;
}

/// Walks `calls` (or another last_id endpoint) with since + last_id; returns pages.
async fn walk(sb: &Sandbox, route: &str, key: &str, id_key: &str, limit: usize) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut query = format!("since={SINCE_ALL}");
    for _ in 0..500 {
        let page = list(sb, &format!("{route}?{query}&limit={limit}")).await;
        let Some(last) = page.last().cloned() else { break };
        let done = page.len() < limit;
        pages.push(page);
        if done {
            break;
        }
        query = format!("since={}&last_id={}", last[key].as_str().unwrap(), last[id_key].as_str().unwrap());
    }
    pages
}

#[tokio::test]
async fn paging_with_last_id_crosses_runs_and_repeats_the_last_record() {
    let sb = start(7).await;
    let expected = live_calls(&sb);
    let run = runs(expected.iter().map(|(t, _)| *t));
    assert!(run[0].1 > 5, "need a run longer than a page: {:?}", &run[..2]);
    let pages = walk(&sb, "calls", "modified", "id", 5).await;
    for w in pages.windows(2) {
        // The documented bug, made deterministic: the next page starts with last_id.
        assert_eq!(id(&w[1][0]), id(w[0].last().unwrap()));
    }
    let mut seen = Vec::new();
    for p in &pages {
        for c in p {
            if seen.last() != Some(&id(c)) {
                seen.push(id(c));
            }
        }
    }
    assert_eq!(seen, expected.iter().map(|(_, i)| i.clone()).collect::<Vec<_>>());
    // Without last_id a client is stuck inside a run longer than the page.
    let t = ts(run[0].0);
    let a = list(&sb, &format!("calls?since={t}&limit=5")).await;
    assert!(a.iter().all(|c| time(c, "modified") == run[0].0));
    // With the repeat switched off, pages do not overlap.
    let mut s = settings(7);
    s.execvision.repeat_last_id = false;
    let sb2 = start_with(s).await;
    let pages = walk(&sb2, "calls", "modified", "id", 7).await;
    let flat: Vec<String> = pages.iter().flatten().map(id).collect();
    assert_eq!(flat, expected.iter().map(|(_, i)| i.clone()).collect::<Vec<_>>());
    // call_topics pages the same way (complete calls only).
    let topics = walk(&sb2, "call_topics", "modified", "callId", 9).await;
    let complete: HashSet<String> = sb2
        .execvision
        .data()
        .calls
        .iter()
        .filter(|c| c.deleted_at.is_none() && c.state == CallState::Complete)
        .map(|c| ids::call_id(c.call))
        .collect();
    let got: Vec<String> = topics.iter().flatten().map(|v| v["callId"].as_str().unwrap().to_string()).collect();
    assert_eq!(got.len(), complete.len());
    assert_eq!(got.iter().cloned().collect::<HashSet<_>>(), complete);
    sb.shutdown().await;
    sb2.shutdown().await;
}

#[tokio::test]
async fn deleted_calls_are_listed_apart_and_delete_needs_permission() {
    let sb = start(7).await;
    let data = sb.execvision.data();
    let deleted: Vec<&crate::sandbox::world_ev::EvCall> =
        data.calls.iter().filter(|c| c.deleted_at.is_some()).collect();
    assert!(!deleted.is_empty());
    let listed = list(&sb, &format!("calls/deleted?since={SINCE_ALL}&limit=1000")).await;
    assert_eq!(listed.len(), deleted.len());
    for d in &listed {
        assert!(d["deletedAt"].is_string() && d["callerId"].is_string() && d["callTime"].is_string());
        assert_error(&get(&sb, &format!("call/{}", id(d))).await, StatusCode::NOT_FOUND);
    }
    assert!(listed.windows(2).all(|w| time(&w[0], "deletedAt") <= time(&w[1], "deletedAt")));
    // Paging by deletedAt + last_id visits every deleted call (the last_id repeats).
    let pages = walk(&sb, "calls/deleted", "deletedAt", "id", 3).await;
    let mut walked: Vec<String> = pages.iter().flatten().map(id).collect();
    walked.dedup();
    assert_eq!(walked, listed.iter().map(id).collect::<Vec<_>>());
    let live: HashSet<String> =
        list(&sb, &format!("calls?since={SINCE_ALL}&limit=1000")).await.iter().map(id).collect();
    assert!(listed.iter().all(|d| !live.contains(&id(d))));
    // DELETE is refused unless enabled.
    let target = live.iter().next().unwrap().clone();
    let url = format!("{}/api/ev/2/call/{target}", sb.execvision.base_url());
    assert_error(&send(authed(&sb, reqwest::Client::new().delete(&url))).await, StatusCode::FORBIDDEN);
    assert_eq!(get(&sb, &format!("call/{target}")).await.status, StatusCode::OK);
    sb.shutdown().await;

    let mut s = settings(7);
    s.execvision.delete_enabled = true;
    let sb = start_with(s).await;
    let url = format!("{}/api/ev/2/call/{target}", sb.execvision.base_url());
    let r = send(authed(&sb, reqwest::Client::new().delete(&url))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(sb.execvision.requests("DELETE", "/api/ev/2/call/{id}"), 1);
    assert_error(&get(&sb, &format!("call/{target}")).await, StatusCode::NOT_FOUND);
    assert_error(&send(authed(&sb, reqwest::Client::new().delete(&url))).await, StatusCode::NOT_FOUND);
    let now = sb.execvision.now();
    let recent = list(&sb, &format!("calls/deleted?since={}", ts(now - chrono::Duration::minutes(5)))).await;
    assert_eq!(recent.len(), 1);
    assert_eq!(id(&recent[0]), target);
    assert!(!list(&sb, &format!("calls?since={SINCE_ALL}&limit=1000")).await.iter().any(|c| id(c) == target));
    assert_eq!(sb.execvision.deleted_via_api().len(), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn search_takes_one_lowercase_field() {
    let sb = start(7).await;
    let world = sb.world();
    let cid = live_calls(&sb)[3].1.clone();
    assert_eq!(list(&sb, &format!("calls/search?metadata.id={cid}")).await, vec![Value::String(cid.clone())]);
    let j = ids::call_index(&cid).unwrap();
    let company = world.calls[j].company.map(|c| world.companies[c].name.clone()).unwrap_or_else(|| "Globex".into());
    let expected: HashSet<String> = sb
        .execvision
        .data()
        .calls
        .iter()
        .filter(|c| {
            c.deleted_at.is_none() && world.calls[c.call].company.is_some_and(|k| world.companies[k].name == company)
        })
        .map(|c| ids::call_id(c.call))
        .collect();
    let q = company.to_lowercase().replace(' ', "+");
    let hits: HashSet<String> = list(&sb, &format!("calls/search?metadata.company={q}"))
        .await
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(hits, expected);
    assert!(
        list(&sb, &format!("calls/search?metadata.company={}", company.to_uppercase().replace(' ', "+")))
            .await
            .is_empty()
    );
    assert!(list(&sb, "calls/search?metadata.nonexistent=x").await.is_empty());
    assert_error(&get(&sb, "calls/search").await, StatusCode::BAD_REQUEST);
    assert_error(&get(&sb, &format!("calls/search?metadata.id={cid}&limit=5")).await, StatusCode::BAD_REQUEST);
    sb.shutdown().await;
}

#[tokio::test]
async fn search_returns_at_most_1000_ids() {
    let mut s = settings(7);
    s.people = 40;
    s.calls = 2000;
    let sb = start_with(s).await;
    assert!(live_calls(&sb).len() > 1000);
    assert_eq!(list(&sb, "calls/search?metadata.deleted=false").await.len(), 1000);
    sb.shutdown().await;
}

fn topic_starts(entry: &Value) -> Vec<(String, Vec<f64>)> {
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    for block in entry["topicMatches"].as_array().unwrap() {
        for t in block["topicsWithMatches"].as_array().unwrap() {
            let name = t["topicName"].as_str().unwrap().to_string();
            let starts: Vec<f64> =
                t["matches"].as_array().unwrap().iter().map(|m| m["matchStartTime"].as_f64().unwrap()).collect();
            match out.iter_mut().find(|(n, _)| *n == name) {
                Some((_, v)) => v.extend(starts),
                None => out.push((name, starts)),
            }
        }
    }
    out
}

#[tokio::test]
async fn call_topics_shape_and_sliding_window() {
    let sb = start(7).await;
    let all = list(&sb, &format!("call_topics?since={SINCE_ALL}&limit=100")).await;
    let e = all.iter().find(|e| !e["topicMatches"].as_array().unwrap().is_empty()).expect("some matches");
    assert!(e["callId"].is_string() && e["modified"].is_string());
    for k in ["internalSpeakerQuestionCount", "externalSpeakerQuestionCount", "unknownSpeakerQuestionCount"] {
        assert!(e["questionCounts"][k].is_u64());
    }
    let block = &e["topicMatches"][0];
    assert!(block["startTime"].is_f64() && block["endTime"].is_f64());
    assert!(matches!(block["speakerType"].as_str().unwrap(), "INTERNAL" | "EXTERNAL" | "UNKNOWN"));
    let words: Vec<&str> = block["text"].as_str().unwrap().split_whitespace().collect();
    let t = &block["topicsWithMatches"][0];
    assert!(t["topicId"].is_string() && t["topicName"].is_string());
    for m in t["matches"].as_array().unwrap() {
        let (s, en) = (m["matchStartIndex"].as_u64().unwrap() as usize, m["matchEndIndex"].as_u64().unwrap() as usize);
        assert!(s <= en && en < words.len());
        let text = words[s..=en].join(" ").to_lowercase();
        assert!(text.starts_with(&m["matchingText"].as_str().unwrap().to_lowercase()));
        assert!(m["searchText"].as_array().unwrap().iter().all(Value::is_string));
        assert!(m["matchStartTime"].as_f64().unwrap() <= m["matchEndTime"].as_f64().unwrap());
    }
    // minimum_matches=1 keeps everything; an impossible minimum removes every match.
    let same = list(&sb, &format!("call_topics?since={SINCE_ALL}&limit=100&window_length=0&minimum_matches=1")).await;
    assert_eq!(same, all);
    let none =
        list(&sb, &format!("call_topics?since={SINCE_ALL}&limit=100&window_length=100000&minimum_matches=1000")).await;
    assert_eq!(none.len(), all.len());
    assert!(none.iter().all(|e| e["topicMatches"].as_array().unwrap().is_empty()));
    // Two matches within 60 s.
    let filtered =
        list(&sb, &format!("call_topics?since={SINCE_ALL}&limit=100&window_length=60&minimum_matches=2")).await;
    let mut removed = 0;
    for (f, a) in filtered.iter().zip(&all) {
        assert_eq!(f["callId"], a["callId"]);
        let kept = topic_starts(f);
        for (_, mut starts) in kept.clone() {
            starts.sort_by(f64::total_cmp);
            assert!(starts.windows(2).any(|w| w[1] - w[0] <= 60.0));
        }
        for (name, mut starts) in topic_starts(a) {
            starts.sort_by(f64::total_cmp);
            let qualifies = starts.windows(2).any(|w| w[1] - w[0] <= 60.0);
            assert_eq!(kept.iter().any(|(n, _)| *n == name), qualifies, "{name}");
            removed += usize::from(!qualifies);
        }
    }
    assert!(removed > 0);
    assert_error(&get(&sb, &format!("call_topics?since={SINCE_ALL}&window_length=60")).await, StatusCode::BAD_REQUEST);
    assert_error(
        &get(&sb, &format!("call_topics?since={SINCE_ALL}&window_length=60&minimum_matches=x")).await,
        StatusCode::BAD_REQUEST,
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn activity_endpoints_have_the_seed_shape() {
    let sb = start(7).await;
    let data = sb.execvision.data();
    let listens = list(&sb, &format!("listens?since={SINCE_ALL}&limit=1000")).await;
    assert_eq!(listens.len(), data.listens.len());
    let l = &listens[0];
    assert_eq!(l["date"].as_str().unwrap().len(), 10);
    assert!(
        l["modified"].is_string() && l["callId"].is_string() && l["listener"].is_string() && l["caller"].is_string()
    );
    assert!(l["timeListened"].is_f64());
    let scores = list(&sb, &format!("scores?since={SINCE_ALL}&limit=3")).await;
    let s = &scores[0];
    for k in [
        "reviewer",
        "reviewerTeam",
        "caller",
        "callerTeam",
        "callId",
        "resultId",
        "scoreTime",
        "modified",
        "scorecardId",
        "scorecardName",
        "questionId",
        "question",
        "skill1",
        "scheme",
    ] {
        assert!(s[k].is_string(), "{k}: {s}");
    }
    assert!(s["answer"].is_f64() && s["rawAnswer"].is_u64());
    for k in ["skill2", "skill3", "reason", "comment"] {
        assert!(s[k].is_string() || s[k].is_null(), "{k}");
    }
    assert!(matches!(s["scheme"].as_str().unwrap(), "OneToFive" | "OneToThree" | "OneTwo" | "YesNo" | "PassFail"));
    let card = list(&sb, &format!("scorecard/{}", s["scorecardId"].as_str().unwrap())).await;
    assert!(card.iter().any(|q| q["questionId"] == s["questionId"] && q["questionText"] == s["question"]));
    assert!(card.iter().all(|q| q["scorecardScheme"] == s["scheme"] && q["scorecardName"] == s["scorecardName"]));
    assert_error(&get(&sb, &format!("scorecard/{}", ids::scorecard_id(77))).await, StatusCode::NOT_FOUND);
    let feedback = list(&sb, &format!("feedback?since={SINCE_ALL}&limit=1000")).await;
    assert_eq!(feedback.len(), data.feedback.len());
    let hl = feedback.iter().find(|f| f["isHighlight"] == true).expect("highlight");
    assert!(hl["endTime"].is_f64() && hl["isComment"] == false && hl["startTime"].is_f64());
    if let Some(cm) = feedback.iter().find(|f| f["isComment"] == true) {
        assert!(cm["endTime"].is_null() && cm["text"].as_str().unwrap().starts_with("<p>"));
    }
    let shares = list(&sb, &format!("shares?since={SINCE_ALL}&limit=1000")).await;
    assert_eq!(shares.len(), data.shares.len());
    for s in &shares {
        assert!(s["sharedAt"].is_string() && s["callId"].is_string() && s["sharedBy"].is_string());
        assert!(s["recipientUserIds"].is_array() && s["recipientEmails"].is_array());
    }
    let meetings = list(&sb, &format!("meetings?since={SINCE_ALL}&limit=1000")).await;
    assert_eq!(meetings.len(), data.meetings.len());
    let m = meetings.iter().find(|m| !m["callReviews"].as_array().unwrap().is_empty()).expect("reviews");
    assert!(
        m["meetingId"].is_u64() && m["planId"].is_u64() && m["coachId"].is_string() && m["recipientId"].is_string()
    );
    assert!(m["startTime"].as_str().unwrap().ends_with(":00") && m["dateTime"].is_string() && m["endTime"].is_string());
    assert!(m["scores"].as_object().unwrap().values().all(Value::is_u64));
    let q = &m["callReviews"][0]["questions"][0];
    assert!(q["possibleScore"] == 5 && q["actualScore"].is_u64() && q["reviewWeight"].is_null());
    assert!(m["questions"].as_array().unwrap().iter().any(|q| q["possibleScore"].is_null() && q["reviewWeight"] == 0));
    assert!(m["comments"].is_string() || m["comments"].is_null());
    let plans = list(&sb, &format!("plans?since={SINCE_ALL}&limit=1000")).await;
    assert_eq!(plans.len(), data.plans.len());
    let p = plans.iter().find(|p| p["planId"] == m["planId"]).expect("plan of meeting");
    for k in ["name", "objective", "startDate", "coachId", "recipientId", "modified"] {
        assert!(p[k].is_string(), "{k}");
    }
    for k in ["plannedMeetings", "completedMeetings", "estimatedMissedMeetings"] {
        assert!(p[k].is_u64(), "{k}");
    }
    assert!(p["skill"].as_array().unwrap().iter().all(|s| s["skillId"].is_u64() && s["skillName"].is_string()));
    let kpis = list(&sb, &format!("kpis?since={SINCE_ALL}&limit=5")).await;
    let k = &kpis[0];
    assert!(k["observedAt"].is_string() && k["observerId"].is_string() && k["observedId"].is_string());
    assert!(k["kpiId"].is_u64() && k["value"].is_number() && k["modified"].is_string());
    let def = ok(&sb, &format!("kpi/{}", k["kpiId"])).await;
    assert_eq!(def["kpiId"], k["kpiId"]);
    assert!(def["description"].is_string() && def["target"].is_number());
    assert!(matches!(def["frequency"].as_str().unwrap(), "DAILY" | "WEEKLY" | "MONTHLY" | "QUARTERLY"));
    assert_error(&get(&sb, "kpi/999").await, StatusCode::NOT_FOUND);
    assert_error(&get(&sb, "kpi/abc").await, StatusCode::NOT_FOUND);
    // Since-only paging: the next since is the last record's time; records at that
    // time come again (clients dedupe).
    let first = list(&sb, &format!("listens?since={SINCE_ALL}&limit=3")).await;
    let next = list(&sb, &format!("listens?since={}&limit=3", first[2]["modified"].as_str().unwrap())).await;
    assert!(next.iter().any(|l| l == &first[2]));
    sb.shutdown().await;
}

#[tokio::test]
async fn listens_are_computed_nightly() {
    let mut s = settings(7);
    s.execvision.clock = None;
    let sb = start_with(s).await;
    let data = sb.execvision.data();
    let cut = data.listens[data.listens.len() / 2].modified;
    sb.execvision.set_clock(cut - chrono::Duration::hours(1));
    let visible = list(&sb, &format!("listens?since={SINCE_ALL}&limit=1000")).await;
    assert_eq!(visible.len(), data.listens.iter().filter(|l| l.modified < cut).count());
    assert!(visible.iter().all(|l| time(l, "modified") < cut));
    sb.shutdown().await;
}

#[tokio::test]
async fn same_seed_same_answers_different_seed_different() {
    let a = start(7).await;
    let b = start(7).await;
    let c = start(8).await;
    let path = format!("calls?since={SINCE_ALL}&limit=30&include_transcripts=true&include_crm_matches=true");
    assert_eq!(ok(&a, &path).await, ok(&b, &path).await);
    assert_ne!(ok(&a, &path).await, ok(&c, &path).await);
    assert_eq!(a.execvision.data(), b.execvision.data());
    for p in ["users", "teams", "meetings?since=2020-01-01T00:00Z", "kpis?since=2020-01-01T00:00Z"] {
        assert_eq!(ok(&a, p).await, ok(&b, p).await);
    }
    for s in [a, b, c] {
        s.shutdown().await;
    }
}

// ---------------------------------------------------------------- rate limit

fn rated(clock: DateTime<Utc>, timeout: Duration) -> SandboxSettings {
    let mut s = settings(7);
    s.execvision.day_rate_per_sec = 5;
    s.execvision.night_rate_per_sec = 25;
    s.execvision.queue_timeout = timeout;
    s.execvision.clock = Some(clock);
    s
}

/// Fires `n` concurrent `check`s; returns their statuses and the (tokio) time taken.
async fn burst(sb: &Sandbox, n: usize) -> (Vec<StatusCode>, Duration) {
    let t0 = tokio::time::Instant::now();
    let http = reqwest::Client::new();
    let url = format!("{}/api/ev/2/check", sb.execvision.base_url());
    let futs = (0..n).map(|_| {
        let req = authed(sb, http.get(&url));
        async move { req.send().await.expect("request").status() }
    });
    let statuses = futures::future::join_all(futs).await;
    (statuses, t0.elapsed())
}

#[tokio::test]
async fn daytime_queues_at_5_per_second_never_429() {
    // Wednesday 2026-01-14 15:00 UTC = 10:00 EST.
    let sb = start_with(rated(Utc.with_ymd_and_hms(2026, 1, 14, 15, 0, 0).unwrap(), Duration::from_secs(60))).await;
    let (statuses, took) = burst(&sb, 15).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    // 5 at once, then one every 200 ms: the 15th is served 2 s after the first.
    assert!(took >= Duration::from_millis(1950), "{took:?}");
    // 10 when all 15 arrive within 200 ms (a loaded machine may spread them a little).
    assert!((8..=10).contains(&sb.execvision.queued_requests()), "{}", sb.execvision.queued_requests());
    assert!(sb.execvision.max_queue_depth() >= 5, "{}", sb.execvision.max_queue_depth());
    assert_eq!(sb.execvision.queue_depth(), 0);
    assert_eq!(sb.execvision.sim().rejected_429(), 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn night_allows_25_per_second_and_dst_moves_the_boundary() {
    // 2026-03-07 10:30 UTC = 05:30 EST (night); 2026-03-09 10:30 UTC = 06:30 EDT (day).
    let night = start_with(rated(Utc.with_ymd_and_hms(2026, 3, 7, 10, 30, 0).unwrap(), Duration::from_secs(60))).await;
    let (statuses, _) = burst(&night, 25).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));
    assert_eq!(night.execvision.queued_requests(), 0);
    assert_eq!(night.execvision.max_queue_depth(), 0);
    let day = start_with(rated(Utc.with_ymd_and_hms(2026, 3, 9, 10, 30, 0).unwrap(), Duration::from_secs(60))).await;
    let (statuses, took) = burst(&day, 10).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));
    assert!(took >= Duration::from_millis(950), "{took:?}");
    assert!((3..=5).contains(&day.execvision.queued_requests()), "{}", day.execvision.queued_requests());
    night.shutdown().await;
    day.shutdown().await;
}

#[tokio::test]
async fn a_request_that_would_queue_too_long_times_out_with_504() {
    let timeout = Duration::from_millis(1900);
    let sb = start_with(rated(Utc.with_ymd_and_hms(2026, 1, 14, 15, 0, 0).unwrap(), timeout)).await;
    let (statuses, _) = burst(&sb, 25).await;
    // Request k (1-based) would wait (k - 5) * 200 ms: from k = 15 on that is >= 1.9 s
    // (11 time-outs when all arrive within 100 ms; never fewer than 14 served).
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let timed_out = statuses.iter().filter(|s| **s == StatusCode::GATEWAY_TIMEOUT).count();
    assert_eq!(ok + timed_out, 25, "{statuses:?}");
    assert!(ok >= 14 && (8..=11).contains(&timed_out), "{statuses:?}");
    assert_eq!(sb.execvision.queue_timeouts(), timed_out as u64);
    assert!(!statuses.contains(&StatusCode::TOO_MANY_REQUESTS));
    sb.execvision.reset_queue_stats();
    assert_eq!(sb.execvision.queue_timeouts(), 0);
    sb.shutdown().await;
}
