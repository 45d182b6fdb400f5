//! Scale-out: three convograph processes (the real binary) over one Gong simulator
//! (and, for the live event log's reader, one in-process replica), sharing state
//! through a Redis the test starts itself (`redis-server` on a free
//! loopback port, so it can be killed and restarted mid-run without touching the
//! machine's own Redis).
//!
//! Needs `redis-server` on the PATH (Debian's `redis-server` package; the machine and
//! CI have it): the tests fail saying so when it is missing.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use convograph::sandbox::{GongSimSettings, SalesloftSimSettings, Sandbox, SandboxSettings};
use serde_json::{Value, json};

/// Gong's documented rate, which the simulator enforces per access key.
const GONG_RATE: f64 = 3.0;

/// A child process killed when dropped (an orphan would hang the harness).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits (with a deadline) until `port` on loopback accepts connections.
async fn until_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port} within 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A Redis of the test's own.
struct Redis {
    port: u16,
    proc: Option<Proc>,
}

impl Redis {
    async fn start() -> Redis {
        let mut r = Redis { port: free_port(), proc: None };
        r.restart().await;
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): the scale-out tests need it (Debian package redis-server)")
            });
        self.proc = Some(Proc(child));
        until_listening(self.port, "redis-server").await;
    }

    fn kill(&mut self) {
        self.proc = None;
    }
}

/// One convograph replica.
struct Replica {
    url: String,
    _proc: Proc,
}

/// Writes a secret file and returns its path.
fn secret(dir: &Path, name: &str, value: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    path
}

/// Starts `n` replicas with one Gong connection to `gong` and Redis at `redis`.
async fn replicas(n: usize, sandbox: &Sandbox, redis: &str, dir: &Path, extra: &str) -> Vec<Replica> {
    let key = secret(dir, "key", sandbox.gong.access_key());
    let pass = secret(dir, "secret", sandbox.gong.access_key_secret());
    let cursor = secret(dir, "cursor", "one-cursor-secret-for-every-replica");
    let mut out = Vec::new();
    for i in 0..n {
        let port = free_port();
        let config = format!(
            r#"server:
  listen: 127.0.0.1:{port}
  cursor_secret: {{ file: {cursor} }}
auth:
  open: true
redis:
  url: {redis}
  replicas: {n}
  key_prefix: {prefix}
traffic:
  gong:
    max_queue_wait: 60s
connections:
  - id: gong-acme
    provider: gong
    base_url: {base}
    credentials:
      basic:
        username: {{ file: {key} }}
        password: {{ file: {pass} }}
{extra}"#,
            cursor = cursor.display(),
            // Each group of replicas its own keys (one Redis serves several tests).
            prefix = dir.file_name().unwrap().to_string_lossy(),
            base = sandbox.gong.base_url(),
            key = key.display(),
            pass = pass.display(),
        );
        let path = dir.join(format!("replica-{i}.yaml"));
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_convograph"))
            .args(["serve", "--config"])
            .arg(&path)
            .env_remove("CONVOGRAPH_CONFIG")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("convograph starts");
        // Keep reading its log so it never blocks on a full pipe.
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || for _ in BufReader::new(stderr).lines().map_while(Result::ok) {});
        let proc = Proc(child);
        until_listening(port, "convograph").await;
        out.push(Replica { url: format!("http://127.0.0.1:{port}"), _proc: proc });
    }
    out
}

async fn query(client: &reqwest::Client, replica: &Replica, query: &str, variables: Value) -> (u16, Value) {
    let resp = client
        .post(format!("{}/graphql", replica.url))
        .header("x-convograph-debug", "1")
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("the replica answers");
    (resp.status().as_u16(), resp.json().await.expect("JSON"))
}

fn sandbox_settings() -> SandboxSettings {
    SandboxSettings {
        people: 6,
        calls: 120,
        gong: GongSimSettings { rate_per_sec: GONG_RATE as u32, ..GongSimSettings::default() },
        ..SandboxSettings::default()
    }
}

