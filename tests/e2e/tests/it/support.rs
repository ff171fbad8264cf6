//! The system under test, assembled from real parts: anvil with the suite deployed once by
//! `contracts/script/Deploy.s.sol` (state dumped, loaded into a fresh anvil per test), a store
//! (a SQLite file or a fresh PostgreSQL database over the Unix socket, dropped after), the
//! `fairtrain-relayer` binary serving on a free port, and the `fairtrain` / `fairtrain-meter`
//! binaries run as a creator, a payer or a training job would run them.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        OnceLock,
    },
    time::{Duration, Instant},
};

use alloy::{
    network::EthereumWallet,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use fairtrain_protocol::{
    api::relayer::{Batch, BatchList, ClaimResponse, Claimable, LicenseProofs},
    bindings::{Escrow, IERC20Permit, TrainingEscrow},
};
use serde_json::Value;

/// anvil's well-known development keys (never use them on a real chain).
pub(crate) const KEYS: [&str; 6] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
];
/// Deploys and owns the suite.
pub(crate) const OWNER: usize = 0;
/// Creates a dataset and mints its license.
pub(crate) const CREATOR: usize = 1;
/// Funds a training budget.
pub(crate) const PAYER: usize = 2;
/// Operates the relayer.
pub(crate) const RELAYER: usize = 4;
/// The payer's training key (signs receipts).
pub(crate) const TRAINING: usize = 5;
/// The escrow's notice period on the test deployment, in seconds (as tests/deploy/check.sh).
pub(crate) const NOTICE: u64 = 3600;
/// The escrow's claim window on the test deployment (Deploy.s.sol's default), in seconds.
pub(crate) const CLAIM_WINDOW: u64 = 7 * 86_400;
/// The relayer's operator token in these tests.
pub(crate) const OPERATOR_TOKEN: &str = "e2e-operator-token";

alloy::sol! {
    #[sol(rpc)]
    interface IMint {
        function mint(address to, uint256 amount) external;
    }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tool(name: &str) -> PathBuf {
    root().join("node_modules/.bin").join(name)
}

/// A binary of the workspace, next to this test executable (target/<profile>/).
pub(crate) fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        path.display()
    );
    path
}

pub(crate) fn key(i: usize) -> PrivateKeySigner {
    KEYS[i].parse().unwrap()
}

