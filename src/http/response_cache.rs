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
//!
//! With Redis configured ([`crate::shared`]), answers are also kept there, under the
//! same key and for the same time, so a query answered by one replica is a hit on
//! the others; Redis unreachable, each replica keeps its own.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::http::{HeaderValue, StatusCode};
use bytes::Bytes;
use moka::{Expiry, future::Cache};
use sha2::{Digest, Sha256};

use crate::shared::Shared;

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
    shared: Option<Shared>,
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
        Self { inner, shared: None }
    }

    /// Keeps answers in Redis too, for the other replicas (when the cache is on).
    pub fn with_shared(mut self, shared: Option<Shared>) -> Self {
        self.shared = shared.filter(|_| self.inner.is_some());
        self
    }

    fn shared_key(shared: &Shared, key: &Key) -> String {
        shared.key(&["response", &hex::encode(key)])
    }

    /// The answer another replica stored under `key`, cached here for the time it
    /// has left.
    async fn get_shared(&self, key: &Key) -> Option<Stored> {
        let shared = self.shared.as_ref()?;
        let k = Self::shared_key(shared, key);
        let (bytes, left_ms): (Option<Vec<u8>>, i64) =
            shared
                .run(|mut conn| async move {
                    redis::pipe().cmd("GET").arg(&k).cmd("PTTL").arg(&k).query_async(&mut conn).await
                })
                .await?;
        let bytes = bytes.filter(|_| left_ms > 0)?;
        let stored = from_bytes(&bytes, Duration::from_millis(left_ms.unsigned_abs()));
        if stored.is_none() {
            tracing::error!("a shared response could not be read");
        }
        stored
    }

    /// Stores `stored` in Redis for its time to live.
    async fn put_shared(&self, key: &Key, stored: &Stored) {
        let Some(shared) = &self.shared else { return };
        let Some(bytes) = to_bytes(stored) else { return };
        let k = Self::shared_key(shared, key);
        let ms = stored.ttl.as_millis().max(1) as u64;
        let _: Option<()> = shared
            .run(|mut conn| async move {
                redis::cmd("SET").arg(&k).arg(bytes).arg("PX").arg(ms).query_async(&mut conn).await
            })
            .await;
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

    /// The answer this replica holds for `key`, if any (no Redis round trip: a miss
    /// here goes on to [`Self::get_or_run`], which asks Redis once).
    pub(super) async fn get_local(&self, key: &Key) -> Option<Stored> {
        self.inner.as_ref()?.get(key).await
    }

    /// The stored answer for `key`, here or in Redis, if there is one.
    #[cfg(test)]
    pub(super) async fn get(&self, key: &Key) -> Option<Stored> {
        let cache = self.inner.as_ref()?;
        if let Some(hit) = cache.get(key).await {
            return Some(hit);
        }
        let stored = self.get_shared(key).await?;
        cache.insert(*key, stored.clone()).await;
        Some(stored)
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
        let mut from_shared = false;
        let entry = cache
            .entry(key)
            .or_try_insert_with(async {
                if let Some(stored) = self.get_shared(&key).await {
                    from_shared = true;
                    return Ok(stored);
                }
                let stored = run.await;
                if stored.ttl.is_zero() {
                    return Err(stored);
                }
                self.put_shared(&key, &stored).await;
                Ok(stored)
            })
            .await;
        match entry {
            Ok(e) => {
                let fresh = e.is_fresh();
                (e.into_value(), !fresh || from_shared)
            }
            Err(not_kept) => (Arc::unwrap_or_clone(not_kept), false),
        }
    }
}

/// An answer as Redis keeps it: `[1][u16 LE status][u32 LE length of the rest of
/// the head][head: content type and operations (postcard)][body]`.
fn to_bytes(stored: &Stored) -> Option<Vec<u8>> {
    let content_type = stored.content_type.to_str().ok()?;
    let head = postcard::to_allocvec(&(content_type, &*stored.operations)).ok()?;
    let mut out = Vec::with_capacity(7 + head.len() + stored.body.len());
    out.push(1);
    out.extend_from_slice(&stored.status.as_u16().to_le_bytes());
    out.extend_from_slice(&u32::try_from(head.len()).ok()?.to_le_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(&stored.body);
    Some(out)
}

/// An answer read back from [`to_bytes`], with `left` to live.
fn from_bytes(bytes: &[u8], left: Duration) -> Option<Stored> {
    let (&1, rest) = bytes.split_first()? else { return None };
    let (status, rest) = rest.split_at_checked(2)?;
    let (len, rest) = rest.split_at_checked(4)?;
    let (head, body) = rest.split_at_checked(u32::from_le_bytes(len.try_into().ok()?) as usize)?;
    let (content_type, operations): (String, Vec<String>) = postcard::from_bytes(head).ok()?;
    Some(Stored {
        status: StatusCode::from_u16(u16::from_le_bytes(status.try_into().ok()?)).ok()?,
        content_type: HeaderValue::from_str(&content_type).ok()?,
        body: Bytes::copy_from_slice(body),
        ttl: left,
        stored_at: Instant::now(),
        operations: operations.into(),
    })
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

    #[tokio::test]
    async fn an_answer_stored_by_one_replica_is_a_hit_on_another() {
        let shared = crate::cache::testing::replicas(2).await;
        let caches: Vec<ResponseCache> =
            shared.into_iter().map(|s| ResponseCache::new(1).with_shared(Some(s))).collect();
        let runs = Arc::new(AtomicU32::new(0));
        let run = || {
            let runs = runs.clone();
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                Stored { operations: Arc::from(["Q".to_owned()]), ..answer(60) }
            }
        };
        let (_, hit) = caches[0].get_or_run([7; 32], run()).await;
        assert!(!hit);
        let (got, hit) = caches[1].get_or_run([7; 32], run()).await;
        assert!(hit, "answered from the other replica's answer");
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!((got.status, &got.body[..], &*got.operations), (StatusCode::OK, &b"{}"[..], &["Q".to_owned()][..]));
        assert!(got.remaining() <= Duration::from_secs(60) && got.remaining() > Duration::from_secs(50));
        assert!(caches[1].get(&[8; 32]).await.is_none());
        let fresh = ResponseCache::new(1).with_shared(crate::cache::testing::replicas(1).await.pop());
        assert!(fresh.get(&[7; 32]).await.is_none(), "another deployment's prefix");
        // Answers not kept are not shared either.
        let _ = caches[0].get_or_run([9; 32], async { answer(0) }).await;
        assert!(caches[1].get(&[9; 32]).await.is_none());
    }
}
