//! Following the chain through reorganisations, in the execute/unwind shape of reth's stages:
//! [`Follower::poll`] reads the next range of blocks and tells the caller what to do —
//! *execute* a [`Range`] (store its logs and window blocks, move the checkpoint), or *unwind*
//! ([`Next::Reorg`]) to the common ancestor that [`Follower::common_ancestor`] finds in the
//! window of recent block hashes the caller keeps, then follow the new branch.
//!
//! Reorganisations are caught two ways: before each range the checkpoint block's hash is
//! compared with the chain's block of that number (this also catches a reorganisation that
//! happened while the follower was down), and the first block of a range must have the
//! checkpoint as its parent. Within a range, every log's block hash must agree with the
//! headers read, or the chain moved meanwhile and the range is read again ([`Next::Retry`]).
//!
//! The caller keeps the window: the blocks of [`Range::blocks`] (the range's first and last
//! block, and every block with a log) for as long as they are within `window` blocks of the
//! checkpoint ([`window_floor`]). A reorganisation deeper than that finds no canonical block in
//! the window: [`FollowError::DeepReorg`].

use std::collections::{BTreeMap, HashMap};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    transports::TransportError,
};

use crate::range::{AdaptiveRange, Fetched, RangeConfig};

/// A block of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// Number.
    pub number: u64,
    /// Hash.
    pub hash: B256,
    /// Parent hash, when known.
    pub parent_hash: Option<B256>,
    /// Timestamp.
    pub timestamp: u64,
}

/// The last block followed completely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
}

impl From<BlockRef> for Checkpoint {
    fn from(b: BlockRef) -> Self {
        Self {
            number: b.number,
            hash: b.hash,
        }
    }
}

/// The chain's head when a poll started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its number.
    pub number: u64,
    /// Its timestamp: "now" on the chain.
    pub timestamp: u64,
}

/// A range of blocks read from one chain: execute it.
#[derive(Debug, Clone)]
pub struct Range {
    /// First block.
    pub from: u64,
    /// Last block (the new checkpoint).
    pub to: u64,
    /// The logs of the followed contracts, in chain order.
    pub logs: Vec<Log>,
    /// The window blocks of the range: first, last, and every block with a log.
    pub blocks: Vec<BlockRef>,
    /// The last block.
    pub last: BlockRef,
}

impl Range {
    /// The checkpoint after this range.
    pub const fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            number: self.last.number,
            hash: self.last.hash,
        }
    }

    /// The timestamp of block `number`, if it is one of the range's window blocks (every block
    /// with a log is).
    pub fn time_of(&self, number: u64) -> Option<u64> {
        self.blocks
            .iter()
            .find(|b| b.number == number)
            .map(|b| b.timestamp)
    }
}

/// What the caller should do after a [`Follower::poll`].
#[derive(Debug, Clone)]
pub enum Next {
    /// Execute this range.
    Range(Range),
    /// The node refused the range; it was halved to this many blocks. Poll again.
    Shrunk {
        /// The new range.
        range: u64,
    },
    /// The checkpoint is no longer on the chain: unwind to [`Follower::common_ancestor`].
    Reorg,
    /// The chain moved while the range was read; nothing to execute. Poll again.
    Retry,
    /// The checkpoint is the target (head − lag): nothing to do.
    Idle,
}

/// A [`Follower::poll`]: the head seen, and what to do.
#[derive(Debug, Clone)]
pub struct Polled {
    /// The head when the poll started.
    pub head: Head,
    /// What to do.
    pub next: Next,
}

/// A failure to follow.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// An RPC call failed.
    #[error("rpc {call}: {source}")]
    Rpc {
        /// The call.
        call: &'static str,
        /// The failure (see [`crate::rpc::classify`]).
        #[source]
        source: TransportError,
    },
    /// The node does not have a block it should have.
    #[error("rpc eth_getBlockByNumber: block {0} not found")]
    MissingBlock(u64),
    /// The node has no latest block.
    #[error("rpc eth_getBlockByNumber: no latest block")]
    NoHead,
    /// The chain reorganised deeper than the window of block hashes.
    #[error("reorganisation deeper than the block window: no stored block from {oldest} to {newest} is still canonical")]
    DeepReorg {
        /// Oldest window block number.
        oldest: u64,
        /// Newest window block number.
        newest: u64,
    },
}

