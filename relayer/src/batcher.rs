//! Batching and committing.
//!
//! A batch walks these states, each change one store transaction:
//!
//! | state | meaning | next step |
//! | --- | --- | --- |
//! | `built` | receipts assigned, tree, proofs and batch data stored | estimate, take a nonce, sign, record the transaction → `signed` |
//! | `signed` | the signed commit is recorded | broadcast → `sent` |
//! | `sent` | broadcast at least once | follow: bump fees when stuck, rebroadcast when dropped, wait for `confirmations` → `confirmed`; a revert → `failed` |
//! | `confirmed` | the root is committed and buried | receipts are `committed`; payees can claim |
//! | `failed` | the commit reverted or cannot be sent | its receipts return to `pending` |
//!
//! From `built` on, a commit walks the transaction lifecycle shared with claims and releases
//! ([`crate::txmgr::lifecycle`]); the SQL of each state change is `store::batches`.
//!
//! After a crash the batcher picks up the oldest unfinished batch and continues from its state:
//! it never builds a second batch while one is unfinished, and it never signs a second
//! transaction for a batch except as a fee bump of the same nonce, so a root is committed at
//! most once (the escrow also refuses a `(root, payer, token)` twice).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use alloy::{
    primitives::{Address, Bytes, B256, U256},
    rpc::types::TransactionReceipt,
    sol_types::SolCall,
};
use fairtrain_protocol::{
    batch::{data_hash, BatchData, Reservation, BATCH_DATA_VERSION},
    bindings::{Escrow, TrainingEscrow},
    wire::SignedReceipt,
    EscrowDomain,
};
use sqlx::AnyConnection;
use tracing::{info, warn};

use crate::{
    chain::{ChainState, SharedState},
    config::BatchConfig,
    failpoint,
    ingest::Ledger,
    pricing::PoolCounts,
    store::{
        batches::{self, NewBatch},
        Backend, BatchRow, BatchState, ReceiptRow, Store, StoreError, TxRow,
    },
    tree::LevelTree,
    txmgr::{Policy, TxError, TxJob, TxManager, TxPhase},
    util::{hex0x, now_secs},
};

/// Cuts batches and drives them to confirmation.
#[derive(Clone)]
pub struct Batcher {
    store: Store,
    txm: TxManager,
    state: SharedState,
    ledger: Arc<Mutex<Ledger>>,
    domain: EscrowDomain,
    config: BatchConfig,
    public_url: String,
    confirmations: u64,
    bump_after: u64,
    poll: Duration,
}

