//! The HTTP API (axum). Every route is declared with its OpenAPI operation and routed through
//! utoipa-axum's `routes!`, so the document served at `/openapi.json` and the router come from
//! one list. Request and response types live in `fairtrain_protocol::api::gateway` and
//! `fairtrain_protocol::gateway`; errors answer in the one envelope of [`error`].
//!
//! - [`datasets`]: publishing (the manifest, then each file's bytes), listing, manifests and
//!   per-file proofs: public.
//! - [`access`]: signed access requests, downloads with a grant, and the access log.

mod access;
mod datasets;
mod error;

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{extract::State, http::header, response::IntoResponse, Extension, Json, Router};
use fairtrain_protocol::{
    api::{gateway::Info, relayer::DomainInfo},
    gateway::{GatewayDomain, MAX_REQUEST_LIFETIME},
};
use utoipa::openapi::{path::Operation, ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use error::ApiError;

use crate::{blobs::Blobs, entitle::Entitlements, grant::GrantKey, pay::Payments, store::Store};

/// Input limits and lifetimes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest JSON body (a publish request carries the whole manifest), in bytes.
    pub max_body_bytes: usize,
    /// Most files in one dataset.
    pub max_files: usize,
    /// Largest dataset, in bytes (all files).
    pub max_dataset_bytes: u64,
    /// How long a download grant lasts, in seconds.
    pub grant_seconds: u64,
    /// Most entries in one page of a list (`?limit=` is clamped to it).
    pub max_page: usize,
    /// Access requests checked against the chain at once (more are refused, 503 `overloaded`).
    pub max_checks_in_flight: usize,
}

impl Default for Limits {
    /// 32 MiB of JSON, 100,000 files, 1 TiB, grants of 15 minutes, pages of 1,000, 32 access
    /// requests checked at once.
    fn default() -> Self {
        Self {
            max_body_bytes: 32 << 20,
            max_files: 100_000,
            max_dataset_bytes: 1 << 40,
            grant_seconds: 900,
            max_page: 1_000,
            max_checks_in_flight: crate::entitle::MAX_IN_FLIGHT,
        }
    }
}

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The files' bytes.
    pub blobs: Blobs,
    /// The chain's entitlement checks.
    pub entitlements: Entitlements,
    /// The chain id and escrow requests are signed for.
    pub chain_id: u64,
    /// The escrow.
    pub escrow: alloy::primitives::Address,
    /// The EIP-712 domain of requests.
    pub domain: GatewayDomain,
    /// The public URL (no trailing `/`): requests must name it, grants point at it.
    pub public_url: Arc<str>,
    /// The key of grant tokens.
    pub grant_key: GrantKey,
    /// Where the receipts of per-access terms go.
    pub payments: Payments,
    /// Limits.
    pub limits: Limits,
}

/// Unix seconds now.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The routes with their operations.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(openapi_json))
        .routes(routes!(info))
        .routes(routes!(datasets::publish, datasets::list))
        .routes(routes!(datasets::dataset))
        .routes(routes!(datasets::manifest))
        .routes(routes!(datasets::files))
        .routes(routes!(datasets::upload, access::download))
        .routes(routes!(datasets::proof))
        .routes(routes!(access::access))
        .routes(routes!(access::accesses))
        .routes(routes!(access::all_accesses))
}

/// The OpenAPI document of this API.
pub fn openapi() -> OpenApi {
    document(routes().into_openapi())
}

fn document(mut doc: OpenApi) -> OpenApi {
    doc.info.title = "Fairtrain gateway".to_owned();
    doc.info.version = "1".to_owned();
    doc.info.description = Some(
        "Publish datasets whose files match their signed manifests; download them with a grant \
         that a signed access request obtains when the chain entitles the payer. Every error \
         answers {\"error\": {\"code\", \"message\"}} (docs/gateway.md lists the codes)."
            .to_owned(),
    );
    doc.info.license = None;
    doc.info.contact = None;
    let paths = std::mem::take(&mut doc.paths.paths);
    for (path, mut item) in paths {
        for (method, op) in [
            ("get", item.get.as_mut()),
            ("put", item.put.as_mut()),
            ("post", item.post.as_mut()),
        ] {
            if let Some(op) = op {
                complete(method, op);
            }
        }
        // axum's wildcard `{*path}` is OpenAPI's `{path}` (its `/`s percent-encoded or not).
        doc.paths
            .paths
            .insert(path.replace("{*path}", "{path}"), item);
    }
    doc
}

