//! The Merkle leaf of a receipt.

use alloy::primitives::{keccak256, B256};

/// The Merkle leaf of a receipt whose EIP-712 digest is `digest`:
/// `keccak256(keccak256(abi.encode(digest)))`.
///
/// This is the leaf OpenZeppelin's `StandardMerkleTree.of(values, ["bytes32"])` makes of the
/// value `[digest]` and what `ReceiptLib.leaf` computes on-chain. Hashing twice makes a leaf the
/// hash of 32 bytes while an inner node is the hash of 64, so no inner node can pass as a leaf
/// (second-preimage safety).
pub fn leaf(digest: &B256) -> B256 {
    // abi.encode of a single bytes32 is the 32 bytes themselves.
    keccak256(keccak256(digest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{primitives::b256, sol_types::SolValue};

    #[test]
    fn leaf_is_double_keccak_of_abi_encoded_digest() {
        let digest = b256!("0x0101010101010101010101010101010101010101010101010101010101010101");
        assert_eq!(leaf(&digest), keccak256(keccak256(digest.abi_encode())));
        assert_ne!(leaf(&digest), keccak256(digest));
    }
}
