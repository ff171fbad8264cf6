//! Where the files' bytes live: content-addressed blobs, named by the keccak256 of their bytes,
//! so a file shared by two datasets is stored once and a stored blob is never rewritten.
//!
//! [`LocalBlobs`] keeps them in a folder (`<root>/<first two hex digits>/<hash hex>`), the
//! embedded default. An upload is written to a temporary file beside the blobs while it is
//! hashed, and renamed into place only when its size and hash are the expected ones: a blob in
//! place is always whole and right, whatever happens to the process.

use std::{
    io,
    path::{Path, PathBuf},
};

use alloy::primitives::B256;
use axum::body::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

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
    /// The disk failed.
    #[error("writing the blob: {0}")]
    Io(#[from] io::Error),
}

/// Blobs in a local folder.
#[derive(Clone, Debug)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    /// Blobs under `root` (created if missing).
    ///
    /// # Errors
    ///
    /// If the folder cannot be created.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(Self { root })
    }

    /// The blob's path (whether or not it exists).
    pub fn path(&self, hash: B256) -> PathBuf {
        let hex = format!("{hash:x}");
        self.root.join(&hex[..2]).join(hex)
    }

    /// Whether the blob is stored.
    pub async fn contains(&self, hash: B256) -> bool {
        tokio::fs::metadata(self.path(hash)).await.is_ok()
    }

    /// Stores the bytes of `body` as the blob `expected` of `size` bytes, refusing anything
    /// else; nothing is left behind on a refusal.
    ///
    /// # Errors
    ///
    /// [`PutError`]: too large, other bytes, a body that broke off, a disk failure.
    pub async fn put<S, E>(&self, expected: B256, size: u64, body: S) -> Result<(), PutError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let temp = Temp(self.root.join("tmp").join(unique(expected)));
        let result = write_checked(&temp.0, expected, size, body).await;
        if result.is_ok() {
            let target = self.path(expected);
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::rename(&temp.0, &target).await?;
        }
        result
    }
}

/// Streams `body` into `path`, hashing it; checks the size as it goes and the hash at the end.
async fn write_checked<S, E>(
    path: &Path,
    expected: B256,
    size: u64,
    mut body: S,
) -> Result<(), PutError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::File::create(path).await?;
    let mut hasher = alloy::primitives::Keccak256::new();
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| PutError::Body(e.to_string()))?;
        written += chunk.len() as u64;
        if written > size {
            return Err(PutError::TooLarge { expected: size });
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await?;
    }
    let hash = hasher.finalize();
    if written != size || hash != expected {
        return Err(PutError::Mismatch {
            size: written,
            hash,
            expected_size: size,
            expected,
        });
    }
    file.sync_all().await?;
    Ok(())
}

/// A temporary file removed when dropped (a no-op once renamed into place).
struct Temp(PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A temporary name no other upload uses at the same time, in this process or another sharing
/// the folder: `<hash>.<process id>.<counter>.part`.
fn unique(hash: B256) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{hash:x}.{}.{}.part",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use alloy::primitives::keccak256;

    use super::*;

    fn body(parts: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn stores_only_the_expected_bytes_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = LocalBlobs::open(dir.path()).unwrap();
        let right = keccak256(b"hello world");

        let wrong = blobs.put(right, 11, body(&[b"hello", b" wor1d"])).await;
        assert!(matches!(wrong, Err(PutError::Mismatch { .. })), "{wrong:?}");
        let long = blobs.put(right, 11, body(&[b"hello world", b"!"])).await;
        assert!(matches!(long, Err(PutError::TooLarge { .. })), "{long:?}");
        let short = blobs.put(right, 11, body(&[b"hello"])).await;
        assert!(
            matches!(short, Err(PutError::Mismatch { size: 5, .. })),
            "{short:?}"
        );
        assert!(!blobs.contains(right).await);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );

        blobs
            .put(right, 11, body(&[b"hello", b" world"]))
            .await
            .unwrap();
        assert_eq!(std::fs::read(blobs.path(right)).unwrap(), b"hello world");
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
