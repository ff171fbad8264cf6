//! The `streams` table (one row per `RoyaltyStreams` stream) and `stream_payees` (per holder and
//! token, what streams paid and booked), written directly (stream events are few next to
//! settlements, so they skip the write-back cache); and [`Accrual::state_at`],
//! which tells a stream's state, withdrawable amount and uncovered debt at any time from the
//! row, the way `RoyaltyStreams.stateOf` does.
//!
//! The contract credits `A(t) = floor(rate × (t − anchor) / 1e18)` between settlements. Every
//! credit (`StreamWithdrawn`, `AccrualCredited`) is a difference of that function, so the units
//! credited since the anchor equal `A(creditedAt)` (`credited_base`), and what accrued and is not
//! credited by time `t` is `A(min(t, end_at)) − credited_base`: more than the balance means the
//! stream is insolvent. The anchor moves only with an event (`StreamRateAdjusted` carries it,
//! `StreamPaused` without debt and `StreamRestarted` set it to their block's time), and the
//! rounding-up credit of a payer operation comes just before that event, so no credit is
//! counted against the wrong anchor.

use alloy::primitives::{Address, U256};
pub use fairtrain_protocol::api::indexer::StreamState;
use fairtrain_protocol::bindings::streams::RoyaltyStreams::{self, RoyaltyStreamsEvents};
use sqlx::{Any, Transaction};

use crate::{
    decode::Record,
    units::{self, big},
    Error, Result,
};

/// `endAt` of an open-ended stream (`type(uint40).max`).
pub const NO_END: i64 = (1 << 40) - 1;
/// Fixed-point scale of rates.
const SCALE: u128 = 1_000_000_000_000_000_000;

/// The mutable columns of a stream row.
#[derive(Debug, Default)]
struct Row {
    status: String,
    rate: U256,
    start_time: i64,
    deposited: U256,
    withdrawn: U256,
    credited: U256,
    refunded: U256,
    uncovered_debt: U256,
    balance: U256,
    anchor: i64,
    end_at: i64,
    resume_end: i64,
    credited_base: U256,
}

