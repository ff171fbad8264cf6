//! Automatic audits: while `fairtrain-indexer run` follows the chain, every committed batch is
//! audited ([`crate::audit`]) without being asked, and audited again when its picture changes.
//!
//! The lifecycle of a batch's audit, kept in `audit_queue` (migration 0006):
//!
//! - `pending`: an audit is due: the batch was just indexed, or claims of it were indexed (or a
//!   reorganisation moved its commit) since its last report, or an attempt failed on an RPC or
//!   database error (retried with backoff). When only claims changed, the stored report's claim
//!   figures are brought up to date ([`audit::recheck_claims`]) without fetching the data or
//!   reading the chain: everything else in a report depends only on the committed data and the
//!   chain state at the commit;
//! - `unavailable`: its data could not be fetched from its `dataURI` (not published yet,
//!   unreachable, or an `ipfs://` URI without a gateway). Not a verdict: the fetch is retried with
//!   exponential backoff (`retry_min` doubling up to `retry_max`, forever) and the status carries
//!   the last error and the next attempt;
//! - `passed` / `failed`: the verdict of the latest report, which is current (same commit, same
//!   number of claims); `failed` carries the failed checks.
//!
//! The worker runs beside the indexer, never inside its transactions: a slow or unreachable
//! data URI delays only that batch's audit. Audits requested through the CLI or the API record
//! their outcome here too. A reorganisation that drops a batch deletes its report and status
//! ([`forget_dropped`], in the rollback's transaction, and again on each pass of the worker).

pub use fairtrain_protocol::api::indexer::AuditStatus;
use std::{
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy::providers::DynProvider;
use futures::StreamExt;
use sqlx::{any::AnyRow, Any, Row, Transaction};
use tracing::{info, warn};

use crate::{
    audit::{self, AuditReport},
    fetch::Fetcher,
    query,
    raw::{self, Checkpoint},
    Db, Deployment, Error, Result,
};

/// What an audit saw of its batch, to tell later whether its report is still current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audited {
    /// The commit transaction.
    pub commit_tx: String,
    /// Claims (settlements) of the batch indexed at the audit.
    pub claims: i64,
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

/// What is stored about a batch's audit (`audit_queue` and `audits`; `None` where no row).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Stored {
    status: Option<String>,
    reason: Option<String>,
    attempts: Option<i64>,
    next_attempt_ms: Option<i64>,
    commit_tx: Option<String>,
    claims_audited: Option<i64>,
    passed: Option<bool>,
    checked_at: Option<i64>,
}

impl Stored {
    /// The status of a batch now committed in `commit_tx` with `claims` claims indexed.
    fn status(self, commit_tx: &str, claims: i64) -> AuditStatus {
        let reason = self.reason.filter(|r| !r.is_empty());
        let stale = self.commit_tx.is_some_and(|c| c != commit_tx)
            || self.claims_audited.is_some_and(|c| c != claims);
        let (status, reason, next) = match self.status.as_deref() {
            Some(s @ ("pending" | "unavailable")) => (
                s,
                Some(reason.unwrap_or_else(|| "audit due".into())),
                self.next_attempt_ms.map(|ms| (ms + 999).div_euclid(1000)),
            ),
            // The worker has not seen the change yet (or is off): the report is out of date.
            Some("passed" | "failed") if stale => (
                "pending",
                Some("claims or the commit changed since the last report; audit due".into()),
                None,
            ),
            Some(s @ "failed") => (s, reason, None),
            Some(s) => (s, None, None),
            // No status row: a report from before automatic audits, or none at all.
            None => match self.passed {
                Some(true) => ("passed", None, None),
                Some(false) => ("failed", Some("see the stored report".into()), None),
                None => ("pending", Some("not audited yet".into()), None),
            },
        };
        AuditStatus {
            status: status.into(),
            passed: self.passed,
            checked_at: self.checked_at,
            reason,
            attempts: self.attempts.unwrap_or(0),
            next_retry_at: next,
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

/// Records a report's outcome as its batch's status, in the report's transaction: the verdict,
/// or `unavailable` (due at once) if the data could not be fetched.
pub(crate) async fn record_report(
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

/// Parses a duration: a number with `ms`, `s`, `m` or `h` (`500ms`, `5s`, `10m`).
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?}: add a unit (ms, s, m or h)"))?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("{s:?}: expected e.g. 5s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("{s:?}: unit must be ms, s, m or h")),
    }
}

/// How the worker audits.
#[derive(Debug, Clone)]
pub struct AuditorConfig {
    /// Audits (fetch and checks) run at once.
    pub concurrency: usize,
    /// First retry delay after a failed attempt; doubles on each further failure.
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Pause between passes over the queue.
    pub poll_interval: Duration,
}

impl Default for AuditorConfig {
    fn default() -> Self {
        Self {
            concurrency: 2,
            retry_min: Duration::from_secs(5),
            retry_max: Duration::from_secs(600),
            poll_interval: Duration::from_secs(1),
        }
    }
}

