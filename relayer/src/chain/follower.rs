//! The chain follower: polls the escrow's and the license NFT's logs from its checkpoint to
//! `head - confirmations`, folds them into the shared [`ChainState`] and saves a checkpoint, so
//! that verification never asks the node anything per request.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, RwLock,
    },
    time::Duration,
};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::Address,
    providers::{DynProvider, Provider},
    rpc::types::Filter,
};
use tracing::{debug, info, warn};

use super::state::ChainState;
use crate::store::Store;

/// The state shared between the follower (writer) and the pipeline (readers).
pub type SharedState = Arc<RwLock<ChainState>>;

/// Most blocks fetched in one `eth_getLogs`.
const MAX_RANGE: u64 = 2_000;

/// Follows events into a [`SharedState`].
#[derive(Clone)]
pub struct Follower {
    provider: DynProvider,
    store: Store,
    state: SharedState,
    escrow: Address,
    license_nft: Address,
    start_block: u64,
    confirmations: u64,
    poll: Duration,
    caught_up: Arc<AtomicBool>,
}

/// A failure of one follow step (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The node failed.
    #[error("rpc: {0}")]
    Rpc(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl Follower {
    /// A follower of `escrow` and `license_nft` from `start_block`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        provider: DynProvider,
        store: Store,
        state: SharedState,
        escrow: Address,
        license_nft: Address,
        start_block: u64,
        confirmations: u64,
        poll: Duration,
    ) -> Self {
        Self {
            provider,
            store,
            state,
            escrow,
            license_nft,
            start_block,
            confirmations,
            poll,
            caught_up: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Loads the checkpoint into the shared state, if there is one.
    ///
    /// # Errors
    ///
    /// [`FollowError::Store`] if the store fails or the checkpoint is unreadable.
    pub async fn restore(&self) -> Result<(), FollowError> {
        if let Some((block, json)) = self.store.checkpoint().await? {
            let state = ChainState::from_json(&json).map_err(|e| {
                crate::store::StoreError::Corrupt(format!("checkpoint at block {block}: {e}"))
            })?;
            info!(block, "chain state restored from checkpoint");
            *self.state.write().expect("state lock") = state;
        } else {
            self.state.write().expect("state lock").next_block = self.start_block;
        }
        Ok(())
    }

    /// Whether the follower has reached the head at least once since start.
    pub fn is_caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Relaxed)
    }

    /// A flag shared with readiness checks.
    pub fn caught_up_flag(&self) -> Arc<AtomicBool> {
        self.caught_up.clone()
    }

    /// Runs forever: one step, then sleeps when caught up; backs off on errors.
    pub async fn run(self) {
        let mut backoff = self.poll;
        loop {
            match self.step().await {
                Ok(true) => backoff = self.poll,
                Ok(false) => {
                    self.caught_up.store(true, Ordering::Relaxed);
                    backoff = self.poll;
                    tokio::time::sleep(self.poll).await;
                }
                Err(e) => {
                    warn!(error = %e, retry_in = ?backoff, "chain follower step failed");
                    metrics::counter!("relayer_follower_errors_total").increment(1);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min((self.poll * 64).min(Duration::from_secs(30)));
                }
            }
        }
    }

    /// Follows up to [`MAX_RANGE`] new blocks. Returns whether there may be more to follow.
    ///
    /// # Errors
    ///
    /// [`FollowError`] when the node or the store fails; the state is unchanged then.
    pub async fn step(&self) -> Result<bool, FollowError> {
        let rpc = |e: alloy::transports::TransportError| FollowError::Rpc(e.to_string());
        let head = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(rpc)?
            .ok_or_else(|| FollowError::Rpc("no latest block".into()))?;
        let head_number = head.header.number;
        let head_time = head.header.timestamp;
        let target = head_number.saturating_sub(self.confirmations);
        let from = {
            let mut state = self.state.write().expect("state lock");
            state.timestamp = state.timestamp.max(head_time);
            state.next_block
        };
        metrics::gauge!("relayer_chain_head").set(head_number as f64);
        if from > target {
            return Ok(false);
        }
        let to = target.min(from + MAX_RANGE - 1);
        let filter = Filter::new()
            .address(vec![self.escrow, self.license_nft])
            .from_block(from)
            .to_block(to);
        let logs = self.provider.get_logs(&filter).await.map_err(rpc)?;
        let mut next = self.state.read().expect("state lock").clone();
        for log in &logs {
            next.block = log.block_number.unwrap_or(next.block);
            next.apply(self.escrow, self.license_nft, &log.inner);
        }
        next.block = to;
        next.next_block = to + 1;
        next.timestamp = next.timestamp.max(head_time);
        self.store
            .save_checkpoint(to as i64, &next.to_json())
            .await?;
        debug!(from, to, logs = logs.len(), "followed");
        metrics::gauge!("relayer_chain_followed_block").set(to as f64);
        *self.state.write().expect("state lock") = next;
        Ok(to < target)
    }
}
