//! Ingest: acceptance rules, machine-readable rejections, idempotent duplicates, durability
//! across restarts; on SQLite and PostgreSQL.

use alloy::{
    primitives::{keccak256, Address, U256},
    providers::ext::AnvilApi,
    signers::local::PrivateKeySigner,
};
use fairtrain_protocol::{
    api::{
        relayer::{BulkResponse, Outcome},
        ErrorBody,
    },
    wire::SignedReceipt,
    EscrowDomain, Receipt,
};
use fairtrain_relayer::chain::state::CreditLine;
use fairtrain_testkit::mined;
use serde_json::{json, Value};

use crate::support::{
    config, error_code, error_detail, eventually, stored_receipts, typed, Chain, Db, Relayer,
    TestDb,
};

async fn rules(db: Db) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let relayer = Relayer::start(&config(&chain, &store)).await;

    // Accepted, then idempotent.
    let r1 = chain.receipt("run-a", 100);
    let (status, body) = relayer.submit(&r1).await;
    assert_eq!(status, 201, "{body}");
    let Outcome::Accepted { digest, amount } = typed(body) else {
        panic!("201 is an acceptance")
    };
    assert_eq!(amount, U256::from(100 * chain.price));
    let duplicate = Outcome::Duplicate { digest };
    let (status, body) = relayer.submit(&r1).await;
    assert_eq!((status, typed::<Outcome>(body)), (200, duplicate.clone()));

    // A higher count of the same run is charged only its increase.
    assert_eq!(
        relayer.accept(&chain.receipt("run-a", 150)).await,
        U256::from(50 * chain.price)
    );
    // The first receipt is still a duplicate (not a regression) once superseded.
    let (status, body) = relayer.submit(&r1).await;
    assert_eq!((status, typed::<Outcome>(body)), (200, duplicate));
    // Going backwards, or sideways with another digest, is refused.
    let (status, body) = relayer.submit(&chain.receipt("run-a", 120)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (409, "cumulative_not_increasing"),
        "{body}"
    );
    let mut same = chain.receipt("run-a", 150).receipt();
    same.issuedAt += 1;
    let sideways = SignedReceipt::sign(&chain.domain(), &chain.signer, &same).unwrap();
    let (status, body) = relayer.submit(&sideways).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (409, "cumulative_not_increasing")
    );

    // Unregistered key; a receipt signed under another domain recovers to a stranger too.
    let stranger = PrivateKeySigner::from_bytes(&keccak256("stranger")).unwrap();
    let (status, body) = relayer
        .submit(&chain.receipt_by(&stranger, "run-b", 1))
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (422, "signer_not_registered")
    );
    let other_domain = EscrowDomain::new(1, chain.escrow);
    let foreign = SignedReceipt::sign(
        &other_domain,
        &chain.signer,
        &chain.receipt("run-b", 1).receipt(),
    )
    .unwrap();
    let (status, body) = relayer.submit(&foreign).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (422, "signer_not_registered")
    );

    // Unknown license / terms.
    let unknown = Receipt {
        licenseId: U256::from(99),
        ..chain.receipt("run-b", 1).receipt()
    };
    let unknown = SignedReceipt::sign(&chain.domain(), &chain.signer, &unknown).unwrap();
    let (status, body) = relayer.submit(&unknown).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (422, "terms_not_accepted")
    );

    // Budget: the deposit covers 1e6 samples at this price; 150 are already accepted.
    let budget_samples = (chain.deposit / U256::from(chain.price)).to::<u64>();
    let (status, body) = relayer
        .submit(&chain.receipt("run-c", budget_samples - 150))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = relayer.submit(&chain.receipt("run-d", 1)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (402, "insufficient_budget"),
        "{body}"
    );

    // Malformed input: bad JSON, wrong types, bad signature encodings, unknown fields.
    let good = serde_json::to_value(chain.receipt("run-e", 1)).unwrap();
    let mut cases: Vec<Value> = Vec::new();
    for (field, value) in [
        ("cumulativeSamples", json!(-1)),
        ("cumulativeSamples", json!("1e3")),
        ("licenseId", json!(true)),
        ("payer", json!("0x1234")),
        ("runId", json!("not hex")),
        ("signature", json!("0x00")),
        ("unexpected", json!(1)),
    ] {
        let mut v = good.clone();
        v[field] = value;
        cases.push(v);
    }
    let mut high_s = good.clone();
    let sig = good["signature"].as_str().unwrap();
    // v = 29 is not 27 or 28.
    high_s["signature"] = json!(format!("{}1d", &sig[..sig.len() - 2]));
    cases.push(high_s);
    for case in cases {
        let (status, body) = relayer.post("/v1/receipts", &case).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (400, "malformed"),
            "{case}: {body}"
        );
    }
    let r = relayer
        .client
        .post(format!("{}/v1/receipts", relayer.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: ErrorBody = r.json().await.unwrap();
    assert_eq!(body.error.code, "malformed");

    // Nothing accepted was harmed: the first receipt is still stored and pending.
    assert_eq!(relayer.receipt(digest).await.status, "pending");
    assert_eq!(relayer.status().await.receipts["pending"], 3);
}

async fn chain_changes(db: Db) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let mut cfg = config(&chain, &store);
    cfg.batch.horizon_secs = 60;
    let relayer = Relayer::start(&cfg).await;
    let (status, _) = relayer.submit(&chain.receipt("run-a", 10)).await;
    assert_eq!(status, 201);

    // The credit line: a pending credit reduction counts against it at once, effective or
    // not. It leaves 15 samples' worth usable, of which run-a's 10 are accepted already.
    let price = U256::from(chain.price);
    let credit = chain.credit().await;
    assert_eq!(credit, chain.deposit, "nothing committed yet");
    reduce_credit(&chain, credit - U256::from(15) * price).await;
    followed_line(&relayer, &chain, |line| !line.reduction.is_zero()).await;
    let (status, body) = relayer.submit(&chain.receipt("run-b", 6)).await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(error_code(&body), "insufficient_budget", "{body}");
    assert!(
        error_detail(&body)
            .message
            .contains(&(U256::from(5) * price).to_string()),
        "{body}"
    );
    let (status, body) = relayer.submit(&chain.receipt("run-b", 5)).await;
    assert_eq!(status, 201, "exactly what is left fits: {body}");

    // Revocation: effective after the notice; once within the horizon, refused.
    mined!(chain
        .escrow()
        .revokeSigner(chain.signer.address())
        .from(chain.payer.address()));
    chain
        .provider
        .anvil_increase_time(chain.notice - 30)
        .await
        .unwrap();
    chain.provider.anvil_mine(Some(1), None).await.unwrap();
    let count = std::sync::atomic::AtomicU64::new(20);
    let body = eventually(10, || async {
        let n = count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (status, body) = relayer.submit(&chain.receipt("run-a", n)).await;
        (status == 422).then_some(body)
    })
    .await;
    assert_eq!(error_code(&body), "signer_revoked");

    let fresh = PrivateKeySigner::from_bytes(&keccak256("fresh key")).unwrap();
    mined!(chain
        .escrow()
        .registerSigner(fresh.address())
        .from(chain.payer.address()));
    // No line: the payer takes all of its credit back (nothing is reserved).
    reduce_credit(&chain, credit).await;
    chain.pass_notice().await;
    mined!(chain
        .escrow()
        .reduceCredit(chain.relayer.address(), chain.token)
        .from(chain.payer.address()));
    assert_eq!(chain.credit().await, U256::ZERO);
    followed_line(&relayer, &chain, |line| !line.is_open()).await;
    let (status, body) = relayer.submit(&chain.receipt_by(&fresh, "run-c", 1)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (422, "no_credit_line"),
        "{body}"
    );
    assert!(
        error_detail(&body).message.contains("no credit line"),
        "{body}"
    );
}

