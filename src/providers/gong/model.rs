//! Gong wire models: serde mirrors of Gong's JSON (field names from Gong's
//! OpenAPI document). Unknown fields are ignored (Gong adds fields without notice);
//! everything Gong may omit is an `Option`. These types never leave this folder.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub(crate) use crate::providers::wire::{RecordList, TimeText, WithRaw};

/// `records` paging block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Records {
    pub(crate) total_records: Option<u64>,
    pub(crate) cursor: Option<String>,
}

// ---------------------------------------------------------------- users

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GongUser {
    pub(crate) id: String,
    pub(crate) email_address: Option<String>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) created: Option<TimeText>,
    pub(crate) active: Option<bool>,
    #[serde(default)]
    pub(crate) email_aliases: Vec<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) phone_number: Option<String>,
    pub(crate) manager_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UsersResponse {
    #[serde(default)]
    pub(crate) records: Records,
    #[serde(default)]
    pub(crate) users: RecordList<GongUser>,
}

/// Body of `POST /v2/users/extensive`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UsersExtensiveRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cursor: Option<String>,
    pub(crate) filter: UsersFilter,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UsersFilter {
    pub(crate) user_ids: Vec<String>,
}

// ---------------------------------------------------------------- calls

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallBasicData {
    pub(crate) id: String,
    pub(crate) url: Option<String>,
    pub(crate) title: Option<String>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) scheduled: Option<TimeText>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) started: Option<TimeText>,
    pub(crate) duration: Option<f64>,
    pub(crate) primary_user_id: Option<String>,
    pub(crate) direction: Option<String>,
    pub(crate) system: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) media: Option<String>,
    pub(crate) language: Option<String>,
    pub(crate) purpose: Option<String>,
}

