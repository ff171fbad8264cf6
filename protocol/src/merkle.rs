//! Merkle trees of receipt leaves, compatible with OpenZeppelin's `MerkleProof`.
//!
//! Inner nodes hash their two children in sorted order (OpenZeppelin `commutativeKeccak256`),
//! so a proof is a plain list of sibling hashes without left/right flags, checked bottom-up by
//! [`process_proof`] exactly as `MerkleProof.processProof` does on-chain.
//!
//! [`ReceiptTree`] lays leaves out in the order given and, like `rs_merkle` by default, carries
//! a node without a sibling (the last one of an odd level) up unchanged; its proof then simply
//! has no element for that level. This differs from OpenZeppelin's `StandardMerkleTree` (which
//! sorts leaves and fills a complete tree), so the two produce different roots for the same
//! leaves, but every proof of either verifies with [`verify`] and on-chain.

use alloy::primitives::{keccak256, B256};
use rs_merkle::{Hasher, MerkleTree};

use crate::error::{Error, Result};

/// `keccak256(min(a, b) ‖ max(a, b))`: OpenZeppelin's `Hashes.commutativeKeccak256`.
pub fn hash_pair(a: &B256, b: &B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(lo.as_slice());
    preimage[32..].copy_from_slice(hi.as_slice());
    keccak256(preimage)
}

/// The root that `proof` leads to from `leaf`: OpenZeppelin's `MerkleProof.processProof`.
pub fn process_proof(proof: &[B256], leaf: B256) -> B256 {
    proof
        .iter()
        .fold(leaf, |node, sibling| hash_pair(&node, sibling))
}

/// Whether `proof` proves that `leaf` is in the tree of `root`: OpenZeppelin's
/// `MerkleProof.verify`, the check the escrow makes when a receipt is claimed.
pub fn verify(proof: &[B256], root: B256, leaf: B256) -> bool {
    process_proof(proof, leaf) == root
}

/// The [`rs_merkle::Hasher`] of receipt trees: keccak256, with pairs hashed in sorted order
/// ([`hash_pair`]) and a node without a sibling carried up unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct SortedKeccak256;

impl Hasher for SortedKeccak256 {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        keccak256(data).0
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => hash_pair(&B256::from(*left), &B256::from(*right)).0,
            // Carrying the lone node up (rather than pairing it with itself) is what makes the
            // proof skip the level; `rs_merkle` also relies on it for a tree whose leaf count is
            // a power of two, where it computes one extra single-node level.
            None => *left,
        }
    }
}

/// A Merkle tree over receipt leaves (see [`crate::leaf()`]), built with `rs_merkle`.
#[derive(Clone)]
pub struct ReceiptTree {
    tree: MerkleTree<SortedKeccak256>,
    len: usize,
    root: B256,
}

impl ReceiptTree {
    /// Builds the tree of `leaves`, in that order.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyTree`] if `leaves` is empty.
    pub fn from_leaves(leaves: &[B256]) -> Result<Self> {
        let hashes: Vec<[u8; 32]> = leaves.iter().map(|leaf| leaf.0).collect();
        let tree = MerkleTree::<SortedKeccak256>::from_leaves(&hashes);
        let root = tree.root().ok_or(Error::EmptyTree)?;
        Ok(Self {
            tree,
            len: leaves.len(),
            root: B256::from(root),
        })
    }

    /// The root, to commit on-chain.
    pub const fn root(&self) -> B256 {
        self.root
    }

    /// The number of leaves (never zero).
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: a tree has at least one leaf.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The proof of the leaf at `index`: sibling hashes from the leaf's level up, for
    /// [`verify`] and for the escrow's `claim`.
    ///
    /// # Errors
    ///
    /// [`Error::LeafIndexOutOfRange`] if the tree has no leaf `index`.
    pub fn proof(&self, index: usize) -> Result<Vec<B256>> {
        if index >= self.len {
            return Err(Error::LeafIndexOutOfRange {
                index,
                len: self.len,
            });
        }
        Ok(self
            .tree
            .proof(&[index])
            .proof_hashes()
            .iter()
            .copied()
            .map(B256::from)
            .collect())
    }
}

impl std::fmt::Debug for ReceiptTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptTree")
            .field("len", &self.len)
            .field("root", &self.root)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<B256> {
        (0..n)
            .map(|i| keccak256((i as u64).to_be_bytes()))
            .collect()
    }

    /// An independent reference: the layout of `contracts/test/utils/MerkleBuilder.sol`
    /// (leaves in order, a lone last node carried up).
    fn reference_root(leaves: &[B256]) -> B256 {
        let mut level = leaves.to_vec();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|pair| {
                    if pair.len() == 2 {
                        hash_pair(&pair[0], &pair[1])
                    } else {
                        pair[0]
                    }
                })
                .collect();
        }
        level[0]
    }

    #[test]
    fn hash_pair_is_commutative_and_sorted() {
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        assert_eq!(hash_pair(&a, &b), hash_pair(&b, &a));
        assert_eq!(
            hash_pair(&a, &b),
            keccak256([a.as_slice(), b.as_slice()].concat())
        );
    }

    #[test]
    fn every_proof_verifies_for_sizes_1_to_33() {
        for n in 1..=33 {
            let leaves = leaves(n);
            let tree = ReceiptTree::from_leaves(&leaves).unwrap();
            assert_eq!(tree.len(), n);
            assert!(!tree.is_empty());
            assert_eq!(tree.root(), reference_root(&leaves), "root of {n} leaves");
            for (i, leaf) in leaves.iter().enumerate() {
                let proof = tree.proof(i).unwrap();
                assert!(proof.len() <= n.next_power_of_two().trailing_zeros() as usize);
                assert!(verify(&proof, tree.root(), *leaf), "leaf {i} of {n}");
            }
        }
    }

    #[test]
    fn single_leaf_is_its_own_root() {
        let leaf = B256::repeat_byte(9);
        let tree = ReceiptTree::from_leaves(&[leaf]).unwrap();
        assert_eq!(tree.root(), leaf);
        assert!(tree.proof(0).unwrap().is_empty());
        assert!(verify(&[], tree.root(), leaf));
    }

    #[test]
    fn odd_last_leaf_skips_a_level() {
        // 5 leaves: levels of 5, 3, 2, 1 nodes; leaf 4 has no sibling on the first two levels.
        let leaves = leaves(5);
        let tree = ReceiptTree::from_leaves(&leaves).unwrap();
        let proof = tree.proof(4).unwrap();
        let left = hash_pair(
            &hash_pair(&leaves[0], &leaves[1]),
            &hash_pair(&leaves[2], &leaves[3]),
        );
        assert_eq!(proof, vec![left]);
        assert_eq!(tree.root(), hash_pair(&left, &leaves[4]));
    }

    #[test]
    fn rejects_wrong_leaf_proof_or_root() {
        let leaves = leaves(6);
        let tree = ReceiptTree::from_leaves(&leaves).unwrap();
        let proof = tree.proof(2).unwrap();
        assert!(!verify(&proof, tree.root(), leaves[3]));
        assert!(!verify(&proof[1..], tree.root(), leaves[2]));
        assert!(!verify(&proof, B256::ZERO, leaves[2]));
    }

    #[test]
    fn empty_and_out_of_range() {
        assert!(matches!(
            ReceiptTree::from_leaves(&[]),
            Err(Error::EmptyTree)
        ));
        let tree = ReceiptTree::from_leaves(&leaves(3)).unwrap();
        assert!(matches!(
            tree.proof(3),
            Err(Error::LeafIndexOutOfRange { index: 3, len: 3 })
        ));
    }
}
