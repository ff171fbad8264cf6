//! The subcommands, one module per role or object.

pub mod claim;
pub mod creator;
pub mod dataset;
pub mod license;
pub mod manifest;
pub mod payer;
pub mod pool;
pub mod stream;