/// Waits until the relayer's view of its line for the payer meets `done`.
async fn followed_line(relayer: &Relayer, chain: &Chain, done: impl Fn(&CreditLine) -> bool) {
    eventually(10, || async {
        let line = relayer.running.app.chain.read().unwrap().line(
            chain.payer.address(),
            chain.relayer.address(),
            chain.token,
        );
        done(&line).then_some(())
    })
    .await;
}

/// The payer asks to take `amount` of the relayer's credit back (replacing an earlier request).
async fn reduce_credit(chain: &Chain, amount: U256) {
    mined!(chain
        .escrow()
        .requestCreditReduction(chain.relayer.address(), chain.token, amount.to::<u128>())
        .from(chain.payer.address()));
}

async fn restart_keeps_state(db: Db) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let cfg = config(&chain, &store);
    let relayer = Relayer::start(&cfg).await;
    let receipts: Vec<_> = (1..=20)
        .map(|i| chain.receipt(&format!("run-{i}"), 1_000))
        .collect();
    // The same receipts twice at once: each accepted by one request, stored once.
    let (first, second) = tokio::join!(relayer.bulk(&receipts), relayer.bulk(&receipts));
    assert_eq!(
        (
            first.accepted + second.accepted,
            first.duplicates + second.duplicates
        ),
        (20, 20)
    );
    relayer.stop();
    drop(relayer);

    let relayer = Relayer::start(&cfg).await;
    let again = relayer.bulk(&receipts).await;
    assert_eq!((again.accepted, again.duplicates), (0, 20));
    assert_eq!(stored_receipts(&store).await, 20);
    // The ledger came back: 20 000 samples are committed to, so the budget left is smaller.
    let left = (chain.deposit / U256::from(chain.price)).to::<u64>() - 20_000;
    let (_, body) = relayer.submit(&chain.receipt("run-big", left + 1)).await;
    assert_eq!(error_code(&body), "insufficient_budget", "{body}");
    let (status, _) = relayer.submit(&chain.receipt("run-big", left)).await;
    assert_eq!(status, 201);
    let _: Address = chain.payer.address();
}

