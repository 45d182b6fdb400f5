//! Pure conversions from Gong wire models to domain records.

use chrono::NaiveDate;
use serde_json::Value;

use super::model::{
    ActivityCounters, AnsweredScorecard, CallData, CallTranscript, CoachingUser, GongScorecard, GongUser,
    ManagerCoaching, NamedValue, PersonInteraction, WithRaw,
};
use crate::domain::{
    Activity, ActivityMetrics, Affiliation, AggregationPeriod, Call, CallDirection, CallStats, CallSummary, CallTopic,
    Coaching, CoachingPerson, CoachingReport, Interaction, InteractionMetrics, Medium, Participant, Raw, Score,
    ScoreAnswer, Scorecard, ScorecardQuestion, Segment, StatsUser, Tracker, TrackerOccurrence, Transcript, User,
};

pub(crate) use crate::providers::wire::timestamp;

pub(crate) fn user(u: WithRaw<GongUser>) -> User {
    let WithRaw { data, raw } = u;
    User {
        remote_id: data.id,
        email: data.email_address,
        email_aliases: data.email_aliases,
        first_name: data.first_name,
        last_name: data.last_name,
        title: data.title,
        phone: data.phone_number,
        active: data.active,
        manager_remote_id: data.manager_id.filter(|m| !m.is_empty()),
        created_at: timestamp(data.created.as_deref()),
        team: None,
        department: None,
        system_ids: Vec::new(),
        raw,
    }
}

fn affiliation(s: Option<&str>) -> Affiliation {
    match s {
        Some("Internal") => Affiliation::Internal,
        Some("External") => Affiliation::External,
        _ => Affiliation::Unknown,
    }
}

fn direction(s: Option<&str>) -> CallDirection {
    match s {
        Some("Inbound") => CallDirection::Inbound,
        Some("Outbound") => CallDirection::Outbound,
        Some("Conference") => CallDirection::Conference,
        _ => CallDirection::Unknown,
    }
}

fn medium(s: Option<&str>) -> Option<Medium> {
    match s {
        Some("Video") => Some(Medium::Video),
        Some("Audio") => Some(Medium::Audio),
        Some(s) if !s.trim().is_empty() => Some(Medium::Other),
        _ => None,
    }
}

pub(crate) fn call(c: WithRaw<CallData>) -> Call {
    let WithRaw { data, raw } = c;
    let meta = data.meta_data;
    let interaction = data.interaction;
    let talk_time = |speaker: &Option<String>| -> Option<f64> {
        let speakers = interaction.as_ref()?.speakers.as_ref()?;
        speakers.iter().find(|s| s.id.is_some() && s.id == *speaker).and_then(|s| s.talk_time)
    };
    let participants = data.parties.map(|parties| {
        parties
            .into_iter()
            .map(|p| Participant {
                talk_time_secs: talk_time(&p.speaker_id),
                remote_id: p.id,
                name: p.name,
                email: p.email_address,
                title: p.title,
                phone: p.phone_number,
                user_remote_id: p.user_id,
                speaker_id: p.speaker_id,
                affiliation: affiliation(p.affiliation.as_deref()),
                roles: p.methods,
            })
            .collect()
    });
    let (topics, trackers, summary) = match data.content {
        Some(content) => (
            content
                .topics
                .map(|ts| ts.into_iter().map(|t| CallTopic { name: t.name, duration_secs: t.duration }).collect()),
            content.trackers.map(|ts| {
                ts.into_iter()
                    .map(|t| Tracker {
                        remote_id: t.id,
                        count: t.count.unwrap_or(t.occurrences.len() as i64),
                        name: t.name,
                        kind: t.kind,
                        occurrences: t
                            .occurrences
                            .into_iter()
                            .map(|o| TrackerOccurrence {
                                start_secs: o.start_time.unwrap_or(0.0),
                                speaker_id: o.speaker_id,
                            })
                            .collect(),
                    })
                    .collect()
            }),
            content.brief.map(|text| CallSummary { text: Some(text), ..CallSummary::default() }),
        ),
        None => (None, None, None),
    };
    let stats = interaction
        .as_ref()
        .map(|i| call_stats(i.interaction_stats.as_deref().unwrap_or_default(), i.questions.as_ref()));
    Call {
        remote_id: meta.id,
        title: meta.title,
        url: meta.url,
        scheduled_at: timestamp(meta.scheduled.as_deref()),
        started_at: timestamp(meta.started.as_deref()),
        duration_secs: meta.duration,
        direction: direction(meta.direction.as_deref()),
        scope: affiliation(meta.scope.as_deref()),
        medium: medium(meta.media.as_deref()),
        platform: meta.system,
        language: meta.language,
        purpose: meta.purpose,
        host_remote_id: meta.primary_user_id,
        participants,
        topics,
        trackers,
        summary,
        stats,
        state: None,
        crm_matches: None,
        metadata: None,
        host_email: None,
        raw,
    }
}

