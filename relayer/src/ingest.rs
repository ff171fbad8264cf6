//! The verification pipeline and the group-committing writer.
//!
//! 1. [`verify_signatures`] (stateless, in parallel on blocking threads): the EIP-712 digest
//!    under the relayer's domain and the recovered signer.
//! 2. [`Ingest::submit`] hands verified receipts to the single writer task, which takes every
//!    waiting submission at once (group commit), checks each receipt against the chain state
//!    followed from events and the [`Ledger`] of what this relayer already accepted, inserts the
//!    accepted ones in one transaction, and answers only after `COMMIT`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use alloy::primitives::{Address, B256, U256};
use fairtrain_protocol::{
    api::relayer::Outcome, batch::Reservation, wire::SignedReceipt, EscrowDomain,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info};

use crate::{
    chain::SharedState,
    pricing::{ingest_base, PoolCounts},
    rejection::Rejection,
    store::{ledger as shared_ledger, Backend, NewReceipt, ReceiptStatus, Store, StoreError},
    util::{hex0x, now_secs},
};

/// A receipt whose signature recovered.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The receipt.
    pub receipt: SignedReceipt,
    /// Its EIP-712 digest.
    pub digest: B256,
    /// Its usage key.
    pub usage_key: B256,
    /// The key that signed it.
    pub signer: Address,
}

/// Recovers the signer of `receipt` under `domain`.
///
/// # Errors
///
/// [`Rejection::InvalidSignature`] when no key can be recovered.
pub fn verify_signature(
    domain: &EscrowDomain,
    receipt: SignedReceipt,
) -> Result<Verified, Rejection> {
    let r = receipt.receipt();
    let digest = domain.digest(&r);
    let signer = receipt
        .signature
        .recover(&digest)
        .map_err(|e| Rejection::InvalidSignature(e.to_string()))?;
    Ok(Verified {
        usage_key: r.usage_key(),
        receipt,
        digest,
        signer,
    })
}

/// [`verify_signature`] of many receipts, split over the blocking thread pool (signature
/// recovery is the CPU cost of ingest).
pub async fn verify_signatures(
    domain: &EscrowDomain,
    receipts: Vec<SignedReceipt>,
) -> Vec<Result<Verified, Rejection>> {
    const CHUNK: usize = 256;
    if receipts.len() <= CHUNK {
        return receipts
            .into_iter()
            .map(|r| verify_signature(domain, r))
            .collect();
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per = receipts.len().div_ceil(threads).max(CHUNK);
    let mut chunks = Vec::new();
    let mut it = receipts.into_iter();
    loop {
        let chunk: Vec<_> = it.by_ref().take(per).collect();
        if chunk.is_empty() {
            break;
        }
        let domain = domain.clone();
        chunks.push(tokio::task::spawn_blocking(move || {
            chunk
                .into_iter()
                .map(|r| verify_signature(&domain, r))
                .collect::<Vec<_>>()
        }));
    }
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(chunk.await.expect("verification task panicked"));
    }
    out
}

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
        use crate::store::rows::parse;
        let (rows, seq) = store.ingest_snapshot().await?;
        let mut ledger = Self {
            seq,
            ..Self::default()
        };
        for row in rows {
            let key: B256 = parse("usage_key", &row.usage_key)?;
            let cumulative: u64 = parse("cumulative", &row.cumulative)?;
            let digest: B256 = parse("digest", &row.digest)?;
            let entry = ledger.usage.entry(key).or_insert((cumulative, digest));
            if cumulative > entry.0 {
                *entry = (cumulative, digest);
            }
            if row.status != ReceiptStatus::Committed {
                let payer: Address = parse("payer", &row.payer)?;
                let token: Address = parse("token", &row.token)?;
                let amount: U256 = parse("amount", &row.amount)?;
                let e = ledger.pending.entry((payer, token)).or_default();
                *e += amount;
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

/// Parameters of the stateful checks.
#[derive(Clone, Debug)]
pub struct Rules {
    /// This relayer's address (payers fund a credit line for it).
    pub relayer: Address,
    /// Seconds within which an accepted receipt is committed: a revocation due before then
    /// refuses it, and a line releasable before then has no batch in its pool (it is priced
    /// over the settled count, see [`crate::pricing`] and `BatchConfig::horizon_secs`).
    pub horizon_secs: u64,
}

/// A job for the writer: receipts and where to send their outcomes.
struct Job {
    items: Vec<Verified>,
    reply: oneshot::Sender<Result<Vec<Outcome>, IngestError>>,
}

/// The writer could not store a group: nothing in it was acknowledged.
#[derive(Clone, Debug, thiserror::Error)]
pub enum IngestError {
    /// The store failed; retry.
    #[error("store unavailable: {0}")]
    Store(String),
    /// The writer task is gone (shutting down).
    #[error("relayer is shutting down")]
    Closed,
}

/// Handle to the writer task.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Job>,
    ledger: Arc<Mutex<Ledger>>,
}

/// Most receipts written in one transaction.
const MAX_GROUP: usize = 16_384;

impl Ingest {
    /// Starts the writer task.
    pub fn start(store: Store, state: SharedState, ledger: Ledger, rules: Rules) -> Self {
        let (tx, rx) = mpsc::channel(1_024);
        let ledger = Arc::new(Mutex::new(ledger));
        tokio::spawn(writer(rx, store, state, ledger.clone(), rules));
        Self { tx, ledger }
    }

    /// The shared ledger (the batcher releases pending amounts through it).
    pub fn ledger(&self) -> &Arc<Mutex<Ledger>> {
        &self.ledger
    }

    /// Checks and stores `items`; returns their outcomes once the transaction has committed.
    ///
    /// # Errors
    ///
    /// [`IngestError`] if the group could not be stored (none of `items` is acknowledged).
    pub async fn submit(&self, items: Vec<Verified>) -> Result<Vec<Outcome>, IngestError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { items, reply })
            .await
            .map_err(|_| IngestError::Closed)?;
        rx.await.map_err(|_| IngestError::Closed)?
    }
}

