//! Access to a dataset's files: a signed access request obtains a grant when the chain entitles
//! the payer; files are downloaded with the grant (whole, or by `Range` to resume); every grant
//! and download is logged, and the log is public.

use alloy::primitives::B256;
use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    response::Response,
    Json,
};
use fairtrain_protocol::{
    api::{
        gateway::{AccessPage, Grant},
        ErrorBody,
    },
    gateway::AccessCall,
    pricing::Unit,
    reuse,
};
use serde::Deserialize;

use super::{
    datasets::{check_expiry, check_gateway, next_after, Page},
    error::{ApiError, ApiPath, ApiQuery},
    now, AppState,
};
use crate::{
    entitle::Ask,
    store::{AccessKey, Logged},
};

/// The longest `Range` header logged, in characters (the rest is cut).
const MAX_LOGGED_RANGE: usize = 200;

/// Grants access to a dataset's files: the request must name this gateway, be unexpired, be
/// signed by the payer or a key it registered, and the chain must entitle the payer (an
/// acceptance of the license's terms, unexpired, not exclusive to another). Under terms priced
/// per access, the request also carries the receipt that pays for it, which the gateway's
/// relayer must store first. Each signed request is granted once.
#[utoipa::path(post, path = "/v1/access", tag = "access", request_body = AccessCall,
    responses(
        (status = 200, description = "granted", body = Grant),
        (status = 400, description = "malformed, receipt_mismatch", body = ErrorBody),
        (status = 401, description = "bad_signature, request_expired, request_too_long, wrong_gateway", body = ErrorBody),
        (status = 402, description = "terms priced per access: receipt_required, or payment_refused (the relayer refused the receipt)", body = ErrorBody),
        (status = 403, description = "the chain does not entitle the payer (terms_not_accepted, terms_expired, exclusive_to_another, signer_not_registered, manifest_mismatch, not_creators_license, not_chargeable_yet)", body = ErrorBody),
        (status = 404, description = "unknown_license, or the dataset is not published here", body = ErrorBody),
        (status = 409, description = "replayed, or dataset_incomplete", body = ErrorBody),
        (status = 503, description = "chain_unavailable, store_unavailable, overloaded, relayer_unavailable, no_relayer", body = ErrorBody)))]
pub(super) async fn access(
    State(s): State<AppState>,
    body: Result<Json<AccessCall>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Grant>, ApiError> {
    let Json(call) = body.map_err(ApiError::from_json)?;
    let (signed, receipt) = call.into_parts();
    let request = &signed.request;
    check_gateway(&request.gateway, &s)?;
    check_expiry(request.expires_at, now())?;
    let signer = signed
        .signer(&s.domain)
        .map_err(|e| ApiError::unauthorized("bad_signature", e.to_string()))?;
    let access_id = signed.digest(&s.domain);
    if s.store.grant(access_id).await?.is_some() {
        return Err(replayed());
    }
    let dataset = s
        .store
        .dataset(request.manifest_hash)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "dataset {} is not published here",
                request.manifest_hash
            ))
        })?;
    if !dataset.complete {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "dataset_incomplete",
            format!(
                "{} of {} files are uploaded so far",
                dataset.files_stored, dataset.file_count
            ),
        ));
    }
    let entitled = s
        .entitlements
        .check(&Ask {
            payer: request.payer,
            signer,
            license: request.license_id,
            terms: request.terms_id,
            manifest: request.manifest_hash,
            creator: dataset.creator,
        })
        .await?;
    // Paid before it is logged: a request whose grant is then refused as a replay (the same
    // request twice at once) paid nothing twice, as the relayer stores a receipt once.
    let receipt = match entitled.unit {
        Unit::Access => Some(
            s.payments
                .charge(request, access_id, receipt.as_ref())
                .await?,
        ),
        Unit::Sample | Unit::Inference => None,
    };
    let key = AccessKey {
        access_id,
        manifest_hash: request.manifest_hash,
        payer: request.payer,
        signer,
        license_id: request.license_id,
        terms_id: request.terms_id,
    };
    let now = now();
    if s.store.log_grant(&key, receipt, now).await? == Logged::Replayed {
        return Err(replayed());
    }
    let expires_at = now + s.limits.grant_seconds;
    Ok(Json(Grant {
        access_id,
        manifest_hash: request.manifest_hash,
        license_id: request.license_id,
        terms_id: request.terms_id,
        payer: request.payer,
        chargeable_from: entitled.chargeable_from,
        expires_at,
        unit: entitled.unit,
        receipt,
        token: s
            .grant_key
            .issue(request.manifest_hash, access_id, expires_at),
        files: format!(
            "{}/v1/datasets/{}/files",
            s.public_url, request.manifest_hash
        ),
    }))
}

