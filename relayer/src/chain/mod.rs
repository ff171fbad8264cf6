//! Following the chain: the escrow state derived from events ([`state`]), the task that keeps
//! it current ([`follower`]), and RPC error classification ([`rpc`]).

pub mod follower;
pub mod rpc;
pub mod state;

pub use follower::{Follower, SharedState};
pub use state::ChainState;
