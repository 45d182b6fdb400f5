//! The subscription root: events about new and changed calls and scores, found by
//! one poller per connection ([`crate::live`]) and by webhooks.
//!
//! Access is checked when the subscription starts (like a query: a named
//! connection outside the caller's scope is `FORBIDDEN`) and again for every
//! event: the caller's credential is authenticated anew (an expired token ends the
//! subscription with `UNAUTHENTICATED`) and an event of a connection it may not
//! read is never sent.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
};

use async_graphql::{Context, ID, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, future::ready};

use super::{
    CallNode, ScoreNode,
    calls::{CallFilter, per_connection},
    principal, provider, readable,
};
use crate::{
    auth::{AuthError, Principal},
    error::{AppError, AppResult, ErrorCode},
    live::{CallChange, Event, EventKind, Hub},
    loaders::Loaders,
    providers::{CallQuery, Capabilities, Provider},
};

/// The subscription root.
#[derive(Debug, Default, Clone, Copy)]
pub struct SubscriptionRoot;

/// A call that changed, and what changed.
#[derive(SimpleObject)]
pub struct CallUpdate {
    /// The call as the provider now has it.
    call: CallNode,
    /// What changed.
    changes: Vec<CallChange>,
    /// When the provider says it changed.
    at: DateTime<Utc>,
}

/// Authenticates the caller's credential again (for each event of a subscription).
#[derive(Clone)]
pub struct Reauthenticate(pub Arc<dyn Fn() -> Result<Arc<Principal>, AuthError> + Send + Sync>);

#[Subscription]
impl SubscriptionRoot {
    /// Calls new at a provider (processed and readable), once each, in the order the
    /// provider filed them, within one `live.poll_interval` (sooner by webhook).
    /// Without `connectionIds`, every connection the caller may read that has calls.
    /// `filter` narrows as it does `calls` (`remoteQuery` excepted).
    async fn call_added(
        &self,
        ctx: &Context<'_>,
        connection_ids: Option<Vec<ID>>,
        filter: Option<CallFilter>,
    ) -> Result<impl Stream<Item = Result<CallNode>> + use<>> {
        let events = listen(ctx, connection_ids, filter, |c| c.calls, EventKind::CallAdded).await?;
        Ok(events.map(|item| item.and_then(|(event, provider)| call_node(&event, &provider).ok_or_else(missing))))
    }

    /// Calls that changed: their record (`DETAILS`), their transcript became
    /// available (`TRANSCRIPT`), a scorecard was answered for them (`SCORES`). Once
    /// per change, in order. Arguments as `callAdded`.
    async fn call_updated(
        &self,
        ctx: &Context<'_>,
        connection_ids: Option<Vec<ID>>,
        filter: Option<CallFilter>,
    ) -> Result<impl Stream<Item = Result<CallUpdate>> + use<>> {
        let events = listen(ctx, connection_ids, filter, |c| c.calls, EventKind::CallUpdated).await?;
        Ok(events.map(|item| {
            item.and_then(|(event, provider)| {
                let call = call_node(&event, &provider).ok_or_else(missing)?;
                Ok(CallUpdate { call, changes: event.changes.clone(), at: event.at })
            })
        }))
    }

    /// Scorecards answered at a provider (Gong, ExecVision), once each, in review
    /// order. Without `connectionIds`, every readable connection that has scores.
    async fn score_added(
        &self,
        ctx: &Context<'_>,
        connection_ids: Option<Vec<ID>>,
    ) -> Result<impl Stream<Item = Result<ScoreNode>> + use<>> {
        let events = listen(ctx, connection_ids, None, |c| c.scores, EventKind::ScoreAdded).await?;
        Ok(events.map(|item| {
            item.and_then(|(event, provider)| {
                let score = event.score.clone().ok_or_else(missing)?;
                Ok(ScoreNode::new(&provider, score))
            })
        }))
    }
}

fn missing() -> async_graphql::Error {
    AppError::Coded(ErrorCode::Internal, "an event without its record".into()).into()
}

fn call_node(event: &Event, provider: &Arc<dyn Provider>) -> Option<CallNode> {
    let call = event.call.clone()?;
    Some(CallNode::new(provider.connection_id().clone(), provider.kind(), Arc::new(call)))
}

