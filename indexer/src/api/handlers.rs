//! The handlers of `/api/...`, each with the `#[utoipa::path]` its part of the OpenAPI document
//! is generated from (see [`super::api_routes`]).

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::State,
    http::header,
    response::{
        sse::{Event as SseEvent, KeepAlive, Sse},
        IntoResponse, Response,
    },
    Json,
};
use fairtrain_protocol::api::{
    indexer::{
        AuditReport, BalanceView, BatchDetail, BatchView, CardFile, CatalogEntry, CreatorView,
        CreditLineView, DatasetAccess, DatasetCard, Flow, LicenseView, Paged, PoolDetail, PoolView,
        RoyaltyTotal, SettlementView, Status, StreamPayeeView, StreamView, TokenView, Trainer,
        Unclaimed,
    },
    ErrorBody,
};
use futures::Stream;
use utoipa::IntoResponses;

use super::{
    error::{ApiError, ApiPath, ApiQuery},
    params::{
        FlowFormat, FlowParams, HolderParams, LicenseParams, LicensePath, LineParams, PayeeParams,
        PayerParams, PoolPath, RootPath, RoyaltyParams, SettlementParams, StreamParams, StreamPath,
    },
    AppState,
};
use crate::{
    audit, describe, export,
    query::{self, lines, pools, streams, CatalogFilter, Page, RoyaltyFilter},
    Error,
};

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The errors every route may answer besides its own.
#[derive(IntoResponses)]
#[allow(dead_code)] // Only documents the answers.
pub enum Errors {
    /// A path or query value that does not parse or is out of its range (`malformed`).
    #[response(status = 400)]
    Malformed(ErrorBody),
    /// The database or the chain failed (`internal`).
    #[response(status = 500)]
    Internal(ErrorBody),
}

/// What an item route answers when the item does not exist (`not_found`).
#[derive(IntoResponses)]
#[allow(dead_code)] // Only documents the answers.
pub enum Missing {
    /// No such item (`not_found`).
    #[response(status = 404)]
    NotFound(ErrorBody),
}

/// Where the index stands.
#[utoipa::path(get, path = "/api/status", tag = "index",
    responses((status = 200, description = "OK.", body = Status), Errors))]
pub async fn status(State(s): State<AppState>) -> ApiResult<Status> {
    Ok(Json(query::status(&s.db).await?))
}

/// Royalty totals (samples, gross, fee, net, settlements) per group and token, sorted by key.
#[utoipa::path(get, path = "/api/royalties", tag = "royalties", params(RoyaltyParams, Page),
    responses((status = 200, description = "OK.", body = Paged<RoyaltyTotal>), Errors))]
pub async fn royalties(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<RoyaltyParams>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<RoyaltyTotal>> {
    let filter = RoyaltyFilter {
        creator: p.creator.map(|a| a.0),
        license: p.license.map(|l| l.0),
        payee: p.payee.map(|a| a.0),
        payer: p.payer.map(|a| a.0),
        from_day: p.from_day,
        to_day: p.to_day,
        finalized: p.finalized,
        group: p.group,
    };
    Ok(Json(query::royalties(&s.db, &filter, page).await?))
}

/// Per creator and token: licenses, samples, gross, fees, claimed and unclaimed royalties.
#[utoipa::path(get, path = "/api/creators", tag = "royalties",
    responses((status = 200, description = "OK.", body = Vec<CreatorView>), Errors))]
pub async fn creators(State(s): State<AppState>) -> ApiResult<Vec<CreatorView>> {
    Ok(Json(query::creators(&s.db).await?))
}

/// Licenses with their holder and current terms, by id.
#[utoipa::path(get, path = "/api/licenses", tag = "licenses", params(LicenseParams, Page),
    responses((status = 200, description = "OK.", body = Paged<LicenseView>), Errors))]
pub async fn licenses(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<LicenseParams>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<LicenseView>> {
    let (creator, holder) = (p.creator.map(|a| a.0), p.holder.map(|a| a.0));
    Ok(Json(
        query::licenses(&s.db, creator.as_deref(), holder.as_deref(), page).await?,
    ))
}

/// The catalog: licensed datasets (a license, its current terms and the published manifest it
/// covers, signed by its creator), filtered; amounts in the token's units and symbol.
#[utoipa::path(get, path = "/api/catalog", tag = "catalog", params(CatalogFilter, Page),
    responses((status = 200, description = "OK.", body = Paged<CatalogEntry>), Errors))]
