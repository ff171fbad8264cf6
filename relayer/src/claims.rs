//! The relayer's jobs besides commits: claims for payees, paid for by the relayer (sponsored
//! gas), and releases of its own credit lines.
//!
//! [`request`] records claim jobs (one per `claims_per_tx` receipts of a confirmed batch, oldest
//! batch first) and marks their receipts, in one store transaction; [`request_release`] records
//! a release job, `release(payer, relayer, token)` of one of the relayer's lines whose batches
//! all expired (the batcher asks for it when the line holds receipts waiting to be committed).
//! The batcher's loop then drives each job through the same transaction lifecycle as a commit
//! ([`crate::txmgr::lifecycle`]): `requested` → `signed` → `sent` → `confirmed` (or `failed`,
//! which frees a claim's receipts for another request); the jobs' SQL is `store::jobs`. Up to `tx.max_claims_in_flight` jobs are signed and sent at once, on
//! consecutive nonces (see [`drive`]); requested releases go first. A release that would revert
//! or reverted because the line was released by someone else (`NothingReserved`: its
//! `reservedUntil` is no longer the one the job was for) is `confirmed`: the line is released.
//! Payees can also fetch their proofs from the API and claim themselves.
//!
//! Fail points (see [`failpoint`]) mark each step, for the crash tests: `claim_signed`
//! (transaction signed and recorded, not broadcast), `claim_broadcast` (broadcast, job still
//! `signed`), `claim_sent` (job `sent`), `claim_mined` (mined and buried, job not finished),
//! `claim_confirmed` (job and receipts marked).

use alloy::{
    primitives::{Address, Bytes, B256},
    rpc::types::TransactionReceipt,
    sol_types::SolCall,
};
use fairtrain_protocol::{bindings::TrainingEscrow, claim};
use sqlx::AnyConnection;
use tracing::{info, warn};

use crate::{
    failpoint,
    store::{
        jobs::{self, JobRow as Job, JobWork as Work},
        JobState, ReceiptRow, Store, StoreError, TxRow,
    },
    txmgr::{Policy, Signing, TxError, TxJob, TxManager, TxPhase},
    util::{hex0x, now_secs},
};

/// Seconds before a failed release of the same line and lock may be requested again.
pub const RELEASE_RETRY_SECS: i64 = 60;

/// Records claim jobs for the unclaimed receipts of confirmed batches (all, or `batch_id`),
/// `per_tx` receipts per transaction. Returns the job ids.
///
/// # Errors
///
/// [`StoreError`].
pub async fn request(
    store: &Store,
    batch_id: Option<i64>,
    per_tx: usize,
) -> Result<Vec<i64>, StoreError> {
    jobs::request_claims(store, batch_id, per_tx).await
}

/// Records a job releasing the relayer's line `(payer, relayer, token)`, locked until
/// `reserved_until` (its `reservedUntil` as followed), unless one is already recorded for that
/// line and lock (one release per lock; a failed one may be asked again after
/// [`RELEASE_RETRY_SECS`]). Returns the new job's id.
///
/// # Errors
///
/// [`StoreError`].
pub async fn request_release(
    store: &Store,
    payer: Address,
    token: Address,
    reserved_until: u64,
) -> Result<Option<i64>, StoreError> {
    let retry_after = now_secs() - RELEASE_RETRY_SECS;
    let id = jobs::request_release(store, payer, token, reserved_until, retry_after).await?;
    if let Some(id) = id {
        info!(
            job = id,
            payer = %hex0x(payer), token = %hex0x(token), reserved_until, "line release requested"
        );
    }
    Ok(id)
}

