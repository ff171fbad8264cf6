//! Settlements (claims) in chain order.

use super::{lower, paged, Page, Paged, SettlementView};
use crate::{units::parse_word, Db, Error, Result};

type SettlementRow = (
    i64,
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    i64,
    String,
    String,
);

/// The columns of `settlements s` a [`SettlementRow`] holds, in order.
const SETTLEMENT_COLS: &str =
    "s.block_number, s.log_index, s.block_time, s.tx_hash, s.root, s.usage_key, s.payer, \
     s.payee, s.license_id, s.token, s.cumulative_samples, s.samples, s.amount, s.fee";

fn settlement_view(r: SettlementRow) -> SettlementView {
    SettlementView {
        block_number: r.0,
        log_index: r.1,
        block_time: r.2,
        tx_hash: r.3,
        root: r.4,
        usage_key: r.5,
        payer: r.6,
        payee: r.7,
        license_id: r.8,
        token: r.9,
        cumulative_samples: r.10,
        samples: r.11,
        amount: r.12,
        fee: r.13,
    }
}

pub(super) async fn settlements_where(
    db: &Db,
    cond: &str,
    bind: &str,
    page: Page,
) -> Result<Paged<SettlementView>> {
    let page = page.check()?;
    let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM settlements s WHERE {cond}"
    )))
    .bind(bind)
    .fetch_one(&db.pool)
    .await?;
    let rows: Vec<SettlementRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SETTLEMENT_COLS} FROM settlements s WHERE {cond} \
         ORDER BY s.block_number, s.log_index LIMIT $2 OFFSET $3"
    )))
    .bind(bind)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&db.pool)
    .await?;
    let items = rows.into_iter().map(settlement_view).collect();
    paged(db, items, page, total).await
}

/// Every claim (settlement) of the batch `root`, in chain order, unpaged: an audit judges each
/// one, and a batch has at most one claim per receipt (up to 10,000 receipts a batch from the
/// relayer, more from others), so they are read in one statement rather than a page.
pub async fn batch_claims(db: &Db, root: &str) -> Result<Vec<SettlementView>> {
    let root = format!(
        "{:#x}",
        parse_word(root).map_err(|e| Error::invalid("root", e.to_string()))?
    );
    let rows: Vec<SettlementRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SETTLEMENT_COLS} FROM settlements s WHERE s.root = $1 \
         ORDER BY s.block_number, s.log_index"
    )))
    .bind(&root)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(settlement_view).collect())
}

/// Settlements in chain order, optionally of one payee, payer or license.
pub async fn settlements(
    db: &Db,
    payee: Option<&str>,
    payer: Option<&str>,
    license: Option<&str>,
    page: Page,
) -> Result<Paged<SettlementView>> {
    match (payee, payer, license) {
        (Some(p), _, _) => settlements_where(db, "s.payee = $1", &lower(p), page).await,
        (_, Some(p), _) => settlements_where(db, "s.payer = $1", &lower(p), page).await,
        (_, _, Some(l)) => settlements_where(db, "s.license_id = $1", l.trim(), page).await,
        _ => settlements_where(db, "$1 = ''", "", page).await,
    }
}
