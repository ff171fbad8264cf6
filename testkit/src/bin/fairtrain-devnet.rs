//! `fairtrain-devnet`: the test kit's devnet as a process, for test suites written in other
//! languages (the Python package's). It starts anvil with the suite deployed, sets up the kit's
//! scenario (a licensed dataset and a payer ready to pay for it, see
//! `fairtrain_testkit::scenario`), the real `fairtrain-relayer` on SQLite and the real
//! `fairtrain-gateway` (nothing published yet), then prints one JSON line describing all of it
//! on standard output.
//!
//! Addresses are checksummed (EIP-55), keys and hashes `0x`-hex, amounts in token units.
//!
//! It then reads commands, one per line, answering each with one JSON line:
//! `relayer stop` (SIGKILL), `relayer start` (start again and wait until ready). It stops
//! everything at the end of its input (the test suite closing the pipe, or dying).

use std::io::{BufRead, Write};

use fairtrain_testkit::{
    address, bin, free_port,
    gateway::GatewayProcess,
    key,
    relayer::{KeySource, RelayerConfig, RelayerProcess, OPERATOR_TOKEN},
    scenario::{licensed_payer, CREATOR, PAYER, PRICE, RELAYER, TRAINING},
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
    let db = TestDb::new(Backend::Sqlite);
    let port = free_port();
    let config = devnet.dir.path().join("relayer.toml");
    RelayerConfig::new(port, &db).write(&devnet, &config);
    let mut relayer = RelayerProcess::start(
        bin("fairtrain-relayer"),
        config.clone(),
        port,
        KeySource::Anvil(RELAYER),
        config.with_extension("log"),
        None,
    );
    relayer.wait_ready(60).await;
    let gateway = GatewayProcess::start(&devnet).await;

    let d = &devnet.deployment;
    let described = json!({
        "rpc_url": devnet.url,
        "relayer_url": relayer.url,
        "relayer_log": config.with_extension("log"),
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
