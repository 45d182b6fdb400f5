//! Pure conversions from ExecVision wire models to domain records.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::Value;

use super::model::*;
use crate::domain::{
    Affiliation, Call, CallDirection, CallReview, CallStats, CallSummary, CallTopicMatches, CoachingPlan, CrmEntity,
    CrmMatch, Department, Feedback, KpiDefinition, KpiObservation, Listen, Medium, Meeting, MeetingQuestion,
    QuestionAnswer, Raw, Score, ScoreAnswer, Segment, Share, SpeakerType, TalkSpeed, Team, Topic, TopicHit,
    TopicHitMatch, TopicMatchBlock, Transcript, TranscriptSpeaker, User,
};

pub(crate) use crate::providers::wire::timestamp;

fn date(s: Option<&str>) -> Option<NaiveDate> {
    s.and_then(|s| NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok())
}

fn speaker_type(s: Option<&str>) -> SpeakerType {
    match s {
        Some("INTERNAL") => SpeakerType::Internal,
        Some("EXTERNAL") => SpeakerType::External,
        _ => SpeakerType::Unknown,
    }
}

fn full_name(first: &Option<String>, last: &Option<String>) -> Option<String> {
    match (first, last) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (f, l) => f.clone().or_else(|| l.clone()),
    }
}

/// A user, with team and department names looked up by id.
pub(crate) fn user(u: WithRaw<EvUser>, teams: &HashMap<String, String>, departments: &HashMap<String, String>) -> User {
    let WithRaw { data, raw } = u;
    User {
        remote_id: data.user_id,
        email: data.email,
        email_aliases: Vec::new(),
        first_name: data.first_name,
        last_name: data.last_name,
        title: None,
        phone: None,
        active: Some(true),
        manager_remote_id: None,
        created_at: None,
        team: data.team_id.as_ref().and_then(|t| teams.get(t).cloned()),
        department: data.department_id.as_ref().and_then(|d| departments.get(d).cloned()),
        system_ids: data.system_ids,
        raw,
    }
}

pub(crate) fn team(t: WithRaw<EvTeam>) -> Team {
    Team {
        remote_id: t.data.id,
        name: t.data.name.unwrap_or_default(),
        manager_remote_id: t.data.manager_id,
        department_remote_id: t.data.department_id,
        raw: t.raw,
    }
}

pub(crate) fn department(d: WithRaw<EvDepartment>) -> Department {
    Department { remote_id: d.data.id, name: d.data.name.unwrap_or_default(), raw: d.raw }
}

fn direction(s: Option<&str>) -> (CallDirection, Option<Medium>) {
    match s {
        Some("INBOUND") => (CallDirection::Inbound, Some(Medium::Audio)),
        Some("OUTBOUND") => (CallDirection::Outbound, Some(Medium::Audio)),
        // A screen share is a video meeting.
        Some("SCREENSHARE") => (CallDirection::Conference, Some(Medium::Video)),
        _ => (CallDirection::Unknown, None),
    }
}

fn entity(e: EvCrmEntity) -> CrmEntity {
    CrmEntity { crm_id: e.crm_id, name: e.name }
}

