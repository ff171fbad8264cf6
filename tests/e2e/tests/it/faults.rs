//! Faults across the system: the relayer SIGKILLed at known steps of a batch (commit signed, then
//! commit sent) and of a claim (transaction broadcast), through its fail points, and started again,
//! anvil stopped and restarted from its dumped state while the relayer, the meter and the
//! indexer keep working, and the indexer SIGKILLed in the middle of a backfill. After each, the
//! system converges: every sample metered is committed once, claimed once, every event is
//! indexed once, and chain, relayer and indexer reconcile to the unit.

use alloy::primitives::U256;
use fairtrain_protocol::bindings::IERC20Permit;
use serde_json::Value;

use crate::{
    indexer::{assert_agree, chain_log_count, Flows, Indexer},
    lifecycle::{all_committed, confirmed_reservations, meter, set_up},
    support::*,
};

const PRICE: u64 = 1_000;
const DEPOSIT: u64 = 100_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn relayer_killed_and_anvil_restarted_converge() {
    let mut devnet = Devnet::start().await;
    let store = TestDb::new(Db::Sqlite);
    let index_store = TestDb::new(Db::Sqlite);
    let indexer = Indexer::start(&devnet, &index_store).await;
    let (license, terms, _, _) = set_up(&devnet).await;
    // The relayer stops dead once it has signed and recorded the commit of its first batch.
    let mut relayer = Relayer::start_configured(&devnet, &store, 1, "", Some("batch_signed")).await;
    let meter = meter(&devnet, &relayer, "usage.db").await;
    let usage = |run: &str| run_usage(license, terms, run);

    // 1. Receipts acknowledged, then the relayer is SIGKILLed with their batch built and its
    //    commit signed but not broadcast; started again, it is SIGKILLed with the commit
    //    broadcast and the batch marked sent, before it sees it mined.
    meter.record(usage("run-a"), 300).await.unwrap();
    meter.record(usage("run-b"), 200).await.unwrap();
    assert_eq!(meter.flush().await.unwrap().accepted, 2);
    relayer.kill_at("batch_signed").await;
    assert!(
        devnet.committed_roots().await.is_empty(),
        "nothing broadcast"
    );
    // The meter keeps recording while the relayer is down; its flush fails and keeps everything.
    meter.record(usage("run-a"), 100).await.unwrap();
    assert!(meter.flush().await.is_err(), "no relayer to flush to");
    relayer.restart_with_failpoint(Some("batch_sent")).await;
    relayer.kill_at("batch_sent").await;
    relayer.restart().await;
    let report = meter.flush().await.unwrap();
    assert_eq!(report.accepted, 1, "{report:?}");
    all_committed(&relayer, 3).await;
    assert_eq!(
        devnet.committed_roots().await.len(),
        2,
        "each root committed once"
    );

    // 2. anvil stops (state dumped) while more samples are metered and acknowledged; it comes
    //    back with its state and the relayer commits them. The indexer, following all along,
    //    retries while the node is away.
    meter.record(usage("run-b"), 150).await.unwrap();
    devnet
        .restart(async {
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
    let unspent = devnet.unspent(addr(PAYER)).await;
    assert_eq!(
        U256::from(DEPOSIT) - unspent,
        U256::ZERO,
        "committing moves funds within the line, spends nothing"
    );
    assert_eq!(
        devnet.reserved(addr(PAYER)).await,
        charged,
        "the chain reserved the same in the relayer's line"
    );

    // Claims after the faults pay each unit once, although the relayer is SIGKILLed with its
    // first claim transaction broadcast and not yet marked sent.
    let before = devnet.balance(addr(CREATOR)).await;
    relayer.kill();
    relayer
        .restart_with_failpoint(Some("claim_broadcast"))
        .await;
    relayer.claim_all().await;
    relayer.kill_at("claim_broadcast").await;
    relayer.restart().await;
    eventually(60, || async {
        devnet.reserved(addr(PAYER)).await.is_zero().then_some(())
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "every reserved unit claimed; relayer log:\n{}",
            relayer.log()
        )
    });
    let paid = devnet.balance(addr(CREATOR)).await - before;
    let fees = devnet.fees().await;
    assert_eq!(paid + fees, charged, "paid once: creator + fees = charged");
    // A second claim request finds nothing left to pay.
    let again = relayer.claim_all().await;
    assert!(again.claim_jobs.is_empty(), "{again:?}");
    let unspent = devnet.unspent(addr(PAYER)).await;
    assert_eq!(
        U256::from(DEPOSIT) - unspent,
        charged,
        "the chain charged the same"
    );
    assert_eq!(
        devnet.balance(devnet.escrow).await,
        unspent + fees,
        "the escrow holds the payer's available balance and line, and the fees"
    );
    // The indexer followed through both faults and agrees with the chain and the relayer.
    assert_agree(
        &devnet,
        &relayer,
        &indexer,
        &Flows {
            payer: addr(PAYER),
            deposited: U256::from(DEPOSIT),
            withdrawn: U256::ZERO,
        },
    )
    .await;
}

/// Deposits after the lifecycle's batch and claim, spread over empty blocks.
const DEPOSITS: u64 = 40;
const BLOCKS_BETWEEN: u64 = 20;
/// Blocks per `eth_getLogs` range (and so per checkpoint) of the interrupted backfill.
const RANGE: u64 = 2;

/// The indexer SIGKILLed in the middle of a backfill of a long chain (hundreds of two-block
/// ranges, each committed with its checkpoint) and started again: it resumes from its
/// checkpoint, and the result is the index a clean run makes: every log stored once, the same
/// totals, agreement with chain and relayer, `reconcile` clean.
#[tokio::test(flavor = "multi_thread")]
async fn indexer_killed_mid_backfill_resumes_to_a_clean_index() {
    indexer_killed_mid_backfill(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn indexer_killed_mid_backfill_resumes_to_a_clean_index_on_postgres() {
    indexer_killed_mid_backfill(Db::Postgres).await;
}

/// The scenario above with the indexer's store (the one it is killed on, and the clean one)
/// on `db`.
async fn indexer_killed_mid_backfill(db: Db) {
    let devnet = Devnet::start().await;
    let store = TestDb::new(Db::Sqlite);
    let (license, terms, _, _) = set_up(&devnet).await;
    let relayer = Relayer::start(&devnet, &store).await;
    let meter = meter(&devnet, &relayer, "usage.db").await;
    for run in ["run-a", "run-b", "run-c"] {
        let usage = run_usage(license, terms, run);
        meter.record(usage, 100).await.unwrap();
    }
    assert_eq!(meter.flush().await.unwrap().accepted, 3);
    all_committed(&relayer, 3).await;
    let jobs = relayer.claim_all().await;
    assert!(!jobs.claim_jobs.is_empty(), "{jobs:?}");
    eventually(60, || async { relayer.all_claimed(1).await.then_some(()) })
        .await
        .unwrap_or_else(|| panic!("claims recorded; relayer log:\n{}", relayer.log()));
    assert!(devnet.reserved(addr(PAYER)).await.is_zero(), "claimed");

    // A long chain: the payer tops up its budget 40 times, 20 empty blocks apart.
    let unit = U256::from(1_000_000);
    IERC20Permit::new(devnet.token, devnet.provider.clone())
        .approve(devnet.escrow, unit * U256::from(DEPOSITS))
        .from(addr(PAYER))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    for _ in 0..DEPOSITS {
        devnet
            .escrow()
            .deposit(devnet.token, unit)
            .from(addr(PAYER))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        devnet.mine(BLOCKS_BETWEEN).await;
    }
    let head = alloy::providers::Provider::get_block_number(&devnet.provider)
        .await
        .unwrap();
    assert!(head / RANGE > 400, "a backfill of {} ranges", head / RANGE);

    // Backfill in two-block ranges; SIGKILL once the checkpoint has moved a tenth of the way.
    let index_store = TestDb::new(db);
    let mut indexer = Indexer::start_with_range(&devnet, &index_store, RANGE).await;
    let mut killed_at = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while killed_at == 0 {
        assert!(std::time::Instant::now() < deadline, "{}", indexer.log());
        if let Some(block) = indexer.indexed_block().await {
            if block >= head / 10 {
                indexer.kill();
                killed_at = block;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(
        killed_at < head - 10 * RANGE,
        "killed in the middle of the backfill (checkpoint {killed_at} of {head})"
    );
    let partial = indexer.query("status")["events"].as_u64().unwrap();
    assert!(
        partial < chain_log_count(&devnet, head).await,
        "part of the events stored ({partial})"
    );

    // The checkpoint the process left (it may have committed ranges after the status read).
    let checkpoint = indexer.query("status")["indexed_block"].as_u64().unwrap();
    assert!(checkpoint >= killed_at && checkpoint < head - 10 * RANGE);
    eprintln!("indexer killed at checkpoint {checkpoint} of {head}, {partial} events stored");
    // Started again, it resumes after the checkpoint, not from the deployment block: the first
    // range it indexes starts at checkpoint + 1 and no later range reaches back to it (a full
    // re-backfill would start at the deployment block).
    let since = indexer.log_len();
    indexer.restart().await;
    let ranges = eventually(60, || async {
        let r = indexer.indexed_ranges(since);
        (!r.is_empty()).then_some(r)
    })
    .await
    .unwrap_or_else(|| panic!("no range indexed after the restart:\n{}", indexer.log()));
    assert_eq!(
        ranges[0],
        (checkpoint + 1, checkpoint + RANGE),
        "first range after the restart"
    );
    assert_agree(
        &devnet,
        &relayer,
        &indexer,
        &Flows {
            payer: addr(PAYER),
            deposited: U256::from(DEPOSIT) + unit * U256::from(DEPOSITS),
            withdrawn: U256::ZERO,
        },
    )
    .await;
    // Up to the head, each block after the checkpoint was indexed once, in order.
    let after = indexer.indexed_ranges(since);
    let mut next = checkpoint + 1;
    for &(from, to) in &after {
        assert_eq!(from, next, "ranges after the restart: {after:?}");
        next = to + 1;
    }
    assert!(
        next > head,
        "indexed up to {} of {head}: {after:?}",
        next - 1
    );

    // A clean index of the same chain, in one uninterrupted backfill, holds the same rows.
    let clean_store = TestDb::new(db);
    let clean = indexer.with_store(&clean_store);
    let out = clean.command(&["backfill"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    indexer.kill();
    for query in [
        "status",
        "balances",
        "batches",
        "settlements",
        "royalties",
        "creators",
        "licenses",
    ] {
        // The mirror must be equal; audit status is not part of it (the resumed `run` audits
        // batches automatically, the clean `backfill` does not).
        let mirror = |mut v: Value| {
            if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
                items.iter_mut().for_each(|i| {
                    i.as_object_mut().map(|o| o.remove("audit"));
                });
            }
            v
        };
        assert_eq!(
            mirror(indexer.query(query)),
            mirror(clean.query(query)),
            "query {query}: resumed index = clean index"
        );
    }
}
