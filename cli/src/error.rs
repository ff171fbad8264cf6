//! The CLI's error type: every failure says what went wrong and, where we know, what to do.

use std::path::PathBuf;

use alloy::primitives::B256;
use fairtrain_protocol::ManifestError;
use serde_json::{json, Value};

use crate::revert::{self, DecodedRevert};

/// Result with [`CliError`].
pub type Result<T, E = CliError> = core::result::Result<T, E>;

/// A failure of a command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A manifest is malformed, fails verification, or a folder or license does not match it.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A transaction or call reverted; the contract's custom error is decoded.
    #[error("{action} reverted: {revert}")]
    Reverted {
        /// What was attempted, e.g. `withdraw`.
        action: String,
        /// The decoded error.
        revert: DecodedRevert,
    },
    /// A transaction was mined but failed.
    #[error("{action}: transaction {hash} was mined but failed")]
    TxFailed {
        /// What was attempted.
        action: String,
        /// The transaction hash.
        hash: B256,
    },
    /// The RPC node could not be reached or answered with an error that is not a revert.
    #[error("{action}: {message}")]
    Rpc {
        /// What was attempted.
        action: String,
        /// The node's or transport's error.
        message: String,
    },
    /// A command that sends transactions got no key.
    #[error("this command signs: give a key with --private-key, FAIRTRAIN_PRIVATE_KEY, or --keystore with FAIRTRAIN_KEYSTORE_PASSWORD")]
    NoKey,
    /// The key could not be read.
    #[error("cannot use the key: {0}")]
    Key(String),
    /// The deployment file is missing, malformed or for another chain.
    #[error("deployment {path}: {reason}")]
    Deployment {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An amount could not be parsed.
    #[error("invalid amount {input:?}: {reason}")]
    Amount {
        /// What was given.
        input: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A token is neither an address nor the symbol of a deployment's payment token.
    #[error(
        "unknown token {given:?}: give an address or one of the deployment's tokens ({known})"
    )]
    Token {
        /// What was given.
        given: String,
        /// The tokens known.
        known: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Some other invalid input; the message says what to change.
    #[error("{0}")]
    Invalid(String),
}

impl CliError {
    /// Builds the error of a failed contract call or transaction: a decoded [`Self::Reverted`]
    /// if the node returned revert data, [`Self::Rpc`] otherwise.
    pub fn from_contract(action: &str, err: alloy::contract::Error) -> Self {
        match err.as_revert_data() {
            Some(data) => Self::Reverted {
                action: action.to_owned(),
                revert: revert::decode(&data),
            },
            None => Self::Rpc {
                action: action.to_owned(),
                message: err.to_string(),
            },
        }
    }

    /// Builds a [`Self::Rpc`] from any displayable error.
    pub fn rpc(action: &str, err: impl std::fmt::Display) -> Self {
        Self::Rpc {
            action: action.to_owned(),
            message: err.to_string(),
        }
    }

    /// What the user can do about it, if we know.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Reverted { revert, .. } => revert.hint.clone(),
            Self::Rpc { .. } => Some(
                "check that the node at --rpc-url (FAIRTRAIN_RPC_URL) is running and reachable"
                    .into(),
            ),
            Self::Deployment { .. } => Some(
                "pass --deployment deployments/<chainId>.json (written by contracts/script/Deploy.s.sol)"
                    .into(),
            ),
            Self::Manifest(ManifestError::FolderMismatch(_)) => Some(
                "the local copy differs from what the creator signed: fetch the dataset again"
                    .into(),
            ),
            Self::Manifest(ManifestError::SignerMismatch { .. } | ManifestError::FilesRoot { .. }) => {
                Some("do not use this manifest: it is not what its creator signed".into())
            }
            _ => None,
        }
    }

    /// The error as JSON, for `--json`.
    pub fn to_json(&self) -> Value {
        let mut value = json!({ "message": self.to_string(), "hint": self.hint() });
        if let Self::Reverted { action, revert } = self {
            value["action"] = json!(action);
            value["revert"] = json!({
                "name": revert.name,
                "fields": revert.fields.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
                "data": revert.data,
            });
        }
        if let Self::Manifest(ManifestError::FolderMismatch(report)) = self {
            value["folder"] = json!({
                "missing": report.missing, "changed": report.changed, "extra": report.extra,
            });
        }
        json!({ "error": value })
    }
}
