//! World and [`EvData`] entities rendered as ExecVision JSON (field names, nesting and
//! types as the seed shows), plus what ExecVision derives from a transcript: word
//! timings, speaker numbers and types, stats, AI summary and topic matches.
//!
//! Speakers: the call's attended participants in participant order are speakers
//! `0, 1, ...` (the host is 0). Internal people are `INTERNAL`; contacts are
//! `EXTERNAL`, except contacts whose index is 5 mod 7, which ExecVision failed to
//! match (`UNKNOWN`, no name or email in the simplified transcript).

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::ids;
use crate::sandbox::rng::mix;
use crate::sandbox::world::{Call, CallSystem, Direction, Speaker, Transcript, World};
use crate::sandbox::world_ev::{
    CallState, EvCall, EvData, Feedback, KpiDef, KpiObservation, Listen, Meeting, MeetingQuestion, Plan, SKILLS,
    ScoreResult, Share, ev_email,
};

/// UTC ISO-8601 with `Z`, fractional seconds only when non-zero
/// (`2026-01-05T14:03:21Z`, `2022-05-19T16:58:14.048648Z`).
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// ISO-8601 with the company time-zone offset (coaching meetings and plans, as in the
/// seed's examples: `2020-08-12T08:46:45.23184-04:00`).
pub(crate) fn ts_local(world: &World, t: DateTime<Utc>) -> String {
    t.with_timezone(&world.time_zone).to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

// ---------------------------------------------------------------- org

fn system_ids(world: &World, person: usize) -> Vec<String> {
    let p = &world.people[person];
    vec![p.extension.clone(), format!("005{:015X}", mix(world.seed ^ 0x5F00 ^ person as u64) >> 4)]
}

pub(crate) fn user(world: &World, data: &EvData, person: usize) -> Value {
    let p = &world.people[person];
    json!({
        "userId": ids::user_id(person),
        "email": ev_email(world, person),
        "firstName": p.first_name,
        "lastName": p.last_name,
        "teamId": data.person_team[person].map(ids::team_id),
        "departmentId": data.person_department[person].map(ids::department_id),
        "systemIds": system_ids(world, person),
    })
}

pub(crate) fn team(data: &EvData, t: usize) -> Value {
    let team = &data.teams[t];
    json!({
        "id": ids::team_id(t),
        "name": team.name,
        "managerId": ids::user_id(team.manager),
        "departmentId": ids::department_id(team.department),
    })
}

pub(crate) fn department(data: &EvData, d: usize) -> Value {
    json!({ "id": ids::department_id(d), "name": data.departments[d].name })
}

fn team_name(world: &World, data: &EvData, person: usize) -> String {
    data.person_team[person].map_or_else(|| world.people[person].team.clone(), |t| data.teams[t].name.clone())
}

// ---------------------------------------------------------------- transcript words

/// Speaker number of each participant ordinal (None for non-attendees).
pub(crate) fn speaker_numbers(call: &Call) -> Vec<Option<usize>> {
    let mut n = 0;
    call.participants
        .iter()
        .map(|p| {
            p.attended.then(|| {
                n += 1;
                n - 1
            })
        })
        .collect()
}

/// `INTERNAL`, `EXTERNAL` or `UNKNOWN` for participant `ordinal`.
pub(crate) fn speaker_type(call: &Call, ordinal: usize) -> &'static str {
    match call.participants[ordinal].who {
        Speaker::Person(_) => "INTERNAL",
        Speaker::Contact(c) if c % 7 == 5 => "UNKNOWN",
        Speaker::Contact(_) => "EXTERNAL",
    }
}

/// One transcribed word: seconds from call start, the word, trailing punctuation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Word {
    pub(crate) start: f64,
    pub(crate) end: f64,
    pub(crate) word: String,
    pub(crate) p: Option<String>,
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Words of a sentence spanning `[start_ms, end_ms]`, timed by word length.
pub(crate) fn words(text: &str, start_ms: u64, end_ms: u64) -> Vec<Word> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let weights: Vec<f64> = tokens.iter().map(|t| t.chars().count() as f64 + 1.0).collect();
    let total: f64 = weights.iter().sum::<f64>().max(1.0);
    let span = end_ms.saturating_sub(start_ms) as f64 / 1000.0;
    let base = start_ms as f64 / 1000.0;
    let mut at = 0.0;
    tokens
        .iter()
        .zip(weights)
        .map(|(tok, w)| {
            let start = round3(base + span * at / total);
            let end = round3(base + span * (at + w - 1.0) / total);
            at += w;
            let trimmed = tok.trim_end_matches([',', '.', '?', '!', ';', ':']);
            let (word, p) = if trimmed.is_empty() || trimmed.len() == tok.len() {
                ((*tok).to_string(), None)
            } else {
                (trimmed.to_string(), Some(tok[trimmed.len()..].to_string()))
            };
            Word { start, end, word, p }
        })
        .collect()
}