impl AuditorConfig {
    /// Delay before the next attempt after `attempts` (≥ 1) failed ones.
    pub fn backoff(&self, attempts: i64) -> Duration {
        let doublings = attempts.clamp(1, 31) as u32 - 1;
        self.retry_min
            .saturating_mul(1 << doublings)
            .min(self.retry_max.max(self.retry_min))
    }
}

/// The audit worker (see the module docs).
#[derive(Debug)]
pub struct Auditor {
    db: Db,
    provider: DynProvider,
    deployment: Deployment,
    fetcher: Fetcher,
    config: AuditorConfig,
    /// The checkpoint at the last queue maintenance: batches and claims only change when it
    /// moves, so passes in between only attempt due audits (no write transaction).
    maintained_at: Mutex<Option<Checkpoint>>,
}

/// What one pass of the worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Batches queued for the first time.
    pub queued: u64,
    /// Batches due again because their claims or commit changed.
    pub stale: u64,
    /// Statuses deleted with their dropped batches.
    pub dropped: u64,
    /// Audit attempts made.
    pub attempts: usize,
}

impl Auditor {
    /// A worker auditing the batches indexed in `db`.
    pub fn new(
        db: Db,
        provider: DynProvider,
        deployment: Deployment,
        fetcher: Fetcher,
        config: AuditorConfig,
    ) -> Self {
        Self {
            db,
            provider,
            deployment,
            fetcher,
            config,
            maintained_at: Mutex::new(None),
        }
    }

