//! Streams and pools through the real `fairtrain` binary, on the lifecycle's chain and accounts:
//! the creator enables streams to its license, the payer streams to it and the creator is paid
//! per second; then the creator puts the license into a fixed-split pool shared with a co-author,
//! the payer streams to it again, and the pool's income is distributed and claimed. Every amount is checked to the
//! unit against block times and wallet balances.

use alloy::{primitives::U256, providers::Provider};
use serde_json::Value;

use crate::support::*;

/// One fUSD in base units.
const FUSD: u64 = 1_000_000;
/// The co-author: the pool's second member.
const COAUTHOR: usize = 3;

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn field(v: &Value, key: &str) -> u64 {
    v["details"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no details.{key} in {v}"))
        .parse()
        .unwrap()
}

/// The time of the block holding the report's last transaction.
async fn mined_at(devnet: &Devnet, report: &Value) -> u64 {
    let block = report["txs"].as_array().unwrap().last().unwrap()["block"]
        .as_u64()
        .unwrap();
    devnet
        .provider
        .get_block_by_number(block.into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
}

/// Opens a stream of 1 fUSD per second from the payer to `license` with a 100 fUSD deposit;
/// returns its id and creation time.
async fn open_stream(devnet: &Devnet, license: U256) -> (String, u64) {
    let created = json(&devnet.cli(
        PAYER,
        &[
            "--json",
            "stream",
            "create",
            &license.to_string(),
            "--rate",
            "1",
            "--per",
            "second",
            "--deposit",
            "100",
        ],
    ));
    let id = created["details"]["streamId"].as_str().unwrap().to_owned();
    (id, mined_at(devnet, &created).await)
}

/// Streams to the creator's `license` and withdraws, then pools the license with a co-author,
/// streams to it again, distributes and claims: each step exact to the unit.
pub(crate) async fn streams_and_pools(devnet: &Devnet, license: U256) {
    let (creator, payer, coauthor) = (addr(CREATOR), addr(PAYER), addr(COAUTHOR));
    devnet.fund(payer, 200).await;
    let payer_start = devnet.balance(payer).await;

    // The holder lets payers stream to its license; a stream pays it 1 fUSD per second;
    // cancelling refunds the rest.
    let refused = devnet.cli_output(
        PAYER,
        &["stream", "create", &license.to_string(), "--rate", "1"],
    );
    assert!(
        !refused.status.success(),
        "no stream before the holder enables them"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("stream enable"));
    devnet.cli(CREATOR, &["stream", "enable", &license.to_string()]);
    let creator_start = devnet.balance(creator).await;
    let (stream, opened) = open_stream(devnet, license).await;
    devnet.advance(30).await;
    let withdrawn = json(&devnet.cli(COAUTHOR, &["--json", "stream", "withdraw", &stream]));
    let paid = (mined_at(devnet, &withdrawn).await - opened) * FUSD;
    assert_eq!(
        field(&withdrawn, "amount"),
        paid,
        "1 fUSD per elapsed second"
    );
    assert_eq!(
        devnet.balance(creator).await - creator_start,
        U256::from(paid)
    );
    let status = json(&devnet.cli(PAYER, &["--json", "stream", "status", &stream]));
    assert_eq!(status["state"], "streaming");
    // Some accrual after the withdrawal (blocks of the same second would leave none to book).
    devnet.advance(5).await;
    let cancelled = json(&devnet.cli(PAYER, &["--json", "stream", "cancel", &stream]));
    let accrued = (mined_at(devnet, &cancelled).await - opened) * FUSD - paid;
    assert!(accrued >= 5 * FUSD);
    assert_eq!(field(&cancelled, "creditedToHolders"), accrued);
    assert_eq!(field(&cancelled, "refunded"), 100 * FUSD - paid - accrued);
    devnet.cli(
        COAUTHOR,
        &["stream", "withdraw-owed", "--account", &creator.to_string()],
    );
    assert_eq!(
        devnet.balance(creator).await - creator_start,
        U256::from(paid + accrued)
    );
    assert_eq!(
        payer_start - devnet.balance(payer).await,
        U256::from(paid + accrued),
        "the payer spent exactly what the holder received"
    );

    // A fixed split, 3:1, holds the license and receives its stream.
    let created = json(&devnet.cli(
        CREATOR,
        &[
            "--json",
            "pool",
            "create",
            "--name",
            "Photos split",
            "--symbol",
            "SPLIT",
            "--member",
            &format!("{creator}=3"),
            "--member",
            &format!("{coauthor}=1"),
            "--fixed",
        ],
    ));
    let pool = created["details"]["pool"].as_str().unwrap().to_owned();
    devnet.cli(
        CREATOR,
        &["pool", "add-license", &pool, &license.to_string()],
    );
    let (stream, opened) = open_stream(devnet, license).await;
    devnet.advance(40).await;
    let withdrawn = json(&devnet.cli(PAYER, &["--json", "stream", "withdraw", &stream]));
    let income = (mined_at(devnet, &withdrawn).await - opened) * FUSD;
    assert_eq!(withdrawn["details"]["holder"].as_str(), Some(pool.as_str()));
    assert_eq!(field(&withdrawn, "amount"), income);

    // The creator's claim distributes first; the co-author's claim takes its quarter.
    let creator_before = devnet.balance(creator).await;
    let coauthor_before = devnet.balance(coauthor).await;
    let first = json(&devnet.cli(CREATOR, &["--json", "pool", "claim", &pool, "--distribute"]));
    assert_eq!(field(&first, "distributed"), income);
    assert_eq!(field(&first, "amount"), income * 3 / 4);
    let second = json(&devnet.cli(COAUTHOR, &["--json", "pool", "claim", &pool]));
    assert_eq!(field(&second, "amount"), income / 4);
    assert_eq!(
        devnet.balance(creator).await - creator_before,
        U256::from(income * 3 / 4)
    );
    assert_eq!(
        devnet.balance(coauthor).await - coauthor_before,
        U256::from(income / 4)
    );
    let status = json(&devnet.cli(CREATOR, &["--json", "pool", "status", &pool]));
    assert_eq!(status["transferable"], false);
    assert_eq!(status["tokens"][0]["received"], income.to_string());
    assert_eq!(status["tokens"][0]["paidOut"], income.to_string());

    // Refusals say why: nothing left to claim; only the payer restarts a stream (decoded).
    let again = devnet.cli_output(COAUTHOR, &["pool", "claim", &pool]);
    assert!(!again.status.success(), "nothing left to claim");
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to claim"));
    let foreign = devnet.cli_output(CREATOR, &["stream", "restart", &stream]);
    let stderr = String::from_utf8_lossy(&foreign.stderr);
    assert!(
        stderr.contains("RoyaltyStreams_NotAllowedToRestart") && stderr.contains("hint: "),
        "{stderr}"
    );
}