async fn writer(
    mut rx: mpsc::Receiver<Job>,
    store: Store,
    state: SharedState,
    ledger: Arc<Mutex<Ledger>>,
    rules: Rules,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut count = jobs[0].items.len();
        while count < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.items.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        process_group(jobs, &store, &state, &ledger, &rules).await;
    }
    info!("ingest writer stopped");
}

/// Stored receipts that might be resubmissions (count not above the highest known, other
/// digest): looked up in the store before the checks.
async fn stored_among(
    jobs: &[Job],
    store: &Store,
    ledger: &Mutex<Ledger>,
    shared_heads: Option<&HashMap<B256, (u64, B256)>>,
) -> Result<std::collections::HashSet<B256>, StoreError> {
    let candidates: Vec<B256> = {
        let ledger = ledger.lock().expect("ledger lock");
        jobs.iter()
            .flat_map(|j| j.items.iter())
            .filter(|v| {
                let known = match shared_heads {
                    Some(heads) => heads.get(&v.usage_key),
                    None => ledger.usage.get(&v.usage_key),
                };
                known.is_some_and(|(known, digest)| {
                    v.receipt.cumulative_samples <= *known && *digest != v.digest
                })
            })
            .map(|v| v.digest)
            .collect()
    };
    let mut found = std::collections::HashSet::new();
    for digest in candidates {
        if store.has_receipt(&hex0x(digest)).await? {
            found.insert(digest);
        }
    }
    Ok(found)
}

/// The pool counts ([`PoolCounts`]) of the group's usage keys that have a known receipt (a key
/// without one has nothing committed).
async fn pool_counts(
    jobs: &[Job],
    store: &Store,
    state: &SharedState,
    ledger: &Mutex<Ledger>,
    shared_heads: Option<&HashMap<B256, (u64, B256)>>,
    rules: &Rules,
    now: i64,
) -> Result<PoolCounts, StoreError> {
    let keys: Vec<B256> = {
        let ledger = ledger.lock().expect("ledger lock");
        jobs.iter()
            .flat_map(|j| j.items.iter())
            .filter(|v| match shared_heads {
                Some(heads) => heads.contains_key(&v.usage_key),
                None => ledger.usage.contains_key(&v.usage_key),
            })
            .map(|v| v.usage_key)
            .collect()
    };
    let committed = PoolCounts::load(store, keys).await?;
    let chain = state.read().expect("state lock");
    let horizon = chain.timestamp.max(now as u64) + rules.horizon_secs;
    Ok(PoolCounts::from_committed(
        &chain,
        rules.relayer,
        horizon,
        &committed,
    ))
}

