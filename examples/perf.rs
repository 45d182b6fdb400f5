//! The scripted performance runs behind BENCHMARKS.md (`scripts/bench.sh` drives
//! them; each prints one JSON line of results).
//!
//! - `walk`: walk every call of a Gong connection through GraphQL at Gong's real
//!   limit (3 requests/s, simulator enforcing it too) and compare the time with the
//!   rate-limit minimum; count the 429s received.
//! - `latency-server`: convograph over a Gong simulator that answers every request in
//!   a fixed 20 ms, with caching off, so each query costs exactly one upstream
//!   request; prints the URLs and bodies for `loadgen` to compare the simulator
//!   directly against the same request through convograph.
//! - `loadgen`: an open-loop load at a fixed rate (latency measured from each
//!   request's scheduled start, so a slow server cannot hide its queueing).
//! - `bare`: a bare axum handler answering a fixed body, the ceiling for
//!   cached-query throughput.
//! - `memory`: bytes held by the cache per 10,000 cached calls.

use std::{
    alloc::System,
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use clap::{Parser, Subcommand};
use convograph::{
    cache::{Cache, CacheKey, ResourceKind},
    config::{
        CacheSettings, ConnectionSettings, CredentialsConfig, SandboxConfig, SecretSource, Settings, TrafficSettings,
    },
    domain::Page,
    providers::{ProviderKind, gong::decode_calls_page},
    sandbox::{GongSimSettings, Sandbox, SandboxSettings},
    startup::Application,
};
use serde_json::{Value, json};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    run: Run,
}

#[derive(Subcommand)]
enum Run {
    /// Walk every call of a Gong connection at 3 requests/s.
    Walk {
        #[arg(long, default_value_t = 3000)]
        calls: usize,
    },
    /// Serve convograph over a 20 ms Gong simulator, caching off; print the targets.
    LatencyServer {
        #[arg(long, default_value_t = 20)]
        latency_ms: u64,
    },
    /// Open-loop load at a fixed rate; prints latency percentiles.
    Loadgen {
        #[arg(long)]
        url: String,
        /// File holding the POST body (JSON).
        #[arg(long)]
        body: PathBuf,
        /// `name: value` headers.
        #[arg(long)]
        header: Vec<String>,
        #[arg(long, default_value_t = 100)]
        rate: u32,
        #[arg(long, default_value_t = 20)]
        secs: u64,
        /// Requests sent and discarded first (connection set-up, warm caches).
        #[arg(long, default_value_t = 50)]
        warmup: u32,
    },
    /// A bare axum handler answering `POST /graphql` with the bytes of `body`.
    Bare {
        #[arg(long)]
        body: PathBuf,
        #[arg(long)]
        listen: SocketAddr,
    },
    /// Bytes the cache holds for 10,000 calls.
    Memory {
        #[arg(long, default_value_t = 10_000)]
        calls: usize,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        match cli.run {
            Run::Walk { calls } => walk(calls).await,
            Run::LatencyServer { latency_ms } => latency_server(latency_ms).await,
            Run::Loadgen { url, body, header, rate, secs, warmup } => {
                loadgen(url, body, header, rate, secs, warmup).await
            }
            Run::Bare { body, listen } => bare(body, listen).await,
            Run::Memory { calls } => memory(calls).await,
        }
    })
}

/// Writes a secret to a file the config can name (no env mutation needed).
fn secret_file(dir: &tempfile::TempDir, name: &str, value: &str) -> anyhow::Result<SecretSource> {
    let path = dir.path().join(name);
    std::fs::write(&path, value)?;
    Ok(SecretSource::File(path))
}

async fn serve(settings: Settings) -> anyhow::Result<SocketAddr> {
    let app = Application::build(settings).await?;
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    Ok(addr)
}

