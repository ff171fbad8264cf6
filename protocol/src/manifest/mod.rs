//! Dataset manifests: the signed description of a dataset that a license NFT covers.
//!
//! A [`DatasetManifest`] is a versioned JSON document (docs/manifest.md) naming the dataset,
//! its creator, free-form collection or device metadata, and every file with its size and
//! keccak256 content hash. The files are committed to by [`DatasetManifest::files_root`], the
//! root of a sorted-pair Merkle tree (the crate's [`ReceiptTree`]) over one
//! [`FileEntry::leaf`] per file, so a single file can be proven to belong to the dataset. The
//! creator signs the EIP-712 struct [`typed::Manifest`] under the chain-independent domain
//! [`manifest_domain`]; the EIP-712 digest is the **manifest hash** ([`DatasetManifest::hash`]),
//! the value a license records as `manifestHash`.
//!
//! Verification, in the order a consumer of a dataset performs it:
//!
//! 1. [`DatasetManifest::verify`]: format, paths, files root, and the signature recovers to
//!    the creator. Returns the manifest hash.
//! 2. [`DatasetManifest::verify_folder`]: the local copy holds exactly the listed files.
//! 3. [`DatasetManifest::check_license`] with the on-chain `LicenseNFT.license(id)` record:
//!    the license covers this manifest and was minted by its creator.
//!
//! [`device`] types the quantum device profile a manifest's metadata may carry. [`folder`]
//! lists and hashes folders (synchronous `std::fs`); everything else does no I/O.

use std::{borrow::Cow, collections::BTreeMap};

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    signers::{local::PrivateKeySigner, SignerSync},
    sol_types::{Eip712Domain, SolStruct, SolValue},
};
use serde::{Deserialize, Serialize};

use crate::{
    bindings::License, merkle, merkle::ReceiptTree, signing::ReceiptSignature, wire::decimal,
};

pub mod device;
pub mod error;
pub mod folder;
pub mod path;

pub use device::DeviceProfile;
pub use error::{ManifestError, ManifestResult};
pub use folder::FolderReport;
pub use path::check_path;

/// The manifest format this crate writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The EIP-712 domain name under which creators sign manifests.
pub const MANIFEST_DOMAIN_NAME: &str = "Fairtrain Dataset Manifest";

/// The EIP-712 domain version (follows [`MANIFEST_VERSION`]).
pub const MANIFEST_DOMAIN_VERSION: &str = "1";

/// The EIP-712 type string of [`typed::Manifest`], referenced types appended.
pub const MANIFEST_TYPE: &str = "Manifest(string name,string description,address creator,uint64 createdAt,MetadataEntry[] metadata,bytes32 filesRoot,uint64 fileCount,uint64 totalSize)MetadataEntry(string key,string value)";

/// The EIP-712 struct a creator signs.
pub mod typed {
    #![allow(missing_docs)]
    alloy::sol! {
        /// One metadata entry; entries are signed sorted by key (bytewise).
        #[derive(Debug, PartialEq, Eq)]
        struct MetadataEntry {
            string key;
            string value;
        }

        /// What a creator signs: everything in the manifest document but the file list, which
        /// `filesRoot` commits to.
        #[derive(Debug, PartialEq, Eq)]
        struct Manifest {
            string name;
            string description;
            address creator;
            uint64 createdAt;
            MetadataEntry[] metadata;
            bytes32 filesRoot;
            uint64 fileCount;
            uint64 totalSize;
        }
    }
}

/// The EIP-712 domain of manifests: name [`MANIFEST_DOMAIN_NAME`], version
/// [`MANIFEST_DOMAIN_VERSION`], no chain id and no verifying contract, so that one manifest can
/// back licenses on any chain.
pub fn manifest_domain() -> Eip712Domain {
    Eip712Domain::new(
        Some(Cow::Borrowed(MANIFEST_DOMAIN_NAME)),
        Some(Cow::Borrowed(MANIFEST_DOMAIN_VERSION)),
        None,
        None,
        None,
    )
}

/// One file of a dataset.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to the dataset folder, `/`-separated (see [`check_path`]).
    pub path: String,
    /// Size in bytes.
    #[serde(with = "decimal::u64")]
    pub size: u64,
    /// keccak256 of the file's bytes.
    pub hash: B256,
}

