//! The acceptance ledger shared through PostgreSQL (tables `payer_ledger` and `usage_heads`):
//! what several relayer processes on one database need to agree on before acknowledging a
//! receipt. Every function runs inside the caller's transaction; [`lock_payers`] takes the
//! per-payer row locks that serialise acceptance across processes.

use std::collections::HashMap;

use alloy::primitives::{Address, B256, U256};
use fairtrain_db::{sql, Backend, Decimal, Hex};
use fairtrain_protocol::batch::Reservation;
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{BatchState, StoreError, StoreResult};
use crate::util::hex0x;

/// `(payer, token)`.
pub type PayerToken = (Address, Address);

/// Rows bound per statement (PostgreSQL allows 65535 parameters).
pub(crate) const CHUNK: usize = 1_000;

/// Creates the ledger rows of `keys` that do not exist yet, then locks all of them
/// `FOR UPDATE` in a deterministic order (sorted, so that two transactions never wait on each
/// other in a cycle), and returns the pending amount of each.
///
/// # Errors
///
/// [`StoreError`].
pub async fn lock_payers(
    conn: &mut AnyConnection,
    keys: &[PayerToken],
) -> StoreResult<HashMap<PayerToken, U256>> {
    let mut sorted: Vec<(String, String)> =
        keys.iter().map(|(p, t)| (hex0x(p), hex0x(t))).collect();
    sorted.sort();
    sorted.dedup();
    let mut out = HashMap::with_capacity(sorted.len());
    let backend = Backend::of_connection(conn);
    for chunk in sorted.chunks(CHUNK) {
        let values = sql::values(backend, chunk.len(), 2, ", '0'");
        let mut insert = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO payer_ledger (payer, token, pending) VALUES {values} \
             ON CONFLICT (payer, token) DO NOTHING"
        )));
        for (p, t) in chunk {
            insert = insert.bind(p.clone()).bind(t.clone());
        }
        insert.execute(&mut *conn).await?;
        let pairs = sql::values(backend, chunk.len(), 2, "");
        let mut select = sqlx::query(AssertSqlSafe(format!(
            "SELECT payer, token, pending FROM payer_ledger WHERE (payer, token) IN ({pairs}) \
             ORDER BY payer, token FOR UPDATE"
        )));
        for (p, t) in chunk {
            select = select.bind(p.clone()).bind(t.clone());
        }
        for row in select.fetch_all(&mut *conn).await? {
            let payer = row.try_get::<Hex<Address>, _>("payer")?.0;
            let token = row.try_get::<Hex<Address>, _>("token")?.0;
            let pending = row.try_get::<Decimal<U256>, _>("pending")?.0;
            out.insert((payer, token), pending);
        }
    }
    Ok(out)
}

/// Sets the pending amount of ledger rows the caller has locked.
///
/// # Errors
///
/// [`StoreError`].
pub async fn set_pending(
    conn: &mut AnyConnection,
    values: &HashMap<PayerToken, U256>,
) -> StoreResult<()> {
    let mut sorted: Vec<_> = values
        .iter()
        .map(|((p, t), v)| (hex0x(p), hex0x(t), v.to_string()))
        .collect();
    sorted.sort();
    for (payer, token, pending) in sorted {
        sqlx::query("UPDATE payer_ledger SET pending = $1 WHERE payer = $2 AND token = $3")
            .bind(pending)
            .bind(payer)
            .bind(token)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Subtracts a confirmed batch's reservations from the ledger (locking the rows in order).
///
/// # Errors
///
/// [`StoreError::Corrupt`] if a row would go negative (the ledger and the receipts disagree).
pub async fn release(conn: &mut AnyConnection, reservations: &[Reservation]) -> StoreResult<()> {
    let keys: Vec<PayerToken> = reservations.iter().map(|r| (r.payer, r.token)).collect();
    let mut pending = lock_payers(conn, &keys).await?;
    for r in reservations {
        let e = pending.entry((r.payer, r.token)).or_default();
        *e = e.checked_sub(r.amount).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "ledger of payer {} token {} below a confirmed reservation",
                r.payer, r.token
            ))
        })?;
    }
    set_pending(conn, &pending).await
}

