//! The followed chain as a window, so that reorganisations can be unwound and a step costs the
//! same whatever the history: the state at the window's *base* (every followed log of the
//! blocks below it applied), the logs above the base in chain order, and the window's block
//! hashes. The shared [`ChainState`] (the *tip*) is the base plus those logs.
//!
//! - [`Journal::execute`] takes a range read by the follower: its logs are appended (and then
//!   applied to the tip in place with [`Journal::apply`]), the logs that leave the window are
//!   folded into the base, and the window blocks below the floor are dropped. It returns what
//!   the store must write: the range's logs, window blocks and cursor, and now and then a
//!   snapshot of the base.
//! - [`Journal::unwind`] drops the logs and window blocks above a common ancestor and rebuilds
//!   the tip from the base and the logs that remain: a reorganisation re-applies only the window.
//!
//! A snapshot is written when the bytes of logs folded into the base since the previous one
//! reach the larger of [`MIN_SNAPSHOT_BYTES`] and the previous snapshot's size: snapshot bytes
//! never exceed the log bytes followed (amortised, a step writes at most twice its own logs),
//! and a restart replays at most a snapshot's worth of logs plus the window.
//! [`ChainState::apply`] stays the one reducer of logs, for the tip, the base and a restart.

use std::collections::VecDeque;

use alloy::primitives::{Address, Log, B256};
use fairtrain_chain::{follow::window_floor, BlockRef, Checkpoint, Range};

use super::ChainState;
use crate::store::{
    journal::{JournalWrite, StoredJournal, StoredLog},
    StoreError,
};

/// Least bytes of folded logs between two snapshots.
pub const MIN_SNAPSHOT_BYTES: usize = 256 << 10;

/// A log of the window.
#[derive(Clone, Debug)]
struct Entry {
    stored: StoredLog,
    log: Log,
}

impl Entry {
    fn from_stored(stored: StoredLog) -> Result<Self, StoreError> {
        let log = serde_json::from_str(&stored.log).map_err(|e| {
            StoreError::Corrupt(format!(
                "followed log {}:{}: {e}",
                stored.block, stored.index
            ))
        })?;
        Ok(Self { stored, log })
    }
}

/// What one executed range must write, and the logs to apply to the tip.
#[derive(Clone, Debug)]
pub struct Executed {
    logs: Vec<StoredLog>,
    applied: Vec<(u64, Log)>,
    blocks: Vec<BlockRef>,
    floor: u64,
    cursor: Checkpoint,
    snapshot: Option<(u64, String)>,
}

impl Executed {
    /// The store write of this step.
    pub fn write(&self) -> JournalWrite<'_> {
        JournalWrite {
            logs: &self.logs,
            blocks: &self.blocks,
            floor: self.floor,
            cursor: self.cursor,
            snapshot: self.snapshot.as_ref().map(|(b, s)| (*b, s.as_str())),
        }
    }
}

/// The window over the followed chain (see the module documentation).
#[derive(Clone, Debug)]
pub struct Journal {
    escrow: Address,
    license_nft: Address,
    window: u64,
    base: ChainState,
    logs: VecDeque<Entry>,
    blocks: VecDeque<BlockRef>,
    cursor: Option<Checkpoint>,
    folded_bytes: usize,
    snapshot_bytes: usize,
}

impl Journal {
    /// An empty journal: nothing followed, the next block is `start_block`.
    pub fn new(escrow: Address, license_nft: Address, window: u64, start_block: u64) -> Self {
        Self {
            escrow,
            license_nft,
            window: window.max(1),
            base: ChainState {
                next_block: start_block,
                block: start_block.saturating_sub(1),
                ..ChainState::default()
            },
            logs: VecDeque::new(),
            blocks: VecDeque::new(),
            cursor: None,
            folded_bytes: 0,
            snapshot_bytes: 0,
        }
    }

