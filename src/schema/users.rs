//! `User`: a person's account at a provider.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, ID, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    ConnectionNode,
    calls::{CallFilter, calls_list},
    coaching::{CoachingPlanNode, Src, plain_list},
    connection::{List, PageArgs},
    connection_node,
    id::{self, Kind},
    loaders,
    stats::{ActivityNode, InteractionNode, activity_list, interactions_list},
};
use crate::{
    domain::{AggregationPeriod, User},
    error::{AppError, AppResult},
    loaders::load_remote,
    providers::ProviderKind,
    providers::{Provider, SinceQuery, all_pages},
};

/// A person's account at one provider connection.
#[derive(Clone, Debug)]
pub struct UserNode {
    pub(crate) connection: Arc<str>,
    pub(crate) provider: ProviderKind,
    pub(crate) user: Arc<User>,
}

/// One provider account behind a `User`.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct ProviderIdentity {
    /// The connection the account belongs to.
    pub connection_id: ID,
    /// The provider.
    pub provider: ProviderKind,
    /// The provider's own id of the account.
    pub remote_id: String,
}

#[ComplexObject]
impl ProviderIdentity {
    /// The connection.
    async fn connection(&self, ctx: &Context<'_>) -> Option<ConnectionNode> {
        connection_node(ctx, &self.connection_id)
    }
}

/// Finds a user by email (or alias, case-insensitive) in one connection's users.
pub(crate) async fn find_by_email(provider: &Arc<dyn Provider>, email: &str) -> AppResult<Option<User>> {
    let mut token = None;
    loop {
        let page = provider.list_users(token).await?;
        if let Some(u) = page.items.into_iter().find(|u| u.has_email(email)) {
            return Ok(Some(u));
        }
        match page.next {
            Some(next) => token = Some(next),
            None => return Ok(None),
        }
    }
}

impl UserNode {
    /// The user of `connection` with this email or alias, if any.
    pub(crate) async fn by_email(ctx: &Context<'_>, connection: &Arc<str>, email: &str) -> Result<Option<Self>> {
        let provider = super::provider(ctx, connection)?;
        let found = find_by_email(provider, email).await?;
        Ok(found.map(|u| Self::new(connection.clone(), provider.kind(), Arc::new(u))))
    }

    pub(crate) fn new(connection: Arc<str>, provider: ProviderKind, user: Arc<User>) -> Self {
        Self { connection, provider, user }
    }

    /// Loads a user of a connection through the request's DataLoader.
    pub(crate) async fn load(ctx: &Context<'_>, connection: &Arc<str>, remote_id: &str) -> Result<Option<Self>> {
        let user = load_remote(&loaders(ctx)?.users, connection, remote_id).await.map_err(AppError::from)?;
        let provider = super::provider(ctx, connection)?.kind();
        Ok(user.map(|u| Self::new(connection.clone(), provider, u)))
    }
}

#[Object(name = "User")]
impl UserNode {
    /// Globally unique, stable id (names the connection and the provider's id).
    pub(crate) async fn id(&self) -> ID {
        id::encode(Kind::User, &self.connection, &self.user.remote_id)
    }

    /// The provider's own id of this user.
    async fn remote_id(&self) -> &str {
        &self.user.remote_id
    }

    /// The connection this account belongs to.
    async fn connection(&self, ctx: &Context<'_>) -> Option<ConnectionNode> {
        connection_node(ctx, &self.connection)
    }

    /// The provider of this account.
    async fn provider(&self) -> ProviderKind {
        self.provider
    }

    /// Primary email address, as the provider has it (case and address may differ
    /// between providers for one person). Filled by: Gong, ExecVision, Salesloft.
    async fn email(&self) -> Option<&str> {
        self.user.email.as_deref()
    }

    /// Other addresses of the same person (Gong `emailAliases`).
    async fn email_aliases(&self) -> &[String] {
        &self.user.email_aliases
    }

    /// Full name.
    async fn name(&self) -> Option<String> {
        self.user.name()
    }

    /// Given name.
    async fn first_name(&self) -> Option<&str> {
        self.user.first_name.as_deref()
    }

    /// Family name.
    async fn last_name(&self) -> Option<&str> {
        self.user.last_name.as_deref()
    }

