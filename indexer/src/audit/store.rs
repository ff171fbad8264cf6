//! The audit's SQL: what an audit reads of the indexed batch (its commit, reservations, claims,
//! its relayer's line and earlier batches), the stored reports (`audits`, `audit_receipts`) and
//! the audit queue (`audit_queue`, migration 0006) with the statuses read from it.

use std::{
    collections::{BTreeMap, HashMap},
    time::{SystemTime, UNIX_EPOCH},
};

use alloy::primitives::U256;
use sqlx::{any::AnyRow, Any, Row, Transaction};

use super::{
    checks::{Claim, Committed, LineAtCommit},
    report::{AuditReport, AuditStatus, Audited, Stored},
};
use crate::{
    raw,
    units::{big, parse_amount, parse_word},
    Db, Error, Result,
};

/// Milliseconds since the Unix epoch (the queue's clock).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

/// The root as stored (`0x` and 64 lowercase hex digits), or an [`Error::Invalid`] naming it.
fn stored_root(root: &str) -> Result<String> {
    Ok(format!(
        "{:#x}",
        parse_word(root).map_err(|e| Error::invalid("root", e.to_string()))?
    ))
}

/// The indexed batch `root` as an audit judges it (`None` if not indexed).
pub(crate) async fn committed(db: &Db, root: &str) -> Result<Option<Committed>> {
    let root = stored_root(root)?;
    type BatchRow = (String, String, i64, String, String, i64, i64, String, i64);
    let row: Option<BatchRow> = sqlx::query_as(
        "SELECT root, relayer, receipt_count, data_hash, data_uri, block_number, block_time, \
         tx_hash, claims FROM batches WHERE root = $1",
    )
    .bind(&root)
    .fetch_optional(&db.pool)
    .await?;
    let Some(b) = row else { return Ok(None) };
    let reservations: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT payer, token, amount FROM reservations WHERE root = $1 ORDER BY payer, token",
    )
    .bind(&root)
    .fetch_all(&db.pool)
    .await?;
    let reservations: BTreeMap<(String, String), U256> = reservations
        .into_iter()
        .map(|(payer, token, amount)| Ok(((payer, token), parse_amount(&amount)?)))
        .collect::<Result<_>>()?;
    Ok(Some(Committed {
        root: b.0,
        relayer: b.1,
        receipt_count: b.2,
        data_hash: b.3,
        data_uri: b.4,
        block_number: b.5 as u64,
        block_time: b.6 as u64,
        seen: Audited {
            commit_tx: b.7,
            claims: b.8,
        },
        reservations,
    }))
}

/// Every claim (settlement) of the batch `root`, in chain order.
pub(crate) async fn claims(db: &Db, root: &str) -> Result<Vec<Claim>> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT usage_key, cumulative_samples, amount FROM settlements WHERE root = $1 \
         ORDER BY block_number, log_index",
    )
    .bind(stored_root(root)?)
    .fetch_all(&db.pool)
    .await?;
    rows.into_iter()
        .map(|(usage_key, cumulative, amount)| {
            Ok(Claim {
                usage_key,
                cumulative_samples: cumulative as u64,
                amount: parse_amount(&amount)?,
            })
        })
        .collect()
}

/// Per (payer, token) of the batch `root`: its relayer's line just before the commit, with the
/// number of the line's earlier batches not audited yet when it was locked.
pub(crate) async fn line_locks(
    db: &Db,
    root: &str,
    commit_time: u64,
) -> Result<HashMap<(String, String), LineAtCommit>> {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "SELECT payer, token, locked_until, line_since_block FROM reservations WHERE root = $1",
    )
    .bind(root)
    .fetch_all(&db.pool)
    .await?;
    let mut lines = HashMap::new();
    for (payer, token, until, since) in rows {
        let locked = until > big(commit_time);
        let unaudited_earlier = if locked {
            earlier_unaudited(db, root, &payer, &token, since).await?
        } else {
            0
        };
        let line = LineAtCommit {
            reserved_until: until,
            since_block: since,
            locked,
            unaudited_earlier,
        };
        lines.insert((payer, token), line);
    }
    Ok(lines)
}