/// A monologue as one text block: its speaker ordinal, words and sentences' texts.
pub(crate) struct Block {
    pub(crate) participant: usize,
    pub(crate) words: Vec<Word>,
    pub(crate) sentences: Vec<String>,
    pub(crate) start: f64,
    pub(crate) end: f64,
}

impl Block {
    pub(crate) fn text(&self) -> String {
        self.sentences.join(" ")
    }
}

pub(crate) fn blocks(t: &Transcript) -> Vec<Block> {
    t.monologues
        .iter()
        .map(|m| {
            let words: Vec<Word> = m.sentences.iter().flat_map(|s| words(&s.text, s.start_ms, s.end_ms)).collect();
            let start = m.sentences.first().map_or(0.0, |s| s.start_ms as f64 / 1000.0);
            let end = m.sentences.last().map_or(0.0, |s| s.end_ms as f64 / 1000.0);
            Block {
                participant: m.participant,
                words,
                sentences: m.sentences.iter().map(|s| s.text.clone()).collect(),
                start,
                end,
            }
        })
        .collect()
}

fn num3(v: f64) -> String {
    format!("{v:.3}")
}

/// The word-level `transcript` array of a call.
pub(crate) fn transcript_words(call: &Call, blocks: &[Block]) -> Value {
    let numbers = speaker_numbers(call);
    let mut out = Vec::new();
    for b in blocks {
        let v = numbers[b.participant].unwrap_or(0);
        for w in &b.words {
            let mut o = json!({ "start": num3(w.start), "end": num3(w.end), "word": w.word, "v": v });
            if let Some(p) = &w.p {
                o["p"] = json!(p);
            }
            out.push(o);
        }
    }
    Value::Array(out)
}

// ---------------------------------------------------------------- stats and summary

pub(crate) fn stats(call: &Call, blocks: &[Block]) -> Value {
    let numbers = speaker_numbers(call);
    let (mut internal, mut external) = (0.0, 0.0);
    let mut longest: Map<String, Value> = Map::new();
    let mut longest_v: Vec<f64> = vec![0.0; call.participants.len()];
    for b in blocks {
        let d = b.end - b.start;
        if speaker_type(call, b.participant) == "INTERNAL" {
            internal += d;
        } else {
            external += d;
        }
        longest_v[b.participant] = longest_v[b.participant].max(d);
    }
    for (k, n) in numbers.iter().enumerate() {
        if let Some(n) = n
            && blocks.iter().any(|b| b.participant == k)
        {
            longest.insert(n.to_string(), json!(round3(longest_v[k])));
        }
    }
    let total = internal + external;
    let minutes = f64::from(call.duration_secs) / 60.0;
    let mut speeds = Vec::new();
    let mut chunk_start = 0.0;
    while chunk_start < f64::from(call.duration_secs) {
        let chunk_end = chunk_start + 300.0;
        let mut first: Option<f64> = None;
        let mut last = 0.0;
        let mut counts: Vec<usize> = vec![0; call.participants.len()];
        for b in blocks {
            for w in b.words.iter().filter(|w| w.start >= chunk_start && w.start < chunk_end) {
                first = Some(first.map_or(w.start, |f: f64| f.min(w.start)));
                last = f64::max(last, w.end);
                counts[b.participant] += 1;
            }
        }
        if let Some(first) = first {
            let mins = ((last - first) / 60.0).max(1.0 / 60.0);
            let mut wpm = Map::new();
            for (k, c) in counts.iter().enumerate() {
                if let (Some(n), true) = (numbers[k], *c > 0) {
                    wpm.insert(n.to_string(), json!(*c as f64 / mins));
                }
            }
            speeds.push(json!({ "start": first, "end": last, "wordsPerMinute": wpm }));
        }
        chunk_start = chunk_end;
    }
    json!({
        "internalTalkTime": internal.round() as u64,
        "externalTalkTime": external.round() as u64,
        "talkRatio": if total > 0.0 { internal / total } else { 0.0 },
        "interchangesPerMinute": if minutes > 0.0 { blocks.len().saturating_sub(1) as f64 / minutes } else { 0.0 },
        "longestSegmentDurations": longest,
        "talkSpeeds": speeds,
    })
}

