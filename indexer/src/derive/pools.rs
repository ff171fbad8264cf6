//! Revenue-share pools: `pools`, `pool_tokens`, `pool_holders` and `pool_accounts`, replayed from
//! the factory's `PoolCreated` and each pool's events with the contract's own arithmetic
//! (`RevenuePool`): a distribution sets the token's accumulator (the event carries it), a share
//! transfer settles both sides for every accepted token before balances move (the pool books its
//! pending income first, and that `IncomeDistributed` precedes the `Transfer` in the same
//! transaction, so it is applied first), and a claim
//! settles the account and takes the paid units out of its scaled balance. Written directly,
//! like streams: pool events are few.
//!
//! A pool's constructor emits `TokenAccepted` and the share mints (`Transfer` from zero) before
//! the factory emits `PoolCreated` in the same transaction, so any pool event creates the pool's
//! row if it is missing, and `PoolCreated` fills in the factory's data.

use alloy::primitives::{Address, U256};
use fairtrain_protocol::bindings::{
    pool_factory::RevenuePoolFactory::{PoolCreated, RevenuePoolFactoryEvents},
    pools::RevenuePool::RevenuePoolEvents,
};
use sqlx::{Any, Transaction};

use crate::{
    decode::Record,
    units::{addr, amount, big, parse_amount, word},
    Error, Result,
};

/// `RevenuePool.PRECISION`: scale of the accumulators and of `owedScaled`.
pub fn precision() -> U256 {
    U256::from(10u8).pow(U256::from(36u8))
}

/// Applies one `RevenuePoolFactory` event.
pub(super) async fn apply_factory(
    tx: &mut Transaction<'static, Any>,
    r: &Record,
    e: &RevenuePoolFactoryEvents,
) -> Result<()> {
    let RevenuePoolFactoryEvents::PoolCreated(ev) = e;
    created(tx, r, ev).await
}

async fn created(tx: &mut Transaction<'static, Any>, r: &Record, ev: &PoolCreated) -> Result<()> {
    let pool = addr(&ev.pool);
    ensure_pool(tx, &pool).await?;
    sqlx::query(
        "UPDATE pools SET factory = $2, creator = $3, manager = $4, transferable = $5, \
         name = $6, symbol = $7, created_block = $8, created_tx = $9 WHERE pool = $1",
    )
    .bind(&pool)
    .bind(addr(&r.address))
    .bind(addr(&ev.creator))
    .bind(addr(&ev.manager))
    .bind(i64::from(ev.transferable))
    .bind(&ev.name)
    .bind(&ev.symbol)
    .bind(big(r.block_number))
    .bind(word(&r.tx_hash))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts an empty row for `pool` unless it exists.
async fn ensure_pool(tx: &mut Transaction<'static, Any>, pool: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO pools (pool, factory, creator, manager, transferable, name, symbol, \
         total_supply, created_block, created_tx) \
         VALUES ($1, '', '', '', 0, '', '', '0', 0, '') ON CONFLICT (pool) DO NOTHING",
    )
    .bind(pool)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A token's distribution state in a pool.
struct TokenRow {
    acc: U256,
    carry: U256,
    distributed: U256,
    claimed: U256,
    distributions: i64,
}

async fn token_row(
    tx: &mut Transaction<'static, Any>,
    pool: &str,
    token: &str,
) -> Result<TokenRow> {
    let row: Option<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT acc_per_share, carry, distributed, claimed, distributions FROM pool_tokens \
         WHERE pool = $1 AND token = $2",
    )
    .bind(pool)
    .bind(token)
    .fetch_optional(&mut **tx)
    .await?;
    let (acc, carry, distributed, claimed, distributions) = row.ok_or_else(|| {
        Error::Stored(format!(
            "pool {pool}: event of token {token}, which it does not accept"
        ))
    })?;
    Ok(TokenRow {
        acc: parse_amount(&acc)?,
        carry: parse_amount(&carry)?,
        distributed: parse_amount(&distributed)?,
        claimed: parse_amount(&claimed)?,
        distributions,
    })
}