impl Batcher {
    /// A batcher committing to the escrow of `domain`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        txm: TxManager,
        state: SharedState,
        ledger: Arc<Mutex<Ledger>>,
        domain: EscrowDomain,
        config: BatchConfig,
        public_url: String,
        confirmations: u64,
        bump_after: u64,
        poll: Duration,
    ) -> Self {
        Self {
            store,
            txm,
            state,
            ledger,
            domain,
            config,
            public_url,
            confirmations: confirmations.max(1),
            bump_after,
            poll,
        }
    }

    /// Runs forever. Errors (RPC down, store busy) are logged and retried with backoff;
    /// ingest is unaffected.
    pub async fn run(self) {
        let mut backoff = fairtrain_chain::Backoff::new(self.poll);
        loop {
            match self.tick().await {
                Ok(true) => backoff.succeeded(),
                Ok(false) => {
                    backoff.succeeded();
                    tokio::time::sleep(self.poll).await;
                }
                Err(e) => {
                    let wait = backoff.failed();
                    warn!(error = %e, retry_in = ?wait, "batcher step failed");
                    metrics::counter!("relayer_batcher_errors_total").increment(1);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One step: advance the unfinished batch if there is one, drive the jobs (sponsored claims
    /// and line releases, [`crate::claims`]), and cut a new batch if none is unfinished and a
    /// threshold is reached (requesting the releases its receipts wait for). Returns whether
    /// anything changed.
    ///
    /// # Errors
    ///
    /// [`TxError`] when the node or the store fails.
    pub async fn tick(&self) -> Result<bool, TxError> {
        let mut changed = false;
        let active = self.store.active_batch().await?;
        // New jobs (claims, releases) take nonces only once the commit (signed first) has been
        // broadcast, so the node never receives one ahead of a lower commit nonce. Jobs already
        // in flight are always followed: after a reorganisation a claim may hold a lower nonce
        // than the commit, which cannot be mined before the claim is sent again.
        let commit_broadcast = active.as_ref().is_none_or(|b| b.state == BatchState::Sent);
        let batch_active = active.is_some();
        if let Some(batch) = active {
            changed |= self.drive(batch).await?;
        }
        changed |= crate::claims::drive(
            &self.txm,
            &self.store,
            self.domain.verifying_contract(),
            self.confirmations,
            commit_broadcast,
        )
        .await?;
        if !batch_active {
            changed |= self.cut().await?;
        }
        Ok(changed)
    }

    fn commit_call(batch: &BatchRow) -> Result<Bytes, StoreError> {
        let reservations = batch
            .reservations()?
            .into_iter()
            .map(|r| Escrow::ReservationRequest {
                payer: r.payer,
                token: r.token,
                amount: r.amount.to::<u128>(),
            })
            .collect();
        Ok(TrainingEscrow::commitBatchCall {
            root: batch.root,
            receiptCount: batch.receipt_count as u32,
            dataHash: batch.data_hash,
            dataURI: batch.data_uri.clone(),
            reservations,
        }
        .abi_encode()
        .into())
    }

    /// Advances the unfinished `batch` one step of its commit's lifecycle.
    async fn drive(&self, batch: BatchRow) -> Result<bool, TxError> {
        let phase = match batch.state {
            BatchState::Built => TxPhase::Unsigned,
            BatchState::Signed => TxPhase::Signed,
            BatchState::Sent => TxPhase::Sent,
            other @ (BatchState::Confirmed | BatchState::Failed) => {
                return Err(
                    StoreError::Corrupt(format!("batch {} in state {other}", batch.id)).into(),
                )
            }
        };
        let commit = Commit {
            batcher: self,
            batch: &batch,
            phase,
        };
        self.txm.advance(&commit, self.confirmations).await
    }

    /// Whether the escrow already holds a reservation of this batch (it was committed).
    async fn committed_on_chain(&self, batch: &BatchRow) -> Result<bool, TxError> {
        let reservations = batch.reservations()?;
        let Some(first) = reservations.first() else {
            return Ok(false);
        };
        let root: B256 = batch.root;
        let escrow = TrainingEscrow::new(self.domain.verifying_contract(), self.txm.provider());
        let r = escrow
            .reservation(root, first.payer, first.token)
            .call()
            .await
            .map_err(TxError::contract)?;
        Ok(r.committedAt.to::<u64>() != 0)
    }

    async fn confirm_without_receipt(&self, batch: &BatchRow) -> Result<bool, TxError> {
        let root: B256 = batch.root;
        let block = self
            .state
            .read()
            .expect("state lock")
            .committed_roots
            .get(&root)
            .copied();
        match block {
            Some(block) => {
                self.confirm(batch, String::new(), block).await?;
                Ok(true)
            }
            // The follower has not seen it yet: wait.
            None => Ok(false),
        }
    }

    async fn confirm(&self, batch: &BatchRow, tx_hash: String, block: u64) -> Result<(), TxError> {
        let mut tx = self.store.begin_write().await?;
        if self.store.backend() == Backend::Postgres {
            // The shared ledger stops counting the batch's receipts as acknowledged and
            // uncommitted: they are now covered by the on-chain reservation. The payer rows
            // are locked first, as ingest does, so the two never wait on each other in a cycle.
            crate::store::ledger::release(&mut tx, &batch.reservations()?).await?;
        }
        let tx_hash = (!tx_hash.is_empty()).then_some(tx_hash);
        batches::confirm(&mut tx, batch.id, tx_hash, block).await?;
        tx.commit().await?;
        let root: B256 = batch.root;
        let amounts = batch
            .reservations()?
            .into_iter()
            .map(|r| ((r.payer, r.token), r.amount))
            .collect();
        self.ledger
            .lock()
            .expect("ledger lock")
            .awaiting_follower
            .insert(root, amounts);
        info!(batch = batch.id, block, root = %batch.root, "batch confirmed");
        metrics::counter!("relayer_batches_confirmed_total").increment(1);
        metrics::counter!("relayer_receipts_committed_total").increment(batch.receipt_count as u64);
        failpoint::hit("batch_confirmed").await;
        Ok(())
    }

    async fn fail(&self, batch: &BatchRow, reason: &str) -> Result<(), TxError> {
        warn!(
            batch = batch.id,
            reason, "batch failed; its receipts return to pending"
        );
        let mut tx = self.store.begin_write().await?;
        batches::fail(&mut tx, batch.id, reason).await?;
        tx.commit().await?;
        metrics::counter!("relayer_batches_failed_total").increment(1);
        Ok(())
    }

    /// Cuts a batch from the oldest pending receipts if a threshold is reached. Receipts of
    /// payers whose credit line no longer covers them are skipped (they wait for more credit)
    /// without holding back the receipts behind them. The rows are re-priced by the pricing rule
    /// first (see [`reprice`]).
    ///
    /// Receipts of a line that [awaits release](crate::chain::state::CreditLine::awaits_release)
    /// at chain time (every batch of the line expired, reserved funds or fees left) wait too,
    /// and the line's release is requested ([`crate::claims::request_release`]; sent as a job,
    /// before any later commit): once the follower has applied it, the line's reserve is back
    /// in its credit and the next cut commits them, priced over the settled counts. Without it
    /// they could wait until somebody else released the line, possibly past the payer's notice.
    async fn cut(&self) -> Result<bool, TxError> {
        let max = self.config.max_receipts;
        let rows = self.store.pending_receipts(4 * max as i64).await?;
        if rows.is_empty() {
            return Ok(false);
        }
        let relayer = self.txm.address();
        let committed = PoolCounts::load(
            &self.store,
            rows.iter().map(|row| row.usage_key).collect::<Vec<_>>(),
        )
        .await?;
        let (chain_now, selected, repriced, releases) = {
            let chain = self.state.read().expect("state lock");
            let mut eligible = Vec::new();
            let mut releases = BTreeSet::new();
            for row in rows {
                let (payer, token) = (row.payer, row.token);
                let line = chain.line(payer, relayer, token);
                if (row.chargeable_from as u64) > chain.timestamp || !line.is_open() {
                    continue;
                }
                if line.awaits_release(chain.timestamp) {
                    releases.insert((payer, token, line.reserved_until));
                } else {
                    eligible.push(row);
                }
            }
            let cut_time = chain.timestamp.max(now_secs() as u64);
            self.ledger
                .lock()
                .expect("ledger lock")
                .settle_seen(&chain.committed_roots);
            let pool = PoolCounts::from_committed(
                &chain,
                relayer,
                cut_time.saturating_add(COMMIT_MARGIN_SECS),
                &committed,
            );
            let old = reprice(&mut eligible, &chain, &pool);
            let selected = select(
                eligible,
                |payer, token| chain.line(payer, relayer, token).credit,
                max,
            );
            let repriced = repriced_rows(&selected.0, &old);
            (chain.timestamp, selected, repriced, releases)
        };
        let mut requested = false;
        for (payer, token, reserved_until) in releases {
            requested |= crate::claims::request_release(&self.store, payer, token, reserved_until)
                .await?
                .is_some();
        }
        let (receipts, reservations) = selected;
        let Some(oldest) = receipts.iter().map(|r| r.received_at).min() else {
            return Ok(requested);
        };
        let total = reservations
            .iter()
            .fold(U256::ZERO, |acc, r| acc.saturating_add(r.amount));
        let full = receipts.len() >= max;
        let valuable = total >= self.config.max_value;
        let old = now_secs() - oldest >= self.config.max_age_secs as i64;
        if !(full || valuable || old) {
            return Ok(requested);
        }
        self.build(receipts, reservations, &repriced, chain_now)
            .await?;
        Ok(true)
    }

    /// Records a batch of `rows` (re-priced as `repriced`) in state `built`, in one store
    /// transaction with the re-priced amounts and, on PostgreSQL, the shared ledger's change.
    async fn build(
        &self,
        rows: Vec<ReceiptRow>,
        reservations: Vec<Reservation>,
        repriced: &[Repriced],
        chain_now: u64,
    ) -> Result<(), TxError> {
        let batch = assemble(&self.domain, &self.public_url, &rows, reservations)?;
        let (up, down) = ledger_changes(repriced);
        let amounts: Vec<_> = repriced.iter().map(|r| (r.digest, r.new)).collect();
        let mut tx = self.store.begin_write().await?;
        if self.store.backend() == Backend::Postgres && !repriced.is_empty() {
            // The payer rows are locked first, as ingest and confirmation do.
            crate::store::ledger::adjust(&mut tx, &up, &down).await?;
        }
        batches::set_pending_amounts(&mut tx, &amounts).await?;
        let id = batches::insert_built(&mut tx, &batch).await?;
        self.commit_repriced(tx, &up, &down).await?;
        if !repriced.is_empty() {
            info!(
                batch = id,
                rows = repriced.len(),
                "receipts re-priced over their lines' pools"
            );
        }
        info!(batch = id, receipts = rows.len(), root = %batch.root, data_hash = %batch.data_hash, chain_now, "batch built");
        metrics::counter!("relayer_batches_built_total").increment(1);
        failpoint::hit("batch_built").await;
        Ok(())
    }

    /// Commits `tx`, which re-priced receipts by `up` and `down`, keeping ingest's ledger
    /// safe: it counts a raised amount from before the commit, a lowered one only after it.
    async fn commit_repriced(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
        up: &PendingChange,
        down: &PendingChange,
    ) -> Result<(), TxError> {
        self.ledger
            .lock()
            .expect("ledger lock")
            .adjust_pending(up, &HashMap::new());
        if let Err(e) = tx.commit().await {
            self.ledger
                .lock()
                .expect("ledger lock")
                .adjust_pending(&HashMap::new(), up);
            return Err(e.into());
        }
        self.ledger
            .lock()
            .expect("ledger lock")
            .adjust_pending(&HashMap::new(), down);
        Ok(())
    }
}

/// A batch's commit, as the transaction lifecycle drives it.
struct Commit<'a> {
    batcher: &'a Batcher,
    batch: &'a BatchRow,
    phase: TxPhase,
}

/// Commits stop at their fail points; a commit refused as underpriced is retried, not sent.
static COMMIT_POLICY: Policy = Policy {
    failpoints: ["batch_signed", "batch_broadcast", "batch_sent"],
    sent_when_underpriced: false,
    unsigned_without_tx: false,
};

impl TxJob for Commit<'_> {
    fn kind(&self) -> &'static str {
        "commit"
    }

    fn id(&self) -> i64 {
        self.batch.id
    }

    fn phase(&self) -> TxPhase {
        self.phase
    }

    fn policy(&self) -> &'static Policy {
        &COMMIT_POLICY
    }

    fn to(&self) -> Address {
        self.batcher.domain.verifying_contract()
    }

    async fn calldata(&self) -> Result<Bytes, TxError> {
        Ok(Batcher::commit_call(self.batch)?)
    }

    async fn set_phase(&self, conn: &mut AnyConnection, phase: TxPhase) -> Result<(), StoreError> {
        let state = match phase {
            TxPhase::Unsigned => BatchState::Built,
            TxPhase::Signed => BatchState::Signed,
            TxPhase::Sent => BatchState::Sent,
        };
        batches::set_state(conn, self.batch.id, state).await
    }

    async fn would_revert(&self, reason: String) -> Result<bool, TxError> {
        if self.batcher.committed_on_chain(self.batch).await? {
            // A commit of ours was mined but its receipt was lost (e.g. the nonce was
            // re-signed): the root is committed; find it in the follower's state.
            info!(batch = self.batch.id, "root already committed on-chain");
            return self.batcher.confirm_without_receipt(self.batch).await;
        }
        self.batcher.fail(self.batch, &reason).await?;
        Ok(true)
    }

    async fn reverted(&self) -> Result<(), TxError> {
        self.batcher
            .fail(self.batch, "commit transaction reverted")
            .await
    }

    async fn confirmed(&self, receipt: &TransactionReceipt) -> Result<(), TxError> {
        let hash = hex0x(receipt.transaction_hash);
        let block = receipt.block_number.unwrap_or_default();
        self.batcher.confirm(self.batch, hash, block).await
    }

    /// After twice `bump_after` (at least 2 s): the node had time to index a receipt of ours.
    fn resign_after_nonce_taken(&self, last: &TxRow) -> bool {
        now_secs() - last.created_at >= 2 * self.batcher.bump_after.max(1) as i64
    }
}