    /// Rebuilds the journal from the store (nothing stored: an empty state from `start_block`)
    /// and returns it with its tip.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if the snapshot or a log is unreadable.
    pub fn restore(
        escrow: Address,
        license_nft: Address,
        window: u64,
        start_block: u64,
        stored: StoredJournal,
    ) -> Result<(Self, ChainState), StoreError> {
        let mut journal = Self::new(escrow, license_nft, window, start_block);
        if let Some((block, json)) = &stored.snapshot {
            journal.base = ChainState::from_json(json)
                .map_err(|e| StoreError::Corrupt(format!("snapshot at block {block}: {e}")))?;
            journal.snapshot_bytes = json.len();
        }
        journal.logs = stored
            .logs
            .into_iter()
            .map(Entry::from_stored)
            .collect::<Result<_, _>>()?;
        journal.blocks = stored.blocks.into();
        journal.cursor = stored.cursor;
        let mut tip = journal.rebuild();
        tip.timestamp = tip
            .timestamp
            .max(journal.blocks.back().map_or(0, |b| b.timestamp));
        Ok((journal, tip))
    }

    /// The last block followed, if any (`None` before the first range, or after an upgrade
    /// from a store that kept no cursor).
    pub const fn cursor(&self) -> Option<Checkpoint> {
        self.cursor
    }

    /// The first block not followed yet.
    pub fn next_block(&self) -> u64 {
        self.cursor.map_or(self.base.next_block, |c| c.number + 1)
    }

    /// The window, newest first (where to look for a common ancestor).
    pub fn window_newest_first(&self) -> Vec<BlockRef> {
        self.blocks.iter().rev().copied().collect()
    }

    /// Logs held above the base.
    pub fn window_logs(&self) -> usize {
        self.logs.len()
    }

    /// Takes a range read from the chain: appends its logs, folds the logs that leave the
    /// window into the base (with a snapshot now and then), updates the window. The tip is
    /// not touched: apply [`Executed`] to it with [`Self::apply`] once the store has it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if the node gave a log without an index.
    pub fn execute(&mut self, range: &Range) -> Result<Executed, StoreError> {
        let mut logs = Vec::with_capacity(range.logs.len());
        let mut applied = Vec::with_capacity(range.logs.len());
        for log in &range.logs {
            let (Some(block), Some(index), Some(block_hash)) =
                (log.block_number, log.log_index, log.block_hash)
            else {
                return Err(StoreError::Corrupt(format!(
                    "the node gave a log without position: {log:?}"
                )));
            };
            let stored = StoredLog {
                block,
                index,
                block_hash,
                log: serde_json::to_string(&log.inner).expect("a log serializes"),
            };
            logs.push(stored.clone());
            applied.push((block, log.inner.clone()));
            self.logs.push_back(Entry {
                stored,
                log: log.inner.clone(),
            });
        }
        let mut blocks = range.blocks.clone();
        blocks.sort_by_key(|b| b.number);
        self.blocks.extend(blocks.iter().copied());
        let floor = window_floor(range.to, self.window);
        while self.blocks.front().is_some_and(|b| b.number < floor) {
            self.blocks.pop_front();
        }
        // Fold the logs below the floor into the base.
        while self.logs.front().is_some_and(|e| e.stored.block < floor) {
            let e = self.logs.pop_front().expect("a front entry");
            self.folded_bytes += e.stored.log.len();
            self.base.block = e.stored.block;
            self.base.apply(self.escrow, self.license_nft, &e.log);
        }
        if floor > self.base.next_block {
            self.base.block = floor - 1;
            self.base.next_block = floor;
        }
        self.base.timestamp = self.base.timestamp.max(range.last.timestamp);
        let snapshot = (self.folded_bytes > 0
            && self.folded_bytes >= self.snapshot_bytes.max(MIN_SNAPSHOT_BYTES))
        .then(|| {
            let json = self.base.to_json();
            self.folded_bytes = 0;
            self.snapshot_bytes = json.len();
            (self.base.next_block - 1, json)
        });
        let cursor = range.checkpoint();
        self.cursor = Some(cursor);
        Ok(Executed {
            logs,
            applied,
            blocks,
            floor,
            cursor,
            snapshot,
        })
    }

