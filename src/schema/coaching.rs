//! ExecVision's coaching and engagement data: teams, departments, topics and topic
//! matches, listens, feedback, shares, KPIs, coaching plans and meetings.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use super::{
    CallNode, ConnectionNode, UserNode,
    connection::{List, ListId, PageArgs, paginate},
    connection_node,
    id::Kind,
    state,
};
use crate::{
    domain::{self, SpeakerType},
    error::{AppError, AppResult},
    providers::{Provider, ProviderKind, SinceQuery, TopicMatchQuery, all_pages},
};

/// The provider side of every record here.
#[derive(Clone, Debug)]
pub(crate) struct Src {
    pub(crate) connection: Arc<str>,
    pub(crate) provider: ProviderKind,
}

impl Src {
    pub(crate) fn of(p: &Arc<dyn Provider>) -> Self {
        Self { connection: p.connection_id().clone(), provider: p.kind() }
    }
    async fn user(&self, ctx: &Context<'_>, id: &Option<String>) -> Result<Option<UserNode>> {
        match id {
            Some(id) => UserNode::load(ctx, &self.connection, id).await,
            None => Ok(None),
        }
    }
    async fn call(&self, ctx: &Context<'_>, id: &str) -> Result<Option<CallNode>> {
        CallNode::load(ctx, &self.connection, id).await
    }
    fn call_id(&self, remote_id: &str) -> ID {
        super::id::encode(super::id::Kind::Call, &self.connection, remote_id)
    }
    fn id(&self, kind: Kind, key: &str) -> ID {
        super::id::encode(kind, &self.connection, key)
    }
}

fn iso(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)).unwrap_or_default()
}

/// The remote part of the ids of records without an id of their own at the provider
/// (what makes each one unique), and of those with one.
pub(crate) mod keys {
    use super::{domain, iso};

    pub(crate) fn listen(l: &domain::Listen) -> String {
        let date = l.date.map(|d| d.to_string()).unwrap_or_default();
        format!("{}|{}|{date}", l.call_remote_id, l.listener_remote_id.as_deref().unwrap_or(""))
    }
    pub(crate) fn feedback(f: &domain::Feedback) -> String {
        let kind = if f.is_highlight { "h" } else { "c" };
        format!("{}|{}|{}|{kind}", f.call_remote_id, f.author_remote_id.as_deref().unwrap_or(""), iso(f.given_at))
    }
    pub(crate) fn share(s: &domain::Share) -> String {
        format!("{}|{}|{}", s.call_remote_id, s.sharer_remote_id.as_deref().unwrap_or(""), iso(s.shared_at))
    }
    pub(crate) fn kpi(k: &domain::KpiObservation) -> String {
        format!("{}|{}|{}", k.kpi_remote_id, k.observed_remote_id.as_deref().unwrap_or(""), iso(k.observed_at))
    }
}

/// A since-paged provider list as a Relay connection.
pub(crate) async fn since_list<R, T, F, Fut>(
    ctx: &Context<'_>,
    provider: &Arc<dyn Provider>,
    what: &str,
    query: &impl serde::Serialize,
    args: PageArgs,
    fetch: F,
    map: impl Fn(R) -> T,
) -> AppResult<List<T>>
where
    R: Clone + crate::providers::paging::Keyed,
    T: async_graphql::OutputType,
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<domain::Page<R>, crate::providers::ProviderError>>,
{
    let st = state(ctx);
    let list = ListId::of(provider.as_ref(), what, query);
    paginate(&st.cursors, st.max_page_size, &list, args, fetch, map).await
}

