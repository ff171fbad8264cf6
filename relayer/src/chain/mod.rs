//! Following the chain: the escrow state derived from events ([`state`]), the window that
//! lets it unwind reorganisations at a cost independent of history ([`journal`]), and the task
//! that keeps it current ([`follower`]). Reading the chain, adaptive ranges, the block-hash
//! window and RPC error classification are the shared `fairtrain_chain` crate's.

pub mod follower;
pub mod journal;
pub mod state;

pub use follower::{Follower, SharedState};
pub use state::ChainState;
