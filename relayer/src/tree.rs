//! A Merkle tree over receipt leaves built level by level on several threads, with the same
//! shape as `fairtrain_protocol::ReceiptTree` (leaves in the order given, sorted-pair hashing,
//! a node without a sibling carried up unchanged): same root, same proofs, checked by tests.
//! The batcher uses it because building the tree (and hashing the leaves) is the CPU cost of
//! cutting a large batch.

use alloy::primitives::B256;
use fairtrain_protocol::{leaf, merkle::hash_pair, EscrowDomain, Receipt};

/// Below this many nodes a level is hashed on the calling thread.
const PARALLEL_MIN: usize = 1 << 14;

/// Every level of the tree, leaves first.
#[derive(Clone, Debug)]
pub struct LevelTree {
    levels: Vec<Vec<B256>>,
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Applies `f` to every item of `input`, writing `output`, split over `threads` threads.
fn par_map<T: Sync, F: Fn(&T) -> B256 + Sync>(input: &[T], f: F, threads: usize) -> Vec<B256> {
    let mut out = vec![B256::ZERO; input.len()];
    if input.len() < PARALLEL_MIN || threads < 2 {
        for (o, i) in out.iter_mut().zip(input) {
            *o = f(i);
        }
        return out;
    }
    let chunk = input.len().div_ceil(threads);
    std::thread::scope(|s| {
        for (o, i) in out.chunks_mut(chunk).zip(input.chunks(chunk)) {
            let f = &f;
            s.spawn(move || {
                for (o, i) in o.iter_mut().zip(i) {
                    *o = f(i);
                }
            });
        }
    });
    out
}

impl LevelTree {
    /// The tree of `receipts` under `domain`: digests and leaves are computed in parallel.
    /// Returns `None` for no receipts.
    pub fn from_receipts(domain: &EscrowDomain, receipts: &[Receipt]) -> Option<Self> {
        let leaves = par_map(receipts, |r| leaf(&domain.digest(r)), threads());
        Self::from_leaves(leaves)
    }

    /// The tree of `leaves`, in order. `None` if there are none.
    pub fn from_leaves(leaves: Vec<B256>) -> Option<Self> {
        if leaves.is_empty() {
            return None;
        }
        let threads = threads();
        let mut levels = vec![leaves];
        while levels.last().expect("one level").len() > 1 {
            let level = levels.last().expect("one level");
            let pairs: Vec<&[B256]> = level.chunks(2).collect();
            let next = par_map(
                &pairs,
                |p| match p {
                    [a, b] => hash_pair(a, b),
                    [a] => *a,
                    _ => unreachable!("chunks of two"),
                },
                threads,
            );
            levels.push(next);
        }
        Some(Self { levels })
    }

    /// The root.
    pub fn root(&self) -> B256 {
        self.levels.last().expect("one level")[0]
    }

    /// The leaves.
    pub fn leaves(&self) -> &[B256] {
        &self.levels[0]
    }

    /// The proof of leaf `index` (siblings from the leaf up; a level where the node has no
    /// sibling contributes nothing). `None` if out of range.
    pub fn proof(&self, mut index: usize) -> Option<Vec<B256>> {
        if index >= self.levels[0].len() {
            return None;
        }
        let mut proof = Vec::with_capacity(self.levels.len());
        for level in &self.levels[..self.levels.len() - 1] {
            if let Some(sibling) = level.get(index ^ 1) {
                proof.push(*sibling);
            }
            index /= 2;
        }
        Some(proof)
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::keccak256;
    use fairtrain_protocol::{merkle, ReceiptTree};

    use super::*;

    fn leaves(n: usize) -> Vec<B256> {
        (0..n as u64).map(|i| keccak256(i.to_be_bytes())).collect()
    }

    #[test]
    fn same_root_and_proofs_as_the_protocol_tree() {
        for n in (1..=70).chain([127, 128, 129, 1_000, PARALLEL_MIN + 3, 2 * PARALLEL_MIN]) {
            let l = leaves(n);
            let ours = LevelTree::from_leaves(l.clone()).unwrap();
            let theirs = ReceiptTree::from_leaves(&l).unwrap();
            assert_eq!(ours.root(), theirs.root(), "n = {n}");
            for i in (0..n).step_by((n / 50).max(1)) {
                let proof = ours.proof(i).unwrap();
                assert_eq!(proof, theirs.proof(i).unwrap(), "n = {n}, i = {i}");
                assert!(merkle::verify(&proof, ours.root(), l[i]));
            }
            assert!(ours.proof(n).is_none());
        }
        assert!(LevelTree::from_leaves(Vec::new()).is_none());
    }
}
