//! The in-memory ledger of what this relayer accepted: the highest receipt of every usage key
//! and, per `(payer, token)`, the amount not yet seen reserved on-chain.

use std::collections::HashMap;

use alloy::primitives::{Address, B256, U256};

use crate::store::{ReceiptStatus, Store, StoreError};

/// `(payer, token)`.
pub type PayerToken = (Address, Address);

/// Amounts per `(payer, token)` that a confirmed batch reserved.
pub type Reserved = Vec<(PayerToken, U256)>;

/// What this relayer has accepted and not yet seen reserved on-chain, and the highest receipt
/// of every usage key.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Usage key → (highest accepted cumulative count, its digest).
    pub usage: HashMap<B256, (u64, B256)>,
    /// `(payer, token)` → amount accepted and not yet covered by a reservation the follower
    /// has seen.
    pub pending: HashMap<(Address, Address), U256>,
    /// Confirmed batches whose `FundsReserved` the follower has not applied yet: root →
    /// amounts to release from `pending` once it has.
    pub awaiting_follower: HashMap<B256, Reserved>,
    /// The last arrival sequence number given.
    pub seq: i64,
}

impl Ledger {
    /// Rebuilds the ledger from the store: the highest receipt of each usage key, and the
    /// amounts of receipts not yet in a confirmed batch.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let (rows, seq) = store.ingest_snapshot().await?;
        let mut ledger = Self {
            seq,
            ..Self::default()
        };
        for row in rows {
            let head = (row.cumulative, row.digest);
            let entry = ledger.usage.entry(row.usage_key).or_insert(head);
            if row.cumulative > entry.0 {
                *entry = head;
            }
            if row.status != ReceiptStatus::Committed {
                *ledger.pending.entry((row.payer, row.token)).or_default() += row.amount;
            }
        }
        Ok(ledger)
    }

    /// Adds `up` to and subtracts `down` from the pending amounts (a cut re-priced receipts).
    pub fn adjust_pending(
        &mut self,
        up: &HashMap<PayerToken, U256>,
        down: &HashMap<PayerToken, U256>,
    ) {
        for (key, amount) in up {
            let e = self.pending.entry(*key).or_default();
            *e = e.saturating_add(*amount);
        }
        for (key, amount) in down {
            let e = self.pending.entry(*key).or_default();
            *e = e.saturating_sub(*amount);
        }
    }

    /// Releases from `pending` the batches whose reservations the follower has applied.
    pub fn settle_seen(&mut self, committed_roots: &HashMap<B256, u64>) {
        let seen: Vec<B256> = self
            .awaiting_follower
            .keys()
            .filter(|root| committed_roots.contains_key(*root))
            .copied()
            .collect();
        for root in seen {
            for (key, amount) in self.awaiting_follower.remove(&root).unwrap_or_default() {
                let e = self.pending.entry(key).or_default();
                *e = e.saturating_sub(amount);
            }
        }
    }
}
