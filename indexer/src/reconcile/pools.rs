//! Reconciliation of revenue-share pools (`RevenuePool`, found by the factory): each pool's
//! parameters, each holder's shares, each accepted token's state, what each holder is owed, and
//! Σ holders' claims against the token's `paidOut`.

use std::collections::HashMap;

use alloy::{
    primitives::{Address, U256},
    sol_types::SolCall,
};
use fairtrain_protocol::bindings::{
    pools::{Pools, RevenuePool},
    RevenuePoolFactory,
};

use super::{
    compare::{ready, Checks},
    rows, Chain, Snapshot,
};
use crate::{
    derive::pools::claimable,
    units::{parse_addr, parse_amount},
    Deployment, Result,
};

/// A `pool_tokens` row: pool, token, acc_per_share, carry, distributed, claimed.
type TokenRow = (String, String, String, String, String, String);

/// Per (pool, token, holder): index, owed_scaled, claimed.
type Accounts = HashMap<(String, String, String), (String, String, String)>;

/// Every pool, its holders and its tokens.
pub(super) async fn pools(
    db: &Snapshot,
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
    let on_chain = OnChain::read(chain, &tokens, &holders).await?;
    let params = PoolParams::read(chain, deployment, &pools).await?;

    for (pool, from, manager, transferable, supply) in pools {
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
        let address = parse_addr(&pool)?;
        let chain_tokens: Vec<String> = params.tokens[&address]
            .iter()
            .map(|t| format!("{t:#x}"))
            .collect();
        let chain_value = format!(
            "isPool {}, transferable {}, manager {:#x}, totalSupply {}, tokens {}",
            params.genuine.get(&address).copied().unwrap_or(false),
            params.transferable[&address],
            params.manager[&address],
            params.supply[&address],
            chain_tokens.join(" ")
        );
        checks.compare(format!("pool {pool}"), indexed, ready(chain_value));
        let shares: Vec<(String, String)> = holders
            .iter()
            .filter(|h| h.0 == pool)
            .map(|h| (h.1.clone(), h.2.clone()))
            .collect();
        pool_holders(checks, &on_chain, &pool, &shares)?;
        for token in tokens.iter().filter(|t| t.0 == pool) {
            pool_token(checks, &on_chain, token, &shares, &accounts)?;
        }
    }
    Ok(())
}

/// For each key, `call(key)` on the pool `pool(key)` names: what [`fairtrain_chain::Views::read_all`]
/// reads.
fn on_pool<K, C>(
    keys: &[K],
    pool: impl Fn(&K) -> Address,
    call: impl Fn(&K) -> C,
) -> Vec<(K, Address, C)>
where
    K: Copy,
{
    keys.iter()
        .map(|key| (*key, pool(key), call(key)))
        .collect()
}

/// The same parameterless view `call` on every pool of `pools`.
fn on_each<C: Clone>(pools: &[Address], call: C) -> Vec<(Address, Address, C)> {
    on_pool(pools, |&pool| pool, |_| call.clone())
}

/// Each pool's own parameters, read in bulk at the reconciled block: whether the factory made it,
/// transferability, manager, total supply and accepted tokens.
struct PoolParams {
    genuine: HashMap<Address, bool>,
    transferable: HashMap<Address, bool>,
    manager: HashMap<Address, Address>,
    supply: HashMap<Address, U256>,
    tokens: HashMap<Address, Vec<Address>>,
}

impl PoolParams {
    async fn read(
        chain: &Chain,
        deployment: &Deployment,
        pools: &[(String, String, String, i64, String)],
    ) -> Result<Self> {
        let mut addresses = Vec::with_capacity(pools.len());
        for (pool, ..) in pools {
            addresses.push(parse_addr(pool)?);
        }
        let views = &chain.views;
        let genuine = match deployment.revenue_pool_factory {
            Some(factory) => {
                views
                    .read_each(factory, addresses.iter().copied(), |&pool| {
                        <RevenuePoolFactory::isPoolCall as SolCall>::new((pool,))
                    })
                    .await?
            }
            None => HashMap::new(),
        };
        Ok(Self {
            genuine,
            transferable: views
                .read_all(on_each(&addresses, RevenuePool::transferableCall {}))
                .await?,
            manager: views
                .read_all(on_each(&addresses, RevenuePool::managerCall {}))
                .await?,
            supply: views
                .read_all(on_each(&addresses, RevenuePool::totalSupplyCall {}))
                .await?,
            tokens: views
                .read_all(on_each(&addresses, RevenuePool::acceptedTokensCall {}))
                .await?,
        })
    }
}

