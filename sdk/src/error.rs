//! The error type of the SDK.

/// Result with the SDK's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What can go wrong while metering usage or talking to a relayer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The usage journal (SQLite) failed; nothing recorded by the failing call was kept.
    #[error("usage journal: {context}")]
    Journal {
        /// What the journal was doing.
        context: &'static str,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// The journal holds a value this SDK cannot read (edited by hand or by another version).
    #[error("usage journal is corrupt: {0}")]
    Corrupt(String),
    /// Recording would push a cumulative count past what a receipt can carry.
    #[error("cumulative samples would overflow ({recorded} + {adding})")]
    Overflow {
        /// Already recorded.
        recorded: u64,
        /// Being added.
        adding: u64,
    },
    /// Signing a receipt failed.
    #[error("signing a receipt")]
    Signing(#[source] fairtrain_protocol::Error),
    /// Submitting to the relayer failed as a whole: unreachable after the retries, refused
    /// (a client error such as an oversized body), or an undocumented answer.
    #[error(transparent)]
    Relayer(#[from] fairtrain_protocol::relayer_client::RelayerError),
    /// A dataset failed its check before use (manifest, folder or license).
    #[error("dataset check failed: {0}")]
    Dataset(String),
    /// A data gateway refused (its code, e.g. `terms_not_accepted`), or could not be reached
    /// (`status` 0, code `unreachable`).
    #[error("gateway refused ({status}): {code}: {message}")]
    Gateway {
        /// HTTP status (0 when unreachable).
        status: u16,
        /// The gateway's machine-readable code.
        code: String,
        /// Its message.
        message: String,
    },
}

impl Error {
    pub(crate) fn journal(context: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Journal { context, source }
    }
}
