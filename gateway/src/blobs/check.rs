//! An upload checked as it streams: never more bytes than the manifest lists, and at the end
//! exactly its size and keccak256.

use alloy::primitives::{Keccak256, B256};

use super::PutError;

/// The running check of one upload against the file the manifest lists.
pub(super) struct Expected {
    hash: B256,
    size: u64,
    hasher: Keccak256,
    seen: u64,
}

impl Expected {
    /// The check of a file of `size` bytes hashing to `hash`.
    pub(super) fn new(hash: B256, size: u64) -> Self {
        Self {
            hash,
            size,
            hasher: Keccak256::new(),
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
        Ok(())
    }

    /// Ends the check.
    ///
    /// # Errors
    ///
    /// [`PutError::Mismatch`] if the size or the hash is not the listed one.
    pub(super) fn finish(self) -> Result<(), PutError> {
        let hash = self.hasher.finalize();
        if self.seen == self.size && hash == self.hash {
            Ok(())
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
