//! The chain follower: reads the escrow's and the license NFT's logs up to
//! `head − (confirmations − 1)` through the shared follower (`fairtrain_chain::Follower`:
//! adaptive ranges, checkpoint and parent-hash checks), folds them into the shared
//! [`ChainState`] through the [`Journal`], and writes each step to the store's journal, so that
//! verification never asks the node anything per request.
//!
//! Reorganisations: when the followed block is no longer on the chain (also after a restart),
//! the follower finds the newest window block the chain still has, unwinds the journal to it
//! (the state is rebuilt from the window's base and the logs that remain) and follows the new
//! branch. A reorganisation deeper than `reorg_window` blocks finds no such block: the follower
//! stops there (readiness fails, `relayer_follower_deep_reorg` is 1) and keeps serving the last
//! state until the node shows a chain it knows again or an operator runs
//! `fairtrain-relayer resync`.
//!
//! On PostgreSQL several processes may share the store; one at a time (the holder of an
//! advisory lock) writes the journal, the others follow in memory from what it wrote and take
//! over, reloading it, when the writer goes away.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, RwLock,
    },
    time::Duration,
};

use alloy::{primitives::Address, providers::DynProvider};
use fairtrain_chain::{Next, RangeConfig};
use sqlx::AnyConnection;
use tracing::{debug, error, info, warn};

use super::{
    journal::{roots_removed, Journal},
    state::ChainState,
};
use crate::store::{Backend, Store, StoreError};

/// The state shared between the follower (writer) and the pipeline (readers).
pub type SharedState = Arc<RwLock<ChainState>>;

/// `eth_getLogs` ranges: up to 2,000 blocks, halved while the node refuses them.
const RANGES: RangeConfig = RangeConfig {
    initial: 2_000,
    max: 2_000,
    target_logs: 10_000,
};

/// The PostgreSQL advisory lock of the journal's writer.
const WRITER_LOCK: i64 = 727_276;

/// Who writes the store's journal.
enum Writer {
    /// This process alone (SQLite).
    Sole,
    /// This process, while it holds the lock on this connection (PostgreSQL).
    Holding(#[allow(dead_code)] AnyConnection),
    /// Another process: follow in memory only, and try to take over at each step.
    Waiting,
}

/// Follows events into a [`SharedState`].
pub struct Follower {
    chain: fairtrain_chain::Follower,
    store: Store,
    state: SharedState,
    journal: Journal,
    escrow: Address,
    license_nft: Address,
    start_block: u64,
    window: u64,
    lag: u64,
    poll: Duration,
    caught_up: Arc<AtomicBool>,
    writer: Writer,
    reload: bool,
}

/// A failure of one follow step (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The node failed, or the chain reorganised deeper than the window.
    #[error(transparent)]
    Chain(#[from] fairtrain_chain::FollowError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Follower {
    /// A follower of `escrow` and `license_nft` from `start_block`, `lag` blocks behind the
    /// head, keeping `window` blocks of hashes to follow reorganisations.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        provider: DynProvider,
        store: Store,
        state: SharedState,
        escrow: Address,
        license_nft: Address,
        start_block: u64,
        lag: u64,
        window: u64,
        poll: Duration,
    ) -> Self {
        let writer = match store.backend() {
            Backend::Sqlite => Writer::Sole,
            Backend::Postgres => Writer::Waiting,
        };
        Self {
            chain: fairtrain_chain::Follower::new(provider, RANGES, lag),
            store,
            state,
            journal: Journal::new(escrow, license_nft, window, start_block),
            escrow,
            license_nft,
            start_block,
            window,
            lag,
            poll,
            caught_up: Arc::new(AtomicBool::new(false)),
            writer,
            reload: false,
        }
    }

    /// Loads the journal from the store into the shared state (on PostgreSQL, after trying to
    /// become its writer).
    ///
    /// # Errors
    ///
    /// [`FollowError::Store`] if the store fails or the journal is unreadable.
    pub async fn restore(&mut self) -> Result<(), FollowError> {
        self.try_to_write().await?;
        self.load().await
    }

    async fn load(&mut self) -> Result<(), FollowError> {
        let stored = self.store.journal_load().await?;
        let logs = stored.logs.len();
        let (journal, mut tip) = Journal::restore(
            self.escrow,
            self.license_nft,
            self.window,
            self.start_block,
            stored,
        )?;
        info!(
            block = tip.block,
            logs, "chain state restored from the journal"
        );
        let mut state = self.state.write().expect("state lock");
        tip.timestamp = tip.timestamp.max(state.timestamp);
        *state = tip;
        self.journal = journal;
        self.reload = false;
        Ok(())
    }

    /// On PostgreSQL, takes the writer lock if it is free.
    async fn try_to_write(&mut self) -> Result<bool, FollowError> {
        if matches!(self.writer, Writer::Waiting) {
            if let Some(conn) = self.store.try_advisory_lock(WRITER_LOCK).await? {
                info!("this process writes the chain journal");
                self.writer = Writer::Holding(conn);
                return Ok(true);
            }
        }
        Ok(false)
    }

