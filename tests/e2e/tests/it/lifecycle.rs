//! The whole lifecycle through the real binaries, then a reconciliation to the unit:
//! a creator builds and signs a manifest and mints a license (`fairtrain`), a payer deposits,
//! accepts, registers a training key and funds a credit line for a relayer (`fairtrain`), the
//! training job checks the dataset against the license on-chain (`fairtrain-meter
//! verify-dataset`) and meters samples with the SDK's `Meter`, the relayer
//! (`fairtrain-relayer`) batches and commits them, reserving from the line, and pays a sponsored
//! claim from it; the payer takes credit back and withdraws, each after its notice period
//! (`fairtrain`); a last batch is never claimed, and after its claim window anyone releases its
//! reserved funds back to the line's credit; `fairtrain-indexer` follows all of it on the same
//! kind of store as the relayer. At the end, the chain, the relayer's accounting, the indexer's
//! totals and the deposit agree to the unit.

use alloy::primitives::{Address, B256, U256};
use fairtrain_protocol::{
    api::{
        indexer::{PoolView, StreamView},
        relayer::Status,
    },
    EscrowDomain,
};
use fairtrain_sdk::{Meter, MeterConfig};

use crate::{
    indexer::{all_items, assert_agree, Flows, Indexer},
    support::*,
};

