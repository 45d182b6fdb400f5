//! Salesloft wire models → domain records: a conversation is a `Call` (duration
//! milliseconds → seconds, the owner's guid as host, account and person as CRM
//! links), a user is a `User` keyed by its guid (the id conversations name), and the
//! ordered sentences of a transcription are a `Transcript`.

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::model::{Conversation, Sentence, User as SlUser, WithRaw};
use crate::domain::{
    Affiliation, Call, CallDirection, CrmEntity, CrmMatch, Medium, Raw, Segment, SpeakerType, Transcript,
    TranscriptSpeaker, User,
};

use crate::providers::wire::timestamp;

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The medium of a `media_type`.
pub(crate) fn medium(media_type: Option<&str>) -> Option<Medium> {
    match media_type.map(str::to_ascii_lowercase).as_deref() {
        Some("audio") => Some(Medium::Audio),
        Some("video") => Some(Medium::Video),
        Some(s) if !s.trim().is_empty() => Some(Medium::Other),
        _ => None,
    }
}

pub(crate) fn call(c: WithRaw<Conversation>) -> Call {
    let d = c.data;
    // `0` is no time (the reference's own example sends it beside a real
    // `event_start_date`): the event's start is read instead.
    let started = d
        .started_recording_at
        .filter(|ms| ms.is_finite() && *ms > 0.0)
        .and_then(|ms| Utc.timestamp_millis_opt(ms as i64).single())
        .or_else(|| timestamp(d.event_start_date.as_deref()));
    let account = d.account.as_ref().and_then(|a| a.id.clone()).map(|id| CrmEntity { crm_id: id.0, name: None });
    let person = d.person.as_ref().and_then(|p| p.id.clone()).map(|id| CrmEntity { crm_id: id.0, name: None });
    let external = account.is_some() || person.is_some();
    let crm_matches = external.then(|| {
        vec![CrmMatch {
            crm_name: Some("Salesloft".into()),
            activity_crm_id: d.call_id.clone().map(|id| id.0),
            account,
            contacts: person.into_iter().collect(),
            engagement: None,
        }]
    });
    Call {
        remote_id: d.id,
        title: non_empty(&d.title),
        url: None,
        scheduled_at: timestamp(d.event_start_date.as_deref()),
        started_at: started,
        duration_secs: d.duration.filter(|ms| ms.is_finite()).map(|ms| ms / 1000.0),
        // Salesloft does not say who called whom.
        direction: CallDirection::Unknown,
        scope: if external { Affiliation::External } else { Affiliation::Unknown },
        medium: medium(d.media_type.as_deref()),
        platform: non_empty(&d.platform),
        language: non_empty(&d.language_code),
        purpose: None,
        host_remote_id: non_empty(&d.owner_id),
        participants: None,
        topics: None,
        trackers: None,
        summary: None,
        stats: None,
        state: None,
        crm_matches,
        metadata: None,
        host_email: None,
        raw: c.raw,
    }
}

