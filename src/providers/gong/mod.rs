//! Gong (REST API v2). Users, calls (with parties, topics, trackers and stats from
//! `calls/extensive`), transcripts, activity and interaction stats, answered
//! scorecards, scorecard templates and coaching.
//!
//! Gong's quirks handled here: fixed pages of 100 with a `records.cursor` that is
//! absent on the last page; 404 instead of an empty list; stats dates are
//! `YYYY-MM-DD` in the company time zone with an exclusive `toDate` that may not be
//! later than today; scorecard ids are JSON numbers; 3 requests/s.

mod client;
mod mapping;
mod model;

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate, NaiveTime, SecondsFormat, Utc};
use chrono_tz::Tz;

use self::{
    client::{GongClient, Paged},
    mapping::Range,
    model::{CallsFilter, ScoresFilter, ScoresRequest, StatsFilter},
};
use super::{
    CallFilterSupport, CallQuery, CallRef, Capabilities, ChangedCall, Changes, CoachingQuery, Provider, ProviderError,
    ProviderErrorKind, ProviderKind, ScoreQuery, StatsQuery, paging, transport::Transport,
};
use crate::{
    cache::{Cache, CacheKey, ResourceKind},
    domain::{Activity, AggregationPeriod, Call, Coaching, Interaction, Page, Score, Scorecard, Transcript, User},
};

/// Gong's documented default: 3 requests per second per company.
pub const DEFAULT_RATE_PER_SEC: f64 = 3.0;
/// Gong's documented default: 10,000 requests per day per company.
pub const DEFAULT_DAILY_QUOTA: u32 = 10_000;

/// A Gong connection.
#[derive(Debug)]
pub struct GongProvider {
    connection: Arc<str>,
    client: Arc<GongClient>,
    cache: Cache,
    time_zone: Tz,
    workspace_id: Option<String>,
}

impl GongProvider {
    /// Builds the provider of one connection.
    pub fn new(
        transport: Transport,
        cache: Cache,
        connection: Arc<str>,
        time_zone: Tz,
        workspace_id: Option<String>,
    ) -> Self {
        Self { connection, client: Arc::new(GongClient { transport }), cache, time_zone, workspace_id }
    }

    fn key(&self, op: &'static str, fingerprint: String) -> CacheKey {
        CacheKey { connection: self.connection.clone(), op, fingerprint }
    }