/// Finishes a job: `confirmed` with the hash of its mined transaction (empty: a release done by
/// someone else) or `failed` with the reason; a claim's receipts get the hash, or are freed.
async fn finish(
    store: &Store,
    job: &Job,
    outcome: Result<String, String>,
) -> Result<(), StoreError> {
    jobs::finish(store, job, outcome.as_deref().map_err(|_| ())).await?;
    match (&job.work, outcome) {
        (Work::Claim { .. }, Ok(hash)) => info!(claim = job.id, %hash, "claims confirmed"),
        (Work::Claim { .. }, Err(reason)) => warn!(
            claim = job.id,
            reason, "claims failed; receipts can be claimed again"
        ),
        (Work::Release { payer, token, .. }, Ok(hash)) if hash.is_empty() => {
            info!(job = job.id, %payer, %token, "line already released");
        }
        (Work::Release { payer, token, .. }, Ok(hash)) => {
            info!(job = job.id, %payer, %token, %hash, "line released");
            metrics::counter!("relayer_line_releases_total").increment(1);
        }
        (Work::Release { payer, token, .. }, Err(reason)) => warn!(
            job = job.id, %payer, %token,
            reason, "line release failed; asked again when receipts still wait for it"
        ),
    }
    Ok(())
}

/// The calldata of a job's transaction.
async fn calldata(store: &Store, txm: &TxManager, job: &Job) -> Result<Bytes, StoreError> {
    let (batch_id, digests) = match &job.work {
        Work::Claim { batch_id, digests } => (*batch_id, digests),
        Work::Release { payer, token, .. } => {
            return Ok(TrainingEscrow::releaseCall {
                payer: *payer,
                relayer: txm.address(),
                token: *token,
            }
            .abi_encode()
            .into())
        }
    };
    let batch = store
        .batch(batch_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("claim {} without batch", job.id)))?;
    let mut claims = Vec::with_capacity(digests.len());
    for digest in digests {
        let row: ReceiptRow = store
            .receipt(digest)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("claim {} digest {digest}", job.id)))?;
        claims.push(claim::build(&row.signed_receipt()?, row.proof()?));
    }
    let root: B256 = batch.root;
    Ok(TrainingEscrow::claimCall { root, claims }
        .abi_encode()
        .into())
}

/// Whether a release job's line is no longer locked until the job's `reservedUntil` on-chain
/// (at the latest block): released by someone else, possibly locked again since. A release of
/// ours that reverts or would revert for that reason (`NothingReserved`) has nothing left to do.
async fn released_elsewhere(txm: &TxManager, escrow: Address, job: &Job) -> Result<bool, TxError> {
    let Work::Release {
        payer,
        token,
        reserved_until,
    } = job.work
    else {
        return Ok(false);
    };
    let line = TrainingEscrow::new(escrow, txm.provider())
        .creditLine(payer, txm.address(), token)
        .call()
        .await
        .map_err(TxError::contract)?;
    Ok(line.reservedUntil.to::<u64>() != reserved_until)
}

/// Finishes a job whose transaction reverts or reverted: a release of a line someone else
/// released is done (`confirmed`), anything else `failed`.
async fn reverted(
    txm: &TxManager,
    store: &Store,
    job: &Job,
    escrow: Address,
    reason: String,
) -> Result<(), TxError> {
    let outcome = if released_elsewhere(txm, escrow, job).await? {
        Ok(String::new())
    } else {
        Err(reason)
    };
    finish(store, job, outcome).await?;
    Ok(())
}

/// Drives the sponsored claims and the line releases, pipelined: advances every job in flight
/// (lowest nonce first) one step of the transaction lifecycle ([`crate::txmgr::lifecycle`]:
/// rebroadcast when dropped, replaced with higher fees when stuck, finished when buried or
/// reverted), then, if `sign_new`, signs and broadcasts the requested jobs (releases first, then
/// the oldest) while fewer than `tx.max_claims_in_flight` are in flight. Their nonces are
/// consecutive, so the node can mine several in one block. Returns whether anything changed.
///
/// The caller passes `sign_new = false` while a commit holds a lower nonce that is signed but
/// not yet broadcast, so that claims and releases never reach the node ahead of it.
///
/// # Errors
///
/// [`TxError`] when the node or the store fails.
pub async fn drive(
    txm: &TxManager,
    store: &Store,
    escrow: Address,
    confirmations: u64,
    sign_new: bool,
) -> Result<bool, TxError> {
    let mut changed = false;
    for job in jobs::in_flight(store).await? {
        let job = JobTx::new(txm, store, escrow, job)?;
        changed |= txm.advance(&job, confirmations).await?;
    }
    if !sign_new {
        return Ok(changed);
    }
    let flying = jobs::in_flight(store).await?.len();
    let room = txm.config().max_claims_in_flight.saturating_sub(flying);
    if room == 0 {
        return Ok(changed);
    }
    let mut signed = 0;
    for job in jobs::requested(store, room).await? {
        changed = true;
        // Signed now, then broadcast at once (a revert finishes the job without a nonce:
        // `failed`, a claim's receipts can be requested again; a release of a line released
        // elsewhere `confirmed`).
        let mut job = JobTx::new(txm, store, escrow, job)?;
        if txm.sign_job(&job).await? == Signing::Signed {
            signed += 1;
            job.phase = TxPhase::Signed;
            txm.advance(&job, confirmations).await?;
        }
    }
    metrics::gauge!("relayer_claims_in_flight").set((flying + signed) as f64);
    Ok(changed)
}