    const fn writes(&self) -> bool {
        !matches!(self.writer, Writer::Waiting)
    }

    /// Whether the follower has reached the head at least once since start (and met no
    /// reorganisation deeper than its window since).
    pub fn is_caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Relaxed)
    }

    /// A flag shared with readiness checks.
    pub fn caught_up_flag(&self) -> Arc<AtomicBool> {
        self.caught_up.clone()
    }

    /// Runs forever: one step, then sleeps when caught up; backs off on errors.
    pub async fn run(mut self) {
        let mut backoff = fairtrain_chain::Backoff::new(self.poll);
        loop {
            match self.step().await {
                Ok(true) => backoff.succeeded(),
                Ok(false) => {
                    self.caught_up.store(true, Ordering::Relaxed);
                    metrics::gauge!("relayer_follower_deep_reorg").set(0.0);
                    backoff.succeeded();
                    tokio::time::sleep(self.poll).await;
                }
                Err(e) => {
                    let wait = backoff.failed();
                    if matches!(
                        e,
                        FollowError::Chain(fairtrain_chain::FollowError::DeepReorg { .. })
                    ) {
                        error!(error = %e, "the chain no longer has any block of the window: \
                            following stopped, serving the last state; run `fairtrain-relayer \
                            resync` if the chain really reorganised this deep");
                        self.caught_up.store(false, Ordering::Relaxed);
                        metrics::gauge!("relayer_follower_deep_reorg").set(1.0);
                    } else {
                        warn!(error = %e, retry_in = ?wait, "chain follower step failed");
                    }
                    metrics::counter!("relayer_follower_errors_total").increment(1);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Follows one range of new blocks, or unwinds a reorganisation. Returns whether there
    /// may be more to follow.
    ///
    /// # Errors
    ///
    /// [`FollowError`] when the node or the store fails; the state is unchanged then.
    pub async fn step(&mut self) -> Result<bool, FollowError> {
        if self.try_to_write().await? {
            self.reload = true;
        }
        if self.reload {
            self.load().await?;
        }
        let polled = self
            .chain
            .poll(
                self.journal.cursor(),
                self.journal.next_block(),
                &[self.escrow, self.license_nft],
                |_| None,
            )
            .await?;
        let head = polled.head;
        {
            let mut state = self.state.write().expect("state lock");
            state.timestamp = state.timestamp.max(head.timestamp);
        }
        metrics::gauge!("relayer_chain_head").set(head.number as f64);
        let range = match polled.next {
            Next::Idle => return Ok(false),
            Next::Shrunk { .. } | Next::Retry => return Ok(true),
            Next::Reorg => {
                self.unwind().await?;
                return Ok(true);
            }
            Next::Range(range) => range,
        };
        let executed = match self.journal.execute(&range) {
            Ok(executed) => executed,
            Err(e) => {
                self.reload = true;
                return Err(e.into());
            }
        };
        if self.writes() {
            let write = executed.write();
            if let Err(e) = self.store.journal_execute(&write).await {
                // The journal in memory is ahead of the store: reload it before going on.
                self.reload = true;
                return Err(e.into());
            }
            metrics::counter!("relayer_follower_store_bytes_total").increment(write.bytes() as u64);
        }
        {
            let mut state = self.state.write().expect("state lock");
            self.journal.apply(&mut state, &executed);
        }
        debug!(
            from = range.from,
            to = range.to,
            logs = range.logs.len(),
            "followed"
        );
        metrics::gauge!("relayer_chain_followed_block").set(range.to as f64);
        Ok(range.to < head.number.saturating_sub(self.lag))
    }

    /// Unwinds to the newest window block the chain still has.
    async fn unwind(&mut self) -> Result<(), FollowError> {
        let ancestor = self
            .chain
            .common_ancestor(&self.journal.window_newest_first())
            .await?;
        let rebuilt = match self.journal.unwind(ancestor) {
            Ok(rebuilt) => rebuilt,
            Err(_) => {
                self.reload = true;
                return Err(fairtrain_chain::FollowError::DeepReorg {
                    oldest: ancestor.number,
                    newest: ancestor.number,
                }
                .into());
            }
        };
        if self.writes() {
            if let Err(e) = self.store.journal_unwind(ancestor.into()).await {
                self.reload = true;
                return Err(e.into());
            }
        }
        let removed = {
            let mut state = self.state.write().expect("state lock");
            let removed = roots_removed(&state, &rebuilt);
            let timestamp = state.timestamp;
            *state = rebuilt;
            state.timestamp = timestamp;
            removed
        };
        warn!(
            ancestor = ancestor.number,
            window_logs = self.journal.window_logs(),
            "reorganisation: unwound to the common ancestor"
        );
        for root in removed {
            warn!(%root, "a committed root was reorganised away");
        }
        metrics::counter!("relayer_follower_reorgs_total").increment(1);
        Ok(())
    }
}
