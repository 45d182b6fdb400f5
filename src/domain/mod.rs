//! Provider-neutral records. Providers map their wire models into these in their
//! `mapping.rs`; the schema wraps them. Every record keeps the provider's own JSON
//! (`raw`, a [`Raw`]) for `remoteData`. Records serialize (serde) only so that the
//! cache can keep them packed ([`crate::cache::pack`]).

mod raw;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use self::raw::Raw;

/// A page of records from a provider list endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    /// Records in provider order.
    pub items: Vec<T>,
    /// The provider's token for the next page, if there is one.
    pub next: Option<String>,
    /// Total records of the whole list, when the provider says.
    pub total: Option<u64>,
}

impl<T> Page<T> {
    /// An empty last page.
    pub fn empty() -> Self {
        Self { items: Vec::new(), next: None, total: Some(0) }
    }
}

/// A provider account of a person.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub remote_id: String,
    pub email: Option<String>,
    pub email_aliases: Vec<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub active: Option<bool>,
    pub manager_remote_id: Option<String>,
    #[serde(with = "crate::cache::pack::exact")]
    pub created_at: Option<DateTime<Utc>>,
    pub team: Option<String>,
    pub department: Option<String>,
    /// Ids of this user in other systems (dialer, CRM).
    pub system_ids: Vec<String>,
    pub raw: Raw,
}

impl User {
    /// "First Last", falling back to whichever part exists.
    pub fn name(&self) -> Option<String> {
        match (&self.first_name, &self.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(x), None) | (None, Some(x)) => Some(x.clone()),
            (None, None) => None,
        }
    }

    /// Whether `email` is this user's address or one of its aliases (case-insensitive).
    pub fn has_email(&self, email: &str) -> bool {
        self.email.iter().chain(&self.email_aliases).any(|e| e.eq_ignore_ascii_case(email))
    }
}

/// Call direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum)]
pub enum CallDirection {
    /// The other party called in.
    Inbound,
    /// The user called out.
    Outbound,
    /// A scheduled meeting or conference.
    Conference,
    /// The provider does not say.
    Unknown,
}

/// Whether a call or person is inside or outside the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
pub enum Affiliation {
    /// Everyone is from the company.
    Internal,
    /// Someone from outside the company.
    External,
    /// The provider does not say.
    Unknown,
}

/// How a conversation was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum)]
pub enum Medium {
    /// Audio only (phone, dialer).
    Audio,
    /// Video meeting.
    Video,
    /// Text chat.
    Chat,
    /// A medium the provider names that convograph does not know (its own value is in
    /// `remoteData`).
    Other,
}

/// A call or meeting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Call {
    pub remote_id: String,
    pub title: Option<String>,
    pub url: Option<String>,
    #[serde(with = "crate::cache::pack::exact")]
    pub scheduled_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::cache::pack::exact")]
    pub started_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<f64>,
    pub direction: CallDirection,
    pub scope: Affiliation,
    pub medium: Option<Medium>,
    pub platform: Option<String>,
    pub language: Option<String>,
    pub purpose: Option<String>,
    pub host_remote_id: Option<String>,
    pub participants: Option<Vec<Participant>>,
    pub topics: Option<Vec<CallTopic>>,
    pub trackers: Option<Vec<Tracker>>,
    pub summary: Option<CallSummary>,
    pub stats: Option<CallStats>,
    /// Processing state (ExecVision: COMPLETE, CONVERTER_REJECTED, …).
    pub state: Option<String>,
    pub crm_matches: Option<Vec<CrmMatch>>,
    /// Provider custom fields (ExecVision call metadata).
    #[serde(with = "crate::cache::pack::json_text")]
    pub metadata: Option<Value>,
    /// Email of the host, when the provider gives it with the call.
    pub host_email: Option<String>,
    pub raw: Raw,
}

