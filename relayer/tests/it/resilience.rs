//! The chain misbehaving: the node restarts (RPC down, then back with the same state), a
//! commit is stuck in the mempool (fee bumps), a commit is dropped (rebroadcast). The relayer
//! keeps accepting receipts throughout and settles once the chain is back.

use std::time::Duration;

use alloy::{
    primitives::U256,
    providers::{ext::AnvilApi, Provider},
};
use fairtrain_protocol::api::relayer::{BatchDetail, Transaction};
use serde_json::json;

use crate::support::{config, eventually, started, Chain, Db, Relayer, TestDb};

/// Batch 1 as the relayer shows it; it must exist.
async fn batch(relayer: &Relayer) -> BatchDetail {
    relayer.batch(1).await.expect("batch 1 exists")
}

/// Two receipts of the payer's, of runs 1 and 2, accepted in bulk: with `max_receipts = 2`,
/// batch 1.
async fn two_receipts(chain: &Chain, relayer: &Relayer) {
    relayer
        .accept_all(&[chain.receipt("run-1", 10), chain.receipt("run-2", 20)])
        .await;
}

/// Batches of two, fees bumped after a second.
async fn bumping(db: Db) -> (Chain, TestDb, Relayer) {
    let (chain, store, _, relayer) = started(db, |c| {
        c.batch.max_receipts = 2;
        c.tx.bump_after_secs = 1;
    })
    .await;
    (chain, store, relayer)
}

/// Sets the base fee of the next block to 100 gwei, mines it and mining resumes: returns the
/// spike.
async fn spike_base_fee(chain: &Chain) -> u128 {
    let spike = 100_000_000_000u128;
    chain
        .provider
        .anvil_set_next_block_base_fee_per_gas(spike)
        .await
        .unwrap();
    chain.provider.anvil_mine(Some(1), None).await.unwrap();
    chain.provider.anvil_set_auto_mine(true).await.unwrap();
    spike
}

