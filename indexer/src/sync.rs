//! Following the chain: backfill with `eth_getLogs` in adaptive ranges, then the head; every
//! range's events, derived changes, window blocks and checkpoint are written in one database
//! transaction, so a restart resumes exactly where the last commit left off.
//!
//! Reorganisations: before each range the stored checkpoint block is compared with the chain's
//! block of that number (this also catches a reorganisation that happened while the indexer was
//! down), and the first block of a range must have the checkpoint as parent. On a mismatch the
//! indexer walks back through the window of stored blocks to the newest one the chain still
//! has (the common ancestor), deletes raw events above it, recomputes the derived tables from
//! the remaining raw events, forgets the audits of batches that are gone, moves the checkpoint
//! there, and carries on forward.

use std::time::Duration;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::Address,
    providers::{DynProvider, Provider},
    rpc::types::Log,
};
use fairtrain_chain::{follow::window_floor, Follower, Next, Range, RangeConfig};
use fairtrain_protocol::bindings::pool_factory::RevenuePoolFactory::RevenuePoolFactoryEvents;
use indicatif::{ProgressBar, ProgressStyle};
use tracing::{debug, info, warn};

use crate::{
    decode::{Event, Record},
    derive::{self, State},
    raw::{self, Checkpoint},
    Db, Deployment, Error, Result,
};

/// How the indexer reads the chain.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// First `eth_getLogs` range, in blocks.
    pub initial_range: u64,
    /// Largest range.
    pub max_range: u64,
    /// Ranges grow back (doubling) while a range returns fewer logs than this.
    pub target_logs: usize,
    /// Blocks whose hashes are kept for detecting reorganisations.
    pub window: u64,
    /// Finalized = head − confirmations; `None` asks the RPC for its `finalized` block.
    pub confirmations: Option<u64>,
    /// Pause between polls at the head.
    pub poll_interval: Duration,
    /// Show a progress bar on the terminal.
    pub progress: bool,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            initial_range: 1_000,
            max_range: 50_000,
            target_logs: 20_000,
            window: 256,
            confirmations: None,
            poll_interval: Duration::from_millis(500),
            progress: false,
        }
    }
}

/// What one [`Indexer::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Stored the events of blocks `from..=to`.
    Indexed {
        /// First block.
        from: u64,
        /// Last block (the new checkpoint).
        to: u64,
        /// Events stored.
        events: usize,
    },
    /// The provider refused the range; it was halved.
    Shrunk {
        /// The new range.
        range: u64,
    },
    /// Rolled back to the common ancestor after a reorganisation.
    Reorg {
        /// The common ancestor (new checkpoint).
        ancestor: u64,
        /// Raw events deleted.
        removed: u64,
    },
    /// The chain moved while reading a range; nothing was written, the range will be read again.
    Retry,
    /// Nothing to do: the checkpoint is the head.
    Idle,
}

/// The pool a log of the deployment's factory created, if it is a `PoolCreated`.
fn created_pool(deployment: &Deployment, log: &Log) -> Option<Address> {
    if Some(log.address()) != deployment.revenue_pool_factory {
        return None;
    }
    match Event::decode(deployment, log.address(), log.topics(), &log.data().data) {
        Event::PoolFactory(RevenuePoolFactoryEvents::PoolCreated(ev)) => Some(ev.pool),
        _ => None,
    }
}

/// Follows one deployment into one database.
#[derive(Debug)]
pub struct Indexer {
    follower: Follower,
    db: Db,
    deployment: Deployment,
    config: SyncConfig,
    progress: ProgressBar,
}

