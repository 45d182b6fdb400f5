//! What the live feed already sent: a version per record and a high-water mark
//! per connection. In Redis when it is configured and answers (so the whole
//! cluster sends each version once), in this process otherwise.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use redis::Script;

use crate::shared::Shared;

/// What a record's version was before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seen {
    /// Not seen before.
    New,
    /// Seen with this other version.
    Changed(String),
    /// Seen with this version.
    Same,
}

/// Versions and marks, kept for `ttl` after their last change.
pub(super) struct Marks {
    shared: Option<Shared>,
    ttl: Duration,
    observe: Script,
    local: Mutex<Local>,
}

#[derive(Default)]
struct Local {
    versions: HashMap<String, (String, Instant)>,
    high_water: HashMap<String, DateTime<Utc>>,
    swept: Option<Instant>,
}

/// Compare-and-set of one version: 0 same, 1 new, 2 changed (with the old one).
const OBSERVE: &str = "local old = redis.call('GET', KEYS[1]) \
    if old == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return {0, ''} end \
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) \
    if old then return {2, old} end \
    return {1, ''}";

impl Marks {
    pub(super) fn new(shared: Option<Shared>, ttl: Duration) -> Self {
        Self { shared, ttl, observe: Script::new(OBSERVE), local: Mutex::new(Local::default()) }
    }

    /// Records `version` of `record` at `connection`; says what it was before.
    pub(super) async fn observe(&self, connection: &str, record: &str, version: &str) -> Seen {
        if let Some(shared) = &self.shared {
            let key = shared.key(&["live", "seen", connection, record]);
            let ttl = self.ttl.as_millis() as u64;
            let script = &self.observe;
            let answer = shared
                .run(|mut c| async move {
                    script.key(key).arg(version).arg(ttl).invoke_async::<(i64, String)>(&mut c).await
                })
                .await;
            if let Some((status, old)) = answer {
                // Kept here too, for when Redis goes away.
                self.observe_here(connection, record, version);
                return match status {
                    0 => Seen::Same,
                    1 => Seen::New,
                    _ => Seen::Changed(old),
                };
            }
        }
        self.observe_here(connection, record, version)
    }

    fn observe_here(&self, connection: &str, record: &str, version: &str) -> Seen {
        let mut local = self.local.lock().expect("marks lock");
        let now = Instant::now();
        if local.swept.is_none_or(|t| now.duration_since(t) > self.ttl / 4) {
            let ttl = self.ttl;
            local.versions.retain(|_, (_, at)| now.duration_since(*at) < ttl);
            local.swept = Some(now);
        }
        let key = format!("{connection}\u{0}{record}");
        match local.versions.insert(key, (version.to_owned(), now)) {
            None => Seen::New,
            Some((old, _)) if old == version => Seen::Same,
            Some((old, _)) => Seen::Changed(old),
        }
    }

    /// The end of the last whole poll of `connection`, by any replica.
    pub(super) async fn high_water(&self, connection: &str) -> Option<DateTime<Utc>> {
        if let Some(shared) = &self.shared {
            let key = shared.key(&["live", "mark", connection]);
            let answer = shared
                .run(|mut c| async move { redis::cmd("GET").arg(key).query_async::<Option<String>>(&mut c).await })
                .await;
            if let Some(value) = answer {
                return value.and_then(|v| DateTime::parse_from_rfc3339(&v).ok()).map(|t| t.with_timezone(&Utc));
            }
        }
        self.local.lock().expect("marks lock").high_water.get(connection).copied()
    }

    /// Moves `connection`'s mark to `at`.
    pub(super) async fn set_high_water(&self, connection: &str, at: DateTime<Utc>) {
        self.local.lock().expect("marks lock").high_water.insert(connection.to_owned(), at);
        if let Some(shared) = &self.shared {
            let key = shared.key(&["live", "mark", connection]);
            let value = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            let ttl = self.ttl.as_millis() as u64;
            let _ = shared
                .run(|mut c| async move {
                    redis::cmd("SET").arg(key).arg(value).arg("PX").arg(ttl).query_async::<()>(&mut c).await
                })
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn versions_are_new_then_same_then_changed_per_connection() {
        let marks = Marks::new(None, Duration::from_secs(60));
        assert_eq!(marks.observe("a", "call:1", "v1").await, Seen::New);
        assert_eq!(marks.observe("a", "call:1", "v1").await, Seen::Same);
        assert_eq!(marks.observe("b", "call:1", "v1").await, Seen::New);
        assert_eq!(marks.observe("a", "call:1", "v2").await, Seen::Changed("v1".into()));
        assert_eq!(marks.high_water("a").await, None);
        let t = Utc::now();
        marks.set_high_water("a", t).await;
        assert_eq!(marks.high_water("a").await, Some(t));
        assert_eq!(marks.high_water("b").await, None);
    }
}
