//! The HTTP API (axum). `openapi.json` (served at `/openapi.json`) documents every route; a
//! test checks that the two agree.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Instant,
};

use alloy::primitives::{Address, B256, U256};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use fairtrain_protocol::{wire::SignedReceipt, EscrowDomain};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::{
    batcher::{proof_of, signed_receipt},
    chain::SharedState,
    claims,
    config::Limits,
    ingest::{verify_signatures, Ingest, IngestError, Outcome, Verified},
    proofs::{self, Cursor},
    rejection::Rejection,
    store::{ReceiptRow, Store, StoreError},
    util::hex0x,
};

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Every route as `(method, OpenAPI path)`; `openapi.json` documents exactly these (tested).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/v1/info"),
    ("get", "/v1/status"),
    ("post", "/v1/receipts"),
    ("post", "/v1/receipts/bulk"),
    ("get", "/v1/receipts/{digest}"),
    ("get", "/v1/batches"),
    ("get", "/v1/batches/{id}"),
    ("get", "/v1/data/{hash}"),
    ("get", "/v1/licenses/{licenseId}/proofs"),
    ("get", "/v1/payees/{address}/proofs"),
    ("post", "/v1/claims"),
];

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// The ingest pipeline.
    pub ingest: Ingest,
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

/// A token bucket.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Builds the router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi))
        .route("/v1/info", get(info))
        .route("/v1/status", get(status))
        .route("/v1/receipts", post(submit_one))
        .route("/v1/receipts/bulk", post(submit_bulk))
        .route("/v1/receipts/{digest}", get(receipt))
        .route("/v1/batches", get(batches))
        .route("/v1/batches/{id}", get(batch))
        .route("/v1/data/{hash}", get(data))
        .route("/v1/licenses/{licenseId}/proofs", get(license_proofs))
        .route("/v1/payees/{address}/proofs", get(payee_proofs))
        .route("/v1/claims", post(claim))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.limits.max_body_bytes,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// An API error: status and `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// The machine-readable code.
    pub const fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status.
    pub const fn status(&self) -> StatusCode {
        self.status
    }

    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": { "code": self.code, "message": self.message } })),
        )
            .into_response()
    }
}

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

fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            e.body_text(),
        )
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", e.body_text())
    }
}

async fn health() -> &'static str {
    "ok"
}

async fn ready(State(s): State<AppState>) -> Response {
    let store = s.store.ping().await;
    let chain = s.caught_up.load(Ordering::Relaxed);
    let status = if store && chain {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "store": store, "chainFollowed": chain })),
    )
        .into_response()
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn info(State(s): State<AppState>) -> Json<Value> {
    let chain = s.chain.read().expect("state lock");
    Json(json!({
        "relayer": s.relayer,
        "domain": {
            "name": fairtrain_protocol::domain::DOMAIN_NAME,
            "version": fairtrain_protocol::domain::DOMAIN_VERSION,
            "chainId": s.domain.chain_id().to_string(),
            "verifyingContract": s.domain.verifying_contract(),
        },
        "followedBlock": chain.block.to_string(),
        "chainTime": chain.timestamp.to_string(),
        "limits": { "maxBodyBytes": s.limits.max_body_bytes, "maxBulk": s.limits.max_bulk },
    }))
}

async fn status(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let counts: HashMap<String, i64> = s.store.receipt_counts().await?.into_iter().collect();
    let claims: HashMap<String, i64> = s.store.claim_counts().await?.into_iter().collect();
    let releases: HashMap<String, i64> = s.store.job_counts("release").await?.into_iter().collect();
    let batches = s.store.batches(1).await?;
    Ok(Json(json!({
        "receipts": counts,
        "claims": claims,
        "releases": releases,
        "latestBatch": batches.first(),
        "followedBlock": s.chain.read().expect("state lock").block.to_string(),
    })))
}

/// Decodes one receipt from a JSON value, naming the problem.
fn decode(value: Value) -> Result<SignedReceipt, Rejection> {
    serde_json::from_value(value).map_err(|e| Rejection::Malformed(e.to_string()))
}

/// Decodes the body of `POST /v1/receipts`.
///
/// # Errors
///
/// [`Rejection::Malformed`] for anything but one well-formed receipt.
pub fn decode_one(body: &[u8]) -> Result<SignedReceipt, Rejection> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Rejection::Malformed(e.to_string()))?;
    decode(value)
}

/// Decodes the body of `POST /v1/receipts/bulk` (the decoder the handler runs): a JSON array of
/// at most `max` items, each decoded on its own (one bad item does not spoil the others).
///
/// # Errors
///
/// `malformed` (400) when the body is not a JSON array, `too_many_receipts` (413) when it has
/// more than `max` items.
pub fn decode_bulk(
    body: &[u8],
    max: usize,
) -> Result<Vec<Result<SignedReceipt, Rejection>>, ApiError> {
    let items: Vec<Value> = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            format!("expected a JSON array of receipts: {e}"),
        )
    })?;
    if items.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_receipts",
            format!("{} receipts, at most {max} per request", items.len()),
        ));
    }
    Ok(items.into_iter().map(decode).collect())
}

