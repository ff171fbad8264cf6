//! Reconciliation of `TrainingEscrow` and `LicenseNFT`: one function per thing reconciled, each
//! queuing its comparisons on [`Checks`].

use std::collections::HashMap;

use alloy::primitives::{Address, U256};
use fairtrain_protocol::bindings::{IERC20Permit, LicenseNFT, TrainingEscrow};

use super::{
    compare::{comparison, ready, rpc, view, Checks},
    rows, Chain, Snapshot,
};
use crate::{
    derive::LineRow,
    reads,
    units::{parse_addr, parse_amount, parse_word},
    Error, Result,
};

/// Per token: what the escrow holds for payers (Σ available + Σ credit + Σ reserved + Σ line
/// fees), as indexed.
pub(super) type Held = HashMap<String, U256>;

/// Per (payer, token): Σ reserved and Σ credit of the payer's lines.
pub(super) type LineSums = HashMap<(String, String), (U256, U256)>;

/// Parameters: fee, notice period, claim window, owner.
pub(super) async fn params(db: &Snapshot, chain: &Chain, checks: &mut Checks) -> Result<()> {
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
    let (e, at) = (chain.escrow.clone(), chain.at);
    checks.compare("feeBps()", param("fee_bps"), async move {
        e.feeBps().block(at).call().await.map_err(rpc)
    });
    let e = chain.escrow.clone();
    checks.compare("noticePeriod()", param("notice_period"), async move {
        e.noticePeriod().block(at).call().await.map_err(rpc)
    });
    let e = chain.escrow.clone();
    checks.compare("claimWindow()", param("claim_window"), async move {
        e.claimWindow().block(at).call().await.map_err(rpc)
    });
    let e = chain.escrow.clone();
    checks.compare("owner()", param("owner"), async move {
        let owner = e.owner().block(at).call().await.map_err(rpc)?;
        Ok(format!("{owner:#x}"))
    });
    Ok(())
}

/// Allowed tokens; returns every indexed token.
pub(super) async fn tokens(
    db: &Snapshot,
    chain: &Chain,
    checks: &mut Checks,
) -> Result<Vec<String>> {
    let tokens: Vec<(String, i64)> = rows(db, "SELECT token, allowed FROM tokens").await?;
    for (token, allowed) in &tokens {
        let (e, at, t) = (chain.escrow.clone(), chain.at, token.clone());
        checks.compare(
            format!("isTokenAllowed({token})"),
            *allowed != 0,
            async move {
                e.isTokenAllowed(parse_addr(&t)?)
                    .block(at)
                    .call()
                    .await
                    .map_err(rpc)
            },
        );
    }
    Ok(tokens.into_iter().map(|(t, _)| t).collect())
}

/// The number of terms and licenses, and each license's holder, creator, terms and version.
pub(super) async fn licenses(db: &Snapshot, chain: &Chain, checks: &mut Checks) -> Result<()> {
    let terms: Vec<(i64,)> = rows(db, "SELECT COUNT(*) FROM terms").await?;
    let terms_count = terms.first().map_or(0, |t| t.0);
    let (n, at) = (chain.nft.clone(), chain.at);
    checks.compare("termsCount()", terms_count, async move {
        n.termsCount().block(at).call().await.map_err(rpc)
    });
    let licenses: Vec<(String, String, String, i64, i64)> = rows(
        db,
        "SELECT license_id, creator, holder, terms_id, version FROM licenses",
    )
    .await?;
    let n = chain.nft.clone();
    checks.compare("totalMinted()", licenses.len(), async move {
        n.totalMinted().block(at).call().await.map_err(rpc)
    });
    let mut ids = Vec::with_capacity(licenses.len());
    for (id, ..) in &licenses {
        let tid: U256 = id
            .parse()
            .map_err(|e| Error::Stored(format!("license id {id}: {e}")))?;
        ids.push(tid);
    }
    let nft = *chain.nft.address();
    let views = &chain.views;
    let owners = views
        .read_each(nft, ids.iter().copied(), |&id| LicenseNFT::ownerOfCall {
            tokenId: id,
        })
        .await?;
    let records = views
        .read_each(nft, ids.iter().copied(), |&id| LicenseNFT::licenseCall {
            licenseId: id,
        })
        .await?;
    for ((id, creator, holder, terms_id, version), tid) in licenses.into_iter().zip(ids) {
        let indexed =
            format!("holder {holder} creator {creator} terms {terms_id} version {version}");
        let rec = &records[&tid];
        let on_chain = format!(
            "holder {:#x} creator {:#x} terms {} version {}",
            owners[&tid], rec.creator, rec.termsId, rec.version
        );
        checks.compare(format!("license({id})"), indexed, ready(on_chain));
    }
    Ok(())
}