/// What the pools say, read in bulk at the reconciled block: each holder's shares, each token's
/// state, and per holder and token what is claimable and the holder's account.
struct OnChain {
    shares: HashMap<(Address, Address), U256>,
    tokens: HashMap<(Address, Address), Pools::TokenState>,
    claimable: HashMap<(Address, Address, Address), U256>,
    accounts: HashMap<(Address, Address, Address), Pools::Account>,
}

impl OnChain {
    /// Reads, through [`Chain::views`], every holder's shares, every accepted token's state, and
    /// for every holder of a pool and every token it accepts the claimable amount and account.
    async fn read(
        chain: &Chain,
        tokens: &[TokenRow],
        holders: &[(String, String, String)],
    ) -> Result<Self> {
        let mut pool_holders = Vec::with_capacity(holders.len());
        for (pool, holder, _) in holders {
            pool_holders.push((parse_addr(pool)?, parse_addr(holder)?));
        }
        let mut pool_tokens = Vec::with_capacity(tokens.len());
        for (pool, token, ..) in tokens {
            pool_tokens.push((parse_addr(pool)?, parse_addr(token)?));
        }
        let mut triples = Vec::new();
        for &(pool, token) in &pool_tokens {
            for &(p, holder) in &pool_holders {
                if p == pool {
                    triples.push((pool, holder, token));
                }
            }
        }
        let views = &chain.views;
        let shares = views
            .read_all(on_pool(
                &pool_holders,
                |k| k.0,
                |&(_, account)| RevenuePool::balanceOfCall { account },
            ))
            .await?;
        let token_states = views
            .read_all(on_pool(
                &pool_tokens,
                |k| k.0,
                |&(_, token)| RevenuePool::tokenStateCall { token },
            ))
            .await?;
        let claimable = views
            .read_all(on_pool(
                &triples,
                |k| k.0,
                |&(_, account, token)| RevenuePool::claimableCall { account, token },
            ))
            .await?;
        let accounts = views
            .read_all(on_pool(
                &triples,
                |k| k.0,
                |&(_, account, token)| RevenuePool::accountStateCall { account, token },
            ))
            .await?;
        Ok(Self {
            shares,
            tokens: token_states,
            claimable,
            accounts,
        })
    }
}

/// Each holder's shares (`balanceOf`) in `pool`.
fn pool_holders(
    checks: &mut Checks,
    on_chain: &OnChain,
    pool: &str,
    shares: &[(String, String)],
) -> Result<()> {
    let pool_address = parse_addr(pool)?;
    for (holder, held) in shares {
        let chain_shares = on_chain.shares[&(pool_address, parse_addr(holder)?)];
        checks.compare(
            format!("pool {pool}: balanceOf({holder})"),
            held,
            ready(chain_shares),
        );
    }
    Ok(())
}

/// One accepted token of a pool: its `tokenState`, what each holder is owed (`claimable`, and
/// the exact scaled amount `owedScaled + shares × (accPerShare − index)`), and Σ holders'
/// claims against `paidOut`.
fn pool_token(
    checks: &mut Checks,
    on_chain: &OnChain,
    (pool, token, acc, carry, distributed, claimed): &TokenRow,
    shares: &[(String, String)],
    accounts: &Accounts,
) -> Result<()> {
    let (pool_address, token_address) = (parse_addr(pool)?, parse_addr(token)?);
    let state = &on_chain.tokens[&(pool_address, token_address)];
    let indexed = format!(
        "accepted true, accPerShare {acc}, carry {carry}, received {distributed}, \
         paidOut {claimed}"
    );
    let chain_state = format!(
        "accepted {}, accPerShare {}, carry {}, received {}, paidOut {}",
        state.accepted, state.accPerShare, state.carry, state.received, state.paidOut
    );
    checks.compare(
        format!("pool {pool}: tokenState({token})"),
        indexed,
        ready(chain_state),
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
        let holder_address = parse_addr(holder)?;
        let key = (pool_address, holder_address, token_address);
        let account = &on_chain.accounts[&key];
        let chain_shares = on_chain.shares[&(pool_address, holder_address)];
        let scaled =
            account.owedScaled + chain_shares * state.accPerShare.saturating_sub(account.index);
        let chain_value = format!("{}, scaled {scaled}", on_chain.claimable[&key]);
        let what = format!("pool {pool}: claimable({holder}, {token})");
        checks.compare(what, indexed, ready(chain_value));
    }
    let what = format!("pool {pool}: Σ claimed by holders vs claimed ({token})");
    checks.mismatch_if(what, claimed_sum, claimed);
    Ok(())
}
