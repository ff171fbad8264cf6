//! The error type of the crate.

use alloy::primitives::{Address, SignatureError};

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong when signing, verifying or proving receipts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A signature is not 65 bytes (`r ‖ s ‖ v`) long.
    #[error("signature must be 65 bytes (r || s || v), got {len}")]
    SignatureLength {
        /// The length received.
        len: usize,
    },
    /// A signature given as text is not valid hex.
    #[error("signature is not valid hex")]
    SignatureHex(#[source] alloy::hex::FromHexError),
    /// A signature's `v` byte is neither 27 nor 28 (the only values `ecrecover` accepts).
    #[error("signature v must be 27 or 28, got {v}")]
    SignatureV {
        /// The `v` byte received.
        v: u8,
    },
    /// A signature's `s` is in the upper half of the curve order. Such signatures are malleable
    /// copies of a low-`s` one and OpenZeppelin's `ECDSA` (hence the escrow) rejects them.
    #[error("signature s is in the upper half of the curve order (malleable)")]
    SignatureHighS,
    /// No public key can be recovered from the signature (for example `r` or `s` is zero or out
    /// of range).
    #[error("cannot recover a signer from the signature")]
    Recovery(#[source] SignatureError),
    /// The signing key failed to sign.
    #[error("signing failed")]
    Signing(#[source] alloy::signers::Error),
    /// The signature is valid but was made by another key than the one expected.
    #[error("receipt signed by {recovered}, expected {expected}")]
    SignerMismatch {
        /// The signer the caller expected.
        expected: Address,
        /// The signer recovered from the signature.
        recovered: Address,
    },
    /// A Merkle tree needs at least one leaf.
    #[error("a receipt tree needs at least one leaf")]
    EmptyTree,
    /// A proof was requested for a leaf that the tree does not have.
    #[error("leaf index {index} out of range for a tree of {len} leaves")]
    LeafIndexOutOfRange {
        /// The index requested.
        index: usize,
        /// The number of leaves in the tree.
        len: usize,
    },
}

impl Error {
    /// Whether the error condemns the signature itself (malformed, malleable, unrecoverable or
    /// from the wrong key): a receipt carrying it will never be accepted by the escrow, so
    /// retrying is pointless.
    pub const fn is_invalid_signature(&self) -> bool {
        matches!(
            self,
            Self::SignatureLength { .. }
                | Self::SignatureHex(_)
                | Self::SignatureV { .. }
                | Self::SignatureHighS
                | Self::Recovery(_)
                | Self::SignerMismatch { .. }
        )
    }
}
