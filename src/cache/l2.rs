//! The second level of the provider-result cache: Redis, shared by the replicas
//! ([`crate::shared`]).
//!
//! An entry missing from a replica's own cache is read from Redis (with the time
//! it has left there); one missing there too is fetched by one replica only: the
//! first to take the key's lock (`SET lock NX PX`) fetches and stores the value,
//! the others poll for it with a short backoff. The holder renews its lock while
//! its fetch runs, so a holder that died is noticed within [`LOCK_TTL`]; a waiter
//! whose holder released the lock without a value (the fetch failed, or its result
//! was partial and not kept), or that waited [`WAIT_MAX`], fetches by itself. So a
//! cold key costs one fetch across the replicas, a failing one at most one per
//! replica, and no request waits on Redis longer than `redis.timeout` per command.
//!
//! Values are stored as [`Encoded::to_wire`] makes them (compressed without this
//! process's dictionaries, so any replica reads them), after the notes kept with
//! them. Keys carry the crate version: a replica of another build never reads a
//! value it might decode differently (postcard has no field names).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use redis::Script;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{CacheKey, pack::Encoded};
use crate::{
    accounting::Note,
    providers::{ProviderError, ProviderErrorKind, ProviderKind},
    shared::Shared,
};

/// A lock left by a holder that stopped renewing it (died) expires after this.
pub(super) const LOCK_TTL: Duration = Duration::from_secs(3);
/// How often a holder renews its locks while it fetches.
const RENEW_EVERY: Duration = Duration::from_secs(1);
/// The longest a replica waits for another's fetch before fetching by itself.
pub(super) const WAIT_MAX: Duration = Duration::from_secs(15);
/// The first and the longest pause between two polls of a waiter.
const POLL_FIRST: Duration = Duration::from_millis(5);
const POLL_MAX: Duration = Duration::from_millis(100);

/// The value format's version (the first byte of every value, and in every key).
const FORMAT: u8 = 1;
/// The key part that keeps builds apart.
const SCHEMA: &str = concat!("v1-", env!("CARGO_PKG_VERSION"));
/// Values larger than this stay local: one such write could outlast `redis.timeout`
/// and take Redis for down.
const VALUE_MAX: usize = 16 * 1024 * 1024;
/// Fingerprints longer than this go into keys as their SHA-256.
const FINGERPRINT_MAX: usize = 64;

/// For each pair `KEYS[2i-1]` (a value), `KEYS[2i]` (its lock): the value (or
/// nil), its time left in ms, and whether the lock is held.
const LOOK: &str = r#"
local out = {}
for i = 1, #KEYS, 2 do
  local n = #out
  out[n + 1] = redis.call('GET', KEYS[i])
  out[n + 2] = redis.call('PTTL', KEYS[i])
  out[n + 3] = redis.call('EXISTS', KEYS[i + 1])
end
return out
"#;

/// Takes each free lock of `KEYS` for token `ARGV[1]` for `ARGV[2]` ms: 1 for each
/// taken, 0 for each held by another.
const CLAIM: &str = r#"
local out = {}
for i, k in ipairs(KEYS) do
  if redis.call('SET', k, ARGV[1], 'NX', 'PX', ARGV[2]) then out[i] = 1 else out[i] = 0 end
end
return out
"#;

/// Renews (`ARGV[2]`: ms) or, without `ARGV[2]`, releases the locks of `KEYS`
/// still held by token `ARGV[1]`.
const KEEP: &str = r#"
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then
    if ARGV[2] then redis.call('PEXPIRE', k, ARGV[2]) else redis.call('DEL', k) end
  end
end
return 0
"#;

/// Redis under the cache.
#[derive(Clone)]
pub(super) struct L2 {
    shared: Shared,
    scripts: Arc<Scripts>,
}

struct Scripts {
    look: Script,
    claim: Script,
    keep: Script,
}

/// A value read from Redis.
pub(super) struct Found {
    pub(super) encoded: Encoded,
    pub(super) notes: Vec<Note>,
    /// Its time left to live.
    pub(super) left: Duration,
}

/// Locks this replica holds while it fetches.
pub(super) struct Lock {
    keys: Vec<String>,
    token: String,
}

/// What a replica does about a key missing from its own cache.
pub(super) enum Claim {
    /// Another replica had it, or fetched it meanwhile.
    Found(Found),
    /// This replica fetches it, holding the lock.
    Held(Lock),
    /// This replica fetches it alone: Redis is not reachable, or the replica that
    /// held the lock left no value, or it took too long.
    Alone,
}

/// A note as Redis keeps it. Only notes kept with data are stored, which are about
/// records ([`ProviderErrorKind::Record`]) or a list that loops
/// ([`ProviderErrorKind::PagingLoop`]); a value with another kind of note stays
/// local.
#[derive(Serialize, Deserialize)]
struct WireNote {
    provider: ProviderKind,
    connection: String,
    loop_: bool,
    message: String,
    record: Option<String>,
}