/// The highest cumulative count of `usage_key` among the audited receipts of `relayer`'s
/// batches committed from block `since` (the line's last release: a batch committed in that
/// block came after it, every earlier batch having expired) to before `block`: while the line
/// stays locked, their reserves are in its pool and the relayer reserves only the increase.
pub(crate) async fn prior_count(
    db: &Db,
    usage_key: &str,
    relayer: &str,
    since: i64,
    block: u64,
) -> Result<u64> {
    let (max,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(MAX(r.cumulative), 0) FROM audit_receipts r \
         JOIN batches b ON b.root = r.root WHERE r.usage_key = $1 AND b.relayer = $2 \
         AND b.block_number >= $3 AND b.block_number < $4",
    )
    .bind(usage_key)
    .bind(relayer)
    .bind(since)
    .bind(big(block))
    .fetch_one(&db.pool)
    .await?;
    Ok(max as u64)
}

/// Batches of `root`'s relayer that reserved from the same line (payer, token) since block
/// `since` (the line's last release) and before `root`, and have no stored audit: their
/// receipts would set the counts this batch's reservation starts from.
async fn earlier_unaudited(
    db: &Db,
    root: &str,
    payer: &str,
    token: &str,
    since: i64,
) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM batches e JOIN reservations r ON r.root = e.root \
         JOIN batches me ON me.root = $1 \
         WHERE r.payer = $2 AND r.token = $3 AND e.relayer = me.relayer \
         AND e.block_number >= $4 AND e.block_number < me.block_number \
         AND NOT EXISTS (SELECT 1 FROM audits a WHERE a.root = e.root)",
    )
    .bind(root)
    .bind(payer)
    .bind(token)
    .bind(since)
    .fetch_one(&db.pool)
    .await?;
    Ok(n)
}

/// The commit transaction the batch's latest status was recorded for, if any.
pub(crate) async fn audited_commit(db: &Db, root: &str) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT commit_tx FROM audit_queue WHERE root = $1")
            .bind(root)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(tx,)| tx))
}