/// Stats of a call ExecVision could not transcribe.
fn empty_stats() -> Value {
    json!({
        "internalTalkTime": 0,
        "externalTalkTime": 0,
        "talkRatio": 0.0,
        "interchangesPerMinute": 0.0,
        "longestSegmentDurations": {},
        "talkSpeeds": [],
    })
}

fn third_person(first: &str, snippet: &str) -> String {
    match snippet {
        "I'll send you the proposal by end of week." => format!("{first} will send the proposal by end of week."),
        "Let me set up a technical deep-dive with our solutions engineer." => {
            format!("{first} will set up a technical deep-dive with a solutions engineer.")
        }
        "I'll share the security documentation after the call." => {
            format!("{first} will share the security documentation after the call.")
        }
        "We'll get the pricing options over to you tomorrow." => {
            format!("{first} will send over the pricing options tomorrow.")
        }
        other => format!("{first}: {other}"),
    }
}

pub(crate) fn call_summary(world: &World, call: &Call, blocks: &[Block]) -> Value {
    let first = &world.people[call.host].first_name;
    let mut next_steps: Vec<String> = call
        .highlights
        .iter()
        .filter(|h| h.title == "Next Steps")
        .flat_map(|h| h.items.iter().map(|(t, _)| t.clone()))
        .collect();
    next_steps.extend(call.action_items.iter().map(|a| third_person(first, &a.snippet)));
    next_steps.dedup();
    let mut qa = Vec::new();
    for (k, b) in blocks.iter().enumerate() {
        if qa.len() >= 3 {
            break;
        }
        if speaker_type(call, b.participant) == "INTERNAL" {
            continue;
        }
        let (Some(q), Some(next)) = (b.sentences.iter().find(|s| s.ends_with('?')), blocks.get(k + 1)) else {
            continue;
        };
        if let Some(a) = next.sentences.first() {
            qa.push(json!({ "question": format!("Q: {q}"), "answer": format!("A: {a}") }));
        }
    }
    json!({ "nextSteps": next_steps, "questionsAndAnswers": qa, "summary": call.brief })
}

// ---------------------------------------------------------------- calls

/// Which optional parts of a call to render.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CallOpts {
    pub(crate) transcript: bool,
    pub(crate) crm_matches: bool,
    pub(crate) templates: bool,
}

impl CallOpts {
    /// `call/{id}`: everything.
    pub(crate) const ALL: CallOpts = CallOpts { transcript: true, crm_matches: true, templates: true };
}

fn direction(call: &Call) -> &'static str {
    match call.direction {
        Direction::Inbound => "INBOUND",
        Direction::Outbound => "OUTBOUND",
        Direction::Conference => "SCREENSHARE",
    }
}

fn original_path(world: &World, call: &Call) -> String {
    let local = call.started.with_timezone(&world.time_zone);
    match call.system {
        CallSystem::Dialer => format!(
            "dialer/{}/{}_{}.wav",
            local.format("%Y-%m-%d"),
            world.people[call.host].extension,
            local.format("%H%M%S")
        ),
        s => {
            let dir = match s {
                CallSystem::Zoom => "zoom",
                CallSystem::GoogleMeet => "google-meet",
                _ => "teams",
            };
            let meeting = 80_000_000 + mix(world.seed ^ 0x2100 ^ call.index as u64) % 10_000_000;
            format!("{dir}/{}/{meeting}.mp4", local.format("%Y-%m-%d"))
        }
    }
}

