//! Test support: a real anvil with the suite deployed from the forge artifacts, a funded payer
//! with an accepted license, a registered signing key and an authorized relayer; stores on
//! SQLite (temp file) or PostgreSQL (a fresh database over the Unix socket, dropped after);
//! and the relayer either in-process or as the real binary.

#![allow(dead_code, unreachable_pub)]

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    node_bindings::{Anvil, AnvilInstance},
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::{ext::AnvilApi, DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolValue,
};
use fairtrain_protocol::{
    bindings::{Escrow, IERC20Permit, License, LicenseNFT, TrainingEscrow},
    wire::SignedReceipt,
    EscrowDomain, Receipt,
};
use fairtrain_relayer::config::{BatchConfig, Config, Limits, TxConfig};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// anvil's well-known dev keys (never use on a real chain).
pub const KEYS: [&str; 5] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f81a8f0b6ed8d36a4df95e1d3e1e72a95bd26b5cb7c",
];

pub fn key(i: usize) -> PrivateKeySigner {
    KEYS[i].parse().unwrap()
}

/// The deployed suite and its actors.
pub struct Chain {
    pub anvil: Option<AnvilInstance>,
    /// Where anvil writes its state when it stops (declared after `anvil`, so the directory
    /// outlives the process).
    state_dir: tempfile::TempDir,
    pub rpc: String,
    pub provider: DynProvider,
    pub escrow: Address,
    pub nft: Address,
    pub token: Address,
    pub owner: PrivateKeySigner,
    pub payer: PrivateKeySigner,
    pub creator: PrivateKeySigner,
    pub relayer: PrivateKeySigner,
    pub signer: PrivateKeySigner,
    pub license_id: U256,
    pub terms_id: u64,
    pub price: u128,
    pub deposit: U256,
    pub notice: u64,
}

