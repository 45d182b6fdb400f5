//! `Call`, its parts, and `Transcript`.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, ID, InputObject, Json, Object, Result, SimpleObject, connection::Edge};
use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::{Deserialize, Serialize};

use super::{
    ConnectionNode, ScoreNode, UserNode,
    chat::ChatActivityNode,
    connection::{List, ListId, ListInfo, PageArgs, page_size, paginate, paginate_held},
    connection_node,
    id::{self, Kind},
    loaders,
    people::{check_email, person_among, remote_ids_at},
    rank, report, state,
};
use crate::{
    domain::{self, Affiliation, Call, CallDirection, ChatActivityKind, Medium, Transcript},
    error::{AppError, AppResult},
    loaders::{CallKey, RemoteKey, load_for, load_with_siblings},
    people::Person,
    providers::{CallQuery, Provider, ProviderKind, SortDirection},
    timeline::{Cut, Shared, Source, StreamPos, call_hash, merge, start_of},
};

/// Narrows a calls list. Each part is applied by the provider where its API can
/// filter on it, and by convograph otherwise, with the same result either way (the
/// `providers` query says which, per provider).
#[derive(Debug, Clone, Default, InputObject, Serialize)]
pub struct CallFilter {
    /// Calls that started at or after this time.
    pub started_from: Option<DateTime<Utc>>,
    /// Calls that started before this time.
    pub started_before: Option<DateTime<Utc>>,
    /// Calls hosted by any of these people (`User.id`, or the id of any of their
    /// accounts): their accounts at every connection.
    pub host_ids: Option<Vec<ID>>,
    /// Calls hosted by the people with any of these addresses or aliases (any case).
    pub host_emails: Option<Vec<String>>,
    /// Calls in any of these directions.
    pub directions: Option<Vec<CallDirection>>,
    /// Calls carried over any of these media (audio, video, chat).
    pub media: Option<Vec<Medium>>,
    /// Calls on any of these platforms (as `Call.platform` reports them, any case).
    pub platforms: Option<Vec<String>>,
    /// Calls at least this long, in seconds.
    pub min_duration: Option<f64>,
    /// Calls at most this long, in seconds.
    pub max_duration: Option<f64>,
    /// Calls whose title contains this text (any case).
    pub title_contains: Option<String>,
    /// Calls in any of these languages (as `Call.language` reports them, any case).
    pub languages: Option<Vec<String>>,
    /// Provider-specific query options, validated and passed to the provider (only
    /// with `connectionId`, and only for providers that take them). Salesloft: the
    /// `GET /v2/conversations` filters with no unified meaning, named as Salesloft
    /// names them (`title`, `title[_starts_with]`, `created_at[gt|gte|lt|lte]`,
    /// `updated_at[…]`, `duration[…]` in milliseconds, `language_code`, `platform`,
    /// `media_type`, `owner_ids`, `user_guids`, `ids`, `account_ids`, `person_ids`,
    /// `is_api`, `sort_by`, `sort_direction`), or nested (`{created_at: {gte: "…"}}`).
    /// An unknown key or a wrong type is `BAD_USER_INPUT` naming the key.
    pub remote_query: Option<Json<serde_json::Map<String, serde_json::Value>>>,
}

impl CallFilter {
    /// Checks the filter's own consistency (before any provider is called).
    pub(crate) fn check(&self) -> AppResult<()> {
        if let (Some(a), Some(b)) = (self.started_from, self.started_before)
            && a >= b
        {
            return Err(AppError::bad_input("`startedFrom` must be before `startedBefore`"));
        }
        for (name, v) in [("minDuration", self.min_duration), ("maxDuration", self.max_duration)] {
            if v.is_some_and(|d| !d.is_finite() || d < 0.0) {
                return Err(AppError::bad_input(format!("`{name}` must be a non-negative number of seconds")));
            }
        }
        if let (Some(a), Some(b)) = (self.min_duration, self.max_duration)
            && a > b
        {
            return Err(AppError::bad_input("`minDuration` must not exceed `maxDuration`"));
        }
        for e in self.host_emails.iter().flatten() {
            check_email(e)?;
        }
        for i in self.host_ids.iter().flatten() {
            id::decode_kind(i, Kind::User)?;
        }
        Ok(())
    }

    fn names_hosts(&self) -> bool {
        self.host_ids.is_some() || self.host_emails.is_some()
    }

    /// The people the filter's host fields name (`None`: no host filter).
    pub(crate) async fn hosts(&self, ctx: &Context<'_>) -> AppResult<Option<Vec<Arc<Person>>>> {
        if !self.names_hosts() {
            return Ok(None);
        }
        let ids = self.host_ids.clone().unwrap_or_default();
        let emails = self.host_emails.clone().unwrap_or_default();
        Ok(Some(super::people::persons(ctx, &ids, &emails).await?))
    }