/// A whole (unpaged) provider list as a Relay connection.
pub(crate) async fn plain_list<R, T, Fut>(
    ctx: &Context<'_>,
    provider: &Arc<dyn Provider>,
    what: &str,
    args: PageArgs,
    fetch: impl Fn() -> Fut,
    map: impl Fn(R) -> T,
) -> AppResult<List<T>>
where
    R: Clone,
    T: async_graphql::OutputType,
    Fut: Future<Output = Result<Vec<R>, crate::providers::ProviderError>>,
{
    let st = state(ctx);
    let list = ListId::new(provider.connection_id(), what, &());
    super::connection::paginate_once(
        &st.cursors,
        st.max_page_size,
        &list,
        args,
        |_| {
            let fut = fetch();
            async move {
                let items = fut.await?;
                let total = items.len() as u64;
                Ok(domain::Page { items, next: None, total: Some(total) })
            }
        },
        map,
    )
    .await
}

macro_rules! page_args {
    ($first:expr, $after:expr, $last:expr, $before:expr) => {
        PageArgs { first: $first, after: $after, last: $last, before: $before }
    };
}
pub(crate) use page_args;

pub(crate) async fn teams(ctx: &Context<'_>, p: &Arc<dyn Provider>, args: PageArgs) -> AppResult<List<TeamNode>> {
    let src = Src::of(p);
    plain_list(ctx, p, "teams", args, || p.teams(), |t| TeamNode { src: src.clone(), t: Arc::new(t) }).await
}

pub(crate) async fn departments(
    ctx: &Context<'_>,
    p: &Arc<dyn Provider>,
    args: PageArgs,
) -> AppResult<List<DepartmentNode>> {
    let src = Src::of(p);
    plain_list(ctx, p, "departments", args, || p.departments(), |d| DepartmentNode { src: src.clone(), d: Arc::new(d) })
        .await
}

pub(crate) async fn topics(ctx: &Context<'_>, p: &Arc<dyn Provider>, args: PageArgs) -> AppResult<List<TopicNode>> {
    let src = Src::of(p);
    plain_list(ctx, p, "topics", args, || p.topics(), |t| TopicNode { src: src.clone(), t: Arc::new(t) }).await
}

pub(crate) async fn topic_matches(
    ctx: &Context<'_>,
    p: &Arc<dyn Provider>,
    query: TopicMatchQuery,
    args: PageArgs,
) -> AppResult<List<CallTopicMatchesNode>> {
    if let Some((w, m)) = query.window
        && (w == 0 || m == 0)
    {
        return Err(AppError::bad_input("`windowLength` and `minimumMatches` must be positive"));
    }
    let src = Src::of(p);
    since_list(
        ctx,
        p,
        "topic_matches",
        &query,
        args,
        |page| {
            let (p, q) = (p.clone(), query.clone());
            async move { p.list_topic_matches(&q, page).await }
        },
        |m| CallTopicMatchesNode { src: src.clone(), m: Arc::new(m) },
    )
    .await
}

macro_rules! since_fn {
    ($name:ident, $method:ident, $node:ident, $field:ident) => {
        pub(crate) async fn $name(
            ctx: &Context<'_>,
            p: &Arc<dyn Provider>,
            since: Option<DateTime<Utc>>,
            args: PageArgs,
        ) -> AppResult<List<$node>> {
            let src = Src::of(p);
            let query = SinceQuery { since };
            since_list(
                ctx,
                p,
                stringify!($name),
                &query,
                args,
                |page| {
                    let (p, q) = (p.clone(), query.clone());
                    async move { p.$method(&q, page).await }
                },
                |r| $node { src: src.clone(), $field: Arc::new(r) },
            )
            .await
        }
    };
}
since_fn!(listens, list_listens, ListenNode, l);
since_fn!(feedback, list_feedback, FeedbackNode, f);
since_fn!(shares, list_shares, ShareNode, s);
since_fn!(kpis, list_kpis, KpiNode, k);
since_fn!(coaching_plans, list_coaching_plans, CoachingPlanNode, p);
since_fn!(meetings, list_meetings, MeetingNode, m);

/// A team.
#[derive(Clone, Debug)]
pub struct TeamNode {
    pub(crate) src: Src,
    pub(crate) t: Arc<domain::Team>,
}

