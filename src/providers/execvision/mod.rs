//! ExecVision (Mediafly Coach) Conversation Intelligence API (`/api/ev/2/`): users,
//! teams, departments, calls (CRM matches, stats, AI summary), transcripts, topic
//! matches, listens, scores and scorecards, feedback, shares, coaching plans and
//! meetings, KPIs.
//!
//! Quirks handled here: lists page by last-modified time (`since`, seconds ignored)
//! and `last_id`, and may repeat the `last_id` record ([`client::EvClient::since_page`]
//! drops repeats and never loses records sharing a modified time); deleted calls are
//! removed from call lists using `calls/deleted`; the rate limit (5/s from 6 AM to
//! 9 PM US Eastern, 25/s otherwise) queues at the server, so the client paces itself
//! to it (a [`RateSchedule`](super::transport::RateSchedule)); transcripts come from
//! the simplified transcript (typed speakers) and fall back to the word-level one of
//! `call/{id}` when that endpoint is not enabled.

mod client;
mod mapping;
mod model;

use std::{collections::HashMap, collections::HashSet, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use futures::{StreamExt, stream};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use self::{
    client::{EvClient, MAX_LIMIT, Positioned, SinceList, SinceToken, TOPICS_LIMIT},
    model::*,
};
use super::{
    CallQuery, CallRef, Capabilities, ChangedCall, Changes, Provider, ProviderError, ProviderKind, ScoreQuery,
    SinceQuery, TopicMatchQuery,
    transport::{RateSchedule, Transport, UpstreamRequest},
};
use crate::{
    cache::{Cache, CacheKey, Cacheable, ResourceKind},
    domain::{
        Call, CallTopicMatches, CoachingPlan, Department, Feedback, KpiDefinition, KpiObservation, Listen, Meeting,
        Page, Raw, Score, Scorecard, Share, Team, Topic, Transcript, User,
    },
};

/// ExecVision's documented schedule: 5 requests/s from 6 AM to 9 PM US Eastern, 25/s otherwise.
pub const DEFAULT_SCHEDULE: RateSchedule = RateSchedule::UsEasternBusinessHours { day: 5.0, night: 25.0 };

/// Requests in flight at once for endpoints without a batch form (`call/{id}`,
/// `transcript/{id}`); the limiter paces them.
const PER_ID_CONCURRENCY: usize = 8;

/// An ExecVision connection.
#[derive(Debug)]
pub struct ExecVisionProvider {
    connection: Arc<str>,
    client: EvClient,
    cache: Cache,
}

fn epoch() -> DateTime<Utc> {
    Utc.timestamp_opt(0, 0).single().expect("the epoch exists")
}

/// A time as the API wrote it.
fn text(t: &Option<TimeText>) -> Option<String> {
    t.as_deref().map(str::to_owned)
}

impl ExecVisionProvider {
    /// Builds the provider of one connection.
    pub fn new(transport: Transport, cache: Cache, connection: Arc<str>) -> Self {
        Self { connection, client: EvClient { transport }, cache }
    }

    fn key(&self, op: &'static str, fingerprint: String) -> CacheKey {
        CacheKey { connection: self.connection.clone(), op, fingerprint }
    }

    /// One cached page of a `since`-paged list, mapped to domain records.
    async fn since_list<T, D>(
        &self,
        op: &'static str,
        list: SinceList<'_>,
        pos: Positioned<T>,
        start: Option<DateTime<Utc>>,
        page: Option<String>,
        map: impl Fn(Vec<WithRaw<T>>) -> Vec<D>,
    ) -> Result<Page<D>, ProviderError>
    where
        T: DeserializeOwned,
        D: Cacheable + Clone,
    {
        let start = start.unwrap_or_else(epoch);
        let token = page.as_deref().and_then(SinceToken::decode);
        let fingerprint =
            format!("{}|{:?}|{}|{}", list.path, list.params, client::iso(start), page.unwrap_or_default());
        let page = self
            .cache
            .get_or_fetch(self.key(op, fingerprint), ResourceKind::Calls, async {
                let (items, next) = self.client.since_page(&list, &pos, start, token.as_ref()).await?;
                Ok(Page { items: map(items), next: next.map(|n| n.encode()), total: None })
            })
            .await?;
        Ok(Arc::unwrap_or_clone(page))
    }

    async fn cached_list<T, D>(
        &self,
        op: &'static str,
        path: &str,
        kind: ResourceKind,
        map: impl Fn(WithRaw<T>) -> D,
    ) -> Result<Vec<D>, ProviderError>
    where
        T: DeserializeOwned,
        D: Cacheable + Clone,
    {
        let list = self
            .cache
            .get_or_fetch(self.key(op, String::new()), kind, async {
                Ok(self.client.get_list::<T>(path).await?.into_iter().map(map).collect::<Vec<_>>())
            })
            .await?;
        Ok(Arc::unwrap_or_clone(list))
    }

    /// Ids of calls deleted since `start` (cached like call lists).
    async fn deleted_since(&self, start: DateTime<Utc>) -> Result<Arc<DeletedIds>, ProviderError> {
        self.cache
            .get_or_fetch(self.key("deleted", client::iso(start)), ResourceKind::Calls, async {
                let list = SinceList { path: "/calls/deleted", limit: MAX_LIMIT, takes_last_id: true, params: vec![] };
                let pos = Positioned::<EvDeletedCall> {
                    modified: |d| text(&d.deleted_at),
                    key: |d| d.id.clone(),
                    unit: None,
                };
                let all = self.client.since_all(&list, &pos, start).await?;
                Ok(DeletedIds(all.into_iter().map(|d| d.data.id).collect()))
            })
            .await
    }

    /// `call/{id}` for each id, concurrently (the limiter paces them).
    async fn calls_raw(&self, ids: &[String]) -> Result<Vec<WithRaw<EvCall>>, ProviderError> {
        let fetches: Vec<_> = ids
            .iter()
            .map(|id| {
                let req = UpstreamRequest::get(format!("{}/call/{id}", client::BASE));
                async move { Ok(self.client.get::<OneRecord<EvCall>>(req).await?.and_then(|r| r.0)) }
            })
            .collect();
        let results: Vec<_> = stream::iter(fetches).buffer_unordered(PER_ID_CONCURRENCY).collect().await;
        let mut out = Vec::new();
        for r in results {
            out.extend(r?);
        }
        Ok(out)
    }

    async fn transcript_of(&self, id: &str) -> Result<Option<Transcript>, ProviderError> {
        let req = UpstreamRequest::get(format!("{}/transcript/{id}", client::BASE));
        match self.client.get::<OneRecord<EvSimplifiedTranscript>>(req).await {
            Ok(Some(OneRecord(Some(t)))) => return Ok(Some(mapping::simplified_transcript(id, t))),
            // Unreadable (reported): the call's own transcript may still be.
            Ok(Some(OneRecord(None))) => {}
            // Not enabled for these credentials (or not there): use the word-level one.
            Ok(None) => {}
            Err(e) if e.status() == Some(403) => {}
            Err(e) => return Err(e),
        }
        let call = self.calls_raw(&[id.to_owned()]).await?.into_iter().next();
        Ok(call.and_then(|c| {
            let words = c.data.transcript.clone()?;
            let raw = Raw::new(c.raw.get("transcript").cloned().unwrap_or_default());
            Some(mapping::word_transcript(id, &words, raw))
        }))
    }

    async fn all_scores(&self) -> Result<Vec<Score>, ProviderError> {
        let all_time = ScoreQuery::default();
        super::all_pages(self, "scores", |page| self.list_scores(&all_time, page)).await
    }
}

/// Ids of deleted calls.
#[derive(Serialize, Deserialize)]
struct DeletedIds(HashSet<String>);

fn call_position() -> Positioned<EvCall> {
    Positioned { modified: |c| text(&c.modified).or_else(|| text(&c.call_time)), key: |c| c.id.clone(), unit: None }
}

/// What ExecVision fills (also the source of the README coverage table).
pub fn capabilities() -> Capabilities {
    Capabilities {
        users: true,
        calls: true,
        transcripts: true,
        scores: true,
        scorecards: true,
        coaching_plans: true,
        teams: true,
        topics: true,
        listens: true,
        feedback: true,
        shares: true,
        kpis: true,
        ..Capabilities::default()
    }
}

#[async_trait]
impl Provider for ExecVisionProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::ExecVision
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
        self.client.check().await
    }

    async fn list_users(&self, _page: Option<String>) -> Result<Page<User>, ProviderError> {
        let teams: HashMap<String, String> = self.teams().await?.into_iter().map(|t| (t.remote_id, t.name)).collect();
        let departments: HashMap<String, String> =
            self.departments().await?.into_iter().map(|d| (d.remote_id, d.name)).collect();
        let users = self
            .cached_list::<EvUser, _>("users", "/users", ResourceKind::Users, |u| {
                mapping::user(u, &teams, &departments)
            })
            .await?;
        let total = users.len() as u64;
        Ok(Page { items: users, next: None, total: Some(total) })
    }

    async fn users_by_ids(&self, ids: &[String]) -> Result<Vec<User>, ProviderError> {
        let wanted: HashSet<&String> = ids.iter().collect();
        Ok(self.list_users(None).await?.items.into_iter().filter(|u| wanted.contains(&u.remote_id)).collect())
    }

    async fn teams(&self) -> Result<Vec<Team>, ProviderError> {
        self.cached_list("teams", "/teams", ResourceKind::Users, mapping::team).await
    }

    async fn departments(&self) -> Result<Vec<Department>, ProviderError> {
        self.cached_list("departments", "/departments", ResourceKind::Users, mapping::department).await
    }

    async fn topics(&self) -> Result<Vec<Topic>, ProviderError> {
        self.cached_list("topics", "/topics", ResourceKind::Stats, mapping::topic).await
    }

    async fn list_calls(&self, query: &CallQuery, page: Option<String>) -> Result<Page<Call>, ProviderError> {
        // A call cannot change state before it happened, so its start bounds `since`.
        let start = query.from.unwrap_or_else(epoch);
        let deleted = self.deleted_since(start).await?;
        let list = SinceList {
            path: "/calls",
            limit: MAX_LIMIT,
            takes_last_id: true,
            params: vec![("include_crm_matches".into(), "true".into())],
        };
        let mut page = self
            .since_list("calls_page", list, call_position(), Some(start), page, |items| {
                items.into_iter().map(mapping::call).collect::<Vec<_>>()
            })
            .await?;
        page.items.retain(|c| !deleted.0.contains(&c.remote_id) && query.matches(c));
        Ok(page)
    }

    /// `call/{id}` per id (no batch form exists), each cached so a call is fetched
    /// once per TTL however many records point at it.
    async fn calls_by_ids(&self, ids: &[String]) -> Result<Vec<Call>, ProviderError> {
        let fetches: Vec<_> = ids
            .iter()
            .cloned()
            .map(|id| async move {
                self.cache
                    .get_or_fetch(self.key("call", id.clone()), ResourceKind::Calls, async {
                        Ok(OptionalCall(
                            self.calls_raw(std::slice::from_ref(&id)).await?.into_iter().next().map(mapping::call),
                        ))
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

    async fn transcripts(&self, call_ids: &[String]) -> Result<Vec<Transcript>, ProviderError> {
        let fetches: Vec<_> = call_ids
            .iter()
            .cloned()
            .map(|id| {
                let key = self.key("transcript", id.clone());
                async move {
                    self.cache
                        .get_or_fetch(key, ResourceKind::Transcripts, async {
                            Ok(OptionalTranscript(self.transcript_of(&id).await?))
                        })
                        .await
                }
            })
            .collect();
        let results: Vec<_> = stream::iter(fetches).buffer_unordered(PER_ID_CONCURRENCY).collect().await;
        let mut out = Vec::new();
        for r in results {
            if let Some(t) = &r?.0 {
                out.push(t.clone());
            }
        }
        Ok(out)
    }

    /// `GET /calls?since=` (with its `last_id` quirk handled by the walk) by
    /// last-modified time, and `GET /scores?since=`: new and changed records alike.
    async fn changes(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> Result<Changes, ProviderError> {
        let calls = super::all_pages(self, "calls", |page| {
            let list = SinceList {
                path: "/calls",
                limit: MAX_LIMIT,
                takes_last_id: true,
                params: vec![("include_crm_matches".into(), "true".into())],
            };
            self.since_list("calls_page", list, call_position(), Some(since), page, |items| {
                items.into_iter().map(mapping::call).collect::<Vec<_>>()
            })
        })
        .await?;
        let scores = Changes::reviewed_since(self, since, until).await?;
        Ok(Changes {
            calls: calls
                .into_iter()
                .map(|call| {
                    let at = super::raw_time(&call.raw, &["modified", "callTime"]).or(call.started_at).unwrap_or(until);
                    ChangedCall { at, call, transcript: None, revision: None }
                })
                .collect(),
            scores,
        })
    }

    async fn list_scores(&self, query: &ScoreQuery, page: Option<String>) -> Result<Page<Score>, ProviderError> {
        let list = SinceList { path: "/scores", limit: MAX_LIMIT, takes_last_id: false, params: vec![] };
        let pos = Positioned::<EvScoreRow> {
            modified: |r| text(&r.modified).or_else(|| text(&r.score_time)),
            key: |r| format!("{}|{}", r.result_id, r.question_id.as_deref().unwrap_or("")),
            unit: Some(|r| r.result_id.clone()),
        };
        let mut page = self.since_list("scores_page", list, pos, query.review_from, page, mapping::scores).await?;
        let emails: Option<HashSet<String>> = if query.reviewed_user_remote_ids.is_empty() {
            None
        } else {
            let users = self.users_by_ids(&query.reviewed_user_remote_ids).await?;
            Some(users.into_iter().filter_map(|u| u.email.map(|e| e.to_ascii_lowercase())).collect())
        };
        page.items.retain(|s| {
            query.review_to.is_none_or(|t| s.reviewed_at.is_some_and(|r| r < t))
                && (query.scorecard_remote_ids.is_empty()
                    || s.scorecard_remote_id.as_ref().is_some_and(|id| query.scorecard_remote_ids.contains(id)))
                && emails.as_ref().is_none_or(|set| {
                    s.reviewed_user_email.as_ref().is_some_and(|e| set.contains(&e.to_ascii_lowercase()))
                })
        });
        Ok(page)
    }

    /// ExecVision has no scores by call: the (cached) scores list, split by call.
    async fn scores_by_calls(&self, calls: &[CallRef]) -> Result<HashMap<String, Vec<Score>>, ProviderError> {
        let mut by_call: HashMap<String, Vec<Score>> =
            calls.iter().map(|c| (c.remote_id.clone(), Vec::new())).collect();
        for score in self.all_scores().await? {
            if let Some(list) = score.call_remote_id.as_ref().and_then(|c| by_call.get_mut(c)) {
                list.push(score);
            }
        }
        Ok(by_call)
    }

    async fn scorecard(&self, id: &str) -> Result<Option<Scorecard>, ProviderError> {
        let card = self
            .cache
            .get_or_fetch(self.key("scorecard", id.to_owned()), ResourceKind::Stats, async {
                let req = UpstreamRequest::get(format!("{}/scorecard/{id}", client::BASE));
                let questions: Option<Vec<WithRaw<EvScorecardQuestion>>> =
                    self.client.get::<RecordList<EvScorecardQuestion>>(req).await?.map(Vec::from);
                Ok(OptionalScorecard(questions.filter(|q| !q.is_empty()).map(|q| mapping::scorecard(id, q))))
            })
            .await?;
        Ok(Arc::unwrap_or_clone(card).0)
    }

    /// ExecVision has no scorecard list: the templates are those the scores use.
    async fn scorecards(&self) -> Result<Vec<Scorecard>, ProviderError> {
        let mut ids: Vec<String> = self.all_scores().await?.into_iter().filter_map(|s| s.scorecard_remote_id).collect();
        ids.sort();
        ids.dedup();
        let mut out = Vec::new();
        for id in ids {
            out.extend(self.scorecard(&id).await?);
        }
        Ok(out)
    }

    async fn list_topic_matches(
        &self,
        query: &TopicMatchQuery,
        page: Option<String>,
    ) -> Result<Page<CallTopicMatches>, ProviderError> {
        let mut params = Vec::new();
        if let Some((window, minimum)) = query.window {
            params.push(("window_length".to_owned(), window.to_string()));
            params.push(("minimum_matches".to_owned(), minimum.to_string()));
        }
        let list = SinceList { path: "/call_topics", limit: TOPICS_LIMIT, takes_last_id: true, params };
        let pos =
            Positioned::<EvTopicMatches> { modified: |t| text(&t.modified), key: |t| t.call_id.clone(), unit: None };
        self.since_list("topic_matches", list, pos, query.since, page, |items| {
            items.into_iter().map(mapping::topic_matches).collect::<Vec<_>>()
        })
        .await
    }

    async fn list_listens(&self, query: &SinceQuery, page: Option<String>) -> Result<Page<Listen>, ProviderError> {
        let list = SinceList { path: "/listens", limit: MAX_LIMIT, takes_last_id: false, params: vec![] };
        let pos = Positioned::<EvListen> {
            modified: |l| text(&l.modified).or_else(|| l.date.clone()),
            key: |l| {
                format!("{}|{}|{}", l.date.as_deref().unwrap_or(""), l.call_id, l.listener.as_deref().unwrap_or(""))
            },
            unit: None,
        };
        self.since_list("listens", list, pos, query.since, page, |items| {
            items.into_iter().map(mapping::listen).collect()
        })
        .await
    }

    async fn list_feedback(&self, query: &SinceQuery, page: Option<String>) -> Result<Page<Feedback>, ProviderError> {
        let list = SinceList { path: "/feedback", limit: MAX_LIMIT, takes_last_id: false, params: vec![] };
        let pos = Positioned::<EvFeedback> {
            modified: |f| text(&f.modified).or_else(|| text(&f.feedback_at)),
            key: |f| {
                format!(
                    "{}|{}|{}",
                    f.call_id,
                    f.feedback_by.as_deref().unwrap_or(""),
                    f.feedback_at.as_deref().unwrap_or("")
                )
            },
            unit: None,
        };
        self.since_list("feedback", list, pos, query.since, page, |items| {
            items.into_iter().map(mapping::feedback).collect()
        })
        .await
    }

    async fn list_shares(&self, query: &SinceQuery, page: Option<String>) -> Result<Page<Share>, ProviderError> {
        let list = SinceList { path: "/shares", limit: MAX_LIMIT, takes_last_id: false, params: vec![] };
        let pos = Positioned::<EvShare> {
            modified: |s| text(&s.shared_at),
            key: |s| {
                format!(
                    "{}|{}|{}",
                    s.call_id,
                    s.shared_by.as_deref().unwrap_or(""),
                    s.shared_at.as_deref().unwrap_or("")
                )
            },
            unit: None,
        };
        self.since_list("shares", list, pos, query.since, page, |items| items.into_iter().map(mapping::share).collect())
            .await
    }

    async fn list_kpis(&self, query: &SinceQuery, page: Option<String>) -> Result<Page<KpiObservation>, ProviderError> {
        let list = SinceList { path: "/kpis", limit: MAX_LIMIT, takes_last_id: false, params: vec![] };
        let pos = Positioned::<EvKpiObservation> {
            modified: |k| text(&k.modified).or_else(|| text(&k.observed_at)),
            key: |k| {
                format!(
                    "{}|{}|{}",
                    k.kpi_id,
                    k.observed_id.as_ref().and_then(Loose::as_id).unwrap_or_default(),
                    k.observed_at.as_deref().unwrap_or("")
                )
            },
            unit: None,
        };
        self.since_list("kpis", list, pos, query.since, page, |items| {
            items.into_iter().map(mapping::kpi_observation).collect()
        })
        .await
    }

    async fn kpi_definition(&self, id: &str) -> Result<Option<KpiDefinition>, ProviderError> {
        let def = self
            .cache
            .get_or_fetch(self.key("kpi", id.to_owned()), ResourceKind::Stats, async {
                let req = UpstreamRequest::get(format!("{}/kpi/{id}", client::BASE));
                let def = self.client.get::<OneRecord<EvKpiDefinition>>(req).await?.and_then(|r| r.0);
                Ok(OptionalKpi(def.map(mapping::kpi_definition)))
            })
            .await?;
        Ok(Arc::unwrap_or_clone(def).0)
    }

    async fn list_coaching_plans(
        &self,
        query: &SinceQuery,
        page: Option<String>,
    ) -> Result<Page<CoachingPlan>, ProviderError> {
        let list = SinceList { path: "/plans", limit: MAX_LIMIT, takes_last_id: false, params: vec![] };
        let pos = Positioned::<EvPlan> {
            modified: |p| text(&p.modified).or_else(|| p.start_date.clone()),
            key: |p| p.plan_id.clone(),
            unit: None,
        };
        self.since_list("plans", list, pos, query.since, page, |items| items.into_iter().map(mapping::plan).collect())
            .await
    }

    async fn list_meetings(&self, query: &SinceQuery, page: Option<String>) -> Result<Page<Meeting>, ProviderError> {
        let list = SinceList { path: "/meetings", limit: MAX_LIMIT, takes_last_id: false, params: vec![] };
        let pos = Positioned::<EvMeeting> {
            modified: |m| text(&m.modified).or_else(|| text(&m.start_time)),
            key: |m| m.meeting_id.clone(),
            unit: None,
        };
        self.since_list("meetings", list, pos, query.since, page, |items| {
            items.into_iter().map(mapping::meeting).collect()
        })
        .await
    }
}

/// A call that may not exist (cached either way).
#[derive(Clone, Serialize, Deserialize)]
struct OptionalCall(Option<Call>);

/// A transcript that may not exist (cached either way).
#[derive(Clone, Serialize, Deserialize)]
struct OptionalTranscript(Option<Transcript>);
/// A scorecard that may not exist.
#[derive(Clone, Serialize, Deserialize)]
struct OptionalScorecard(Option<Scorecard>);
/// A KPI definition that may not exist.
#[derive(Clone, Serialize, Deserialize)]
struct OptionalKpi(Option<KpiDefinition>);

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::{
        config::{Credentials, Secret},
        providers::transport::TrafficPolicy,
        sandbox::{Sandbox, SandboxSettings, execvision::ids, world_ev},
    };

    async fn client_for(sandbox: &Sandbox) -> EvClient {
        let ev = &sandbox.execvision;
        let credentials =
            Credentials::Basic { username: Secret::new(ev.user_id()), password: Secret::new(ev.password()) };
        let policy = TrafficPolicy::resolve(&Default::default(), RateSchedule::Fixed(1000.0));
        let transport = Transport::new(
            ProviderKind::ExecVision,
            Arc::from("ev-test"),
            ev.base_url().parse().unwrap(),
            &credentials,
            policy,
        )
        .unwrap();
        EvClient { transport }
    }

    /// Small pages put page boundaries inside the world's runs of calls that share a
    /// modified time (one run is longer than 100): every call must still come once.
    #[tokio::test]
    async fn small_pages_lose_and_repeat_nothing_inside_runs_of_equal_modified_times() {
        let mut settings = SandboxSettings::default();
        settings.execvision.day_rate_per_sec = 0;
        settings.execvision.night_rate_per_sec = 0;
        let sandbox = Sandbox::start(settings).await.unwrap();
        let data = sandbox.execvision.data();
        let live: Vec<&world_ev::EvCall> = data.calls.iter().filter(|c| c.deleted_at.is_none()).collect();
        let longest_run = world_ev::runs(live.iter().map(|c| c.modified))[0].1;
        assert!(longest_run > 100, "the world has a long run of equal modified times");
        let expected: HashSet<String> = live.iter().map(|c| ids::call_id(c.call)).collect();
        let client = client_for(&sandbox).await;

        for limit in [37, 50, 100] {
            let list = SinceList { path: "/calls", limit, takes_last_id: true, params: vec![] };
            let before = sandbox.execvision.requests("GET", "/api/ev/2/calls");
            let all = client.since_all(&list, &call_position(), epoch()).await.unwrap();
            let got: Vec<String> = all.into_iter().map(|c| c.data.id).collect();
            let unique: HashSet<String> = got.iter().cloned().collect();
            assert_eq!(unique.len(), got.len(), "limit {limit}: a call came twice");
            assert_eq!(unique, expected, "limit {limit}: calls lost or extra");
            let requests = sandbox.execvision.requests("GET", "/api/ev/2/calls") - before;
            // Each page after the first repeats one record: at most limit - 1 new ones.
            assert!(
                requests <= 1 + (expected.len() as u64).div_ceil(limit as u64 - 1),
                "limit {limit}: {requests} requests"
            );
        }
        sandbox.shutdown().await;
    }

    /// Where `transcript/{id}` is not enabled (404, or 403), the transcript comes from
    /// the word-level transcript of `call/{id}`.
    #[tokio::test]
    async fn transcripts_fall_back_to_the_word_level_transcript() {
        use axum::{Router, http::StatusCode, routing::get};
        let call = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/execvision/call.json"))
            .unwrap();
        for refusal in [StatusCode::NOT_FOUND, StatusCode::FORBIDDEN] {
            let body = call.clone();
            let app = Router::new().route("/api/ev/2/transcript/{id}", get(move || async move { refusal })).route(
                "/api/ev/2/call/{id}",
                get(move || async move { ([("content-type", "application/json")], body) }),
            );
            let credentials = Credentials::Basic { username: Secret::new("u"), password: Secret::new("p") };
            let transport =
                crate::providers::transport::loopback(ProviderKind::ExecVision, "ev", &credentials, app).await;
            let provider = ExecVisionProvider::new(transport, Cache::new(&Default::default()), Arc::from("ev"));
            let t = provider.transcripts(&["a987a7b3-74e9-421e-8c96-2fdcfbda1c8b".into()]).await.unwrap();
            assert_eq!(t.len(), 1, "{refusal}");
            assert_eq!(t[0].segments[0].text, "hey, there.");
            assert_eq!(t[0].speakers.as_ref().unwrap().len(), 2);
        }
    }

    #[tokio::test]
    async fn the_since_only_lists_also_page_without_loss() {
        let mut settings = SandboxSettings::default();
        settings.execvision.day_rate_per_sec = 0;
        settings.execvision.night_rate_per_sec = 0;
        let sandbox = Sandbox::start(settings).await.unwrap();
        let client = client_for(&sandbox).await;
        let list = SinceList { path: "/feedback", limit: 7, takes_last_id: false, params: vec![] };
        let pos = Positioned::<EvFeedback> {
            modified: |f| text(&f.modified).or_else(|| text(&f.feedback_at)),
            key: |f| {
                format!(
                    "{}|{}|{}",
                    f.call_id,
                    f.feedback_by.as_deref().unwrap_or(""),
                    f.feedback_at.as_deref().unwrap_or("")
                )
            },
            unit: None,
        };
        let all = client.since_all(&list, &pos, epoch()).await.unwrap();
        assert_eq!(all.len(), sandbox.execvision.data().feedback.len());
        sandbox.shutdown().await;
    }
}
