//! Streams as the API, the CLI and the dashboard show them, from the derived tables `streams`
//! and `stream_payees`.
//!
//! A stream's `state` is computed for the time of the latest indexed block (the checkpoint) with
//! the contract's rules (see [`Accrual::state_at`]): a stream whose balance ran out shows as
//! `insolvent`, one past its end as `ended`, whatever the last event said.

pub use fairtrain_protocol::api::indexer::{StreamPayeeView, StreamView};

use super::{lower, paged, Page, Paged};
use crate::{
    derive::streams::{Accrual, StreamState},
    raw,
    units::parse_amount,
    Db, Result,
};

/// A `streams` row.
#[derive(Debug, sqlx::FromRow)]
struct StreamRow {
    stream_id: String,
    payer: String,
    license_id: String,
    token: String,
    operator: String,
    rate: String,
    start_time: i64,
    end_time: i64,
    status: String,
    deposited: String,
    withdrawn: String,
    credited: String,
    refunded: String,
    uncovered_debt: String,
    balance: String,
    anchor: i64,
    end_at: i64,
    credited_base: String,
}

const STREAM_COLS: &str = "stream_id, payer, license_id, token, operator, rate, start_time, \
    end_time, status, deposited, withdrawn, credited, refunded, uncovered_debt, balance, anchor, \
    end_at, credited_base";

fn stream_view(r: StreamRow, as_of: u64) -> Result<StreamView> {
    let accrual = Accrual {
        status: r.status.clone(),
        rate: parse_amount(&r.rate)?,
        balance: parse_amount(&r.balance)?,
        anchor: r.anchor,
        end_at: r.end_at,
        credited_base: parse_amount(&r.credited_base)?,
    };
    let now = accrual.state_at(as_of as i64);
    let streamed = parse_amount(&r.withdrawn)? + parse_amount(&r.credited)? + now.withdrawable;
    let written_off = if now.state == StreamState::Cancelled {
        r.uncovered_debt
    } else {
        "0".into()
    };
    Ok(StreamView {
        stream_id: r.stream_id,
        payer: r.payer,
        license_id: r.license_id,
        token: r.token,
        operator: r.operator,
        rate: r.rate,
        start_time: r.start_time,
        end_time: r.end_time,
        status: r.status,
        state: now.state,
        deposited: r.deposited,
        withdrawn: r.withdrawn,
        credited: r.credited,
        refunded: r.refunded,
        balance: r.balance,
        withdrawable: now.withdrawable.to_string(),
        uncovered_debt: now.uncovered_debt.to_string(),
        written_off,
        streamed: streamed.to_string(),
        as_of,
    })
}

async fn as_of(db: &Db) -> Result<u64> {
    Ok(raw::checkpoint_time(db).await?.unwrap_or_default())
}

/// Streams, optionally of one license and/or one payer, by id.
pub async fn streams(
    db: &Db,
    license: Option<&str>,
    payer: Option<&str>,
    page: Page,
) -> Result<Paged<StreamView>> {
    let page = page.check()?;
    let (l, p) = (
        license.map(|s| s.trim().to_owned()).unwrap_or_default(),
        payer.map(lower).unwrap_or_default(),
    );
    const WHERE: &str = "WHERE ($1 = '' OR license_id = $1) AND ($2 = '' OR payer = $2)";
    let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM streams {WHERE}"
    )))
    .bind(&l)
    .bind(&p)
    .fetch_one(&db.pool)
    .await?;
    let rows: Vec<StreamRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {STREAM_COLS} FROM streams {WHERE} \
         ORDER BY LENGTH(stream_id), stream_id LIMIT $3 OFFSET $4"
    )))
    .bind(&l)
    .bind(&p)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&db.pool)
    .await?;
    let time = as_of(db).await?;
    let items = rows
        .into_iter()
        .map(|r| stream_view(r, time))
        .collect::<Result<Vec<_>>>()?;
    paged(db, items, page, total).await
}

/// One stream.
pub async fn stream(db: &Db, id: &str) -> Result<Option<StreamView>> {
    let row: Option<StreamRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {STREAM_COLS} FROM streams WHERE stream_id = $1"
    )))
    .bind(id.trim())
    .fetch_optional(&db.pool)
    .await?;
    let time = as_of(db).await?;
    row.map(|r| stream_view(r, time)).transpose()
}

/// Stream payees per token, optionally one holder.
pub async fn stream_payees(
    db: &Db,
    holder: Option<&str>,
    page: Page,
) -> Result<Paged<StreamPayeeView>> {
    let page = page.check()?;
    let h = holder.map(lower).unwrap_or_default();
    let (total,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM stream_payees WHERE ($1 = '' OR holder = $1)")
            .bind(&h)
            .fetch_one(&db.pool)
            .await?;
    let rows: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT holder, token, withdrawn, credited, owed_withdrawn, owed FROM stream_payees \
         WHERE ($1 = '' OR holder = $1) ORDER BY holder, token LIMIT $2 OFFSET $3",
    )
    .bind(&h)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&db.pool)
    .await?;
    let items = rows
        .into_iter()
        .map(
            |(holder, token, withdrawn, credited, owed_withdrawn, owed)| {
                let received = parse_amount(&withdrawn)? + parse_amount(&owed_withdrawn)?;
                Ok(StreamPayeeView {
                    holder,
                    token,
                    withdrawn,
                    credited,
                    owed_withdrawn,
                    owed,
                    received: received.to_string(),
                })
            },
        )
        .collect::<Result<Vec<_>>>()?;
    paged(db, items, page, total).await
}
