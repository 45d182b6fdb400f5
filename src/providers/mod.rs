//! Providers: one folder each with the same files (`client.rs` talks HTTP,
//! `model.rs` mirrors the provider's JSON, `mapping.rs` turns it into `domain`
//! records), behind the object-safe [`Provider`] trait and a registry keyed by
//! connection id.

mod error;
pub mod execvision;
pub mod gong;
pub mod transport;
pub(crate) mod wire;

use std::{collections::BTreeMap, fmt, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use error::{ProviderError, ProviderErrorKind};

use crate::domain::{
    Activity, AggregationPeriod, Call, CallTopicMatches, Coaching, CoachingPlan, Department, Feedback, Interaction,
    KpiDefinition, KpiObservation, Listen, Meeting, Page, Score, Scorecard, Share, Team, Topic, Transcript, User,
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

/// Provider-side filter for a calls list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct CallQuery {
    /// Inclusive lower bound on the start time.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on the start time.
    pub to: Option<DateTime<Utc>>,
    /// Only calls hosted by these provider users.
    pub host_remote_ids: Vec<String>,
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
    /// Activity records for the range, all pages.
    async fn activity(&self, _query: &StatsQuery) -> Result<Vec<Activity>, ProviderError> {
        Err(self.unsupported("activity"))
    }
    /// Interaction records for the range, all pages.
    async fn interactions(&self, _query: &StatsQuery) -> Result<Vec<Interaction>, ProviderError> {
        Err(self.unsupported("interactions"))
    }
    /// One page of answered scorecards.
    async fn list_scores(&self, _query: &ScoreQuery, _page: Option<String>) -> Result<Page<Score>, ProviderError> {
        Err(self.unsupported("scores"))
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
}

/// Every record of a paged provider list, following `next` tokens to the end.
pub async fn all_pages<T, F, Fut>(fetch: F) -> Result<Vec<T>, ProviderError>
where
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, ProviderError>>,
{
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = fetch(token).await?;
        out.extend(page.items);
        match page.next {
            Some(next) => token = Some(next),
            None => return Ok(out),
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
