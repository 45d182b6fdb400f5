//! Persisted queries: Apollo's automatic persisted queries (APQ), and a safelist
//! mode that runs only registered operations.
//!
//! APQ (`extensions.persistedQuery = { version: 1, sha256Hash }`): a request with
//! only the hash runs the query stored under it, or fails with
//! `PERSISTED_QUERY_NOT_FOUND` (message `PersistedQueryNotFound`, which Apollo
//! Client and urql react to by resending the query with its hash); a request with
//! both is checked (the hash must be the query's SHA-256) and, once the query has
//! passed the limits, stored. The store is bounded by the size of the query text
//! it holds (`persisted_queries.apq_cache_mib`), not by a count, so large queries
//! cannot exhaust memory. With Redis configured ([`crate::shared`]) stored queries
//! are kept there too for [`SHARED_TTL`], so a hash registered on one replica runs
//! on every other (a query read back is checked against its hash).
//!
//! Safelist (`persisted_queries.safelist: FILE`): the file is an Apollo persisted
//! query manifest (`{"format": "apollo-persisted-query-manifest", "operations":
//! [{"id", "body", ...}]}`) or a plain JSON object of id → query (Relay's
//! `persisted-queries.json`). A request runs when it names a registered id (or the
//! SHA-256 of a registered body) in `persistedQuery.sha256Hash`, or when its query
//! text is exactly a registered body; anything else is
//! `PERSISTED_QUERY_NOT_IN_LIST`, and nothing new is ever stored.

use std::{collections::HashMap, path::Path, sync::Arc};

use async_graphql::{Request, ServerResult};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{
    config::PersistedQuerySettings,
    error::{ErrorCode, request_error},
    shared::Shared,
};

/// How long Redis keeps an APQ query after it was last registered.
pub const SHARED_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The persisted-query policy of a schema.
#[derive(Clone, Default)]
pub struct PersistedQueries {
    apq: Option<moka::sync::Cache<String, Arc<str>>>,
    safelist: Option<Arc<Safelist>>,
    shared: Option<Shared>,
}

impl std::fmt::Debug for PersistedQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistedQueries")
            .field("apq", &self.apq.is_some())
            .field("safelist", &self.safelist.as_ref().map(|s| s.by_id.len()))
            .finish()
    }
}

#[derive(Debug, Default)]
struct Safelist {
    /// Registered id → body.
    by_id: HashMap<String, Arc<str>>,
    /// SHA-256 (hex) of each body → body.
    by_hash: HashMap<String, Arc<str>>,
}

