//! Micro-benchmarks of the paths every request crosses: the Relay cursor codec,
//! mapping a provider page into domain records, and a cache hit.
//!
//! Run: `cargo bench --bench hot_paths` (results and the machine they were taken on
//! are in BENCHMARKS.md).

use std::{hint::black_box, sync::Arc, time::Duration};

use convograph::{
    cache::{Cache, CacheKey, ResourceKind},
    config::CacheSettings,
    domain::{Call, Page},
    providers::{ProviderError, gong::decode_calls_page},
    sandbox::{Sandbox, SandboxSettings},
    schema::connection::{CursorCodec, ListId, PageArgs, paginate},
};
use criterion::{Criterion, criterion_group, criterion_main};

/// One Gong `calls/extensive` page of 100 calls, as the simulator renders it.
fn gong_page(rt: &tokio::runtime::Runtime) -> Vec<u8> {
    rt.block_on(async {
        let sandbox = Sandbox::start(SandboxSettings { calls: 300, ..SandboxSettings::default() }).await.unwrap();
        let body = convograph::providers::gong::calls_extensive_body(&serde_json::json!({}));
        let bytes = reqwest::Client::new()
            .post(format!("{}/v2/calls/extensive", sandbox.gong.base_url()))
            .basic_auth(sandbox.gong.access_key(), Some(sandbox.gong.access_key_secret()))
            .json(&body)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec();
        sandbox.shutdown().await;
        bytes
    })
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let page_bytes = gong_page(&rt);
    let calls: Vec<Call> = decode_calls_page(&page_bytes).unwrap();
    assert_eq!(calls.len(), 100);

    c.bench_function("gong: decode and map a 100-call calls/extensive page", |b| {
        b.iter(|| decode_calls_page(black_box(&page_bytes)).unwrap())
    });

    // Paging: 25 edges cut from a cached provider page, each with a signed cursor,
    // after verifying the `after` cursor.
    let codec = CursorCodec::new(b"bench key");
    let list = ListId::new(&Arc::from("gong-demo"), "calls", &serde_json::json!({}));
    let page = Page { items: (0..100).map(|i| i.to_string()).collect::<Vec<_>>(), next: None, total: Some(100) };
    let first = rt
        .block_on(paginate(
            &codec,
            100,
            &list,
            PageArgs { first: Some(25), ..PageArgs::default() },
            |_| async { Ok::<_, ProviderError>(page.clone()) },
            |s| s,
        ))
        .unwrap();
    let after = first.edges.last().unwrap().cursor.clone();
    c.bench_function("relay: a page of 25 edges after a signed cursor", |b| {
        b.to_async(&rt).iter(|| async {
            paginate(
                &codec,
                100,
                &list,
                PageArgs { first: Some(25), after: Some(after.clone()), ..PageArgs::default() },
                |_| async { Ok::<_, ProviderError>(page.clone()) },
                |s| s,
            )
            .await
            .unwrap()
        })
    });

    // A cache hit of a page of 100 calls.
    let cache = Cache::new(&CacheSettings { calls_ttl: Duration::from_secs(600), ..CacheSettings::default() });
    let key = CacheKey { connection: Arc::from("gong-demo"), op: "calls_page", fingerprint: "bench".into() };
    let cached = Page { items: calls, next: None, total: Some(100) };
    rt.block_on(cache.get_or_fetch(key.clone(), ResourceKind::Calls, async { Ok(cached.clone()) })).unwrap();
    c.bench_function("cache: hit on a 100-call page", |b| {
        b.to_async(&rt).iter(|| async {
            cache
                .get_or_fetch::<Page<Call>, _>(key.clone(), ResourceKind::Calls, async {
                    unreachable!("a hit does not fetch")
                })
                .await
                .unwrap()
        })
    });
    // The same, reading every call's `remoteData` too (decompresses the page's JSON
    // once and parses each call's record).
    c.bench_function("cache: hit on a 100-call page, with remoteData", |b| {
        b.to_async(&rt).iter(|| async {
            let page = cache
                .get_or_fetch::<Page<Call>, _>(key.clone(), ResourceKind::Calls, async {
                    unreachable!("a hit does not fetch")
                })
                .await
                .unwrap();
            page.items.iter().map(|c| c.raw.as_object().map_or(0, |o| o.len())).sum::<usize>()
        })
    });
    // 100 calls cached by id (one entry each, compressed against the connection's
    // dictionary), read back in one lookup.
    let connection: Arc<str> = Arc::from("gong-demo");
    let ids: Vec<String> = cached.items.iter().map(|c| c.remote_id.clone()).collect();
    let by_id: Vec<(String, Call)> = cached.items.iter().map(|c| (c.remote_id.clone(), c.clone())).collect();
    rt.block_on(cache.get_many(&connection, "call", ResourceKind::Calls, &ids, |_| async { Ok(by_id) })).unwrap();
    c.bench_function("cache: hit on 100 calls by id", |b| {
        b.to_async(&rt).iter(|| async {
            cache
                .get_many::<Call, _, _>(&connection, "call", ResourceKind::Calls, &ids, |_| async {
                    unreachable!("a hit does not fetch")
                })
                .await
                .unwrap()
        })
    });
}

criterion_group!(hot_paths, benches);
criterion_main!(hot_paths);