#[cfg(test)]
impl Call {
    /// A call known only by its id and start: the base of the unit tests' calls.
    pub(crate) fn bare(remote_id: impl Into<String>, started_at: DateTime<Utc>) -> Self {
        Self {
            remote_id: remote_id.into(),
            title: None,
            url: None,
            scheduled_at: None,
            started_at: Some(started_at),
            duration_secs: None,
            direction: CallDirection::Unknown,
            scope: Affiliation::Unknown,
            medium: None,
            platform: None,
            language: None,
            purpose: None,
            host_remote_id: None,
            participants: None,
            topics: None,
            trackers: None,
            summary: None,
            stats: None,
            state: None,
            crm_matches: None,
            metadata: None,
            host_email: None,
            raw: Raw::default(),
        }
    }
}

/// A provider's summary of a call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CallSummary {
    pub text: Option<String>,
    pub next_steps: Vec<String>,
    pub questions_and_answers: Vec<QuestionAnswer>,
}

/// One person on a call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Participant {
    pub remote_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    /// The provider user id when the participant is a user of the provider.
    pub user_remote_id: Option<String>,
    /// Joins to transcript segments.
    pub speaker_id: Option<String>,
    pub affiliation: Affiliation,
    /// e.g. `Invitee`, `Attendee`.
    pub roles: Vec<String>,
    /// Seconds this participant talked, when known.
    pub talk_time_secs: Option<f64>,
}

/// A topic discussed on a call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallTopic {
    pub name: String,
    pub duration_secs: Option<f64>,
}

/// A tracked keyword or concept and where it occurred.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tracker {
    pub remote_id: Option<String>,
    pub name: String,
    pub kind: Option<String>,
    pub count: i64,
    /// Seconds from the call start.
    pub occurrences: Vec<TrackerOccurrence>,
}

/// One occurrence of a tracker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackerOccurrence {
    pub start_secs: f64,
    pub speaker_id: Option<String>,
}

/// Interaction statistics of one call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CallStats {
    /// Percentage of the time the company side talked (0–100).
    pub talk_ratio: Option<f64>,
    pub longest_monologue_secs: Option<f64>,
    pub longest_customer_story_secs: Option<f64>,
    pub interactivity: Option<f64>,
    pub patience_secs: Option<f64>,
    pub company_questions: Option<i64>,
    pub non_company_questions: Option<i64>,
    pub internal_talk_secs: Option<f64>,
    pub external_talk_secs: Option<f64>,
    pub interchanges_per_minute: Option<f64>,
    /// Speaker id → longest uninterrupted speech, seconds.
    pub longest_segments: Vec<(String, f64)>,
    pub talk_speeds: Vec<TalkSpeed>,
    /// Stats under other names.
    pub other: Vec<(String, f64)>,
}

/// The transcript of one call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transcript {
    pub call_remote_id: String,
    /// Speakers as the provider types them; `None` when they come from the call's participants.
    pub speakers: Option<Vec<TranscriptSpeaker>>,
    /// Segments in time order.
    pub segments: Vec<Segment>,
    pub raw: Raw,
}

/// One utterance of a transcript.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Segment {
    pub speaker_id: Option<String>,
    pub topic: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
}

/// Period of an aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum)]
pub enum AggregationPeriod {
    /// One record per day.
    Day,
    /// One record per week (weeks start Monday).
    Week,
    /// One record per calendar month.
    Month,
    /// One record for the whole range.
    Total,
}

/// Identity of the user a stats record belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatsUser {
    pub remote_id: String,
    pub email: Option<String>,
}

/// The 15 activity counters (Truto's activity metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityMetrics {
    pub calls_hosted: i64,
    pub calls_attended: i64,
    pub calls_listened_own: i64,
    pub calls_listened_others: i64,
    pub feedback_given: i64,
    pub feedback_received: i64,
    pub feedback_requested: i64,
    pub comments_given: i64,
    pub comments_received: i64,
    pub calls_shared_internally: i64,
    pub calls_shared_externally: i64,
    pub scorecards_filled: i64,
    pub scorecards_received: i64,
    pub calls_marked_feedback_given: i64,
    pub calls_marked_feedback_received: i64,
}