/// Stores `report` as the batch's latest (and, if `receipts_changed`, its `audit_receipts`) and
/// records its outcome as the batch's audit status, in one transaction.
pub(crate) async fn save(
    db: &Db,
    report: &AuditReport,
    seen: &Audited,
    receipts_changed: bool,
) -> Result<()> {
    let audited_block = raw::checkpoint(db).await?.map_or(0, |c| c.number);
    let json = serde_json::to_string(report).map_err(|e| Error::Stored(e.to_string()))?;
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM audits WHERE root = $1")
        .bind(&report.root)
        .execute(&mut *tx)
        .await?;
    if receipts_changed {
        store_receipts(&mut tx, report).await?;
    }
    sqlx::query(
        "INSERT INTO audits (root, passed, audited_at, audited_block, summary, report) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&report.root)
    .bind(i64::from(report.passed))
    .bind(big(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()))
    .bind(big(audited_block))
    .bind(report.summary())
    .bind(json)
    .execute(&mut *tx)
    .await?;
    record_report(&mut tx, report, seen).await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces the batch's `audit_receipts` (what each valid receipt owes) with `report`'s.
async fn store_receipts(tx: &mut Transaction<'static, Any>, report: &AuditReport) -> Result<()> {
    sqlx::query("DELETE FROM audit_receipts WHERE root = $1")
        .bind(&report.root)
        .execute(&mut **tx)
        .await?;
    let expires: i64 = sqlx::query_as::<_, (i64,)>(
        "SELECT COALESCE(MAX(expires_at), 0) FROM reservations WHERE root = $1",
    )
    .bind(&report.root)
    .fetch_one(&mut **tx)
    .await?
    .0;
    for r in report.receipts.iter().filter(|r| r.status != "invalid") {
        sqlx::query(
            "INSERT INTO audit_receipts (root, idx, payer, license_id, token, usage_key, samples, \
             expected, expires_at, cumulative) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&report.root)
        .bind(r.index as i64)
        .bind(&r.payer)
        .bind(&r.license_id)
        .bind(&r.token)
        .bind(&r.usage_key)
        .bind(big(r.samples))
        .bind(&r.expected)
        .bind(expires)
        .bind(big(r.cumulative_samples))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The stored report of a batch, if it was audited (a report that does not read back as an
/// [`AuditReport`] is an [`Error::Stored`]).
pub async fn stored(db: &Db, root: &str) -> Result<Option<AuditReport>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT report FROM audits WHERE root = $1")
        .bind(root.trim().to_ascii_lowercase())
        .fetch_optional(&db.pool)
        .await?;
    row.map(|(r,)| {
        serde_json::from_str(&r).map_err(|e| Error::Stored(format!("audit report: {e}")))
    })
    .transpose()
}

/// Records a report's outcome as its batch's status, in the report's transaction: the verdict,
/// or `unavailable` (due at once) if the data could not be fetched.
async fn record_report(
    tx: &mut Transaction<'static, Any>,
    report: &AuditReport,
    seen: &Audited,
) -> Result<()> {
    let (status, attempts) = match (report.data_fetched(), report.passed) {
        (false, _) => ("unavailable", 1),
        (true, true) => ("passed", 0),
        (true, false) => ("failed", 0),
    };
    let now = now_ms();
    sqlx::query(
        "INSERT INTO audit_queue (root, status, commit_tx, claims_audited, attempts, reason, \
         next_attempt_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (root) DO UPDATE SET status = excluded.status, \
         commit_tx = excluded.commit_tx, claims_audited = excluded.claims_audited, \
         attempts = excluded.attempts, reason = excluded.reason, \
         next_attempt_ms = excluded.next_attempt_ms, updated_ms = excluded.updated_ms",
    )
    .bind(&report.root)
    .bind(status)
    .bind(&seen.commit_tx)
    .bind(seen.claims)
    .bind(attempts)
    .bind(report.failures())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the reports and statuses of batches that are no longer indexed (dropped by a
/// reorganisation); returns how many statuses went.
pub async fn forget_dropped(tx: &mut Transaction<'static, Any>) -> Result<u64> {
    for table in ["audits", "audit_receipts"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE root NOT IN (SELECT root FROM batches)"
        )))
        .execute(&mut **tx)
        .await?;
    }
    Ok(
        sqlx::query("DELETE FROM audit_queue WHERE root NOT IN (SELECT root FROM batches)")
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )
}

/// A number that changes whenever an audit status changes (the live stream watches it).
pub async fn version(db: &Db) -> Result<(i64, i64)> {
    Ok(
        sqlx::query_as("SELECT COUNT(*), COALESCE(MAX(updated_ms), 0) FROM audit_queue")
            .fetch_one(&db.pool)
            .await?,
    )
}

/// Columns of `audits a` and `audit_queue q` that [`status_at`] reads, in order.
pub const STATUS_COLS: &str =
    "q.status, q.reason, q.attempts, q.next_attempt_ms, q.commit_tx, q.claims_audited, \
     a.passed, a.audited_at";

/// Joins of a query over `batches b` that provide [`STATUS_COLS`].
pub const STATUS_JOINS: &str =
    "LEFT JOIN audits a ON a.root = b.root LEFT JOIN audit_queue q ON q.root = b.root";

/// The audit status of a batch (commit transaction `commit_tx`, `claims` claims indexed) from the
/// [`STATUS_COLS`] of `row`, starting at column `first`.
pub fn status_at(row: &AnyRow, first: usize, commit_tx: &str, claims: i64) -> Result<AuditStatus> {
    let stored = Stored {
        status: row.try_get(first)?,
        reason: row.try_get(first + 1)?,
        attempts: row.try_get(first + 2)?,
        next_attempt_ms: row.try_get(first + 3)?,
        commit_tx: row.try_get(first + 4)?,
        claims_audited: row.try_get(first + 5)?,
        passed: row.try_get::<Option<i64>, _>(first + 6)?.map(|p| p != 0),
        checked_at: row.try_get(first + 7)?,
    };
    Ok(stored.status(commit_tx, claims))
}

/// What [`queue_changes`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct QueueChanges {
    /// Batches queued for the first time.
    pub(crate) queued: u64,
    /// Batches due again because their claims or commit changed.
    pub(crate) stale: u64,
    /// Statuses deleted with their dropped batches.
    pub(crate) dropped: u64,
}

/// Forgets dropped batches, queues new ones, and marks stale reports due, in one transaction.
pub(crate) async fn queue_changes(db: &Db) -> Result<QueueChanges> {
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    let dropped = forget_dropped(&mut tx).await?;
    let queued = sqlx::query(
        "INSERT INTO audit_queue (root, status, commit_tx, claims_audited, attempts, reason, \
         next_attempt_ms, updated_ms) \
         SELECT b.root, 'pending', b.tx_hash, -1, 0, '', $1, $1 FROM batches b \
         WHERE NOT EXISTS (SELECT 1 FROM audit_queue q WHERE q.root = b.root)",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let stale = sqlx::query(
        "UPDATE audit_queue SET status = 'pending', attempts = 0, \
         reason = 'claims or the commit changed since the last report', \
         next_attempt_ms = $1, updated_ms = $1 \
         WHERE status IN ('passed', 'failed') AND EXISTS (SELECT 1 FROM batches b \
         WHERE b.root = audit_queue.root \
         AND (b.claims <> audit_queue.claims_audited OR b.tx_hash <> audit_queue.commit_tx))",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(QueueChanges {
        queued,
        stale,
        dropped,
    })
}

/// Up to `limit` audits due by `now` (root and failed attempts), oldest commit first: a batch's
/// audit reads the audited receipts of earlier ones.
pub(crate) async fn due(db: &Db, now: i64, limit: usize) -> Result<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT q.root, q.attempts FROM audit_queue q JOIN batches b ON b.root = q.root \
         WHERE q.status IN ('pending', 'unavailable') AND q.next_attempt_ms <= $1 \
         ORDER BY b.block_number, q.root LIMIT $2",
    )
    .bind(now)
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await?)
}

/// An earlier batch with a payer in common with `root` that is due its first audit.
pub(crate) async fn earlier_pending(db: &Db, root: &str) -> Result<Option<String>> {
    Ok(sqlx::query_as::<_, (String,)>(
        "SELECT q.root FROM audit_queue q JOIN batches e ON e.root = q.root \
         WHERE q.status = 'pending' \
         AND NOT EXISTS (SELECT 1 FROM audits a WHERE a.root = q.root) \
         AND e.block_number < (SELECT block_number FROM batches WHERE root = $1) \
         AND EXISTS (SELECT 1 FROM reservations mine JOIN reservations theirs \
                     ON theirs.payer = mine.payer WHERE mine.root = $1 AND theirs.root = e.root) \
         ORDER BY e.block_number LIMIT 1",
    )
    .bind(root)
    .fetch_optional(&db.pool)
    .await?
    .map(|(r,)| r))
}

/// Sets `root`'s next attempt to `at_ms` with `reason` (not a failed attempt).
pub(crate) async fn postpone(db: &Db, root: &str, reason: &str, at_ms: i64) -> Result<()> {
    sqlx::query("UPDATE audit_queue SET reason = $2, next_attempt_ms = $3 WHERE root = $1")
        .bind(root)
        .bind(reason)
        .bind(at_ms)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Deletes `root`'s status.
pub(crate) async fn forget(db: &Db, root: &str) -> Result<()> {
    sqlx::query("DELETE FROM audit_queue WHERE root = $1")
        .bind(root)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Records a failed attempt: `status`, the number of `attempts`, the `reason` and the next
/// attempt at `next_ms`.
pub(crate) async fn record_failure(
    db: &Db,
    root: &str,
    status: &str,
    attempts: i64,
    reason: &str,
    next_ms: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE audit_queue SET status = $2, attempts = $3, reason = $4, \
         next_attempt_ms = $5, updated_ms = $6 WHERE root = $1",
    )
    .bind(root)
    .bind(status)
    .bind(attempts)
    .bind(reason)
    .bind(next_ms)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    Ok(())
}
