//! Every error of the API in the one envelope of `fairtrain_protocol::api::ErrorBody`, with a
//! machine-readable code: the shared [`ApiError`] and extractors (`fairtrain_http`: unknown
//! routes, wrong methods, unparsable path and query values), how the indexer's errors answer, and
//! the refusal of a request body that is not JSON.

use axum::{
    extract::Request,
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use fairtrain_http::is_json;
pub use fairtrain_http::{no_route, wrong_method, ApiError, ApiPath, ApiQuery};

use crate::Error;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid { .. } => Self::malformed(e.to_string()),
            Error::NotFound { .. } => Self::not_found(e.to_string()),
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
        }
    }
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
    if has_body && !is_json(headers) {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a request body must be application/json",
        )
        .into_response();
    }
    next.run(request).await
}
