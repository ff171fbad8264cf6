//! Indexer benchmarks (run by `./scripts/bench`); each prints `name: value unit` lines.
//!
//! 1. Backfill: a local anvil holds the demo lifecycle plus `BENCH_MINTS` licenses minted with
//!    `mintBatch` (two events each: ERC-721 `Transfer` and `LicenseMinted`; 100k+ events in all).
//!    The indexer backfills it into a fresh SQLite file and a fresh PostgreSQL database, RPC on
//!    loopback. `rpc_only` reads and decodes the same logs without a database, to show where
//!    the time goes.
//! 2. Rebuild: recomputing every derived table from those raw events.
//! 3. Dashboard at 1M events: 1M `UsageSettled` events (plus deposits and 1,000 licenses of 100
//!    creators over a year of days) synthesized straight into raw_events, rebuilt, then the
//!    dashboard's heaviest questions timed (median of repeated runs).
//! 4. Catalog at `BENCH_CATALOG` (100k) datasets: licenses, terms and published manifests
//!    written straight into the tables, then `/api/catalog`'s questions timed (a first page, a
//!    kind, a word, a metadata entry, a device bound, the last page) and a card.

#[path = "../tests/it/support.rs"]
#[allow(dead_code, unreachable_pub, unused_imports)]
mod support;

use std::time::{Duration, Instant};

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use fairtrain_indexer::{
    decode::{Event, Record},
    derive, query, raw,
    sync::{Indexer, SyncConfig},
    Db,
};
use fairtrain_protocol::bindings::{
    License,
    LicenseNFT::{self, LicenseMinted, Transfer},
    TrainingEscrow::{Deposited, UsageSettled},
};
use support::{Backend, Chain, Connect, TestDb};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn print(name: &str, value: f64, unit: &str) {
    if value >= 100.0 {
        println!("indexer.{name}: {value:.0} {unit}");
    } else {
        println!("indexer.{name}: {value:.2} {unit}");
    }
}

/// Mints `n` licenses in `mintBatch` transactions of `per_tx`.
async fn mint_many(chain: &Chain, n: u64, per_tx: u64) {
    let (creator, p) = chain.wallet(1);
    let nft = LicenseNFT::new(chain.deployment.license_nft, p);
    let terms = License::Terms {
        kind: 1u8,
        paymentToken: chain.deployment.payment_tokens[0],
        pricePerSample: alloy::primitives::Uint::from(1_000u64),
        unit: 0,
        maxSamples: 0,
        expiresAt: alloy::primitives::Uint::ZERO,
        commercialUse: true,
        attributionRequired: false,
        derivatives: 1u8,
        exclusiveLicensee: Address::ZERO,
        uri: "ipfs://bench/terms".into(),
    };
    let mut minted = 0;
    let mut pending = Vec::new();
    while minted < n {
        let k = per_tx.min(n - minted);
        let requests = (minted..minted + k)
            .map(|i| License::MintRequest {
                terms: terms.clone(),
                manifestHash: keccak256(format!("bench-{creator}-{i}")),
                royaltyBps: alloy::primitives::Uint::from(100u64),
            })
            .collect::<Vec<_>>();
        pending.push(
            nft.mintBatch(requests)
                .gas(400_000_000)
                .send()
                .await
                .unwrap(),
        );
        minted += k;
        if pending.len() >= 16 {
            for tx in pending.drain(..) {
                assert!(tx.get_receipt().await.unwrap().status());
            }
        }
    }
    for tx in pending {
        assert!(tx.get_receipt().await.unwrap().status());
    }
}

async fn backfill(chain: &Chain, backend: Backend, events: u64) -> (TestDb, Db) {
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let cfg = SyncConfig {
        initial_range: 8,
        ..SyncConfig::default()
    };
    let mut ix = Indexer::new(
        chain.provider.clone(),
        db.clone(),
        chain.deployment.clone(),
        cfg,
    )
    .await
    .unwrap();
    let start = Instant::now();
    let n = ix.sync_to_head().await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(n, events);
    let name = if backend == Backend::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    print(
        &format!("backfill_{name}_events_per_s"),
        n as f64 / secs,
        "events/s",
    );
    print(&format!("backfill_{name}_s"), secs, "s");

    let start = Instant::now();
    let stats = derive::rebuild(&db, &chain.deployment).await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(stats.events, events);
    print(
        &format!("rebuild_{name}_events_per_s"),
        events as f64 / secs,
        "events/s",
    );
    (test_db, db)
}