async fn process_group(
    jobs: Vec<Job>,
    store: &Store,
    state: &SharedState,
    ledger: &Mutex<Ledger>,
    rules: &Rules,
) {
    let fail = |jobs: Vec<Job>, e: &StoreError| {
        error!(error = %e, "ingest group not stored");
        metrics::counter!("relayer_ingest_store_errors_total").increment(1);
        for job in jobs {
            let _ = job.reply.send(Err(IngestError::Store(e.to_string())));
        }
    };
    // PostgreSQL: lock the group's payers in the store and read what every process has
    // acknowledged for them; the checks, the inserts and the ledger update share one
    // transaction.
    let mut shared = None;
    if store.backend() == Backend::Postgres {
        match SharedView::lock(&jobs, store, state).await {
            Ok(view) => shared = Some(view),
            Err(e) => return fail(jobs, &e),
        }
    }
    let stored = match stored_among(&jobs, store, ledger, shared.as_ref().map(|v| &v.heads)).await {
        Ok(s) => s,
        Err(e) => return fail(jobs, &e),
    };
    let now = now_secs();
    let pool = match pool_counts(
        &jobs,
        store,
        state,
        ledger,
        shared.as_ref().map(|v| &v.heads),
        rules,
        now,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return fail(jobs, &e),
    };
    // Check every receipt against the chain state and the ledger plus this group's overlay.
    let (mut outcomes, rows, applied, seq_end) = {
        let chain = state.read().expect("state lock");
        let mut ledger = ledger.lock().expect("ledger lock");
        ledger.settle_seen(&chain.committed_roots);
        if let Some(view) = &shared {
            view.apply(&mut ledger, &chain.committed_roots);
        }
        let horizon = chain.timestamp.max(now as u64) + rules.horizon_secs;
        let mut usage_delta: HashMap<B256, (u64, B256)> = HashMap::new();
        let mut pending_delta: HashMap<(Address, Address), U256> = HashMap::new();
        let mut seq = ledger.seq;
        let mut rows = Vec::new();
        let mut applied: Vec<(B256, u64, B256, PayerToken, U256)> = Vec::new();
        let mut outcomes: Vec<Vec<Outcome>> = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let mut out = Vec::with_capacity(job.items.len());
            for v in &job.items {
                let r = &v.receipt;
                let known = usage_delta
                    .get(&v.usage_key)
                    .or_else(|| ledger.usage.get(&v.usage_key))
                    .copied();
                if known.is_some_and(|(_, d)| d == v.digest) || stored.contains(&v.digest) {
                    out.push(Outcome::Duplicate { digest: v.digest });
                    continue;
                }
                let check = || -> Result<(Address, U256, u64), Rejection> {
                    let window = chain.signers.get(&(r.payer, v.signer)).ok_or_else(|| {
                        Rejection::SignerNotRegistered {
                            signer: v.signer.to_string(),
                            payer: r.payer.to_string(),
                        }
                    })?;
                    if window.revoked_at != 0 && window.revoked_at <= horizon {
                        return Err(Rejection::SignerRevoked {
                            signer: v.signer.to_string(),
                            revoked_at: window.revoked_at,
                        });
                    }
                    let acceptance = chain
                        .acceptances
                        .get(&(r.payer, r.license_id, r.terms_id))
                        .ok_or_else(|| Rejection::TermsNotAccepted {
                            license_id: r.license_id.to_string(),
                            terms_id: r.terms_id,
                        })?;
                    if acceptance.expires_at != 0 && r.issued_at >= acceptance.expires_at {
                        return Err(Rejection::ReceiptAfterExpiry {
                            issued_at: r.issued_at,
                            expires_at: acceptance.expires_at,
                        });
                    }
                    let line = chain.line(r.payer, rules.relayer, acceptance.token);
                    if !line.is_open() {
                        return Err(Rejection::NoCreditLine {
                            payer: r.payer.to_string(),
                            token: acceptance.token.to_string(),
                        });
                    }
                    let settled = chain.settled.get(&v.usage_key).copied().unwrap_or(0);
                    let previous = known.map_or(0, |(c, _)| c).max(settled);
                    if r.cumulative_samples <= previous {
                        return Err(Rejection::CumulativeNotIncreasing {
                            cumulative: r.cumulative_samples,
                            known: previous,
                        });
                    }
                    let base = ingest_base(&pool, &v.usage_key, known, settled);
                    let amount =
                        U256::from(r.cumulative_samples - base) * U256::from(acceptance.price);
                    let key = (r.payer, acceptance.token);
                    if shared
                        .as_ref()
                        .is_some_and(|v| !v.pending.contains_key(&key))
                    {
                        // The acceptance appeared after the group locked its payers: not
                        // checked against the shared ledger, so not accepted in this group.
                        return Err(Rejection::TermsNotAccepted {
                            license_id: r.license_id.to_string(),
                            terms_id: r.terms_id,
                        });
                    }
                    let committed = ledger.pending.get(&key).copied().unwrap_or_default()
                        + pending_delta.get(&key).copied().unwrap_or_default();
                    let spendable = line.usable_credit().saturating_sub(committed);
                    if amount > spendable {
                        return Err(Rejection::InsufficientBudget {
                            amount: amount.to_string(),
                            spendable: spendable.to_string(),
                        });
                    }
                    Ok((acceptance.token, amount, acceptance.chargeable_from))
                };
                match check() {
                    Ok((token, amount, chargeable_from)) => {
                        seq += 1;
                        usage_delta.insert(v.usage_key, (r.cumulative_samples, v.digest));
                        *pending_delta.entry((r.payer, token)).or_default() += amount;
                        applied.push((
                            v.usage_key,
                            r.cumulative_samples,
                            v.digest,
                            (r.payer, token),
                            amount,
                        ));
                        rows.push(NewReceipt {
                            digest: hex0x(v.digest),
                            usage_key: hex0x(v.usage_key),
                            payer: hex0x(r.payer),
                            license_id: r.license_id.to_string(),
                            terms_id: r.terms_id.to_string(),
                            run_id: hex0x(r.run_id),
                            cumulative: r.cumulative_samples.to_string(),
                            issued_at: r.issued_at.to_string(),
                            signature: hex0x(r.signature.as_bytes()),
                            signer: hex0x(v.signer),
                            token: hex0x(token),
                            amount: amount.to_string(),
                            chargeable_from: chargeable_from as i64,
                            received_at: now,
                            seq,
                        });
                        out.push(Outcome::Accepted {
                            digest: v.digest,
                            amount,
                        });
                    }
                    Err(reason) => {
                        reason.count();
                        out.push(reason.into());
                    }
                }
            }
            outcomes.push(out);
        }
        (outcomes, rows, applied, seq)
    };
    crate::failpoint::hit("ingest_before_commit").await;
    let inserted = match shared {
        Some(view) => view.commit(store, &rows, &applied).await,
        None => store.insert_receipts(&rows).await,
    };
    let inserted = match inserted {
        Ok(inserted) => inserted,
        Err(e) => return fail(jobs, &e),
    };
    // Rows another process stored first (PostgreSQL shared by several relayers) were not
    // inserted: they are duplicates, and their amounts are that process's to count.
    let all_new = inserted.len() == rows.len();
    let is_new = |digest: &B256| all_new || inserted.contains(&hex0x(digest));
    {
        let mut ledger = ledger.lock().expect("ledger lock");
        for (key, cumulative, digest, payer_token, amount) in &applied {
            if !is_new(digest) {
                continue;
            }
            let e = ledger.usage.entry(*key).or_insert((*cumulative, *digest));
            if *cumulative >= e.0 {
                *e = (*cumulative, *digest);
            }
            *ledger.pending.entry(*payer_token).or_default() += *amount;
        }
        ledger.seq = ledger.seq.max(seq_end);
    }
    if !all_new {
        for out in &mut outcomes {
            for o in out.iter_mut() {
                if let Outcome::Accepted { digest, .. } = o {
                    if !is_new(digest) {
                        *o = Outcome::Duplicate { digest: *digest };
                    }
                }
            }
        }
    }
    metrics::counter!("relayer_receipts_accepted_total").increment(inserted.len() as u64);
    for (job, out) in jobs.into_iter().zip(outcomes) {
        let _ = job.reply.send(Ok(out));
    }
}

