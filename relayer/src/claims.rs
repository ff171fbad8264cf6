//! The relayer's jobs besides commits: claims for payees, paid for by the relayer (sponsored
//! gas), and releases of its own credit lines.
//!
//! [`request`] records claim jobs (one per `claims_per_tx` receipts of a confirmed batch, oldest
//! batch first) and marks their receipts, in one store transaction; [`request_release`] records
//! a release job, `release(payer, relayer, token)` of one of the relayer's lines whose batches
//! all expired (the batcher asks for it when the line holds receipts waiting to be committed).
//! The batcher's loop then drives each job like a commit:
//! `requested` → `signed` → `sent` → `confirmed` (or `failed`, which frees a claim's receipts for
//! another request). Up to `tx.max_claims_in_flight` jobs are signed and sent at once, on
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
    sol_types::SolCall,
};
use fairtrain_chain::rpc::RpcErrorKind;
use fairtrain_protocol::{bindings::TrainingEscrow, claim};
use tracing::{info, warn};

use crate::{
    failpoint,
    store::{
        jobs::{self, JobRow as Job, JobWork as Work},
        rows::parse,
        JobState, ReceiptRow, Store, StoreError,
    },
    txmgr::{TxError, TxManager, TxStatus},
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

async fn set_state(store: &Store, id: i64, state: JobState) -> Result<(), StoreError> {
    let mut conn = store.pool().acquire().await?;
    jobs::set_state(&mut conn, id, state).await
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
    let root: B256 = parse("root", &batch.root)?;
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

/// Drives the sponsored claims and the line releases, pipelined: follows every job in flight (lowest nonce first:
/// rebroadcast when dropped, replaced with higher fees when stuck, finished when buried or
/// reverted), then, if `sign_new`, signs and broadcasts the requested jobs (releases first, then
/// the oldest) while fewer
/// than `tx.max_claims_in_flight` are in flight. Their nonces are consecutive, so the node can
/// mine several in one block. Returns whether anything changed.
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
        changed |= follow(txm, store, &job, escrow, confirmations).await?;
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
    for mut job in jobs::requested(store, room).await? {
        changed = true;
        if sign(txm, store, &job, escrow).await? {
            signed += 1;
            job.state = JobState::Signed;
            follow(txm, store, &job, escrow, confirmations).await?;
        }
    }
    metrics::gauge!("relayer_claims_in_flight").set((flying + signed) as f64);
    Ok(changed)
}

/// Estimates, takes the next nonce, signs and records the transaction of a requested job
/// (`requested` → `signed`). Returns `false` when it would revert: the job is then finished
/// without a nonce (`failed`, a claim's receipts can be requested again; a release of a line
/// released elsewhere `confirmed`).
async fn sign(txm: &TxManager, store: &Store, job: &Job, escrow: Address) -> Result<bool, TxError> {
    let input = calldata(store, txm, job).await?;
    let gas = match txm.estimate_gas(escrow, &input).await {
        Ok(gas) => gas,
        Err(e) if e.is_revert() => {
            reverted(txm, store, job, escrow, e.to_string()).await?;
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    let fees = txm.fees().await?;
    // Deferred: signing reads the chain's nonce, and an immediate transaction would hold
    // SQLite's write lock across that call. A conflict fails the step, which the loop retries.
    let mut tx = store.pool().begin().await?;
    txm.sign_next(
        &mut tx,
        job.kind().as_str(),
        job.id,
        escrow,
        input,
        gas,
        fees,
    )
    .await?;
    jobs::set_state(&mut tx, job.id, JobState::Signed).await?;
    tx.commit().await?;
    failpoint::hit("claim_signed").await;
    Ok(true)
}

/// Advances a job whose transaction is signed (`signed`: broadcast → `sent`) or sent (follow
/// it to `confirmed` or `failed`). Returns whether anything changed.
async fn follow(
    txm: &TxManager,
    store: &Store,
    job: &Job,
    escrow: Address,
    confirmations: u64,
) -> Result<bool, TxError> {
    let txs = store.txs(job.kind().as_str(), job.id).await?;
    let Some(last) = txs.last() else {
        set_state(store, job.id, JobState::Requested).await?;
        return Ok(true);
    };
    if job.state == JobState::Signed {
        match txm.broadcast(last).await {
            // Refused below the base fee: once sent, it is seen as dropped and replaced at
            // market fees.
            Ok(())
            | Err(TxError::Rpc {
                kind: RpcErrorKind::NonceTooLow | RpcErrorKind::Underpriced,
                ..
            }) => {}
            Err(e) => return Err(e),
        }
        failpoint::hit("claim_broadcast").await;
        set_state(store, job.id, JobState::Sent).await?;
        failpoint::hit("claim_sent").await;
        return Ok(true);
    }
    // Only the attempts of the current nonce can still be mined.
    let current: Vec<_> = txs
        .iter()
        .filter(|t| t.nonce == last.nonce)
        .cloned()
        .collect();
    match txm.status(&current).await? {
        TxStatus::Mined { receipt, depth } => {
            if !receipt.status() {
                let reason = format!("{} transaction reverted", job.kind());
                reverted(txm, store, job, escrow, reason).await?;
            } else if depth >= confirmations.max(1) {
                failpoint::hit("claim_mined").await;
                finish(store, job, Ok(hex0x(receipt.transaction_hash))).await?;
                failpoint::hit("claim_confirmed").await;
            } else {
                return Ok(false);
            }
            Ok(true)
        }
        // Stuck: replaced with higher fees, exactly as a commit is.
        TxStatus::Pending if txm.bump_due(last) => replace(txm, store, job, last, escrow).await,
        TxStatus::Pending => Ok(false),
        TxStatus::Dropped => match txm.broadcast(last).await {
            Ok(())
            | Err(TxError::Rpc {
                kind: RpcErrorKind::NonceTooLow,
                ..
            }) => Ok(true),
            // The node refuses it at its fees (the base fee rose above them).
            Err(TxError::Rpc {
                kind: RpcErrorKind::Underpriced,
                ..
            }) => replace(txm, store, job, last, escrow).await,
            Err(e) => Err(e),
        },
        TxStatus::NonceTaken => {
            if now_secs() - job.updated_at > 60 {
                set_state(store, job.id, JobState::Requested).await?;
            }
            Ok(false)
        }
    }
}

/// Replaces a job's transaction with higher fees (same nonce).
async fn replace(
    txm: &TxManager,
    store: &Store,
    job: &Job,
    last: &crate::store::TxRow,
    escrow: Address,
) -> Result<bool, TxError> {
    let input = calldata(store, txm, job).await?;
    match txm.replace(last, escrow, input).await? {
        Some(_) => Ok(true),
        None => {
            warn!(
                job = job.id,
                kind = job.kind().as_str(),
                "fee ceiling reached; waiting"
            );
            Ok(false)
        }
    }
}