/// A user's platform activity over one period.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Activity {
    pub user: StatsUser,
    pub period: AggregationPeriod,
    /// First day, inclusive, company time zone.
    #[serde(with = "crate::cache::pack::exact")]
    pub from_date: NaiveDate,
    /// Last day, exclusive, company time zone.
    #[serde(with = "crate::cache::pack::exact")]
    pub to_date: NaiveDate,
    pub time_zone: Option<String>,
    pub metrics: ActivityMetrics,
    pub raw: Raw,
}

/// The 5 standard interaction metrics (Truto's interactions metrics).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InteractionMetrics {
    pub longest_monologue: Option<f64>,
    pub longest_customer_story: Option<f64>,
    pub interactivity: Option<f64>,
    pub patience: Option<f64>,
    pub question_rate: Option<f64>,
}

/// A user's conversation behaviour over a period.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interaction {
    pub user: StatsUser,
    pub period: AggregationPeriod,
    #[serde(with = "crate::cache::pack::exact")]
    pub from_date: NaiveDate,
    #[serde(with = "crate::cache::pack::exact")]
    pub to_date: NaiveDate,
    pub time_zone: Option<String>,
    pub metrics: InteractionMetrics,
    /// Metrics under names outside the standard five.
    pub additional: Vec<(String, f64)>,
    pub raw: Raw,
}

/// A filled-in scorecard: one review of one call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Score {
    pub remote_id: String,
    pub scorecard_remote_id: Option<String>,
    pub scorecard_name: Option<String>,
    pub call_remote_id: Option<String>,
    #[serde(with = "crate::cache::pack::exact")]
    pub call_started_at: Option<DateTime<Utc>>,
    pub reviewed_user_remote_id: Option<String>,
    pub reviewer_user_remote_id: Option<String>,
    #[serde(with = "crate::cache::pack::exact")]
    pub reviewed_at: Option<DateTime<Utc>>,
    pub visibility: Option<String>,
    pub answers: Vec<ScoreAnswer>,
    /// Reviewee and reviewer by email, when the provider names them so.
    pub reviewed_user_email: Option<String>,
    pub reviewer_email: Option<String>,
    /// Overall percentage the provider reports or the mapping computed.
    pub percentage: Option<f64>,
    pub raw: Raw,
}

/// The answer to one scorecard question.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoreAnswer {
    pub question_remote_id: String,
    /// The question text, when the provider sends it with the answer.
    pub question_text: Option<String>,
    /// Skills the question trains.
    pub skills: Vec<String>,
    /// The scoring scheme (ExecVision: OneToFive, YesNo, …).
    pub scheme: Option<String>,
    /// The answer as a percentage, when the scheme defines one.
    pub percentage: Option<f64>,
    pub reason: Option<String>,
    pub comment: Option<String>,
    pub is_overall: bool,
    pub score: Option<f64>,
    pub text: Option<String>,
    pub not_applicable: bool,
    pub selected_options: Vec<String>,
}

/// A scorecard template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scorecard {
    pub remote_id: String,
    pub name: String,
    pub enabled: Option<bool>,
    #[serde(with = "crate::cache::pack::exact")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::cache::pack::exact")]
    pub updated_at: Option<DateTime<Utc>>,
    pub questions: Vec<ScorecardQuestion>,
    pub raw: Raw,
}

/// A question of a scorecard template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScorecardQuestion {
    pub remote_id: String,
    pub text: String,
    pub is_overall: bool,
    pub kind: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub options: Vec<String>,
}

/// Coaching metrics of one manager's team over a period (Gong coaching).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Coaching {
    pub manager: CoachingPerson,
    pub reports: Vec<CoachingReport>,
    pub raw: Raw,
}

/// A person named in coaching data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CoachingPerson {
    pub remote_id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub title: Option<String>,
}

/// Coaching metrics for one direct report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CoachingReport {
    pub report: CoachingPerson,
    /// Metric name → values, as the provider reports them.
    pub metrics: Vec<(String, Vec<String>)>,
}

