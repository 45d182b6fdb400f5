//! The GraphQL schema: the query root, the unified types, federation entities.
//! No transport code here: resolvers reach providers through [`AppState`] and the
//! request's [`Loaders`].

pub mod calls;
pub mod chat;
pub mod coaching;
pub mod connection;
pub mod coverage;
pub mod id;
pub mod people;
pub mod query;
pub mod stats;
pub mod users;

use std::sync::Arc;

use async_graphql::{
    ComplexObject, Context, EmptyMutation, EmptySubscription, ID, Interface, Object, Schema, SimpleObject,
};

pub use calls::{CallNode, TranscriptNode};
pub use coaching::{
    CallTopicMatchesNode, CoachingPlanNode, DepartmentNode, FeedbackNode, KpiNode, ListenNode, MeetingNode, ShareNode,
    TeamNode, TopicNode,
};
pub use query::QueryRoot;
pub use stats::{ActivityNode, Coaching, InteractionNode, ScoreNode, ScorecardNode};
pub use users::UserNode;

use self::connection::CursorCodec;
use crate::{
    error::{AppError, AppResult},
    loaders::Loaders,
    people::Directory,
    providers::{Capabilities, Provider, ProviderError, ProviderKind, Registry, transport::RateSchedule},
};

/// The schema type.
pub type AppSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// What resolvers need, shared by every request.
#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub cursors: CursorCodec,
    pub max_page_size: usize,
    /// In configuration order (which ranks connections: a person's anchor account,
    /// ties in the merged calls timeline).
    pub connections: Arc<Vec<ConnectionNode>>,
    /// Users lists and the people joined from them, shared by every request.
    pub directory: Arc<Directory>,
}

/// Builds the schema over `state`, with the federation extensions: `_entities` slots
/// and federated tracing (`ftv1`, only for requests that ask for it).
pub fn build_schema(state: AppState) -> AppSchema {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription)
        .enable_federation()
        .extension(crate::federation::entities::EntitySlotsExtension)
        .extension(crate::federation::ftv1::Ftv1Extension)
        .data(state)
        .finish()
}

/// The SDL convograph publishes (`convograph sdl`, `schema.graphql`).
pub fn sdl() -> String {
    let schema = Schema::build(QueryRoot, EmptyMutation, EmptySubscription).enable_federation().finish();
    let options = async_graphql::SDLExportOptions::new().federation().compose_directive();
    schema.sdl_with_options(options)
}

pub(crate) fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub(crate) fn loaders<'a>(ctx: &Context<'a>) -> AppResult<&'a Loaders> {
    ctx.data::<Arc<Loaders>>().map(|l| l.as_ref()).map_err(|_| AppError::bad_input("internal: request loaders missing"))
}

/// The connections this request may read, ordered by id. Every resolver that
/// enumerates connections goes through here (the seam for per-client scopes).
pub(crate) fn readable<'a>(ctx: &Context<'a>) -> impl Iterator<Item = &'a Arc<dyn Provider>> + 'a {
    state(ctx).registry.iter()
}

/// A connection's place in the configuration (ranks it where connections tie).
pub(crate) fn rank(ctx: &Context<'_>, connection: &str) -> usize {
    state(ctx).connections.iter().position(|c| c.id.as_str() == connection).unwrap_or(usize::MAX)
}

/// Reports a failed connection as an error of the current field while the field
/// still answers with what the other connections gave (partial data).
pub(crate) fn report(ctx: &Context<'_>, error: ProviderError) {
    let err = async_graphql::Error::from(AppError::Provider(error)).into_server_error(ctx.item.pos);
    ctx.add_error(ctx.set_error_path(err));
}

/// The provider of connection `id`, or `NOT_FOUND`.
pub(crate) fn provider<'a>(ctx: &Context<'a>, id: &str) -> AppResult<&'a Arc<dyn Provider>> {
    state(ctx).registry.get(id).ok_or_else(|| AppError::NotFound(format!("connection '{id}'")))
}

/// The connection a list reads: the named one, or the only one able to.
pub(crate) fn pick_connection<'a>(
    ctx: &Context<'a>,
    connection_id: Option<&ID>,
    what: &str,
    able: fn(&Capabilities) -> bool,
) -> AppResult<&'a Arc<dyn Provider>> {
    if let Some(id) = connection_id {
        let p = provider(ctx, id)?;
        if !able(&p.capabilities()) {
            return Err(AppError::Provider(p.unsupported("this list")));
        }
        return Ok(p);
    }
    let mut able_ones = readable(ctx).filter(|p| able(&p.capabilities()));
    match (able_ones.next(), able_ones.next()) {
        (Some(p), None) => Ok(p),
        (None, _) => Err(AppError::bad_input(format!("no configured connection provides {what}"))),
        (Some(_), Some(_)) => Err(AppError::bad_input(format!(
            "several connections provide {what}: pass `connectionId` (see the `connections` query)"
        ))),
    }
}

/// A configured provider account.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Connection", complex)]
pub struct ConnectionNode {
    /// The connection id from the configuration.
    pub id: ID,
    /// The provider behind it.
    pub provider: ProviderKind,
    /// The traffic this server sends to it.
    pub rate_limit: RateLimitInfo,
}

/// A connection's outbound rate limit.
#[derive(Debug, Clone)]
pub struct RateLimitInfo {
    pub(crate) schedule: RateSchedule,
    pub(crate) daily_quota: Option<u32>,
}

#[Object]
impl RateLimitInfo {
    /// Requests per second convograph sends at most, now (ExecVision's rate depends
    /// on the time of day in US Eastern time: 5/s from 6 AM to 9 PM, 25/s otherwise).
    async fn requests_per_second(&self) -> f64 {
        self.schedule.rate_at(chrono::Utc::now())
    }

    /// Requests per day convograph sends at most, when the provider has a daily
    /// quota (Gong: 10,000 by default).
    async fn daily_quota(&self) -> Option<u32> {
        self.daily_quota
    }
}

#[ComplexObject]
impl ConnectionNode {
    /// What this connection's provider fills: lists, `Call` and `User` fields, how each
    /// call filter is applied and how calls are put in order.
    async fn capabilities(&self) -> Option<coverage::ProviderCoverage> {
        coverage::ProviderCoverage::of(self.provider)
    }
}

pub(crate) fn connection_node(ctx: &Context<'_>, id: &str) -> Option<ConnectionNode> {
    state(ctx).connections.iter().find(|c| c.id.as_str() == id).cloned()
}

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Globally unique, stable id; resolve it with `node(id:)`."))]
pub enum Node {
    /// A person (one or more provider accounts).
    User(UserNode),
    /// A call.
    Call(CallNode),
    /// A transcript.
    Transcript(TranscriptNode),
    /// An activity record.
    Activity(ActivityNode),
    /// An interaction record.
    Interaction(InteractionNode),
    /// A scorecard template.
    Scorecard(ScorecardNode),
    /// A scored review.
    Score(ScoreNode),
    /// Coaching metrics of a manager's team.
    Coaching(Coaching),
    /// A team.
    Team(TeamNode),
    /// A department.
    Department(DepartmentNode),
    /// A topic definition.
    Topic(TopicNode),
    /// Topic matches of a call.
    CallTopicMatches(CallTopicMatchesNode),
    /// A listen.
    Listen(ListenNode),
    /// Feedback on a call.
    Feedback(FeedbackNode),
    /// A share of a call.
    Share(ShareNode),
    /// A KPI observation.
    Kpi(KpiNode),
    /// A coaching plan.
    CoachingPlan(CoachingPlanNode),
    /// A coaching meeting.
    CoachingMeeting(MeetingNode),
}
