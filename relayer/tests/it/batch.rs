//! Batches end to end on anvil: cut by count and by age, committed with the reservations the
//! receipts need, batch data published and content-addressed, proofs that the escrow accepts
//! (a payee claims with Rust-built proofs), and bulk claims by the relayer.

use alloy::{
    primitives::{keccak256, B256, U256},
    providers::{ext::AnvilApi, Provider},
};
use fairtrain_protocol::{
    api::relayer::{ClaimResponse, LicenseProofs, PayeeProofs},
    batch::BatchData,
    bindings::{Escrow, IERC20Permit},
    merkle,
    wire::SignedReceipt,
};
use fairtrain_testkit::mined;
use serde_json::{json, Value};

use crate::support::{config, counts, eventually, Chain, Db, Relayer, TestDb};

/// Waits (at most `secs` per receipt) until each receipt has a confirmed claim transaction, and
/// checks that the escrow settled its count.
async fn claims_settled(chain: &Chain, relayer: &Relayer, receipts: &[SignedReceipt], secs: u64) {
    let all: Vec<&SignedReceipt> = receipts.iter().collect();
    relayer.wait_claimed(chain, &all, secs).await;
    for r in receipts {
        let key = r.receipt().usage_key();
        assert_eq!(
            chain.escrow().settledSamples(key).call().await.unwrap(),
            r.cumulative_samples
        );
    }
}

async fn commit_and_claim(db: Db) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let mut cfg = config(&chain, &store);
    cfg.batch.max_receipts = 5;
    let relayer = Relayer::start(&cfg).await;
    let credit_before = chain.credit().await;
    let available_before = chain.available().await;

    let receipts: Vec<SignedReceipt> = (1..=5u64)
        .map(|i| chain.receipt(&format!("run-{i}"), 100 * i))
        .collect();
    assert_eq!(relayer.bulk(&receipts).await.accepted, 5);
    let total = U256::from(100 * (1 + 2 + 3 + 4 + 5) * chain.price as u64);

    let batch = relayer.confirmed_batch(1).await;
    let root = batch.root;
    assert_eq!(batch.receipt_count, 5);
    assert_eq!(chain.devnet.committed_roots().await, vec![root]);
    let reservation = chain.reservation(root).await;
    assert_eq!(reservation.relayer, chain.relayer.address());
    assert!(reservation.expiresAt > reservation.committedAt);
    assert_eq!(reservation.feeBps, 250);
    assert_eq!(chain.reserved().await, total);
    assert_eq!(chain.credit().await, credit_before - total);
    assert_eq!(
        chain.available().await,
        available_before,
        "a commit draws on the line only"
    );

    // Batch data: served under its hash, which the commit carries; it recomputes the root.
    let hash = format!("{:#x}", batch.data_hash);
    let raw = relayer
        .client
        .get(format!("{}/v1/data/{hash}", relayer.url))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(format!("{:#x}", keccak256(&raw)), hash);
    let data = BatchData::parse(&raw).unwrap();
    let verified = data.verify(&chain.domain()).unwrap();
    assert_eq!(data.root, root);
    assert!(verified
        .signers
        .iter()
        .all(|s| *s == chain.signer.address()));
    assert_eq!(data.reservations.len(), 1);
    assert_eq!(data.reservations[0].amount, total);
    assert_eq!(
        batch.data_uri,
        format!("http://relayer.test/v1/data/{hash}")
    );

    // Proofs for the license's holder, by license and by payee; all verify against the root.
    let by_license: LicenseProofs = relayer
        .get_as(&format!("/v1/licenses/{}/proofs", chain.license_id))
        .await;
    let by_payee: PayeeProofs = relayer
        .get_as(&format!("/v1/payees/{}/proofs", chain.creator.address()))
        .await;
    assert_eq!(by_license.page.claims, by_payee.page.claims);
    let claims = by_license.page.claims;
    assert_eq!(claims.len(), 5);
    for c in &claims {
        let leaf = fairtrain_protocol::leaf(&chain.domain().digest(&c.receipt.receipt()));
        assert!(merkle::verify(&c.proof, root, leaf));
    }

    // The payee claims one receipt itself with the relayer's (Rust-built) proof.
    let first = claims[0].receipt.clone();
    let proof = claims[0].proof.clone();
    mined!(chain
        .escrow()
        .claim(
            root,
            vec![Escrow::Claim {
                receipt: first.receipt().into(),
                signature: first.signature.to_bytes(),
                proof,
            }],
        )
        .from(chain.creator.address()));
    let run = first.run_id;
    let settled = chain
        .escrow()
        .settledSamples(first.receipt().usage_key())
        .call()
        .await
        .unwrap();
    assert_eq!(settled, first.cumulative_samples);
    assert_ne!(run, B256::ZERO);

    // Operator endpoints need the bearer token.
    let r = relayer
        .client
        .post(format!("{}/v1/claims", relayer.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = relayer
        .client
        .post(format!("{}/v1/claims", relayer.url))
        .bearer_auth("wrong-token-wrong-token")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // The relayer claims the rest for the payee (the one already settled pays nothing).
    assert_eq!(relayer.claim_jobs(&json!({ "batchId": 1 })).await, [1]);
    claims_settled(&chain, &relayer, &receipts, 30).await;
    // Every unit reserved was paid: payouts to the holder plus 2.5 % fees.
    let fee = total * U256::from(250) / U256::from(10_000);
    let paid = IERC20Permit::new(chain.token, chain.provider.clone())
        .balanceOf(chain.creator.address())
        .call()
        .await
        .unwrap();
    assert_eq!(paid, total - fee);
    assert_eq!(
        chain.reserved().await,
        U256::ZERO,
        "the line's pool is drawn in full"
    );
    assert_eq!(
        U256::from(chain.line().await.fees),
        fee,
        "fees wait in the line"
    );
    // Nothing is left to claim.
    let r = relayer
        .client
        .post(format!("{}/v1/claims", relayer.url))
        .bearer_auth("operator-token-for-tests")
        .send()
        .await
        .unwrap();
    let jobs: ClaimResponse = r.json().await.unwrap();
    assert_eq!(jobs.claim_jobs, Vec::<i64>::new());
}

async fn cut_by_age(db: Db) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let mut cfg = config(&chain, &store);
    cfg.batch.max_age_secs = 1;
    let relayer = Relayer::start(&cfg).await;
    relayer.accept(&chain.receipt("run-1", 10)).await;
    relayer.accept(&chain.receipt("run-2", 20)).await;
    let batch = relayer.confirmed_batch(1).await;
    assert_eq!(batch.receipt_count, 2);
    // A later receipt of the same run goes into a second batch, reserving only its increase.
    let amount = relayer.accept(&chain.receipt("run-1", 15)).await;
    assert_eq!(amount, U256::from(5 * chain.price));
    let second = relayer.confirmed_batch(2).await;
    assert_eq!(second.reservations[0].amount, U256::from(5 * chain.price));
    assert_eq!(chain.devnet.committed_roots().await.len(), 2);
}

