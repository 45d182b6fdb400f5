//! The query root and the federation entity resolvers.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::{
    ActivityNode, CallNode, CallTopicMatchesNode, CoachingPlanNode, ConnectionNode, DepartmentNode, FeedbackNode,
    InteractionNode, KpiNode, ListenNode, MeetingNode, Node, ScoreNode, ScorecardNode, ShareNode, TeamNode, TopicNode,
    TranscriptNode, UserNode,
    calls::{CallFilter, calls_field},
    coaching::{self, Src, keys, page_args},
    connection::{List, ListId, PageArgs, page_size, paginate, paginate_held},
    coverage::ProviderCoverage,
    id::{self, Kind},
    loaders, people, pick_connection, provider, report, state,
    stats::{Coaching, ScoreFilter, activity_list, interactions_list, scorecards_list, scores_list},
};
use crate::{
    domain::{AggregationPeriod, Page},
    error::{AppError, AppResult},
    federation::entities::{self, Entity},
    loaders::{RemoteKey, load_for},
    people::{Account, Person, Scope},
    providers::{CoachingQuery, ProviderError, SinceQuery, SortDirection, TopicMatchQuery, all_pages},
};

/// The root of every query.
#[derive(Debug, Default)]
pub struct QueryRoot;

/// Remote ids at `connection` of the people `ids` name (`User` ids), or `None` when
/// none of them has an account there (the list is then empty).
async fn user_remote_ids(ctx: &Context<'_>, ids: Option<Vec<ID>>, connection: &str) -> AppResult<Option<Vec<String>>> {
    let Some(ids) = ids else { return Ok(Some(Vec::new())) };
    let persons = people::persons(ctx, &ids, &[]).await?;
    let remote = people::remote_ids_at(&persons, connection);
    Ok((!remote.is_empty() || ids.is_empty()).then_some(remote))
}

fn empty<T: async_graphql::OutputType>() -> List<T> {
    List::with_additional_fields(false, false, super::connection::ListInfo { total_count: Some(0) })
}

async fn user_by_id(ctx: &Context<'_>, id: &ID) -> Result<Option<UserNode>> {
    Ok(people::person_by_id(ctx, id).await?.map(UserNode::new))
}

async fn user_by_email(ctx: &Context<'_>, email: &str) -> Result<Option<UserNode>> {
    Ok(people::person_by_email(ctx, email).await?.map(UserNode::new))
}

/// A `User` entity found by `lookup`, listed in the page of all the request's `User`
/// entities ([`people::entity_page`]).
async fn user_entity(
    ctx: &Context<'_>,
    lookup: impl Future<Output = Result<Option<UserNode>>>,
) -> Result<Option<UserNode>> {
    let Some(mut user) = lookup.await? else { return Ok(None) };
    // A page that lacks this person (a lookup that failed for the page but not for
    // the entity) would not read their records: the person then reads alone.
    user.page =
        people::entity_page(ctx).await?.filter(|page| page.iter().any(|p| people::same_person(p, &user.person)));
    Ok(Some(user))
}

async fn call_by_id(ctx: &Context<'_>, id: &ID) -> Result<Option<CallNode>> {
    let g = id::decode_kind(id, Kind::Call)?;
    provider(ctx, &g.connection)?;
    CallNode::load(ctx, &g.connection, &g.remote_id).await
}

/// The first record of a list (read whole through the provider, whose pages are
/// cached) that `key` names.
async fn find_in<T, F, Fut>(
    provider: &dyn crate::providers::Provider,
    fetch: F,
    key: impl Fn(&T) -> String,
    wanted: &str,
) -> Result<Option<T>, ProviderError>
where
    T: crate::providers::paging::Keyed,
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, ProviderError>>,
{
    Ok(all_pages(provider, "records", fetch).await?.into_iter().find(|r| key(r) == wanted))
}

