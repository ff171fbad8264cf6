//! Reconciliation: every derived value that a contract view can confirm is compared with an
//! `eth_call` at the checkpoint block. A run without differences is the indexer's proof that
//! its derived state is the chain's.
//!
//! Checked: parameters (fee, notice period, claim window, owner), allowed tokens, number of
//! terms and licenses, each license's holder, creator, terms and version, each payer's available
//! balance and pending withdrawal, each reservation's remaining amount (and their sum against the
//! payer's reserved balance), acceptances, relayers, signers, accrued fees, settled samples per
//! usage key, and the accounting identity `balanceOf(escrow) = Σ available + Σ reserved + fees`
//! per token; per stream, `getStream`'s balance, rate and status and `stateOf`,
//! `withdrawableAmountOf` and `uncoveredDebtOf` against the state computed from the derived row
//! for the checkpoint block's time; per pool, `isPool`, transferability, manager, total supply
//! and accepted tokens, each token's `tokenState`, each holder's shares (`balanceOf`), and per
//! holder and token what is owed (`claimable`, and the exact scaled amount
//! `owedScaled + shares × (accPerShare − index)`), and Σ holders' claims against `paidOut`.

use std::collections::HashMap;

use alloy::{
    eips::BlockId,
    primitives::{Address, U256},
    providers::DynProvider,
};
use fairtrain_protocol::bindings::{
    pools::RevenuePool, IERC20Permit, LicenseNFT, RevenuePoolFactory, RoyaltyStreams,
    TrainingEscrow,
};
use futures::{future::BoxFuture, stream, FutureExt, StreamExt};
use serde::Serialize;

use crate::{
    derive::{
        pools::claimable,
        streams::{Accrual, StreamState},
    },
    raw,
    units::{parse_addr, parse_amount, parse_word},
    Db, Deployment, Error, Result,
};

/// One value on which the index and the chain disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// What was compared, e.g. `availableBalance(0x…, 0x…)`.
    pub what: String,
    /// The indexed value.
    pub indexed: String,
    /// The chain's value.
    pub chain: String,
}

/// The outcome of a reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The block compared at (the checkpoint).
    pub block: u64,
    /// Values compared.
    pub checks: u64,
    /// Values that differ (empty on a clean run).
    pub differences: Vec<Difference>,
}

