//! Crash tests: the real binary is SIGKILLed at every step of the batch lifecycle (fail points
//! make it stop dead at the step), restarted, and the chain and the store are checked: no
//! acknowledged receipt is lost, none is counted twice, no root is committed twice.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy::primitives::U256;
use serde_json::{json, Value};

use crate::support::{self, config, eventually, Chain, Db, TestDb};

struct Binary {
    child: Child,
    log: PathBuf,
    url: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(chain: &Chain, db: &TestDb, dir: &Path, port: u16) -> PathBuf {
    let cfg = config(chain, db);
    let text = format!(
        r#"listen = "127.0.0.1:{port}"
database_url = "{db}"
rpc_url = "{rpc}"
chain_id = 31337
escrow = "{escrow}"
license_nft = "{nft}"
public_url = "http://relayer.test"
confirmations = 1
poll_interval_ms = 100

[batch]
max_receipts = 4
max_value = "1000000000000000000"
max_age_secs = 1
horizon_secs = 600
"#,
        db = cfg.database_url,
        rpc = cfg.rpc_url,
        escrow = chain.escrow,
        nft = chain.nft,
    );
    let path = dir.join("relayer.toml");
    std::fs::write(&path, text).unwrap();
    path
}

impl Binary {
    fn start(config: &Path, dir: &Path, port: u16, failpoint: Option<&str>, n: usize) -> Self {
        let log = dir.join(format!("relayer-{n}.log"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fairtrain-relayer"));
        cmd.arg("--config")
            .arg(config)
            .arg("serve")
            .env("FAIRTRAIN_PRIVATE_KEY", support::KEYS[3])
            .env("RUST_LOG", "info")
            .env_remove("FAIRTRAIN_FAILPOINT")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(fp) = failpoint {
            cmd.env("FAIRTRAIN_FAILPOINT", fp);
        }
        Self {
            child: cmd.spawn().unwrap(),
            log,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL (no cleanup of any kind).
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

async fn stored(client: &reqwest::Client, url: &str) -> Value {
    support::get(client, &format!("{url}/v1/status")).await.1
}

async fn crash_at(db: Db, failpoint: &str) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(&chain, &store, dir.path(), port);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    // First life: acknowledged receipts, then death at the fail point.
    let first = Binary::start(&config, dir.path(), port, Some(failpoint), 0);
    support::wait_ready(&client, &first.url).await;
    let batch_a: Vec<_> = (0..6)
        .map(|i| chain.receipt(&format!("run-{i}"), 10 + i))
        .collect();
    let acked = match client
        .post(format!("{}/v1/receipts/bulk", first.url))
        .json(&json!(batch_a))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => {
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["accepted"], 6, "{body}");
            true
        }
        _ => false,
    };
    assert_eq!(
        acked,
        failpoint != "ingest_before_commit",
        "ack only after commit"
    );
    eventually(30, || async {
        first
            .log()
            .contains(&format!("failpoint {failpoint} reached"))
            .then_some(())
    })
    .await;
    first.kill();

    // Second life: resubmitting is idempotent, new receipts flow, everything settles.
    let second = Binary::start(&config, dir.path(), port, None, 1);
    support::wait_ready(&client, &second.url).await;
    let (_, body) = support::post(
        &client,
        &format!("{}/v1/receipts/bulk", second.url),
        &json!(batch_a),
    )
    .await;
    if acked {
        assert_eq!(
            body["duplicates"], 6,
            "acknowledged receipts survive: {body}"
        );
    } else {
        assert_eq!(
            body["accepted"], 6,
            "unacknowledged receipts were not stored: {body}"
        );
    }
    let batch_b: Vec<_> = (0..3)
        .map(|i| chain.receipt(&format!("run-{i}"), 100 + i))
        .collect();
    let (_, body) = support::post(
        &client,
        &format!("{}/v1/receipts/bulk", second.url),
        &json!(batch_b),
    )
    .await;
    assert_eq!(body["accepted"], 3, "{body}");
    eventually(60, || async {
        let s = stored(&client, &second.url).await;
        (s["receipts"]["committed"] == 9 && s["receipts"].as_object().unwrap().len() == 1)
            .then_some(())
    })
    .await;

    // The chain: each root once, reservations equal what the receipts add, exactly once.
    let roots = chain.committed_roots().await;
    let mut unique = roots.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), roots.len(), "a root was committed twice");
    let (_, batches) = support::get(&client, &format!("{}/v1/batches", second.url)).await;
    let confirmed: Vec<_> = batches["batches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["state"] == "confirmed")
        .collect();
    assert_eq!(confirmed.len(), roots.len());
    // Highest count per run: 100..=102 for runs 0..2, 13..=15 for runs 3..5.
    let samples: u64 = (100..=102).sum::<u64>() + (13..=15).sum::<u64>();
    let total = U256::from(samples * chain.price as u64);
    assert_eq!(
        chain.available().await,
        chain.deposit - total,
        "charged exactly once"
    );
    let mut reserved = U256::ZERO;
    for root in &roots {
        let r = chain
            .escrow()
            .reservation(*root, chain.payer.address(), chain.token)
            .call()
            .await
            .unwrap();
        reserved += U256::from(r.remaining);
    }
    assert_eq!(reserved, total);
    second.kill();
    if failpoint == "batch_confirmed" && matches!(db, Db::Sqlite) {
        operator_cli(&config, chain.license_id.to_string());
    }
}

/// The operator commands against the store the crashed relayer left.
fn operator_cli(config: &Path, license: String) {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_fairtrain-relayer"))
            .arg("--config")
            .arg(config)
            .args(args)
            .env_remove("FAIRTRAIN_FAILPOINT")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let status: Value = serde_json::from_str(&run(&["status"])).unwrap();
    assert_eq!(status["receipts"]["committed"], 9);
    let batches: Value = serde_json::from_str(&run(&["batches", "--limit", "50"])).unwrap();
    assert!(batches["batches"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["state"] == "confirmed"));
    let proofs: Value = serde_json::from_str(&run(&["proofs", "--license", &license])).unwrap();
    assert_eq!(proofs["claims"].as_array().unwrap().len(), 9);
    let check = run(&["config", "check"]);
    assert!(check.contains("rpc: ok (chain 31337)"), "{check}");
    let claims: Value = serde_json::from_str(&run(&["claim"])).unwrap();
    assert!(!claims["claimJobs"].as_array().unwrap().is_empty());
}

macro_rules! crash_tests {
    ($($name:ident: $db:expr, $fp:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            crash_at($db, $fp).await;
        }
    )*};
}

crash_tests! {
    sqlite_ingest_before_commit: Db::Sqlite, "ingest_before_commit";
    sqlite_batch_built: Db::Sqlite, "batch_built";
    sqlite_batch_signed: Db::Sqlite, "batch_signed";
    sqlite_batch_broadcast: Db::Sqlite, "batch_broadcast";
    sqlite_batch_sent: Db::Sqlite, "batch_sent";
    sqlite_batch_confirmed: Db::Sqlite, "batch_confirmed";
    postgres_ingest_before_commit: Db::Postgres, "ingest_before_commit";
    postgres_batch_built: Db::Postgres, "batch_built";
    postgres_batch_signed: Db::Postgres, "batch_signed";
    postgres_batch_sent: Db::Postgres, "batch_sent";
    postgres_batch_broadcast: Db::Postgres, "batch_broadcast";
    postgres_batch_confirmed: Db::Postgres, "batch_confirmed";
}