/// The call's `metadata` (custom CRM fields; `calls/search` searches these).
pub(crate) fn metadata(world: &World, call: &Call) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(ids::call_id(call.index)));
    m.insert("deleted".into(), json!(false));
    m.insert("title".into(), json!(call.title));
    m.insert("call_purpose".into(), json!(call.purpose));
    m.insert("platform".into(), json!(call.system.as_str()));
    m.insert("language".into(), json!(call.language));
    m.insert("uploader".into(), json!(world.people[call.host].extension));
    m.insert("call_outcome".into(), json!(call.outcome.name));
    if let Some(c) = call.company {
        let company = &world.companies[c];
        m.insert("company".into(), json!(company.name));
        m.insert("account_id".into(), json!(company.crm_account_id));
        m.insert("opportunity_id".into(), json!(company.crm_opportunity_id));
        m.insert("opportunity_price_point".into(), json!(company.opportunity_amount));
    }
    m
}

fn crm_matches(world: &World, call: &Call) -> Value {
    let Some(c) = call.company else {
        return json!([]);
    };
    let company = &world.companies[c];
    let contacts: Vec<Value> = call
        .external_contacts()
        .into_iter()
        .map(|k| json!({ "crmId": world.contacts[k].crm_contact_id, "name": world.contacts[k].full_name() }))
        .collect();
    let h = mix(world.seed ^ 0x00C0_FFEE ^ call.index as u64);
    let engagement = (h % 10 < 7)
        .then(|| json!({ "crmId": company.crm_opportunity_id, "name": format!("{} — New Business", company.name) }));
    json!([{
        "crmName": "Salesforce",
        "activityCrmId": format!("00T{:015X}", h >> 4),
        "account": { "crmId": company.crm_account_id, "name": company.name },
        "contacts": contacts,
        "engagement": engagement,
    }])
}

pub(crate) fn call(world: &World, ev: &EvCall, opts: CallOpts) -> Value {
    let call = &world.calls[ev.call];
    let host = &world.people[call.host];
    let complete = ev.state == CallState::Complete;
    let transcript = world.transcript(call.index);
    let blocks = if complete { blocks(&transcript) } else { Vec::new() };
    let mut metadata = metadata(world, call);
    if opts.templates {
        let card = format!(
            "<b>{}</b> · {} · {} · {} min",
            call.company.map_or("Internal", |c| world.companies[c].name.as_str()),
            call.purpose,
            host.full_name(),
            call.duration_secs / 60
        );
        metadata.insert("call_card_templates".into(), json!([{ "name": "Call card", "content": card }]));
    }
    let mut v = json!({
        "id": ids::call_id(call.index),
        "callerEmail": ev_email(world, call.host),
        "callerId": ids::user_id(call.host),
        "callSummary": if complete { call_summary(world, call, &blocks) } else { Value::Null },
        "callTime": ts(call.started),
        "duration": call.duration_secs,
        "direction": direction(call),
        "state": ev.state.as_str(),
        "transcript": if opts.transcript && complete { transcript_words(call, &blocks) } else { Value::Null },
        "stats": if complete { stats(call, &blocks) } else { empty_stats() },
        "originalPath": original_path(world, call),
        "metadata": metadata,
        "modified": ts(ev.modified),
    });
    if opts.crm_matches {
        v["crmMatches"] = crm_matches(world, call);
    }
    v
}

/// Searchable top-level fields of a call (besides `metadata.*`).
pub(crate) fn search_value(world: &World, ev: &EvCall, field: &str) -> Option<String> {
    let call = &world.calls[ev.call];
    let text = |v: &Value| match v {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string().to_lowercase(),
    };
    match field {
        "id" => Some(ids::call_id(call.index)),
        "callerId" => Some(ids::user_id(call.host)),
        "callerEmail" => Some(ev_email(world, call.host).to_lowercase()),
        "direction" => Some(direction(call).to_lowercase()),
        "state" => Some(ev.state.as_str().to_lowercase()),
        f => f.strip_prefix("metadata.").and_then(|k| metadata(world, call).get(k).map(text)),
    }
}

pub(crate) fn deleted_call(world: &World, call: usize, deleted_at: DateTime<Utc>) -> Value {
    let c = &world.calls[call];
    json!({
        "id": ids::call_id(call),
        "deletedAt": ts(deleted_at),
        "callerId": ids::user_id(c.host),
        "callTime": ts(c.started),
    })
}

// ---------------------------------------------------------------- topics

