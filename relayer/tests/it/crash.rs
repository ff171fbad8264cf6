//! Crash tests: the real binary is SIGKILLed at every step of the batch lifecycle and of the
//! claim lifecycle (fail points make it stop dead at the step), restarted, and the chain and
//! the store are checked: no acknowledged receipt is lost, none is counted twice, no root is
//! committed twice, every receipt is paid exactly once and every claim job finishes.

use std::{path::Path, process::Command, time::Duration};

use alloy::{primitives::U256, providers::Provider};
use fairtrain_protocol::api::relayer::BulkResponse;
use serde_json::{json, Value};

use crate::support::{
    binary, counts, free_port, write_config, Api, Chain, Db, TestDb, RELAYER_KEY,
};

/// A client that gives up on a dead process after five seconds.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn crash_at(db: Db, failpoint: &str) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(&chain, &store, dir.path(), port, 4, "");
    let client = client();

    // First life: acknowledged receipts, then death at the fail point.
    let mut first = binary(&config, dir.path(), port, Some(failpoint), 0, RELAYER_KEY);
    first.wait_ready(15).await;
    let batch_a: Vec<_> = (0..6)
        .map(|i| chain.receipt(&format!("run-{i}"), 10 + i))
        .collect();
    let acked = match client
        .post(format!("{}/v1/receipts/bulk", first.url))
        .json(&json!(batch_a))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => {
            let body: BulkResponse = r.json().await.unwrap();
            assert_eq!(body.accepted, 6, "{body:?}");
            true
        }
        _ => false,
    };
    assert_eq!(
        acked,
        failpoint != "ingest_before_commit",
        "ack only after commit"
    );
    first.kill_at(failpoint).await;

    // Second life: resubmitting is idempotent, new receipts flow, everything settles.
    let mut second = binary(&config, dir.path(), port, None, 1, RELAYER_KEY);
    second.wait_ready(15).await;
    let api = Api::new(&second.url, client.clone());
    let body = api.bulk(&batch_a).await;
    if acked {
        assert_eq!(
            body.duplicates, 6,
            "acknowledged receipts survive: {body:?}"
        );
    } else {
        assert_eq!(
            body.accepted, 6,
            "unacknowledged receipts were not stored: {body:?}"
        );
    }
    let batch_b: Vec<_> = (0..3)
        .map(|i| chain.receipt(&format!("run-{i}"), 100 + i))
        .collect();
    api.accept_all(&batch_b).await;
    api.wait_status(60, |s| s.receipts == counts(&[("committed", 9)]))
        .await;

    // The chain: each root once, reservations equal what the receipts add, exactly once.
    let roots = chain.roots_committed_once().await;
    assert_eq!(api.confirmed_batches().await.len(), roots.len());
    // Highest count per run: 100..=102 for runs 0..2, 13..=15 for runs 3..5.
    let samples: u64 = (100..=102).sum::<u64>() + (13..=15).sum::<u64>();
    let total = U256::from(samples * chain.price as u64);
    assert_eq!(
        chain.credit().await,
        chain.deposit - total,
        "charged exactly once"
    );
    for root in &roots {
        let r = chain.reservation(*root).await;
        assert_eq!(r.relayer, chain.relayer.address());
    }
    assert_eq!(chain.reserved().await, total, "one pool for every batch");
    second.kill();
    if failpoint == "batch_confirmed" && matches!(db, Db::Sqlite) {
        operator_cli(&config, chain.license_id.to_string());
    }
}

/// The operator commands against the store the crashed relayer left.
fn operator_cli(config: &Path, license: String) {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_fairtrain-relayer"))
            .arg("--config")
            .arg(config)
            .args(args)
            .env_remove("FAIRTRAIN_FAILPOINT")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // The CLI prints the store's own JSON (not the HTTP API's types): read as it is.
    let status: Value = serde_json::from_str(&run(&["status"])).unwrap();
    assert_eq!(status["receipts"]["committed"], 9);
    let batches: Value = serde_json::from_str(&run(&["batches", "--limit", "50"])).unwrap();
    assert!(batches["batches"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["state"] == "confirmed"));
    let proofs: Value = serde_json::from_str(&run(&["proofs", "--license", &license])).unwrap();
    assert_eq!(proofs["claims"].as_array().unwrap().len(), 9);
    let check = run(&["config", "check"]);
    assert!(check.contains("rpc: ok (chain 31337)"), "{check}");
    let claims: Value = serde_json::from_str(&run(&["claim"])).unwrap();
    assert!(!claims["claimJobs"].as_array().unwrap().is_empty());
}

