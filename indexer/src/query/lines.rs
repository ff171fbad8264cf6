//! Credit lines (payer, relayer, token) as the API, the CLI and the dashboard show them.

pub use fairtrain_protocol::api::indexer::CreditLineView;
use serde::{Deserialize, Serialize};

use super::{lower, paged, Page, Paged};
use crate::{derive::LineRow, Db, Result};

/// Which lines to list: every given field must match (empty = any).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct LineFilter {
    /// Payer.
    #[serde(default)]
    pub payer: Option<String>,
    /// Relayer.
    #[serde(default)]
    pub relayer: Option<String>,
    /// Token.
    #[serde(default)]
    pub token: Option<String>,
}

const WHERE: &str =
    "WHERE ($1 = '' OR payer = $1) AND ($2 = '' OR relayer = $2) AND ($3 = '' OR token = $3)";

fn view(r: LineRow) -> CreditLineView {
    CreditLineView {
        payer: r.0,
        relayer: r.1,
        token: r.2,
        credit: r.3,
        reserved: r.4,
        fees: r.5,
        reserved_until: r.6,
        reduction_amount: r.7,
        reduction_effective_at: r.8,
    }
}

async fn select(db: &Db, f: &LineFilter, limit: i64, offset: i64) -> Result<Vec<CreditLineView>> {
    let key = |v: &Option<String>| v.as_deref().map(lower).unwrap_or_default();
    let rows: Vec<LineRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT payer, relayer, token, credit, reserved, fees, reserved_until, reduction_amount, \
         reduction_effective_at FROM credit_lines {WHERE} \
         ORDER BY payer, token, relayer LIMIT $4 OFFSET $5"
    )))
    .bind(key(&f.payer))
    .bind(key(&f.relayer))
    .bind(key(&f.token))
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(view).collect())
}

/// Credit lines matching `filter`, by payer, token and relayer.
pub async fn credit_lines(
    db: &Db,
    filter: &LineFilter,
    page: Page,
) -> Result<Paged<CreditLineView>> {
    let page = page.check()?;
    let key = |v: &Option<String>| v.as_deref().map(lower).unwrap_or_default();
    let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM credit_lines {WHERE}"
    )))
    .bind(key(&filter.payer))
    .bind(key(&filter.relayer))
    .bind(key(&filter.token))
    .fetch_one(&db.pool)
    .await?;
    let items = select(db, filter, page.limit(), page.offset()).await?;
    paged(db, items, page, total).await
}

/// Every line of one payer in one token (what a balance row shows).
pub async fn lines_of(db: &Db, payer: &str, token: &str) -> Result<Vec<CreditLineView>> {
    let filter = LineFilter {
        payer: Some(payer.to_owned()),
        relayer: None,
        token: Some(token.to_owned()),
    };
    select(db, &filter, i64::MAX, 0).await
}
