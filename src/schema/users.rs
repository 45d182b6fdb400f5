//! `User`: one person across connections, with the provider accounts behind them.

use std::{collections::HashMap, future::Future, sync::Arc};

use async_graphql::{Context, ID, Json, Object, OutputType, Result};
use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::Serialize;

use super::{
    ConnectionNode,
    calls::{CallFilter, per_connection, timeline},
    coaching::{CoachingPlanNode, Src},
    connection::{List, ListId, PageArgs, page_size, paginate_held},
    connection_node,
    id::{self, Kind},
    people, report, state,
    stats::{ActivityNode, InteractionNode, ScoreFilter, ScoreNode, activity_list, interactions_list, score_query},
};
use crate::{
    domain::{AggregationPeriod, Score, User},
    error::{AppError, AppResult},
    people::{Account, Person},
    providers::{
        Capabilities, Provider, ProviderError, ProviderKind, ScoreQuery, SinceQuery, SortDirection, StatsQuery,
        all_pages, paging,
    },
    timeline::Shared,
};

/// A person: one or more provider accounts joined by email.
#[derive(Clone, Debug)]
pub struct UserNode {
    pub(crate) person: Arc<Person>,
    /// The people of the page this person was listed in (this one included), when
    /// listed in a page of several: their per-person lists (`calls`, `activity`,
    /// `interactions`, `scores`) ask each provider once for the whole page, and each
    /// keeps its own records.
    pub(crate) page: Option<Arc<[Arc<Person>]>>,
}

/// One provider account behind a `User`.
#[derive(Debug, Clone)]
pub struct ProviderIdentity {
    account: Account,
}

#[Object]
impl ProviderIdentity {
    /// The account's own global id; `node`, `user(id:)` and `_entities` resolve it to
    /// the person.
    async fn account_id(&self) -> ID {
        id::encode(Kind::User, &self.account.connection, &self.account.user.remote_id)
    }
    /// The connection the account belongs to.
    async fn connection_id(&self) -> ID {
        ID(self.account.connection.to_string())
    }
    /// The connection.
    async fn connection(&self, ctx: &Context<'_>) -> Option<ConnectionNode> {
        connection_node(ctx, &self.account.connection)
    }
    /// The provider.
    async fn provider(&self) -> ProviderKind {
        self.account.provider
    }
    /// The provider's own id of the account.
    async fn remote_id(&self) -> &str {
        &self.account.user.remote_id
    }
    /// The account's address at the provider.
    async fn email(&self) -> Option<&str> {
        self.account.user.email.as_deref()
    }
    /// The provider's own record of the account, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.account.user.raw).clone())
    }
}

/// Finds a user by email (or alias, case-insensitive) in one connection's users.
pub(crate) async fn find_by_email(provider: &Arc<dyn Provider>, email: &str) -> AppResult<Option<User>> {
    let mut walk = paging::Walk::new(provider.kind(), provider.connection_id(), "users");
    let mut token = None;
    loop {
        let mut page = provider.list_users(token).await?;
        let step = walk.step_records(&mut page.items, page.next.as_deref());
        if let Some(u) = page.items.into_iter().find(|u| u.has_email(email)) {
            return Ok(Some(u));
        }
        match step {
            Ok(true) => token = page.next,
            Ok(false) => return Ok(None),
            Err(e) => {
                paging::ended(e);
                return Ok(None);
            }
        }
    }
}

impl UserNode {
    pub(crate) fn new(person: Arc<Person>) -> Self {
        Self { person, page: None }
    }

    /// Tells every person of `list` the page they are listed in.
    pub(crate) fn with_page(mut list: List<UserNode>) -> List<UserNode> {
        if list.edges.len() > 1 {
            let page: Arc<[Arc<Person>]> = list.edges.iter().map(|e| e.node.person.clone()).collect();
            for edge in &mut list.edges {
                edge.node.page = Some(page.clone());
            }
        }
        list
    }

    /// The accounts at `connection` of the whole page this person was listed in
    /// (sorted, so every person of the page asks the provider the same), when listed
    /// in a page of several people.
    fn page_ids(&self, connection: &str) -> Option<Vec<String>> {
        self.page.as_ref().map(|page| super::people::remote_ids_at(page, connection))
    }

    /// The person of account `remote_id` at `connection`.
    pub(crate) async fn load(ctx: &Context<'_>, connection: &Arc<str>, remote_id: &str) -> Result<Option<Self>> {
        Ok(people::person(ctx, connection, remote_id).await?.map(Self::new))
    }

    /// The person a provider names by address in `connection`'s records.
    pub(crate) async fn by_email(ctx: &Context<'_>, connection: &Arc<str>, email: &str) -> Result<Option<Self>> {
        Ok(people::person_by_email_at(ctx, connection, email).await?.map(Self::new))
    }

