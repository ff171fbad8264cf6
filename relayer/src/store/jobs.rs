//! The job state machine's reads and writes (table `claims`: sponsored claims and line
//! releases, and the receipts' `claim_tx`), with the states of [`JobState`] and the kinds of
//! [`JobKind`] bound as parameters. A claim job marks its receipts `claim:<job>` while in
//! flight, and its transaction hash once confirmed.

use alloy::primitives::Address;
use fairtrain_db::Hex;
use sqlx::{any::AnyRow, AnyConnection, AssertSqlSafe, Row};

use super::{
    BatchState, JobKind, JobState, ReceiptStatus, Store, StoreError, StoreResult, BY_DIGEST,
};
use crate::util::{hex0x, now_secs};

/// A stored job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRow {
    /// Sequential id.
    pub id: i64,
    /// Where the job is.
    pub state: JobState,
    /// What it does.
    pub work: JobWork,
    /// Last state change.
    pub updated_at: i64,
}

/// What a job's transaction does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobWork {
    /// `claim(root, claims)` of `digests`, receipts of batch `batch_id`.
    Claim {
        /// The batch of the receipts.
        batch_id: i64,
        /// Their digests, hex.
        digests: Vec<String>,
    },
    /// `release(payer, relayer, token)` of the relayer's line locked until `reserved_until`.
    Release {
        /// Payer of the line.
        payer: Address,
        /// Token of the line.
        token: Address,
        /// The line's `reservedUntil` the release is for.
        reserved_until: u64,
    },
}

impl JobRow {
    /// The job's kind, also the `kind` of its transactions in `txs`.
    pub const fn kind(&self) -> JobKind {
        match self.work {
            JobWork::Claim { .. } => JobKind::Claim,
            JobWork::Release { .. } => JobKind::Release,
        }
    }

    const COLUMNS: &'static str = "c.id, c.batch_id, c.state, c.digests, c.updated_at, c.kind, \
        c.payer, c.token, c.reserved_until";

    fn from_row(r: &AnyRow) -> StoreResult<Self> {
        let id: i64 = r.try_get("id")?;
        let kind: JobKind = r.try_get("kind")?;
        let work = match kind {
            JobKind::Claim => {
                let digests: String = r.try_get("digests")?;
                JobWork::Claim {
                    batch_id: r.try_get("batch_id")?,
                    digests: digests.split(',').map(str::to_owned).collect(),
                }
            }
            JobKind::Release => {
                let payer: Option<Hex<Address>> = r.try_get("payer")?;
                let token: Option<Hex<Address>> = r.try_get("token")?;
                let until: Option<i64> = r.try_get("reserved_until")?;
                let missing =
                    |column| StoreError::Corrupt(format!("release job {id}: no {column}"));
                JobWork::Release {
                    payer: payer.ok_or_else(|| missing("payer"))?.0,
                    token: token.ok_or_else(|| missing("token"))?.0,
                    reserved_until: until.unwrap_or_default() as u64,
                }
            }
        };
        Ok(Self {
            id,
            state: r.try_get("state")?,
            work,
            updated_at: r.try_get("updated_at")?,
        })
    }
}

/// Records claim jobs for the unclaimed receipts of confirmed batches (all, or `batch_id`),
/// `per_tx` receipts per job, and marks their receipts, in one transaction. Returns the job ids.
///
/// # Errors
///
/// [`super::StoreError`].
pub async fn request_claims(
    store: &Store,
    batch_id: Option<i64>,
    per_tx: usize,
) -> StoreResult<Vec<i64>> {
    let mut tx = store.begin_write().await?;
    let rows = sqlx::query(
        "SELECT r.digest, r.batch_id FROM receipts r JOIN batches b ON b.id = r.batch_id \
         WHERE b.state = $2 AND r.status = $3 AND r.claim_tx IS NULL \
         AND ($1 < 0 OR r.batch_id = $1) ORDER BY r.batch_id, r.leaf_index",
    )
    .bind(batch_id.unwrap_or(-1))
    .bind(BatchState::Confirmed.as_str())
    .bind(ReceiptStatus::Committed.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let mut by_batch: Vec<(i64, Vec<String>)> = Vec::new();
    for row in rows {
        let digest: String = row.try_get("digest")?;
        let batch: i64 = row.try_get("batch_id")?;
        match by_batch.last_mut() {
            Some((b, digests)) if *b == batch && digests.len() < per_tx => digests.push(digest),
            _ => by_batch.push((batch, vec![digest])),
        }
    }
    let mut next = next_id(&mut tx).await?;
    let now = now_secs();
    let mut ids = Vec::new();
    for (batch, digests) in by_batch {
        sqlx::query(
            "INSERT INTO claims (id, kind, batch_id, state, digests, created_at, updated_at) \
             VALUES ($1, $6, $2, $5, $3, $4, $4)",
        )
        .bind(next)
        .bind(batch)
        .bind(digests.join(","))
        .bind(now)
        .bind(JobState::Requested.as_str())
        .bind(JobKind::Claim.as_str())
        .execute(&mut *tx)
        .await?;
        for digest in &digests {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE receipts SET claim_tx = $2 WHERE {BY_DIGEST}"
            )))
            .bind(digest.clone())
            .bind(format!("claim:{next}"))
            .execute(&mut *tx)
            .await?;
        }
        ids.push(next);
        next += 1;
    }
    tx.commit().await?;
    Ok(ids)
}