/// Which side of the conversation a speaker is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
pub enum SpeakerType {
    /// Matched a user of the provider (the company side).
    Internal,
    /// Matched a CRM contact (the customer side).
    External,
    /// Not matched.
    Unknown,
}

/// A speaker of a transcript, when the provider types its speakers itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TranscriptSpeaker {
    /// Joins to `Segment::speaker_id`.
    pub speaker_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub kind: SpeakerType,
    /// The speaker's part, when the provider says (Hubster: `Customer`, `Agent`, `Bot`).
    pub roles: Vec<String>,
    /// The channel the speaker writes on (Hubster: `WebChat`, `Slack`, …).
    pub channel: Option<String>,
}

/// A CRM record linked to a call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrmEntity {
    pub crm_id: String,
    pub name: Option<String>,
}

/// A call's match in a CRM.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrmMatch {
    pub crm_name: Option<String>,
    pub activity_crm_id: Option<String>,
    pub account: Option<CrmEntity>,
    pub contacts: Vec<CrmEntity>,
    pub engagement: Option<CrmEntity>,
}

/// Talk speed over a section of a call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TalkSpeed {
    pub start_secs: f64,
    pub end_secs: f64,
    /// Speaker id → words per minute.
    pub words_per_minute: Vec<(String, f64)>,
}

/// A question and its answer from an AI call summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuestionAnswer {
    pub question: String,
    pub answer: String,
}

/// A team (ExecVision).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Team {
    pub remote_id: String,
    pub name: String,
    pub manager_remote_id: Option<String>,
    pub department_remote_id: Option<String>,
    pub raw: Raw,
}

/// A department (ExecVision).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Department {
    pub remote_id: String,
    pub name: String,
    pub raw: Raw,
}

/// A topic definition: words and phrases the provider looks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Topic {
    pub remote_id: String,
    pub name: String,
    pub words: Vec<String>,
    pub raw: Raw,
}

/// Topic matches found in one call's transcript.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallTopicMatches {
    pub call_remote_id: String,
    #[serde(with = "crate::cache::pack::exact")]
    pub modified_at: Option<DateTime<Utc>>,
    pub internal_questions: Option<i64>,
    pub external_questions: Option<i64>,
    pub unknown_questions: Option<i64>,
    pub blocks: Vec<TopicMatchBlock>,
    pub raw: Raw,
}

/// A block of transcript text with the topics matched in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopicMatchBlock {
    pub start_secs: f64,
    pub end_secs: f64,
    pub text: String,
    pub speaker_type: SpeakerType,
    pub topics: Vec<TopicHit>,
}

/// One topic matched within a block.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopicHit {
    pub topic_remote_id: String,
    pub topic_name: String,
    pub matches: Vec<TopicHitMatch>,
}

/// Where a topic matched.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopicHitMatch {
    pub search_text: Vec<String>,
    pub matching_text: String,
    pub start_secs: f64,
    pub end_secs: f64,
    pub start_index: i64,
    pub end_index: i64,
}

/// Someone listened to a call recording.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listen {
    #[serde(with = "crate::cache::pack::exact")]
    pub date: Option<NaiveDate>,
    pub call_remote_id: String,
    pub listener_remote_id: Option<String>,
    pub caller_remote_id: Option<String>,
    pub seconds: Option<f64>,
    pub raw: Raw,
}

/// A comment or highlight on a call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Feedback {
    #[serde(with = "crate::cache::pack::exact")]
    pub given_at: Option<DateTime<Utc>>,
    pub call_remote_id: String,
    pub author_remote_id: Option<String>,
    pub is_comment: bool,
    pub is_highlight: bool,
    pub text: Option<String>,
    pub start_secs: Option<f64>,
    pub end_secs: Option<f64>,
    pub raw: Raw,
}

/// A call shared with people inside or outside the company.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Share {
    #[serde(with = "crate::cache::pack::exact")]
    pub shared_at: Option<DateTime<Utc>>,
    pub call_remote_id: String,
    pub sharer_remote_id: Option<String>,
    pub recipient_remote_ids: Vec<String>,
    pub recipient_emails: Vec<String>,
    pub raw: Raw,
}