/// The batch of `rows` (in leaf order) with `reservations`, as the escrow of `domain` commits
/// it: the receipts' tree and proofs, the batch data and where `public_url` publishes it.
///
/// # Errors
///
/// [`StoreError::Corrupt`] if a row does not parse or `rows` is empty.
pub fn assemble(
    domain: &EscrowDomain,
    public_url: &str,
    rows: &[ReceiptRow],
    reservations: Vec<Reservation>,
) -> Result<NewBatch, StoreError> {
    let receipts = rows
        .iter()
        .map(ReceiptRow::signed_receipt)
        .collect::<Result<Vec<_>, _>>()?;
    let plain: Vec<_> = receipts.iter().map(SignedReceipt::receipt).collect();
    let tree = LevelTree::from_receipts(domain, &plain)
        .ok_or_else(|| StoreError::Corrupt("empty batch".into()))?;
    let mut leaves = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let proof = tree
            .proof(index)
            .ok_or_else(|| StoreError::Corrupt(format!("proof {index}")))?
            .iter()
            .map(hex0x)
            .collect::<Vec<_>>()
            .join(",");
        leaves.push((hex0x(row.digest), proof));
    }
    let data = BatchData {
        version: BATCH_DATA_VERSION,
        chain_id: domain.chain_id(),
        escrow: domain.verifying_contract(),
        root: tree.root(),
        receipts,
        reservations,
    };
    let bytes = data.to_bytes();
    let hash = hex0x(data_hash(&bytes));
    Ok(NewBatch {
        root: hex0x(data.root),
        data_uri: format!("{}/v1/data/{hash}", public_url.trim_end_matches('/')),
        data_hash: hash,
        body: String::from_utf8(bytes).expect("JSON is UTF-8"),
        reservations: serde_json::to_string(&data.reservations).expect("plain data"),
        leaves,
    })
}