pub(crate) use fairtrain_testkit::scenario::{licensed_payer, CREDIT, DEPOSIT, PRICE};
/// Credit the payer takes back: 20 fUSD.
const REDUCED: u64 = 20_000_000;
const WITHDRAWN: u64 = 10_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_on_sqlite() {
    lifecycle(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_on_postgres() {
    lifecycle(Db::Postgres).await;
}

/// The kit's scenario (a licensed dataset, a payer with a 100 fUSD deposit and a credit line of
/// [`CREDIT`] for the relayer account); returns (license id, terms id, manifest, data dir).
pub(crate) async fn set_up(devnet: &Devnet) -> (U256, u64, String, String) {
    let licensed = licensed_payer(devnet).await;
    assert_eq!(
        U256::from(devnet.line(addr(PAYER)).await.credit),
        U256::from(CREDIT)
    );
    (
        licensed.license,
        licensed.terms,
        licensed.manifest.display().to_string(),
        licensed.data.display().to_string(),
    )
}

pub(crate) async fn meter(devnet: &Devnet, relayer: &Relayer, name: &str) -> Meter {
    Meter::open(MeterConfig::new(
        devnet.dir.path().join(name),
        relayer.url.clone(),
        EscrowDomain::new(31337, devnet.escrow),
        addr(PAYER),
        key(TRAINING),
    ))
    .await
    .unwrap()
}

/// Waits until every receipt the relayer holds is committed in a confirmed batch.
pub(crate) async fn all_committed(relayer: &Relayer, receipts: u64) {
    eventually(60, || async {
        let status: Status = serde_json::from_value(relayer.get("/v1/status").await).unwrap();
        let committed = status.receipts.get("committed").copied().unwrap_or(0);
        (committed == receipts as i64).then_some(())
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "not all {receipts} receipts committed; relayer log:\n{}",
            relayer.log()
        )
    });
}

/// Reservation roots and amounts of the relayer's confirmed batches.
pub(crate) async fn confirmed_reservations(relayer: &Relayer) -> Vec<(B256, Address, U256)> {
    let mut out = Vec::new();
    for batch in relayer.batches().await {
        if batch.state != "confirmed" {
            continue;
        }
        for r in &batch.reservations {
            out.push((batch.root, r.payer, r.amount));
        }
    }
    out
}

async fn lifecycle(db: Db) {
    let devnet = Devnet::start().await;
    let store = TestDb::new(db);
    // The indexer follows from the deployment on, over its own store of the same kind.
    let index_store = TestDb::new(db);
    let indexer = Indexer::start(&devnet, &index_store).await;
    let (license, terms, manifest, data) = set_up(&devnet).await;

    // A second creator's license for another dataset: the first manifest is not covered by it.
    let other = devnet.dir.path().join("other");
    dataset(&other, "b");
    let other_manifest = devnet.dir.path().join("other.json").display().to_string();
    devnet.cli(
        CREATOR + 2,
        &[
            "manifest",
            "build",
            &other.display().to_string(),
            "--name",
            "Other",
            "--sign",
            "--out",
            &other_manifest,
        ],
    );
    devnet.cli(
        CREATOR + 2,
        &[
            "license",
            "mint",
            "--manifest",
            &other_manifest,
            "--template",
            "research",
            "--price",
            "0.001",
        ],
    );

    // The training job checks the dataset against the license on-chain before using it.
    let ok = devnet.meter(&[
        "verify-dataset",
        "--manifest",
        &manifest,
        "--dir",
        &data,
        "--license",
        "1",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("license 1 covers it"));
    let wrong = devnet.meter(&[
        "verify-dataset",
        "--manifest",
        &manifest,
        "--dir",
        &data,
        "--license",
        "2",
    ]);
    assert!(
        !wrong.status.success(),
        "license 2 does not cover the first manifest"
    );
    let missing = devnet.meter(&[
        "verify-dataset",
        "--manifest",
        &manifest,
        "--dir",
        &data,
        "--license",
        "9",
    ]);
    assert!(!missing.status.success(), "no license 9");

    let relayer = Relayer::start(&devnet, &store).await;
    let meter = meter(&devnet, &relayer, "usage.db").await;
    let usage = |run: &str| run_usage(license, terms, run);

    // Two runs sample 500 each (5 minibatches of 100); one batch.
    for _ in 0..5 {
        meter.record(usage("run-a"), 100).await.unwrap();
        meter.record(usage("run-b"), 100).await.unwrap();
    }
    let report = meter.flush().await.unwrap();
    assert_eq!(report.accepted, 2, "{report:?}");
    all_committed(&relayer, 2).await;
    // run-a goes on: its next cumulative receipt charges only the 50 new samples.
    meter.record(usage("run-a"), 50).await.unwrap();
    assert_eq!(meter.flush().await.unwrap().accepted, 1);
    all_committed(&relayer, 3).await;
    let samples = 1_050u64;
    let charged = U256::from(samples * PRICE);

    let reservations = confirmed_reservations(&relayer).await;
    assert_eq!(reservations.len(), 2, "two batches, one payer each");
    let reserved_by_relayer: U256 = reservations.iter().map(|r| r.2).sum();
    assert_eq!(
        reserved_by_relayer, charged,
        "the relayer reserved exactly what was sampled"
    );

    // Sponsored claim: the relayer pays the creator.
    let creator_before = devnet.balance(addr(CREATOR)).await;
    let jobs = relayer.claim_all().await;
    assert!(!jobs.claim_jobs.is_empty(), "{jobs:?}");
    assert_eq!(
        devnet.reserved(addr(PAYER)).await,
        charged,
        "the line holds what the batches reserved"
    );
    eventually(60, || async {
        devnet.reserved(addr(PAYER)).await.is_zero().then_some(())
    })
    .await
    .expect("the claims draw every unit the batches reserved from the line");
    let paid = devnet.balance(addr(CREATOR)).await - creator_before;
    let fees = devnet.fees().await;
    assert!(!paid.is_zero());
    assert_eq!(
        paid + fees,
        charged,
        "every reserved unit went to the creator or to fees"
    );
    assert_eq!(relayer.committed_receipts().await.len(), 3);
    eventually(30, || async { relayer.all_claimed(1).await.then_some(()) })
        .await
        .expect("the relayer records the claim transaction of every receipt and serves no proof of a settled one");

    // The payer takes 20 fUSD of credit back and withdraws 10 fUSD, each after its notice
    // period; both are refused before it.
    let relayer_addr = addr(RELAYER).to_string();
    let payer_addr = addr(PAYER).to_string();
    devnet.cli(
        PAYER,
        &[
            "payer",
            "credit",
            "reduce",
            "--relayer",
            &relayer_addr,
            "--amount",
            "20",
        ],
    );
    let execute_reduction = [
        "payer",
        "credit",
        "execute-reduction",
        "--relayer",
        &relayer_addr,
    ];
    let early = devnet.cli_output(PAYER, &execute_reduction);
    assert!(
        !early.status.success()
            && String::from_utf8_lossy(&early.stderr)
                .contains("hint: the credit reduction takes effect at"),
        "a credit reduction before its notice is refused: {}",
        String::from_utf8_lossy(&early.stderr)
    );
    devnet.cli(PAYER, &["payer", "withdraw", "request", "10"]);
    let early = devnet.cli_output(PAYER, &["payer", "withdraw", "execute"]);
    assert!(
        !early.status.success(),
        "a withdrawal before its unlock is refused"
    );
    devnet.advance(NOTICE + 1).await;
    let credit_before = U256::from(devnet.line(addr(PAYER)).await.credit);
    let available_before = devnet.available(addr(PAYER)).await;
    devnet.cli(PAYER, &execute_reduction);
    assert_eq!(
        U256::from(devnet.line(addr(PAYER)).await.credit),
        credit_before - U256::from(REDUCED),
        "the reduction took the credit back"
    );
    assert_eq!(
        devnet.available(addr(PAYER)).await,
        available_before + U256::from(REDUCED),
        "into the available balance"
    );
    let wallet_before = devnet.balance(addr(PAYER)).await;
    devnet.cli(PAYER, &["payer", "withdraw", "execute"]);
    let withdrawn = devnet.balance(addr(PAYER)).await - wallet_before;
    assert_eq!(withdrawn, U256::from(WITHDRAWN));

    // A last batch nobody claims: its reserved funds stay in the line while it can be claimed,
    // then anyone releases them back to the line's credit (not to the available balance).
    meter.record(usage("run-c"), 100).await.unwrap();
    assert_eq!(meter.flush().await.unwrap().accepted, 1);
    all_committed(&relayer, 4).await;
    let unclaimed = U256::from(100 * PRICE);
    assert_eq!(devnet.reserved(addr(PAYER)).await, unclaimed);
    let release = [
        "payer",
        "credit",
        "release",
        "--payer",
        &payer_addr,
        "--relayer",
        &relayer_addr,
    ];
    let early = devnet.cli_output(CREATOR, &release);
    assert!(
        !early.status.success()
            && String::from_utf8_lossy(&early.stderr).contains("ReservedNotReleasable"),
        "no release while a batch can be claimed: {}",
        String::from_utf8_lossy(&early.stderr)
    );
    devnet.advance(CLAIM_WINDOW + 1).await;
    let before_release = devnet.line(addr(PAYER)).await;
    let released = devnet.cli(CREATOR, &release);
    assert!(released.contains("released 0.1 fUSD"), "{released}");
    let after_release = devnet.line(addr(PAYER)).await;
    assert_eq!(
        U256::from(after_release.credit),
        U256::from(before_release.credit) + unclaimed,
        "released to the line's credit"
    );
    assert_eq!(
        (
            after_release.reserved.to::<u64>(),
            after_release.fees.to::<u64>(),
            after_release.reservedUntil.to::<u64>()
        ),
        (0, 0, 0),
        "nothing reserved, fees swept, the line unlocked"
    );

    // Reconciliation. Chain: every unit deposited is available, in the line (credit or
    // reserved), paid, a fee or withdrawn; the escrow holds exactly what is not paid out.
    let available = devnet.available(addr(PAYER)).await;
    let line = devnet.line(addr(PAYER)).await;
    let (credit, reserved) = (U256::from(line.credit), U256::from(line.reserved));
    assert_eq!(
        available,
        U256::from(DEPOSIT - CREDIT + REDUCED - WITHDRAWN)
    );
    assert_eq!(credit, U256::from(CREDIT - REDUCED) - charged);
    assert_eq!(
        available + credit + reserved + paid + fees + withdrawn,
        U256::from(DEPOSIT),
        "deposited = available + credit + reserved + paid + fees + withdrawn"
    );
    assert_eq!(
        devnet.balance(devnet.escrow).await,
        available + credit + reserved + devnet.fees().await,
        "the escrow holds available + credit + reserved + fees"
    );
    assert_eq!(
        devnet.fees().await,
        fees,
        "the release swept the line's fees"
    );
    // The relayer's view agrees with the chain: what it committed is what the chain charged,
    // plus the unclaimed batch.
    let reservations = confirmed_reservations(&relayer).await;
    assert_eq!(reservations.len(), 3, "three batches, one payer each");
    assert_eq!(
        reservations.iter().map(|r| r.2).sum::<U256>(),
        reserved_by_relayer + unclaimed
    );
    assert_eq!(
        U256::from(DEPOSIT - WITHDRAWN) - devnet.unspent(addr(PAYER)).await,
        reserved_by_relayer
    );
    let status = relayer.operator(&["status"]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(String::from_utf8_lossy(&status.stdout).contains("committed"));

    // The indexer, at the head, agrees with both to the unit and reconciles clean.
    assert_agree(
        &devnet,
        &relayer,
        &indexer,
        &Flows {
            payer: addr(PAYER),
            deposited: U256::from(DEPOSIT),
            withdrawn,
        },
    )
    .await;

    // Streams and a pool payout through the CLI, exact to the unit; then the indexer shows
    // them and its streams and pools still reconcile with the contracts' views.
    crate::royalties::streams_and_pools(&devnet, license).await;
    indexer.caught_up(&devnet).await;
    assert!(!all_items::<StreamView>(&indexer, "/api/streams")
        .await
        .is_empty());
    assert!(!all_items::<PoolView>(&indexer, "/api/pools")
        .await
        .is_empty());
    indexer.assert_reconciles();
}
