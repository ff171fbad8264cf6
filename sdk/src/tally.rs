//! Counting in memory between journal commits, and tying the count to a training checkpoint.
//!
//! [`Meter::record`](crate::Meter::record) commits to the journal on every call (an fsync,
//! about 0.2 ms here), which is fine per minibatch of a slow step but not inside a 10 ms training
//! step. [`Meter::count`](crate::Meter::count) adds to a [`Tally`] instead, in memory, and
//! [`Meter::commit`](crate::Meter::commit) (called by the background task, by every flush and
//! by every [`Meter::position`](crate::Meter::position)) moves the tally into the journal in one
//! transaction.
//!
//! # Resuming from a checkpoint
//!
//! A job that restarts from a checkpoint trains again on the samples it drew between that
//! checkpoint and the crash. The rule that makes every sample *position* count exactly once:
//!
//! - The checkpoint saves the meter's [`Position`]: per usage key, the samples counted up to
//!   that point ([`Meter::position`](crate::Meter::position) commits first, so the journal
//!   holds at least that much).
//! - On resume, [`Meter::resume`](crate::Meter::resume) compares the journal's durable count
//!   `R` with the checkpoint's `C` for each key. The next `R - C` samples counted on that key are
//!   replays and are skipped (the *credit*). If the journal holds less than the checkpoint
//!   (`R < C`: a journal lost or moved), it is raised to `C`: cumulative receipts make that safe,
//!   since the escrow pays only what lies beyond the count it already settled.
//!
//! - A job that starts again *without* a checkpoint trains again from its start, so with
//!   [`Restart::Replays`] (the default) a meter opens as if resumed from position zero: every
//!   sample the journal holds for a usage key is a replay. A training run that really is new
//!   takes a new run id. A process that is not a training job with checkpoints (a service
//!   metering requests) opens with [`Restart::Continues`]: what the journal holds stands, and
//!   everything counted is new.
//!
//! Samples drawn after the last commit and before a crash are not in the journal; when the job
//! resumes, they are replayed beyond the credit and counted then. A job that never resumes loses
//! at most the samples of one commit interval; [`Meter::record`](crate::Meter::record) is the
//! durable-per-call alternative.

use std::collections::HashMap;

use crate::journal::Usage;

/// What a meter assumes, when it opens, of the samples its journal already holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Restart {
    /// The job starts again from its beginning: samples the journal holds are replays, skipped
    /// by [`Meter::count`](crate::Meter::count) until [`Meter::resume`](crate::Meter::resume)
    /// says the job stands further on (a training job restarting, with or without a checkpoint).
    #[default]
    Replays,
    /// The process carries on where the journal stands: everything counted is new (a service
    /// metering requests, with no position of its own).
    Continues,
}

/// Samples counted since the last commit, and the replays still to skip after a resume.
#[derive(Debug, Default)]
pub struct Tally {
    /// Counted, not yet in the journal, in first-counted order.
    pending: Vec<(Usage, u64)>,
    /// Index into `pending` per usage.
    index: HashMap<Usage, usize>,
    /// Replayed samples still to skip, per usage.
    credit: HashMap<Usage, u64>,
}

impl Tally {
    /// Counts `samples` on `usage`, skipping what is left of its replay credit first. Returns
    /// the samples actually counted.
    pub fn add(&mut self, usage: Usage, samples: u64) -> u64 {
        let skipped = match self.credit.get_mut(&usage) {
            Some(credit) => {
                let skip = (*credit).min(samples);
                *credit -= skip;
                if *credit == 0 {
                    self.credit.remove(&usage);
                }
                skip
            }
            None => 0,
        };
        let counted = samples - skipped;
        if counted > 0 {
            self.pend(usage, counted);
        }
        counted
    }

    /// Adds `samples` to the pending count of `usage`, keeping first-counted order.
    fn pend(&mut self, usage: Usage, samples: u64) {
        match self.index.get(&usage) {
            Some(&i) => self.pending[i].1 = self.pending[i].1.saturating_add(samples),
            None => {
                self.index.insert(usage, self.pending.len());
                self.pending.push((usage, samples));
            }
        }
    }

    /// Takes every pending count, leaving none; [`Tally::restore`] puts them back if the
    /// commit fails.
    pub fn take(&mut self) -> Vec<(Usage, u64)> {
        self.index.clear();
        std::mem::take(&mut self.pending)
    }

    /// Puts counts taken by [`Tally::take`] back, ahead of what was counted since.
    pub fn restore(&mut self, taken: Vec<(Usage, u64)>) {
        let since = std::mem::take(&mut self.pending);
        self.index.clear();
        for (usage, samples) in taken.into_iter().chain(since) {
            self.pend(usage, samples);
        }
    }

    /// Samples counted and not yet committed, over all usages.
    pub fn pending(&self) -> u64 {
        self.pending.iter().map(|(_, n)| n).sum()
    }

    /// The replay credit left on `usage`.
    pub fn credit(&self, usage: &Usage) -> u64 {
        self.credit.get(usage).copied().unwrap_or(0)
    }

