//! A devnet for the tests: the suite deployed once with `contracts/script/Deploy.s.sol` (as
//! tests/deploy/check.sh does), its state dumped, and a fresh anvil per test loaded with it.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use fairtrain_cli::{opts::RpcOpts, Chain};

/// Anvil's well-known development keys.
pub(crate) const KEYS: [&str; 5] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
];

/// The account that creates datasets and mints licenses.
pub(crate) const CREATOR: usize = 1;
/// The account that pays.
pub(crate) const PAYER: usize = 2;

/// The escrow's notice period on the test deployment, in seconds.
pub(crate) const NOTICE: u64 = 3600;

alloy::sol! {
    #[sol(rpc)]
    interface IMint {
        function mint(address to, uint256 amount) external;
    }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub(crate) fn tool(name: &str) -> PathBuf {
    root().join("node_modules/.bin").join(name)
}

pub(crate) fn key(i: usize) -> PrivateKeySigner {
    KEYS[i].parse().unwrap()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running anvil, killed on drop.
struct Anvil {
    child: Child,
    url: String,
}

impl Anvil {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new(tool("anvil"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--chain-id", "31337"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("anvil starts (node_modules/.bin/anvil)");
        let anvil = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "anvil did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        anvil
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The deployed state (hex, as `anvil_dumpState` returns it) and the deployment file's text.
fn deployed() -> &'static (String, String) {
    static STATE: OnceLock<(String, String)> = OnceLock::new();
    STATE.get_or_init(|| {
        let anvil = Anvil::start();
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
            .args(["--rpc-url", &anvil.url])
            .current_dir(root())
            .env("PATH", path)
            .env("NOTICE_PERIOD", NOTICE.to_string())
            .env("DEPLOYER_PRIVATE_KEY", KEYS[0])
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
            .args(["rpc", "anvil_dumpState", "--rpc-url", &anvil.url])
            .output()
            .expect("cast runs");
        assert!(dump.status.success());
        let state: String = serde_json::from_slice(&dump.stdout).unwrap();
        (state, deployment)
    })
}

/// A fresh anvil with the suite deployed, and its deployment file.
pub(crate) struct Devnet {
    anvil: Anvil,
    dir: tempfile::TempDir,
}

impl Devnet {
    pub(crate) async fn start() -> Self {
        let (state, deployment) = deployed();
        let anvil = Anvil::start();
        let provider = ProviderBuilder::new().connect_http(anvil.url.parse().unwrap());
        let loaded: bool = provider
            .raw_request("anvil_loadState".into(), (state,))
            .await
            .unwrap();
        assert!(loaded);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("31337.json"), deployment).unwrap();
        Self { anvil, dir }
    }

    pub(crate) fn url(&self) -> &str {
        &self.anvil.url
    }

    pub(crate) fn deployment(&self) -> PathBuf {
        self.dir.path().join("31337.json")
    }

    pub(crate) fn rpc(&self) -> RpcOpts {
        RpcOpts::new(self.url(), Some(self.deployment()))
    }

    pub(crate) async fn chain(&self, account: usize) -> Chain {
        Chain::connect(&self.rpc(), Some(key(account)))
            .await
            .unwrap()
    }

    /// Mints test fUSD (6 decimals) to `to`.
    pub(crate) async fn fund(&self, to: Address, whole: u64) {
        let chain = self.chain(0).await;
        let token = chain.deployment.payment_tokens[0];
        IMint::new(token, chain.provider().clone())
            .mint(to, U256::from(whole) * U256::from(1_000_000))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }

    /// Moves the chain's clock forward and mines a block.
    pub(crate) async fn advance(&self, secs: u64) {
        let provider = ProviderBuilder::new().connect_http(self.url().parse().unwrap());
        let _: serde_json::Value = provider
            .raw_request("evm_increaseTime".into(), (secs,))
            .await
            .unwrap();
        let _: serde_json::Value = provider.raw_request("evm_mine".into(), ()).await.unwrap();
    }

    /// Runs the real `fairtrain` binary against this devnet, with `account`'s key (if any).
    pub(crate) fn cli(&self, account: Option<usize>, args: &[&str]) -> std::process::Output {
        self.cli_env(account, args, &[])
    }

    /// [`Self::cli`] with extra environment variables.
    pub(crate) fn cli_env(
        &self,
        account: Option<usize>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> std::process::Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fairtrain"));
        cmd.args(args)
            .env("FAIRTRAIN_RPC_URL", self.url())
            .env("FAIRTRAIN_DEPLOYMENT", self.deployment())
            .env_remove("FAIRTRAIN_PRIVATE_KEY")
            .env_remove("FAIRTRAIN_KEYSTORE")
            .env_remove("FAIRTRAIN_KEYSTORE_PASSWORD");
        if let Some(i) = account {
            cmd.env("FAIRTRAIN_PRIVATE_KEY", KEYS[i]);
        }
        cmd.envs(env.iter().copied());
        cmd.output().unwrap()
    }
}

/// Writes a small dataset folder.
pub(crate) fn dataset(dir: &Path) {
    for (path, content) in [
        ("images/001.jpg", &b"jpeg one"[..]),
        ("images/002.jpg", b"jpeg two"),
        ("labels.csv", b"file,label\n001.jpg,cat\n002.jpg,dog\n"),
        ("README.md", b"# street photos\n"),
    ] {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
}
