//! Integration tests of `fairtrain-indexer` against a real anvil, on SQLite and PostgreSQL
//! (one test binary for the crate).

mod support;

mod api;
mod audit;
mod auditor;
mod browser;
mod catalog;
mod legacy;
mod lines;
mod mirror;
mod pool_state;
mod pools;
mod ranges;
mod reorg;
