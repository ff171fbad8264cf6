//! The system under test, assembled from real parts with the test kit (`fairtrain-testkit`):
//! anvil with the suite deployed once by `contracts/script/Deploy.s.sol` (state dumped, loaded
//! into a fresh anvil per test), a store (a SQLite file or a fresh PostgreSQL database, dropped
//! after), the `fairtrain-relayer` binary serving on a free port, and the `fairtrain` /
//! `fairtrain-meter` binaries run as a creator, a payer or a training job would run them.

use std::{
    path::PathBuf,
    process::Output,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256},
    providers::DynProvider,
};
use fairtrain_protocol::{
    api::relayer::{Batch, BatchList, ClaimResponse, Claimable, LicenseProofs},
    bindings::{Escrow, IERC20Permit, TrainingEscrow},
};
use fairtrain_sdk::Usage;
pub(crate) use fairtrain_testkit::{
    address as addr, bin,
    devnet::{CLAIM_WINDOW, NOTICE},
    free_port, key, poll as eventually,
    relayer::{KeySource, RelayerConfig, RelayerProcess, OPERATOR_TOKEN},
    scenario::{dataset, CREATOR, PAYER, RELAYER, TRAINING},
    Backend as Db, Proc, TestDb,
};
use serde_json::Value;

/// A fresh anvil with the suite deployed (the kit's devnet, through `Deref`), its deployment
/// file, and a provider with a wallet of every test key.
pub(crate) struct Devnet {
    devnet: fairtrain_testkit::Devnet,
    pub(crate) escrow: Address,
    pub(crate) token: Address,
    pub(crate) start_block: u64,
}

impl std::ops::Deref for Devnet {
    type Target = fairtrain_testkit::Devnet;

    fn deref(&self) -> &Self::Target {
        &self.devnet
    }
}

impl std::ops::DerefMut for Devnet {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.devnet
    }
}

impl Devnet {
    pub(crate) async fn start() -> Self {
        let devnet = fairtrain_testkit::Devnet::start().await;
        let d = &devnet.deployment;
        Self {
            escrow: d.training_escrow,
            token: devnet.token(),
            start_block: d.start_block,
            devnet,
        }
    }

    pub(crate) fn deployment(&self) -> PathBuf {
        self.devnet.deployment_file()
    }

    /// Runs `fairtrain-meter` against this devnet.
    pub(crate) fn meter(&self, args: &[&str]) -> Output {
        self.command(bin("fairtrain-meter"), None)
            .args(args)
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
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The `fairtrain-relayer` binary serving on a free port (the kit's [`RelayerProcess`]);
/// SIGKILLed on drop.
pub(crate) struct Relayer {
    proc: RelayerProcess,
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
        let config = devnet.dir.path().join(format!(
            "relayer-{}.toml",
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        RelayerConfig {
            confirmations,
            extra: extra.to_owned(),
            ..RelayerConfig::new(port, db)
        }
        .write(devnet, &config);
        let proc = RelayerProcess::start(
            bin("fairtrain-relayer"),
            config.clone(),
            port,
            KeySource::Anvil(RELAYER),
            config.with_extension("log"),
            failpoint,
        );
        let relayer = Self {
            url: proc.url.clone(),
            proc,
            client: reqwest::Client::new(),
        };
        relayer.proc.wait_ready(60).await;
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
        self.proc.spawn(failpoint);
        self.proc.wait_ready(60).await;
    }

    /// Waits until its chain follower has applied `block` (an acceptance made there, say).
    pub(crate) async fn wait_followed(&self, block: u64) {
        self.proc.wait_followed(block).await;
    }

    /// Its log (stderr of every start), for failure messages.
    pub(crate) fn log(&self) -> String {
        self.proc.log()
    }

    /// Waits until the process has stopped at the fail point it was started with
    /// ([`Self::restart_with_failpoint`]), then SIGKILLs it there.
    pub(crate) async fn kill_at(&mut self, failpoint: &str) {
        self.proc.kill_at(failpoint).await;
    }

    /// SIGKILL.
    pub(crate) fn kill(&mut self) {
        self.proc.kill();
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
        self.proc.operator(args).output().unwrap()
    }
}

/// A token amount in a relayer JSON document (decimal string or number).
/// Whether the relayer's claim of a receipt is mined (a queued claim shows `claim:<job>`, a
/// mined one its transaction hash).
pub(crate) fn claimed(c: &Claimable) -> bool {
    c.claim_tx.as_deref().is_some_and(|t| t.starts_with("0x"))
}

/// The usage key of run `run` (keccak256 of the name) on a license's terms.
pub(crate) fn run_usage(license: U256, terms: u64, run: &str) -> Usage {
    Usage {
        license_id: license,
        terms_id: terms,
        run_id: alloy::primitives::keccak256(run),
    }
}
