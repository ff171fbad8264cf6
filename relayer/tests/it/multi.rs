//! Several relayer processes sharing one PostgreSQL store: all ingest, one at a time commits
//! (the committer lock), and when it goes away another takes over. Every receipt is committed
//! exactly once and no root twice.

use serde_json::json;

use alloy::primitives::U256;

use crate::support::{config, eventually, post, Chain, Db, Relayer, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_postgres() {
    let chain = Chain::start().await;
    let store = TestDb::new(Db::Postgres);
    let mut cfg = config(&chain, &store);
    cfg.batch.max_receipts = 4;
    cfg.batch.max_age_secs = 1;
    let a = Relayer::start(&cfg).await;
    let b = Relayer::start(&cfg).await;

    // Both acknowledge receipts; duplicates across processes are idempotent.
    let receipts: Vec<_> = (0..12)
        .map(|i| chain.receipt(&format!("run-{i}"), 10 + i))
        .collect();
    for (i, r) in receipts.iter().enumerate() {
        let relayer = if i % 2 == 0 { &a } else { &b };
        let (status, body) = relayer.post("/v1/receipts", &json!(r)).await;
        assert_eq!(status, 201, "{body}");
    }
    let (_, body) = b.post("/v1/receipts/bulk", &json!(receipts[..4])).await;
    assert_eq!(body["duplicates"], 4, "{body}");
    eventually(60, || async {
        let (_, s) = a.get("/v1/status").await;
        (s["receipts"]["committed"] == 12).then_some(())
    })
    .await;

    // The first committer goes away; the other takes over.
    a.stop();
    drop(a);
    let more: Vec<_> = (0..3)
        .map(|i| chain.receipt(&format!("run-{i}"), 100 + i))
        .collect();
    let (_, body) = b.post("/v1/receipts/bulk", &json!(more)).await;
    assert_eq!(body["accepted"], 3, "{body}");
    eventually(60, || async {
        let (_, s) = b.get("/v1/status").await;
        (s["receipts"]["committed"] == 15).then_some(())
    })
    .await;

    let roots = chain.committed_roots().await;
    let mut unique = roots.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), roots.len(), "a root was committed twice");
    let (_, batches) = b.get("/v1/batches").await;
    let confirmed = batches["batches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["state"] == "confirmed")
        .count();
    assert_eq!(confirmed, roots.len());
    let committed_receipts: i64 = batches["batches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["state"] == "confirmed")
        .map(|x| x["receipt_count"].as_i64().unwrap())
        .sum();
    assert_eq!(
        committed_receipts, 15,
        "every receipt in exactly one confirmed batch"
    );
}

/// Two relayers on one PostgreSQL database receive, at the same time, receipts of one payer
/// worth three times its budget: together they acknowledge at most the budget (exactly the
/// receipts that fit), every acknowledged receipt is committed, and a usage key one process
/// advanced is not regressed through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_the_budget() {
    let chain = Chain::start().await;
    let store = TestDb::new(Db::Postgres);
    let mut cfg = config(&chain, &store);
    cfg.batch.max_receipts = 5;
    cfg.batch.max_age_secs = 1;
    let a = Relayer::start(&cfg).await;
    let b = Relayer::start(&cfg).await;

    // One usage key: a count one process acknowledged bounds the other, which prices only
    // the increase over it.
    let (status, body) = a
        .post("/v1/receipts", &json!(chain.receipt("share-key", 100)))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = b
        .post("/v1/receipts", &json!(chain.receipt("share-key", 60)))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "cumulative_not_increasing", "{body}");
    let (status, body) = b
        .post("/v1/receipts", &json!(chain.receipt("share-key", 150)))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["amount"], (50 * chain.price).to_string(), "{body}");
    eventually(60, || async {
        let (_, s) = a.get("/v1/status").await;
        (s["receipts"]["committed"] == 2).then_some(())
    })
    .await;

    let budget = chain.available().await;
    let samples_per_receipt = 50_000u64;
    let cost = U256::from(samples_per_receipt) * U256::from(chain.price);
    let fit = (budget / cost).to::<u64>();
    assert!(fit >= 2, "the harness deposit is too small for this test");
    let total = fit * 3;

    // Every receipt its own usage key, sent one request each, all at once, alternating
    // between the two processes.
    let mut tasks = Vec::new();
    for i in 0..total {
        let relayer = if i % 2 == 0 { &a } else { &b };
        let (client, url) = (
            relayer.client.clone(),
            format!("{}/v1/receipts", relayer.url),
        );
        let body = json!(chain.receipt(&format!("share-{i}"), samples_per_receipt));
        tasks.push(tokio::spawn(
            async move { post(&client, &url, &body).await },
        ));
    }
    let mut accepted = U256::ZERO;
    let mut accepted_count = 0u64;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            201 => {
                accepted += body["amount"].as_str().unwrap().parse::<U256>().unwrap();
                accepted_count += 1;
            }
            402 => assert_eq!(body["error"]["code"], "insufficient_budget", "{body}"),
            _ => panic!("unexpected {status}: {body}"),
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
    eventually(90, || async {
        let (_, s) = a.get("/v1/status").await;
        (s["receipts"]["committed"] == accepted_count + 2).then_some(())
    })
    .await;
    assert_eq!(chain.available().await, budget - accepted);

    // What is left is all that fits, through either process.
    let left = ((budget - accepted) / U256::from(chain.price)).to::<u64>();
    for relayer in [&a, &b] {
        let (status, body) = relayer
            .post(
                "/v1/receipts",
                &json!(chain.receipt("share-late", left + 1)),
            )
            .await;
        assert_eq!(status, 402, "{body}");
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
    let row = |n: u8, cumulative: &str, amount: &str| NewReceipt {
        digest: format!("{:#x}", B256::repeat_byte(0x10 + n)),
        usage_key: format!("{key:#x}"),
        payer: format!("{payer:#x}"),
        license_id: "1".into(),
        terms_id: "1".into(),
        run_id: format!("{:#x}", B256::ZERO),
        cumulative: cumulative.into(),
        issued_at: "1".into(),
        signature: "0x".into(),
        signer: format!("{payer:#x}"),
        token: format!("{token:#x}"),
        amount: amount.into(),
        chargeable_from: 0,
        received_at: 0,
        seq: i64::from(n),
    };
    store
        .insert_receipts(&[row(1, "9", "900"), row(2, "10", "100"), row(3, "5", "7")])
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
         DELETE FROM schema_migrations WHERE version = 2",
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
