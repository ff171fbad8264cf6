//! The batch state machine's writes (tables `batches`, `batch_data` and the receipts' batch
//! columns): each function is one step of a batch's life, run inside the caller's transaction
//! (or on the pool, for a single statement), with the states of [`BatchState`] and
//! [`ReceiptStatus`] bound as parameters.

use alloy::primitives::{B256, U256};
use fairtrain_db::{Decimal, Hex};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{BatchState, ReceiptStatus, Store, StoreResult, BY_DIGEST};
use crate::util::now_secs;

/// A batch to record in state `built`: its commit's parameters, the published data and the
/// leaf of each receipt.
#[derive(Clone, Debug)]
pub struct NewBatch {
    /// Merkle root, hex.
    pub root: String,
    /// keccak256 of `body`, hex.
    pub data_hash: String,
    /// Where the batch data is published.
    pub data_uri: String,
    /// The published batch data (JSON).
    pub body: String,
    /// The reservations of the commit, JSON.
    pub reservations: String,
    /// `(digest, proof)` of each receipt in leaf order (proof: comma-separated hex).
    pub leaves: Vec<(String, String)>,
}

/// Stores the re-priced `amount` of pending receipts, by digest.
///
/// # Errors
///
/// [`super::StoreError::Db`].
pub async fn set_pending_amounts(
    conn: &mut AnyConnection,
    amounts: &[(B256, U256)],
) -> StoreResult<()> {
    for &(digest, amount) in amounts {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE receipts SET amount = $2 WHERE {BY_DIGEST} AND status = $3"
        )))
        .bind(Hex(digest))
        .bind(Decimal(amount))
        .bind(ReceiptStatus::Pending.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Records `batch` as the next batch, `built`: its data, its row and its receipts (still
/// pending) `batched` at their leaves. Returns the batch's id.
///
/// # Errors
///
/// [`super::StoreError::Db`].
pub async fn insert_built(conn: &mut AnyConnection, batch: &NewBatch) -> StoreResult<i64> {
    let id: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM batches")
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    sqlx::query(
        "INSERT INTO batch_data (data_hash, body) VALUES ($1, $2) ON CONFLICT (data_hash) DO NOTHING",
    )
    .bind(batch.data_hash.clone())
    .bind(batch.body.clone())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO batches (id, state, root, receipt_count, data_hash, data_uri, \
         reservations, created_at, updated_at) VALUES ($1, $8, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(id)
    .bind(batch.root.clone())
    .bind(batch.leaves.len() as i64)
    .bind(batch.data_hash.clone())
    .bind(batch.data_uri.clone())
    .bind(batch.reservations.clone())
    .bind(now_secs())
    .bind(BatchState::Built.as_str())
    .execute(&mut *conn)
    .await?;
    for (index, (digest, proof)) in batch.leaves.iter().enumerate() {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE receipts SET status = $5, batch_id = $2, leaf_index = $3, proof = $4 \
             WHERE {BY_DIGEST} AND status = $6"
        )))
        .bind(digest.clone())
        .bind(id)
        .bind(index as i64)
        .bind(proof.clone())
        .bind(ReceiptStatus::Batched.as_str())
        .bind(ReceiptStatus::Pending.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

/// Moves batch `id` to `state` (a step that changes nothing else).
///
/// # Errors
///
/// [`super::StoreError::Db`].
pub async fn set_state(conn: &mut AnyConnection, id: i64, state: BatchState) -> StoreResult<()> {
    sqlx::query("UPDATE batches SET state = $1, updated_at = $2 WHERE id = $3")
        .bind(state.as_str())
        .bind(now_secs())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Marks batch `id` `confirmed` by the commit `tx_hash` (`None`: mined, but its receipt was
/// lost) in `block`, its receipts `committed`, and records their committed heads.
///
/// # Errors
///
/// [`super::StoreError`].
pub async fn confirm(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: i64,
    tx_hash: Option<String>,
    block: u64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE batches SET state = $5, commit_tx = $1, commit_block = $2, \
         updated_at = $3 WHERE id = $4",
    )
    .bind(tx_hash)
    .bind(block as i64)
    .bind(now_secs())
    .bind(id)
    .bind(BatchState::Confirmed.as_str())
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE receipts SET status = $2 WHERE batch_id = $1")
        .bind(id)
        .bind(ReceiptStatus::Committed.as_str())
        .execute(&mut **tx)
        .await?;
    Store::record_committed_heads(tx, id).await
}

/// Marks batch `id` `failed` for `reason` and returns its receipts to `pending`.
///
/// # Errors
///
/// [`super::StoreError::Db`].
pub async fn fail(conn: &mut AnyConnection, id: i64, reason: &str) -> StoreResult<()> {
    sqlx::query("UPDATE batches SET state = $4, error = $1, updated_at = $2 WHERE id = $3")
        .bind(reason.to_owned())
        .bind(now_secs())
        .bind(id)
        .bind(BatchState::Failed.as_str())
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE receipts SET status = $2, batch_id = NULL, leaf_index = NULL, \
         proof = NULL WHERE batch_id = $1",
    )
    .bind(id)
    .bind(ReceiptStatus::Pending.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
