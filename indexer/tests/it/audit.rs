//! Batch audits: a batch committed from Rust with `protocol::batch` data published over HTTP
//! (a local server the fetcher is told to allow), partly claimed; then a tampered document, an
//! over-reserving relayer and unpublished data; the CLI refuses the local server unless allowed.

use std::str::FromStr;

use alloy::{
    network::EthereumWallet,
    primitives::{keccak256, Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use fairtrain_indexer::{
    audit::{audit, audit_with, AuditReport, CLAIMS_CHECK, RESERVATIONS_CHECK},
    fetch::Fetcher,
    query, Db,
};
use fairtrain_protocol::{
    batch::{BatchData, Reservation},
    bindings::{Escrow, LicenseNFT, TrainingEscrow},
    wire::SignedReceipt,
    EscrowDomain, Receipt, ReceiptTree,
};
use fairtrain_testkit::{mined, KEYS};

use crate::{
    both_databases,
    support::{head_reaches, Backend, Chain, Connect, Publisher, TestDb, DEMO_PAYER, DEMO_RELAYER},
};

/// The audit of the committed batch under `root`, its data fetched with `fetcher`.
async fn report_of(chain: &Chain, db: &Db, fetcher: &Fetcher, root: &str) -> AuditReport {
    audit_with(db, &chain.provider, &chain.deployment, fetcher, root, None)
        .await
        .unwrap()
}

/// Keys of Demo.s.sol (anvil accounts 3, 4 and 5).
const PAYER: &str = KEYS[DEMO_PAYER];
const RELAYER: &str = KEYS[DEMO_RELAYER];
const TRAINING_KEY: &str = KEYS[5];

fn wallet(chain: &Chain, key: &str) -> DynProvider {
    let signer = PrivateKeySigner::from_str(key).unwrap();
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(chain.url.parse().unwrap())
        .erased()
}

/// A committed batch and what the test needs to claim from it.
pub(crate) struct Committed {
    pub(crate) root: String,
    receipts: Vec<SignedReceipt>,
    tree: ReceiptTree,
    pub(crate) expected: Vec<U256>,
    /// The document (published or not: see [`commit_at`]).
    pub(crate) bytes: Vec<u8>,
}

/// Commits a batch of receipts (licenses 1, 2 and 4 of the demo, a new run) with data never
/// published; reserves what they owe plus `extra`.
pub(crate) async fn commit(chain: &Chain, run: &str, extra: u64) -> Committed {
    commit_at(
        chain,
        run,
        extra,
        format!("https://unpublished.invalid/{run}.json"),
    )
    .await
}

/// [`commit`] with its document published by `publisher` (at `/b/<run>.json`).
pub(crate) async fn commit_published(
    chain: &Chain,
    publisher: &Publisher,
    run: &str,
    extra: u64,
) -> Committed {
    let path = format!("/b/{run}.json");
    let b = commit_at(chain, run, extra, publisher.url(&path)).await;
    publisher.publish(&path, &b.bytes);
    b
}

/// [`commit`], committing `uri` as the data URI (the test publishes the document there, or
/// not).
pub(crate) async fn commit_at(chain: &Chain, run: &str, extra: u64, uri: String) -> Committed {
    commit_round(chain, run, 1, extra, uri).await
}

/// [`commit_at`] for the `round`-th batch of the same run: each receipt counts `round` times its
/// first count, and the batch reserves only the increase over the previous round (as the relayer
/// does, whether or not the previous batch is claimed yet).
pub(crate) async fn commit_round(
    chain: &Chain,
    run: &str,
    round: u64,
    extra: u64,
    uri: String,
) -> Committed {
    let usage: Vec<Usage> = [1u64, 2, 4]
        .into_iter()
        .enumerate()
        .map(|(i, license)| {
            let samples = 1000 * (i as u64 + 1);
            Usage {
                license,
                run: run.to_owned(),
                cumulative: round * samples,
                new: samples,
            }
        })
        .collect();
    commit_usage(chain, &usage, extra, uri).await
}

/// One receipt of a batch the tests commit (the demo's payer, signed by its training key).
pub(crate) struct Usage {
    pub(crate) license: u64,
    pub(crate) run: String,
    /// Cumulative samples signed.
    pub(crate) cumulative: u64,
    /// Samples above what earlier batches counted: what the batch reserves for it.
    pub(crate) new: u64,
}

/// Commits a batch of `usage` at `uri`, reserving what it owes (`new` samples at the accepted
/// price each) plus `extra`.
pub(crate) async fn commit_usage(
    chain: &Chain,
    usage: &[Usage],
    extra: u64,
    uri: String,
) -> Committed {
    let d = &chain.deployment;
    let domain = EscrowDomain::new(d.chain_id, d.training_escrow);
    let payer = PrivateKeySigner::from_str(PAYER).unwrap().address();
    let key = PrivateKeySigner::from_str(TRAINING_KEY).unwrap();
    let nft = LicenseNFT::new(d.license_nft, chain.provider.clone());
    let escrow = TrainingEscrow::new(d.training_escrow, chain.provider.clone());
    let now = chain
        .provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    let (mut receipts, mut expected, mut total, mut token) =
        (Vec::new(), Vec::new(), U256::ZERO, Address::ZERO);
    let mut accepted = std::collections::HashMap::new();
    for u in usage {
        let id = U256::from(u.license);
        if let std::collections::hash_map::Entry::Vacant(e) = accepted.entry(u.license) {
            let terms = nft.currentTerms(id).call().await.unwrap().termsId;
            let acc = escrow.acceptance(payer, id, terms).call().await.unwrap();
            e.insert((terms, acc));
        }
        let (terms, acc) = &accepted[&u.license];
        token = acc.token;
        let receipt = Receipt {
            payer,
            licenseId: id,
            termsId: *terms,
            runId: keccak256(&u.run),
            cumulativeSamples: u.cumulative,
            issuedAt: now,
        };
        let owed = U256::from(u.new) * U256::from(acc.pricePerSample);
        expected.push(owed);
        total += owed;
        receipts.push(SignedReceipt::sign(&domain, &key, &receipt).unwrap());
    }
    let amount = total + U256::from(extra);
    let reservation = Reservation {
        payer,
        token,
        amount,
    };
    let (data, tree) = BatchData::build(&domain, receipts.clone(), vec![reservation]).unwrap();
    let bytes = data.to_bytes();
    let receipt = mined!(
        TrainingEscrow::new(d.training_escrow, wallet(chain, RELAYER)).commitBatch(
            tree.root(),
            receipts.len() as u32,
            keccak256(&bytes),
            uri,
            vec![Escrow::ReservationRequest {
                payer,
                token,
                amount: amount.to(),
            }],
        )
    );
    assert!(receipt.status(), "commit reverted");
    head_reaches(&chain.provider, receipt.block_number.expect("mined")).await;
    Committed {
        root: format!("{:#x}", tree.root()),
        receipts,
        tree,
        expected,
        bytes,
    }
}

/// Claims receipts `which` of a batch, in that order (150 a transaction, well below a block's
/// gas).
pub(crate) async fn claim(chain: &Chain, b: &Committed, which: &[usize]) {
    let escrow = TrainingEscrow::new(chain.deployment.training_escrow, wallet(chain, RELAYER));
    for chunk in which.chunks(150) {
        let claims = chunk
            .iter()
            .map(|&i| Escrow::Claim {
                receipt: b.receipts[i].receipt().into(),
                signature: b.receipts[i].signature.to_bytes(),
                proof: b.tree.proof(i).unwrap(),
            })
            .collect();
        let receipt = mined!(escrow.claim(b.root.parse().unwrap(), claims));
        assert!(receipt.status(), "claim reverted");
        head_reaches(&chain.provider, receipt.block_number.expect("mined")).await;
    }
}

async fn audits(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let publisher = Publisher::start().await;
    let fetcher = publisher.fetcher();
    let good = commit_published(&chain, &publisher, "audit-run", 0).await;
    claim(&chain, &good, &[0, 1]).await;
    chain.sync(&db).await;

    // A sound batch, two of three receipts claimed.
    let report = report_of(&chain, &db, &fetcher, &good.root).await;
    assert!(report.passed, "{}", report.summary());
    let statuses: Vec<&str> = report.receipts.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["claimed", "claimed", "unclaimed"]);
    let owed: U256 = good.expected.iter().copied().sum();
    assert_eq!(report.total_expected, owed.to_string());
    assert_eq!(
        report.total_claimed,
        (good.expected[0] + good.expected[1]).to_string()
    );
    assert!(report
        .receipts
        .iter()
        .all(|r| r.signer_valid && r.acceptance_valid));

    // The unclaimed receipt shows up for its license's holder, and in the creator's totals.
    let holder = query::licenses(&db, None, None, query::Page::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|l| l.license_id == "4")
        .unwrap()
        .holder;
    let unclaimed = query::unclaimed(&db, Some(&holder)).await.unwrap();
    assert_eq!(unclaimed.len(), 1, "{unclaimed:?}");
    assert_eq!(unclaimed[0].license_id, "4");
    assert_eq!(unclaimed[0].unclaimed, good.expected[2].to_string());
    let creators = query::creators(&db).await.unwrap();
    let b = creators.iter().find(|c| c.creator == holder).unwrap();
    assert_eq!(b.unclaimed, good.expected[2].to_string());
    let batches = query::batches(&db, query::Page::default()).await.unwrap();
    assert!(batches
        .items
        .iter()
        .any(|x| x.root == good.root && x.audit.status == "passed"));

    // Claiming the rest clears it (claims are counted live, not as of the audit).
    claim(&chain, &good, &[2]).await;
    chain.sync(&db).await;
    assert!(query::unclaimed(&db, Some(&holder))
        .await
        .unwrap()
        .is_empty());

    // A tampered document: the hash and the root no longer match.
    let mut doc: serde_json::Value = serde_json::from_slice(&good.bytes).unwrap();
    doc["receipts"][0]["cumulativeSamples"] = "999999".into();
    let tampered = serde_json::to_vec(&doc).unwrap();
    let report = audit(
        &db,
        &chain.provider,
        &chain.deployment,
        &good.root,
        Some(tampered),
    )
    .await
    .unwrap();
    assert!(!report.passed);
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        failed.contains(&"data hash matches the commitment"),
        "{failed:?}"
    );
    assert!(
        failed.contains(&"leaves rebuild the committed root"),
        "{failed:?}"
    );

    // A relayer that reserved more than the receipts owe: safe (the surplus returns to credit on
    // release), reported, not failed.
    let greedy = commit_published(&chain, &publisher, "greedy-run", 12_345).await;
    chain.sync(&db).await;
    let report = report_of(&chain, &db, &fetcher, &greedy.root).await;
    assert!(report.passed, "{}", report.summary());
    let res = report
        .checks
        .iter()
        .find(|c| c.name == RESERVATIONS_CHECK)
        .unwrap();
    assert!(res.detail.contains("surplus"), "{}", res.detail);
    assert!(res.detail.ends_with("+12345"), "{}", res.detail);

    // The demo's batch was never published: the audit says so and fails.
    let demo = batches
        .items
        .iter()
        .find(|x| x.data_uri.starts_with("demo://"))
        .unwrap();
    let report = audit(&db, &chain.provider, &chain.deployment, &demo.root, None)
        .await
        .unwrap();
    assert!(!report.passed);
    assert!(
        report.checks[0].detail.contains("unsupported scheme"),
        "{}",
        report.summary()
    );

    // The CLI writes the report as JSON and CSV and exits 1 on failure, 0 on success.
    let dir = tempfile::tempdir().unwrap();
    let run_with = |root: &str, allow: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fairtrain-indexer"))
            .args([
                "--db",
                &test_db.url,
                "--rpc-url",
                &chain.url,
                "--deployment",
            ])
            .arg(crate::support::root().join("deployments/31337.json"))
            .args(allow)
            .args(["audit", root, "--json"])
            .arg(dir.path().join("report.json"))
            .arg("--csv")
            .arg(dir.path().join("receipts.csv"))
            .output()
            .unwrap()
    };
    // The data is on 127.0.0.1: refused unless the operator allows that host.
    let out = run_with(&good.root, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("[FAIL] data fetched")
            && stdout.contains("127.0.0.1 is not a public address (loopback)"),
        "{stdout}"
    );
    let run = |root: &str| run_with(root, &["--allow-data-host", &publisher.host]);
    let out = run(&good.root);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PASSED"), "{stdout}");
    let csv = std::fs::read_to_string(dir.path().join("receipts.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["passed"], true);
    // Over-reserving passes (the surplus is reported).
    assert_eq!(run(&greedy.root).status.code(), Some(0));
}
/// A run that spans batches: the second batch reserves only the increase over the first, which
/// is not claimed yet when it is committed. Both audits pass, before and after the claims, and
/// each claim is matched to its own receipt.
async fn audits_across_batches(backend: Backend) {
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let publisher = Publisher::start().await;
    let fetcher = publisher.fetcher();
    let mut batches = Vec::new();
    for round in [1, 2] {
        let path = format!("/b/spans-{round}.json");
        let b = commit_round(&chain, "spans-batches", round, 0, publisher.url(&path)).await;
        publisher.publish(&path, &b.bytes);
        batches.push(b);
    }
    let [first, second] = <[Committed; 2]>::try_from(batches).ok().unwrap();
    chain.sync(&db).await;
    let audit_of = |b: &Committed| {
        let (db, chain, root, fetcher) = (db.clone(), &chain, b.root.clone(), &fetcher);
        async move { report_of(chain, &db, fetcher, &root).await }
    };
    // Asked out of order, the second audit cannot know the first batch's counts, and says so.
    let early = audit_of(&second).await;
    assert!(!early.passed);
    let failed: Vec<_> = early.checks.iter().filter(|c| !c.passed).collect();
    assert_eq!(failed.len(), 1, "{}", early.summary());
    assert!(
        failed[0]
            .detail
            .contains("2 earlier batch(es) of the line not audited"),
        "{}",
        failed[0].detail
    );
    let report = audit_of(&first).await;
    assert!(report.passed, "{}", report.summary());
    let report = audit_of(&second).await;
    assert!(report.passed, "{}", report.summary());
    let counted: Vec<u64> = report.receipts.iter().map(|r| r.settled_before).collect();
    assert_eq!(counted, [1000, 2000, 3000], "counts of the first batch");
    let owed: U256 = second.expected.iter().copied().sum();
    assert_eq!(report.total_expected, owed.to_string());

    // Claimed in order: each batch pays its own increase; nothing is over-claimed.
    claim(&chain, &first, &[0, 1, 2]).await;
    claim(&chain, &second, &[0, 1, 2]).await;
    chain.sync(&db).await;
    for b in [&first, &second] {
        let report = audit_of(b).await;
        assert!(report.passed, "{}", report.summary());
        assert_eq!(report.total_claimed, report.total_expected);
        assert!(report.receipts.iter().all(|r| r.status == "claimed"));
    }
    assert!(query::unclaimed(&db, None).await.unwrap().is_empty());
}

/// More claims than a page of the API (1,000): the audit judges every one. Batch 1 has 1,001
/// receipts of fresh runs, all claimed, and one of run `u`, left unclaimed. Batch 2 has 1,001
/// receipts of other fresh runs, `u` counted one sample further, and one of run `w`: it reserves
/// one sample for each (the relayer's line is locked by batch 1). Its 1,001 fresh receipts are
/// claimed first, then `u`, which draws both of its samples from the relayer's line (batch 1's
/// `u` was never claimed): its 1,002nd claim pays more than the receipt adds (one sample) but no
/// more than it can owe (two), so it is counted as claimed, and `w` goes unclaimed. A receipt
/// paid beyond what it can owe is judged "over claimed" (the unit tests of `audit`).
async fn audits_count_every_claim(backend: Backend) {
    const FRESH: usize = 1_001;
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let publisher = Publisher::start().await;
    let fetcher = publisher.fetcher();
    let fresh = |prefix: &str| {
        (0..FRESH)
            .map(|i| Usage {
                license: 1,
                run: format!("{prefix}-{i}"),
                cumulative: 1,
                new: 1,
            })
            .collect::<Vec<_>>()
    };
    let mut usage = fresh("first");
    usage.push(Usage {
        license: 1,
        run: "u".into(),
        cumulative: 1,
        new: 1,
    });
    let first = commit_usage(&chain, &usage, 0, publisher.url("/b/first.json")).await;
    publisher.publish("/b/first.json", &first.bytes);
    let mut usage = fresh("second");
    usage.push(Usage {
        license: 1,
        run: "u".into(),
        cumulative: 2,
        new: 1,
    });
    usage.push(Usage {
        license: 1,
        run: "w".into(),
        cumulative: 1,
        new: 1,
    });
    let second = commit_usage(&chain, &usage, 0, publisher.url("/b/second.json")).await;
    publisher.publish("/b/second.json", &second.bytes);
    let price = first.expected[0];
    chain.sync(&db).await;
    let audit_of = |b: &Committed| {
        let (db, chain, root, fetcher) = (db.clone(), &chain, b.root.clone(), &fetcher);
        async move { report_of(chain, &db, fetcher, &root).await }
    };
    for b in [&first, &second] {
        let report = audit_of(b).await;
        assert!(report.passed, "{}", report.summary());
    }

    let all_fresh: Vec<usize> = (0..FRESH).collect();
    claim(&chain, &first, &all_fresh).await;
    claim(&chain, &second, &all_fresh).await;
    claim(&chain, &second, &[FRESH]).await;
    chain.sync(&db).await;
    let claims = query::batch_claims(&db, &second.root).await.unwrap();
    assert_eq!(claims.len(), FRESH + 1);
    assert_eq!(claims[FRESH].cumulative_samples, 2, "u is the last claim");

    // The claims-only re-check (automatic audits) and a full audit agree, for both batches.
    let mut reports = Vec::new();
    for b in [&first, &second] {
        let rechecked = fairtrain_indexer::audit::recheck_claims(&db, &b.root)
            .await
            .unwrap()
            .expect("a current report to re-check");
        let full = audit_of(b).await;
        assert_eq!(rechecked, full);
        reports.push(full);
    }
    let count = |r: &fairtrain_indexer::audit::AuditReport, status: &str| {
        r.receipts.iter().filter(|x| x.status == status).count()
    };

    // Batch 1: every claim counted; it passes.
    let r = &reports[0];
    assert!(r.passed, "{}", r.summary());
    assert_eq!((count(r, "claimed"), count(r, "unclaimed")), (FRESH, 1));
    assert_eq!(r.receipts[FRESH].status, "unclaimed", "u");
    assert_eq!(r.total_claimed, (price * U256::from(FRESH)).to_string());

    // Batch 2: the claim of `u` on the second page draws on the line for both of its samples.
    let r = &reports[1];
    assert!(r.passed, "{}", r.summary());
    let claims_check = r.checks.iter().find(|c| c.name == CLAIMS_CHECK).unwrap();
    assert_eq!(
        claims_check.detail,
        format!(
            "{} claim(s); 0 over a receipt's amount; 0 of no receipt",
            FRESH + 1
        )
    );
    assert_eq!(count(r, "claimed"), FRESH + 1);
    assert_eq!(
        (
            r.receipts[FRESH].status.as_str(),
            r.receipts[FRESH].claimed.clone(),
            r.receipts[FRESH].expected.clone(),
            r.receipts[FRESH].max_claim.clone()
        ),
        (
            "claimed",
            (price * U256::from(2)).to_string(),
            price.to_string(),
            (price * U256::from(2)).to_string()
        ),
        "u"
    );
    assert_eq!(r.receipts[FRESH + 1].status, "unclaimed", "w");
    assert_eq!(r.total_claimed, (price * U256::from(FRESH + 2)).to_string());
}

/// The pricing rule's lock condition (docs/protocol.md §5): a batch may be priced over the
/// counts of the same relayer's earlier batches only while its line stays locked (reserved
/// until after the commit) and only over batches committed since the line's last release.
/// One run `a` of license 1 (1 fUSD-milli a sample, no cap), never claimed:
/// - B1 (a: 1000, b: 1000) and B2 (a: 2000, reserving 1000 samples) while the demo batch locks
///   the line: both pass;
/// - every batch expired, the line not released yet: B3 (a: 3000, reserving 1000) fails, the
///   line being releasable at the commit;
/// - the line released: B4 (a: 4000, reserving 1000) fails, its earlier counts coming from
///   before the release;
/// - B5 (a: 5000 and b: 2000, reserving each in full over the settled counts) while B4 locks the
///   line: passes, with a surplus of exactly B4's 4000 samples of `a` (b's earlier count is
///   from before the release and lowers nothing).
async fn audits_lock_condition(backend: Backend) {
    const WEEK: u64 = 7 * 24 * 3600;
    let chain = Chain::with_demo().await;
    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let publisher = Publisher::start().await;
    let fetcher = publisher.fetcher();
    let (payer, relayer) = (chain.wallet(DEMO_PAYER).0, chain.wallet(DEMO_RELAYER).0);
    let usage = |run: &str, cumulative: u64, new: u64| Usage {
        license: 1,
        run: run.into(),
        cumulative,
        new,
    };
    let (c, p, f) = (&chain, &publisher, &fetcher);
    let mut n = 0;
    // Commits a batch of `usage` (published), indexes it and audits it.
    let mut audited = move |usage: Vec<Usage>| {
        n += 1;
        let path = format!("/b/lock-{n}.json");
        let (chain, db, publisher, fetcher) = (c, db.clone(), p, f);
        async move {
            let b = commit_usage(chain, &usage, 0, publisher.url(&path)).await;
            publisher.publish(&path, &b.bytes);
            chain.sync(&db).await;
            let report = report_of(chain, &db, fetcher, &b.root).await;
            (b, report)
        }
    };
    let reservations = |r: &fairtrain_indexer::audit::AuditReport| {
        let check = r
            .checks
            .iter()
            .find(|c| c.name == RESERVATIONS_CHECK)
            .unwrap();
        let failed: Vec<_> = r.checks.iter().filter(|c| !c.passed).collect();
        (check.clone(), failed.len(), r.reservations[0].clone())
    };

    // Locked by the demo batch: B2 reserves only the increase over B1, and passes.
    let (b1, r1) = audited(vec![usage("a", 1000, 1000), usage("b", 1000, 1000)]).await;
    assert!(r1.passed, "{}", r1.summary());
    let price = b1.expected[0] / U256::from(1000);
    assert_eq!(price, U256::from(1000), "license 1: 1000 units a sample");
    let (_, r2) = audited(vec![usage("a", 2000, 1000)]).await;
    assert!(r2.passed, "{}", r2.summary());
    let (check, _, res) = reservations(&r2);
    assert!(res.line_locked, "{res:?}");
    assert_eq!(r2.receipts[0].settled_before, 1000, "B1's count");
    assert_eq!(check.detail, "1 reservation(s)", "exact: no surplus");

    // Every batch expired, the line not released: a release may come before the commit mines,
    // so B1 and B2's counts no longer count, and B3 is under-reserved.
    chain.advance(WEEK + 1).await;
    let (_, r3) = audited(vec![usage("a", 3000, 1000)]).await;
    assert!(!r3.passed, "{}", r3.summary());
    let (check, failed, res) = reservations(&r3);
    assert_eq!(failed, 1, "only the reservations fail: {}", r3.summary());
    assert!(!check.passed && !res.line_locked, "{res:?}");
    assert_eq!(res.expected, (price * U256::from(3000)).to_string());
    assert!(
        check.detail.contains(&format!(
            "reserved {} < required {} (short by {}): the relayer's line was releasable at the \
             commit (reservedUntil ",
            price * U256::from(1000),
            price * U256::from(3000),
            price * U256::from(2000)
        )),
        "{}",
        check.detail
    );
    assert!(
        check
            .detail
            .contains("not from the counts of the relayer's earlier batches"),
        "{}",
        check.detail
    );

    // Released: the earlier counts come from before the release, and B4 is under-reserved.
    chain.advance(WEEK + 1).await;
    chain.release(payer, relayer, chain.token()).await;
    let (_, r4) = audited(vec![usage("a", 4000, 1000)]).await;
    assert!(!r4.passed, "{}", r4.summary());
    let (check, failed, res) = reservations(&r4);
    assert_eq!(failed, 1, "only the reservations fail: {}", r4.summary());
    assert!(!res.line_locked, "{res:?}");
    assert!(
        check.detail.contains(&format!(
            "reserved {} < required {} (short by {}): the relayer's line was released in block ",
            price * U256::from(1000),
            price * U256::from(4000),
            price * U256::from(3000)
        )),
        "{}",
        check.detail
    );
    assert!(
        check
            .detail
            .contains("its earlier batches' reserves had gone back to credit"),
        "{}",
        check.detail
    );

    // B4 locks the line again: B5, reserving every sample over the settled counts, passes with
    // B4's 4000 samples of `a` as surplus; `b`'s count in B1 predates the release.
    let (b5, r5) = audited(vec![usage("a", 5000, 5000), usage("b", 2000, 2000)]).await;
    assert!(r5.passed, "{}", r5.summary());
    let (check, _, res) = reservations(&r5);
    assert!(res.line_locked, "{res:?}");
    let on_chain: U256 = b5.expected.iter().copied().sum();
    assert_eq!(res.on_chain, on_chain.to_string());
    assert_eq!(res.expected, (price * U256::from(1000 + 2000)).to_string());
    assert!(
        check.detail.ends_with(&format!(
            "surplus (returns to credit on release): {payer:#x} {:#x} +{}",
            chain.token(),
            price * U256::from(4000)
        )),
        "{}",
        check.detail
    );
    let before: Vec<u64> = r5.receipts.iter().map(|r| r.settled_before).collect();
    assert_eq!(
        before,
        [4000, 0],
        "B4's count of a; none of b since the release"
    );
}
both_databases!(audit_lock_condition, super::audits_lock_condition);

both_databases!(
    audits_count_every_claim_past_a_page,
    super::audits_count_every_claim
);
both_databases!(audits_span_batches, super::audits_across_batches);
both_databases!(audit_checks_published_batches, super::audits);
