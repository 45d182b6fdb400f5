//! Salesloft conversations: users (`/v2/users`, keyed by guid), calls
//! (`/v2/conversations`) and transcripts (the ordered, paged sentences of the
//! conversation's transcription).
//!
//! What Salesloft filters itself: hosts (`owner_ids`), duration (`duration[gte|lte]`,
//! milliseconds), one platform, one language, one medium; direction is applied here
//! exactly (Salesloft conversations have none, so only `UNKNOWN` matches). Several
//! platforms, languages or both media are filtered here, page by page. Start time and
//! title substring are not Salesloft filters: the schema applies them. Everything else
//! of seed 003 (exact title, title prefix, `created_at`/`updated_at` ranges, owner,
//! recorder, conversation, account and person ids, `is_api`, sorting) goes through the
//! validated `remoteQuery`.
//!
//! Quirks handled here: lists page by `page`/`per_page` (100 here) with
//! `metadata.paging.next_page`; the team's cost budget (600 per minute, deep pages
//! cost up to 30) is read from each response's `x-ratelimit-*` headers and the
//! transport waits for the next minute instead of spending past it; owners are user
//! guids, while users have integer ids too; records read in a list are kept for
//! lookups by id (a page of calls then costs no second request for its transcripts'
//! conversations).

mod client;
mod mapping;
mod model;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use serde::{Deserialize, Serialize};

use self::{
    client::{SlClient, path_segment},
    model::{Conversation, Sentence, User as SlUser},
};
use super::{
    CallFilterSupport, CallQuery, Capabilities, ChangedCall, Changes, Provider, ProviderError, ProviderErrorKind,
    ProviderKind, paging, transport::Transport,
};
use crate::{
    cache::{Cache, CacheKey, ResourceKind},
    domain::{Call, Page, Transcript, User},
};

/// Requests per second convograph sends at most: the documented budget, 600 per
/// minute, spread evenly (the budget is shared with the team's other integrations).
pub const DEFAULT_RATE_PER_SEC: f64 = 10.0;
/// The budget window Salesloft documents (per minute).
pub const BUDGET_WINDOW: Duration = Duration::from_secs(60);
/// Transcripts fetched at once (each is a walk of sentence pages).
const PER_ID_CONCURRENCY: usize = 4;
/// Ids per `ids[]` or `guid[]` filter (one page of results).
const MAX_IDS_PER_REQUEST: usize = 100;

/// A Salesloft connection.
#[derive(Debug)]
pub struct SalesloftProvider {
    connection: Arc<str>,
    client: Arc<SlClient>,
    cache: Cache,
}

/// A transcript that may not exist.
#[derive(Clone, Serialize, Deserialize)]
struct OptionalTranscript(Option<Transcript>);

impl SalesloftProvider {
    /// Builds the provider of one connection (the transport should pace against the
    /// cost budget: [`Transport::with_cost_budget`]).
    pub fn new(transport: Transport, cache: Cache, connection: Arc<str>) -> Self {
        Self { connection, client: Arc::new(SlClient { transport }), cache }
    }

    /// The token of the page after page `number`: `next_page`, unless it does not
    /// move forward (a loop: the list ends here, and the client is told).
    fn next_page(&self, next: Option<u64>, number: u64) -> Option<String> {
        match next {
            Some(n) if n > number => Some(n.to_string()),
            Some(n) => {
                paging::ended(
                    self.error(ProviderErrorKind::PagingLoop(format!("page {number} named page {n} as the next one"))),
                );
                None
            }
            None => None,
        }
    }

    fn key(&self, op: &'static str, fingerprint: String) -> CacheKey {
        CacheKey { connection: self.connection.clone(), op, fingerprint }
    }

    fn bad_input(&self, message: String) -> ProviderError {
        self.error(ProviderErrorKind::BadInput(message))
    }

    /// Keeps listed conversations for lookups by id ([`Provider::calls_by_ids`]),
    /// packed together (they share one dictionary).
    async fn remember(&self, calls: &[Call]) {
        let found: Vec<(String, Option<Call>)> = calls.iter().map(|c| (c.remote_id.clone(), Some(c.clone()))).collect();
        self.cache.insert_many(&self.connection, "call", ResourceKind::Calls, &found).await;
    }

    async fn transcript_of(&self, call_id: &str) -> Result<Option<Transcript>, ProviderError> {
        let Some(call) = self.calls_by_ids(&[call_id.to_owned()]).await?.into_iter().next() else {
            return Ok(None);
        };
        let Some(tid) = mapping::transcription_id(&call) else { return Ok(None) };
        let Some(tid) = path_segment(&tid).map(str::to_owned) else {
            return Err(
                self.error(ProviderErrorKind::Decode(format!("unexpected transcription id for call {call_id}")))
            );
        };
        let sentences = self.client.all::<Sentence>(&format!("/v2/transcriptions/{tid}/sentences"), &[]).await?;
        Ok(sentences.map(|s| mapping::transcript(call_id, &tid, s)))
    }
}

