//! The query root and the federation entity resolvers.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::{
    ActivityNode, CallNode, ConnectionNode, InteractionNode, Node, ScoreNode, ScorecardNode, TranscriptNode, UserNode,
    calls::{CallFilter, calls_list},
    coaching::{self, page_args},
    connection::{List, ListId, PageArgs, paginate},
    id::{self, Kind},
    loaders, pick_connection, provider, state,
    stats::{Coaching, ScoreFilter, activity_list, interactions_list, scorecards_list, scores_list},
};
use crate::{
    domain::AggregationPeriod,
    error::{AppError, AppResult},
    loaders::load_remote,
    providers::{CoachingQuery, TopicMatchQuery},
};

/// The root of every query.
#[derive(Debug, Default)]
pub struct QueryRoot;

/// Remote ids of `ids` (global `User` ids), all of which must belong to `connection`.
fn user_remote_ids(ids: Option<Vec<ID>>, connection: &str) -> AppResult<Vec<String>> {
    ids.unwrap_or_default()
        .iter()
        .map(|i| {
            let g = id::decode_kind(i, Kind::User)?;
            if &*g.connection != connection {
                return Err(AppError::bad_input(format!("user '{}' is not of connection '{connection}'", i.as_str())));
            }
            Ok(g.remote_id)
        })
        .collect()
}

async fn user_by_email(ctx: &Context<'_>, email: &str) -> Result<Option<UserNode>> {
    let email = email.trim();
    if email.is_empty() || !email.contains('@') {
        return Err(AppError::bad_input(format!("'{email}' is not an email address")).into());
    }
    let mut failure = None;
    for p in super::readable(ctx).filter(|p| p.capabilities().users) {
        match super::users::find_by_email(p, email).await {
            Ok(Some(u)) => {
                return Ok(Some(UserNode::new(p.connection_id().clone(), p.kind(), Arc::new(u))));
            }
            Ok(None) => {}
            Err(e) => failure = Some(e),
        }
    }
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(None),
    }
}

async fn user_by_id(ctx: &Context<'_>, id: &ID) -> Result<Option<UserNode>> {
    let g = id::decode_kind(id, Kind::User)?;
    provider(ctx, &g.connection)?;
    UserNode::load(ctx, &g.connection, &g.remote_id).await
}

async fn call_by_id(ctx: &Context<'_>, id: &ID) -> Result<Option<CallNode>> {
    let g = id::decode_kind(id, Kind::Call)?;
    provider(ctx, &g.connection)?;
    CallNode::load(ctx, &g.connection, &g.remote_id).await
}

#[Object(name = "Query")]
impl QueryRoot {
    /// The provider connections the caller may read.
    async fn connections(&self, ctx: &Context<'_>) -> Vec<ConnectionNode> {
        super::readable_connections(ctx)
    }

