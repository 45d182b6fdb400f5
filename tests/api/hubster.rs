//! Hubster through GraphQL against its simulator: configured conversations as chat
//! calls, merged transcripts and typed activities, incremental reads, the token.

use std::collections::HashMap;

use convograph::{
    config::{ConnectionSettings, CredentialsConfig, SecretSource, Settings},
    providers::ProviderKind,
    sandbox::{
        HubsterSimSettings, Sandbox, SandboxSettings,
        hubster::ids,
        world_hub::{Content, HubActivity, Party},
    },
    schema::id::{Kind, encode},
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, codes, settings_for, spawn_with, spawn_with_simulators};

const CONN: &str = "hubster-demo";

async fn spawn() -> TestApp {
    spawn_with(settings_for(ProviderKind::Hubster)).await
}

fn label(a: &HubActivity) -> String {
    match &a.content {
        Content::Message(t) => t.clone(),
        Content::Event { payload_type, .. } => payload_type.clone(),
    }
}

/// (event id, text) of the messages a transcript shows: no events, no echoes.
fn transcript_lines(acts: &[HubActivity]) -> Vec<(i64, String)> {
    let mut v: Vec<(i64, String)> = acts
        .iter()
        .filter(|a| matches!(a.content, Content::Message(_)) && !a.is_echo)
        .map(|a| (a.event_id, label(a)))
        .collect();
    v.sort();
    v
}

const CHAT: &str = r#"query($id: ID!) {
  call(id: $id) {
    remoteId medium platform startedAt
    participants { name email roles affiliation }
    transcript {
      speakers { speakerId roles channel affiliation name }
      segments(first: 100) { totalCount edges { node { speakerId startMs text } } }
    }
    chatActivities(first: 100) {
      totalCount
      edges { node { kind trigger eventId occurredAt sender { party channel speakerId } recipient { party channel } text payloadType payload isEcho flowProcess } }
    }
    events: chatActivities(kinds: [EVENT], first: 100) { totalCount edges { node { kind payloadType } } }
  }
}"#;

