//! The HTTP plumbing the services share (the relayer, the data gateway, the indexer): every error
//! answers in the one envelope of [`ErrorBody`] (`{"error": {"code", "message"}}`) with a
//! machine-readable code, the handlers' errors ([`ApiError`]) and what axum would otherwise
//! answer in plain text or with an empty body: no route ([`no_route`]), a method a route does not
//! serve ([`wrong_method`]), an unparsable path or query value ([`ApiPath`], [`ApiQuery`]), a JSON
//! body that is too large, not JSON, or of the wrong shape ([`ApiError::from_json`],
//! [`is_json`]). Each service adds the `From` conversions of its own errors.

use axum::{
    extract::{rejection::JsonRejection, FromRequestParts, Path, Query},
    http::{header, request::Parts, HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    Json,
};
use fairtrain_protocol::api::ErrorBody;
use serde::de::DeserializeOwned;

/// An error answer: a status and the envelope.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    /// An error of `status` with `code` and `message`.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody::new(code, message),
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &str {
        &self.body.error.code
    }

    /// The HTTP status.
    pub const fn status(&self) -> StatusCode {
        self.status
    }

    /// 400 `malformed`: a value that does not parse.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    /// 400 `out_of_range`: a value that parses but is outside the documented bounds.
    pub fn out_of_range(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "out_of_range", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 401 with `code`: a signed request that cannot be used (`bad_signature`, …).
    pub fn unauthorized(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// A JSON body axum could not take: 413 `body_too_large`, 415 `unsupported_media_type`
    /// (no `Content-Type: application/json`), or 400 `malformed`.
    pub fn from_json(e: JsonRejection) -> Self {
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::new(e.status(), "body_too_large", e.body_text()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Self::new(e.status(), "unsupported_media_type", e.body_text())
            }
            _ => Self::malformed(e.body_text()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Whether `headers` say the body is JSON (`Content-Type: application/json`, parameters and
/// case aside).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// axum's [`Path`], refusing an unparsable value with 400 `malformed` in the envelope.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

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
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
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
        "method_not_allowed",
        format!("{} does not answer {method}", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::Request, routing::get, Router};
    use tower::ServiceExt;

    use super::*;

    async fn answer(app: Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn app() -> Router {
        async fn item(ApiPath(id): ApiPath<u64>, ApiQuery(q): ApiQuery<Limit>) -> String {
            format!("{id} {}", q.limit)
        }
        #[derive(serde::Deserialize)]
        struct Limit {
            limit: u32,
        }
        Router::new()
            .route("/items/{id}", get(item))
            .fallback(no_route)
            .method_not_allowed_fallback(wrong_method)
    }

    /// What axum answers in plain text or with an empty body comes in the envelope, with its
    /// code.
    #[tokio::test]
    async fn the_frameworks_refusals_come_in_the_envelope() {
        let request = |method: &str, uri: &str| {
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap()
        };
        for (method, uri, status, code) in [
            ("GET", "/nothing", 404, "not_found"),
            ("POST", "/items/1?limit=2", 405, "method_not_allowed"),
            ("GET", "/items/x?limit=2", 400, "malformed"),
            ("GET", "/items/1?limit=-1", 400, "malformed"),
        ] {
            let (got, body) = answer(app(), request(method, uri)).await;
            assert_eq!(got.as_u16(), status, "{method} {uri}: {body}");
            assert_eq!(body["error"]["code"], code, "{method} {uri}");
            assert!(body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()));
        }
    }

    #[test]
    fn json_is_recognised_by_its_media_type_only() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        for (value, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/jsonx", false),
            ("text/plain", false),
        ] {
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&headers), json, "{value}");
        }
    }
}
