//! The indexer's error type.

use thiserror::Error;

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while indexing, querying or reconciling.
#[derive(Debug, Error)]
pub enum Error {
    /// A database statement failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// An RPC call failed.
    #[error("rpc {call}: {message}")]
    Rpc {
        /// The call that failed.
        call: &'static str,
        /// The provider's message.
        message: String,
    },
    /// The deployment file is missing or malformed.
    #[error("deployment {path}: {message}")]
    Deployment {
        /// Path of the file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The database indexes another deployment than the one given.
    #[error("database indexes {key} = {stored}, not {given}")]
    WrongDatabase {
        /// Which meta key differs.
        key: String,
        /// Stored value.
        stored: String,
        /// Value of the given deployment.
        given: String,
    },
    /// The database was made by the indexer of the escrow before credit lines (migration
    /// `0008_credit_lines.sql` found it bound to a deployment): its events and derived state
    /// are of another contract.
    #[error(
        "database made by the indexer of the earlier TrainingEscrow ({0}): its events and state \
         cannot be carried over to the credit-line escrow; index the new deployment into a new \
         database (or delete this one and index again)"
    )]
    LegacyDatabase(String),
    /// A stored row cannot be read back (corrupt or foreign data).
    #[error("stored data: {0}")]
    Stored(String),
    /// A log of a followed contract could not be decoded.
    #[error("log {tx_hash}:{log_index}: {message}")]
    Decode {
        /// Transaction of the log.
        tx_hash: String,
        /// Index of the log in its block.
        log_index: u64,
        /// Why decoding failed.
        message: String,
    },
    /// The chain reorganised deeper than the window of stored block hashes.
    #[error("reorganisation deeper than the block window: no stored block from {oldest} to {newest} is still canonical")]
    DeepReorg {
        /// Oldest stored block number.
        oldest: u64,
        /// Newest stored block number.
        newest: u64,
    },
    /// Batch data could not be fetched from its `dataURI`, or the URI was refused.
    #[error("batch data {uri}{via}: {error}")]
    Fetch {
        /// The `dataURI`.
        uri: String,
        /// ` (via <url>)` when the URI was fetched through the IPFS gateway, else empty.
        via: String,
        /// What went wrong.
        #[source]
        error: crate::fetch::FetchError,
    },
    /// A data gateway could not be read for the catalog, or served something off-protocol.
    #[error("catalog: {0}")]
    Gateway(String),
    /// What a request names does not exist (a batch not indexed, or dropped by a reorganisation).
    #[error("{message}")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// Which one was missing.
        message: String,
    },
    /// A request or command argument is invalid.
    #[error("invalid {what}: {message}")]
    Invalid {
        /// What was invalid.
        what: &'static str,
        /// Why.
        message: String,
    },
}

impl From<fairtrain_chain::FollowError> for Error {
    fn from(e: fairtrain_chain::FollowError) -> Self {
        use fairtrain_chain::FollowError as F;
        match e {
            F::Rpc { call, source } => Self::rpc(call, source),
            F::MissingBlock(n) => Self::rpc("eth_getBlockByNumber", format!("block {n} not found")),
            F::NoHead => Self::rpc("eth_getBlockByNumber", "no latest block"),
            F::DeepReorg { oldest, newest } => Self::DeepReorg { oldest, newest },
        }
    }
}

impl Error {
    /// An RPC error with the call's name.
    pub fn rpc(call: &'static str, err: impl std::fmt::Display) -> Self {
        Self::Rpc {
            call,
            message: err.to_string(),
        }
    }

    /// An invalid argument.
    pub fn invalid(what: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            message: message.into(),
        }
    }
}

/// A bulk view read (`fairtrain_chain::Views`) failed: an `eth_call` error.
impl From<fairtrain_chain::ViewError> for Error {
    fn from(e: fairtrain_chain::ViewError) -> Self {
        Self::rpc("eth_call", e)
    }
}

impl From<crate::fetch::FetchFailed> for Error {
    fn from(e: crate::fetch::FetchFailed) -> Self {
        Self::Fetch {
            uri: e.uri,
            via: e.via,
            error: e.error,
        }
    }
}

impl From<crate::fetch::BadGateway> for Error {
    fn from(e: crate::fetch::BadGateway) -> Self {
        Self::invalid(
            "ipfs gateway",
            format!("{:?}: expected an http:// or https:// URL", e.0),
        )
    }
}
