//! The relayer's client, which lives in `fairtrain_protocol::relayer_client` (the one client of
//! the receipt API), as the SDK names it; its errors are the SDK's [`crate::Error::Relayer`].

pub use fairtrain_protocol::relayer_client::{
    is_transient, Outcome, RelayerClient, RelayerError, RetryPolicy,
};
