//! The API's errors, in the one envelope of [`ErrorBody`] (`{"error": {"code", "message"}}`),
//! and the extractors that refuse unparsable paths, queries and bodies in it.

use axum::{
    extract::{FromRequestParts, Path, Query},
    http::{request::Parts, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use fairtrain_protocol::api::ErrorBody;
use serde::de::DeserializeOwned;

use crate::{
    blobs::{PutError, StorageError},
    entitle::Refusal,
    grant::GrantError,
    pay::PayRefusal,
    store::StoreError,
};

/// An API error: status, code and message.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// An error of `status` with `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 `malformed`.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    /// A JSON body axum could not take: 413 `body_too_large`, 415 `unsupported_media_type`
    /// (no `Content-Type: application/json`), or 400 `malformed`.
    pub fn from_json(e: axum::extract::rejection::JsonRejection) -> Self {
        let code = match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "malformed",
        };
        let status = if code == "malformed" {
            StatusCode::BAD_REQUEST
        } else {
            e.status()
        };
        Self::new(status, code, e.body_text())
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 401 `bad_request_signature` and the like: a signed request that cannot be used.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody::new(self.code, self.message))).into_response()
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

/// The answer to a request no route matches: 404 `not_found`.
pub(super) async fn no_route() -> ApiError {
    ApiError::not_found("no such route")
}

/// The answer to a method a route does not serve: 405 `method_not_allowed`.
pub(super) async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not serve this method",
    )
}

/// axum's [`Path`], refusing an unparsable value with 400 `malformed` in the envelope.
pub(super) struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| Self(v))
            .map_err(|e| ApiError::malformed(e.body_text()))
    }
}

/// axum's [`Query`], refusing an unparsable value with 400 `malformed` in the envelope.
pub(super) struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
            .map_err(|e| ApiError::malformed(e.body_text()))
    }
}
