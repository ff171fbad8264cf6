//! The Fairtrain data gateway: creators publish datasets whose files match their signed
//! manifests, and payers the chain entitles download them (docs/gateway.md).
//!
//! - [`store`]: the SQL of datasets, files and the access log (SQLite or PostgreSQL).
//! - [`blobs`]: the files' bytes, content-addressed, stored only when they hash right.
//! - [`entitle`]: the chain's answer to "may this payer have this dataset?".
//! - [`grant`]: the short-lived tokens of download URLs.
//! - [`pay`]: pay per access: the receipt of each access, forwarded to a relayer.
//! - [`api`]: the HTTP API and its OpenAPI document.

pub mod api;
pub mod blobs;
pub mod entitle;
pub mod grant;
pub mod pay;
pub mod store;
