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
    /// The relayer could not be reached or answered with a server error; retried with backoff
    /// until the attempts ran out.
    #[error("relayer unreachable after {attempts} attempts: {last}")]
    Unreachable {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The relayer refused the request as a whole (not one receipt): a client error such as
    /// an oversized body, or a failed authentication.
    #[error("relayer refused the request ({status}): {code}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The relayer's machine-readable code.
        code: String,
        /// The relayer's message.
        message: String,
    },
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
    /// The relayer answered with something that is not its documented response.
    #[error("unexpected relayer response: {0}")]
    Protocol(String),
}

impl Error {
    pub(crate) fn journal(context: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Journal { context, source }
    }
}
