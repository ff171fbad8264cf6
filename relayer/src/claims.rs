//! Claims for payees, paid for by the relayer (sponsored gas).
//!
//! [`request`] records claim jobs (one per `claims_per_tx` receipts of a confirmed batch, oldest
//! batch first) and marks their receipts, in one store transaction; the batcher's loop then
//! drives each job like a commit: `requested` → `signed` → `sent` → `confirmed` (or `failed`,
//! which frees its receipts for another request). Up to `tx.max_claims_in_flight` jobs are
//! signed and sent at once, on consecutive nonces (see [`drive`]). Payees can also fetch their
//! proofs from the API and claim themselves.
//!
//! Fail points (see [`crate::failpoint`]) mark each step, for the crash tests: `claim_signed`
//! (transaction signed and recorded, not broadcast), `claim_broadcast` (broadcast, job still
//! `signed`), `claim_sent` (job `sent`), `claim_mined` (mined and buried, job not finished),
//! `claim_confirmed` (job and receipts marked).

use alloy::{
    primitives::{Address, B256},
    sol_types::SolCall,
};
use fairtrain_chain::rpc::RpcErrorKind;
use fairtrain_protocol::bindings::{Escrow, TrainingEscrow};
use sqlx::{AssertSqlSafe, Row};
use tracing::{info, warn};

use crate::{
    batcher::{proof_of, signed_receipt},
    failpoint,
    store::{rows::parse, ReceiptRow, Store, StoreError},
    txmgr::{TxError, TxManager, TxStatus},
    util::now_secs,
};

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
    let mut tx = store.pool().begin().await?;
    let rows = sqlx::query(
        "SELECT r.digest, r.batch_id FROM receipts r JOIN batches b ON b.id = r.batch_id \
         WHERE b.state = 'confirmed' AND r.status = 'committed' AND r.claim_tx IS NULL \
         AND ($1 < 0 OR r.batch_id = $1) ORDER BY r.batch_id, r.leaf_index",
    )
    .bind(batch_id.unwrap_or(-1))
    .fetch_all(&mut *tx)
    .await?;
    let mut by_batch: Vec<(i64, Vec<String>)> = Vec::new();
    for row in rows {
        let digest: String = row.try_get(0)?;
        let batch: i64 = row.try_get(1)?;
        match by_batch.last_mut() {
            Some((b, digests)) if *b == batch && digests.len() < per_tx => digests.push(digest),
            _ => by_batch.push((batch, vec![digest])),
        }
    }
    let mut next: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM claims")
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    let now = now_secs();
    let mut ids = Vec::new();
    for (batch, digests) in by_batch {
        sqlx::query(
            "INSERT INTO claims (id, batch_id, state, digests, created_at, updated_at) \
             VALUES ($1, $2, 'requested', $3, $4, $4)",
        )
        .bind(next)
        .bind(batch)
        .bind(digests.join(","))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for digest in &digests {
            sqlx::query("UPDATE receipts SET claim_tx = $1 WHERE digest = $2")
                .bind(format!("claim:{next}"))
                .bind(digest.clone())
                .execute(&mut *tx)
                .await?;
        }
        ids.push(next);
        next += 1;
    }
    tx.commit().await?;
    Ok(ids)
}

struct ClaimJob {
    id: i64,
    batch_id: i64,
    state: String,
    digests: Vec<String>,
    updated_at: i64,
}

const JOB_COLUMNS: &str = "c.id, c.batch_id, c.state, c.digests, c.updated_at";

fn job_of(r: &sqlx::any::AnyRow) -> Result<ClaimJob, StoreError> {
    let digests: String = r.try_get(3)?;
    Ok(ClaimJob {
        id: r.try_get(0)?,
        batch_id: r.try_get(1)?,
        state: r.try_get(2)?,
        digests: digests.split(',').map(str::to_owned).collect(),
        updated_at: r.try_get(4)?,
    })
}

/// The jobs whose transaction is signed and not yet final, lowest nonce first (the order in
/// which they are broadcast, so that the node never sees a nonce gap of ours).
async fn in_flight(store: &Store) -> Result<Vec<ClaimJob>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {JOB_COLUMNS}, (SELECT MAX(t.nonce) FROM txs t \
         WHERE t.kind = 'claim' AND t.ref_id = c.id) AS nonce FROM claims c \
         WHERE c.state IN ('signed', 'sent') ORDER BY nonce, c.id"
    )))
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(job_of).collect()
}

/// Up to `limit` jobs waiting for a transaction, oldest first.
async fn requested(store: &Store, limit: usize) -> Result<Vec<ClaimJob>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {JOB_COLUMNS} FROM claims c WHERE c.state = 'requested' ORDER BY c.id LIMIT $1"
    )))
    .bind(limit as i64)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(job_of).collect()
}

async fn set_state(store: &Store, id: i64, state: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE claims SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(state.to_owned())
        .bind(now_secs())
        .bind(id)
        .execute(store.pool())
        .await?;
    Ok(())
}

