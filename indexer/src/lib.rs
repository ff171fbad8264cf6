//! Fairtrain indexer: mirrors every event of a Fairtrain deployment (`LicenseNFT`,
//! `TrainingEscrow`, `RoyaltyStreams`, `RevenuePoolFactory` and its pools) into SQLite or
//! PostgreSQL, keeps derived state (licenses, balances, batches, settlements, royalties, streams,
//! pools) in step with the chain through reorganisations, proves it against the chain
//! (`reconcile`), and serves it to creators and auditors.
//!
//! The modules follow the data, one job each:
//!
//! - [`deployment`]: which contracts to follow (`deployments/<chainId>.json`).
//! - [`db`]: the database (SQLite or PostgreSQL through `sqlx::Any`), migrations, meta data.
//! - [`decode`]: logs into typed events ([`decode::Event`]), and back from stored raw rows.
//! - [`raw`]: the raw event table, the checkpoint and the block window.
//! - [`derive`]: applying events in order to the derived tables, and rebuilding them.
//! - [`sync`]: backfill in adaptive ranges, following the head, reorganisations.
//! - [`reconcile`]: comparing derived state with the contracts' views.
//! - `reads`: the escrow's per-key views (acceptances, signing keys, settled counts) read in
//!   bulk at one block, for the audit and the reconciliation.
//! - [`fetch`]: fetching published batch data (HTTP(S), IPFS through a gateway): the one
//!   fetcher, `fairtrain_protocol::fetch`.
//! - [`audit`]: auditing a batch against its published data and the chain: the report, the
//!   checks (pure), their SQL, and the worker auditing every new batch ([`audit::worker`]).
//! - [`query`]: the questions the API, CLI and dashboard ask, one module per answer (royalties,
//!   creators, licenses, balances, credit lines, batches, settlements, unclaimed, streams,
//!   pools).
//! - [`export`]: royalty flows for accounting, as CSV or JSON.
//! - [`describe`]: a catalog dataset as Croissant JSON-LD, its terms as a TDMRep policy and
//!   AI preferences.
//! - [`api`]: the HTTP API, its OpenAPI document and the dashboard.
//! - [`error`]: the crate's [`Error`] type.

pub mod api;
pub mod audit;
pub mod catalog;
pub mod db;
pub mod decode;
pub mod deployment;
pub mod derive;
pub mod describe;
pub mod error;
pub mod export;
pub use fairtrain_protocol::fetch;
pub mod query;
pub mod raw;
mod reads;
pub mod reconcile;
pub mod sync;
pub mod units;

pub use db::Db;
pub use deployment::Deployment;
pub use error::{Error, Result};
