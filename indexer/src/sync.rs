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

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
};
use fairtrain_protocol::bindings::pool_factory::RevenuePoolFactory::RevenuePoolFactoryEvents;
use indicatif::{ProgressBar, ProgressStyle};
use tracing::{debug, info, warn};

use crate::{
    decode::{Event, Record},
    derive::{self, State},
    raw::{self, BlockRef, Checkpoint},
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

/// Follows one deployment into one database.
#[derive(Debug)]
pub struct Indexer {
    provider: DynProvider,
    db: Db,
    deployment: Deployment,
    config: SyncConfig,
    range: u64,
    progress: ProgressBar,
}

async fn header(provider: &DynProvider, n: u64) -> Result<Option<BlockRef>> {
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(n))
        .await
        .map_err(|e| Error::rpc("eth_getBlockByNumber", e))?;
    Ok(block.map(|b| BlockRef {
        number: b.header.number,
        hash: b.header.hash,
        parent_hash: Some(b.header.parent_hash),
        timestamp: b.header.timestamp,
    }))
}

async fn require_header(provider: &DynProvider, n: u64) -> Result<BlockRef> {
    header(provider, n)
        .await?
        .ok_or_else(|| Error::rpc("eth_getBlockByNumber", format!("block {n} not found")))
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
        let range = config.initial_range.max(1);
        Ok(Self {
            provider,
            db,
            deployment,
            config,
            range,
            progress,
        })
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The current `eth_getLogs` range.
    pub fn range(&self) -> u64 {
        self.range
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

    /// Indexes to the head, then follows it until `stop` resolves. RPC errors while following
    /// are logged and retried.
    pub async fn follow(&mut self, stop: impl std::future::Future<Output = ()>) -> Result<()> {
        tokio::pin!(stop);
        loop {
            let outcome = tokio::select! {
                _ = &mut stop => return Ok(()),
                s = self.step() => s,
            };
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
                    warn!(error = %e, "indexing step failed; retrying");
                    tokio::select! {
                        _ = &mut stop => return Ok(()),
                        _ = tokio::time::sleep(self.config.poll_interval * 4) => {}
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One step: check for a reorganisation, then index one range (or report idle).
    pub async fn step(&mut self) -> Result<Step> {
        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(|e| Error::rpc("eth_blockNumber", e))?;
        let checkpoint = raw::checkpoint(&self.db).await?;
        if let Some(cp) = checkpoint {
            match header(&self.provider, cp.number).await? {
                Some(b) if b.hash == cp.hash => {}
                _ => return self.rollback().await,
            }
        }
        let next = checkpoint.map_or(self.deployment.start_block, |c| c.number + 1);
        self.record_heads(head, checkpoint.map(|c| c.number))
            .await?;
        if next > head {
            return Ok(Step::Idle);
        }
        let to = head.min(next + self.range - 1);
        self.progress
            .set_length(head.saturating_sub(self.deployment.start_block));
        self.progress
            .set_position(next.saturating_sub(self.deployment.start_block));

        let first = require_header(&self.provider, next).await?;
        if let Some(cp) = checkpoint {
            if first.parent_hash != Some(cp.hash) {
                return self.rollback().await;
            }
        }
        let mut followed = self.deployment.addresses();
        followed.extend(raw::pools(&self.db, &self.deployment).await?);
        let mut logs = match self.logs(followed.clone(), next, to).await? {
            Ok(logs) => logs,
            Err(step) => return Ok(step),
        };
        // Pools created in this range are not in the filter yet: fetch their logs of the range.
        let created: Vec<Address> = logs
            .iter()
            .filter(|log| Some(log.address()) == self.deployment.revenue_pool_factory)
            .filter_map(|log| {
                match Event::decode(
                    &self.deployment,
                    log.address(),
                    log.topics(),
                    &log.data().data,
                ) {
                    Event::PoolFactory(RevenuePoolFactoryEvents::PoolCreated(ev)) => Some(ev.pool),
                    _ => None,
                }
            })
            .filter(|pool| !followed.contains(pool))
            .collect();
        if !created.is_empty() {
            match self.logs(created, next, to).await? {
                Ok(more) => logs.extend(more),
                Err(step) => return Ok(step),
            }
            logs.sort_by_key(|log| (log.block_number, log.log_index));
        }
        let last = if to == next {
            first
        } else {
            require_header(&self.provider, to).await?
        };
        // Logs and headers must come from one chain: every log's block hash must agree with the
        // headers read (the range's ends) and with each other, or the chain moved meanwhile.
        let mut hashes: BTreeMap<u64, B256> = BTreeMap::new();
        hashes.insert(first.number, first.hash);
        hashes.insert(last.number, last.hash);
        for log in &logs {
            let (Some(n), Some(h)) = (log.block_number, log.block_hash) else {
                return Ok(Step::Retry);
            };
            if *hashes.entry(n).or_insert(h) != h || log.removed {
                return Ok(Step::Retry);
            }
        }
        if require_header(&self.provider, to).await?.hash != last.hash {
            return Ok(Step::Retry);
        }

        let records = self.records(&logs).await?;
        let mut blocks: Vec<BlockRef> = vec![first];
        if last.number != first.number {
            blocks.push(last);
        }
        let times: HashMap<u64, u64> = records
            .iter()
            .map(|r| (r.block_number, r.block_time))
            .collect();
        for (n, h) in &hashes {
            if *n != first.number && *n != last.number {
                blocks.push(BlockRef {
                    number: *n,
                    hash: *h,
                    parent_hash: None,
                    timestamp: times[n],
                });
            }
        }

        let mut tx = self.db.pool.begin().await?;
        raw::insert_events(&mut tx, self.deployment.chain_id, &records).await?;
        let mut state = State::default();
        for r in &records {
            state.apply(&mut tx, r).await?;
        }
        state.flush(&mut tx).await?;
        raw::insert_blocks(&mut tx, &blocks).await?;
        raw::prune_blocks(&mut tx, to.saturating_sub(self.config.window)).await?;
        raw::set_checkpoint(
            &mut tx,
            Checkpoint {
                number: to,
                hash: last.hash,
            },
        )
        .await?;
        tx.commit().await?;

        debug!(from = next, to, events = records.len(), "indexed blocks");
        if logs.len() < self.config.target_logs {
            self.range = (self.range * 2).min(self.config.max_range);
        }
        self.progress
            .set_position(to.saturating_sub(self.deployment.start_block));
        self.progress
            .set_message(format!("{} events", records.len()));
        Ok(Step::Indexed {
            from: next,
            to,
            events: records.len(),
        })
    }

    /// Records the head and the finalized block in `meta` (the API reports both).
    async fn record_heads(&self, head: u64, checkpoint: Option<u64>) -> Result<()> {
        let finalized = match self.config.confirmations {
            Some(c) => head.saturating_sub(c),
            None => match self
                .provider
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

    /// The logs of `addresses` in blocks `from..=to`; a refused query halves the range and
    /// returns the step to report instead.
    async fn logs(
        &mut self,
        addresses: Vec<Address>,
        from: u64,
        to: u64,
    ) -> Result<std::result::Result<Vec<Log>, Step>> {
        let filter = Filter::new()
            .address(addresses)
            .from_block(from)
            .to_block(to);
        match self.provider.get_logs(&filter).await {
            Ok(logs) => Ok(Ok(logs)),
            Err(e) if self.range > 1 => {
                self.range = (self.range / 2).max(1);
                warn!(error = %e, range = self.range, "eth_getLogs refused; range halved");
                Ok(Err(Step::Shrunk { range: self.range }))
            }
            Err(e) => Err(Error::rpc("eth_getLogs", e)),
        }
    }

    /// Decodes logs into records, with their block times.
    async fn records(&self, logs: &[Log]) -> Result<Vec<Record>> {
        let mut times: HashMap<u64, u64> = HashMap::new();
        for log in logs {
            if let (Some(n), Some(t)) = (log.block_number, log.block_timestamp) {
                times.insert(n, t);
            }
        }
        let mut records = Vec::with_capacity(logs.len());
        for log in logs {
            let n = log.block_number.unwrap_or_default();
            let block_time = match times.get(&n) {
                Some(t) => *t,
                None => {
                    let t = require_header(&self.provider, n).await?.timestamp;
                    times.insert(n, t);
                    t
                }
            };
            let event = Event::decode(
                &self.deployment,
                log.address(),
                log.topics(),
                &log.data().data,
            );
            if matches!(event, Event::Unknown) {
                warn!(tx = %log.transaction_hash.unwrap_or_default(), "log matches no known event; stored raw");
            }
            records.push(Record {
                block_number: n,
                block_hash: log.block_hash.unwrap_or_default(),
                block_time,
                tx_hash: log.transaction_hash.unwrap_or_default(),
                log_index: log.log_index.unwrap_or_default(),
                address: log.address(),
                topics: log.topics().to_vec(),
                data: log.data().data.clone(),
                event,
            });
        }
        Ok(records)
    }

    /// Rolls back to the newest window block that the chain still has.
    async fn rollback(&mut self) -> Result<Step> {
        let window = raw::window(&self.db).await?;
        let mut ancestor = None;
        for b in &window {
            if let Some(chain) = header(&self.provider, b.number).await? {
                if chain.hash == b.hash {
                    ancestor = Some(*b);
                    break;
                }
            }
        }
        let Some(ancestor) = ancestor else {
            return Err(Error::DeepReorg {
                oldest: window.last().map_or(0, |b| b.number),
                newest: window.first().map_or(0, |b| b.number),
            });
        };
        let mut tx = self.db.pool.begin().await?;
        let removed = raw::delete_above(&mut tx, ancestor.number).await?;
        derive::clear(&mut tx).await?;
        derive::replay(&mut tx, &self.deployment).await?;
        crate::auditor::forget_dropped(&mut tx).await?;
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
