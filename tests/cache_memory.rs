//! The provider-result cache holds 10,000 Gong calls in at most 16 MiB of heap, as
//! pages of 100 (`calls/extensive`) and as calls cached by id, and its size bound is
//! honest: the weigher's sum is within 10% of the heap the entries really hold.
//!
//! The heap is measured with a counting global allocator, in this test binary only
//! (its one test runs alone, so no other test allocates meanwhile).

use std::{alloc::System, sync::Arc, time::Duration};

use convograph::{
    cache::{Cache, CacheKey, ResourceKind},
    config::CacheSettings,
    domain::{Call, Page},
    providers::{ProviderError, gong::decode_calls_page},
    sandbox::{GongSimSettings, Sandbox, SandboxSettings},
};
use serde_json::Value;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const CALLS: usize = 10_000;
const BUDGET: i64 = 16 * 1024 * 1024;
/// How far the weigher's sum may be from the heap measured (as a fraction of it).
const WEIGHT_TOLERANCE: f64 = 0.10;

/// Every page of the simulator's `calls/extensive`, as the wire bytes, asked for with
/// the parts convograph asks for.
async fn wire_pages(sandbox: &Sandbox) -> Vec<Vec<u8>> {
    convograph::providers::gong::calls_extensive_pages(
        sandbox.gong.base_url(),
        sandbox.gong.access_key(),
        sandbox.gong.access_key_secret(),
    )
    .await
    .expect("the simulator answers")
}

fn decode(bytes: &[u8]) -> Vec<Call> {
    decode_calls_page(bytes).unwrap()
}

/// A call as its fields and its provider JSON (parsed), to compare a cached call with
/// a freshly decoded one.
fn shown(calls: &[Call]) -> String {
    for c in calls {
        let _: &Value = &c.raw;
    }
    format!("{calls:?}")
}

/// The fetch of something cached: never run.
async fn not_fetched<T>() -> Result<T, ProviderError> {
    panic!("a cached value was fetched again")
}

fn settings() -> CacheSettings {
    CacheSettings { calls_ttl: Duration::from_secs(3600), ..CacheSettings::default() }
}

/// Heap held now minus at the region's start.
fn held(region: &Region<'_, System>) -> i64 {
    let change = region.change();
    change.bytes_allocated as i64 - change.bytes_deallocated as i64
}

fn check(form: &str, held: i64, weight: u64) {
    let mib = |b: f64| b / (1024.0 * 1024.0);
    eprintln!("{form}: {:.2} MiB held, {:.2} MiB weighed, for {CALLS} calls", mib(held as f64), mib(weight as f64));
    assert!(held <= BUDGET, "{form}: {:.2} MiB for {CALLS} calls, over 16 MiB", mib(held as f64));
    let off = (weight as f64 - held as f64).abs() / held as f64;
    assert!(
        off <= WEIGHT_TOLERANCE,
        "{form}: the weigher says {:.2} MiB, the heap {:.2} MiB ({:.1}% apart)",
        mib(weight as f64),
        mib(held as f64),
        off * 100.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_cached_gong_calls_fit_in_16_mib_and_the_weigher_says_so() {
    let sandbox = Sandbox::start(SandboxSettings {
        calls: CALLS,
        gong: GongSimSettings { rate_per_sec: 0, ..Default::default() },
        ..SandboxSettings::default()
    })
    .await
    .unwrap();
    let pages = wire_pages(&sandbox).await;
    sandbox.shutdown().await;
    let connection: Arc<str> = Arc::from("gong");
    let page_key = |i: usize| CacheKey { connection: connection.clone(), op: "calls_page", fingerprint: i.to_string() };

    // As pages of 100, one entry a page.
    let cache = Cache::new(&settings());
    let region = Region::new(GLOBAL);
    let mut cached = 0;
    for (i, bytes) in pages.iter().enumerate() {
        let items = decode(bytes);
        cached += items.len();
        let page = Page { items, next: None, total: None };
        cache.get_or_fetch(page_key(i), ResourceKind::Calls, async move { Ok(page) }).await.unwrap();
    }
    assert_eq!(cached, CALLS);
    assert_eq!(cache.entry_count().await, pages.len() as u64);
    check("pages", held(&region), cache.weighted_size().await);
    // A hit gives back the calls as they were decoded, JSON included.
    for i in [0, pages.len() / 2, pages.len() - 1] {
        let hit = cache.get_or_fetch(page_key(i), ResourceKind::Calls, not_fetched::<Page<Call>>()).await.unwrap();
        assert_eq!(shown(&hit.items), shown(&decode(&pages[i])), "page {i}");
    }
    drop(cache);

    // As calls by id, fetched 100 ids at a time.
    let cache = Cache::new(&settings());
    let region = Region::new(GLOBAL);
    for bytes in &pages {
        let items = decode(bytes);
        let ids: Vec<String> = items.iter().map(|c| c.remote_id.clone()).collect();
        let found = cache
            .get_many(&connection, "call", ResourceKind::Calls, &ids, move |_| async move {
                Ok(items.into_iter().map(|c| (c.remote_id.clone(), c)).collect())
            })
            .await
            .unwrap();
        assert_eq!(found.len(), ids.len());
    }
    assert_eq!(cache.entry_count().await, CALLS as u64);
    check("by id", held(&region), cache.weighted_size().await);
    let last = decode(pages.last().unwrap());
    let ids: Vec<String> = last.iter().map(|c| c.remote_id.clone()).collect();
    let hit = cache
        .get_many(&connection, "call", ResourceKind::Calls, &ids, |_| not_fetched::<Vec<(String, Call)>>())
        .await
        .unwrap();
    let hit: Vec<Call> = ids.iter().map(|id| (*hit[id]).clone()).collect();
    assert_eq!(shown(&hit), shown(&last));
}
