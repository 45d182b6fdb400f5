//! HTTP tests of the Hubster simulator, through reqwest on loopback.

use reqwest::StatusCode;
use serde_json::Value;

use super::ids;
use crate::sandbox::world_hub::Party;
use crate::sandbox::{HubsterSimSettings, Sandbox, SandboxSettings};

fn settings(h: HubsterSimSettings) -> SandboxSettings {
    SandboxSettings { people: 12, calls: 50, hubster: h, ..SandboxSettings::default() }
}

async fn token_for(sb: &Sandbox, id: &str, secret: &str) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .post(sb.hubster.token_url())
        .form(&[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)])
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn engine_token(sb: &Sandbox) -> String {
    let (id, secret) = (sb.hubster.client_id().to_owned(), sb.hubster.client_secret().to_owned());
    let (status, body) = token_for(sb, &id, &secret).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn engine_get(sb: &Sandbox, token: &str, path: &str, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", sb.hubster.engine_url()))
        .query(query)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn event_ids(v: &Value) -> Vec<i64> {
    v.as_array().unwrap().iter().map(|a| a["eventId"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn client_credentials_give_a_30_day_engine_token_and_bad_ones_an_oauth_error() {
    let sb = Sandbox::start(settings(HubsterSimSettings::default())).await.unwrap();
    let (id, secret) = (sb.hubster.client_id().to_owned(), sb.hubster.client_secret().to_owned());
    let (status, body) = token_for(&sb, &id, &secret).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expires_in"], 2_592_000);
    assert_eq!((body["token_type"].as_str(), body["scope"].as_str()), (Some("Bearer"), Some(super::ENGINE_SCOPE)));
    let (status, body) = token_for(&sb, &id, "wrong").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client")));
    assert_eq!(sb.hubster.token_requests(), 2);
    assert_eq!(sb.hubster.tokens_issued(), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn the_engine_refuses_portal_expired_and_missing_tokens_with_eng000102() {
    let sb = Sandbox::start(settings(HubsterSimSettings::default())).await.unwrap();
    let (pid, psecret) = sb.hubster.portal_client();
    let (pid, psecret) = (pid.to_owned(), psecret.to_owned());
    let portal = token_for(&sb, &pid, &psecret).await.1["access_token"].as_str().unwrap().to_owned();
    let engine = engine_token(&sb).await;
    let path = format!("/api/v1/conversations/{}", ids::conversation_id(0));
    for token in [portal.as_str(), "not-a-token"] {
        let (status, body) = engine_get(&sb, token, &path, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["status"], 401);
        assert!(body["errors"][0]["description"].as_str().unwrap().contains("ENG000102"), "{body}");
    }
    assert_eq!(engine_get(&sb, &engine, &path, &[]).await.0, StatusCode::OK);
    sb.hubster.expire_tokens();
    assert_eq!(engine_get(&sb, &engine, &path, &[]).await.0, StatusCode::UNAUTHORIZED);
    sb.shutdown().await;
}

#[tokio::test]
async fn activities_by_type_are_a_bare_array_and_leid_is_inclusive() {
    let sb = Sandbox::start(settings(HubsterSimSettings::default())).await.unwrap();
    let token = engine_token(&sb).await;
    let conv = &sb.hubster.data().conversations[3];
    let path = format!("/api/v1/interactions/activities/{}", ids::conversation_id(3));
    for (t, party) in [("Customer", Party::Customer), ("agent", Party::Agent), ("BOT", Party::Bot)] {
        let (status, body) = engine_get(&sb, &token, &path, &[("type", t)]).await;
        assert_eq!(status, StatusCode::OK);
        let want: Vec<i64> = conv.activities.iter().filter(|a| a.involves(party)).map(|a| a.event_id).collect();
        assert_eq!(event_ids(&body), want, "{t}");
        for a in body.as_array().unwrap() {
            assert!(a["message"].is_object() != a["event"].is_object(), "message or event, never both");
            assert_eq!(a["interactionId"].is_string(), a["message"].is_object());
        }
    }
    let mid = conv.activities[conv.activities.len() / 2].event_id;
    let leid = mid.to_string();
    let (_, body) = engine_get(&sb, &token, &path, &[("type", "Customer"), ("leid", &leid)]).await;
    let want: Vec<i64> = conv
        .activities
        .iter()
        .filter(|a| a.involves(Party::Customer) && a.event_id >= mid)
        .map(|a| a.event_id)
        .collect();
    assert_eq!(event_ids(&body), want);
    for (q, code) in [(vec![], 400), (vec![("type", "System")], 400), (vec![("type", "Agent"), ("leid", "x")], 400)] {
        let (status, body) = engine_get(&sb, &token, &path, &q).await;
        assert_eq!(status.as_u16(), code, "{q:?}");
        assert_eq!(body["status"], code);
    }
    let (status, body) = engine_get(
        &sb,
        &token,
        "/api/v1/interactions/activities/3fa85f64-5717-4562-b3fc-2c963f66afa6",
        &[("type", "Agent")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["errors"][0]["description"].as_str().unwrap().contains("ENG006500"));
    sb.shutdown().await;
}

#[tokio::test]
async fn an_exclusive_leid_skips_that_millisecond_and_live_messages_appear() {
    let sb = Sandbox::start(settings(HubsterSimSettings { leid_inclusive: false, ..HubsterSimSettings::default() }))
        .await
        .unwrap();
    let token = engine_token(&sb).await;
    let conv = sb.hubster.data().conversations[0].clone();
    let last = conv.activities.last().unwrap().event_id;
    sb.hubster.push_message(0, Party::Customer, Party::Agent, "One more thing.", last + 5);
    let path = format!("/api/v1/interactions/activities/{}", ids::conversation_id(0));
    let leid = last.to_string();
    let (_, body) = engine_get(&sb, &token, &path, &[("type", "Customer"), ("leid", &leid)]).await;
    assert_eq!(event_ids(&body), vec![last + 5]);
    assert_eq!(body[0]["message"]["text"], "One more thing.");
    sb.shutdown().await;
}

#[tokio::test]
async fn past_the_rate_the_engine_answers_429() {
    let sb = Sandbox::start(settings(HubsterSimSettings { rate_per_sec: 2, ..HubsterSimSettings::default() }))
        .await
        .unwrap();
    let token = engine_token(&sb).await;
    let path = format!("/api/v1/conversations/{}", ids::conversation_id(1));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(engine_get(&sb, &token, &path, &[]).await.0);
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert!(sb.hubster.rejected_429() >= 1);
    sb.shutdown().await;
}
