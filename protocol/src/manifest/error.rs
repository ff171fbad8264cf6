//! What can go wrong building, signing or verifying a dataset manifest.

use std::path::PathBuf;

use alloy::primitives::{Address, B256, U256};

use super::{folder::FolderReport, MANIFEST_VERSION};

/// Result with [`ManifestError`].
pub type ManifestResult<T> = core::result::Result<T, ManifestError>;

/// Everything that can go wrong with a dataset manifest, each variant saying what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The bytes are not a manifest document (bad JSON, a missing or unknown field, a number
    /// that is not a decimal string).
    #[error("not a valid manifest document: {0}")]
    Json(#[source] serde_json::Error),
    /// The document has a format version this crate does not read.
    #[error("manifest version {found} is not supported (expected {MANIFEST_VERSION})")]
    Version {
        /// The version found.
        found: u32,
    },
    /// A file path breaks the path rules (relative, `/`-separated, no `.`/`..`/empty segments,
    /// no backslash or control characters).
    #[error("file path {path:?} is not allowed: {reason}")]
    Path {
        /// The offending path.
        path: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// Files are not in strictly ascending byte order of their paths (or a path repeats).
    #[error("file {path:?} is out of order or repeated: files must be sorted by path, each once")]
    Order {
        /// The first path out of place.
        path: String,
    },
    /// A manifest must list at least one file.
    #[error("the manifest lists no files (is the folder empty?)")]
    NoFiles,
    /// The document's `filesRoot` is not the root of its files.
    #[error("filesRoot {stated} does not match the files listed (their root is {computed})")]
    FilesRoot {
        /// The root the document states.
        stated: B256,
        /// The root recomputed from `files`.
        computed: B256,
    },
    /// The manifest has no signature yet.
    #[error("the manifest is not signed (run `fairtrain manifest sign`)")]
    Unsigned,
    /// The `device.` metadata entries are not a valid device profile (docs/manifest.md §7).
    #[error(transparent)]
    Device(#[from] super::device::DeviceError),
    /// The signature is malformed, malleable or unrecoverable.
    #[error("the manifest signature is invalid")]
    Signature(#[source] crate::Error),
    /// The signature was made by another key than the manifest's creator.
    #[error("the manifest is signed by {recovered}, but its creator is {creator}: the document was altered after signing, or signed with the wrong key")]
    SignerMismatch {
        /// The creator named in the document.
        creator: Address,
        /// The key that signed.
        recovered: Address,
    },
    /// Signing was asked of a key that is not the manifest's creator.
    #[error("the manifest's creator is {creator}, but the signing key is {signer}")]
    CreatorMismatch {
        /// The creator named in the document.
        creator: Address,
        /// The signing key's address.
        signer: Address,
    },
    /// The key failed to sign.
    #[error("signing the manifest failed")]
    Signing(#[source] alloy::signers::Error),
    /// Reading a file or folder failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A folder holds something other than regular files and folders (a symlink, a socket...),
    /// which could point outside the dataset.
    #[error("{path} is not a regular file or folder (symlinks and special files are not allowed in a dataset)")]
    NotRegular {
        /// The entry.
        path: PathBuf,
    },
    /// A file name is not valid UTF-8.
    #[error("{path} has a name that is not valid UTF-8")]
    NonUtf8 {
        /// The entry.
        path: PathBuf,
    },
    /// A folder does not match the manifest.
    #[error("the folder does not match the manifest: {0}")]
    FolderMismatch(FolderReport),
    /// A license's `manifestHash` is not this manifest's hash.
    #[error("license {license_id} covers manifest {on_chain}, not this manifest ({expected})")]
    LicenseManifest {
        /// The license.
        license_id: U256,
        /// The manifest hash recorded on-chain.
        on_chain: B256,
        /// This manifest's hash.
        expected: B256,
    },
    /// A license was minted by another account than the manifest's creator.
    #[error(
        "license {license_id} was minted by {minter}, but the manifest's creator is {creator}"
    )]
    LicenseCreator {
        /// The license.
        license_id: U256,
        /// The license record's creator.
        minter: Address,
        /// The manifest's creator.
        creator: Address,
    },
}
