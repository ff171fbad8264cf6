//! The subcommands, one module per role or object.

pub mod creator;
pub mod license;
pub mod manifest;
pub mod payer;
