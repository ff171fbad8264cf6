//! Several relayer processes sharing one PostgreSQL store: all ingest, one at a time commits
//! (the committer lock), and when it goes away another takes over. Every receipt is committed
//! exactly once and no root twice.

use serde_json::json;

use crate::support::{config, eventually, Chain, Db, Relayer, TestDb};

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