fn replayed() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "replayed",
        "this signed request was granted before: sign a new one (a fresh nonce)",
    )
}

/// `?grant=` of a download.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct GrantQuery {
    /// The grant's token.
    grant: String,
}

/// Downloads one file with a grant: the whole file, or the `Range` asked (a resumed download
/// asks for `bytes=<from>-`). The `ETag` is the file's keccak256.
#[utoipa::path(get, path = "/v1/datasets/{hash}/files/{*path}", tag = "access",
    params(("hash" = String, Path, description = "manifest hash"),
           ("*path" = String, Path, description = "the file's path, percent-encoded"),
           GrantQuery),
    responses(
        (status = 200, description = "the file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "the range asked", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, description = "grant_malformed, grant_invalid, grant_expired", body = ErrorBody),
        (status = 404, description = "no such file", body = ErrorBody),
        (status = 416, description = "a range outside the file")))]
pub(super) async fn download(
    State(s): State<AppState>,
    ApiPath((hash, path)): ApiPath<(B256, String)>,
    ApiQuery(query): ApiQuery<GrantQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let access_id = s.grant_key.check(&query.grant, hash, now())?;
    let key =
        s.store.grant(access_id).await?.ok_or_else(|| {
            ApiError::new(StatusCode::FORBIDDEN, "grant_invalid", "no such grant")
        })?;
    let file = s
        .store
        .file(hash, &path)
        .await?
        .filter(|f| f.is_stored())
        .ok_or_else(|| ApiError::not_found(format!("dataset {hash} serves no file {path:?}")))?;
    let range = request.headers().get(header::RANGE).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(MAX_LOGGED_RANGE)
            .collect::<String>()
    });
    s.store
        .log_download(&key, &path, range.as_deref(), now())
        .await?;
    let served = s.blobs.serve(file.hash, file.size, request).await?;
    let (mut parts, body) = served.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", file.hash)) {
        parts.headers.insert(header::ETAG, etag);
    }
    parts.headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    // Licensed data: mining reserved, no AI training without the license (docs/gateway.md §5).
    parts.headers.insert(
        reuse::TDM_RESERVATION_HEADER,
        HeaderValue::from_static(reuse::TDM_RESERVATION),
    );
    parts.headers.insert(
        reuse::CONTENT_USAGE_HEADER,
        HeaderValue::from_static(reuse::CONTENT_USAGE),
    );
    Ok(Response::from_parts(parts, body))
}

/// The access log of every dataset, in order, a page at a time (what the indexer's catalog
/// reads to show each dataset's accesses on its card).
#[utoipa::path(get, path = "/v1/accesses", tag = "access", params(Page),
    responses((status = 200, description = "a page", body = AccessPage)))]
pub(super) async fn all_accesses(
    State(s): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<AccessPage>, ApiError> {
    access_page(&s, None, &page).await
}

/// A dataset's access log, for its creator and auditors: every grant and every download, in
/// order, a page at a time.
#[utoipa::path(get, path = "/v1/datasets/{hash}/accesses", tag = "access",
    params(("hash" = String, Path, description = "manifest hash"), Page),
    responses((status = 200, description = "a page", body = AccessPage)))]
pub(super) async fn accesses(
    State(s): State<AppState>,
    ApiPath(hash): ApiPath<B256>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<AccessPage>, ApiError> {
    access_page(&s, Some(hash), &page).await
}

/// A page of the access log: of dataset `hash`, or of every dataset.
async fn access_page(
    s: &AppState,
    hash: Option<B256>,
    page: &Page,
) -> Result<Json<AccessPage>, ApiError> {
    let (after, limit) = page.bounds(s.limits.max_page)?;
    let accesses = s.store.accesses(hash, after, limit).await?;
    let next = next_after(&accesses, limit, |a| a.seq);
    Ok(Json(AccessPage { accesses, next }))
}
