//! `fairtrain-devnet`: the test kit's devnet as a process, for test suites written in other
//! languages (the Python package's). It starts anvil with the suite deployed, sets up the kit's
//! scenario (a licensed dataset and a payer ready to pay for it, and a second dataset priced per
//! access that the payer accepted, its notice period over; see `fairtrain_testkit::scenario`),
//! the real `fairtrain-relayer` on SQLite and the real `fairtrain-gateway` forwarding per-access
//! receipts to it (nothing published yet), then prints one JSON line describing all of it on
//! standard output.
//!
//! Addresses are checksummed (EIP-55), keys and hashes `0x`-hex, amounts in token units.
//!
//! It then reads commands, one per line, answering each with one JSON line:
//! `relayer stop` (SIGKILL), `relayer start` (start again and wait until ready). It stops
//! everything at the end of its input (the test suite closing the pipe, or dying).

use std::io::{BufRead, Write};

use fairtrain_testkit::{
    address, bin,
    devnet::NOTICE,
    gateway::GatewayProcess,
    key,
    relayer::{RelayerProcess, OPERATOR_TOKEN},
    scenario::{access_priced, licensed_payer, ACCESS_PRICE, CREATOR, PAYER, PRICE, TRAINING},
    Backend, Devnet, TestDb,
};
use serde_json::json;

/// anvil's well-known key of account `i`, `0x`-hex (test keys only).
fn secret(i: usize) -> String {
    format!("0x{}", alloy::hex::encode(key(i).to_bytes()))
}

#[tokio::main]
async fn main() {
    let devnet = Devnet::start().await;
    let licensed = licensed_payer(&devnet).await;
    let per_access = access_priced(&devnet).await;
    devnet.advance(NOTICE + 1).await;
    let db = TestDb::new(Backend::Sqlite);
    let mut relayer = RelayerProcess::start_ready(&devnet, &db).await;
    let gateway = GatewayProcess::start_with(&devnet, None, Some(&relayer.url)).await;

    let d = &devnet.deployment;
    let described = json!({
        "rpc_url": devnet.url,
        "relayer_url": relayer.url,
        "relayer_log": relayer.config.with_extension("log"),
        "gateway_url": gateway.url,
        "gateway_blobs": gateway.blobs,
        "operator_token": OPERATOR_TOKEN,
        "deployment": devnet.deployment_file(),
        "chain_id": d.chain_id,
        "escrow": d.training_escrow.to_checksum(None),
        "license_nft": d.license_nft.to_checksum(None),
        "token": devnet.token().to_checksum(None),
        "fee_bps": d.fee_bps,
        "creator": address(CREATOR).to_checksum(None),
        "payer": address(PAYER).to_checksum(None),
        "training_key": secret(TRAINING),
        "payer_key": secret(PAYER),
        "creator_key": secret(CREATOR),
        "cli": bin("fairtrain"),
        "training_address": address(TRAINING).to_checksum(None),
        "license_id": licensed.license.to::<u64>(),
        "terms_id": licensed.terms,
        "price": PRICE,
        "manifest": licensed.manifest,
        "data": licensed.data,
        "access_license_id": per_access.license.to::<u64>(),
        "access_price": ACCESS_PRICE,
        "access_manifest": per_access.manifest,
        "access_data": per_access.data,
    });
    println!("{described}");
    std::io::stdout().flush().expect("standard output");

    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let answer = match line.trim() {
            "relayer stop" => {
                relayer.kill();
                json!({"ok": true})
            }
            "relayer start" => {
                relayer.spawn(None);
                relayer.wait_ready(60).await;
                json!({"ok": true})
            }
            "" => continue,
            other => json!({"ok": false, "error": format!("unknown command {other:?}")}),
        };
        println!("{answer}");
        std::io::stdout().flush().expect("standard output");
    }
    relayer.kill();
}
