//! Publishing and describing datasets: public routes.
//!
//! A creator publishes in two steps: `POST /v1/datasets` with the signed manifest and its signed
//! publish request, then `PUT /v1/datasets/{hash}/files/{path}` with each file's bytes. A file
//! is stored only if its bytes have the size and keccak256 the manifest lists, so nobody can
//! store other bytes under a manifest; uploads need no signature of their own.

use alloy::primitives::B256;
use axum::{
    body::Body,
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use fairtrain_protocol::{
    api::{
        gateway::{Dataset, DatasetPage, FilePage, FileProof, Publish, Stored},
        ErrorBody,
    },
    gateway::MAX_REQUEST_LIFETIME,
    DatasetManifest,
};
use serde::Deserialize;

use super::{
    error::{ApiError, ApiPath, ApiQuery},
    now, AppState,
};

/// `?after=&limit=` of a list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Page {
    /// The `next` of the previous page (absent: from the start).
    after: Option<u64>,
    /// Most entries, 1 to the gateway's page size (1,000 by default; also the default).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

impl Page {
    /// `after` and `limit` (default `max`).
    ///
    /// # Errors
    ///
    /// 400 `malformed` for an `after` past what a position can be (2^63 - 1), or a `limit`
    /// outside 1..=`max`.
    pub(super) fn bounds(&self, max: usize) -> Result<(u64, usize), ApiError> {
        let after = self.after.unwrap_or(0);
        if i64::try_from(after).is_err() {
            return Err(ApiError::malformed(format!(
                "after={after} is past every position (at most 2^63 - 1)"
            )));
        }
        let limit = self.limit.unwrap_or(max);
        if !(1..=max).contains(&limit) {
            return Err(ApiError::malformed(format!(
                "limit={limit}: a page holds 1 to {max} entries"
            )));
        }
        Ok((after, limit))
    }
}

/// The `next` of a page of `limit` entries: the position after its last entry (`position` of
/// it) when the page is full; absent otherwise.
pub(super) fn next_after<T>(
    entries: &[T],
    limit: usize,
    position: impl Fn(&T) -> u64,
) -> Option<String> {
    (entries.len() == limit)
        .then(|| entries.last().map(|e| position(e).to_string()))
        .flatten()
}

/// Checks the time bounds of a signed request: not expired, not valid for longer than
/// [`MAX_REQUEST_LIFETIME`].
pub(super) fn check_expiry(expires_at: u64, now: u64) -> Result<(), ApiError> {
    if expires_at <= now {
        return Err(ApiError::unauthorized(
            "request_expired",
            format!("the request expired at {expires_at} (now {now})"),
        ));
    }
    if expires_at > now + MAX_REQUEST_LIFETIME {
        return Err(ApiError::unauthorized(
            "request_too_long",
            format!("a request may be valid for at most {MAX_REQUEST_LIFETIME} s"),
        ));
    }
    Ok(())
}

/// Checks that a request names this gateway.
pub(super) fn check_gateway(named: &str, s: &AppState) -> Result<(), ApiError> {
    if named != &*s.public_url {
        return Err(ApiError::unauthorized(
            "wrong_gateway",
            format!(
                "the request is for {named:?}, this gateway is {:?}",
                &*s.public_url
            ),
        ));
    }
    Ok(())
}

/// Publishes a dataset's manifest: checked (signature, paths, files root), within the limits,
/// with the creator's publish request. Publishing it again changes nothing.
#[utoipa::path(post, path = "/v1/datasets", tag = "datasets", request_body = Publish,
    responses(
        (status = 201, description = "published; upload the files next", body = Dataset),
        (status = 200, description = "published before", body = Dataset),
        (status = 400, description = "malformed", body = ErrorBody),
        (status = 401, description = "the publish request is not the creator's, expired, or for another gateway", body = ErrorBody),
        (status = 413, description = "dataset_too_large", body = ErrorBody),
        (status = 422, description = "manifest_invalid", body = ErrorBody)))]
