//! Fairtrain relayer: training infrastructure submits signed usage receipts over HTTP; the
//! relayer verifies them against the escrow state it follows from events, stores them durably,
//! commits them in Merkle batches to `TrainingEscrow`, and serves payees their proofs (or
//! claims for them).
//!
//! Modules, one job each:
//!
//! - [`config`]: the TOML file and environment.
//! - [`key`]: the relayer's signing key, from a hex key or an encrypted keystore.
//! - [`store`]: SQLite or PostgreSQL through one portable schema.
//! - [`chain`]: the escrow state followed from events, RPC error classes.
//! - [`ingest`]: signature recovery, the stateful checks and the group-committing writer.
//! - [`rejection`]: the machine-readable reasons a receipt is refused.
//! - [`batcher`]: cutting batches, building trees and batch data, and driving each commit to
//!   confirmation through [`txmgr`].
//! - [`tree`]: the multi-threaded Merkle tree the batcher builds.
//! - [`claims`]: bulk claims for payees.
//! - [`proofs`]: the claimable receipts of licenses, paged.
//! - [`api`]: the HTTP API.
//! - [`service`]: wiring it all together.
//! - [`failpoint`]: named crash points for the restart tests.

pub mod api;
pub mod batcher;
pub mod chain;
pub mod claims;
pub mod config;
pub mod failpoint;
pub mod ingest;
pub mod key;
pub mod pricing;
pub mod proofs;
pub mod rejection;
pub mod service;
pub mod store;
pub mod tree;
pub mod txmgr;
pub mod util;
