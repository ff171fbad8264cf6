//! Integration tests of the relayer against a real anvil and real SQLite / PostgreSQL stores.

mod batch;
mod crash;
mod ingest;
mod resilience;
mod support;