#[derive(Deserialize)]
struct PersistedQueryExtension {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ManifestFile {
    Apollo { operations: Vec<ManifestOperation> },
    Map(HashMap<String, String>),
}

#[derive(Deserialize)]
struct ManifestOperation {
    id: String,
    body: String,
}

/// The hex SHA-256 of a query text (the APQ hash).
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl PersistedQueries {
    /// From settings: reads the safelist file, if any.
    pub fn from_settings(settings: &PersistedQuerySettings) -> Result<Self, String> {
        if let Some(path) = &settings.safelist {
            return Ok(Self { apq: None, safelist: Some(Arc::new(read_safelist(path)?)), shared: None });
        }
        if !settings.apq {
            return Ok(Self::default());
        }
        let bytes = settings.apq_cache_mib.saturating_mul(1024 * 1024);
        let apq = moka::sync::Cache::builder()
            .max_capacity(bytes)
            .weigher(|k: &String, v: &Arc<str>| u32::try_from(k.len() + v.len()).unwrap_or(u32::MAX))
            .build();
        Ok(Self { apq: Some(apq), safelist: None, shared: None })
    }

    /// Shares the APQ store with the other replicas through Redis (APQ mode only).
    pub fn with_shared(mut self, shared: Option<Shared>) -> Self {
        self.shared = shared.filter(|_| self.apq.is_some());
        self
    }

    fn shared_key(shared: &Shared, hash: &str) -> String {
        shared.key(&["apq", hash])
    }

    /// Before [`Self::resolve`]: when `request` names by hash only a query this
    /// replica does not hold, looks for it in Redis (another replica may have
    /// registered it). Redis unreachable: nothing found, as without it.
    pub(crate) async fn recall(&self, request: &Request) {
        let (Some(apq), Some(shared)) = (&self.apq, &self.shared) else { return };
        if !request.query.is_empty() {
            return;
        }
        let Some(hash) = request
            .extensions
            .get("persistedQuery")
            .and_then(|v| async_graphql::from_value::<PersistedQueryExtension>(v.clone()).ok())
            .map(|pq| pq.sha256_hash)
        else {
            return;
        };
        if apq.contains_key(&hash) {
            return;
        }
        let key = Self::shared_key(shared, &hash.to_ascii_lowercase());
        let query: Option<Option<String>> =
            shared.run(|mut conn| async move { redis::cmd("GET").arg(&key).query_async(&mut conn).await }).await;
        // Kept only when it is the query of that hash.
        if let Some(query) = query.flatten().filter(|q| sha256_hex(q) == hash.to_ascii_lowercase()) {
            apq.insert(hash, Arc::from(query));
        }
    }

    /// APQ only, with this many MiB of store (for tests and embedding).
    pub fn apq(mib: u64) -> Self {
        Self::from_settings(&PersistedQuerySettings { apq: true, apq_cache_mib: mib, safelist: None })
            .expect("no file to read")
    }

    /// Number of registered operations in safelist mode.
    pub fn safelist_len(&self) -> Option<usize> {
        self.safelist.as_ref().map(|s| s.by_id.len())
    }

    /// Puts the document `request` should run in `request.query`. Returns the hash
    /// under which to store the query once it has passed the limits (APQ only).
    pub(crate) fn resolve(&self, request: &mut Request) -> ServerResult<Option<String>> {
        let ext = match request.extensions.remove("persistedQuery") {
            Some(v) => {
                let pq: PersistedQueryExtension = async_graphql::from_value(v)
                    .map_err(|_| request_error(ErrorCode::BadRequest, "invalid `persistedQuery` extension"))?;
                if pq.version != 1 {
                    return Err(request_error(ErrorCode::BadRequest, "only `persistedQuery` version 1 is supported"));
                }
                Some(pq.sha256_hash)
            }
            None => None,
        };
        if let Some(list) = &self.safelist {
            return list.resolve(request, ext).map(|()| None);
        }
        let Some(hash) = ext else { return Ok(None) };
        let Some(apq) = &self.apq else {
            if request.query.is_empty() {
                return Err(request_error(ErrorCode::PersistedQueryNotSupported, "PersistedQueryNotSupported"));
            }
            return Ok(None);
        };
        if request.query.is_empty() {
            return match apq.get(&hash) {
                Some(query) => {
                    request.query = query.to_string();
                    Ok(None)
                }
                None => Err(request_error(ErrorCode::PersistedQueryNotFound, "PersistedQueryNotFound")),
            };
        }
        if sha256_hex(&request.query) != hash.to_ascii_lowercase() {
            return Err(request_error(ErrorCode::BadRequest, "provided sha does not match query"));
        }
        Ok(Some(hash.to_ascii_lowercase()))
    }

    /// Stores an APQ query that passed the limits.
    pub(crate) fn remember(&self, hash: String, query: &str) {
        if let Some(apq) = &self.apq {
            if let (Some(shared), Ok(runtime)) = (&self.shared, tokio::runtime::Handle::try_current()) {
                let (shared, key, query) = (shared.clone(), Self::shared_key(shared, &hash), query.to_owned());
                let secs = SHARED_TTL.as_secs();
                runtime.spawn(async move {
                    let _: Option<()> = shared
                        .run(|mut conn| async move {
                            redis::cmd("SET").arg(&key).arg(query).arg("EX").arg(secs).query_async(&mut conn).await
                        })
                        .await;
                });
            }
            apq.insert(hash, Arc::from(query));
        }
    }
}

impl Safelist {
    fn resolve(&self, request: &mut Request, hash: Option<String>) -> ServerResult<()> {
        let not_in_list = || {
            request_error(
                ErrorCode::PersistedQueryNotInList,
                "this server only runs registered operations, and this one is not registered",
            )
        };
        if let Some(hash) = hash {
            let body = self.by_id.get(&hash).or_else(|| self.by_hash.get(&hash.to_ascii_lowercase()));
            let body = body.ok_or_else(not_in_list)?;
            if !request.query.is_empty() && request.query.as_str() != &**body {
                return Err(request_error(ErrorCode::BadRequest, "the query is not the registered one for this id"));
            }
            request.query = body.to_string();
            return Ok(());
        }
        if !request.query.is_empty() && self.by_hash.contains_key(&sha256_hex(&request.query)) {
            return Ok(());
        }
        Err(not_in_list())
    }
}

fn read_safelist(path: &Path) -> Result<Safelist, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: ManifestFile = serde_json::from_str(&text).map_err(|e| {
        format!("{} is neither an Apollo persisted query manifest nor an object of id → query: {e}", path.display())
    })?;
    let pairs: Vec<(String, String)> = match file {
        ManifestFile::Apollo { operations } => operations.into_iter().map(|o| (o.id, o.body)).collect(),
        ManifestFile::Map(map) => map.into_iter().collect(),
    };
    let mut list = Safelist::default();
    for (id, body) in pairs {
        if let Err(e) = async_graphql::parser::parse_query(&body) {
            return Err(format!("{}: operation '{id}' does not parse: {e}", path.display()));
        }
        let body: Arc<str> = Arc::from(body);
        list.by_hash.insert(sha256_hex(&body), body.clone());
        list.by_id.insert(id, body);
    }
    if list.by_id.is_empty() {
        return Err(format!("{} registers no operation", path.display()));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use async_graphql::ServerError;

    use super::*;

    fn with_hash(query: &str, hash: &str) -> Request {
        let mut r = Request::new(query);
        r.extensions.insert(
            "persistedQuery".into(),
            async_graphql::Value::from_json(serde_json::json!({ "version": 1, "sha256Hash": hash })).unwrap(),
        );
        r
    }

    fn code(e: &ServerError) -> String {
        e.extensions.as_ref().and_then(|x| x.get("code")).map(|v| v.to_string()).unwrap_or_default()
    }

    #[test]
    fn apq_stores_a_checked_query_and_serves_it_by_hash() {
        let pq = PersistedQueries::apq(1);
        let query = "{ connections { id } }";
        let hash = sha256_hex(query);
        let err = pq.resolve(&mut with_hash("", &hash)).unwrap_err();
        assert_eq!(
            (err.message.as_str(), code(&err).as_str()),
            ("PersistedQueryNotFound", "\"PERSISTED_QUERY_NOT_FOUND\"")
        );
        let err = pq.resolve(&mut with_hash(query, &"0".repeat(64))).unwrap_err();
        assert!(err.message.contains("does not match"));
        let remember = pq.resolve(&mut with_hash(query, &hash)).unwrap();
        pq.remember(remember.unwrap(), query);
        let mut by_hash = with_hash("", &hash);
        assert_eq!(pq.resolve(&mut by_hash).unwrap(), None);
        assert_eq!(by_hash.query, query);
    }

    #[test]
    fn a_safelist_runs_registered_ids_and_bodies_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        let body = "query Conns { connections { id } }";
        std::fs::write(
            &path,
            serde_json::json!({
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{ "id": "conns-v1", "name": "Conns", "type": "query", "body": body }]
            })
            .to_string(),
        )
        .unwrap();
        let pq = PersistedQueries::from_settings(&PersistedQuerySettings {
            safelist: Some(path),
            ..PersistedQuerySettings::default()
        })
        .unwrap();
        assert_eq!(pq.safelist_len(), Some(1));
        let mut by_id = with_hash("", "conns-v1");
        pq.resolve(&mut by_id).unwrap();
        assert_eq!(by_id.query, body);
        pq.resolve(&mut with_hash("", &sha256_hex(body))).unwrap();
        pq.resolve(&mut Request::new(body)).unwrap();
        let err = pq.resolve(&mut Request::new("{ connections { provider } }")).unwrap_err();
        assert_eq!(code(&err), "\"PERSISTED_QUERY_NOT_IN_LIST\"");
        let err = pq.resolve(&mut with_hash("", "nope")).unwrap_err();
        assert_eq!(code(&err), "\"PERSISTED_QUERY_NOT_IN_LIST\"");
    }

    #[tokio::test]
    async fn a_query_registered_on_one_replica_runs_by_hash_on_another() {
        let shared = crate::cache::testing::replicas(2).await;
        let (a, b) = (PersistedQueries::apq(1), PersistedQueries::apq(1));
        let (a, b) = (a.with_shared(Some(shared[0].clone())), b.with_shared(Some(shared[1].clone())));
        let query = "{ connections { provider } }";
        let hash = sha256_hex(query);
        let remember = a.resolve(&mut with_hash(query, &hash)).unwrap();
        a.remember(remember.unwrap(), query);
        // The store is written in the background: wait (bounded) until B sees it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            let mut by_hash = with_hash("", &hash);
            b.recall(&by_hash).await;
            match b.resolve(&mut by_hash) {
                Ok(_) => {
                    assert_eq!(by_hash.query, query);
                    break;
                }
                Err(e) => {
                    assert_eq!(e.message, "PersistedQueryNotFound");
                    assert!(std::time::Instant::now() < deadline, "B never saw the query A registered");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
        // A query in Redis that is not the hash's own is not run.
        let other = sha256_hex("{ other }");
        let key = PersistedQueries::shared_key(&shared[0], &other);
        let _: Option<()> = shared[0]
            .run(|mut conn| async move {
                redis::cmd("SET").arg(&key).arg(query).arg("EX").arg(60).query_async(&mut conn).await
            })
            .await;
        let mut forged = with_hash("", &other);
        b.recall(&forged).await;
        assert_eq!(b.resolve(&mut forged).unwrap_err().message, "PersistedQueryNotFound");
    }
}
