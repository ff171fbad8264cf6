//! Several relayer processes sharing one PostgreSQL store: two real `fairtrain-relayer`
//! binaries (one with the key in its environment, one decrypting the keystore) both ingest, one
//! at a time commits and claims (the committer lock), and when the committer is SIGKILLed in
//! the middle of a batch the other takes over. Every receipt is committed exactly once, no root
//! twice, every receipt is paid once, and together the two never acknowledge more than a
//! payer's budget.

use std::time::Duration;

use alloy::{primitives::U256, providers::Provider};
use fairtrain_protocol::api::relayer::Outcome;
use serde_json::json;

use crate::support::{
    binary, error_code, free_port, keystore, post, stored_receipts, typed, write_config, Api,
    Chain, Db, RelayerProcess, TestDb, RELAYER_KEY,
};

/// Two binaries on one PostgreSQL database, batches of at most `max_receipts`: `a` (key from
/// its environment) starts first and is the committer, with `failpoint` armed if any; `b`
/// (key decrypted from the keystore) waits for the lock.
async fn two_binaries(
    chain: &Chain,
    store: &TestDb,
    dir: &std::path::Path,
    max_receipts: usize,
    failpoint: Option<&str>,
) -> (RelayerProcess, RelayerProcess, reqwest::Client) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let (pa, pb) = (free_port(), free_port());
    let ca = write_config(chain, store, dir, pa, max_receipts, "");
    let cb = write_config(chain, store, dir, pb, max_receipts, "");
    let a = binary(&ca, dir, pa, failpoint, 0, RELAYER_KEY);
    a.wait_ready(15).await;
    a.wait_log("this process is the committer", 30).await;
    let b = binary(&cb, dir, pb, None, 1, keystore(dir));
    b.wait_ready(15).await;
    (a, b, client)
}

/// The committer is SIGKILLed once its batch's commit is broadcast (`batch_sent`); the other
/// process takes the lock, follows that commit to confirmation, commits the rest and claims
/// everything: every receipt in exactly one confirmed batch, each root once, each receipt paid
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committer_killed_mid_batch_the_other_takes_over() {
    let chain = Chain::start().await;
    let store = TestDb::new(Db::Postgres);
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, client) =
        two_binaries(&chain, &store, dir.path(), 4, Some("batch_sent")).await;

    // Both acknowledge receipts; duplicates across processes are idempotent.
    let receipts: Vec<_> = (0..12u64)
        .map(|i| chain.receipt(&format!("run-{i}"), 10 + i))
        .collect();
    let (api_a, api_b) = (
        Api::new(&a.url, client.clone()),
        Api::new(&b.url, client.clone()),
    );
    for (i, r) in receipts.iter().enumerate() {
        let api = if i % 2 == 0 { &api_a } else { &api_b };
        api.accept(r).await;
    }
    let body = api_b.bulk(&receipts[..4]).await;
    assert_eq!(body.duplicates, 4, "{body:?}");

    // The committer dies with its first commit broadcast and not yet followed; the other takes
    // over and the rest flows through it.
    a.kill_at("batch_sent").await;
    b.wait_log("this process is the committer", 30).await;
    let more: Vec<_> = (0..3u64)
        .map(|i| chain.receipt(&format!("run-{i}"), 100 + i))
        .collect();
    api_b.accept_all(&more).await;
    api_b
        .wait_status(90, |s| s.receipts.get("committed") == Some(&15))
        .await;

    let roots = chain.roots_committed_once().await;
    let confirmed = api_b.confirmed_batches().await;
    assert_eq!(confirmed.len(), roots.len());
    let committed_receipts: i64 = confirmed.iter().map(|x| x.receipt_count).sum();
    assert_eq!(
        committed_receipts, 15,
        "every receipt in exactly one confirmed batch"
    );
    // Reserved exactly once: the highest count of each run, priced.
    let samples: u64 = (100..=102).sum::<u64>() + (13..=21).sum::<u64>();
    let total = U256::from(samples * chain.price as u64);
    assert_eq!(chain.credit().await, chain.deposit - total);

    // The survivor claims everything; each receipt is paid once.
    let before = chain.creator_balance().await;
    api_b.claim_all().await;
    api_b
        .wait_status(90, |s| {
            s.claims.get("claimedReceipts") == Some(&15)
                && s.claims
                    .keys()
                    .all(|k| k == "confirmed" || k == "claimedReceipts")
        })
        .await;
    let fee = total * U256::from(250) / U256::from(10_000);
    assert_eq!(chain.creator_balance().await - before, total - fee);
    assert_eq!(
        chain.reserved().await,
        U256::ZERO,
        "every reservation claimed in full"
    );
    let jobs = api_b.status().await.claims["confirmed"] as u64;
    let sent = chain
        .provider
        .get_transaction_count(chain.relayer.address())
        .await
        .unwrap();
    assert_eq!(
        sent,
        roots.len() as u64 + jobs,
        "one transaction per batch and per claim job, none twice"
    );
    b.kill();
}

