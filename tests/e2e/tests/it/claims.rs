//! `fairtrain creator claim` against the real relayer: the meter's receipts are committed by
//! `fairtrain-relayer`, and the creator claims them with the proofs its API serves (not the
//! relayer's sponsored claim), to the unit, across pages of the relayer's proofs (its page
//! limit lowered to two), which leave out what the relayer's sponsored claim already settled;
//! claiming again from the batch data the relayer publishes (`/v1/data/<hash>`, proofs rebuilt
//! locally) finds everything settled. On SQLite and on PostgreSQL.

use alloy::primitives::U256;
use fairtrain_protocol::api::relayer::LicenseProofs;
use serde_json::Value;

use crate::{
    lifecycle::{all_committed, confirmed_reservations, meter, set_up},
    support::*,
};

/// Price of the lifecycle's license: 0.001 fUSD per sample.
const PRICE: u64 = 1_000;
/// The relayer's proofs page size in this test.
const PAGE: usize = 2;

#[tokio::test(flavor = "multi_thread")]
async fn creator_claims_with_the_relayers_proofs_then_its_batch_data() {
    creator_claims(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn creator_claims_with_the_relayers_proofs_then_its_batch_data_on_postgres() {
    creator_claims(Db::Postgres).await;
}

/// Every page of the relayer's proofs of license 1, as receipt digests.
async fn proofs_of_license_1(relayer: &Relayer) -> Vec<String> {
    let mut out = Vec::new();
    let mut path = "/v1/licenses/1/proofs".to_owned();
    loop {
        let page: LicenseProofs = serde_json::from_value(relayer.get(&path).await).unwrap();
        let claims = page.page.claims;
        assert!(claims.len() <= PAGE, "{}", claims.len());
        out.extend(claims.iter().map(|c| format!("{:#x}", c.digest)));
        match page.page.next {
            Some(next) => path = format!("/v1/licenses/1/proofs?after={next}"),
            None => return out,
        }
    }
}

async fn creator_claims(db: Db) {
    let devnet = Devnet::start().await;
    let store = TestDb::new(db);
    let (license, terms, _, _) = set_up(&devnet).await;
    let relayer = Relayer::start_configured(
        &devnet,
        &store,
        1,
        &format!("[limits]\nmax_proofs_page = {PAGE}"),
        None,
    )
    .await;
    let meter = meter(&devnet, &relayer, "usage.db").await;
    let usage = |run: &str| run_usage(license, terms, run);

    // A first batch, claimed by the relayer (sponsored): settled, so no longer served.
    for run in ["run-a", "run-b", "run-c"] {
        meter.record(usage(run), 100).await.unwrap();
    }
    assert_eq!(meter.flush().await.unwrap().accepted, 3);
    all_committed(&relayer, 3).await;
    relayer.claim_all().await;
    eventually(60, || async { relayer.all_claimed(1).await.then_some(()) })
        .await
        .unwrap_or_else(|| panic!("sponsored claims; relayer log:\n{}", relayer.log()));
    let first = confirmed_reservations(&relayer).await;

    // Six more receipts, more than two pages' worth: five new runs, and run-a going on (its
    // next receipt covers only the 50 samples after the 100 already paid).
    for run in ["run-d", "run-e", "run-f", "run-g", "run-h"] {
        meter.record(usage(run), 300).await.unwrap();
    }
    meter.record(usage("run-a"), 50).await.unwrap();
    assert_eq!(meter.flush().await.unwrap().accepted, 6);
    all_committed(&relayer, 9).await;
    let reservations: Vec<_> = confirmed_reservations(&relayer)
        .await
        .into_iter()
        .filter(|r| !first.contains(r))
        .collect();
    let charged = U256::from((5 * 300 + 50) * PRICE);
    assert_eq!(
        reservations.iter().map(|r| r.2).sum::<U256>(),
        charged,
        "the new batches reserved exactly the new usage"
    );
    assert_eq!(
        devnet.reserved(addr(PAYER)).await,
        charged,
        "held in the relayer's line"
    );
    let unsettled = eventually(30, || async {
        let served = proofs_of_license_1(&relayer).await;
        (served.len() == 6).then_some(served)
    })
    .await
    .expect("the relayer serves the six unsettled receipts, not the three it claimed");
    let mut unique = unsettled.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6, "each receipt on one page only");

    // A dry run sends nothing; the claim pays the creator exactly what was reserved, less fees,
    // gathering every page of proofs.
    let creator = addr(CREATOR);
    let before = devnet.balance(creator).await;
    let fees_before = devnet.fees().await;
    let dry: Value = serde_json::from_str(&devnet.cli(
        CREATOR,
        &[
            "--json",
            "creator",
            "claim",
            "--relayer-url",
            &relayer.url,
            "--dry-run",
        ],
    ))
    .unwrap();
    assert_eq!(dry["claims"][0]["receipts"], 6, "{dry}");
    assert_eq!(dry["skipped"], serde_json::json!([]), "{dry}");
    assert_eq!(devnet.balance(creator).await, before);
    let claimed: Value = serde_json::from_str(&devnet.cli(
        CREATOR,
        &["--json", "creator", "claim", "--relayer-url", &relayer.url],
    ))
    .unwrap();
    let received = devnet.balance(creator).await - before;
    let fees = devnet.fees().await - fees_before;
    assert_eq!(received + fees, charged, "{claimed}");
    assert_eq!(claimed["paidToPayee"]["fUSD"], received.to_string());
    let sent: u64 = claimed["claims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["receipts"].as_u64().unwrap())
        .sum();
    assert_eq!(sent, 6, "{claimed}");
    assert_eq!(
        devnet.reserved(addr(PAYER)).await,
        U256::ZERO,
        "the line's reserved funds are drawn exactly"
    );
    // Nothing is served any more once the relayer has seen the claims.
    eventually(30, || async {
        proofs_of_license_1(&relayer).await.is_empty().then_some(())
    })
    .await
    .expect("settled receipts leave the proofs");

    // The relayer's published batch data alone: proofs rebuilt, everything already settled.
    let batch = relayer
        .batches()
        .await
        .into_iter()
        .rfind(|b| b.state == "confirmed")
        .unwrap();
    let data_url = format!("{}/v1/data/{}", relayer.url, batch.data_hash);
    let again: Value = serde_json::from_str(&devnet.cli(
        CREATOR,
        &["--json", "creator", "claim", "--batch-data", &data_url],
    ))
    .unwrap();
    assert_eq!(again["claims"].as_array().unwrap().len(), 0, "{again}");
    let skipped = again["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 6, "{again}");
    assert!(skipped
        .iter()
        .all(|s| s["reason"].as_str().unwrap().contains("already settled")));
}