impl WireNote {
    fn from_note(n: &Note) -> Option<Self> {
        let (loop_, message) = match &n.error.kind {
            ProviderErrorKind::Record(m) => (false, m.clone()),
            ProviderErrorKind::PagingLoop(m) => (true, m.clone()),
            _ => return None,
        };
        n.sticky.then(|| Self {
            provider: n.error.provider,
            connection: n.error.connection.to_string(),
            loop_,
            message,
            record: n.record.clone(),
        })
    }

    fn into_note(self) -> Note {
        let kind = if self.loop_ {
            ProviderErrorKind::PagingLoop(self.message)
        } else {
            ProviderErrorKind::Record(self.message)
        };
        Note::about(ProviderError::new(self.provider, &Arc::from(self.connection), kind), self.record)
    }
}

/// A value and its notes as stored: `[FORMAT][u32 LE length of the notes][notes
/// (postcard)][the value's wire form]`. `None` when a note cannot be stored.
fn to_bytes(encoded: &Encoded, notes: &[Note]) -> Option<Vec<u8>> {
    let notes: Vec<WireNote> = notes.iter().map(WireNote::from_note).collect::<Option<_>>()?;
    let notes = postcard::to_allocvec(&notes).ok()?;
    let value = encoded.to_wire().ok()?;
    let mut out = Vec::with_capacity(5 + notes.len() + value.len());
    out.push(FORMAT);
    out.extend_from_slice(&u32::try_from(notes.len()).ok()?.to_le_bytes());
    out.extend_from_slice(&notes);
    out.extend_from_slice(&value);
    Some(out)
}

fn from_bytes(bytes: &[u8]) -> Result<(Encoded, Vec<Note>), String> {
    let (&format, rest) = bytes.split_first().ok_or("an empty value")?;
    if format != FORMAT {
        return Err(format!("a value of format {format}"));
    }
    let (len, rest) = rest.split_at_checked(4).ok_or("a value cut short")?;
    let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
    let (notes, value) = rest.split_at_checked(len).ok_or("a value cut short")?;
    let notes: Vec<WireNote> = postcard::from_bytes(notes).map_err(|e| format!("notes: {e}"))?;
    let encoded = Encoded::from_wire(value).map_err(|e| e.to_string())?;
    Ok((encoded, notes.into_iter().map(WireNote::into_note).collect()))
}

impl L2 {
    pub(super) fn new(shared: Shared) -> Self {
        let scripts = Scripts { look: Script::new(LOOK), claim: Script::new(CLAIM), keep: Script::new(KEEP) };
        Self { shared, scripts: Arc::new(scripts) }
    }

    fn key(&self, kind: &str, key: &CacheKey) -> String {
        let fingerprint = if key.fingerprint.len() > FINGERPRINT_MAX {
            let digest = Sha256::digest(key.fingerprint.as_bytes());
            format!("h{}", hex::encode(digest))
        } else {
            key.fingerprint.clone()
        };
        self.shared.key(&[kind, SCHEMA, &key.connection, key.op, &fingerprint])
    }

    /// Deletes the shared values of `keys` (a record that changed).
    pub(super) async fn forget(&self, keys: &[CacheKey]) {
        let names: Vec<String> = keys.iter().map(|k| self.value_key(k)).collect();
        let _ = self
            .shared
            .run(|mut conn| async move { redis::cmd("DEL").arg(names).query_async::<i64>(&mut conn).await })
            .await;
    }

    fn value_key(&self, key: &CacheKey) -> String {
        self.key("cache", key)
    }

    fn lock_key(&self, key: &CacheKey) -> String {
        self.key("cache-lock", key)
    }