    /// Job title.
    async fn title(&self) -> Option<&str> {
        self.user.title.as_deref()
    }

    /// Phone number.
    async fn phone(&self) -> Option<&str> {
        self.user.phone.as_deref()
    }

    /// Whether the account is active at the provider.
    async fn active(&self) -> Option<bool> {
        self.user.active
    }

    /// When the account was created at the provider.
    async fn created_at(&self) -> Option<DateTime<Utc>> {
        self.user.created_at
    }

    /// Team name, where the provider has teams (ExecVision).
    async fn team(&self) -> Option<&str> {
        self.user.team.as_deref()
    }

    /// Department name, where the provider has departments (ExecVision).
    async fn department(&self) -> Option<&str> {
        self.user.department.as_deref()
    }

    /// Ids of this user in other systems, e.g. the dialer or CRM (ExecVision `systemIds`).
    async fn system_ids(&self) -> &[String] {
        &self.user.system_ids
    }

    /// The user's manager at the same provider. Filled by: Gong.
    async fn manager(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        match &self.user.manager_remote_id {
            Some(m) => UserNode::load(ctx, &self.connection, m).await,
            None => Ok(None),
        }
    }

    /// The provider accounts behind this user.
    async fn identities(&self) -> Vec<ProviderIdentity> {
        vec![ProviderIdentity {
            connection_id: ID(self.connection.to_string()),
            provider: self.provider,
            remote_id: self.user.remote_id.clone(),
        }]
    }

    /// Calls this user hosted, in provider order (oldest first for Gong).
    async fn calls(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrow the list; `hostIds` is set to this user.")] filter: Option<CallFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<super::CallNode>> {
        let provider = super::provider(ctx, &self.connection)?;
        let mut filter = filter.unwrap_or_default();
        filter.host_ids = Some(vec![id::encode(Kind::User, &self.connection, &self.user.remote_id)]);
        Ok(calls_list(ctx, provider, filter, PageArgs { first, after, last, before }).await?)
    }

    /// This user's platform activity over `[startTime, endTime)`.
    async fn activity(
        &self,
        ctx: &Context<'_>,
        start_time: DateTime<Utc>,
        end_time: DateTime<Utc>,
        #[graphql(default_with = "AggregationPeriod::Total")] aggregation_period: AggregationPeriod,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<ActivityNode>> {
        let provider = super::provider(ctx, &self.connection)?;
        let users = vec![self.user.remote_id.clone()];
        let args = PageArgs { first, after, last, before };
        Ok(activity_list(ctx, provider, start_time, end_time, users, aggregation_period, args).await?)
    }

    /// This user's conversation behaviour over `[startTime, endTime)`.
    async fn interactions(
        &self,
        ctx: &Context<'_>,
        start_time: DateTime<Utc>,
        end_time: DateTime<Utc>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<InteractionNode>> {
        let provider = super::provider(ctx, &self.connection)?;
        let users = vec![self.user.remote_id.clone()];
        let args = PageArgs { first, after, last, before };
        Ok(interactions_list(ctx, provider, start_time, end_time, users, args).await?)
    }

    /// Coaching plans this user coaches or is coached in (ExecVision).
    async fn coaching_plans(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<CoachingPlanNode>> {
        let provider = super::provider(ctx, &self.connection)?;
        if !provider.capabilities().coaching_plans {
            return Err(AppError::Provider(provider.unsupported("coaching plans")).into());
        }
        let me = self.user.remote_id.clone();
        let src = Src { connection: self.connection.clone(), provider: self.provider };
        Ok(plain_list(
            ctx,
            provider,
            &format!("user_plans:{me}"),
            PageArgs { first, after, last, before },
            || {
                let (p, me) = (provider.clone(), me.clone());
                async move {
                    let all_time = SinceQuery::default();
                    let all = all_pages(|page| p.list_coaching_plans(&all_time, page)).await?;
                    let mine = |id: &Option<String>| id.as_deref() == Some(me.as_str());
                    Ok(all
                        .into_iter()
                        .filter(|plan| mine(&plan.coach_remote_id) || mine(&plan.recipient_remote_id))
                        .collect())
                }
            },
            |plan| CoachingPlanNode { src: src.clone(), p: Arc::new(plan) },
        )
        .await?)
    }

    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.user.raw).clone())
    }
}