/// Each credit line (`creditLine`, then `creditReduction`); adds what each line holds to `held`
/// and returns the lines' sums per payer and token.
pub(super) async fn credit_lines(
    db: &Snapshot,
    chain: &Chain,
    checks: &mut Checks,
    held: &mut Held,
) -> Result<LineSums> {
    let lines: Vec<LineRow> = rows(
        db,
        "SELECT payer, relayer, token, credit, reserved, fees, reserved_until, reduction_amount, \
         reduction_effective_at FROM credit_lines",
    )
    .await?;
    let mut keys = Vec::with_capacity(lines.len());
    for (payer, relayer, token, ..) in &lines {
        keys.push((parse_addr(payer)?, parse_addr(relayer)?, parse_addr(token)?));
    }
    let (views, escrow) = (&chain.views, *chain.escrow.address());
    let on_chain = views
        .read_each(escrow, keys.iter().copied(), |&(payer, relayer, token)| {
            TrainingEscrow::creditLineCall {
                payer,
                relayer,
                token,
            }
        })
        .await?;
    let reductions = views
        .read_each(escrow, keys.iter().copied(), |&(payer, relayer, token)| {
            TrainingEscrow::creditReductionCall {
                payer,
                relayer,
                token,
            }
        })
        .await?;
    let mut sums = LineSums::new();
    for ((payer, relayer, token, credit, reserved, fees, until, reduction, effective), key) in
        lines.into_iter().zip(keys)
    {
        let (c, r, f) = (
            parse_amount(&credit)?,
            parse_amount(&reserved)?,
            parse_amount(&fees)?,
        );
        *held.entry(token.clone()).or_default() += c + r + f;
        let sum = sums.entry((payer.clone(), token.clone())).or_default();
        sum.0 += r;
        sum.1 += c;
        let line = &on_chain[&key];
        let line = format!(
            "credit {} reserved {} fees {} reservedUntil {}",
            line.credit, line.reserved, line.fees, line.reservedUntil
        );
        let pending = &reductions[&key];
        let pending = format!("{} {}", pending.amount, pending.effectiveAt);
        checks.compare_in_turn(vec![
            comparison(
                format!("creditLine({payer}, {relayer}, {token})"),
                format!("credit {credit} reserved {reserved} fees {fees} reservedUntil {until}"),
                view(ready(line)),
            ),
            comparison(
                format!("creditReduction({payer}, {relayer}, {token})"),
                format!("{reduction} {effective}"),
                view(ready(pending)),
            ),
        ]);
    }
    Ok(sums)
}

