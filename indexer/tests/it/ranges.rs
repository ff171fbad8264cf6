//! Adaptive `eth_getLogs` ranges: behind a proxy that refuses ranges wider than a limit (as
//! hosted providers do), the indexer halves its range until it passes, grows it back after
//! successes, and indexes exactly what a direct run indexes.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use alloy::{
    providers::{Provider, ProviderBuilder},
    transports::http::reqwest,
};
use axum::{extract::State, routing::post, Json, Router};
use fairtrain_indexer::sync::{Indexer, Step, SyncConfig};
use serde_json::{json, Value};

use crate::{
    both_databases,
    mirror::dump,
    support::{config, Backend, Chain, TestDb},
};

/// Largest range the proxy lets through.
const LIMIT: u64 = 3;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    client: reqwest::Client,
    refused: Arc<AtomicU64>,
}

fn number(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

async fn forward(State(p): State<Proxy>, Json(req): Json<Value>) -> Json<Value> {
    if req["method"] == "eth_getLogs" {
        let f = &req["params"][0];
        if number(&f["toBlock"]) - number(&f["fromBlock"]) + 1 > LIMIT {
            p.refused.fetch_add(1, Ordering::Relaxed);
            return Json(json!({
                "jsonrpc": "2.0",
                "id": req["id"],
                "error": { "code": -32005, "message": format!("query exceeds max block range {LIMIT}") }
            }));
        }
    }
    let resp = p.client.post(&p.upstream).json(&req).send().await.unwrap();
    Json(resp.json().await.unwrap())
}

async fn shrinks_and_grows(backend: Backend) {
    let chain = Chain::with_demo().await;
    let proxy = Proxy {
        upstream: chain.url.clone(),
        client: reqwest::Client::new(),
        refused: Arc::new(AtomicU64::new(0)),
    };
    let refused = proxy.refused.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route("/", post(forward)).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let limited = ProviderBuilder::new()
        .connect_http(url.parse().unwrap())
        .erased();
    let test_db = TestDb::new(backend).await;
    let db = test_db.connect().await;
    let cfg = SyncConfig {
        initial_range: 16,
        max_range: 16,
        ..config()
    };
    let mut ix = Indexer::new(limited, db.clone(), chain.deployment.clone(), cfg)
        .await
        .unwrap();
    let (mut shrunk, mut widest) = (Vec::new(), 0);
    loop {
        match ix.step().await.unwrap() {
            Step::Idle => break,
            Step::Shrunk { range } => shrunk.push(range),
            Step::Indexed { from, to, .. } => widest = widest.max(to - from + 1),
            other => panic!("unexpected {other:?}"),
        }
    }
    // 16 → 8 → 4 → 2 first; later growth back to 4 is refused again and halved.
    assert_eq!(&shrunk[..3], &[8, 4, 2], "{shrunk:?}");
    assert!(refused.load(Ordering::Relaxed) >= 3);
    assert!(
        (2..=LIMIT).contains(&widest),
        "ranges grew back to the limit: {widest}"
    );

    let direct_db = TestDb::new(backend).await;
    let direct = direct_db.connect().await;
    Indexer::new(
        chain.provider.clone(),
        direct.clone(),
        chain.deployment.clone(),
        config(),
    )
    .await
    .unwrap()
    .sync_to_head()
    .await
    .unwrap();
    assert_eq!(dump(&db).await, dump(&direct).await);
    assert_eq!(
        fairtrain_indexer::raw::count(&db).await.unwrap(),
        chain.log_count().await as u64
    );
}
both_databases!(adaptive_ranges_shrink_and_grow, super::shrinks_and_grows);
