//! Automatic audits: while `fairtrain-indexer run` follows the chain, every committed batch is
//! audited ([`super::audit_with`]) without being asked, and audited again when its picture changes.
//!
//! The lifecycle of a batch's audit, kept in `audit_queue` (migration 0006):
//!
//! - `pending`: an audit is due: the batch was just indexed, or claims of it were indexed (or a
//!   reorganisation moved its commit) since its last report, or an attempt failed on an RPC or
//!   database error (retried with backoff). When only claims changed, the stored report's claim
//!   figures are brought up to date ([`super::recheck_claims`]) without fetching the data or
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
//! ([`super::forget_dropped`], in the rollback's transaction, and again on each pass of the worker).

pub use super::report::AuditStatus;
use std::{sync::Mutex, time::Duration};

use alloy::providers::DynProvider;
use futures::StreamExt;
use tracing::{info, warn};

use super::store::{self, now_ms};
use crate::{
    fetch::Fetcher,
    raw::{self, Checkpoint},
    Db, Deployment, Error, Result,
};

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
        let due = store::due(&self.db, now, concurrency * 4).await?;
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
        let changes = store::queue_changes(&self.db).await?;
        Ok(Pass {
            queued: changes.queued,
            stale: changes.stale,
            dropped: changes.dropped,
            attempts: 0,
        })
    }

    /// Fetches and audits one batch; a failure is recorded with its next attempt.
    async fn attempt(&self, root: &str, attempts: i64) -> Result<()> {
        let Some(batch) = store::committed(&self.db, root).await? else {
            return self.forget(root).await;
        };
        // Only claims changed since the stored report (same commit): bring its claim figures up
        // to date without fetching the data or reading the chain again.
        match super::recheck_claims(&self.db, root).await {
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
        let bytes = match self.fetcher.fetch(&batch.data_uri).await {
            Ok(bytes) => bytes,
            Err(e) => return self.failed(root, attempts, "unavailable", &e.into()).await,
        };
        match super::audit_with(
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
        store::earlier_pending(&self.db, root).await
    }

    /// Postpones `root`'s audit by one poll interval (not a failed attempt) until `earlier` is
    /// audited.
    async fn wait_for(&self, root: &str, earlier: &str) -> Result<()> {
        let reason = format!("waiting for the audit of earlier batch {earlier}");
        let at = now_ms() + self.config.poll_interval.as_millis() as i64;
        store::postpone(&self.db, root, &reason, at).await
    }

    async fn forget(&self, root: &str) -> Result<()> {
        store::forget(&self.db, root).await
    }

    async fn failed(&self, root: &str, attempts: i64, status: &str, e: &Error) -> Result<()> {
        let attempts = attempts + 1;
        let delay = self.config.backoff(attempts);
        warn!(%root, %status, attempts, retry_in = ?delay, error = %e, "batch audit postponed");
        let next = now_ms() + delay.as_millis() as i64;
        store::record_failure(&self.db, root, status, attempts, &e.to_string(), next).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
