//! Providers: one folder each with the same files (`client.rs` talks HTTP,
//! `model.rs` mirrors the provider's JSON, `mapping.rs` turns it into `domain`
//! records), behind the object-safe [`Provider`] trait and a registry keyed by
//! connection id.

mod auth;
pub mod breaker;
pub mod budget;
pub mod coverage;
mod error;
pub mod execvision;
pub mod gong;
pub mod hubster;
pub mod paging;
pub mod salesloft;
pub mod transport;
pub(crate) mod wire;

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    sync::Arc,
};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use error::{ProviderError, ProviderErrorKind};

use crate::domain::{
    Activity, AggregationPeriod, Call, CallDirection, CallTopicMatches, ChatActivity, Coaching, CoachingPlan,
    Department, Feedback, Interaction, KpiDefinition, KpiObservation, Listen, Medium, Meeting, Page, Score, Scorecard,
    Share, Team, Topic, Transcript, User,
};

/// The providers convograph speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Gong (REST API v2).
    Gong,
    /// ExecVision / Mediafly Coach.
    #[serde(rename = "execvision")]
    #[graphql(name = "EXECVISION")]
    ExecVision,
    /// Salesloft conversations.
    Salesloft,
    /// Hubster engine.
    Hubster,
}

impl ProviderKind {
    /// The config/log name: `gong`, `execvision`, `salesloft`, `hubster`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gong => "gong",
            Self::ExecVision => "execvision",
            Self::Salesloft => "salesloft",
            Self::Hubster => "hubster",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Order of a calls list by start time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, async_graphql::Enum)]
pub enum SortDirection {
    /// Oldest first.
    Asc,
    /// Newest first.
    #[default]
    Desc,
}

/// Filter for a calls list, in provider-neutral terms.
///
/// A provider applies at its API what it can (and says which in
/// [`Capabilities::native_call_filters`]); [`CallQuery::matches`] is the reference
/// semantics, which the schema applies locally to whatever a provider could not
/// filter, so the result is the same either way.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallQuery {
    /// Inclusive lower bound on the start time.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on the start time.
    pub to: Option<DateTime<Utc>>,
    /// Only calls hosted by these provider users (empty: any host).
    pub host_remote_ids: Vec<String>,
    /// Only these directions (empty: any).
    pub directions: Vec<CallDirection>,
    /// Only these media (empty: any).
    pub media: Vec<Medium>,
    /// Only these platforms, compared case-insensitively (empty: any).
    pub platforms: Vec<String>,
    /// Inclusive lower bound on the duration, in seconds.
    pub min_duration_secs: Option<f64>,
    /// Inclusive upper bound on the duration, in seconds.
    pub max_duration_secs: Option<f64>,
    /// Title contains this text, case-insensitively.
    pub title_contains: Option<String>,
    /// Only these languages, compared case-insensitively (empty: any).
    pub languages: Vec<String>,
    /// Provider-specific query options passed through unchanged (per-connection lists
    /// only), e.g. Salesloft's `is_api` or `account_ids`.
    pub remote_query: Option<serde_json::Map<String, serde_json::Value>>,
    /// The start-time order wanted from the provider's pages. Set only when the
    /// provider says it can page that way ([`CallFilterSupport::oldest_first`],
    /// [`CallFilterSupport::newest_first`]); `None` is the provider's own order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<SortDirection>,
}

impl CallQuery {
    /// Whether `call` passes every unified part of this filter (not `remote_query`,
    /// which only the provider can apply).
    pub fn matches(&self, call: &Call) -> bool {
        let ci_in = |list: &[String], v: Option<&str>| {
            list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x.eq_ignore_ascii_case(v)))
        };
        self.from.is_none_or(|f| call.started_at.is_some_and(|t| t >= f))
            && self.to.is_none_or(|t| call.started_at.is_some_and(|s| s < t))
            && (self.host_remote_ids.is_empty()
                || call.host_remote_id.as_ref().is_some_and(|h| self.host_remote_ids.contains(h)))
            && (self.directions.is_empty() || self.directions.contains(&call.direction))
            && (self.media.is_empty() || call.medium.is_some_and(|m| self.media.contains(&m)))
            && ci_in(&self.platforms, call.platform.as_deref())
            && self.min_duration_secs.is_none_or(|min| call.duration_secs.is_some_and(|d| d >= min))
            && self.max_duration_secs.is_none_or(|max| call.duration_secs.is_some_and(|d| d <= max))
            && self.title_contains.as_deref().is_none_or(|needle| {
                call.title.as_deref().is_some_and(|t| t.to_lowercase().contains(&needle.to_lowercase()))
            })
            && ci_in(&self.languages, call.language.as_deref())
    }
}

