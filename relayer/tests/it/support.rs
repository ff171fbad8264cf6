//! Test support: a devnet from the test kit (`fairtrain-testkit`) with a funded payer, an
//! accepted license, a registered signing key and an authorized relayer; stores from the kit
//! (SQLite or a fresh PostgreSQL database); the relayer either in-process or as the real binary
//! (the kit's [`RelayerProcess`]); and its HTTP API ([`Api`]), whose answers are read as the
//! protocol's types (`fairtrain_protocol::api::relayer`), `serde_json::Value` being left for
//! answers a test means to be malformed or of unknown shape.

#![allow(dead_code, unreachable_pub)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use alloy::{
    primitives::{keccak256, Address, B256, U256},
    providers::DynProvider,
    signers::local::PrivateKeySigner,
};
use fairtrain_protocol::{
    api::{
        relayer::{
            Batch, BatchDetail, BatchList, BulkResponse, ClaimResponse, Claimable, Outcome, Status,
        },
        ErrorBody, ErrorDetail,
    },
    bindings::{Escrow, IERC20Permit, License, LicenseNFT, TrainingEscrow},
    wire::SignedReceipt,
    EscrowDomain, Receipt,
};
use fairtrain_relayer::config::{BatchConfig, Config, Limits, TxConfig};
use fairtrain_testkit::mined;
pub use fairtrain_testkit::{
    eventually, free_port, key,
    proxy::slow_proxy,
    relayer::{KeySource, RelayerConfig, RelayerProcess, OPERATOR_TOKEN},
    root, Backend as Db, Devnet, TestDb, KEYS,
};
use serde::{de::DeserializeOwned, Serialize};

/// anvil's account that owns the suite.
pub const OWNER: usize = 0;
/// anvil's account that pays.
pub const PAYER: usize = 1;
/// anvil's account that mints the license.
pub const CREATOR: usize = 2;
/// anvil's account of the relayer.
pub const RELAYER: usize = 3;
/// The relayer's key as its binary gets it by default (`FAIRTRAIN_PRIVATE_KEY`).
pub const RELAYER_KEY: KeySource = KeySource::Anvil(RELAYER);

/// The deployed suite and its actors.
pub struct Chain {
    /// The node with the suite deployed.
    pub devnet: Devnet,
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

impl Chain {
    /// Starts a devnet and sets up one payer with a license accepted and chargeable.
    pub async fn start() -> Self {
        let devnet = Devnet::start().await;
        let provider = devnet.provider.clone();
        let (owner, payer, creator, relayer) = (key(OWNER), key(PAYER), key(CREATOR), key(RELAYER));
        let signer = PrivateKeySigner::from_bytes(&keccak256("training key")).unwrap();
        let notice = devnet.deployment.notice_period;
        let (escrow, nft, token) = (
            devnet.deployment.training_escrow,
            devnet.deployment.license_nft,
            devnet.token(),
        );
        let esc = TrainingEscrow::new(escrow, provider.clone());
        let nftc = LicenseNFT::new(nft, provider.clone());
        let erc = IERC20Permit::new(token, provider.clone());

        let price = 1_000u128;
        let request = License::MintRequest {
            terms: License::Terms {
                kind: 0,
                paymentToken: token,
                pricePerSample: alloy::primitives::Uint::from(price),
                unit: 0,
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
        mined!(nftc.mint(request).from(creator.address()));
        let license_id = U256::from(1);
        let current = nftc.currentTerms(license_id).call().await.unwrap();
        let terms_id = current.termsId;

        let deposit = U256::from(1_000_000_000u64);
        devnet.mint(payer.address(), deposit).await;
        mined!(erc.approve(escrow, U256::MAX).from(payer.address()));
        mined!(esc.deposit(token, deposit).from(payer.address()));
        mined!(esc.acceptTerms(license_id, terms_id).from(payer.address()));
        mined!(esc.registerSigner(signer.address()).from(payer.address()));
        // The payer authorizes the relayer by funding its credit line with the whole deposit.
        mined!(esc
            .fundCredit(relayer.address(), token, deposit.to::<u128>())
            .from(payer.address()));
        devnet.advance(notice + 1).await;

        Self {
            rpc: devnet.url.clone(),
            devnet,
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

    /// The payer's reservation in the token under the committed `root`.
    pub async fn reservation(&self, root: B256) -> Escrow::Reservation {
        self.escrow()
            .reservation(root, self.payer.address(), self.token)
            .call()
            .await
            .unwrap()
    }

    /// The roots committed on-chain, each of which must stand there once.
    pub async fn roots_committed_once(&self) -> Vec<B256> {
        let roots = self.devnet.committed_roots().await;
        let mut unique = roots.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), roots.len(), "a root was committed twice");
        roots
    }

    /// Takes the line's credit down to `left` with a credit reduction (requested, the notice
    /// waited out, executed): the rest goes back to the payer's available balance.
    /// Moves the chain's clock one notice period (and a second) on, in a new block.
    pub async fn pass_notice(&self) {
        self.devnet.advance(self.notice + 1).await;
    }

    pub async fn reduce_credit_to(&self, left: U256) {
        let esc = self.escrow();
        let amount = (self.credit().await - left).to::<u128>();
        mined!(esc
            .requestCreditReduction(self.relayer.address(), self.token, amount)
            .from(self.payer.address()));
        self.pass_notice().await;
        mined!(esc
            .reduceCredit(self.relayer.address(), self.token)
            .from(self.payer.address()));
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
        mined!(nft.mint(request).from(self.creator.address()));
        let license_id = U256::from(id);
        let terms_id = nft.currentTerms(license_id).call().await.unwrap().termsId;
        mined!(self
            .escrow()
            .acceptTerms(license_id, terms_id)
            .from(self.payer.address()));
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
}

/// The receipts stored in `db`, each digest counted once, after checking that none is stored
/// twice (the table does not enforce it: the ingest's rules do).
pub async fn stored_receipts(db: &TestDb) -> i64 {
    let store = fairtrain_relayer::store::Store::connect(&db.url)
        .await
        .unwrap();
    let (rows, digests): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT digest) FROM receipts")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(rows, digests, "a digest is stored twice");
    digests
}

/// A devnet with the suite ([`Chain::start`]), a fresh `db` store and an in-process relayer on
/// them, its configuration ([`config`]) changed by `tune` first.
pub async fn started(db: Db, tune: impl FnOnce(&mut Config)) -> (Chain, TestDb, Config, Relayer) {
    let chain = Chain::start().await;
    let store = TestDb::new(db);
    let mut cfg = config(&chain, &store);
    tune(&mut cfg);
    let relayer = Relayer::start(&cfg).await;
    (chain, store, cfg, relayer)
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
        private_key: Some(KEYS[RELAYER].to_owned()),
        keystore: None,
        keystore_password_file: None,
        operator_token: Some(OPERATOR_TOKEN.to_owned()),
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

/// A relayer's HTTP API at `url` (in this process or a binary's), read as the protocol's types.
#[derive(Clone)]
pub struct Api {
    pub url: String,
    pub client: reqwest::Client,
}

/// A relayer running in this process, serving HTTP on a free port; its [`Api`] through `Deref`.
pub struct Relayer {
    api: Api,
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
            api: Api::new(&url, reqwest::Client::new()),
            running,
            server,
        };
        relayer.wait_ready().await;
        relayer
    }

    pub async fn wait_ready(&self) {
        assert!(
            fairtrain_testkit::wait_ready(&self.url, 15).await,
            "relayer at {} never became ready",
            self.url
        );
    }

    pub fn stop(&self) {
        self.running.abort();
        self.server.abort();
    }
}

impl std::ops::Deref for Relayer {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Api {
    /// The API of the relayer at `url` (`http://host:port`), asked through `client`.
    pub fn new(url: &str, client: reqwest::Client) -> Self {
        Self {
            url: url.to_owned(),
            client,
        }
    }

