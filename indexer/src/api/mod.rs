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
const DASHBOARD_CSS: &str = include_str!("../../assets/dashboard.css");
const CATALOG_HTML: &str = include_str!("../../assets/catalog.html");
const CATALOG_JS: &str = include_str!("../../assets/catalog.js");

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
    /// The URL clients reach the API at (no trailing `/`), for links in exported documents;
    /// absent: `http://` and the request's `Host`.
    pub public_url: Option<std::sync::Arc<str>>,
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
            public_url: None,
        }
    }

    /// The same state, linking to itself at `url` in exported documents.
    pub fn with_public_url(self, url: &str) -> Self {
        Self {
            public_url: Some(url.trim_end_matches('/').into()),
            ..self
        }
    }

    /// Where clients reach the API: the public URL, or `http://` and the request's `Host` when
    /// it is a plain host and port (anything else: `http://localhost`).
    pub fn base_url(&self, headers: &axum::http::HeaderMap) -> String {
        if let Some(url) = &self.public_url {
            return url.to_string();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            })
            .unwrap_or("localhost");
        format!("http://{host}")
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
        (name = "catalog", description = "Licensed datasets published on data gateways."),
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
        .routes(routes!(dashboard_css))
        .routes(routes!(catalog_page))
        .routes(routes!(catalog_js))
        .routes(routes!(openapi_json))
        .routes(routes!(status))
        .routes(routes!(tokens))
        .routes(routes!(royalties))
        .routes(routes!(creators))
        .routes(routes!(licenses))
        .routes(routes!(catalog))
        .routes(routes!(catalog_card))
        .routes(routes!(catalog_files))
        .routes(routes!(catalog_trainers))
        .routes(routes!(catalog_accesses))
        .routes(routes!(catalog_croissant))
        .routes(routes!(catalog_tdm_policy))
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

/// The stylesheet of the dashboard and the catalog.
#[utoipa::path(get, path = "/dashboard.css", tag = "dashboard",
    responses((status = 200, description = "The pages' stylesheet.",
        content_type = "text/css", body = String)))]
async fn dashboard_css() -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        DASHBOARD_CSS,
    )
}

/// The catalog's page: licensed datasets with filters, and a dataset's card at `#<license>`.
#[utoipa::path(get, path = "/catalog", tag = "dashboard",
    responses((status = 200, description = "The catalog (HTML).", content_type = "text/html",
        body = String)))]
async fn catalog_page() -> Html<&'static str> {
    Html(CATALOG_HTML)
}

/// The catalog page's script.
#[utoipa::path(get, path = "/catalog.js", tag = "dashboard",
    responses((status = 200, description = "The catalog's script.",
        content_type = "text/javascript", body = String)))]
async fn catalog_js() -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        CATALOG_JS,
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
    /// `docs/api/indexer.openapi.json` is the document the indexer serves, so that an
    /// integrator can read it without running an indexer.
    #[test]
    fn the_committed_document_is_the_generated_one() {
        let doc = serde_json::to_string_pretty(&super::openapi()).unwrap();
        fairtrain_testkit::golden::check("docs/api/indexer.openapi.json", &(doc + "\n"));
    }

    use serde_json::Value;

    /// Paths in the document of every object schema that names none of its fields.
    fn bare_objects(v: &Value, at: &str, found: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                // A map whose values have a schema (metadata: string → string) is typed too.
                let typed = ["properties", "allOf", "oneOf", "anyOf", "$ref"]
                    .iter()
                    .any(|k| m.contains_key(*k))
                    || m.get("additionalProperties").is_some_and(Value::is_object);
                if m.get("type") == Some(&Value::from("object")) && !typed {
                    found.push(at.to_owned());
                }
                for (k, v) in m {
                    bare_objects(v, &format!("{at}/{k}"), found);
                }
            }
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, v)| bare_objects(v, &format!("{at}/{i}"), found)),
            _ => {}
        }
    }

    #[test]
    fn the_document_types_every_answer_and_every_error() {
        let doc = serde_json::to_value(super::openapi()).unwrap();
        let mut found = Vec::new();
        bare_objects(&doc, "", &mut found);
        // The free-form objects are documents another standard defines: the OpenAPI document
        // itself, a Croissant document and a TDMRep policy (JSON-LD).
        assert_eq!(
            found,
            [
                "/paths//api/catalog/{id}/croissant/get/responses/200/content/application/ld+json/schema",
                "/paths//api/catalog/{id}/tdm-policy/get/responses/200/content/application/ld+json/schema",
                "/paths//api/openapi.json/get/responses/200/content/application/json/schema",
            ],
            "objects without fields"
        );
        let error = serde_json::json!({"$ref": "#/components/schemas/ErrorBody"});
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("200"), "{method} {path}");
                for (status, r) in responses {
                    assert!(r["description"].is_string(), "{method} {path} {status}");
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            r["content"]["application/json"]["schema"], error,
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        // Lists refuse pages out of range rather than clamping them, and say so.
        let page = &doc["paths"]["/api/licenses"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "per_page")
            .unwrap()["schema"];
        assert_eq!(
            (&page["minimum"], &page["maximum"]),
            (&1.into(), &1000.into())
        );
    }
}