pub async fn catalog(
    State(s): State<AppState>,
    ApiQuery(filter): ApiQuery<CatalogFilter>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<CatalogEntry>> {
    Ok(Json(query::catalog(&s.db, &filter, page).await?))
}

/// The payment tokens that stated their `symbol()` and `decimals()`, to show amounts in whole
/// tokens.
#[utoipa::path(get, path = "/api/tokens", tag = "index",
    responses((status = 200, description = "OK.", body = Vec<TokenView>), Errors))]
pub async fn tokens(State(s): State<AppState>) -> ApiResult<Vec<TokenView>> {
    Ok(Json(query::tokens(&s.db).await?))
}

/// A dataset's card: its catalog entry, its terms in plain words, its files, who trained on it.
#[utoipa::path(get, path = "/api/catalog/{id}", tag = "catalog", params(LicensePath),
    responses((status = 200, description = "OK.", body = DatasetCard), Missing, Errors))]
pub async fn catalog_card(
    State(s): State<AppState>,
    ApiPath(p): ApiPath<LicensePath>,
) -> ApiResult<DatasetCard> {
    Ok(Json(query::card(&s.db, &p.id.0).await?))
}

/// A listed dataset's files, in manifest order, a page at a time.
#[utoipa::path(get, path = "/api/catalog/{id}/files", tag = "catalog", params(LicensePath, Page),
    responses((status = 200, description = "OK.", body = Paged<CardFile>), Missing, Errors))]
pub async fn catalog_files(
    State(s): State<AppState>,
    ApiPath(p): ApiPath<LicensePath>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<CardFile>> {
    Ok(Json(query::card_files(&s.db, &p.id.0, page).await?))
}

/// The payers that accepted a listed license's terms, in order of acceptance, with the samples
/// settled for each, a page at a time.
#[utoipa::path(get, path = "/api/catalog/{id}/trainers", tag = "catalog", params(LicensePath, Page),
    responses((status = 200, description = "OK.", body = Paged<Trainer>), Missing, Errors))]
pub async fn catalog_trainers(
    State(s): State<AppState>,
    ApiPath(p): ApiPath<LicensePath>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<Trainer>> {
    Ok(Json(query::card_trainers(&s.db, &p.id.0, page).await?))
}

/// A listed dataset's accesses under its license (grants and downloads, from the publishing
/// gateway's public log), newest first, a page at a time.
#[utoipa::path(get, path = "/api/catalog/{id}/accesses", tag = "catalog", params(LicensePath, Page),
    responses((status = 200, description = "OK.", body = Paged<DatasetAccess>), Missing, Errors))]
pub async fn catalog_accesses(
    State(s): State<AppState>,
    ApiPath(p): ApiPath<LicensePath>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<DatasetAccess>> {
    Ok(Json(query::card_accesses(&s.db, &p.id.0, page).await?))
}

/// A dataset's Croissant 1.0 document (JSON-LD): its description, its license, and every file
/// (up to 10,000) with its size, media type, SHA-256 and keccak256, at the gateway that serves
/// it to payers who accepted the terms.
#[utoipa::path(get, path = "/api/catalog/{id}/croissant", tag = "catalog", params(LicensePath),
    responses((status = 200, description = "Croissant 1.0 JSON-LD.",
        content_type = "application/ld+json", body = Object), Missing, Errors))]
pub async fn catalog_croissant(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiPath(p): ApiPath<LicensePath>,
) -> Result<Response, ApiError> {
    let (entry, manifest) = query::dataset(&s.db, &p.id.0).await?;
    let digests = query::file_digests(&s.db, &entry.manifest_hash).await?;
    let links = describe::Links::new(&s.base_url(&headers), &entry.license_id, &entry.gateway);
    Ok(json_ld(describe::croissant(
        &entry, &manifest, &digests, &links,
    )))
}

/// A dataset's license terms as a TDMRep policy (W3C TDM Reservation Protocol: an ODRL offer):
/// text and data mining permitted against compensation, for research only if the terms say so,
/// until they expire.
#[utoipa::path(get, path = "/api/catalog/{id}/tdm-policy", tag = "catalog", params(LicensePath),
    responses((status = 200, description = "TDMRep policy (ODRL JSON-LD).",
        content_type = "application/ld+json", body = Object), Missing, Errors))]
pub async fn catalog_tdm_policy(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    ApiPath(p): ApiPath<LicensePath>,
) -> Result<Response, ApiError> {
    let entry = query::listing(&s.db, &p.id.0).await?;
    let links = describe::Links::new(&s.base_url(&headers), &entry.license_id, &entry.gateway);
    Ok(json_ld(describe::tdm_policy(&entry, &links)))
}

