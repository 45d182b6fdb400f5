//! Contract tests from Gong's own OpenAPI document: for every endpoint convograph
//! calls, responses generated from the document (its examples, every field absent,
//! every field null, a few hundred random valid ones and as many in the forms
//! providers send besides the documented one, seeded) are served on loopback and
//! read through the Gong client and mapping. None may fail to decode, and no record
//! may be lost without saying so: every record with an id comes out with that id,
//! every record without one is left out with an `UPSTREAM_RECORD_INVALID` note.

use std::{
    collections::{BTreeSet, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{Json, Router, extract::State};
use chrono::{TimeZone, Utc};
use convograph::{
    accounting::{self, Note, RequestAccount},
    cache::Cache,
    config::{CacheSettings, Credentials, Secret, TrafficSettings},
    domain::AggregationPeriod,
    providers::{
        CallQuery, CallRef, CoachingQuery, Provider, ProviderErrorKind, ProviderKind, ScoreQuery, StatsQuery,
        gong::GongProvider,
        transport::{RateSchedule, TrafficPolicy, Transport},
    },
};
use serde_json::Value;

use crate::openapi::{Doc, Mode, another_kind};

/// Random responses tried per endpoint and mode (`Random`, `Odd`).
const RANDOM_PER_ENDPOINT: u64 = 200;

/// A loopback server answering every request with the next body queued, or the last
/// one again (a server that repeats itself, as a mock in examples mode does).
#[derive(Clone, Default)]
struct Mock {
    bodies: Arc<Mutex<(VecDeque<Value>, Value)>>,
    requests: Arc<AtomicU64>,
}

impl Mock {
    async fn start(&self) -> String {
        async fn answer(State(mock): State<Mock>) -> Json<Value> {
            mock.requests.fetch_add(1, Ordering::SeqCst);
            let mut q = mock.bodies.lock().unwrap();
            if let Some(next) = q.0.pop_front() {
                q.1 = next;
            }
            Json(q.1.clone())
        }
        let app = Router::new().fallback(answer).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    }

    fn serve(&self, body: Value) {
        let mut q = self.bodies.lock().unwrap();
        q.0.clear();
        q.0.push_back(body);
        self.requests.store(0, Ordering::SeqCst);
    }
}

fn gong(base_url: &str) -> GongProvider {
    let credentials = Credentials::Basic { username: Secret::new("key"), password: Secret::new("secret") };
    let traffic = TrafficSettings { rate_per_sec: Some(100_000.0), max_retries: Some(0), ..Default::default() };
    let policy = TrafficPolicy::resolve(&traffic, RateSchedule::Fixed(3.0));
    let transport =
        Transport::new(ProviderKind::Gong, Arc::from("gong-contract"), base_url.parse().unwrap(), &credentials, policy)
            .unwrap();
    // Nothing cached: every call reads the body just served.
    let cache = Cache::new(&CacheSettings {
        calls_ttl: Default::default(),
        users_ttl: Default::default(),
        transcripts_ttl: Default::default(),
        stats_ttl: Default::default(),
        ..CacheSettings::default()
    });
    GongProvider::new(transport, cache, Arc::from("gong-contract"), chrono_tz::UTC, Some("623457276584334".into()))
}

/// The endpoints convograph calls, each with the list of records in its response
/// and the key of a record.
#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Users,
    UsersExtensive,
    CallsPage,
    CallsById,
    Transcripts,
    ActivityAggregate,
    ActivityByPeriod,
    Interaction,
    AnsweredScorecards,
    ScoresByCall,
    Scorecards,
    Coaching,
}

impl Endpoint {
    const ALL: [Endpoint; 12] = [
        Self::Users,
        Self::UsersExtensive,
        Self::CallsPage,
        Self::CallsById,
        Self::Transcripts,
        Self::ActivityAggregate,
        Self::ActivityByPeriod,
        Self::Interaction,
        Self::AnsweredScorecards,
        Self::ScoresByCall,
        Self::Scorecards,
        Self::Coaching,
    ];

    fn route(self) -> (&'static str, &'static str) {
        match self {
            Self::Users => ("GET", "/v2/users"),
            Self::UsersExtensive => ("POST", "/v2/users/extensive"),
            Self::CallsPage | Self::CallsById => ("POST", "/v2/calls/extensive"),
            Self::Transcripts => ("POST", "/v2/calls/transcript"),
            Self::ActivityAggregate => ("POST", "/v2/stats/activity/aggregate"),
            Self::ActivityByPeriod => ("POST", "/v2/stats/activity/aggregate-by-period"),
            Self::Interaction => ("POST", "/v2/stats/interaction"),
            Self::AnsweredScorecards | Self::ScoresByCall => ("POST", "/v2/stats/activity/scorecards"),
            Self::Scorecards => ("GET", "/v2/settings/scorecards"),
            Self::Coaching => ("GET", "/v2/coaching"),
        }
    }

    /// The list of records in a response, and where a record keeps its key.
    fn records(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Self::Users | Self::UsersExtensive => ("users", &["id"]),
            Self::CallsPage | Self::CallsById => ("calls", &["metaData", "id"]),
            Self::Transcripts => ("callTranscripts", &["callId"]),
            Self::ActivityAggregate => ("usersAggregateActivityStats", &["userId"]),
            Self::ActivityByPeriod => ("usersAggregateActivity", &["userId"]),
            Self::Interaction => ("peopleInteractionStats", &["userId"]),
            Self::AnsweredScorecards | Self::ScoresByCall => ("answeredScorecards", &["answeredScorecardId"]),
            Self::Scorecards => ("scorecards", &["scorecardId"]),
            Self::Coaching => ("coachingData", &["manager", "id"]),
        }
    }

    /// Whether the walk reads on while the response has a cursor.
    fn walks(self) -> bool {
        !matches!(self, Self::Users | Self::CallsPage | Self::AnsweredScorecards | Self::Scorecards | Self::Coaching)
    }

    /// The keys of the records in `body`: `Some(key)` for a record with one.
    fn keys(self, body: &Value) -> Vec<Option<String>> {
        let (list, path) = self.records();
        let Some(items) = body.get(list).and_then(Value::as_array) else { return Vec::new() };
        items.iter().map(|r| path.iter().try_fold(r, |v, k| v.get(*k)).and_then(key_text)).collect()
    }

    /// Reads `body` (being served) through the provider: the keys of what came out.
    async fn read(self, p: &GongProvider, body: &Value) -> Result<Vec<String>, String> {
        let ids: Vec<String> = self.keys(body).into_iter().flatten().collect();
        let (from, to) =
            (Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(), Utc.with_ymd_and_hms(2024, 2, 1, 0, 0, 0).unwrap());
        let stats = |period| StatsQuery { from, to, user_remote_ids: Vec::new(), period };
        let e = |e: convograph::providers::ProviderError| e.to_string();
        Ok(match self {
            Self::Users => p.list_users(None).await.map_err(e)?.items.into_iter().map(|u| u.remote_id).collect(),
            Self::UsersExtensive => p.users_by_ids(&ids).await.map_err(e)?.into_iter().map(|u| u.remote_id).collect(),
            Self::CallsPage => p
                .list_calls(&CallQuery::default(), None)
                .await
                .map_err(e)?
                .items
                .into_iter()
                .map(|c| c.remote_id)
                .collect(),
            Self::CallsById => p.calls_by_ids(&ids).await.map_err(e)?.into_iter().map(|c| c.remote_id).collect(),
            Self::Transcripts => p.transcripts(&ids).await.map_err(e)?.into_iter().map(|t| t.call_remote_id).collect(),
            Self::ActivityAggregate => p
                .activity(&stats(AggregationPeriod::Total))
                .await
                .map_err(e)?
                .into_iter()
                .map(|a| a.user.remote_id)
                .collect(),
            Self::ActivityByPeriod => p
                .activity(&stats(AggregationPeriod::Week))
                .await
                .map_err(e)?
                .into_iter()
                .map(|a| a.user.remote_id)
                .collect(),
            Self::Interaction => p
                .interactions(&stats(AggregationPeriod::Total))
                .await
                .map_err(e)?
                .into_iter()
                .map(|i| i.user.remote_id)
                .collect(),
            Self::AnsweredScorecards => p
                .list_scores(&ScoreQuery::default(), None)
                .await
                .map_err(e)?
                .items
                .into_iter()
                .map(|s| s.remote_id)
                .collect(),
            Self::ScoresByCall => {
                // The calls the reviews are of.
                let calls: BTreeSet<String> = body["answeredScorecards"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.get("callId").and_then(key_text))
                    .collect();
                let refs: Vec<CallRef> =
                    calls.iter().map(|c| CallRef { remote_id: c.clone(), started_at: Some(from) }).collect();
                p.scores_by_calls(&refs).await.map_err(e)?.into_values().flatten().map(|s| s.remote_id).collect()
            }
            Self::Scorecards => p.scorecards().await.map_err(e)?.into_iter().map(|s| s.remote_id).collect(),
            Self::Coaching => {
                let q = CoachingQuery { manager_remote_id: "1".into(), from, to };
                p.coaching(&q).await.map_err(e)?.into_iter().map(|c| c.manager.remote_id).collect()
            }
        })
    }
}

