//! Payers' balances, each with its credit lines.

use super::{lines::lines_of, lower, paged, BalanceView, Page, Paged};
use crate::{Db, Result};

/// Payers' balances, optionally of one payer.
pub async fn balances(db: &Db, payer: Option<&str>, page: Page) -> Result<Paged<BalanceView>> {
    let page = page.check()?;
    let p = payer.map(lower).unwrap_or_default();
    let (total,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM balances WHERE ($1 = '' OR payer = $1)")
            .bind(&p)
            .fetch_one(&db.pool)
            .await?;
    type BalanceRow = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    );
    let rows: Vec<BalanceRow> = sqlx::query_as(
        "SELECT payer, token, available, reserved, deposited, withdrawn, spent, credit \
         FROM balances \
         WHERE ($1 = '' OR payer = $1) ORDER BY payer, token LIMIT $2 OFFSET $3",
    )
    .bind(&p)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&db.pool)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(BalanceView {
            credit_lines: lines_of(db, &r.0, &r.1).await?,
            payer: r.0,
            token: r.1,
            available: r.2,
            reserved: r.3,
            deposited: r.4,
            withdrawn: r.5,
            spent: r.6,
            credit: r.7,
        });
    }
    paged(db, items, page, total).await
}
