//! The meter that training infrastructure embeds: record samples as they are drawn, and flush
//! cumulative receipts to a relayer.

use std::{path::PathBuf, sync::Arc, time::Duration};

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use fairtrain_protocol::{EscrowDomain, SignedReceipt};
use tokio::{sync::Mutex, task::JoinHandle};

use crate::{
    clock::{Clock, SystemClock},
    error::{Error, Result},
    journal::{Entry, Journal, Refusal, Usage},
    relayer::{is_transient, Outcome, RelayerClient, RetryPolicy},
    tally::{reconcile, Position, Restart, Resumed, Tally},
};

/// Everything a meter needs.
#[derive(Clone, Debug)]
pub struct MeterConfig {
    /// Where the usage journal lives (a SQLite file; created if missing).
    pub journal: PathBuf,
    /// The relayer's base URL.
    pub relayer_url: String,
    /// The escrow's EIP-712 domain (chain id and escrow address).
    pub domain: EscrowDomain,
    /// The payer whose budget pays.
    pub payer: Address,
    /// A training key the payer registered with the escrow.
    pub signer: PrivateKeySigner,
    /// Receipts per bulk request.
    pub max_bulk: usize,
    /// Retries of unreachable or overloaded relayers.
    pub retry: RetryPolicy,
    /// The time receipts are stamped with (`issuedAt`): the system clock unless replaced.
    pub clock: Arc<dyn Clock>,
    /// What [`Meter::count`] assumes of the samples the journal already holds when the meter
    /// opens (see [`crate::tally`]).
    pub restart: Restart,
}

impl MeterConfig {
    /// A configuration with the default bulk size (1,000) and retry policy.
    pub fn new(
        journal: impl Into<PathBuf>,
        relayer_url: impl Into<String>,
        domain: EscrowDomain,
        payer: Address,
        signer: PrivateKeySigner,
    ) -> Self {
        Self {
            journal: journal.into(),
            relayer_url: relayer_url.into(),
            domain,
            payer,
            signer,
            max_bulk: 1_000,
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            restart: Restart::default(),
        }
    }
}

/// What one [`Meter::flush`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Receipts sent.
    pub sent: usize,
    /// Receipts the relayer stored for the first time.
    pub accepted: usize,
    /// Receipts it already had (resent after a restart or a lost answer).
    pub duplicates: usize,
    /// Receipts refused, with the usage and the refusal.
    pub refused: Vec<(Usage, Refusal)>,
}

/// Records usage durably and reports it to a relayer as cumulative signed receipts.
///
/// Guarantees, across crashes and restarts: a sample whose [`Meter::record`] returned is never
/// lost (it is in the journal and the next receipt of its key covers it); a receipt is signed
/// once per cumulative count and resent unchanged until acknowledged, so the relayer sees
/// duplicates, never a second claim on the same samples (and the escrow pays cumulative
/// increments only, so nothing can be paid twice).
#[derive(Debug)]
pub struct Meter {
    journal: Journal,
    client: RelayerClient,
    domain: EscrowDomain,
    signer: PrivateKeySigner,
    max_bulk: usize,
    clock: Arc<dyn Clock>,
    flushing: Mutex<()>,
    /// Counted by [`Meter::count`], not yet committed. Only ever locked briefly, never across
    /// an await.
    tally: std::sync::Mutex<Tally>,
    /// Serialises commits, so that a commit's counts reach the journal in the order taken.
    committing: Mutex<()>,
}

