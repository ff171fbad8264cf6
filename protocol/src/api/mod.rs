//! The types of the relayer's and the indexer's HTTP APIs, shared by the services (which answer
//! with them and generate their OpenAPI documents from them, feature `openapi`) and by every
//! client (SDK, CLI, tests), so that a field is named and typed in one place.
//!
//! - [`error`]: the one error envelope both services answer with.
//! - [`relayer`]: requests and responses of the relayer (`/v1/...`).
//! - [`indexer`]: responses of the indexer (`/api/...`).
//! - [`gateway`]: requests and responses of a data gateway (`/v1/...`).
//!
//! The named schemas of addresses, hashes, decimal strings and signatures that these types (and
//! the wire types they hold) reference are in `crate::schema` (feature `openapi`).

pub mod error;
pub mod gateway;
pub mod indexer;
pub mod relayer;

pub use error::{ErrorBody, ErrorDetail};
