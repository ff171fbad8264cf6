//! The HTTP API (JSON, paginated, described by an OpenAPI document at `/api/openapi.json`) and
//! the dashboard (`/`), which reads the same API and updates live from `/api/live`
//! (Server-Sent Events sent whenever the indexed block moves).

use std::{convert::Infallible, time::Duration};

use alloy::providers::DynProvider;
use axum::{
    extract::{Path, Query, State},
    http::{header, StatusCode},
    response::{
        sse::{Event as SseEvent, KeepAlive, Sse},
        Html, IntoResponse, Response,
    },
    routing::get,
    Json, Router,
};
use futures::Stream;
use serde::Deserialize;

use crate::{
    audit, auditor, export,
    fetch::Fetcher,
    lines,
    query::{self, Page, RoyaltyFilter},
    streams_pools, Db, Deployment, Error,
};

/// The OpenAPI 3.1 document of the API.
pub const OPENAPI: &str = include_str!("../assets/openapi.json");
const DASHBOARD_HTML: &str = include_str!("../assets/dashboard.html");
const DASHBOARD_JS: &str = include_str!("../assets/dashboard.js");

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
        }
    }

    /// The same state, fetching batch data with `fetcher`.
    pub fn with_fetcher(self, fetcher: Fetcher) -> Self {
        Self { fetcher, ..self }
    }
}

/// An error as the API returns it: `{"error": "…"}` with 400, 404 or 500.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match e {
            Error::Invalid { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The API's and the dashboard's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Html(DASHBOARD_HTML) }))
        .route(
            "/dashboard.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    DASHBOARD_JS,
                )
            }),
        )
        .route(
            "/api/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .route("/api/status", get(status))
        .route("/api/royalties", get(royalties))
        .route("/api/creators", get(creators))
        .route("/api/licenses", get(licenses))
        .route("/api/balances", get(balances))
        .route("/api/credit-lines", get(credit_lines))
        .route("/api/batches", get(batches))
        .route("/api/batches/{root}", get(batch))
        .route(
            "/api/batches/{root}/audit",
            get(stored_audit).post(run_audit),
        )
        .route("/api/settlements", get(settlements))
        .route("/api/unclaimed", get(unclaimed))
        .route("/api/streams", get(streams))
        .route("/api/streams/{id}", get(stream))
        .route("/api/stream-payees", get(stream_payees))
        .route("/api/pools", get(pools))
        .route("/api/pools/{address}", get(pool))
        .route("/api/export/flows", get(flows))
        .route("/api/live", get(live))
        .with_state(state)
}

async fn status(State(s): State<AppState>) -> ApiResult<query::Status> {
    Ok(Json(query::status(&s.db).await?))
}

/// Query parameters of `/api/royalties` (listed, not flattened: `serde_urlencoded` cannot parse
/// numbers and booleans inside a flattened struct).
#[derive(Debug, Deserialize)]
struct RoyaltyParams {
    creator: Option<String>,
    license: Option<String>,
    payee: Option<String>,
    payer: Option<String>,
    from_day: Option<i64>,
    to_day: Option<i64>,
    #[serde(default)]
    finalized: bool,
    #[serde(default)]
    group: query::GroupBy,
    #[serde(default = "default_page")]
    page: u64,
    #[serde(default = "default_per_page")]
    per_page: u64,
}

fn default_page() -> u64 {
    1
}
fn default_per_page() -> u64 {
    100
}

async fn royalties(
    State(s): State<AppState>,
    Query(p): Query<RoyaltyParams>,
) -> ApiResult<query::Paged<query::RoyaltyTotal>> {
    let filter = RoyaltyFilter {
        creator: p.creator,
        license: p.license,
        payee: p.payee,
        payer: p.payer,
        from_day: p.from_day,
        to_day: p.to_day,
        finalized: p.finalized,
        group: p.group,
    };
    let page = Page {
        page: p.page,
        per_page: p.per_page,
    };
    Ok(Json(query::royalties(&s.db, &filter, page).await?))
}

async fn creators(State(s): State<AppState>) -> ApiResult<Vec<query::CreatorView>> {
    Ok(Json(query::creators(&s.db).await?))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    creator: Option<String>,
    holder: Option<String>,
    payer: Option<String>,
    payee: Option<String>,
    license: Option<String>,
    relayer: Option<String>,
    token: Option<String>,
    #[serde(default = "default_page")]
    page: u64,
    #[serde(default = "default_per_page")]
    per_page: u64,
}

impl ListParams {
    fn page(&self) -> Page {
        Page {
            page: self.page,
            per_page: self.per_page,
        }
    }
}

