//! The HTTP API (JSON, paginated, described by an OpenAPI document generated from the handlers'
//! types and served at `/api/openapi.json`) and the dashboard (`/`), which reads the same API and
//! updates live from `/api/live` (Server-Sent Events sent whenever the indexed block moves).
//!
//! - [`handlers`]: the routes of `/api/...` and their part of the document.
//! - [`params`]: their path and query parameters, validated while parsing.
//! - [`error`]: every error in the one envelope, with a code.

pub mod error;
pub mod handlers;
pub mod params;

use std::sync::LazyLock;

use alloy::providers::DynProvider;
use axum::{http::header, middleware, response::Html, Router};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{fetch::Fetcher, Db, Deployment};

const DASHBOARD_HTML: &str = include_str!("../../assets/dashboard.html");
const DASHBOARD_JS: &str = include_str!("../../assets/dashboard.js");

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The chain.
    pub provider: DynProvider,
    /// The deployment.
    pub deployment: Deployment,
    /// Fetches batch data for audits requested through the API.
    pub fetcher: Fetcher,
}

impl AppState {
    /// Shared state of the API (audits fetch without an IPFS gateway: see
    /// [`AppState::with_fetcher`]).
    pub fn new(db: Db, provider: DynProvider, deployment: Deployment) -> Self {
        Self {
            db,
            provider,
            deployment,
            fetcher: Fetcher::default(),
        }
    }

    /// The same state, fetching batch data with `fetcher`.
    pub fn with_fetcher(self, fetcher: Fetcher) -> Self {
        Self { fetcher, ..self }
    }
}

/// The document's fixed parts; the paths and schemas come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fairtrain indexer API",
        description = "What the indexer derived from the chain: royalties, licenses, escrow \
            balances and credit lines, batches and their audits, streams and pools. Lists are \
            paged (`page` 1 to 1,000,000,000, `per_page` 1 to 1000; out of range is refused, \
            not clamped) and carry the index status. Every error is \
            `{\"error\": {\"code\", \"message\"}}` with the code `malformed` (400), \
            `not_found` (404), `method_not_allowed` (405), `unsupported_media_type` (415) or \
            `internal` (500). Amounts are `uint256` decimal strings, addresses and hashes \
            lowercase hex, times Unix seconds."
    ),
    tags(
        (name = "index", description = "Where the index stands."),
        (name = "royalties", description = "Royalty totals, settlements and exports."),
        (name = "licenses", description = "Licenses and their terms."),
        (name = "escrow", description = "Payers' balances and credit lines."),
        (name = "batches", description = "Committed batches and their audits."),
        (name = "streams", description = "Royalty streams."),
        (name = "pools", description = "Revenue-share pools."),
        (name = "dashboard", description = "The dashboard's page and script.")
    )
)]
struct ApiDoc;

/// Every documented route, with the document built from their annotations: what is served
/// and what is documented are one list.
fn api_routes() -> OpenApiRouter<AppState> {
    use handlers::*;
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(dashboard))
        .routes(routes!(dashboard_js))
        .routes(routes!(openapi_json))
        .routes(routes!(status))
        .routes(routes!(royalties))
        .routes(routes!(creators))
        .routes(routes!(licenses))
        .routes(routes!(balances))
        .routes(routes!(credit_lines))
        .routes(routes!(batches))
        .routes(routes!(batch))
        .routes(routes!(stored_audit, run_audit))
        .routes(routes!(settlements))
        .routes(routes!(unclaimed))
        .routes(routes!(streams))
        .routes(routes!(stream))
        .routes(routes!(stream_payees))
        .routes(routes!(pools))
        .routes(routes!(pool))
        .routes(routes!(flows))
        .routes(routes!(live))
}

/// The OpenAPI document of the API, as served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().into_openapi()
}

static OPENAPI_JSON: LazyLock<String> = LazyLock::new(|| {
    openapi()
        .to_pretty_json()
        .expect("the generated document serializes")
});

/// The dashboard's page.
#[utoipa::path(get, path = "/", tag = "dashboard",
    responses((status = 200, description = "The dashboard (HTML).", content_type = "text/html",
        body = String)))]
async fn dashboard() -> Html<&'static str> {
    Html(DASHBOARD_HTML)
}

/// The dashboard's script.
#[utoipa::path(get, path = "/dashboard.js", tag = "dashboard",
    responses((status = 200, description = "The dashboard's script.",
        content_type = "text/javascript", body = String)))]
async fn dashboard_js() -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        DASHBOARD_JS,
    )
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/api/openapi.json", tag = "index",
    responses((status = 200, description = "The OpenAPI document of this API.",
        content_type = "application/json", body = Object)))]
async fn openapi_json() -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON.as_str(),
    )
}

/// The API's and the dashboard's routes; any other path answers 404 `not_found`, any other
/// method 405 `method_not_allowed`, a body that is not JSON 415 `unsupported_media_type`.
pub fn router(state: AppState) -> Router {
    let (routes, _) = api_routes().split_for_parts();
    routes
        .route_layer(middleware::from_fn(error::json_bodies_only))
        .method_not_allowed_fallback(error::wrong_method)
        .fallback(error::no_route)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dump() {
        std::fs::write(
            "/tmp/indexer-openapi.json",
            super::openapi().to_pretty_json().unwrap(),
        )
        .unwrap();
    }
}