/// Token-bucket rate limit per registered signer. Unregistered signers are not tracked (they
/// are refused anyway), so the table is bounded by the registered keys.
fn rate_limit(
    s: &AppState,
    items: Vec<Result<Verified, Rejection>>,
) -> Vec<Result<Verified, Rejection>> {
    let chain = s.chain.read().expect("state lock");
    let mut buckets = s.buckets.lock().expect("bucket lock");
    let now = Instant::now();
    let (rate, burst) = (
        f64::from(s.limits.signer_rate),
        f64::from(s.limits.signer_burst),
    );
    items
        .into_iter()
        .map(|item| {
            let v = item?;
            if !chain.signers.contains_key(&(v.receipt.payer, v.signer)) {
                return Ok(v);
            }
            let b = buckets.entry(v.signer).or_insert(Bucket {
                tokens: burst,
                at: now,
            });
            b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
            b.at = now;
            if b.tokens < 1.0 {
                return Err(Rejection::RateLimited {
                    signer: v.signer.to_string(),
                });
            }
            b.tokens -= 1.0;
            Ok(v)
        })
        .collect()
}

/// Runs decoded receipts through verification, rate limiting and the writer, keeping order.
async fn run_pipeline(
    s: &AppState,
    decoded: Vec<Result<SignedReceipt, Rejection>>,
) -> Result<Vec<Result<Outcome, Rejection>>, ApiError> {
    let _permit = s.inflight.try_acquire().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many submissions in flight; retry",
        )
    })?;
    let mut slots: Vec<Option<Result<Outcome, Rejection>>> = vec![None; decoded.len()];
    let mut good = Vec::new();
    let mut good_at = Vec::new();
    for (i, d) in decoded.into_iter().enumerate() {
        match d {
            Ok(r) => {
                good.push(r);
                good_at.push(i);
            }
            Err(e) => slots[i] = Some(Err(e)),
        }
    }
    let verified = rate_limit(s, verify_signatures(&s.domain, good).await);
    let mut to_write = Vec::new();
    let mut write_at = Vec::new();
    for (i, v) in good_at.into_iter().zip(verified) {
        match v {
            Ok(v) => {
                to_write.push(v);
                write_at.push(i);
            }
            Err(e) => slots[i] = Some(Err(e)),
        }
    }
    if !to_write.is_empty() {
        let outcomes = s.ingest.submit(to_write).await?;
        for (i, o) in write_at.into_iter().zip(outcomes) {
            slots[i] = Some(Ok(o));
        }
    }
    Ok(slots
        .into_iter()
        .map(|s| s.expect("every slot filled"))
        .collect())
}

async fn submit_one(
    State(s): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(body_error)?;
    let receipt = decode_one(&body)?;
    let mut out = run_pipeline(&s, vec![Ok(receipt)]).await?;
    match out.pop().expect("one result") {
        Ok(Outcome::Rejected { reason }) => Err(ApiError::new(
            rejection_status(reason.code),
            reason.code,
            reason.message,
        )),
        Ok(o @ Outcome::Accepted { .. }) => Ok((StatusCode::CREATED, Json(o)).into_response()),
        Ok(o) => Ok((StatusCode::OK, Json(o)).into_response()),
        Err(r) => Err(r.into()),
    }
}

fn rejection_status(code: &str) -> StatusCode {
    match code {
        "malformed" => StatusCode::BAD_REQUEST,
        "rate_limited" => StatusCode::TOO_MANY_REQUESTS,
        "cumulative_not_increasing" => StatusCode::CONFLICT,
        "insufficient_budget" => StatusCode::PAYMENT_REQUIRED,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// The response of a bulk submission.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BulkResponse {
    accepted: usize,
    duplicates: usize,
    rejected: usize,
    results: Vec<Value>,
}

async fn submit_bulk(
    State(s): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BulkResponse>, ApiError> {
    let body = body.map_err(body_error)?;
    let decoded = decode_bulk(&body, s.limits.max_bulk)?;
    let out = run_pipeline(&s, decoded).await?;
    let mut resp = BulkResponse {
        accepted: 0,
        duplicates: 0,
        rejected: 0,
        results: Vec::with_capacity(out.len()),
    };
    for o in out {
        let o = o.unwrap_or_else(|r| Outcome::Rejected {
            reason: (&r).into(),
        });
        match &o {
            Outcome::Accepted { .. } => resp.accepted += 1,
            Outcome::Duplicate { .. } => resp.duplicates += 1,
            Outcome::Rejected { .. } => resp.rejected += 1,
        }
        resp.results
            .push(serde_json::to_value(o).expect("plain data"));
    }
    Ok(Json(resp))
}

fn parse_hash(text: &str) -> Result<B256, ApiError> {
    text.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "expected a 0x-prefixed 32-byte hex hash",
        )
    })
}

