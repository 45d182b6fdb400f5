//! Whole-response cache: a repeated query (same caller, document, operation and
//! variables) within the time to live of the data it was built from is answered with
//! the bytes of the first answer, without executing it again. Twenty identical
//! queries arriving together execute once.
//!
//! Only answers without errors are kept, for the shortest time to live among the
//! provider data they read (the same figure as their `Cache-Control: max-age`), in a
//! cache bounded by bytes. Entries are partitioned by the caller, so one client's
//! answer is never served to another. Requests asking for a cost report
//! (`x-convograph-debug`) or a federated trace bypass it: both describe an execution.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::http::{HeaderValue, StatusCode};
use bytes::Bytes;
use moka::{Expiry, future::Cache};
use sha2::{Digest, Sha256};

/// The key: a digest of the caller's partition and the request.
pub(super) type Key = [u8; 32];

/// A stored answer.
#[derive(Clone, Debug)]
pub(super) struct Stored {
    pub(super) status: StatusCode,
    pub(super) content_type: HeaderValue,
    pub(super) body: Bytes,
    pub(super) ttl: Duration,
    pub(super) stored_at: Instant,
    /// The metrics labels of its operations (counted again on every hit).
    pub(super) operations: Arc<[String]>,
}

impl Stored {
    /// Seconds left to live (for `Cache-Control: max-age` on a hit).
    pub(super) fn remaining(&self) -> Duration {
        self.ttl.saturating_sub(self.stored_at.elapsed())
    }
}

struct StoredTtl;

impl Expiry<Key, Stored> for StoredTtl {
    fn expire_after_create(&self, _key: &Key, value: &Stored, _now: std::time::Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The cache of whole responses.
#[derive(Clone)]
pub struct ResponseCache {
    inner: Option<Cache<Key, Stored>>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache").field("enabled", &self.inner.is_some()).finish()
    }
}

impl ResponseCache {
    /// A cache of at most `max_mib` MiB of response bodies (`0`: off).
    pub fn new(max_mib: u64) -> Self {
        let inner = (max_mib > 0).then(|| {
            Cache::builder()
                .max_capacity(max_mib.saturating_mul(1024 * 1024))
                .weigher(|_k: &Key, v: &Stored| u32::try_from(v.body.len() + 128).unwrap_or(u32::MAX))
                .expire_after(StoredTtl)
                .build()
        });
        Self { inner }
    }

    /// The key of `req` for the caller `partition`, or `None` when the request must
    /// not be answered from the cache.
    pub(super) fn key(&self, partition: &str, media: &str, req: &async_graphql::Request) -> Option<Key> {
        self.inner.as_ref()?;
        let mut h = Sha256::new();
        for part in [partition.as_bytes(), media.as_bytes(), req.query.as_bytes()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        let op = req.operation_name.as_deref().unwrap_or("");
        h.update((op.len() as u64).to_le_bytes());
        h.update(op.as_bytes());
        h.update(serde_json::to_vec(&req.variables).ok()?);
        // Extensions carry persisted-query hashes; key on them in a stable order.
        let mut ext: Vec<_> = req.extensions.iter().collect();
        ext.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in ext {
            h.update(k.as_bytes());
            h.update(serde_json::to_vec(v).ok()?);
        }
        Some(h.finalize().into())
    }

    /// The key of a `POST` body exactly as received, for the caller `partition`: a
    /// repeat of the same bytes is answered before the body is even parsed. (Bytes
    /// that differ only in spacing get another key: a miss, never a wrong answer.)
    pub(super) fn raw_key(&self, partition: &str, media: &str, body: &[u8]) -> Option<Key> {
        self.inner.as_ref()?;
        let mut h = Sha256::new();
        for part in [b"post".as_slice(), partition.as_bytes(), media.as_bytes(), body] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        Some(h.finalize().into())
    }

    /// The stored answer for `key`, if there is one.
    pub(super) async fn get(&self, key: &Key) -> Option<Stored> {
        self.inner.as_ref()?.get(key).await
    }

    /// The stored answer for `key`, or the result of `run`, which is stored when it
    /// says how long it may live. Concurrent callers with the same key share one run.
    pub(super) async fn get_or_run<F>(&self, key: Key, run: F) -> (Stored, bool)
    where
        F: Future<Output = Stored>,
    {
        let Some(cache) = &self.inner else { return (run.await, false) };
        if let Some(hit) = cache.get(&key).await {
            return (hit, true);
        }
        // `Err` carries an answer that must not be kept (errors, uncacheable data) to
        // every caller that waited on this run.
        let entry = cache
            .entry(key)
            .or_try_insert_with(async {
                let stored = run.await;
                if stored.ttl.is_zero() { Err(stored) } else { Ok(stored) }
            })
            .await;
        match entry {
            Ok(e) => {
                let fresh = e.is_fresh();
                (e.into_value(), !fresh)
            }
            Err(not_kept) => (Arc::unwrap_or_clone(not_kept), false),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn answer(ttl: u64) -> Stored {
        Stored {
            status: StatusCode::OK,
            content_type: HeaderValue::from_static("application/json"),
            body: Bytes::from_static(b"{}"),
            ttl: Duration::from_secs(ttl),
            stored_at: Instant::now(),
            operations: Arc::from([]),
        }
    }

    #[tokio::test]
    async fn keys_differ_by_caller_variables_and_operation() {
        let cache = ResponseCache::new(1);
        let req = || async_graphql::Request::new("query A { a } query B { b }");
        let a = cache.key("alice", "json", &req().operation_name("A")).unwrap();
        assert_eq!(a, cache.key("alice", "json", &req().operation_name("A")).unwrap());
        assert_ne!(a, cache.key("bob", "json", &req().operation_name("A")).unwrap());
        assert_ne!(a, cache.key("alice", "json", &req().operation_name("B")).unwrap());
        assert_ne!(a, cache.key("alice", "graphql", &req().operation_name("A")).unwrap());
        let vars = async_graphql::Variables::from_json(serde_json::json!({ "x": 1 }));
        assert_ne!(a, cache.key("alice", "json", &req().operation_name("A").variables(vars)).unwrap());
        assert!(ResponseCache::new(0).key("alice", "json", &req()).is_none());
    }

    #[tokio::test]
    async fn concurrent_runs_coalesce_and_uncacheable_answers_are_not_kept() {
        let cache = ResponseCache::new(1);
        let runs = Arc::new(AtomicU32::new(0));
        let run = |ttl| {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                answer(ttl)
            }
        };
        let results = futures::future::join_all((0..10).map(|_| cache.get_or_run([1; 32], run(60)))).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(results.iter().filter(|(_, hit)| !hit).count(), 1);
        let _ = cache.get_or_run([2; 32], run(0)).await;
        let (_, hit) = cache.get_or_run([2; 32], run(0)).await;
        assert!(!hit);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }
}