/// Adds `up` to and subtracts `down` from the pending amounts of ledger rows (a cut re-priced
/// receipts), locking the rows in order.
///
/// # Errors
///
/// [`StoreError::Corrupt`] if a row would go negative (the ledger and the receipts disagree).
pub async fn adjust(
    conn: &mut AnyConnection,
    up: &HashMap<PayerToken, U256>,
    down: &HashMap<PayerToken, U256>,
) -> StoreResult<()> {
    let keys: Vec<PayerToken> = up.keys().chain(down.keys()).copied().collect();
    let mut pending = lock_payers(conn, &keys).await?;
    for (key, amount) in up {
        *pending.entry(*key).or_default() += *amount;
    }
    for (key, amount) in down {
        let e = pending.entry(*key).or_default();
        *e = e.checked_sub(*amount).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "ledger of payer {} token {} below its re-priced receipts",
                key.0, key.1
            ))
        })?;
    }
    set_pending(conn, &pending).await
}

/// The highest acknowledged receipt `(cumulative, digest)` of each of `keys` that has one.
///
/// PostgreSQL only (SQLite keeps the ledger in memory). Each key is looked up on its own in
/// the primary key (a `LATERAL` subquery with `LIMIT 1`, which the planner cannot turn into a
/// join): given a list of a thousand keys, `usage_key IN (…)` was planned as a parallel scan of
/// the whole table, about six times the CPU of the lookups at 200k keys and growing with every
/// new key.
///
/// # Errors
///
/// [`StoreError`].
pub async fn usage_heads(
    conn: &mut AnyConnection,
    keys: &[B256],
) -> StoreResult<HashMap<B256, (u64, B256)>> {
    let mut hexes: Vec<String> = keys.iter().map(hex0x).collect();
    hexes.sort();
    hexes.dedup();
    let mut out = HashMap::with_capacity(hexes.len());
    let backend = Backend::of_connection(conn);
    for chunk in hexes.chunks(CHUNK) {
        let keys = sql::values(backend, chunk.len(), 1, "");
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "SELECT k.usage_key, h.cumulative, h.digest FROM (VALUES {keys}) AS k (usage_key) \
             CROSS JOIN LATERAL (SELECT cumulative, digest FROM usage_heads \
             WHERE usage_key = k.usage_key LIMIT 1) AS h"
        )));
        for k in chunk {
            q = q.bind(k.clone());
        }
        for row in q.fetch_all(&mut *conn).await? {
            let key = row.try_get::<Hex<B256>, _>("usage_key")?.0;
            let cumulative = row.try_get::<Decimal<u64>, _>("cumulative")?.0;
            let digest = row.try_get::<Hex<B256>, _>("digest")?.0;
            out.insert(key, (cumulative, digest));
        }
    }
    Ok(out)
}

/// Records new highest receipts of usage keys (the caller holds their payers' locks and has
/// checked each count is above the stored one).
///
/// # Errors
///
/// [`StoreError`].
pub async fn set_usage_heads(
    conn: &mut AnyConnection,
    heads: &HashMap<B256, (u64, B256)>,
) -> StoreResult<()> {
    let mut rows: Vec<(String, String, String)> = heads
        .iter()
        .map(|(k, (c, d))| (hex0x(k), c.to_string(), hex0x(d)))
        .collect();
    rows.sort();
    let backend = Backend::of_connection(conn);
    for chunk in rows.chunks(CHUNK) {
        let values = sql::values(backend, chunk.len(), 3, "");
        let mut q = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO usage_heads (usage_key, cumulative, digest) VALUES {values} \
             ON CONFLICT (usage_key) DO UPDATE SET cumulative = excluded.cumulative, \
             digest = excluded.digest"
        )));
        for (k, c, d) in chunk {
            q = q.bind(k.clone()).bind(c.clone()).bind(d.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Confirmed batches committed at or after `from_block` (or without a block): `(root,
/// reservations)`. The ledger no longer counts their receipts; a process whose follower has
/// not applied their `FundsReserved` yet still sees the funds as available, and adds them
/// back.
///
/// # Errors
///
/// [`StoreError`].
pub async fn confirmed_since(
    conn: &mut AnyConnection,
    from_block: u64,
) -> StoreResult<Vec<(B256, Vec<Reservation>)>> {
    let rows = sqlx::query(
        "SELECT root, reservations FROM batches WHERE state = $2 \
         AND (commit_block IS NULL OR commit_block >= $1)",
    )
    .bind(i64::try_from(from_block).unwrap_or(i64::MAX))
    .bind(BatchState::Confirmed.as_str())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let root = row.try_get::<Hex<B256>, _>(0)?.0;
            let reservations: Vec<Reservation> =
                serde_json::from_str(&row.try_get::<String, _>(1)?)
                    .map_err(|e| StoreError::Corrupt(format!("batch reservations: {e}")))?;
            Ok((root, reservations))
        })
        .collect()
}