async fn store_token(
    tx: &mut Transaction<'static, Any>,
    pool: &str,
    token: &str,
    t: &TokenRow,
) -> Result<()> {
    sqlx::query(
        "UPDATE pool_tokens SET acc_per_share = $3, carry = $4, distributed = $5, claimed = $6, \
         distributions = $7 WHERE pool = $1 AND token = $2",
    )
    .bind(pool)
    .bind(token)
    .bind(amount(&t.acc))
    .bind(amount(&t.carry))
    .bind(amount(&t.distributed))
    .bind(amount(&t.claimed))
    .bind(t.distributions)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn shares(tx: &mut Transaction<'static, Any>, pool: &str, holder: &str) -> Result<U256> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT shares FROM pool_holders WHERE pool = $1 AND holder = $2")
            .bind(pool)
            .bind(holder)
            .fetch_optional(&mut **tx)
            .await?;
    row.map_or(Ok(U256::ZERO), |(s,)| parse_amount(&s))
}

async fn set_shares(
    tx: &mut Transaction<'static, Any>,
    pool: &str,
    holder: &str,
    value: U256,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO pool_holders (pool, holder, shares) VALUES ($1, $2, $3) \
         ON CONFLICT (pool, holder) DO UPDATE SET shares = excluded.shares",
    )
    .bind(pool)
    .bind(holder)
    .bind(amount(&value))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One holder's position in one token: `accountState` and Σ claimed.
#[derive(Default)]
struct Account {
    index: U256,
    owed_scaled: U256,
    claimed: U256,
}

async fn account(
    tx: &mut Transaction<'static, Any>,
    pool: &str,
    token: &str,
    holder: &str,
) -> Result<Account> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT idx, owed_scaled, claimed FROM pool_accounts \
         WHERE pool = $1 AND token = $2 AND holder = $3",
    )
    .bind(pool)
    .bind(token)
    .bind(holder)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        None => Ok(Account::default()),
        Some((i, o, c)) => Ok(Account {
            index: parse_amount(&i)?,
            owed_scaled: parse_amount(&o)?,
            claimed: parse_amount(&c)?,
        }),
    }
}

async fn store_account(
    tx: &mut Transaction<'static, Any>,
    pool: &str,
    token: &str,
    holder: &str,
    a: &Account,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO pool_accounts (pool, token, holder, idx, owed_scaled, claimed) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (pool, token, holder) DO UPDATE SET \
         idx = excluded.idx, owed_scaled = excluded.owed_scaled, claimed = excluded.claimed",
    )
    .bind(pool)
    .bind(token)
    .bind(holder)
    .bind(amount(&a.index))
    .bind(amount(&a.owed_scaled))
    .bind(amount(&a.claimed))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `RevenuePool._settle`: moves what `holder` earned since its last settlement into
/// `owedScaled` (exact).
async fn settle(
    tx: &mut Transaction<'static, Any>,
    pool: &str,
    token: &str,
    holder: &str,
    acc: U256,
) -> Result<Account> {
    let mut a = account(tx, pool, token, holder).await?;
    if a.index != acc {
        let held = shares(tx, pool, holder).await?;
        let delta = acc.checked_sub(a.index).ok_or_else(|| {
            Error::Stored(format!("pool {pool}: accumulator of {token} went down"))
        })?;
        a.owed_scaled += held * delta;
        a.index = acc;
    }
    Ok(a)
}