    /// The person's id (their anchor account's).
    pub(crate) fn gid(&self) -> ID {
        let a = self.person.anchor();
        id::encode(Kind::User, &a.connection, &a.user.remote_id)
    }

    fn user(&self) -> &User {
        &self.person.anchor().user
    }

    /// The readable connections of this person's accounts that `able` to serve, each once.
    fn connections<'a>(
        &self,
        ctx: &Context<'a>,
        able: fn(&Capabilities) -> bool,
    ) -> Vec<(&'a Arc<dyn Provider>, Vec<String>)> {
        let mut out: Vec<(&Arc<dyn Provider>, Vec<String>)> = Vec::new();
        for a in self.person.accounts() {
            let Ok(p) = super::provider(ctx, &a.connection) else { continue };
            if !able(&p.capabilities()) {
                continue;
            }
            match out.iter_mut().find(|(q, _)| q.connection_id() == p.connection_id()) {
                Some((_, ids)) => ids.push(a.user.remote_id.clone()),
                None => out.push((p, vec![a.user.remote_id.clone()])),
            }
        }
        out
    }
}

/// A Relay connection over the records several connections return whole (a person's
/// activity, scores, plans): each connection's records in turn. A failing connection
/// is reported as an error and its records are missing; the list's cursors name the
/// connections that answered, so a cursor is not reused across a change of them.
pub(crate) async fn gather<R, T, Fut>(
    ctx: &Context<'_>,
    what: &str,
    key: &impl Serialize,
    args: PageArgs,
    parts: Vec<Fut>,
    map: impl Fn(R) -> T,
) -> AppResult<List<T>>
where
    R: Clone,
    T: OutputType,
    Fut: Future<Output = Result<Vec<R>, ProviderError>>,
{
    let st = state(ctx);
    page_size(st.max_page_size, &args)?;
    let mut items = Vec::new();
    let mut failed = Vec::new();
    for result in join_all(parts).await {
        match result {
            Ok(list) => items.extend(list),
            Err(e) => {
                failed.push(e.connection.clone());
                report(ctx, e);
            }
        }
    }
    let list = ListId::new(&Arc::from("*"), what, &(key, &failed));
    let total = if failed.is_empty() { Some(items.len() as u64) } else { None };
    paginate_held(&st.cursors, st.max_page_size, &list, args, items, total, map).await
}

#[Object(name = "User")]
impl UserNode {
    /// Globally unique, stable id: the id of the person's account at the first
    /// connection (in configuration order) that has them. Every account id of the
    /// person (`identities { accountId }`) resolves to the person too.
    pub(crate) async fn id(&self) -> ID {
        self.gid()
    }

    /// The provider's own id of the account `id` names (see `identities` for all).
    async fn remote_id(&self) -> &str {
        &self.user().remote_id
    }

    /// The connection of the account `id` names.
    async fn connection(&self, ctx: &Context<'_>) -> Option<ConnectionNode> {
        connection_node(ctx, &self.person.anchor().connection)
    }

    /// The provider of the account `id` names.
    async fn provider(&self) -> ProviderKind {
        self.person.anchor().provider
    }

    /// Primary email address (of the first account that has one; case and address may
    /// differ between providers for one person). Filled by: Gong, ExecVision, Salesloft.
    async fn email(&self) -> Option<&str> {
        self.person.first(|u| u.email.as_deref())
    }

    /// The person's other addresses: Gong `emailAliases` and the addresses their other
    /// accounts use.
    async fn email_aliases(&self) -> Vec<String> {
        let primary = self.person.first(|u| u.email.as_deref()).map(crate::people::normalize);
        self.person.emails().into_iter().filter(|e| Some(crate::people::normalize(e)) != primary).collect()
    }

    /// Full name. Filled by: Gong, ExecVision.
    async fn name(&self) -> Option<String> {
        self.person.accounts().iter().find_map(|a| a.user.name())
    }

    /// Given name. Filled by: Gong, ExecVision.
    async fn first_name(&self) -> Option<&str> {
        self.person.first(|u| u.first_name.as_deref())
    }

    /// Family name. Filled by: Gong, ExecVision.
    async fn last_name(&self) -> Option<&str> {
        self.person.first(|u| u.last_name.as_deref())
    }

    /// Job title. Filled by: Gong.
    async fn title(&self) -> Option<&str> {
        self.person.first(|u| u.title.as_deref())
    }

    /// Phone number. Filled by: Gong.
    async fn phone(&self) -> Option<&str> {
        self.person.first(|u| u.phone.as_deref())
    }

    /// Whether any of the person's accounts is active. Filled by: Gong, ExecVision
    /// (which lists active users only).
    async fn active(&self) -> Option<bool> {
        let flags: Vec<bool> = self.person.accounts().iter().filter_map(|a| a.user.active).collect();
        (!flags.is_empty()).then(|| flags.contains(&true))
    }

