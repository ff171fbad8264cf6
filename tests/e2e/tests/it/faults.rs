//! Faults across the system: the relayer SIGKILLed while a batch is under way and started again,
//! and anvil stopped and restarted from its dumped state while the relayer and the meter keep
//! working. After each, the system converges: every sample metered is committed once, claimed
//! once, and the chain reconciles to the unit.

use alloy::primitives::{keccak256, U256};
use fairtrain_sdk::Usage;

use crate::{
    lifecycle::{all_committed, confirmed_reservations, meter, set_up},
    support::*,
};

const PRICE: u64 = 1_000;
const DEPOSIT: u64 = 100_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn relayer_killed_and_anvil_restarted_converge() {
    let mut devnet = Devnet::start().await;
    let store = TestDb::new(Db::Sqlite);
    let (license, terms, _, _) = set_up(&devnet).await;
    let mut relayer = Relayer::start(&devnet, &store).await;
    let meter = meter(&devnet, &relayer, "usage.db").await;
    let usage = |run: &str| Usage {
        license_id: license,
        terms_id: terms,
        run_id: keccak256(run),
    };

    // 1. Receipts acknowledged, then the relayer is SIGKILLed before or while it batches them
    //    (the batch is cut 1 s after the oldest receipt; the kill lands at 0.5-1.5 s).
    meter.record(usage("run-a"), 300).await.unwrap();
    meter.record(usage("run-b"), 200).await.unwrap();
    assert_eq!(meter.flush().await.unwrap().accepted, 2);
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    relayer.kill();
    // The meter keeps recording while the relayer is down; its flush fails and keeps everything.
    meter.record(usage("run-a"), 100).await.unwrap();
    assert!(meter.flush().await.is_err(), "no relayer to flush to");
    relayer.restart().await;
    let report = meter.flush().await.unwrap();
    assert_eq!(report.accepted, 1, "{report:?}");
    all_committed(&relayer, 3).await;

    // 2. anvil stops (state dumped) while more samples are metered and acknowledged; it comes
    //    back with its state and the relayer commits them.
    meter.record(usage("run-b"), 150).await.unwrap();
    devnet
        .restart_anvil(async {
            assert_eq!(
                meter.flush().await.unwrap().accepted,
                1,
                "ingest does not need the node"
            );
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        })
        .await;
    all_committed(&relayer, 4).await;

    // Converged: committed exactly what was metered, once.
    let samples = 300 + 200 + 100 + 150;
    let charged = U256::from(samples * PRICE);
    let reservations = confirmed_reservations(&relayer).await;
    let reserved_by_relayer: U256 = reservations.iter().map(|r| r.2).sum();
    assert_eq!(
        reserved_by_relayer, charged,
        "nothing lost, nothing reserved twice"
    );
    let available = devnet.available(addr(PAYER)).await;
    assert_eq!(
        U256::from(DEPOSIT) - available,
        charged,
        "the chain charged the same"
    );

    // Claims after the faults pay each unit once.
    let before = devnet.balance(addr(CREATOR)).await;
    relayer.claim_all().await;
    eventually(60, || async {
        let mut remaining = U256::ZERO;
        for (root, payer, _) in &reservations {
            remaining += devnet.reserved(*root, *payer).await;
        }
        remaining.is_zero().then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("every reservation claimed; relayer log:\n{}", relayer.log()));
    let paid = devnet.balance(addr(CREATOR)).await - before;
    let fees = devnet.fees().await;
    assert_eq!(paid + fees, charged, "paid once: creator + fees = charged");
    // A second claim request finds nothing left to pay.
    let again = relayer.claim_all().await;
    assert!(
        again["claimJobs"].as_array().is_none_or(|j| j.is_empty()),
        "{again}"
    );
    assert_eq!(
        devnet.balance(devnet.escrow).await,
        available + fees,
        "the escrow holds the payer's available balance and the fees"
    );
}