/// A receipt with what a payee needs to claim it.
fn claimable(row: &ReceiptRow, root: Option<&str>) -> Result<Value, ApiError> {
    let signed = signed_receipt(row)?;
    Ok(json!({
        "digest": row.digest,
        "status": row.status,
        "batchId": row.batch_id,
        "root": root,
        "receipt": signed,
        "proof": proof_of(row)?.iter().map(hex0x).collect::<Vec<_>>(),
        "amount": row.amount,
        "token": row.token,
        "claimTx": row.claim_tx,
    }))
}

async fn receipt(
    State(s): State<AppState>,
    Path(digest): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let digest = hex0x(parse_hash(&digest)?);
    let row = s
        .store
        .receipt(&digest)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such receipt"))?;
    let root = match row.batch_id {
        Some(id) => s.store.batch(id).await?.map(|b| b.root),
        None => None,
    };
    Ok(Json(claimable(&row, root.as_deref())?))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
}

async fn batches(
    State(s): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1_000);
    Ok(Json(json!({ "batches": s.store.batches(limit).await? })))
}

async fn batch(State(s): State<AppState>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    let b = s
        .store
        .batch(id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such batch"))?;
    let txs = s.store.txs("commit", id).await?;
    Ok(Json(
        json!({ "batch": b, "transactions": txs.iter().map(|t| json!({
        "hash": t.hash, "nonce": t.nonce, "attempt": t.attempt, "maxFeePerGas": t.max_fee,
    })).collect::<Vec<_>>() }),
    ))
}

async fn data(State(s): State<AppState>, Path(hash): Path<String>) -> Result<Response, ApiError> {
    let hash = hex0x(parse_hash(&hash)?);
    let body = s.store.batch_data(&hash).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no batch data with this hash",
        )
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response())
}

/// `?limit=` (clamped to `limits.max_proofs_page`) and `?after=` (the `next` of the previous
/// page) of the proofs routes.
#[derive(Deserialize)]
struct ProofsQuery {
    limit: Option<usize>,
    after: Option<String>,
}

/// One page of the claimable receipts of `licenses` (see [`crate::proofs`]), each with what a
/// payee needs to claim it, and the cursor of the next page.
async fn proofs_of_licenses(
    s: &AppState,
    licenses: &[U256],
    q: &ProofsQuery,
) -> Result<(Vec<Value>, Option<String>), ApiError> {
    let after = q
        .after
        .as_deref()
        .map(str::parse::<Cursor>)
        .transpose()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed", e.to_string()))?;
    let max = s.limits.max_proofs_page;
    let limit = q.limit.unwrap_or(max).clamp(1, max);
    let chain = &s.chain;
    let page = proofs::page(&s.store, licenses, after, limit, |key| {
        chain
            .read()
            .expect("state lock")
            .settled
            .get(&key)
            .copied()
            .unwrap_or(0)
    })
    .await?;
    let mut out = Vec::with_capacity(page.rows.len());
    let mut roots: HashMap<i64, String> = HashMap::new();
    for row in &page.rows {
        let id = row.batch_id.unwrap_or_default();
        if let std::collections::hash_map::Entry::Vacant(e) = roots.entry(id) {
            e.insert(s.store.batch(id).await?.map(|b| b.root).unwrap_or_default());
        }
        out.push(claimable(row, roots.get(&id).map(String::as_str))?);
    }
    Ok((out, page.next.map(|c| c.to_string())))
}

async fn license_proofs(
    State(s): State<AppState>,
    Path(license_id): Path<String>,
    Query(q): Query<ProofsQuery>,
) -> Result<Json<Value>, ApiError> {
    let license: U256 = license_id.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "license id must be a decimal integer",
        )
    })?;
    let (claims, next) = proofs_of_licenses(&s, &[license], &q).await?;
    Ok(Json(
        json!({ "licenseId": license.to_string(), "claims": claims, "next": next }),
    ))
}

async fn payee_proofs(
    State(s): State<AppState>,
    Path(address): Path<String>,
    Query(q): Query<ProofsQuery>,
) -> Result<Json<Value>, ApiError> {
    let payee: Address = address.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "expected a 0x-prefixed address",
        )
    })?;
    let mut licenses: Vec<U256> = s
        .chain
        .read()
        .expect("state lock")
        .holders
        .iter()
        .filter(|(_, holder)| **holder == payee)
        .map(|(id, _)| *id)
        .collect();
    licenses.sort();
    let (claims, next) = proofs_of_licenses(&s, &licenses, &q).await?;
    Ok(Json(json!({
        "payee": payee,
        "licenses": licenses.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "claims": claims,
        "next": next,
    })))
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

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClaimRequest {
    batch_id: Option<i64>,
}

async fn claim(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&s, &headers)?;
    let body = body.map_err(body_error)?;
    let req: ClaimRequest = if body.is_empty() {
        ClaimRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed", e.to_string()))?
    };
    let ids = claims::request(&s.store, req.batch_id, s.claims_per_tx).await?;
    Ok(Json(json!({ "claimJobs": ids })))
}