/// What a Salesloft connection fills (also the source of the coverage tables).
pub fn capabilities() -> Capabilities {
    Capabilities {
        batch_lookups: true,
        users: true,
        calls: true,
        transcripts: true,
        native_call_filters: CallFilterSupport {
            time_range: false,
            hosts: true,
            direction: true,
            medium: true,
            platform: true,
            duration: true,
            title: false,
            language: true,
            newest_first: false,
            oldest_first: false,
            remote_query: true,
        },
        ..Capabilities::default()
    }
}

#[async_trait]
impl Provider for SalesloftProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Salesloft
    }

    fn connection_id(&self) -> &Arc<str> {
        &self.connection
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    fn daily_quota_left(&self) -> Option<u64> {
        self.client.transport.daily_quota_left()
    }

    async fn check(&self) -> Result<(), ProviderError> {
        self.client.page::<SlUser>("/v2/users", &[], 1).await.map(|_| ())
    }

    async fn list_users(&self, page: Option<String>) -> Result<Page<User>, ProviderError> {
        let number = page_number(page.as_deref()).ok_or_else(|| self.bad_input("invalid users page".into()))?;
        let page = self
            .cache
            .get_or_fetch(self.key("users_page", number.to_string()), ResourceKind::Users, async {
                let list = self.client.page::<SlUser>("/v2/users", &[], number).await?;
                Ok(match list {
                    Some(l) => Page {
                        next: self.next_page(l.metadata.paging.next_page, number),
                        total: l.metadata.paging.total_count,
                        items: l.data.into_iter().map(mapping::user).collect(),
                    },
                    None => Page::empty(),
                })
            })
            .await?;
        Ok(Arc::unwrap_or_clone(page))
    }

    /// `GET /v2/users?guid[]=…`, 100 guids a request; each user cached on its own, and
    /// guids another request is fetching right now awaited rather than asked again.
    async fn users_by_ids(&self, ids: &[String]) -> Result<Vec<User>, ProviderError> {
        let ids: Vec<String> = ids.iter().filter(|i| !i.trim().is_empty()).cloned().collect();
        let client = self.client.clone();
        let found = self
            .cache
            .get_many(&self.connection, "user", ResourceKind::Users, &ids, move |missing| async move {
                let mut out = Vec::new();
                for chunk in missing.chunks(MAX_IDS_PER_REQUEST) {
                    let params: Vec<(String, String)> =
                        chunk.iter().map(|g| ("guid[]".to_owned(), g.clone())).collect();
                    let list = client.page::<SlUser>("/v2/users", &params, 1).await?;
                    out.extend(
                        list.into_iter().flat_map(|l| l.data).map(mapping::user).map(|u| (u.remote_id.clone(), u)),
                    );
                }
                Ok(out)
            })
            .await?;
        Ok(found.into_values().map(Arc::unwrap_or_clone).collect())
    }

    async fn list_calls(&self, query: &CallQuery, page: Option<String>) -> Result<Page<Call>, ProviderError> {
        let plan = client::plan(query).map_err(|m| self.bad_input(m))?;
        if plan.nothing {
            return Ok(Page::empty());
        }
        let number = page_number(page.as_deref()).ok_or_else(|| self.bad_input("invalid calls page".into()))?;
        let fingerprint = format!("{:?}|{number}", plan.params);
        let mut page = Arc::unwrap_or_clone(
            self.cache
                .get_or_fetch(self.key("calls_page", fingerprint), ResourceKind::Calls, async {
                    let list = self.client.page::<Conversation>("/v2/conversations", &plan.params, number).await?;
                    let Some(list) = list else { return Ok(Page::empty()) };
                    let items: Vec<Call> = list.data.into_iter().map(mapping::call).collect();
                    self.remember(&items).await;
                    Ok(Page {
                        next: self.next_page(list.metadata.paging.next_page, number),
                        total: list.metadata.paging.total_count,
                        items,
                    })
                })
                .await?,
        );
        if plan.local {
            page.items.retain(|c| query.matches(c));
            page.total = None;
        }
        Ok(page)
    }

    /// `GET /v2/conversations?updated_at[gte]=…&updated_at[lt]=…` (microsecond
    /// precision), every page: new and changed conversations; a transcription id on
    /// the record says its transcript is ready.
    async fn changes(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> Result<Changes, ProviderError> {
        let mut range = serde_json::Map::new();
        range.insert("updated_at[gte]".into(), since.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).into());
        range.insert("updated_at[lt]".into(), until.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).into());
        let query = CallQuery { remote_query: Some(range), ..CallQuery::default() };
        let calls = super::all_pages(self, "calls", |page| self.list_calls(&query, page)).await?;
        Ok(Changes {
            calls: calls
                .into_iter()
                .map(|call| {
                    let at =
                        super::raw_time(&call.raw, &["updated_at", "created_at"]).or(call.started_at).unwrap_or(until);
                    let transcript = Some(mapping::transcription_id(&call).is_some());
                    ChangedCall { at, call, transcript, revision: None }
                })
                .collect(),
            scores: Vec::new(),
        })
    }

    /// Conversations already read in a list come from the cache; the others are asked
    /// with `GET /v2/conversations?ids[]=…`, 100 ids a request (ids another request is
    /// fetching right now are awaited, not asked again).
    async fn calls_by_ids(&self, ids: &[String]) -> Result<Vec<Call>, ProviderError> {
        let ids: Vec<String> = ids.iter().filter(|id| path_segment(id).is_some()).cloned().collect();
        let client = self.client.clone();
        let found = self
            .cache
            .get_many(&self.connection, "call", ResourceKind::Calls, &ids, move |missing| async move {
                let mut out = Vec::new();
                for chunk in missing.chunks(MAX_IDS_PER_REQUEST) {
                    let params: Vec<(String, String)> =
                        chunk.iter().map(|id| ("ids[]".to_owned(), id.clone())).collect();
                    let list = client.page::<Conversation>("/v2/conversations", &params, 1).await?;
                    out.extend(
                        list.into_iter().flat_map(|l| l.data).map(mapping::call).map(|c| (c.remote_id.clone(), c)),
                    );
                }
                Ok(out)
            })
            .await?;
        Ok(found.into_values().map(Arc::unwrap_or_clone).collect())
    }

    /// Per call: its transcription's sentences, every page (no batch form exists).
    async fn transcripts(&self, call_ids: &[String]) -> Result<Vec<Transcript>, ProviderError> {
        // One request for the conversations not read yet, before the sentence walks.
        self.calls_by_ids(call_ids).await?;
        let fetches: Vec<_> = call_ids
            .iter()
            .cloned()
            .map(|id| async move {
                self.cache
                    .get_or_fetch(self.key("transcript", id.clone()), ResourceKind::Transcripts, async {
                        Ok(OptionalTranscript(self.transcript_of(&id).await?))
                    })
                    .await
            })
            .collect();
        let results: Vec<_> = stream::iter(fetches).buffer_unordered(PER_ID_CONCURRENCY).collect().await;
        let mut out = Vec::new();
        for r in results {
            out.extend(Arc::unwrap_or_clone(r?).0);
        }
        Ok(out)
    }
}