/// Reads and decodes every log in ranges like the indexer's, with no database.
async fn rpc_only(chain: &Chain) -> (u64, f64) {
    let head = chain.head().await;
    let start = Instant::now();
    let (mut from, mut n) = (0u64, 0u64);
    let mut range = 8u64;
    while from <= head {
        let to = head.min(from + range - 1);
        let filter = Filter::new()
            .address(chain.deployment.addresses().to_vec())
            .from_block(from)
            .to_block(to);
        let logs = chain.provider.get_logs(&filter).await.unwrap();
        for log in &logs {
            let e = Event::decode(
                &chain.deployment,
                log.address(),
                log.topics(),
                &log.data().data,
            );
            assert!(!matches!(e, Event::Unknown));
        }
        n += logs.len() as u64;
        if logs.len() < 20_000 {
            range = (range * 2).min(50_000);
        }
        from = to + 1;
    }
    (n, start.elapsed().as_secs_f64())
}

#[allow(clippy::too_many_arguments)]
fn record(
    block: u64,
    log_index: u64,
    time: u64,
    address: Address,
    topics: Vec<B256>,
    data: Bytes,
    d: &fairtrain_indexer::Deployment,
) -> Record {
    let event = Event::decode(d, address, &topics, &data);
    assert!(!matches!(event, Event::Unknown));
    Record {
        block_number: block,
        block_hash: keccak256(block.to_be_bytes()),
        block_time: time,
        tx_hash: keccak256((block * 1_000_000 + log_index).to_be_bytes()),
        log_index,
        address,
        topics,
        data,
        event,
    }
}