/// A KPI definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KpiDefinition {
    pub remote_id: String,
    pub description: Option<String>,
    pub frequency: Option<String>,
    pub target: Option<f64>,
    pub raw: Raw,
}

/// One observation of a KPI for a user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KpiObservation {
    pub kpi_remote_id: String,
    #[serde(with = "crate::cache::pack::exact")]
    pub observed_at: Option<DateTime<Utc>>,
    pub observer_remote_id: Option<String>,
    pub observed_remote_id: Option<String>,
    pub value: Option<f64>,
    pub raw: Raw,
}

/// A coaching plan between a coach and a recipient.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CoachingPlan {
    pub remote_id: String,
    pub name: Option<String>,
    pub objective: Option<String>,
    #[serde(with = "crate::cache::pack::exact")]
    pub started_at: Option<DateTime<Utc>>,
    pub coach_remote_id: Option<String>,
    pub recipient_remote_id: Option<String>,
    pub planned_meetings: Option<i64>,
    pub completed_meetings: Option<i64>,
    pub missed_meetings: Option<i64>,
    /// (skill id, skill name).
    pub skills: Vec<(String, String)>,
    #[serde(with = "crate::cache::pack::exact")]
    pub modified_at: Option<DateTime<Utc>>,
    pub raw: Raw,
}

/// A coaching meeting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meeting {
    pub remote_id: String,
    pub plan_remote_id: Option<String>,
    pub coach_remote_id: Option<String>,
    pub recipient_remote_id: Option<String>,
    #[serde(with = "crate::cache::pack::exact")]
    pub scheduled_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::cache::pack::exact")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::cache::pack::exact")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Skill name → score percent.
    pub skill_scores: Vec<(String, f64)>,
    pub call_reviews: Vec<CallReview>,
    pub questions: Vec<MeetingQuestion>,
    pub comments: Option<String>,
    pub raw: Raw,
}

/// A call reviewed in a coaching meeting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallReview {
    pub call_remote_id: String,
    pub questions: Vec<MeetingQuestion>,
}

/// A scored question of a meeting or call review.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MeetingQuestion {
    pub question: String,
    pub possible_score: Option<f64>,
    pub actual_score: Option<f64>,
    pub weight: Option<f64>,
}

/// A party of a chat, by integration type (Hubster).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum)]
pub enum ChatParty {
    /// The customer.
    Customer,
    /// A human agent of the company.
    Agent,
    /// A bot of the company.
    Bot,
    /// The platform itself.
    System,
    /// A type the provider did not name or convograph does not know.
    Unknown,
}

/// Whether a chat activity carries a message or an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum)]
pub enum ChatActivityKind {
    /// A message someone sent.
    Message,
    /// An event (a hand-off, someone joining, typing, closing, …).
    Event,
}

/// One end of a chat activity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatEndpoint {
    pub party: ChatParty,
    pub integration_id: Option<String>,
    /// The channel type (`WebChat`, `Slack`, `Messenger`, …).
    pub channel: Option<String>,
    /// Identifies the participant within the integration.
    pub token_id: Option<String>,
}

/// A message or event of a chat conversation (Hubster activities).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatActivity {
    pub call_remote_id: String,
    /// The provider's event id: epoch milliseconds (not unique).
    pub event_id: i64,
    pub kind: ChatActivityKind,
    /// E.g. `message:customer`, `event:agent`.
    pub trigger: Option<String>,
    pub sender: ChatEndpoint,
    pub recipient: ChatEndpoint,
    pub text: Option<String>,
    pub message_type: Option<String>,
    pub payload_type: Option<String>,
    #[serde(with = "crate::cache::pack::json_text")]
    pub payload: Option<Value>,
    /// An echo of a message back to the integration that sent it.
    pub is_echo: bool,
    pub interaction_id: Option<String>,
    pub external_id: Option<String>,
    pub flow_process: Option<String>,
    pub raw: Raw,
}
