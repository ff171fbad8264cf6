//! An upload checked as it streams: never more bytes than the manifest lists, and at the end
//! exactly its size and keccak256. Its SHA-256 is computed on the way (for clients that check
//! files by SHA-256, such as Croissant readers).

use alloy::primitives::{Keccak256, B256};
use aws_lc_rs::digest::{Context, SHA256};

use super::PutError;

/// The running check of one upload against the file the manifest lists.
pub(super) struct Expected {
    hash: B256,
    size: u64,
    hasher: Keccak256,
    sha256: Context,
    seen: u64,
}

impl Expected {
    /// The check of a file of `size` bytes hashing to `hash`.
    pub(super) fn new(hash: B256, size: u64) -> Self {
        Self {
            hash,
            size,
            hasher: Keccak256::new(),
            sha256: Context::new(&SHA256),
            seen: 0,
        }
    }

    /// Takes the next chunk.
    ///
    /// # Errors
    ///
    /// [`PutError::TooLarge`] once more bytes came than listed.
    pub(super) fn take(&mut self, chunk: &[u8]) -> Result<(), PutError> {
        self.seen += chunk.len() as u64;
        if self.seen > self.size {
            return Err(PutError::TooLarge {
                expected: self.size,
            });
        }
        self.hasher.update(chunk);
        self.sha256.update(chunk);
        Ok(())
    }

    /// Ends the check; the bytes' SHA-256 when they are the listed ones.
    ///
    /// # Errors
    ///
    /// [`PutError::Mismatch`] if the size or the hash is not the listed one.
    pub(super) fn finish(self) -> Result<B256, PutError> {
        let hash = self.hasher.finalize();
        if self.seen == self.size && hash == self.hash {
            Ok(B256::from_slice(self.sha256.finish().as_ref()))
        } else {
            Err(PutError::Mismatch {
                size: self.seen,
                hash,
                expected_size: self.size,
                expected: self.hash,
            })
        }
    }
}