/// The claim lifecycle: a confirmed batch of six receipts, claimed by the relayer in three
/// jobs of two; the binary dies at `failpoint` and a new one takes over. Every claim job
/// finishes, every receipt is paid exactly once (the payee gets exactly what was reserved, less
/// fees; one transaction per job and no other), nothing is left reserved.
async fn claim_crash_at(db: Db, failpoint: &str) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(
        &chain,
        &store,
        dir.path(),
        port,
        6,
        "[tx]\nclaims_per_tx = 2\n",
    );
    let client = client();

    let mut first = binary(&config, dir.path(), port, Some(failpoint), 0, RELAYER_KEY);
    first.wait_ready(15).await;
    let receipts: Vec<_> = (1..=6u64)
        .map(|i| chain.receipt(&format!("run-{i}"), 10 * i))
        .collect();
    let api = Api::new(&first.url, client.clone());
    api.accept_all(&receipts).await;
    api.wait_status(60, |s| s.receipts.get("committed") == Some(&6))
        .await;
    let root = chain.devnet.committed_roots().await[0];
    let before = chain.creator_balance().await;
    assert_eq!(api.claim_all().await, [1, 2, 3]);
    first.kill_at(failpoint).await;

    // A new process finishes every job.
    let mut second = binary(&config, dir.path(), port, None, 1, RELAYER_KEY);
    second.wait_ready(15).await;
    let api = Api::new(&second.url, client.clone());
    api.wait_status(60, |s| {
        s.claims == counts(&[("confirmed", 3), ("claimedReceipts", 6)])
    })
    .await;

    // Paid exactly once: each run's count settled, the payee paid what was reserved less the
    // 2.5 % fee, nothing left reserved, and the relayer sent one commit and three claims.
    for r in &receipts {
        assert_eq!(
            chain
                .escrow()
                .settledSamples(r.receipt().usage_key())
                .call()
                .await
                .unwrap(),
            r.cumulative_samples
        );
    }
    let total = U256::from(10 * 21 * chain.price as u64);
    let fee = total * U256::from(250) / U256::from(10_000);
    assert_eq!(chain.creator_balance().await - before, total - fee);
    let reservation = chain.reservation(root).await;
    assert_eq!(reservation.relayer, chain.relayer.address());
    assert_eq!(
        chain.reserved().await,
        U256::ZERO,
        "the line's pool is drawn in full"
    );
    let sent = chain
        .provider
        .get_transaction_count(chain.relayer.address())
        .await
        .unwrap();
    assert_eq!(sent, 4, "one commit and one transaction per claim job");
    // Nothing left to claim.
    assert_eq!(api.claim_all().await, Vec::<i64>::new());
    second.kill();
}

macro_rules! claim_crash_tests {
    ($($name:ident: $db:expr, $fp:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            claim_crash_at($db, $fp).await;
        }
    )*};
}

claim_crash_tests! {
    sqlite_claim_signed: Db::Sqlite, "claim_signed";
    sqlite_claim_broadcast: Db::Sqlite, "claim_broadcast";
    sqlite_claim_sent: Db::Sqlite, "claim_sent";
    sqlite_claim_mined: Db::Sqlite, "claim_mined";
    sqlite_claim_confirmed: Db::Sqlite, "claim_confirmed";
    postgres_claim_signed: Db::Postgres, "claim_signed";
    postgres_claim_broadcast: Db::Postgres, "claim_broadcast";
    postgres_claim_sent: Db::Postgres, "claim_sent";
    postgres_claim_mined: Db::Postgres, "claim_mined";
    postgres_claim_confirmed: Db::Postgres, "claim_confirmed";
}

macro_rules! crash_tests {
    ($($name:ident: $db:expr, $fp:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            crash_at($db, $fp).await;
        }
    )*};
}

crash_tests! {
    sqlite_ingest_before_commit: Db::Sqlite, "ingest_before_commit";
    sqlite_batch_built: Db::Sqlite, "batch_built";
    sqlite_batch_signed: Db::Sqlite, "batch_signed";
    sqlite_batch_broadcast: Db::Sqlite, "batch_broadcast";
    sqlite_batch_sent: Db::Sqlite, "batch_sent";
    sqlite_batch_confirmed: Db::Sqlite, "batch_confirmed";
    postgres_ingest_before_commit: Db::Postgres, "ingest_before_commit";
    postgres_batch_built: Db::Postgres, "batch_built";
    postgres_batch_signed: Db::Postgres, "batch_signed";
    postgres_batch_sent: Db::Postgres, "batch_sent";
    postgres_batch_broadcast: Db::Postgres, "batch_broadcast";
    postgres_batch_confirmed: Db::Postgres, "batch_confirmed";
}
