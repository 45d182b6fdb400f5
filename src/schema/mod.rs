//! The GraphQL schema: the query root, the unified types, federation entities.
//! No transport code here: resolvers reach providers through [`AppState`] and the
//! request's [`Loaders`].
//!
//! Access control lives in two seams, [`readable`] (the connections a request may
//! enumerate) and [`provider`] (one connection by id): both consult the request's
//! [`Principal`]. Global ids and cursors name their connection, so every resolver
//! that reaches a provider from an id or a cursor goes through [`provider`] first.

pub mod calls;
pub mod chat;
pub mod coaching;
pub mod connection;
pub mod coverage;
pub mod id;
pub mod limits;
pub mod notes;
pub mod observe;
pub mod people;
pub mod persisted;
pub mod query;
pub mod stats;
pub mod subscription;
pub mod users;

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, EmptyMutation, ID, Interface, Object, Schema, SimpleObject};

pub use calls::{CallNode, TranscriptNode};
pub use coaching::{
    CallTopicMatchesNode, CoachingPlanNode, DepartmentNode, FeedbackNode, KpiNode, ListenNode, MeetingNode, ShareNode,
    TeamNode, TopicNode,
};
pub use query::QueryRoot;
pub use stats::{ActivityNode, Coaching, InteractionNode, ScoreNode, ScorecardNode};
pub use subscription::SubscriptionRoot;
pub use users::UserNode;

use self::connection::CursorCodec;
use crate::{
    auth::Principal,
    config::{LimitSettings, PersistedQuerySettings},
    error::{AppError, AppResult},
    federation::entities::EntitiesRoot,
    loaders::Loaders,
    people::Directory,
    providers::{Capabilities, Provider, ProviderError, ProviderKind, Registry, transport::RateSchedule},
};

/// The schema type: [`QueryRoot`] with each `_entities` representation resolved on
/// its own ([`EntitiesRoot`]), and the [`SubscriptionRoot`].
pub type AppSchema = Schema<EntitiesRoot<QueryRoot>, EmptyMutation, SubscriptionRoot>;

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

/// Schema-wide switches.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchemaOptions {
    /// Answer `__schema` / `__type`.
    pub introspection: bool,
    /// A tracing span per resolver that may call a provider. Only worth it when
    /// traces are exported: any extension makes the engine route every field
    /// through the extension chain.
    pub resolver_spans: bool,
}

/// Builds the schema over `state`, with the federation extensions: `_entities` slots
/// and federated tracing (`ftv1`, only for requests that ask for it).
pub fn build_schema(state: AppState, options: SchemaOptions, live: Option<crate::live::Hub>) -> AppSchema {
    let mut builder = Schema::build(EntitiesRoot(QueryRoot), EmptyMutation, SubscriptionRoot)
        .enable_federation()
        .extension(crate::federation::entities::EntitySlotsExtension)
        .extension(crate::federation::ftv1::Ftv1Extension)
        .extension(notes::FieldNotes)
        .data(state);
    if let Some(hub) = live {
        builder = builder.data(hub);
    }
    if options.resolver_spans {
        builder = builder.extension(observe::FieldSpans);
    }
    if !options.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The request guard (limits, introspection switch, persisted queries) the HTTP
/// layer runs before each operation; reads the safelist file, if any.
pub fn request_guard(
    limits: &LimitSettings,
    max_page_size: usize,
    introspection: bool,
    persisted: &PersistedQuerySettings,
) -> Result<limits::RequestGuard, String> {
    let persisted = persisted::PersistedQueries::from_settings(persisted)?;
    Ok(limits::RequestGuard::new(limits, max_page_size, introspection, persisted))
}

/// The SDL convograph publishes (`convograph sdl`, `schema.graphql`).
pub fn sdl() -> String {
    let schema = Schema::build(EntitiesRoot(QueryRoot), EmptyMutation, SubscriptionRoot).enable_federation().finish();
    let options = async_graphql::SDLExportOptions::new().federation().compose_directive();
    schema.sdl_with_options(options)
}

pub(crate) fn state<'a>(ctx: &Context<'a>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

pub(crate) fn loaders<'a>(ctx: &Context<'a>) -> AppResult<&'a Loaders> {
    ctx.data::<Arc<Loaders>>().map(|l| l.as_ref()).map_err(|_| AppError::bad_input("internal: request loaders missing"))
}

/// The caller of this request. `None` (a schema executed without the HTTP layer
/// putting a principal in the request) reads nothing: access fails closed.
pub(crate) fn principal<'a>(ctx: &Context<'a>) -> Option<&'a Principal> {
    ctx.data_opt::<Arc<Principal>>().map(Arc::as_ref)
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

fn may_read(ctx: &Context<'_>, id: &str) -> bool {
    principal(ctx).is_some_and(|p| p.may_read(id))
}

/// The connections this request may read, ordered by id. Every resolver that
/// enumerates connections goes through here: a connection outside the caller's
/// scope is invisible.
pub(crate) fn readable<'a>(ctx: &Context<'a>) -> impl Iterator<Item = &'a Arc<dyn Provider>> + 'a {
    let principal = principal(ctx);
    state(ctx).registry.iter().filter(move |p| principal.is_some_and(|pr| pr.may_read(p.connection_id())))
}

/// The connections this request may read, as `Connection` objects.
pub(crate) fn readable_connections(ctx: &Context<'_>) -> Vec<ConnectionNode> {
    state(ctx).connections.iter().filter(|c| may_read(ctx, c.id.as_str())).cloned().collect()
}

/// The provider of connection `id`: `FORBIDDEN` outside the caller's scope (whether
/// or not it exists, so ids cannot be probed), else `NOT_FOUND` when there is none.
pub(crate) fn provider<'a>(ctx: &Context<'a>, id: &str) -> AppResult<&'a Arc<dyn Provider>> {
    if !may_read(ctx, id) {
        return Err(AppError::Forbidden(id.to_owned()));
    }
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