    /// The company-time-zone date range Gong's stats filter wants for `[from, to)`.
    fn stats_range(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Range, ProviderError> {
        let from_local = from.with_timezone(&self.time_zone);
        let to_local = to.with_timezone(&self.time_zone);
        let from_date = from_local.date_naive();
        // `toDate` is exclusive: a partial last day counts as a whole one.
        let mut to_date = to_local.date_naive();
        if to_local.time() != NaiveTime::MIN {
            to_date = to_date.checked_add_days(Days::new(1)).unwrap_or(to_date);
        }
        let today = Utc::now().with_timezone(&self.time_zone).date_naive();
        to_date = to_date.min(today);
        if from_date >= to_date {
            return Err(self.error(ProviderErrorKind::BadInput(format!(
                "the range {from_date}..{to_date} (company time zone {}, end exclusive, not after today) is empty",
                self.time_zone
            ))));
        }
        Ok(Range { from: from_date, to: to_date })
    }

    /// Activity over company-time-zone dates (cached).
    async fn activity_in(
        &self,
        range: Range,
        users: &[String],
        period: AggregationPeriod,
    ) -> Result<Vec<Activity>, ProviderError> {
        let filter = stats_filter(range, users);
        let fingerprint = format!("{:?}|{}", period, serde_json::to_string(&filter).unwrap_or_default());
        let list = self
            .cache
            .get_or_fetch(self.key("activity", fingerprint), ResourceKind::Stats, async {
                Ok(match period_name(period) {
                    None => {
                        let pages = self.client.activity_aggregate(&filter).await?;
                        pages
                            .into_iter()
                            .flat_map(|p| {
                                let tz = p.time_zone.clone();
                                p.users_aggregate_activity_stats
                                    .into_iter()
                                    .map(move |u| mapping::aggregate_activity(u, range, tz.as_deref()))
                            })
                            .collect::<Vec<_>>()
                    }
                    Some(name) => {
                        let pages = self.client.activity_by_period(&filter, name).await?;
                        pages
                            .into_iter()
                            .flat_map(|p| {
                                let tz = p.time_zone.clone();
                                p.users_aggregate_activity
                                    .into_iter()
                                    .flat_map(move |u| mapping::period_activity(u, period, tz.as_deref()))
                            })
                            .collect()
                    }
                })
            })
            .await?;
        Ok(Arc::unwrap_or_clone(list))
    }

    /// Interaction stats over company-time-zone dates (cached).
    async fn interactions_in(&self, range: Range, users: &[String]) -> Result<Vec<Interaction>, ProviderError> {
        let filter = stats_filter(range, users);
        let fingerprint = serde_json::to_string(&filter).unwrap_or_default();
        let list = self
            .cache
            .get_or_fetch(self.key("interactions", fingerprint), ResourceKind::Stats, async {
                let pages = self.client.interaction(&filter).await?;
                Ok(pages
                    .into_iter()
                    .flat_map(|p| {
                        let tz = p.time_zone.clone();
                        p.people_interaction_stats
                            .into_iter()
                            .map(move |u| mapping::interaction(u, range, tz.as_deref()))
                    })
                    .collect::<Vec<_>>())
            })
            .await?;
        Ok(Arc::unwrap_or_clone(list))
    }
}

#[doc(hidden)]
pub use self::client::calls_body as calls_extensive_body;

/// Decodes a `POST /v2/calls/extensive` page and maps its calls, as `list_calls`
/// does (exposed for the criterion benchmarks).
#[doc(hidden)]
pub fn decode_calls_page(body: &[u8]) -> Result<Vec<Call>, String> {
    let page: model::CallsExtensiveResponse = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(page.calls.into_iter().map(mapping::call).collect())
}

/// Every page of `POST {base_url}/v2/calls/extensive` (all calls, asked for as
/// convograph asks), as the wire bytes: what the benchmarks and the memory test
/// measure.
#[doc(hidden)]
pub async fn calls_extensive_pages(base_url: &str, user: &str, password: &str) -> Result<Vec<Vec<u8>>, reqwest::Error> {
    let client = reqwest::Client::new();
    let (mut pages, mut cursor) = (Vec::new(), None::<String>);
    let mut seen = std::collections::HashSet::new();
    loop {
        let mut body = calls_extensive_body(&serde_json::json!({}));
        if let Some(c) = &cursor {
            body["cursor"] = serde_json::json!(c);
        }
        let bytes = client
            .post(format!("{base_url}/v2/calls/extensive"))
            .basic_auth(user, Some(password))
            .json(&body)
            .send()
            .await?
            .bytes()
            .await?
            .to_vec();
        let page: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        cursor = page["records"]["cursor"].as_str().map(str::to_owned);
        pages.push(bytes);
        // The end, or a cursor seen before (a server that loops).
        if cursor.as_ref().is_none_or(|c| !seen.insert(c.clone())) {
            return Ok(pages);
        }
    }
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn period_name(p: AggregationPeriod) -> Option<&'static str> {
    match p {
        AggregationPeriod::Day => Some("DAY"),
        AggregationPeriod::Week => Some("WEEK"),
        AggregationPeriod::Month => Some("MONTH"),
        AggregationPeriod::Total => None,
    }
}

/// What Gong fills (also the source of the README coverage table).
pub fn capabilities() -> Capabilities {
    Capabilities {
        batch_lookups: true,
        users: true,
        calls: true,
        transcripts: true,
        activity: true,
        interactions: true,
        scores: true,
        scorecards: true,
        coaching: true,
        native_call_filters: CallFilterSupport {
            time_range: true,
            hosts: true,
            oldest_first: true,
            ..CallFilterSupport::default()
        },
        ..Capabilities::default()
    }
}

#[async_trait]
impl Provider for GongProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Gong
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
        self.list_users(None).await.map(|_| ())
    }

    async fn list_users(&self, page: Option<String>) -> Result<Page<User>, ProviderError> {
        let key = self.key("users_page", page.clone().unwrap_or_default());
        let page = self
            .cache
            .get_or_fetch(key, ResourceKind::Users, async {
                Ok(match self.client.users_page(page.as_deref()).await? {
                    Some(resp) => Page {
                        next: resp.records.cursor.clone(),
                        total: resp.records.total_records,
                        items: resp.users.into_iter().map(mapping::user).collect(),
                    },
                    None => Page::empty(),
                })
            })
            .await?;
        Ok(Arc::unwrap_or_clone(page))
    }

    async fn users_by_ids(&self, ids: &[String]) -> Result<Vec<User>, ProviderError> {
        let client = self.client.clone();
        let found = self
            .cache
            .get_many(&self.connection, "user", ResourceKind::Users, ids, move |missing| async move {
                let pages = client.users_by_ids(&missing).await?;
                Ok(pages
                    .into_iter()
                    .flat_map(|p| p.users)
                    .map(mapping::user)
                    .map(|u| (u.remote_id.clone(), u))
                    .collect())
            })
            .await?;
        Ok(found.into_values().map(Arc::unwrap_or_clone).collect())
    }

    async fn list_calls(&self, query: &CallQuery, page: Option<String>) -> Result<Page<Call>, ProviderError> {
        let filter = CallsFilter {
            from_date_time: query.from.map(iso),
            to_date_time: query.to.map(iso),
            workspace_id: self.workspace_id.clone(),
            call_ids: None,
            primary_user_ids: (!query.host_remote_ids.is_empty()).then(|| query.host_remote_ids.clone()),
        };
        let fingerprint =
            format!("{}|{}", serde_json::to_string(&filter).unwrap_or_default(), page.as_deref().unwrap_or(""));
        let page = self
            .cache
            .get_or_fetch(self.key("calls_page", fingerprint), ResourceKind::Calls, async {
                Ok(match self.client.calls_page(&filter, page.as_deref()).await? {
                    Some(resp) => Page {
                        next: resp.records.cursor.clone(),
                        total: resp.records.total_records,
                        items: resp.calls.into_iter().map(mapping::call).collect(),
                    },
                    None => Page::empty(),
                })
            })
            .await?;
        Ok(Arc::unwrap_or_clone(page))
    }

    async fn calls_by_ids(&self, ids: &[String]) -> Result<Vec<Call>, ProviderError> {
        let client = self.client.clone();
        let found = self
            .cache
            .get_many(&self.connection, "call", ResourceKind::Calls, ids, move |missing| async move {
                let pages = client.calls_by_ids(&missing).await?;
                Ok(pages
                    .into_iter()
                    .flat_map(|p| p.calls)
                    .map(mapping::call)
                    .map(|c| (c.remote_id.clone(), c))
                    .collect())
            })
            .await?;
        Ok(found.into_values().map(Arc::unwrap_or_clone).collect())
    }

    async fn transcripts(&self, call_ids: &[String]) -> Result<Vec<Transcript>, ProviderError> {
        let client = self.client.clone();
        let found = self
            .cache
            .get_many(&self.connection, "transcript", ResourceKind::Transcripts, call_ids, move |missing| async move {
                let pages = client.transcripts(&missing).await?;
                Ok(pages
                    .into_iter()
                    .flat_map(|p| p.call_transcripts)
                    .map(mapping::transcript)
                    .map(|t| (t.call_remote_id.clone(), t))
                    .collect())
            })
            .await?;
        Ok(found.into_values().map(Arc::unwrap_or_clone).collect())
    }

    async fn activity(&self, query: &StatsQuery) -> Result<Vec<Activity>, ProviderError> {
        let range = self.stats_range(query.from, query.to)?;
        self.activity_in(range, &query.user_remote_ids, query.period).await
    }

    async fn activity_record(
        &self,
        user_remote_id: &str,
        period: AggregationPeriod,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<Activity>, ProviderError> {
        if from >= to {
            return Ok(None);
        }
        let list = self.activity_in(Range { from, to }, &[user_remote_id.to_owned()], period).await?;
        Ok(list.into_iter().find(|a| a.user.remote_id == user_remote_id && a.from_date == from && a.to_date == to))
    }

    async fn interactions(&self, query: &StatsQuery) -> Result<Vec<Interaction>, ProviderError> {
        if query.period != AggregationPeriod::Total {
            return Err(self.unsupported("interactions by day, week or month (Gong aggregates the whole range)"));
        }
        let range = self.stats_range(query.from, query.to)?;
        self.interactions_in(range, &query.user_remote_ids).await
    }

    async fn interaction_record(
        &self,
        user_remote_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<Interaction>, ProviderError> {
        if from >= to {
            return Ok(None);
        }
        let list = self.interactions_in(Range { from, to }, &[user_remote_id.to_owned()]).await?;
        Ok(list.into_iter().find(|i| i.user.remote_id == user_remote_id && i.from_date == from && i.to_date == to))
    }

    /// Calls by start time (`calls/extensive` over the range, every page; ordered by
    /// their end, when Gong can have filed them) and
    /// answered scorecards by review date: Gong has no modified-since form, so a call
    /// appears once it is processed and is not seen to change afterwards.
    async fn changes(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> Result<Changes, ProviderError> {
        let query = CallQuery { from: Some(since), to: Some(until), ..CallQuery::default() };
        let calls = super::all_pages(self, "calls", |page| self.list_calls(&query, page)).await?;
        // By review date (Gong takes days): up to now, whatever the day it ends.
        let scores = Changes::reviewed_since(self, since, until).await?;
        Ok(Changes {
            calls: calls
                .into_iter()
                .map(|call| {
                    // Gong files a call once it has ended and been processed: its end
                    // orders the feed (its start would put a long call before the
                    // short ones filed earlier).
                    let ended = call.started_at.map(|s| {
                        s + chrono::Duration::milliseconds((call.duration_secs.unwrap_or(0.0) * 1000.0) as i64)
                    });
                    ChangedCall { at: ended.unwrap_or(until), call, transcript: None, revision: None }
                })
                .collect(),
            scores,
        })
    }

    async fn list_scores(&self, query: &ScoreQuery, page: Option<String>) -> Result<Page<Score>, ProviderError> {
        let local = |t: Option<DateTime<Utc>>| t.map(|t| day(t.with_timezone(&self.time_zone).date_naive()));
        let body = ScoresRequest {
            cursor: None,
            filter: ScoresFilter {
                call_from_date: local(query.call_from),
                call_to_date: local(query.call_to),
                review_from_date: local(query.review_from),
                review_to_date: local(query.review_to),
                reviewed_user_ids: (!query.reviewed_user_remote_ids.is_empty())
                    .then(|| query.reviewed_user_remote_ids.clone()),
                scorecard_ids: (!query.scorecard_remote_ids.is_empty()).then(|| query.scorecard_remote_ids.clone()),
            },
        };
        let fingerprint =
            format!("{}|{}", serde_json::to_string(&body).unwrap_or_default(), page.as_deref().unwrap_or(""));
        let page = self
            .cache
            .get_or_fetch(self.key("scores_page", fingerprint), ResourceKind::Stats, async {
                Ok(match self.client.scores_page(&body, page.as_deref()).await? {
                    Some(resp) => Page {
                        next: resp.records.cursor.clone(),
                        total: resp.records.total_records,
                        items: resp.answered_scorecards.into_iter().map(mapping::score).collect(),
                    },
                    None => Page::empty(),
                })
            })
            .await?;
        Ok(Arc::unwrap_or_clone(page))
    }

    /// Gong cannot filter answered scorecards by call id, only by the call's date: one
    /// read of the company-time-zone days the calls span (all its pages), split by
    /// call. Each call's reviews are cached on their own (so another page of calls
    /// re-reads only days it needs for calls not yet seen), and calls another request
    /// is reading right now are awaited.
    async fn scores_by_calls(&self, calls: &[CallRef]) -> Result<HashMap<String, Vec<Score>>, ProviderError> {
        let starts: HashMap<String, Option<DateTime<Utc>>> =
            calls.iter().map(|c| (c.remote_id.clone(), c.started_at)).collect();
        let ids: Vec<String> = starts.keys().cloned().collect();
        let (client, tz) = (self.client.clone(), self.time_zone);
        let found = self
            .cache
            .get_many(&self.connection, "call_scores", ResourceKind::Stats, &ids, move |missing| async move {
                // The days of the calls (a call without a start time: every day).
                let days: Option<Vec<NaiveDate>> = missing
                    .iter()
                    .map(|id| starts.get(id).copied().flatten().map(|t| t.with_timezone(&tz).date_naive()))
                    .collect();
                let range =
                    days.and_then(|d| Some((*d.iter().min()?, d.iter().max()?.checked_add_days(Days::new(1))?)));
                let body = ScoresRequest {
                    cursor: None,
                    filter: ScoresFilter {
                        call_from_date: range.map(|(from, _)| day(from)),
                        call_to_date: range.map(|(_, to)| day(to)),
                        ..ScoresFilter::default()
                    },
                };
                let mut by_call: HashMap<String, Vec<Score>> =
                    missing.iter().map(|id| (id.clone(), Vec::new())).collect();
                let mut cursor: Option<String> = None;
                let mut walk = client.transport.walk("answered scorecards");
                loop {
                    let mut page = match client.scores_page(&body, cursor.as_deref()).await {
                        Ok(Some(page)) => page,
                        Ok(None) => break,
                        Err(e) if walk.pages() == 0 => return Err(e),
                        Err(e) => {
                            paging::ended(e);
                            break;
                        }
                    };
                    cursor = page.records.cursor.clone();
                    let step = walk.step_page(|admit| page.retain(admit), cursor.as_deref());
                    for score in page.answered_scorecards.into_iter().map(mapping::score) {
                        if let Some(list) = score.call_remote_id.as_ref().and_then(|c| by_call.get_mut(c)) {
                            list.push(score);
                        }
                    }
                    match step {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => {
                            paging::ended(e);
                            break;
                        }
                    }
                }
                Ok(by_call.into_iter().collect())
            })
            .await?;
        Ok(found.into_iter().map(|(id, scores)| (id, (*scores).clone())).collect())
    }

    async fn scorecards(&self) -> Result<Vec<Scorecard>, ProviderError> {
        let list = self
            .cache
            .get_or_fetch(self.key("scorecards", String::new()), ResourceKind::Stats, async {
                Ok(self
                    .client
                    .scorecards()
                    .await?
                    .map(|r| r.scorecards.into_iter().map(mapping::scorecard).collect::<Vec<_>>())
                    .unwrap_or_default())
            })
            .await?;
        Ok(Arc::unwrap_or_clone(list))
    }

    async fn coaching(&self, query: &CoachingQuery) -> Result<Vec<Coaching>, ProviderError> {
        let Some(workspace) = &self.workspace_id else {
            return Err(self.error(ProviderErrorKind::BadInput(
                "Gong coaching needs the connection's workspace_id to be configured".into(),
            )));
        };
        let (from, to) = (iso(query.from), iso(query.to));
        let fingerprint = format!("{workspace}|{}|{from}|{to}", query.manager_remote_id);
        let list = self
            .cache
            .get_or_fetch(self.key("coaching", fingerprint), ResourceKind::Stats, async {
                Ok(self
                    .client
                    .coaching(workspace, &query.manager_remote_id, &from, &to)
                    .await?
                    .map(|r| r.coaching_data.into_iter().map(mapping::coaching).collect::<Vec<_>>())
                    .unwrap_or_default())
            })
            .await?;
        Ok(Arc::unwrap_or_clone(list))
    }
}

fn stats_filter(range: Range, users: &[String]) -> StatsFilter {
    StatsFilter {
        from_date: day(range.from),
        to_date: day(range.to),
        user_ids: (!users.is_empty()).then(|| users.to_vec()),
    }
}

/// What a Gong automation rule's webhook tells: `{ "callData": { …a calls/extensive
/// record… }, "isTest": bool }`. `Ok(None)` for a test post (the rule's "Test"
/// button); `Err` names what could not be read (never the body itself).
pub fn webhook_changes(body: &serde_json::Value) -> Result<Option<Changes>, String> {
    let object = body.as_object().ok_or("the body is not a JSON object")?;
    if object.get("isTest").and_then(serde_json::Value::as_bool) == Some(true) {
        return Ok(None);
    }
    let data = object.get("callData").ok_or("no `callData`")?;
    let record: crate::providers::wire::WithRaw<model::CallData> =
        serde_json::from_value(data.clone()).map_err(|_| "`callData` is not a call record".to_owned())?;
    let call = mapping::call(record);
    if call.remote_id.trim().is_empty() {
        return Err("`callData.metaData.id` is empty".into());
    }
    // As the change feed orders Gong's calls: by start.
    let at = call.started_at.unwrap_or_else(Utc::now);
    Ok(Some(Changes { calls: vec![ChangedCall { at, call, transcript: None, revision: None }], scores: Vec::new() }))
}