/// One topic match inside a block.
#[derive(Clone, Debug)]
pub(crate) struct TopicHit {
    pub(crate) topic: usize,
    pub(crate) phrase: String,
    pub(crate) start_index: usize,
    pub(crate) end_index: usize,
    pub(crate) start: f64,
    pub(crate) end: f64,
    pub(crate) text: String,
}

fn normalize(word: &str) -> String {
    word.to_lowercase()
}

/// Matches of every active topic in a block, in text order.
pub(crate) fn topic_hits(data: &EvData, block: &Block) -> Vec<TopicHit> {
    let norm: Vec<String> = block.words.iter().map(|w| normalize(&w.word)).collect();
    let mut hits = Vec::new();
    for topic in data.topics.iter().filter(|t| t.active) {
        for phrase in &topic.words {
            let pieces: Vec<&str> = phrase.split_whitespace().collect();
            if pieces.is_empty() || pieces.len() > norm.len() {
                continue;
            }
            for i in 0..=norm.len() - pieces.len() {
                if pieces.iter().enumerate().all(|(k, p)| norm[i + k] == *p) {
                    let j = i + pieces.len() - 1;
                    hits.push(TopicHit {
                        topic: topic.index,
                        phrase: phrase.clone(),
                        start_index: i,
                        end_index: j,
                        start: block.words[i].start,
                        end: block.words[j].end,
                        text: block.words[i..=j].iter().map(|w| w.word.as_str()).collect::<Vec<_>>().join(" "),
                    });
                }
            }
        }
    }
    hits.sort_by_key(|h| (h.start_index, h.topic));
    hits
}

/// True when some `window` seconds contain at least `min` matches (start times).
pub(crate) fn passes_window(starts: &mut [f64], window: f64, min: usize) -> bool {
    if min == 0 {
        return true;
    }
    starts.sort_by(f64::total_cmp);
    starts.windows(min).any(|w| w[min - 1] - w[0] <= window)
}

/// A `call_topics` entry; `window` is the optional `(window_length, minimum_matches)`.
pub(crate) fn call_topics(world: &World, data: &EvData, ev: &EvCall, window: Option<(f64, usize)>) -> Value {
    let call = &world.calls[ev.call];
    let blocks = blocks(&world.transcript(call.index));
    let all: Vec<Vec<TopicHit>> = blocks.iter().map(|b| topic_hits(data, b)).collect();
    let keep: Vec<usize> = data
        .topics
        .iter()
        .map(|t| t.index)
        .filter(|&t| {
            window.is_none_or(|(len, min)| {
                let mut starts: Vec<f64> = all.iter().flatten().filter(|h| h.topic == t).map(|h| h.start).collect();
                passes_window(&mut starts, len, min)
            })
        })
        .collect();
    let (mut q_int, mut q_ext, mut q_unk) = (0, 0, 0);
    let mut matches = Vec::new();
    for (b, hits) in blocks.iter().zip(&all) {
        let kind = speaker_type(call, b.participant);
        let questions = b.sentences.iter().filter(|s| s.ends_with('?')).count();
        match kind {
            "INTERNAL" => q_int += questions,
            "EXTERNAL" => q_ext += questions,
            _ => q_unk += questions,
        }
        let mut topics: Vec<Value> = Vec::new();
        for &t in &keep {
            let hs: Vec<&TopicHit> = hits.iter().filter(|h| h.topic == t).collect();
            if hs.is_empty() {
                continue;
            }
            topics.push(json!({
                "topicId": ids::topic_id(t).to_string(),
                "topicName": data.topics[t].name,
                "matches": hs.iter().map(|h| json!({
                    "searchText": [h.phrase],
                    "matchingText": h.text,
                    "matchStartTime": h.start,
                    "matchStartIndex": h.start_index,
                    "matchEndTime": h.end,
                    "matchEndIndex": h.end_index,
                })).collect::<Vec<_>>(),
            }));
        }
        if !topics.is_empty() {
            matches.push(json!({
                "startTime": b.start,
                "endTime": b.end,
                "text": b.text(),
                "speakerType": kind,
                "topicsWithMatches": topics,
            }));
        }
    }
    json!({
        "callId": ids::call_id(call.index),
        "modified": ts(ev.modified),
        "questionCounts": {
            "internalSpeakerQuestionCount": q_int,
            "externalSpeakerQuestionCount": q_ext,
            "unknownSpeakerQuestionCount": q_unk,
        },
        "topicMatches": matches,
    })
}