#[Object(name = "Team")]
impl TeamNode {
    /// Globally unique, stable id; `node(id:)` finds it in the (cached) teams list.
    pub(crate) async fn id(&self) -> ID {
        self.src.id(Kind::Team, &self.t.remote_id)
    }
    /// The provider's team id.
    async fn remote_id(&self) -> &str {
        &self.t.remote_id
    }
    /// Team name.
    async fn name(&self) -> &str {
        &self.t.name
    }
    /// The team's manager.
    async fn manager(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.src.user(ctx, &self.t.manager_remote_id).await
    }
    /// The department's provider id.
    async fn department_id(&self) -> Option<&str> {
        self.t.department_remote_id.as_deref()
    }
    /// The connection.
    async fn connection(&self, ctx: &Context<'_>) -> Option<ConnectionNode> {
        connection_node(ctx, &self.src.connection)
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.t.raw).clone())
    }
}

/// A department.
#[derive(Clone, Debug)]
pub struct DepartmentNode {
    pub(crate) src: Src,
    pub(crate) d: Arc<domain::Department>,
}

#[Object(name = "Department")]
impl DepartmentNode {
    /// Globally unique, stable id; `node(id:)` finds it in the (cached) departments list.
    pub(crate) async fn id(&self) -> ID {
        self.src.id(Kind::Department, &self.d.remote_id)
    }
    /// The provider's department id.
    async fn remote_id(&self) -> &str {
        &self.d.remote_id
    }
    /// Department name.
    async fn name(&self) -> &str {
        &self.d.name
    }
    /// The connection.
    async fn connection(&self, ctx: &Context<'_>) -> Option<ConnectionNode> {
        connection_node(ctx, &self.src.connection)
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.d.raw).clone())
    }
}

/// A topic definition: words and phrases the provider looks for in transcripts.
#[derive(Clone, Debug)]
pub struct TopicNode {
    pub(crate) src: Src,
    pub(crate) t: Arc<domain::Topic>,
}

#[Object(name = "Topic")]
impl TopicNode {
    /// Globally unique, stable id; `node(id:)` finds it in the (cached) topics list.
    pub(crate) async fn id(&self) -> ID {
        self.src.id(Kind::Topic, &self.t.remote_id)
    }
    /// The provider's topic id.
    async fn remote_id(&self) -> &str {
        &self.t.remote_id
    }
    /// Topic name.
    async fn name(&self) -> &str {
        &self.t.name
    }
    /// The words and phrases that make up the topic.
    async fn words(&self) -> &[String] {
        &self.t.words
    }
    /// The provider.
    async fn provider(&self) -> ProviderKind {
        self.src.provider
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.t.raw).clone())
    }
}

/// The topics matched in one call's transcript.
#[derive(Clone, Debug)]
pub struct CallTopicMatchesNode {
    pub(crate) src: Src,
    pub(crate) m: Arc<domain::CallTopicMatches>,
}