    /// The provider query for one connection, hosted by `hosts` there (`None`: any).
    pub(crate) fn to_query(&self, hosts: Option<Vec<String>>) -> CallQuery {
        CallQuery {
            from: self.started_from,
            to: self.started_before,
            host_remote_ids: hosts.unwrap_or_default(),
            directions: self.directions.clone().unwrap_or_default(),
            media: self.media.clone().unwrap_or_default(),
            platforms: self.platforms.clone().unwrap_or_default(),
            min_duration_secs: self.min_duration,
            max_duration_secs: self.max_duration,
            title_contains: self.title_contains.clone().filter(|t| !t.is_empty()),
            languages: self.languages.clone().unwrap_or_default(),
            remote_query: self.remote_query.as_ref().map(|j| j.0.clone()),
            order: None,
        }
    }
}

/// The query of each connection of `providers` that can hold calls for `filter`
/// (with `hosts` resolved: a connection where none of them has an account has none).
pub(crate) fn per_connection(
    providers: &[Arc<dyn Provider>],
    filter: &CallFilter,
    hosts: &Option<Vec<Arc<Person>>>,
) -> Vec<(Arc<dyn Provider>, CallQuery)> {
    providers
        .iter()
        .filter_map(|p| {
            let host_ids = match hosts {
                None => None,
                Some(persons) => {
                    let ids = remote_ids_at(persons, p.connection_id());
                    if ids.is_empty() {
                        return None;
                    }
                    Some(ids)
                }
            };
            Some((p.clone(), filter.to_query(host_ids)))
        })
        .collect()
}

/// A connection's calls in the provider's own order, as a Relay connection.
pub(crate) async fn calls_list(
    ctx: &Context<'_>,
    provider: &Arc<dyn Provider>,
    filter: CallFilter,
    args: PageArgs,
) -> AppResult<List<CallNode>> {
    let st = state(ctx);
    let conn = provider.connection_id().clone();
    filter.check()?;
    if filter.remote_query.is_some() && !provider.capabilities().native_call_filters.remote_query {
        return Err(AppError::bad_input(format!("connection '{conn}' ({}) takes no `remoteQuery`", provider.kind())));
    }
    page_size(st.max_page_size, &args)?;
    let hosts = filter.hosts(ctx).await?;
    let Some((_, query)) = per_connection(std::slice::from_ref(provider), &filter, &hosts).pop() else {
        // The hosts named have no account here: no calls.
        return Ok(List::with_additional_fields(false, false, ListInfo { total_count: Some(0) }));
    };
    let local = query.needs_local_filtering(&provider.capabilities().native_call_filters);
    let list = ListId::of(provider.as_ref(), "calls", &query);
    let kind = provider.kind();
    paginate(
        &st.cursors,
        st.max_page_size,
        &list,
        args,
        |token| {
            let (p, q) = (provider.clone(), query.clone());
            async move {
                // Whatever the provider could not filter is filtered here, by the
                // same rules (`CallQuery::matches`).
                let mut page = p.list_calls(&q, token).await?;
                if local {
                    page.items.retain(|c| q.matches(c));
                    page.total = None;
                }
                Ok(page)
            }
        },
        |c: Call| CallNode::new(conn.clone(), kind, Arc::new(c)),
    )
    .await
    .map(with_siblings)
}

/// Lets every call of a page know the page, so nested lookups batch per page.
pub(crate) fn with_siblings(mut list: List<CallNode>) -> List<CallNode> {
    let page: CallPage = list.edges.iter().map(|e| (e.node.connection.clone(), e.node.call.clone())).collect();
    for edge in &mut list.edges {
        edge.node.siblings = Some(page.clone());
    }
    list
}

/// The calls of one listed page, with their connections.
pub(crate) type CallPage = Arc<[(Arc<str>, Arc<Call>)]>;

/// The connection id of merged lists' cursors.
const MERGED: &str = "*";

/// A position in a merged calls timeline: every connection's position, and the edge's
/// own call (connection, start, id hash), which paging backward gives back first.
#[derive(Debug, Serialize, Deserialize)]
struct TimelineCursor {
    s: Vec<(Arc<str>, StreamPos)>,
    e: Arc<str>,
    t: DateTime<Utc>,
    i: String,
}