impl Indexer {
    /// An indexer of `deployment` into `db` reading through `provider`.
    pub async fn new(
        provider: DynProvider,
        db: Db,
        deployment: Deployment,
        config: SyncConfig,
    ) -> Result<Self> {
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| Error::rpc("eth_chainId", e))?;
        if chain_id != deployment.chain_id {
            return Err(Error::invalid(
                "rpc",
                format!(
                    "chain id {chain_id}, but the deployment is on {}",
                    deployment.chain_id
                ),
            ));
        }
        db.bind_deployment(&deployment).await?;
        if let Some(why) = db.meta(crate::db::DERIVED_STALE).await? {
            info!(reason = %why, "a migration added derived state: rebuilding it from the raw events");
            let stats = derive::rebuild(&db, &deployment).await?;
            info!(events = stats.events, "derived state rebuilt");
        }
        match raw::checkpoint(&db).await? {
            Some(cp) => info!(
                checkpoint = cp.number,
                "resuming after the stored checkpoint"
            ),
            None => info!(
                from = deployment.start_block,
                "nothing indexed yet: starting at the deployment block"
            ),
        }
        let progress = if config.progress {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] block {pos}/{len} {msg}",
                )
                .expect("valid template"),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let ranges = RangeConfig {
            initial: config.initial_range,
            max: config.max_range,
            target_logs: config.target_logs,
        };
        Ok(Self {
            follower: Follower::new(provider, ranges, 0),
            db,
            deployment,
            config,
            progress,
        })
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The current `eth_getLogs` range.
    pub fn range(&self) -> u64 {
        self.follower.range()
    }

    /// Indexes until the checkpoint reaches the head (one pass; reorganisations included).
    pub async fn sync_to_head(&mut self) -> Result<u64> {
        let mut events = 0u64;
        loop {
            match self.step().await? {
                Step::Idle => break,
                Step::Indexed { events: n, .. } => events += n as u64,
                _ => {}
            }
        }
        self.progress.finish_and_clear();
        Ok(events)
    }

    /// Indexes to the head, then follows it until `stop` resolves. RPC and database errors while
    /// following are logged and retried, waiting longer after each failure in a row
    /// ([`fairtrain_chain::Backoff`]).
    pub async fn follow(&mut self, stop: impl std::future::Future<Output = ()>) -> Result<()> {
        tokio::pin!(stop);
        let mut backoff = fairtrain_chain::Backoff::new(self.config.poll_interval);
        loop {
            let outcome = tokio::select! {
                _ = &mut stop => return Ok(()),
                s = self.step() => s,
            };
            if outcome.is_ok() {
                backoff.succeeded();
            }
            match outcome {
                Ok(Step::Idle) => {
                    self.progress.finish_and_clear();
                    tokio::select! {
                        _ = &mut stop => return Ok(()),
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                    }
                }
                Ok(Step::Reorg { ancestor, removed }) => {
                    warn!(
                        ancestor,
                        removed, "reorganisation: rolled back to the common ancestor"
                    )
                }
                Ok(_) => {}
                Err(e @ (Error::Rpc { .. } | Error::Db(_))) => {
                    let wait = backoff.failed();
                    warn!(error = %e, retry_in = ?wait, "indexing step failed; retrying");
                    tokio::select! {
                        _ = &mut stop => return Ok(()),
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One step: check for a reorganisation, then index one range (or report idle). The
    /// chain is read by the shared follower (`fairtrain_chain::Follower`): checkpoint and
    /// parent-hash checks, adaptive ranges, pools discovered in the range, consistency of logs
    /// and headers.
    pub async fn step(&mut self) -> Result<Step> {
        let checkpoint = raw::checkpoint(&self.db).await?;
        let mut followed = self.deployment.addresses();
        followed.extend(raw::pools(&self.db, &self.deployment).await?);
        let deployment = &self.deployment;
        let polled = self
            .follower
            .poll(checkpoint, deployment.start_block, &followed, |log| {
                created_pool(deployment, log)
            })
            .await?;
        let head = polled.head.number;
        if !matches!(polled.next, Next::Reorg) {
            self.record_heads(head, checkpoint.map(|c| c.number))
                .await?;
        }
        let range = match polled.next {
            Next::Reorg => return self.rollback().await,
            Next::Idle => return Ok(Step::Idle),
            Next::Shrunk { range } => return Ok(Step::Shrunk { range }),
            Next::Retry => return Ok(Step::Retry),
            Next::Range(range) => range,
        };
        self.progress
            .set_length(head.saturating_sub(self.deployment.start_block));
        self.progress
            .set_position(range.from.saturating_sub(self.deployment.start_block));

        let records = self.records(&range);
        let mut tx = self.db.pool.begin().await?;
        raw::insert_events(&mut tx, self.deployment.chain_id, &records).await?;
        let mut state = State::default();
        state.apply_all(&mut tx, &records).await?;
        state.flush(&mut tx).await?;
        raw::insert_blocks(&mut tx, &range.blocks).await?;
        raw::prune_blocks(&mut tx, window_floor(range.to, self.config.window)).await?;
        raw::set_checkpoint(&mut tx, range.checkpoint()).await?;
        tx.commit().await?;

        debug!(
            from = range.from,
            to = range.to,
            events = records.len(),
            "indexed blocks"
        );
        self.progress
            .set_position(range.to.saturating_sub(self.deployment.start_block));
        self.progress
            .set_message(format!("{} events", records.len()));
        Ok(Step::Indexed {
            from: range.from,
            to: range.to,
            events: records.len(),
        })
    }

    /// Records the head and the finalized block in `meta` (the API reports both).
    async fn record_heads(&self, head: u64, checkpoint: Option<u64>) -> Result<()> {
        let finalized = match self.config.confirmations {
            Some(c) => head.saturating_sub(c),
            None => match self
                .follower
                .provider()
                .get_block_by_number(BlockNumberOrTag::Finalized)
                .await
            {
                Ok(Some(b)) => b.header.number,
                _ => head.saturating_sub(64),
            },
        };
        let indexed = checkpoint.unwrap_or(0);
        self.db.set_meta("head_block", &head.to_string()).await?;
        self.db
            .set_meta("finalized_block", &finalized.min(indexed).to_string())
            .await?;
        Ok(())
    }

    /// Decodes a range's logs into records, with their block times.
    fn records(&self, range: &Range) -> Vec<Record> {
        range
            .logs
            .iter()
            .map(|log| {
                let n = log.block_number.unwrap_or_default();
                let event = Event::decode(
                    &self.deployment,
                    log.address(),
                    log.topics(),
                    &log.data().data,
                );
                if matches!(event, Event::Unknown) {
                    warn!(tx = %log.transaction_hash.unwrap_or_default(), "log matches no known event; stored raw");
                }
                Record {
                    block_number: n,
                    block_hash: log.block_hash.unwrap_or_default(),
                    // Every block with a log is a window block of its range.
                    block_time: range.time_of(n).unwrap_or_default(),
                    tx_hash: log.transaction_hash.unwrap_or_default(),
                    log_index: log.log_index.unwrap_or_default(),
                    address: log.address(),
                    topics: log.topics().to_vec(),
                    data: log.data().data.clone(),
                    event,
                }
            })
            .collect()
    }

    /// Rolls back to the newest window block that the chain still has.
    async fn rollback(&mut self) -> Result<Step> {
        let window = raw::window(&self.db).await?;
        let ancestor = self.follower.common_ancestor(&window).await?;
        let mut tx = self.db.pool.begin().await?;
        let removed = raw::delete_above(&mut tx, ancestor.number).await?;
        derive::clear(&mut tx).await?;
        derive::replay(&mut tx, &self.deployment).await?;
        crate::audit::forget_dropped(&mut tx).await?;
        raw::set_checkpoint(
            &mut tx,
            Checkpoint {
                number: ancestor.number,
                hash: ancestor.hash,
            },
        )
        .await?;
        tx.commit().await?;
        info!(
            ancestor = ancestor.number,
            removed, "rolled back after a reorganisation"
        );
        Ok(Step::Reorg {
            ancestor: ancestor.number,
            removed,
        })
    }
}