/// Every call's id at the simulator, read through one replica (one page).
async fn call_ids(client: &reqwest::Client, replica: &Replica) -> Vec<String> {
    let (_, body) = query(
        client,
        replica,
        r#"{ calls(connectionId: "gong-acme", first: 100) { edges { node { id } } } }"#,
        json!({}),
    )
    .await;
    body["data"]["calls"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Asks each replica in turn for one call's transcript (each a distinct upstream
/// request, none cached), all at once; returns the failed answers.
async fn load(client: &reqwest::Client, replicas: &[Replica], ids: &[String]) -> Vec<Value> {
    let tasks = ids.iter().enumerate().map(|(i, id)| {
        let replica = &replicas[i % replicas.len()];
        async move {
            let (status, body) =
                query(client, replica, "query($id: ID!) { call(id: $id) { id title } }", json!({ "id": id })).await;
            let ok = status == 200 && body.get("errors").is_none() && body["data"]["call"]["id"] == json!(id);
            (!ok).then_some(body)
        }
    });
    futures::future::join_all(tasks).await.into_iter().flatten().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_or_three_replicas_stay_within_gongs_rate_together() {
    let redis = Redis::start().await;
    let client = reqwest::Client::new();
    const LOOKUPS: usize = 36;
    for n in [1, 3] {
        let sandbox = Sandbox::start(sandbox_settings()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let replicas = replicas(n, &sandbox, &redis.url(), dir.path(), &format!("# {n} replicas")).await;
        let ids = call_ids(&client, &replicas[0]).await;
        assert!(ids.len() >= LOOKUPS, "{} calls", ids.len());

        let before = sandbox.gong.total_requests();
        let started = Instant::now();
        let failed = load(&client, &replicas, &ids[..LOOKUPS]).await;
        let elapsed = started.elapsed().as_secs_f64();
        let sent = sandbox.gong.total_requests() - before;
        let floor = (sent as f64 - 1.0) / GONG_RATE;
        println!(
            "{LOOKUPS} lookups over {n} replica(s): {sent} Gong requests in {elapsed:.2} s (floor {floor:.2} s, {:.3}x; {:.2}/s), {} answered 429",
            elapsed / floor,
            sent as f64 / elapsed,
            sandbox.gong.rejected_429()
        );
        assert!(failed.is_empty(), "failed: {failed:?}");
        assert_eq!(sandbox.gong.rejected_429(), 0, "no 429: the replicas share one schedule");
        // n requests at 3/s with a burst of one take at least (n - 1) / 3 s.
        assert!(elapsed >= floor * 0.95, "{sent} requests in {elapsed:.2} s is over 3/s");
    }
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_run_fails_no_request_and_keeps_the_limit() {
    let mut redis = Redis::start().await;
    let sandbox = Sandbox::start(sandbox_settings()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let replicas = replicas(3, &sandbox, &redis.url(), dir.path(), "").await;
    let client = reqwest::Client::new();
    let ids = call_ids(&client, &replicas[0]).await;
    let chunks: Vec<&[String]> = ids[..45].chunks(15).collect();

    // Shared, then Redis gone (each replica at 1/s), then back.
    let mut failed = load(&client, &replicas, chunks[0]).await;
    redis.kill();
    failed.extend(load(&client, &replicas, chunks[1]).await);
    let ready: Value = client.get(format!("{}/readyz", replicas[0].url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["redis"]["mode"], "local", "{ready}");
    let metrics = client.get(format!("{}/metrics", replicas[0].url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("convograph_redis_up 0"), "{metrics}");
    redis.restart().await;
    failed.extend(load(&client, &replicas, chunks[2]).await);
    assert!(failed.is_empty(), "failed while Redis came and went: {failed:?}");
    assert_eq!(sandbox.gong.rejected_429(), 0, "the fallback (rate / replicas) kept within Gong's rate");
    // Back to shared.
    let ready: Value = client.get(format!("{}/readyz", replicas[0].url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["redis"]["mode"], "shared", "{ready}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_salesloft_s_cost_budget() {
    let redis = Redis::start().await;
    let budget = 20;
    let sandbox = Sandbox::start(SandboxSettings {
        salesloft: SalesloftSimSettings { budget, ..SalesloftSimSettings::default() },
        ..sandbox_settings()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = secret(dir.path(), "sl-token", sandbox.salesloft.token());
    let salesloft = format!(
        "  - id: sl-acme\n    provider: salesloft\n    base_url: {}\n    credentials:\n      bearer:\n        token: {{ file: {} }}\n    traffic: {{ max_queue_wait: 2s }}\n",
        sandbox.salesloft.base_url(),
        token.display()
    );
    let replicas = replicas(3, &sandbox, &redis.url(), dir.path(), &salesloft).await;
    let client = reqwest::Client::new();
    // One list read (cost 1) teaches the replicas what the window holds.
    let (_, body) = query(
        &client,
        &replicas[0],
        r#"{ calls(connectionId: "sl-acme", first: 40) { edges { node { id } } } }"#,
        json!({}),
    )
    .await;
    let ids: Vec<String> = body["data"]["calls"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 40, "{body}");

    // 30 transcripts at once over three replicas: more than the window holds.
    let tasks = ids[..30].iter().enumerate().map(|(i, id)| {
        let client = &client;
        let replica = &replicas[i % 3];
        async move {
            // Each transcript is its own Salesloft request (cost 1); the calls are cached.
            let q = "query($id: ID!) { call(id: $id) { id transcript { text } } }";
            query(client, replica, q, json!({ "id": id })).await
        }
    });
    let answers = futures::future::join_all(tasks).await;
    let ok = answers.iter().filter(|(_, b)| b.get("errors").is_none()).count();
    let codes: Vec<String> = answers
        .iter()
        .flat_map(|(_, b)| b["errors"].as_array().cloned().unwrap_or_default())
        .map(|e| e["extensions"]["code"].as_str().unwrap_or("none").to_owned())
        .collect();
    println!(
        "Salesloft, budget {budget} per window, 30 transcripts over 3 replicas: {ok} answered, {} RATE_LIMITED, {} answered 429 upstream",
        codes.len(),
        sandbox.salesloft.sim().rejected_429()
    );
    assert!(answers.iter().all(|(status, _)| *status == 200));
    assert!(codes.iter().all(|c| c == "RATE_LIMITED"), "{codes:?}");
    assert!(ok >= 1, "what fits is answered");
    assert_eq!(sandbox.salesloft.sim().rejected_429(), 0, "the replicas spend one budget: Salesloft never refuses");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_cache_and_coalesce_cold_misses() {
    let redis = Redis::start().await;
    let sandbox = Sandbox::start(sandbox_settings()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let replicas = replicas(3, &sandbox, &redis.url(), dir.path(), "").await;
    let client = reqwest::Client::new();
    let page = r#"{ calls(connectionId: "gong-acme", first: 50) { edges { node { id title } } } }"#;

    // 21 identical cold queries, 7 on each replica, at once: one upstream request.
    let before = sandbox.gong.total_requests();
    let tasks = (0..21).map(|i| query(&client, &replicas[i % 3], page, json!({})));
    let answers = futures::future::join_all(tasks).await;
    assert!(answers.iter().all(|(s, b)| *s == 200 && b.get("errors").is_none()), "{answers:?}");
    let first = &answers[0].1["data"];
    assert!(answers.iter().all(|(_, b)| &b["data"] == first), "every replica answers the same");
    assert_eq!(sandbox.gong.total_requests() - before, 1, "20 identical cold queries over 3 replicas cost one");

    // Another shape of the same page on another replica: the provider result is shared.
    let before = sandbox.gong.total_requests();
    let (_, body) = query(
        &client,
        &replicas[1],
        r#"{ calls(connectionId: "gong-acme", first: 10) { edges { node { id startedAt duration } } } }"#,
        json!({}),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(sandbox.gong.total_requests() - before, 0, "cached by one replica, free on another");
    assert!(body["extensions"]["convograph"]["cacheHits"].as_u64().is_some_and(|n| n > 0), "{body}");

    // A walk over every call, each page asked of the next replica with the cursor
    // another one issued: every call once, and Gong's pages read once in all.
    let before = sandbox.gong.total_requests();
    let walk = r#"query($after: String) { calls(connectionId: "gong-acme", first: 25, after: $after) {
        pageInfo { hasNextPage endCursor } edges { node { id } } } }"#;
    let (mut seen, mut after, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let (_, body) = query(&client, &replicas[pages % 3], walk, json!({ "after": after })).await;
        assert!(body.get("errors").is_none(), "page {pages}: {body}");
        let list = &body["data"]["calls"];
        seen.extend(list["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].clone()));
        pages += 1;
        if list["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = list["pageInfo"]["endCursor"].clone();
    }
    let distinct: std::collections::BTreeSet<String> = seen.iter().map(|v| v.to_string()).collect();
    assert_eq!(distinct.len(), seen.len(), "no call twice");
    assert_eq!(seen.len(), sandbox.world().calls.iter().filter(|c| c.recorded_by.gong).count());
    let spent = sandbox.gong.total_requests() - before;
    println!("a walk of {} calls in {pages} pages over 3 replicas: {spent} Gong requests", seen.len());
    assert!(spent <= 2, "Gong's pages of 100, each read once by one replica: {spent}");
}

/// The `convograph_live_polls_total` of connection `gong-acme` on a replica.
async fn live_polls(client: &reqwest::Client, replica: &Replica) -> f64 {
    let text = client.get(format!("{}/metrics", replica.url)).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(r#"convograph_live_polls_total{connection="gong-acme"} "#))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_on_three_replicas_share_one_poller_and_get_each_call_once() {
    let redis = Redis::start().await;
    let client = reqwest::Client::new();
    let every = Duration::from_millis(900);
    let sandbox = Sandbox::start(SandboxSettings {
        live: Some(convograph::sandbox::LiveCalls::from_now(every, 30)),
        gong: GongSimSettings { rate_per_sec: 0, ..GongSimSettings::default() },
        ..sandbox_settings()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A poll costs 2 Gong requests: one poll a second stays within Gong's 3/s.
    let replicas =
        replicas(3, &sandbox, &redis.url(), dir.path(), "live:\n  poll_interval: 1s\n  lookback: 1h\n").await;
    let query = r#"subscription { callAdded(connectionIds: ["gong-acme"]) { remoteId } }"#;
    let started = Instant::now();
    let mut subs = Vec::new();
    for r in &replicas {
        subs.push(crate::live::SseSubscription::open_at(&client, &format!("{}/graphql", r.url), None, query).await);
    }
    let mut seen: Vec<Vec<String>> = Vec::new();
    for sub in &mut subs {
        let mut ids = Vec::new();
        while ids.len() < 3 {
            let event = sub.next(Duration::from_secs(15)).await.expect("an event within 15 s");
            assert!(event.get("errors").is_none(), "{event:#}");
            ids.push(event["data"]["callAdded"]["remoteId"].as_str().unwrap().to_owned());
        }
        seen.push(ids);
    }
    let elapsed = started.elapsed();
    let live = crate::helpers::gong_live_call_ids(sandbox.world());
    for ids in &seen {
        let at = live.iter().position(|id| *id == ids[0]).expect("a live call");
        assert_eq!(ids, &live[at..at + 3], "each call once, in order, on every replica");
    }
    // The simulator's count first: a poll counts itself before it sends its request.
    let extensive = sandbox.gong.requests("POST", "/v2/calls/extensive");
    let mut polls = 0.0;
    for r in &replicas {
        polls += live_polls(&client, r).await;
    }
    let one_poller = elapsed.as_secs_f64() / 1.0 + 2.0;
    println!(
        "3 replicas, 3 subscribers: {polls} polls in the cluster over {:.1} s, {extensive} calls/extensive requests",
        elapsed.as_secs_f64()
    );
    assert!(polls <= one_poller, "{polls} polls in {elapsed:?}: more than one poller");
    // Each poll lists once, plus one lookup of the calls its new scorecards are about.
    assert!(extensive as f64 <= 2.0 * polls, "{extensive} calls/extensive requests for {polls} polls");

    // Two replicas go away (the leader among them or not): the last one's subscriber
    // goes on hearing of every call once, in order, from the shared mark, after at
    // most the lead's lifetime (3 intervals).
    let mut replicas = replicas;
    let survivor = replicas.pop().unwrap();
    drop(replicas);
    let mut sub = subs.pop().unwrap();
    drop(subs);
    let mut ids = seen.pop().unwrap();
    while ids.len() < 6 {
        let event = sub.next(Duration::from_secs(20)).await.expect("an event after the failover");
        assert!(event.get("errors").is_none(), "{event:#}");
        ids.push(event["data"]["callAdded"]["remoteId"].as_str().unwrap().to_owned());
    }
    let at = live.iter().position(|id| *id == ids[0]).unwrap();
    assert_eq!(ids, live[at..at + 6], "no call lost or repeated across the failover");
    assert!(live_polls(&client, &survivor).await >= 1.0, "the survivor took the lead");
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_event_reader_keeps_losing_redis_still_delivers_each_call_once_in_order() {
    let redis = Redis::start().await;
    let mut settings = crate::live::live_settings(vec![convograph::providers::ProviderKind::Gong]);
    settings.redis = Some(convograph::config::RedisSettings { url: redis.url(), ..Default::default() });
    let app = crate::helpers::spawn_with_simulators(settings, crate::live::live_simulators(30)).await;
    let query = r#"subscription { callAdded(connectionIds: ["gong-demo"]) { remoteId } }"#;
    let mut sub = crate::live::SseSubscription::open(&app, None, query).await;

    // Every 150 ms, the connection that reads the cluster's events is killed
    // (`CLIENT KILL`): the reader is away for most of the run, and events are
    // published while it is.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let killer = tokio::spawn({
        let (url, stop) = (redis.url(), stop.clone());
        async move {
            let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
            let mut kills = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let list: String = redis::cmd("CLIENT").arg("LIST").query_async(&mut conn).await.unwrap();
                for line in list.lines().filter(|l| l.contains(&format!("name={}", convograph::live::READER_NAME))) {
                    let id = line.split(' ').find_map(|f| f.strip_prefix("id=")).unwrap().to_owned();
                    let killed: i64 =
                        redis::cmd("CLIENT").arg("KILL").arg("ID").arg(id).query_async(&mut conn).await.unwrap_or(0);
                    kills += killed as u32;
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            kills
        }
    });

    let mut ids = Vec::new();
    while ids.len() < 6 {
        let event = sub.next(Duration::from_secs(20)).await.expect("an event although the reader keeps losing Redis");
        assert!(event.get("errors").is_none(), "{event:#}");
        ids.push(event["data"]["callAdded"]["remoteId"].as_str().unwrap().to_owned());
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let kills = killer.await.unwrap();
    let live = crate::helpers::gong_live_call_ids(&app.world);
    let at = live.iter().position(|id| *id == ids[0]).expect("a live call");
    println!("the event reader was killed {kills} times while 6 calls were delivered");
    assert!(kills >= 3, "the reader was killed {kills} times: the test did not test");
    assert_eq!(ids, live[at..at + 6], "each call once, in order, across the reader's reconnects");
    drop(redis);
}