fn map_pairs(m: &std::collections::BTreeMap<String, f64>) -> Vec<(String, f64)> {
    m.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

pub(crate) fn call(c: WithRaw<EvCall>) -> Call {
    let WithRaw { data, raw } = c;
    let (direction, medium) = direction(data.direction.as_deref());
    let stats = data.stats.map(|s| CallStats {
        // ExecVision's ratio is 0–1; the unified field is a percentage.
        talk_ratio: s.talk_ratio.map(|r| r * 100.0),
        internal_talk_secs: s.internal_talk_time,
        external_talk_secs: s.external_talk_time,
        interchanges_per_minute: s.interchanges_per_minute,
        longest_monologue_secs: None,
        longest_segments: map_pairs(&s.longest_segment_durations),
        talk_speeds: s
            .talk_speeds
            .iter()
            .map(|t| TalkSpeed {
                start_secs: t.start,
                end_secs: t.end,
                words_per_minute: map_pairs(&t.words_per_minute),
            })
            .collect(),
        ..CallStats::default()
    });
    Call {
        remote_id: data.id,
        title: data.metadata.as_ref().and_then(|m| m.get("title")).and_then(Value::as_str).map(str::to_owned),
        url: None,
        scheduled_at: None,
        started_at: timestamp(data.call_time.as_deref()),
        duration_secs: data.duration,
        direction,
        scope: Affiliation::Unknown,
        medium,
        platform: None,
        language: None,
        purpose: None,
        host_remote_id: data.caller_id,
        participants: None,
        topics: None,
        trackers: None,
        summary: data.call_summary.map(|s| CallSummary {
            text: s.summary,
            next_steps: s.next_steps,
            questions_and_answers: s
                .questions_and_answers
                .into_iter()
                .map(|qa| QuestionAnswer { question: qa.question, answer: qa.answer })
                .collect(),
        }),
        stats,
        state: data.state,
        crm_matches: data.crm_matches.map(|ms| {
            ms.into_iter()
                .map(|m| CrmMatch {
                    crm_name: m.crm_name,
                    activity_crm_id: m.activity_crm_id,
                    account: m.account.map(entity),
                    contacts: m.contacts.into_iter().map(entity).collect(),
                    engagement: m.engagement.map(entity),
                })
                .collect()
        }),
        metadata: data.metadata,
        host_email: data.caller_email,
        raw,
    }
}

/// The simplified transcript: typed speakers and one segment per text part.
pub(crate) fn simplified_transcript(call_id: &str, t: WithRaw<EvSimplifiedTranscript>) -> Transcript {
    let WithRaw { data, raw } = t;
    let speakers = data
        .speakers
        .iter()
        .map(|s| TranscriptSpeaker {
            speaker_id: s.speaker_number.to_string(),
            name: full_name(&s.first_name, &s.last_name),
            email: s.email.clone(),
            kind: speaker_type(s.speaker_type.as_deref()),
            roles: Vec::new(),
            channel: None,
        })
        .collect();
    let mut segments: Vec<Segment> = data
        .transcript
        .into_iter()
        .map(|p| Segment {
            speaker_id: p.speaker_number.map(|n| n.to_string()),
            topic: None,
            start_ms: (p.start_time * 1000.0).round() as i64,
            end_ms: (p.end_time * 1000.0).round() as i64,
            text: p.text,
        })
        .collect();
    segments.sort_by_key(|s| (s.start_ms, s.end_ms));
    Transcript { call_remote_id: call_id.to_owned(), speakers: Some(speakers), segments, raw }
}

/// The word-level transcript of a call: consecutive words of one voice form a segment.
/// Voices are not typed at this level, so speakers are `UNKNOWN`.
pub(crate) fn word_transcript(call_id: &str, words: &[EvWord], raw: Raw) -> Transcript {
    let mut segments: Vec<Segment> = Vec::new();
    for w in words {
        let voice = w.v.map(|v| v.to_string());
        let start = (w.start.as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
        let end = (w.end.as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
        let piece = format!("{}{}", w.word, w.p.as_deref().unwrap_or(""));
        match segments.last_mut() {
            Some(seg) if seg.speaker_id == voice => {
                seg.text.push(' ');
                seg.text.push_str(&piece);
                seg.end_ms = end.max(seg.end_ms);
            }
            _ => segments.push(Segment { speaker_id: voice, topic: None, start_ms: start, end_ms: end, text: piece }),
        }
    }
    let mut voices: Vec<String> = segments.iter().filter_map(|s| s.speaker_id.clone()).collect();
    voices.sort();
    voices.dedup();
    let speakers = voices
        .into_iter()
        .map(|v| TranscriptSpeaker {
            speaker_id: v,
            name: None,
            email: None,
            kind: SpeakerType::Unknown,
            roles: Vec::new(),
            channel: None,
        })
        .collect();
    Transcript { call_remote_id: call_id.to_owned(), speakers: Some(speakers), segments, raw }
}

/// An answer's percentage under its scoring scheme (the seed's scheme table).
pub(crate) fn scheme_percentage(scheme: Option<&str>, answer: Option<&Loose>, raw: Option<&Loose>) -> Option<f64> {
    let answer_num = answer.and_then(Loose::as_f64);
    let answer_word = answer.and_then(|a| a.0.as_str()).map(str::to_ascii_lowercase);
    let raw_num = raw.and_then(Loose::as_f64);
    let pct = match scheme? {
        "OneToFive" => answer_num? / 5.0 * 100.0,
        "OneToThree" => answer_num? / 3.0 * 100.0,
        "OneTwo" => answer_num? / 2.0 * 100.0,
        "YesNo" | "PassFail" => match answer_word.as_deref() {
            Some("yes" | "pass") => 100.0,
            Some("no" | "fail") => 0.0,
            _ => raw_num? / 5.0 * 100.0,
        },
        _ => return None,
    };
    Some(pct.clamp(0.0, 100.0))
}

/// Groups answer rows into one score per scorecard result, in first-seen order.
pub(crate) fn scores(rows: Vec<WithRaw<EvScoreRow>>) -> Vec<Score> {
    let mut order: Vec<String> = Vec::new();
    let mut by_result: HashMap<String, (Score, Vec<Value>)> = HashMap::new();
    for WithRaw { data: r, raw } in rows {
        let answer = ScoreAnswer {
            question_remote_id: r.question_id.clone().unwrap_or_default(),
            question_text: r.question.clone(),
            is_overall: false,
            score: r.answer.as_ref().and_then(Loose::as_f64),
            percentage: scheme_percentage(r.scheme.as_deref(), r.answer.as_ref(), r.raw_answer.as_ref()),
            text: r.answer.as_ref().and_then(|a| a.0.as_str()).map(str::to_owned),
            not_applicable: r.answer.as_ref().is_none_or(|a| a.0.is_null()),
            selected_options: Vec::new(),
            skills: [&r.skill1, &r.skill2, &r.skill3].into_iter().flatten().cloned().collect(),
            scheme: r.scheme.clone(),
            reason: r.reason.clone(),
            comment: r.comment.clone(),
        };
        let entry = by_result.entry(r.result_id.clone()).or_insert_with(|| {
            order.push(r.result_id.clone());
            let score = Score {
                remote_id: r.result_id.clone(),
                scorecard_remote_id: r.scorecard_id.clone(),
                scorecard_name: r.scorecard_name.clone(),
                call_remote_id: r.call_id.clone(),
                call_started_at: None,
                reviewed_user_remote_id: None,
                reviewer_user_remote_id: None,
                reviewed_at: timestamp(r.score_time.as_deref()),
                visibility: None,
                answers: Vec::new(),
                reviewed_user_email: r.caller.clone(),
                reviewer_email: r.reviewer.clone(),
                percentage: None,
                raw: Raw::default(),
            };
            (score, Vec::new())
        });
        entry.0.answers.push(answer);
        entry.1.push((*raw).clone());
    }
    order
        .into_iter()
        .filter_map(|id| by_result.remove(&id))
        .map(|(mut score, raws)| {
            let pcts: Vec<f64> = score.answers.iter().filter_map(|a| a.percentage).collect();
            score.percentage = (!pcts.is_empty()).then(|| pcts.iter().sum::<f64>() / pcts.len() as f64);
            score.raw = Raw::new(Value::Array(raws));
            score
        })
        .collect()
}

pub(crate) fn scorecard(id: &str, questions: Vec<WithRaw<EvScorecardQuestion>>) -> crate::domain::Scorecard {
    let name = questions.iter().find_map(|q| q.data.scorecard_name.clone()).unwrap_or_default();
    let scheme = questions.iter().find_map(|q| q.data.scorecard_scheme.clone());
    let (min, max) = match scheme.as_deref() {
        Some("OneToFive") => (Some(0.0), Some(5.0)),
        Some("OneToThree") => (Some(0.0), Some(3.0)),
        Some("OneTwo") => (Some(0.0), Some(2.0)),
        _ => (None, None),
    };
    let raw = Value::Array(questions.iter().map(|q| (*q.raw).clone()).collect());
    crate::domain::Scorecard {
        remote_id: id.to_owned(),
        name,
        enabled: None,
        created_at: None,
        updated_at: None,
        questions: questions
            .into_iter()
            .map(|q| crate::domain::ScorecardQuestion {
                remote_id: q.data.question_id.map(|s| s.trim().to_owned()).unwrap_or_default(),
                text: q.data.question_text.unwrap_or_default(),
                is_overall: false,
                kind: q.data.scorecard_scheme,
                min,
                max,
                options: match scheme.as_deref() {
                    Some("YesNo") => vec!["yes".into(), "no".into()],
                    Some("PassFail") => vec!["pass".into(), "fail".into()],
                    _ => Vec::new(),
                },
            })
            .collect(),
        raw: Raw::new(raw),
    }
}

pub(crate) fn topic(t: WithRaw<EvTopic>) -> Topic {
    let words = match &t.data.words {
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(Value::String(s)) => s.split(',').map(|w| w.trim().to_owned()).filter(|w| !w.is_empty()).collect(),
        _ => Vec::new(),
    };
    Topic { remote_id: t.data.id, name: t.data.name.unwrap_or_default(), words, raw: t.raw }
}

pub(crate) fn topic_matches(t: WithRaw<EvTopicMatches>) -> CallTopicMatches {
    let WithRaw { data, raw } = t;
    let q = data.question_counts;
    CallTopicMatches {
        call_remote_id: data.call_id,
        modified_at: timestamp(data.modified.as_deref()),
        internal_questions: q.as_ref().and_then(|q| q.internal_speaker_question_count),
        external_questions: q.as_ref().and_then(|q| q.external_speaker_question_count),
        unknown_questions: q.as_ref().and_then(|q| q.unknown_speaker_question_count),
        blocks: data
            .topic_matches
            .into_iter()
            .map(|b| TopicMatchBlock {
                start_secs: b.start_time,
                end_secs: b.end_time,
                text: b.text,
                speaker_type: speaker_type(b.speaker_type.as_deref()),
                topics: b
                    .topics_with_matches
                    .into_iter()
                    .map(|t| TopicHit {
                        topic_remote_id: t.topic_id.as_id().unwrap_or_default(),
                        topic_name: t.topic_name.unwrap_or_default(),
                        matches: t
                            .matches
                            .into_iter()
                            .map(|m| TopicHitMatch {
                                search_text: m.search_text,
                                matching_text: m.matching_text.unwrap_or_default(),
                                start_secs: m.match_start_time.unwrap_or(0.0),
                                end_secs: m.match_end_time.unwrap_or(0.0),
                                start_index: m.match_start_index.unwrap_or(0),
                                end_index: m.match_end_index.unwrap_or(0),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
        raw,
    }
}

pub(crate) fn listen(l: WithRaw<EvListen>) -> Listen {
    Listen {
        date: date(l.data.date.as_deref()),
        call_remote_id: l.data.call_id,
        listener_remote_id: l.data.listener,
        caller_remote_id: l.data.caller,
        seconds: l.data.time_listened,
        raw: l.raw,
    }
}

pub(crate) fn feedback(f: WithRaw<EvFeedback>) -> Feedback {
    Feedback {
        given_at: timestamp(f.data.feedback_at.as_deref()),
        call_remote_id: f.data.call_id,
        author_remote_id: f.data.feedback_by,
        is_comment: f.data.is_comment,
        is_highlight: f.data.is_highlight,
        text: f.data.text,
        start_secs: f.data.start_time,
        end_secs: f.data.end_time,
        raw: f.raw,
    }
}

pub(crate) fn share(s: WithRaw<EvShare>) -> Share {
    Share {
        shared_at: timestamp(s.data.shared_at.as_deref()),
        call_remote_id: s.data.call_id,
        sharer_remote_id: s.data.shared_by,
        recipient_remote_ids: s.data.recipient_user_ids,
        recipient_emails: s.data.recipient_emails,
        raw: s.raw,
    }
}

fn question(q: EvMeetingQuestion) -> MeetingQuestion {
    MeetingQuestion {
        question: q.question,
        possible_score: q.possible_score,
        actual_score: q.actual_score,
        weight: q.review_weight,
    }
}

pub(crate) fn meeting(m: WithRaw<EvMeeting>) -> Meeting {
    let WithRaw { data, raw } = m;
    Meeting {
        remote_id: data.meeting_id,
        plan_remote_id: data.plan_id.as_ref().and_then(Loose::as_id),
        coach_remote_id: data.coach_id,
        recipient_remote_id: data.recipient_id,
        scheduled_at: timestamp(data.date_time.as_deref()),
        started_at: timestamp(data.start_time.as_deref()),
        ended_at: timestamp(data.end_time.as_deref()),
        skill_scores: map_pairs(&data.scores),
        call_reviews: data
            .call_reviews
            .into_iter()
            .map(|r| CallReview {
                call_remote_id: r.call_id,
                questions: r.questions.into_iter().map(question).collect(),
            })
            .collect(),
        questions: data.questions.into_iter().map(question).collect(),
        comments: data.comments,
        raw,
    }
}

pub(crate) fn plan(p: WithRaw<EvPlan>) -> CoachingPlan {
    let WithRaw { data, raw } = p;
    CoachingPlan {
        remote_id: data.plan_id,
        name: data.name,
        objective: data.objective,
        started_at: timestamp(data.start_date.as_deref()),
        coach_remote_id: data.coach_id,
        recipient_remote_id: data.recipient_id,
        planned_meetings: data.planned_meetings,
        completed_meetings: data.completed_meetings,
        missed_meetings: data.estimated_missed_meetings,
        skills: data
            .skill
            .into_iter()
            .map(|s| (s.skill_id.as_id().unwrap_or_default(), s.skill_name.unwrap_or_default()))
            .collect(),
        modified_at: timestamp(data.modified.as_deref()),
        raw,
    }
}

pub(crate) fn kpi_observation(k: WithRaw<EvKpiObservation>) -> KpiObservation {
    KpiObservation {
        kpi_remote_id: k.data.kpi_id,
        observed_at: timestamp(k.data.observed_at.as_deref()),
        observer_remote_id: k.data.observer_id.as_ref().and_then(Loose::as_id),
        observed_remote_id: k.data.observed_id.as_ref().and_then(Loose::as_id),
        value: k.data.value,
        raw: k.raw,
    }
}

pub(crate) fn kpi_definition(k: WithRaw<EvKpiDefinition>) -> KpiDefinition {
    KpiDefinition {
        remote_id: k.data.kpi_id,
        description: k.data.description,
        frequency: k.data.frequency,
        target: k.data.target,
        raw: k.raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = format!("{}/tests/fixtures/execvision/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn call_maps_direction_state_crm_stats_and_summary() {
        let c = call(fixture("call.json"));
        assert_eq!(c.direction, CallDirection::Inbound);
        assert_eq!(c.medium, Some(Medium::Audio));
        assert_eq!(c.state.as_deref(), Some("COMPLETE"));
        assert_eq!(c.duration_secs, Some(123.0));
        assert_eq!(c.host_remote_id.as_deref(), Some("f3624158-1204-4fe3-b71a-38677f0ec547"));
        let crm = &c.crm_matches.as_ref().unwrap()[0];
        assert_eq!(crm.account.as_ref().unwrap().name.as_deref(), Some("memoryBlue"));
        assert_eq!(crm.contacts[0].crm_id, "0035w00002zo034AAA");
        assert!(crm.engagement.is_none());
        let stats = c.stats.as_ref().unwrap();
        assert!((stats.talk_ratio.unwrap() - 63.71951219512195).abs() < 1e-9, "0–1 ratio becomes a percentage");
        assert_eq!(stats.internal_talk_secs, Some(418.0));
        assert_eq!(stats.longest_segments, vec![("0".into(), 76.0), ("1".into(), 34.47000000000003)]);
        assert_eq!(stats.talk_speeds[0].words_per_minute.len(), 2);
        let summary = c.summary.as_ref().unwrap();
        assert_eq!(summary.next_steps, vec!["Marc will debrief Tim on the conversation."]);
        assert_eq!(summary.questions_and_answers[0].answer, "A: Scaling.");
        assert_eq!(c.metadata.as_ref().unwrap()["opportunity_price_point"], 50000);
    }

    #[test]
    fn screen_shares_are_video_conferences() {
        let c = call(serde_json::from_value(serde_json::json!({"id": "x", "direction": "SCREENSHARE"})).unwrap());
        assert_eq!((c.direction, c.medium), (CallDirection::Conference, Some(Medium::Video)));
    }

    #[test]
    fn word_level_transcript_groups_words_by_voice() {
        let c: WithRaw<EvCall> = fixture("call.json");
        let words = c.data.transcript.clone().unwrap();
        let t = word_transcript("a987", &words, c.raw);
        assert_eq!(t.segments.len(), 2);
        assert_eq!(t.segments[0].text, "hey, there.");
        assert_eq!((t.segments[0].start_ms, t.segments[0].end_ms), (26594, 27001), "string seconds become ms");
        assert_eq!(t.segments[1].speaker_id.as_deref(), Some("0"));
        let speakers = t.speakers.unwrap();
        assert_eq!(speakers.len(), 2);
        assert!(speakers.iter().all(|s| s.kind == SpeakerType::Unknown));
    }

    #[test]
    fn simplified_transcript_types_speakers_and_orders_segments() {
        let t = simplified_transcript("c1", fixture("simplified_transcript.json"));
        let kinds: Vec<SpeakerType> = t.speakers.as_ref().unwrap().iter().map(|s| s.kind).collect();
        assert_eq!(kinds, vec![SpeakerType::Internal, SpeakerType::External, SpeakerType::Unknown]);
        assert_eq!(t.speakers.as_ref().unwrap()[0].name.as_deref(), Some("Rita Rep"));
        assert_eq!(t.segments[0].text, "Hi Carl, thanks for the time.", "sorted by start");
        assert_eq!(t.segments[1].start_ms, 3500);
    }

    #[test]
    fn scoring_schemes_become_percentages() {
        let pct = |scheme: &str, answer: Value, raw: Value| {
            scheme_percentage(Some(scheme), Some(&Loose(answer)), Some(&Loose(raw))).map(|p| p.round())
        };
        use serde_json::json;
        assert_eq!(pct("OneToFive", json!(4), json!(4)), Some(80.0));
        assert_eq!(pct("OneToThree", json!(1), json!(1)), Some(33.0));
        assert_eq!(pct("OneToThree", json!(2), json!(3)), Some(67.0));
        assert_eq!(pct("OneTwo", json!(1), json!(3)), Some(50.0));
        assert_eq!(pct("YesNo", json!("yes"), json!(5)), Some(100.0));
        assert_eq!(pct("PassFail", json!("fail"), json!(0)), Some(0.0));
        assert_eq!(pct("YesNo", json!(null), json!(5)), Some(100.0), "falls back to the raw answer");
        assert_eq!(pct("Mystery", json!(1), json!(1)), None);
    }

    #[test]
    fn score_rows_group_into_one_score_per_result() {
        let s = scores(fixture("scores.json"));
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].remote_id, "CR23");
        assert_eq!(s[0].answers.len(), 2);
        assert_eq!(s[0].answers[0].skills, vec!["hunting", "trapping", "charring"]);
        assert_eq!(s[0].answers[1].reason.as_deref(), Some("rushed"));
        assert_eq!(s[0].reviewer_email.as_deref(), Some("tim.smith@example.com"));
        assert_eq!(s[0].reviewed_user_email.as_deref(), Some("inttest4@bah.com"));
        assert!((s[0].percentage.unwrap() - (100.0 + 100.0 / 3.0) / 2.0).abs() < 1e-9, "mean of the answers");
        assert_eq!(s[1].percentage, Some(100.0));
        assert_eq!(s[0].raw.as_array().unwrap().len(), 2, "raw keeps every answer row");
    }

    #[test]
    fn meetings_and_plans_map_reviews_questions_and_skills() {
        let m = meeting(fixture("meeting.json"));
        assert_eq!((m.remote_id.as_str(), m.plan_remote_id.as_deref()), ("9266", Some("3913")));
        assert_eq!(m.skill_scores, vec![("Challenges".into(), 20.0)]);
        assert_eq!(m.call_reviews[0].questions[0].actual_score, Some(1.0));
        assert_eq!(m.questions[0].possible_score, None, "text questions have no score");
        assert_eq!(m.questions[1].weight, Some(34.0));
        assert_eq!(m.started_at.unwrap().to_rfc3339(), "2020-08-12T12:46:45.231840+00:00");
        let p = plan(fixture("plan.json"));
        assert_eq!(p.remote_id, "3789");
        assert_eq!(p.skills, vec![("44".into(), "Lead In".into()), ("8750".into(), "Pre-call Research".into())]);
        assert_eq!((p.planned_meetings, p.completed_meetings, p.missed_meetings), (Some(20), Some(2), Some(1)));
    }

    #[test]
    fn topic_matches_map_blocks_topics_and_indices() {
        let t = topic_matches(fixture("topic_matches.json"));
        assert_eq!(t.external_questions, Some(2));
        let block = &t.blocks[0];
        assert_eq!(block.speaker_type, SpeakerType::External);
        assert_eq!(block.topics[0].topic_remote_id, "1", "numeric topic ids become strings");
        assert_eq!((block.topics[0].matches[0].start_index, block.topics[0].matches[0].end_index), (0, 1));
    }
}
