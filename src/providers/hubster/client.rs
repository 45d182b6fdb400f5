//! Hubster engine HTTP operations: a conversation, and its activities for one
//! integration type from a `leid` on. 404 (the conversation does not exist) is "no
//! data"; 408 (the engine timed out) is the provider being unavailable.

use serde::de::DeserializeOwned;

use super::model::{Activity, Conversation, OneRecord, RecordList, WithRaw};
use crate::providers::{
    ProviderError, ProviderErrorKind,
    transport::{Transport, UpstreamRequest, path_segment},
};

/// The Hubster engine endpoints convograph uses.
#[derive(Debug)]
pub(crate) struct HubClient {
    pub(crate) transport: Transport,
}

impl HubClient {
    async fn get<T: DeserializeOwned>(&self, req: UpstreamRequest) -> Result<Option<T>, ProviderError> {
        let resp = self.transport.send(&req).await?;
        match resp.status {
            200..=299 => self.transport.decode(&resp.body).map(Some),
            404 => Ok(None),
            408 => {
                Err(self.transport.error_of(ProviderErrorKind::Unavailable("the engine timed out (HTTP 408)".into())))
            }
            status => Err(self.transport.status_error(status)),
        }
    }

    /// `GET /api/v1/conversations/{id}`: `None` when it does not exist, or when what
    /// the engine sent cannot be read as a conversation (reported, not a failed
    /// request).
    pub(crate) async fn conversation(&self, id: &str) -> Result<Option<WithRaw<Conversation>>, ProviderError> {
        let Some(id) = path_segment(id) else { return Ok(None) };
        let req = UpstreamRequest::get(format!("/api/v1/conversations/{id}"));
        Ok(self.get::<OneRecord<Conversation>>(req).await?.and_then(|r| r.0))
    }

    /// `GET /api/v1/interactions/activities/{id}?type={kind}&leid={leid}`.
    pub(crate) async fn activities(
        &self,
        id: &str,
        kind: &str,
        leid: Option<i64>,
    ) -> Result<Option<Vec<WithRaw<Activity>>>, ProviderError> {
        let Some(id) = path_segment(id) else { return Ok(None) };
        let mut req = UpstreamRequest::get(format!("/api/v1/interactions/activities/{id}")).param("type", kind);
        if let Some(leid) = leid {
            req = req.param("leid", leid.to_string());
        }
        Ok(self.get::<RecordList<Activity>>(req).await?.map(Vec::from))
    }
}