fn segment_lines(call: &Value, opened_ms: i64) -> Vec<(i64, String)> {
    let mut v: Vec<(i64, String)> = call["transcript"]["segments"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (opened_ms + e["node"]["startMs"].as_i64().unwrap(), e["node"]["text"].as_str().unwrap().to_owned()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn the_calls_list_is_the_configured_conversations_as_chats() {
    let app = spawn().await;
    let data = app.hubster.data();
    let q = r#"query($after: String) { calls(connectionId: "hubster-demo", first: 20, after: $after) { totalCount edges { node { remoteId provider medium platform direction startedAt participants { name email roles affiliation } } } pageInfo { hasNextPage endCursor } } }"#;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let d = app.data(q, json!({ "after": after })).await;
        assert_eq!(d["calls"]["totalCount"], data.conversations.len() as u64);
        seen.extend(d["calls"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()));
        if d["calls"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = d["calls"]["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), data.conversations.len());
    for (n, c) in seen.iter().zip(&data.conversations) {
        assert_eq!(n["remoteId"], ids::conversation_id(c.index).as_str());
        assert_eq!((n["provider"].as_str(), n["medium"].as_str()), (Some("HUBSTER"), Some("CHAT")));
        assert_eq!(n["platform"], c.channel.as_str());
        let t: chrono::DateTime<chrono::Utc> = n["startedAt"].as_str().unwrap().parse().unwrap();
        assert_eq!(t.timestamp_millis(), c.opened.timestamp_millis());
        let customer = &app.world.contacts[c.contact];
        let p = &n["participants"][0];
        assert_eq!((p["email"].as_str(), p["affiliation"].as_str()), (Some(customer.email.as_str()), Some("EXTERNAL")));
        assert_eq!(p["roles"], json!(["Customer"]));
    }
    assert_eq!(app.hubster.requests("GET", "/api/v1/conversations/{conversationId}"), data.conversations.len() as u64);
    assert_eq!(app.hubster.token_requests(), 1, "one token for every request");
    // Chats filter like any call, here (Hubster filters nothing).
    let d = app
        .data(r#"{ calls(connectionId: "hubster-demo", first: 100, filter: { media: [CHAT], platforms: ["webchat"] }) { totalCount edges { node { platform } } } }"#, json!({}))
        .await;
    let webchat = data.conversations.iter().filter(|c| c.channel.as_str() == "WebChat").count();
    assert_eq!(d["calls"]["edges"].as_array().unwrap().len(), webchat);
    assert!(d["calls"]["totalCount"].is_null());
}

#[tokio::test]
async fn a_chat_transcript_merges_customer_agent_and_bot_messages_once_in_event_order_and_events_are_typed() {
    let app = spawn().await;
    let data = app.hubster.data();
    // A conversation with an echo and with two activities in one millisecond.
    let c = data
        .conversations
        .iter()
        .find(|c| {
            c.activities.iter().any(|a| a.is_echo) && c.activities.windows(2).any(|w| w[0].event_id == w[1].event_id)
        })
        .or_else(|| data.conversations.iter().find(|c| c.activities.iter().any(|a| a.is_echo)))
        .unwrap();
    let id = encode(Kind::Call, CONN, &ids::conversation_id(c.index));
    let d = app.data(CHAT, json!({ "id": id })).await;
    let call = &d["call"];
    let opened = c.opened.timestamp_millis();
    assert_eq!(segment_lines(call, opened), transcript_lines(&c.activities));
    let starts: Vec<i64> = call["transcript"]["segments"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["startMs"].as_i64().unwrap())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "event order: {starts:?}");

    // Speakers: customer, agent and bot, with their channels.
    let speakers: HashMap<String, &Value> = call["transcript"]["speakers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["roles"][0].as_str().unwrap().to_owned(), s))
        .collect();
    let customer = &app.world.contacts[c.contact];
    assert_eq!(speakers["Customer"]["name"], customer.full_name().as_str());
    assert_eq!(speakers["Customer"]["channel"], c.channel.as_str());
    assert_eq!(speakers["Customer"]["affiliation"], "EXTERNAL");
    assert_eq!(
        (speakers["Agent"]["channel"].as_str(), speakers["Agent"]["affiliation"].as_str()),
        (Some("Slack"), Some("INTERNAL"))
    );
    assert_eq!(speakers["Bot"]["channel"], "Bot");
    for seg in call["transcript"]["segments"]["edges"].as_array().unwrap() {
        assert!(speakers.values().any(|s| s["speakerId"] == seg["node"]["speakerId"]), "{seg}");
    }

    // Every activity once, messages and events, typed.
    let acts = call["chatActivities"]["edges"].as_array().unwrap();
    assert_eq!(call["chatActivities"]["totalCount"], c.activities.len() as u64);
    let mut got: Vec<(i64, String)> = acts
        .iter()
        .map(|e| {
            let n = &e["node"];
            let label = n["text"].as_str().or(n["payloadType"].as_str()).unwrap().to_owned();
            (n["eventId"].as_str().unwrap().parse().unwrap(), label)
        })
        .collect();
    got.sort();
    let mut want: Vec<(i64, String)> = c.activities.iter().map(|a| (a.event_id, label(a))).collect();
    want.sort();
    assert_eq!(got, want);
    for (e, a) in acts.iter().map(|e| &e["node"]).zip(sorted_by_event(&c.activities)) {
        assert_eq!(e["eventId"].as_str().unwrap().parse::<i64>().unwrap(), a.event_id);
    }
    let handoff = acts.iter().map(|e| &e["node"]).find(|n| n["payloadType"] == "handoff").unwrap();
    assert_eq!(handoff["kind"], "EVENT");
    assert_eq!(
        (handoff["sender"]["party"].as_str(), handoff["recipient"]["party"].as_str()),
        (Some("BOT"), Some("AGENT"))
    );
    assert_eq!(handoff["payload"]["queue"], "sales");
    assert!(acts.iter().any(|e| e["node"]["isEcho"] == true));
    let events = c.activities.iter().filter(|a| matches!(a.content, Content::Event { .. })).count();
    assert_eq!(call["events"]["totalCount"], events as u64);
    assert!(call["events"]["edges"].as_array().unwrap().iter().all(|e| e["node"]["kind"] == "EVENT"));
    // One read per integration type served the transcript and both activity lists.
    assert_eq!(app.hubster.requests("GET", "/api/v1/interactions/activities/{conversationId}"), 3);
}

fn sorted_by_event(acts: &[HubActivity]) -> Vec<&HubActivity> {
    let mut v: Vec<&HubActivity> = acts.iter().collect();
    v.sort_by_key(|a| a.event_id);
    v
}

#[tokio::test]
async fn new_messages_are_read_incrementally_from_leid_without_repeats_or_losses() {
    let mut settings = settings_for(ProviderKind::Hubster);
    settings.cache.calls_ttl = std::time::Duration::ZERO;
    settings.cache.transcripts_ttl = std::time::Duration::ZERO;
    let app = spawn_with(settings).await;
    let c = app.hubster.data().conversations[5].clone();
    let id = encode(Kind::Call, CONN, &ids::conversation_id(5));
    let first = app.data(CHAT, json!({ "id": id })).await;
    let opened = c.opened.timestamp_millis();
    assert_eq!(segment_lines(&first["call"], opened), transcript_lines(&c.activities));
    let reads_before = app.hubster.activity_reads().len();

    // A live customer message in the last activity's millisecond, and an agent answer.
    let last = c.activities.iter().map(|a| a.event_id).max().unwrap();
    app.hubster.push_message(5, Party::Customer, Party::Agent, "Are you still there?", last);
    app.hubster.push_message(5, Party::Agent, Party::Customer, "Yes, one moment.", last + 2_000);
    let second = app.data(CHAT, json!({ "id": id })).await;
    let now = app.hubster.activities(5);
    assert_eq!(segment_lines(&second["call"], opened), transcript_lines(&now));
    assert_eq!(second["call"]["chatActivities"]["totalCount"], now.len() as u64, "each activity once");
    for r in &app.hubster.activity_reads()[reads_before..] {
        assert!(r.leid.is_some(), "incremental: {r:?}");
    }
}

/// A small second sandbox (its Hubster is reached through a configured connection).
async fn other_sandbox() -> Sandbox {
    Sandbox::start(SandboxSettings { people: 6, calls: 10, ..SandboxSettings::default() }).await.unwrap()
}

/// A connection to `sb`'s Hubster with these client credentials (secrets in files),
/// reading its first two conversations.
fn hubster_connection(id: &str, sb: &Sandbox, client: (&str, &str), dir: &tempfile::TempDir) -> ConnectionSettings {
    let file = |name: &str, value: &str| {
        let path = dir.path().join(format!("{id}-{name}"));
        std::fs::write(&path, value).unwrap();
        SecretSource::File(path)
    };
    ConnectionSettings {
        webhook: None,
        id: id.into(),
        provider: ProviderKind::Hubster,
        base_url: sb.hubster.engine_url().parse().unwrap(),
        credentials: CredentialsConfig::ClientCredentials {
            client_id: file("id", client.0),
            client_secret: file("secret", client.1),
            token_url: sb.hubster.token_url().parse().unwrap(),
            scope: None,
        },
        time_zone: None,
        workspace_id: None,
        conversation_ids: sb.hubster.conversation_ids().into_iter().take(2).collect(),
        traffic: Default::default(),
    }
}

#[tokio::test]
async fn the_token_is_obtained_once_and_renewed_once_when_the_engine_refuses_it() {
    let app = spawn().await;
    let q = r#"{ calls(connectionId: "hubster-demo", first: 2) { edges { node { remoteId } } } }"#;
    app.data(q, json!({})).await;
    app.data(r#"{ calls(connectionId: "hubster-demo", first: 3) { edges { node { remoteId } } } }"#, json!({})).await;
    assert_eq!(app.hubster.token_requests(), 1);
    app.hubster.expire_tokens();
    // A conversation not read yet (the first page is cached).
    let q = r#"query($id: ID!) { call(id: $id) { remoteId } }"#;
    let id = encode(Kind::Call, CONN, &app.hubster.conversation_ids()[40]);
    let d = app.data(q, json!({ "id": id })).await;
    assert!(d["call"]["remoteId"].is_string());
    assert_eq!(app.hubster.token_requests(), 2, "renewed once after the 401");
    // A renewed token the engine accepted is itself renewed when it expires.
    app.hubster.expire_tokens();
    let id = encode(Kind::Call, CONN, &app.hubster.conversation_ids()[41]);
    assert!(app.data(q, json!({ "id": id })).await["call"]["remoteId"].is_string());
    assert_eq!(app.hubster.token_requests(), 3);
}

#[tokio::test]
async fn portal_or_wrong_client_credentials_are_provider_errors_and_never_leak() {
    let dir = tempfile::tempdir().unwrap();
    let (portal_sb, wrong_sb) = (other_sandbox().await, other_sandbox().await);
    let (pid, psecret) = portal_sb.hubster.portal_client();
    let (pid, psecret) = (pid.to_owned(), psecret.to_owned());
    let portal = hubster_connection("hub-portal", &portal_sb, (&pid, &psecret), &dir);
    let engine_id = wrong_sb.hubster.client_id().to_owned();
    let wrong = hubster_connection("hub-wrong", &wrong_sb, (&engine_id, "not-the-secret-42"), &dir);
    let mut settings: Settings = settings_for(ProviderKind::Hubster);
    settings.connections.extend([portal, wrong]);
    let app = spawn_with(settings).await;
    let body = app
        .query(
            r#"{ good: calls(connectionId: "hubster-demo", first: 1) { edges { node { id } } }
                portal: calls(connectionId: "hub-portal", first: 1) { edges { node { id } } }
                wrong: calls(connectionId: "hub-wrong", first: 1) { edges { node { id } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["good"]["edges"].as_array().unwrap().len(), 1);
    assert!(body["data"]["portal"].is_null() && body["data"]["wrong"].is_null());
    assert_eq!(codes(&body), ["PROVIDER_ERROR", "PROVIDER_ERROR"]);
    let status: HashMap<String, Value> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["extensions"]["connection"].as_str().unwrap().to_owned(), e["extensions"]["http"]["status"].clone())
        })
        .collect();
    assert_eq!(status["hub-portal"], 401, "the engine refuses a portal token, even a renewed one");
    assert_eq!(status["hub-wrong"], 400, "the identity server refuses the client");
    assert_eq!(portal_sb.hubster.token_requests(), 2, "one renewal, then the error");
    assert_eq!(wrong_sb.hubster.total_requests(), 0, "no engine request without a token");
    let text = body.to_string();
    assert!(!text.contains("not-the-secret-42") && !text.contains(&psecret));
}

#[tokio::test]
async fn any_conversation_resolves_by_id_even_when_not_configured() {
    let dir = tempfile::tempdir().unwrap();
    let other = other_sandbox().await;
    let client = (other.hubster.client_id().to_owned(), other.hubster.client_secret().to_owned());
    let conn = hubster_connection("hub-two", &other, (&client.0, &client.1), &dir);
    let mut settings = settings_for(ProviderKind::Hubster);
    settings.connections.push(conn);
    let app = spawn_with(settings).await;
    let d = app
        .data(r#"{ calls(connectionId: "hub-two", first: 10) { totalCount edges { node { remoteId } } } }"#, json!({}))
        .await;
    assert_eq!(d["calls"]["totalCount"], 2, "the configured conversations");
    let not_listed = other.hubster.conversation_ids()[5].clone();
    let q = r#"query($id: ID!) { call(id: $id) { remoteId medium } node(id: $id) { ... on Call { remoteId } } }"#;
    let d = app.data(q, json!({ "id": encode(Kind::Call, "hub-two", &not_listed) })).await;
    assert_eq!(d["call"]["remoteId"], not_listed.as_str());
    assert_eq!(d["node"]["remoteId"], not_listed.as_str());
    for unknown in ["3fa85f64-5717-4562-b3fc-2c963f66afa6", "../../connect/token"] {
        let d = app.data(q, json!({ "id": encode(Kind::Call, "hub-two", unknown) })).await;
        assert!(d["call"].is_null() && d["node"].is_null(), "{unknown}");
    }
    other.shutdown().await;
}

#[tokio::test]
async fn an_engine_429_is_waited_out() {
    let sims = SandboxSettings { hubster: HubsterSimSettings::default(), ..SandboxSettings::default() };
    let app = spawn_with_simulators(settings_for(ProviderKind::Hubster), sims).await;
    app.hubster.inject_429(1);
    let d = app
        .data(r#"{ calls(connectionId: "hubster-demo", first: 1) { edges { node { remoteId } } } }"#, json!({}))
        .await;
    assert_eq!(d["calls"]["edges"].as_array().unwrap().len(), 1);
    assert_eq!(app.hubster.rejected_429(), 1);
}