/// Applies one event of a pool (`r.address`).
pub(super) async fn apply_pool(
    tx: &mut Transaction<'static, Any>,
    r: &Record,
    e: &RevenuePoolEvents,
) -> Result<()> {
    use RevenuePoolEvents as P;
    let pool = addr(&r.address);
    ensure_pool(tx, &pool).await?;
    match e {
        P::TokenAccepted(ev) => {
            sqlx::query(
                "INSERT INTO pool_tokens (pool, token, acc_per_share, carry, distributed, \
                 claimed, distributions, accepted_block) VALUES ($1, $2, '0', '0', '0', '0', 0, $3)",
            )
            .bind(&pool)
            .bind(addr(&ev.token))
            .bind(big(r.block_number))
            .execute(&mut **tx)
            .await?;
        }
        P::IncomeDistributed(ev) => {
            let token = addr(&ev.token);
            let mut t = token_row(tx, &pool, &token).await?;
            t.acc = ev.accPerShare;
            t.carry = ev.carry;
            t.distributed += ev.amount;
            t.distributions += 1;
            store_token(tx, &pool, &token, &t).await?;
        }
        P::Claimed(ev) => {
            let (token, holder) = (addr(&ev.token), addr(&ev.account));
            let mut t = token_row(tx, &pool, &token).await?;
            let mut a = settle(tx, &pool, &token, &holder, t.acc).await?;
            a.owed_scaled = a
                .owed_scaled
                .checked_sub(ev.amount * precision())
                .ok_or_else(|| {
                    Error::Stored(format!(
                        "pool {pool}: {holder} claimed {} of {token}, more than it was owed",
                        ev.amount
                    ))
                })?;
            a.claimed += ev.amount;
            store_account(tx, &pool, &token, &holder, &a).await?;
            t.claimed += ev.amount;
            store_token(tx, &pool, &token, &t).await?;
        }
        P::Transfer(ev) => transfer(tx, &pool, ev.from, ev.to, ev.value).await?,
        P::Approval(_) | P::LicenseTermsUpdatedByManager(_) => {}
    }
    Ok(())
}

/// A share movement: both sides settled for every accepted token (mints happen before any
/// income, and a pool has no burn), then the balances move.
async fn transfer(
    tx: &mut Transaction<'static, Any>,
    pool: &str,
    from: Address,
    to: Address,
    value: U256,
) -> Result<()> {
    let (f, t) = (addr(&from), addr(&to));
    if !from.is_zero() && !to.is_zero() {
        let tokens: Vec<(String, String)> =
            sqlx::query_as("SELECT token, acc_per_share FROM pool_tokens WHERE pool = $1")
                .bind(pool)
                .fetch_all(&mut **tx)
                .await?;
        for (token, acc) in tokens {
            let acc = parse_amount(&acc)?;
            for holder in [&f, &t] {
                let a = settle(tx, pool, &token, holder, acc).await?;
                store_account(tx, pool, &token, holder, &a).await?;
            }
        }
    }
    let supply_change = |what: &str| Error::Stored(format!("pool {pool}: share {what}"));
    if from.is_zero() || to.is_zero() {
        let (total,): (String,) = sqlx::query_as("SELECT total_supply FROM pools WHERE pool = $1")
            .bind(pool)
            .fetch_one(&mut **tx)
            .await?;
        let total = parse_amount(&total)?;
        let total = if from.is_zero() {
            total + value
        } else {
            total
                .checked_sub(value)
                .ok_or_else(|| supply_change("burn above the supply"))?
        };
        sqlx::query("UPDATE pools SET total_supply = $2 WHERE pool = $1")
            .bind(pool)
            .bind(amount(&total))
            .execute(&mut **tx)
            .await?;
    }
    if !from.is_zero() {
        let held = shares(tx, pool, &f).await?;
        let left = held
            .checked_sub(value)
            .ok_or_else(|| supply_change("transfer above the sender's balance"))?;
        set_shares(tx, pool, &f, left).await?;
    }
    if !to.is_zero() {
        let held = shares(tx, pool, &t).await?;
        set_shares(tx, pool, &t, held + value).await?;
    }
    Ok(())
}

/// What `holder` can claim of `token`: `(owedScaled + shares × (accPerShare − index)) / P`, as
/// `RevenuePool.claimable` computes it.
pub fn claimable(owed_scaled: U256, shares: U256, acc: U256, index: U256) -> U256 {
    (owed_scaled + shares * acc.saturating_sub(index)) / precision()
}
