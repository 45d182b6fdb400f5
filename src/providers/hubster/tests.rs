//! The Hubster provider against its simulator: incremental activity reads lose and
//! repeat nothing at the `leid` boundary, whichever way the engine treats `leid`.

use std::{collections::HashMap, sync::Arc};

use super::*;
use crate::{
    config::{Credentials, Secret},
    domain::ChatParty,
    providers::transport::{RateSchedule, TrafficPolicy},
    sandbox::{HubsterSimSettings, Sandbox, SandboxSettings, hubster::ids, world_hub::Party},
};

async fn provider(sandbox: &Sandbox) -> HubsterProvider {
    let h = &sandbox.hubster;
    let credentials = Credentials::ClientCredentials {
        client_id: Secret::new(h.client_id()),
        client_secret: Secret::new(h.client_secret()),
        token_url: h.token_url().parse().unwrap(),
        scope: None,
    };
    let policy = TrafficPolicy::resolve(&Default::default(), RateSchedule::Fixed(1000.0));
    let transport =
        Transport::new(ProviderKind::Hubster, Arc::from("hub"), h.engine_url().parse().unwrap(), &credentials, policy)
            .unwrap();
    HubsterProvider::new(transport, Cache::new(&Default::default()), Arc::from("hub"), Vec::new(), Duration::ZERO)
}

/// (event id, text or payload type) of each activity, for comparison.
fn keys(acts: &[ChatActivity]) -> Vec<(i64, String)> {
    acts.iter().map(|a| (a.event_id, a.text.clone().or_else(|| a.payload_type.clone()).unwrap_or_default())).collect()
}

fn expected(sandbox: &Sandbox, i: usize) -> Vec<(i64, String)> {
    sandbox
        .hubster
        .activities(i)
        .iter()
        .map(|a| {
            let label = match &a.content {
                crate::sandbox::world_hub::Content::Message(t) => t.clone(),
                crate::sandbox::world_hub::Content::Event { payload_type, .. } => payload_type.clone(),
            };
            (a.event_id, label)
        })
        .collect()
}

fn sorted(mut v: Vec<(i64, String)>) -> Vec<(i64, String)> {
    v.sort();
    v
}