    /// When the person's first account was created at its provider. Filled by: Gong.
    async fn created_at(&self) -> Option<DateTime<Utc>> {
        self.person.accounts().iter().filter_map(|a| a.user.created_at).min()
    }

    /// Team name. Filled by: ExecVision.
    async fn team(&self) -> Option<&str> {
        self.person.first(|u| u.team.as_deref())
    }

    /// Department name. Filled by: ExecVision.
    async fn department(&self) -> Option<&str> {
        self.person.first(|u| u.department.as_deref())
    }

    /// Ids of this person in other systems, e.g. the dialer or CRM (ExecVision `systemIds`).
    async fn system_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for a in self.person.accounts() {
            for s in &a.user.system_ids {
                if !ids.contains(s) {
                    ids.push(s.clone());
                }
            }
        }
        ids
    }

    /// The person's manager (from the first account whose provider names one). Filled
    /// by: Gong.
    async fn manager(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        for a in self.person.accounts() {
            if let Some(m) = &a.user.manager_remote_id {
                return UserNode::load(ctx, &a.connection, m).await;
            }
        }
        Ok(None)
    }

    /// The provider accounts behind this person (joined by email and alias, any
    /// case), the account `id` names first. A connection whose users cannot be read is
    /// reported as an error, and its accounts are missing.
    async fn identities(&self, ctx: &Context<'_>) -> Result<Vec<ProviderIdentity>> {
        people::report_missing(ctx).await?;
        Ok(self.person.accounts().iter().map(|a| ProviderIdentity { account: a.clone() }).collect())
    }

    /// Calls this person hosted, at every connection with calls, in one timeline by
    /// start time (newest first unless `order: ASC`). Filled by: Gong, ExecVision.
    async fn calls(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrow the list (the host fields are this person).")] filter: Option<CallFilter>,
        #[graphql(desc = "By start time; newest first by default.")] order: Option<SortDirection>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<super::CallNode>> {
        let mut filter = filter.unwrap_or_default();
        if filter.remote_query.is_some() {
            return Err(AppError::bad_input("`remoteQuery` is provider-specific: use `calls(connectionId:)`").into());
        }
        filter.host_ids = None;
        filter.host_emails = None;
        filter.check()?;
        let providers: Vec<Arc<dyn Provider>> =
            self.connections(ctx, |c| c.calls).into_iter().map(|(p, _)| p.clone()).collect();
        let hosts = Some(vec![self.person.clone()]);
        let parts = per_connection(&providers, &filter, &hosts);
        let key = ("user_calls", self.gid(), parts.iter().map(|(_, q)| q.clone()).collect::<Vec<_>>());
        // Listed in a page of people: a first page reads the calls of all of the
        // page's hosts at once (see `Shared`), where the provider filters by host.
        let args = PageArgs { first, after, last, before };
        let want = page_size(state(ctx).max_page_size, &args).map_or(0, |(n, _)| n);
        let shared: HashMap<Arc<str>, Shared> = parts
            .iter()
            .filter(|(p, _)| p.capabilities().native_call_filters.hosts)
            .filter_map(|(p, _)| {
                Some((p.connection_id().clone(), Shared::new(self.page_ids(p.connection_id())?, want)))
            })
            .collect();
        Ok(timeline(ctx, parts, order.unwrap_or_default(), &key, args, shared).await?)
    }

    /// This person's platform activity over `[startTime, endTime)`, from every
    /// connection with activity (one record per account and period). Filled by: Gong.
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
        let args = PageArgs { first, after, last, before };
        let connections = self.connections(ctx, |c| c.activity);
        if let [(p, ids)] = connections.as_slice() {
            let shared = self.page_ids(p.connection_id());
            return Ok(
                activity_list(ctx, p, start_time, end_time, ids.clone(), aggregation_period, args, shared).await?
            );
        }
        super::stats::check_range(start_time, end_time)?;
        let parts = connections.iter().map(|(p, ids)| {
            let read = self.page_ids(p.connection_id()).unwrap_or_else(|| ids.clone());
            let query =
                StatsQuery { from: start_time, to: end_time, user_remote_ids: read, period: aggregation_period };
            let p = (*p).clone();
            async move {
                let all = p.activity(&query).await?;
                Ok(all
                    .into_iter()
                    .filter(|a| ids.contains(&a.user.remote_id))
                    .map(|a| (p.clone(), a))
                    .collect::<Vec<_>>())
            }
        });
        let key = (self.gid(), start_time, end_time, aggregation_period);
        Ok(gather(ctx, "user_activity", &key, args, parts.collect(), |(p, a)| ActivityNode::new(&p, a)).await?)
    }

    /// This person's conversation behaviour over `[startTime, endTime)`, from every
    /// connection with interaction stats. Filled by: Gong.
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
        let args = PageArgs { first, after, last, before };
        let connections = self.connections(ctx, |c| c.interactions);
        if let [(p, ids)] = connections.as_slice() {
            let shared = self.page_ids(p.connection_id());
            return Ok(interactions_list(ctx, p, start_time, end_time, ids.clone(), args, shared).await?);
        }
        super::stats::check_range(start_time, end_time)?;
        let parts = connections.iter().map(|(p, ids)| {
            let read = self.page_ids(p.connection_id()).unwrap_or_else(|| ids.clone());
            let query =
                StatsQuery { from: start_time, to: end_time, user_remote_ids: read, period: AggregationPeriod::Total };
            let p = (*p).clone();
            async move {
                let all = p.interactions(&query).await?;
                Ok(all
                    .into_iter()
                    .filter(|i| ids.contains(&i.user.remote_id))
                    .map(|i| (p.clone(), i))
                    .collect::<Vec<_>>())
            }
        });
        let key = (self.gid(), start_time, end_time);
        Ok(gather(ctx, "user_interactions", &key, args, parts.collect(), |(p, i)| InteractionNode::new(&p, i)).await?)
    }

    /// Scored reviews of this person's calls, from every connection with scores
    /// (`revieweeIds` is this person). Filled by: Gong, ExecVision.
    async fn scores(
        &self,
        ctx: &Context<'_>,
        filter: Option<ScoreFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<ScoreNode>> {
        let args = PageArgs { first, after, last, before };
        let mut filter = filter.unwrap_or_default();
        filter.reviewee_ids = None;
        let connections = self.connections(ctx, |c| c.scores);
        let mut queries = Vec::new();
        for (p, ids) in &connections {
            if let Some(mut query) = score_query(ctx, p, &filter).await? {
                query.reviewed_user_remote_ids = ids.clone();
                queries.push(((*p).clone(), query));
            }
        }
        page_size(state(ctx).max_page_size, &args)?;
        let parts = queries.iter().map(|(p, q)| {
            let (p, own) = (p.clone(), q.clone());
            // Listed in a page of people: ask for the reviews of the whole page (the
            // same query for each of them, so one read), keep this person's.
            let shared = self.page_ids(p.connection_id());
            let read = match &shared {
                Some(ids) => ScoreQuery { reviewed_user_remote_ids: ids.clone(), ..own.clone() },
                None => own.clone(),
            };
            // A provider that names reviewees by address (ExecVision): this person's
            // addresses there.
            let emails: Vec<String> = self
                .person
                .at(p.connection_id())
                .filter_map(|a| a.user.email.as_ref().map(|e| e.to_ascii_lowercase()))
                .collect();
            async move {
                let all = all_pages(p.as_ref(), "scores", |page| p.list_scores(&read, page)).await?;
                let mine = |s: &Score| match (&s.reviewed_user_remote_id, &s.reviewed_user_email) {
                    (Some(id), _) => own.reviewed_user_remote_ids.contains(id),
                    (None, Some(e)) => emails.contains(&e.to_ascii_lowercase()),
                    (None, None) => false,
                };
                Ok(all.into_iter().filter(|s| shared.is_none() || mine(s)).map(|s| (p.clone(), s)).collect::<Vec<_>>())
            }
        });
        let key = (self.gid(), queries.iter().map(|(_, q)| q.clone()).collect::<Vec<_>>());
        Ok(gather(ctx, "user_scores", &key, args, parts.collect(), |(p, s)| ScoreNode::new(&p, s)).await?)
    }

    /// Coaching plans this person coaches or is coached in, from every connection
    /// with coaching plans. Filled by: ExecVision.
    async fn coaching_plans(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<CoachingPlanNode>> {
        let args = PageArgs { first, after, last, before };
        let parts = self.connections(ctx, |c| c.coaching_plans).into_iter().map(|(p, ids)| {
            let p = p.clone();
            async move {
                let all_time = SinceQuery::default();
                let all =
                    all_pages(p.as_ref(), "coaching plans", |page| p.list_coaching_plans(&all_time, page)).await?;
                let mine = |id: &Option<String>| id.as_ref().is_some_and(|id| ids.contains(id));
                Ok(all
                    .into_iter()
                    .filter(|plan| mine(&plan.coach_remote_id) || mine(&plan.recipient_remote_id))
                    .map(|plan| (Src::of(&p), plan))
                    .collect::<Vec<_>>())
            }
        });
        let key = self.gid();
        Ok(gather(ctx, "user_plans", &key, args, parts.collect(), |(src, plan)| CoachingPlanNode {
            src,
            p: Arc::new(plan),
        })
        .await?)
    }

    /// The provider's own record of the account `id` names, unchanged (every
    /// account's record: `identities { remoteData }`).
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.user().raw).clone())
    }
}
