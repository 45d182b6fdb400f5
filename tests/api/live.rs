//! Subscriptions against the sandbox's live calls (the simulators file a new call
//! every `every`): over GraphQL-over-SSE read here as raw `text/event-stream`, and
//! (tests/gateway/live.test.mjs, run from here) with the npm `graphql-ws` and
//! `graphql-sse` clients, 1,000 subscribers among them.

use std::time::Duration;

use chrono::Utc;
use convograph::{
    auth::api_key_sha256,
    config::{ApiKeySettings, AuthSettings, RedisSettings, Settings},
    providers::ProviderKind,
    sandbox::{LiveCalls, SandboxSettings, gong},
};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::helpers::{TestApp, gong_live_call_ids, gong_live_calls, spawn_with_simulators, test_settings};

/// Time between two polls of a connection in these tests.
const POLL: Duration = Duration::from_millis(300);
/// Time between two live calls.
const EVERY: Duration = Duration::from_millis(700);

pub(crate) fn live_settings(providers: Vec<ProviderKind>) -> Settings {
    let mut settings = test_settings();
    if let Some(s) = settings.sandbox.as_mut() {
        s.providers = providers;
    }
    settings.live.poll_interval = POLL;
    settings.live.lookback = Duration::from_secs(3600);
    // Polls every 300 ms spend more than Gong's 3/s: the simulator's and our own
    // limits are raised so the test measures the feed, not the queue.
    settings.traffic.all.rate_per_sec = Some(100.0);
    settings
}

pub(crate) fn live_simulators(count: usize) -> SandboxSettings {
    let mut sims = SandboxSettings { live: Some(LiveCalls::from_now(EVERY, count)), ..SandboxSettings::default() };
    sims.gong.rate_per_sec = 0;
    sims
}

/// One GraphQL-over-SSE subscription: its `next` payloads as they arrive.
pub(crate) struct SseSubscription {
    events: futures::stream::BoxStream<'static, Value>,
}

impl SseSubscription {
    pub(crate) async fn open(app: &TestApp, credential: Option<&str>, query: &str) -> Self {
        Self::open_at(&app.client, &app.url("/graphql"), credential, query).await
    }