/// Any object by its global id: the provider record it names, re-read (through the
/// cache) where the provider has no lookup by id.
async fn node_by_id(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>> {
    let g = id::decode(id)?;
    let p = provider(ctx, &g.connection)?;
    let conn = g.connection.clone();
    let key = g.remote_id.as_str();
    let src = Src::of(p);
    let bad = || AppError::bad_input(format!("'{}' is not an id issued by this server", id.as_str()));
    let all_time = SinceQuery::default();
    let unsupported = |what: &'static str| AppError::Provider(p.unsupported(what));
    Ok(match g.kind {
        Kind::User => user_by_id(ctx, id).await?.map(Node::User),
        Kind::Call => CallNode::load(ctx, &conn, key).await?.map(Node::Call),
        Kind::Transcript => {
            let wanted = RemoteKey { connection: conn.clone(), remote_id: key.to_owned() };
            load_for(ctx, &loaders(ctx)?.transcripts, wanted, []).await.map_err(AppError::from)?.map(|t| {
                Node::Transcript(TranscriptNode { connection: conn, provider: p.kind(), transcript: t, call: None })
            })
        }
        Kind::Scorecard => p
            .scorecard(key)
            .await
            .map_err(AppError::from)?
            .map(|s| Node::Scorecard(ScorecardNode { connection: conn, provider: p.kind(), s: Arc::new(s) })),
        Kind::Activity => {
            let (user, period, from, to) = ActivityNode::parse_key(key).ok_or_else(bad)?;
            if !p.capabilities().activity {
                return Err(unsupported("activity").into());
            }
            let record = p.activity_record(&user, period, from, to).await.map_err(AppError::from)?;
            record.map(|a| Node::Activity(ActivityNode::new(p, a)))
        }
        Kind::Interaction => {
            let (user, from, to) = InteractionNode::parse_key(key).ok_or_else(bad)?;
            if !p.capabilities().interactions {
                return Err(unsupported("interactions").into());
            }
            let record = p.interaction_record(&user, from, to).await.map_err(AppError::from)?;
            record.map(|i| Node::Interaction(InteractionNode::new(p, i)))
        }
        Kind::Score => {
            if !p.capabilities().scores {
                return Err(unsupported("scores").into());
            }
            p.score(key).await.map_err(AppError::from)?.map(|s| Node::Score(ScoreNode::new(p, s)))
        }
        Kind::Coaching => {
            let (manager, from, to) = Coaching::parse_key(key).ok_or_else(bad)?;
            let query = CoachingQuery { manager_remote_id: manager.clone(), from, to };
            let list = p.coaching(&query).await.map_err(AppError::from)?;
            list.into_iter()
                .find(|c| c.manager.remote_id == manager)
                .map(|c| Node::Coaching(Coaching::from_domain(&conn, &query, c)))
        }
        Kind::Team => {
            let found = p.teams().await.map_err(AppError::from)?.into_iter().find(|t| t.remote_id == key);
            found.map(|t| Node::Team(TeamNode { src, t: Arc::new(t) }))
        }
        Kind::Department => {
            let found = p.departments().await.map_err(AppError::from)?.into_iter().find(|d| d.remote_id == key);
            found.map(|d| Node::Department(DepartmentNode { src, d: Arc::new(d) }))
        }
        Kind::Topic => {
            let found = p.topics().await.map_err(AppError::from)?.into_iter().find(|t| t.remote_id == key);
            found.map(|t| Node::Topic(TopicNode { src, t: Arc::new(t) }))
        }
        Kind::CallTopicMatches => {
            let all = TopicMatchQuery::default();
            let found = find_in(p.as_ref(), |page| p.list_topic_matches(&all, page), |m| m.call_remote_id.clone(), key)
                .await
                .map_err(AppError::from)?;
            found.map(|m| Node::CallTopicMatches(CallTopicMatchesNode { src, m: Arc::new(m) }))
        }
        Kind::Listen => {
            let found = find_in(p.as_ref(), |page| p.list_listens(&all_time, page), keys::listen, key)
                .await
                .map_err(AppError::from)?;
            found.map(|l| Node::Listen(ListenNode { src, l: Arc::new(l) }))
        }
        Kind::Feedback => {
            let found = find_in(p.as_ref(), |page| p.list_feedback(&all_time, page), keys::feedback, key)
                .await
                .map_err(AppError::from)?;
            found.map(|f| Node::Feedback(FeedbackNode { src, f: Arc::new(f) }))
        }
        Kind::Share => {
            let found = find_in(p.as_ref(), |page| p.list_shares(&all_time, page), keys::share, key)
                .await
                .map_err(AppError::from)?;
            found.map(|s| Node::Share(ShareNode { src, s: Arc::new(s) }))
        }
        Kind::Kpi => {
            let found = find_in(p.as_ref(), |page| p.list_kpis(&all_time, page), keys::kpi, key)
                .await
                .map_err(AppError::from)?;
            found.map(|k| Node::Kpi(KpiNode { src, k: Arc::new(k) }))
        }
        Kind::CoachingPlan => {
            let found =
                find_in(p.as_ref(), |page| p.list_coaching_plans(&all_time, page), |r| r.remote_id.clone(), key)
                    .await
                    .map_err(AppError::from)?;
            found.map(|plan| Node::CoachingPlan(CoachingPlanNode { src, p: Arc::new(plan) }))
        }
        Kind::CoachingMeeting => {
            let found = find_in(p.as_ref(), |page| p.list_meetings(&all_time, page), |r| r.remote_id.clone(), key)
                .await
                .map_err(AppError::from)?;
            found.map(|m| Node::CoachingMeeting(MeetingNode { src, m: Arc::new(m) }))
        }
    })
}

#[Object(name = "Query")]
impl QueryRoot {
    /// The provider connections the caller may read.
    async fn connections(&self, ctx: &Context<'_>) -> Vec<ConnectionNode> {
        super::readable_connections(ctx)
    }

    /// People: every readable connection's users joined by email (a person with
    /// accounts at several connections is listed once), or, with `connectionId`, the
    /// people with an account at that connection, in its order.
    async fn users(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<UserNode>> {
        let args = PageArgs { first, after, last, before };
        let st = state(ctx);
        if connection_id.is_none()
            && let Scope::Joined(index) = people::scope(ctx).await?
        {
            page_size(st.max_page_size, &args)?;
            people::report_missing(ctx).await?;
            let persons = index.persons().to_vec();
            let total = persons.len() as u64;
            // The list depends on the connections joined and on those that failed.
            let joined: Vec<_> =
                super::readable(ctx).filter(|p| p.capabilities().users).map(|p| p.connection_id().clone()).collect();
            let failed: Vec<_> = index.missing.iter().map(|e| e.connection.clone()).collect();
            let list = ListId::new(&Arc::from("*"), "people", &(joined, failed));
            return Ok(paginate_held(&st.cursors, st.max_page_size, &list, args, persons, Some(total), UserNode::new)
                .await
                .map(UserNode::with_page)?);
        }
        let provider = pick_connection(ctx, connection_id.as_ref(), "users", |c| c.users)?;
        let conn = provider.connection_id().clone();
        let list = ListId::of(provider.as_ref(), "users", &());
        let (kind, rank) = (provider.kind(), super::rank(ctx, &conn));
        let mut page = paginate(
            &st.cursors,
            st.max_page_size,
            &list,
            args,
            |token| {
                let p = provider.clone();
                async move { p.list_users(token).await }
            },
            |u| {
                let account = Account { connection: conn.clone(), provider: kind, rank, user: Arc::new(u) };
                UserNode::new(Arc::new(Person::new(vec![account])))
            },
        )
        .await?;
        // Each account as its whole person.
        for edge in &mut page.edges {
            let user = edge.node.person.anchor().user.clone();
            edge.node.person = people::person_of(ctx, &conn, user).await?;
        }
        Ok(UserNode::with_page(page))
    }

    /// One user, by `id` or by `email` (address or alias, case-insensitive).
    async fn user(&self, ctx: &Context<'_>, id: Option<ID>, email: Option<String>) -> Result<Option<UserNode>> {
        match (id, email) {
            (Some(id), None) => user_by_id(ctx, &id).await,
            (None, Some(email)) => user_by_email(ctx, &email).await,
            _ => Err(AppError::bad_input("give exactly one of `id` or `email`").into()),
        }
    }

    /// Calls of every readable connection in one timeline by start time, newest first
    /// unless `order: ASC` (paged both ways; the cursor holds each connection's
    /// position). With `connectionId` (the only form that takes `remoteQuery`), that
    /// connection's calls: in the provider's own order (Gong: oldest first;
    /// ExecVision: last modified; Salesloft: newest created first unless `remoteQuery`
    /// sorts; Hubster: the configured conversations), the cheapest to read, or by start
    /// time when `order` is given. A connection that fails is reported in `errors`
    /// while the others' calls still come. Filled by: Gong, ExecVision, Salesloft,
    /// Hubster.
    async fn calls(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        filter: Option<CallFilter>,
        #[graphql(desc = "By start time (default without `connectionId`: DESC).")] order: Option<SortDirection>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<CallNode>> {
        let args = PageArgs { first, after, last, before };
        Ok(calls_field(ctx, connection_id.as_ref(), filter.unwrap_or_default(), order, args).await?)
    }

    /// One call by id.
    async fn call(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CallNode>> {
        call_by_id(ctx, &id).await
    }

    /// Platform activity per user over `[startTime, endTime)`, by `aggregationPeriod`.
    /// Gong counts by day in the company time zone.
    async fn activity(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        start_time: DateTime<Utc>,
        end_time: DateTime<Utc>,
        #[graphql(desc = "Only these people (`User.id`).")] user_ids: Option<Vec<ID>>,
        #[graphql(default_with = "AggregationPeriod::Total")] aggregation_period: AggregationPeriod,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<ActivityNode>> {
        let provider = pick_connection(ctx, connection_id.as_ref(), "activity", |c| c.activity)?;
        let args = PageArgs { first, after, last, before };
        let Some(users) = user_remote_ids(ctx, user_ids, provider.connection_id()).await? else {
            return Ok(empty());
        };
        Ok(activity_list(ctx, provider, start_time, end_time, users, aggregation_period, args, None).await?)
    }

    /// Conversation behaviour per user over `[startTime, endTime)`.
    async fn interactions(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        start_time: DateTime<Utc>,
        end_time: DateTime<Utc>,
        #[graphql(desc = "Only these people (`User.id`).")] user_ids: Option<Vec<ID>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<InteractionNode>> {
        let provider = pick_connection(ctx, connection_id.as_ref(), "interactions", |c| c.interactions)?;
        let Some(users) = user_remote_ids(ctx, user_ids, provider.connection_id()).await? else {
            return Ok(empty());
        };
        let args = PageArgs { first, after, last, before };
        Ok(interactions_list(ctx, provider, start_time, end_time, users, args, None).await?)
    }

    /// Scored reviews of calls.
    async fn scores(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        filter: Option<ScoreFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<ScoreNode>> {
        let provider = pick_connection(ctx, connection_id.as_ref(), "scores", |c| c.scores)?;
        Ok(scores_list(ctx, provider, filter.unwrap_or_default(), PageArgs { first, after, last, before }).await?)
    }

    /// Scorecard templates.
    async fn scorecards(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<ScorecardNode>> {
        let provider = pick_connection(ctx, connection_id.as_ref(), "scorecards", |c| c.scorecards)?;
        Ok(scorecards_list(ctx, provider, PageArgs { first, after, last, before }).await?)
    }

    /// Coaching metrics of a manager's direct reports over `[startTime, endTime)`, from
    /// every connection with coaching where the manager has an account (Gong).
    async fn coaching(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The manager (`User.id`).")] manager_id: ID,
        start_time: DateTime<Utc>,
        end_time: DateTime<Utc>,
    ) -> Result<Vec<Coaching>> {
        if start_time >= end_time {
            return Err(AppError::bad_input("`startTime` must be before `endTime`").into());
        }
        let Some(manager) = people::person_by_id(ctx, &manager_id).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for account in manager.accounts() {
            let Ok(p) = provider(ctx, &account.connection) else { continue };
            if !p.capabilities().coaching {
                continue;
            }
            let query =
                CoachingQuery { manager_remote_id: account.user.remote_id.clone(), from: start_time, to: end_time };
            match p.coaching(&query).await {
                Ok(list) => out.extend(list.into_iter().map(|c| Coaching::from_domain(&account.connection, &query, c))),
                Err(e) if manager.accounts().len() == 1 => return Err(AppError::from(e).into()),
                Err(e) => report(ctx, e),
            }
        }
        Ok(out)
    }

    /// Teams (ExecVision).
    async fn teams(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<coaching::TeamNode>> {
        let p = pick_connection(ctx, connection_id.as_ref(), "teams", |c| c.teams)?;
        Ok(coaching::teams(ctx, p, page_args!(first, after, last, before)).await?)
    }

    /// Departments (ExecVision).
    async fn departments(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<coaching::DepartmentNode>> {
        let p = pick_connection(ctx, connection_id.as_ref(), "departments", |c| c.teams)?;
        Ok(coaching::departments(ctx, p, page_args!(first, after, last, before)).await?)
    }

    /// Topic definitions (ExecVision).
    async fn topics(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<coaching::TopicNode>> {
        let p = pick_connection(ctx, connection_id.as_ref(), "topics", |c| c.topics)?;
        Ok(coaching::topics(ctx, p, page_args!(first, after, last, before)).await?)
    }

    /// Topics matched in calls' transcripts (ExecVision), for calls modified since
    /// `modifiedSince`; with `windowLength` (seconds) and `minimumMatches`, only topics
    /// matched at least that often within such a window.
    async fn topic_matches(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        modified_since: Option<DateTime<Utc>>,
        window_length: Option<u32>,
        minimum_matches: Option<u32>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<coaching::CallTopicMatchesNode>> {
        let p = pick_connection(ctx, connection_id.as_ref(), "topic matches", |c| c.topics)?;
        let window = match (window_length, minimum_matches) {
            (Some(w), Some(m)) => Some((w, m)),
            (None, None) => None,
            _ => return Err(AppError::bad_input("give `windowLength` and `minimumMatches` together").into()),
        };
        let query = TopicMatchQuery { since: modified_since, window };
        Ok(coaching::topic_matches(ctx, p, query, page_args!(first, after, last, before)).await?)
    }

    /// Listens to call recordings modified since `modifiedSince` (ExecVision; computed nightly).
    async fn listens(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        modified_since: Option<DateTime<Utc>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<coaching::ListenNode>> {
        let p = pick_connection(ctx, connection_id.as_ref(), "listens", |c| c.listens)?;
        Ok(coaching::listens(ctx, p, modified_since, page_args!(first, after, last, before)).await?)
    }

    /// Comments and highlights on calls since `modifiedSince` (ExecVision).
    async fn feedback(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        modified_since: Option<DateTime<Utc>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<coaching::FeedbackNode>> {
        let p = pick_connection(ctx, connection_id.as_ref(), "feedback", |c| c.feedback)?;
        Ok(coaching::feedback(ctx, p, modified_since, page_args!(first, after, last, before)).await?)
    }

    /// Calls shared since `modifiedSince`, internally and externally (ExecVision).
    async fn shares(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        modified_since: Option<DateTime<Utc>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<coaching::ShareNode>> {
        let p = pick_connection(ctx, connection_id.as_ref(), "shares", |c| c.shares)?;
        Ok(coaching::shares(ctx, p, modified_since, page_args!(first, after, last, before)).await?)
    }

    /// KPI observations modified since `modifiedSince`, with their definitions (ExecVision).
    async fn kpis(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        modified_since: Option<DateTime<Utc>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<coaching::KpiNode>> {
        let p = pick_connection(ctx, connection_id.as_ref(), "kpis", |c| c.kpis)?;
        Ok(coaching::kpis(ctx, p, modified_since, page_args!(first, after, last, before)).await?)
    }

    /// Coaching plans modified since `modifiedSince`, with their meetings (ExecVision).
    async fn coaching_plans(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        modified_since: Option<DateTime<Utc>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<coaching::CoachingPlanNode>> {
        let p = pick_connection(ctx, connection_id.as_ref(), "coaching plans", |c| c.coaching_plans)?;
        Ok(coaching::coaching_plans(ctx, p, modified_since, page_args!(first, after, last, before)).await?)
    }

    /// Coaching meetings modified since `modifiedSince` (ExecVision).
    async fn coaching_meetings(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        modified_since: Option<DateTime<Utc>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<coaching::MeetingNode>> {
        let p = pick_connection(ctx, connection_id.as_ref(), "coaching meetings", |c| c.coaching_plans)?;
        Ok(coaching::meetings(ctx, p, modified_since, page_args!(first, after, last, before)).await?)
    }

    /// Any object by its global id (every type implementing `Node`).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        node_by_id(ctx, &id).await
    }

    /// What each provider in this build fills: lists, `Call` and `User` fields, how
    /// each call filter is applied and how calls are put in order (the README's
    /// coverage tables are generated from the same source).
    async fn providers(&self) -> Vec<ProviderCoverage> {
        crate::providers::coverage::all().into_iter().filter_map(|c| ProviderCoverage::of(c.provider)).collect()
    }

    /// Federation: a `User` by `id` (the person's id or any of their accounts' ids).
    /// A missing or failing one is `null` in its slot with a coded error at
    /// `["_entities", i]`. The `User` entities of one request are a page of people:
    /// their per-person lists read each provider once for all of them.
    #[graphql(entity)]
    async fn find_user_by_id(&self, ctx: &Context<'_>, id: ID) -> Option<Entity<UserNode>> {
        entities::resolve(ctx, "User", "id", id.as_str(), user_entity(ctx, user_by_id(ctx, &id))).await
    }

    /// Federation: a `User` by `email` (any of the person's addresses, any case).
    #[graphql(entity)]
    async fn find_user_by_email(&self, ctx: &Context<'_>, email: String) -> Option<Entity<UserNode>> {
        entities::resolve(ctx, "User", "email", &email, user_entity(ctx, user_by_email(ctx, &email))).await
    }

    /// Federation: a `Call` by `id` (batched: one provider request per connection
    /// for all the representations of a request, through the calls DataLoader).
    #[graphql(entity)]
    async fn find_call_by_id(&self, ctx: &Context<'_>, id: ID) -> Option<Entity<CallNode>> {
        entities::resolve(ctx, "Call", "id", id.as_str(), call_by_id(ctx, &id)).await
    }
}