/// Each payer's balance: reserved and credit against the sums of its `lines`, the available
/// balance (added to `held`) and the pending withdrawal against the chain.
pub(super) async fn balances(
    db: &Snapshot,
    chain: &Chain,
    checks: &mut Checks,
    lines: &LineSums,
    held: &mut Held,
) -> Result<()> {
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
    let mut keys = Vec::with_capacity(balances.len());
    for (payer, token, ..) in &balances {
        keys.push((parse_addr(payer)?, parse_addr(token)?));
    }
    let (views, escrow) = (&chain.views, *chain.escrow.address());
    let available_on_chain = views
        .read_each(escrow, keys.iter().copied(), |&(payer, token)| {
            TrainingEscrow::availableBalanceCall { payer, token }
        })
        .await?;
    let withdrawals_on_chain = views
        .read_each(escrow, keys.iter().copied(), |&(payer, token)| {
            TrainingEscrow::pendingWithdrawalCall { payer, token }
        })
        .await?;
    for ((payer, token, available, reserved, credit), key) in balances.into_iter().zip(keys) {
        *held.entry(token.clone()).or_default() += parse_amount(&available)?;
        let sums = lines
            .get(&(payer.clone(), token.clone()))
            .copied()
            .unwrap_or_default();
        for (what, indexed, sum) in [("reserved", &reserved, sums.0), ("credit", &credit, sums.1)] {
            let what = format!("{what}({payer}, {token}) vs Σ credit lines");
            checks.mismatch_if(what, indexed, sum);
        }
        let pending = withdrawals.get(&(payer.clone(), token.clone())).cloned();
        let indexed = pending.map_or("0 0 0".to_owned(), |(a, u, l)| format!("{a} {u} {l}"));
        let w = &withdrawals_on_chain[&key];
        let withdrawal = format!("{} {} {}", w.amount, w.unlockAt, w.lapsesAt);
        checks.compare_in_turn(vec![
            comparison(
                format!("availableBalance({payer}, {token})"),
                &available,
                view(ready(available_on_chain[&key])),
            ),
            comparison(
                format!("pendingWithdrawal({payer}, {token})"),
                indexed,
                view(ready(withdrawal)),
            ),
        ]);
    }
    Ok(())
}

/// Each batch reservation's relayer and expiry.
pub(super) async fn reservations(db: &Snapshot, chain: &Chain, checks: &mut Checks) -> Result<()> {
    let reservations: Vec<(String, String, String, String, i64)> = rows(
        db,
        "SELECT root, payer, token, relayer, expires_at FROM reservations",
    )
    .await?;
    let mut keys = Vec::with_capacity(reservations.len());
    for (root, payer, token, ..) in &reservations {
        keys.push((parse_word(root)?, parse_addr(payer)?, parse_addr(token)?));
    }
    let on_chain = chain
        .views
        .read_each(
            *chain.escrow.address(),
            keys.iter().copied(),
            |&(root, payer, token)| TrainingEscrow::reservationCall { root, payer, token },
        )
        .await?;
    for ((root, payer, token, relayer, expires_at), key) in reservations.into_iter().zip(keys) {
        let what = format!("reservation({root}, {payer}, {token})");
        let indexed = format!("relayer {relayer} expiresAt {expires_at}");
        let r = &on_chain[&key];
        let chain_value = format!("relayer {:#x} expiresAt {}", r.relayer, r.expiresAt);
        checks.compare(what, indexed, ready(chain_value));
    }
    Ok(())
}

/// Each acceptance's copy of the terms and its dates.
pub(super) async fn acceptances(db: &Snapshot, chain: &Chain, checks: &mut Checks) -> Result<()> {
    type AcceptanceRow = (String, String, i64, String, String, i64, i64, i64);
    let acceptances: Vec<AcceptanceRow> = rows(
        db,
        "SELECT payer, license_id, terms_id, token, price_per_sample, max_samples, expires_at, \
         chargeable_from FROM acceptances",
    )
    .await?;
    let mut keys = Vec::with_capacity(acceptances.len());
    for (payer, license, terms, ..) in &acceptances {
        let lid: U256 = license
            .parse()
            .map_err(|e| Error::Stored(format!("license id {license}: {e}")))?;
        keys.push((parse_addr(payer)?, lid, *terms as u64));
    }
    let on_chain =
        reads::acceptances(&chain.views, *chain.escrow.address(), keys.iter().copied()).await?;
    for ((payer, license, terms, token, price, max, expires, from), key) in
        acceptances.into_iter().zip(keys)
    {
        let what = format!("acceptance({payer}, {license}, {terms})");
        let indexed = format!("{token} {price} {max} {expires} {from}");
        let a = &on_chain[&key];
        let chain_value = format!(
            "{:#x} {} {} {} {}",
            a.token, a.pricePerSample, a.maxSamples, a.expiresAt, a.chargeableFrom
        );
        checks.compare(what, indexed, ready(chain_value));
    }
    Ok(())
}