    /// A subscription at the GraphQL endpoint `url`.
    pub(crate) async fn open_at(client: &reqwest::Client, url: &str, credential: Option<&str>, query: &str) -> Self {
        let mut req = client.post(url).header("accept", "text/event-stream").json(&json!({ "query": query }));
        if let Some(c) = credential {
            req = req.bearer_auth(c);
        }
        let resp = req.send().await.expect("subscription sent");
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"), "an event stream");
        let events = futures::stream::unfold((resp, String::new()), |(mut resp, mut buf)| async move {
            loop {
                if let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    let mut event = "";
                    let mut data = String::new();
                    for line in block.lines() {
                        if let Some(e) = line.strip_prefix("event:") {
                            event = e.trim();
                        } else if let Some(d) = line.strip_prefix("data:") {
                            data.push_str(d.trim_start());
                        }
                    }
                    match event {
                        "complete" => return None,
                        "next" => return Some((serde_json::from_str(&data).expect("JSON event"), (resp, buf))),
                        _ => continue,
                    }
                }
                match resp.chunk().await {
                    Ok(Some(chunk)) => buf.push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n")),
                    _ => return None,
                }
            }
        })
        .boxed();
        Self { events }
    }

    /// The next payload, within `within` (None: the stream ended or nothing came).
    pub(crate) async fn next(&mut self, within: Duration) -> Option<Value> {
        tokio::time::timeout(within, self.events.next()).await.ok().flatten()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_calls_arrive_once_each_in_order_within_one_poll_interval_over_sse() {
    let app = spawn_with_simulators(live_settings(vec![ProviderKind::Gong]), live_simulators(8)).await;
    let opened = Utc::now();
    let mut sub = SseSubscription::open(
        &app,
        None,
        r#"subscription { callAdded(connectionIds: ["gong-demo"]) { id remoteId title provider startedAt } }"#,
    )
    .await;
    let expected = gong_live_calls(&app.world);
    assert!(expected.len() >= 4, "the live calls include Gong ones");
    let mut got = Vec::new();
    let mut latencies = Vec::new();
    while got.len() < 4 {
        let event = sub.next(Duration::from_secs(10)).await.expect("an event within 10 s");
        assert!(event.get("errors").is_none(), "{event:#}");
        let call = &event["data"]["callAdded"];
        let id = call["remoteId"].as_str().unwrap().to_owned();
        assert_eq!(call["provider"], "GONG");
        let (_, visible) = expected.iter().find(|(e, _)| *e == id).expect("a live call, not an older one");
        latencies.push((Utc::now() - *visible).to_std().unwrap_or_default());
        got.push(id);
    }
    // The first call told is the first filed after the subscription's first poll
    // (what was there before is not news); from it on, every call, once, in order.
    let at = expected.iter().position(|(id, _)| *id == got[0]).unwrap();
    if at > 0 {
        let before = expected[at - 1].1;
        assert!(
            before <= opened + chrono::Duration::from_std(POLL * 2).unwrap(),
            "a call filed after the subscription was skipped"
        );
    }
    let want: Vec<String> = expected[at..at + 4].iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(got, want, "each new call once, in the order they were filed");
    let worst = latencies.iter().max().copied().unwrap_or_default();
    println!("callAdded latencies after the call became visible: {latencies:?} (poll interval {POLL:?})");
    // One poll interval, plus the time a poll and its delivery take on a busy machine.
    assert!(worst <= POLL + Duration::from_millis(700), "latency {worst:?} beyond one poll interval");
    // One poller for the connection.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"convograph_live_pollers{connection="gong-demo"} 1"#), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcripts_becoming_available_are_call_updates() {
    let app = spawn_with_simulators(live_settings(vec![ProviderKind::Salesloft]), live_simulators(4)).await;
    let mut sub = SseSubscription::open(
        &app,
        None,
        r#"subscription { callUpdated { changes at call { remoteId transcript { text } } } }"#,
    )
    .await;
    let event = sub.next(Duration::from_secs(15)).await.expect("an update");
    assert!(event.get("errors").is_none(), "{event:#}");
    let update = &event["data"]["callUpdated"];
    let changes: Vec<&str> = update["changes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(changes.contains(&"TRANSCRIPT"), "{update:#}");
    assert!(
        update["call"]["transcript"]["text"].as_str().is_some_and(|t| !t.is_empty()),
        "the transcript the update announces is readable at once (no stale cache): {update:#}"
    );
}

const GONG_KEY: &str = "live-gong-key";
const SL_KEY: &str = "live-salesloft-key";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_connection_gets_no_events() {
    let mut settings = live_settings(vec![ProviderKind::Gong, ProviderKind::Salesloft]);
    settings.auth = AuthSettings {
        open: false,
        api_keys: vec![
            ApiKeySettings {
                name: "g".into(),
                sha256: api_key_sha256(GONG_KEY),
                connections: vec!["gong-demo".into()],
            },
            ApiKeySettings {
                name: "s".into(),
                sha256: api_key_sha256(SL_KEY),
                connections: vec!["salesloft-demo".into()],
            },
        ],
        jwt: None,
    };
    let app = spawn_with_simulators(settings, live_simulators(6)).await;
    // Naming it: refused at once with FORBIDDEN.
    let mut named = SseSubscription::open(
        &app,
        Some(SL_KEY),
        r#"subscription { callAdded(connectionIds: ["gong-demo"]) { remoteId } }"#,
    )
    .await;
    let refused = named.next(Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN", "{refused:#}");
    assert!(named.next(Duration::from_secs(1)).await.is_none(), "and nothing after");
    // Not naming it: only the readable connection's events.
    let mut all =
        SseSubscription::open(&app, Some(SL_KEY), r#"subscription { callAdded { provider remoteId } }"#).await;
    for _ in 0..3 {
        let event = all.next(Duration::from_secs(10)).await.expect("an event");
        assert_eq!(event["data"]["callAdded"]["provider"], "SALESLOFT", "{event:#}");
    }
    // No credential: 401 before any stream.
    let resp = app
        .client
        .post(app.url("/graphql"))
        .header("accept", "text/event-stream")
        .json(&json!({ "query": "subscription { callAdded { remoteId } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_pass_the_query_guard_and_one_past_max_subscriptions_is_refused_until_one_ends() {
    let mut settings = live_settings(vec![ProviderKind::Gong]);
    settings.live.max_subscriptions = 2;
    settings.limits.max_depth = 2;
    let app = spawn_with_simulators(settings, live_simulators(20)).await;
    const OK: &str = r#"subscription { callAdded(connectionIds: ["gong-demo"]) { remoteId } }"#;

    // Deeper than `limits.max_depth`: refused by the same guard as queries, as one
    // `next` event, and no slot is taken.
    let mut deep = SseSubscription::open(
        &app,
        None,
        r#"subscription { callAdded(connectionIds: ["gong-demo"]) { connection { id } } }"#,
    )
    .await;
    let refused = deep.next(Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(refused["errors"][0]["extensions"]["code"], "MAX_DEPTH_LIMIT", "{refused:#}");
    assert!(deep.next(Duration::from_secs(1)).await.is_none(), "and nothing after");

    // Two open (each has received an event, so each holds its slot)...
    let mut first = SseSubscription::open(&app, None, OK).await;
    let mut second = SseSubscription::open(&app, None, OK).await;
    for s in [&mut first, &mut second] {
        let event = s.next(Duration::from_secs(10)).await.expect("an event");
        assert!(event["data"]["callAdded"]["remoteId"].is_string(), "{event:#}");
    }
    // ...the third is refused with RATE_LIMITED, naming the bound.
    let mut third = SseSubscription::open(&app, None, OK).await;
    let refused = third.next(Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(refused["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{refused:#}");
    assert!(refused["errors"][0]["message"].as_str().unwrap_or_default().contains('2'), "{refused:#}");
    assert!(third.next(Duration::from_secs(1)).await.is_none(), "and nothing after");

    // One ends: its slot is free again (the server notices the closed stream when it
    // next writes to it, so the new subscription is retried until then).
    drop(first);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut again = SseSubscription::open(&app, None, OK).await;
        let event = again.next(Duration::from_secs(10)).await.expect("an answer");
        if event["data"]["callAdded"]["remoteId"].is_string() {
            break;
        }
        assert_eq!(event["errors"][0]["extensions"]["code"], "RATE_LIMITED", "{event:#}");
        assert!(std::time::Instant::now() < deadline, "the ended subscription's slot was never freed");
        // The next live call is the next chance for the server to see the close.
        let _ = second.next(Duration::from_secs(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_configured_but_unreachable_the_replica_polls_for_itself_and_delivers_each_call_once() {
    // A port nothing listens on: every Redis command fails at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings = live_settings(vec![ProviderKind::Gong]);
    settings.redis = Some(RedisSettings { url: format!("redis://127.0.0.1:{closed}"), ..RedisSettings::default() });
    let app = spawn_with_simulators(settings, live_simulators(12)).await;
    let mut sub =
        SseSubscription::open(&app, None, r#"subscription { callAdded(connectionIds: ["gong-demo"]) { remoteId } }"#)
            .await;
    let expected = gong_live_call_ids(&app.world);
    let mut got = Vec::new();
    while got.len() < 3 {
        let event = sub.next(Duration::from_secs(15)).await.expect("an event although Redis is down");
        assert!(event.get("errors").is_none(), "{event:#}");
        got.push(event["data"]["callAdded"]["remoteId"].as_str().unwrap().to_owned());
    }
    let at = expected.iter().position(|id| *id == got[0]).expect("a live call");
    assert_eq!(got, expected[at..at + 3], "each new call once, in order, without the shared marks");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("convograph_redis_up 0"), "Redis is reported down");
    assert!(metrics.contains(r#"convograph_live_pollers{connection="gong-demo"} 1"#), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_graphql_ws_and_graphql_sse_with_a_thousand_subscribers() {
    let app = spawn_with_simulators(live_settings(vec![ProviderKind::Gong]), live_simulators(40)).await;
    let expected = gong_live_call_ids(&app.world);
    crate::gateway::node_test(
        "live.test.mjs",
        &[("CONVOGRAPH_URL", app.url("/graphql")), ("EXPECTED_GONG_CALLS", serde_json::to_string(&expected).unwrap())],
    )
    .await;
}

/// GraphiQL's own scripts, fetched from the npm registry by `scripts/test.sh`
/// (`scripts/graphiql-assets.sh`), and the browser, Debian's Chromium (`CHROMIUM`
/// overrides it).
fn browser_prerequisites() -> (std::path::PathBuf, String) {
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gateway/.graphiql-assets");
    assert!(
        assets.join("graphiql.min.js").is_file(),
        "{} is missing: run scripts/graphiql-assets.sh {0} (scripts/test.sh does)",
        assets.display()
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).is_file(),
        "{chromium} is missing: install Debian's chromium (scripts/test.sh does) or set CHROMIUM"
    );
    (assets, chromium)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_in_chromium_answers_the_default_query_and_streams_the_default_subscription() {
    let (assets, chromium) = browser_prerequisites();
    let mut settings = live_settings(vec![ProviderKind::Gong]);
    settings.server.graphiql.assets_dir = Some(assets);
    let app = spawn_with_simulators(settings, live_simulators(60)).await;
    let expected = gong_live_call_ids(&app.world);
    crate::gateway::node_test(
        "graphiql.test.mjs",
        &[
            ("CONVOGRAPH_URL", app.url("/graphql")),
            ("CHROMIUM", chromium),
            ("EXPECTED_GONG_CALLS", serde_json::to_string(&expected).unwrap()),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_scorecards_are_score_added_events_of_live_calls() {
    let app = spawn_with_simulators(live_settings(vec![ProviderKind::Gong]), live_simulators(30)).await;
    let world = app.world.clone();
    let live: Vec<String> = world.live_calls().iter().map(|&j| gong::ids::call_id(j)).collect();
    let mut sub = SseSubscription::open(
        &app,
        None,
        r#"subscription { scoreAdded(connectionIds: ["gong-demo"]) { id reviewedAt call { remoteId } } }"#,
    )
    .await;
    let mut ids = Vec::new();
    while ids.len() < 2 {
        let event = sub.next(Duration::from_secs(20)).await.expect("a scorecard answered within 20 s");
        assert!(event.get("errors").is_none(), "{event:#}");
        let score = &event["data"]["scoreAdded"];
        let call = score["call"]["remoteId"].as_str().expect("the scored call, readable at once");
        assert!(live.iter().any(|c| c == call), "a live call's score: {call}");
        ids.push(score["id"].as_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1], "each score once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_ends_unauthenticated_when_its_token_expires() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::auth::secured_settings(&dir);
    let live = live_settings(vec![ProviderKind::Gong]);
    settings.live = live.live;
    settings.traffic = live.traffic;
    let app = spawn_with_simulators(settings, live_simulators(40)).await;
    let token = crate::auth::jwt_expiring_in(3, json!(["gong-demo"]));
    let mut sub = SseSubscription::open(
        &app,
        Some(&token),
        r#"subscription { callAdded(connectionIds: ["gong-demo"]) { remoteId } }"#,
    )
    .await;
    let first = sub.next(Duration::from_secs(10)).await.expect("events while the token is valid");
    assert!(first.get("errors").is_none(), "{first:#}");
    // Events keep coming until the token expires; the first one after it ends the
    // subscription with UNAUTHENTICATED (checked per event, not only at connect).
    let mut last = first;
    while last.get("errors").is_none() {
        last = sub.next(Duration::from_secs(10)).await.expect("an event or the refusal");
    }
    assert_eq!(last["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{last:#}");
    assert!(sub.next(Duration::from_secs(2)).await.is_none(), "then the stream ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_messages_in_a_hubster_chat_are_transcript_updates_read_from_leid() {
    let mut sims = live_simulators(0);
    sims.hubster.rate_per_sec = 0;
    let app = spawn_with_simulators(live_settings(vec![ProviderKind::Hubster]), sims).await;
    let mut sub = SseSubscription::open(
        &app,
        None,
        r#"subscription { callUpdated(connectionIds: ["hubster-demo"]) { changes call { remoteId transcript { text } } } }"#,
    )
    .await;
    // Every configured chat has been read once (in turns of 20): their activities
    // so far are recorded, not news.
    let chats = app.hubster.conversation_ids().len() as f64;
    let rounds = (chats / 20.0).ceil() + 1.0;
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
            let polls: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix(r#"convograph_live_polls_total{connection="hubster-demo"} "#))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0.0);
            if polls > rounds {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the chats were read");
    let reads_before = app.hubster.activity_reads().len();
    let c = app.hubster.data().conversations[3].clone();
    let last = c.activities.iter().map(|a| a.event_id).max().unwrap();
    app.hubster.push_message(
        3,
        convograph::sandbox::world_hub::Party::Customer,
        convograph::sandbox::world_hub::Party::Agent,
        "Is anyone there?",
        last + 1_000,
    );
    let event = sub.next(Duration::from_secs(20)).await.expect("the new message, within a round of polls");
    assert!(event.get("errors").is_none(), "{event:#}");
    let update = &event["data"]["callUpdated"];
    assert_eq!(update["changes"], json!(["TRANSCRIPT"]), "{update:#}");
    assert_eq!(update["call"]["remoteId"], convograph::sandbox::hubster::ids::conversation_id(3));
    assert!(update["call"]["transcript"]["text"].as_str().unwrap().contains("Is anyone there?"), "{update:#}");
    // Reads after the first round ask from the last event on (`leid`).
    let reads = app.hubster.activity_reads();
    assert!(reads[reads_before..].iter().all(|r| r.leid.is_some()), "incremental reads only");
}