/// A JSON-LD answer.
fn json_ld(document: serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/ld+json")],
        document.to_string(),
    )
        .into_response()
}

/// Payers' funds per token, with their credit lines.
#[utoipa::path(get, path = "/api/balances", tag = "escrow", params(PayerParams, Page),
    responses((status = 200, description = "OK.", body = Paged<BalanceView>), Errors))]
pub async fn balances(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<PayerParams>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<BalanceView>> {
    let payer = p.payer.map(|a| a.0);
    Ok(Json(query::balances(&s.db, payer.as_deref(), page).await?))
}

/// Credit lines (payer, relayer, token) with their pending reductions.
#[utoipa::path(get, path = "/api/credit-lines", tag = "escrow", params(LineParams, Page),
    responses((status = 200, description = "OK.", body = Paged<CreditLineView>), Errors))]
pub async fn credit_lines(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<LineParams>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<CreditLineView>> {
    let filter = lines::LineFilter {
        payer: p.payer.map(|a| a.0),
        relayer: p.relayer.map(|a| a.0),
        token: p.token.map(|a| a.0),
    };
    Ok(Json(lines::credit_lines(&s.db, &filter, page).await?))
}

/// Batches with their audit status, newest first.
#[utoipa::path(get, path = "/api/batches", tag = "batches", params(Page),
    responses((status = 200, description = "OK.", body = Paged<BatchView>), Errors))]
pub async fn batches(
    State(s): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<BatchView>> {
    Ok(Json(query::batches(&s.db, page).await?))
}

/// One batch with its reservations and first 1,000 claims.
#[utoipa::path(get, path = "/api/batches/{root}", tag = "batches", params(RootPath),
    responses((status = 200, description = "OK.", body = BatchDetail), Missing, Errors))]
pub async fn batch(
    State(s): State<AppState>,
    ApiPath(p): ApiPath<RootPath>,
) -> ApiResult<BatchDetail> {
    let root = p.root.0;
    query::batch(&s.db, &root)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no batch with root {root}")))
}

/// The latest stored audit report of a batch.
#[utoipa::path(get, path = "/api/batches/{root}/audit", tag = "batches", params(RootPath),
    responses((status = 200, description = "OK.", body = AuditReport), Missing, Errors))]
pub async fn stored_audit(
    State(s): State<AppState>,
    ApiPath(p): ApiPath<RootPath>,
) -> ApiResult<AuditReport> {
    let root = p.root.0;
    audit::stored(&s.db, &root)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("batch {root} was not audited")))
}

/// Audits a batch now (fetching its data from its `dataURI`), stores and returns the report.
/// Takes no body (a body must be `application/json`: 415 `unsupported_media_type`).
#[utoipa::path(post, path = "/api/batches/{root}/audit", tag = "batches", params(RootPath),
    responses((status = 200, description = "OK.", body = AuditReport), Missing,
        (status = 415, description = "A body that is not `application/json` \
            (`unsupported_media_type`).", body = ErrorBody), Errors))]
pub async fn run_audit(
    State(s): State<AppState>,
    ApiPath(p): ApiPath<RootPath>,
) -> ApiResult<AuditReport> {
    Ok(Json(
        audit::audit_with(
            &s.db,
            &s.provider,
            &s.deployment,
            &s.fetcher,
            &p.root.0,
            None,
        )
        .await?,
    ))
}

/// Settlements in chain order.
#[utoipa::path(get, path = "/api/settlements", tag = "royalties", params(SettlementParams, Page),
    responses((status = 200, description = "OK.", body = Paged<SettlementView>), Errors))]
pub async fn settlements(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<SettlementParams>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<SettlementView>> {
    let (payee, payer) = (p.payee.map(|a| a.0), p.payer.map(|a| a.0));
    let license = p.license.map(|l| l.0);
    Ok(Json(
        query::settlements(
            &s.db,
            payee.as_deref(),
            payer.as_deref(),
            license.as_deref(),
            page,
        )
        .await?,
    ))
}

/// What audited, unreleased batches still owe, per batch, license and token (not paged).
#[utoipa::path(get, path = "/api/unclaimed", tag = "royalties", params(PayeeParams),
    responses((status = 200, description = "OK.", body = Vec<Unclaimed>), Errors))]
pub async fn unclaimed(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<PayeeParams>,
) -> ApiResult<Vec<Unclaimed>> {
    let payee = p.payee.map(|a| a.0);
    Ok(Json(query::unclaimed(&s.db, payee.as_deref()).await?))
}

