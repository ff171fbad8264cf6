//! The sending account's nonces (table `accounts`) and the signed transactions (table `txs`):
//! every write runs inside the caller's transaction, so a transaction is recorded together with
//! the state change that needs it.

use fairtrain_db::{Decimal, Hex};
use sqlx::{AnyConnection, Row};

use super::{StoreResult, TxRow};

/// Takes the next nonce of `address`: the stored counter, or `chain` (the chain's pending count)
/// when the counter is behind it; stores the one after it.
///
/// # Errors
///
/// [`super::StoreError::Db`].
pub async fn take_nonce(conn: &mut AnyConnection, address: &str, chain: u64) -> StoreResult<u64> {
    let stored: Option<i64> = sqlx::query("SELECT next_nonce FROM accounts WHERE address = $1")
        .bind(address.to_owned())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
    let nonce = stored.map_or(chain, |n| (n as u64).max(chain));
    sqlx::query(
        "INSERT INTO accounts (address, next_nonce) VALUES ($1, $2) \
         ON CONFLICT (address) DO UPDATE SET next_nonce = excluded.next_nonce",
    )
    .bind(address.to_owned())
    .bind((nonce + 1) as i64)
    .execute(&mut *conn)
    .await?;
    Ok(nonce)
}

/// How many transactions are recorded for `(kind, ref_id)`: the next one's `attempt`.
///
/// # Errors
///
/// [`super::StoreError::Db`].
pub async fn attempts(conn: &mut AnyConnection, kind: &str, ref_id: i64) -> StoreResult<i64> {
    Ok(
        sqlx::query("SELECT COUNT(*) FROM txs WHERE kind = $1 AND ref_id = $2")
            .bind(kind.to_owned())
            .bind(ref_id)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?,
    )
}

/// Records a signed transaction.
///
/// # Errors
///
/// [`super::StoreError::Db`].
pub async fn insert(conn: &mut AnyConnection, row: &TxRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO txs (hash, kind, ref_id, attempt, nonce, raw, max_fee, priority_fee, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(Hex(row.hash))
    .bind(row.kind.clone())
    .bind(row.ref_id)
    .bind(row.attempt)
    .bind(row.nonce)
    .bind(Hex(&row.raw))
    .bind(Decimal(row.max_fee))
    .bind(Decimal(row.priority_fee))
    .bind(row.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
