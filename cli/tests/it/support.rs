//! A devnet for the tests, from the test kit (`fairtrain-testkit`): a fresh anvil per test with
//! the suite as `contracts/script/Deploy.s.sol` deploys it, and the CLI's views of it.

use std::path::{Path, PathBuf};

use alloy::{
    primitives::{keccak256, Address, U256},
    signers::local::PrivateKeySigner,
};
use fairtrain_cli::{opts::RpcOpts, Chain};
use fairtrain_protocol::{EscrowDomain, Receipt, SignedReceipt};
pub(crate) use fairtrain_testkit::{devnet::NOTICE, key, tool, KEYS};

/// The account that creates datasets and mints licenses.
pub(crate) const CREATOR: usize = 1;
/// The account that pays.
pub(crate) const PAYER: usize = 2;

/// A fresh anvil with the suite deployed (the kit's devnet, through `Deref`), and its
/// deployment file.
pub(crate) struct Devnet {
    devnet: fairtrain_testkit::Devnet,
}

impl std::ops::Deref for Devnet {
    type Target = fairtrain_testkit::Devnet;

    fn deref(&self) -> &Self::Target {
        &self.devnet
    }
}

impl Devnet {
    pub(crate) async fn start() -> Self {
        Self {
            devnet: fairtrain_testkit::Devnet::start().await,
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.devnet.url
    }

    pub(crate) fn deployment(&self) -> PathBuf {
        self.devnet.deployment_file()
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
        self.mint(to, U256::from(whole) * U256::from(1_000_000))
            .await;
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
        self.command(env!("CARGO_BIN_EXE_fairtrain"), account)
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap()
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

/// Signs cumulative receipts of one payer for one license (terms 1) with a training key, all
/// issued at the same time, as the payer's training infrastructure would.
pub(crate) struct ReceiptSigner {
    pub(crate) domain: EscrowDomain,
    training: PrivateKeySigner,
    payer: Address,
    license: U256,
    issued_at: u64,
}

impl ReceiptSigner {
    /// Receipts issued now (the chain's time) for `payer`, whose `chain` names the escrow.
    pub(crate) async fn now(
        chain: &Chain,
        training: &PrivateKeySigner,
        payer: Address,
        license: U256,
    ) -> Self {
        Self {
            domain: EscrowDomain::new(31337, chain.deployment.training_escrow),
            training: training.clone(),
            payer,
            license,
            issued_at: chain.now().await.unwrap(),
        }
    }

    /// The signed receipt of `samples` in total for run `run` (keccak256 of the name).
    pub(crate) fn sign(&self, run: &str, samples: u64) -> SignedReceipt {
        let receipt = Receipt {
            payer: self.payer,
            licenseId: self.license,
            termsId: 1,
            runId: keccak256(run),
            cumulativeSamples: samples,
            issuedAt: self.issued_at,
        };
        SignedReceipt::sign(&self.domain, &self.training, &receipt).unwrap()
    }
}
