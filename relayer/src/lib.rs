//! Fairtrain relayer: training infrastructure submits signed usage receipts over HTTP; the
//! relayer verifies them against the escrow state it follows from events, stores them durably,
//! commits them in Merkle batches to `TrainingEscrow`, and serves payees their proofs (or
//! claims for them).
//!
//! Modules, one job each:
//!
//! - [`config`]: the TOML file and environment.
//! - [`key`]: the relayer's signing key, from a hex key or an encrypted keystore.
//! - [`store`]: SQLite or PostgreSQL through one portable schema; the bottom layer: it owns the
//!   SQL, the rows and the state machines' states ([`store::state`]), and imports no service
//!   module.
//! - [`chain`]: the escrow state followed from events, RPC error classes.
//! - [`ingest`]: signature recovery, the acceptance rules ([`ingest::judge`], one pure
//!   function) and the group-committing writer.
//! - [`rejection`]: the machine-readable reasons a receipt is refused.
//! - [`batcher`]: cutting batches, building trees and batch data, and driving each commit to
//!   confirmation through [`txmgr`].
//! - [`txmgr`]: nonces, fees and the transaction lifecycle every commit, claim and release
//!   walks ([`txmgr::lifecycle`]).
//! - [`tree`]: the multi-threaded Merkle tree the batcher builds.
//! - [`claims`]: bulk claims for payees.
//! - [`proofs`]: the claimable receipts of licenses, paged.
//! - [`api`]: the HTTP API.
//! - [`service`]: wiring it all together.
//! - [`failpoint`]: named crash points for the restart tests (depends on nothing).
//!
//! The modules form no cycle: `store` and `failpoint` at the bottom, then `chain`, `pricing`,
//! `txmgr`, `ingest`, `claims`, `batcher`, and `api`, `service` on top.

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
