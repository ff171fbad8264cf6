//! The verification pipeline and the group-committing writer.
//!
//! 1. [`verify_signatures`] (stateless, in parallel on blocking threads): the EIP-712 digest
//!    under the relayer's domain and the recovered signer.
//! 2. [`Ingest::submit`] hands verified receipts to the single writer task, which takes every
//!    waiting submission at once (group commit), checks each receipt against the chain state
//!    followed from events and the [`Ledger`] of what this relayer already accepted, inserts the
//!    accepted ones in one transaction, and answers only after `COMMIT`.

mod judge;
mod ledger;
mod shared;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use alloy::primitives::{Address, B256, U256};
use fairtrain_protocol::{api::relayer::Outcome, wire::SignedReceipt, EscrowDomain};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info};

pub use judge::{judge, Accepted, Ground, Standing, Verdict};
pub use ledger::{Ledger, PayerToken, Reserved};
use shared::SharedView;

use crate::{
    chain::SharedState,
    failpoint,
    pricing::PoolCounts,
    rejection::Rejection,
    store::{Backend, NewReceipt, Store, StoreError},
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
) -> Result<HashSet<B256>, StoreError> {
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
    let mut found = HashSet::new();
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

/// What the checks of a group read from the store first.
struct Prepared {
    /// PostgreSQL: the group's payers locked and what every process acknowledged for them.
    shared: Option<SharedView>,
    /// Stored digests among the group's possible resubmissions ([`stored_among`]).
    stored: HashSet<B256>,
    /// The pool counts of the group's usage keys ([`pool_counts`]).
    pool: PoolCounts,
    /// The group's acknowledgement time.
    now: i64,
}

/// An accepted receipt's change to the ledger, applied once its row is stored.
#[derive(Clone, Copy, Debug)]
struct Applied {
    usage_key: B256,
    cumulative: u64,
    digest: B256,
    payer_token: PayerToken,
    amount: U256,
}

/// What the checks of a group decided: the outcomes of each job, the rows to insert and their
/// ledger changes, and the last arrival sequence number given.
#[derive(Default)]
struct Judged {
    outcomes: Vec<Vec<Outcome>>,
    rows: Vec<NewReceipt>,
    applied: Vec<Applied>,
    seq: i64,
}

/// Checks a group, stores what it accepts and answers each job once the rows are committed (or
/// answers them all with the store's error, nothing acknowledged).
async fn process_group(
    jobs: Vec<Job>,
    store: &Store,
    state: &SharedState,
    ledger: &Mutex<Ledger>,
    rules: &Rules,
) {
    let prepared = match prepare(&jobs, store, state, ledger, rules).await {
        Ok(prepared) => prepared,
        Err(e) => return fail_group(jobs, &e),
    };
    let judged = judge_group(&jobs, &prepared, state, ledger, rules);
    failpoint::hit("ingest_before_commit").await;
    let stored = match prepared.shared {
        Some(view) => view.commit(store, &judged.rows, &judged.applied).await,
        None => store.insert_receipts(&judged.rows).await,
    };
    if let Err(e) = stored {
        return fail_group(jobs, &e);
    }
    metrics::counter!("relayer_receipts_accepted_total").increment(judged.rows.len() as u64);
    let outcomes = record_stored(judged, ledger);
    for (job, out) in jobs.into_iter().zip(outcomes) {
        let _ = job.reply.send(Ok(out));
    }
}

/// Answers every job of a group that could not be stored with the store's error.
fn fail_group(jobs: Vec<Job>, e: &StoreError) {
    error!(error = %e, "ingest group not stored");
    metrics::counter!("relayer_ingest_store_errors_total").increment(1);
    for job in jobs {
        let _ = job.reply.send(Err(IngestError::Store(e.to_string())));
    }
}

/// Reads what the checks need from the store. PostgreSQL: locks the group's payers and reads
/// what every process has acknowledged for them; the checks, the inserts and the ledger update
/// then share that one transaction.
async fn prepare(
    jobs: &[Job],
    store: &Store,
    state: &SharedState,
    ledger: &Mutex<Ledger>,
    rules: &Rules,
) -> Result<Prepared, StoreError> {
    let shared = match store.backend() {
        Backend::Postgres => Some(SharedView::lock(jobs, store, state).await?),
        Backend::Sqlite => None,
    };
    let heads = shared.as_ref().map(|v| &v.heads);
    let stored = stored_among(jobs, store, ledger, heads).await?;
    let now = now_secs();
    let pool = pool_counts(jobs, store, state, ledger, heads, rules, now).await?;
    Ok(Prepared {
        shared,
        stored,
        pool,
        now,
    })
}

/// Judges every receipt of the group ([`judge`]) against the chain state and the ledger plus
/// the group's own accepted receipts, under the state and ledger locks.
fn judge_group(
    jobs: &[Job],
    prepared: &Prepared,
    state: &SharedState,
    ledger: &Mutex<Ledger>,
    rules: &Rules,
) -> Judged {
    let chain = state.read().expect("state lock");
    let mut ledger = ledger.lock().expect("ledger lock");
    ledger.settle_seen(&chain.committed_roots);
    if let Some(view) = &prepared.shared {
        view.apply(&mut ledger, &chain.committed_roots);
    }
    let ground = Ground {
        chain: &chain,
        relayer: rules.relayer,
        horizon: chain.timestamp.max(prepared.now as u64) + rules.horizon_secs,
        pool: &prepared.pool,
    };
    // The group's accepted receipts, over the ledger.
    let mut usage_delta: HashMap<B256, (u64, B256)> = HashMap::new();
    let mut pending_delta: HashMap<PayerToken, U256> = HashMap::new();
    let mut judged = Judged {
        seq: ledger.seq,
        ..Judged::default()
    };
    for job in jobs {
        let mut out = Vec::with_capacity(job.items.len());
        for v in &job.items {
            let standing = Standing {
                known: usage_delta
                    .get(&v.usage_key)
                    .or_else(|| ledger.usage.get(&v.usage_key))
                    .copied(),
                stored: prepared.stored.contains(&v.digest),
            };
            let pending = |key: PayerToken| {
                let locked = prepared
                    .shared
                    .as_ref()
                    .is_none_or(|view| view.pending.contains_key(&key));
                locked.then(|| {
                    ledger.pending.get(&key).copied().unwrap_or_default()
                        + pending_delta.get(&key).copied().unwrap_or_default()
                })
            };
            match judge(v, &ground, standing, pending) {
                Verdict::Accepted(accepted) => {
                    usage_delta.insert(v.usage_key, (v.receipt.cumulative_samples, v.digest));
                    let payer_token = (v.receipt.payer, accepted.token);
                    *pending_delta.entry(payer_token).or_default() += accepted.amount;
                    judged.accept(v, &accepted, prepared.now);
                    out.push(Outcome::Accepted {
                        digest: v.digest,
                        amount: accepted.amount,
                    });
                }
                Verdict::Duplicate => out.push(Outcome::Duplicate { digest: v.digest }),
                Verdict::Rejected(reason) => {
                    reason.count();
                    out.push(reason.into());
                }
            }
        }
        judged.outcomes.push(out);
    }
    judged
}

impl Judged {
    /// Adds an accepted receipt: its row (next arrival number) and its ledger change.
    fn accept(&mut self, v: &Verified, accepted: &Accepted, now: i64) {
        let r = &v.receipt;
        self.seq += 1;
        self.applied.push(Applied {
            usage_key: v.usage_key,
            cumulative: r.cumulative_samples,
            digest: v.digest,
            payer_token: (r.payer, accepted.token),
            amount: accepted.amount,
        });
        self.rows.push(NewReceipt {
            digest: v.digest,
            usage_key: v.usage_key,
            payer: r.payer,
            license_id: r.license_id,
            terms_id: r.terms_id,
            run_id: r.run_id,
            cumulative: r.cumulative_samples,
            issued_at: r.issued_at,
            signature: r.signature.as_bytes().to_vec().into(),
            signer: v.signer,
            token: accepted.token,
            amount: accepted.amount,
            chargeable_from: accepted.chargeable_from as i64,
            received_at: now,
            seq: self.seq,
        });
    }
}

/// Counts the stored rows of a judged group in the ledger and returns its outcomes.
fn record_stored(judged: Judged, ledger: &Mutex<Ledger>) -> Vec<Vec<Outcome>> {
    let mut ledger = ledger.lock().expect("ledger lock");
    for a in &judged.applied {
        let e = ledger
            .usage
            .entry(a.usage_key)
            .or_insert((a.cumulative, a.digest));
        if a.cumulative >= e.0 {
            *e = (a.cumulative, a.digest);
        }
        *ledger.pending.entry(a.payer_token).or_default() += a.amount;
    }
    ledger.seq = ledger.seq.max(judged.seq);
    judged.outcomes
}