#[Object(name = "CallTopicMatches")]
impl CallTopicMatchesNode {
    /// Globally unique, stable id (the call's); `node(id:)` finds it in the (cached) topic
    /// matches, read whole (ExecVision has no lookup by call).
    pub(crate) async fn id(&self) -> ID {
        self.src.id(Kind::CallTopicMatches, &self.m.call_remote_id)
    }
    /// The call.
    async fn call(&self, ctx: &Context<'_>) -> Result<Option<CallNode>> {
        self.src.call(ctx, &self.m.call_remote_id).await
    }
    /// The call's provider id.
    async fn call_remote_id(&self) -> &str {
        &self.m.call_remote_id
    }
    /// When the call's matches last changed.
    async fn modified_at(&self) -> Option<DateTime<Utc>> {
        self.m.modified_at
    }
    /// Questions asked by internal speakers.
    async fn internal_questions(&self) -> Option<i64> {
        self.m.internal_questions
    }
    /// Questions asked by external speakers.
    async fn external_questions(&self) -> Option<i64> {
        self.m.external_questions
    }
    /// Questions asked by unidentified speakers.
    async fn unknown_questions(&self) -> Option<i64> {
        self.m.unknown_questions
    }
    /// Blocks of transcript text with the topics matched in each.
    async fn matches(&self) -> Vec<TopicMatch> {
        self.m
            .blocks
            .iter()
            .map(|b| TopicMatch {
                start_time: b.start_secs,
                end_time: b.end_secs,
                text: b.text.clone(),
                speaker_type: b.speaker_type,
                topics: b
                    .topics
                    .iter()
                    .map(|t| TopicHit {
                        topic_id: t.topic_remote_id.clone(),
                        topic_name: t.topic_name.clone(),
                        matches: t
                            .matches
                            .iter()
                            .map(|m| TopicHitMatch {
                                search_text: m.search_text.clone(),
                                matching_text: m.matching_text.clone(),
                                start_time: m.start_secs,
                                end_time: m.end_secs,
                                start_index: m.start_index,
                                end_index: m.end_index,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect()
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.m.raw).clone())
    }
}

/// A block of transcript text and the topics matched in it.
#[derive(Clone, Debug, SimpleObject)]
pub struct TopicMatch {
    /// Seconds from the start of the call.
    pub start_time: f64,
    /// Seconds from the start of the call.
    pub end_time: f64,
    /// The block's text.
    pub text: String,
    /// Who spoke it.
    pub speaker_type: SpeakerType,
    /// Topics matched in the block.
    pub topics: Vec<TopicHit>,
}

/// A topic matched within a block.
#[derive(Clone, Debug, SimpleObject)]
pub struct TopicHit {
    /// The topic's provider id.
    pub topic_id: String,
    /// The topic's name.
    pub topic_name: String,
    /// Each match.
    pub matches: Vec<TopicHitMatch>,
}

/// One match of a topic.
#[derive(Clone, Debug, SimpleObject)]
pub struct TopicHitMatch {
    /// The topic's words or phrases that matched.
    pub search_text: Vec<String>,
    /// The transcript text that matched.
    pub matching_text: String,
    /// Seconds from the start of the call.
    pub start_time: f64,
    /// Seconds from the start of the call.
    pub end_time: f64,
    /// First matching word (0-based index into the block's words, inclusive).
    pub start_index: i64,
    /// Last matching word (inclusive).
    pub end_index: i64,
}

/// Someone listened to a call. Listens are computed nightly by ExecVision.
#[derive(Clone, Debug)]
pub struct ListenNode {
    pub(crate) src: Src,
    pub(crate) l: Arc<domain::Listen>,
}

#[Object(name = "Listen")]
impl ListenNode {
    /// Globally unique, stable id (call, listener and day); `node(id:)` finds it in the
    /// (cached) listens, read whole.
    pub(crate) async fn id(&self) -> ID {
        self.src.id(Kind::Listen, &keys::listen(&self.l))
    }
    /// The day of the listen.
    async fn date(&self) -> Option<NaiveDate> {
        self.l.date
    }
    /// The call listened to.
    async fn call(&self, ctx: &Context<'_>) -> Result<Option<CallNode>> {
        self.src.call(ctx, &self.l.call_remote_id).await
    }
    /// The call's global id, without fetching the call (`call` costs a provider
    /// request per call at ExecVision, which has no batch form).
    async fn call_id(&self) -> ID {
        self.src.call_id(&self.l.call_remote_id)
    }
    /// Who listened.
    async fn listener(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.src.user(ctx, &self.l.listener_remote_id).await
    }
    /// Who made the call.
    async fn caller(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.src.user(ctx, &self.l.caller_remote_id).await
    }
    /// Seconds listened.
    async fn time_listened(&self) -> Option<f64> {
        self.l.seconds
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.l.raw).clone())
    }
}

/// A comment or highlight on a call.
#[derive(Clone, Debug)]
pub struct FeedbackNode {
    pub(crate) src: Src,
    pub(crate) f: Arc<domain::Feedback>,
}

#[Object(name = "Feedback")]
impl FeedbackNode {
    /// Globally unique, stable id (call, author, time and kind); `node(id:)` finds it in
    /// the (cached) feedback, read whole.
    pub(crate) async fn id(&self) -> ID {
        self.src.id(Kind::Feedback, &keys::feedback(&self.f))
    }
    /// When it was given.
    async fn given_at(&self) -> Option<DateTime<Utc>> {
        self.f.given_at
    }
    /// The call.
    async fn call(&self, ctx: &Context<'_>) -> Result<Option<CallNode>> {
        self.src.call(ctx, &self.f.call_remote_id).await
    }
    /// The call's global id, without fetching the call (`call` costs a provider
    /// request per call at ExecVision, which has no batch form).
    async fn call_id(&self) -> ID {
        self.src.call_id(&self.f.call_remote_id)
    }
    /// Who gave it.
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.src.user(ctx, &self.f.author_remote_id).await
    }
    /// A comment.
    async fn is_comment(&self) -> bool {
        self.f.is_comment
    }
    /// A highlight.
    async fn is_highlight(&self) -> bool {
        self.f.is_highlight
    }
    /// The comment or highlight text (may contain HTML).
    async fn text(&self) -> Option<&str> {
        self.f.text.as_deref()
    }
    /// Seconds from the start of the call.
    async fn start_time(&self) -> Option<f64> {
        self.f.start_secs
    }
    /// Seconds from the start of the call (highlights).
    async fn end_time(&self) -> Option<f64> {
        self.f.end_secs
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.f.raw).clone())
    }
}