/// A group's view of the ledger shared through PostgreSQL, read inside the transaction that
/// holds its payers' row locks (taken in sorted order, so concurrent groups of several
/// processes serialise per payer without deadlocking).
struct SharedView {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    /// Pending amount of each locked `(payer, token)`, as stored.
    pending: HashMap<PayerToken, U256>,
    /// Highest stored receipt of the group's usage keys.
    heads: HashMap<B256, (u64, B256)>,
    /// Recently confirmed batches (the stored ledger no longer counts them).
    confirmed: Vec<(B256, Vec<Reservation>)>,
    /// The group's usage keys.
    keys: Vec<B256>,
}

/// Confirmed batches this many blocks behind the follower are still checked for whether it has
/// applied their reservation.
const CONFIRMED_WINDOW: u64 = 256;

impl SharedView {
    async fn lock(jobs: &[Job], store: &Store, state: &SharedState) -> Result<Self, StoreError> {
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
    fn apply(&self, ledger: &mut Ledger, committed_roots: &HashMap<B256, u64>) {
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

    /// Inserts `rows`, adds the inserted ones to the stored ledger, and commits.
    async fn commit(
        mut self,
        store: &Store,
        rows: &[NewReceipt],
        applied: &[(B256, u64, B256, PayerToken, U256)],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let inserted = store.insert_receipts_in(&mut self.tx, rows).await?;
        let mut pending = HashMap::new();
        let mut heads: HashMap<B256, (u64, B256)> = HashMap::new();
        for (key, cumulative, digest, payer_token, amount) in applied {
            if !inserted.contains(&hex0x(digest)) {
                continue;
            }
            let base = self.pending.get(payer_token).copied().unwrap_or_default();
            *pending.entry(*payer_token).or_insert(base) += *amount;
            let head = heads.entry(*key).or_insert((*cumulative, *digest));
            if *cumulative > head.0 {
                *head = (*cumulative, *digest);
            }
        }
        shared_ledger::set_pending(&mut self.tx, &pending).await?;
        shared_ledger::set_usage_heads(&mut self.tx, &heads).await?;
        self.tx.commit().await?;
        Ok(inserted)
    }
}