/// Records a job releasing the line `(payer, <this relayer>, token)` locked until
/// `reserved_until`, unless one is already recorded for that line and lock that is not
/// `failed`, or failed after `retry_after` (unix time). Returns the new job's id.
///
/// # Errors
///
/// [`super::StoreError`].
pub async fn request_release(
    store: &Store,
    payer: Address,
    token: Address,
    reserved_until: u64,
    retry_after: i64,
) -> StoreResult<Option<i64>> {
    let (payer, token) = (hex0x(payer), hex0x(token));
    let mut tx = store.begin_write().await?;
    let known = sqlx::query(
        "SELECT 1 FROM claims WHERE kind = $6 AND payer = $1 AND token = $2 \
         AND reserved_until = $3 AND (state <> $5 OR updated_at > $4)",
    )
    .bind(payer.clone())
    .bind(token.clone())
    .bind(reserved_until as i64)
    .bind(retry_after)
    .bind(JobState::Failed.as_str())
    .bind(JobKind::Release.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if known.is_some() {
        return Ok(None);
    }
    let id = next_id(&mut tx).await?;
    sqlx::query(
        "INSERT INTO claims (id, kind, batch_id, state, digests, payer, token, reserved_until, \
         created_at, updated_at) VALUES ($1, $7, 0, $6, '', $2, $3, $4, $5, $5)",
    )
    .bind(id)
    .bind(payer)
    .bind(token)
    .bind(reserved_until as i64)
    .bind(now_secs())
    .bind(JobState::Requested.as_str())
    .bind(JobKind::Release.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

async fn next_id(conn: &mut AnyConnection) -> StoreResult<i64> {
    Ok(sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM claims")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?)
}

/// The jobs whose transaction is signed and not yet final, lowest nonce first (the order in
/// which they are broadcast, so that the node never sees a nonce gap of ours).
///
/// # Errors
///
/// [`super::StoreError`].
pub async fn in_flight(store: &Store) -> StoreResult<Vec<JobRow>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {}, (SELECT MAX(t.nonce) FROM txs t \
         WHERE t.kind = c.kind AND t.ref_id = c.id) AS nonce FROM claims c \
         WHERE c.state IN ($1, $2) ORDER BY nonce, c.id",
        JobRow::COLUMNS
    )))
    .bind(JobState::IN_FLIGHT[0].as_str())
    .bind(JobState::IN_FLIGHT[1].as_str())
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(JobRow::from_row).collect()
}

/// Up to `limit` jobs waiting for a transaction: releases first (receipts wait for them), then
/// the oldest.
///
/// # Errors
///
/// [`super::StoreError`].
pub async fn requested(store: &Store, limit: usize) -> StoreResult<Vec<JobRow>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {} FROM claims c WHERE c.state = $2 \
         ORDER BY CASE WHEN c.kind = $3 THEN 0 ELSE 1 END, c.id LIMIT $1",
        JobRow::COLUMNS
    )))
    .bind(limit as i64)
    .bind(JobState::Requested.as_str())
    .bind(JobKind::Release.as_str())
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(JobRow::from_row).collect()
}

/// Moves job `id` to `state` (a step that changes nothing else).
///
/// # Errors
///
/// [`super::StoreError::Db`].
pub async fn set_state(conn: &mut AnyConnection, id: i64, state: JobState) -> StoreResult<()> {
    sqlx::query("UPDATE claims SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(state.as_str())
        .bind(now_secs())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Finishes `job` in one transaction: `confirmed` by the transaction `hash` (`Ok`; empty: a
/// release done by someone else) or `failed` (`Err`). A claim's receipts get the hash, or are
/// freed for another request.
///
/// # Errors
///
/// [`super::StoreError`].
pub async fn finish(store: &Store, job: &JobRow, outcome: Result<&str, ()>) -> StoreResult<()> {
    let mut tx = store.begin_write().await?;
    let (state, claim_tx) = match outcome {
        Ok(hash) => (JobState::Confirmed, Some(hash.to_owned())),
        Err(()) => (JobState::Failed, None),
    };
    set_state(&mut tx, job.id, state).await?;
    if job.kind() == JobKind::Claim {
        sqlx::query("UPDATE receipts SET claim_tx = $1 WHERE claim_tx = $2")
            .bind(claim_tx)
            .bind(format!("claim:{}", job.id))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
