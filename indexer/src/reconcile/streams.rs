//! Reconciliation of streams (`RoyaltyStreams`): each stream's record and its state at the
//! checkpoint's time, what each holder is owed, and the contract's holdings.

use std::collections::HashMap;

use alloy::primitives::{Address, U256};
use fairtrain_protocol::bindings::{IERC20Permit, RoyaltyStreams};

use super::{
    compare::{comparison, ready, rpc, view, Checks},
    rows, Chain, Snapshot,
};
use crate::{
    derive::streams::{Accrual, StreamState},
    units::{parse_addr, parse_amount},
    Error, Result,
};

/// Each stream: `getStream`'s balance, rate and status, then `stateOf`, `withdrawableAmountOf`
/// and `uncoveredDebtOf` against the state computed from the derived row for `time`.
pub(super) async fn streams(
    db: &Snapshot,
    chain: &Chain,
    address: Address,
    time: u64,
    checks: &mut Checks,
) -> Result<()> {
    type StreamRow = (String, String, String, String, i64, i64, String);
    let streams = rows::<StreamRow>(
        db,
        "SELECT stream_id, balance, rate, status, anchor, end_at, credited_base FROM streams",
    )
    .await?;
    let mut ids = Vec::with_capacity(streams.len());
    for (id, ..) in &streams {
        let n: U256 = id
            .parse()
            .map_err(|e| Error::Stored(format!("stream id {id:?}: {e}")))?;
        ids.push(n);
    }
    let views = &chain.views;
    let records = views
        .read_each(address, ids.iter().copied(), |&id| {
            RoyaltyStreams::getStreamCall { streamId: id }
        })
        .await?;
    let states = views
        .read_each(address, ids.iter().copied(), |&id| {
            RoyaltyStreams::stateOfCall { streamId: id }
        })
        .await?;
    let withdrawable = views
        .read_each(address, ids.iter().copied(), |&id| {
            RoyaltyStreams::withdrawableAmountOfCall { streamId: id }
        })
        .await?;
    let debts = views
        .read_each(address, ids.iter().copied(), |&id| {
            RoyaltyStreams::uncoveredDebtOfCall { streamId: id }
        })
        .await?;
    for ((id, balance, rate, status, anchor, end_at, base), n) in streams.into_iter().zip(ids) {
        let accrual = Accrual {
            status: status.clone(),
            rate: parse_amount(&rate)?,
            balance: parse_amount(&balance)?,
            anchor,
            end_at,
            credited_base: parse_amount(&base)?,
        };
        let now = accrual.state_at(time as i64);
        let record = &records[&n];
        let chain_status = match record.status {
            1 => "active",
            2 => "paused",
            3 => "cancelled",
            _ => "null",
        };
        let record = format!(
            "{}, {}, {chain_status}",
            record.balance, record.ratePerSecond
        );
        let state = StreamState::from_chain(states[&n]).map_or("null", StreamState::as_str);
        let state = format!("{state}, {}, {}", withdrawable[&n], debts[&n]);
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
                view(ready(record)),
            ),
            comparison(
                format!("stream {id}: stateOf, withdrawableAmountOf, uncoveredDebtOf"),
                computed,
                view(ready(state)),
            ),
        ]);
    }
    Ok(())
}

/// What each holder is owed (`owedTo`), and per token the accounting identity
/// `balanceOf(RoyaltyStreams) = Σ stream balances + Σ owedTo`.
pub(super) async fn holdings(
    db: &Snapshot,
    chain: &Chain,
    address: Address,
    checks: &mut Checks,
) -> Result<()> {
    let at = chain.at;
    let mut held: HashMap<String, U256> = HashMap::new();
    for (token, balance) in
        rows::<(String, String)>(db, "SELECT token, balance FROM streams").await?
    {
        *held.entry(token).or_default() += parse_amount(&balance)?;
    }
    let payees: Vec<(String, String, String)> =
        rows(db, "SELECT holder, token, owed FROM stream_payees").await?;
    let mut keys = Vec::with_capacity(payees.len());
    for (holder, token, _) in &payees {
        keys.push((parse_addr(holder)?, parse_addr(token)?));
    }
    let owed_on_chain = chain
        .views
        .read_each(address, keys.iter().copied(), |&(holder, token)| {
            RoyaltyStreams::owedToCall {
                account: holder,
                token,
            }
        })
        .await?;
    for ((holder, token, owed), key) in payees.into_iter().zip(keys) {
        *held.entry(token.clone()).or_default() += parse_amount(&owed)?;
        let what = format!("owedTo({holder}, {token})");
        checks.compare(what, owed, ready(owed_on_chain[&key]));
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
