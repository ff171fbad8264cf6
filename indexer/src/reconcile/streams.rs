//! Reconciliation of streams (`RoyaltyStreams`): each stream's record and its state at the
//! checkpoint's time, what each holder is owed, and the contract's holdings.

use std::collections::HashMap;

use alloy::primitives::{Address, U256};
use fairtrain_protocol::bindings::{IERC20Permit, RoyaltyStreams};

use super::{
    compare::{comparison, rpc, view, Checks},
    rows, Chain,
};
use crate::{
    derive::streams::{Accrual, StreamState},
    units::{parse_addr, parse_amount},
    Db, Error, Result,
};

/// Each stream: `getStream`'s balance, rate and status, then `stateOf`, `withdrawableAmountOf`
/// and `uncoveredDebtOf` against the state computed from the derived row for `time`.
pub(super) async fn streams(
    db: &Db,
    chain: &Chain,
    address: Address,
    time: u64,
    checks: &mut Checks,
) -> Result<()> {
    let contract = RoyaltyStreams::new(address, chain.provider.clone());
    type StreamRow = (String, String, String, String, i64, i64, String);
    let streams = rows::<StreamRow>(
        db,
        "SELECT stream_id, balance, rate, status, anchor, end_at, credited_base FROM streams",
    )
    .await?;
    let at = chain.at;
    for (id, balance, rate, status, anchor, end_at, base) in streams {
        let accrual = Accrual {
            status: status.clone(),
            rate: parse_amount(&rate)?,
            balance: parse_amount(&balance)?,
            anchor,
            end_at,
            credited_base: parse_amount(&base)?,
        };
        let now = accrual.state_at(time as i64);
        let n: U256 = id
            .parse()
            .map_err(|e| Error::Stored(format!("stream id {id:?}: {e}")))?;
        let s = contract.clone();
        let record = view(async move {
            let chain = s.getStream(n).block(at).call().await.map_err(rpc)?;
            let chain_status = match chain.status {
                1 => "active",
                2 => "paused",
                3 => "cancelled",
                _ => "null",
            };
            Ok(format!(
                "{}, {}, {chain_status}",
                chain.balance, chain.ratePerSecond
            ))
        });
        let s = contract.clone();
        let state = view(async move {
            let state = s.stateOf(n).block(at).call().await.map_err(rpc)?;
            let state = StreamState::from_chain(state).map_or("null", StreamState::as_str);
            let withdrawable = s
                .withdrawableAmountOf(n)
                .block(at)
                .call()
                .await
                .map_err(rpc)?;
            let debt = s.uncoveredDebtOf(n).block(at).call().await.map_err(rpc)?;
            Ok(format!("{state}, {withdrawable}, {debt}"))
        });
        let computed = format!(
            "{}, {}, {}",
            now.state.as_str(),
            now.withdrawable,
            now.uncovered_debt
        );
        checks.compare_in_turn(vec![
            comparison(
                format!("getStream({id}) balance, rate, status"),
                format!("{balance}, {rate}, {status}"),
                record,
            ),
            comparison(
                format!("stream {id}: stateOf, withdrawableAmountOf, uncoveredDebtOf"),
                computed,
                state,
            ),
        ]);
    }
    Ok(())
}

/// What each holder is owed (`owedTo`), and per token the accounting identity
/// `balanceOf(RoyaltyStreams) = Σ stream balances + Σ owedTo`.
pub(super) async fn holdings(
    db: &Db,
    chain: &Chain,
    address: Address,
    checks: &mut Checks,
) -> Result<()> {
    let contract = RoyaltyStreams::new(address, chain.provider.clone());
    let at = chain.at;
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
        let what = format!("owedTo({holder}, {token})");
        checks.compare(what, owed, async move {
            s.owedTo(parse_addr(&holder)?, parse_addr(&token)?)
                .block(at)
                .call()
                .await
                .map_err(rpc)
        });
    }
    for (token, sum) in held {
        let provider = chain.provider.clone();
        let what = format!("balanceOf(streams) = Σ stream balances + Σ owedTo ({token})");
        checks.compare(what, sum, async move {
            IERC20Permit::new(parse_addr(&token)?, provider)
                .balanceOf(address)
                .block(at)
                .call()
                .await
                .map_err(rpc)
        });
    }
    Ok(())
}