/// The calls of several connections (each with its query) as one timeline ordered by
/// start time, as a Relay connection. `key` identifies the list (its arguments).
/// `shared` names, by connection, reads shared with other timelines (used only for a
/// first page: a cursor's position is this timeline's own).
pub(crate) async fn timeline(
    ctx: &Context<'_>,
    parts: Vec<(Arc<dyn Provider>, CallQuery)>,
    order: SortDirection,
    key: &impl Serialize,
    args: PageArgs,
    shared: HashMap<Arc<str>, Shared>,
) -> AppResult<List<CallNode>> {
    let st = state(ctx);
    let (size, backward) = page_size(st.max_page_size, &args)?;
    if (args.after.is_some() && args.last.is_some()) || (args.before.is_some() && args.first.is_some()) {
        return Err(AppError::bad_input("page forward with `first`/`after`, backward with `last`/`before`"));
    }
    let list = ListId::new(&Arc::from(MERGED), "timeline", &(key, order));
    let cursor: Option<TimelineCursor> = match (&args.after, &args.before) {
        (Some(c), _) | (None, Some(c)) => Some(st.cursors.open(c, &list)?),
        (None, None) => None,
    };
    let mut parts = parts;
    parts.sort_by_key(|(p, _)| (rank(ctx, p.connection_id()), p.connection_id().clone()));
    let positions: Vec<StreamPos> = parts
        .iter()
        .map(|(p, _)| {
            let from_end = StreamPos { cut: Cut::All, hint: None };
            let Some(c) = &cursor else {
                return if backward { from_end } else { StreamPos::default() };
            };
            // A connection the cursor does not know (new, or newly readable) has all
            // its calls after the position, and before it when paging backward.
            let saved = c.s.iter().find(|(id, _)| id == p.connection_id()).map(|(_, pos)| pos.clone());
            if !backward {
                return saved.unwrap_or_default();
            }
            let mut pos = saved.unwrap_or(from_end);
            if c.e == *p.connection_id() {
                // Backward from an edge: its own call is not before it.
                pos.cut.untake_key(c.t, &c.i);
            }
            pos.hint = None;
            pos
        })
        .collect();
    let want_total = ctx.look_ahead().field("totalCount").exists();
    let first_page = cursor.is_none() && !backward;
    let mut shared = shared;
    let sources: Vec<Source> = parts
        .into_iter()
        .map(|(provider, query)| Source {
            rank: rank(ctx, provider.connection_id()),
            shared: shared.remove(provider.connection_id()).filter(|_| first_page),
            provider,
            query,
        })
        .collect();
    let totals = async {
        if !want_total {
            return None;
        }
        let totals = join_all(sources.iter().map(Source::total)).await;
        totals.into_iter().map(|t| t.ok().flatten()).sum::<Option<u64>>()
    };
    let (page, total) = futures::join!(merge(sources.clone(), positions, order, !backward, size), totals);
    for (i, e) in &page.failures {
        tracing::warn!(connection = %sources[*i].provider.connection_id(), error = %e, "a connection failed in a merged calls list");
        report(ctx, e.clone());
    }
    let total = if page.failures.is_empty() { total } else { None };
    let (has_prev, has_next) =
        if backward { (page.more, args.before.is_some()) } else { (args.after.is_some(), page.more) };
    let mut conn = List::with_additional_fields(has_prev, has_next, ListInfo { total_count: total });
    conn.edges.extend(page.calls.into_iter().map(|m| {
        let src = &sources[m.source];
        let pos = TimelineCursor {
            s: sources.iter().map(|s| s.provider.connection_id().clone()).zip(m.after).collect(),
            e: src.provider.connection_id().clone(),
            t: start_of(&m.call),
            i: call_hash(&m.call.remote_id),
        };
        let node = CallNode::new(src.provider.connection_id().clone(), src.provider.kind(), Arc::new(m.call));
        Edge::new(st.cursors.seal(&list, &pos), node)
    }));
    Ok(with_siblings(conn))
}

/// The calls list of every readable connection with calls (or of one, in its own
/// order or in `order`).
pub(crate) async fn calls_field(
    ctx: &Context<'_>,
    connection_id: Option<&ID>,
    filter: CallFilter,
    order: Option<SortDirection>,
    args: PageArgs,
) -> AppResult<List<CallNode>> {
    filter.check()?;
    let providers: Vec<Arc<dyn Provider>> = match connection_id {
        Some(id) => {
            let p = super::provider(ctx, id)?;
            if !p.capabilities().calls {
                return Err(AppError::Provider(p.unsupported("calls")));
            }
            if order.is_none() {
                return calls_list(ctx, p, filter, args).await;
            }
            if filter.remote_query.is_some() && !p.capabilities().native_call_filters.remote_query {
                let id = id.as_str();
                return Err(AppError::bad_input(format!("connection '{id}' ({}) takes no `remoteQuery`", p.kind())));
            }
            vec![p.clone()]
        }
        None => {
            if filter.remote_query.is_some() {
                return Err(AppError::bad_input("`remoteQuery` is provider-specific: give `connectionId` with it"));
            }
            super::readable(ctx).filter(|p| p.capabilities().calls).cloned().collect()
        }
    };
    page_size(state(ctx).max_page_size, &args)?;
    let hosts = filter.hosts(ctx).await?;
    let parts = per_connection(&providers, &filter, &hosts);
    let ids: Vec<&str> = providers.iter().map(|p| &**p.connection_id()).collect();
    let key = (ids, parts.iter().map(|(p, q)| (p.connection_id().clone(), q.clone())).collect::<Vec<_>>());
    timeline(ctx, parts, order.unwrap_or_default(), &key, args, HashMap::new()).await
}