impl Report {
    /// Whether index and chain agree on every value.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

type Check = BoxFuture<'static, Result<Option<Difference>>>;

fn compare(what: String, indexed: impl ToString, chain: impl ToString) -> Option<Difference> {
    let (indexed, chain) = (indexed.to_string(), chain.to_string());
    (indexed != chain).then_some(Difference {
        what,
        indexed,
        chain,
    })
}

fn rpc(e: impl std::fmt::Display) -> Error {
    Error::rpc("eth_call", e)
}

async fn rows<T>(db: &Db, sql: &'static str) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    Ok(sqlx::query_as(sql).fetch_all(&db.pool).await?)
}

/// Compares the derived state of `db` with the chain at the checkpoint block.
pub async fn reconcile(db: &Db, provider: &DynProvider, deployment: &Deployment) -> Result<Report> {
    let cp = raw::checkpoint(db)
        .await?
        .ok_or_else(|| Error::invalid("reconcile", "nothing indexed yet"))?;
    let at = BlockId::number(cp.number);
    let escrow = TrainingEscrow::new(deployment.training_escrow, provider.clone());
    let nft = LicenseNFT::new(deployment.license_nft, provider.clone());
    let mut checks: Vec<Check> = Vec::new();

    // Parameters.
    let params: HashMap<String, String> =
        rows::<(String, String)>(db, "SELECT key, value FROM params")
            .await?
            .into_iter()
            .collect();
    let param = |k: &str| {
        params
            .get(k)
            .cloned()
            .unwrap_or_else(|| "(not indexed)".into())
    };
    {
        let (e, p) = (escrow.clone(), param("fee_bps"));
        checks.push(
            async move {
                Ok(compare(
                    "feeBps()".into(),
                    p,
                    e.feeBps().block(at).call().await.map_err(rpc)?,
                ))
            }
            .boxed(),
        );
        let (e, p) = (escrow.clone(), param("notice_period"));
        checks.push(
            async move {
                Ok(compare(
                    "noticePeriod()".into(),
                    p,
                    e.noticePeriod().block(at).call().await.map_err(rpc)?,
                ))
            }
            .boxed(),
        );
        let (e, p) = (escrow.clone(), param("claim_window"));
        checks.push(
            async move {
                Ok(compare(
                    "claimWindow()".into(),
                    p,
                    e.claimWindow().block(at).call().await.map_err(rpc)?,
                ))
            }
            .boxed(),
        );
        let (e, p) = (escrow.clone(), param("owner"));
        checks.push(
            async move {
                Ok(compare(
                    "owner()".into(),
                    p,
                    format!("{:#x}", e.owner().block(at).call().await.map_err(rpc)?),
                ))
            }
            .boxed(),
        );
    }

    // Tokens.
    let tokens: Vec<(String, i64)> = rows(db, "SELECT token, allowed FROM tokens").await?;
    for (token, allowed) in tokens.clone() {
        let e = escrow.clone();
        checks.push(
            async move {
                let chain = e
                    .isTokenAllowed(parse_addr(&token)?)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                Ok(compare(
                    format!("isTokenAllowed({token})"),
                    allowed != 0,
                    chain,
                ))
            }
            .boxed(),
        );
    }

    // Terms and licenses.
    let (terms_count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM terms")
        .fetch_one(&db.pool)
        .await?;
    let n = nft.clone();
    checks.push(
        async move {
            Ok(compare(
                "termsCount()".into(),
                terms_count,
                n.termsCount().block(at).call().await.map_err(rpc)?,
            ))
        }
        .boxed(),
    );
    let licenses: Vec<(String, String, String, i64, i64)> = rows(
        db,
        "SELECT license_id, creator, holder, terms_id, version FROM licenses",
    )
    .await?;
    let minted = licenses.len();
    let n = nft.clone();
    checks.push(
        async move {
            Ok(compare(
                "totalMinted()".into(),
                minted,
                n.totalMinted().block(at).call().await.map_err(rpc)?,
            ))
        }
        .boxed(),
    );
    for (id, creator, holder, terms_id, version) in licenses {
        let n = nft.clone();
        checks.push(
            async move {
                let tid: U256 = id
                    .parse()
                    .map_err(|e| Error::Stored(format!("license id {id}: {e}")))?;
                let owner = n.ownerOf(tid).block(at).call().await.map_err(rpc)?;
                let rec = n.license(tid).block(at).call().await.map_err(rpc)?;
                let indexed =
                    format!("holder {holder} creator {creator} terms {terms_id} version {version}");
                let chain = format!(
                    "holder {owner:#x} creator {:#x} terms {} version {}",
                    rec.creator, rec.termsId, rec.version
                );
                Ok(compare(format!("license({id})"), indexed, chain))
            }
            .boxed(),
        );
    }

    // Balances, withdrawals, reservations.
    let balances: Vec<(String, String, String, String)> =
        rows(db, "SELECT payer, token, available, reserved FROM balances").await?;
    let withdrawals: HashMap<(String, String), (String, i64, i64)> =
        rows::<(String, String, String, i64, i64)>(
            db,
            "SELECT payer, token, amount, unlock_at, lapses_at FROM withdrawals",
        )
        .await?
        .into_iter()
        .map(|(p, t, a, u, l)| ((p, t), (a, u, l)))
        .collect();
    let reservations: Vec<(String, String, String, String)> =
        rows(db, "SELECT root, payer, token, remaining FROM reservations").await?;
    let mut reserved_sum: HashMap<(String, String), U256> = HashMap::new();
    for (_, payer, token, remaining) in &reservations {
        *reserved_sum
            .entry((payer.clone(), token.clone()))
            .or_default() += parse_amount(remaining)?;
    }
    let mut totals: HashMap<String, U256> = HashMap::new();
    for (payer, token, available, reserved) in balances {
        *totals.entry(token.clone()).or_default() +=
            parse_amount(&available)? + parse_amount(&reserved)?;
        let sum = reserved_sum
            .get(&(payer.clone(), token.clone()))
            .copied()
            .unwrap_or_default();
        if sum.to_string() != reserved {
            checks.push(
                futures::future::ready(Ok(Some(Difference {
                    what: format!("reserved({payer}, {token}) vs Σ reservations"),
                    indexed: reserved.clone(),
                    chain: sum.to_string(),
                })))
                .boxed(),
            );
        }
        let e = escrow.clone();
        let pending = withdrawals.get(&(payer.clone(), token.clone())).cloned();
        checks.push(
            async move {
                let (p, t) = (parse_addr(&payer)?, parse_addr(&token)?);
                let chain = e
                    .availableBalance(p, t)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                if let Some(d) = compare(
                    format!("availableBalance({payer}, {token})"),
                    &available,
                    chain,
                ) {
                    return Ok(Some(d));
                }
                let w = e
                    .pendingWithdrawal(p, t)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                let indexed =
                    pending.map_or("0 0 0".to_owned(), |(a, u, l)| format!("{a} {u} {l}"));
                Ok(compare(
                    format!("pendingWithdrawal({payer}, {token})"),
                    indexed,
                    format!("{} {} {}", w.amount, w.unlockAt, w.lapsesAt),
                ))
            }
            .boxed(),
        );
    }
    for (root, payer, token, remaining) in reservations {
        let e = escrow.clone();
        checks.push(
            async move {
                let r = e
                    .reservation(parse_word(&root)?, parse_addr(&payer)?, parse_addr(&token)?)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                Ok(compare(
                    format!("reservation({root}, {payer}, {token}).remaining"),
                    remaining,
                    r.remaining,
                ))
            }
            .boxed(),
        );
    }

    // Acceptances, relayers, signers.
    type AcceptanceRow = (String, String, i64, String, String, i64, i64, i64);
    let acceptances: Vec<AcceptanceRow> = rows(
        db,
        "SELECT payer, license_id, terms_id, token, price_per_sample, max_samples, expires_at, \
         chargeable_from FROM acceptances",
    )
    .await?;
    for (payer, license, terms, token, price, max, expires, from) in acceptances {
        let e = escrow.clone();
        checks.push(
            async move {
                let lid: U256 = license
                    .parse()
                    .map_err(|e| Error::Stored(format!("license id {license}: {e}")))?;
                let a = e
                    .acceptance(parse_addr(&payer)?, lid, terms as u64)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                Ok(compare(
                    format!("acceptance({payer}, {license}, {terms})"),
                    format!("{token} {price} {max} {expires} {from}"),
                    format!(
                        "{:#x} {} {} {} {}",
                        a.token, a.pricePerSample, a.maxSamples, a.expiresAt, a.chargeableFrom
                    ),
                ))
            }
            .boxed(),
        );
    }
    let relayers: Vec<(String, String, i64)> =
        rows(db, "SELECT payer, relayer, authorized FROM relayers").await?;
    for (payer, relayer, authorized) in relayers {
        let e = escrow.clone();
        checks.push(
            async move {
                let chain = e
                    .isRelayer(parse_addr(&payer)?, parse_addr(&relayer)?)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                Ok(compare(
                    format!("isRelayer({payer}, {relayer})"),
                    authorized != 0,
                    chain,
                ))
            }
            .boxed(),
        );
    }
    let signers: Vec<(String, String, i64)> =
        rows(db, "SELECT payer, signer, revoked_at FROM signers").await?;
    for (payer, signer, revoked) in signers {
        let e = escrow.clone();
        checks.push(
            async move {
                let s = e
                    .signerOf(parse_addr(&payer)?, parse_addr(&signer)?)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                Ok(compare(
                    format!("signerOf({payer}, {signer}).revokedAt"),
                    revoked,
                    s.revokedAt,
                ))
            }
            .boxed(),
        );
    }

    // Settled samples per usage key.
    let settled: Vec<(String, i64)> = rows(
        db,
        "SELECT usage_key, MAX(cumulative_samples) FROM settlements GROUP BY usage_key",
    )
    .await?;
    for (key, cumulative) in settled {
        let e = escrow.clone();
        checks.push(
            async move {
                let chain = e
                    .settledSamples(parse_word(&key)?)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                Ok(compare(format!("settledSamples({key})"), cumulative, chain))
            }
            .boxed(),
        );
    }

    // Fees and the accounting identity per token.
    let fees: HashMap<String, String> =
        rows::<(String, String)>(db, "SELECT token, accrued FROM fees")
            .await?
            .into_iter()
            .collect();
    let mut all_tokens: Vec<String> = tokens.into_iter().map(|(t, _)| t).collect();
    all_tokens.extend(totals.keys().cloned());
    all_tokens.extend(fees.keys().cloned());
    all_tokens.sort();
    all_tokens.dedup();
    for token in all_tokens {
        let accrued = fees.get(&token).cloned().unwrap_or_else(|| "0".into());
        let held = totals.get(&token).copied().unwrap_or_default() + parse_amount(&accrued)?;
        let e = escrow.clone();
        let provider = provider.clone();
        let escrow_addr: Address = deployment.training_escrow;
        checks.push(
            async move {
                let t = parse_addr(&token)?;
                let chain = e.accruedFees(t).block(at).call().await.map_err(rpc)?;
                if let Some(d) = compare(format!("accruedFees({token})"), &accrued, chain) {
                    return Ok(Some(d));
                }
                let balance = IERC20Permit::new(t, provider)
                    .balanceOf(escrow_addr)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                Ok(compare(
                    format!("balanceOf(escrow) = Σ available + Σ reserved + fees ({token})"),
                    held,
                    balance,
                ))
            }
            .boxed(),
        );
    }

    if let Some(address) = deployment.royalty_streams {
        let time = raw::checkpoint_time(db).await?.unwrap_or_default();
        streams(db, provider, address, at, time, &mut checks).await?;
    }
    pools(db, provider, deployment, at, &mut checks).await?;

    let total = checks.len() as u64;
    let results: Vec<Result<Option<Difference>>> =
        stream::iter(checks).buffer_unordered(16).collect().await;
    let mut differences = Vec::new();
    for r in results {
        if let Some(d) = r? {
            differences.push(d);
        }
    }
    differences.sort_by(|a, b| a.what.cmp(&b.what));
    Ok(Report {
        block: cp.number,
        checks: total,
        differences,
    })
}

/// Streams: the stored record and the state at the checkpoint's time.
async fn streams(
    db: &Db,
    provider: &DynProvider,
    address: Address,
    at: BlockId,
    time: u64,
    checks: &mut Vec<Check>,
) -> Result<()> {
    let contract = RoyaltyStreams::new(address, provider.clone());
    type StreamRow = (String, String, String, String, i64, i64, String);
    let rows = rows::<StreamRow>(
        db,
        "SELECT stream_id, balance, rate, status, anchor, end_at, credited_base FROM streams",
    )
    .await?;
    for (id, balance, rate, status, anchor, end_at, base) in rows {
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
    Ok(())
}

/// Pools: each pool's parameters, tokens, holders and what each holder is owed.
async fn pools(
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

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "reconcile at block {}: {} values compared, {} differ",
            self.block,
            self.checks,
            self.differences.len()
        )?;
        for d in &self.differences {
            writeln!(
                f,
                "DIFFERS {}: indexed {}, chain {}",
                d.what, d.indexed, d.chain
            )?;
        }
        Ok(())
    }
}
