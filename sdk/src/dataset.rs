//! Checking a dataset before training on it: the creator's signed manifest is intact, the local
//! copy holds exactly the files it lists, and the license on-chain covers that manifest.

use std::path::Path;

use alloy::{
    primitives::{Address, B256, U256},
    providers::ProviderBuilder,
};
use fairtrain_protocol::{bindings::LicenseNFT, manifest::DatasetManifest};

use crate::error::{Error, Result};

/// What [`verify_dataset`] established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetCheck {
    /// The manifest hash (the EIP-712 digest the creator signed, and what a license records).
    pub manifest_hash: B256,
    /// The creator whose signature the manifest carries.
    pub creator: Address,
    /// Files checked on disk.
    pub files: usize,
    /// The license checked on-chain, if one was given.
    pub license_id: Option<U256>,
    /// The dataset's name, as the manifest states it.
    pub name: String,
    /// The manifest's collection or device metadata (e.g. a quantum device, its qubits and
    /// shots), as the creator signed it.
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// Where to check a license: an RPC endpoint and the `LicenseNFT` contract.
#[derive(Clone, Debug)]
pub struct LicenseSource {
    /// JSON-RPC URL of the chain.
    pub rpc_url: String,
    /// The `LicenseNFT` contract.
    pub license_nft: Address,
    /// The license the training run will pay under.
    pub license_id: U256,
}

/// Verifies the manifest at `manifest_path` (format, files root, creator signature), that
/// `dir` holds exactly its files with the same sizes and content hashes, and, with `license`,
/// that the on-chain license records this manifest's hash and was minted by its creator.
///
/// # Errors
///
/// [`Error::Dataset`] naming the first check that failed.
pub async fn verify_dataset(
    manifest_path: &Path,
    dir: &Path,
    license: Option<&LicenseSource>,
) -> Result<DatasetCheck> {
    let bytes = std::fs::read(manifest_path)
        .map_err(|e| Error::Dataset(format!("reading {}: {e}", manifest_path.display())))?;
    let manifest = DatasetManifest::parse(&bytes)
        .map_err(|e| Error::Dataset(format!("{}: {e}", manifest_path.display())))?;
    let manifest_hash = manifest
        .verify()
        .map_err(|e| Error::Dataset(format!("manifest: {e}")))?;
    manifest
        .verify_folder(dir)
        .map_err(|e| Error::Dataset(format!("folder {}: {e}", dir.display())))?;
    if let Some(source) = license {
        let url = source
            .rpc_url
            .parse()
            .map_err(|e| Error::Dataset(format!("RPC URL {}: {e}", source.rpc_url)))?;
        let provider = ProviderBuilder::new().connect_http(url);
        let record = LicenseNFT::new(source.license_nft, provider)
            .license(source.license_id)
            .call()
            .await
            .map_err(|e| Error::Dataset(format!("reading license {}: {e}", source.license_id)))?;
        manifest
            .check_license(source.license_id, &record)
            .map_err(|e| Error::Dataset(format!("license: {e}")))?;
    }
    Ok(DatasetCheck {
        manifest_hash,
        creator: manifest.creator,
        files: manifest.files.len(),
        license_id: license.map(|l| l.license_id),
        name: manifest.name,
        metadata: manifest.metadata,
    })
}