async fn walk(calls: usize) -> anyhow::Result<()> {
    let mut settings = Settings {
        sandbox: Some(SandboxConfig { calls, providers: vec![ProviderKind::Gong], ..SandboxConfig::default() }),
        ..Settings::default()
    };
    settings.server.listen = "127.0.0.1:0".parse()?;
    let app = Application::build(settings).await?;
    let addr = app.local_addr();
    let gong = app.sandbox().expect("sandbox").gong.clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let client = reqwest::Client::new();
    let query = "query($after: String) { calls(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }";
    let started = Instant::now();
    let (mut seen, mut after) = (0usize, Value::Null);
    loop {
        let body: Value = client
            .post(format!("http://{addr}/graphql"))
            .json(&json!({ "query": query, "variables": { "after": after } }))
            .send()
            .await?
            .json()
            .await?;
        anyhow::ensure!(body.get("errors").is_none(), "errors: {body}");
        seen += body["data"]["calls"]["edges"].as_array().map_or(0, Vec::len);
        if body["data"]["calls"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = body["data"]["calls"]["pageInfo"]["endCursor"].clone();
    }
    let elapsed = started.elapsed();
    let requests = gong.total_requests();
    // With a burst of one, n requests at r per second need (n - 1) / r seconds.
    let minimum = Duration::from_secs_f64(requests.saturating_sub(1) as f64 / 3.0);
    println!(
        "{}",
        json!({
            "run": "walk", "calls": seen, "upstreamRequests": requests, "received429": gong.rejected_429(),
            "elapsedSecs": elapsed.as_secs_f64(), "minimumSecs": minimum.as_secs_f64(),
            "ratio": elapsed.as_secs_f64() / minimum.as_secs_f64().max(f64::EPSILON),
        })
    );
    Ok(())
}

async fn latency_server(latency_ms: u64) -> anyhow::Result<()> {
    let sim = SandboxSettings {
        people: 40,
        calls: 200,
        gong: GongSimSettings { rate_per_sec: 0, latency: Duration::from_millis(latency_ms), ..Default::default() },
        ..SandboxSettings::default()
    };
    let sandbox = Sandbox::start(sim).await?;
    let dir = tempfile::tempdir()?;
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".parse()?;
    // A loopback benchmark: no clients to authenticate.
    settings.auth.open = true;
    // Caching off, the response cache included (it would also let identical queries in
    // flight together share one run): every query costs its own upstream request.
    settings.cache = CacheSettings {
        responses_max_mib: 0,
        users_ttl: Duration::ZERO,
        calls_ttl: Duration::ZERO,
        transcripts_ttl: Duration::ZERO,
        stats_ttl: Duration::ZERO,
        ..CacheSettings::default()
    };
    settings.connections.push(ConnectionSettings {
        webhook: None,
        id: "gong".into(),
        provider: ProviderKind::Gong,
        base_url: sandbox.gong.base_url().parse()?,
        credentials: CredentialsConfig::Basic {
            username: secret_file(&dir, "user", sandbox.gong.access_key())?,
            password: secret_file(&dir, "pass", sandbox.gong.access_key_secret())?,
        },
        time_zone: None,
        workspace_id: None,
        traffic: TrafficSettings { rate_per_sec: Some(10_000.0), ..TrafficSettings::default() },
        conversation_ids: Vec::new(),
    });
    let addr = serve(settings).await?;
    let user = convograph::sandbox::gong::ids::user_id(3);
    let direct_body = json!({ "filter": { "userIds": [user] } });
    let global_id = convograph::schema::id::encode(convograph::schema::id::Kind::User, "gong", &user);
    let graphql_body = json!({ "query": "query($id: ID!) { user(id: $id) { id name email } }", "variables": { "id": global_id.as_str() } });
    let auth = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", sandbox.gong.access_key(), sandbox.gong.access_key_secret())
        )
    );
    println!(
        "{}",
        json!({
            "convograph": format!("http://{addr}/graphql"), "graphqlBody": graphql_body,
            "direct": format!("{}/v2/users/extensive", sandbox.gong.base_url()), "directBody": direct_body,
            "directAuthorization": auth,
        })
    );
    std::future::pending::<()>().await;
    Ok(())
}