pub(super) async fn publish(
    State(s): State<AppState>,
    body: Result<Json<Publish>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(ApiError::from_json)?;
    // The cheap checks first: a request that is not the creator's costs no manifest check.
    let request = &body.publish.request;
    check_gateway(&request.gateway, &s)?;
    check_expiry(request.expires_at, now())?;
    let signer = body
        .publish
        .signer(&s.domain)
        .map_err(|e| ApiError::unauthorized("bad_signature", e.to_string()))?;
    if signer != request.creator {
        return Err(ApiError::unauthorized(
            "bad_signature",
            format!(
                "the publish request was signed by {signer}, not by the creator it names ({})",
                request.creator
            ),
        ));
    }
    let manifest: DatasetManifest = serde_json::from_value(body.manifest)
        .map_err(|e| manifest_invalid(format!("not a manifest document: {e}")))?;
    let hash = manifest
        .verify()
        .map_err(|e| manifest_invalid(e.to_string()))?;
    if request.manifest_hash != hash || request.creator != manifest.creator {
        return Err(ApiError::unauthorized(
            "request_mismatch",
            format!(
                "the publish request is for manifest {} by {}, the manifest is {hash} by {}",
                request.manifest_hash, request.creator, manifest.creator
            ),
        ));
    }
    // Summed with overflow checks: a signed manifest may list sizes whose sum passes 2^64.
    let total = manifest
        .files
        .iter()
        .try_fold(0u64, |sum, f| sum.checked_add(f.size));
    if manifest.files.len() > s.limits.max_files
        || total.is_none_or(|total| total > s.limits.max_dataset_bytes)
    {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "dataset_too_large",
            format!(
                "{} files, {} bytes: this gateway takes at most {} files and {} bytes",
                manifest.files.len(),
                total.map_or_else(|| "more than 2^64".to_owned(), |t| t.to_string()),
                s.limits.max_files,
                s.limits.max_dataset_bytes
            ),
        ));
    }
    let new = s.store.insert_dataset(&manifest, hash, now()).await?;
    for file in &manifest.files {
        if s.blobs.contains(file.hash).await? {
            s.store.mark_stored(file.hash).await?;
        }
    }
    let dataset = s.store.dataset(hash).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the dataset vanished",
        )
    })?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(dataset)).into_response())
}

fn manifest_invalid(message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "manifest_invalid",
        message,
    )
}

/// Stores one file of a published dataset: its bytes must be the manifest's (size and
/// keccak256), or nothing is stored.
#[utoipa::path(put, path = "/v1/datasets/{hash}/files/{*path}", tag = "datasets",
    params(("hash" = String, Path, description = "manifest hash"),
           ("*path" = String, Path, description = "the file's path in the manifest, percent-encoded")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "stored (or stored before)", body = Stored),
        (status = 404, description = "no such dataset or file", body = ErrorBody),
        (status = 413, description = "file_too_large", body = ErrorBody),
        (status = 422, description = "file_mismatch", body = ErrorBody)))]
pub(super) async fn upload(
    State(s): State<AppState>,
    ApiPath((hash, path)): ApiPath<(B256, String)>,
    body: Body,
) -> Result<Json<Stored>, ApiError> {
    let file = s
        .store
        .file(hash, &path)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("dataset {hash} lists no file {path:?}")))?;
    // The bytes are read when the blob is missing, or when its SHA-256 is (a blob stored before
    // digests were kept, or a process stopped between the two writes): the same bytes again.
    let digest_missing = s.store.digest(file.hash).await?.is_none();
    if !file.is_stored() || digest_missing {
        if digest_missing || !s.blobs.contains(file.hash).await? {
            let sha256 = s
                .blobs
                .put(file.hash, file.size, body.into_data_stream())
                .await?;
            s.store.record_digest(file.hash, sha256).await?;
        }
        s.store.mark_stored(file.hash).await?;
    }
    let dataset = s
        .store
        .dataset(hash)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no dataset {hash}")))?;
    Ok(Json(Stored {
        path,
        hash: file.hash,
        dataset,
    }))
}