async fn bulk_mixed(db: Db) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let mut cfg = config(&chain, &store);
    cfg.limits.max_bulk = 100;
    let relayer = Relayer::start(&cfg).await;
    let stranger = PrivateKeySigner::from_bytes(&keccak256("stranger")).unwrap();
    let good = chain.receipt("run-1", 10);
    let items = json!([
        good,
        { "payer": "0x00" },
        chain.receipt_by(&stranger, "run-2", 5),
        good,
        chain.receipt("run-1", 5),
        chain.receipt("run-3", 7),
    ]);
    let (status, body) = relayer.post("/v1/receipts/bulk", &items).await;
    assert_eq!(status, 200, "{body}");
    let body: BulkResponse = typed(body);
    let statuses: Vec<_> = body
        .results
        .iter()
        .map(|r| match r {
            Outcome::Accepted { .. } => "accepted",
            Outcome::Duplicate { .. } => "duplicate",
            Outcome::Rejected { code, .. } => code,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "accepted",
            "malformed",
            "signer_not_registered",
            "duplicate",
            "cumulative_not_increasing",
            "accepted"
        ]
    );
    assert_eq!((body.accepted, body.duplicates, body.rejected), (2, 1, 3));

    // Too many, or not an array.
    let many: Vec<_> = (0..101).map(|i| chain.receipt("run-x", i + 1)).collect();
    let (status, body) = relayer.post("/v1/receipts/bulk", &json!(many)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (413, "too_many_receipts")
    );
    let (status, body) = relayer.post("/v1/receipts/bulk", &json!({"a": 1})).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "malformed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_sqlite() {
    rules(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_postgres() {
    rules(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_changes_sqlite() {
    chain_changes(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_changes_postgres() {
    chain_changes(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_state_sqlite() {
    restart_keeps_state(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_state_postgres() {
    restart_keeps_state(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_mixed_sqlite() {
    bulk_mixed(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_mixed_postgres() {
    bulk_mixed(Db::Postgres).await;
}
