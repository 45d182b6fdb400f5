//! Hubster wire models → domain records: a conversation is a chat `Call` (the
//! customer as its participant, the customer's channel as its platform), each
//! activity a `ChatActivity`, and the messages of the merged activities (without
//! echoes) the `Transcript`, spoken by customer, agent or bot on their channels.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::model::{Activity, Conversation, Party, WithRaw};
use crate::domain::{
    Affiliation, Call, CallDirection, ChatActivity, ChatActivityKind, ChatEndpoint, ChatParty, Medium, Participant,
    Raw, Segment, SpeakerType, Transcript, TranscriptSpeaker,
};

use crate::providers::wire::timestamp;

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The party of an integration type.
pub(crate) fn party(integration_type: Option<&str>) -> ChatParty {
    match integration_type.map(str::to_ascii_lowercase).as_deref() {
        Some("customer") => ChatParty::Customer,
        Some("agent") => ChatParty::Agent,
        Some("bot") => ChatParty::Bot,
        Some("system") => ChatParty::System,
        _ => ChatParty::Unknown,
    }
}

fn party_name(p: ChatParty) -> &'static str {
    match p {
        ChatParty::Customer => "Customer",
        ChatParty::Agent => "Agent",
        ChatParty::Bot => "Bot",
        ChatParty::System => "System",
        ChatParty::Unknown => "Unknown",
    }
}

/// The name, email and phone of the conversation's customer profile.
fn customer(c: &Conversation) -> (Option<String>, Option<String>, Option<String>) {
    let Some(p) = c.properties.as_ref().and_then(|p| p.profile.as_ref()) else { return (None, None, None) };
    let name = match (non_empty(&p.first_name), non_empty(&p.last_name)) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (a, b) => a.or(b),
    };
    (name, non_empty(&p.email), non_empty(&p.phone))
}

pub(crate) fn call(c: WithRaw<Conversation>) -> Call {
    let d = &c.data;
    let (name, email, phone) = customer(d);
    let participant = Participant {
        remote_id: non_empty(&d.token_id),
        name,
        email,
        title: None,
        phone,
        user_remote_id: None,
        speaker_id: non_empty(&d.token_id),
        affiliation: Affiliation::External,
        roles: vec!["Customer".into()],
        talk_time_secs: None,
    };
    Call {
        remote_id: d.conversation_id.clone(),
        title: None,
        url: None,
        scheduled_at: None,
        started_at: timestamp(d.opened_date_time.as_deref()),
        duration_secs: None,
        direction: CallDirection::Unknown,
        scope: Affiliation::External,
        medium: Some(Medium::Chat),
        platform: d.integration.as_ref().and_then(|i| non_empty(&i.channel_type)),
        language: None,
        purpose: None,
        host_remote_id: None,
        participants: Some(vec![participant]),
        topics: None,
        trackers: None,
        summary: None,
        stats: None,
        state: None,
        crm_matches: None,
        metadata: None,
        host_email: None,
        raw: c.raw,
    }
}

fn endpoint(p: &Option<Party>) -> ChatEndpoint {
    match p {
        Some(p) => ChatEndpoint {
            party: party(p.integration_type.as_deref()),
            integration_id: non_empty(&p.integration_id),
            channel: non_empty(&p.channel_type),
            token_id: non_empty(&p.token_id),
        },
        None => ChatEndpoint { party: ChatParty::Unknown, integration_id: None, channel: None, token_id: None },
    }
}

pub(crate) fn activity(call_id: &str, a: &WithRaw<Activity>) -> ChatActivity {
    let d = &a.data;
    ChatActivity {
        call_remote_id: call_id.to_owned(),
        event_id: d.event_id,
        kind: if d.message.is_some() { ChatActivityKind::Message } else { ChatActivityKind::Event },
        trigger: non_empty(&d.event_trigger),
        sender: endpoint(&d.sender),
        recipient: endpoint(&d.recipient),
        text: d.message.as_ref().and_then(|m| m.text.clone()),
        message_type: d.message.as_ref().and_then(|m| non_empty(&m.kind)),
        payload_type: d.event.as_ref().and_then(|e| non_empty(&e.payload_type)),
        payload: d.event.as_ref().and_then(|e| e.payload.clone()),
        is_echo: d.is_echo,
        interaction_id: non_empty(&d.interaction_id),
        external_id: non_empty(&d.external_id),
        flow_process: non_empty(&d.flow_process),
        raw: a.raw.clone(),
    }
}

/// Who sent an activity, as a transcript speaker id: the participant's token, or its
/// integration.
fn speaker_id(e: &ChatEndpoint) -> Option<String> {
    e.token_id.clone().or_else(|| e.integration_id.clone())
}