impl CallQuery {
    /// Whether some part of this filter is beyond what `native` applies, so the
    /// provider's pages must be filtered locally (and its total no longer holds).
    pub fn needs_local_filtering(&self, native: &CallFilterSupport) -> bool {
        ((self.from.is_some() || self.to.is_some()) && !native.time_range)
            || (!self.host_remote_ids.is_empty() && !native.hosts)
            || (!self.directions.is_empty() && !native.direction)
            || (!self.media.is_empty() && !native.medium)
            || (!self.platforms.is_empty() && !native.platform)
            || ((self.min_duration_secs.is_some() || self.max_duration_secs.is_some()) && !native.duration)
            || (self.title_contains.is_some() && !native.title)
            || (!self.languages.is_empty() && !native.language)
    }
}

/// Which parts of a [`CallQuery`] a provider applies at its API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallFilterSupport {
    pub time_range: bool,
    pub hosts: bool,
    pub direction: bool,
    pub medium: bool,
    pub platform: bool,
    pub duration: bool,
    pub title: bool,
    pub language: bool,
    /// Pages can come in start-time order, newest first (honouring
    /// `CallQuery::order = Some(Desc)`), without reading the list to its end.
    pub newest_first: bool,
    /// Pages can come in start-time order, oldest first (honouring
    /// `CallQuery::order = Some(Asc)`; Gong's `calls/extensive` always does).
    pub oldest_first: bool,
    /// `remote_query` is understood.
    pub remote_query: bool,
}

/// Filter for stats (activity, interactions).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct StatsQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub user_remote_ids: Vec<String>,
    pub period: AggregationPeriod,
}

/// Filter for answered scorecards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct ScoreQuery {
    pub call_from: Option<DateTime<Utc>>,
    pub call_to: Option<DateTime<Utc>>,
    pub review_from: Option<DateTime<Utc>>,
    pub review_to: Option<DateTime<Utc>>,
    pub reviewed_user_remote_ids: Vec<String>,
    pub scorecard_remote_ids: Vec<String>,
}

/// A call as the key of records a provider files by call (its reviews): its id and
/// start time, which bounds the read where the provider cannot filter by call id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallRef {
    pub remote_id: String,
    pub started_at: Option<DateTime<Utc>>,
}

impl CallRef {
    /// The key of `call`.
    pub fn of(call: &Call) -> Self {
        Self { remote_id: call.remote_id.clone(), started_at: call.started_at }
    }
}

/// Filter for coaching data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CoachingQuery {
    pub manager_remote_id: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Lower bound on last-modified time, for lists the provider pages by it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct SinceQuery {
    /// Records modified at or after this time (all when absent).
    pub since: Option<DateTime<Utc>>,
}

/// Filter for topic matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct TopicMatchQuery {
    pub since: Option<DateTime<Utc>>,
    /// Keep topics that match at least `minimum_matches` times within `window_secs`.
    pub window: Option<(u32, u32)>,
}

/// What changed at a provider over a time range, read with its incremental form
/// (Gong: calls by start time; ExecVision: `since` by last-modified time;
/// Salesloft: `updated_at[gte]`). The live feed ([`crate::live`]) turns it into
/// subscription events, de-duplicating by id and version, so a range may overlap
/// the previous one and a provider may send a record twice.
#[derive(Debug, Default)]
pub struct Changes {
    /// Calls new or changed in the range.
    pub calls: Vec<ChangedCall>,
    /// Answered scorecards new or changed in the range, with the time of the change.
    pub scores: Vec<(DateTime<Utc>, Score)>,
}

