//! Requests and responses of a data gateway's HTTP API (`/v1/...`); see `docs/gateway.md`.
//! The signed requests themselves are in [`crate::gateway`].
//!
//! Every name is camelCase; integers that may pass 2^53 are decimal strings; addresses are
//! written EIP-55 checksummed, hashes as 0x-prefixed hex. Errors answer in
//! [`super::ErrorBody`].

use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use super::relayer::{eip55, DomainInfo};
#[cfg(feature = "openapi")]
#[allow(unused_imports)]
use crate::schema::{AddressHex, Decimal, Hash32};
use crate::{
    gateway::{PublishRequest, Signed},
    wire::decimal,
};

/// The answer to `GET /v1/info`: what the gateway's requests are signed for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Info {
    /// The gateway's public URL: the `gateway` field of every request signed for it.
    pub gateway: String,
    /// The EIP-712 domain of requests (`Fairtrain Gateway`, `1`, chain id, escrow).
    pub domain: DomainInfo,
    /// How long a download grant lasts, in seconds.
    pub grant_seconds: u64,
    /// The longest a signed request may be valid for, in seconds.
    pub max_request_seconds: u64,
    /// Largest dataset published, in bytes (all files).
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub max_dataset_bytes: u64,
    /// Most files in one dataset.
    pub max_files: usize,
    /// The relayer that receipts for `access`-priced datasets are forwarded to (docs/gateway.md
    /// §5): the payer needs a credit line for it. Absent when the gateway serves no such
    /// dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relayer: Option<String>,
}

/// The body of `POST /v1/datasets`: a signed manifest and the creator's signed request to
/// publish it here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Publish {
    /// The signed manifest document (docs/manifest.md §1), as a JSON object.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub manifest: serde_json::Value,
    /// The creator's publish request for that manifest.
    pub publish: Signed<PublishRequest>,
}

/// A published dataset as the gateway holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dataset {
    /// The manifest hash (what licenses record).
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub manifest_hash: B256,
    /// The manifest's creator.
    #[serde(with = "eip55")]
    #[cfg_attr(feature = "openapi", schema(value_type = AddressHex))]
    pub creator: Address,
    /// The manifest's name.
    pub name: String,
    /// Files listed.
    pub file_count: u64,
    /// Their total size, in bytes.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub total_size: u64,
    /// Files whose bytes the gateway holds.
    pub files_stored: u64,
    /// Whether every file is stored: only then are its files served.
    pub complete: bool,
    /// When the manifest was published here (unix seconds).
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub published_at: u64,
}

/// A page of `GET /v1/datasets`, in order of publication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatasetPage {
    /// The datasets.
    pub datasets: Vec<Dataset>,
    /// The `after` of the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One file of a published dataset, as the gateway holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatasetFile {
    /// Position in the manifest (from 0).
    pub index: u64,
    /// The file's path.
    pub path: String,
    /// Its size in bytes.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub size: u64,
    /// Its keccak256, as the creator's signed manifest lists it.
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub hash: B256,
    /// Its SHA-256, computed by the gateway from the bytes it stored (whose keccak256 it checked
    /// against the manifest); absent until the file is stored. Not signed by the creator: the
    /// gateway's word, checkable by anyone who downloads the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Hash32>))]
    pub sha256: Option<B256>,
    /// Whether the gateway holds the bytes.
    pub stored: bool,
}

/// A page of a dataset's files, in manifest order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FilePage {
    /// The files.
    pub files: Vec<DatasetFile>,
    /// The `after` of the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The answer to `PUT /v1/datasets/{hash}/files/{path}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stored {
    /// The file's path.
    pub path: String,
    /// Its keccak256, checked against the manifest.
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub hash: B256,
    /// The dataset after the upload.
    pub dataset: Dataset,
}

/// The answer to `POST /v1/access`: a grant to download a dataset's files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Grant {
    /// The access's id: the signed request's EIP-712 digest.
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub access_id: B256,
    /// The dataset.
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub manifest_hash: B256,
    /// The license that entitles the access.
    #[serde(with = "decimal::u256")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub license_id: U256,
    /// The accepted terms version.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub terms_id: u64,
    /// The payer.
    #[serde(with = "eip55")]
    #[cfg_attr(feature = "openapi", schema(value_type = AddressHex))]
    pub payer: Address,
    /// From when usage under the acceptance is chargeable (unix seconds; it may lie ahead:
    /// docs/gateway.md §4 says why the data is served in the notice period).
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub chargeable_from: u64,
    /// When the grant ends (unix seconds); ask again after.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub expires_at: u64,
    /// What the terms are priced per. Under `access` terms the grant was paid for by the
    /// request's receipt (`receipt`); under the others, usage is paid by the payer's own
    /// receipts (per sample, per inference), not by the access.
    pub unit: crate::pricing::Unit,
    /// The EIP-712 digest of the receipt that paid for this access (`access` terms only), as the
    /// relayer stored it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Hash32>))]
    pub receipt: Option<B256>,
    /// The grant, for the `grant` query parameter of file downloads.
    pub token: String,
    /// Where the files are: `{files}/{path}?grant={token}` downloads one.
    pub files: String,
}

/// One file's proof against the manifest's files root (docs/manifest.md §3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileProof {
    /// The file's path.
    pub path: String,
    /// Its size in bytes.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub size: u64,
    /// Its keccak256.
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub hash: B256,
    /// The manifest's files root.
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub files_root: B256,
    /// Sibling hashes from the leaf up (OpenZeppelin `MerkleProof`).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Hash32>))]
    pub proof: Vec<B256>,
}

/// One entry of a dataset's access log: a grant, or a download made with one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessEntry {
    /// Position in the gateway's log (increasing).
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub seq: u64,
    /// `grant` or `download`.
    pub kind: String,
    /// The dataset.
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub manifest_hash: B256,
    /// The access (the signed request's digest).
    #[cfg_attr(feature = "openapi", schema(value_type = Hash32))]
    pub access_id: B256,
    /// The payer.
    #[serde(with = "eip55")]
    #[cfg_attr(feature = "openapi", schema(value_type = AddressHex))]
    pub payer: Address,
    /// The key that signed the request (the payer or one of its registered keys).
    #[serde(with = "eip55")]
    #[cfg_attr(feature = "openapi", schema(value_type = AddressHex))]
    pub signer: Address,
    /// The license.
    #[serde(with = "decimal::u256")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub license_id: U256,
    /// The accepted terms version.
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub terms_id: u64,
    /// A download's file path (absent for a grant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A download's `Range` header as sent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// When (unix seconds).
    #[serde(with = "decimal::u64")]
    #[cfg_attr(feature = "openapi", schema(value_type = Decimal))]
    pub at: u64,
    /// A grant under terms priced per access: the EIP-712 digest of the receipt that paid for
    /// it, as the gateway's relayer stored it (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Hash32>))]
    pub receipt: Option<B256>,
}

/// A page of `GET /v1/datasets/{hash}/accesses` or of `GET /v1/accesses`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessPage {
    /// The entries, by `seq`.
    pub accesses: Vec<AccessEntry>,
    /// The `after` of the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}