/// A recorded call or meeting.
#[derive(Clone, Debug)]
pub struct CallNode {
    pub(crate) connection: Arc<str>,
    pub(crate) provider: ProviderKind,
    pub(crate) call: Arc<Call>,
    /// The calls of the page this call was listed in (with their connections), when
    /// it came from a list: nested lookups ask for the whole page at once.
    pub(crate) siblings: Option<CallPage>,
}

impl CallNode {
    pub(crate) fn new(connection: Arc<str>, provider: ProviderKind, call: Arc<Call>) -> Self {
        Self { connection, provider, call, siblings: None }
    }

    /// Keys of the page's calls, picked by `key_of` (which may give none for a call).
    fn sibling_keys(&self, key_of: impl for<'c> Fn(&'c Call) -> Vec<&'c str>) -> Vec<RemoteKey> {
        let Some(page) = &self.siblings else { return Vec::new() };
        page.iter()
            .flat_map(|(conn, call)| {
                key_of(call).into_iter().map(|id| RemoteKey { connection: conn.clone(), remote_id: id.to_owned() })
            })
            .collect()
    }

    /// Loads a call of a connection through the request's DataLoader.
    pub(crate) async fn load(ctx: &Context<'_>, connection: &Arc<str>, remote_id: &str) -> Result<Option<Self>> {
        let key = RemoteKey { connection: connection.clone(), remote_id: remote_id.to_owned() };
        let call = load_for(ctx, &loaders(ctx)?.calls, key, []).await.map_err(AppError::from)?;
        let provider = super::provider(ctx, connection)?.kind();
        Ok(call.map(|c| Self::new(connection.clone(), provider, c)))
    }
}

#[Object(name = "Call")]
impl CallNode {
    /// Globally unique, stable id (names the connection and the provider's id).
    pub(crate) async fn id(&self) -> ID {
        id::encode(Kind::Call, &self.connection, &self.call.remote_id)
    }

    /// The provider's own id of the call.
    async fn remote_id(&self) -> &str {
        &self.call.remote_id
    }

    /// The connection the call was read from.
    async fn connection(&self, ctx: &Context<'_>) -> Option<ConnectionNode> {
        connection_node(ctx, &self.connection)
    }

    /// The provider that recorded the call.
    async fn provider(&self) -> ProviderKind {
        self.provider
    }

    /// Title or meeting subject (Gong, ExecVision, Salesloft; none for Hubster chats).
    async fn title(&self) -> Option<&str> {
        self.call.title.as_deref()
    }

    /// Link to the call in the provider's app.
    async fn url(&self) -> Option<&str> {
        self.call.url.as_deref()
    }

    /// When the call was scheduled to start (Salesloft: the calendar event's start).
    async fn scheduled_at(&self) -> Option<DateTime<Utc>> {
        self.call.scheduled_at
    }