/// Seconds the batcher allows between cutting a batch and its commit being mined: a line whose
/// `reservedUntil` is not later than the cut time plus this margin may be released before the
/// commit, so no earlier batch counts in its pool (the batch prices its rows over the settled
/// counts alone).
pub const COMMIT_MARGIN_SECS: u64 = 120;

/// A stored receipt whose amount a cut changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repriced {
    /// Digest.
    pub digest: B256,
    /// `(payer, token)`.
    pub payer_token: (Address, Address),
    /// Amount as stored.
    pub old: U256,
    /// Amount the batch reserves for it.
    pub new: U256,
}

/// Re-prices, in place, the rows (oldest first) by the pricing rule ([`crate::pricing`]): the
/// first row of each usage key over its base in `pool` (the settled count, or the highest count
/// of the key in the batches still in its line's pool if that is higher), the next ones over the
/// row before. Every line is re-priced, up or down: a line released since ingest priced a row
/// lost its earlier batches' reserves (they went back to credit), a line locked again by a batch
/// committed since holds them. Returns the stored amount of each row whose amount changed, by
/// digest.
pub fn reprice(
    rows: &mut [ReceiptRow],
    chain: &ChainState,
    pool: &PoolCounts,
) -> HashMap<B256, U256> {
    let mut counts: HashMap<B256, u64> = HashMap::new();
    let mut old = HashMap::new();
    for row in rows.iter_mut() {
        let Some(acceptance) = chain
            .acceptances
            .get(&(row.payer, row.license_id, row.terms_id))
        else {
            continue;
        };
        let (key, cumulative) = (row.usage_key, row.cumulative);
        let previous = counts
            .entry(key)
            .or_insert_with(|| pool.base(&key, chain.settled.get(&key).copied().unwrap_or(0)));
        let amount =
            U256::from(cumulative.saturating_sub(*previous)) * U256::from(acceptance.price);
        *previous = (*previous).max(cumulative);
        let stored = row.amount;
        if amount != stored {
            old.insert(row.digest, stored);
            row.amount = amount;
        }
    }
    old
}

