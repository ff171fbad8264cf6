//! Blobs in a local folder (`<root>/<first two hex digits>/<hash hex>`), the embedded default.
//! An upload is written to a temporary file beside the blobs while it is
//! hashed, and renamed into place only when its size and hash are the expected ones: a blob in
//! place is always whole and right, whatever happens to the process.

use std::path::{Path, PathBuf};

use alloy::primitives::B256;
use axum::{
    body::{Body, Bytes},
    extract::Request,
    response::{IntoResponse, Response},
};
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use tower::ServiceExt;

use super::{blob_name, check::Expected, PutError, StorageError};

/// Bytes read from the blob per chunk sent: 1 MiB moves a large file at about twice the rate of
/// tower-http's 64 KiB default (`gateway/benches/download.rs`).
const READ_CHUNK: usize = 1 << 20;

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
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(Self { root })
    }

    /// The blob's path (whether or not it exists).
    pub fn path(&self, hash: B256) -> PathBuf {
        self.root.join(blob_name(hash))
    }

    /// Whether the blob is stored.
    ///
    /// # Errors
    ///
    /// If the disk cannot tell.
    pub async fn contains(&self, hash: B256) -> Result<bool, StorageError> {
        match tokio::fs::metadata(self.path(hash)).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the bytes of `body` as the blob `expected` of `size` bytes, refusing anything
    /// else; nothing is left behind on a refusal. Returns the bytes' SHA-256.
    ///
    /// # Errors
    ///
    /// [`PutError`]: too large, other bytes, a body that broke off, a disk failure.
    pub async fn put<S, E>(&self, expected: B256, size: u64, body: S) -> Result<B256, PutError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let temp = Temp(self.root.join("tmp").join(unique(expected)));
        let sha256 = write_checked(&temp.0, Expected::new(expected, size), body).await?;
        let target = self.path(expected);
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(&temp.0, &target).await?;
        Ok(sha256)
    }

    /// Answers `request` with the blob, its `Range` included.
    ///
    /// # Errors
    ///
    /// If the disk fails before the answer starts.
    pub async fn serve(&self, hash: B256, request: Request) -> Result<Response, StorageError> {
        let served = tower_http::services::ServeFile::new(self.path(hash))
            .with_buf_chunk_size(READ_CHUNK)
            .oneshot(request)
            .await
            .map_err(|e| StorageError(e.to_string()))?;
        Ok(served.map(Body::new).into_response())
    }

    /// Whether the folder is there.
    pub async fn ping(&self) -> bool {
        tokio::fs::metadata(&self.root).await.is_ok()
    }

    /// The folder, for the logs.
    pub fn describe(&self) -> String {
        format!("folder {}", self.root.display())
    }
}

/// Streams `body` into `path`, checking it as it goes; the file is synced to the disk only when
/// the check passes. Returns the bytes' SHA-256.
async fn write_checked<S, E>(
    path: &Path,
    mut check: Expected,
    mut body: S,
) -> Result<B256, PutError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::File::create(path).await?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| PutError::Body(e.to_string()))?;
        check.take(&chunk)?;
        file.write_all(&chunk).await?;
    }
    let sha256 = check.finish()?;
    file.sync_all().await?;
    Ok(sha256)
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
        assert!(!blobs.contains(right).await.unwrap());
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