/// 1M settlements (plus setup events) written straight into raw_events.
async fn synthesize(db: &Db, d: &fairtrain_indexer::Deployment, settlements: u64) -> u64 {
    let token = Address::repeat_byte(0x70);
    let payers: Vec<Address> = (0..10u8).map(|i| Address::repeat_byte(0xa0 + i)).collect();
    let creators: Vec<Address> = (0..100u8).map(|i| Address::with_last_byte(i + 1)).collect();
    let t0 = 1_750_000_000u64;
    let mut records = Vec::new();
    let mut block = 1u64;
    for p in &payers {
        let ev = Deposited {
            payer: *p,
            token,
            from: *p,
            amount: U256::from(10u128.pow(30)),
        };
        let ld = ev.encode_log_data();
        records.push(record(
            block,
            records.len() as u64,
            t0,
            d.training_escrow,
            ld.topics().to_vec(),
            ld.data.clone(),
            d,
        ));
    }
    for id in 1..=1000u64 {
        let creator = creators[(id % 100) as usize];
        let t = Transfer {
            from: Address::ZERO,
            to: creator,
            tokenId: U256::from(id),
        }
        .encode_log_data();
        records.push(record(
            block,
            records.len() as u64,
            t0,
            d.license_nft,
            t.topics().to_vec(),
            t.data.clone(),
            d,
        ));
        let m = LicenseMinted {
            licenseId: U256::from(id),
            creator,
            termsId: 1,
            manifestHash: keccak256(id.to_be_bytes()),
            royaltyBps: alloy::primitives::Uint::from(100u64),
        }
        .encode_log_data();
        records.push(record(
            block,
            records.len() as u64,
            t0,
            d.license_nft,
            m.topics().to_vec(),
            m.data.clone(),
            d,
        ));
    }
    let mut total = records.len() as u64;
    let mut tx = db.pool.begin().await.unwrap();
    raw::insert_events(&mut tx, d.chain_id, &records)
        .await
        .unwrap();
    records.clear();
    // 1M settlements over 365 days, 100 per block.
    let mut x = 0x9e3779b97f4a7c15u64;
    for i in 0..settlements {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if i % 100 == 0 {
            block += 1;
        }
        let license = 1 + x % 1000;
        let payer = payers[(x >> 20) as usize % payers.len()];
        let samples = 1 + (x >> 32) % 1000;
        let amount = U256::from(samples * 1_000);
        let ev = UsageSettled {
            root: B256::ZERO,
            usageKey: keccak256(i.to_be_bytes()),
            payee: creators[(license % 100) as usize],
            payer,
            licenseId: U256::from(license),
            termsId: 1,
            token,
            cumulativeSamples: samples,
            samplesCharged: samples,
            amount,
            fee: amount * U256::from(250) / U256::from(10_000),
        }
        .encode_log_data();
        let time = t0 + i * 365 * 86_400 / settlements;
        records.push(record(
            block,
            i % 100,
            time,
            d.training_escrow,
            ev.topics().to_vec(),
            ev.data.clone(),
            d,
        ));
        if records.len() == 10_000 {
            raw::insert_events(&mut tx, d.chain_id, &records)
                .await
                .unwrap();
            total += records.len() as u64;
            records.clear();
        }
    }
    raw::insert_events(&mut tx, d.chain_id, &records)
        .await
        .unwrap();
    total += records.len() as u64;
    raw::set_checkpoint(
        &mut tx,
        raw::Checkpoint {
            number: block,
            hash: keccak256(block.to_be_bytes()),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    total
}

async fn median_ms<F, Fut>(runs: usize, mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f().await;
        times.push(start.elapsed());
    }
    times.sort();
    times[runs / 2].as_secs_f64() * 1000.0
}

/// The catalog's questions at `n` datasets (see the module's documentation).
async fn catalog_at_scale(backend: Backend, n: u64) {
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let creator =
        alloy::signers::local::PrivateKeySigner::from_bytes(&keccak256("creator")).unwrap();
    let file = fairtrain_protocol::FileEntry {
        path: "data.bin".into(),
        size: 1 << 20,
        hash: keccak256("bytes"),
    };
    let mut manifest = fairtrain_protocol::DatasetManifest::new(
        "bench",
        "",
        creator.address(),
        0,
        Default::default(),
        vec![file],
    )
    .unwrap();
    manifest.sign(&creator).unwrap();
    let document = manifest.to_json();
    let creator_hex = format!("{:#x}", creator.address());
    let token = format!("{:#x}", Address::repeat_byte(0xf0));
    let zero = format!("{:#x}", Address::ZERO);
    let start = Instant::now();
    let mut tx = db.begin_write().await.unwrap();
    for kind in 0..5i64 {
        sqlx::query(
            "INSERT INTO terms (terms_id, terms_hash, kind, payment_token, price_per_sample, \
             max_samples, expires_at, commercial_use, attribution_required, derivatives, \
             exclusive_licensee, uri, block_number) \
             VALUES ($1, $2, $3, $4, $5, 0, 0, $6, 0, 0, $7, '', 1)",
        )
        .bind(kind + 1)
        .bind(format!("{:#x}", keccak256(kind.to_be_bytes())))
        .bind(kind)
        .bind(&token)
        .bind(((kind + 1) * 1000).to_string())
        .bind(i64::from(kind == 1))
        .bind(&zero)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    let backend_db = fairtrain_db::Backend::of(&test_db.url).unwrap();
    const CHUNK: u64 = 500;
    for first in (0..n).step_by(CHUNK as usize) {
        let rows = CHUNK.min(n - first) as usize;
        let mut licenses = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO licenses (license_id, license_num, creator, holder, terms_id, \
             manifest_hash, version, royalty_bps, minted_block, minted_at) VALUES {}",
            fairtrain_db::sql::values(backend_db, rows, 6, ", 1, 0, 1, 0")
        )));
        let mut manifests = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO manifests (manifest_hash, creator, name, description, total_size, \
             device_qubits, device_calibrated_at, device_max_two_qubit_error_ppb, document, \
             file_count, gateway, fetched_at) VALUES {}",
            fairtrain_db::sql::values(backend_db, rows, 9, ", 1, 'http://gateway', 0")
        )));
        let mut metadata = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO manifest_metadata (manifest_hash, value, key) VALUES {}",
            fairtrain_db::sql::values(backend_db, rows, 2, ", 'topic'")
        )));
        for i in first..first + rows as u64 {
            let hash = format!("{:#x}", keccak256(i.to_be_bytes()));
            let quantum = i % 10 == 0;
            licenses = licenses
                .bind((i + 1).to_string())
                .bind((i + 1) as i64)
                .bind(&creator_hex)
                .bind(&creator_hex)
                .bind((i % 5 + 1) as i64)
                .bind(hash.clone());
            manifests = manifests
                .bind(hash.clone())
                .bind(&creator_hex)
                .bind(format!(
                    "dataset {i} of {}",
                    ["photos", "speech", "circuits", "text"][(i % 4) as usize]
                ))
                .bind(format!("synthetic dataset number {i}"))
                .bind((i % 1000) as i64 * 1_000_000)
                .bind(quantum.then_some(127i64))
                .bind(quantum.then_some(1_750_000_000 + i as i64))
                .bind(quantum.then_some(((i % 50) as i64 + 1) * 1_000_000))
                .bind(&document);
            metadata = metadata
                .bind(hash)
                .bind(["vision", "audio", "quantum"][(i % 3) as usize]);
        }
        licenses.execute(&mut *tx).await.unwrap();
        manifests.execute(&mut *tx).await.unwrap();
        metadata.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    if backend == Backend::Postgres {
        // What autovacuum does after a bulk load: the planner's statistics.
        sqlx::query("ANALYZE").execute(&db.pool).await.unwrap();
    }
    eprintln!("catalog: {n} datasets written in {:.1?}", start.elapsed());
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let page = query::Page::default();
    for (label, filter) in [
        ("first_page", query::CatalogFilter::default()),
        (
            "kind",
            query::CatalogFilter {
                kind: Some("commercial".into()),
                ..Default::default()
            },
        ),
        (
            "words",
            query::CatalogFilter {
                q: Some("circuits".into()),
                ..Default::default()
            },
        ),
        (
            "metadata",
            query::CatalogFilter {
                meta: Some("topic=quantum".into()),
                ..Default::default()
            },
        ),
        (
            "device",
            query::CatalogFilter {
                max_two_qubit_error: Some(0.01),
                calibrated_after: Some(1_750_050_000),
                ..Default::default()
            },
        ),
    ] {
        let ms = median_ms(5, || async {
            let found = query::catalog(&db, &filter, page).await.unwrap();
            assert!(found.total > 0, "{label}");
        })
        .await;
        print(&format!("catalog_{name}_{label}_ms"), ms, "ms");
    }
    let last = query::Page {
        page: n.div_ceil(100),
        per_page: 100,
    };
    let ms = median_ms(5, || async {
        let found = query::catalog(&db, &query::CatalogFilter::default(), last)
            .await
            .unwrap();
        assert!(!found.items.is_empty());
    })
    .await;
    print(&format!("catalog_{name}_last_page_ms"), ms, "ms");
    let ms = median_ms(5, || async {
        query::card(&db, &(n / 2).to_string()).await.unwrap();
    })
    .await;
    print(&format!("catalog_{name}_card_ms"), ms, "ms");
}