/// A record's key as convograph reads it: a string, or a number as text.
fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// What reading one body gave.
struct Outcome {
    keys: Result<Vec<String>, String>,
    notes: Vec<Note>,
    requests: u64,
}

async fn read(mock: &Mock, p: &GongProvider, endpoint: Endpoint, body: &Value) -> Outcome {
    mock.serve(body.clone());
    let account = RequestAccount::new();
    let keys = accounting::scope(account.clone(), endpoint.read(p, body)).await;
    let (fields, rest) = account.take_notes();
    let notes = fields.into_iter().map(|(_, n)| n).chain(rest).collect();
    Outcome { keys, notes, requests: mock.requests.load(Ordering::SeqCst) }
}

fn is_record_note(n: &Note) -> bool {
    matches!(n.error.kind, ProviderErrorKind::Record(_))
}

/// Checks one outcome; returns the record notes that are not about a record (or an
/// element of one) left out for lack of its id.
fn check(endpoint: Endpoint, mode: Mode, body: &Value, out: &Outcome) -> Vec<String> {
    let ctx = || format!("{endpoint:?} {mode:?} {body:#}");
    let keys = match &out.keys {
        Ok(k) => k,
        Err(e) => panic!("{:?} failed: {e}\n{}", endpoint, ctx()),
    };
    let expected = endpoint.keys(body);
    let with_key: BTreeSet<&String> = expected.iter().flatten().collect();
    let got: BTreeSet<&String> = keys.iter().collect();
    // Nothing comes out that was not sent.
    assert!(got.is_subset(&with_key), "{:?} invented records: {got:?} vs {with_key:?}\n{}", endpoint, ctx());
    // Every record with a key comes out (a person whose periods all lack their dates
    // has no activity record to come out as; a review of no call is no call's).
    let wanted: BTreeSet<&String> = match endpoint {
        Endpoint::ActivityByPeriod => got.clone(),
        Endpoint::ScoresByCall => body["answeredScorecards"]
            .as_array()
            .into_iter()
            .flatten()
            .zip(&expected)
            .filter(|(r, _)| r.get("callId").and_then(key_text).is_some())
            .filter_map(|(_, k)| k.as_ref())
            .collect(),
        _ => with_key.clone(),
    };
    assert_eq!(got, wanted, "{:?} lost records\n{}", endpoint, ctx());
    // Every record without a key is left out with a note.
    // (Lookups by id of no id ask nothing.)
    let keyless = if out.requests == 0 { 0 } else { expected.iter().filter(|k| k.is_none()).count() };
    let left_out = out.notes.iter().filter(|n| is_record_note(n) && n.error.to_string().contains("left out")).count();
    assert!(left_out >= keyless, "{:?}: {keyless} records without an id, {left_out} notes\n{}", endpoint, ctx());
    // A walk that the same answer repeats is ended at once.
    let most = if endpoint.walks() { 2 } else { 1 };
    assert!(out.requests <= most, "{:?}: {} requests for one page repeated\n{}", endpoint, out.requests, ctx());
    for n in &out.notes {
        assert!(
            matches!(n.error.kind, ProviderErrorKind::Record(_) | ProviderErrorKind::PagingLoop(_)),
            "{:?}: unexpected note {}\n{}",
            endpoint,
            n.error,
            ctx()
        );
    }
    out.notes
        .iter()
        .filter(|n| is_record_note(n) && !n.error.to_string().contains("left out"))
        .map(|n| n.error.to_string())
        .collect()
}

