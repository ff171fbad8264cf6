//! Mirroring: every log stored once, derived state equal to the chain's, restart and rebuild.

use alloy::{
    primitives::address,
    providers::{Provider, ProviderBuilder},
    sol_types::SolEvent,
};
use fairtrain_indexer::{
    derive, raw,
    reconcile::reconcile,
    sync::{Indexer, Step, SyncConfig},
    Db,
};
use fairtrain_protocol::bindings::TrainingEscrow::UsageSettled;
use fairtrain_testkit::proxy::RangeLimitProxy;

use crate::{
    both_databases,
    support::{config, Backend, Chain, Connect, TestDb},
};

/// Every derived table, row by row, as text (for comparing two databases).
pub(crate) async fn dump(db: &Db) -> Vec<String> {
    let mut out = Vec::new();
    for table in fairtrain_indexer::db::DERIVED_TABLES {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
            .fetch_all(&db.pool)
            .await
            .unwrap();
        let mut lines: Vec<String> = rows
            .iter()
            .map(|row| {
                use sqlx::{Column, Row};
                let cols: Vec<String> = row
                    .columns()
                    .iter()
                    .map(|c| {
                        let i = c.ordinal();
                        row.try_get::<i64, _>(i)
                            .map(|v| v.to_string())
                            .or_else(|_| {
                                row.try_get::<Option<String>, _>(i)
                                    .map(|v| format!("{v:?}"))
                            })
                            .unwrap()
                    })
                    .collect();
                format!("{table}: {}", cols.join(" | "))
            })
            .collect();
        lines.sort();
        out.extend(lines);
    }
    out
}

async fn count(db: &Db, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&db.pool)
        .await
        .unwrap();
    n
}

async fn indexer(chain: &Chain, db: &Db) -> Indexer {
    chain.indexer(db, config()).await
}

async fn backfill_demo(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let mut ix = indexer(&chain, &db).await;
    let events = ix.sync_to_head().await.unwrap();

    // Every log once, checkpoint at the head.
    let logs = chain.log_count().await;
    assert!(logs > 30, "the demo emits many events, got {logs}");
    assert_eq!(events, logs as u64);
    assert_eq!(raw::count(&db).await.unwrap(), logs as u64);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM raw_events").await,
        logs as i64
    );
    assert_eq!(
        raw::checkpoint(&db).await.unwrap().unwrap().number,
        chain.head().await
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM raw_events WHERE name = 'unknown'"
        )
        .await,
        0
    );

    // Derived state matches the chain.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM licenses").await, 5);
    let filter = alloy::rpc::types::Filter::new()
        .address(chain.deployment.training_escrow)
        .event_signature(UsageSettled::SIGNATURE_HASH)
        .from_block(0);
    let settled = alloy::providers::Provider::get_logs(&chain.provider, &filter)
        .await
        .unwrap()
        .len();
    assert!(settled > 0);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM settlements").await,
        settled as i64
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM settlements WHERE payer IS NULL").await,
        0
    );
    let (payer, available): (String, String) =
        sqlx::query_as("SELECT payer, available FROM balances")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let on_chain = chain.available(payer.parse().unwrap()).await;
    assert_eq!(available, on_chain.to_string());
    // Demo.s.sol funds the relayer's line with 9,000 of its 10,000 fUSD; the batch reserved from it.
    assert_eq!(available, "1000000000");
    let (credit, reserved): (String, String) =
        sqlx::query_as("SELECT credit, reserved FROM balances")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((credit.as_str(), reserved.as_str()), ("8813600000", "0"));
    let (line_credit, line_reserved, until): (String, String, i64) =
        sqlx::query_as("SELECT credit, reserved, reserved_until FROM credit_lines")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((line_credit, line_reserved), (credit, reserved));
    assert!(until > 0, "the batch locked the line");
    // Creator A's royalties (Demo.s.sol pays it 10.14 fUSD net).
    let creator_a = format!(
        "{:#x}",
        address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
    );
    let nets: Vec<(String,)> = sqlx::query_as("SELECT net FROM royalties_daily WHERE payee = $1")
        .bind(&creator_a)
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let net: u128 = nets.iter().map(|(n,)| n.parse::<u128>().unwrap()).sum();
    assert_eq!(net, 10_140_000);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM batches").await, 1);
    let (reserved, settled): (String, String) =
        sqlx::query_as("SELECT reserved, settled FROM batches")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        (reserved.as_str(), settled.as_str()),
        ("186400000", "186400000")
    );

    // The chain confirms every derived value.
    let report = reconcile(&db, &chain.provider, &chain.deployment)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");
    assert!(report.checks >= 30, "{report}");

    // A second pass finds nothing new and changes nothing.
    let before = dump(&db).await;
    assert_eq!(ix.sync_to_head().await.unwrap(), 0);
    assert_eq!(dump(&db).await, before);

    // A migration that adds derived state to an indexed database (as 0009 did) leaves its table
    // empty and marks the state stale: the next start rebuilds it to what indexing produced.
    assert!(count(&db, "SELECT COUNT(*) FROM royalties_creator_daily").await > 0);
    sqlx::query("DELETE FROM royalties_creator_daily")
        .execute(&db.pool)
        .await
        .unwrap();
    db.set_meta(fairtrain_indexer::db::DERIVED_STALE, "a test's migration")
        .await
        .unwrap();
    drop(ix);
    let _restarted = indexer(&chain, &db).await;
    assert_eq!(dump(&db).await, before);
    assert_eq!(
        db.meta(fairtrain_indexer::db::DERIVED_STALE).await.unwrap(),
        None
    );
}
both_databases!(backfill_demo_matches_chain, super::backfill_demo);