async fn loadgen(
    url: String,
    body: PathBuf,
    headers: Vec<String>,
    rate: u32,
    secs: u64,
    warmup: u32,
) -> anyhow::Result<()> {
    let body = Arc::new(std::fs::read(body)?);
    let mut header_map = reqwest::header::HeaderMap::new();
    header_map.insert(reqwest::header::CONTENT_TYPE, "application/json".parse()?);
    for h in headers {
        let (k, v) = h.split_once(':').ok_or_else(|| anyhow::anyhow!("header '{h}' is not 'name: value'"))?;
        header_map.insert(reqwest::header::HeaderName::from_bytes(k.trim().as_bytes())?, v.trim().parse()?);
    }
    let client = reqwest::Client::builder().default_headers(header_map).build()?;
    let send = |client: reqwest::Client, body: Arc<Vec<u8>>, url: String| async move {
        let resp = client.post(url).body((*body).clone()).send().await?;
        let ok = resp.status().is_success();
        let bytes = resp.bytes().await?;
        anyhow::ensure!(ok && !bytes.windows(9).any(|w| w == b"\"errors\":"), "failed response");
        Ok::<_, anyhow::Error>(())
    };
    for _ in 0..warmup {
        send(client.clone(), body.clone(), url.clone()).await?;
    }
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let total = (u64::from(rate) * secs) as usize;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let scheduled = start + period * i as u32;
        tokio::time::sleep_until(scheduled).await;
        let (client, body, url) = (client.clone(), body.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let r = send(client, body, url).await;
            (scheduled.elapsed(), r.is_ok())
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failures = 0;
    for t in tasks {
        let (lat, ok) = t.await?;
        if !ok {
            failures += 1;
        }
        latencies.push(lat);
    }
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    println!(
        "{}",
        json!({
            "run": "loadgen", "url": url, "rate": rate, "requests": total, "failures": failures,
            "p50Ms": pct(0.50), "p90Ms": pct(0.90), "p99Ms": pct(0.99), "maxMs": pct(1.0),
        })
    );
    Ok(())
}

async fn bare(body: PathBuf, listen: SocketAddr) -> anyhow::Result<()> {
    let bytes = bytes::Bytes::from(std::fs::read(body)?);
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(move || {
            let bytes = bytes.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], bytes) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("{}", json!({ "run": "bare", "listen": listener.local_addr()? }));
    axum::serve(listener, app).await?;
    Ok(())
}

async fn memory(calls: usize) -> anyhow::Result<()> {
    let sandbox = Sandbox::start(SandboxSettings {
        calls,
        gong: GongSimSettings { rate_per_sec: 0, ..Default::default() },
        ..SandboxSettings::default()
    })
    .await?;
    let pages = convograph::providers::gong::calls_extensive_pages(
        sandbox.gong.base_url(),
        sandbox.gong.access_key(),
        sandbox.gong.access_key_secret(),
    )
    .await?;
    let wire_bytes: usize = pages.iter().map(|p| p.len()).sum();
    let ttl = CacheSettings { calls_ttl: Duration::from_secs(3600), ..CacheSettings::default() };
    let connection: Arc<str> = Arc::from("gong");
    let mib = |b: f64| b / (1024.0 * 1024.0);

    // As pages of 100 (`calls/extensive`), one entry a page.
    let cache = Cache::new(&ttl);
    let region = Region::new(GLOBAL);
    let mut cached = 0usize;
    for (i, bytes) in pages.iter().enumerate() {
        let items = decode_calls_page(bytes).map_err(|e| anyhow::anyhow!(e))?;
        cached += items.len();
        let key = CacheKey { connection: connection.clone(), op: "calls_page", fingerprint: i.to_string() };
        let page = Page { items, next: None, total: None };
        cache.get_or_fetch(key, ResourceKind::Calls, async move { Ok(page) }).await?;
    }
    let _ = cache.entry_count().await;
    let change = region.change();
    let pages_held = change.bytes_allocated as i64 - change.bytes_deallocated as i64;
    let pages_weight = cache.weighted_size().await;
    drop(cache);

    // As calls by id (`calls?id=…`), one entry a call, fetched 100 at a time.
    let cache = Cache::new(&ttl);
    let region = Region::new(GLOBAL);
    for bytes in &pages {
        let items = decode_calls_page(bytes).map_err(|e| anyhow::anyhow!(e))?;
        let ids: Vec<String> = items.iter().map(|c| c.remote_id.clone()).collect();
        let found = cache
            .get_many(&connection, "call", ResourceKind::Calls, &ids, move |_| async move {
                Ok(items.into_iter().map(|c| (c.remote_id.clone(), c)).collect())
            })
            .await?;
        drop(found);
    }
    let _ = cache.entry_count().await;
    let change = region.change();
    let by_id_held = change.bytes_allocated as i64 - change.bytes_deallocated as i64;
    let by_id_weight = cache.weighted_size().await;

    let per_10k = |held: i64| mib(held as f64 * 10_000.0 / cached as f64);
    println!(
        "{}",
        json!({
            "run": "memory", "calls": cached, "wireBytes": wire_bytes,
            "pages": { "heldBytes": pages_held, "MiBPer10kCalls": per_10k(pages_held),
                       "weightMiB": mib(pages_weight as f64) },
            "byId": { "heldBytes": by_id_held, "MiBPer10kCalls": per_10k(by_id_held),
                      "weightMiB": mib(by_id_weight as f64) },
        })
    );
    sandbox.shutdown().await;
    Ok(())
}