pub(crate) fn topic(data: &EvData, t: usize) -> Value {
    let topic = &data.topics[t];
    json!({ "id": ids::topic_id(t), "name": topic.name, "words": topic.words })
}

// ---------------------------------------------------------------- activity

pub(crate) fn listen(world: &World, l: &Listen) -> Value {
    json!({
        "date": l.date.format("%Y-%m-%d").to_string(),
        "modified": ts(l.modified),
        "callId": ids::call_id(l.call),
        "listener": ids::user_id(l.listener),
        "caller": ids::user_id(world.calls[l.call].host),
        "timeListened": l.seconds,
    })
}

/// The rows (one per answered question) of one scorecard result.
pub(crate) fn score_rows(world: &World, data: &EvData, s: &ScoreResult) -> Vec<Value> {
    let a = &world.answered_scorecards[s.answered];
    let template = &world.scorecards[a.scorecard];
    let ev = &data.scorecards[a.scorecard];
    a.answers
        .iter()
        .filter_map(|ans| {
            let score = ans.score?;
            let q = &template.questions[ans.question];
            let (answer, raw) = ev.scheme.answer(score);
            let skills = ev.skills.get(ans.question).copied().unwrap_or([None; 3]);
            let skill = |k: usize| skills[k].map(|s| SKILLS[s]);
            Some(json!({
                "reviewer": ev_email(world, a.reviewer),
                "reviewerTeam": team_name(world, data, a.reviewer),
                "caller": ev_email(world, a.reviewed),
                "callerTeam": team_name(world, data, a.reviewed),
                "callId": ids::call_id(a.call),
                "resultId": ids::result_id(a.index),
                "scoreTime": ts(a.review_time),
                "modified": ts(s.modified),
                "scorecardId": ids::scorecard_id(a.scorecard),
                "scorecardName": template.name,
                "questionId": ids::question_id(a.scorecard, q.ordinal),
                "question": q.text,
                "skill1": skill(0),
                "skill2": skill(1),
                "skill3": skill(2),
                "scheme": ev.scheme.as_str(),
                "answer": answer,
                "rawAnswer": raw,
                "reason": if score <= 2 { json!("Needs work on this point") } else { Value::Null },
                "comment": ans.text,
            }))
        })
        .collect()
}

pub(crate) fn scorecard(world: &World, data: &EvData, s: usize) -> Value {
    let template = &world.scorecards[s];
    Value::Array(
        template
            .questions
            .iter()
            .map(|q| {
                json!({
                    "scorecardId": ids::scorecard_id(s),
                    "scorecardScheme": data.scorecards[s].scheme.as_str(),
                    "scorecardName": template.name,
                    "questionId": ids::question_id(s, q.ordinal),
                    "questionText": q.text,
                })
            })
            .collect(),
    )
}

pub(crate) fn feedback(f: &Feedback) -> Value {
    json!({
        "feedbackAt": ts(f.at),
        "modified": ts(f.modified),
        "callId": ids::call_id(f.call),
        "feedbackBy": ids::user_id(f.by),
        "isComment": !f.is_highlight,
        "isHighlight": f.is_highlight,
        "text": f.text,
        "startTime": f.start_secs,
        "endTime": f.end_secs,
    })
}

pub(crate) fn share(s: &Share) -> Value {
    json!({
        "sharedAt": ts(s.at),
        "callId": ids::call_id(s.call),
        "sharedBy": ids::user_id(s.by),
        "recipientUserIds": s.recipients.iter().map(|&p| ids::user_id(p)).collect::<Vec<_>>(),
        "recipientEmails": s.emails,
    })
}

fn meeting_question(q: &MeetingQuestion) -> Value {
    json!({ "question": q.text, "possibleScore": q.possible, "actualScore": q.actual, "reviewWeight": q.weight })
}