/// Mines a block at a time (a pause after each) until batch 1 is confirmed.
async fn mine_until_confirmed(chain: &Chain, relayer: &Relayer, secs: u64, pause_ms: u64) {
    eventually(secs, || async {
        chain.provider.anvil_mine(Some(1), None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        relayer
            .batch(1)
            .await
            .filter(|b| b.batch.state == "confirmed")
    })
    .await;
}

async fn rpc_down_then_back(db: Db) {
    let (mut chain, _store, _, relayer) = started(db, |c| c.batch.max_receipts = 3).await;
    relayer.accept(&chain.receipt("run-1", 10)).await;
    let receipts = [chain.receipt("run-2", 20), chain.receipt("run-3", 30)];
    chain
        .devnet
        .restart(async {
            // The node is gone: receipts are still verified (from the followed state) and stored.
            for r in &receipts {
                relayer.accept(r).await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            let state = relayer.batch(1).await.map(|b| b.batch.state);
            assert_ne!(state.as_deref(), Some("confirmed"));
        })
        .await;
    relayer.batch_in(1, "confirmed", 60).await;
    assert_eq!(chain.devnet.committed_roots().await.len(), 1);
}

async fn stuck_commit_is_bumped(db: Db) {
    let (chain, _store, relayer) = bumping(db).await;
    chain.provider.anvil_set_auto_mine(false).await.unwrap();
    two_receipts(&chain, &relayer).await;
    // Nothing is mined: the relayer replaces its commit with higher fees.
    let txs = eventually(30, || async {
        let txs = relayer.batch(1).await?.transactions;
        (txs.len() >= 2).then_some(txs)
    })
    .await;
    assert!(
        txs.iter().all(|t| t.nonce == txs[0].nonce),
        "bumps reuse the nonce"
    );
    assert!(txs[1].max_fee_per_gas > txs[0].max_fee_per_gas);
    chain.provider.anvil_set_auto_mine(true).await.unwrap();
    mine_until_confirmed(&chain, &relayer, 30, 0).await;
    assert_eq!(chain.devnet.committed_roots().await.len(), 1);
}

async fn dropped_commit_is_rebroadcast(db: Db) {
    let (chain, _store, _, relayer) = started(db, |c| {
        c.batch.max_receipts = 2;
        c.tx.bump_after_secs = 3_600;
    })
    .await;
    chain.provider.anvil_set_auto_mine(false).await.unwrap();
    two_receipts(&chain, &relayer).await;
    relayer.batch_in(1, "sent", 30).await;
    chain.provider.anvil_drop_all_transactions().await.unwrap();
    // Mine empty blocks until the relayer has put its commit back and it is confirmed.
    mine_until_confirmed(&chain, &relayer, 30, 200).await;
    assert_eq!(chain.devnet.committed_roots().await.len(), 1);
    assert_eq!(
        batch(&relayer).await.transactions.len(),
        1,
        "same bytes rebroadcast"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_down_then_back_sqlite() {
    rpc_down_then_back(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpc_down_then_back_postgres() {
    rpc_down_then_back(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_commit_is_bumped_sqlite() {
    stuck_commit_is_bumped(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_commit_is_rebroadcast_sqlite() {
    dropped_commit_is_rebroadcast(Db::Sqlite).await;
}

/// A reorg removes the block holding the commit before it is `confirmations` deep: the relayer
/// notices the receipt is gone, gets the same commit mined again, and confirms it once.
async fn reorged_commit_is_recommitted(db: Db) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let mut cfg = config(&chain, &store);
    cfg.batch.max_receipts = 2;
    cfg.confirmations = 3;
    // The follower stays two blocks behind the head: bury the setup.
    chain.provider.anvil_mine(Some(3), None).await.unwrap();
    let relayer = Relayer::start(&cfg).await;
    two_receipts(&chain, &relayer).await;
    let hash = eventually(30, || async {
        Some(relayer.batch(1).await?.transactions.first()?.hash)
    })
    .await;
    eventually(30, || async {
        chain
            .provider
            .get_transaction_receipt(hash)
            .await
            .unwrap()
            .map(|_| ())
    })
    .await;
    assert_eq!(chain.devnet.committed_roots().await.len(), 1);
    // The block with the commit disappears.
    chain.provider.anvil_rollback(Some(1)).await.unwrap();
    assert!(chain
        .provider
        .get_transaction_receipt(hash)
        .await
        .unwrap()
        .is_none());
    assert_eq!(batch(&relayer).await.batch.state, "sent");
    // Blocks keep coming; the relayer puts its commit back and confirms it three deep.
    mine_until_confirmed(&chain, &relayer, 60, 150).await;
    let roots = chain.devnet.committed_roots().await;
    assert_eq!(
        roots.len(),
        1,
        "committed exactly once on the surviving chain"
    );
    let b = batch(&relayer).await.batch;
    assert_eq!(b.root, roots[0]);
    let mined = chain
        .provider
        .get_transaction_receipt(hash)
        .await
        .unwrap()
        .expect("mined again");
    assert_eq!(Some(mined.block_number.unwrap() as i64), b.commit_block);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorged_commit_is_recommitted_sqlite() {
    reorged_commit_is_recommitted(Db::Sqlite).await;
}

/// Every RPC request takes 300 ms: receipts are verified from the followed state (no RPC per
/// request) and the batch still settles.
async fn slow_rpc(db: Db) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let mut cfg = config(&chain, &store);
    cfg.rpc_url = crate::support::slow_proxy(&chain.rpc, Duration::from_millis(300)).await;
    cfg.batch.max_receipts = 2;
    let relayer = Relayer::start(&cfg).await;
    two_receipts(&chain, &relayer).await;
    relayer.batch_in(1, "confirmed", 90).await;
    assert_eq!(chain.devnet.committed_roots().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_rpc_sqlite() {
    slow_rpc(Db::Sqlite).await;
}

/// The base fee jumps far above what the commit offers: it cannot be included, the relayer
/// replaces it at the market's new price (within its ceiling), and it is committed once.
async fn gas_spike(db: Db) {
    let (chain, _store, relayer) = bumping(db).await;
    chain.provider.anvil_set_auto_mine(false).await.unwrap();
    two_receipts(&chain, &relayer).await;
    relayer.batch_in(1, "sent", 30).await;
    // 100 gwei base fee from the next block on: the first attempt is priced far below it.
    let spike = spike_base_fee(&chain).await;
    let fee = |t: &Transaction| t.max_fee_per_gas;
    mine_until_confirmed(&chain, &relayer, 60, 200).await;
    let txs = batch(&relayer).await.transactions;
    assert!(txs.len() >= 2, "replaced at least once: {txs:?}");
    let spike_fee = U256::from(spike);
    assert!(fee(&txs[0]) < spike_fee / U256::from(2) && fee(txs.last().unwrap()) > fee(&txs[0]));
    assert_eq!(chain.devnet.committed_roots().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gas_spike_sqlite() {
    gas_spike(Db::Sqlite).await;
}

/// A claim transaction priced below a base-fee spike is replaced like a commit: same nonce,
/// higher fees (at least the market's), until it is mined and pays the payee.
async fn claim_gas_spike(db: Db) {
    let (chain, store, relayer) = bumping(db).await;
    let receipts = [chain.receipt("run-1", 10), chain.receipt("run-2", 20)];
    relayer.accept_all(&receipts).await;
    relayer.confirmed_batch(1).await;
    let before = chain.creator_balance().await;

    // The claim is signed and sent while nothing is mined.
    chain.provider.anvil_set_auto_mine(false).await.unwrap();
    relayer.claim_jobs(&json!({ "batchId": 1 })).await;
    let db = fairtrain_relayer::store::Store::connect(&store.url)
        .await
        .unwrap();
    eventually(30, || async {
        let txs = db.txs("claim", 1).await.unwrap();
        (!txs.is_empty()).then_some(())
    })
    .await;
    // 100 gwei base fee from the next block on: the claim is priced far below it.
    let spike = spike_base_fee(&chain).await;
    for r in &receipts {
        let digest = chain.domain().digest(&r.receipt());
        eventually(60, || async {
            chain.provider.anvil_mine(Some(1), None).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            let claim_tx = relayer.receipt(digest).await.claim_tx;
            claim_tx.filter(|t| t.starts_with("0x")).map(|_| ())
        })
        .await;
    }
    let txs = db.txs("claim", 1).await.unwrap();
    assert!(txs.len() >= 2, "replaced at least once: {txs:?}");
    assert!(
        txs.iter().all(|t| t.nonce == txs[0].nonce),
        "bumps reuse the nonce"
    );
    let fee = |t: &fairtrain_relayer::store::TxRow| t.max_fee;
    assert!(fee(&txs[0]) < spike / 2);
    assert!(
        fee(txs.last().unwrap()) >= spike,
        "the replacement pays the market"
    );
    for r in &receipts {
        let key = r.receipt().usage_key();
        assert_eq!(
            chain.escrow().settledSamples(key).call().await.unwrap(),
            r.cumulative_samples
        );
    }
    assert!(chain.creator_balance().await > before, "the payee was paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_gas_spike_sqlite() {
    claim_gas_spike(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_gas_spike_postgres() {
    claim_gas_spike(Db::Postgres).await;
}