async fn load(tx: &mut Transaction<'static, Any>, id: &str) -> Result<Row> {
    type Cols = (
        String,
        String,
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
        i64,
        i64,
        String,
    );
    let row: Option<Cols> = sqlx::query_as(
        "SELECT status, rate, start_time, deposited, withdrawn, credited, refunded, \
         uncovered_debt, balance, anchor, end_at, resume_end, credited_base \
         FROM streams WHERE stream_id = $1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let (status, rate, start_time, d, w, c, r, u, b, anchor, end_at, resume_end, base) =
        row.ok_or_else(|| Error::Stored(format!("event of unknown stream {id}")))?;
    Ok(Row {
        status,
        rate: units::parse_amount(&rate)?,
        start_time,
        deposited: units::parse_amount(&d)?,
        withdrawn: units::parse_amount(&w)?,
        credited: units::parse_amount(&c)?,
        refunded: units::parse_amount(&r)?,
        uncovered_debt: units::parse_amount(&u)?,
        balance: units::parse_amount(&b)?,
        anchor,
        end_at,
        resume_end,
        credited_base: units::parse_amount(&base)?,
    })
}

async fn store(tx: &mut Transaction<'static, Any>, id: &str, s: &Row) -> Result<()> {
    sqlx::query(
        "UPDATE streams SET status = $2, rate = $3, deposited = $4, withdrawn = $5, \
         credited = $6, refunded = $7, uncovered_debt = $8, balance = $9, anchor = $10, \
         end_at = $11, resume_end = $12, credited_base = $13 WHERE stream_id = $1",
    )
    .bind(id)
    .bind(&s.status)
    .bind(units::amount(&s.rate))
    .bind(units::amount(&s.deposited))
    .bind(units::amount(&s.withdrawn))
    .bind(units::amount(&s.credited))
    .bind(units::amount(&s.refunded))
    .bind(units::amount(&s.uncovered_debt))
    .bind(units::amount(&s.balance))
    .bind(s.anchor)
    .bind(s.end_at)
    .bind(s.resume_end)
    .bind(units::amount(&s.credited_base))
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

/// A change of a payee's stream totals.
enum Payee {
    /// Transferred by `withdraw`.
    Withdrawn(U256),
    /// Booked to `owedTo`.
    Credited(U256),
    /// Paid out of `owedTo`.
    OwedWithdrawn(U256),
}

/// Updates the `stream_payees` row of `holder` and `token`.
async fn payee(
    tx: &mut Transaction<'static, Any>,
    holder: &Address,
    token: &Address,
    change: Payee,
) -> Result<()> {
    let (holder, token) = (units::addr(holder), units::addr(token));
    let row: Option<(String, String, String, String)> = sqlx::query_as(
        "SELECT withdrawn, credited, owed_withdrawn, owed FROM stream_payees \
         WHERE holder = $1 AND token = $2",
    )
    .bind(&holder)
    .bind(&token)
    .fetch_optional(&mut **tx)
    .await?;
    let [mut withdrawn, mut credited, mut paid, mut owed] = match row {
        Some((w, c, p, o)) => [
            units::parse_amount(&w)?,
            units::parse_amount(&c)?,
            units::parse_amount(&p)?,
            units::parse_amount(&o)?,
        ],
        None => [U256::ZERO; 4],
    };
    match change {
        Payee::Withdrawn(v) => withdrawn += v,
        Payee::Credited(v) => {
            credited += v;
            owed += v;
        }
        Payee::OwedWithdrawn(v) => {
            paid += v;
            owed = owed.checked_sub(v).ok_or_else(|| {
                Error::Stored(format!(
                    "owedTo({holder}, {token}): {owed} below payout {v}"
                ))
            })?;
        }
    }
    sqlx::query(
        "INSERT INTO stream_payees (holder, token, withdrawn, credited, owed_withdrawn, owed) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (holder, token) DO UPDATE SET \
         withdrawn = excluded.withdrawn, credited = excluded.credited, \
         owed_withdrawn = excluded.owed_withdrawn, owed = excluded.owed",
    )
    .bind(&holder)
    .bind(&token)
    .bind(units::amount(&withdrawn))
    .bind(units::amount(&credited))
    .bind(units::amount(&paid))
    .bind(units::amount(&owed))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Applies one `RoyaltyStreams` event.
pub(super) async fn apply(
    tx: &mut Transaction<'static, Any>,
    r: &Record,
    e: &RoyaltyStreamsEvents,
) -> Result<()> {
    use RoyaltyStreamsEvents as S;
    let now = big(r.block_time);
    if let S::StreamCreated(ev) = e {
        return create(tx, ev).await;
    }
    match e {
        S::StreamWithdrawn(ev) => {
            payee(tx, &ev.holder, &ev.token, Payee::Withdrawn(ev.amount)).await?
        }
        S::AccrualCredited(ev) => {
            payee(tx, &ev.holder, &ev.token, Payee::Credited(ev.amount)).await?
        }
        S::OwedWithdrawn(ev) => {
            payee(tx, &ev.account, &ev.token, Payee::OwedWithdrawn(ev.amount)).await?;
            return Ok(());
        }
        _ => {}
    }
    let stream_id = match e {
        S::StreamDeposited(ev) => ev.streamId,
        S::StreamWithdrawn(ev) => ev.streamId,
        S::AccrualCredited(ev) => ev.streamId,
        S::StreamRateAdjusted(ev) => ev.streamId,
        S::StreamPaused(ev) => ev.streamId,
        S::StreamRestarted(ev) => ev.streamId,
        S::StreamInsolvent(ev) => ev.streamId,
        S::StreamCancelled(ev) => ev.streamId,
        S::StreamCreated(_) | S::HolderCheckpointed(_) | S::OwedWithdrawn(_) => return Ok(()),
    };
    let id = stream_id.to_string();
    let mut s = load(tx, &id).await?;
    change(&mut s, &id, e, now)?;
    store(tx, &id, &s).await
}

/// Inserts a stream created by `ev`.
async fn create(
    tx: &mut Transaction<'static, Any>,
    ev: &RoyaltyStreams::StreamCreated,
) -> Result<()> {
    let deposit = units::amount(&U256::from(ev.deposit));
    let start = big(ev.startTime.to::<u64>());
    let end = match ev.endTime.to::<u64>() {
        0 => NO_END,
        t => big(t),
    };
    sqlx::query(
        "INSERT INTO streams (stream_id, payer, license_id, token, rate, start_time, \
         end_time, operator, status, deposited, withdrawn, credited, refunded, \
         uncovered_debt, balance, anchor, end_at, resume_end, credited_base) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, '0', '0', '0', '0', $9, \
         $6, $10, 0, '0')",
    )
    .bind(ev.streamId.to_string())
    .bind(units::addr(&ev.payer))
    .bind(ev.licenseId.to_string())
    .bind(units::addr(&ev.token))
    .bind(ev.ratePerSecond.to_string())
    .bind(start)
    .bind(big(ev.endTime.to::<u64>()))
    .bind(units::addr(&ev.operator))
    .bind(deposit)
    .bind(end)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Applies `e`, an event of the stream `id` at time `now`, to its row `s`.
fn change(s: &mut Row, id: &str, e: &RoyaltyStreamsEvents, now: i64) -> Result<()> {
    use RoyaltyStreamsEvents as S;
    match e {
        S::StreamDeposited(ev) => {
            s.deposited += U256::from(ev.amount);
            s.balance += U256::from(ev.amount);
        }
        // Paid to the current holder (`withdraw`) or booked to a holder's `owedTo` (past
        // holders, `settle`, and the payer operations' settlements and round-ups): both are
        // accrual that left the balance.
        S::StreamWithdrawn(ev) => {
            s.balance = take(id, s.balance, ev.amount)?;
            s.withdrawn += ev.amount;
            s.credited_base += ev.amount;
        }
        S::AccrualCredited(ev) => {
            s.balance = take(id, s.balance, ev.amount)?;
            s.credited += ev.amount;
            s.credited_base += ev.amount;
        }
        S::StreamRateAdjusted(ev) => {
            s.rate = U256::from(ev.newRate);
            s.anchor = big(ev.effectiveAt.to::<u64>());
            s.credited_base = U256::ZERO;
            s.uncovered_debt = U256::ZERO;
        }
        S::StreamPaused(ev) => {
            s.uncovered_debt = ev.uncoveredDebt;
            if ev.uncoveredDebt.is_zero() {
                // Settled to min(now, end) (or still before its start) and re-anchored there.
                s.anchor = s.start_time.max(now.min(s.end_at));
                s.credited_base = U256::ZERO;
            }
            s.resume_end = s.end_at;
            s.end_at = s.end_at.min(now);
            s.status = "paused".into();
        }
        S::StreamRestarted(ev) => {
            // Accrual resumes from max(creditedAt, now); creditedAt is past `now` only for a
            // stream paused before its start.
            s.rate = U256::from(ev.ratePerSecond);
            s.anchor = s.start_time.max(now);
            s.credited_base = U256::ZERO;
            s.end_at = s.resume_end;
            s.resume_end = 0;
            s.uncovered_debt = U256::ZERO;
            s.status = "active".into();
        }
        S::StreamInsolvent(ev) => s.uncovered_debt = ev.uncoveredDebt,
        S::StreamCancelled(ev) => {
            s.balance = take(id, s.balance, U256::from(ev.refunded))?;
            s.refunded += U256::from(ev.refunded);
            s.uncovered_debt = ev.uncoveredDebt;
            s.status = "cancelled".into();
        }
        S::StreamCreated(_) | S::HolderCheckpointed(_) | S::OwedWithdrawn(_) => {}
    }
    Ok(())
}

/// The stored accrual of a stream (the columns `status`, `rate`, `balance`, `anchor`, `end_at`,
/// `credited_base`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accrual {
    /// Stored lifecycle: `active`, `paused` or `cancelled`.
    pub status: String,
    /// Rate, token units per second × 1e18.
    pub rate: U256,
    /// Deposited and not credited or refunded.
    pub balance: U256,
    /// When the current rate took effect.
    pub anchor: i64,
    /// When accrual stops (the pause time while paused).
    pub end_at: i64,
    /// Units credited since the anchor.
    pub credited_base: U256,
}

/// What [`Accrual::state_at`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateAt {
    /// The state.
    pub state: StreamState,
    /// Accrued, not credited and covered by the balance (`withdrawableAmountOf`).
    pub withdrawable: U256,
    /// Accrued beyond the balance (`uncoveredDebtOf`).
    pub uncovered_debt: U256,
}

impl Accrual {
    /// Units accrued from the anchor up to `t`.
    fn accrued(&self, t: i64) -> U256 {
        let dt = U256::from(t.saturating_sub(self.anchor).max(0));
        self.rate * dt / U256::from(SCALE)
    }

    /// The state, withdrawable amount and uncovered debt at time `now` (the rules of
    /// `RoyaltyStreams.stateOf`, `withdrawableAmountOf` and `uncoveredDebtOf`).
    pub fn state_at(&self, now: i64) -> StateAt {
        let zero = StateAt {
            state: StreamState::Cancelled,
            withdrawable: U256::ZERO,
            uncovered_debt: U256::ZERO,
        };
        if self.status == "cancelled" {
            return zero;
        }
        let to = now.min(self.end_at);
        let reach = self.accrued(to).saturating_sub(self.credited_base);
        let (withdrawable, debt) = if reach <= self.balance {
            (reach, U256::ZERO)
        } else {
            // The last whole second the balance covers, as `_pending` computes it.
            let scale = U256::from(SCALE);
            let funded =
                (self.credited_base + self.balance + U256::from(1)) * scale - U256::from(1);
            let funded_to = U256::from(self.anchor) + funded / self.rate;
            let covered =
                self.rate * (funded_to - U256::from(self.anchor)) / scale - self.credited_base;
            (covered, reach - self.balance)
        };
        let state = if !debt.is_zero() {
            StreamState::Insolvent
        } else if self.status == "paused" {
            StreamState::Paused
        } else if now < self.anchor {
            StreamState::Pending
        } else if now >= self.end_at {
            StreamState::Ended
        } else {
            StreamState::Streaming
        };
        StateAt {
            state,
            withdrawable,
            uncovered_debt: debt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deposit adds to the balance; a pause without debt re-anchors at `now` and ends the
    /// accrual there; a restart resumes from `now` with the old end.
    #[test]
    fn stream_events_change_the_row() {
        use RoyaltyStreamsEvents as S;
        let mut s = Row {
            status: "active".into(),
            rate: U256::from(2),
            start_time: 100,
            anchor: 100,
            end_at: 1_000,
            ..Row::default()
        };
        let id = U256::from(1);
        let deposit = S::StreamDeposited(RoyaltyStreams::StreamDeposited {
            streamId: id,
            funder: Address::ZERO,
            amount: 500,
        });
        change(&mut s, "1", &deposit, 150).unwrap();
        assert_eq!((s.deposited, s.balance), (U256::from(500), U256::from(500)));
        let pause = S::StreamPaused(RoyaltyStreams::StreamPaused {
            streamId: id,
            by: Address::ZERO,
            uncoveredDebt: U256::ZERO,
        });
        change(&mut s, "1", &pause, 200).unwrap();
        assert_eq!(
            (s.status.as_str(), s.anchor, s.end_at, s.resume_end),
            ("paused", 200, 200, 1_000)
        );
        let restart = S::StreamRestarted(RoyaltyStreams::StreamRestarted {
            streamId: id,
            by: Address::ZERO,
            ratePerSecond: 3,
        });
        change(&mut s, "1", &restart, 300).unwrap();
        assert_eq!(
            (s.status.as_str(), s.rate, s.anchor, s.end_at, s.resume_end),
            ("active", U256::from(3), 300, 1_000, 0)
        );
    }

    fn stream(rate: u128, balance: u64) -> Accrual {
        Accrual {
            status: "active".into(),
            rate: U256::from(rate),
            balance: U256::from(balance),
            anchor: 100,
            end_at: NO_END,
            credited_base: U256::ZERO,
        }
    }

    #[test]
    fn streaming_then_insolvent_when_the_balance_runs_out() {
        // 10 units a second, 100 deposited: covered for 10 seconds.
        let s = stream(10 * SCALE, 100);
        assert_eq!(s.state_at(50).state, StreamState::Pending);
        let at = s.state_at(105);
        assert_eq!(
            (at.state, at.withdrawable),
            (StreamState::Streaming, U256::from(50))
        );
        let at = s.state_at(110);
        assert_eq!(
            (at.state, at.withdrawable),
            (StreamState::Streaming, U256::from(100))
        );
        let at = s.state_at(113);
        assert_eq!(at.state, StreamState::Insolvent);
        assert_eq!(at.withdrawable, U256::from(100));
        assert_eq!(at.uncovered_debt, U256::from(30));
    }

    #[test]
    fn fractional_rate_stops_at_the_last_whole_second_covered() {
        // 2.5 units a second, 6 deposited: A(2) = 5 ≤ 6 < A(3) = 7.
        let s = stream(5 * SCALE / 2, 6);
        let at = s.state_at(104);
        assert_eq!(at.state, StreamState::Insolvent);
        assert_eq!(at.withdrawable, U256::from(5));
        assert_eq!(at.uncovered_debt, U256::from(4));
    }

    #[test]
    fn ended_paused_and_cancelled() {
        let mut s = stream(SCALE, 100);
        s.end_at = 150;
        let at = s.state_at(200);
        assert_eq!(
            (at.state, at.withdrawable),
            (StreamState::Ended, U256::from(50))
        );
        s.status = "paused".into();
        assert_eq!(s.state_at(200).state, StreamState::Paused);
        s.balance = U256::from(10);
        assert_eq!(s.state_at(200).state, StreamState::Insolvent);
        s.status = "cancelled".into();
        assert_eq!(s.state_at(200).state, StreamState::Cancelled);
    }
}
