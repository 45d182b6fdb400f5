//! Gong HTTP operations: one method per endpoint, walking `records.cursor` pages
//! where a whole result is wanted, and turning Gong's 404-on-empty into "no data".

use serde::Serialize;
use serde_json::json;

use super::model::{
    AggregateResponse, AnsweredScorecardsResponse, ByPeriodResponse, CallsExtensiveResponse, CallsFilter,
    CoachingResponse, InteractionResponse, Records, ScorecardsResponse, ScoresRequest, StatsFilter, StatsRequest,
    TranscriptResponse, UsersExtensiveRequest, UsersFilter, UsersResponse,
};
use crate::providers::{
    ProviderError,
    paging::{self, hash64},
    transport::{Transport, UpstreamRequest},
};

/// Most ids Gong takes in one filter list (one page of results).
pub(crate) const MAX_IDS_PER_REQUEST: usize = 100;

/// The Gong endpoints convograph uses.
#[derive(Debug)]
pub(crate) struct GongClient {
    pub(crate) transport: Transport,
}

/// What every paged Gong response has: its paging block, and the keys of its
/// records (to tell a page that brings nothing new).
pub(crate) trait Paged {
    fn records(&self) -> &Records;
    /// Keeps the records whose key hash `keep` takes.
    fn retain(&mut self, keep: impl FnMut(u64) -> bool);
}

macro_rules! paged {
    ($($t:ty => $list:ident . $($key:tt).+),* $(,)?) => {$(impl Paged for $t {
        fn records(&self) -> &Records {
            &self.records
        }
        fn retain(&mut self, mut keep: impl FnMut(u64) -> bool) {
            self.$list.0.retain(|r| keep(hash64(&r.data.$($key).+)))
        }
    })*};
}
paged!(
    UsersResponse => users.id,
    CallsExtensiveResponse => calls.meta_data.id,
    TranscriptResponse => call_transcripts.call_id,
    AggregateResponse => users_aggregate_activity_stats.user_id,
    ByPeriodResponse => users_aggregate_activity.user_id,
    InteractionResponse => people_interaction_stats.user_id,
    AnsweredScorecardsResponse => answered_scorecards.answered_scorecard_id.0,
);

impl GongClient {
    /// Sends `req`; `Ok(None)` for Gong's 404 "nothing found".
    async fn fetch<T: serde::de::DeserializeOwned>(&self, req: &UpstreamRequest) -> Result<Option<T>, ProviderError> {
        let resp = self.transport.send(req).await?;
        match resp.status {
            200..=299 => self.transport.decode(&resp.body).map(Some),
            404 => Ok(None),
            status => Err(self.transport.status_error(status)),
        }
    }