/// One item of `POST /v2/calls/extensive`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallData {
    pub(crate) meta_data: CallBasicData,
    pub(crate) parties: Option<Vec<Party>>,
    pub(crate) content: Option<CallContent>,
    pub(crate) interaction: Option<CallInteraction>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Party {
    pub(crate) id: Option<String>,
    pub(crate) email_address: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) user_id: Option<String>,
    pub(crate) speaker_id: Option<String>,
    pub(crate) affiliation: Option<String>,
    pub(crate) phone_number: Option<String>,
    #[serde(default)]
    pub(crate) methods: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallContent {
    pub(crate) topics: Option<Vec<Topic>>,
    pub(crate) trackers: Option<Vec<GongTracker>>,
    pub(crate) brief: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Topic {
    #[serde(default)]
    pub(crate) name: String,
    pub(crate) duration: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GongTracker {
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) name: String,
    pub(crate) count: Option<i64>,
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) occurrences: Vec<Occurrence>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Occurrence {
    pub(crate) start_time: Option<f64>,
    pub(crate) speaker_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallInteraction {
    pub(crate) speakers: Option<Vec<Speaker>>,
    pub(crate) interaction_stats: Option<Vec<NamedValue>>,
    pub(crate) questions: Option<Questions>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Speaker {
    pub(crate) id: Option<String>,
    pub(crate) talk_time: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Questions {
    pub(crate) company_count: Option<i64>,
    pub(crate) non_company_count: Option<i64>,
}

/// `{ name, value }` stat pairs.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NamedValue {
    #[serde(default)]
    pub(crate) name: String,
    pub(crate) value: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallsExtensiveResponse {
    #[serde(default)]
    pub(crate) records: Records,
    #[serde(default)]
    pub(crate) calls: RecordList<CallData>,
}

#[derive(Debug, Serialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallsFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) from_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) to_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) workspace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) call_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) primary_user_ids: Option<Vec<String>>,
}

// ---------------------------------------------------------------- transcripts

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TranscriptResponse {
    #[serde(default)]
    pub(crate) records: Records,
    #[serde(default)]
    pub(crate) call_transcripts: RecordList<CallTranscript>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallTranscript {
    pub(crate) call_id: String,
    #[serde(default)]
    pub(crate) transcript: Vec<Monologue>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Monologue {
    pub(crate) speaker_id: Option<String>,
    pub(crate) topic: Option<String>,
    #[serde(default)]
    pub(crate) sentences: Vec<Sentence>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Sentence {
    #[serde(default)]
    pub(crate) start: i64,
    #[serde(default)]
    pub(crate) end: i64,
    #[serde(default)]
    pub(crate) text: String,
}

// ---------------------------------------------------------------- stats

/// Body of the stats endpoints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatsRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) aggregation_period: Option<&'static str>,
    pub(crate) filter: StatsFilter,
}

#[derive(Debug, Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatsFilter {
    pub(crate) from_date: String,
    pub(crate) to_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user_ids: Option<Vec<String>>,
}

/// Gong's 15 activity counters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ActivityCounters {
    pub(crate) calls_as_host: i64,
    pub(crate) calls_gave_feedback: i64,
    pub(crate) calls_requested_feedback: i64,
    pub(crate) calls_received_feedback: i64,
    pub(crate) own_calls_listened_to: i64,
    pub(crate) others_calls_listened_to: i64,
    pub(crate) calls_shared_internally: i64,
    pub(crate) calls_shared_externally: i64,
    pub(crate) calls_scorecards_filled: i64,
    pub(crate) calls_scorecards_received: i64,
    pub(crate) calls_attended: i64,
    pub(crate) calls_comments_given: i64,
    pub(crate) calls_comments_received: i64,
    pub(crate) calls_marked_as_feedback_given: i64,
    pub(crate) calls_marked_as_feedback_received: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AggregateResponse {
    #[serde(default)]
    pub(crate) records: Records,
    pub(crate) time_zone: Option<String>,
    #[serde(default)]
    pub(crate) users_aggregate_activity_stats: RecordList<UserAggregate>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserAggregate {
    pub(crate) user_id: String,
    pub(crate) user_email_address: Option<String>,
    #[serde(default)]
    pub(crate) user_aggregate_activity_stats: ActivityCounters,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ByPeriodResponse {
    #[serde(default)]
    pub(crate) records: Records,
    pub(crate) time_zone: Option<String>,
    #[serde(default)]
    pub(crate) users_aggregate_activity: RecordList<UserByPeriod>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserByPeriod {
    pub(crate) user_id: String,
    pub(crate) user_email_address: Option<String>,
    #[serde(default)]
    pub(crate) user_aggregate_activity: Vec<PeriodCounters>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PeriodCounters {
    #[serde(flatten)]
    pub(crate) counters: ActivityCounters,
    pub(crate) from_date: String,
    pub(crate) to_date: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InteractionResponse {
    #[serde(default)]
    pub(crate) records: Records,
    pub(crate) time_zone: Option<String>,
    #[serde(default)]
    pub(crate) people_interaction_stats: RecordList<PersonInteraction>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PersonInteraction {
    pub(crate) user_id: String,
    pub(crate) user_email_address: Option<String>,
    #[serde(default)]
    pub(crate) person_interaction_stats: Vec<NamedValue>,
}

// ---------------------------------------------------------------- scorecards

/// Gong sends these ids as JSON int64 numbers; accept strings too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NumId(pub(crate) String);

impl<'de> Deserialize<'de> for NumId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => Ok(Self(n.to_string())),
            Value::String(s) => Ok(Self(s)),
            other => Err(serde::de::Error::custom(format!("expected an id, got {other}"))),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScoresRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cursor: Option<String>,
    pub(crate) filter: ScoresFilter,
}

#[derive(Debug, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScoresFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) call_from_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) call_to_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) review_from_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) review_to_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reviewed_user_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) scorecard_ids: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnsweredScorecardsResponse {
    #[serde(default)]
    pub(crate) records: Records,
    #[serde(default)]
    pub(crate) answered_scorecards: RecordList<AnsweredScorecard>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnsweredScorecard {
    pub(crate) answered_scorecard_id: NumId,
    pub(crate) scorecard_id: Option<NumId>,
    pub(crate) scorecard_name: Option<String>,
    pub(crate) call_id: Option<NumId>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) call_start_time: Option<TimeText>,
    pub(crate) reviewed_user_id: Option<NumId>,
    pub(crate) reviewer_user_id: Option<NumId>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) review_time: Option<TimeText>,
    pub(crate) visibility_type: Option<String>,
    #[serde(default)]
    pub(crate) answers: Vec<Answer>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Answer {
    pub(crate) question_id: NumId,
    #[serde(default)]
    pub(crate) is_overall: bool,
    pub(crate) score: Option<f64>,
    pub(crate) answer_text: Option<String>,
    #[serde(default)]
    pub(crate) not_applicable: bool,
    pub(crate) selected_options: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScorecardsResponse {
    #[serde(default)]
    pub(crate) scorecards: RecordList<GongScorecard>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GongScorecard {
    pub(crate) scorecard_id: NumId,
    pub(crate) scorecard_name: Option<String>,
    pub(crate) enabled: Option<bool>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) created: Option<TimeText>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) updated: Option<TimeText>,
    #[serde(default)]
    pub(crate) questions: Vec<GongQuestion>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GongQuestion {
    pub(crate) question_id: NumId,
    pub(crate) question_text: Option<String>,
    #[serde(default)]
    pub(crate) is_overall: bool,
    pub(crate) question_type: Option<String>,
    pub(crate) min_range: Option<f64>,
    pub(crate) max_range: Option<f64>,
    #[serde(default)]
    pub(crate) answer_options: Vec<AnswerOption>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AnswerOption {
    pub(crate) text: Option<String>,
}

// ---------------------------------------------------------------- coaching

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CoachingResponse {
    #[serde(default)]
    pub(crate) coaching_data: RecordList<ManagerCoaching>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManagerCoaching {
    pub(crate) manager: CoachingUser,
    #[serde(default)]
    pub(crate) direct_reports_metrics: Vec<ReportMetrics>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CoachingUser {
    pub(crate) id: NumId,
    pub(crate) email_address: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) title: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ReportMetrics {
    pub(crate) report: CoachingUser,
    #[serde(default)]
    pub(crate) metrics: std::collections::BTreeMap<String, Vec<Value>>,
}