/// What every operation of `/v1` shares, said once: manifest hashes in paths are `Hash32`, the
/// wildcard parameter is `path`, unparsable input is 400 `malformed`, a failing database or
/// storage is 503, and JSON bodies may be 413 `body_too_large` or 415 `unsupported_media_type`.
fn complete(method: &str, op: &mut Operation) {
    let mut has_input = op.request_body.is_some();
    for p in op.parameters.iter_mut().flatten() {
        has_input = true;
        let RefOr::T(p) = p else { continue };
        match p.name.as_str() {
            "*path" => p.name = "path".to_owned(),
            "hash" => p.schema = Some(RefOr::Ref(Ref::from_schema_name("Hash32"))),
            _ => {}
        }
    }
    if !op.tags.iter().flatten().any(|t| t != "service") {
        return;
    }
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build(),
                )
            });
    };
    if has_input {
        add("400", "malformed: a value that does not parse");
    }
    add("503", "store_unavailable or storage_unavailable: retry");
    if method == "post" {
        add("413", "body_too_large");
        add("415", "unsupported_media_type");
    }
}

/// The OpenAPI document, rendered once.
struct Document(String);

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "service",
    responses((status = 200, description = "alive", body = String, content_type = "text/plain")))]
async fn health() -> &'static str {
    "ok"
}

/// Readiness: the database and the storage answer.
#[utoipa::path(get, path = "/ready", tag = "service", responses(
    (status = 200, description = "ready", body = String, content_type = "text/plain"),
    (status = 503, description = "the database or the storage does not answer", body = String, content_type = "text/plain")))]
async fn ready(State(s): State<AppState>) -> (axum::http::StatusCode, &'static str) {
    if !s.store.ping().await {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer",
        )
    } else if !s.blobs.ping().await {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the storage does not answer",
        )
    } else {
        (axum::http::StatusCode::OK, "ready")
    }
}

/// This document (OpenAPI 3.1), generated from the handlers' types.
#[utoipa::path(get, path = "/openapi.json", tag = "service", responses(
    (status = 200, description = "OpenAPI 3.1 document", body = Object)))]
async fn openapi_json(Extension(doc): Extension<Arc<Document>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], doc.0.clone())
}

/// The gateway's public URL and the EIP-712 domain its requests are signed under.
#[utoipa::path(get, path = "/v1/info", tag = "service",
    responses((status = 200, description = "info", body = Info)))]
async fn info(State(s): State<AppState>) -> Json<Info> {
    Json(Info {
        gateway: s.public_url.to_string(),
        domain: DomainInfo {
            name: fairtrain_protocol::gateway::DOMAIN_NAME.to_owned(),
            version: fairtrain_protocol::gateway::DOMAIN_VERSION.to_owned(),
            chain_id: s.chain_id,
            verifying_contract: s.escrow,
        },
        grant_seconds: s.limits.grant_seconds,
        max_request_seconds: MAX_REQUEST_LIFETIME,
        max_dataset_bytes: s.limits.max_dataset_bytes,
        max_files: s.limits.max_files,
        relayer: s.payments.relayer_url().map(str::to_owned),
    })
}

/// Builds the router: the documented routes, `/openapi.json`, and the envelope for what no
/// route answers.
pub fn router(state: AppState) -> Router {
    let (router, doc) = routes().split_for_parts();
    let doc = Arc::new(Document(
        document(doc)
            .to_json()
            .expect("the OpenAPI document serializes"),
    ));
    router
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(Extension(doc))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.limits.max_body_bytes,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

#[cfg(test)]
mod tests {
    /// `docs/api/gateway.openapi.json` is the document the gateway serves, so that an
    /// integrator can read it without running one.
    #[test]
    fn the_committed_document_is_the_generated_one() {
        let doc = serde_json::to_string_pretty(&super::openapi()).unwrap();
        fairtrain_testkit::golden::check("docs/api/gateway.openapi.json", &(doc + "\n"));
    }
}