/// The rows of `kept` that [`reprice`] changed (`old`: their stored amounts).
pub fn repriced_rows(kept: &[ReceiptRow], old: &HashMap<B256, U256>) -> Vec<Repriced> {
    kept.iter()
        .filter_map(|row| {
            old.get(&row.digest).map(|&stored| Repriced {
                digest: row.digest,
                payer_token: (row.payer, row.token),
                old: stored,
                new: row.amount,
            })
        })
        .collect()
}

/// What re-pricing adds to and removes from each `(payer, token)`'s pending amount.
pub fn ledger_changes(repriced: &[Repriced]) -> (PendingChange, PendingChange) {
    let mut up: PendingChange = HashMap::new();
    let mut down: PendingChange = HashMap::new();
    for r in repriced {
        if r.new > r.old {
            *up.entry(r.payer_token).or_default() += r.new - r.old;
        } else {
            *down.entry(r.payer_token).or_default() += r.old - r.new;
        }
    }
    (up, down)
}

/// Amounts per `(payer, token)`.
pub type PendingChange = HashMap<(Address, Address), U256>;

/// Picks a batch from `rows` (oldest first): the receipts of payers whose line `credit` covers
/// all of their rows here, at most `max` of them, and the reservation each payer and token
/// needs. A reservation may be zero (the receipts add nothing over what earlier batches
/// reserved): it is kept, since claims of the batch need the batch's record for the payer.
pub fn select(
    rows: Vec<ReceiptRow>,
    credit: impl Fn(Address, Address) -> U256,
    max: usize,
) -> (Vec<ReceiptRow>, Vec<Reservation>) {
    let mut sums: BTreeMap<(Address, Address), U256> = BTreeMap::new();
    for row in &rows {
        *sums.entry((row.payer, row.token)).or_default() += row.amount;
    }
    let unfunded: Vec<_> = sums
        .iter()
        .filter(|((payer, token), amount)| {
            **amount > credit(*payer, *token) || **amount > U256::from(u128::MAX)
        })
        .map(|(k, amount)| {
            warn!(payer = %k.0, token = %k.1, %amount, "credit line does not cover the payer's receipts; they wait");
            metrics::counter!("relayer_unfunded_payers_total").increment(1);
            *k
        })
        .collect();
    let mut kept = Vec::new();
    let mut reserved: BTreeMap<(Address, Address), U256> = BTreeMap::new();
    for row in rows {
        if kept.len() == max {
            break;
        }
        let k = (row.payer, row.token);
        if unfunded.contains(&k) {
            continue;
        }
        *reserved.entry(k).or_default() += row.amount;
        kept.push(row);
    }
    let reservations = reserved
        .into_iter()
        .map(|((payer, token), amount)| Reservation {
            payer,
            token,
            amount,
        })
        .collect();
    (kept, reservations)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ReceiptStatus;

    fn row(seq: i64, payer: u8, amount: u64) -> ReceiptRow {
        ReceiptRow {
            digest: B256::left_padding_from(&seq.to_be_bytes()),
            usage_key: B256::ZERO,
            payer: Address::repeat_byte(payer),
            license_id: U256::from(1),
            terms_id: 1,
            run_id: B256::ZERO,
            cumulative: 1,
            issued_at: 1,
            signature: Bytes::new(),
            signer: Address::ZERO,
            token: Address::repeat_byte(0xaa),
            amount: U256::from(amount),
            chargeable_from: 0,
            received_at: seq,
            seq,
            status: ReceiptStatus::Pending,
            batch_id: None,
            leaf_index: None,
            proof: None,
            claim_tx: None,
        }
    }

    #[test]
    fn assemble_publishes_the_receipts_in_leaf_order_with_their_proofs() {
        let domain = EscrowDomain::new(31337, Address::repeat_byte(0xee));
        let key: alloy::signers::local::PrivateKeySigner =
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
                .parse()
                .unwrap();
        let rows: Vec<ReceiptRow> = (1..=3u64)
            .map(|n| {
                let receipt = fairtrain_protocol::Receipt {
                    payer: Address::repeat_byte(1),
                    licenseId: U256::from(1),
                    termsId: 1,
                    runId: B256::repeat_byte(n as u8),
                    cumulativeSamples: n,
                    issuedAt: 100,
                };
                let signed = SignedReceipt::sign(&domain, &key, &receipt).unwrap();
                ReceiptRow {
                    digest: domain.digest(&receipt),
                    usage_key: receipt.usage_key(),
                    run_id: receipt.runId,
                    cumulative: n,
                    issued_at: 100,
                    signature: signed.signature.as_bytes().to_vec().into(),
                    ..row(n as i64, 1, 10)
                }
            })
            .collect();
        let reservations = vec![Reservation {
            payer: Address::repeat_byte(1),
            token: Address::repeat_byte(0xaa),
            amount: U256::from(30),
        }];
        let batch = assemble(&domain, "http://relayer/", &rows, reservations.clone()).unwrap();
        let plain: Vec<_> = rows
            .iter()
            .map(|r| r.signed_receipt().unwrap().receipt())
            .collect();
        let tree = LevelTree::from_receipts(&domain, &plain).unwrap();
        assert_eq!(batch.root, hex0x(tree.root()));
        assert_eq!(batch.data_hash, hex0x(data_hash(batch.body.as_bytes())));
        assert_eq!(
            batch.data_uri,
            format!("http://relayer/v1/data/{}", batch.data_hash)
        );
        let digests: Vec<_> = batch.leaves.iter().map(|(d, _)| d.clone()).collect();
        assert_eq!(
            digests,
            rows.iter().map(|r| hex0x(r.digest)).collect::<Vec<_>>()
        );
        for (index, (_, proof)) in batch.leaves.iter().enumerate() {
            let want: Vec<_> = tree.proof(index).unwrap().iter().map(hex0x).collect();
            assert_eq!(proof, &want.join(","));
        }
        let published: Vec<Reservation> = serde_json::from_str(&batch.reservations).unwrap();
        assert_eq!(published, reservations);
        assert!(matches!(
            assemble(&domain, "http://relayer", &[], Vec::new()),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn unfunded_payers_wait_without_blocking_others() {
        // Payer 1 (oldest receipts) has spent its balance; payer 2 is funded.
        let rows = vec![
            row(1, 1, 50),
            row(2, 1, 60),
            row(3, 2, 10),
            row(4, 2, 20),
            row(5, 2, 30),
        ];
        let available = |payer: Address, _| {
            if payer == Address::repeat_byte(1) {
                U256::from(100)
            } else {
                U256::from(1_000)
            }
        };
        let (kept, reservations) = select(rows.clone(), available, 2);
        assert_eq!(kept.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(reservations.len(), 1);
        assert_eq!(reservations[0].payer, Address::repeat_byte(2));
        assert_eq!(reservations[0].amount, U256::from(30));
        // Everyone funded: oldest first, one reservation per payer and token, summing exactly.
        let (kept, reservations) = select(rows, |_, _| U256::from(1_000), 10);
        assert_eq!(kept.len(), 5);
        let amounts: Vec<_> = reservations.iter().map(|r| r.amount).collect();
        assert_eq!(amounts, [U256::from(110), U256::from(60)]);
    }
}