    /// Runs passes until `stop` resolves; a failed pass (database errors) is logged and retried.
    pub async fn run(&self, stop: impl std::future::Future<Output = ()>) -> Result<()> {
        tokio::pin!(stop);
        let allowed: Vec<String> = self
            .fetcher
            .allowed_hosts()
            .iter()
            .map(ToString::to_string)
            .collect();
        info!(
            concurrency = self.config.concurrency,
            ipfs_gateway = self.fetcher.ipfs_gateway().unwrap_or("none"),
            allowed_data_hosts = %allowed.join(","),
            "auditing new batches automatically (batch data from public hosts and the allowed ones)"
        );
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(()),
                pass = self.pass() => if let Err(e) = pass {
                    warn!(error = %e, "audit pass failed; retrying");
                },
            }
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }

    /// One pass: if the index moved since the last pass, forget dropped batches and queue new
    /// and changed ones; then attempt the due ones.
    pub async fn pass(&self) -> Result<Pass> {
        let checkpoint = raw::checkpoint(&self.db).await?;
        let moved = *self.maintained_at.lock().expect("not poisoned") != checkpoint;
        let mut pass = if moved {
            self.maintain().await?
        } else {
            Pass::default()
        };
        *self.maintained_at.lock().expect("not poisoned") = checkpoint;

        let now = now_ms();
        let concurrency = self.config.concurrency.max(1);
        // Oldest commit first: a batch's audit reads the audited receipts of earlier ones.
        let due: Vec<(String, i64)> = sqlx::query_as(
            "SELECT q.root, q.attempts FROM audit_queue q JOIN batches b ON b.root = q.root \
             WHERE q.status IN ('pending', 'unavailable') AND q.next_attempt_ms <= $1 \
             ORDER BY b.block_number, q.root LIMIT $2",
        )
        .bind(now)
        .bind((concurrency * 4) as i64)
        .fetch_all(&self.db.pool)
        .await?;
        pass.attempts = due.len();
        futures::stream::iter(due)
            .for_each_concurrent(concurrency, |(root, attempts)| async move {
                if let Err(e) = self.attempt(&root, attempts).await {
                    warn!(%root, error = %e, "could not record an audit attempt");
                }
            })
            .await;
        Ok(pass)
    }

    /// Forgets dropped batches, queues new ones, and marks stale reports due, in one
    /// transaction.
    async fn maintain(&self) -> Result<Pass> {
        let now = now_ms();
        let mut tx = self.db.pool.begin().await?;
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
        Ok(Pass {
            queued,
            stale,
            dropped,
            attempts: 0,
        })
    }

    /// Fetches and audits one batch; a failure is recorded with its next attempt.
    async fn attempt(&self, root: &str, attempts: i64) -> Result<()> {
        let Some(detail) = query::batch(&self.db, root).await? else {
            return self.forget(root).await;
        };
        // Only claims changed since the stored report (same commit): bring its claim figures up
        // to date without fetching the data or reading the chain again.
        match audit::recheck_claims(&self.db, root).await {
            Ok(Some(report)) => {
                info!(%root, passed = report.passed, "batch claims re-checked");
                return Ok(());
            }
            Ok(None) => {}
            Err(e) => return self.failed(root, attempts, "pending", &e).await,
        }
        if let Some(earlier) = self.earlier_unaudited(root).await? {
            return self.wait_for(root, &earlier).await;
        }
        let bytes = match self.fetcher.fetch(&detail.batch.data_uri).await {
            Ok(bytes) => bytes,
            Err(e) => return self.failed(root, attempts, "unavailable", &e.into()).await,
        };
        match audit::audit_with(
            &self.db,
            &self.provider,
            &self.deployment,
            &self.fetcher,
            root,
            Some(bytes),
        )
        .await
        {
            Ok(report) if report.passed => {
                info!(%root, "batch audit passed");
                Ok(())
            }
            Ok(report) => {
                warn!(%root, failures = %report.failures(), "batch audit FAILED");
                Ok(())
            }
            // Dropped by a reorganisation while we fetched.
            Err(Error::NotFound { what: "root", .. }) => self.forget(root).await,
            Err(e) => self.failed(root, attempts, "pending", &e).await,
        }
    }

    /// An earlier batch with a payer in common that is due its first audit: its receipts set
    /// the counts this batch's reservations start from, so it is audited first. (Earlier batches
    /// whose data is unavailable are not waited for.)
    async fn earlier_unaudited(&self, root: &str) -> Result<Option<String>> {
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
        .fetch_optional(&self.db.pool)
        .await?
        .map(|(r,)| r))
    }

    /// Postpones `root`'s audit by one poll interval (not a failed attempt) until `earlier` is
    /// audited.
    async fn wait_for(&self, root: &str, earlier: &str) -> Result<()> {
        sqlx::query("UPDATE audit_queue SET reason = $2, next_attempt_ms = $3 WHERE root = $1")
            .bind(root)
            .bind(format!("waiting for the audit of earlier batch {earlier}"))
            .bind(now_ms() + self.config.poll_interval.as_millis() as i64)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    async fn forget(&self, root: &str) -> Result<()> {
        sqlx::query("DELETE FROM audit_queue WHERE root = $1")
            .bind(root)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    async fn failed(&self, root: &str, attempts: i64, status: &str, e: &Error) -> Result<()> {
        let attempts = attempts + 1;
        let delay = self.config.backoff(attempts);
        warn!(%root, %status, attempts, retry_in = ?delay, error = %e, "batch audit postponed");
        let now = now_ms();
        sqlx::query(
            "UPDATE audit_queue SET status = $2, attempts = $3, reason = $4, \
             next_attempt_ms = $5, updated_ms = $6 WHERE root = $1",
        )
        .bind(root)
        .bind(status)
        .bind(attempts)
        .bind(e.to_string())
        .bind(now + delay.as_millis() as i64)
        .bind(now)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_from_what_is_stored() {
        let status = |stored: Stored, claims| {
            let s = stored.status("0xc0", claims);
            (s.status, s.passed, s.reason, s.next_retry_at)
        };
        assert_eq!(
            status(Stored::default(), 0),
            ("pending".into(), None, Some("not audited yet".into()), None)
        );
        let passed = Stored {
            status: Some("passed".into()),
            reason: Some(String::new()),
            attempts: Some(0),
            next_attempt_ms: Some(1_000),
            commit_tx: Some("0xc0".into()),
            claims_audited: Some(2),
            passed: Some(true),
            checked_at: Some(7),
        };
        assert_eq!(
            status(passed.clone(), 2),
            ("passed".into(), Some(true), None, None)
        );
        // A claim indexed since the report: due again, the old verdict still given.
        let (s, verdict, reason, _) = status(passed.clone(), 3);
        assert_eq!((s.as_str(), verdict), ("pending", Some(true)));
        assert!(reason.unwrap().contains("claims"));
        // So is a commit moved by a reorganisation.
        let moved = Stored {
            commit_tx: Some("0xc1".into()),
            ..passed.clone()
        };
        assert_eq!(status(moved, 2).0, "pending");
        let unavailable = Stored {
            status: Some("unavailable".into()),
            reason: Some("HTTP 404".into()),
            attempts: Some(3),
            next_attempt_ms: Some(5_001),
            passed: None,
            checked_at: None,
            ..passed.clone()
        };
        assert_eq!(
            status(unavailable, 2),
            ("unavailable".into(), None, Some("HTTP 404".into()), Some(6))
        );
        let failed = Stored {
            status: Some("failed".into()),
            reason: Some("data hash matches the commitment: …".into()),
            passed: Some(false),
            ..passed
        };
        assert_eq!(
            status(failed, 2),
            (
                "failed".into(),
                Some(false),
                Some("data hash matches the commitment: …".into()),
                None
            )
        );
    }

    #[test]
    fn durations_and_backoff() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5d").is_err());
        let c = AuditorConfig {
            retry_min: Duration::from_secs(5),
            retry_max: Duration::from_secs(60),
            ..AuditorConfig::default()
        };
        let delays: Vec<u64> = (1..=6).map(|a| c.backoff(a).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
        assert_eq!(c.backoff(1_000).as_secs(), 60);
    }
}
