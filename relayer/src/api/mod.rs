//! The HTTP API (axum). Every route is declared with its OpenAPI operation
//! (`#[utoipa::path]`) and routed through utoipa-axum's `routes!`, so the document served at
//! `/openapi.json` ([`openapi`]) and the router are built from the same list: a route cannot be
//! served undocumented or documented unserved. Request and response types live in
//! `fairtrain_protocol::api::relayer`, errors in the one envelope of [`error`].

mod error;
mod ops;
mod query;
mod submit;

use std::{
    collections::HashMap,
    sync::{atomic::AtomicBool, Arc, Mutex},
};

use alloy::primitives::Address;
use axum::{Extension, Router};
use fairtrain_protocol::EscrowDomain;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Semaphore;
use utoipa::openapi::{
    path::Parameter,
    schema::Schema,
    security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    OpenApi, RefOr,
};
use utoipa_axum::{router::OpenApiRouter, routes};

pub use error::ApiError;
pub use submit::{decode_bulk, decode_one, Bucket};

use crate::{chain::SharedState, config::Limits, store::Store};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// The ingest pipeline.
    pub ingest: crate::ingest::Ingest,
    /// Chain state followed from events.
    pub chain: SharedState,
    /// The escrow's EIP-712 domain.
    pub domain: EscrowDomain,
    /// This relayer's address.
    pub relayer: Address,
    /// Operator bearer token (operator endpoints are disabled without one).
    pub operator_token: Option<Arc<str>>,
    /// Input limits.
    pub limits: Limits,
    /// Receipts per claim transaction.
    pub claims_per_tx: usize,
    /// Whether the chain follower has caught up.
    pub caught_up: Arc<AtomicBool>,
    /// Prometheus renderer.
    pub metrics: PrometheusHandle,
    /// Per-signer token buckets.
    pub buckets: Arc<Mutex<HashMap<Address, Bucket>>>,
    /// Submissions being verified or written at once (bounds memory under a flood).
    pub inflight: Arc<Semaphore>,
}

/// The routes with their operations: the one list the router and the document come from.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ops::health))
        .routes(routes!(ops::ready))
        .routes(routes!(ops::metrics_text))
        .routes(routes!(ops::openapi_json))
        .routes(routes!(ops::info))
        .routes(routes!(ops::status))
        .routes(routes!(ops::claim))
        .routes(routes!(submit::submit_one))
        .routes(routes!(submit::submit_bulk))
        .routes(routes!(query::receipt))
        .routes(routes!(query::batches))
        .routes(routes!(query::batch))
        .routes(routes!(query::data))
        .routes(routes!(query::license_proofs))
        .routes(routes!(query::payee_proofs))
}

/// The OpenAPI document of this API for `limits` (the proofs pages' `limit` is bounded by
/// `limits.max_proofs_page`).
pub fn openapi(limits: &Limits) -> OpenApi {
    document(routes().into_openapi(), limits)
}

/// Fills in what the operations cannot say themselves: title, the operator's security scheme,
/// and the configured page bound.
fn document(mut doc: OpenApi, limits: &Limits) -> OpenApi {
    doc.info.title = "Fairtrain relayer".to_owned();
    doc.info.version = "1".to_owned();
    doc.info.description = Some(
        "Submit signed usage receipts; query receipts, batches, batch data and payees' proofs. \
         Every error answers {\"error\": {\"code\", \"message\"}} with a stable code \
         (docs/relayer.md lists them)."
            .to_owned(),
    );
    doc.info.license = None;
    doc.info.contact = None;
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "operator",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("operator_token from the configuration"))
                .build(),
        ),
    );
    for (path, item) in &mut doc.paths.paths {
        if !path.ends_with("/proofs") {
            continue;
        }
        let Some(get) = item.get.as_mut() else {
            continue;
        };
        for p in get.parameters.iter_mut().flatten() {
            if let RefOr::T(p) = p {
                bound_page_limit(p, limits.max_proofs_page);
            }
        }
    }
    doc
}

/// Sets the `maximum` of a proofs page's `limit` parameter to the configured page size.
fn bound_page_limit(p: &mut Parameter, max: usize) {
    if p.name != query::PAGE_LIMIT {
        return;
    }
    if let Some(RefOr::T(Schema::Object(o))) = p.schema.as_mut() {
        o.maximum = Some((max as f64).into());
    }
}

/// Builds the router: the documented routes, `/openapi.json`, and the envelope for what no
/// route answers (404 `not_found`, 405 `method_not_allowed`).
pub fn router(state: AppState) -> Router {
    let (router, doc) = routes().split_for_parts();
    let doc = Arc::new(ops::Document(
        document(doc, &state.limits)
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
    use crate::config::Limits;

    /// `docs/api/relayer.openapi.json` is the document the relayer serves with default limits,
    /// so that an integrator can read it without running a relayer.
    #[test]
    fn the_committed_document_is_the_generated_one() {
        let doc = serde_json::to_string_pretty(&super::openapi(&Limits::default())).unwrap();
        fairtrain_testkit::golden::check("docs/api/relayer.openapi.json", &(doc + "\n"));
    }
}
