//! Reconciliation of streams (`RoyaltyStreams`) and revenue-share pools (`RevenuePool`, found by
//! the factory): the derived rows against the contracts' views at the checkpoint block.

use std::collections::HashMap;

use alloy::{
    eips::BlockId,
    primitives::{Address, U256},
    providers::DynProvider,
};
use fairtrain_protocol::bindings::{
    pools::RevenuePool, IERC20Permit, RevenuePoolFactory, RoyaltyStreams,
};
use futures::FutureExt;

use super::{compare, rows, rpc, Check, Difference};
use crate::{
    derive::{
        pools::claimable,
        streams::{Accrual, StreamState},
    },
    units::{parse_addr, parse_amount},
    Db, Deployment, Error, Result,
};

/// Streams: the stored record and the state at the checkpoint's time.
pub(super) async fn streams(
    db: &Db,
    provider: &DynProvider,
    address: Address,
    at: BlockId,
    time: u64,
    checks: &mut Vec<Check>,
) -> Result<()> {
    let contract = RoyaltyStreams::new(address, provider.clone());
    type StreamRow = (String, String, String, String, i64, i64, String);
    let streams = rows::<StreamRow>(
        db,
        "SELECT stream_id, balance, rate, status, anchor, end_at, credited_base FROM streams",
    )
    .await?;
    for (id, balance, rate, status, anchor, end_at, base) in streams {
        let s = contract.clone();
        let accrual = Accrual {
            status: status.clone(),
            rate: parse_amount(&rate)?,
            balance: parse_amount(&balance)?,
            anchor,
            end_at,
            credited_base: parse_amount(&base)?,
        };
        let now = accrual.state_at(time as i64);
        checks.push(
            async move {
                let n: U256 = id
                    .parse()
                    .map_err(|e| Error::Stored(format!("stream id {id:?}: {e}")))?;
                let chain = s.getStream(n).block(at).call().await.map_err(rpc)?;
                let chain_status = match chain.status {
                    1 => "active",
                    2 => "paused",
                    3 => "cancelled",
                    _ => "null",
                };
                if let Some(d) = compare(
                    format!("getStream({id}) balance, rate, status"),
                    format!("{balance}, {rate}, {status}"),
                    format!("{}, {}, {chain_status}", chain.balance, chain.ratePerSecond),
                ) {
                    return Ok(Some(d));
                }
                let state = s.stateOf(n).block(at).call().await.map_err(rpc)?;
                let state = StreamState::from_chain(state).map_or("null", StreamState::as_str);
                let withdrawable = s
                    .withdrawableAmountOf(n)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                let debt = s.uncoveredDebtOf(n).block(at).call().await.map_err(rpc)?;
                Ok(compare(
                    format!("stream {id}: stateOf, withdrawableAmountOf, uncoveredDebtOf"),
                    format!(
                        "{}, {}, {}",
                        now.state.as_str(),
                        now.withdrawable,
                        now.uncovered_debt
                    ),
                    format!("{state}, {withdrawable}, {debt}"),
                ))
            }
            .boxed(),
        );
    }

    // What each holder is owed, and per token the accounting identity
    // `balanceOf(RoyaltyStreams) = Σ stream balances + Σ owedTo`.
    let mut held: HashMap<String, U256> = HashMap::new();
    for (token, balance) in
        rows::<(String, String)>(db, "SELECT token, balance FROM streams").await?
    {
        *held.entry(token).or_default() += parse_amount(&balance)?;
    }
    let payees: Vec<(String, String, String)> =
        rows(db, "SELECT holder, token, owed FROM stream_payees").await?;
    for (holder, token, owed) in payees {
        *held.entry(token.clone()).or_default() += parse_amount(&owed)?;
        let s = contract.clone();
        checks.push(
            async move {
                let chain = s
                    .owedTo(parse_addr(&holder)?, parse_addr(&token)?)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                Ok(compare(format!("owedTo({holder}, {token})"), owed, chain))
            }
            .boxed(),
        );
    }
    for (token, sum) in held {
        let provider = provider.clone();
        checks.push(
            async move {
                let chain = IERC20Permit::new(parse_addr(&token)?, provider)
                    .balanceOf(address)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                Ok(compare(
                    format!("balanceOf(streams) = Σ stream balances + Σ owedTo ({token})"),
                    sum,
                    chain,
                ))
            }
            .boxed(),
        );
    }
    Ok(())
}

