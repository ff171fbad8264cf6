//! The `streams` table: one row per `RoyaltyStreams` stream, written directly (stream events
//! are few next to settlements, so they skip the write-back cache).

use alloy::primitives::U256;
use fairtrain_protocol::bindings::streams::RoyaltyStreams::RoyaltyStreamsEvents;
use sqlx::{Any, Transaction};

use crate::{
    decode::Record,
    units::{self, big},
    Error, Result,
};

/// Amount columns of a stream row.
#[derive(Debug, Default)]
struct Amounts {
    deposited: U256,
    withdrawn: U256,
    credited: U256,
    refunded: U256,
    uncovered_debt: U256,
    balance: U256,
}

async fn load(tx: &mut Transaction<'static, Any>, id: &str) -> Result<Amounts> {
    let row: Option<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT deposited, withdrawn, credited, refunded, uncovered_debt, balance \
         FROM streams WHERE stream_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let (d, w, c, r, u, b) =
        row.ok_or_else(|| Error::Stored(format!("event of unknown stream {id}")))?;
    Ok(Amounts {
        deposited: units::parse_amount(&d)?,
        withdrawn: units::parse_amount(&w)?,
        credited: units::parse_amount(&c)?,
        refunded: units::parse_amount(&r)?,
        uncovered_debt: units::parse_amount(&u)?,
        balance: units::parse_amount(&b)?,
    })
}

async fn store(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    a: &Amounts,
    status: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE streams SET deposited = $2, withdrawn = $3, credited = $4, refunded = $5, \
         uncovered_debt = $6, balance = $7, status = COALESCE($8, status) WHERE stream_id = $1",
    )
    .bind(id)
    .bind(units::amount(&a.deposited))
    .bind(units::amount(&a.withdrawn))
    .bind(units::amount(&a.credited))
    .bind(units::amount(&a.refunded))
    .bind(units::amount(&a.uncovered_debt))
    .bind(units::amount(&a.balance))
    .bind(status)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn take(id: &str, balance: U256, amount: U256) -> Result<U256> {
    balance.checked_sub(amount).ok_or_else(|| {
        Error::Stored(format!(
            "stream {id}: balance {balance} below payout {amount}"
        ))
    })
}

/// Applies one `RoyaltyStreams` event.
pub(super) async fn apply(
    tx: &mut Transaction<'static, Any>,
    _r: &Record,
    e: &RoyaltyStreamsEvents,
) -> Result<()> {
    use RoyaltyStreamsEvents as S;
    match e {
        S::StreamCreated(ev) => {
            let deposit = units::amount(&U256::from(ev.deposit));
            sqlx::query(
                "INSERT INTO streams (stream_id, payer, license_id, token, rate, start_time, \
                 end_time, operator, status, deposited, withdrawn, credited, refunded, \
                 uncovered_debt, balance) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, '0', '0', '0', '0', $9)",
            )
            .bind(ev.streamId.to_string())
            .bind(units::addr(&ev.payer))
            .bind(ev.licenseId.to_string())
            .bind(units::addr(&ev.token))
            .bind(ev.ratePerSecond.to_string())
            .bind(big(ev.startTime.to::<u64>()))
            .bind(big(ev.endTime.to::<u64>()))
            .bind(units::addr(&ev.operator))
            .bind(deposit)
            .execute(&mut **tx)
            .await?;
        }
        S::StreamDeposited(ev) => {
            let id = ev.streamId.to_string();
            let mut a = load(tx, &id).await?;
            a.deposited += U256::from(ev.amount);
            a.balance += U256::from(ev.amount);
            store(tx, &id, &a, None).await?;
        }
        S::StreamWithdrawn(ev) => {
            let id = ev.streamId.to_string();
            let mut a = load(tx, &id).await?;
            a.balance = take(&id, a.balance, ev.amount)?;
            a.withdrawn += ev.amount;
            store(tx, &id, &a, None).await?;
        }
        S::AccrualCredited(ev) => {
            let id = ev.streamId.to_string();
            let mut a = load(tx, &id).await?;
            a.balance = take(&id, a.balance, ev.amount)?;
            a.credited += ev.amount;
            store(tx, &id, &a, None).await?;
        }
        S::StreamRateAdjusted(ev) => {
            sqlx::query("UPDATE streams SET rate = $2 WHERE stream_id = $1")
                .bind(ev.streamId.to_string())
                .bind(ev.newRate.to_string())
                .execute(&mut **tx)
                .await?;
        }
        S::StreamPaused(ev) => {
            let id = ev.streamId.to_string();
            let mut a = load(tx, &id).await?;
            a.uncovered_debt = ev.uncoveredDebt;
            store(tx, &id, &a, Some("paused")).await?;
        }
        S::StreamRestarted(ev) => {
            sqlx::query("UPDATE streams SET rate = $2, status = 'active' WHERE stream_id = $1")
                .bind(ev.streamId.to_string())
                .bind(ev.ratePerSecond.to_string())
                .execute(&mut **tx)
                .await?;
        }
        S::StreamInsolvent(ev) => {
            let id = ev.streamId.to_string();
            let mut a = load(tx, &id).await?;
            a.uncovered_debt = ev.uncoveredDebt;
            store(tx, &id, &a, None).await?;
        }
        S::StreamCancelled(ev) => {
            let id = ev.streamId.to_string();
            let mut a = load(tx, &id).await?;
            a.balance = take(&id, a.balance, U256::from(ev.refunded))?;
            a.refunded += U256::from(ev.refunded);
            a.uncovered_debt = ev.uncoveredDebt;
            store(tx, &id, &a, Some("cancelled")).await?;
        }
        S::HolderCheckpointed(_) | S::OwedWithdrawn(_) => {}
    }
    Ok(())
}