/// Royalty streams, with their state computed for the latest indexed block's time.
#[utoipa::path(get, path = "/api/streams", tag = "streams", params(StreamParams, Page),
    responses((status = 200, description = "OK.", body = Paged<StreamView>), Errors))]
pub async fn streams(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<StreamParams>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<StreamView>> {
    let (license, payer) = (p.license.map(|l| l.0), p.payer.map(|a| a.0));
    Ok(Json(
        streams::streams(&s.db, license.as_deref(), payer.as_deref(), page).await?,
    ))
}

/// One royalty stream.
#[utoipa::path(get, path = "/api/streams/{id}", tag = "streams", params(StreamPath),
    responses((status = 200, description = "OK.", body = StreamView), Missing, Errors))]
pub async fn stream(
    State(s): State<AppState>,
    ApiPath(p): ApiPath<StreamPath>,
) -> ApiResult<StreamView> {
    let id = p.id.0;
    streams::stream(&s.db, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no stream with id {id}")))
}

/// What streams paid each license holder, per token.
#[utoipa::path(get, path = "/api/stream-payees", tag = "streams", params(HolderParams, Page),
    responses((status = 200, description = "OK.", body = Paged<StreamPayeeView>), Errors))]
pub async fn stream_payees(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<HolderParams>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<StreamPayeeView>> {
    let holder = p.holder.map(|a| a.0);
    Ok(Json(
        streams::stream_payees(&s.db, holder.as_deref(), page).await?,
    ))
}

/// Revenue-share pools with their totals per token.
#[utoipa::path(get, path = "/api/pools", tag = "pools", params(Page),
    responses((status = 200, description = "OK.", body = Paged<PoolView>), Errors))]
pub async fn pools(
    State(s): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Paged<PoolView>> {
    Ok(Json(pools::pools(&s.db, page).await?))
}

/// One pool with its holders' shares, claimed and claimable amounts.
#[utoipa::path(get, path = "/api/pools/{address}", tag = "pools", params(PoolPath),
    responses((status = 200, description = "OK.", body = PoolDetail), Missing, Errors))]
pub async fn pool(
    State(s): State<AppState>,
    ApiPath(p): ApiPath<PoolPath>,
) -> ApiResult<PoolDetail> {
    let address = p.address.0;
    pools::pool(&s.db, &address)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no pool at {address}")))
}

/// The accounting export: every settlement in the blocks, in chain order, as JSON or CSV.
#[utoipa::path(get, path = "/api/export/flows", tag = "royalties", params(FlowParams),
    responses((status = 200, description = "The flows (`format=json`: an array; `csv`: a header \
        line, then one line per flow, the same fields).",
        content((Vec<Flow> = "application/json"), (String = "text/csv"))), Errors))]
pub async fn flows(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<FlowParams>,
) -> Result<Response, ApiError> {
    let to = p.to_block.unwrap_or(FlowParams::MAX_BLOCK);
    if p.from_block > FlowParams::MAX_BLOCK || to > FlowParams::MAX_BLOCK {
        return Err(ApiError::malformed(format!(
            "from_block and to_block are at most {}",
            FlowParams::MAX_BLOCK
        )));
    }
    let rows = export::flows(&s.db, p.from_block, to).await?;
    Ok(match p.format {
        FlowFormat::Json => Json(rows).into_response(),
        FlowFormat::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            export::to_csv(&rows)?,
        )
            .into_response(),
    })
}

/// Server-Sent Events: a `status` event (its data a [`Status`] as JSON) at once, then whenever
/// the indexed block or an audit status changes; comments keep the connection alive.
#[utoipa::path(get, path = "/api/live", tag = "index",
    responses((status = 200, description = "An endless `text/event-stream`: `event: status`, \
        `data:` a Status object as JSON.", content_type = "text/event-stream", body = String)))]
pub async fn live(
    State(s): State<AppState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    type Seen = Option<(u64, (i64, i64))>;
    let stream = futures::stream::unfold((s.db, None as Seen), |(db, last)| async move {
        loop {
            if last.is_some() {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let now =
                async { Ok::<_, Error>((query::status(&db).await?, audit::version(&db).await?)) };
            match now.await {
                Ok((status, audits)) if Some((status.indexed_block, audits)) != last => {
                    let event = SseEvent::default()
                        .event("status")
                        .data(serde_json::to_string(&status).unwrap_or_default());
                    return Some((Ok(event), (db, Some((status.indexed_block, audits)))));
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
