//! Credit lines: every batch of the relayer draws on one pool, so committed receipts can be
//! claimed in any order; a line that becomes releasable before a cut is re-priced over the
//! settled counts; batches committed before the line's last release do not count when it is
//! locked again; the relayer releases its own expired line when receipts wait for it. On SQLite
//! and PostgreSQL.

use alloy::{
    primitives::U256,
    providers::{ext::AnvilApi, Provider},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use fairtrain_protocol::{api::ErrorBody, bindings::TrainingEscrow, wire::SignedReceipt};
use serde_json::json;

use crate::support::{config, counts, eventually, started, typed, Chain, Db, Relayer, TestDb};

/// Requests the claims of batch `id` and waits until every receipt of `receipts` (its own) has
/// a confirmed claim transaction.
async fn claim_batch(chain: &Chain, relayer: &Relayer, id: u64, receipts: &[&SignedReceipt]) {
    relayer.claim_jobs(&json!({ "batchId": id })).await;
    relayer.wait_claimed(chain, receipts, 30).await;
}

/// Batch 1 (run-a at 100, run-b at 10) committed and confirmed: the line's `reservedUntil`.
async fn first_batch(chain: &Chain, relayer: &Relayer) -> u64 {
    relayer
        .accept_all(&[chain.receipt("run-a", 100), chain.receipt("run-b", 10)])
        .await;
    relayer.confirmed_batch(1).await;
    chain.line().await.reservedUntil.to::<u64>()
}

fn paid_less_fee(amount: U256) -> U256 {
    amount - amount * U256::from(250) / U256::from(10_000)
}

/// Moves the chain past `until` (the line's `reservedUntil`).
async fn pass(chain: &Chain, until: u64) {
    let now = chain
        .provider
        .get_block(alloy::eips::BlockId::latest())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    chain
        .provider
        .anvil_increase_time(until - now + 1)
        .await
        .unwrap();
    chain.provider.anvil_mine(Some(1), None).await.unwrap();
}

/// Moves the chain past `until` (the line's `reservedUntil`) and waits until the relayer has
/// followed a block that late.
async fn expire(chain: &Chain, relayer: &Relayer, until: u64) {
    pass(chain, until).await;
    eventually(10, || async {
        (relayer.running.app.chain.read().unwrap().timestamp > until).then_some(())
    })
    .await;
}

/// Moves the chain past `until` (the line's `reservedUntil`), releases the line, and waits until
/// the relayer has followed the release. The payer releases it at once; if receipts wait for the
/// line, the relayer may have released it first (the payer's release then reverts).
async fn expire_and_release(chain: &Chain, relayer: &Relayer, until: u64) {
    pass(chain, until).await;
    let sent = chain
        .escrow()
        .release(chain.payer.address(), chain.relayer.address(), chain.token)
        .from(chain.payer.address())
        .send()
        .await;
    match sent {
        Ok(pending) => assert!(pending.get_receipt().await.unwrap().status()),
        Err(_) => assert_eq!(chain.line().await.reservedUntil.to::<u64>(), 0),
    }
    assert_eq!(chain.reserved().await, U256::ZERO);
    // The relayer has followed the commit and the release.
    eventually(10, || async {
        let view = relayer.running.app.chain.read().unwrap().clone();
        let line = view.line(chain.payer.address(), chain.relayer.address(), chain.token);
        (!view.committed_roots.is_empty()
            && line.reserved_until == 0
            && line.credit == chain.deposit)
            .then_some(())
    })
    .await;
}

/// The claim-order scenario: two batches of the same run, the second with a receipt of a second
/// license too. The later batch reserved only what its receipt adds over the first, yet its
/// leaves are claimed first and in full; the first batch's leaf then adds nothing.
async fn claims_in_any_order(db: Db) {
    let (chain, _store, _, relayer) = started(db, |c| c.batch.max_receipts = 2).await;
    let price = U256::from(chain.price);
    let second = chain.add_license(2).await;

    let (a100, b10) = (chain.receipt("run-a", 100), chain.receipt("run-b", 10));
    relayer.accept_all(&[&a100, &b10]).await;
    relayer.confirmed_batch(1).await;
    let (a150, x40) = (
        chain.receipt("run-a", 150),
        chain.receipt_of(second, "run-x", 40),
    );
    relayer.accept_all(&[&a150, &x40]).await;
    relayer.confirmed_batch(2).await;
    // The line is locked by the first batch: the second reserves only what it adds.
    let total = U256::from(150 + 10 + 40) * price;
    assert_eq!(chain.reserved().await, total);
    assert_eq!(chain.credit().await, chain.deposit - total);

    let before = chain.creator_balance().await;
    claim_batch(&chain, &relayer, 2, &[&a150, &x40]).await;
    assert_eq!(chain.settled("run-a").await, 150);
    assert_eq!(
        chain.creator_balance().await - before,
        paid_less_fee(U256::from(150 + 40) * price),
        "the later batch's leaves are paid in full from the pool"
    );
    claim_batch(&chain, &relayer, 1, &[&a100, &b10]).await;
    assert_eq!(
        chain.settled("run-a").await,
        150,
        "the earlier leaf adds nothing"
    );
    assert_eq!(chain.settled("run-b").await, 10);
    assert_eq!(chain.creator_balance().await - before, paid_less_fee(total));
    assert_eq!(
        chain.reserved().await,
        U256::ZERO,
        "every unit reserved was paid"
    );
}

/// A receipt priced over the first batch's count while the line was locked; the first batch
/// expires and the line is released before the next cut, so its reserve went back to credit:
/// the cut re-prices the receipt over the settled count, and its claim is paid in full.
async fn releasable_line_repriced_at_cut(db: Db) {
    let (chain, _store, _, relayer) = started(db, |c| c.batch.max_receipts = 2).await;
    let price = U256::from(chain.price);

    let until = first_batch(&chain, &relayer).await;
    assert!(until > 0);
    // Accepted while the line is locked: priced over the committed count.
    let a150 = chain.receipt("run-a", 150);
    assert_eq!(relayer.accept(&a150).await, U256::from(50) * price);

    // The first batch expires unclaimed; anyone releases the line.
    expire_and_release(&chain, &relayer, until).await;

    // The second receipt fills the batch: it is cut now, over settled counts (all zero).
    let c10 = chain.receipt("run-c", 10);
    relayer.accept_all(&[&c10]).await;
    relayer.confirmed_batch(2).await;
    let reserved = U256::from(150 + 10) * price;
    assert_eq!(
        chain.reserved().await,
        reserved,
        "the batch reserves run-a's whole count again"
    );
    let stored = relayer
        .receipt(chain.domain().digest(&a150.receipt()))
        .await;
    assert_eq!(
        stored.amount,
        U256::from(150) * price,
        "the stored amount follows: {stored:?}"
    );

    let before = chain.creator_balance().await;
    claim_batch(&chain, &relayer, 2, &[&a150, &c10]).await;
    assert_eq!(chain.settled("run-a").await, 150);
    assert_eq!(
        chain.creator_balance().await - before,
        paid_less_fee(reserved)
    );
    assert_eq!(chain.reserved().await, U256::ZERO);
    // The ledger follows the re-pricing: what is left of the credit is all that fits.
    let left = chain.credit().await / price;
    let (status, body) = relayer
        .submit(&chain.receipt("run-d", left.to::<u64>() + 1))
        .await;
    assert_eq!(
        (status, typed::<ErrorBody>(body).error.code),
        (402, "insufficient_budget".to_owned())
    );
    relayer
        .accept(&chain.receipt("run-d", left.to::<u64>()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_in_any_order_sqlite() {
    claims_in_any_order(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_in_any_order_postgres() {
    claims_in_any_order(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasable_line_repriced_at_cut_sqlite() {
    releasable_line_repriced_at_cut(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasable_line_repriced_at_cut_postgres() {
    releasable_line_repriced_at_cut(Db::Postgres).await;
}

/// The line is released, then locked again by a batch of another run: a receipt of a run whose
/// last count was committed before the release is priced over the settled count (the earlier
/// batch's reserve went back to credit), not over that count, and its claim is paid in full.
async fn pricing_after_release(db: Db) {
    let (chain, _store, _, relayer) = started(db, |c| c.batch.max_receipts = 2).await;
    let price = U256::from(chain.price);

    // B1: run-a at 100 (with run-b at 10); it expires unclaimed and the line is released.
    let until = first_batch(&chain, &relayer).await;
    expire_and_release(&chain, &relayer, until).await;

    // B2: other runs, priced over settled; it locks the line again.
    relayer
        .accept_all(&[&chain.receipt("run-c", 10), &chain.receipt("run-d", 5)])
        .await;
    relayer.confirmed_batch(2).await;
    assert_eq!(chain.reserved().await, U256::from(15) * price);
    eventually(10, || async {
        let view = relayer.running.app.chain.read().unwrap().clone();
        let line = view.line(chain.payer.address(), chain.relayer.address(), chain.token);
        (view.committed_roots.len() == 2 && line.reserved_until > until).then_some(())
    })
    .await;

    // run-a at 160 while the line is locked: B1 is not in the line's pool any more.
    let a160 = chain.receipt("run-a", 160);
    assert_eq!(
        relayer.accept(&a160).await,
        U256::from(160) * price,
        "priced over the settled count, not over the count of a batch before the release"
    );
    let e10 = chain.receipt("run-e", 10);
    relayer.accept_all(&[&e10]).await;
    relayer.confirmed_batch(3).await;
    let reserved = U256::from(15 + 160 + 10) * price;
    assert_eq!(chain.reserved().await, reserved);

    let before = chain.creator_balance().await;
    claim_batch(&chain, &relayer, 3, &[&a160, &e10]).await;
    assert_eq!(chain.settled("run-a").await, 160);
    assert_eq!(
        chain.creator_balance().await - before,
        paid_less_fee(U256::from(160 + 10) * price),
        "B3's run-a leaf is paid its 160 samples in full"
    );
    assert_eq!(chain.reserved().await, U256::from(15) * price);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pricing_after_release_sqlite() {
    pricing_after_release(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pricing_after_release_postgres() {
    pricing_after_release(Db::Postgres).await;
}

/// The relayer releases its own line. The line's only batch expires unclaimed, and nobody
/// releases the line; a receipt accepted while the line was locked (priced over that batch's
/// count) is re-priced at the cut over the settled count, above what is left of the line's
/// credit. The relayer sends `release(payer, relayer, token)` itself, then commits the receipt
/// over the credit that came back, and its claim is paid in full.
async fn relayer_releases_its_line(db: Db) {
    let chain = Chain::start().await;
    let price = U256::from(chain.price);
    chain.reduce_credit_to(U256::from(200) * price).await;
    let store = TestDb::new(db);
    let mut cfg = config(&chain, &store);
    cfg.batch.max_receipts = 2;
    let relayer = Relayer::start(&cfg).await;

    let until = first_batch(&chain, &relayer).await;
    assert_eq!(chain.credit().await, U256::from(90) * price);
    // Accepted while the line is locked: priced over the committed count, within the credit.
    let a150 = chain.receipt("run-a", 150);
    assert_eq!(relayer.accept(&a150).await, U256::from(50) * price);

    // Batch 1 expires unclaimed. The next receipt fills a batch: at the cut run-a is priced over
    // its settled count (150 + 10 samples), above the 90 samples of credit left.
    expire(&chain, &relayer, until).await;
    let c10 = chain.receipt("run-c", 10);
    relayer.accept_all(&[&c10]).await;
    let batch = relayer.confirmed_batch(2).await;

    // The relayer's account released the line (batch 1's reserve back to credit), before the
    // commit.
    let filter = Filter::new()
        .address(chain.escrow)
        .event_signature(TrainingEscrow::FundsReleased::SIGNATURE_HASH)
        .from_block(0);
    let logs = chain.provider.get_logs(&filter).await.unwrap();
    assert_eq!(logs.len(), 1, "one release");
    let released = TrainingEscrow::FundsReleased::decode_log(&logs[0].inner).unwrap();
    assert_eq!(
        (released.payer, released.relayer, released.token),
        (chain.payer.address(), chain.relayer.address(), chain.token)
    );
    assert_eq!(released.amount, U256::from(110) * price);
    let sent = chain
        .provider
        .get_transaction_receipt(logs[0].transaction_hash.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sent.from, chain.relayer.address(), "sent by the relayer");
    assert!(batch.commit_block.unwrap() as u64 > logs[0].block_number.unwrap());
    assert_eq!(relayer.status().await.releases, counts(&[("confirmed", 1)]));
    let reserved = U256::from(150 + 10) * price;
    assert_eq!(chain.reserved().await, reserved);

    let before = chain.creator_balance().await;
    claim_batch(&chain, &relayer, 2, &[&a150, &c10]).await;
    assert_eq!(chain.settled("run-a").await, 150);
    assert_eq!(
        chain.creator_balance().await - before,
        paid_less_fee(reserved),
        "run-a's 150 samples and run-c's 10 are paid in full"
    );
    assert_eq!(chain.reserved().await, U256::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayer_releases_its_line_sqlite() {
    relayer_releases_its_line(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayer_releases_its_line_postgres() {
    relayer_releases_its_line(Db::Postgres).await;
}
