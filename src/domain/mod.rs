//! Provider-neutral records. Providers map their wire models into these in their
//! `mapping.rs`; the schema wraps them. Every record keeps the provider's own JSON
//! (`raw`) for `remoteData`.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

/// A page of records from a provider list endpoint.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
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
    pub created_at: Option<DateTime<Utc>>,
    pub team: Option<String>,
    pub department: Option<String>,
    pub raw: Arc<Value>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum Affiliation {
    /// Everyone is from the company.
    Internal,
    /// Someone from outside the company.
    External,
    /// The provider does not say.
    Unknown,
}

/// How a conversation was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum Medium {
    /// Audio only (phone, dialer).
    Audio,
    /// Video meeting.
    Video,
    /// Text chat.
    Chat,
}

/// A call or meeting.
#[derive(Debug, Clone)]
pub struct Call {
    pub remote_id: String,
    pub title: Option<String>,
    pub url: Option<String>,
    pub scheduled_at: Option<DateTime<Utc>>,
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
    pub summary: Option<String>,
    pub stats: Option<CallStats>,
    pub raw: Arc<Value>,
}

/// One person on a call.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
pub struct CallTopic {
    pub name: String,
    pub duration_secs: Option<f64>,
}

/// A tracked keyword or concept and where it occurred.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub remote_id: Option<String>,
    pub name: String,
    pub kind: Option<String>,
    pub count: i64,
    /// Seconds from the call start.
    pub occurrences: Vec<TrackerOccurrence>,
}

/// One occurrence of a tracker.
#[derive(Debug, Clone)]
pub struct TrackerOccurrence {
    pub start_secs: f64,
    pub speaker_id: Option<String>,
}

/// Interaction statistics of one call.
#[derive(Debug, Clone, Default)]
pub struct CallStats {
    /// Percentage of the time the company side talked (0–100).
    pub talk_ratio: Option<f64>,
    pub longest_monologue_secs: Option<f64>,
    pub longest_customer_story_secs: Option<f64>,
    pub interactivity: Option<f64>,
    pub patience_secs: Option<f64>,
    pub company_questions: Option<i64>,
    pub non_company_questions: Option<i64>,
    /// Stats under other names.
    pub other: Vec<(String, f64)>,
}

/// The transcript of one call.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub call_remote_id: String,
    /// Segments in time order.
    pub segments: Vec<Segment>,
    pub raw: Arc<Value>,
}

/// One utterance of a transcript.
#[derive(Debug, Clone)]
pub struct Segment {
    pub speaker_id: Option<String>,
    pub topic: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
}

/// Period of an aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, async_graphql::Enum)]
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
#[derive(Debug, Clone)]
pub struct StatsUser {
    pub remote_id: String,
    pub email: Option<String>,
}

/// The 15 activity counters (Truto's activity metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
#[derive(Debug, Clone)]
pub struct Activity {
    pub user: StatsUser,
    pub period: AggregationPeriod,
    /// First day, inclusive, company time zone.
    pub from_date: NaiveDate,
    /// Last day, exclusive, company time zone.
    pub to_date: NaiveDate,
    pub time_zone: Option<String>,
    pub metrics: ActivityMetrics,
    pub raw: Arc<Value>,
}

/// The 5 standard interaction metrics (Truto's interactions metrics).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InteractionMetrics {
    pub longest_monologue: Option<f64>,
    pub longest_customer_story: Option<f64>,
    pub interactivity: Option<f64>,
    pub patience: Option<f64>,
    pub question_rate: Option<f64>,
}

/// A user's conversation behaviour over a period.
#[derive(Debug, Clone)]
pub struct Interaction {
    pub user: StatsUser,
    pub period: AggregationPeriod,
    pub from_date: NaiveDate,
    pub to_date: NaiveDate,
    pub time_zone: Option<String>,
    pub metrics: InteractionMetrics,
    /// Metrics under names outside the standard five.
    pub additional: Vec<(String, f64)>,
    pub raw: Arc<Value>,
}

/// A filled-in scorecard: one review of one call.
#[derive(Debug, Clone)]
pub struct Score {
    pub remote_id: String,
    pub scorecard_remote_id: Option<String>,
    pub scorecard_name: Option<String>,
    pub call_remote_id: Option<String>,
    pub call_started_at: Option<DateTime<Utc>>,
    pub reviewed_user_remote_id: Option<String>,
    pub reviewer_user_remote_id: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub visibility: Option<String>,
    pub answers: Vec<ScoreAnswer>,
    pub raw: Arc<Value>,
}

/// The answer to one scorecard question.
#[derive(Debug, Clone)]
pub struct ScoreAnswer {
    pub question_remote_id: String,
    pub is_overall: bool,
    pub score: Option<f64>,
    pub text: Option<String>,
    pub not_applicable: bool,
    pub selected_options: Vec<String>,
}

/// A scorecard template.
#[derive(Debug, Clone)]
pub struct Scorecard {
    pub remote_id: String,
    pub name: String,
    pub enabled: Option<bool>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub questions: Vec<ScorecardQuestion>,
    pub raw: Arc<Value>,
}

/// A question of a scorecard template.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
pub struct Coaching {
    pub manager: CoachingPerson,
    pub reports: Vec<CoachingReport>,
    pub raw: Arc<Value>,
}

/// A person named in coaching data.
#[derive(Debug, Clone)]
pub struct CoachingPerson {
    pub remote_id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub title: Option<String>,
}

/// Coaching metrics for one direct report.
#[derive(Debug, Clone)]
pub struct CoachingReport {
    pub report: CoachingPerson,
    /// Metric name → values, as the provider reports them.
    pub metrics: Vec<(String, Vec<String>)>,
}