/// Published datasets, in order of publication, a page at a time.
#[utoipa::path(get, path = "/v1/datasets", tag = "datasets", params(Page),
    responses((status = 200, description = "a page", body = DatasetPage)))]
pub(super) async fn list(
    State(s): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<DatasetPage>, ApiError> {
    let (after, limit) = page.bounds(s.limits.max_page)?;
    let rows = s.store.datasets(after, limit).await?;
    let next = next_after(&rows, limit, |(seq, _)| *seq);
    Ok(Json(DatasetPage {
        datasets: rows.into_iter().map(|(_, d)| d).collect(),
        next,
    }))
}

/// One published dataset.
#[utoipa::path(get, path = "/v1/datasets/{hash}", tag = "datasets",
    params(("hash" = String, Path, description = "manifest hash")),
    responses((status = 200, description = "the dataset", body = Dataset),
              (status = 404, description = "not published here", body = ErrorBody)))]
pub(super) async fn dataset(
    State(s): State<AppState>,
    ApiPath(hash): ApiPath<B256>,
) -> Result<Json<Dataset>, ApiError> {
    s.store
        .dataset(hash)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no dataset {hash}")))
}

/// A published dataset's files, in manifest order, a page at a time: each file's path, size,
/// keccak256 (as the signed manifest lists it), whether it is stored, and the SHA-256 the
/// gateway computed from its bytes. `after` is the position of the first file of the page
/// (0: the first file); `next` that of the next page.
#[utoipa::path(get, path = "/v1/datasets/{hash}/files", tag = "datasets",
    params(("hash" = String, Path, description = "manifest hash"), Page),
    responses((status = 200, description = "a page", body = FilePage),
              (status = 404, description = "not published here", body = ErrorBody)))]
pub(super) async fn files(
    State(s): State<AppState>,
    ApiPath(hash): ApiPath<B256>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<FilePage>, ApiError> {
    let (from, limit) = page.bounds(s.limits.max_page)?;
    if s.store.dataset(hash).await?.is_none() {
        return Err(ApiError::not_found(format!("no dataset {hash}")));
    }
    let files = s.store.files(hash, from, limit).await?;
    let next = next_after(&files, limit, |f| f.index + 1);
    Ok(Json(FilePage { files, next }))
}

/// The signed manifest, as published (check it: its hash is the path's).
#[utoipa::path(get, path = "/v1/datasets/{hash}/manifest", tag = "datasets",
    params(("hash" = String, Path, description = "manifest hash")),
    responses((status = 200, description = "the manifest document", body = Object),
              (status = 404, description = "not published here", body = ErrorBody)))]
pub(super) async fn manifest(
    State(s): State<AppState>,
    ApiPath(hash): ApiPath<B256>,
) -> Result<Response, ApiError> {
    let text = s
        .store
        .manifest(hash)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no dataset {hash}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

/// One file's Merkle proof against the manifest's files root: enough to check that file
/// without the rest of the manifest.
#[utoipa::path(get, path = "/v1/datasets/{hash}/proofs/{*path}", tag = "datasets",
    params(("hash" = String, Path, description = "manifest hash"),
           ("*path" = String, Path, description = "the file's path, percent-encoded")),
    responses((status = 200, description = "the proof", body = FileProof),
              (status = 404, description = "no such dataset or file", body = ErrorBody)))]
pub(super) async fn proof(
    State(s): State<AppState>,
    ApiPath((hash, path)): ApiPath<(B256, String)>,
) -> Result<Json<FileProof>, ApiError> {
    let missing = || ApiError::not_found(format!("dataset {hash} lists no file {path:?}"));
    let row = s.store.file(hash, &path).await?.ok_or_else(missing)?;
    let text = s.store.manifest(hash).await?.ok_or_else(missing)?;
    let manifest = DatasetManifest::parse(text.as_bytes())
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let proof = manifest
        .file_proof(row.idx as usize)
        .ok()
        .flatten()
        .ok_or_else(missing)?;
    Ok(Json(FileProof {
        path: row.path,
        size: row.size,
        hash: row.hash,
        files_root: manifest.files_root,
        proof,
    }))
}
