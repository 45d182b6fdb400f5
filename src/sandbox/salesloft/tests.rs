//! HTTP tests of the Salesloft simulator, through reqwest on loopback.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use super::ids;
use crate::sandbox::world_sl::SlConversation;
use crate::sandbox::{SalesloftSimSettings, Sandbox, SandboxSettings};

fn settings() -> SandboxSettings {
    SandboxSettings {
        people: 12,
        calls: 400,
        salesloft: SalesloftSimSettings { budget: 0, ..SalesloftSimSettings::default() },
        ..SandboxSettings::default()
    }
}

struct Resp {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn get_with(sb: &Sandbox, path: &str, query: &[(&str, &str)], token: Option<&str>) -> Resp {
    let mut req = reqwest::Client::new().get(format!("{}{path}", sb.salesloft.base_url())).query(query);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(Value::Null);
    Resp { status, headers, body }
}

async fn get(sb: &Sandbox, path: &str, query: &[(&str, &str)]) -> Resp {
    let token = sb.salesloft.token().to_owned();
    get_with(sb, path, query, Some(&token)).await
}

/// Every conversation id of a filtered list (per_page 100, all pages).
async fn ids_of(sb: &Sandbox, query: &[(&str, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let page_s = page.to_string();
        let mut q: Vec<(&str, &str)> = query.to_vec();
        q.extend([("per_page", "100"), ("page", page_s.as_str())]);
        let r = get(sb, "/v2/conversations", &q).await;
        assert_eq!(r.status, StatusCode::OK, "{query:?}: {}", r.body);
        out.extend(r.body["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        if r.body["metadata"]["paging"]["next_page"].is_null() {
            return out;
        }
        page += 1;
    }
}

fn expected(sb: &Sandbox, keep: impl Fn(&SlConversation) -> bool) -> HashSet<String> {
    sb.salesloft.data().conversations.iter().filter(|c| keep(c)).map(|c| ids::conversation_id(c.call)).collect()
}

fn set(v: Vec<String>) -> HashSet<String> {
    let n = v.len();
    let s: HashSet<String> = v.into_iter().collect();
    assert_eq!(s.len(), n, "no id twice");
    s
}

fn micros(t: DateTime<Utc>) -> String {
    super::handlers::ts(t)
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_without_budget_headers() {
    let sb = Sandbox::start(settings()).await.unwrap();
    for token in [None, Some("wrong")] {
        let r = get_with(&sb, "/v2/conversations", &[], token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body["error"].is_string());
        assert!(r.headers.get(super::REMAINING_HEADER).is_none());
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn lists_page_with_the_envelope_and_counts_only_when_asked() {
    let sb = Sandbox::start(settings()).await.unwrap();
    let total = sb.salesloft.data().conversations.len();
    let r = get(&sb, "/v2/conversations", &[]).await;
    let paging = &r.body["metadata"]["paging"];
    assert_eq!(r.body["data"].as_array().unwrap().len(), 25, "per_page defaults to 25");
    assert_eq!((paging["current_page"].as_u64(), paging["next_page"].as_u64()), (Some(1), Some(2)));
    assert!(paging["prev_page"].is_null() && paging.get("total_count").is_none());
    assert_eq!(r.body["metadata"]["sorting"]["sort_by"], "created_at");

    let last = total.div_ceil(40).to_string();
    let r =
        get(&sb, "/v2/conversations", &[("per_page", "40"), ("page", &last), ("include_paging_counts", "true")]).await;
    let paging = &r.body["metadata"]["paging"];
    assert!(paging["next_page"].is_null(), "{paging}");
    assert_eq!(paging["total_count"].as_u64(), Some(total as u64));
    assert_eq!(paging["total_pages"].as_u64(), Some(total.div_ceil(40) as u64));
    assert_eq!(r.body["data"].as_array().unwrap().len(), total - (total.div_ceil(40) - 1) * 40);

    let beyond = (total.div_ceil(40) + 1).to_string();
    let r = get(&sb, "/v2/conversations", &[("per_page", "40"), ("page", &beyond)]).await;
    assert!(r.body["data"].as_array().unwrap().is_empty());
    assert_eq!(set(ids_of(&sb, &[]).await), expected(&sb, |_| true));
    sb.shutdown().await;
}

#[tokio::test]
async fn bad_parameters_are_422_naming_the_parameter() {
    let sb = Sandbox::start(settings()).await.unwrap();
    for (k, v) in [
        ("per_page", "101"),
        ("per_page", "0"),
        ("page", "0"),
        ("include_paging_counts", "yes"),
        ("sort_by", "title"),
        ("sort_direction", "up"),
        ("created_at[gte]", "yesterday"),
        ("duration[lt]", "long"),
        ("language_code", "en-us"),
        ("platform", "skype"),
        ("media_type", "chat"),
        ("is_api", "1"),
    ] {
        let r = get(&sb, "/v2/conversations", &[(k, v)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{k}={v}");
        assert!(r.body["errors"][k].is_array(), "{k}: {}", r.body);
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn every_conversation_filter_selects_what_the_data_says() {
    let sb = Sandbox::start(settings()).await.unwrap();
    let world = sb.world();
    let convs = &sb.salesloft.data().conversations;
    let sample = &convs[convs.len() / 3];
    let title = world.calls[sample.call].title.clone();
    let prefix = "acme <> ";
    assert_eq!(set(ids_of(&sb, &[("title", &title)]).await), expected(&sb, |c| world.calls[c.call].title == title));
    assert!(ids_of(&sb, &[("title", &title.to_uppercase())]).await.is_empty(), "exact match is case-sensitive");
    let by_prefix = expected(&sb, |c| world.calls[c.call].title.to_lowercase().starts_with(prefix));
    assert!(!by_prefix.is_empty() && by_prefix.len() < convs.len());
    assert_eq!(set(ids_of(&sb, &[("title[_starts_with]", "Acme <> ")]).await), by_prefix);

    // Timestamps compare at microsecond precision, each operator at its boundary.
    let t = sample.created_at;
    let one = chrono::Duration::microseconds(1);
    for (op, keep) in [
        ("gt", Box::new(|c: &SlConversation| c.created_at > t) as Box<dyn Fn(&SlConversation) -> bool>),
        ("gte", Box::new(|c: &SlConversation| c.created_at >= t)),
        ("lt", Box::new(|c: &SlConversation| c.created_at < t)),
        ("lte", Box::new(|c: &SlConversation| c.created_at <= t)),
    ] {
        let got = set(ids_of(&sb, &[(&format!("created_at[{op}]"), &micros(t))]).await);
        assert_eq!(got, expected(&sb, &keep), "created_at[{op}]");
    }
    assert!(
        set(ids_of(&sb, &[("created_at[gt]", &micros(t - one))]).await).contains(&ids::conversation_id(sample.call))
    );
    assert!(
        !set(ids_of(&sb, &[("created_at[gte]", &micros(t + one))]).await).contains(&ids::conversation_id(sample.call))
    );
    let u = sample.updated_at;
    let offset = u.with_timezone(&chrono::FixedOffset::west_opt(5 * 3600).unwrap()).to_rfc3339();
    assert_eq!(
        set(ids_of(&sb, &[("updated_at[lte]", &offset), ("updated_at[gt]", &micros(u - chrono::Duration::days(20)))])
            .await),
        expected(&sb, |c| c.updated_at <= u && c.updated_at > u - chrono::Duration::days(20)),
        "an offset timestamp"
    );

    let d = sample.duration_ms;
    assert_eq!(
        set(ids_of(&sb, &[("duration[gte]", &d.to_string()), ("duration[lt]", "3000000")]).await),
        expected(&sb, |c| c.duration_ms >= d && c.duration_ms < 3_000_000.0)
    );
    assert_eq!(
        set(ids_of(&sb, &[("duration[gt]", &d.to_string()), ("duration[lte]", &(d + 90_000.0).to_string())]).await),
        expected(&sb, |c| c.duration_ms > d && c.duration_ms <= d + 90_000.0)
    );
    for (k, v, keep) in [
        (
            "language_code",
            sample.language_code.as_str(),
            Box::new(|c: &SlConversation| c.language_code == sample.language_code)
                as Box<dyn Fn(&SlConversation) -> bool>,
        ),
        ("platform", "zoom", Box::new(|c: &SlConversation| c.platform == "zoom")),
        ("media_type", "audio", Box::new(|c: &SlConversation| c.media_type == "audio")),
        ("is_api", "true", Box::new(|c: &SlConversation| c.is_api)),
        ("is_api", "false", Box::new(|c: &SlConversation| !c.is_api)),
    ] {
        let want = expected(&sb, &keep);
        assert!(!want.is_empty(), "{k}={v}");
        assert_eq!(set(ids_of(&sb, &[(k, v)]).await), want, "{k}={v}");
    }

    // Lists: repeated `name[]` or comma-separated.
    let owners = [ids::user_guid(convs[0].owner), ids::user_guid(convs[convs.len() - 1].owner)];
    let want = expected(&sb, |c| owners.contains(&ids::user_guid(c.owner)));
    assert_eq!(set(ids_of(&sb, &[("owner_ids[]", &owners[0]), ("owner_ids[]", &owners[1])]).await), want);
    assert_eq!(set(ids_of(&sb, &[("owner_ids", &owners.join(","))]).await), want);
    let recorded_by_other = convs.iter().find(|c| c.recorder != c.owner).expect("someone else recorded one");
    let guid = ids::user_guid(recorded_by_other.recorder);
    assert_eq!(
        set(ids_of(&sb, &[("user_guids[]", &guid)]).await),
        expected(&sb, |c| ids::user_guid(c.recorder) == guid)
    );
    let some: Vec<String> = convs.iter().step_by(37).map(|c| ids::conversation_id(c.call)).collect();
    assert_eq!(set(ids_of(&sb, &[("ids", &some.join(","))]).await), some.iter().cloned().collect());
    let account = convs.iter().find_map(|c| c.account).unwrap();
    assert_eq!(
        set(ids_of(&sb, &[("account_ids[]", &ids::account_id(account).to_string())]).await),
        expected(&sb, |c| c.account == Some(account))
    );
    let person = convs.iter().find_map(|c| c.person).unwrap();
    assert_eq!(
        set(ids_of(&sb, &[("person_ids[]", &ids::person_id(person).to_string())]).await),
        expected(&sb, |c| c.person == Some(person))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn sorting_orders_by_the_key_then_the_id() {
    let sb = Sandbox::start(settings()).await.unwrap();
    for (by, dir) in [("created_at", "desc"), ("created_at", "ASC"), ("updated_at", "asc"), ("duration", "DESC")] {
        let q = [("sort_by", by), ("sort_direction", dir), ("per_page", "100"), ("page", "1")];
        let r = get(&sb, "/v2/conversations", &q).await;
        let items = r.body["data"].as_array().unwrap();
        let key = |c: &Value| -> (String, String) {
            let k = match by {
                "duration" => format!("{:020.3}", c["duration"].as_f64().unwrap()),
                _ => c[by].as_str().unwrap().to_owned(),
            };
            (k, c["id"].as_str().unwrap().to_owned())
        };
        let keys: Vec<_> = items.iter().map(key).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        if dir.eq_ignore_ascii_case("desc") {
            sorted.reverse();
        }
        assert_eq!(keys, sorted, "{by} {dir}");
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn the_budget_is_charged_by_page_depth_reported_in_headers_and_refused_when_spent() {
    let mut s = settings();
    s.salesloft = SalesloftSimSettings { budget: 20, budget_window: Duration::from_secs(6 * 3600), ..s.salesloft };
    let sb = Sandbox::start(s).await.unwrap();
    let r = get(&sb, "/v2/conversations", &[("per_page", "1")]).await;
    assert_eq!(r.headers[super::COST_HEADER], "1");
    assert_eq!(r.headers[super::REMAINING_HEADER], "19");
    let r = get(&sb, "/v2/conversations", &[("per_page", "1"), ("page", "120")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (r.headers[super::COST_HEADER].to_str().unwrap(), r.headers[super::REMAINING_HEADER].to_str().unwrap()),
        ("3", "16")
    );
    let r = get(&sb, "/v2/conversations", &[("per_page", "1"), ("page", "200")]).await;
    assert_eq!(r.headers[super::COST_HEADER], "8");
    sb.salesloft.spend(6);
    assert_eq!(sb.salesloft.budget_remaining(), 2);
    let r = get(&sb, "/v2/conversations", &[("per_page", "1"), ("page", "101")]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "costs 3, 2 left");
    assert_eq!(r.headers[super::REMAINING_HEADER], "2");
    assert!(r.headers.get("retry-after").is_none());
    let r = get(&sb, "/v2/users", &[]).await;
    assert_eq!((r.status, r.headers[super::REMAINING_HEADER].to_str().unwrap()), (StatusCode::OK, "1"));
    assert_eq!(sb.salesloft.rejected_429(), 1);
    assert_eq!(sb.salesloft.charged(), 1 + 3 + 8 + 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn a_conversation_its_transcription_sentences_artifact_and_recording() {
    let sb = Sandbox::start(settings()).await.unwrap();
    let data = sb.salesloft.data();
    let c = data.conversations.iter().find(|c| c.transcribed).unwrap();
    let cid = ids::conversation_id(c.call);
    let r = get(&sb, &format!("/v2/conversations/{cid}"), &[]).await;
    let conv = &r.body["data"];
    assert_eq!(conv["id"], cid.as_str());
    assert_eq!(conv["owner_id"], ids::user_guid(c.owner).as_str());
    assert_eq!(conv["started_recording_at"], sb.world().calls[c.call].started.timestamp_millis());
    let tid = conv["transcription"]["id"].as_str().unwrap().to_owned();
    let t = get(&sb, &format!("/v2/transcriptions/{tid}"), &[]).await;
    assert_eq!(t.body["data"]["conversation"]["id"], cid.as_str());

    let expected = data.sentences(sb.world(), c.call);
    let mut texts = Vec::new();
    let mut page = 1;
    loop {
        let p = page.to_string();
        let r = get(&sb, &format!("/v2/transcriptions/{tid}/sentences"), &[("per_page", "7"), ("page", &p)]).await;
        let items = r.body["data"].as_array().unwrap();
        for s in items {
            assert_eq!(s["order_number"].as_u64().unwrap() as usize, texts.len() + 1, "ordered");
            texts.push(s["text"].as_str().unwrap().to_owned());
        }
        if r.body["metadata"]["paging"]["next_page"].is_null() {
            break;
        }
        page += 1;
    }
    assert_eq!(texts, expected.iter().map(|s| s.text.clone()).collect::<Vec<_>>());
    let a = get(&sb, &format!("/v2/transcriptions/{tid}/artifact"), &[]).await;
    assert!(a.body["data"]["url"].as_str().unwrap().starts_with("https://"));
    let rec = get(&sb, &format!("/v2/conversations/{cid}/recording"), &[]).await;
    assert!(rec.body["data"]["content_type"].as_str().unwrap().contains('/'));

    let untranscribed = data.conversations.iter().find(|c| !c.transcribed).unwrap();
    let r = get(&sb, &format!("/v2/conversations/{}", ids::conversation_id(untranscribed.call)), &[]).await;
    assert!(r.body["data"]["transcription"].is_null());
    let r = get(&sb, &format!("/v2/transcriptions/{}/sentences", ids::transcription_id(untranscribed.call)), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(&sb, "/v2/conversations/3fa85f64-5717-4562-b3fc-2c963f66afa6", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    sb.shutdown().await;
}

#[tokio::test]
async fn users_list_and_filter_by_guid_and_id() {
    let sb = Sandbox::start(settings()).await.unwrap();
    let data = sb.salesloft.data();
    let r = get(&sb, "/v2/users", &[("per_page", "100")]).await;
    let users = r.body["data"].as_array().unwrap();
    assert_eq!(users.len(), data.users.len());
    let ids_listed: Vec<u64> = users.iter().map(|u| u["id"].as_u64().unwrap()).collect();
    assert!(ids_listed.windows(2).all(|w| w[0] < w[1]));
    let pick = &data.users[1];
    let guid = ids::user_guid(pick.person);
    let r = get(&sb, "/v2/users", &[("guid[]", &guid)]).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["email"], pick.email.as_str());
    let r = get(&sb, &format!("/v2/users/{}", ids::user_id(pick.person)), &[]).await;
    assert_eq!(r.body["data"]["guid"], guid.as_str());
    let active = get(&sb, "/v2/users", &[("active", "false"), ("per_page", "100")]).await;
    let inactive = data.users.iter().filter(|u| !sb.world().people[u.person].active).count();
    assert_eq!(active.body["data"].as_array().unwrap().len(), inactive);
    sb.shutdown().await;
}