    /// When the recording started (Hubster: when the chat was opened).
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.call.started_at
    }

    /// Length in seconds (Salesloft reports milliseconds; none for Hubster chats).
    async fn duration(&self) -> Option<f64> {
        self.call.duration_secs
    }

    /// Inbound, outbound or conference (`UNKNOWN` for Salesloft and Hubster, which do not say).
    async fn direction(&self) -> CallDirection {
        self.call.direction
    }

    /// Whether anyone outside the company took part.
    async fn scope(&self) -> Affiliation {
        self.call.scope
    }

    /// Audio, video (Gong, ExecVision, Salesloft `media_type`) or chat (Hubster).
    async fn medium(&self) -> Option<Medium> {
        self.call.medium
    }

    /// The conferencing or telephony system (e.g. Zoom; Salesloft `platform` such as
    /// `zoom`, `ms_teams`, `salesloft`; Hubster: the customer's channel, e.g. `WebChat`).
    async fn platform(&self) -> Option<&str> {
        self.call.platform.as_deref()
    }

    /// Spoken language as the provider reports it (Gong: ISO-639-2B, e.g. `eng`;
    /// Salesloft: BCP-47, e.g. `en-US`).
    async fn language(&self) -> Option<&str> {
        self.call.language.as_deref()
    }

    /// The call's purpose or type, when set.
    async fn purpose(&self) -> Option<&str> {
        self.call.purpose.as_deref()
    }

    /// The user who hosted the call (Gong `primaryUserId`, ExecVision caller,
    /// Salesloft `owner_id` joined through the user's guid; none for Hubster chats).
    async fn host(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        let Some(h) = &self.call.host_remote_id else { return Ok(None) };
        let siblings = self.sibling_keys(|c| c.host_remote_id.as_deref().into_iter().collect());
        Ok(person_among(ctx, &self.connection, h, siblings).await?.map(UserNode::new))
    }

    /// Everyone invited to or present on the call.
    async fn participants(&self) -> Vec<Participant> {
        // The participants' users of the whole page load in one batch.
        let page_users: Arc<[RemoteKey]> = self
            .sibling_keys(|c| c.participants.iter().flatten().filter_map(|p| p.user_remote_id.as_deref()).collect())
            .into();
        self.call
            .participants
            .iter()
            .flatten()
            .map(|p| Participant {
                connection: self.connection.clone(),
                p: p.clone(),
                channel: None,
                page_users: page_users.clone(),
            })
            .collect()
    }

    /// Topics discussed, with how long.
    async fn topics(&self) -> Vec<CallTopic> {
        self.call
            .topics
            .iter()
            .flatten()
            .map(|t| CallTopic { name: t.name.clone(), duration: t.duration_secs })
            .collect()
    }

    /// Tracked keywords and concepts, with where they occurred.
    async fn trackers(&self) -> Vec<Tracker> {
        self.call
            .trackers
            .iter()
            .flatten()
            .map(|t| Tracker {
                remote_id: t.remote_id.clone(),
                name: t.name.clone(),
                kind: t.kind.clone(),
                count: clamp_i32(t.count),
                occurrences: t
                    .occurrences
                    .iter()
                    .map(|o| TrackerOccurrence { start_time: o.start_secs, speaker_id: o.speaker_id.clone() })
                    .collect(),
            })
            .collect()
    }

    /// The provider's summary of the call (Gong `brief`; ExecVision AI summary with
    /// next steps and questions and answers).
    async fn summary(&self) -> Option<CallSummary> {
        self.call.summary.as_ref().map(|s| CallSummary {
            text: s.text.clone(),
            next_steps: s.next_steps.clone(),
            questions_and_answers: s
                .questions_and_answers
                .iter()
                .map(|qa| QuestionAnswer { question: qa.question.clone(), answer: qa.answer.clone() })
                .collect(),
        })
    }

    /// Processing state at the provider (ExecVision: `COMPLETE`, `CONVERTER_REJECTED`, …).
    async fn state(&self) -> Option<&str> {
        self.call.state.as_deref()
    }

    /// CRM records the provider linked to the call (ExecVision; Salesloft: the
    /// conversation's account and person, with `crmName` `Salesloft`).
    async fn crm_matches(&self) -> Vec<CrmMatch> {
        let entity = |e: &domain::CrmEntity| CrmEntity { crm_id: e.crm_id.clone(), name: e.name.clone() };
        self.call
            .crm_matches
            .iter()
            .flatten()
            .map(|m| CrmMatch {
                crm_name: m.crm_name.clone(),
                activity_crm_id: m.activity_crm_id.clone(),
                account: m.account.as_ref().map(entity),
                contacts: m.contacts.iter().map(entity).collect(),
                engagement: m.engagement.as_ref().map(entity),
            })
            .collect()
    }

    /// The provider's custom fields for the call (ExecVision `metadata`, mapped from the CRM).
    async fn metadata(&self) -> Option<Json<serde_json::Value>> {
        self.call.metadata.clone().map(Json)
    }

    /// Interaction statistics of the call.
    async fn stats(&self) -> Option<CallStats> {
        self.call.stats.as_ref().map(CallStats::from)
    }

    /// The transcript, when the call has one. Batched: a page of calls costs one
    /// transcript request per connection (Gong `POST /v2/calls/transcript`). Salesloft:
    /// the transcription's sentences; Hubster: the chat's messages, from customer,
    /// agent and bot.
    async fn transcript(&self, ctx: &Context<'_>) -> Result<Option<TranscriptNode>> {
        let wanted = RemoteKey { connection: self.connection.clone(), remote_id: self.call.remote_id.clone() };
        let siblings = self.sibling_keys(|c| vec![c.remote_id.as_str()]);
        let transcript =
            load_with_siblings(&loaders(ctx)?.transcripts, wanted, siblings).await.map_err(AppError::from)?;
        Ok(transcript.map(|t| TranscriptNode {
            connection: self.connection.clone(),
            provider: self.provider,
            transcript: t,
            call: Some(self.call.clone()),
        }))
    }

    /// The scored reviews of the call, oldest first: Gong answered scorecards,
    /// ExecVision scores; empty for Salesloft and Hubster, which have none. Batched: a
    /// page of calls costs one read per connection (Gong: the answered scorecards of
    /// the days the page's calls span, as Gong cannot filter them by call; ExecVision:
    /// its scores list, cached).
    async fn scores(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<ScoreNode>> {
        let st = state(ctx);
        let provider = super::provider(ctx, &self.connection)?;
        let list = ListId::new(&self.connection, "call_scores", &self.call.remote_id);
        let args = PageArgs { first, after, last, before };
        page_size(st.max_page_size, &args)?;
        let mut items: Vec<domain::Score> = if provider.capabilities().scores {
            let wanted = CallKey::of(&self.connection, &self.call);
            let siblings: Vec<CallKey> =
                self.siblings.iter().flat_map(|page| page.iter()).map(|(conn, call)| CallKey::of(conn, call)).collect();
            let loaded =
                load_with_siblings(&loaders(ctx)?.call_scores, wanted, siblings).await.map_err(AppError::from)?;
            loaded.map(|scores| (*scores).clone()).unwrap_or_default()
        } else {
            Vec::new()
        };
        items.sort_by(|a, b| (a.reviewed_at, &a.remote_id).cmp(&(b.reviewed_at, &b.remote_id)));
        let total = Some(items.len() as u64);
        Ok(paginate_held(&st.cursors, st.max_page_size, &list, args, items, total, |s| ScoreNode::new(provider, s))
            .await?)
    }

    /// The messages and events of a chat in event order, each once (Hubster: the
    /// conversation's activities from its customer, agent and bot reads). Empty for
    /// calls of providers without chats.
    async fn chat_activities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only these kinds (messages, events).")] kinds: Option<Vec<ChatActivityKind>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<ChatActivityNode>> {
        let st = state(ctx);
        let provider = super::provider(ctx, &self.connection)?;
        let list = ListId::new(&self.connection, "chat_activities", &(&self.call.remote_id, &kinds));
        let mut items = if provider.capabilities().chats {
            provider.chat_activities(&self.call.remote_id).await.map_err(AppError::from)?
        } else {
            Vec::new()
        };
        if let Some(kinds) = &kinds {
            items.retain(|a| kinds.contains(&a.kind));
        }
        let total = Some(items.len() as u64);
        let items: Vec<_> = items.into_iter().map(Arc::new).collect();
        let args = PageArgs { first, after, last, before };
        Ok(paginate_held(&st.cursors, st.max_page_size, &list, args, items, total, ChatActivityNode).await?)
    }

    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.call.raw).clone())
    }
}