pub(crate) fn addr(i: usize) -> Address {
    key(i).address()
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed on drop.
pub(crate) struct Proc(pub(crate) Child);

impl Proc {
    /// SIGKILL and reap.
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM (a clean stop) and reap.
    pub(crate) fn terminate(&mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// anvil on `port`; with `state`, it writes its state there when stopped (SIGTERM) and starts
/// from it when the file exists.
/// Starts anvil on `port`, dumping its state to (and loading it from, if it exists) `state`.
/// With `mining` false it mines nothing until told to (`evm_mine`, `evm_setAutomine`).
fn spawn_anvil(port: u16, state: Option<&Path>, mining: bool) -> Proc {
    let mut cmd = Command::new(tool("anvil"));
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--chain-id", "31337"]);
    if !mining {
        cmd.arg("--no-mining");
    }
    if let Some(state) = state {
        cmd.arg("--dump-state").arg(state);
        if state.exists() {
            cmd.arg("--load-state").arg(state);
        }
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("anvil starts (node_modules/.bin/anvil; run ./scripts/setup)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "anvil did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Proc(child)
}

/// The deployed state (as `anvil_dumpState` returns it) and the deployment file's text.
fn deployed() -> &'static (String, String) {
    static STATE: OnceLock<(String, String)> = OnceLock::new();
    STATE.get_or_init(|| {
        let port = free_port();
        let _anvil = spawn_anvil(port, None, true);
        let url = format!("http://127.0.0.1:{port}");
        let path = format!(
            "{}:{}",
            root().join("node_modules/.bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        // NOTICE_PERIOD as in tests/deploy/check.sh, so deployments/31337.json is rewritten
        // byte for byte as committed.
        let out = Command::new(tool("forge"))
            // --slow: one transaction at a time. Sent concurrently, a later nonce can reach anvil
            // (automine) first and stay queued forever, and the script then waits for it.
            .args([
                "script",
                "contracts/script/Deploy.s.sol",
                "--broadcast",
                "--slow",
            ])
            .args(["--rpc-url", &url])
            .current_dir(root())
            .env("PATH", path)
            .env("NOTICE_PERIOD", NOTICE.to_string())
            .env("DEPLOYER_PRIVATE_KEY", KEYS[OWNER])
            .output()
            .expect("forge runs");
        assert!(
            out.status.success(),
            "deploy failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let deployment = std::fs::read_to_string(root().join("deployments/31337.json")).unwrap();
        let dump = Command::new(tool("cast"))
            .args(["rpc", "anvil_dumpState", "--rpc-url", &url])
            .output()
            .expect("cast runs");
        assert!(dump.status.success());
        let state: String = serde_json::from_slice(&dump.stdout).unwrap();
        (state, deployment)
    })
}

/// A fresh anvil with the suite deployed, its deployment file, and a wallet of every test key.
pub(crate) struct Devnet {
    anvil: Proc,
    port: u16,
    pub(crate) url: String,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) provider: DynProvider,
    pub(crate) escrow: Address,
    pub(crate) nft: Address,
    pub(crate) token: Address,
    pub(crate) start_block: u64,
}

impl Devnet {
    pub(crate) async fn start() -> Self {
        let (state, deployment) = deployed();
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let anvil = spawn_anvil(port, Some(&dir.path().join("anvil-state.json")), true);
        let url = format!("http://127.0.0.1:{port}");
        let mut wallet = EthereumWallet::from(key(0));
        for i in 1..KEYS.len() {
            wallet.register_signer(key(i));
        }
        let provider = ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(url.parse().unwrap())
            .erased();
        let loaded: bool = provider
            .raw_request("anvil_loadState".into(), (state,))
            .await
            .unwrap();
        assert!(loaded);
        std::fs::write(dir.path().join("31337.json"), deployment).unwrap();
        let json: Value = serde_json::from_str(deployment).unwrap();
        let address = |k: &str| json[k].as_str().unwrap().parse::<Address>().unwrap();
        Self {
            anvil,
            port,
            url,
            provider,
            escrow: address("trainingEscrow"),
            nft: address("licenseNFT"),
            token: json["paymentTokens"][0].as_str().unwrap().parse().unwrap(),
            start_block: json["startBlock"].as_u64().unwrap_or(0),
            dir,
        }
    }

    pub(crate) fn deployment(&self) -> PathBuf {
        self.dir.path().join("31337.json")
    }

    /// Mints test fUSD (6 decimals) to `to`.
    pub(crate) async fn fund(&self, to: Address, whole: u64) {
        IMint::new(self.token, self.provider.clone())
            .mint(to, U256::from(whole) * U256::from(1_000_000))
            .from(addr(OWNER))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }

    /// Mines `blocks` empty blocks at once (`anvil_mine`).
    pub(crate) async fn mine(&self, blocks: u64) {
        let _: Value = self
            .provider
            .raw_request("anvil_mine".into(), (blocks,))
            .await
            .unwrap();
    }

    /// Moves the chain's clock forward and mines a block.
    pub(crate) async fn advance(&self, secs: u64) {
        let _: Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (secs,))
            .await
            .unwrap();
        let _: Value = self
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .unwrap();
    }

    /// Stops anvil (SIGTERM: it writes its state, blocks included, to a file), runs `during`,
    /// and starts it again on the same port from that file, so it never serves an empty chain.
    /// The state does not keep the clock offset that `evm_increaseTime` added, so the clock is
    /// set back to the last block's time (a real chain's clock never goes back; without this,
    /// acceptances made chargeable by moving the clock would stop being so).
    pub(crate) async fn restart_anvil<F: std::future::Future<Output = ()>>(&mut self, during: F) {
        let last = self
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp;
        self.anvil.terminate();
        let state = self.dir.path().join("anvil-state.json");
        assert!(state.exists(), "anvil wrote its state");
        during.await;
        // Nothing may be mined before the clock is back where the chain was: a transaction the
        // relayer sends at once would land in a block dated by the wall clock, before the
        // chain's (warped) time.
        self.anvil = spawn_anvil(self.port, Some(&state), false);
        let _: Value = self
            .provider
            .raw_request("evm_setTime".into(), (last + 1,))
            .await
            .unwrap();
        let _: Value = self
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .unwrap();
        let _: Value = self
            .provider
            .raw_request("evm_setAutomine".into(), (true,))
            .await
            .unwrap();
    }

    /// Runs the real `fairtrain` binary against this devnet, with `account`'s key; panics with
    /// its output unless it succeeds.
    pub(crate) fn cli(&self, account: usize, args: &[&str]) -> String {
        let out = self.cli_output(account, args);
        assert!(
            out.status.success(),
            "fairtrain {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub(crate) fn cli_output(&self, account: usize, args: &[&str]) -> Output {
        Command::new(bin("fairtrain"))
            .args(args)
            .env("FAIRTRAIN_RPC_URL", &self.url)
            .env("FAIRTRAIN_DEPLOYMENT", self.deployment())
            .env("FAIRTRAIN_PRIVATE_KEY", KEYS[account])
            .env_remove("FAIRTRAIN_KEYSTORE")
            .output()
            .unwrap()
    }

    /// Runs `fairtrain-meter` against this devnet.
    pub(crate) fn meter(&self, args: &[&str]) -> Output {
        Command::new(bin("fairtrain-meter"))
            .args(args)
            .env("FAIRTRAIN_DEPLOYMENT", self.deployment())
            .env("FAIRTRAIN_RPC_URL", &self.url)
            .output()
            .unwrap()
    }

    pub(crate) fn escrow(&self) -> TrainingEscrow::TrainingEscrowInstance<DynProvider> {
        TrainingEscrow::new(self.escrow, self.provider.clone())
    }

    pub(crate) async fn balance(&self, of: Address) -> U256 {
        IERC20Permit::new(self.token, self.provider.clone())
            .balanceOf(of)
            .call()
            .await
            .unwrap()
    }

    pub(crate) async fn available(&self, payer: Address) -> U256 {
        self.escrow()
            .availableBalance(payer, self.token)
            .call()
            .await
            .unwrap()
    }

    /// Platform fees: accrued, plus those of claims paid from the payer's credit line for the
    /// relayer account and not yet swept (the only line of these tests).
    pub(crate) async fn fees(&self) -> U256 {
        self.escrow().accruedFees(self.token).call().await.unwrap()
            + U256::from(self.line(addr(PAYER)).await.fees)
    }

    /// The credit line `payer` funded for the relayer account.
    pub(crate) async fn line(&self, payer: Address) -> Escrow::CreditLine {
        self.escrow()
            .creditLine(payer, addr(RELAYER), self.token)
            .call()
            .await
            .unwrap()
    }

    /// What the relayer's batches reserved in `payer`'s line and claims have not drawn.
    pub(crate) async fn reserved(&self, payer: Address) -> U256 {
        U256::from(self.line(payer).await.reserved)
    }

    /// What of `payer`'s deposits is neither withdrawn nor spent: its available balance and
    /// its line's credit and reserved funds.
    pub(crate) async fn unspent(&self, payer: Address) -> U256 {
        let line = self.line(payer).await;
        self.available(payer).await + U256::from(line.credit) + U256::from(line.reserved)
    }

    /// Roots committed on the chain (`BatchCommitted` logs), in order.
    pub(crate) async fn committed_roots(&self) -> Vec<B256> {
        let filter = alloy::rpc::types::Filter::new()
            .address(self.escrow)
            .event_signature(
                <TrainingEscrow::BatchCommitted as alloy::sol_types::SolEvent>::SIGNATURE_HASH,
            )
            .from_block(0);
        self.provider
            .get_logs(&filter)
            .await
            .unwrap()
            .iter()
            .map(|log| log.topics()[1])
            .collect()
    }
}

/// Which store the relayer uses.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Db {
    Sqlite,
    Postgres,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([
            "host=/var/run/postgresql user=postgres dbname=postgres",
            "-q",
            "-c",
            sql,
        ])
        .stdout(Stdio::null())
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh store: a SQLite file in a temp dir, or a new PostgreSQL database dropped on drop.
pub(crate) struct TestDb {
    pub(crate) url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub(crate) fn new(db: Db) -> Self {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("relayer.db").display()
                );
                Self {
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Db::Postgres => {
                let name = format!(
                    "e2e_test_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed)
                );
                psql(&format!("CREATE DATABASE {name}"));
                Self {
                    url: format!("postgres://postgres@localhost/{name}?host=/var/run/postgresql"),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// The `fairtrain-relayer` binary serving on a free port; SIGKILLed on drop.
pub(crate) struct Relayer {
    proc: Option<Proc>,
    config: PathBuf,
    log: PathBuf,
    /// Length of the log when the process was last started.
    log_start: usize,
    pub(crate) url: String,
    pub(crate) client: reqwest::Client,
}

impl Relayer {
    /// Writes a configuration for `devnet` and `db` (batches cut after 1 s) and starts serving.
    pub(crate) async fn start(devnet: &Devnet, db: &TestDb) -> Self {
        Self::start_with_confirmations(devnet, db, 1).await
    }

    /// As [`Self::start`], counting a commit or a claim only `confirmations` blocks deep (the
    /// chain follower stays `confirmations - 1` blocks behind the head).
    pub(crate) async fn start_with_confirmations(
        devnet: &Devnet,
        db: &TestDb,
        confirmations: u64,
    ) -> Self {
        Self::start_configured(devnet, db, confirmations, "", None).await
    }

    /// As [`Self::start_with_confirmations`], with `extra` TOML appended to the configuration
    /// (e.g. a `[limits]` table) and the fail point `failpoint` armed, if any (see
    /// [`Self::restart_with_failpoint`]).
    pub(crate) async fn start_configured(
        devnet: &Devnet,
        db: &TestDb,
        confirmations: u64,
        extra: &str,
        failpoint: Option<&str>,
    ) -> Self {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let config = devnet.dir.path().join(format!(
            "relayer-{}.toml",
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(
            &config,
            format!(
                r#"listen = "127.0.0.1:{port}"
database_url = "{db}"
rpc_url = "{rpc}"
chain_id = 31337
escrow = "{escrow}"
license_nft = "{nft}"
start_block = {start}
public_url = "{url}"
confirmations = {confirmations}
poll_interval_ms = 100

[batch]
max_receipts = 1000
max_value = "1000000000000"
max_age_secs = 1
horizon_secs = 600
{extra}
"#,
                db = db.url,
                rpc = devnet.url,
                escrow = devnet.escrow,
                nft = devnet.nft,
                start = devnet.start_block,
            ),
        )
        .unwrap();
        let mut relayer = Self {
            proc: None,
            log: config.with_extension("log"),
            log_start: 0,
            config,
            url,
            client: reqwest::Client::new(),
        };
        relayer.restart_with_failpoint(failpoint).await;
        relayer
    }

    /// Starts the process (again) and waits until it follows the chain.
    pub(crate) async fn restart(&mut self) {
        self.restart_with_failpoint(None).await;
    }

    /// Starts the process (again) with the fail point `failpoint` armed, if any: the process
    /// stops dead when it reaches that step (see relayer/src/failpoint.rs), for the test to
    /// [`Self::kill_at`] it there. Waits until it follows the chain.
    pub(crate) async fn restart_with_failpoint(&mut self, failpoint: Option<&str>) {
        self.log_start = self.log().len();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(bin("fairtrain-relayer"))
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env("FAIRTRAIN_PRIVATE_KEY", KEYS[RELAYER])
            .env("FAIRTRAIN_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env_remove("FAIRTRAIN_DATABASE_URL")
            .env_remove("FAIRTRAIN_RPC_URL")
            .env_remove("FAIRTRAIN_FAILPOINT")
            .envs(failpoint.map(|f| ("FAIRTRAIN_FAILPOINT", f)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.proc = Some(Proc(child));
        let client = self.client.clone();
        let url = format!("{}/ready", self.url);
        let log = self.log.clone();
        eventually(60, || {
            let client = client.clone();
            let url = url.clone();
            async move {
                client
                    .get(&url)
                    .send()
                    .await
                    .ok()?
                    .status()
                    .is_success()
                    .then_some(())
            }
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "relayer not ready; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
    }

    /// Its log (stderr of every start), for failure messages.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the process has stopped at the fail point it was started with
    /// ([`Self::restart_with_failpoint`]), then SIGKILLs it there.
    pub(crate) async fn kill_at(&mut self, failpoint: &str) {
        let reached = format!("failpoint {failpoint} reached");
        eventually(60, || async {
            self.log()[self.log_start..]
                .contains(&reached)
                .then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("{reached} never logged:\n{}", self.log()));
        self.kill();
    }

    /// SIGKILL.
    pub(crate) fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Queues sponsored claims for every confirmed batch. A `503` (the store busy, e.g. SQLite
    /// locked by the batcher) is retried, as an operator's client would.
    pub(crate) async fn claim_all(&self) -> ClaimResponse {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let resp = self
                .client
                .post(format!("{}/v1/claims", self.url))
                .bearer_auth(OPERATOR_TOKEN)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            if resp.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE
                || Instant::now() > deadline
            {
                return resp.json().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every batch the relayer made, oldest first.
    pub(crate) async fn batches(&self) -> Vec<Batch> {
        let list: BatchList =
            serde_json::from_value(self.get("/v1/batches?limit=1000").await).unwrap();
        let mut b = list.batches;
        b.reverse();
        b
    }

    /// Every receipt of the relayer's confirmed batches, oldest batch first and in leaf order,
    /// as `GET /v1/receipts/{digest}` shows it (status, batch, root, amount, claim transaction):
    /// the relayer's records, claimed or not. (Its proofs endpoints serve only what is not
    /// settled.) The digests come from each batch's published data.
    pub(crate) async fn committed_receipts(&self) -> Vec<Claimable> {
        let mut out = Vec::new();
        for batch in self.batches().await {
            if batch.state != "confirmed" {
                continue;
            }
            let hash = batch.data_hash;
            let bytes = self
                .client
                .get(format!("{}/v1/data/{hash}", self.url))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let data = fairtrain_protocol::batch::BatchData::parse(&bytes).unwrap();
            let domain = fairtrain_protocol::EscrowDomain::new(data.chain_id, data.escrow);
            for receipt in &data.receipts {
                let digest = domain.digest(&receipt.receipt());
                let receipt = self.get(&format!("/v1/receipts/{digest:#x}")).await;
                out.push(serde_json::from_value(receipt).unwrap());
            }
        }
        out
    }

    /// Whether every receipt of the relayer's confirmed batches has its claim transaction
    /// recorded (mined and buried, not just queued), and the proofs of `license` list nothing
    /// left to claim.
    pub(crate) async fn all_claimed(&self, license: u64) -> bool {
        let receipts = self.committed_receipts().await;
        let proofs: LicenseProofs =
            serde_json::from_value(self.get(&format!("/v1/licenses/{license}/proofs")).await)
                .unwrap();
        !receipts.is_empty() && receipts.iter().all(claimed) && proofs.page.claims.is_empty()
    }

    /// Runs the operator CLI on this relayer's store and configuration.
    pub(crate) fn operator(&self, args: &[&str]) -> Output {
        Command::new(bin("fairtrain-relayer"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("FAIRTRAIN_PRIVATE_KEY", KEYS[RELAYER])
            .env_remove("FAIRTRAIN_DATABASE_URL")
            .output()
            .unwrap()
    }
}

/// Polls `f` every 100 ms for up to `secs` seconds until it returns `Some`.
pub(crate) async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A token amount in a relayer JSON document (decimal string or number).
/// Whether the relayer's claim of a receipt is mined (a queued claim shows `claim:<job>`, a
/// mined one its transaction hash).
pub(crate) fn claimed(c: &Claimable) -> bool {
    c.claim_tx.as_deref().is_some_and(|t| t.starts_with("0x"))
}

pub(crate) fn units(v: &Value) -> U256 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        Value::Number(n) => U256::from(n.as_u64().unwrap()),
        other => panic!("not an amount: {other}"),
    }
}

/// Writes a small dataset folder.
pub(crate) fn dataset(dir: &Path, flavour: &str) {
    for (path, content) in [
        ("images/001.jpg", format!("jpeg one {flavour}")),
        ("images/002.jpg", format!("jpeg two {flavour}")),
        (
            "labels.csv",
            "file,label\n001.jpg,cat\n002.jpg,dog\n".to_owned(),
        ),
    ] {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
}
