//! The proofs endpoints page through a license's claimable receipts with a cursor, past any
//! page size, and leave out what is settled: receipts claimed by a confirmed claim of the
//! relayer, and receipts whose usage key's settled count on-chain is at or above their count.
//! First on the store alone (synthetic rows, every case), then end to end over HTTP against
//! anvil with a page limit lowered to two.

use std::collections::{BTreeSet, HashMap};

use alloy::primitives::{Address, B256, U256};
use fairtrain_protocol::{
    api::relayer::{LicenseProofs, ProofsPage},
    bindings::Escrow,
    wire::SignedReceipt,
};
use fairtrain_relayer::{
    proofs::{self, Cursor},
    store::{NewReceipt, Store},
};
use fairtrain_testkit::mined;
use serde_json::json;

use crate::support::{config, error_code, eventually, Chain, Db, Relayer, TestDb};

/// A synthetic committed receipt of `license` at `(batch, leaf)`: its usage key and count.
struct Row {
    digest: String,
    license: u64,
    batch: i64,
    leaf: i64,
    key: B256,
    cumulative: u64,
}

async fn insert(store: &Store, rows: &[Row], status: &str, claim_tx: &[(usize, &str)]) {
    let new: Vec<NewReceipt> = rows
        .iter()
        .map(|r| NewReceipt {
            digest: r.digest.parse().unwrap(),
            usage_key: r.key,
            payer: Address::repeat_byte(1),
            license_id: U256::from(r.license),
            terms_id: 1,
            run_id: B256::ZERO,
            cumulative: r.cumulative,
            issued_at: 1,
            signature: Default::default(),
            signer: Address::repeat_byte(1),
            token: Address::repeat_byte(2),
            amount: U256::from(1),
            chargeable_from: 0,
            received_at: 0,
            seq: r.batch * 1_000 + r.leaf,
        })
        .collect();
    store.insert_receipts(&new).await.unwrap();
    for (i, r) in rows.iter().enumerate() {
        let tx = claim_tx.iter().find(|(j, _)| *j == i).map(|(_, t)| *t);
        sqlx::query(
            "UPDATE receipts SET status = $1, batch_id = $2, leaf_index = $3, claim_tx = $4 \
             WHERE digest = $5",
        )
        .bind(status.to_owned())
        .bind(r.batch)
        .bind(r.leaf)
        .bind(tx.map(str::to_owned))
        .bind(r.digest.clone())
        .execute(store.pool())
        .await
        .unwrap();
    }
}

fn rows(licenses: &[u64], batches: std::ops::RangeInclusive<i64>, leaves: i64) -> Vec<Row> {
    let mut out = Vec::new();
    for &license in licenses {
        for batch in batches.clone() {
            for leaf in 0..leaves {
                let n = (license as i64) * 1_000_000 + batch * 1_000 + leaf;
                out.push(Row {
                    digest: format!("{:#066x}", n),
                    license,
                    batch,
                    leaf,
                    // One usage key per (license, leaf); later batches carry higher counts.
                    key: B256::left_padding_from(&((license << 16) + leaf as u64).to_be_bytes()),
                    cumulative: 10 * batch as u64,
                });
            }
        }
    }
    out
}

/// Every page of `licenses` at `limit` per page, as digests in order, with the page count.
async fn all_pages(
    store: &Store,
    licenses: &[U256],
    limit: usize,
    settled: &HashMap<B256, u64>,
) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = proofs::page(store, licenses, after, limit, |k| {
            settled.get(&k).copied().unwrap_or(0)
        })
        .await
        .unwrap();
        pages += 1;
        assert!(page.rows.len() <= limit);
        out.extend(page.rows.into_iter().map(|r| format!("{:#x}", r.digest)));
        match page.next {
            Some(next) => {
                assert_ne!(Some(next), after, "the cursor moves");
                after = Some(next);
            }
            None => return (out, pages),
        }
        assert!(pages < 10_000, "paging ends");
    }
}