fn call_stats(stats: &[NamedValue], questions: Option<&super::model::Questions>) -> CallStats {
    let mut out = CallStats {
        company_questions: questions.and_then(|q| q.company_count),
        non_company_questions: questions.and_then(|q| q.non_company_count),
        ..CallStats::default()
    };
    for s in stats {
        let Some(v) = s.value else { continue };
        match s.name.as_str() {
            "Talk Ratio" => out.talk_ratio = Some(v),
            "Longest Monologue" => out.longest_monologue_secs = Some(v),
            "Longest Customer Story" => out.longest_customer_story_secs = Some(v),
            "Interactivity" => out.interactivity = Some(v),
            "Patience" => out.patience_secs = Some(v),
            other => out.other.push((other.to_owned(), v)),
        }
    }
    out
}

pub(crate) fn transcript(t: WithRaw<CallTranscript>) -> Transcript {
    let WithRaw { data, raw } = t;
    let mut segments: Vec<Segment> = data
        .transcript
        .into_iter()
        .flat_map(|m| {
            let (speaker, topic) = (m.speaker_id, m.topic);
            m.sentences.into_iter().map(move |s| Segment {
                speaker_id: speaker.clone(),
                topic: topic.clone(),
                start_ms: s.start,
                end_ms: s.end,
                text: s.text,
            })
        })
        .collect();
    segments.sort_by_key(|s| (s.start_ms, s.end_ms));
    Transcript { call_remote_id: data.call_id, speakers: None, segments, raw }
}

pub(crate) fn activity_metrics(c: &ActivityCounters) -> ActivityMetrics {
    ActivityMetrics {
        calls_hosted: c.calls_as_host,
        calls_attended: c.calls_attended,
        calls_listened_own: c.own_calls_listened_to,
        calls_listened_others: c.others_calls_listened_to,
        feedback_given: c.calls_gave_feedback,
        feedback_received: c.calls_received_feedback,
        feedback_requested: c.calls_requested_feedback,
        comments_given: c.calls_comments_given,
        comments_received: c.calls_comments_received,
        calls_shared_internally: c.calls_shared_internally,
        calls_shared_externally: c.calls_shared_externally,
        scorecards_filled: c.calls_scorecards_filled,
        scorecards_received: c.calls_scorecards_received,
        calls_marked_feedback_given: c.calls_marked_as_feedback_given,
        calls_marked_feedback_received: c.calls_marked_as_feedback_received,
    }
}

/// The date range a stats record covers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Range {
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
}

pub(crate) fn aggregate_activity(
    u: WithRaw<super::model::UserAggregate>,
    range: Range,
    time_zone: Option<&str>,
) -> Activity {
    Activity {
        user: StatsUser { remote_id: u.data.user_id.clone(), email: u.data.user_email_address.clone() },
        period: AggregationPeriod::Total,
        from_date: range.from,
        to_date: range.to,
        time_zone: time_zone.map(str::to_owned),
        metrics: activity_metrics(&u.data.user_aggregate_activity_stats),
        raw: u.raw,
    }
}

pub(crate) fn period_activity(
    u: WithRaw<super::model::UserByPeriod>,
    period: AggregationPeriod,
    time_zone: Option<&str>,
) -> Vec<Activity> {
    let raw_periods = match u.raw.get("userAggregateActivity") {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    u.data
        .user_aggregate_activity
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            Some(Activity {
                user: StatsUser { remote_id: u.data.user_id.clone(), email: u.data.user_email_address.clone() },
                period,
                from_date: date(&p.from_date)?,
                to_date: date(&p.to_date)?,
                time_zone: time_zone.map(str::to_owned),
                metrics: activity_metrics(&p.counters),
                raw: Raw::new(raw_periods.get(i).cloned().unwrap_or(Value::Null)),
            })
        })
        .collect()
}