fn clamp_i32(n: i64) -> i32 {
    n.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// A person on a call.
#[derive(Clone, Debug)]
pub struct Participant {
    connection: Arc<str>,
    p: domain::Participant,
    /// The users of every participant of the page (batched together).
    page_users: Arc<[RemoteKey]>,
    channel: Option<String>,
}

#[Object]
impl Participant {
    /// Display name.
    async fn name(&self) -> Option<&str> {
        self.p.name.as_deref()
    }
    /// Email address.
    async fn email(&self) -> Option<&str> {
        self.p.email.as_deref()
    }
    /// Job title.
    async fn title(&self) -> Option<&str> {
        self.p.title.as_deref()
    }
    /// Phone number.
    async fn phone(&self) -> Option<&str> {
        self.p.phone.as_deref()
    }
    /// Inside or outside the company.
    async fn affiliation(&self) -> Affiliation {
        self.p.affiliation
    }
    /// How the person relates to the call, e.g. `Invitee`, `Attendee` (Gong);
    /// `Customer`, `Agent` or `Bot` (Hubster).
    async fn roles(&self) -> &[String] {
        &self.p.roles
    }
    /// The messaging channel the participant writes on (Hubster: `WebChat`, `Slack`, …).
    async fn channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }
    /// Seconds this person talked.
    async fn talk_time(&self) -> Option<f64> {
        self.p.talk_time_secs
    }
    /// Joins to `TranscriptSegment.speakerId`.
    async fn speaker_id(&self) -> Option<&str> {
        self.p.speaker_id.as_deref()
    }
    /// The provider user, when the participant is one.
    async fn user(&self, ctx: &Context<'_>) -> Result<Option<UserNode>> {
        let Some(u) = &self.p.user_remote_id else { return Ok(None) };
        Ok(person_among(ctx, &self.connection, u, self.page_users.iter().cloned()).await?.map(UserNode::new))
    }
}

/// A topic of a call.
#[derive(Clone, Debug, SimpleObject)]
pub struct CallTopic {
    /// Topic name.
    pub name: String,
    /// Seconds spent on it.
    pub duration: Option<f64>,
}

/// A tracked keyword or concept.
#[derive(Clone, Debug, SimpleObject)]
pub struct Tracker {
    /// The provider's tracker id.
    pub remote_id: Option<String>,
    /// Tracker name.
    pub name: String,
    /// Tracker type (Gong: `KEYWORD` or `SMART`).
    pub kind: Option<String>,
    /// How often it occurred.
    pub count: i32,
    /// Where it occurred.
    pub occurrences: Vec<TrackerOccurrence>,
}