impl Changes {
    /// The scorecards `provider` has answered since `since` (by review date, every
    /// page), each at its review time (`until` when the provider gives none).
    pub(crate) async fn reviewed_since<P: Provider + ?Sized>(
        provider: &P,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, Score)>, ProviderError> {
        let query = ScoreQuery { review_from: Some(since), ..ScoreQuery::default() };
        let scores = all_pages(provider, "scores", |page| provider.list_scores(&query, page)).await?;
        Ok(scores.into_iter().map(|s| (s.reviewed_at.unwrap_or(until), s)).collect())
    }
}

/// One call of a [`Changes`] read.
#[derive(Debug, Clone)]
pub struct ChangedCall {
    /// When it changed, as the provider orders its feed (Gong: start time).
    pub at: DateTime<Utc>,
    /// The call as the provider now sends it.
    pub call: Call,
    /// Whether the record says its transcript is available, where it says so
    /// (Salesloft: a transcription id); `None` when the record does not tell.
    pub transcript: Option<bool>,
    /// What changed when the record itself does not show it (Hubster: the chat's
    /// activities, not its conversation record). A call with a revision is a
    /// conversation the configuration names, not a new one: its first sighting is
    /// recorded, and a new revision is a `callUpdated` (`TRANSCRIPT` when it has
    /// messages).
    pub revision: Option<String>,
}

/// The time a record's raw `fields` give (the first present that reads as one, in
/// any form [`wire::timestamp`] reads), for providers whose feed orders by a
/// modified time.
pub(crate) fn raw_time(raw: &crate::domain::Raw, fields: &[&str]) -> Option<DateTime<Utc>> {
    let value: &serde_json::Value = raw;
    fields.iter().find_map(|f| wire::timestamp(value.get(*f)?.as_str()))
}

/// What a provider fills; the source of the README coverage table.
#[derive(Debug, Clone, Copy, Default)]
pub struct Capabilities {
    /// Users, calls and transcripts can be fetched for many ids in one request (Gong).
    /// Without it the loaders fetch per id, so one id's failure stays its own.
    pub batch_lookups: bool,
    pub users: bool,
    pub calls: bool,
    pub transcripts: bool,
    pub activity: bool,
    pub interactions: bool,
    pub scores: bool,
    pub scorecards: bool,
    pub coaching: bool,
    pub coaching_plans: bool,
    pub teams: bool,
    pub topics: bool,
    pub listens: bool,
    pub feedback: bool,
    pub shares: bool,
    pub kpis: bool,
    /// Calls can be chats with message and event activities (Hubster).
    pub chats: bool,
    /// Which call filters the provider applies itself.
    pub native_call_filters: CallFilterSupport,
}

/// One connection's provider operations. Every method has a default that says
/// "unsupported", so a provider implements what it has.
#[async_trait]
pub trait Provider: Send + Sync + fmt::Debug {
    /// The provider of this connection.
    fn kind(&self) -> ProviderKind;
    /// The connection id.
    fn connection_id(&self) -> &Arc<str>;
    /// What this provider fills.
    fn capabilities(&self) -> Capabilities;

    /// An error of this connection.
    fn error(&self, kind: ProviderErrorKind) -> ProviderError {
        ProviderError::new(self.kind(), self.connection_id(), kind)
    }
    /// The "unsupported" error of this connection.
    fn unsupported(&self, what: &'static str) -> ProviderError {
        self.error(ProviderErrorKind::Unsupported(what))
    }

    /// Cheap call proving the credentials work (readiness).
    async fn check(&self) -> Result<(), ProviderError>;

    /// Requests left in the connection's daily quota, when it has one (Gong).
    fn daily_quota_left(&self) -> Option<u64> {
        None
    }

