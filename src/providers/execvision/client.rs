//! ExecVision HTTP operations, and the `since` (+ `last_id`) page walker.
//!
//! The API pages by last-modified time: `since` (seconds are ignored by the server)
//! plus, on some endpoints, `last_id`; the next page may repeat the `last_id` record
//! (a documented bug). The walker never trusts the server on either point: each page
//! token carries the exact last-modified time of the last record and the keys already
//! seen at that time, and records at or before that position are dropped. A page
//! shorter than `limit` is the last one.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

use super::{
    mapping::timestamp,
    model::{RecordList, WithRaw},
};
use crate::providers::{
    ProviderError, ProviderErrorKind,
    paging::{self, hash64},
    transport::{Transport, UpstreamRequest},
};

/// The API's path prefix.
pub(crate) const BASE: &str = "/api/ev/2";
/// Largest page most list endpoints allow.
pub(crate) const MAX_LIMIT: usize = 1000;
/// Largest page of `call_topics`.
pub(crate) const TOPICS_LIMIT: usize = 100;

/// Where a `since`-paged walk stands: after the record(s) at `s`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SinceToken {
    /// Exact last-modified time of the last record read.
    pub(crate) s: String,
    /// Its id, for endpoints that take `last_id`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub(crate) l: Option<String>,
    /// Short hashes of the keys already read with last-modified time `s`.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub(crate) k: Vec<String>,
}

impl SinceToken {
    pub(crate) fn encode(&self) -> String {
        serde_json::to_string(self).expect("tokens serialise")
    }
    pub(crate) fn decode(s: &str) -> Option<Self> {
        serde_json::from_str(s).ok()
    }
}

fn key_hash(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(key.as_bytes())[..6])
}

/// How to read a record's paging position.
pub(crate) struct Positioned<T> {
    /// Last-modified time as the API wrote it.
    pub(crate) modified: fn(&T) -> Option<String>,
    /// A key unique within the endpoint.
    pub(crate) key: fn(&T) -> String,
    /// What `limit` counts, when not records (`scores`: one scorecard result spans
    /// several answer records).
    pub(crate) unit: Option<fn(&T) -> String>,
}

/// One `since`-paged endpoint.
pub(crate) struct SinceList<'a> {
    pub(crate) path: &'a str,
    pub(crate) limit: usize,
    pub(crate) takes_last_id: bool,
    pub(crate) params: Vec<(String, String)>,
}

pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The ExecVision endpoints convograph uses.
#[derive(Debug)]
pub(crate) struct EvClient {
    pub(crate) transport: Transport,
}

impl EvClient {
    fn error(&self, kind: ProviderErrorKind) -> ProviderError {
        self.transport.error_of(kind)
    }

    /// GETs and decodes; `Ok(None)` on 404.
    pub(crate) async fn get<T: DeserializeOwned>(&self, req: UpstreamRequest) -> Result<Option<T>, ProviderError> {
        let resp = self.transport.send(&req).await?;
        match resp.status {
            200..=299 => self.transport.decode(&resp.body).map(Some),
            404 => Ok(None),
            status => Err(self.transport.status_error(status)),
        }
    }

    pub(crate) async fn get_list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<WithRaw<T>>, ProviderError> {
        Ok(self
            .get::<RecordList<T>>(UpstreamRequest::get(format!("{BASE}{path}")))
            .await?
            .map(Vec::from)
            .unwrap_or_default())
    }

    /// `GET check`: succeeds when the credentials work.
    pub(crate) async fn check(&self) -> Result<(), ProviderError> {
        let resp = self.transport.send(&UpstreamRequest::get(format!("{BASE}/check"))).await?;
        match resp.status {
            200..=299 => Ok(()),
            status => Err(self.transport.status_error(status)),
        }
    }

