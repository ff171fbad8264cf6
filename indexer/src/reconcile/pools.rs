//! Reconciliation of revenue-share pools (`RevenuePool`, found by the factory): each pool's
//! parameters, each holder's shares, each accepted token's state, what each holder is owed, and
//! Σ holders' claims against the token's `paidOut`.

use std::collections::HashMap;

use alloy::{primitives::U256, providers::DynProvider};
use fairtrain_protocol::bindings::{pools::RevenuePool, RevenuePoolFactory};

use super::{compare::rpc, compare::Checks, rows, Chain};
use crate::{
    derive::pools::claimable,
    units::{parse_addr, parse_amount},
    Db, Deployment, Result,
};

type Pool = RevenuePool::RevenuePoolInstance<DynProvider>;

/// A `pool_tokens` row: pool, token, acc_per_share, carry, distributed, claimed.
type TokenRow = (String, String, String, String, String, String);

/// Per (pool, token, holder): index, owed_scaled, claimed.
type Accounts = HashMap<(String, String, String), (String, String, String)>;

/// Every pool, its holders and its tokens.
pub(super) async fn pools(
    db: &Db,
    chain: &Chain,
    deployment: &Deployment,
    checks: &mut Checks,
) -> Result<()> {
    let pools: Vec<(String, String, String, i64, String)> = rows(
        db,
        "SELECT pool, factory, manager, transferable, total_supply FROM pools ORDER BY pool",
    )
    .await?;
    let tokens: Vec<TokenRow> = rows(
        db,
        "SELECT pool, token, acc_per_share, carry, distributed, claimed FROM pool_tokens \
         ORDER BY pool, accepted_block, token",
    )
    .await?;
    let holders: Vec<(String, String, String)> =
        rows(db, "SELECT pool, holder, shares FROM pool_holders").await?;
    let accounts: Accounts = rows::<(String, String, String, String, String, String)>(
        db,
        "SELECT pool, token, holder, idx, owed_scaled, claimed FROM pool_accounts",
    )
    .await?
    .into_iter()
    .map(|(p, t, h, i, o, c)| ((p, t, h), (i, o, c)))
    .collect();
    let factory = deployment
        .revenue_pool_factory
        .map(|f| RevenuePoolFactory::new(f, chain.provider.clone()));

    for (pool, from, manager, transferable, supply) in pools {
        let contract = RevenuePool::new(parse_addr(&pool)?, chain.provider.clone());
        let accepted: Vec<String> = tokens
            .iter()
            .filter(|t| t.0 == pool)
            .map(|t| t.1.clone())
            .collect();
        let indexed = format!(
            "isPool {}, transferable {}, manager {manager}, totalSupply {supply}, tokens {}",
            !from.is_empty(),
            transferable != 0,
            accepted.join(" ")
        );
        let (c, f, at) = (contract.clone(), factory.clone(), chain.at);
        checks.compare(format!("pool {pool}"), indexed, async move {
            let genuine = match &f {
                Some(f) => f.isPool(*c.address()).block(at).call().await.map_err(rpc)?,
                None => false,
            };
            Ok(format!(
                "isPool {genuine}, transferable {}, manager {:#x}, totalSupply {}, tokens {}",
                c.transferable().block(at).call().await.map_err(rpc)?,
                c.manager().block(at).call().await.map_err(rpc)?,
                c.totalSupply().block(at).call().await.map_err(rpc)?,
                c.acceptedTokens()
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?
                    .iter()
                    .map(|t| format!("{t:#x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ))
        });
        let shares: Vec<(String, String)> = holders
            .iter()
            .filter(|h| h.0 == pool)
            .map(|h| (h.1.clone(), h.2.clone()))
            .collect();
        pool_holders(chain, checks, &contract, &pool, &shares);
        for token in tokens.iter().filter(|t| t.0 == pool) {
            pool_token(chain, checks, &contract, token, &shares, &accounts)?;
        }
    }
    Ok(())
}

/// Each holder's shares (`balanceOf`) in `pool`.
fn pool_holders(
    chain: &Chain,
    checks: &mut Checks,
    contract: &Pool,
    pool: &str,
    shares: &[(String, String)],
) {
    for (holder, held) in shares {
        let (c, at, h) = (contract.clone(), chain.at, holder.clone());
        checks.compare(
            format!("pool {pool}: balanceOf({holder})"),
            held,
            async move {
                c.balanceOf(parse_addr(&h)?)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)
            },
        );
    }
}

/// One accepted token of a pool: its `tokenState`, what each holder is owed (`claimable`, and
/// the exact scaled amount `owedScaled + shares × (accPerShare − index)`), and Σ holders'
/// claims against `paidOut`.
fn pool_token(
    chain: &Chain,
    checks: &mut Checks,
    contract: &Pool,
    (pool, token, acc, carry, distributed, claimed): &TokenRow,
    shares: &[(String, String)],
    accounts: &Accounts,
) -> Result<()> {
    let at = chain.at;
    let indexed = format!(
        "accepted true, accPerShare {acc}, carry {carry}, received {distributed}, \
         paidOut {claimed}"
    );
    let (c, t) = (contract.clone(), token.clone());
    checks.compare(
        format!("pool {pool}: tokenState({token})"),
        indexed,
        async move {
            let s = c
                .tokenState(parse_addr(&t)?)
                .block(at)
                .call()
                .await
                .map_err(rpc)?;
            Ok(format!(
                "accepted {}, accPerShare {}, carry {}, received {}, paidOut {}",
                s.accepted, s.accPerShare, s.carry, s.received, s.paidOut
            ))
        },
    );
    let acc = parse_amount(acc)?;
    let mut claimed_sum = U256::ZERO;
    for (holder, held) in shares {
        let (index, owed, paid) = accounts
            .get(&(pool.clone(), token.clone(), holder.clone()))
            .cloned()
            .unwrap_or_else(|| ("0".into(), "0".into(), "0".into()));
        claimed_sum += parse_amount(&paid)?;
        let held = parse_amount(held)?;
        let (index, owed) = (parse_amount(&index)?, parse_amount(&owed)?);
        let total = owed + held * acc.saturating_sub(index);
        let indexed = format!("{}, scaled {total}", claimable(owed, held, acc, index));
        let (c, t, h) = (contract.clone(), token.clone(), holder.clone());
        let what = format!("pool {pool}: claimable({holder}, {token})");
        checks.compare(what, indexed, async move {
            let (ta, ha) = (parse_addr(&t)?, parse_addr(&h)?);
            let due = c.claimable(ha, ta).block(at).call().await.map_err(rpc)?;
            let a = c.accountState(ha, ta).block(at).call().await.map_err(rpc)?;
            let s = c.tokenState(ta).block(at).call().await.map_err(rpc)?;
            let b = c.balanceOf(ha).block(at).call().await.map_err(rpc)?;
            let scaled = a.owedScaled + b * s.accPerShare.saturating_sub(a.index);
            Ok(format!("{due}, scaled {scaled}"))
        });
    }
    let what = format!("pool {pool}: Σ claimed by holders vs claimed ({token})");
    checks.mismatch_if(what, claimed_sum, claimed);
    Ok(())
}
