//! Checking a dataset before training on it: the creator's signed manifest is intact, the local
//! copy holds exactly the files it lists, and the license on-chain covers that manifest; and
//! getting a licensed dataset from a data gateway ([`open_dataset`]).

use std::path::{Path, PathBuf};

use alloy::{
    primitives::{Address, B256, U256},
    providers::ProviderBuilder,
    signers::local::PrivateKeySigner,
};
use fairtrain_protocol::{
    bindings::LicenseNFT,
    gateway::client::{ClientError, Fetched, GatewayClient, GetError},
    manifest::DatasetManifest,
};

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

/// What [`open_dataset`] needs besides the license.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// The gateway's URL.
    pub gateway: String,
    /// Where the files go (created if missing; an interrupted download resumes there).
    pub out: PathBuf,
    /// The payer, when `key` is one of its registered signing keys (default: `key`'s address).
    pub payer: Option<Address>,
    /// The accepted terms version (default: the license's current terms).
    pub terms: Option<u64>,
}

/// What [`open_dataset`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The dataset's folder, every file verified.
    pub path: PathBuf,
    /// The signed manifest, written next to it (`<out>.manifest.json`).
    pub manifest_path: PathBuf,
    /// The check of the folder against the manifest and the license.
    pub check: DatasetCheck,
    /// Files downloaded now (in whole or in part).
    pub downloaded: usize,
    /// Of those, resumed from a partial file.
    pub resumed: usize,
    /// Files already there and right.
    pub kept: usize,
    /// Bytes received.
    pub bytes: u64,
    /// The gateway's access id (the key of its access log).
    pub access_id: B256,
    /// The digest of the receipt that paid for the access, under terms priced per access.
    pub receipt: Option<B256>,
}

fn gateway(e: ClientError) -> Error {
    match e {
        ClientError::Refused {
            status,
            code,
            message,
        } => Error::Gateway {
            status,
            code,
            message,
        },
        ClientError::Http(e) => Error::Gateway {
            status: 0,
            code: "unreachable".into(),
            message: e.to_string(),
        },
        other => Error::Dataset(other.to_string()),
    }
}

/// Gets the dataset of `license.license_id` from a gateway: reads the license on-chain, fetches
/// and checks the manifest it records (signed by the license's creator), asks for access with a
/// request `key` signs (and, under terms priced per access, the receipt that pays for it), downloads every file into `options.out` (resuming partial files),
/// checks each against the manifest as it arrives, checks the folder holds no other file, and
/// writes the manifest to `<out>.manifest.json`.
///
/// # Errors
///
/// [`Error::Gateway`] with the gateway's code when it refuses (for example
/// `terms_not_accepted`), [`Error::Dataset`] when a file or the manifest is not the licensed
/// one (a tampered file is deleted, never left in place).
pub async fn open_dataset(
    license: &LicenseSource,
    key: &PrivateKeySigner,
    options: &OpenOptions,
) -> Result<Opened> {
    let url = license
        .rpc_url
        .parse()
        .map_err(|e| Error::Dataset(format!("RPC URL {}: {e}", license.rpc_url)))?;
    let nft = LicenseNFT::new(
        license.license_nft,
        ProviderBuilder::new().connect_http(url),
    );
    let id = license.license_id;
    let client = GatewayClient::new(&options.gateway).map_err(gateway)?;
    let payer = options.payer.unwrap_or_else(|| key.address());
    let Fetched {
        manifest,
        grant,
        report,
    } = client
        .get_licensed(&nft, id, options.terms, key, payer, &options.out)
        .await
        .map_err(|e| match e {
            GetError::Gateway { source, .. } => gateway(source),
            GetError::License(e) => Error::Dataset(format!("license: {e}")),
            other => Error::Dataset(format!("license {id}: {other}")),
        })?;
    // Every listed file was hashed as it arrived (or, already there, before it was kept), and
    // the license was checked above: what is left is that the folder holds nothing else. The
    // bytes are not read a second time.
    let extra = manifest
        .unlisted_files(&options.out)
        .map_err(|e| Error::Dataset(format!("folder {}: {e}", options.out.display())))?;
    if !extra.is_empty() {
        return Err(Error::Dataset(format!(
            "folder {}: files the manifest does not list: {}",
            options.out.display(),
            extra.join(", ")
        )));
    }
    let manifest_path = PathBuf::from(format!("{}.manifest.json", options.out.display()));
    std::fs::write(&manifest_path, manifest.to_json())
        .map_err(|e| Error::Dataset(format!("writing {}: {e}", manifest_path.display())))?;
    let check = DatasetCheck {
        manifest_hash: grant.manifest_hash,
        creator: manifest.creator,
        files: manifest.files.len(),
        license_id: Some(id),
        name: manifest.name.clone(),
        metadata: manifest.metadata.clone(),
    };
    Ok(Opened {
        path: options.out.clone(),
        manifest_path,
        check,
        downloaded: report.downloaded,
        resumed: report.resumed,
        kept: report.kept,
        bytes: report.bytes,
        access_id: grant.access_id,
        receipt: grant.receipt,
    })
}