#[tokio::test]
async fn every_endpoint_reads_what_gongs_own_document_describes() {
    let doc = Doc::gong();
    let mock = Mock::default();
    let p = gong(&mock.start().await);
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for endpoint in Endpoint::ALL {
        let (method, path) = endpoint.route();
        let schema = doc.response_schema(method, path);
        let documented = doc.response_keys(method, path);
        let record_keys = doc.record_keys(method, path, endpoint.records().0);
        let mut tried = 0u64;
        let mut refused = 0usize;
        let mut records = 0usize;
        let mut repaired = 0usize;
        let mut left_out = 0usize;
        for (mode, count) in [
            (Mode::Example, 1),
            (Mode::Absent, 1),
            (Mode::Null, 1),
            (Mode::Random, RANDOM_PER_ENDPOINT),
            (Mode::Odd, RANDOM_PER_ENDPOINT),
        ] {
            for seed in 0..count {
                let body = doc.generator(mode, seed).value(schema);
                let out = read(&mock, &p, endpoint, &body).await;
                // Every key is optional in the document, so an odd answer may hold
                // only keys it never describes: that is no Gong answer (every one
                // carries `requestId` or what was asked for), and reading it as an
                // empty page would cache "nothing" for what may be an error. It is a
                // failed read instead.
                if body.as_object().is_some_and(|o| !o.is_empty() && !o.keys().any(|k| documented.contains(k))) {
                    match &out.keys {
                        Err(e) if e.contains("none of the fields of the answer") => refused += 1,
                        other => failures.push(format!("{endpoint:?} {mode:?}: {body} read as {other:?}")),
                    }
                    tried += 1;
                    continue;
                }
                // The same for a list of which no item has a documented key (when it
                // was asked for: a lookup of no id asks nothing).
                let items = body[endpoint.records().0].as_array().cloned().unwrap_or_default();
                if another_kind(&items, &record_keys) && out.requests > 0 {
                    match &out.keys {
                        Err(e) if e.contains("not the answer asked for") => refused += 1,
                        other => failures.push(format!("{endpoint:?} {mode:?}: {body} read as {other:?}")),
                    }
                    tried += 1;
                    continue;
                }
                let field_issues = check(endpoint, mode, &body, &out);
                // What the document says is valid reads without an error; only the
                // odd forms and the all-null records may need repairs.
                if matches!(mode, Mode::Example | Mode::Random) && !field_issues.is_empty() {
                    failures.push(format!("{endpoint:?} {mode:?}: {}", field_issues[0]));
                }
                tried += 1;
                records += endpoint.keys(&body).len();
                repaired += field_issues.len();
                left_out += out.notes.iter().filter(|n| is_record_note(n)).count() - field_issues.len();
            }
        }
        table.push(format!(
            "{method:4} {path:40} {tried:4} responses {records:5} records {left_out:5} left out (no id) {repaired:4} other repairs {refused:3} refused (no documented key)"
        ));
    }
    println!("Gong contract (generated from the OpenAPI document):\n{}", table.join("\n"));
    failures.dedup();
    assert!(failures.is_empty(), "valid responses read with repairs:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn the_documents_own_examples_read_as_the_document_means_them() {
    let doc = Doc::gong();
    let mock = Mock::default();
    let p = gong(&mock.start().await);
    let body = doc.generator(Mode::Example, 0).value(doc.response_schema("POST", "/v2/calls/extensive"));
    // The document's example gives `started` as epoch seconds where its schema says an
    // ISO-8601 string: both are read.
    assert_eq!(body["calls"][0]["metaData"]["started"], serde_json::json!(1518863400.0));
    mock.serve(body.clone());
    let page = p.list_calls(&CallQuery::default(), None).await.unwrap();
    let call = &page.items[0];
    assert_eq!(call.remote_id, "7782342274025937895");
    assert_eq!(call.started_at, Some(Utc.timestamp_opt(1_518_863_400, 0).unwrap()));
    assert_eq!(call.duration_secs, Some(460.0));
    assert_eq!(call.raw["metaData"]["started"], serde_json::json!(1518863400.0), "remoteData is Gong's own");
    // Its cursor is the same on every page: a page, and the list ends.
    assert!(page.next.is_some());
}
