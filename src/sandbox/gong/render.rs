//! World entities rendered as Gong JSON (field names and types per Gong's spec).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ids;
use crate::sandbox::world::{
    ACTIVITY_COUNTERS, ActivityCounters, AnsweredScorecard, Call, Person, Scorecard, Speaker, World,
};

/// ISO-8601 with the company time zone's offset, e.g. `2026-01-05T09:30:00-05:00`.
pub(crate) fn iso(world: &World, t: DateTime<Utc>) -> String {
    t.with_timezone(&world.time_zone).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Company-tz midnight of `day`, ISO-8601 with offset.
pub(crate) fn iso_day(world: &World, day: NaiveDate) -> String {
    iso(world, world.day_start(day))
}

pub(crate) fn user(world: &World, p: &Person) -> Value {
    let handle = format!("{}.{}", p.first_name.to_lowercase(), p.last_name.to_lowercase());
    let mut v = json!({
        "id": ids::user_id(p.index),
        "emailAddress": p.email,
        "created": iso(world, p.created),
        "active": p.active,
        "emailAliases": p.email_aliases,
        "trustedEmailAddress": p.email,
        "firstName": p.first_name,
        "lastName": p.last_name,
        "title": p.title,
        "phoneNumber": p.phone,
        "extension": p.extension,
        "personalMeetingUrls": [format!("https://zoom.us/j/{}", 8_100_000_000u64 + p.index as u64 * 7)],
        "settings": {
            "webConferencesRecorded": p.active,
            "preventWebConferenceRecording": false,
            "telephonyCallsImported": p.active,
            "emailsImported": true,
            "preventEmailImport": false,
            "nonRecordedMeetingsImported": true,
            "gongConnectEnabled": p.active,
        },
        "meetingConsentPageUrl": format!("https://join.gong.io/acme-demo/{handle}?tkn=sandbox{}", p.index),
        "spokenLanguages": [ { "language": p.language, "primary": true } ],
    });
    if let Some(m) = p.manager {
        v["managerId"] = json!(ids::user_id(m));
    }
    v
}

/// Avatars: synthetic Gong staff users (only with `includeAvatars`).
pub(crate) const AVATARS: [(&str, &str, &str); 2] =
    [("Gong", "Support", "Support Engineer"), ("Gong", "CSM", "Customer Success Manager")];

pub(crate) fn avatar(world: &World, a: usize) -> Value {
    let (first, last, title) = AVATARS[a];
    json!({
        "id": ids::avatar_id(a),
        "emailAddress": format!("{}.{}.avatar@gong.io", first.to_lowercase(), last.to_lowercase()),
        "created": iso(world, world.window_start - chrono::Duration::days(400)),
        "active": true,
        "emailAliases": [],
        "firstName": first,
        "lastName": last,
        "title": title,
        "settings": {
            "webConferencesRecorded": false,
            "preventWebConferenceRecording": true,
            "telephonyCallsImported": false,
            "emailsImported": false,
            "preventEmailImport": true,
            "nonRecordedMeetingsImported": false,
            "gongConnectEnabled": false,
        },
        "spokenLanguages": [ { "language": "en-US", "primary": true } ],
    })
}

pub(crate) fn call_basic(world: &World, c: &Call) -> Value {
    let id = ids::call_id(c.index);
    let mut v = json!({
        "id": id,
        "url": format!("https://app.gong.io/call?id={id}"),
        "title": c.title,
        "scheduled": iso(world, c.scheduled),
        "started": iso(world, c.started),
        "duration": c.duration_secs,
        "primaryUserId": ids::user_id(c.host),
        "direction": c.direction.as_str(),
        "system": c.system.as_str(),
        "scope": if c.is_external() { "External" } else { "Internal" },
        "media": c.media.as_str(),
        "language": c.language,
        "workspaceId": ids::WORKSPACE_ID,
        "purpose": c.purpose,
        "isPrivate": c.is_private,
    });
    if c.system.is_web_conference() {
        v["meetingUrl"] = json!(format!("https://zoom.us/j/{}", 9_200_000_000u64 + c.index as u64));
        v["calendarEventId"] = json!(format!("evt{:08x}@acme-demo.com", c.index * 2_654_435 % 0xffff_ffff));
    } else {
        v["clientUniqueId"] = json!(format!("DIALER-{:010}", c.index * 7 + 1_000_000));
        v["sdrDisposition"] = json!(if c.outcome.id == "NOT_INTERESTED" { "Not interested" } else { "Connected" });
    }
    v
}

/// `contentSelector` of `/v2/calls/extensive`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ContentSelector {
    pub(crate) context: Option<String>,
    pub(crate) context_timing: Option<Vec<String>>,
    pub(crate) exposed_fields: ExposedFields,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ExposedFields {
    pub(crate) parties: bool,
    pub(crate) content: ContentFlags,
    pub(crate) interaction: InteractionFlags,
    pub(crate) collaboration: CollaborationFlags,
    pub(crate) media: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ContentFlags {
    pub(crate) structure: bool,
    pub(crate) topics: bool,
    pub(crate) trackers: bool,
    pub(crate) tracker_occurrences: bool,
    pub(crate) points_of_interest: bool,
    pub(crate) brief: bool,
    pub(crate) outline: bool,
    pub(crate) highlights: bool,
    pub(crate) call_outcome: bool,
    pub(crate) key_points: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct InteractionFlags {
    pub(crate) speakers: bool,
    pub(crate) video: bool,
    pub(crate) person_interaction_stats: bool,
    pub(crate) questions: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct CollaborationFlags {
    pub(crate) public_comments: bool,
}

/// Context level requested: 0 = None, 1 = Basic, 2 = Extended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContextLevel {
    None,
    Basic,
    Extended,
}

fn opportunity_stage(purpose: &str) -> &'static str {
    match purpose {
        "Discovery" | "Prospecting" => "Qualification",
        "Demo" => "Solution Review",
        "Pricing Review" | "Negotiation" => "Negotiation",
        "Onboarding" | "QBR" => "Closed Won",
        _ => "Discovery",
    }
}

fn call_context(world: &World, c: &Call, level: ContextLevel, timings: &[String]) -> Value {
    let Some(ci) = c.company else {
        return json!([]);
    };
    let company = &world.companies[ci];
    let mut objects = Vec::new();
    for timing in timings {
        let extended = level == ContextLevel::Extended;
        let stage = if timing == "TimeOfCall" {
            opportunity_stage(&c.purpose)
        } else if ci % 2 == 0 {
            "Closed Won"
        } else {
            "Negotiation"
        };
        let mut account = json!({ "objectType": "Account", "objectId": company.crm_account_id });
        let mut opp = json!({ "objectType": "Opportunity", "objectId": company.crm_opportunity_id });
        if extended {
            account["fields"] = json!([
                { "name": "Name", "value": company.name },
                { "name": "Website", "value": format!("https://www.{}", company.domain) },
            ]);
            opp["fields"] = json!([
                { "name": "Name", "value": format!("{} - New Business", company.name) },
                { "name": "Amount", "value": company.opportunity_amount },
                { "name": "StageName", "value": stage },
            ]);
            account["timing"] = json!(timing);
            opp["timing"] = json!(timing);
        }
        objects.push(account);
        objects.push(opp);
        if !extended {
            break;
        }
    }
    json!([{ "system": "Salesforce", "objects": objects }])
}

fn parties(world: &World, c: &Call, level: ContextLevel, timings: &[String]) -> Value {
    let parties: Vec<Value> = c
        .participants
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let mut v = json!({ "id": ids::party_id(c.index, k) });
            let mut methods = Vec::new();
            if p.invited {
                methods.push("Invitee");
            }
            if p.attended {
                methods.push("Attendee");
                v["speakerId"] = json!(ids::speaker_id(c.index, k));
            }
            v["methods"] = json!(methods);
            match p.who {
                Speaker::Person(i) => {
                    let person = &world.people[i];
                    v["emailAddress"] = json!(person.email);
                    v["name"] = json!(person.full_name());
                    v["title"] = json!(person.title);
                    v["userId"] = json!(ids::user_id(i));
                    v["affiliation"] = json!("Internal");
                    v["phoneNumber"] = json!(person.phone);
                }
                Speaker::Contact(ci) => {
                    let contact = &world.contacts[ci];
                    v["emailAddress"] = json!(contact.email);
                    v["name"] = json!(contact.full_name());
                    v["title"] = json!(contact.title);
                    v["affiliation"] = json!("External");
                    v["phoneNumber"] = json!(contact.phone);
                    if level != ContextLevel::None {
                        let mut obj = json!({ "objectType": "Contact", "objectId": contact.crm_contact_id });
                        if level == ContextLevel::Extended {
                            obj["fields"] = json!([
                                { "name": "Email", "value": contact.email },
                                { "name": "Title", "value": contact.title },
                            ]);
                            obj["timing"] = json!(timings.first().map_or("Now", String::as_str));
                        }
                        v["context"] = json!([{ "system": "Salesforce", "objects": [obj] }]);
                    }
                }
            }
            v
        })
        .collect();
    Value::Array(parties)
}

