//! A devnet per test: a fresh anvil (alloy's launcher) loaded with the suite as
//! `contracts/script/Deploy.s.sol` deploys it. The script runs once per test process, on a
//! node of its own, whose state is then dumped; every [`Devnet`] loads that state, so a test
//! starts in milliseconds on a chain identical to a freshly deployed one.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use alloy::{
    eips::BlockNumberOrTag,
    network::EthereumWallet,
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use fairtrain_protocol::{bindings::TrainingEscrow, Deployment};
use serde_json::{json, Value};

use crate::keys::{key, KEYS};

/// The chain id of every devnet.
pub const CHAIN_ID: u64 = 31337;

/// The escrow's notice period on the devnet, in seconds (as `tests/deploy/check.sh` deploys,
/// so the deployment file is rewritten byte for byte as committed).
pub const NOTICE: u64 = 3600;

/// The escrow's claim window on the devnet (`Deploy.s.sol`'s default), in seconds.
pub const CLAIM_WINDOW: u64 = 7 * 86_400;

alloy::sol! {
    /// The deployment's test stablecoin (`MockERC20`): anyone may mint.
    #[sol(rpc)]
    interface IMint {
        function mint(address to, uint256 amount) external;
    }
}

/// anvil from `node_modules/.bin`, on the devnet's chain id.
fn anvil() -> Anvil {
    Anvil::at(crate::tool("anvil")).chain_id(CHAIN_ID)
}