    /// `POST /v1/claims` with the operator token.
    pub async fn request_claims(&self, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/claims", self.url))
            .bearer_auth(OPERATOR_TOKEN)
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

    /// `GET path`, answered 200 and read as the API type `T`.
    pub async fn get_as<T: DeserializeOwned>(&self, path: &str) -> T {
        get_as(&self.client, &format!("{}{path}", self.url)).await
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Status {
        self.get_as("/v1/status").await
    }

    /// Waits (at most `secs`) until `GET /v1/status` answers what `done` looks for.
    pub async fn wait_status(&self, secs: u64, done: impl Fn(&Status) -> bool) -> Status {
        eventually(secs, || async {
            let (code, body) = self.get("/v1/status").await;
            let status = (code == 200).then(|| typed::<Status>(body))?;
            done(&status).then_some(status)
        })
        .await
    }

    /// The confirmed batches of `GET /v1/batches`.
    pub async fn confirmed_batches(&self) -> Vec<Batch> {
        let list: BatchList = self.get_as("/v1/batches").await;
        list.batches
            .into_iter()
            .filter(|b| b.state == "confirmed")
            .collect()
    }

    /// `GET /v1/batches/{id}`; `None` while the batch does not exist.
    pub async fn batch(&self, id: u64) -> Option<BatchDetail> {
        let (status, body) = self.get(&format!("/v1/batches/{id}")).await;
        match status {
            404 => None,
            200 => Some(typed(body)),
            _ => panic!("GET /v1/batches/{id}: {status} {body}"),
        }
    }

    /// Waits (at most `secs`) until batch `id` is in `state`.
    pub async fn batch_in(&self, id: u64, state: &str, secs: u64) -> BatchDetail {
        eventually(secs, || async {
            self.batch(id).await.filter(|b| b.batch.state == state)
        })
        .await
    }

    /// Waits (at most 30 s) until batch `id` is confirmed.
    pub async fn confirmed_batch(&self, id: u64) -> Batch {
        self.batch_in(id, "confirmed", 30).await.batch
    }

    /// `GET /v1/receipts/{digest}`: what the relayer holds of one receipt.
    pub async fn receipt(&self, digest: B256) -> Claimable {
        self.get_as(&format!("/v1/receipts/{digest:#x}")).await
    }

    /// `POST /v1/receipts` with `receipt`: the status and the answer as it is (an outcome, or an
    /// error body).
    pub async fn submit(&self, receipt: &SignedReceipt) -> (u16, serde_json::Value) {
        self.post("/v1/receipts", &serde_json::json!(receipt)).await
    }

    /// Submits `receipt`, which must be accepted (201): what it adds, priced.
    pub async fn accept(&self, receipt: &SignedReceipt) -> U256 {
        let (status, body) = self.submit(receipt).await;
        assert_eq!(status, 201, "{body}");
        match typed(body) {
            Outcome::Accepted { amount, .. } => amount,
            other => panic!("not accepted: {other:?}"),
        }
    }

    /// `POST /v1/receipts/bulk` with `receipts`, answered 200.
    pub async fn bulk<R: Serialize>(&self, receipts: &[R]) -> BulkResponse {
        let (status, body) = self
            .post("/v1/receipts/bulk", &serde_json::json!(receipts))
            .await;
        assert_eq!(status, 200, "{body}");
        typed(body)
    }

    /// Submits `receipts` in bulk, which must all be accepted.
    pub async fn accept_all<R: Serialize>(&self, receipts: &[R]) {
        let answer = self.bulk(receipts).await;
        assert_eq!(answer.accepted, receipts.len(), "{answer:?}");
    }

    /// `POST /v1/claims` with `body` and the operator token, answered 200: the jobs queued.
    pub async fn claim_jobs(&self, body: &serde_json::Value) -> Vec<i64> {
        let r = self.request_claims(body).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<ClaimResponse>(&text)
            .unwrap_or_else(|e| panic!("{e}: {text}"))
            .claim_jobs
    }

    /// Claims every confirmed batch (`POST /v1/claims` with `{}`): the jobs queued.
    pub async fn claim_all(&self) -> Vec<i64> {
        self.claim_jobs(&serde_json::json!({})).await
    }

    /// Waits (at most `secs` each) until every one of `receipts` has a claim transaction.
    pub async fn wait_claimed(&self, chain: &Chain, receipts: &[&SignedReceipt], secs: u64) {
        for r in receipts {
            let digest = chain.domain().digest(&r.receipt());
            eventually(secs, || async {
                let claim_tx = self.receipt(digest).await.claim_tx;
                claim_tx.filter(|t| t.starts_with("0x")).map(|_| ())
            })
            .await;
        }
    }
}

impl Drop for Relayer {
    fn drop(&mut self) {
        self.stop();
    }
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

/// `body` read as the API type `T`, or a panic naming what did not fit.
pub fn typed<T: DeserializeOwned>(body: serde_json::Value) -> T {
    let shown = body.to_string();
    serde_json::from_value(body)
        .unwrap_or_else(|e| panic!("not a {}: {e}: {shown}", std::any::type_name::<T>()))
}

/// `GET url`, answered 200 and read as the API type `T`.
pub async fn get_as<T: DeserializeOwned>(client: &reqwest::Client, url: &str) -> T {
    let (status, body) = get(client, url).await;
    assert_eq!(status, 200, "GET {url}: {body}");
    typed(body)
}

/// The code and message of an error answer.
pub fn error_detail(body: &serde_json::Value) -> ErrorDetail {
    typed::<ErrorBody>(body.clone()).error
}

/// The `error.code` of an error answer.
pub fn error_code(body: &serde_json::Value) -> String {
    error_detail(body).code
}

/// Counts as `GET /v1/status` lists them (`receipts`, `claims`, `releases`).
pub fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
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

/// Writes a configuration file of the relayer binary for `chain` and `db`, serving on `port`:
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
    let path = dir.join(format!("relayer-{port}.toml"));
    RelayerConfig {
        public_url: Some("http://relayer.test".to_owned()),
        max_receipts,
        max_value: "1000000000000000000".to_owned(),
        extra: extra.to_owned(),
        ..RelayerConfig::new(port, db)
    }
    .write(&chain.devnet, &path);
    path
}

/// Starts the real `fairtrain-relayer serve` with `config` (see [`write_config`]) on `port`, the
/// fail point `failpoint` armed if any, the key from `key`; the log is `dir/relayer-<n>.log`.
pub fn binary(
    config: &Path,
    dir: &Path,
    port: u16,
    failpoint: Option<&str>,
    n: usize,
    key: KeySource,
) -> RelayerProcess {
    RelayerProcess::start(
        env!("CARGO_BIN_EXE_fairtrain-relayer").into(),
        config.to_owned(),
        port,
        key,
        dir.join(format!("relayer-{n}.log")),
        failpoint,
    )
}

/// The relayer's key (anvil's account [`RELAYER`]) from the encrypted keystore
/// `relayer/tests/fixtures/keystore.json`, its password written to a file in `dir`.
pub fn keystore(dir: &Path) -> KeySource {
    let password_file = dir.join("keystore-password");
    std::fs::write(&password_file, "relayer-test\n").unwrap();
    KeySource::Keystore {
        file: root().join("relayer/tests/fixtures/keystore.json"),
        password_file,
    }
}
