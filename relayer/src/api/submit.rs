//! Receipt submission: decoding, signature recovery, per-signer rate limits and the writer,
//! for one receipt (`POST /v1/receipts`) or many (`POST /v1/receipts/bulk`).

use std::time::Instant;

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use fairtrain_protocol::{
    api::{
        relayer::{BulkResponse, Outcome},
        ErrorBody,
    },
    wire::SignedReceipt,
};
use serde_json::Value;

use super::{
    error::{json_body, ApiError},
    AppState,
};
use crate::{
    ingest::{verify_signatures, Verified},
    rejection::{self, Rejection},
};

/// A token bucket.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
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
    let items: Vec<Value> = serde_json::from_slice(body)
        .map_err(|e| ApiError::malformed(format!("expected a JSON array of receipts: {e}")))?;
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

/// Takes a refusal out of the pipeline into its slot, counted (the writer counts its own).
fn refuse(slot: &mut Option<Outcome>, r: Rejection) {
    r.count();
    *slot = Some(r.into());
}

/// Runs decoded receipts through verification, rate limiting and the writer, keeping order.
async fn run_pipeline(
    s: &AppState,
    decoded: Vec<Result<SignedReceipt, Rejection>>,
) -> Result<Vec<Outcome>, ApiError> {
    let _permit = s.inflight.try_acquire().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many submissions in flight; retry",
        )
    })?;
    let mut slots: Vec<Option<Outcome>> = vec![None; decoded.len()];
    let mut good = Vec::new();
    let mut good_at = Vec::new();
    for (i, d) in decoded.into_iter().enumerate() {
        match d {
            Ok(r) => {
                good.push(r);
                good_at.push(i);
            }
            Err(e) => refuse(&mut slots[i], e),
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
            Err(e) => refuse(&mut slots[i], e),
        }
    }
    if !to_write.is_empty() {
        let outcomes = s.ingest.submit(to_write).await?;
        for (i, o) in write_at.into_iter().zip(outcomes) {
            slots[i] = Some(o);
        }
    }
    Ok(slots
        .into_iter()
        .map(|s| s.expect("every slot filled"))
        .collect())
}

/// Submit one signed receipt: 201 when stored for the first time (acknowledged only after the
/// store commits), 200 when already stored (idempotent); a refusal answers in the error
/// envelope with its rejection code.
#[utoipa::path(post, path = "/v1/receipts", tag = "receipts", request_body = SignedReceipt,
    responses(
        (status = 201, description = "accepted", body = Outcome),
        (status = 200, description = "duplicate", body = Outcome),
        (status = 400, description = "`malformed`", body = ErrorBody),
        (status = 402, description = "`insufficient_budget`", body = ErrorBody),
        (status = 409, description = "`cumulative_not_increasing`", body = ErrorBody),
        (status = 413, description = "`body_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`invalid_signature`, `signer_not_registered`, \
            `signer_revoked`, `terms_not_accepted`, `receipt_after_expiry`, `no_credit_line`",
            body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 503, description = "`overloaded`, `store_unavailable`", body = ErrorBody)))]
pub(super) async fn submit_one(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(&headers, body)?;
    let receipt = decode_one(&body).inspect_err(Rejection::count)?;
    let mut out = run_pipeline(&s, vec![Ok(receipt)]).await?;
    match out.pop().expect("one result") {
        Outcome::Rejected { code, message } => {
            Err(ApiError::new(rejection::status_of(&code), code, message))
        }
        o @ Outcome::Accepted { .. } => Ok((StatusCode::CREATED, Json(o)).into_response()),
        o @ Outcome::Duplicate { .. } => Ok((StatusCode::OK, Json(o)).into_response()),
    }
}

/// Submit an array of signed receipts (at most `limits.maxBulk` of `/v1/info`): one outcome
/// per item, in order. Accepted items are stored in one transaction before the answer.
#[utoipa::path(post, path = "/v1/receipts/bulk", tag = "receipts",
    request_body(content = Vec<serde_json::Value>, description = "an array of `SignedReceipt`s \
        (the schema of `POST /v1/receipts`); each item is decoded on its own, and one that is \
        not a receipt is refused in its own result (`malformed`), not the whole request"),
    responses(
        (status = 200, description = "one outcome per item", body = BulkResponse),
        (status = 400, description = "`malformed`: not a JSON array", body = ErrorBody),
        (status = 413, description = "`body_too_large`, `too_many_receipts`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 503, description = "`overloaded`, `store_unavailable`", body = ErrorBody)))]
pub(super) async fn submit_bulk(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BulkResponse>, ApiError> {
    let body = json_body(&headers, body)?;
    let decoded = decode_bulk(&body, s.limits.max_bulk).inspect_err(|e| {
        if e.code() == "malformed" {
            Rejection::Malformed(String::new()).count();
        }
    })?;
    let results = run_pipeline(&s, decoded).await?;
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|o| f(o)).count();
    Ok(Json(BulkResponse {
        accepted: count(|o| matches!(o, Outcome::Accepted { .. })),
        duplicates: count(|o| matches!(o, Outcome::Duplicate { .. })),
        rejected: count(|o| matches!(o, Outcome::Rejected { .. })),
        results,
    }))
}
