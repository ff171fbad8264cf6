//! A reorganisation across the whole system: a sponsored claim and the relayer's next batch
//! commit are mined, indexed, and then replaced by empty blocks (`anvil_reorg`). The relayer
//! (counting a transaction three blocks deep) finds both gone and sends them again, the indexer
//! rolls back to the common ancestor and indexes the new branch; at the end chain, relayer and
//! indexer agree, each root is committed once and each usage is charged once.

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
};
use fairtrain_protocol::api::{
    indexer::{BatchDetail as IndexedBatch, BatchView, Paged},
    relayer::{BatchDetail, Claimable},
};
use serde_json::{json, Value};

use crate::{
    indexer::{assert_agree, Flows, Indexer},
    lifecycle::{meter, set_up},
    support::*,
};

const PRICE: u64 = 1_000;
const DEPOSIT: u64 = 100_000_000;
/// The relayer counts a commit or a claim this many blocks deep.
const CONFIRMATIONS: u64 = 3;

/// Mines one block at a time until `done` holds (the relayer only moves a transaction on once
/// it is `CONFIRMATIONS` deep, and anvil mines only on demand).
async fn mine_until<F, Fut>(devnet: &Devnet, relayer: &Relayer, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually(90, || {
        let fut = done();
        async move {
            if fut.await {
                return Some(());
            }
            devnet.mine(1).await;
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            None
        }
    })
    .await
    .unwrap_or_else(|| panic!("{what}; relayer log:\n{}", relayer.log()));
}

/// The relayer's batch `id` (`GET /v1/batches/{id}`: the batch and its transactions).
async fn batch(relayer: &Relayer, id: u64) -> Option<BatchDetail> {
    serde_json::from_value(relayer.get(&format!("/v1/batches/{id}")).await).ok()
}

/// Whether every receipt of the relayer's batches `ids` has its claim transaction recorded
/// (mined and buried, not just queued).
async fn claimed(relayer: &Relayer, ids: &[u64]) -> bool {
    let receipts: Vec<Claimable> = relayer
        .committed_receipts()
        .await
        .into_iter()
        .filter(|c| c.batch_id.is_some_and(|id| ids.contains(&(id as u64))))
        .collect();
    !receipts.is_empty() && receipts.iter().all(crate::support::claimed)
}

#[tokio::test(flavor = "multi_thread")]
async fn reorg_of_a_claim_and_a_commit_converges() {
    let devnet = Devnet::start().await;
    let store = TestDb::new(Db::Sqlite);
    let index_store = TestDb::new(Db::Sqlite);
    let indexer = Indexer::start(&devnet, &index_store).await;
    let (license, terms, _, _) = set_up(&devnet).await;
    // The relayer's follower stays two blocks behind the head: bury the set-up.
    devnet.mine(CONFIRMATIONS).await;
    let relayer = Relayer::start_with_confirmations(&devnet, &store, CONFIRMATIONS).await;
    let meter = meter(&devnet, &relayer, "usage.db").await;
    let usage = |run: &str| run_usage(license, terms, run);

    // Batch 1, committed and confirmed.
    meter.record(usage("run-a"), 300).await.unwrap();
    assert_eq!(meter.flush().await.unwrap().accepted, 1);
    mine_until(&devnet, &relayer, "batch 1 confirmed", || async {
        batch(&relayer, 1)
            .await
            .is_some_and(|b| b.batch.state == "confirmed")
    })
    .await;
    let root1: B256 = batch(&relayer, 1).await.unwrap().batch.root;

    // Its claim is mined (not yet confirmed) ...
    let jobs = relayer.claim_all().await;
    assert!(!jobs.claim_jobs.is_empty(), "{jobs:?}");
    eventually(60, || async {
        devnet.reserved(addr(PAYER)).await.is_zero().then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("claim mined; relayer log:\n{}", relayer.log()));
    // ... and so is the commit of batch 2, in the next block.
    meter.record(usage("run-b"), 200).await.unwrap();
    assert_eq!(meter.flush().await.unwrap().accepted, 1);
    let commit2: B256 = eventually(60, || async {
        let hash: B256 = batch(&relayer, 2).await?.transactions.first()?.hash;
        devnet.provider.get_transaction_receipt(hash).await.ok()??;
        Some(hash)
    })
    .await
    .unwrap_or_else(|| panic!("commit 2 mined; relayer log:\n{}", relayer.log()));
    let head = devnet.provider.get_block_number().await.unwrap();
    let commit_block = devnet
        .provider
        .get_transaction_receipt(commit2)
        .await
        .unwrap()
        .unwrap()
        .block_number
        .unwrap();
    assert_eq!(head, commit_block, "the commit is the last block");
    assert_eq!(devnet.committed_roots().await.len(), 2);

    // The indexer has both.
    indexer.caught_up(&devnet).await;
    let indexed: Paged<BatchView> = indexer.get("/api/batches").await;
    assert_eq!(indexed.total, 2, "{indexed:?}");
    let b1: IndexedBatch = indexer.get(&format!("/api/batches/{root1:#x}")).await;
    assert_eq!(b1.batch.claims, 1, "the claim is indexed: {b1:?}");

    // Both blocks are replaced by empty ones: the claim and the commit are gone.
    let _: Value = devnet
        .provider
        .raw_request("anvil_reorg".into(), (2u64, json!([])))
        .await
        .unwrap();
    assert_eq!(devnet.provider.get_block_number().await.unwrap(), head);
    assert!(devnet
        .provider
        .get_transaction_receipt(commit2)
        .await
        .unwrap()
        .is_none());
    assert_eq!(devnet.committed_roots().await, vec![root1]);
    assert_eq!(
        devnet.reserved(addr(PAYER)).await,
        U256::from(300 * PRICE),
        "the claim is undone"
    );

    // The relayer sends both again and confirms them; the indexer follows the new branch.
    mine_until(
        &devnet,
        &relayer,
        "claim 1 and batch 2 confirmed",
        || async {
            batch(&relayer, 2)
                .await
                .is_some_and(|b| b.batch.state == "confirmed")
                && claimed(&relayer, &[1]).await
        },
    )
    .await;
    let roots = devnet.committed_roots().await;
    assert_eq!(roots.len(), 2, "each root committed once: {roots:?}");
    // Claim batch 2 as well.
    let jobs = relayer.claim_all().await;
    assert!(!jobs.claim_jobs.is_empty(), "{jobs:?}");
    mine_until(&devnet, &relayer, "every receipt claimed", || {
        claimed(&relayer, &[1, 2])
    })
    .await;

    // Each usage charged exactly once.
    let charged = U256::from((300 + 200) * PRICE);
    assert_eq!(
        U256::from(DEPOSIT) - devnet.unspent(addr(PAYER)).await,
        charged
    );
    assert_eq!(
        devnet.balance(addr(CREATOR)).await + devnet.fees().await,
        charged,
        "paid once: creator + fees = charged"
    );
    assert!(
        indexer.log().contains("reorganisation"),
        "the indexer rolled back: {}",
        indexer.log()
    );
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
