//! Revenue-share pools as the API, the CLI and the dashboard show them, from the derived
//! tables `pools`, `pool_tokens`, `pool_holders` and `pool_accounts`.

use alloy::primitives::U256;
pub use fairtrain_protocol::api::indexer::{
    HolderTokenView, HolderView, PoolDetail, PoolTokenView, PoolView,
};

use super::{lower, paged, Page, Paged};
use crate::{derive::pools::claimable, units::parse_amount, Db, Result};

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