/// Pools: each pool's parameters, tokens, holders and what each holder is owed.
pub(super) async fn pools(
    db: &Db,
    provider: &DynProvider,
    deployment: &Deployment,
    at: BlockId,
    checks: &mut Vec<Check>,
) -> Result<()> {
    let pools: Vec<(String, String, String, i64, String)> = rows(
        db,
        "SELECT pool, factory, manager, transferable, total_supply FROM pools ORDER BY pool",
    )
    .await?;
    let tokens: Vec<(String, String, String, String, String, String)> = rows(
        db,
        "SELECT pool, token, acc_per_share, carry, distributed, claimed FROM pool_tokens \
         ORDER BY pool, accepted_block, token",
    )
    .await?;
    let holders: Vec<(String, String, String)> =
        rows(db, "SELECT pool, holder, shares FROM pool_holders").await?;
    let accounts: HashMap<(String, String, String), (String, String, String)> =
        rows::<(String, String, String, String, String, String)>(
            db,
            "SELECT pool, token, holder, idx, owed_scaled, claimed FROM pool_accounts",
        )
        .await?
        .into_iter()
        .map(|(p, t, h, i, o, c)| ((p, t, h), (i, o, c)))
        .collect();
    let factory = deployment
        .revenue_pool_factory
        .map(|f| RevenuePoolFactory::new(f, provider.clone()));

    for (pool, from, manager, transferable, supply) in pools {
        let contract = RevenuePool::new(parse_addr(&pool)?, provider.clone());
        let accepted: Vec<String> = tokens
            .iter()
            .filter(|t| t.0 == pool)
            .map(|t| t.1.clone())
            .collect();
        let factory = factory.clone();
        let (c, p) = (contract.clone(), pool.clone());
        checks.push(
            async move {
                let genuine = match &factory {
                    Some(f) => f.isPool(c.address().to_owned()).block(at).call().await.map_err(rpc)?,
                    None => false,
                };
                let chain = format!(
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
                );
                let indexed = format!(
                    "isPool {}, transferable {}, manager {manager}, totalSupply {supply}, tokens {}",
                    !from.is_empty(),
                    transferable != 0,
                    accepted.join(" ")
                );
                Ok(compare(format!("pool {p}"), indexed, chain))
            }
            .boxed(),
        );
        let shares: Vec<(String, String)> = holders
            .iter()
            .filter(|h| h.0 == pool)
            .map(|h| (h.1.clone(), h.2.clone()))
            .collect();
        for (holder, held) in shares.clone() {
            let (c, p) = (contract.clone(), pool.clone());
            checks.push(
                async move {
                    let chain = c
                        .balanceOf(parse_addr(&holder)?)
                        .block(at)
                        .call()
                        .await
                        .map_err(rpc)?;
                    Ok(compare(
                        format!("pool {p}: balanceOf({holder})"),
                        held,
                        chain,
                    ))
                }
                .boxed(),
            );
        }
        for (_, token, acc, carry, distributed, claimed) in tokens.iter().filter(|t| t.0 == pool) {
            let (c, p, token) = (contract.clone(), pool.clone(), token.clone());
            let indexed = format!(
                "accepted true, accPerShare {acc}, carry {carry}, received {distributed}, \
                 paidOut {claimed}"
            );
            let t = token.clone();
            checks.push(
                async move {
                    let s = c
                        .tokenState(parse_addr(&t)?)
                        .block(at)
                        .call()
                        .await
                        .map_err(rpc)?;
                    let chain = format!(
                        "accepted {}, accPerShare {}, carry {}, received {}, paidOut {}",
                        s.accepted, s.accPerShare, s.carry, s.received, s.paidOut
                    );
                    Ok(compare(
                        format!("pool {p}: tokenState({t})"),
                        indexed,
                        chain,
                    ))
                }
                .boxed(),
            );
            let acc = parse_amount(acc)?;
            let mut claimed_sum = U256::ZERO;
            for (holder, held) in &shares {
                let (index, owed, paid) = accounts
                    .get(&(pool.clone(), token.clone(), holder.clone()))
                    .cloned()
                    .unwrap_or_else(|| ("0".into(), "0".into(), "0".into()));
                claimed_sum += parse_amount(&paid)?;
                let held = parse_amount(held)?;
                let (index, owed) = (parse_amount(&index)?, parse_amount(&owed)?);
                let total = owed + held * acc.saturating_sub(index);
                let indexed = format!("{}, scaled {total}", claimable(owed, held, acc, index));
                let (c, p, t, h) = (
                    contract.clone(),
                    pool.clone(),
                    token.clone(),
                    holder.clone(),
                );
                checks.push(
                    async move {
                        let (ta, ha) = (parse_addr(&t)?, parse_addr(&h)?);
                        let due = c.claimable(ha, ta).block(at).call().await.map_err(rpc)?;
                        let a = c.accountState(ha, ta).block(at).call().await.map_err(rpc)?;
                        let s = c.tokenState(ta).block(at).call().await.map_err(rpc)?;
                        let b = c.balanceOf(ha).block(at).call().await.map_err(rpc)?;
                        let scaled = a.owedScaled + b * s.accPerShare.saturating_sub(a.index);
                        Ok(compare(
                            format!("pool {p}: claimable({h}, {t})"),
                            indexed,
                            format!("{due}, scaled {scaled}"),
                        ))
                    }
                    .boxed(),
                );
            }
            if claimed_sum.to_string() != *claimed {
                checks.push(
                    futures::future::ready(Ok(Some(Difference {
                        what: format!("pool {pool}: Σ claimed by holders vs claimed ({token})"),
                        indexed: claimed_sum.to_string(),
                        chain: claimed.clone(),
                    })))
                    .boxed(),
                );
            }
        }
    }
    Ok(())
}
