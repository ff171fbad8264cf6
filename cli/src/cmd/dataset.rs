//! `fairtrain dataset publish|get`: datasets through a gateway (docs/gateway.md).
//!
//! `publish` sends a signed manifest and the folder's files to a gateway (the creator's key
//! signs the publish request). `get` asks a gateway for a license's dataset with a request the
//! payer's key (or a key it registered) signs, downloads it with resume, and checks every file
//! against the manifest the license records on-chain.

use std::path::PathBuf;

use alloy::primitives::{Address, B256, U256};
use clap::{Args, Subcommand};
use fairtrain_protocol::{
    api::gateway::Dataset,
    gateway::client::{ClientError, GatewayClient, GetError},
    DatasetManifest,
};
use serde::Serialize;

use crate::{
    chain::Chain,
    error::{CliError, Result},
    output::Render,
};

/// Dataset subcommands.
#[derive(Debug, Subcommand)]
pub enum DatasetCmd {
    /// Publish a signed manifest and its folder's files to a gateway (the creator's key).
    Publish(PublishArgs),
    /// Download a license's dataset from a gateway, resuming and verifying every file.
    Get(GetArgs),
}

/// `dataset publish`.
#[derive(Clone, Debug, Args)]
pub struct PublishArgs {
    /// The dataset's folder.
    pub dir: PathBuf,
    /// Its signed manifest.
    #[arg(long)]
    pub manifest: PathBuf,
    /// The gateway's URL.
    #[arg(long, env = "FAIRTRAIN_GATEWAY")]
    pub gateway: String,
}

/// `dataset get`.
#[derive(Clone, Debug, Args)]
pub struct GetArgs {
    /// The license whose dataset to download.
    pub license_id: U256,
    /// The gateway's URL.
    #[arg(long, env = "FAIRTRAIN_GATEWAY")]
    pub gateway: String,
    /// Where to put the files (created if missing; an interrupted download resumes there).
    #[arg(long)]
    pub out: PathBuf,
    /// The terms version accepted [default: the license's current terms].
    #[arg(long)]
    pub terms: Option<u64>,
    /// The payer, when the key is one of its registered signing keys [default: the key's
    /// address].
    #[arg(long)]
    pub payer: Option<Address>,
}

/// What `publish` reports.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    /// The gateway.
    pub gateway: String,
    /// The dataset as the gateway holds it.
    pub dataset: Dataset,
}

impl Render for Published {
    fn text(&self) -> String {
        let d = &self.dataset;
        format!(
            "published {} ({:?}) to {}: {} of {} files stored, {} bytes{}",
            d.manifest_hash,
            d.name,
            self.gateway,
            d.files_stored,
            d.file_count,
            d.total_size,
            if d.complete { "" } else { " (incomplete)" }
        )
    }
}

/// What `get` reports.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Got {
    /// The license.
    pub license_id: U256,
    /// The dataset.
    pub manifest_hash: B256,
    /// Where its files are.
    pub path: PathBuf,
    /// Files downloaded now.
    pub downloaded: usize,
    /// Of those, resumed.
    pub resumed: usize,
    /// Files already there and right.
    pub kept: usize,
    /// Bytes received.
    pub bytes: u64,
    /// The gateway's access id (its log's key).
    pub access_id: B256,
    /// The digest of the receipt that paid for the access (terms priced per access).
    pub receipt: Option<B256>,
}

impl Render for Got {
    fn text(&self) -> String {
        let paid = self
            .receipt
            .map(|r| format!("; paid by receipt {r}"))
            .unwrap_or_default();
        format!(
            "license {}: dataset {} verified in {} ({} files downloaded, {} resumed, {} already there; {} bytes received; access {}{paid})",
            self.license_id,
            self.manifest_hash,
            self.path.display(),
            self.downloaded,
            self.resumed,
            self.kept,
            self.bytes,
            self.access_id
        )
    }
}

fn gateway_error(action: &str) -> impl FnOnce(ClientError) -> CliError + '_ {
    move |e| CliError::Invalid(format!("{action}: {e}"))
}

/// `dataset publish`.
///
/// # Errors
///
/// The manifest does not verify or is not the key's, or the gateway refuses.
pub async fn publish(
    args: &PublishArgs,
    key: &alloy::signers::local::PrivateKeySigner,
) -> Result<Published> {
    let bytes = std::fs::read(&args.manifest).map_err(|source| CliError::Io {
        path: args.manifest.clone(),
        source,
    })?;
    let manifest = DatasetManifest::parse(&bytes)?;
    manifest.verify()?;
    if manifest.creator != key.address() {
        return Err(CliError::Invalid(format!(
            "the manifest's creator is {}, the key is {}: publish with the creator's key",
            manifest.creator,
            key.address()
        )));
    }
    manifest.verify_folder(&args.dir)?;
    let client = GatewayClient::new(&args.gateway).map_err(gateway_error("gateway"))?;
    let dataset = client
        .publish(&manifest, &args.dir, key)
        .await
        .map_err(gateway_error("publishing"))?;
    Ok(Published {
        gateway: args.gateway.clone(),
        dataset,
    })
}

/// `dataset get`.
///
/// # Errors
///
/// The license is unknown, the gateway refuses (the chain does not entitle the payer), or a
/// file is not the manifest's.
pub async fn get(chain: &Chain, args: &GetArgs) -> Result<Got> {
    let key = chain.signer()?;
    let client = GatewayClient::new(&args.gateway).map_err(gateway_error("gateway"))?;
    let payer = args.payer.unwrap_or_else(|| key.address());
    let fetched = client
        .get_licensed(
            &chain.nft(),
            args.license_id,
            args.terms,
            key,
            payer,
            &args.out,
        )
        .await
        .map_err(|e| match e {
            GetError::Chain { what, source } => CliError::from_contract(what, source),
            GetError::License(e) => e.into(),
            GetError::Gateway { action, source } => gateway_error(action)(source),
            unit @ GetError::Unit { .. } => CliError::Invalid(unit.to_string()),
        })?;
    let report = fetched.report;
    Ok(Got {
        license_id: args.license_id,
        manifest_hash: fetched.grant.manifest_hash,
        path: args.out.clone(),
        downloaded: report.downloaded,
        resumed: report.resumed,
        kept: report.kept,
        bytes: report.bytes,
        access_id: fetched.grant.access_id,
        receipt: fetched.grant.receipt,
    })
}