/// A page token (1-based page number); absent = the first page.
fn page_number(token: Option<&str>) -> Option<u64> {
    match token {
        None => Some(1),
        Some(t) => t.parse::<u64>().ok().filter(|n| *n >= 1),
    }
}

/// Salesloft webhook events about a conversation.
pub const CONVERSATION_EVENTS: &[&str] = &["conversation_created", "conversation_updated"];

/// What a Salesloft webhook tells: for a conversation event (`event`, from
/// `x-salesloft-event`), or any body that is a conversation record (an `id` and one
/// of `platform`, `media_type`, `started_recording_at`), the conversation as a
/// changed call; `Ok(None)` for other events. The record may come bare or as
/// `{ "data": … }`. `Err` names what could not be read (never the body itself).
pub fn webhook_changes(event: Option<&str>, body: &serde_json::Value) -> Result<Option<Changes>, String> {
    let record = match body.get("data") {
        Some(data) if data.is_object() => data,
        _ => body,
    };
    let object = record.as_object().ok_or("the body is not a JSON object")?;
    let looks_like_conversation = object.contains_key("id")
        && ["platform", "media_type", "started_recording_at"].iter().any(|k| object.contains_key(*k));
    let named = event.is_some_and(|e| CONVERSATION_EVENTS.iter().any(|c| c.eq_ignore_ascii_case(e.trim())));
    if !named && !looks_like_conversation {
        return Ok(None);
    }
    let conversation: crate::providers::wire::WithRaw<Conversation> =
        serde_json::from_value(record.clone()).map_err(|_| "not a conversation record".to_owned())?;
    let call = mapping::call(conversation);
    let at = super::raw_time(&call.raw, &["updated_at"]).unwrap_or_else(Utc::now);
    let transcript = Some(mapping::transcription_id(&call).is_some());
    Ok(Some(Changes { calls: vec![ChangedCall { at, call, transcript, revision: None }], scores: Vec::new() }))
}

#[cfg(test)]
mod tests;
