//! The acceptance ledger shared by several processes through PostgreSQL: a group locks its
//! payers' rows, reads what every process acknowledged, and updates it in the transaction that
//! inserts its receipts.

use std::collections::HashMap;

use alloy::primitives::{B256, U256};
use fairtrain_protocol::batch::Reservation;

use super::{Applied, Job, Ledger, PayerToken};
use crate::{
    chain::SharedState,
    store::{ledger as shared_ledger, NewReceipt, Store, StoreError},
};

/// A group's view of the ledger shared through PostgreSQL, read inside the transaction that
/// holds its payers' row locks (taken in sorted order, so concurrent groups of several
/// processes serialise per payer without deadlocking).
pub(super) struct SharedView {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    /// Pending amount of each locked `(payer, token)`, as stored.
    pub(super) pending: HashMap<PayerToken, U256>,
    /// Highest stored receipt of the group's usage keys.
    pub(super) heads: HashMap<B256, (u64, B256)>,
    /// Recently confirmed batches (the stored ledger no longer counts them).
    confirmed: Vec<(B256, Vec<Reservation>)>,
    /// The group's usage keys.
    keys: Vec<B256>,
}

/// Confirmed batches this many blocks behind the follower are still checked for whether it has
/// applied their reservation.
const CONFIRMED_WINDOW: u64 = 256;

impl SharedView {
    pub(super) async fn lock(
        jobs: &[Job],
        store: &Store,
        state: &SharedState,
    ) -> Result<Self, StoreError> {
        let (payers, keys, block) = {
            let chain = state.read().expect("state lock");
            let mut payers = Vec::new();
            let mut keys = Vec::new();
            for v in jobs.iter().flat_map(|j| j.items.iter()) {
                let r = &v.receipt;
                keys.push(v.usage_key);
                if let Some(a) = chain.acceptances.get(&(r.payer, r.license_id, r.terms_id)) {
                    payers.push((r.payer, a.token));
                }
            }
            (payers, keys, chain.block)
        };
        let mut tx = store.begin_write().await?;
        let pending = shared_ledger::lock_payers(&mut tx, &payers).await?;
        // After the locks: a batch confirmed before them is visible here.
        let confirmed =
            shared_ledger::confirmed_since(&mut tx, block.saturating_sub(CONFIRMED_WINDOW)).await?;
        let heads = shared_ledger::usage_heads(&mut tx, &keys).await?;
        Ok(Self {
            tx,
            pending,
            heads,
            confirmed,
            keys,
        })
    }

    /// Replaces the in-memory ledger's entries for this group with the shared values: pending
    /// as stored plus the reservations of confirmed batches the follower has not applied yet,
    /// and the stored highest receipt of each usage key.
    pub(super) fn apply(&self, ledger: &mut Ledger, committed_roots: &HashMap<B256, u64>) {
        for (key, amount) in &self.pending {
            ledger.pending.insert(*key, *amount);
        }
        for (root, reservations) in &self.confirmed {
            if committed_roots.contains_key(root) {
                continue;
            }
            for r in reservations {
                if let Some(e) = ledger.pending.get_mut(&(r.payer, r.token)) {
                    if self.pending.contains_key(&(r.payer, r.token)) {
                        *e += r.amount;
                    }
                }
            }
        }
        for key in &self.keys {
            match self.heads.get(key) {
                Some(head) => ledger.usage.insert(*key, *head),
                None => ledger.usage.remove(key),
            };
        }
    }

    /// Inserts `rows`, adds them to the stored ledger, and commits.
    pub(super) async fn commit(
        mut self,
        store: &Store,
        rows: &[NewReceipt],
        applied: &[Applied],
    ) -> Result<(), StoreError> {
        store.insert_receipts_in(&mut self.tx, rows).await?;
        let mut pending = HashMap::new();
        let mut heads: HashMap<B256, (u64, B256)> = HashMap::new();
        for a in applied {
            let base = self
                .pending
                .get(&a.payer_token)
                .copied()
                .unwrap_or_default();
            *pending.entry(a.payer_token).or_insert(base) += a.amount;
            let head = heads.entry(a.usage_key).or_insert((a.cumulative, a.digest));
            if a.cumulative > head.0 {
                *head = (a.cumulative, a.digest);
            }
        }
        shared_ledger::set_pending(&mut self.tx, &pending).await?;
        shared_ledger::set_usage_heads(&mut self.tx, &heads).await?;
        self.tx.commit().await?;
        Ok(())
    }
}
