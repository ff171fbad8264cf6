//! Integration tests of the relayer against a real anvil and real SQLite / PostgreSQL stores.

mod api;
mod batch;
mod crash;
mod fuzz;
mod ingest;
mod lines;
mod multi;
mod proofs;
mod reorg;
mod resilience;
mod support;