/// The transcript of a chat: its messages (echoes left out) in event order, times
/// in milliseconds from `opened` (or from the first activity).
pub(crate) fn transcript(call: &Call, activities: &[ChatActivity]) -> Transcript {
    let origin = call.started_at.map(|t| t.timestamp_millis()).or_else(|| activities.first().map(|a| a.event_id));
    let messages: Vec<&ChatActivity> =
        activities.iter().filter(|a| a.kind == ChatActivityKind::Message && !a.is_echo).collect();
    let customer = call.participants.as_ref().and_then(|p| p.first());
    let mut speakers: BTreeMap<String, TranscriptSpeaker> = BTreeMap::new();
    for m in &messages {
        let Some(id) = speaker_id(&m.sender) else { continue };
        speakers.entry(id.clone()).or_insert_with(|| {
            let is_customer = m.sender.party == ChatParty::Customer;
            TranscriptSpeaker {
                speaker_id: id,
                name: customer.filter(|_| is_customer).and_then(|c| c.name.clone()),
                email: customer.filter(|_| is_customer).and_then(|c| c.email.clone()),
                kind: match m.sender.party {
                    ChatParty::Customer => SpeakerType::External,
                    ChatParty::Agent | ChatParty::Bot => SpeakerType::Internal,
                    ChatParty::System | ChatParty::Unknown => SpeakerType::Unknown,
                },
                roles: vec![party_name(m.sender.party).into()],
                channel: m.sender.channel.clone(),
            }
        });
    }
    let segments = messages
        .iter()
        .map(|m| {
            let at = origin.map_or(0, |o| m.event_id.saturating_sub(o).max(0));
            Segment {
                speaker_id: speaker_id(&m.sender),
                topic: None,
                start_ms: at,
                end_ms: at,
                text: m.text.clone().unwrap_or_else(|| format!("[{}]", m.message_type.as_deref().unwrap_or("message"))),
            }
        })
        .collect();
    let raw = json!({ "activities": messages.iter().map(|m| (*m.raw).clone()).collect::<Vec<Value>>() });
    Transcript {
        call_remote_id: call.remote_id.clone(),
        speakers: Some(speakers.into_values().collect()),
        segments,
        raw: Raw::new(raw),
    }
}

/// A key equal for equal activities whatever their field order (the same activity
/// comes back from the reads of both its sender's and its recipient's type).
pub(crate) fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> =
                keys.into_iter().map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k]))).collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::hubster::Merged;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let text =
            std::fs::read_to_string(format!("{}/tests/fixtures/hubster/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn a_conversation_is_a_chat_call_with_its_customer() {
        let call = call(fixture("conversation.json"));
        assert_eq!(call.remote_id, "4f3c2a1b-8d7e-4c6b-9a5f-1e2d3c4b5a69");
        assert_eq!(call.medium, Some(Medium::Chat));
        assert_eq!(call.platform.as_deref(), Some("WebChat"));
        assert_eq!(call.started_at.unwrap().timestamp_millis(), 1_604_758_399_703);
        let c = &call.participants.as_ref().unwrap()[0];
        assert_eq!((c.name.as_deref(), c.email.as_deref()), (Some("Jane Doe"), Some("jane.doe@globex.com")));
        assert_eq!(c.roles, ["Customer"]);
    }

    #[test]
    fn reads_by_type_merge_without_duplicates_in_event_order_and_echoes_stay_out_of_the_transcript() {
        let call = call(fixture("conversation.json"));
        let customer: Vec<WithRaw<Activity>> = fixture("activities_customer.json");
        let agent: Vec<WithRaw<Activity>> = fixture("activities_agent.json");
        let mut merged = Merged::default();
        merged.merge(customer);
        merged.merge(agent);
        let acts: Vec<ChatActivity> = merged.items.iter().map(|a| activity(&call.remote_id, a)).collect();
        let ids: Vec<i64> = acts.iter().map(|a| a.event_id).collect();
        assert_eq!(ids, [1604758399703, 1604783877000, 1604783877593, 1604783877594], "each once, in order");
        let event = &acts[1];
        assert_eq!(event.kind, ChatActivityKind::Event);
        assert_eq!(event.payload_type.as_deref(), Some("agent:joined"));
        assert_eq!((event.sender.party, event.sender.channel.as_deref()), (ChatParty::Agent, Some("Slack")));
        assert!(acts[3].is_echo);

        let t = transcript(&call, &acts);
        let lines: Vec<(i64, &str)> = t.segments.iter().map(|s| (s.start_ms, s.text.as_str())).collect();
        assert_eq!(lines, [(0, "Hi there!"), (1604783877593 - 1604758399703, "Hello! How can I help you today?")]);
        let speakers = t.speakers.unwrap();
        let customer = speakers.iter().find(|s| s.roles == ["Customer"]).unwrap();
        assert_eq!((customer.name.as_deref(), customer.channel.as_deref()), (Some("Jane Doe"), Some("WebChat")));
        assert_eq!(customer.kind, SpeakerType::External);
        let agent = speakers.iter().find(|s| s.roles == ["Agent"]).unwrap();
        assert_eq!((agent.kind, agent.channel.as_deref()), (SpeakerType::Internal, Some("Slack")));
        assert_eq!(t.segments[1].speaker_id.as_deref(), Some(agent.speaker_id.as_str()));
    }
}