    /// One page of the users list.
    async fn list_users(&self, _page: Option<String>) -> Result<Page<User>, ProviderError> {
        Err(self.unsupported("users"))
    }
    /// Users by provider id, in any order; unknown ids are absent.
    async fn users_by_ids(&self, _ids: &[String]) -> Result<Vec<User>, ProviderError> {
        Err(self.unsupported("users"))
    }
    /// One page of the calls list.
    async fn list_calls(&self, _query: &CallQuery, _page: Option<String>) -> Result<Page<Call>, ProviderError> {
        Err(self.unsupported("calls"))
    }
    /// Calls by provider id, in any order; unknown ids are absent.
    async fn calls_by_ids(&self, _ids: &[String]) -> Result<Vec<Call>, ProviderError> {
        Err(self.unsupported("calls"))
    }
    /// Transcripts by call id; calls without a transcript are absent.
    async fn transcripts(&self, _call_ids: &[String]) -> Result<Vec<Transcript>, ProviderError> {
        Err(self.unsupported("transcripts"))
    }
    /// The message and event activities of a chat, in event order (Hubster).
    async fn chat_activities(&self, _call_id: &str) -> Result<Vec<ChatActivity>, ProviderError> {
        Err(self.unsupported("chat activities"))
    }
    /// Activity records for the range, all pages.
    async fn activity(&self, _query: &StatsQuery) -> Result<Vec<Activity>, ProviderError> {
        Err(self.unsupported("activity"))
    }
    /// Interaction records for the range, all pages.
    async fn interactions(&self, _query: &StatsQuery) -> Result<Vec<Interaction>, ProviderError> {
        Err(self.unsupported("interactions"))
    }
    /// The activity record of one user over `[from, to)` (dates as the provider
    /// aggregates them), aggregated by `period`; for `node(id:)`.
    async fn activity_record(
        &self,
        _user_remote_id: &str,
        _period: AggregationPeriod,
        _from: NaiveDate,
        _to: NaiveDate,
    ) -> Result<Option<Activity>, ProviderError> {
        Err(self.unsupported("activity"))
    }
    /// The interaction record of one user over `[from, to)`; for `node(id:)`.
    async fn interaction_record(
        &self,
        _user_remote_id: &str,
        _from: NaiveDate,
        _to: NaiveDate,
    ) -> Result<Option<Interaction>, ProviderError> {
        Err(self.unsupported("interactions"))
    }
    /// One page of answered scorecards.
    async fn list_scores(&self, _query: &ScoreQuery, _page: Option<String>) -> Result<Page<Score>, ProviderError> {
        Err(self.unsupported("scores"))
    }
    /// The answered scorecards of each of `calls`, by call id (calls without any may
    /// be absent). One read for all of them where the provider can (Gong: the call
    /// dates they span; ExecVision: its scores list).
    async fn scores_by_calls(&self, _calls: &[CallRef]) -> Result<HashMap<String, Vec<Score>>, ProviderError> {
        Err(self.unsupported("scores"))
    }
    /// One answered scorecard by id; for `node(id:)`. Neither Gong nor ExecVision
    /// looks one up by id, so this reads the (cached) list whole.
    async fn score(&self, id: &str) -> Result<Option<Score>, ProviderError> {
        let all_time = ScoreQuery::default();
        let all = all_pages(self, "scores", |page| self.list_scores(&all_time, page)).await?;
        Ok(all.into_iter().find(|s| s.remote_id == id))
    }
    /// Scorecard templates.
    async fn scorecards(&self) -> Result<Vec<Scorecard>, ProviderError> {
        Err(self.unsupported("scorecards"))
    }
    /// Coaching data of one manager.
    async fn coaching(&self, _query: &CoachingQuery) -> Result<Vec<Coaching>, ProviderError> {
        Err(self.unsupported("coaching"))
    }
    /// One scorecard template by id.
    async fn scorecard(&self, id: &str) -> Result<Option<Scorecard>, ProviderError> {
        Ok(self.scorecards().await?.into_iter().find(|s| s.remote_id == id))
    }
    /// Teams.
    async fn teams(&self) -> Result<Vec<Team>, ProviderError> {
        Err(self.unsupported("teams"))
    }
    /// Departments.
    async fn departments(&self) -> Result<Vec<Department>, ProviderError> {
        Err(self.unsupported("departments"))
    }
    /// Topic definitions.
    async fn topics(&self) -> Result<Vec<Topic>, ProviderError> {
        Err(self.unsupported("topics"))
    }
    /// One page of topic matches per call.
    async fn list_topic_matches(
        &self,
        _query: &TopicMatchQuery,
        _page: Option<String>,
    ) -> Result<Page<CallTopicMatches>, ProviderError> {
        Err(self.unsupported("topic matches"))
    }
    /// One page of listens.
    async fn list_listens(&self, _query: &SinceQuery, _page: Option<String>) -> Result<Page<Listen>, ProviderError> {
        Err(self.unsupported("listens"))
    }
    /// One page of feedback (comments and highlights).
    async fn list_feedback(&self, _query: &SinceQuery, _page: Option<String>) -> Result<Page<Feedback>, ProviderError> {
        Err(self.unsupported("feedback"))
    }
    /// One page of shares.
    async fn list_shares(&self, _query: &SinceQuery, _page: Option<String>) -> Result<Page<Share>, ProviderError> {
        Err(self.unsupported("shares"))
    }
    /// One page of KPI observations.
    async fn list_kpis(
        &self,
        _query: &SinceQuery,
        _page: Option<String>,
    ) -> Result<Page<KpiObservation>, ProviderError> {
        Err(self.unsupported("kpis"))
    }
    /// A KPI definition.
    async fn kpi_definition(&self, _id: &str) -> Result<Option<KpiDefinition>, ProviderError> {
        Err(self.unsupported("kpis"))
    }
    /// One page of coaching plans.
    async fn list_coaching_plans(
        &self,
        _query: &SinceQuery,
        _page: Option<String>,
    ) -> Result<Page<CoachingPlan>, ProviderError> {
        Err(self.unsupported("coaching plans"))
    }
    /// One page of coaching meetings.
    async fn list_meetings(&self, _query: &SinceQuery, _page: Option<String>) -> Result<Page<Meeting>, ProviderError> {
        Err(self.unsupported("coaching meetings"))
    }
    /// What changed in `[since, until)`, read with the provider's incremental form
    /// (subscriptions). Providers without one say "unsupported".
    async fn changes(&self, _since: DateTime<Utc>, _until: DateTime<Utc>) -> Result<Changes, ProviderError> {
        Err(self.unsupported("change feed"))
    }
}

