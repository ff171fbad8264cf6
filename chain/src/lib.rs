//! Following a Fairtrain deployment on-chain, shared by the relayer, the indexer and the
//! `fairtrain` CLI, so that each concept exists once:
//!
//! - [`backoff`]: the wait of a service loop after failed steps.
//! - [`rpc`]: RPC failures classified from their structure (JSON-RPC code, HTTP status, the
//!   transport's error kind), the retry policy built on it, and HTTP clients that retry
//!   transient failures through alloy's retry layer.
//! - [`range`]: adaptive `eth_getLogs` ranges (halved when the node refuses, grown back after
//!   successes), for one range at a time or a whole span.
//! - [`follow`]: following ranges of blocks through reorganisations — the checkpoint and
//!   parent-hash checks, a window of recent block hashes and the common ancestor to unwind to.
//! - [`views`]: view reads at one block, many at a time, batched through Multicall3 where the
//!   chain has it.
//!
//! What a follower *does* with the logs (the indexer's tables, the relayer's in-memory state)
//! stays with it; this crate reads the chain and says when to execute and when to unwind.

pub mod backoff;
pub mod follow;
pub mod range;
pub mod rpc;
pub mod views;

pub use backoff::Backoff;
pub use follow::{BlockRef, Checkpoint, FollowError, Follower, Head, Next, Polled, Range};
pub use range::{AdaptiveRange, Fetched, RangeConfig};
pub use rpc::{classify, classify_contract, RpcErrorKind};
pub use views::{ViewError, Views};
