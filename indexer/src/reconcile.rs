//! Reconciliation: every derived value that a contract view can confirm is compared with an
//! `eth_call` at the checkpoint block. A run without differences is the indexer's proof that
//! its derived state is the chain's.
//!
//! Checked: parameters (fee, notice period, claim window, owner), allowed tokens, number of
//! terms and licenses, each license's holder, creator, terms and version, each payer's available
//! balance and pending withdrawal, each credit line (`creditLine`: credit, reserved, fees,
//! reservedUntil) and its pending reduction (`creditReduction`), the payer's credit and reserved
//! balances against the sums of its lines, each batch reservation's relayer and expiry,
//! acceptances, signers, accrued fees, settled samples per usage key, and the accounting identity
//! `balanceOf(escrow) = Σ available + Σ credit + Σ reserved + Σ line fees + accruedFees` per
//! token; per stream, `getStream`'s balance, rate and status and `stateOf`,
//! `withdrawableAmountOf` and `uncoveredDebtOf` against the state computed from the derived row
//! for the checkpoint block's time; per pool, `isPool`, transferability, manager, total supply
//! and accepted tokens, each token's `tokenState`, each holder's shares (`balanceOf`), and per
//! holder and token what is owed (`claimable`, and the exact scaled amount
//! `owedScaled + shares × (accPerShare − index)`), and Σ holders' claims against `paidOut`.

mod streams_pools;

use std::collections::HashMap;

use alloy::{
    eips::BlockId,
    primitives::{Address, U256},
    providers::DynProvider,
};
use fairtrain_protocol::bindings::{IERC20Permit, LicenseNFT, TrainingEscrow};
use futures::{future::BoxFuture, stream, FutureExt, StreamExt};
use serde::Serialize;

use crate::{
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

    // Balances, withdrawals, credit lines, reservations.
    let balances: Vec<(String, String, String, String, String)> = rows(
        db,
        "SELECT payer, token, available, reserved, credit FROM balances",
    )
    .await?;
    let withdrawals: HashMap<(String, String), (String, i64, i64)> =
        rows::<(String, String, String, i64, i64)>(
            db,
            "SELECT payer, token, amount, unlock_at, lapses_at FROM withdrawals",
        )
        .await?
        .into_iter()
        .map(|(p, t, a, u, l)| ((p, t), (a, u, l)))
        .collect();
    let mut totals: HashMap<String, U256> = HashMap::new();
    let lines = credit_lines(db, &escrow, at, &mut checks, &mut totals).await?;
    for (payer, token, available, reserved, credit) in balances {
        *totals.entry(token.clone()).or_default() += parse_amount(&available)?;
        let sums = lines
            .get(&(payer.clone(), token.clone()))
            .copied()
            .unwrap_or_default();
        for (what, indexed, sum) in [("reserved", &reserved, sums.0), ("credit", &credit, sums.1)] {
            if sum.to_string() != *indexed {
                checks.push(
                    futures::future::ready(Ok(Some(Difference {
                        what: format!("{what}({payer}, {token}) vs Σ credit lines"),
                        indexed: indexed.clone(),
                        chain: sum.to_string(),
                    })))
                    .boxed(),
                );
            }
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
    let reservations: Vec<(String, String, String, String, i64)> = rows(
        db,
        "SELECT root, payer, token, relayer, expires_at FROM reservations",
    )
    .await?;
    for (root, payer, token, relayer, expires_at) in reservations {
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
                    format!("reservation({root}, {payer}, {token})"),
                    format!("relayer {relayer} expiresAt {expires_at}"),
                    format!("relayer {:#x} expiresAt {}", r.relayer, r.expiresAt),
                ))
            }
            .boxed(),
        );
    }

    // Acceptances, signers.
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
                    format!(
                        "balanceOf(escrow) = Σ available + Σ credit + Σ reserved + Σ line fees \
                         + accruedFees ({token})"
                    ),
                    held,
                    balance,
                ))
            }
            .boxed(),
        );
    }

    if let Some(address) = deployment.royalty_streams {
        let time = raw::checkpoint_time(db).await?.unwrap_or_default();
        streams_pools::streams(db, provider, address, at, time, &mut checks).await?;
    }
    streams_pools::pools(db, provider, deployment, at, &mut checks).await?;

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

/// Per (payer, token): Σ reserved and Σ credit of the payer's lines.
type LineSums = HashMap<(String, String), (U256, U256)>;

/// Queues the comparison of every mirrored credit line with `creditLine` and `creditReduction`,
/// adds what each line holds (credit, reserved, fees) to `totals` per token, and returns the
/// lines' sums per payer and token.
async fn credit_lines(
    db: &Db,
    escrow: &TrainingEscrow::TrainingEscrowInstance<DynProvider>,
    at: BlockId,
    checks: &mut Vec<Check>,
    totals: &mut HashMap<String, U256>,
) -> Result<LineSums> {
    let lines: Vec<crate::lines::LineRow> = rows(
        db,
        "SELECT payer, relayer, token, credit, reserved, fees, reserved_until, reduction_amount, \
         reduction_effective_at FROM credit_lines",
    )
    .await?;
    let mut sums = LineSums::new();
    for (payer, relayer, token, credit, reserved, fees, until, reduction, effective) in lines {
        let (c, r, f) = (
            parse_amount(&credit)?,
            parse_amount(&reserved)?,
            parse_amount(&fees)?,
        );
        *totals.entry(token.clone()).or_default() += c + r + f;
        let sum = sums.entry((payer.clone(), token.clone())).or_default();
        sum.0 += r;
        sum.1 += c;
        let e = escrow.clone();
        checks.push(
            async move {
                let (p, l, t) = (
                    parse_addr(&payer)?,
                    parse_addr(&relayer)?,
                    parse_addr(&token)?,
                );
                let chain = e.creditLine(p, l, t).block(at).call().await.map_err(rpc)?;
                if let Some(d) = compare(
                    format!("creditLine({payer}, {relayer}, {token})"),
                    format!(
                        "credit {credit} reserved {reserved} fees {fees} reservedUntil {until}"
                    ),
                    format!(
                        "credit {} reserved {} fees {} reservedUntil {}",
                        chain.credit, chain.reserved, chain.fees, chain.reservedUntil
                    ),
                ) {
                    return Ok(Some(d));
                }
                let chain = e
                    .creditReduction(p, l, t)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)?;
                Ok(compare(
                    format!("creditReduction({payer}, {relayer}, {token})"),
                    format!("{reduction} {effective}"),
                    format!("{} {}", chain.amount, chain.effectiveAt),
                ))
            }
            .boxed(),
        );
    }
    Ok(sums)
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