impl Meter {
    /// Opens the journal and prepares the relayer client. With [`Restart::Replays`], everything
    /// the journal holds is a replay credit until [`Meter::resume`] says where the job stands.
    pub async fn open(config: MeterConfig) -> Result<Self> {
        let journal = Journal::open(&config.journal, config.payer).await?;
        let mut tally = Tally::default();
        if config.restart == Restart::Replays {
            let held = journal.entries(false).await?;
            tally.set_credits(held.into_iter().map(|e| (e.usage, e.recorded)));
        }
        Ok(Self {
            journal,
            client: RelayerClient::new(config.relayer_url, config.retry)?,
            domain: config.domain,
            signer: config.signer,
            max_bulk: config.max_bulk.max(1),
            clock: config.clock,
            flushing: Mutex::new(()),
            tally: std::sync::Mutex::new(tally),
            committing: Mutex::new(()),
        })
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        // A panic while holding the lock cannot leave the tally half-updated (every method
        // completes its change before returning), so a poisoned lock is still sound.
        self.tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts `samples` drawn under `usage` in memory (no I/O; about a microsecond), skipping
    /// replays after a [`Meter::resume`]. Returns the samples counted. The count reaches the
    /// journal at the next [`Meter::commit`]; see [`crate::tally`] for what a crash can lose.
    pub fn count(&self, usage: Usage, samples: u64) -> u64 {
        self.tally().add(usage, samples)
    }

    /// Samples counted by [`Meter::count`] and not yet committed.
    pub fn uncommitted(&self) -> u64 {
        self.tally().pending()
    }

    /// Moves what [`Meter::count`] counted into the journal, in one transaction. Durable when it
    /// returns; on failure the counts stay in memory for the next commit.
    pub async fn commit(&self) -> Result<()> {
        let _serial = self.committing.lock().await;
        let taken = self.tally().take();
        if taken.is_empty() {
            return Ok(());
        }
        match self.journal.record(&taken).await {
            Ok(_) => Ok(()),
            Err(e) => {
                self.tally().restore(taken);
                Err(e)
            }
        }
    }

    /// Commits, then returns where the job stands: per usage key, the samples counted so far
    /// minus the replays still to skip. Save it with the training checkpoint.
    pub async fn position(&self) -> Result<Position> {
        self.commit().await?;
        let entries = self.journal.entries(false).await?;
        let tally = self.tally();
        Ok(Position {
            counts: entries
                .into_iter()
                .map(|e| (e.usage, e.recorded - tally.credit(&e.usage).min(e.recorded)))
                .collect(),
        })
    }

    /// Resumes from a checkpoint saved with [`Meter::position`]: per usage key, the samples the
    /// journal holds beyond the checkpoint are replays and will be skipped by [`Meter::count`];
    /// a journal behind the checkpoint is raised to it. Call it before counting again.
    pub async fn resume(&self, at: &Position) -> Result<Vec<Resumed>> {
        self.commit().await?;
        let journal: std::collections::HashMap<Usage, u64> = self
            .journal
            .entries(false)
            .await?
            .into_iter()
            .map(|e| (e.usage, e.recorded))
            .collect();
        let mut resumed: Vec<Resumed> = at
            .counts
            .iter()
            .map(|&(usage, checkpoint)| {
                let held = journal.get(&usage).copied().unwrap_or(0);
                let (credit, raised) = reconcile(checkpoint, held);
                Resumed {
                    usage,
                    checkpoint,
                    journal: held,
                    credit,
                    raised,
                }
            })
            .collect();
        // Keys first counted after the checkpoint: everything they hold is a replay.
        let saved: std::collections::HashSet<Usage> = at.counts.iter().map(|(u, _)| *u).collect();
        for (&usage, &held) in &journal {
            if !saved.contains(&usage) {
                resumed.push(Resumed {
                    usage,
                    checkpoint: 0,
                    journal: held,
                    credit: held,
                    raised: 0,
                });
            }
        }
        let raise: Vec<(Usage, u64)> = resumed
            .iter()
            .filter(|r| r.raised > 0)
            .map(|r| (r.usage, r.raised))
            .collect();
        if !raise.is_empty() {
            self.journal.record(&raise).await?;
        }
        self.tally()
            .set_credits(resumed.iter().map(|r| (r.usage, r.credit)));
        Ok(resumed)
    }

    /// Adds `samples` drawn under `usage`; returns the new cumulative count. Durable when it
    /// returns. Call it per minibatch, not per sample: each call is one SQLite commit.
    pub async fn record(&self, usage: Usage, samples: u64) -> Result<u64> {
        Ok(self.journal.record(&[(usage, samples)]).await?[0])
    }

    /// Adds samples to several usages in one commit, all or nothing.
    pub async fn record_many(&self, usages: &[(Usage, u64)]) -> Result<Vec<u64>> {
        self.journal.record(usages).await
    }

    /// Every usage key with its recorded, signed and acknowledged counts.
    pub async fn status(&self) -> Result<Vec<Entry>> {
        self.journal.entries(false).await
    }

    /// Commits what [`Meter::count`] counted, then signs a receipt for every key with unreported samples (reusing the stored receipt when
    /// the count has not moved) and sends them in bulk. Refusals that a later flush may cure
    /// ([`is_transient`]) are retried then; the others wait for more samples on that key.
    pub async fn flush(&self) -> Result<FlushReport> {
        let _exclusive = self.flushing.lock().await;
        self.commit().await?;
        let mut to_send = Vec::new();
        let mut newly_signed = Vec::new();
        for entry in self.journal.entries(true).await? {
            let refused_here = entry
                .rejection
                .as_ref()
                .is_some_and(|r| r.cumulative == entry.recorded && !is_transient(&r.code));
            if refused_here {
                continue;
            }
            let receipt = match entry.signed {
                Some(signed) if signed.cumulative_samples == entry.recorded => signed,
                _ => {
                    let receipt =
                        entry
                            .usage
                            .receipt(self.journal.payer(), entry.recorded, self.clock.now());
                    let signed = SignedReceipt::sign(&self.domain, &self.signer, &receipt)
                        .map_err(Error::Signing)?;
                    newly_signed.push(signed.clone());
                    signed
                }
            };
            to_send.push((entry.usage, receipt));
        }
        // Stored before sending: a crash after the relayer stored them resends the same bytes.
        self.journal.store_signed(&newly_signed).await?;

        let mut report = FlushReport::default();
        for chunk in to_send.chunks(self.max_bulk) {
            let receipts: Vec<SignedReceipt> = chunk.iter().map(|(_, r)| r.clone()).collect();
            let outcomes = self.client.submit(&receipts).await?;
            let (mut acked, mut refused) = (Vec::new(), Vec::new());
            for ((usage, receipt), outcome) in chunk.iter().zip(outcomes) {
                let key = receipt.receipt().usage_key();
                match outcome {
                    Outcome::Accepted { .. } => {
                        report.accepted += 1;
                        acked.push((key, receipt.cumulative_samples));
                    }
                    Outcome::Duplicate { .. } => {
                        report.duplicates += 1;
                        acked.push((key, receipt.cumulative_samples));
                    }
                    Outcome::Rejected { code, message } => {
                        tracing::warn!(%code, %message, license = %usage.license_id, "relayer refused a receipt");
                        let refusal = Refusal {
                            cumulative: receipt.cumulative_samples,
                            code,
                            message,
                        };
                        refused.push((key, refusal.clone()));
                        report.refused.push((*usage, refusal));
                    }
                }
            }
            self.journal.store_outcomes(&acked, &refused).await?;
            report.sent += chunk.len();
        }
        Ok(report)
    }

    /// Flushes every `every` until `shutdown` resolves, then flushes once more. Failed flushes
    /// are logged and retried at the next tick: nothing is lost while the relayer is down.
    pub fn spawn_flusher(
        self: Arc<Self>,
        every: Duration,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        // Each flush commits first: no commit ticks of their own.
        self.spawn_background(None, Some(every), shutdown)
    }

    /// Commits what [`Meter::count`] counted every `commit_every` and flushes every
    /// `flush_every` (`None`: never on its own) until `shutdown` resolves, then flushes once
    /// more. Failures are logged and retried at the next tick.
    pub fn spawn_background(
        self: Arc<Self>,
        commit_every: Option<Duration>,
        flush_every: Option<Duration>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut commits = commit_every.map(ticker);
            let mut flushes = flush_every.map(ticker);
            tokio::pin!(shutdown);
            loop {
                tokio::select! {
                    () = tick(&mut commits) => {
                        if let Err(e) = self.commit().await {
                            tracing::warn!(error = %e, "commit failed; the counts stay in memory for the next tick");
                        }
                    }
                    () = tick(&mut flushes) => {
                        if let Err(e) = self.flush().await {
                            tracing::warn!(error = %e, "flush failed; retrying at the next tick");
                        }
                    }
                    () = &mut shutdown => break,
                }
            }
            if let Err(e) = self.flush().await {
                tracing::warn!(error = %e, "final flush failed; the journal keeps the committed usage for the next start");
            }
        })
    }
}

/// An interval that waits out a late tick rather than bursting.
fn ticker(every: Duration) -> tokio::time::Interval {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval
}

/// The next tick of `interval`; never, without one.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}