/// A call shared with colleagues or outside the company.
#[derive(Clone, Debug)]
pub struct ShareNode {
    pub(crate) src: Src,
    pub(crate) s: Arc<domain::Share>,
}

#[Object(name = "Share")]
impl ShareNode {
    /// Globally unique, stable id (call, sharer and time); `node(id:)` finds it in the
    /// (cached) shares, read whole.
    pub(crate) async fn id(&self) -> ID {
        self.src.id(Kind::Share, &keys::share(&self.s))
    }
    /// When it was shared.
    async fn shared_at(&self) -> Option<DateTime<Utc>> {
        self.s.shared_at
    }
    /// The call.
    async fn call(&self, ctx: &Context<'_>) -> Result<Option<CallNode>> {
        self.src.call(ctx, &self.s.call_remote_id).await
    }
    /// The call's global id, without fetching the call (`call` costs a provider
    /// request per call at ExecVision, which has no batch form).
    async fn call_id(&self) -> ID {
        self.src.call_id(&self.s.call_remote_id)
    }
    /// Who shared it.
    async fn shared_by(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.src.user(ctx, &self.s.sharer_remote_id).await
    }
    /// Users it was shared with (internal sharing).
    async fn recipients(&self, ctx: &Context<'_>) -> Result<Vec<UserNode>> {
        let mut out = Vec::new();
        for id in &self.s.recipient_remote_ids {
            out.extend(UserNode::load(ctx, &self.src.connection, id).await?);
        }
        Ok(out)
    }
    /// Addresses it was shared with (external sharing).
    async fn recipient_emails(&self) -> &[String] {
        &self.s.recipient_emails
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.s.raw).clone())
    }
}

/// One observation of a KPI for a user.
#[derive(Clone, Debug)]
pub struct KpiNode {
    pub(crate) src: Src,
    pub(crate) k: Arc<domain::KpiObservation>,
}

