//! Reads: a receipt by digest, batches, published batch data, and the claimable receipts of a
//! license or a payee, page by page.

use std::collections::HashMap;

use alloy::primitives::{Address, B256, U256};
use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    Json,
};
use fairtrain_protocol::{
    api::{
        relayer::{BatchDetail, BatchList, Claimable, LicenseProofs, PayeeProofs, ProofsPage},
        ErrorBody,
    },
    wire::decimal,
    BatchData,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{
    error::{ApiError, ApiPath, ApiQuery},
    AppState,
};
use crate::{
    proofs::{self, Cursor},
    store::{ReceiptRow, StoreError, TxRow},
    util::hex0x,
};

/// The name of the page-size parameter of the proofs routes (its `maximum` is the configured
/// `limits.max_proofs_page`, set in the document at start).
pub(super) const PAGE_LIMIT: &str = "limit";

/// Most batches `GET /v1/batches` lists.
const MAX_BATCHES: i64 = 1_000;

/// `text` as 0x-prefixed hex of exactly `T`'s length (alloy alone also takes it unprefixed).
fn parse_hex<T: std::str::FromStr>(text: &str, len: usize, what: &str) -> Result<T, ApiError> {
    let bad = || ApiError::malformed(format!("expected {what} as 0x-prefixed hex: {text:?}"));
    if !text.starts_with("0x") || text.len() != 2 + 2 * len {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

fn parse_hash(text: &str) -> Result<B256, ApiError> {
    parse_hex(text, 32, "a 32-byte hash")
}

/// A stored receipt with what a payee needs to claim it.
fn claimable(row: &ReceiptRow, root: Option<B256>) -> Result<Claimable, StoreError> {
    Ok(Claimable {
        digest: row.digest,
        status: row.status.as_str().to_owned(),
        batch_id: row.batch_id,
        root,
        receipt: row.signed_receipt()?,
        proof: row.proof()?,
        amount: row.amount,
        token: row.token,
        claim_tx: row.claim_tx.clone(),
    })
}

/// The root of batch `id`, if it exists.
async fn root_of(s: &AppState, id: i64) -> Result<Option<B256>, ApiError> {
    match s.store.batch(id).await? {
        Some(b) => Ok(Some(b.root)),
        None => Ok(None),
    }
}

/// A receipt by EIP-712 digest: status (`pending`, `batched`, `committed`), batch, root,
/// proof, claim transaction.
#[utoipa::path(get, path = "/v1/receipts/{digest}", tag = "receipts",
    params(("digest" = String, Path, description = "EIP-712 digest",
        pattern = "^0x[0-9a-fA-F]{64}$")),
    responses(
        (status = 200, description = "the receipt", body = Claimable),
        (status = 400, description = "`malformed`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody)))]
pub(super) async fn receipt(
    State(s): State<AppState>,
    ApiPath(digest): ApiPath<String>,
) -> Result<Json<Claimable>, ApiError> {
    let digest = hex0x(parse_hash(&digest)?);
    let row = s
        .store
        .receipt(&digest)
        .await?
        .ok_or_else(|| ApiError::not_found("no such receipt"))?;
    let root = match row.batch_id {
        Some(id) => root_of(&s, id).await?,
        None => None,
    };
    Ok(Json(claimable(&row, root)?))
}

/// `?limit=` of `GET /v1/batches`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Batches to list, newest first (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Batches, newest first.
#[utoipa::path(get, path = "/v1/batches", tag = "batches", params(ListQuery),
    responses(
        (status = 200, description = "batches", body = BatchList),
        (status = 400, description = "`malformed`, `out_of_range`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody)))]
pub(super) async fn batches(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<BatchList>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_BATCHES).contains(&limit) {
        return Err(ApiError::out_of_range(format!(
            "limit {limit}: between 1 and {MAX_BATCHES}"
        )));
    }
    let batches = s
        .store
        .batches(limit)
        .await?
        .iter()
        .map(|b| b.to_api())
        .collect::<Result<_, _>>()?;
    Ok(Json(BatchList { batches }))
}

/// One batch with its state (`built`, `signed`, `sent`, `confirmed`, `failed`) and the commit
/// transactions signed for it.
#[utoipa::path(get, path = "/v1/batches/{id}", tag = "batches",
    params(("id" = i64, Path, description = "batch id", minimum = 1)),
    responses(
        (status = 200, description = "the batch", body = BatchDetail),
        (status = 400, description = "`malformed`, `out_of_range`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody)))]
pub(super) async fn batch(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<BatchDetail>, ApiError> {
    if id < 1 {
        return Err(ApiError::out_of_range(format!(
            "batch id {id}: ids start at 1"
        )));
    }
    let b = s
        .store
        .batch(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such batch"))?;
    let transactions = s
        .store
        .txs("commit", id)
        .await?
        .iter()
        .map(TxRow::to_api)
        .collect();
    Ok(Json(BatchDetail {
        batch: b.to_api()?,
        transactions,
    }))
}

/// Published batch data (docs/protocol.md section 8), addressed by its keccak256 (the
/// `dataHash` committed on-chain); served as the exact bytes that were hashed.
#[utoipa::path(get, path = "/v1/data/{hash}", tag = "batches",
    params(("hash" = String, Path, description = "keccak256 of the document",
        pattern = "^0x[0-9a-fA-F]{64}$")),
    responses(
        (status = 200, description = "batch data", body = BatchData),
        (status = 400, description = "`malformed`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody)))]
pub(super) async fn data(
    State(s): State<AppState>,
    ApiPath(hash): ApiPath<String>,
) -> Result<Response, ApiError> {
    let hash = hex0x(parse_hash(&hash)?);
    let body = s
        .store
        .batch_data(&hash)
        .await?
        .ok_or_else(|| ApiError::not_found("no batch data with this hash"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response())
}

/// `?limit=` and `?after=` of the proofs routes.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ProofsQuery {
    /// Receipts per page, at most the relayer's `limits.maxProofsPage` (`/v1/info`), which is
    /// also the default.
    #[param(minimum = 1)]
    limit: Option<usize>,
    /// The `next` cursor of the previous page; without it the first page.
    #[param(pattern = "^[0-9]{1,77}-[0-9]{1,18}-[0-9]{1,18}$")]
    after: Option<String>,
}

/// One page of the claimable receipts of `licenses` (see [`crate::proofs`]), each with what a
/// payee needs to claim it, and the cursor of the next page.
async fn proofs_of_licenses(
    s: &AppState,
    licenses: &[U256],
    q: &ProofsQuery,
) -> Result<ProofsPage, ApiError> {
    let after = q
        .after
        .as_deref()
        .map(str::parse::<Cursor>)
        .transpose()
        .map_err(|e| ApiError::malformed(e.to_string()))?;
    let max = s.limits.max_proofs_page;
    let limit = q.limit.unwrap_or(max);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::out_of_range(format!(
            "limit {limit}: between 1 and {max} (limits.maxProofsPage)"
        )));
    }
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
    let mut claims = Vec::with_capacity(page.rows.len());
    let mut roots: HashMap<i64, Option<B256>> = HashMap::new();
    for row in &page.rows {
        let id = row.batch_id.unwrap_or_default();
        if let std::collections::hash_map::Entry::Vacant(e) = roots.entry(id) {
            e.insert(root_of(s, id).await?);
        }
        claims.push(claimable(row, roots[&id])?);
    }
    Ok(ProofsPage {
        claims,
        next: page.next.map(|c| c.to_string()),
    })
}

/// Claimable receipts of a license, one page at a time: those of confirmed batches that are
/// not settled (neither claimed by a confirmed claim of this relayer nor covered by the settled
/// count of their usage key on-chain), oldest batch first, each with its root, signature and
/// proof: what its holder needs to claim.
#[utoipa::path(get, path = "/v1/licenses/{licenseId}/proofs", tag = "proofs",
    params(("licenseId" = String, Path, description = "license id (decimal)",
        pattern = "^[0-9]{1,77}$"), ProofsQuery),
    responses(
        (status = 200, description = "one page", body = LicenseProofs),
        (status = 400, description = "`malformed`, `out_of_range`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody)))]
pub(super) async fn license_proofs(
    State(s): State<AppState>,
    ApiPath(license_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ProofsQuery>,
) -> Result<Json<LicenseProofs>, ApiError> {
    let license = decimal::parse_u256(&license_id)
        .ok_or_else(|| ApiError::malformed("license id must be a decimal integer below 2^256"))?;
    let page = proofs_of_licenses(&s, &[license], &q).await?;
    Ok(Json(LicenseProofs {
        license_id: license,
        page,
    }))
}

/// The same for every license the address holds (holders followed from LicenseNFT `Transfer`
/// events), license by license in increasing id order, one page at a time.
#[utoipa::path(get, path = "/v1/payees/{address}/proofs", tag = "proofs",
    params(("address" = String, Path, description = "the payee",
        pattern = "^0x[0-9a-fA-F]{40}$"), ProofsQuery),
    responses(
        (status = 200, description = "one page", body = PayeeProofs),
        (status = 400, description = "`malformed`, `out_of_range`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody)))]
pub(super) async fn payee_proofs(
    State(s): State<AppState>,
    ApiPath(address): ApiPath<String>,
    ApiQuery(q): ApiQuery<ProofsQuery>,
) -> Result<Json<PayeeProofs>, ApiError> {
    let payee: Address = parse_hex(&address, 20, "an address")?;
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
    let page = proofs_of_licenses(&s, &licenses, &q).await?;
    Ok(Json(PayeeProofs {
        payee,
        licenses: licenses.iter().map(ToString::to_string).collect(),
        page,
    }))
}