    /// POSTs `body` (with `cursor` set per page) and returns one page.
    async fn post_page<B: Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        cursor: Option<&str>,
    ) -> Result<Option<T>, ProviderError> {
        let mut value = serde_json::to_value(body).expect("request bodies serialise");
        if let Some(c) = cursor {
            value["cursor"] = json!(c);
        }
        self.fetch(&UpstreamRequest::post_query(path, value)).await
    }

    /// Every page of a POST list. A walk Gong sends in a circle, or a failure after
    /// the first page, ends with the pages read so far (and a note saying so).
    async fn post_all<B: Serialize, T: serde::de::DeserializeOwned + Paged>(
        &self,
        path: &'static str,
        body: &B,
    ) -> Result<Vec<T>, ProviderError> {
        let mut walk = self.transport.walk(path);
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut page = match self.post_page::<B, T>(path, body, cursor.as_deref()).await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(e) if pages.is_empty() => return Err(e),
                Err(e) => {
                    paging::ended(e);
                    break;
                }
            };
            cursor = page.records().cursor.clone();
            let step = walk.step_page(|admit| page.retain(admit), cursor.as_deref());
            pages.push(page);
            match step {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    paging::ended(e);
                    break;
                }
            }
        }
        Ok(pages)
    }

    pub(crate) async fn users_page(&self, cursor: Option<&str>) -> Result<Option<UsersResponse>, ProviderError> {
        let mut req = UpstreamRequest::get("/v2/users");
        if let Some(c) = cursor {
            req = req.param("cursor", c);
        }
        self.fetch(&req).await
    }

    pub(crate) async fn users_by_ids(&self, ids: &[String]) -> Result<Vec<UsersResponse>, ProviderError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(MAX_IDS_PER_REQUEST) {
            let body = UsersExtensiveRequest { cursor: None, filter: UsersFilter { user_ids: chunk.to_vec() } };
            out.extend(self.post_all::<_, UsersResponse>("/v2/users/extensive", &body).await?);
        }
        Ok(out)
    }

    pub(crate) async fn calls_page(
        &self,
        filter: &CallsFilter,
        cursor: Option<&str>,
    ) -> Result<Option<CallsExtensiveResponse>, ProviderError> {
        self.post_page("/v2/calls/extensive", &calls_body(filter), cursor).await
    }

    pub(crate) async fn calls_by_ids(&self, ids: &[String]) -> Result<Vec<CallsExtensiveResponse>, ProviderError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(MAX_IDS_PER_REQUEST) {
            let filter = CallsFilter { call_ids: Some(chunk.to_vec()), ..CallsFilter::default() };
            out.extend(self.post_all::<_, CallsExtensiveResponse>("/v2/calls/extensive", &calls_body(&filter)).await?);
        }
        Ok(out)
    }

    pub(crate) async fn transcripts(&self, call_ids: &[String]) -> Result<Vec<TranscriptResponse>, ProviderError> {
        let mut out = Vec::new();
        for chunk in call_ids.chunks(MAX_IDS_PER_REQUEST) {
            let body = json!({ "filter": { "callIds": chunk } });
            out.extend(self.post_all::<_, TranscriptResponse>("/v2/calls/transcript", &body).await?);
        }
        Ok(out)
    }

    pub(crate) async fn activity_aggregate(
        &self,
        filter: &StatsFilter,
    ) -> Result<Vec<AggregateResponse>, ProviderError> {
        let body = StatsRequest { cursor: None, aggregation_period: None, filter: filter.clone() };
        self.post_all("/v2/stats/activity/aggregate", &body).await
    }

    pub(crate) async fn activity_by_period(
        &self,
        filter: &StatsFilter,
        period: &'static str,
    ) -> Result<Vec<ByPeriodResponse>, ProviderError> {
        let body = StatsRequest { cursor: None, aggregation_period: Some(period), filter: filter.clone() };
        self.post_all("/v2/stats/activity/aggregate-by-period", &body).await
    }

    pub(crate) async fn interaction(&self, filter: &StatsFilter) -> Result<Vec<InteractionResponse>, ProviderError> {
        let body = StatsRequest { cursor: None, aggregation_period: None, filter: filter.clone() };
        self.post_all("/v2/stats/interaction", &body).await
    }

    pub(crate) async fn scores_page(
        &self,
        body: &ScoresRequest,
        cursor: Option<&str>,
    ) -> Result<Option<AnsweredScorecardsResponse>, ProviderError> {
        self.post_page("/v2/stats/activity/scorecards", body, cursor).await
    }

    pub(crate) async fn scorecards(&self) -> Result<Option<ScorecardsResponse>, ProviderError> {
        self.fetch(&UpstreamRequest::get("/v2/settings/scorecards")).await
    }

    pub(crate) async fn coaching(
        &self,
        workspace_id: &str,
        manager_id: &str,
        from: &str,
        to: &str,
    ) -> Result<Option<CoachingResponse>, ProviderError> {
        let req = UpstreamRequest::get("/v2/coaching")
            .param("workspace-id", workspace_id)
            .param("manager-id", manager_id)
            .param("from", from)
            .param("to", to);
        self.fetch(&req).await
    }
}

/// The `calls/extensive` body for `filter`: lists always ask for the same parts
/// (parties, topics, trackers, brief, speakers and stats) so one cursor chain serves
/// every selection, and nested fields need no second request. Public for the
/// benchmarks and tests that measure what Gong sends for it.
pub fn calls_body(filter: &impl serde::Serialize) -> serde_json::Value {
    json!({
        "filter": filter,
        "contentSelector": {
            "context": "None",
            "exposedFields": {
                "parties": true,
                "content": { "topics": true, "trackers": true, "trackerOccurrences": true, "brief": true },
                "interaction": { "speakers": true, "personInteractionStats": true, "questions": true }
            }
        }
    })
}
