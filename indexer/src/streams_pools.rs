//! Streams and revenue-share pools as the API, the CLI and the dashboard show them, from the
//! derived tables `streams`, `stream_payees`, `pools`, `pool_tokens`, `pool_holders` and
//! `pool_accounts`.
//!
//! A stream's `state` is computed for the time of the latest indexed block (the checkpoint) with
//! the contract's rules (see [`Accrual::state_at`]): a stream whose balance ran out shows as
//! `insolvent`, one past its end as `ended`, whatever the last event said.

use alloy::primitives::U256;
pub use fairtrain_protocol::api::indexer::{
    HolderTokenView, HolderView, PoolDetail, PoolTokenView, PoolView, StreamPayeeView, StreamView,
};

use crate::{
    derive::{
        pools::claimable,
        streams::{Accrual, StreamState},
    },
    query::{lower, paged, Page, Paged},
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

type PoolRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    i64,
);
const POOL_COLS: &str =
    "pool, factory, creator, manager, transferable, name, symbol, total_supply, created_block";

async fn pool_view(db: &Db, r: PoolRow) -> Result<PoolView> {
    let tokens: Vec<(String, String, String, i64, String, String)> = sqlx::query_as(
        "SELECT token, distributed, claimed, distributions, acc_per_share, carry \
         FROM pool_tokens WHERE pool = $1 ORDER BY accepted_block, token",
    )
    .bind(&r.0)
    .fetch_all(&db.pool)
    .await?;
    let (holders,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM pool_holders WHERE pool = $1 AND shares <> '0'")
            .bind(&r.0)
            .fetch_one(&db.pool)
            .await?;
    let tokens = tokens
        .into_iter()
        .map(|(token, distributed, claimed, distributions, acc, carry)| {
            let unclaimed = parse_amount(&distributed)?.saturating_sub(parse_amount(&claimed)?);
            Ok(PoolTokenView {
                token,
                distributed,
                claimed,
                unclaimed: unclaimed.to_string(),
                distributions,
                acc_per_share: acc,
                carry,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PoolView {
        pool: r.0,
        factory: r.1,
        creator: r.2,
        manager: r.3,
        transferable: r.4 != 0,
        name: r.5,
        symbol: r.6,
        total_supply: r.7,
        created_block: r.8,
        holders,
        tokens,
    })
}

/// Pools, by creation.
pub async fn pools(db: &Db, page: Page) -> Result<Paged<PoolView>> {
    let page = page.check()?;
    let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM pools")
        .fetch_one(&db.pool)
        .await?;
    let rows: Vec<PoolRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {POOL_COLS} FROM pools ORDER BY created_block, pool LIMIT $1 OFFSET $2"
    )))
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(&db.pool)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(pool_view(db, r).await?);
    }
    paged(db, items, page, total).await
}

/// One pool with its holders, what each claimed and what each can claim.
pub async fn pool(db: &Db, address: &str) -> Result<Option<PoolDetail>> {
    let address = lower(address);
    let row: Option<PoolRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {POOL_COLS} FROM pools WHERE pool = $1"
    )))
    .bind(&address)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let pool = pool_view(db, row).await?;
    let holders: Vec<(String, String)> =
        sqlx::query_as("SELECT holder, shares FROM pool_holders WHERE pool = $1")
            .bind(&address)
            .fetch_all(&db.pool)
            .await?;
    let accounts: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT token, holder, idx, owed_scaled, claimed FROM pool_accounts WHERE pool = $1",
    )
    .bind(&address)
    .fetch_all(&db.pool)
    .await?;
    let mut holder_list = Vec::with_capacity(holders.len());
    for (holder, shares) in holders {
        let held = parse_amount(&shares)?;
        let mut tokens = Vec::with_capacity(pool.tokens.len());
        for t in &pool.tokens {
            let account = accounts.iter().find(|a| a.0 == t.token && a.1 == holder);
            let (index, owed, claimed) = match account {
                Some(a) => (parse_amount(&a.2)?, parse_amount(&a.3)?, a.4.clone()),
                None => (U256::ZERO, U256::ZERO, "0".into()),
            };
            let acc = parse_amount(&t.acc_per_share)?;
            tokens.push(HolderTokenView {
                token: t.token.clone(),
                claimed,
                claimable: claimable(owed, held, acc, index).to_string(),
            });
        }
        holder_list.push(HolderView {
            holder,
            shares,
            tokens,
        });
    }
    holder_list.sort_by(|a, b| {
        let key = |h: &HolderView| parse_amount(&h.shares).unwrap_or_default();
        key(b).cmp(&key(a)).then_with(|| a.holder.cmp(&b.holder))
    });
    Ok(Some(PoolDetail { pool, holder_list }))
}
