//! The API's errors, all in the one envelope of `ErrorBody`: the shared [`ApiError`] and
//! extractors (`fairtrain_http`: unknown route, wrong method, unparsable path or query), how the
//! relayer's own errors answer, and the check of a POST's body.

use axum::{
    body::Bytes,
    extract::rejection::BytesRejection,
    http::{HeaderMap, StatusCode},
};
use fairtrain_http::is_json;
pub use fairtrain_http::ApiError;
pub(super) use fairtrain_http::{no_route, wrong_method, ApiPath, ApiQuery};

use crate::{ingest::IngestError, rejection::Rejection, store::StoreError};

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        Self::new(r.status(), r.code(), r.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        )
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            e.to_string(),
        )
    }
}

/// The body of a POST, refused unless it is JSON: 413 `body_too_large` past the limit, 415
/// `unsupported_media_type` when it is not empty and `Content-Type` is not
/// `application/json` (an empty body is for the caller to accept or refuse).
///
/// # Errors
///
/// As above; 400 `malformed` when the body cannot be read.
pub(super) fn json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                e.body_text(),
            )
        } else {
            ApiError::malformed(e.body_text())
        }
    })?;
    if !body.is_empty() && !is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON, sent with Content-Type: application/json",
        ));
    }
    Ok(body)
}