/// How many event keys a subscriber remembers to drop a repeat.
const REMEMBERED: usize = 10_000;

/// The events of `kind` for this subscriber: connections checked now, the caller
/// and the filter checked again at every event.
async fn listen(
    ctx: &Context<'_>,
    connection_ids: Option<Vec<ID>>,
    filter: Option<CallFilter>,
    able: fn(&Capabilities) -> bool,
    kind: EventKind,
) -> AppResult<impl Stream<Item = Result<(Arc<Event>, Arc<dyn Provider>)>> + use<>> {
    let hub = ctx.data_opt::<Hub>().ok_or_else(|| AppError::bad_input("subscriptions are not served here"))?.clone();
    if principal(ctx).is_none() {
        return Err(AppError::Forbidden("any connection".into()));
    }
    let providers: Vec<Arc<dyn Provider>> = match &connection_ids {
        Some(ids) if !ids.is_empty() => {
            let mut out = Vec::new();
            for id in ids {
                let p = provider(ctx, id)?;
                if !able(&p.capabilities()) {
                    return Err(AppError::Provider(p.unsupported("these events")));
                }
                out.push(p.clone());
            }
            out
        }
        _ => readable(ctx).filter(|p| able(&p.capabilities())).cloned().collect(),
    };
    if providers.is_empty() {
        return Err(AppError::bad_input("no connection this caller may read has these events"));
    }
    let filter = filter.unwrap_or_default();
    filter.check()?;
    if filter.remote_query.is_some() {
        return Err(AppError::bad_input("`remoteQuery` is not taken by subscriptions"));
    }
    let hosts = filter.hosts(ctx).await?;
    // Per connection, the query an event's call must match (a connection where none
    // of the named hosts has an account matches nothing).
    let queries: HashMap<String, CallQuery> = per_connection(&providers, &filter, &hosts)
        .into_iter()
        .map(|(p, q)| (p.connection_id().to_string(), q))
        .collect();
    let by_id: HashMap<String, Arc<dyn Provider>> =
        providers.iter().map(|p| (p.connection_id().to_string(), p.clone())).collect();
    let connections: Vec<Arc<str>> = providers.iter().map(|p| p.connection_id().clone()).collect();
    let stream = hub.subscribe(&connections).map_err(|e| match e {
        crate::live::SubscribeError::Disabled => AppError::bad_input(e.to_string()),
        crate::live::SubscribeError::Full(_) => AppError::Coded(ErrorCode::RateLimited, e.to_string()),
    })?;
    let reauth = ctx.data_opt::<Reauthenticate>().cloned();
    let fallback = principal(ctx).cloned().map(Arc::new);
    let loaders = ctx.data_opt::<Arc<Loaders>>().cloned();
    let seen = Arc::new(Mutex::new((HashSet::<String>::new(), VecDeque::<String>::new())));
    let mut ended = false;
    let events = stream
        .filter_map(move |event| {
            let out = (|| {
                if event.kind != kind {
                    return None;
                }
                let caller = match &reauth {
                    Some(r) => match (r.0)() {
                        Ok(p) => p,
                        Err(e) => return Some(Err(AppError::Coded(ErrorCode::Unauthenticated, e.to_string()).into())),
                    },
                    None => fallback.clone()?,
                };
                if !caller.may_read(&event.connection) {
                    return None;
                }
                let provider = by_id.get(&event.connection)?.clone();
                if let Some(call) = &event.call
                    && kind != EventKind::ScoreAdded
                {
                    let query = queries.get(&event.connection)?;
                    if !query.matches(call) {
                        return None;
                    }
                }
                {
                    let mut seen = seen.lock().expect("seen lock");
                    if !seen.0.insert(event.key.clone()) {
                        return None;
                    }
                    seen.1.push_back(event.key.clone());
                    if seen.1.len() > REMEMBERED
                        && let Some(old) = seen.1.pop_front()
                    {
                        seen.0.remove(&old);
                    }
                }
                if let Some(l) = &loaders {
                    l.forget_loaded();
                }
                Some(Ok((event, provider)))
            })();
            ready(out)
        })
        .take_while(move |item| {
            let go = !ended;
            ended = item.is_err();
            ready(go)
        });
    Ok(events)
}