async fn store_pages(db: Db) {
    let test_db = TestDb::new(db);
    let store = Store::connect(&test_db.url).await.unwrap();
    // Licenses 2, 10 and 1 (numeric order, not text order: 1, 2, 10), three confirmed batches
    // of seven leaves each, and a fourth batch not yet confirmed.
    let licenses = [2u64, 10, 1];
    let committed = rows(&licenses, 1..=3, 7);
    // Claimed by a confirmed claim of the relayer: every third row; in flight: license 1's
    // batch 1 leaf 4.
    let in_flight = committed
        .iter()
        .position(|r| (r.license, r.batch, r.leaf) == (1, 1, 4))
        .unwrap();
    let claimed: Vec<(usize, &str)> = (0..committed.len())
        .filter(|i| i % 3 == 0 && *i != in_flight)
        .map(|i| (i, "0x00aa"))
        .chain([(in_flight, "claim:7")])
        .collect();
    insert(&store, &committed, "committed", &claimed).await;
    insert(&store, &rows(&licenses, 4..=4, 7), "batched", &[]).await;
    // Settled on-chain: leaf 1's key of every license up to batch 2 (= 20 samples), leaf 2's
    // key beyond every count; license 2 entirely (a long run of settled receipts).
    let mut settled = HashMap::new();
    for r in &committed {
        match (r.license, r.leaf) {
            (2, _) => settled.insert(r.key, u64::MAX),
            (_, 1) => settled.insert(r.key, 20),
            (_, 2) => settled.insert(r.key, 1_000),
            _ => None,
        };
    }
    let expected: Vec<String> = {
        let mut e: Vec<&Row> = committed
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                !claimed.iter().any(|(j, t)| j == i && t.starts_with("0x"))
                    && settled.get(&r.key).copied().unwrap_or(0) < r.cumulative
            })
            .map(|(_, r)| r)
            .collect();
        e.sort_by_key(|r| (r.license, r.batch, r.leaf));
        e.into_iter().map(|r| r.digest.clone()).collect()
    };
    assert!(expected.len() > 10, "enough to page: {}", expected.len());
    assert!(
        expected.contains(&committed[in_flight].digest),
        "a claim in flight is not settled"
    );
    let all: Vec<U256> = licenses.iter().map(|l| U256::from(*l)).collect();

    // Past the page size, at every page size: each unsettled receipt once, in order.
    for limit in [1, 2, 3, 5, 1_000] {
        let (got, pages) = all_pages(&store, &all, limit, &settled).await;
        assert_eq!(got, expected, "limit {limit}");
        if limit < expected.len() {
            assert!(pages > 1, "limit {limit}: several pages");
        } else {
            assert_eq!(pages, 1, "everything in one page");
        }
    }
    // One license alone.
    let (got, _) = all_pages(&store, &[U256::from(10)], 2, &settled).await;
    let of_10: Vec<String> = expected
        .iter()
        .filter(|d| committed.iter().any(|r| &&r.digest == d && r.license == 10))
        .cloned()
        .collect();
    assert_eq!(got, of_10);
    // Only settled receipts (license 2): pages end, with nothing in them.
    let (got, pages) = all_pages(&store, &[U256::from(2)], 1, &settled).await;
    assert!(got.is_empty());
    assert!(
        pages > 1,
        "a long settled run is looked at in bounded steps"
    );

    // A batch confirmed between two pages: its receipts come after the cursor, once.
    let first = proofs::page(&store, &[U256::from(1)], None, 2, |k| {
        settled.get(&k).copied().unwrap_or(0)
    })
    .await
    .unwrap();
    let late = rows(&[1], 5..=5, 2);
    insert(&store, &late, "committed", &[]).await;
    let (rest, _) = {
        let mut out: Vec<String> = first
            .rows
            .iter()
            .map(|r| format!("{:#x}", r.digest))
            .collect();
        let mut after = first.next;
        while let Some(cursor) = after {
            let page = proofs::page(&store, &[U256::from(1)], Some(cursor), 2, |k| {
                settled.get(&k).copied().unwrap_or(0)
            })
            .await
            .unwrap();
            out.extend(page.rows.iter().map(|r| format!("{:#x}", r.digest)));
            after = page.next;
        }
        (out, ())
    };
    let mut want: Vec<String> = expected
        .iter()
        .filter(|d| committed.iter().any(|r| &&r.digest == d && r.license == 1))
        .cloned()
        .collect();
    want.extend(late.iter().map(|r| r.digest.clone()));
    assert_eq!(rest, want);
    let unique: BTreeSet<&String> = rest.iter().collect();
    assert_eq!(unique.len(), rest.len(), "no receipt twice");

    // A cursor is the position of the last receipt looked at.
    let cursor: Cursor = "10-2-3".parse().unwrap();
    let page = proofs::page(&store, &all, Some(cursor), 1_000, |k| {
        settled.get(&k).copied().unwrap_or(0)
    })
    .await
    .unwrap();
    assert!(
        page.rows
            .iter()
            .all(|r| r.license_id == U256::from(10)
                && (r.batch_id, r.leaf_index) > (Some(2), Some(3)))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_pages_unsettled_receipts_once_sqlite() {
    store_pages(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_pages_unsettled_receipts_once_postgres() {
    store_pages(Db::Postgres).await;
}

/// Every page of `path` (following `next`), as digests; checks each page's size.
async fn pages(relayer: &Relayer, path: &str, limit: usize) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut pages = 0;
    let mut after: Option<String> = None;
    loop {
        let url = match &after {
            Some(a) => format!("{path}?after={a}"),
            None => path.to_owned(),
        };
        let page: ProofsPage = relayer.get_as(&url).await;
        pages += 1;
        assert!(page.claims.len() <= limit, "{page:?}");
        out.extend(page.claims.iter().map(|c| format!("{:#x}", c.digest)));
        match page.next {
            Some(next) => after = Some(next),
            None => return (out, pages),
        }
    }
}

async fn http_pages(db: Db) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let mut cfg = config(&chain, &store);
    cfg.batch.max_receipts = 5;
    cfg.limits.max_proofs_page = 2;
    let relayer = Relayer::start(&cfg).await;
    let receipts: Vec<SignedReceipt> = (1..=10u64)
        .map(|i| chain.receipt(&format!("run-{i}"), 100 + i))
        .collect();
    let digest = |r: &SignedReceipt| format!("{:#x}", chain.domain().digest(&r.receipt()));
    for (i, half) in receipts.chunks(5).enumerate() {
        relayer.accept_all(half).await;
        relayer.confirmed_batch(i as u64 + 1).await;
    }
    let license = format!("/v1/licenses/{}/proofs", chain.license_id);
    let payee = format!("/v1/payees/{}/proofs", chain.creator.address());
    let (all, n) = pages(&relayer, &license, 2).await;
    assert_eq!(all, receipts.iter().map(digest).collect::<Vec<_>>());
    assert!(n >= 5, "ten receipts in pages of two");

    // The payee settles two receipts of batch 1 itself, with the relayer's proofs; the relayer
    // claims batch 2 for the payee.
    let first: LicenseProofs = relayer.get_as(&format!("{license}?limit=2")).await;
    let claims: Vec<Escrow::Claim> = first
        .page
        .claims
        .iter()
        .map(|c| Escrow::Claim {
            receipt: c.receipt.receipt().into(),
            signature: c.receipt.signature.to_bytes(),
            proof: c.proof.clone(),
        })
        .collect();
    let root: B256 = first.page.claims[0].root.unwrap();
    mined!(chain
        .escrow()
        .claim(root, claims)
        .from(chain.creator.address()));
    relayer.claim_jobs(&json!({ "batchId": 2 })).await;
    for r in &receipts[..2] {
        assert_eq!(
            chain
                .settled(&format!("run-{}", r.cumulative_samples - 100))
                .await,
            r.cumulative_samples
        );
    }

    // Once the relayer has seen both, only batch 1's three other receipts are claimable, each
    // once, by license and by payee, still in pages of at most two.
    let unsettled: Vec<String> = receipts[2..5].iter().map(digest).collect();
    eventually(60, || async {
        (pages(&relayer, &license, 2).await.0 == unsettled).then_some(())
    })
    .await;
    let (by_payee, n) = pages(&relayer, &payee, 2).await;
    assert_eq!(by_payee, unsettled);
    assert!(n >= 2);
    // A limit over the relayer's page size is refused (the document bounds it); so is a bad
    // cursor.
    let (status, body) = relayer.get(&format!("{license}?limit=3")).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "out_of_range"));
    let (status, body) = relayer.get(&format!("{license}?after=nope")).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "malformed"));
    let one: LicenseProofs = relayer.get_as(&format!("{license}?limit=1")).await;
    assert_eq!(one.page.claims.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_pages_and_leaves_out_settled_sqlite() {
    http_pages(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_pages_and_leaves_out_settled_postgres() {
    http_pages(Db::Postgres).await;
}
