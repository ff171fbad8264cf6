//! Licenses with their terms.

use super::{lower, paged, LicenseView, Page, Paged};
use crate::{Db, Result};

/// Licenses, optionally of one creator or holder, by id.
pub async fn licenses(
    db: &Db,
    creator: Option<&str>,
    holder: Option<&str>,
    page: Page,
) -> Result<Paged<LicenseView>> {
    let page = page.check()?;
    let cond = "($1 = '' OR l.creator = $1) AND ($2 = '' OR l.holder = $2)";
    let (c, h) = (
        creator.map(lower).unwrap_or_default(),
        holder.map(lower).unwrap_or_default(),
    );
    let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM licenses l WHERE {cond}"
    )))
    .bind(&c)
    .bind(&h)
    .fetch_one(&db.pool)
    .await?;
    type Row = (
        String,
        String,
        String,
        i64,
        i64,
        String,
        i64,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT l.license_id, l.creator, l.holder, l.terms_id, l.version, l.manifest_hash, \
         l.royalty_bps, l.minted_block, t.price_per_sample, t.payment_token, t.uri \
         FROM licenses l LEFT JOIN terms t ON t.terms_id = l.terms_id WHERE {cond} \
         ORDER BY l.license_num LIMIT $3 OFFSET $4"
    )))
    .bind(&c)
    .bind(&h)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&db.pool)
    .await?;
    let items = rows
        .into_iter()
        .map(|r| LicenseView {
            license_id: r.0,
            creator: r.1,
            holder: r.2,
            terms_id: r.3,
            version: r.4,
            manifest_hash: r.5,
            royalty_bps: r.6,
            minted_block: r.7,
            price_per_sample: r.8,
            payment_token: r.9,
            terms_uri: r.10,
        })
        .collect();
    paged(db, items, page, total).await
}