    /// Applies an executed range to the tip (in place: the cost is the range's logs).
    pub fn apply(&self, tip: &mut ChainState, executed: &Executed) {
        for (block, log) in &executed.applied {
            tip.block = *block;
            tip.apply(self.escrow, self.license_nft, log);
        }
        tip.block = executed.cursor.number;
        tip.next_block = executed.cursor.number + 1;
    }

    /// Unwinds to `ancestor` (a window block the chain still has): drops the logs and window
    /// blocks above it and returns the tip rebuilt from the base and the remaining logs, with
    /// the roots committed above the ancestor that are gone.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if the ancestor is below the base (the window was pruned
    /// beyond it: a reorganisation deeper than the window).
    pub fn unwind(&mut self, ancestor: BlockRef) -> Result<ChainState, StoreError> {
        if ancestor.number + 1 < self.base.next_block {
            return Err(StoreError::Corrupt(format!(
                "ancestor {} below the window's base {}",
                ancestor.number, self.base.next_block
            )));
        }
        while self
            .logs
            .back()
            .is_some_and(|e| e.stored.block > ancestor.number)
        {
            self.logs.pop_back();
        }
        while self
            .blocks
            .back()
            .is_some_and(|b| b.number > ancestor.number)
        {
            self.blocks.pop_back();
        }
        self.cursor = Some(ancestor.into());
        Ok(self.rebuild())
    }

    /// The base with every window log applied.
    fn rebuild(&self) -> ChainState {
        let mut tip = self.base.clone();
        for e in &self.logs {
            tip.block = e.stored.block;
            tip.apply(self.escrow, self.license_nft, &e.log);
        }
        tip.block = self.next_block().saturating_sub(1);
        tip.next_block = self.next_block();
        tip
    }
}

