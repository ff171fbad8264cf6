//! Adaptive `eth_getLogs` ranges. Hosted nodes refuse log queries over more than some number of
//! blocks (or returning more than some number of logs), each with its own limit and error. A
//! refused range is halved until the node accepts it (down to one block: a single block that is
//! refused is an error); after a range that returned fewer logs than a target the range doubles
//! back, up to a maximum. A failure that is not a refusal (the node is down, a timeout) is
//! returned as is: shrinking would not help.

use alloy::{
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
    transports::TransportError,
};
use tracing::warn;

use crate::rpc::{classify, RpcErrorKind};

/// How ranges start, grow and stop growing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeConfig {
    /// First range, in blocks.
    pub initial: u64,
    /// Largest range.
    pub max: u64,
    /// Ranges grow back (doubling) while a range returns fewer logs than this.
    pub target_logs: usize,
}

impl Default for RangeConfig {
    fn default() -> Self {
        Self {
            initial: 1_000,
            max: 50_000,
            target_logs: 20_000,
        }
    }
}

/// The current range, adapted to what the node accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveRange {
    range: u64,
    config: RangeConfig,
}

impl AdaptiveRange {
    /// Starts at `config.initial` (at least one block, at most `config.max`).
    pub fn new(config: RangeConfig) -> Self {
        let max = config.max.max(1);
        Self {
            range: config.initial.clamp(1, max),
            config: RangeConfig { max, ..config },
        }
    }

    /// The current range, in blocks.
    pub const fn get(&self) -> u64 {
        self.range
    }

    /// The last block of the next range from `from`, not beyond `last`.
    pub fn end(&self, from: u64, last: u64) -> u64 {
        last.min(from.saturating_add(self.range - 1))
    }

    /// A range was refused: halves it. Returns `false` if it was one block already.
    pub fn refused(&mut self) -> bool {
        if self.range == 1 {
            return false;
        }
        self.range = (self.range / 2).max(1);
        true
    }

    /// A range returned `logs` logs: doubles the range if that is below the target.
    pub fn succeeded(&mut self, logs: usize) {
        if logs < self.config.target_logs {
            self.range = self.range.saturating_mul(2).min(self.config.max);
        }
    }

    /// The logs of `filter` in blocks `from..=to` (a range `end` gave), or
    /// [`Fetched::Shrunk`] if the node refused the range and it was halved (nothing to do but
    /// ask again).
    ///
    /// # Errors
    ///
    /// The node's error when it fails in a way a smaller range does not help, or refuses a
    /// single block.
    pub async fn fetch(
        &mut self,
        provider: &DynProvider,
        filter: &Filter,
        from: u64,
        to: u64,
    ) -> Result<Fetched, TransportError> {
        let filter = filter.clone().from_block(from).to_block(to);
        match provider.get_logs(&filter).await {
            Ok(logs) => Ok(Fetched::Logs(logs)),
            Err(e) if classify(&e) == RpcErrorKind::Rejected && self.refused() => {
                warn!(error = %e, range = self.range, "eth_getLogs refused; range halved");
                Ok(Fetched::Shrunk(self.range))
            }
            Err(e) => Err(e),
        }
    }

    /// Every log of `filter` in blocks `from..=to`, in as many queries as the node needs, in
    /// chain order. The range learnt is kept for the next call.
    ///
    /// # Errors
    ///
    /// As [`Self::fetch`].
    pub async fn fetch_all(
        &mut self,
        provider: &DynProvider,
        filter: &Filter,
        from: u64,
        to: u64,
    ) -> Result<Vec<Log>, TransportError> {
        let mut logs = Vec::new();
        let mut next = from;
        while next <= to {
            let end = self.end(next, to);
            match self.fetch(provider, filter, next, end).await? {
                Fetched::Logs(more) => {
                    self.succeeded(more.len());
                    logs.extend(more);
                    next = end + 1;
                }
                Fetched::Shrunk(_) => {}
            }
        }
        Ok(logs)
    }
}

/// What one [`AdaptiveRange::fetch`] got.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// The range's logs.
    Logs(Vec<Log>),
    /// The node refused the range; it was halved to this many blocks.
    Shrunk(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_to_one_block_and_grows_back_to_the_max() {
        let mut r = AdaptiveRange::new(RangeConfig {
            initial: 16,
            max: 32,
            target_logs: 10,
        });
        assert_eq!(r.end(100, 1_000), 115);
        assert_eq!(r.end(100, 105), 105);
        for expected in [8, 4, 2, 1] {
            assert!(r.refused());
            assert_eq!(r.get(), expected);
        }
        assert!(!r.refused(), "one block cannot shrink");
        r.succeeded(10);
        assert_eq!(r.get(), 1, "a range at the target does not grow");
        for expected in [2, 4, 8, 16, 32, 32] {
            r.succeeded(9);
            assert_eq!(r.get(), expected);
        }
        let r = AdaptiveRange::new(RangeConfig {
            initial: 0,
            max: 0,
            target_logs: 1,
        });
        assert_eq!(r.get(), 1);
        assert_eq!(r.end(u64::MAX - 1, u64::MAX), u64::MAX - 1);
    }
}
