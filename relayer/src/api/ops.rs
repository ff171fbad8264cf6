//! Service routes (health, readiness, metrics, this document, info, status) and the operator's
//! claim request.

use std::{
    collections::BTreeMap,
    sync::{atomic::Ordering, Arc},
};

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use fairtrain_protocol::api::{
    relayer::{ClaimRequest, ClaimResponse, DomainInfo, Info, InfoLimits, Ready, Status},
    ErrorBody,
};

use super::{
    error::{json_body, ApiError},
    AppState,
};
use crate::{claims, store::JobKind};

/// The OpenAPI document, rendered once.
pub(super) struct Document(pub String);

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "service",
    responses((status = 200, description = "alive", body = String, content_type = "text/plain")))]
pub(super) async fn health() -> &'static str {
    "ok"
}

/// Readiness: the store answers and the chain is followed to the head.
#[utoipa::path(get, path = "/ready", tag = "service", responses(
    (status = 200, description = "ready", body = Ready),
    (status = 503, description = "not ready", body = Ready)))]
pub(super) async fn ready(State(s): State<AppState>) -> Response {
    let store = s.store.ping().await;
    let chain_followed = s.caught_up.load(Ordering::Relaxed);
    let status = if store && chain_followed {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Ready {
            store,
            chain_followed,
        }),
    )
        .into_response()
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "service", responses(
    (status = 200, description = "Prometheus text exposition format", body = String,
        content_type = "text/plain")))]
pub(super) async fn metrics_text(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

/// This document (OpenAPI 3.1), generated from the handlers' types.
#[utoipa::path(get, path = "/openapi.json", tag = "service", responses(
    (status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub(super) async fn openapi_json(Extension(doc): Extension<Arc<Document>>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], doc.0.clone()).into_response()
}

/// The relayer's address, the EIP-712 domain receipts must be signed under, and its limits.
#[utoipa::path(get, path = "/v1/info", tag = "service",
    responses((status = 200, description = "info", body = Info)))]
pub(super) async fn info(State(s): State<AppState>) -> Json<Info> {
    let chain = s.chain.read().expect("state lock");
    Json(Info {
        relayer: s.relayer,
        domain: DomainInfo {
            name: fairtrain_protocol::domain::DOMAIN_NAME.to_owned(),
            version: fairtrain_protocol::domain::DOMAIN_VERSION.to_owned(),
            chain_id: s.domain.chain_id(),
            verifying_contract: s.domain.verifying_contract(),
        },
        followed_block: chain.block,
        chain_time: chain.timestamp,
        limits: InfoLimits {
            max_body_bytes: s.limits.max_body_bytes,
            max_bulk: s.limits.max_bulk,
            max_proofs_page: s.limits.max_proofs_page,
        },
    })
}

/// Receipt counts by status, claim jobs by state (and `claimedReceipts`), line release jobs by
/// state, the latest batch and the followed block.
#[utoipa::path(get, path = "/v1/status", tag = "service", responses(
    (status = 200, description = "status", body = Status),
    (status = 503, description = "`store_unavailable`", body = ErrorBody)))]
pub(super) async fn status(State(s): State<AppState>) -> Result<Json<Status>, ApiError> {
    let map = |rows: Vec<(String, i64)>| rows.into_iter().collect::<BTreeMap<_, _>>();
    let receipts = map(s.store.receipt_counts().await?);
    let claims = map(s.store.claim_counts().await?);
    let releases = map(s.store.job_counts(JobKind::Release).await?);
    let latest_batch = match s.store.batches(1).await?.first() {
        Some(b) => Some(b.to_api()?),
        None => None,
    };
    Ok(Json(Status {
        receipts,
        claims,
        releases,
        latest_batch,
        followed_block: s.chain.read().expect("state lock").block,
    }))
}

fn authorize(s: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = s.operator_token.as_deref() else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "operator_disabled",
            "no operator token configured",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Constant-time comparison.
    let ok = given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong operator bearer token",
        ))
    }
}

/// Operator: queue claims (sponsored gas) for the unclaimed receipts of confirmed batches, or
/// of one batch. An empty body claims every confirmed batch.
#[utoipa::path(post, path = "/v1/claims", tag = "operator",
    request_body(content = ClaimRequest, description = "optional: an empty body claims every confirmed batch"),
    security(("operator" = [])),
    responses(
        (status = 200, description = "the claim jobs queued", body = ClaimResponse),
        (status = 400, description = "`malformed`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`operator_disabled`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody)))]
pub(super) async fn claim(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ClaimResponse>, ApiError> {
    authorize(&s, &headers)?;
    let body = json_body(&headers, body)?;
    let req: ClaimRequest = if body.is_empty() {
        ClaimRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::malformed(e.to_string()))?
    };
    if let Some(id) = req.batch_id.filter(|id| *id < 1) {
        return Err(ApiError::out_of_range(format!(
            "batchId {id}: batch ids start at 1"
        )));
    }
    let claim_jobs = claims::request(&s.store, req.batch_id, s.claims_per_tx).await?;
    Ok(Json(ClaimResponse { claim_jobs }))
}