async fn finish(
    store: &Store,
    job: &ClaimJob,
    outcome: Result<String, String>,
) -> Result<(), StoreError> {
    let mut tx = store.pool().begin().await?;
    let (state, claim_tx) = match &outcome {
        Ok(hash) => ("confirmed", Some(hash.clone())),
        Err(_) => ("failed", None),
    };
    sqlx::query("UPDATE claims SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(state)
        .bind(now_secs())
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE receipts SET claim_tx = $1 WHERE claim_tx = $2")
        .bind(claim_tx)
        .bind(format!("claim:{}", job.id))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    match outcome {
        Ok(hash) => info!(claim = job.id, %hash, "claims confirmed"),
        Err(reason) => warn!(
            claim = job.id,
            reason, "claims failed; receipts can be claimed again"
        ),
    }
    Ok(())
}

async fn calldata(store: &Store, job: &ClaimJob) -> Result<alloy::primitives::Bytes, StoreError> {
    let batch = store
        .batch(job.batch_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("claim {} without batch", job.id)))?;
    let mut claims = Vec::with_capacity(job.digests.len());
    for digest in &job.digests {
        let row: ReceiptRow = store
            .receipt(digest)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("claim {} digest {digest}", job.id)))?;
        let signed = signed_receipt(&row)?;
        claims.push(Escrow::Claim {
            receipt: signed.receipt().into(),
            signature: signed.signature.to_bytes(),
            proof: proof_of(&row)?,
        });
    }
    let root: B256 = parse("root", &batch.root)?;
    Ok(TrainingEscrow::claimCall { root, claims }
        .abi_encode()
        .into())
}

/// Drives the sponsored claims, pipelined: follows every claim in flight (lowest nonce first:
/// rebroadcast when dropped, replaced with higher fees when stuck, finished when buried or
/// reverted), then, if `sign_new`, signs and broadcasts the oldest requested jobs while fewer
/// than `tx.max_claims_in_flight` are in flight. Their nonces are consecutive, so the node can
/// mine several in one block. Returns whether anything changed.
///
/// The caller passes `sign_new = false` while a commit holds a lower nonce that is signed but
/// not yet broadcast, so that claims never reach the node ahead of it.
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
    for job in in_flight(store).await? {
        changed |= follow(txm, store, &job, escrow, confirmations).await?;
    }
    if !sign_new {
        return Ok(changed);
    }
    let flying = in_flight(store).await?.len();
    let room = txm.config().max_claims_in_flight.saturating_sub(flying);
    if room == 0 {
        return Ok(changed);
    }
    let mut signed = 0;
    for mut job in requested(store, room).await? {
        changed = true;
        if sign(txm, store, &job, escrow).await? {
            signed += 1;
            job.state = "signed".into();
            follow(txm, store, &job, escrow, confirmations).await?;
        }
    }
    metrics::gauge!("relayer_claims_in_flight").set((flying + signed) as f64);
    Ok(changed)
}

/// Estimates, takes the next nonce, signs and records the claim transaction of a requested job
/// (`requested` → `signed`). Returns `false` when the claim would revert: the job is then
/// `failed` and its receipts can be requested again.
async fn sign(
    txm: &TxManager,
    store: &Store,
    job: &ClaimJob,
    escrow: Address,
) -> Result<bool, TxError> {
    let input = calldata(store, job).await?;
    let gas = match txm.estimate_gas(escrow, &input).await {
        Ok(gas) => gas,
        Err(e) if e.is_revert() => {
            finish(store, job, Err(e.to_string())).await?;
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    let fees = txm.fees().await?;
    let mut tx = store.pool().begin().await?;
    txm.sign_next(&mut tx, "claim", job.id, escrow, input, gas, fees)
        .await?;
    sqlx::query("UPDATE claims SET state = 'signed', updated_at = $1 WHERE id = $2")
        .bind(now_secs())
        .bind(job.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    failpoint::hit("claim_signed").await;
    Ok(true)
}

/// Advances a job whose transaction is signed (`signed`: broadcast → `sent`) or sent (follow
/// it to `confirmed` or `failed`). Returns whether anything changed.
async fn follow(
    txm: &TxManager,
    store: &Store,
    job: &ClaimJob,
    escrow: Address,
    confirmations: u64,
) -> Result<bool, TxError> {
    let txs = store.txs("claim", job.id).await?;
    let Some(last) = txs.last() else {
        set_state(store, job.id, "requested").await?;
        return Ok(true);
    };
    if job.state == "signed" {
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
        set_state(store, job.id, "sent").await?;
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
                finish(store, job, Err("claim transaction reverted".into())).await?;
            } else if depth >= confirmations.max(1) {
                failpoint::hit("claim_mined").await;
                finish(store, job, Ok(crate::util::hex0x(receipt.transaction_hash))).await?;
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
                set_state(store, job.id, "requested").await?;
            }
            Ok(false)
        }
    }
}

/// Replaces a claim transaction with higher fees (same nonce).
async fn replace(
    txm: &TxManager,
    store: &Store,
    job: &ClaimJob,
    last: &crate::store::TxRow,
    escrow: Address,
) -> Result<bool, TxError> {
    let input = calldata(store, job).await?;
    match txm.replace(last, escrow, input).await? {
        Some(_) => Ok(true),
        None => {
            warn!(claim = job.id, "fee ceiling reached; waiting");
            Ok(false)
        }
    }
}