pub(crate) fn meeting(world: &World, m: &Meeting) -> Value {
    let scores: Map<String, Value> = m.scores.iter().map(|(s, pct)| (SKILLS[*s].to_string(), json!(pct))).collect();
    json!({
        "meetingId": ids::meeting_id(m.index),
        "planId": ids::plan_id(m.plan),
        "dateTime": ts_local(world, m.scheduled),
        "coachId": ids::user_id(m.coach),
        "recipientId": ids::user_id(m.recipient),
        "startTime": ts_local(world, m.start),
        "endTime": ts_local(world, m.end),
        "scores": scores,
        "callReviews": m.call_reviews.iter().map(|(c, qs)| json!({
            "callId": ids::call_id(*c),
            "questions": qs.iter().map(meeting_question).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "questions": m.questions.iter().map(meeting_question).collect::<Vec<_>>(),
        "comments": m.comments,
        "modified": ts_local(world, m.modified),
    })
}

/// `(completed, estimated missed)` meetings of a plan as of `now`.
pub(crate) fn plan_progress(data: &EvData, p: &Plan, now: DateTime<Utc>) -> (u32, u32) {
    let completed = p.meetings.iter().filter(|&&m| data.meetings[m].end <= now).count() as u32;
    let slots = if now < p.start {
        0
    } else {
        let until = now.min(p.end());
        let cadence = Duration::days(i64::from(p.cadence_days));
        (((until - p.start).num_seconds() / cadence.num_seconds()) as u32 + 1).min(p.planned_meetings)
    };
    (completed, slots.saturating_sub(completed))
}

pub(crate) fn plan(world: &World, data: &EvData, p: &Plan, now: DateTime<Utc>) -> Value {
    let names: Vec<&str> = p.skills.iter().map(|&s| SKILLS[s]).collect();
    let tz = world.time_zone;
    let (completed, missed) = plan_progress(data, p, now);
    json!({
        "planId": ids::plan_id(p.index),
        "name": format!(
            "{}, {}-{}",
            names.join(", "),
            p.start.with_timezone(&tz).format("%b %Y"),
            p.end().with_timezone(&tz).format("%b %Y")
        ),
        "objective": format!("{} should improve skills: {}", world.people[p.recipient].full_name(), names.join(", ")),
        "startDate": ts_local(world, p.start),
        "coachId": ids::user_id(p.coach),
        "recipientId": ids::user_id(p.recipient),
        "plannedMeetings": p.planned_meetings,
        "completedMeetings": completed,
        "estimatedMissedMeetings": missed,
        "skill": p.skills.iter().map(|&s| json!({ "skillId": ids::skill_id(s), "skillName": SKILLS[s] })).collect::<Vec<_>>(),
        "modified": ts_local(world, p.modified),
    })
}

pub(crate) fn kpi_observation(o: &KpiObservation) -> Value {
    json!({
        "observedAt": ts(o.observed_at),
        "observerId": ids::user_id(o.observer),
        "observedId": ids::user_id(o.observed),
        "kpiId": ids::kpi_id(o.kpi),
        "value": o.value,
        "modified": ts(o.modified),
    })
}

pub(crate) fn kpi_def(k: &KpiDef) -> Value {
    json!({
        "kpiId": ids::kpi_id(k.index),
        "description": k.description,
        "frequency": k.frequency.as_str(),
        "target": k.target,
    })
}

/// The simplified transcript of a call.
pub(crate) fn simple_transcript(world: &World, call: &Call) -> Value {
    let numbers = speaker_numbers(call);
    let speakers: Vec<Value> = call
        .participants
        .iter()
        .enumerate()
        .filter_map(|(k, p)| {
            let n = numbers[k]?;
            let kind = speaker_type(call, k);
            let (email, first, last) = match p.who {
                _ if kind == "UNKNOWN" => (None, None, None),
                Speaker::Person(i) => {
                    let x = &world.people[i];
                    (Some(ev_email(world, i).to_owned()), Some(x.first_name.clone()), Some(x.last_name.clone()))
                }
                Speaker::Contact(c) => {
                    let x = &world.contacts[c];
                    (Some(x.email.clone()), Some(x.first_name.clone()), Some(x.last_name.clone()))
                }
            };
            Some(json!({
                "email": email,
                "firstName": first,
                "lastName": last,
                "speakerNumber": n,
                "speakerType": kind,
            }))
        })
        .collect();
    let transcript: Vec<Value> = blocks(&world.transcript(call.index))
        .iter()
        .map(|b| {
            json!({
                "endTime": b.end,
                "speakerNumber": numbers[b.participant].unwrap_or(0),
                "startTime": b.start,
                "text": b.text(),
            })
        })
        .collect();
    json!({ "speakers": speakers, "transcript": transcript })
}
