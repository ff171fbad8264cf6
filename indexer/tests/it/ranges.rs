//! Adaptive `eth_getLogs` ranges: behind a proxy that refuses ranges wider than a limit (as
//! hosted providers do), the indexer halves its range until it passes, grows it back after
//! successes, and indexes exactly what a direct run indexes.

use alloy::providers::{Provider, ProviderBuilder};
use fairtrain_indexer::sync::{Indexer, Step, SyncConfig};
use fairtrain_testkit::proxy::RangeLimitProxy;

use crate::{
    both_databases,
    mirror::dump,
    support::{config, Backend, Chain, Connect, TestDb},
};

/// Largest range the proxy lets through.
const LIMIT: u64 = 3;

async fn shrinks_and_grows(backend: Backend) {
    let chain = Chain::with_demo().await;
    let proxy = RangeLimitProxy::start(&chain.url, LIMIT).await;
    let limited = ProviderBuilder::new()
        .connect_http(proxy.url.parse().unwrap())
        .erased();
    let test_db = TestDb::new(backend);
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
    assert!(proxy.refused() >= 3);
    assert!(
        (2..=LIMIT).contains(&widest),
        "ranges grew back to the limit: {widest}"
    );

    let direct_db = TestDb::new(backend);
    let direct = direct_db.connect().await;
    chain
        .indexer(&direct, config())
        .await
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