fn artifact(path: &str) -> Bytes {
    let file = root().join("out").join(path);
    if !file.exists() {
        let status = std::process::Command::new(root().join("node_modules/.bin/forge"))
            .arg("build")
            .current_dir(root())
            .status()
            .expect("forge build");
        assert!(status.success(), "forge build failed");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    json["bytecode"]["object"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn deploy(provider: &DynProvider, from: Address, code: Bytes, args: Vec<u8>) -> Address {
    let mut input = code.to_vec();
    input.extend(args);
    let tx = TransactionRequest::default()
        .with_from(from)
        .with_deploy_code(input);
    provider
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .contract_address
        .unwrap()
}

pub fn anvil_path() -> PathBuf {
    root().join("node_modules/.bin/anvil")
}

impl Chain {
    /// Starts anvil and sets up one payer with a license accepted and chargeable.
    pub async fn start() -> Self {
        Self::start_with(Anvil::new()).await
    }

    pub async fn start_with(anvil: Anvil) -> Self {
        let state_dir = tempfile::tempdir().unwrap();
        let anvil = anvil
            .path(anvil_path())
            .chain_id(31337)
            .arg("--dump-state")
            .arg(state_dir.path().join("state.json"))
            .spawn();
        let mut wallet = EthereumWallet::from(key(0));
        for i in 1..5 {
            wallet.register_signer(key(i));
        }
        let provider = ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(anvil.endpoint_url())
            .erased();
        let (owner, payer, creator, relayer) = (key(0), key(1), key(2), key(3));
        let signer = PrivateKeySigner::from_bytes(&keccak256("training key")).unwrap();
        let notice = 3_600u64;

        let nft = deploy(
            &provider,
            owner.address(),
            artifact("LicenseNFT.sol/LicenseNFT.json"),
            vec![],
        )
        .await;
        let escrow = deploy(
            &provider,
            owner.address(),
            artifact("TrainingEscrow.sol/TrainingEscrow.json"),
            (nft, owner.address(), 250u16, notice, 7 * 86_400u64).abi_encode_params(),
        )
        .await;
        let token = deploy(
            &provider,
            owner.address(),
            artifact("MockERC20.sol/MockERC20.json"),
            ("Test USD".to_string(), "tUSD".to_string(), U256::from(6u8)).abi_encode_params(),
        )
        .await;
        let esc = TrainingEscrow::new(escrow, provider.clone());
        let nftc = LicenseNFT::new(nft, provider.clone());
        let erc = IERC20Permit::new(token, provider.clone());
        esc.setTokenAllowed(token, true)
            .from(owner.address())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();

        let price = 1_000u128;
        let request = License::MintRequest {
            terms: License::Terms {
                kind: 0,
                paymentToken: token,
                pricePerSample: alloy::primitives::Uint::from(price),
                maxSamples: 0,
                expiresAt: alloy::primitives::Uint::ZERO,
                commercialUse: false,
                attributionRequired: false,
                derivatives: 0,
                exclusiveLicensee: Address::ZERO,
                uri: String::new(),
            },
            manifestHash: keccak256("dataset"),
            royaltyBps: alloy::primitives::Uint::from(500u16),
        };
        nftc.mint(request)
            .from(creator.address())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let license_id = U256::from(1);
        let current = nftc.currentTerms(license_id).call().await.unwrap();
        let terms_id = current.termsId;

        let deposit = U256::from(1_000_000_000u64);
        // MockERC20.mint(address,uint256)
        let mint_call = [
            &keccak256("mint(address,uint256)")[..4],
            &(payer.address(), deposit).abi_encode_params(),
        ]
        .concat();
        provider
            .send_transaction(
                TransactionRequest::default()
                    .with_from(owner.address())
                    .with_to(token)
                    .with_input(mint_call),
            )
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        erc.approve(escrow, U256::MAX)
            .from(payer.address())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        esc.deposit(token, deposit)
            .from(payer.address())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        esc.acceptTerms(license_id, terms_id)
            .from(payer.address())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        esc.registerSigner(signer.address())
            .from(payer.address())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        // The payer authorizes the relayer by funding its credit line with the whole deposit.
        esc.fundCredit(relayer.address(), token, deposit.to::<u128>())
            .from(payer.address())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        provider.anvil_increase_time(notice + 1).await.unwrap();
        provider.anvil_mine(Some(1), None).await.unwrap();

        Self {
            rpc: anvil.endpoint(),
            anvil: Some(anvil),
            state_dir,
            provider,
            escrow,
            nft,
            token,
            owner,
            payer,
            creator,
            relayer,
            signer,
            license_id,
            terms_id,
            price,
            deposit,
            notice,
        }
    }

    /// Restarts anvil on the same port with the same chain, blocks and hashes included (the
    /// relayer sees the RPC vanish and come back). `during` runs while the node is down. The
    /// new process loads the state before it serves (`--load-state`): a node that answered
    /// empty for a moment would be another chain.
    pub async fn restart_anvil<F: std::future::Future<Output = ()>>(&mut self, during: F) {
        let port = self.anvil.as_ref().unwrap().endpoint_url().port().unwrap();
        // Dropping the instance stops the process gracefully: it writes its state.
        self.anvil = None;
        let state = self.state_dir.path().join("state.json");
        assert!(state.exists(), "anvil wrote its state");
        during.await;
        self.anvil = Some(
            Anvil::new()
                .path(anvil_path())
                .chain_id(31337)
                .port(port)
                .arg("--load-state")
                .arg(&state)
                .arg("--dump-state")
                .arg(&state)
                .spawn(),
        );
    }

    pub fn domain(&self) -> EscrowDomain {
        EscrowDomain::new(31337, self.escrow)
    }

    pub fn escrow(&self) -> TrainingEscrow::TrainingEscrowInstance<DynProvider> {
        TrainingEscrow::new(self.escrow, self.provider.clone())
    }

    /// A receipt of the payer's license for `run`, signed by the registered key.
    pub fn receipt(&self, run: &str, cumulative: u64) -> SignedReceipt {
        self.receipt_by(&self.signer, run, cumulative)
    }

    pub fn receipt_by(&self, key: &PrivateKeySigner, run: &str, cumulative: u64) -> SignedReceipt {
        let receipt = Receipt {
            payer: self.payer.address(),
            licenseId: self.license_id,
            termsId: self.terms_id,
            runId: keccak256(run),
            cumulativeSamples: cumulative,
            issuedAt: 1_750_000_000,
        };
        SignedReceipt::sign(&self.domain(), key, &receipt).unwrap()
    }

    pub async fn available(&self) -> U256 {
        self.escrow()
            .availableBalance(self.payer.address(), self.token)
            .call()
            .await
            .unwrap()
    }

    /// The relayer's credit line for the payer in the token, as the escrow holds it.
    pub async fn line(&self) -> Escrow::CreditLine {
        self.escrow()
            .creditLine(self.payer.address(), self.relayer.address(), self.token)
            .call()
            .await
            .unwrap()
    }

    /// Takes the line's credit down to `left` with a credit reduction (requested, the notice
    /// waited out, executed): the rest goes back to the payer's available balance.
    /// Moves the chain's clock one notice period (and a second) on, in a new block.
    pub async fn pass_notice(&self) {
        self.provider
            .anvil_increase_time(self.notice + 1)
            .await
            .unwrap();
        self.provider.anvil_mine(Some(1), None).await.unwrap();
    }

    pub async fn reduce_credit_to(&self, left: U256) {
        let esc = self.escrow();
        let amount = (self.credit().await - left).to::<u128>();
        esc.requestCreditReduction(self.relayer.address(), self.token, amount)
            .from(self.payer.address())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        self.pass_notice().await;
        esc.reduceCredit(self.relayer.address(), self.token)
            .from(self.payer.address())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert_eq!(self.credit().await, left);
    }

    /// Mints another license of the creator's with the same terms and has the payer accept
    /// them; returns `(license id, terms id)`.
    pub async fn add_license(&self, id: u64) -> (U256, u64) {
        let nft = LicenseNFT::new(self.nft, self.provider.clone());
        let first = nft.currentTerms(self.license_id).call().await.unwrap();
        let request = License::MintRequest {
            terms: first._1,
            manifestHash: keccak256(format!("dataset {id}")),
            royaltyBps: alloy::primitives::Uint::from(500u16),
        };
        nft.mint(request)
            .from(self.creator.address())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let license_id = U256::from(id);
        let terms_id = nft.currentTerms(license_id).call().await.unwrap().termsId;
        self.escrow()
            .acceptTerms(license_id, terms_id)
            .from(self.payer.address())
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        // Batches may charge the acceptance once the notice has passed.
        self.pass_notice().await;
        (license_id, terms_id)
    }

    /// A receipt of `license` (id, terms) for `run`, signed by the registered key.
    pub fn receipt_of(&self, license: (U256, u64), run: &str, cumulative: u64) -> SignedReceipt {
        let receipt = Receipt {
            licenseId: license.0,
            termsId: license.1,
            ..self.receipt(run, cumulative).receipt()
        };
        SignedReceipt::sign(&self.domain(), &self.signer, &receipt).unwrap()
    }

    /// What the relayer may still reserve from the payer's line.
    pub async fn credit(&self) -> U256 {
        U256::from(self.line().await.credit)
    }

    /// What the relayer's committed batches reserved in the payer's line and claims did not draw.
    pub async fn reserved(&self) -> U256 {
        U256::from(self.line().await.reserved)
    }

    pub async fn creator_balance(&self) -> U256 {
        IERC20Permit::new(self.token, self.provider.clone())
            .balanceOf(self.creator.address())
            .call()
            .await
            .unwrap()
    }

    pub async fn settled(&self, run: &str) -> u64 {
        let receipt = self.receipt(run, 1).receipt();
        self.escrow()
            .settledSamples(receipt.usage_key())
            .call()
            .await
            .unwrap()
    }

    /// Roots committed on-chain (from `BatchCommitted` logs).
    pub async fn committed_roots(&self) -> Vec<B256> {
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
            .map(|l| l.topics()[1])
            .collect()
    }
}

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh database: a SQLite file in a temp dir, or a new PostgreSQL database.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

fn psql(sql: &str) {
    let out = std::process::Command::new("psql")
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

impl TestDb {
    pub fn new(db: Db) -> Self {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("relayer.db").display());
                Self {
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Db::Postgres => {
                let name = format!(
                    "relayer_test_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed)
                );
                psql(&format!("CREATE DATABASE {name}"));
                let url = format!("postgres://postgres@localhost/{name}?host=/var/run/postgresql");
                Self {
                    url,
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

/// A relayer configuration for `chain` and `db`.
pub fn config(chain: &Chain, db: &TestDb) -> Config {
    config_for(&chain.rpc, chain.escrow, chain.nft, db)
}

/// A relayer configuration for the node at `rpc` (which need not answer: the relayer then
/// serves from its checkpoint), the given contracts and `db`.
pub fn config_for(rpc: &str, escrow: Address, nft: Address, db: &TestDb) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: db.url.clone(),
        rpc_url: rpc.to_owned(),
        chain_id: 31337,
        escrow,
        license_nft: nft,
        start_block: 0,
        private_key: Some(KEYS[3].to_owned()),
        keystore: None,
        keystore_password_file: None,
        operator_token: Some("operator-token-for-tests".to_owned()),
        public_url: "http://relayer.test".to_owned(),
        confirmations: 1,
        reorg_window: 256,
        poll_interval_ms: 100,
        batch: BatchConfig {
            max_receipts: 1_000,
            max_value: U256::MAX,
            max_age_secs: 3_600,
            horizon_secs: 600,
        },
        tx: TxConfig::default(),
        limits: Limits::default(),
    }
}

/// A relayer running in this process, serving HTTP on a free port.
pub struct Relayer {
    pub url: String,
    pub client: reqwest::Client,
    pub running: fairtrain_relayer::service::Running,
    server: tokio::task::JoinHandle<()>,
}

impl Relayer {
    pub async fn start(config: &Config) -> Self {
        let running = fairtrain_relayer::service::start(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = fairtrain_relayer::api::router(running.app.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let relayer = Self {
            url,
            client: reqwest::Client::new(),
            running,
            server,
        };
        relayer.wait_ready().await;
        relayer
    }

    pub async fn wait_ready(&self) {
        wait_ready(&self.client, &self.url).await;
    }

    pub fn stop(&self) {
        self.running.abort();
        self.server.abort();
    }

    /// `POST /v1/claims` with the operator token.
    pub async fn request_claims(&self, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/claims", self.url))
            .bearer_auth("operator-token-for-tests")
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        post(&self.client, &format!("{}{path}", self.url), body).await
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        get(&self.client, &format!("{}{path}", self.url)).await
    }
}

impl Drop for Relayer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub async fn wait_ready(client: &reqwest::Client, url: &str) {
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{url}/ready")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("relayer at {url} never became ready");
}

pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = client.post(url).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

pub async fn get(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    let r = client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// Polls `f` until it returns `Some`, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "condition not met in {secs}s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A TCP proxy to `target` (an `http://host:port` URL) that holds every chunk the client sends
/// for `delay` before forwarding it: a slow RPC. Returns the proxy's URL.
pub async fn slow_proxy(target: &str, delay: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let target = target
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                    return;
                };
                let (mut ri, mut wi) = inbound.into_split();
                let (mut ro, mut wo) = outbound.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 1 << 16];
                    while let Ok(n) = ri.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        tokio::time::sleep(delay).await;
                        if wo.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut ro, &mut wi).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    url
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes the configuration file of a [`Binary`] for `chain` and `db`, serving on `port`:
/// batches of at most `max_receipts`, cut one second after their oldest receipt; `extra` TOML
/// (e.g. a `[tx]` table) appended.
pub fn write_config(
    chain: &Chain,
    db: &TestDb,
    dir: &Path,
    port: u16,
    max_receipts: usize,
    extra: &str,
) -> PathBuf {
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
max_receipts = {max_receipts}
max_value = "1000000000000000000"
max_age_secs = 1
horizon_secs = 600
{extra}
"#,
        db = db.url,
        rpc = chain.rpc,
        escrow = chain.escrow,
        nft = chain.nft,
    );
    let path = dir.join(format!("relayer-{port}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// How a [`Binary`] gets the relayer's key (account 3).
#[derive(Clone, Copy, Debug)]
pub enum KeySource {
    /// `FAIRTRAIN_PRIVATE_KEY`.
    Hex,
    /// The encrypted keystore `tests/fixtures/keystore.json`, with its password in a file.
    Keystore,
}

/// The real `fairtrain-relayer serve`, its stderr in a log file; SIGKILLed on drop.
pub struct Binary {
    child: std::process::Child,
    log: PathBuf,
    pub url: String,
}

impl Binary {
    /// Starts `serve` with `config` (see [`write_config`]), the fail point `failpoint` armed if
    /// any (the process stops dead there, for the test to SIGKILL it), the key from `key`;
    /// the log is `dir/relayer-<n>.log`.
    pub fn start(
        config: &Path,
        dir: &Path,
        port: u16,
        failpoint: Option<&str>,
        n: usize,
        key: KeySource,
    ) -> Self {
        let log = dir.join(format!("relayer-{n}.log"));
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fairtrain-relayer"));
        cmd.arg("--config")
            .arg(config)
            .arg("serve")
            .env("FAIRTRAIN_OPERATOR_TOKEN", "operator-token-for-tests")
            .env("RUST_LOG", "info")
            .env_remove("FAIRTRAIN_FAILPOINT")
            .env_remove("FAIRTRAIN_PRIVATE_KEY")
            .env_remove("FAIRTRAIN_KEYSTORE")
            .env_remove("FAIRTRAIN_KEYSTORE_PASSWORD")
            .env_remove("FAIRTRAIN_KEYSTORE_PASSWORD_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        match key {
            KeySource::Hex => {
                cmd.env("FAIRTRAIN_PRIVATE_KEY", KEYS[3]);
            }
            KeySource::Keystore => {
                let password = dir.join("keystore-password");
                std::fs::write(&password, "relayer-test\n").unwrap();
                cmd.arg("--keystore")
                    .arg(root().join("relayer/tests/fixtures/keystore.json"))
                    .arg("--keystore-password-file")
                    .arg(password);
            }
        }
        if let Some(fp) = failpoint {
            cmd.env("FAIRTRAIN_FAILPOINT", fp);
        }
        Self {
            child: cmd.spawn().unwrap(),
            log,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most `secs`) until the log contains `text`.
    pub async fn wait_log(&self, text: &str, secs: u64) {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        while !self.log().contains(text) {
            assert!(
                std::time::Instant::now() < deadline,
                "{text:?} not logged in {secs}s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the process stopped at `failpoint`, then SIGKILLs it (no cleanup of any
    /// kind).
    pub async fn kill_at(self, failpoint: &str) {
        self.wait_log(&format!("failpoint {failpoint} reached"), 60)
            .await;
        self.kill();
    }

    /// SIGKILL (no cleanup of any kind).
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