fn content(world: &World, c: &Call, f: &ContentFlags) -> Option<Value> {
    let mut m = Map::new();
    if f.structure {
        let first = c.topics.first().map_or(0, |t| t.duration_secs);
        let last = c.topics.last().map_or(0, |t| t.duration_secs);
        let middle = c.duration_secs.saturating_sub(first + last);
        m.insert(
            "structure".into(),
            json!([
                { "name": "Meeting Setup", "duration": first },
                { "name": c.purpose, "duration": middle },
                { "name": "Next Steps", "duration": last },
            ]),
        );
    }
    if f.topics {
        let topics: Vec<Value> =
            c.topics.iter().map(|t| json!({ "name": t.name, "duration": t.duration_secs })).collect();
        m.insert("topics".into(), Value::Array(topics));
    }
    if f.trackers {
        let occ = |o: &crate::sandbox::world::TrackerOccurrence| json!({ "startTime": o.start_secs, "speakerId": ids::speaker_id(c.index, o.participant) });
        let trackers: Vec<Value> = c
            .trackers
            .iter()
            .map(|hit| {
                let def = &world.trackers[hit.tracker];
                let mut v = json!({
                    "id": ids::tracker_id(def.index),
                    "name": def.name,
                    "count": hit.occurrences.len(),
                    "type": if def.smart { "SMART" } else { "KEYWORD" },
                });
                if f.tracker_occurrences {
                    v["occurrences"] = json!(hit.occurrences.iter().map(occ).collect::<Vec<_>>());
                }
                if !def.smart {
                    let phrases: Vec<Value> = def
                        .phrases
                        .iter()
                        .enumerate()
                        .filter_map(|(pi, phrase)| {
                            let os: Vec<_> = hit.occurrences.iter().filter(|o| o.phrase == Some(pi)).collect();
                            if os.is_empty() {
                                return None;
                            }
                            let mut pv = json!({ "count": os.len(), "phrase": phrase });
                            if f.tracker_occurrences {
                                pv["occurrences"] = json!(os.iter().map(|o| occ(o)).collect::<Vec<_>>());
                            }
                            Some(pv)
                        })
                        .collect();
                    v["phrases"] = Value::Array(phrases);
                }
                v
            })
            .collect();
        m.insert("trackers".into(), Value::Array(trackers));
    }
    if f.points_of_interest {
        let items: Vec<Value> = c
            .action_items
            .iter()
            .map(|a| {
                json!({
                    "snippetStartTime": a.start_secs,
                    "snippetEndTime": a.end_secs,
                    "speakerID": ids::speaker_id(c.index, a.participant),
                    "snippet": a.snippet,
                })
            })
            .collect();
        m.insert("pointsOfInterest".into(), json!({ "actionItems": items }));
    }
    if f.brief {
        m.insert("brief".into(), json!(c.brief));
    }
    if f.outline {
        let outline: Vec<Value> = c
            .topics
            .iter()
            .map(|t| {
                json!({
                    "section": t.name,
                    "startTime": f64::from(t.start_secs),
                    "duration": f64::from(t.duration_secs),
                    "items": [ {
                        "text": format!("Discussion of {}", t.name.to_lowercase()),
                        "startTime": f64::from(t.start_secs),
                    } ],
                })
            })
            .collect();
        m.insert("outline".into(), Value::Array(outline));
    }
    if f.highlights {
        let hs: Vec<Value> = c
            .highlights
            .iter()
            .map(|h| {
                json!({
                    "title": h.title,
                    "items": h.items.iter().map(|(text, at)| json!({ "text": text, "startTimes": [at] })).collect::<Vec<_>>(),
                })
            })
            .collect();
        m.insert("highlights".into(), Value::Array(hs));
    }
    if f.call_outcome {
        m.insert(
            "callOutcome".into(),
            json!({ "id": c.outcome.id, "category": c.outcome.category, "name": c.outcome.name }),
        );
    }
    if f.key_points {
        let kp: Vec<Value> = c.key_points.iter().map(|t| json!({ "text": t })).collect();
        m.insert("keyPoints".into(), Value::Array(kp));
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

fn interaction(c: &Call, f: &InteractionFlags) -> Option<Value> {
    let mut m = Map::new();
    if f.speakers {
        let speakers: Vec<Value> = c
            .participants
            .iter()
            .enumerate()
            .filter(|(_, p)| p.attended)
            .map(|(k, p)| {
                let mut v = json!({ "id": ids::party_id(c.index, k), "talkTime": p.talk_time_secs });
                if let Speaker::Person(i) = p.who {
                    v["userId"] = json!(ids::user_id(i));
                }
                v
            })
            .collect();
        m.insert("speakers".into(), Value::Array(speakers));
    }
    if f.person_interaction_stats {
        let s = &c.stats;
        m.insert(
            "interactionStats".into(),
            json!([
                { "name": "Talk Ratio", "value": s.talk_ratio },
                { "name": "Longest Monologue", "value": s.longest_monologue },
                { "name": "Longest Customer Story", "value": s.longest_customer_story },
                { "name": "Interactivity", "value": s.interactivity },
                { "name": "Patience", "value": s.patience },
            ]),
        );
    }
    if f.video {
        let v: Vec<Value> = c.video.iter().map(|(name, d)| json!({ "name": name, "duration": d })).collect();
        m.insert("video".into(), Value::Array(v));
    }
    if f.questions {
        m.insert(
            "questions".into(),
            json!({ "companyCount": c.questions_company, "nonCompanyCount": c.questions_non_company }),
        );
    }
    (!m.is_empty()).then_some(Value::Object(m))
}

pub(crate) fn call_extensive(world: &World, c: &Call, sel: &ContentSelector, level: ContextLevel) -> Value {
    let timings: Vec<String> =
        sel.context_timing.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| vec!["Now".into()]);
    let f = &sel.exposed_fields;
    let mut v = json!({ "metaData": call_basic(world, c) });
    if level != ContextLevel::None {
        v["context"] = call_context(world, c, level, &timings);
    }
    if f.parties {
        v["parties"] = parties(world, c, level, &timings);
    }
    if let Some(content) = content(world, c, &f.content) {
        v["content"] = content;
    }
    if let Some(i) = interaction(c, &f.interaction) {
        v["interaction"] = i;
    }
    if f.collaboration.public_comments {
        let comments: Vec<Value> = c
            .comments
            .iter()
            .map(|cm| {
                let mut v = json!({
                    "id": ids::comment_id(c.index, cm.ordinal),
                    "audioStartTime": cm.audio_start_secs,
                    "audioEndTime": cm.audio_end_secs,
                    "commenterUserId": ids::user_id(cm.author),
                    "comment": cm.text,
                    "posted": iso(world, cm.posted),
                    "duringCall": false,
                });
                if let Some(r) = cm.in_reply_to {
                    v["inReplyTo"] = json!(ids::comment_id(c.index, r));
                }
                v
            })
            .collect();
        v["collaboration"] = json!({ "publicComments": comments });
    }
    if f.media {
        let id = ids::call_id(c.index);
        let mut media = json!({
            "audioUrl": format!("https://sandbox-media.gong.invalid/calls/{id}/audio.mp3?expires=28800"),
        });
        if c.media == crate::sandbox::world::Media::Video {
            media["videoUrl"] = json!(format!("https://sandbox-media.gong.invalid/calls/{id}/video.mp4?expires=28800"));
        }
        v["media"] = media;
    }
    v
}

pub(crate) fn transcript(world: &World, call: usize) -> Value {
    let t = world.transcript(call);
    let monologues: Vec<Value> = t
        .monologues
        .iter()
        .map(|m| {
            json!({
                "speakerId": ids::speaker_id(call, m.participant),
                "topic": m.topic,
                "sentences": m.sentences.iter().map(|s| json!({
                    "start": s.start_ms, "end": s.end_ms, "text": s.text,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "callId": ids::call_id(call), "transcript": monologues })
}

pub(crate) fn counters(a: &ActivityCounters) -> Map<String, Value> {
    ACTIVITY_COUNTERS.iter().zip(a.counts.iter()).map(|(k, v)| ((*k).to_string(), json!(v))).collect()
}

pub(crate) fn scorecard(world: &World, s: &Scorecard) -> Value {
    json!({
        "scorecardId": ids::scorecard_id(s.index),
        "scorecardName": s.name,
        "workspaceId": ids::WORKSPACE_ID_NUM,
        "enabled": s.enabled,
        "updaterUserId": ids::user_id_num(s.updater),
        "created": iso(world, s.created),
        "updated": iso(world, s.updated),
        "questions": s.questions.iter().map(|q| json!({
            "questionId": ids::question_id(s.index, q.ordinal),
            "questionRevisionId": ids::question_revision_id(s.index, q.ordinal),
            "questionText": q.text,
            "isOverall": q.is_overall,
            "questionType": "RANGE",
            "answerGuide": q.answer_guide,
            "minRange": s.min_score,
            "maxRange": s.max_score,
            "answerOptions": [],
        })).collect::<Vec<_>>(),
    })
}

pub(crate) fn answered_scorecard(world: &World, a: &AnsweredScorecard) -> Value {
    let s = &world.scorecards[a.scorecard];
    let call = &world.calls[a.call];
    json!({
        "answeredScorecardId": ids::answered_scorecard_id(a.index),
        "scorecardId": ids::scorecard_id(s.index),
        "scorecardName": s.name,
        "callId": ids::call_id_num(a.call),
        "callStartTime": iso(world, call.started),
        "reviewedUserId": ids::user_id_num(a.reviewed),
        "reviewerUserId": ids::user_id_num(a.reviewer),
        "reviewTime": iso(world, a.review_time),
        "visibilityType": a.visibility.as_str(),
        "answers": a.answers.iter().map(|ans| {
            let q = &s.questions[ans.question];
            json!({
                "questionId": ids::question_id(s.index, q.ordinal),
                "questionRevisionId": ids::question_revision_id(s.index, q.ordinal),
                "isOverall": q.is_overall,
                "score": ans.score,
                "answerText": ans.text,
                "notApplicable": ans.score.is_none(),
                "selectedOptions": null,
            })
        }).collect::<Vec<_>>(),
    })
}

pub(crate) fn coaching_user(p: &Person) -> Value {
    json!({
        "id": ids::user_id(p.index),
        "emailAddress": p.email,
        "firstName": p.first_name,
        "lastName": p.last_name,
        "title": p.title,
    })
}