impl FileEntry {
    /// The Merkle leaf of the file: `keccak256(keccak256(abi.encode(path, size, hash)))` with
    /// types `(string, uint256, bytes32)`, the OpenZeppelin `StandardMerkleTree` leaf of
    /// `["string", "uint256", "bytes32"]`.
    pub fn leaf(&self) -> B256 {
        let encoded = (self.path.clone(), U256::from(self.size), self.hash).abi_encode_params();
        keccak256(keccak256(encoded))
    }
}

/// A dataset manifest document (docs/manifest.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatasetManifest {
    /// Format version, [`MANIFEST_VERSION`].
    pub version: u32,
    /// The dataset's name.
    pub name: String,
    /// What the dataset is (may be empty).
    pub description: String,
    /// The creator's address: the key that signs and the account expected to mint licenses.
    pub creator: Address,
    /// Unix seconds when the manifest was made.
    #[serde(with = "decimal::u64")]
    pub created_at: u64,
    /// Collection or device metadata, free-form (e.g. `camera = "X100"`), sorted by key.
    pub metadata: BTreeMap<String, String>,
    /// The files, sorted by path (bytewise), each once.
    pub files: Vec<FileEntry>,
    /// Root of the file tree ([`files_root`]).
    pub files_root: B256,
    /// The creator's 65-byte EIP-712 signature `r ‖ s ‖ v`, absent until signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Bytes>,
}

/// The root of a sorted-pair Merkle tree over the files' leaves, in the files' order (the
/// layout of [`ReceiptTree`]: pairs left to right, a lone node carried up).
///
/// # Errors
///
/// [`ManifestError::NoFiles`] for an empty list.
pub fn files_root(files: &[FileEntry]) -> ManifestResult<B256> {
    Ok(file_tree(files)?.root())
}

fn file_tree(files: &[FileEntry]) -> ManifestResult<ReceiptTree> {
    let leaves: Vec<B256> = files.iter().map(FileEntry::leaf).collect();
    ReceiptTree::from_leaves(&leaves).map_err(|_| ManifestError::NoFiles)
}

/// Checks every path and that paths are strictly ascending (sorted, no repeats).
fn check_files(files: &[FileEntry]) -> ManifestResult<()> {
    if files.is_empty() {
        return Err(ManifestError::NoFiles);
    }
    for (i, file) in files.iter().enumerate() {
        check_path(&file.path)?;
        if i > 0 && files[i - 1].path.as_bytes() >= file.path.as_bytes() {
            return Err(ManifestError::Order {
                path: file.path.clone(),
            });
        }
    }
    Ok(())
}

