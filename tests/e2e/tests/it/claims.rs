//! `fairtrain creator claim` against the real relayer: the meter's receipts are committed by
//! `fairtrain-relayer`, and the creator claims them with the proofs its API serves (not the
//! relayer's sponsored claim), to the unit; claiming again from the batch data the relayer
//! publishes (`/v1/data/<hash>`, proofs rebuilt locally) finds everything settled.

use alloy::primitives::{keccak256, U256};
use fairtrain_sdk::Usage;
use serde_json::Value;

use crate::{
    lifecycle::{all_committed, confirmed_reservations, meter, set_up},
    support::*,
};

/// Price of the lifecycle's license: 0.001 fUSD per sample.
const PRICE: u64 = 1_000;

#[tokio::test(flavor = "multi_thread")]
async fn creator_claims_with_the_relayers_proofs_then_its_batch_data() {
    let devnet = Devnet::start().await;
    let store = TestDb::new(Db::Sqlite);
    let (license, terms, _, _) = set_up(&devnet).await;
    let relayer = Relayer::start(&devnet, &store).await;
    let meter = meter(&devnet, &relayer, "usage.db").await;
    for run in ["run-a", "run-b"] {
        meter
            .record(
                Usage {
                    license_id: license,
                    terms_id: terms,
                    run_id: keccak256(run),
                },
                300,
            )
            .await
            .unwrap();
    }
    assert_eq!(meter.flush().await.unwrap().accepted, 2);
    all_committed(&relayer, 2).await;
    let reservations = confirmed_reservations(&relayer).await;
    let charged = U256::from(600 * PRICE);

    // A dry run sends nothing; the claim pays the creator exactly what was reserved, less fees.
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
    assert_eq!(dry["claims"][0]["receipts"], 2, "{dry}");
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
    for (root, payer, _) in &reservations {
        assert_eq!(devnet.reserved(*root, *payer).await, U256::ZERO);
    }

    // The relayer's published batch data alone: proofs rebuilt, everything already settled.
    let batch = relayer
        .batches()
        .await
        .into_iter()
        .find(|b| b["state"] == "confirmed")
        .unwrap();
    let data_url = format!(
        "{}/v1/data/{}",
        relayer.url,
        batch["data_hash"].as_str().unwrap()
    );
    let again: Value = serde_json::from_str(&devnet.cli(
        CREATOR,
        &["--json", "creator", "claim", "--batch-data", &data_url],
    ))
    .unwrap();
    assert_eq!(again["claims"].as_array().unwrap().len(), 0, "{again}");
    let skipped = again["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{again}");
    assert!(skipped
        .iter()
        .all(|s| s["reason"].as_str().unwrap().contains("already settled")));
}
