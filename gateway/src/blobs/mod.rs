//! Where the files' bytes live: content-addressed blobs, named by the keccak256 of their bytes,
//! so a file shared by two datasets is stored once and a stored blob is never rewritten.
//!
//! Two stores, one layout (`<first two hex digits>/<hash hex>` under a root):
//! - [`LocalBlobs`], a folder on the local disk: the embedded default, served with `sendfile`-
//!   free but large reads ([`tower_http::services::ServeFile`]);
//! - [`ObjectBlobs`], an S3-compatible bucket (and prefix) for scale, through the `object_store`
//!   crate.
//!
//! Either way a blob appears under its name only whole and right: an upload is hashed as it
//! streams in, and is made visible (a rename on disk, the completion of a multipart upload in a
//! bucket) only when its size and hash are the ones the manifest lists.

mod check;
mod local;
mod object;
mod range;

use std::io;

use alloy::primitives::B256;
use axum::{
    body::{Body, Bytes},
    extract::Request,
    response::Response,
};
use futures::Stream;

pub use local::LocalBlobs;
pub use object::ObjectBlobs;

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// More bytes came than the manifest lists for the file.
    #[error("the upload is larger than the {expected} bytes the manifest lists")]
    TooLarge {
        /// The size the manifest lists.
        expected: u64,
    },
    /// The bytes are not the manifest's.
    #[error("the upload ({size} bytes, keccak256 {hash}) is not the file the manifest lists ({expected_size} bytes, {expected})")]
    Mismatch {
        /// What came.
        size: u64,
        /// Its hash.
        hash: B256,
        /// The listed size.
        expected_size: u64,
        /// The listed hash.
        expected: B256,
    },
    /// The body could not be read.
    #[error("reading the upload: {0}")]
    Body(String),
    /// The storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The storage did not do what was asked (a disk error, an object store that does not answer
/// or refuses the gateway's credentials).
#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StorageError(pub String);

impl From<io::Error> for StorageError {
    fn from(e: io::Error) -> Self {
        Self(e.to_string())
    }
}

impl From<object_store::Error> for StorageError {
    fn from(e: object_store::Error) -> Self {
        Self(e.to_string())
    }
}

impl From<io::Error> for PutError {
    fn from(e: io::Error) -> Self {
        Self::Storage(e.into())
    }
}

impl From<object_store::Error> for PutError {
    fn from(e: object_store::Error) -> Self {
        Self::Storage(e.into())
    }
}

/// The gateway's blob store: a local folder or an S3-compatible bucket.
#[derive(Clone, Debug)]
pub enum Blobs {
    /// A folder on the local disk.
    Local(LocalBlobs),
    /// An S3-compatible bucket.
    Object(ObjectBlobs),
}

impl Blobs {
    /// Opens the store `location` names: `s3://<bucket>[/<prefix>]` for an S3-compatible bucket
    /// (configured as the AWS tools are, from `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`…), anything else a folder
    /// (created if missing).
    ///
    /// # Errors
    ///
    /// If the folder cannot be created or the bucket's settings are incomplete.
    pub fn open(location: &str) -> Result<Self, StorageError> {
        if location.starts_with("s3://") {
            Ok(Self::Object(ObjectBlobs::s3_from_env(location)?))
        } else {
            Ok(Self::Local(LocalBlobs::open(location)?))
        }
    }

    /// Whether the blob `hash` is stored.
    ///
    /// # Errors
    ///
    /// If the storage cannot tell.
    pub async fn contains(&self, hash: B256) -> Result<bool, StorageError> {
        match self {
            Self::Local(b) => b.contains(hash).await,
            Self::Object(b) => b.contains(hash).await,
        }
    }

    /// Stores the bytes of `body` as the blob `expected` of `size` bytes, refusing anything
    /// else; nothing is left visible on a refusal. Returns the bytes' SHA-256.
    ///
    /// # Errors
    ///
    /// [`PutError`]: too large, other bytes, a body that broke off, a storage failure.
    pub async fn put<S, E>(&self, expected: B256, size: u64, body: S) -> Result<B256, PutError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        match self {
            Self::Local(b) => b.put(expected, size, body).await,
            Self::Object(b) => b.put(expected, size, body).await,
        }
    }

    /// Answers `request` (a `GET` or `HEAD`, perhaps with a `Range`) with the bytes of the blob
    /// `hash` of `size` bytes: 200 with the whole blob, 206 with the one range asked, 416 for a
    /// range outside it or more than one range.
    ///
    /// # Errors
    ///
    /// If the storage fails before the answer starts.
    pub async fn serve(
        &self,
        hash: B256,
        size: u64,
        request: Request,
    ) -> Result<Response<Body>, StorageError> {
        match self {
            Self::Local(b) => b.serve(hash, request).await,
            Self::Object(b) => b.serve(hash, size, request.headers()).await,
        }
    }

    /// Whether the storage answers (for `/ready`).
    pub async fn ping(&self) -> bool {
        match self {
            Self::Local(b) => b.ping().await,
            Self::Object(b) => b.ping().await,
        }
    }

    /// Where the blobs are, for the logs.
    pub fn describe(&self) -> String {
        match self {
            Self::Local(b) => b.describe(),
            Self::Object(b) => b.describe(),
        }
    }
}

/// The blob's name under a store's root: `<first two hex digits>/<hash hex>`.
pub fn blob_name(hash: B256) -> String {
    let hex = format!("{hash:x}");
    format!("{}/{hex}", &hex[..2])
}
