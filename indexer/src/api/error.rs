//! Every error of the API in the one envelope of `fairtrain_protocol::api::ErrorBody`, with a
//! machine-readable code: the handlers' errors, and what axum would otherwise answer in plain
//! text or with an empty body (unknown routes, wrong methods, unparsable path and query values,
//! a request body that is not JSON).

use axum::{
    extract::{FromRequestParts, Path, Query, Request},
    http::{header, request::Parts, Method, StatusCode, Uri},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use fairtrain_protocol::api::ErrorBody;
use serde::de::DeserializeOwned;

use crate::Error;

/// Codes of the envelope's `error.code`.
pub mod code {
    /// A path or query value that does not parse or is out of its documented range (400).
    pub const MALFORMED: &str = "malformed";
    /// No such route, or no such batch, audit, stream or pool (404).
    pub const NOT_FOUND: &str = "not_found";
    /// The route exists, the method does not (405).
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// A request body that is not `application/json` (415).
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    /// The database or the chain failed (500).
    pub const INTERNAL: &str = "internal";
}

/// An error answer: a status and the envelope.
#[derive(Debug)]
pub struct ApiError(StatusCode, ErrorBody);

impl ApiError {
    /// An error answer of `status` with `code` and `message`.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self(status, ErrorBody::new(code, message))
    }

    /// 400 `malformed`.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::MALFORMED, message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code::NOT_FOUND, message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid { .. } => Self::malformed(e.to_string()),
            Error::NotFound { .. } => Self::not_found(e.to_string()),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                code::INTERNAL,
                e.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

/// Query parameters as axum's `Query`, refused as 400 `malformed` in the envelope.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Self(t))
            .map_err(|e| ApiError::malformed(e.body_text()))
    }
}

/// Path parameters as axum's `Path`, refused as 400 `malformed` in the envelope.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Self(t))
            .map_err(|e| ApiError::malformed(e.body_text()))
    }
}

/// The answer to a path no route serves: 404 `not_found`.
pub async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route {method} {}", uri.path()))
}

/// The answer to a method a route does not serve: 405 `method_not_allowed` (axum adds the
/// `Allow` header).
pub async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        code::METHOD_NOT_ALLOWED,
        format!("{} does not answer {method}", uri.path()),
    )
}

/// Refuses a request that carries a body other than `application/json` with 415
/// `unsupported_media_type` (the API's one POST takes no body; an empty one is fine).
pub async fn json_bodies_only(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if has_body && !json {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::UNSUPPORTED_MEDIA_TYPE,
            "a request body must be application/json",
        )
        .into_response();
    }
    next.run(request).await
}