    /// Replaces every credit (a resume).
    pub fn set_credits(&mut self, credits: impl IntoIterator<Item = (Usage, u64)>) {
        self.credit = credits.into_iter().filter(|(_, n)| *n > 0).collect();
    }
}

/// Where a training job stands in its usage: per usage key, the samples counted up to a
/// checkpoint. Save it with the checkpoint; give it back to
/// [`Meter::resume`](crate::Meter::resume) when the job restarts from that checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Samples counted per usage, up to the checkpoint.
    pub counts: Vec<(Usage, u64)>,
}

/// What [`Meter::resume`](crate::Meter::resume) found, per usage key of the journal or the
/// checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resumed {
    /// The usage.
    pub usage: Usage,
    /// Samples the checkpoint had counted.
    pub checkpoint: u64,
    /// Samples the journal held.
    pub journal: u64,
    /// Replayed samples that will be skipped (`journal - checkpoint` when positive).
    pub credit: u64,
    /// Samples added to the journal because it held less than the checkpoint.
    pub raised: u64,
}

/// Per key, how a journal count `journal` and a checkpoint count `checkpoint` resume: the
/// credit to skip and the samples to raise the journal by.
pub const fn reconcile(checkpoint: u64, journal: u64) -> (u64, u64) {
    if journal >= checkpoint {
        (journal - checkpoint, 0)
    } else {
        (0, checkpoint - journal)
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{B256, U256};
    use proptest::prelude::*;

    use super::*;

    fn usage(n: u64) -> Usage {
        Usage {
            license_id: U256::from(n),
            terms_id: 1,
            run_id: B256::repeat_byte(7),
        }
    }

    #[test]
    fn credit_is_skipped_before_anything_counts() {
        let mut tally = Tally::default();
        tally.set_credits([(usage(1), 10)]);
        assert_eq!(tally.add(usage(1), 4), 0);
        assert_eq!(tally.add(usage(1), 8), 2);
        assert_eq!(tally.add(usage(2), 3), 3);
        assert_eq!(tally.credit(&usage(1)), 0);
        assert_eq!(tally.take(), vec![(usage(1), 2), (usage(2), 3)]);
        assert_eq!(tally.pending(), 0);
    }

    #[test]
    fn a_failed_commit_restores_in_order_and_merges_what_came_since() {
        let mut tally = Tally::default();
        tally.add(usage(1), 5);
        tally.add(usage(2), 1);
        let taken = tally.take();
        tally.add(usage(2), 2);
        tally.add(usage(3), 9);
        tally.restore(taken);
        assert_eq!(
            tally.take(),
            vec![(usage(1), 5), (usage(2), 3), (usage(3), 9)]
        );
    }

    #[test]
    fn resume_skips_replays_or_raises_a_journal_that_is_behind() {
        assert_eq!(reconcile(100, 130), (30, 0));
        assert_eq!(reconcile(100, 100), (0, 0));
        assert_eq!(reconcile(100, 60), (0, 40));
    }

    proptest! {
        /// A job that crashes at arbitrary points (losing what was not committed) and resumes
        /// from its last checkpoint counts each position of its sample stream exactly once:
        /// the journal ends equal to the number of samples the finished job trained on.
        #[test]
        fn every_position_counts_once_across_crashes(
            steps in prop::collection::vec((1u64..50, 0u8..10), 1..200),
        ) {
            let mut journal = 0u64; // durable
            let mut tally = Tally::default();
            let mut position = 0u64; // where the job stands in its stream
            let mut checkpoint = 0u64; // (position, counted) saved together
            let mut crashed = std::collections::HashSet::new();
            let mut i = 0;
            while i < steps.len() {
                let (batch, action) = steps[i];
                tally.add(usage(1), batch);
                position += batch;
                match action {
                    0 => journal += tally.take().iter().map(|(_, n)| n).sum::<u64>(),
                    1 => {
                        // A checkpoint: commit, then save the position (journal minus credit).
                        journal += tally.take().iter().map(|(_, n)| n).sum::<u64>();
                        checkpoint = journal - tally.credit(&usage(1));
                        prop_assert_eq!(checkpoint, position);
                    }
                    2 if crashed.insert(i) => {
                        // A crash (once per step): the tally is lost; resume from the
                        // checkpoint and replay the steps since (the stream is deterministic).
                        tally = Tally::default();
                        let (credit, raised) = reconcile(checkpoint, journal);
                        journal += raised;
                        tally.set_credits([(usage(1), credit)]);
                        let mut next = i + 1;
                        while position > checkpoint {
                            next -= 1;
                            position -= steps[next].0;
                        }
                        i = next;
                        continue;
                    }
                    _ => {}
                }
                i += 1;
            }
            journal += tally.take().iter().map(|(_, n)| n).sum::<u64>();
            prop_assert_eq!(journal, steps.iter().map(|(n, _)| n).sum::<u64>());
        }
    }
}
