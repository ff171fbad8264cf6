//! Batches with their audit status, reservations and claims.

use sqlx::{any::AnyRow, Row};

use super::{
    paged, settlements::settlements_where, BatchDetail, BatchView, Page, Paged, ReservationView,
};
use crate::{
    audit::{status_at, STATUS_COLS, STATUS_JOINS},
    units::parse_word,
    Db, Error, Result,
};

fn batch_query(filter: &str) -> String {
    format!(
        "SELECT b.root, b.relayer, b.receipt_count, b.data_hash, b.data_uri, b.block_number, \
         b.block_time, b.tx_hash, b.reserved, b.settled, b.fees, b.claims, {} \
         FROM batches b {} {filter}",
        STATUS_COLS, STATUS_JOINS
    )
}

fn batch_view(r: &AnyRow) -> Result<BatchView> {
    let tx_hash: String = r.try_get("tx_hash")?;
    let claims: i64 = r.try_get("claims")?;
    Ok(BatchView {
        root: r.try_get("root")?,
        relayer: r.try_get("relayer")?,
        receipt_count: r.try_get("receipt_count")?,
        data_hash: r.try_get("data_hash")?,
        data_uri: r.try_get("data_uri")?,
        block_number: r.try_get("block_number")?,
        block_time: r.try_get("block_time")?,
        audit: status_at(r, 12, &tx_hash, claims)?,
        tx_hash,
        reserved: r.try_get("reserved")?,
        settled: r.try_get("settled")?,
        fees: r.try_get("fees")?,
        claims,
    })
}

/// Batches, newest first.
pub async fn batches(db: &Db, page: Page) -> Result<Paged<BatchView>> {
    let page = page.check()?;
    let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM batches")
        .fetch_one(&db.pool)
        .await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(batch_query(
        "ORDER BY b.block_number DESC, b.root LIMIT $1 OFFSET $2",
    )))
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&db.pool)
    .await?;
    let items = rows.iter().map(batch_view).collect::<Result<_>>()?;
    paged(db, items, page, total).await
}

/// One batch by root.
pub async fn batch(db: &Db, root: &str) -> Result<Option<BatchDetail>> {
    let root = format!(
        "{:#x}",
        parse_word(root).map_err(|e| Error::invalid("root", e.to_string()))?
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(batch_query("WHERE b.root = $1")))
        .bind(&root)
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let reservations: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT payer, token, relayer, amount, expires_at FROM reservations \
         WHERE root = $1 ORDER BY payer, token",
    )
    .bind(&root)
    .fetch_all(&db.pool)
    .await?;
    let claims = settlements_where(
        db,
        "s.root = $1",
        &root,
        Page {
            page: 1,
            per_page: 1000,
        },
    )
    .await?
    .items;
    Ok(Some(BatchDetail {
        batch: batch_view(&row)?,
        reservations: reservations
            .into_iter()
            .map(|r| ReservationView {
                payer: r.0,
                token: r.1,
                relayer: r.2,
                amount: r.3,
                expires_at: r.4,
            })
            .collect(),
        claims,
    }))
}