async fn restart_resumes(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;

    // Index a few ranges only, then "crash" (drop the indexer and the pool).
    {
        let slow = SyncConfig {
            initial_range: 1,
            max_range: 2,
            ..config()
        };
        let mut ix = chain.indexer(&db, slow).await;
        for _ in 0..3 {
            ix.step().await.unwrap();
        }
    }
    let partial = raw::checkpoint(&db).await.unwrap().unwrap().number;
    assert!(partial < chain.head().await, "stopped before the head");
    db.pool.close().await;

    // Restart on the same database, through a proxy that records every `eth_getLogs`: it
    // resumes after the checkpoint (the first range starts at checkpoint + 1, no block up to the
    // checkpoint is read again), indexes to the head, then follows new blocks.
    let proxy = RangeLimitProxy::recording(&chain.url).await;
    let db = test_db.connect().await;
    let mut ix = Indexer::new(
        ProviderBuilder::new()
            .connect_http(proxy.url.parse().unwrap())
            .erased(),
        db.clone(),
        chain.deployment.clone(),
        config(),
    )
    .await
    .unwrap();
    match ix.step().await.unwrap() {
        Step::Indexed { from, .. } => assert_eq!(from, partial + 1, "first range after restart"),
        other => panic!("expected a range after the restart, got {other:?}"),
    }
    ix.sync_to_head().await.unwrap();
    let fetched = proxy.ranges();
    assert_eq!(
        fetched.first().map(|r| r.0),
        Some(partial + 1),
        "{fetched:?}"
    );
    assert!(
        fetched.iter().all(|&(from, _)| from > partial),
        "blocks up to the checkpoint {partial} fetched again: {fetched:?}"
    );
    chain.deposit(5, 1_000_000).await;
    chain.deposit(6, 2_000_000).await;
    ix.sync_to_head().await.unwrap();
    assert_eq!(
        raw::count(&db).await.unwrap(),
        chain.log_count().await as u64
    );

    // Same result as one uninterrupted run into a fresh database.
    let fresh_db = TestDb::new(backend);
    let fresh = fresh_db.connect().await;
    indexer(&chain, &fresh).await.sync_to_head().await.unwrap();
    assert_eq!(dump(&db).await, dump(&fresh).await);

    let report = reconcile(&db, &chain.provider, &chain.deployment)
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");

    // Rebuilding the derived tables from the raw events gives the same state again.
    let stats = derive::rebuild(&db, &chain.deployment).await.unwrap();
    assert_eq!(stats.events, raw::count(&db).await.unwrap());
    assert_eq!(dump(&db).await, dump(&fresh).await);
}
both_databases!(restart_resumes_exactly, super::restart_resumes);

async fn wrong_database_refused(backend: Backend) {
    let chain = Chain::deployed().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    indexer(&chain, &db).await;
    let mut other = chain.deployment.clone();
    other.training_escrow = address!("0x00000000000000000000000000000000000e5c40");
    let err = Indexer::new(chain.provider.clone(), db.clone(), other, config())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("training_escrow"), "{err}");
}
both_databases!(
    refuses_a_database_of_another_deployment,
    super::wrong_database_refused
);

async fn reconcile_reports_differences(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    indexer(&chain, &db).await.sync_to_head().await.unwrap();
    assert!(reconcile(&db, &chain.provider, &chain.deployment)
        .await
        .unwrap()
        .is_clean());

    // Corrupt three derived values: reconcile names exactly those (and the identity they break).
    sqlx::query("UPDATE balances SET available = '1'")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE licenses SET holder = '0x0000000000000000000000000000000000000bad' WHERE license_num = 2")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE credit_lines SET reserved_until = 1")
        .execute(&db.pool)
        .await
        .unwrap();
    // A value read in bulk through Multicall3 (every signing key of every payer).
    sqlx::query("UPDATE signers SET revoked_at = 5")
        .execute(&db.pool)
        .await
        .unwrap();
    let report = reconcile(&db, &chain.provider, &chain.deployment)
        .await
        .unwrap();
    let what: Vec<&str> = report.differences.iter().map(|d| d.what.as_str()).collect();
    let signers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signers")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(signers > 0);
    assert_eq!(report.differences.len(), 4 + signers as usize, "{report}");
    assert!(what[0].starts_with("availableBalance("), "{report}");
    assert!(what[1].starts_with("balanceOf(escrow)"), "{report}");
    assert!(what[2].starts_with("creditLine("), "{report}");
    assert_eq!(what[3], "license(2)", "{report}");
    for (d, what) in report.differences[4..].iter().zip(&what[4..]) {
        assert!(
            what.starts_with("signerOf(") && what.ends_with(".revokedAt"),
            "{report}"
        );
        assert_eq!(
            (d.indexed.as_str(), d.chain.as_str()),
            ("5", "0"),
            "{report}"
        );
    }
    assert_eq!(report.differences[0].indexed, "1");
    assert_eq!(report.differences[0].chain, "1000000000");
    assert!(
        report.differences[2].indexed.ends_with("reservedUntil 1"),
        "{report}"
    );

    // Rebuilding from the raw events repairs the derived state.
    derive::rebuild(&db, &chain.deployment).await.unwrap();
    assert!(reconcile(&db, &chain.provider, &chain.deployment)
        .await
        .unwrap()
        .is_clean());
}
both_databases!(
    reconcile_names_each_difference,
    super::reconcile_reports_differences
);
