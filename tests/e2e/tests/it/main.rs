//! End-to-end tests: real anvil, the real relayer, CLI and meter binaries; see tests/README.md.

#![allow(unreachable_pub, missing_docs)]

mod claims;
mod datasets;
mod faults;
mod indexer;
mod lifecycle;
mod reorg;
mod royalties;
mod support;
