//! The error envelope of both services: every answer that is not a success is
//! `{"error": {"code": "<machine-readable>", "message": "<for people>"}}`.

use serde::{Deserialize, Serialize};

/// The body of every error answer of the relayer and the indexer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The code and message of an error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Machine-readable, stable: clients branch on it (for example `malformed`, `not_found`,
    /// `method_not_allowed`, `unsupported_media_type`, or a receipt rejection code).
    pub code: String,
    /// Human-readable detail; may change between versions.
    pub message: String,
}

impl ErrorBody {
    /// An envelope of `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_documented_envelope() {
        let body = ErrorBody::new("not_found", "no such batch");
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":{"code":"not_found","message":"no such batch"}}"#
        );
        let back: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"x","message":"y"}}"#).unwrap();
        assert_eq!(back, ErrorBody::new("x", "y"));
    }
}