async fn dashboard_at_scale(
    backend: Backend,
    deployment: &fairtrain_indexer::Deployment,
    settlements: u64,
) {
    let name = if backend == Backend::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let total = synthesize(&db, deployment, settlements).await;
    let start = Instant::now();
    let stats = derive::rebuild(&db, deployment).await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(stats.events, total);
    print(&format!("rebuild_1m_{name}_s"), secs, "s");
    print(
        &format!("rebuild_1m_{name}_events_per_s"),
        total as f64 / secs,
        "events/s",
    );

    let creators = query::creators(&db).await.unwrap();
    assert_eq!(creators.len(), 100);
    let ms = median_ms(15, || async {
        query::creators(&db).await.unwrap();
    })
    .await;
    print(&format!("dashboard_creators_query_1m_{name}_ms"), ms, "ms");
    let all = query::Page {
        page: 1,
        per_page: 1000,
    };
    let by_day = query::RoyaltyFilter {
        group: query::GroupBy::Day,
        ..Default::default()
    };
    let one_creator = query::RoyaltyFilter {
        creator: Some(format!("{:#x}", Address::with_last_byte(7))),
        group: query::GroupBy::Day,
        ..Default::default()
    };
    for (metric, filter) in [
        ("dashboard_licenses_query", query::RoyaltyFilter::default()),
        ("dashboard_usage_chart_query", by_day),
        ("creator_usage_by_day_query", one_creator),
    ] {
        let ms = median_ms(15, || async {
            query::royalties(&db, &filter, all).await.unwrap();
        })
        .await;
        print(&format!("{metric}_1m_{name}_ms"), ms, "ms");
    }
}