/// One occurrence of a tracker.
#[derive(Clone, Debug, SimpleObject)]
pub struct TrackerOccurrence {
    /// Seconds from the start of the call.
    pub start_time: f64,
    /// Who said it (joins to `Participant.speakerId`).
    pub speaker_id: Option<String>,
}

/// A provider-written summary of a call.
#[derive(Clone, Debug, SimpleObject)]
pub struct CallSummary {
    /// The summary text.
    pub text: Option<String>,
    /// Suggested next steps for the participants.
    pub next_steps: Vec<String>,
    /// Questions asked on the call and their answers.
    pub questions_and_answers: Vec<QuestionAnswer>,
}

/// A question from a call and its answer.
#[derive(Clone, Debug, SimpleObject)]
pub struct QuestionAnswer {
    /// The question.
    pub question: String,
    /// The answer.
    pub answer: String,
}

/// A call's match in a CRM.
#[derive(Clone, Debug, SimpleObject)]
pub struct CrmMatch {
    /// The CRM (e.g. Salesforce).
    pub crm_name: Option<String>,
    /// The CRM activity of the call.
    pub activity_crm_id: Option<String>,
    /// The account.
    pub account: Option<CrmEntity>,
    /// The contacts.
    pub contacts: Vec<CrmEntity>,
    /// The engagement (e.g. a Salesforce opportunity).
    pub engagement: Option<CrmEntity>,
}

/// A CRM record.
#[derive(Clone, Debug, SimpleObject)]
pub struct CrmEntity {
    /// Its id in the CRM.
    pub crm_id: String,
    /// Its name in the CRM.
    pub name: Option<String>,
}

/// Interaction statistics of one call.
#[derive(Clone, Debug, SimpleObject)]
pub struct CallStats {
    /// Percent of the time the company side talked (0–100).
    pub talk_ratio: Option<f64>,
    /// Longest uninterrupted company monologue, seconds.
    pub longest_monologue: Option<f64>,
    /// Longest uninterrupted customer story, seconds.
    pub longest_customer_story: Option<f64>,
    /// How often speakers switched (provider score).
    pub interactivity: Option<f64>,
    /// Pause before answering, seconds.
    pub patience: Option<f64>,
    /// Questions asked by the company side.
    pub company_questions: Option<i32>,
    /// Questions asked by others.
    pub non_company_questions: Option<i32>,
    /// Seconds the company side talked.
    pub internal_talk_time: Option<f64>,
    /// Seconds the other side talked.
    pub external_talk_time: Option<f64>,
    /// Speaker changes per minute.
    pub interchanges_per_minute: Option<f64>,
    /// Longest uninterrupted speech per speaker, seconds.
    pub longest_segments: Vec<SpeakerValue>,
    /// Words per minute per speaker, by section of the call.
    pub talk_speeds: Vec<TalkSpeed>,
    /// Statistics under other names.
    pub additional: Vec<Metric>,
}

/// A number for one speaker.
#[derive(Clone, Debug, SimpleObject)]
pub struct SpeakerValue {
    /// The speaker (joins to `TranscriptSegment.speakerId`).
    pub speaker_id: String,
    /// The value.
    pub value: f64,
}

/// Talk speed over one section of a call.
#[derive(Clone, Debug, SimpleObject)]
pub struct TalkSpeed {
    /// Section start, seconds from the start of the call.
    pub start_time: f64,
    /// Section end, seconds from the start of the call.
    pub end_time: f64,
    /// Words per minute per speaker.
    pub words_per_minute: Vec<SpeakerValue>,
}

impl From<&domain::CallStats> for CallStats {
    fn from(s: &domain::CallStats) -> Self {
        Self {
            talk_ratio: s.talk_ratio,
            longest_monologue: s.longest_monologue_secs,
            longest_customer_story: s.longest_customer_story_secs,
            interactivity: s.interactivity,
            patience: s.patience_secs,
            company_questions: s.company_questions.map(clamp_i32),
            non_company_questions: s.non_company_questions.map(clamp_i32),
            internal_talk_time: s.internal_talk_secs,
            external_talk_time: s.external_talk_secs,
            interchanges_per_minute: s.interchanges_per_minute,
            longest_segments: speaker_values(&s.longest_segments),
            talk_speeds: s
                .talk_speeds
                .iter()
                .map(|t| TalkSpeed {
                    start_time: t.start_secs,
                    end_time: t.end_secs,
                    words_per_minute: speaker_values(&t.words_per_minute),
                })
                .collect(),
            additional: s.other.iter().map(|(name, value)| Metric { name: name.clone(), value: *value }).collect(),
        }
    }
}