/// A job's transaction, as the lifecycle drives it.
struct JobTx<'a> {
    txm: &'a TxManager,
    store: &'a Store,
    escrow: Address,
    job: Job,
    phase: TxPhase,
}

/// Jobs stop at their fail points; a job refused as underpriced is sent (and then replaced as
/// dropped); a job whose transaction is lost is requested again.
static JOB_POLICY: Policy = Policy {
    failpoints: ["claim_signed", "claim_broadcast", "claim_sent"],
    sent_when_underpriced: true,
    unsigned_without_tx: true,
};

impl<'a> JobTx<'a> {
    fn new(
        txm: &'a TxManager,
        store: &'a Store,
        escrow: Address,
        job: Job,
    ) -> Result<Self, StoreError> {
        let phase = match job.state {
            JobState::Requested => TxPhase::Unsigned,
            JobState::Signed => TxPhase::Signed,
            JobState::Sent => TxPhase::Sent,
            other @ (JobState::Confirmed | JobState::Failed) => {
                return Err(StoreError::Corrupt(format!(
                    "job {} driven in state {other}",
                    job.id
                )))
            }
        };
        Ok(Self {
            txm,
            store,
            escrow,
            job,
            phase,
        })
    }
}

impl TxJob for JobTx<'_> {
    fn kind(&self) -> &'static str {
        self.job.kind().as_str()
    }

    fn id(&self) -> i64 {
        self.job.id
    }

    fn phase(&self) -> TxPhase {
        self.phase
    }

    fn policy(&self) -> &'static Policy {
        &JOB_POLICY
    }

    fn to(&self) -> Address {
        self.escrow
    }

    async fn calldata(&self) -> Result<Bytes, TxError> {
        Ok(calldata(self.store, self.txm, &self.job).await?)
    }

    async fn set_phase(&self, conn: &mut AnyConnection, phase: TxPhase) -> Result<(), StoreError> {
        let state = match phase {
            TxPhase::Unsigned => JobState::Requested,
            TxPhase::Signed => JobState::Signed,
            TxPhase::Sent => JobState::Sent,
        };
        jobs::set_state(conn, self.job.id, state).await
    }

    async fn would_revert(&self, reason: String) -> Result<bool, TxError> {
        reverted(self.txm, self.store, &self.job, self.escrow, reason).await?;
        Ok(true)
    }

    async fn reverted(&self) -> Result<(), TxError> {
        let reason = format!("{} transaction reverted", self.job.kind());
        reverted(self.txm, self.store, &self.job, self.escrow, reason).await
    }

    async fn confirmed(&self, receipt: &TransactionReceipt) -> Result<(), TxError> {
        failpoint::hit("claim_mined").await;
        finish(self.store, &self.job, Ok(hex0x(receipt.transaction_hash))).await?;
        failpoint::hit("claim_confirmed").await;
        Ok(())
    }

    /// A minute after the job last changed.
    fn resign_after_nonce_taken(&self, _last: &TxRow) -> bool {
        now_secs() - self.job.updated_at > 60
    }
}