/// Parses `YYYY-MM-DD`, also accepting a full timestamp (its date part).
pub(crate) fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

pub(crate) fn interaction(p: WithRaw<PersonInteraction>, range: Range, time_zone: Option<&str>) -> Interaction {
    let mut metrics = InteractionMetrics::default();
    let mut additional = Vec::new();
    for s in &p.data.person_interaction_stats {
        let Some(v) = s.value else { continue };
        match s.name.as_str() {
            "Longest Monologue" => metrics.longest_monologue = Some(v),
            "Longest Customer Story" => metrics.longest_customer_story = Some(v),
            "Interactivity" => metrics.interactivity = Some(v),
            "Patience" => metrics.patience = Some(v),
            "Question Rate" => metrics.question_rate = Some(v),
            other => additional.push((other.to_owned(), v)),
        }
    }
    Interaction {
        user: StatsUser { remote_id: p.data.user_id.clone(), email: p.data.user_email_address.clone() },
        period: AggregationPeriod::Total,
        from_date: range.from,
        to_date: range.to,
        time_zone: time_zone.map(str::to_owned),
        metrics,
        additional,
        raw: p.raw,
    }
}

pub(crate) fn score(s: WithRaw<AnsweredScorecard>) -> Score {
    let WithRaw { data, raw } = s;
    Score {
        remote_id: data.answered_scorecard_id.0,
        scorecard_remote_id: data.scorecard_id.map(|i| i.0),
        scorecard_name: data.scorecard_name,
        call_remote_id: data.call_id.map(|i| i.0),
        call_started_at: timestamp(data.call_start_time.as_deref()),
        reviewed_user_remote_id: data.reviewed_user_id.map(|i| i.0),
        reviewer_user_remote_id: data.reviewer_user_id.map(|i| i.0),
        reviewed_at: timestamp(data.review_time.as_deref()),
        visibility: data.visibility_type,
        reviewed_user_email: None,
        reviewer_email: None,
        percentage: None,
        answers: data
            .answers
            .into_iter()
            .map(|a| ScoreAnswer {
                question_remote_id: a.question_id.0,
                question_text: None,
                skills: Vec::new(),
                scheme: None,
                percentage: None,
                reason: None,
                comment: None,
                is_overall: a.is_overall,
                score: a.score,
                text: a.answer_text,
                not_applicable: a.not_applicable,
                selected_options: a
                    .selected_options
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect(),
            })
            .collect(),
        raw,
    }
}

pub(crate) fn scorecard(s: WithRaw<GongScorecard>) -> Scorecard {
    let WithRaw { data, raw } = s;
    Scorecard {
        remote_id: data.scorecard_id.0,
        name: data.scorecard_name.unwrap_or_default(),
        enabled: data.enabled,
        created_at: timestamp(data.created.as_deref()),
        updated_at: timestamp(data.updated.as_deref()),
        questions: data
            .questions
            .into_iter()
            .map(|q| ScorecardQuestion {
                remote_id: q.question_id.0,
                text: q.question_text.unwrap_or_default(),
                is_overall: q.is_overall,
                kind: q.question_type,
                min: q.min_range,
                max: q.max_range,
                options: q.answer_options.into_iter().filter_map(|o| o.text).collect(),
            })
            .collect(),
        raw,
    }
}

fn person(u: CoachingUser) -> CoachingPerson {
    CoachingPerson {
        remote_id: u.id.0,
        email: u.email_address,
        first_name: u.first_name,
        last_name: u.last_name,
        title: u.title,
    }
}