    /// For each key: its value (if Redis has one with time left) and whether its
    /// lock is held. `None`: Redis did not answer.
    async fn look(&self, keys: &[CacheKey]) -> Option<Vec<(Option<Found>, bool)>> {
        let script = self.scripts.look.clone();
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(self.value_key(k)).key(self.lock_key(k));
        }
        let rows: Vec<(Option<Vec<u8>>, i64, i64)> =
            self.shared.run(|mut conn| async move { invocation.invoke_async(&mut conn).await }).await?;
        if rows.len() != keys.len() {
            return None;
        }
        let out = rows.into_iter().zip(keys).map(|((value, left_ms, locked), key)| {
            let found = value.filter(|_| left_ms > 0).and_then(|bytes| match from_bytes(&bytes) {
                Ok((encoded, notes)) => {
                    Some(Found { encoded, notes, left: Duration::from_millis(left_ms.unsigned_abs()) })
                }
                Err(e) => {
                    tracing::error!(connection = %key.connection, op = key.op, error = %e, "a shared cache value could not be read");
                    None
                }
            });
            (found, locked != 0)
        });
        Some(out.collect())
    }

    /// The values Redis holds for `keys` (`None` for each it has not).
    pub(super) async fn get_many(&self, keys: &[CacheKey]) -> Vec<Option<Found>> {
        match self.look(keys).await {
            Some(rows) => rows.into_iter().map(|(found, _)| found).collect(),
            None => keys.iter().map(|_| None).collect(),
        }
    }

    /// Stores values for `ttl`, each with the notes kept with it. Values whose notes
    /// cannot be stored are left out.
    pub(super) async fn put(&self, values: &[(CacheKey, &Encoded, Vec<Note>)], ttl: Duration) {
        let ms = ttl.as_millis().max(1) as u64;
        let mut pipe = redis::pipe();
        for (key, encoded, notes) in values {
            if let Some(bytes) = to_bytes(encoded, notes).filter(|b| b.len() <= VALUE_MAX) {
                pipe.cmd("SET").arg(self.value_key(key)).arg(bytes).arg("PX").arg(ms).ignore();
            }
        }
        if pipe.cmd_iter().next().is_none() {
            return;
        }
        let _: Option<()> = self.shared.run(|mut conn| async move { pipe.query_async(&mut conn).await }).await;
    }

    /// What to do about `key`, missing from this replica's cache.
    pub(super) async fn claim(&self, key: &CacheKey) -> Claim {
        let keys = std::slice::from_ref(key);
        match self.look(keys).await.and_then(|mut rows| rows.pop()) {
            None => return Claim::Alone,
            Some((Some(found), _)) => return Claim::Found(found),
            Some((None, _)) => {}
        }
        match self.claim_many(keys).await {
            None => Claim::Alone,
            Some((lock, mine)) if mine[0] => Claim::Held(lock),
            Some(_) => self.wait_many(keys).await.pop().flatten().map_or(Claim::Alone, Claim::Found),
        }
    }

    /// Takes the free locks of `keys`: the lock, and which keys it holds. `None`:
    /// Redis did not answer.
    pub(super) async fn claim_many(&self, keys: &[CacheKey]) -> Option<(Lock, Vec<bool>)> {
        let token = format!("{:032x}", rand::random::<u128>());
        let script = self.scripts.claim.clone();
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(self.lock_key(k));
        }
        invocation.arg(&token).arg(LOCK_TTL.as_millis() as u64);
        let taken: Vec<i64> =
            self.shared.run(|mut conn| async move { invocation.invoke_async(&mut conn).await }).await?;
        if taken.len() != keys.len() {
            return None;
        }
        let mine: Vec<bool> = taken.iter().map(|t| *t == 1).collect();
        let held = keys.iter().zip(&mine).filter(|(_, m)| **m).map(|(k, _)| self.lock_key(k)).collect();
        Some((Lock { keys: held, token }, mine))
    }

    /// Waits for the values of `keys`, which other replicas are fetching. A key's
    /// value is `None` when its lock was released without one, when Redis stopped
    /// answering, or after [`WAIT_MAX`].
    pub(super) async fn wait_many(&self, keys: &[CacheKey]) -> Vec<Option<Found>> {
        let deadline = Instant::now() + WAIT_MAX;
        let mut out: Vec<Option<Found>> = keys.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..keys.len()).collect();
        let mut pause = POLL_FIRST;
        while !pending.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(POLL_MAX);
            let asked: Vec<CacheKey> = pending.iter().map(|&i| keys[i].clone()).collect();
            let Some(rows) = self.look(&asked).await else { break };
            let mut still = Vec::new();
            for (i, (found, locked)) in pending.into_iter().zip(rows) {
                match found {
                    Some(found) => out[i] = Some(found),
                    None if locked => still.push(i),
                    None => {}
                }
            }
            pending = still;
        }
        out
    }

    /// Runs `fut` (the holder's fetch), renewing `lock` until it ends.
    pub(super) async fn holding<F: Future>(&self, lock: &Lock, fut: F) -> F::Output {
        if lock.keys.is_empty() {
            return fut.await;
        }
        let renew = async {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                self.keep(lock, Some(LOCK_TTL)).await;
            }
        };
        tokio::select! {
            out = fut => out,
            () = renew => unreachable!("renewing never ends"),
        }
    }

    /// Releases `lock` (after the value, if any, is stored).
    pub(super) async fn release(&self, lock: Lock) {
        if !lock.keys.is_empty() {
            self.keep(&lock, None).await;
        }
    }

    async fn keep(&self, lock: &Lock, renew: Option<Duration>) {
        let script = self.scripts.keep.clone();
        let mut invocation = script.prepare_invoke();
        for k in &lock.keys {
            invocation.key(k);
        }
        invocation.arg(&lock.token);
        if let Some(ttl) = renew {
            invocation.arg(ttl.as_millis() as u64);
        }
        let _: Option<i64> = self.shared.run(|mut conn| async move { invocation.invoke_async(&mut conn).await }).await;
    }
}