#[Object(name = "Kpi")]
impl KpiNode {
    /// Globally unique, stable id (KPI, observed user and time); `node(id:)` finds it in
    /// the (cached) observations, read whole.
    pub(crate) async fn id(&self) -> ID {
        self.src.id(Kind::Kpi, &keys::kpi(&self.k))
    }
    /// When it was observed.
    async fn observed_at(&self) -> Option<DateTime<Utc>> {
        self.k.observed_at
    }
    /// The observed value.
    async fn value(&self) -> Option<f64> {
        self.k.value
    }
    /// Who observed it.
    async fn observer(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.src.user(ctx, &self.k.observer_remote_id).await
    }
    /// Whose KPI it is.
    async fn observed(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.src.user(ctx, &self.k.observed_remote_id).await
    }
    /// The KPI's definition (description, frequency, target).
    async fn definition(&self, ctx: &Context<'_>) -> Result<Option<KpiDefinition>> {
        let p = super::provider(ctx, &self.src.connection)?;
        let def = p.kpi_definition(&self.k.kpi_remote_id).await.map_err(AppError::from)?;
        Ok(def.map(|d| KpiDefinition {
            id: ID(d.remote_id.clone()),
            description: d.description,
            frequency: d.frequency,
            target: d.target,
        }))
    }
    /// The KPI's provider id.
    async fn kpi_id(&self) -> &str {
        &self.k.kpi_remote_id
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.k.raw).clone())
    }
}

/// What a KPI measures.
#[derive(Clone, Debug, SimpleObject)]
pub struct KpiDefinition {
    /// The KPI's provider id.
    pub id: ID,
    /// Description.
    pub description: Option<String>,
    /// `DAILY`, `WEEKLY`, `MONTHLY` or `QUARTERLY`.
    pub frequency: Option<String>,
    /// Target value.
    pub target: Option<f64>,
}

/// A coaching plan between a coach and a recipient.
#[derive(Clone, Debug)]
pub struct CoachingPlanNode {
    pub(crate) src: Src,
    pub(crate) p: Arc<domain::CoachingPlan>,
}

#[Object(name = "CoachingPlan")]
impl CoachingPlanNode {
    /// Globally unique, stable id; `node(id:)` finds it in the (cached) plans, read whole.
    pub(crate) async fn id(&self) -> ID {
        self.src.id(Kind::CoachingPlan, &self.p.remote_id)
    }
    /// The provider's plan id.
    async fn remote_id(&self) -> &str {
        &self.p.remote_id
    }
    /// Plan name.
    async fn name(&self) -> Option<&str> {
        self.p.name.as_deref()
    }
    /// What the plan should achieve.
    async fn objective(&self) -> Option<&str> {
        self.p.objective.as_deref()
    }
    /// When the plan started.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.p.started_at
    }
    /// The coach.
    async fn coach(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.src.user(ctx, &self.p.coach_remote_id).await
    }
    /// The person coached.
    async fn recipient(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.src.user(ctx, &self.p.recipient_remote_id).await
    }
    /// Meetings planned.
    async fn planned_meetings(&self) -> Option<i64> {
        self.p.planned_meetings
    }
    /// Meetings held.
    async fn completed_meetings(&self) -> Option<i64> {
        self.p.completed_meetings
    }
    /// Meetings that should have happened by now but did not (provider estimate).
    async fn missed_meetings(&self) -> Option<i64> {
        self.p.missed_meetings
    }
    /// Skills the plan works on.
    async fn skills(&self) -> Vec<Skill> {
        self.p.skills.iter().map(|(id, name)| Skill { id: id.clone(), name: name.clone() }).collect()
    }
    /// The plan's meetings, in provider order.
    async fn meetings(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<MeetingNode>> {
        let p = super::provider(ctx, &self.src.connection)?;
        let plan = self.p.remote_id.clone();
        let src = self.src.clone();
        Ok(plain_list(
            ctx,
            p,
            &format!("plan_meetings:{plan}"),
            page_args!(first, after, last, before),
            || {
                let (p, plan) = (p.clone(), plan.clone());
                async move {
                    let all_time = SinceQuery::default();
                    let all =
                        all_pages(p.as_ref(), "coaching meetings", |page| p.list_meetings(&all_time, page)).await?;
                    Ok(all.into_iter().filter(|m| m.plan_remote_id.as_deref() == Some(plan.as_str())).collect())
                }
            },
            |m| MeetingNode { src: src.clone(), m: Arc::new(m) },
        )
        .await?)
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.p.raw).clone())
    }
}