/// Each signing key's revocation.
pub(super) async fn signers(db: &Snapshot, chain: &Chain, checks: &mut Checks) -> Result<()> {
    let signers: Vec<(String, String, i64)> =
        rows(db, "SELECT payer, signer, revoked_at FROM signers").await?;
    let mut keys = Vec::with_capacity(signers.len());
    for (payer, signer, _) in &signers {
        keys.push((parse_addr(payer)?, parse_addr(signer)?));
    }
    let on_chain =
        reads::signers(&chain.views, *chain.escrow.address(), keys.iter().copied()).await?;
    for ((payer, signer, revoked), key) in signers.into_iter().zip(keys) {
        let what = format!("signerOf({payer}, {signer}).revokedAt");
        checks.compare(what, revoked, ready(on_chain[&key].revokedAt));
    }
    Ok(())
}

/// Settled samples per usage key.
pub(super) async fn settled_samples(
    db: &Snapshot,
    chain: &Chain,
    checks: &mut Checks,
) -> Result<()> {
    let settled: Vec<(String, i64)> = rows(
        db,
        "SELECT usage_key, MAX(cumulative_samples) FROM settlements GROUP BY usage_key",
    )
    .await?;
    let mut keys = Vec::with_capacity(settled.len());
    for (key, _) in &settled {
        keys.push(parse_word(key)?);
    }
    let on_chain =
        reads::settled(&chain.views, *chain.escrow.address(), keys.iter().copied()).await?;
    for ((key, cumulative), word) in settled.into_iter().zip(keys) {
        checks.compare(
            format!("settledSamples({key})"),
            cumulative,
            ready(on_chain[&word]),
        );
    }
    Ok(())
}

/// Per token (of `tokens`, `held` and the fees): the accrued fees, then the accounting identity
/// `balanceOf(escrow) = Σ available + Σ credit + Σ reserved + Σ line fees + accruedFees`.
pub(super) async fn holdings(
    db: &Snapshot,
    chain: &Chain,
    checks: &mut Checks,
    escrow: Address,
    tokens: Vec<String>,
    held: Held,
) -> Result<()> {
    let fees: HashMap<String, String> =
        rows::<(String, String)>(db, "SELECT token, accrued FROM fees")
            .await?
            .into_iter()
            .collect();
    let mut all_tokens = tokens;
    all_tokens.extend(held.keys().cloned());
    all_tokens.extend(fees.keys().cloned());
    all_tokens.sort();
    all_tokens.dedup();
    for token in all_tokens {
        let accrued = fees.get(&token).cloned().unwrap_or_else(|| "0".into());
        let total = held.get(&token).copied().unwrap_or_default() + parse_amount(&accrued)?;
        let t = parse_addr(&token)?;
        let (e, at) = (chain.escrow.clone(), chain.at);
        let fees_view = view(async move { e.accruedFees(t).block(at).call().await.map_err(rpc) });
        let provider = chain.provider.clone();
        let balance_view = view(async move {
            IERC20Permit::new(t, provider)
                .balanceOf(escrow)
                .block(at)
                .call()
                .await
                .map_err(rpc)
        });
        checks.compare_in_turn(vec![
            comparison(format!("accruedFees({token})"), &accrued, fees_view),
            comparison(
                format!(
                    "balanceOf(escrow) = Σ available + Σ credit + Σ reserved + Σ line fees \
                     + accruedFees ({token})"
                ),
                total,
                balance_view,
            ),
        ]);
    }
    Ok(())
}