fn rpc(call: &'static str) -> impl FnOnce(TransportError) -> FollowError {
    move |source| FollowError::Rpc { call, source }
}

/// The oldest block a window of `window` blocks keeps once the checkpoint is `to`: blocks below
/// it can be dropped, and a reorganisation is followed as long as it keeps some window block.
pub const fn window_floor(to: u64, window: u64) -> u64 {
    to.saturating_sub(window)
}

/// Reads ranges of logs from a node, `lag` blocks behind its head.
#[derive(Debug, Clone)]
pub struct Follower {
    provider: DynProvider,
    range: AdaptiveRange,
    lag: u64,
}

impl Follower {
    /// A follower reading through `provider` with adaptive ranges, staying `lag` blocks behind
    /// the head (0: follow the head).
    pub fn new(provider: DynProvider, ranges: RangeConfig, lag: u64) -> Self {
        Self {
            provider,
            range: AdaptiveRange::new(ranges),
            lag,
        }
    }

    /// The current `eth_getLogs` range.
    pub const fn range(&self) -> u64 {
        self.range.get()
    }

    /// The provider.
    pub const fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The header of block `n`, if the node has it.
    ///
    /// # Errors
    ///
    /// [`FollowError::Rpc`].
    pub async fn header(&self, n: u64) -> Result<Option<BlockRef>, FollowError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(n))
            .await
            .map_err(rpc("eth_getBlockByNumber"))?;
        Ok(block.map(|b| BlockRef {
            number: b.header.number,
            hash: b.header.hash,
            parent_hash: Some(b.header.parent_hash),
            timestamp: b.header.timestamp,
        }))
    }

    async fn require_header(&self, n: u64) -> Result<BlockRef, FollowError> {
        self.header(n).await?.ok_or(FollowError::MissingBlock(n))
    }

    /// The head.
    ///
    /// # Errors
    ///
    /// [`FollowError::Rpc`].
    pub async fn head(&self) -> Result<Head, FollowError> {
        let head = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(rpc("eth_getBlockByNumber"))?
            .ok_or(FollowError::NoHead)?;
        Ok(Head {
            number: head.header.number,
            timestamp: head.header.timestamp,
        })
    }

    /// One poll: checks that `checkpoint` (the last block followed; `None` before the first
    /// range, which then starts at `start`) is still on the chain, then reads the logs of
    /// `addresses` in the next range up to the head − lag. `discover` names, for a log of the
    /// range, a contract to follow from now on (e.g. a pool a factory created): its logs of the
    /// same range are read too and merged in chain order.
    ///
    /// # Errors
    ///
    /// [`FollowError::Rpc`] or [`FollowError::MissingBlock`] when the node fails; nothing is
    /// to be executed then.
    pub async fn poll(
        &mut self,
        checkpoint: Option<Checkpoint>,
        start: u64,
        addresses: &[Address],
        discover: impl Fn(&Log) -> Option<Address>,
    ) -> Result<Polled, FollowError> {
        let head = self.head().await?;
        let polled = |next| Ok(Polled { head, next });
        if let Some(cp) = checkpoint {
            match self.header(cp.number).await? {
                Some(b) if b.hash == cp.hash => {}
                _ => return polled(Next::Reorg),
            }
        }
        let next = checkpoint.map_or(start, |c| c.number + 1);
        let target = head.number.saturating_sub(self.lag);
        if next > target {
            return polled(Next::Idle);
        }
        let to = self.range.end(next, target);
        let first = self.require_header(next).await?;
        if let Some(cp) = checkpoint {
            if first.parent_hash != Some(cp.hash) {
                return polled(Next::Reorg);
            }
        }
        let logs = match self
            .logs_with_discovered(addresses, &discover, next, to)
            .await?
        {
            Ok(logs) => logs,
            Err(range) => return polled(Next::Shrunk { range }),
        };
        let last = if to == next {
            first
        } else {
            self.require_header(to).await?
        };
        let Some(blocks) = self.blocks_of(first, last, &logs).await? else {
            return polled(Next::Retry);
        };
        self.range.succeeded(logs.len());
        polled(Next::Range(Range {
            from: next,
            to,
            logs,
            blocks,
            last,
        }))
    }

    /// The logs of `addresses` in `from..=to`, plus those of the contracts `discover` names in
    /// them (created in this range, so not in the filter yet), in chain order; or the new range
    /// if the node refused one.
    async fn logs_with_discovered(
        &mut self,
        addresses: &[Address],
        discover: &impl Fn(&Log) -> Option<Address>,
        from: u64,
        to: u64,
    ) -> Result<Result<Vec<Log>, u64>, FollowError> {
        let filter = Filter::new().address(addresses.to_vec());
        let mut logs = match self.fetch(&filter, from, to).await? {
            Ok(logs) => logs,
            Err(range) => return Ok(Err(range)),
        };
        let mut created: Vec<Address> = logs
            .iter()
            .filter_map(discover)
            .filter(|a| !addresses.contains(a))
            .collect();
        created.sort();
        created.dedup();
        if !created.is_empty() {
            match self
                .fetch(&Filter::new().address(created), from, to)
                .await?
            {
                Ok(more) => logs.extend(more),
                Err(range) => return Ok(Err(range)),
            }
            logs.sort_by_key(|log| (log.block_number, log.log_index));
        }
        Ok(Ok(logs))
    }

    /// The blocks of a range read as `first`, `last` and `logs`: the two ends, then every block
    /// a log names (with its time from the log, or its header where the node leaves it out).
    /// `None` when they do not come from one chain: a log's block hash disagrees with the
    /// headers read or another log, a log is marked removed, or `last` changed meanwhile.
    async fn blocks_of(
        &self,
        first: BlockRef,
        last: BlockRef,
        logs: &[Log],
    ) -> Result<Option<Vec<BlockRef>>, FollowError> {
        let mut hashes: BTreeMap<u64, B256> = BTreeMap::new();
        hashes.insert(first.number, first.hash);
        hashes.insert(last.number, last.hash);
        let mut times: HashMap<u64, u64> = HashMap::new();
        for log in logs {
            let (Some(n), Some(h)) = (log.block_number, log.block_hash) else {
                return Ok(None);
            };
            if *hashes.entry(n).or_insert(h) != h || log.removed {
                return Ok(None);
            }
            if let Some(t) = log.block_timestamp {
                times.insert(n, t);
            }
        }
        if self.require_header(last.number).await?.hash != last.hash {
            return Ok(None);
        }
        let mut blocks = vec![first];
        if last.number != first.number {
            blocks.push(last);
        }
        for (&number, &hash) in &hashes {
            if number == first.number || number == last.number {
                continue;
            }
            let timestamp = match times.get(&number) {
                Some(t) => *t,
                // Nodes that do not put the block time in logs.
                None => self.require_header(number).await?.timestamp,
            };
            blocks.push(BlockRef {
                number,
                hash,
                parent_hash: None,
                timestamp,
            });
        }
        Ok(Some(blocks))
    }

    /// The logs of `filter` in `from..=to`, or the new range if the node refused it.
    async fn fetch(
        &mut self,
        filter: &Filter,
        from: u64,
        to: u64,
    ) -> Result<Result<Vec<Log>, u64>, FollowError> {
        match self
            .range
            .fetch(&self.provider, filter, from, to)
            .await
            .map_err(rpc("eth_getLogs"))?
        {
            Fetched::Logs(logs) => Ok(Ok(logs)),
            Fetched::Shrunk(range) => Ok(Err(range)),
        }
    }

    /// The newest block of `window` (newest first) that the chain still has: where to unwind
    /// to after [`Next::Reorg`].
    ///
    /// # Errors
    ///
    /// [`FollowError::DeepReorg`] if no window block is canonical any more; an RPC failure.
    pub async fn common_ancestor(&self, window: &[BlockRef]) -> Result<BlockRef, FollowError> {
        for b in window {
            if let Some(chain) = self.header(b.number).await? {
                if chain.hash == b.hash {
                    return Ok(*b);
                }
            }
        }
        Err(FollowError::DeepReorg {
            oldest: window.last().map_or(0, |b| b.number),
            newest: window.first().map_or(0, |b| b.number),
        })
    }
}