/// A coaching skill.
#[derive(Clone, Debug, SimpleObject)]
pub struct Skill {
    /// The provider's skill id.
    pub id: String,
    /// Skill name.
    pub name: String,
}

/// A coaching meeting.
#[derive(Clone, Debug)]
pub struct MeetingNode {
    pub(crate) src: Src,
    pub(crate) m: Arc<domain::Meeting>,
}

#[Object(name = "CoachingMeeting")]
impl MeetingNode {
    /// Globally unique, stable id; `node(id:)` finds it in the (cached) meetings, read
    /// whole.
    pub(crate) async fn id(&self) -> ID {
        self.src.id(Kind::CoachingMeeting, &self.m.remote_id)
    }
    /// The provider's meeting id.
    async fn remote_id(&self) -> &str {
        &self.m.remote_id
    }
    /// The plan's provider id.
    async fn plan_id(&self) -> Option<&str> {
        self.m.plan_remote_id.as_deref()
    }
    /// The coach.
    async fn coach(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.src.user(ctx, &self.m.coach_remote_id).await
    }
    /// The person coached.
    async fn recipient(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        self.src.user(ctx, &self.m.recipient_remote_id).await
    }
    /// When it was scheduled.
    async fn scheduled_at(&self) -> Option<DateTime<Utc>> {
        self.m.scheduled_at
    }
    /// When it started.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.m.started_at
    }
    /// When it ended.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.m.ended_at
    }
    /// Score per skill reviewed, as a percent.
    async fn skill_scores(&self) -> Vec<SkillScore> {
        self.m.skill_scores.iter().map(|(skill, score)| SkillScore { skill: skill.clone(), score: *score }).collect()
    }
    /// Calls reviewed in the meeting with their scored questions.
    async fn call_reviews(&self) -> Vec<CallReview> {
        self.m
            .call_reviews
            .iter()
            .map(|r| CallReview {
                src: self.src.clone(),
                call_remote_id: r.call_remote_id.clone(),
                questions: r.questions.iter().map(MeetingQuestion::from).collect(),
            })
            .collect()
    }
    /// Review questions of the meeting itself.
    async fn questions(&self) -> Vec<MeetingQuestion> {
        self.m.questions.iter().map(MeetingQuestion::from).collect()
    }
    /// General review comments.
    async fn comments(&self) -> Option<&str> {
        self.m.comments.as_deref()
    }
    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.m.raw).clone())
    }
}

/// A skill's score in a meeting.
#[derive(Clone, Debug, SimpleObject)]
pub struct SkillScore {
    /// Skill name.
    pub skill: String,
    /// Score, percent.
    pub score: f64,
}

/// A call reviewed in a coaching meeting.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct CallReview {
    #[graphql(skip)]
    src: Src,
    /// The call's provider id.
    pub call_remote_id: String,
    /// Scored scorecard questions for the call.
    pub questions: Vec<MeetingQuestion>,
}

#[async_graphql::ComplexObject]
impl CallReview {
    /// The call's global id, without fetching the call.
    async fn call_id(&self) -> ID {
        self.src.call_id(&self.call_remote_id)
    }
    /// The call.
    async fn call(&self, ctx: &Context<'_>) -> Result<Option<CallNode>> {
        self.src.call(ctx, &self.call_remote_id).await
    }
}

/// A scored question of a meeting.
#[derive(Clone, Debug, SimpleObject)]
pub struct MeetingQuestion {
    /// The question.
    pub question: String,
    /// Highest possible score (5 for scorecard questions; none for text questions).
    pub possible_score: Option<f64>,
    /// Score given.
    pub actual_score: Option<f64>,
    /// Weight relative to the other questions.
    pub weight: Option<f64>,
}

impl From<&domain::MeetingQuestion> for MeetingQuestion {
    fn from(q: &domain::MeetingQuestion) -> Self {
        Self {
            question: q.question.clone(),
            possible_score: q.possible_score,
            actual_score: q.actual_score,
            weight: q.weight,
        }
    }
}