/// Every record of a paged provider list of `provider`, following `next` tokens to
/// the end. A walk the provider sends in a circle ([`paging::Walk`]) ends with the
/// records read so far and an `UPSTREAM_PAGING_LOOP` note; so does a failure after
/// the first page (its error is the note): partial data beats none.
pub async fn all_pages<P, T, F, Fut>(provider: &P, what: &'static str, fetch: F) -> Result<Vec<T>, ProviderError>
where
    P: Provider + ?Sized,
    T: paging::Keyed,
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, ProviderError>>,
{
    let mut walk = paging::Walk::new(provider.kind(), provider.connection_id(), what);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let mut page = match fetch(token).await {
            Ok(page) => page,
            Err(e) if walk.pages() == 0 => return Err(e),
            Err(e) => {
                paging::ended(e);
                return Ok(out);
            }
        };
        let step = walk.step_records(&mut page.items, page.next.as_deref());
        out.extend(page.items);
        match step {
            Ok(true) => token = page.next,
            Ok(false) => return Ok(out),
            Err(e) => {
                paging::ended(e);
                return Ok(out);
            }
        }
    }
}

/// All configured connections, by id (ordered, so lists are stable).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    connections: BTreeMap<Arc<str>, Arc<dyn Provider>>,
}

impl Registry {
    /// Adds a connection.
    pub fn insert(&mut self, provider: Arc<dyn Provider>) {
        self.connections.insert(provider.connection_id().clone(), provider);
    }
    /// The connection with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Provider>> {
        self.connections.get(id)
    }
    /// Every connection, ordered by id.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.connections.values()
    }
    /// Number of connections.
    pub fn len(&self) -> usize {
        self.connections.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }
}