/// Transactions waiting in anvil's mempool.
async fn mempool_count(chain: &crate::support::Chain) -> u64 {
    let status: Value = chain
        .provider
        .raw_request("txpool_status".into(), ())
        .await
        .unwrap();
    u64::from_str_radix(
        status["pending"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap()
}

/// Sponsored claims are pipelined: up to `max_claims_in_flight` transactions on consecutive
/// nonces at once, so one block mines several; the cap holds; a restart with claims in flight
/// and a mempool that lost them rebroadcasts the same transactions; every receipt is paid once.
async fn pipelined_claims(db: Db) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let mut cfg = config(&chain, &store);
    cfg.batch.max_receipts = 12;
    cfg.tx.claims_per_tx = 1;
    cfg.tx.max_claims_in_flight = 5;
    cfg.tx.bump_after_secs = 3_600;
    let relayer = Relayer::start(&cfg).await;
    let receipts: Vec<SignedReceipt> = (1..=12u64)
        .map(|i| chain.receipt(&format!("run-{i}"), 10 * i))
        .collect();
    relayer.bulk(&receipts).await;
    relayer.confirmed_batch(1).await;
    let total = U256::from(10 * (12 * 13 / 2) * chain.price as u64);
    let before = chain.creator_balance().await;

    // Mining held: the relayer signs and sends five claims, and no more.
    chain.provider.anvil_set_auto_mine(false).await.unwrap();
    assert_eq!(relayer.claim_jobs(&json!({ "batchId": 1 })).await.len(), 12);
    let db_store = fairtrain_relayer::store::Store::connect(&store.url)
        .await
        .unwrap();
    let signed_jobs = || async {
        let mut nonces = Vec::new();
        for id in 1..=12 {
            if let Some(t) = db_store.txs("claim", id).await.unwrap().last() {
                nonces.push(t.nonce);
            }
        }
        nonces
    };
    eventually(30, || async {
        (mempool_count(&chain).await == 5).then_some(())
    })
    .await;
    for _ in 0..10 {
        assert_eq!(
            signed_jobs().await.len(),
            5,
            "at most five claims in flight"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        relayer.status().await.claims,
        counts(&[("requested", 7), ("sent", 5), ("claimedReceipts", 0)])
    );
    let mut nonces = signed_jobs().await;
    nonces.sort_unstable();
    assert!(
        nonces.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive nonces: {nonces:?}"
    );

    // The relayer restarts and the node forgets every pending transaction: the new process
    // puts the same five back, lowest nonce first, and signs nothing else.
    relayer.stop();
    drop(relayer);
    chain.provider.anvil_drop_all_transactions().await.unwrap();
    assert_eq!(mempool_count(&chain).await, 0);
    let relayer = Relayer::start(&cfg).await;
    eventually(30, || async {
        (mempool_count(&chain).await == 5).then_some(())
    })
    .await;
    assert_eq!(signed_jobs().await.len(), 5);
    // One block mines all five.
    chain.provider.anvil_mine(Some(1), None).await.unwrap();
    let head = chain.provider.get_block_number().await.unwrap();
    let block = chain
        .provider
        .get_block_by_number(head.into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(block.transactions.len(), 5, "five claims in one block");

    // The rest flows through; every receipt is settled once and the payee is paid in full.
    chain.provider.anvil_set_auto_mine(true).await.unwrap();
    claims_settled(&chain, &relayer, &receipts, 60).await;
    let fee = total * U256::from(250) / U256::from(10_000);
    assert_eq!(chain.creator_balance().await - before, total - fee);
    let mut nonces = Vec::new();
    for id in 1..=12 {
        let txs = db_store.txs("claim", id).await.unwrap();
        assert_eq!(txs.len(), 1, "claim {id}: one transaction, never re-signed");
        nonces.push(txs[0].nonce);
    }
    nonces.sort_unstable();
    nonces.dedup();
    assert_eq!(nonces.len(), 12, "one nonce per claim");
    assert_eq!(
        relayer.status().await.claims,
        counts(&[("confirmed", 12), ("claimedReceipts", 12)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_claims_sqlite() {
    pipelined_claims(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_claims_postgres() {
    pipelined_claims(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_and_claim_sqlite() {
    commit_and_claim(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_and_claim_postgres() {
    commit_and_claim(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_by_age_sqlite() {
    cut_by_age(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_by_age_postgres() {
    cut_by_age(Db::Postgres).await;
}