#[tokio::test]
async fn incremental_reads_neither_repeat_nor_lose_activities_at_the_leid_boundary() {
    for inclusive in [true, false] {
        let settings = SandboxSettings {
            people: 12,
            calls: 20,
            hubster: HubsterSimSettings { leid_inclusive: inclusive, rate_per_sec: 0, ..HubsterSimSettings::default() },
            ..SandboxSettings::default()
        };
        let sandbox = Sandbox::start(settings).await.unwrap();
        let p = provider(&sandbox).await;
        let id = ids::conversation_id(2);

        let first = p.chat_activities(&id).await.unwrap();
        assert_eq!(sorted(keys(&first)), sorted(expected(&sandbox, 2)), "inclusive={inclusive}");
        assert!(first.windows(2).all(|w| w[0].event_id <= w[1].event_id), "event order");
        let reads = sandbox.hubster.activity_reads();
        assert_eq!(reads.len(), 3, "one read per integration type");
        assert!(reads.iter().all(|r| r.leid.is_none()));

        // A message in the same millisecond as the last activity, and one later.
        let last = first.last().unwrap().event_id;
        sandbox.hubster.push_message(2, Party::Customer, Party::Agent, "Same millisecond.", last);
        sandbox.hubster.push_message(2, Party::Agent, Party::Customer, "Later.", last + 7);
        let second = p.chat_activities(&id).await.unwrap();
        assert_eq!(sorted(keys(&second)), sorted(expected(&sandbox, 2)), "inclusive={inclusive}");
        assert_eq!(second.len(), first.len() + 2, "each new message once, nothing repeated");
        let reads = sandbox.hubster.activity_reads();
        let last_seen: HashMap<&str, i64> =
            [("Customer", Party::Customer), ("Agent", Party::Agent), ("Bot", Party::Bot)]
                .into_iter()
                .map(|(name, party)| {
                    let max = sandbox.hubster.data().conversations[2]
                        .activities
                        .iter()
                        .filter(|a| a.involves(party))
                        .map(|a| a.event_id)
                        .max()
                        .unwrap();
                    (name, max)
                })
                .collect();
        for r in &reads[3..] {
            assert_eq!(r.leid, Some(last_seen[r.kind.as_str()] - 1), "{r:?}");
            assert!(r.returned <= 4, "only the last millisecond again and what is new: {r:?}");
        }

        // And once more at the new boundary.
        sandbox.hubster.push_message(2, Party::Bot, Party::Customer, "Also later.", last + 7);
        let third = p.chat_activities(&id).await.unwrap();
        assert_eq!(third.len(), second.len() + 1);
        assert_eq!(sorted(keys(&third)), sorted(expected(&sandbox, 2)));
        let bot = third.iter().find(|a| a.text.as_deref() == Some("Also later.")).unwrap();
        assert_eq!((bot.sender.party, bot.sender.channel.as_deref()), (ChatParty::Bot, Some("Bot")));
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn an_unknown_conversation_has_no_activities_and_no_transcript() {
    let sandbox = Sandbox::start(SandboxSettings { people: 6, calls: 10, ..SandboxSettings::default() }).await.unwrap();
    let p = provider(&sandbox).await;
    let unknown = "3fa85f64-5717-4562-b3fc-2c963f66afa6".to_owned();
    assert!(p.chat_activities(&unknown).await.unwrap().is_empty());
    assert!(p.transcripts(std::slice::from_ref(&unknown)).await.unwrap().is_empty());
    assert!(p.calls_by_ids(&[unknown, "../v2/users".into()]).await.unwrap().is_empty());
    sandbox.shutdown().await;
}

/// A provider reading the loopback engine `app` (a bearer token, no pacing).
async fn loopback(app: axum::Router) -> HubsterProvider {
    let credentials = Credentials::Bearer { token: Secret::new("t") };
    let transport = crate::providers::transport::loopback(ProviderKind::Hubster, "hub", &credentials, app).await;
    HubsterProvider::new(transport, Cache::new(&Default::default()), Arc::from("hub"), Vec::new(), Duration::ZERO)
}

/// A conversation the engine sends in a form that cannot be read (no id, a blank or
/// null id, an id of the wrong type, not an object) is no record with a note, not a
/// failed request; odd fields cost only themselves, extra fields nothing; readable
/// conversations asked beside it still come out.
#[tokio::test]
async fn a_conversation_that_cannot_be_read_is_no_record_with_a_note() {
    use axum::{Json, Router, extract::Path, routing::get};
    use serde_json::{Value, json};
    let bodies: HashMap<&'static str, Value> = HashMap::from([
        (
            "good",
            json!({
                "conversationId": "good", "tokenId": "tok", "openedDateTime": 1604758399703u64,
                "integration": { "channelType": "WebChat", "hub": { "hubId": "h" } },
                "properties": { "profile": { "firstName": "Jane", "lastName": "Doe" }, "additional": { "any": [1] } },
                "somethingNew": { "deep": true }
            }),
        ),
        ("numeric", json!({ "conversationId": 42, "integration": { "channelType": 3 } })),
        (
            "odd",
            json!({
                "conversationId": "odd", "tokenId": ["x"], "openedDateTime": "whenever",
                "integration": "WebChat", "properties": { "profile": { "firstName": 7, "email": { "a": 1 } } }
            }),
        ),
        ("missing", json!({ "tokenId": "tok", "integration": { "channelType": "WebChat" } })),
        ("null", json!({ "conversationId": null, "tokenId": "tok" })),
        ("blank", json!({ "conversationId": "  ", "tokenId": "tok" })),
        ("wrong", json!({ "conversationId": { "id": "wrong" }, "tokenId": "tok" })),
        ("list", json!([{ "conversationId": "list" }])),
        ("text", json!("a conversation")),
    ]);
    let app = Router::new().route(
        "/api/v1/conversations/{id}",
        get(move |Path(id): Path<String>| {
            let body = bodies[id.as_str()].clone();
            async move { Json(body) }
        }),
    );
    let p = loopback(app).await;

    let (good, notes) = crate::accounting::capture(p.calls_by_ids(&["good".into()])).await;
    let good = good.unwrap();
    assert!(notes.is_empty(), "{:?}", notes.iter().map(|n| n.error.to_string()).collect::<Vec<_>>());
    let call = &good[0];
    assert_eq!(call.remote_id, "good");
    assert_eq!(call.platform.as_deref(), Some("WebChat"));
    assert_eq!(call.started_at.unwrap().timestamp_millis(), 1_604_758_399_703, "epoch milliseconds");
    let customer = &call.participants.as_ref().unwrap()[0];
    assert_eq!((customer.name.as_deref(), customer.remote_id.as_deref()), (Some("Jane Doe"), Some("tok")));
    assert_eq!(call.raw["somethingNew"]["deep"], true, "extra fields stay in remoteData");

    // A list did not answer the lookup: a failed request, as malformed JSON is, not
    // "no such conversation".
    for foreign in ["list"] {
        let (found, notes) = crate::accounting::capture(p.calls_by_ids(&[foreign.into()])).await;
        let err = found.expect_err(foreign);
        assert_eq!(err.code(), crate::error::ErrorCode::ProviderError, "{foreign}: {err}");
        assert!(err.to_string().contains("not the answer asked for"), "{foreign}: {err}");
        assert!(notes.is_empty(), "{foreign}");
    }

    for bad in ["missing", "null", "blank", "wrong", "text"] {
        let (found, notes) = crate::accounting::capture(p.calls_by_ids(&[bad.into()])).await;
        assert!(found.unwrap().is_empty(), "{bad}: no record");
        let messages: Vec<String> = notes.iter().map(|n| n.error.to_string()).collect();
        assert_eq!(notes.len(), 1, "{bad}: {messages:#?}");
        assert_eq!(notes[0].error.code(), crate::error::ErrorCode::UpstreamRecordInvalid, "{bad}");
        assert!(messages[0].contains("left out"), "{bad}: {}", messages[0]);
    }

    // Asked together: the readable ones, in order; one note for the unreadable one.
    let asked: Vec<String> = ["numeric", "missing", "odd", "good"].map(String::from).into();
    let (found, notes) = crate::accounting::capture(p.calls_by_ids(&asked)).await;
    let found = found.unwrap();
    let ids: Vec<&str> = found.iter().map(|c| c.remote_id.as_str()).collect();
    assert_eq!(ids, ["42", "odd", "good"]);
    assert_eq!(found[0].platform.as_deref(), Some("3"), "a numeric channel type is its text");
    let odd = &found[1];
    assert_eq!((odd.started_at, odd.platform.as_deref()), (None, None), "unreadable fields are null");
    let odd_customer = &odd.participants.as_ref().unwrap()[0];
    assert_eq!((odd_customer.remote_id.as_deref(), odd_customer.name.as_deref()), (None, Some("7")));
    assert_eq!(odd_customer.email, None);
    let messages: Vec<String> = notes.iter().map(|n| n.error.to_string()).collect();
    assert_eq!(notes.iter().filter(|n| n.record.as_deref() == Some("odd")).count(), 4, "{messages:#?}");
    assert_eq!(messages.iter().filter(|m| m.contains("left out")).count(), 1, "{messages:#?}");
    assert_eq!(notes.len(), 5, "{messages:#?}");

    // The transcript of an unreadable conversation is none, not a failure.
    let (t, _) = crate::accounting::capture(p.transcripts(&["missing".into()])).await;
    assert!(t.unwrap().is_empty());
}