pub(crate) fn coaching(c: WithRaw<ManagerCoaching>) -> Coaching {
    let WithRaw { data, raw } = c;
    Coaching {
        manager: person(data.manager),
        reports: data
            .direct_reports_metrics
            .into_iter()
            .map(|r| CoachingReport {
                report: person(r.report),
                metrics: r
                    .metrics
                    .into_iter()
                    .map(|(k, vs)| {
                        let vs = vs
                            .into_iter()
                            .map(|v| match v {
                                Value::String(s) => s,
                                other => other.to_string(),
                            })
                            .collect();
                        (k, vs)
                    })
                    .collect(),
            })
            .collect(),
        raw,
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::*;
    use super::*;

    fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
        let path = format!("{}/tests/fixtures/gong/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn users_map_identity_aliases_and_manager() {
        let resp: UsersResponse = fixture("users.json");
        assert_eq!(resp.records.cursor.as_deref(), Some("eyJhbGciOiJIUzI1NiJ9.page2"));
        let users: Vec<User> = resp.users.into_iter().map(user).collect();
        let u = &users[0];
        assert_eq!(u.remote_id, "234599484848423");
        assert_eq!(u.name().as_deref(), Some("Ada Lovelace"));
        assert!(u.has_email("ADA@acme-demo.com"));
        assert!(u.has_email("a.lovelace@acme.io"), "aliases count as the user's email");
        assert_eq!(u.manager_remote_id.as_deref(), Some("563515258458745"));
        assert_eq!(u.created_at.unwrap().to_rfc3339(), "2018-02-18T08:00:00+00:00");
        assert_eq!(u.raw["settings"]["webConferencesRecorded"], true, "raw record kept whole");
        assert_eq!(users[1].manager_remote_id, None, "empty managerId means none");
    }

    #[test]
    fn extensive_call_maps_parties_content_and_stats() {
        let resp: CallsExtensiveResponse = fixture("calls_extensive.json");
        assert!(resp.records.cursor.is_none());
        let c = call(resp.calls.into_iter().next().unwrap());
        assert_eq!(c.remote_id, "7782342274025937895");
        assert_eq!(c.direction, CallDirection::Outbound);
        assert_eq!(c.scope, Affiliation::External);
        assert_eq!(c.medium, Some(Medium::Video));
        assert_eq!(c.duration_secs, Some(460.0));
        assert_eq!(c.started_at.unwrap().to_rfc3339(), "2018-02-18T09:30:00+00:00", "offset normalised to UTC");
        let parties = c.participants.as_ref().unwrap();
        assert_eq!(parties.len(), 2);
        assert_eq!(parties[0].affiliation, Affiliation::Internal);
        assert_eq!(parties[0].talk_time_secs, Some(210.5), "speaker talk time joined by speakerId");
        assert_eq!(parties[1].roles, vec!["Invitee", "Attendee"]);
        let topics = c.topics.as_ref().unwrap();
        assert_eq!((topics[0].name.as_str(), topics[0].duration_secs), ("Pricing", Some(120.0)));
        let trackers = c.trackers.as_ref().unwrap();
        assert_eq!(trackers[0].count, 2);
        assert_eq!(trackers[0].occurrences[1].start_secs, 95.5);
        let stats = c.stats.as_ref().unwrap();
        assert_eq!(stats.talk_ratio, Some(56.0));
        assert_eq!(stats.patience_secs, Some(0.8));
        assert_eq!(stats.company_questions, Some(7));
        assert_eq!(stats.other, vec![("Future Stat".to_owned(), 3.0)], "unknown stat names kept");
        assert_eq!(c.summary.and_then(|s| s.text).as_deref(), Some("Discussed pricing and next steps."));
    }

    #[test]
    fn call_without_selected_parts_has_no_participants() {
        let raw = serde_json::json!({"metaData": {"id": "1", "direction": "Sideways"}});
        let c = call(serde_json::from_value(raw).unwrap());
        assert!(c.participants.is_none() && c.topics.is_none() && c.stats.is_none());
        assert_eq!(c.direction, CallDirection::Unknown);
        assert_eq!(c.medium, None);
    }

    #[test]
    fn transcript_flattens_monologues_in_time_order() {
        let resp: TranscriptResponse = fixture("transcript.json");
        let t = transcript(resp.call_transcripts.into_iter().next().unwrap());
        assert_eq!(t.call_remote_id, "7782342274025937895");
        let starts: Vec<i64> = t.segments.iter().map(|s| s.start_ms).collect();
        assert_eq!(starts, vec![0, 2100, 4000, 460230]);
        assert_eq!(t.segments[3].topic.as_deref(), Some("Objections"));
        assert_eq!(t.segments[2].speaker_id.as_deref(), Some("6432345678555530067"));
    }

    #[test]
    fn aggregate_activity_maps_all_fifteen_counters() {
        let resp: AggregateResponse = fixture("activity_aggregate.json");
        let range = Range { from: date("2026-03-02").unwrap(), to: date("2026-03-09").unwrap() };
        let a = aggregate_activity(
            resp.users_aggregate_activity_stats.into_iter().next().unwrap(),
            range,
            Some("America/New_York"),
        );
        let m = a.metrics;
        let got = [
            m.calls_hosted,
            m.feedback_given,
            m.feedback_requested,
            m.feedback_received,
            m.calls_listened_own,
            m.calls_listened_others,
            m.calls_shared_internally,
            m.calls_shared_externally,
            m.scorecards_filled,
            m.scorecards_received,
            m.calls_attended,
            m.comments_given,
            m.comments_received,
            m.calls_marked_feedback_given,
            m.calls_marked_feedback_received,
        ];
        assert_eq!(
            got,
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
            "each Gong counter lands in its own metric"
        );
        assert_eq!(a.period, AggregationPeriod::Total);
        assert_eq!(a.user.email.as_deref(), Some("ada@acme-demo.com"));
    }

    #[test]
    fn activity_by_period_gives_one_record_per_period() {
        let resp: ByPeriodResponse = fixture("activity_by_period.json");
        let list =
            period_activity(resp.users_aggregate_activity.into_iter().next().unwrap(), AggregationPeriod::Week, None);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].from_date.to_string(), "2026-03-04");
        assert_eq!(list[1].to_date.to_string(), "2026-03-12");
        assert_eq!(list[1].metrics.calls_hosted, 4);
        assert_eq!(list[1].raw["callsAsHost"], 4, "raw is the period's own record");
    }

    #[test]
    fn interaction_splits_standard_and_additional_metrics() {
        let resp: InteractionResponse = fixture("interaction.json");
        assert_eq!(resp.time_zone.as_deref(), Some("America/New_York"));
        let range = Range { from: date("2026-03-01").unwrap(), to: date("2026-04-01").unwrap() };
        let i =
            interaction(resp.people_interaction_stats.into_iter().next().unwrap(), range, resp.time_zone.as_deref());
        assert_eq!(i.metrics.longest_monologue, Some(125.0));
        assert_eq!(i.metrics.question_rate, Some(11.5));
        assert_eq!(i.metrics.interactivity, Some(9.23));
        assert_eq!(i.additional, vec![("Talk Speed".to_owned(), 160.0)]);
    }

    #[test]
    fn answered_scorecard_ids_are_int64_numbers() {
        let resp: AnsweredScorecardsResponse = fixture("answered_scorecards.json");
        let s = score(resp.answered_scorecards.into_iter().next().unwrap());
        assert_eq!(s.call_remote_id.as_deref(), Some("7782342274025937895"), "no float precision loss");
        assert_eq!(s.reviewer_user_remote_id.as_deref(), Some("4"));
        assert_eq!(s.answers.len(), 2);
        assert!(s.answers[0].is_overall);
        assert_eq!(s.answers[1].score, None);
        assert!(s.answers[1].not_applicable);
    }

    #[test]
    fn scorecard_template_maps_questions() {
        let resp: ScorecardsResponse = fixture("scorecards.json");
        let s = scorecard(resp.scorecards.into_iter().next().unwrap());
        assert_eq!((s.remote_id.as_str(), s.name.as_str()), ("2", "Discovery"));
        assert_eq!(s.questions[0].max, Some(5.0));
        assert_eq!(s.questions[1].options, vec!["Yes", "No"]);
    }

    #[test]
    fn coaching_maps_manager_reports_and_metrics() {
        let resp: CoachingResponse = fixture("coaching.json");
        let c = coaching(resp.coaching_data.into_iter().next().unwrap());
        assert_eq!(c.manager.email.as_deref(), Some("grace@acme-demo.com"));
        assert_eq!(c.reports.len(), 1);
        assert_eq!(c.reports[0].metrics, vec![("callsListened".to_owned(), vec!["12".to_owned(), "13".to_owned()])]);
    }
}