/// Roots committed in `before` that `after` no longer has.
pub fn roots_removed(before: &ChainState, after: &ChainState) -> Vec<B256> {
    before
        .committed_roots
        .keys()
        .filter(|r| !after.committed_roots.contains_key(*r))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use alloy::{primitives::U256, rpc::types::Log as RpcLog, sol_types::SolEvent};
    use fairtrain_protocol::bindings::TrainingEscrow;

    use super::*;

    const ESCROW: Address = Address::repeat_byte(0xe5);
    const NFT: Address = Address::repeat_byte(0x4f);
    const TOKEN: Address = Address::repeat_byte(2);

    fn hash(n: u64) -> B256 {
        B256::left_padding_from(&n.to_be_bytes())
    }

    fn block(n: u64) -> BlockRef {
        BlockRef {
            number: n,
            hash: hash(n),
            parent_hash: Some(hash(n.saturating_sub(1))),
            timestamp: 1_000 + n,
        }
    }

    fn payer(id: u64) -> Address {
        Address::left_padding_from(&id.to_be_bytes())
    }

    /// A deposit of `amount` by payer `id` in block `n`.
    fn deposit(n: u64, id: u64, amount: u64) -> RpcLog {
        let event = TrainingEscrow::Deposited {
            payer: payer(id),
            token: TOKEN,
            from: payer(id),
            amount: U256::from(amount),
        };
        RpcLog {
            inner: Log {
                address: ESCROW,
                data: event.encode_log_data(),
            },
            block_number: Some(n),
            block_hash: Some(hash(n)),
            log_index: Some(0),
            ..RpcLog::default()
        }
    }

    /// One block `n` with one deposit.
    fn range(n: u64, id: u64, amount: u64) -> Range {
        Range {
            from: n,
            to: n,
            logs: vec![deposit(n, id, amount)],
            blocks: vec![block(n)],
            last: block(n),
        }
    }

    fn journal(window: u64) -> (Journal, ChainState) {
        Journal::restore(ESCROW, NFT, window, 1, StoredJournal::default()).unwrap()
    }

    fn step(j: &mut Journal, tip: &mut ChainState, r: &Range) -> usize {
        let executed = j.execute(r).unwrap();
        j.apply(tip, &executed);
        executed.write().bytes()
    }

    #[test]
    fn unwinding_reapplies_only_the_window_and_matches_a_fresh_fold() {
        let (mut j, mut tip) = journal(4);
        for n in 1..=10 {
            step(&mut j, &mut tip, &range(n, n, 100));
        }
        assert_eq!(j.window_logs(), 5, "blocks 6..=10 are above the floor");
        // Blocks 9 and 10 are replaced: payer 11 deposits in the new block 9.
        let ancestor = j.window_newest_first()[2];
        assert_eq!(ancestor.number, 8);
        tip = j.unwind(ancestor).unwrap();
        assert_eq!(j.next_block(), 9);
        step(&mut j, &mut tip, &range(9, 11, 7));
        let (mut fresh, mut expected) = journal(4);
        for n in 1..=8 {
            step(&mut fresh, &mut expected, &range(n, n, 100));
        }
        step(&mut fresh, &mut expected, &range(9, 11, 7));
        assert_eq!(tip.available, expected.available);
        assert_eq!(tip.available(payer(10), TOKEN), U256::ZERO);
        assert_eq!(tip.available(payer(11), TOKEN), U256::from(7));
        assert_eq!(tip.block, 9);
        // Below the window's base there is nothing to unwind to.
        assert!(j.unwind(block(2)).is_err());
    }

    #[test]
    fn restoring_the_written_journal_gives_the_same_tip() {
        let (mut j, mut tip) = journal(3);
        let mut stored = StoredJournal::default();
        for n in 1..=2_000 {
            let executed = j.execute(&range(n, n % 200, n)).unwrap();
            j.apply(&mut tip, &executed);
            // What the store does with each write.
            let w = executed.write();
            stored.logs.extend(w.logs.iter().cloned());
            stored.blocks.extend(w.blocks.iter().copied());
            stored.blocks.retain(|b| b.number >= w.floor);
            stored.cursor = Some(w.cursor);
            if let Some((block, json)) = w.snapshot {
                stored.snapshot = Some((block, json.to_owned()));
                stored.logs.retain(|l| l.block > block);
            }
        }
        assert!(stored.snapshot.is_some(), "a snapshot was written");
        assert!(
            stored.logs.len() < 2_000,
            "logs below the snapshot were dropped"
        );
        let (back, back_tip) = Journal::restore(ESCROW, NFT, 3, 1, stored).unwrap();
        assert_eq!(back_tip.available, tip.available);
        assert_eq!(back_tip.block, tip.block);
        assert_eq!(back.next_block(), 2_001);
        assert_eq!(back.window_newest_first(), j.window_newest_first());
    }

    /// The bytes a step writes do not depend on how much was followed before it, and
    /// snapshots keep the total within a small multiple of the logs followed.
    #[test]
    fn a_step_writes_the_same_bytes_after_100_or_10_000_events() {
        let per_step = |history: u64| {
            let (mut j, mut tip) = journal(256);
            let (mut total, mut logs) = (0, 0);
            for n in 1..=history {
                // A new payer every block: the state grows with history.
                let executed = j.execute(&range(n, n, n)).unwrap();
                j.apply(&mut tip, &executed);
                total += executed.write().bytes();
                logs += executed
                    .write()
                    .logs
                    .iter()
                    .map(|l| l.log.len() + 48)
                    .sum::<usize>();
            }
            // The next step, with no snapshot due.
            let mut probe = j.clone();
            let executed = probe.execute(&range(history + 1, history + 1, 1)).unwrap();
            (
                executed.write().bytes(),
                executed.snapshot.is_none(),
                total,
                logs,
            )
        };
        let (small, no_snapshot_small, _, _) = per_step(100);
        let (large, no_snapshot_large, total, logs) = per_step(10_000);
        assert!(no_snapshot_small && no_snapshot_large);
        assert_eq!(small, large);
        assert!(
            total <= 3 * logs + 10_000 * 160,
            "{total} bytes written for {logs} bytes of logs"
        );
    }
}
