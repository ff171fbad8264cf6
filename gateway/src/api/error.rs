//! The API's errors, in the one envelope of `ErrorBody` (`{"error": {"code", "message"}}`):
//! the shared [`ApiError`] and extractors (`fairtrain_http`), and how the gateway's own errors
//! answer.

use axum::http::StatusCode;
pub use fairtrain_http::ApiError;
pub(super) use fairtrain_http::{no_route, wrong_method, ApiPath, ApiQuery};

use crate::{
    blobs::{PutError, StorageError},
    entitle::Refusal,
    grant::GrantError,
    pay::PayRefusal,
    store::StoreError,
};

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        )
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        let status = match r {
            Refusal::Chain(_) | Refusal::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::UnknownLicense(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::FORBIDDEN,
        };
        Self::new(status, r.code(), r.to_string())
    }
}

impl From<PayRefusal> for ApiError {
    fn from(r: PayRefusal) -> Self {
        let status = match r {
            PayRefusal::Missing { .. } | PayRefusal::Refused { .. } => StatusCode::PAYMENT_REQUIRED,
            PayRefusal::Mismatch(_) => StatusCode::BAD_REQUEST,
            PayRefusal::NoRelayer | PayRefusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self::new(status, r.code(), r.to_string())
    }
}

impl From<GrantError> for ApiError {
    fn from(e: GrantError) -> Self {
        let code = match e {
            GrantError::Malformed => "grant_malformed",
            GrantError::Forged => "grant_invalid",
            GrantError::Expired(_) => "grant_expired",
        };
        Self::new(StatusCode::FORBIDDEN, code, e.to_string())
    }
}

impl From<PutError> for ApiError {
    fn from(e: PutError) -> Self {
        let (status, code) = match e {
            PutError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "file_too_large"),
            PutError::Mismatch { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "file_mismatch"),
            PutError::Body(_) => (StatusCode::BAD_REQUEST, "malformed"),
            PutError::Storage(e) => return e.into(),
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            e.to_string(),
        )
    }
}
