//! The scenario the end-to-end suites start from, set up the way users would, through the real
//! `fairtrain` CLI: a creator builds and signs a dataset manifest and mints its license; a payer
//! deposits, accepts the license's terms, registers a training key and funds a credit line for
//! the relayer account; the chain's clock then passes the notice period, so usage is
//! chargeable. Used by the Rust end-to-end tests and by `fairtrain-devnet` (the Python suite's
//! devnet).

use std::path::{Path, PathBuf};

use alloy::primitives::U256;
use fairtrain_protocol::bindings::LicenseNFT;

use crate::{
    devnet::{Devnet, NOTICE},
    keys::address,
};

/// Creates the dataset and mints its license.
pub const CREATOR: usize = 1;
/// Funds a training budget.
pub const PAYER: usize = 2;
/// Operates the relayer.
pub const RELAYER: usize = 4;
/// The payer's training key (signs receipts).
pub const TRAINING: usize = 5;

/// The license's price: 0.001 fUSD (6 decimals) per sample, in token units.
pub const PRICE: u64 = 1_000;
/// The payer's deposit: 100 fUSD.
pub const DEPOSIT: u64 = 100_000_000;
/// The payer's credit line for the relayer account: 50 fUSD.
pub const CREDIT: u64 = 50_000_000;

/// What [`licensed_payer`] set up.
#[derive(Clone, Debug)]
pub struct Licensed {
    /// The license minted (1 on a fresh devnet).
    pub license: U256,
    /// Its current terms version, which the payer accepted.
    pub terms: u64,
    /// The signed manifest.
    pub manifest: PathBuf,
    /// The dataset's folder.
    pub data: PathBuf,
}

/// Writes a small dataset folder (two images and a label file; `flavour` varies their bytes).
///
/// # Panics
///
/// If the files cannot be written.
pub fn dataset(dir: &Path, flavour: &str) {
    for (path, content) in [
        ("images/001.jpg", format!("jpeg one {flavour}")),
        ("images/002.jpg", format!("jpeg two {flavour}")),
        (
            "labels.csv",
            "file,label\n001.jpg,cat\n002.jpg,dog\n".to_owned(),
        ),
    ] {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().expect("a folder")).expect("the dataset's folder");
        std::fs::write(full, content).expect("a dataset file");
    }
}

/// Sets up the scenario on `devnet` (see the module's documentation) and moves the clock past
/// the notice period.
///
/// # Panics
///
/// If a CLI call fails or the chain does not show what it did.
pub async fn licensed_payer(devnet: &Devnet) -> Licensed {
    let (data, manifest) = dataset_minted(
        devnet,
        "photos",
        "a",
        "Street photos",
        &[
            "--template",
            "research",
            "--price",
            "0.001",
            "--royalty-bps",
            "500",
        ],
        1,
    );
    let license = U256::from(1);
    let terms = current_terms(devnet, license).await;

    devnet.fund(address(PAYER), 1_000).await;
    devnet.cli(PAYER, &["payer", "deposit", "100"]);
    devnet.cli(PAYER, &["payer", "accept", "1"]);
    devnet.cli(
        PAYER,
        &[
            "payer",
            "signer",
            "register",
            &address(TRAINING).to_string(),
        ],
    );
    let funded = devnet.cli(
        PAYER,
        &[
            "payer",
            "credit",
            "fund",
            "--relayer",
            &address(RELAYER).to_string(),
            "--amount",
            "50",
        ],
    );
    assert!(
        funded.contains("into the credit line of relayer"),
        "{funded}"
    );
    devnet.advance(NOTICE + 1).await;
    Licensed {
        license,
        terms,
        manifest,
        data,
    }
}

/// The price of [`access_priced`]'s license: 2 fUSD an access, in token units.
pub const ACCESS_PRICE: u64 = 2_000_000;

/// After [`licensed_payer`]: mints license 2 over a second dataset ("Scans"), priced per access
/// at [`ACCESS_PRICE`], and has the payer accept it. The acceptance's notice period is still
/// running (move the clock past [`NOTICE`] to charge it).
///
/// # Panics
///
/// If a CLI call fails or the chain does not show what it did.
pub async fn access_priced(devnet: &Devnet) -> Licensed {
    let (data, manifest) = dataset_minted(
        devnet,
        "scans",
        "scans",
        "Scans",
        &["--template", "research", "--unit", "access", "--price", "2"],
        2,
    );
    let license = U256::from(2);
    let terms = current_terms(devnet, license).await;
    devnet.cli(PAYER, &["payer", "accept", "2"]);
    Licensed {
        license,
        terms,
        manifest,
        data,
    }
}

/// Writes the dataset `name` (bytes varied by `flavour`), builds and signs its manifest titled
/// `title` as the creator, and mints license `expected` over it with the `mint` arguments.
fn dataset_minted(
    devnet: &Devnet,
    name: &str,
    flavour: &str,
    title: &str,
    mint: &[&str],
    expected: u64,
) -> (PathBuf, PathBuf) {
    let dir = devnet.dir.path();
    let data = dir.join(name);
    dataset(&data, flavour);
    let manifest = dir.join(format!("{name}.json"));
    let (data_arg, manifest_arg) = (data.display().to_string(), manifest.display().to_string());
    devnet.cli(
        CREATOR,
        &[
            "manifest",
            "build",
            &data_arg,
            "--name",
            title,
            "--sign",
            "--out",
            &manifest_arg,
        ],
    );
    let mut args = vec!["license", "mint", "--manifest", &manifest_arg];
    args.extend_from_slice(mint);
    let minted = devnet.cli(CREATOR, &args);
    assert!(minted.contains(&format!("license {expected}")), "{minted}");
    (data, manifest)
}

/// The current terms version of `license`.
async fn current_terms(devnet: &Devnet, license: U256) -> u64 {
    LicenseNFT::new(devnet.deployment.license_nft, devnet.provider.clone())
        .currentTerms(license)
        .call()
        .await
        .expect("the license's terms")
        .termsId
}
