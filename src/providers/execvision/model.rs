//! ExecVision (Mediafly Coach) wire models, mirroring the objects of the API
//! reference (seed 002). Unknown fields are ignored; what may be absent is an `Option`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub(crate) use crate::providers::wire::{OneRecord, RecordList, TimeText, WithRaw};

/// A number the API sometimes sends as a string (transcript word times) or an id
/// that is sometimes numeric.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Loose(pub(crate) Value);

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self(Value::deserialize(d)?))
    }
}

impl Loose {
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match &self.0 {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
    pub(crate) fn as_id(&self) -> Option<String> {
        match &self.0 {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvUser {
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) user_id: String,
    pub(crate) email: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) team_id: Option<String>,
    pub(crate) department_id: Option<String>,
    #[serde(default)]
    pub(crate) system_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvTeam {
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) manager_id: Option<String>,
    pub(crate) department_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EvDepartment {
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) id: String,
    pub(crate) name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvCall {
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) id: String,
    pub(crate) caller_email: Option<String>,
    pub(crate) caller_id: Option<String>,
    pub(crate) call_summary: Option<EvCallSummary>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) call_time: Option<TimeText>,
    pub(crate) duration: Option<f64>,
    pub(crate) direction: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) transcript: Option<Vec<EvWord>>,
    pub(crate) crm_matches: Option<Vec<EvCrmMatch>>,
    pub(crate) stats: Option<EvCallStats>,
    pub(crate) metadata: Option<Value>,
    /// Last-modified time, when the API sends one with the call.
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) modified: Option<TimeText>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvCallSummary {
    #[serde(default)]
    pub(crate) next_steps: Vec<String>,
    #[serde(default)]
    pub(crate) questions_and_answers: Vec<EvQa>,
    pub(crate) summary: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EvQa {
    pub(crate) question: String,
    pub(crate) answer: String,
}

/// A transcript word or phrase; times are seconds as strings.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EvWord {
    pub(crate) start: Loose,
    pub(crate) end: Loose,
    pub(crate) word: String,
    pub(crate) p: Option<String>,
    pub(crate) v: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvCrmMatch {
    pub(crate) crm_name: Option<String>,
    pub(crate) activity_crm_id: Option<String>,
    pub(crate) account: Option<EvCrmEntity>,
    #[serde(default)]
    pub(crate) contacts: Vec<EvCrmEntity>,
    pub(crate) engagement: Option<EvCrmEntity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvCrmEntity {
    pub(crate) crm_id: String,
    pub(crate) name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvCallStats {
    pub(crate) internal_talk_time: Option<f64>,
    pub(crate) external_talk_time: Option<f64>,
    pub(crate) talk_ratio: Option<f64>,
    pub(crate) interchanges_per_minute: Option<f64>,
    #[serde(default)]
    pub(crate) longest_segment_durations: BTreeMap<String, f64>,
    #[serde(default)]
    pub(crate) talk_speeds: Vec<EvTalkSpeed>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvTalkSpeed {
    pub(crate) start: f64,
    pub(crate) end: f64,
    #[serde(default)]
    pub(crate) words_per_minute: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvDeletedCall {
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) id: String,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) deleted_at: Option<TimeText>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvSimplifiedTranscript {
    #[serde(default)]
    pub(crate) speakers: Vec<EvSpeaker>,
    #[serde(default)]
    pub(crate) transcript: Vec<EvTranscriptPart>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvSpeaker {
    pub(crate) email: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) speaker_number: i64,
    pub(crate) speaker_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvTranscriptPart {
    pub(crate) start_time: f64,
    pub(crate) end_time: f64,
    pub(crate) speaker_number: Option<i64>,
    pub(crate) text: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvTopicMatches {
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) call_id: String,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) modified: Option<TimeText>,
    pub(crate) question_counts: Option<EvQuestionCounts>,
    #[serde(default)]
    pub(crate) topic_matches: Vec<EvTopicBlock>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvQuestionCounts {
    pub(crate) internal_speaker_question_count: Option<i64>,
    pub(crate) external_speaker_question_count: Option<i64>,
    pub(crate) unknown_speaker_question_count: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvTopicBlock {
    pub(crate) start_time: f64,
    pub(crate) end_time: f64,
    pub(crate) text: String,
    pub(crate) speaker_type: Option<String>,
    #[serde(default)]
    pub(crate) topics_with_matches: Vec<EvTopicWithMatches>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvTopicWithMatches {
    pub(crate) topic_id: Loose,
    pub(crate) topic_name: Option<String>,
    #[serde(default)]
    pub(crate) matches: Vec<EvMatch>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvMatch {
    #[serde(default)]
    pub(crate) search_text: Vec<String>,
    pub(crate) matching_text: Option<String>,
    pub(crate) match_start_time: Option<f64>,
    pub(crate) match_start_index: Option<i64>,
    pub(crate) match_end_time: Option<f64>,
    pub(crate) match_end_index: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvListen {
    pub(crate) date: Option<String>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) modified: Option<TimeText>,
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) call_id: String,
    pub(crate) listener: Option<String>,
    pub(crate) caller: Option<String>,
    pub(crate) time_listened: Option<f64>,
}

/// One answer row of `scores` (a scorecard result spans several rows).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvScoreRow {
    pub(crate) reviewer: Option<String>,
    pub(crate) caller: Option<String>,
    pub(crate) call_id: Option<String>,
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) result_id: String,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) score_time: Option<TimeText>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) modified: Option<TimeText>,
    pub(crate) scorecard_id: Option<String>,
    pub(crate) scorecard_name: Option<String>,
    pub(crate) question_id: Option<String>,
    pub(crate) question: Option<String>,
    pub(crate) skill1: Option<String>,
    pub(crate) skill2: Option<String>,
    pub(crate) skill3: Option<String>,
    pub(crate) scheme: Option<String>,
    pub(crate) answer: Option<Loose>,
    pub(crate) raw_answer: Option<Loose>,
    pub(crate) reason: Option<String>,
    pub(crate) comment: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvScorecardQuestion {
    pub(crate) scorecard_scheme: Option<String>,
    pub(crate) scorecard_name: Option<String>,
    #[serde(alias = "questionID")]
    pub(crate) question_id: Option<String>,
    pub(crate) question_text: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EvTopic {
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) words: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvFeedback {
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) feedback_at: Option<TimeText>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) modified: Option<TimeText>,
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) call_id: String,
    pub(crate) feedback_by: Option<String>,
    #[serde(default)]
    pub(crate) is_comment: bool,
    #[serde(default)]
    pub(crate) is_highlight: bool,
    pub(crate) text: Option<String>,
    pub(crate) start_time: Option<f64>,
    pub(crate) end_time: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvShare {
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) shared_at: Option<TimeText>,
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) call_id: String,
    pub(crate) shared_by: Option<String>,
    #[serde(default)]
    pub(crate) recipient_user_ids: Vec<String>,
    #[serde(default)]
    pub(crate) recipient_emails: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvMeeting {
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) meeting_id: String,
    pub(crate) plan_id: Option<Loose>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) date_time: Option<TimeText>,
    pub(crate) coach_id: Option<String>,
    pub(crate) recipient_id: Option<String>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) start_time: Option<TimeText>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) end_time: Option<TimeText>,
    #[serde(default)]
    pub(crate) scores: BTreeMap<String, f64>,
    #[serde(default)]
    pub(crate) call_reviews: Vec<EvCallReview>,
    #[serde(default)]
    pub(crate) questions: Vec<EvMeetingQuestion>,
    pub(crate) comments: Option<String>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) modified: Option<TimeText>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvCallReview {
    pub(crate) call_id: String,
    #[serde(default)]
    pub(crate) questions: Vec<EvMeetingQuestion>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvMeetingQuestion {
    pub(crate) question: String,
    pub(crate) possible_score: Option<f64>,
    pub(crate) actual_score: Option<f64>,
    pub(crate) review_weight: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvPlan {
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) plan_id: String,
    pub(crate) name: Option<String>,
    pub(crate) objective: Option<String>,
    pub(crate) start_date: Option<String>,
    pub(crate) coach_id: Option<String>,
    pub(crate) recipient_id: Option<String>,
    pub(crate) planned_meetings: Option<i64>,
    pub(crate) completed_meetings: Option<i64>,
    pub(crate) estimated_missed_meetings: Option<i64>,
    #[serde(default)]
    pub(crate) skill: Vec<EvSkill>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) modified: Option<TimeText>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvSkill {
    pub(crate) skill_id: Loose,
    pub(crate) skill_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvKpiObservation {
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) observed_at: Option<TimeText>,
    pub(crate) observer_id: Option<Loose>,
    pub(crate) observed_id: Option<Loose>,
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) kpi_id: String,
    pub(crate) value: Option<f64>,
    #[serde(default, deserialize_with = "crate::providers::wire::opt_time")]
    pub(crate) modified: Option<TimeText>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EvKpiDefinition {
    #[serde(deserialize_with = "crate::providers::wire::record_id")]
    pub(crate) kpi_id: String,
    pub(crate) description: Option<String>,
    pub(crate) frequency: Option<String>,
    pub(crate) target: Option<f64>,
}