    /// Users of a connection (the only user-providing connection when `connectionId`
    /// is left out), in provider order.
    async fn users(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<UserNode>> {
        let provider = pick_connection(ctx, connection_id.as_ref(), "users", |c| c.users)?;
        let st = state(ctx);
        let conn = provider.connection_id().clone();
        let kind = provider.kind();
        let list = ListId::new(&conn, "users", &());
        Ok(paginate(
            &st.cursors,
            st.max_page_size,
            &list,
            PageArgs { first, after, last, before },
            |token| {
                let p = provider.clone();
                async move { p.list_users(token).await }
            },
            |u| UserNode::new(conn.clone(), kind, Arc::new(u)),
        )
        .await?)
    }

    /// One user, by `id` or by `email` (address or alias, case-insensitive).
    async fn user(&self, ctx: &Context<'_>, id: Option<ID>, email: Option<String>) -> Result<Option<UserNode>> {
        match (id, email) {
            (Some(id), None) => user_by_id(ctx, &id).await,
            (None, Some(email)) => user_by_email(ctx, &email).await,
            _ => Err(AppError::bad_input("give exactly one of `id` or `email`").into()),
        }
    }

    /// Calls of a connection in provider order (Gong: oldest first).
    async fn calls(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        filter: Option<CallFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<CallNode>> {
        let provider = pick_connection(ctx, connection_id.as_ref(), "calls", |c| c.calls)?;
        Ok(calls_list(ctx, provider, filter.unwrap_or_default(), PageArgs { first, after, last, before }).await?)
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
        #[graphql(desc = "Only these users (`User.id`).")] user_ids: Option<Vec<ID>>,
        #[graphql(default_with = "AggregationPeriod::Total")] aggregation_period: AggregationPeriod,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<ActivityNode>> {
        let provider = pick_connection(ctx, connection_id.as_ref(), "activity", |c| c.activity)?;
        let users = user_remote_ids(user_ids, provider.connection_id())?;
        let args = PageArgs { first, after, last, before };
        Ok(activity_list(ctx, provider, start_time, end_time, users, aggregation_period, args).await?)
    }

    /// Conversation behaviour per user over `[startTime, endTime)`.
    async fn interactions(
        &self,
        ctx: &Context<'_>,
        connection_id: Option<ID>,
        start_time: DateTime<Utc>,
        end_time: DateTime<Utc>,
        #[graphql(desc = "Only these users (`User.id`).")] user_ids: Option<Vec<ID>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<InteractionNode>> {
        let provider = pick_connection(ctx, connection_id.as_ref(), "interactions", |c| c.interactions)?;
        let users = user_remote_ids(user_ids, provider.connection_id())?;
        Ok(interactions_list(ctx, provider, start_time, end_time, users, PageArgs { first, after, last, before })
            .await?)
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

    /// Coaching metrics of a manager's direct reports over `[startTime, endTime)` (Gong).
    async fn coaching(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The manager (`User.id`).")] manager_id: ID,
        start_time: DateTime<Utc>,
        end_time: DateTime<Utc>,
    ) -> Result<Vec<Coaching>> {
        let g = id::decode_kind(&manager_id, Kind::User)?;
        let provider = provider(ctx, &g.connection)?;
        if start_time >= end_time {
            return Err(AppError::bad_input("`startTime` must be before `endTime`").into());
        }
        let query = CoachingQuery { manager_remote_id: g.remote_id, from: start_time, to: end_time };
        let list = provider.coaching(&query).await.map_err(AppError::from)?;
        Ok(list.into_iter().map(|c| Coaching::from_domain(&g.connection, c)).collect())
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

    /// Any object by its global id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let g = id::decode(&id)?;
        let p = provider(ctx, &g.connection)?;
        let conn = g.connection.clone();
        Ok(match g.kind {
            Kind::User => UserNode::load(ctx, &conn, &g.remote_id).await?.map(Node::User),
            Kind::Call => CallNode::load(ctx, &conn, &g.remote_id).await?.map(Node::Call),
            Kind::Transcript => {
                load_remote(&loaders(ctx)?.transcripts, &conn, &g.remote_id).await.map_err(AppError::from)?.map(|t| {
                    Node::Transcript(TranscriptNode { connection: conn, provider: p.kind(), transcript: t, call: None })
                })
            }
            Kind::Scorecard => {
                let cards = p.scorecards().await.map_err(AppError::from)?;
                cards
                    .into_iter()
                    .find(|c| c.remote_id == g.remote_id)
                    .map(|s| Node::Scorecard(ScorecardNode { connection: conn, provider: p.kind(), s: Arc::new(s) }))
            }
            Kind::Activity | Kind::Interaction | Kind::Score => {
                return Err(AppError::Provider(p.unsupported("looking up this record by id; list it instead")).into());
            }
        })
    }

    /// Federation: a `User` by `id`.
    #[graphql(entity)]
    async fn find_user_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<UserNode>> {
        user_by_id(ctx, &id).await
    }

    /// Federation: a `User` by `email`.
    #[graphql(entity)]
    async fn find_user_by_email(&self, ctx: &Context<'_>, email: String) -> Result<Option<UserNode>> {
        user_by_email(ctx, &email).await
    }

    /// Federation: a `Call` by `id`.
    #[graphql(entity)]
    async fn find_call_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CallNode>> {
        call_by_id(ctx, &id).await
    }
}