/// Two binaries on one PostgreSQL database receive, at the same time, receipts of one payer
/// worth three times its budget: together they acknowledge at most the budget (exactly the
/// receipts that fit), every acknowledged receipt is committed, a usage key one process
/// advanced is not regressed through the other, and the same receipts sent to both at once are
/// stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_binaries_share_the_budget() {
    let chain = Chain::start().await;
    let store = TestDb::new(Db::Postgres);
    let dir = tempfile::tempdir().unwrap();
    let (a, b, client) = two_binaries(&chain, &store, dir.path(), 5, None).await;
    let submit = |url: &str| format!("{url}/v1/receipts");
    let (api_a, api_b) = (
        Api::new(&a.url, client.clone()),
        Api::new(&b.url, client.clone()),
    );

    // One usage key: a count one process acknowledged bounds the other, which prices only
    // the increase over it.
    api_a.accept(&chain.receipt("share-key", 100)).await;
    let (code, body) = api_b.submit(&chain.receipt("share-key", 60)).await;
    assert_eq!(
        (code, error_code(&body)),
        (409, "cumulative_not_increasing".to_owned()),
        "{body}"
    );
    assert_eq!(
        api_b.accept(&chain.receipt("share-key", 150)).await,
        U256::from(50 * chain.price)
    );

    // The same receipts sent to both processes at once, twice each: every receipt is accepted
    // by exactly one request and stored once.
    let race: Vec<_> = (0..8u64)
        .map(|i| chain.receipt(&format!("race-{i}"), 10))
        .collect();
    let (r1, r2, r3, r4) = tokio::join!(
        api_a.bulk(&race),
        api_b.bulk(&race),
        api_a.bulk(&race),
        api_b.bulk(&race)
    );
    let answers = [r1, r2, r3, r4];
    let accepted: usize = answers.iter().map(|b| b.accepted).sum();
    let duplicates: usize = answers.iter().map(|b| b.duplicates).sum();
    assert_eq!((accepted, duplicates), (8, 24), "{answers:?}");
    assert_eq!(stored_receipts(&store).await, 10);
    api_a
        .wait_status(60, |s| s.receipts.get("committed") == Some(&10))
        .await;

    let budget = chain.credit().await;
    let samples_per_receipt = 50_000u64;
    let cost = U256::from(samples_per_receipt) * U256::from(chain.price);
    let fit = (budget / cost).to::<u64>();
    assert!(fit >= 2, "the harness deposit is too small for this test");
    let total = fit * 3;

    // Every receipt its own usage key, sent one request each, all at once, alternating
    // between the two processes.
    let mut tasks = Vec::new();
    for i in 0..total {
        let url = submit(if i % 2 == 0 { &a.url } else { &b.url });
        let client = client.clone();
        let body = json!(chain.receipt(&format!("share-{i}"), samples_per_receipt));
        tasks.push(tokio::spawn(
            async move { post(&client, &url, &body).await },
        ));
    }
    let mut accepted = U256::ZERO;
    let mut accepted_count = 0u64;
    for task in tasks {
        let (code, body) = task.await.unwrap();
        match code {
            201 => {
                let Outcome::Accepted { amount, .. } = typed(body) else {
                    panic!("201 is an acceptance")
                };
                accepted += amount;
                accepted_count += 1;
            }
            402 => assert_eq!(error_code(&body), "insufficient_budget", "{body}"),
            _ => panic!("unexpected {code}: {body}"),
        }
    }
    assert!(
        accepted <= budget,
        "acknowledged {accepted} over a budget of {budget}"
    );
    assert_eq!(
        accepted_count, fit,
        "exactly the receipts that fit are acknowledged"
    );

    // Every acknowledged receipt is committed, and reserved on-chain exactly once.
    let committed = accepted_count as i64 + 10;
    api_a
        .wait_status(90, |s| s.receipts.get("committed") == Some(&committed))
        .await;
    assert_eq!(chain.credit().await, budget - accepted);

    // What is left is all that fits, through either process.
    let left = ((budget - accepted) / U256::from(chain.price)).to::<u64>();
    for api in [&api_a, &api_b] {
        let (code, body) = api.submit(&chain.receipt("share-late", left + 1)).await;
        assert_eq!(code, 402, "{body}");
    }
}

/// A PostgreSQL store created before the shared ledger (schema version 1, receipts already
/// acknowledged) gets `payer_ledger` and `usage_heads` filled from its receipts by migration 2:
/// pending sums the amounts not yet committed, and each usage key's head is its highest count
/// compared as a number ("10" above "9").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_ledger_migration_backfills_postgres() {
    use alloy::primitives::{Address, B256};
    use fairtrain_relayer::store::{ledger, NewReceipt, Store};

    let db = TestDb::new(Db::Postgres);
    let store = Store::connect(&db.url).await.unwrap();
    let payer = Address::repeat_byte(1);
    let token = Address::repeat_byte(2);
    let key = B256::repeat_byte(3);
    let row = |n: u8, cumulative: u64, amount: u64| NewReceipt {
        digest: B256::repeat_byte(0x10 + n),
        usage_key: key,
        payer,
        license_id: U256::from(1),
        terms_id: 1,
        run_id: B256::ZERO,
        cumulative,
        issued_at: 1,
        signature: Default::default(),
        signer: payer,
        token,
        amount: U256::from(amount),
        chargeable_from: 0,
        received_at: 0,
        seq: i64::from(n),
    };
    store
        .insert_receipts(&[row(1, 9, 900), row(2, 10, 100), row(3, 5, 7)])
        .await
        .unwrap();
    // The third is in a confirmed batch: no longer pending.
    sqlx::query("UPDATE receipts SET status = 'committed' WHERE seq = 3")
        .execute(store.pool())
        .await
        .unwrap();
    // Back to schema version 1.
    sqlx::raw_sql(
        "DROP TABLE payer_ledger; DROP TABLE usage_heads; \
         DELETE FROM _sqlx_migrations WHERE version = 2",
    )
    .execute(store.pool())
    .await
    .unwrap();
    drop(store);

    let store = Store::connect(&db.url).await.unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    let pending = ledger::lock_payers(&mut tx, &[(payer, token)])
        .await
        .unwrap();
    assert_eq!(pending[&(payer, token)], U256::from(1_000));
    let heads = ledger::usage_heads(&mut tx, &[key]).await.unwrap();
    assert_eq!(heads[&key], (10, B256::repeat_byte(0x12)));
}