/// A clean reconciliation of everything indexed, timed with the chain's Multicall3 (bulk reads
/// batched, 256 a call) and without it (its code removed: every read its own `eth_call`, 16 in
/// flight). Multicall3 is put back at the end.
async fn reconcile_both_ways(chain: &Chain, db: &Db) {
    use fairtrain_chain::views::MULTICALL3;
    let code = chain.provider.get_code_at(MULTICALL3).await.unwrap();
    for (name, code_now) in [("multicall", code.clone()), ("call_by_call", Bytes::new())] {
        // Reconciliation reads at the indexed checkpoint: move it past the change.
        chain
            .rpc("anvil_setCode", serde_json::json!([MULTICALL3, code_now]))
            .await;
        chain.rpc("anvil_mine", serde_json::json!([1])).await;
        Indexer::new(
            chain.provider.clone(),
            db.clone(),
            chain.deployment.clone(),
            SyncConfig::default(),
        )
        .await
        .unwrap()
        .sync_to_head()
        .await
        .unwrap();
        let start = Instant::now();
        let report =
            fairtrain_indexer::reconcile::reconcile(db, &chain.provider, &chain.deployment)
                .await
                .unwrap();
        let secs = start.elapsed().as_secs_f64();
        assert!(report.is_clean(), "{report}");
        print(&format!("reconcile_{name}_s"), secs, "s");
        print(
            &format!("reconcile_{name}_checks"),
            report.checks as f64,
            "checks",
        );
    }
    chain
        .rpc("anvil_setCode", serde_json::json!([MULTICALL3, code]))
        .await;
}

#[tokio::main]
async fn main() {
    let datasets = env("BENCH_CATALOG", 100_000);
    // BENCH_ONLY=catalog: the catalog's figures alone.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("catalog") {
        catalog_at_scale(Backend::Sqlite, datasets).await;
        catalog_at_scale(Backend::Postgres, datasets).await;
        return;
    }
    let mints = env("BENCH_MINTS", 50_000);
    let chain = Chain::deployed_with(&["--disable-code-size-limit"]).await;
    // Room for batches of hundreds of mints in one transaction. Set after the deployed state is
    // loaded: loading it resets the block gas limit anvil was started with.
    chain
        .rpc("evm_setBlockGasLimit", serde_json::json!(["0x3b9aca00"]))
        .await;
    chain.demo().await;
    let start = Instant::now();
    mint_many(&chain, mints, env("BENCH_MINTS_PER_TX", 500)).await;
    let events = chain.log_count().await as u64;
    eprintln!(
        "generated {events} events in {:.1?} ({} blocks)",
        start.elapsed(),
        chain.head().await
    );
    print("bench_events", events as f64, "events");

    let (n, secs) = rpc_only(&chain).await;
    assert_eq!(n, events);
    print("rpc_only_events_per_s", n as f64 / secs, "events/s");

    let sqlite = backfill(&chain, Backend::Sqlite, events).await;
    reconcile_both_ways(&chain, &sqlite.1).await;
    let _postgres = backfill(&chain, Backend::Postgres, events).await;

    catalog_at_scale(Backend::Sqlite, datasets).await;
    catalog_at_scale(Backend::Postgres, datasets).await;

    let settlements = env("BENCH_SETTLEMENTS", 1_000_000);
    dashboard_at_scale(Backend::Sqlite, &chain.deployment, settlements).await;
    if env("BENCH_PG_1M", 1) == 1 {
        dashboard_at_scale(Backend::Postgres, &chain.deployment, settlements).await;
    }
}