impl DatasetManifest {
    /// A new, unsigned manifest of `files` (sorted here by path).
    ///
    /// # Errors
    ///
    /// [`ManifestError::NoFiles`], [`ManifestError::Path`], or [`ManifestError::Order`] if a
    /// path repeats.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        creator: Address,
        created_at: u64,
        metadata: BTreeMap<String, String>,
        mut files: Vec<FileEntry>,
    ) -> ManifestResult<Self> {
        files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        check_files(&files)?;
        DeviceProfile::from_metadata(&metadata)?;
        let files_root = files_root(&files)?;
        Ok(Self {
            version: MANIFEST_VERSION,
            name: name.into(),
            description: description.into(),
            creator,
            created_at,
            metadata,
            files,
            files_root,
            signature: None,
        })
    }

    /// Parses a manifest document. This checks the shape only; call [`Self::verify`].
    ///
    /// # Errors
    ///
    /// [`ManifestError::Json`].
    pub fn parse(bytes: &[u8]) -> ManifestResult<Self> {
        serde_json::from_slice(bytes).map_err(ManifestError::Json)
    }

    /// The document as pretty-printed JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a manifest always serializes");
        text.push('\n');
        text
    }

    /// The quantum device profile in the metadata's `device.` entries, if any.
    ///
    /// # Errors
    ///
    /// [`ManifestError::Device`] if those entries are not a valid profile.
    pub fn device(&self) -> ManifestResult<Option<DeviceProfile>> {
        Ok(DeviceProfile::from_metadata(&self.metadata)?)
    }

    /// Total size of the files in bytes.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The EIP-712 struct the creator signs.
    pub fn typed(&self) -> typed::Manifest {
        typed::Manifest {
            name: self.name.clone(),
            description: self.description.clone(),
            creator: self.creator,
            createdAt: self.created_at,
            metadata: self
                .metadata
                .iter()
                .map(|(key, value)| typed::MetadataEntry {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            filesRoot: self.files_root,
            fileCount: self.files.len() as u64,
            totalSize: self.total_size(),
        }
    }

    /// The manifest hash: the EIP-712 digest of [`Self::typed`] under [`manifest_domain`],
    /// `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(manifest))`. This is what the creator
    /// signs and what `LicenseNFT` records as a license's `manifestHash`. It covers every field
    /// but the signature (the files through `filesRoot`).
    pub fn hash(&self) -> B256 {
        self.typed().eip712_signing_hash(&manifest_domain())
    }

    /// Signs the manifest with the creator's key, replacing any earlier signature.
    ///
    /// # Errors
    ///
    /// [`ManifestError::CreatorMismatch`] if `signer` is not the creator,
    /// [`ManifestError::Signing`] if signing fails.
    pub fn sign(&mut self, signer: &PrivateKeySigner) -> ManifestResult<B256> {
        if signer.address() != self.creator {
            return Err(ManifestError::CreatorMismatch {
                creator: self.creator,
                signer: signer.address(),
            });
        }
        let hash = self.hash();
        let signature = signer
            .sign_hash_sync(&hash)
            .map_err(ManifestError::Signing)?
            .normalized_s();
        self.signature = Some(Bytes::copy_from_slice(&signature.as_bytes()));
        Ok(hash)
    }

    /// Checks the document on its own: the version, every path, the order of files, that
    /// `filesRoot` is their root, and that the signature recovers to `creator`. Returns the
    /// manifest hash.
    ///
    /// # Errors
    ///
    /// The first problem found, as a [`ManifestError`].
    pub fn verify(&self) -> ManifestResult<B256> {
        if self.version != MANIFEST_VERSION {
            return Err(ManifestError::Version {
                found: self.version,
            });
        }
        check_files(&self.files)?;
        DeviceProfile::from_metadata(&self.metadata)?;
        let computed = files_root(&self.files)?;
        if computed != self.files_root {
            return Err(ManifestError::FilesRoot {
                stated: self.files_root,
                computed,
            });
        }
        let signature = self.signature.as_ref().ok_or(ManifestError::Unsigned)?;
        let hash = self.hash();
        let recovered = ReceiptSignature::from_slice(signature)
            .and_then(|s| s.recover(&hash))
            .map_err(ManifestError::Signature)?;
        if recovered != self.creator {
            return Err(ManifestError::SignerMismatch {
                creator: self.creator,
                recovered,
            });
        }
        Ok(hash)
    }

    /// Checks a license's on-chain record (`LicenseNFT.license(licenseId)`) against the
    /// manifest: its `manifestHash` is this manifest's hash and it was minted by the creator.
    ///
    /// # Errors
    ///
    /// [`ManifestError::LicenseManifest`] or [`ManifestError::LicenseCreator`].
    pub fn check_license(&self, license_id: U256, record: &License::Record) -> ManifestResult<()> {
        let expected = self.hash();
        if record.manifestHash != expected {
            return Err(ManifestError::LicenseManifest {
                license_id,
                on_chain: record.manifestHash,
                expected,
            });
        }
        if record.creator != self.creator {
            return Err(ManifestError::LicenseCreator {
                license_id,
                minter: record.creator,
                creator: self.creator,
            });
        }
        Ok(())
    }

    /// The Merkle proof that the file at `index` belongs to the manifest: verify it with
    /// [`merkle::verify`]`(proof, files_root, files[index].leaf())` or OpenZeppelin's
    /// `MerkleProof.verify`.
    ///
    /// # Errors
    ///
    /// [`ManifestError::NoFiles`] for a manifest without files. An index out of range gives
    /// `Ok(None)`.
    pub fn file_proof(&self, index: usize) -> ManifestResult<Option<Vec<B256>>> {
        let tree = file_tree(&self.files)?;
        Ok(tree.proof(index).ok())
    }
}

/// Whether `proof` proves `file` under `files_root` (sorted-pair keccak, as
/// [`merkle::verify`]).
pub fn verify_file(proof: &[B256], files_root: B256, file: &FileEntry) -> bool {
    merkle::verify(proof, files_root, file.leaf())
}

#[cfg(test)]
mod tests;
