//! Integration tests of the relayer against a real anvil and real SQLite / PostgreSQL stores.

mod batch;
mod ingest;
mod support;