/// The transcription id a conversation names, if it has one.
pub(crate) fn transcription_id(call: &Call) -> Option<String> {
    match call.raw.get("transcription").and_then(|t| t.get("id")) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn user(u: WithRaw<SlUser>) -> User {
    let SlUser { key, fields: d } = u.data;
    let (mut first, last) = (non_empty(&d.first_name), non_empty(&d.last_name));
    if first.is_none() && last.is_none() {
        first = non_empty(&d.name);
    }
    User {
        // Conversations name their owner by guid, so the guid is the user's id.
        remote_id: key,
        email: non_empty(&d.email),
        email_aliases: Vec::new(),
        first_name: first,
        last_name: last,
        title: non_empty(&d.job_role),
        phone: None,
        active: d.active,
        manager_remote_id: None,
        created_at: timestamp(d.created_at.as_deref()),
        team: None,
        department: None,
        system_ids: Vec::new(),
        raw: u.raw,
    }
}

/// The transcript of `call_id` from its sentences (any order; sorted by `order_number`).
pub(crate) fn transcript(call_id: &str, transcription_id: &str, sentences: Vec<WithRaw<Sentence>>) -> Transcript {
    let mut sentences = sentences;
    sentences.sort_by_key(|s| s.data.order_number.unwrap_or(i64::MAX));
    let ms = |secs: Option<f64>| secs.filter(|s| s.is_finite()).map_or(0, |s| (s * 1000.0).round() as i64);
    let speakers: BTreeSet<String> =
        sentences.iter().filter_map(|s| s.data.recording_attendee_id.clone()).filter(|s| !s.is_empty()).collect();
    let raw = json!({
        "transcription": { "id": transcription_id },
        "sentences": sentences.iter().map(|s| (*s.raw).clone()).collect::<Vec<_>>(),
    });
    Transcript {
        call_remote_id: call_id.to_owned(),
        // Salesloft names speakers by recording attendee only.
        speakers: Some(
            speakers
                .into_iter()
                .map(|id| TranscriptSpeaker {
                    speaker_id: id,
                    name: None,
                    email: None,
                    kind: SpeakerType::Unknown,
                    roles: Vec::new(),
                    channel: None,
                })
                .collect(),
        ),
        segments: sentences
            .into_iter()
            .map(|s| Segment {
                speaker_id: s.data.recording_attendee_id,
                topic: None,
                start_ms: ms(s.data.start_time),
                end_ms: ms(s.data.end_time),
                text: s.data.text.unwrap_or_default(),
            })
            .collect(),
        raw: Raw::new(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::salesloft::model::List;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/salesloft/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn a_conversation_is_a_call_with_seconds_its_owner_as_host_and_crm_links() {
        let c: WithRaw<Conversation> = serde_json::from_str(&fixture("conversation.json")).unwrap();
        let call = call(c);
        assert_eq!(call.remote_id, "3fa85f64-5717-4562-b3fc-2c963f66afa6");
        assert_eq!(call.duration_secs, Some(1834.417));
        assert_eq!(call.started_at.unwrap().timestamp_millis(), 1_772_550_061_000);
        assert_eq!(call.scheduled_at.unwrap().to_rfc3339(), "2026-03-03T15:00:00+00:00");
        assert_eq!(call.medium, Some(Medium::Video));
        assert_eq!((call.platform.as_deref(), call.language.as_deref()), (Some("zoom"), Some("en-US")));
        assert_eq!(call.host_remote_id.as_deref(), Some("6b0e2f4e-9a7e-4c55-8c1d-2f7b0c9d1e2a"));
        assert_eq!(call.direction, CallDirection::Unknown);
        assert_eq!(call.scope, Affiliation::External);
        let crm = &call.crm_matches.as_ref().unwrap()[0];
        assert_eq!(crm.account.as_ref().unwrap().crm_id, "7300004");
        assert_eq!(crm.contacts[0].crm_id, "9100017", "numeric ids become strings");
        assert_eq!(transcription_id(&call).as_deref(), Some("b7c1d2e3-2222-4f4a-9b8c-1d2e3f4a5b6c"));
        assert_eq!(call.raw["organization_id"], "0d1e7f7c-2d8a-4b11-9d1e-8f3f1c2b3a4d");
    }

    #[test]
    fn a_recording_start_of_zero_is_no_time_and_the_event_start_is_read() {
        let c: WithRaw<Conversation> = serde_json::from_value(serde_json::json!({
            "id": "c", "duration": 0, "started_recording_at": 0, "event_start_date": "2025-02-13T22:11:57.792Z"
        }))
        .unwrap();
        let call = call(c);
        assert_eq!(call.started_at.unwrap().to_rfc3339(), "2025-02-13T22:11:57.792+00:00");
        assert_eq!(call.duration_secs, Some(0.0));
    }

    #[test]
    fn a_user_is_keyed_by_guid() {
        let u: WithRaw<SlUser> = serde_json::from_str(&fixture("user.json")).unwrap();
        let u = user(u);
        assert_eq!(u.remote_id, "6b0e2f4e-9a7e-4c55-8c1d-2f7b0c9d1e2a");
        assert_eq!(u.email.as_deref(), Some("v.rossi@acme.io"));
        assert_eq!(u.name().as_deref(), Some("Vera Rossi"));
        assert_eq!(u.title.as_deref(), Some("Account Executive"));
        assert_eq!(u.raw["id"], 41051, "the integer id stays in remoteData");
    }

    #[test]
    fn sentences_become_segments_in_order_with_milliseconds() {
        let list: List<Sentence> = serde_json::from_str(&fixture("sentences.json")).unwrap();
        let t = transcript("conv", "tr", list.data.into());
        let texts: Vec<&str> = t.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["Thanks for making the time today.", "Happy to be here.", "Let me share my screen."]);
        assert_eq!((t.segments[0].start_ms, t.segments[0].end_ms), (120, 3900));
        assert_eq!(t.segments[1].speaker_id.as_deref(), Some("att-b"));
        assert_eq!(t.speakers.as_ref().unwrap().len(), 2);
        assert_eq!(t.raw["sentences"].as_array().unwrap().len(), 3);
    }
}