    /// One page of a `since`-paged list, after `token` (or from `start`).
    pub(crate) async fn since_page<T: DeserializeOwned>(
        &self,
        list: &SinceList<'_>,
        pos: &Positioned<T>,
        start: DateTime<Utc>,
        token: Option<&SinceToken>,
    ) -> Result<(Vec<WithRaw<T>>, Option<SinceToken>), ProviderError> {
        let since = token.map_or_else(|| iso(start), |t| t.s.clone());
        let mut req = UpstreamRequest::get(format!("{BASE}{}", list.path))
            .param("since", since)
            .param("limit", list.limit.to_string());
        if list.takes_last_id
            && let Some(last) = token.and_then(|t| t.l.clone())
        {
            req = req.param("last_id", last);
        }
        for (k, v) in &list.params {
            req = req.param(k, v.clone());
        }
        let raw: Vec<WithRaw<T>> = self.get::<RecordList<T>>(req).await?.map(Vec::from).unwrap_or_default();
        let raw_len = match pos.unit {
            Some(unit) => raw.iter().map(|r| unit(&r.data)).collect::<std::collections::HashSet<_>>().len(),
            None => raw.len(),
        };

        // Drop what was read before: older than the token's time, or read at that time.
        let after = token.and_then(|t| timestamp(Some(&t.s)).map(|ts| (ts, t)));
        let mut fresh = Vec::with_capacity(raw.len());
        let mut last: Option<(String, String)> = None;
        for item in raw {
            let modified = (pos.modified)(&item.data);
            let key = (pos.key)(&item.data);
            let at = modified.as_deref().and_then(|m| timestamp(Some(m)));
            let seen = match (&after, at) {
                (Some((ts, t)), Some(at)) => at < *ts || (at == *ts && t.k.contains(&key_hash(&key))),
                _ => false,
            };
            if let Some(m) = &modified {
                last = Some((m.clone(), key));
            }
            if !seen {
                fresh.push(item);
            }
        }
        if raw_len < list.limit {
            return Ok((fresh, None));
        }
        let Some((last_modified, last_key)) = last else {
            return Err(self.error(ProviderErrorKind::Decode("records without a modified time cannot be paged".into())));
        };
        let last_at = timestamp(Some(&last_modified));
        let mut keys: Vec<String> = match &after {
            Some((ts, t)) if Some(*ts) == last_at => t.k.clone(),
            _ => Vec::new(),
        };
        for item in &fresh {
            let m = (pos.modified)(&item.data);
            if m.as_deref().and_then(|m| timestamp(Some(m))) == last_at {
                keys.push(key_hash(&(pos.key)(&item.data)));
            }
        }
        let next = SinceToken { s: last_modified, l: list.takes_last_id.then_some(last_key), k: keys };
        if fresh.is_empty() && token == Some(&next) {
            // The page brought nothing past the token (the server ignored it, or more
            // than `limit` records share one modified time): the walk ends here.
            paging::ended(self.error(ProviderErrorKind::PagingLoop(format!(
                "{}: a page brought no record past the last one read (more than {} records share one modified time, \
                 or the server ignored `since`)",
                list.path, list.limit
            ))));
            return Ok((fresh, None));
        }
        Ok((fresh, Some(next)))
    }

    /// Every page of a `since`-paged list.
    pub(crate) async fn since_all<T: DeserializeOwned>(
        &self,
        list: &SinceList<'_>,
        pos: &Positioned<T>,
        start: DateTime<Utc>,
    ) -> Result<Vec<WithRaw<T>>, ProviderError> {
        let mut walk = self.transport.walk(list.path.to_owned());
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let (mut items, next) = match self.since_page(list, pos, start, token.as_ref()).await {
                Ok(page) => page,
                Err(e) if walk.pages() == 0 => return Err(e),
                Err(e) => {
                    paging::ended(e);
                    return Ok(out);
                }
            };
            let token_text = next.as_ref().map(SinceToken::encode);
            let step = walk.step_dedup(&mut items, |i| hash64(&(pos.key)(&i.data)), token_text.as_deref());
            out.extend(items);
            match step {
                Ok(true) => token = next,
                Ok(false) => return Ok(out),
                Err(e) => {
                    paging::ended(e);
                    return Ok(out);
                }
            }
        }
    }
}