async fn licenses(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<query::Paged<query::LicenseView>> {
    Ok(Json(
        query::licenses(&s.db, p.creator.as_deref(), p.holder.as_deref(), p.page()).await?,
    ))
}

async fn balances(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<query::Paged<query::BalanceView>> {
    Ok(Json(
        query::balances(&s.db, p.payer.as_deref(), p.page()).await?,
    ))
}

async fn credit_lines(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<query::Paged<lines::CreditLineView>> {
    let filter = lines::LineFilter {
        payer: p.payer.clone(),
        relayer: p.relayer.clone(),
        token: p.token.clone(),
    };
    Ok(Json(lines::credit_lines(&s.db, &filter, p.page()).await?))
}

async fn batches(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<query::Paged<query::BatchView>> {
    Ok(Json(query::batches(&s.db, p.page()).await?))
}

async fn batch(State(s): State<AppState>, Path(root): Path<String>) -> Result<Response, ApiError> {
    match query::batch(&s.db, &root).await? {
        Some(b) => Ok(Json(b).into_response()),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no batch with root {root}"),
        )),
    }
}

async fn stored_audit(
    State(s): State<AppState>,
    Path(root): Path<String>,
) -> Result<Response, ApiError> {
    match audit::stored(&s.db, &root).await? {
        Some(report) => Ok(Json(report).into_response()),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("batch {root} was not audited"),
        )),
    }
}

/// Runs an audit now (fetching the batch's data from its dataURI) and returns the report.
async fn run_audit(
    State(s): State<AppState>,
    Path(root): Path<String>,
) -> ApiResult<audit::AuditReport> {
    Ok(Json(
        audit::audit_with(&s.db, &s.provider, &s.deployment, &s.fetcher, &root, None).await?,
    ))
}

async fn settlements(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<query::Paged<query::SettlementView>> {
    Ok(Json(
        query::settlements(
            &s.db,
            p.payee.as_deref(),
            p.payer.as_deref(),
            p.license.as_deref(),
            p.page(),
        )
        .await?,
    ))
}

async fn unclaimed(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<Vec<query::Unclaimed>> {
    Ok(Json(query::unclaimed(&s.db, p.payee.as_deref()).await?))
}

async fn streams(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<query::Paged<streams_pools::StreamView>> {
    Ok(Json(
        streams_pools::streams(&s.db, p.license.as_deref(), p.payer.as_deref(), p.page()).await?,
    ))
}

async fn stream(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    match streams_pools::stream(&s.db, &id).await? {
        Some(v) => Ok(Json(v).into_response()),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no stream with id {id}"),
        )),
    }
}

async fn stream_payees(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<query::Paged<streams_pools::StreamPayeeView>> {
    Ok(Json(
        streams_pools::stream_payees(&s.db, p.holder.as_deref(), p.page()).await?,
    ))
}

async fn pools(
    State(s): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<query::Paged<streams_pools::PoolView>> {
    Ok(Json(streams_pools::pools(&s.db, p.page()).await?))
}

async fn pool(
    State(s): State<AppState>,
    Path(address): Path<String>,
) -> Result<Response, ApiError> {
    match streams_pools::pool(&s.db, &address).await? {
        Some(v) => Ok(Json(v).into_response()),
        None => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no pool at {address}"),
        )),
    }
}

#[derive(Debug, Deserialize)]
struct FlowParams {
    #[serde(default)]
    from_block: u64,
    to_block: Option<u64>,
    #[serde(default)]
    format: Option<String>,
}

async fn flows(
    State(s): State<AppState>,
    Query(p): Query<FlowParams>,
) -> Result<Response, ApiError> {
    let rows = export::flows(&s.db, p.from_block, p.to_block.unwrap_or(u64::MAX >> 1)).await?;
    match p.format.as_deref() {
        None | Some("json") => Ok(Json(rows).into_response()),
        Some("csv") => Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            export::to_csv(&rows)?,
        )
            .into_response()),
        Some(other) => {
            Err(Error::invalid("format", format!("{other:?}: expected json or csv")).into())
        }
    }
}

/// Sends the status (`event: status`) at once and whenever the indexed block or an audit
/// status changes.
async fn live(State(s): State<AppState>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    type Seen = Option<(u64, (i64, i64))>;
    let stream = futures::stream::unfold((s.db, None as Seen), |(db, last)| async move {
        loop {
            if last.is_some() {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let now =
                async { Ok::<_, Error>((query::status(&db).await?, auditor::version(&db).await?)) };
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