/// Runs `forge script <args>` from the repository root against the node at `url`,
/// broadcasting one transaction at a time, with `env` added to the environment.
///
/// # Panics
///
/// If forge cannot run or the script fails (with its output).
pub fn forge_script(url: &str, args: &[&str], env: &[(&str, &str)]) {
    let path = format!(
        "{}:{}",
        crate::tool("forge").parent().expect("a folder").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(crate::tool("forge"))
        .arg("script")
        .args(args)
        // --slow: one transaction at a time. Sent concurrently, a later nonce can reach anvil
        // (automine) first and stay queued forever, and the script then waits for it.
        .args(["--rpc-url", url, "--broadcast", "--slow"])
        .envs(env.iter().copied())
        .env("PATH", path)
        .current_dir(crate::root())
        .output()
        .expect("forge runs (node_modules/.bin/forge; run ./scripts/setup)");
    assert!(
        out.status.success(),
        "forge script {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The deployed state (as `anvil_dumpState` returns it) and the deployment file's text, made
/// once per test process.
fn deployed() -> &'static (String, String) {
    static STATE: OnceLock<(String, String)> = OnceLock::new();
    STATE.get_or_init(|| {
        let node = anvil().spawn();
        let url = node.endpoint();
        forge_script(
            &url,
            &["contracts/script/Deploy.s.sol"],
            &[
                ("NOTICE_PERIOD", &NOTICE.to_string()),
                ("DEPLOYER_PRIVATE_KEY", KEYS[0]),
            ],
        );
        let deployment =
            std::fs::read_to_string(crate::root().join(Deployment::default_path(CHAIN_ID)))
                .expect("Deploy.s.sol wrote the deployment file");
        let state = crate::block_on(async move {
            ProviderBuilder::new()
                .connect_http(url.parse().expect("anvil's URL"))
                .raw_request::<_, String>("anvil_dumpState".into(), ())
                .await
                .expect("anvil dumps its state")
        });
        drop(node);
        (state, deployment)
    })
}

/// A running anvil with the suite deployed, its deployment file, and a provider that signs for
/// every account of [`KEYS`] (account 0 unless a call says `.from(…)`). The node stops on drop.
pub struct Devnet {
    anvil: Option<AnvilInstance>,
    port: u16,
    /// Its RPC URL.
    pub url: String,
    /// The deployment (`deployments/31337.json` as `Deploy.s.sol` writes it).
    pub deployment: Deployment,
    /// A provider with a wallet of every key of [`KEYS`].
    pub provider: DynProvider,
    /// A temporary folder of the test's: the deployment file, anvil's state, configurations and
    /// logs.
    pub dir: tempfile::TempDir,
}

impl Devnet {
    /// Starts a fresh anvil with the suite deployed.
    ///
    /// # Panics
    ///
    /// If anvil or forge cannot run, or the deployment fails.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a fresh anvil, with extra command-line `args` (a benchmark's gas limit, say), with
    /// the suite deployed.
    ///
    /// # Panics
    ///
    /// If anvil or forge cannot run, or the deployment fails.
    pub async fn start_with(args: &[&str]) -> Self {
        let (state, file) = deployed();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let node = anvil()
            .args(args.iter().copied())
            .arg("--dump-state")
            .arg(dir.path().join("anvil-state.json"))
            .spawn();
        let url = node.endpoint();
        let mut wallet = EthereumWallet::from(key(0));
        for i in 1..KEYS.len() {
            wallet.register_signer(key(i));
        }
        let provider = ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(node.endpoint_url())
            .erased();
        let loaded: bool = provider
            .raw_request("anvil_loadState".into(), (state,))
            .await
            .expect("anvil loads the deployed state");
        assert!(loaded, "anvil loads the deployed state");
        std::fs::write(dir.path().join("31337.json"), file).expect("the deployment file");
        Self {
            port: node.port(),
            anvil: Some(node),
            url,
            deployment: serde_json::from_str(file).expect("a deployment file"),
            provider,
            dir,
        }
    }

    /// The deployment file (in [`Self::dir`]).
    pub fn deployment_file(&self) -> PathBuf {
        self.dir.path().join("31337.json")
    }

    /// The deployment's first payment token (the test stablecoin, 6 decimals).
    pub fn token(&self) -> Address {
        self.deployment.payment_tokens[0]
    }

    /// Mints `amount` (in units: the token has 6 decimals) of the test token to `to`.
    ///
    /// # Panics
    ///
    /// If the transaction fails or reverts.
    pub async fn mint(&self, to: Address, amount: U256) {
        let receipt = IMint::new(self.token(), self.provider.clone())
            .mint(to, amount)
            .send()
            .await
            .expect("mint sent")
            .get_receipt()
            .await
            .expect("mint mined");
        assert!(receipt.status(), "mint reverted");
    }

    /// Mints `whole` fUSD (whole tokens; the token has 6 decimals) to `to`.
    ///
    /// # Panics
    ///
    /// If the transaction fails or reverts.
    pub async fn fund(&self, to: Address, whole: u64) {
        self.mint(to, U256::from(whole) * U256::from(1_000_000))
            .await;
    }

    /// Runs the real `fairtrain` CLI against this devnet with `account`'s key; returns its
    /// standard output.
    ///
    /// # Panics
    ///
    /// Unless it succeeds (with its output).
    pub fn cli(&self, account: usize, args: &[&str]) -> String {
        let out = self.cli_output(account, args);
        assert!(
            out.status.success(),
            "fairtrain {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the real `fairtrain` CLI against this devnet with `account`'s key, whatever comes
    /// of it.
    ///
    /// # Panics
    ///
    /// If the binary cannot be started.
    pub fn cli_output(&self, account: usize, args: &[&str]) -> std::process::Output {
        self.command(crate::bin("fairtrain"), Some(account))
            .args(args)
            .output()
            .expect("the fairtrain binary runs")
    }

    /// A provider that signs with anvil's account `i` by default.
    pub fn wallet(&self, i: usize) -> DynProvider {
        ProviderBuilder::new()
            .wallet(EthereumWallet::from(key(i)))
            .connect_http(self.url.parse().expect("anvil's URL"))
            .erased()
    }

    /// A raw JSON-RPC call.
    ///
    /// # Panics
    ///
    /// If the node answers with an error.
    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        self.provider
            .raw_request::<_, Value>(method.to_owned().into(), params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// Mines `blocks` empty blocks at once (`anvil_mine`).
    pub async fn mine(&self, blocks: u64) {
        self.rpc("anvil_mine", json!([blocks])).await;
    }

    /// Moves the chain's clock `secs` forward and mines a block at the new time.
    pub async fn advance(&self, secs: u64) {
        self.rpc("evm_increaseTime", json!([secs])).await;
        self.rpc("evm_mine", json!([])).await;
    }

    /// The head block's number.
    pub async fn head(&self) -> u64 {
        self.provider.get_block_number().await.expect("the head")
    }

    /// Roots committed on the chain (the escrow's `BatchCommitted` logs), in order.
    pub async fn committed_roots(&self) -> Vec<B256> {
        let filter = Filter::new()
            .address(self.deployment.training_escrow)
            .event_signature(TrainingEscrow::BatchCommitted::SIGNATURE_HASH)
            .from_block(0);
        self.provider
            .get_logs(&filter)
            .await
            .expect("the escrow's logs")
            .iter()
            .map(|log| log.topics()[1])
            .collect()
    }

    /// Stops anvil (SIGTERM: it writes its state, blocks included, to a file), runs `during`,
    /// and starts it again on the same port from that file, so it never serves an empty chain.
    /// The state does not keep the clock offset that `evm_increaseTime` added, so the clock is
    /// set back to the last block's time before anything is mined (a real chain's clock never
    /// goes back; without this, acceptances made chargeable by moving the clock would stop
    /// being so).
    pub async fn restart<F: std::future::Future<Output = ()>>(&mut self, during: F) {
        let last = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .expect("the head block")
            .expect("a head block")
            .header
            .timestamp;
        // Dropping the instance stops the process gracefully: it writes its state.
        self.anvil = None;
        let state = self.dir.path().join("anvil-state.json");
        assert!(state.exists(), "anvil wrote its state");
        during.await;
        self.anvil = Some(
            anvil()
                .port(self.port)
                .arg("--no-mining")
                .arg("--load-state")
                .arg(&state)
                .arg("--dump-state")
                .arg(&state)
                .spawn(),
        );
        self.rpc("evm_setTime", json!([last + 1])).await;
        self.rpc("evm_mine", json!([])).await;
        self.rpc("evm_setAutomine", json!([true])).await;
    }

    /// A command running `exe` (the `fairtrain` CLI, `fairtrain-meter`, …) against this devnet:
    /// `FAIRTRAIN_RPC_URL` and `FAIRTRAIN_DEPLOYMENT` set, and with `account`'s key as
    /// `FAIRTRAIN_PRIVATE_KEY` (no key from the test's environment either way).
    pub fn command(&self, exe: impl AsRef<Path>, account: Option<usize>) -> Command {
        let mut cmd = Command::new(exe.as_ref());
        cmd.env("FAIRTRAIN_RPC_URL", &self.url)
            .env("FAIRTRAIN_DEPLOYMENT", self.deployment_file())
            .env_remove("FAIRTRAIN_PRIVATE_KEY")
            .env_remove("FAIRTRAIN_KEYSTORE")
            .env_remove("FAIRTRAIN_KEYSTORE_PASSWORD");
        if let Some(i) = account {
            cmd.env("FAIRTRAIN_PRIVATE_KEY", KEYS[i]);
        }
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_anvils_and_the_suite_is_deployed() {
        let devnet = Devnet::start().await;
        let node = devnet.anvil.as_ref().expect("running");
        assert_eq!(node.keys().len(), KEYS.len());
        for i in 0..node.keys().len() {
            assert_eq!(crate::keys::address(i), node.addresses()[i], "KEYS[{i}]");
        }
        let code = devnet
            .provider
            .get_code_at(devnet.deployment.training_escrow)
            .await
            .expect("code");
        assert!(!code.is_empty(), "the escrow is deployed");
        assert_eq!(devnet.deployment.notice_period, NOTICE);
        let loaded = Deployment::load(&devnet.deployment_file()).expect("the file reads");
        assert_eq!(loaded, devnet.deployment);
    }
}
