//! The `fairtrain-meter` binary killed with SIGKILL while it records and flushes: after each
//! kill, nothing recorded is lost, nothing is reported beyond what was recorded, and each count
//! is signed once.

use std::{process::Command, time::Duration};

use alloy::primitives::Address;
use fairtrain_protocol::Deployment;
use fairtrain_sdk::Meter;

use crate::support::{config, signer, TestRelayer, PAYER};

fn spawn_simulation(dir: &std::path::Path, url: &str) -> std::process::Child {
    let deployment = dir.join("deployment.json");
    let domain = crate::support::domain();
    // The meter reads only the domain (chain and escrow) of a deployment file.
    let file = Deployment {
        chain_id: domain.chain_id(),
        start_block: 0,
        license_nft: Address::ZERO,
        training_escrow: domain.verifying_contract(),
        royalty_streams: None,
        revenue_pool_factory: None,
        payment_tokens: Vec::new(),
        owner: None,
        notice_period: 0,
        claim_window: 0,
        fee_bps: 0,
    };
    std::fs::write(&deployment, serde_json::to_vec(&file).unwrap()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_fairtrain-meter"))
        .args(["--journal", dir.join("usage.db").to_str().unwrap()])
        .args(["--relayer-url", url])
        .args(["--deployment", deployment.to_str().unwrap()])
        .args(["--payer", &PAYER.to_string()])
        .args(["--signer-key", &alloy::hex::encode(signer().to_bytes())])
        .args([
            "simulate",
            "--licenses",
            "1:1,2:1",
            "--runs",
            "3",
            "--rate",
            "2000",
        ])
        .args([
            "--minibatches",
            "20",
            "--seconds",
            "600",
            "--flush-ms",
            "30",
            "--run-prefix",
            "kill",
        ])
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("the fairtrain-meter binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_loses_nothing_and_reports_nothing_twice() {
    let relayer = TestRelayer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut previous_total = 0;
    for round in 0..3 {
        let mut child = spawn_simulation(dir.path(), &relayer.url);
        // Let it record and flush a while (the relayer sees requests), then kill -9.
        let start = std::time::Instant::now();
        while relayer.ledger().requests < 5 * (round + 1)
            && start.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(137)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let meter = Meter::open(config(dir.path(), &relayer.url)).await.unwrap();
        let entries = meter.status().await.unwrap();
        assert_eq!(entries.len(), 6, "3 runs × 2 licenses");
        let total: u64 = entries.iter().map(|e| e.recorded).sum();
        assert!(
            total > previous_total,
            "round {round}: the run resumed and recorded more ({total})"
        );
        previous_total = total;
        for e in &entries {
            // Whole minibatches only (2000/s ÷ 20 = 100 per record): no torn record.
            assert_eq!(e.recorded % 100, 0);
            let key = e.usage.receipt(PAYER, 0, 0).usage_key();
            let reported = relayer.ledger().cumulative.get(&key).copied().unwrap_or(0);
            assert!(
                reported <= e.recorded,
                "reported {reported} > recorded {}",
                e.recorded
            );
        }
        // Flushing what the killed process left: the relayer ends with exactly what was recorded.
        meter.flush().await.unwrap();
        for e in meter.status().await.unwrap() {
            let key = e.usage.receipt(PAYER, 0, 0).usage_key();
            assert_eq!(relayer.ledger().cumulative[&key], e.recorded);
            assert_eq!(e.unreported(), 0);
        }
    }
    // Every (usage key, count) was signed exactly once across all kills and restarts.
    let ledger = relayer.ledger();
    assert!(ledger
        .signed_per_count
        .values()
        .all(|digests| digests.len() == 1));
}