fn speaker_values(v: &[(String, f64)]) -> Vec<SpeakerValue> {
    v.iter().map(|(speaker_id, value)| SpeakerValue { speaker_id: speaker_id.clone(), value: *value }).collect()
}

/// A named number.
#[derive(Clone, Debug, SimpleObject)]
pub struct Metric {
    /// The provider's name of the metric.
    pub name: String,
    /// Its value.
    pub value: f64,
}

/// What was said on a call.
#[derive(Clone, Debug)]
pub struct TranscriptNode {
    pub(crate) connection: Arc<str>,
    pub(crate) provider: ProviderKind,
    pub(crate) transcript: Arc<Transcript>,
    /// The call, when already at hand (speakers need its participants).
    pub(crate) call: Option<Arc<Call>>,
}

impl TranscriptNode {
    async fn call_record(&self, ctx: &Context<'_>) -> Result<Option<Arc<Call>>> {
        if let Some(c) = &self.call {
            return Ok(Some(c.clone()));
        }
        Ok(CallNode::load(ctx, &self.connection, &self.transcript.call_remote_id).await?.map(|c| c.call))
    }
}

#[Object(name = "Transcript")]
impl TranscriptNode {
    /// Globally unique, stable id.
    pub(crate) async fn id(&self) -> ID {
        id::encode(Kind::Transcript, &self.connection, &self.transcript.call_remote_id)
    }

    /// The call this transcript belongs to.
    async fn call(&self, ctx: &Context<'_>) -> Result<Option<CallNode>> {
        Ok(self.call_record(ctx).await?.map(|c| CallNode::new(self.connection.clone(), self.provider, c)))
    }

    /// The people who speak in the transcript.
    async fn speakers(&self, ctx: &Context<'_>) -> Result<Vec<Participant>> {
        if let Some(typed) = &self.transcript.speakers {
            return Ok(typed
                .iter()
                .map(|s| Participant {
                    connection: self.connection.clone(),
                    page_users: Arc::from([]),
                    p: domain::Participant {
                        remote_id: None,
                        name: s.name.clone(),
                        email: s.email.clone(),
                        title: None,
                        phone: None,
                        user_remote_id: None,
                        speaker_id: Some(s.speaker_id.clone()),
                        affiliation: match s.kind {
                            domain::SpeakerType::Internal => Affiliation::Internal,
                            domain::SpeakerType::External => Affiliation::External,
                            domain::SpeakerType::Unknown => Affiliation::Unknown,
                        },
                        roles: s.roles.clone(),
                        talk_time_secs: None,
                    },
                    channel: s.channel.clone(),
                })
                .collect());
        }
        let call = self.call_record(ctx).await?;
        let speaking: std::collections::HashSet<&str> =
            self.transcript.segments.iter().filter_map(|s| s.speaker_id.as_deref()).collect();
        Ok(call
            .iter()
            .flat_map(|c| c.participants.iter().flatten())
            .filter(|p| p.speaker_id.as_deref().is_some_and(|s| speaking.contains(s)))
            .map(|p| Participant {
                connection: self.connection.clone(),
                p: p.clone(),
                channel: None,
                page_users: Arc::from([]),
            })
            .collect())
    }

    /// Utterances in time order.
    async fn segments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<List<TranscriptSegment>> {
        let st = state(ctx);
        let list = ListId::new(&self.connection, "segments", &self.transcript.call_remote_id);
        let all = self.transcript.segments.clone();
        let total = Some(all.len() as u64);
        let args = PageArgs { first, after, last, before };
        Ok(paginate_held(&st.cursors, st.max_page_size, &list, args, all, total, TranscriptSegment).await?)
    }

    /// The whole transcript as plain text, one utterance a line.
    async fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.transcript.segments {
            out.push_str(&s.text);
            out.push('\n');
        }
        out
    }

    /// The provider's own record, unchanged.
    async fn remote_data(&self) -> Json<serde_json::Value> {
        Json((*self.transcript.raw).clone())
    }
}

/// One utterance.
#[derive(Clone, Debug)]
pub struct TranscriptSegment(domain::Segment);

#[Object]
impl TranscriptSegment {
    /// Who spoke (joins to `Participant.speakerId`).
    async fn speaker_id(&self) -> Option<&str> {
        self.0.speaker_id.as_deref()
    }
    /// The topic the provider assigned to this part of the call.
    async fn topic(&self) -> Option<&str> {
        self.0.topic.as_deref()
    }
    /// Milliseconds from the start of the call.
    async fn start_ms(&self) -> i64 {
        self.0.start_ms
    }
    /// Milliseconds from the start of the call.
    async fn end_ms(&self) -> i64 {
        self.0.end_ms
    }
    /// What was said.
    async fn text(&self) -> &str {
        &self.0.text
    }
}
