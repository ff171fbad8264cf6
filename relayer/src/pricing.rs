//! The pricing rule (docs/protocol.md §5): a receipt's increase is priced over its usage key's
//! *base*, `max(settled, highest count of the key in this relayer's batches still in the line's
//! pool)`. The pool of a line `(payer, relayer, token)` holds the reservations of the batches
//! committed since the line's last release, and only while no release can come before the
//! commit being priced mines ([`CreditLine::in_pool`](crate::chain::state::CreditLine::in_pool));
//! batches committed before the last release do not count, their reservations went back to
//! credit. The cut prices every row with [`PoolCounts::base`] (exact); ingest prices with
//! [`ingest_base`], which is never above it while the pool stays, and whose excess when a
//! release empties the pool is covered by the reserve that release returns to credit.

use std::collections::{HashMap, HashSet};

use alloy::primitives::{Address, B256};

use crate::{
    chain::ChainState,
    store::{rows::CommittedReceipt, Store, StoreError},
    util::hex0x,
};

/// The highest count of each usage key in the batches still in its line's pool, and the
/// digests of the committed receipts looked at.
#[derive(Clone, Debug, Default)]
pub struct PoolCounts {
    counts: HashMap<B256, u64>,
    committed: HashSet<B256>,
}

impl PoolCounts {
    /// Reads the committed receipts of `usage_keys` from the store and keeps, per key, the
    /// highest count of those whose batch is in the pool of the line of `relayer` (see
    /// [`Self::from_committed`]).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn load(
        store: &Store,
        usage_keys: impl IntoIterator<Item = B256>,
    ) -> Result<Vec<CommittedReceipt>, StoreError> {
        let mut keys: Vec<String> = usage_keys.into_iter().map(hex0x).collect();
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        store.committed_of_keys(&keys).await
    }

    /// The counts of `committed` receipts (this relayer's confirmed batches) in the pools of
    /// their lines of `relayer`, for a commit that mines by `horizon`. A batch's block is the one
    /// the follower applied its commit in (none yet: it is in the pool).
    pub fn from_committed(
        chain: &ChainState,
        relayer: Address,
        horizon: u64,
        committed: &[CommittedReceipt],
    ) -> Self {
        let mut out = Self::default();
        for r in committed {
            out.committed.insert(r.digest);
            let line = chain.line(r.payer, relayer, r.token);
            if line.in_pool(chain.committed_roots.get(&r.root).copied(), horizon) {
                let e = out.counts.entry(r.usage_key).or_default();
                *e = (*e).max(r.cumulative);
            }
        }
        out
    }

    /// The highest count of `usage_key` in the batches still in its line's pool (0: none).
    pub fn count(&self, usage_key: &B256) -> u64 {
        self.counts.get(usage_key).copied().unwrap_or(0)
    }

    /// The count the first uncommitted receipt of `usage_key` is priced over.
    pub fn base(&self, usage_key: &B256, settled: u64) -> u64 {
        settled.max(self.count(usage_key))
    }

    /// Whether the receipt with this digest was among the committed receipts looked at.
    pub fn is_committed(&self, digest: &B256) -> bool {
        self.committed.contains(digest)
    }
}

/// The count a new receipt of `usage_key` is priced over at ingest, given the highest receipt
/// `known` of the key (accepted here or committed): over [`PoolCounts::base`], and over `known`
/// if it is not committed (pending or in a batch being committed: the new receipt adds only what
/// it counts over it, the earlier one being priced for the rest).
pub fn ingest_base(
    pool: &PoolCounts,
    usage_key: &B256,
    known: Option<(u64, B256)>,
    settled: u64,
) -> u64 {
    let uncommitted = match known {
        Some((count, digest)) if !pool.is_committed(&digest) => count,
        _ => 0,
    };
    pool.base(usage_key, settled).max(uncommitted)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::U256;

    use super::*;
    use crate::chain::state::CreditLine;

    const PAYER: Address = Address::repeat_byte(1);
    const RELAYER: Address = Address::repeat_byte(2);
    const TOKEN: Address = Address::repeat_byte(3);

    fn committed(key: u8, cumulative: u64, root: u8) -> CommittedReceipt {
        CommittedReceipt {
            digest: B256::repeat_byte(0x40 + cumulative as u8),
            usage_key: B256::repeat_byte(key),
            payer: PAYER,
            token: TOKEN,
            cumulative,
            root: B256::repeat_byte(root),
        }
    }

    fn chain(line: CreditLine, roots: &[(u8, u64)]) -> ChainState {
        let mut chain = ChainState::default();
        chain.lines.insert((PAYER, RELAYER, TOKEN), line);
        for (root, block) in roots {
            chain
                .committed_roots
                .insert(B256::repeat_byte(*root), *block);
        }
        chain
    }

    #[test]
    fn only_batches_since_the_last_release_count_while_the_line_stays_locked() {
        let key = B256::repeat_byte(7);
        let other = B256::repeat_byte(8);
        // Batch 1 (block 10) counted key at 100; the line was released at block 20; batch 2
        // (block 30) counted another key; batch 3 is confirmed, not applied by the follower yet.
        let rows = [
            committed(7, 100, 1),
            committed(8, 10, 2),
            committed(8, 12, 3),
        ];
        let line = CreditLine {
            credit: U256::from(1_000),
            reserved_until: 5_000,
            released_block: 20,
            ..CreditLine::default()
        };
        let state = chain(line, &[(1, 10), (2, 30)]);
        let pool = PoolCounts::from_committed(&state, RELAYER, 1_000, &rows);
        assert_eq!(pool.count(&key), 0, "batch 1 went back to credit");
        assert_eq!(pool.base(&key, 40), 40);
        assert_eq!(pool.count(&other), 12, "batches 2 and 3 are in the pool");
        // Known head committed before the release: over settled; uncommitted head: over it.
        let head = Some((100, B256::repeat_byte(0x40 + 100)));
        assert_eq!(ingest_base(&pool, &key, head, 0), 0);
        assert_eq!(ingest_base(&pool, &key, Some((150, B256::ZERO)), 0), 150);
        // Never released: every batch of the line counts.
        let never = chain(
            CreditLine {
                released_block: 0,
                ..line
            },
            &[(1, 10), (2, 30)],
        );
        let pool = PoolCounts::from_committed(&never, RELAYER, 1_000, &rows);
        assert_eq!(pool.count(&key), 100);
        assert_eq!(ingest_base(&pool, &key, head, 0), 100);
        // Releasable before the commit mines: only the batch the follower has not applied.
        let pool = PoolCounts::from_committed(&never, RELAYER, 5_000, &rows);
        assert_eq!((pool.count(&key), pool.count(&other)), (0, 12));
        // A commit in the block of the release follows it.
        let same = chain(line, &[(1, 20)]);
        let pool = PoolCounts::from_committed(&same, RELAYER, 1_000, &rows[..1]);
        assert_eq!(pool.count(&key), 100);
    }
}
