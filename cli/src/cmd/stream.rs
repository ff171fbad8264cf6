//! `fairtrain stream ...`: per-second royalty streams from a payer to a license's holder
//! (`RoyaltyStreams`, docs/streams-and-pools.md): let payers stream to a license (its holder),
//! open, top up, change the rate, pause, restart, cancel, withdraw to the holder, and the state
//! of a stream.
//!
//! Rates are given in tokens per period (`--rate 30 --per day`) and converted to the contract's
//! 18-decimal fixed-point base units per second, rounded down; `--rate-wad` passes that number
//! exactly. Reports print the exact rate and what it streams per day.

use alloy::primitives::{aliases::U40, Address, U256};
use clap::{Args, Subcommand, ValueEnum};
use fairtrain_protocol::bindings::streams::{RoyaltyStreams, Streams};
use serde::Serialize;

use crate::{
    amount,
    chain::{emitted, Chain, Sent, TokenInfo},
    cmd::payer::Done,
    error::{CliError, Result},
    output::Render,
    time,
};

/// 1e18: the fixed-point scale of stream rates.
const WAD: u128 = 1_000_000_000_000_000_000;

/// Stream subcommands.
#[derive(Debug, Subcommand)]
pub enum StreamCmd {
    /// Let payers stream to a license you hold (or one held by a revenue pool): from then on
    /// each transfer of it records the new holder.
    Enable(EnableArgs),
    /// Open a stream from your account to a license (its holder over time is paid).
    Create(CreateArgs),
    /// Add funds to a stream (anyone may); an insolvent stream first pays its debt.
    TopUp(TopUpArgs),
    /// Change the rate of an active, solvent stream (payer), from now on.
    Adjust(RateChangeArgs),
    /// Stop accrual now (payer or operator); debt accrued before stays.
    Pause(StreamIdArgs),
    /// Restart a paused stream (payer, at any rate; the operator only its own pauses, at the
    /// rate of the pause).
    Restart(RestartArgs),
    /// Close a stream for good (payer): accrued to the holders, the rest refunded to you.
    Cancel(StreamIdArgs),
    /// Pay a stream's accrual to the license's current holder (anyone may send it).
    Withdraw(StreamIdArgs),
    /// Pay what streams booked for an account (a past holder's part) to it (anyone may).
    WithdrawOwed(WithdrawOwedArgs),
    /// Book a stream's accrual to its holders without transferring (continues long histories).
    Settle(StreamIdArgs),
    /// A stream's terms, state, balance, withdrawable amount and debt.
    Status(StreamIdArgs),
}

/// The period a `--rate` is given per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Per {
    /// Per second.
    Second,
    /// Per minute.
    Minute,
    /// Per hour.
    Hour,
    /// Per day (86,400 s).
    Day,
    /// Per week.
    Week,
    /// Per 30 days.
    Month,
}

impl Per {
    /// The period in seconds.
    pub const fn seconds(self) -> u64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3600,
            Self::Day => 86_400,
            Self::Week => 7 * 86_400,
            Self::Month => 30 * 86_400,
        }
    }
}

/// A rate: an amount per period, or the contract's exact number.
#[derive(Clone, Debug, Args)]
pub struct RateArgs {
    /// Amount streamed per --per period, in whole tokens (base units with --raw).
    #[arg(
        long,
        required_unless_present = "rate_wad",
        conflicts_with = "rate_wad"
    )]
    pub rate: Option<String>,
    /// The period of --rate.
    #[arg(long, value_enum, default_value = "day")]
    pub per: Per,
    /// The exact contract rate: token base units per second as an 18-decimal fixed-point
    /// integer (1 base unit per second is 1000000000000000000).
    #[arg(long)]
    pub rate_wad: Option<u128>,
}

impl RateArgs {
    /// A rate given in the contract's form.
    pub const fn wad(rate: u128) -> Self {
        Self {
            rate: None,
            per: Per::Day,
            rate_wad: Some(rate),
        }
    }

    /// A rate of `amount` (whole tokens) per `per`.
    pub fn per(amount: &str, per: Per) -> Self {
        Self {
            rate: Some(amount.into()),
            per,
            rate_wad: None,
        }
    }

    /// The contract's `ratePerSecond`: base units × 1e18 / period, rounded down.
    ///
    /// # Errors
    ///
    /// A bad amount, a rate of zero after rounding, or one above 2^128 - 1.
    pub fn resolve(&self, token: &TokenInfo, raw: bool) -> Result<u128> {
        if let Some(wad) = self.rate_wad {
            return Ok(wad);
        }
        let text = self.rate.as_deref().unwrap_or_default();
        let units = amount::parse(text, token.decimals, raw)?;
        let wad = units
            .checked_mul(U256::from(WAD))
            .map(|v| v / U256::from(self.per.seconds()))
            .and_then(|v| u128::try_from(v).ok())
            .ok_or_else(|| CliError::Amount {
                input: text.into(),
                reason: "the rate is too large for a stream (2^128 - 1 per second, scaled 1e18)"
                    .into(),
            })?;
        if wad == 0 {
            return Err(CliError::Amount {
                input: text.into(),
                reason: "the rate rounds to zero per second".into(),
            });
        }
        Ok(wad)
    }
}

/// `stream enable`.
#[derive(Clone, Debug, Args)]
pub struct EnableArgs {
    /// The license.
    pub license_id: U256,
}

/// `stream create`.
#[derive(Clone, Debug, Args)]
pub struct CreateArgs {
    /// The license paid.
    pub license_id: U256,
    /// The rate.
    #[command(flatten)]
    pub rate: RateArgs,
    /// Paid in now, in whole tokens (base units with --raw); may be 0 and topped up later.
    #[arg(long, default_value = "0")]
    pub deposit: String,
    /// --rate and --deposit are in base units.
    #[arg(long)]
    pub raw: bool,
    /// Token: address or symbol of a deployment token [default: the deployment's first].
    #[arg(long)]
    pub token: Option<String>,
    /// When accrual starts (unix seconds) [default: now].
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// When accrual stops (unix seconds) [default: never].
    #[arg(long, default_value_t = 0)]
    pub end: u64,
    /// An account that may also pause the stream (e.g. the relayer that sees the model go
    /// offline) [default: nobody].
    #[arg(long)]
    pub operator: Option<Address>,
}

/// `stream top-up`.
#[derive(Clone, Debug, Args)]
pub struct TopUpArgs {
    /// The stream.
    pub stream_id: U256,
    /// Amount in whole tokens of the stream's token, or base units with --raw.
    pub amount: String,
    /// The amount is in base units.
    #[arg(long)]
    pub raw: bool,
}

/// `stream adjust`.
#[derive(Clone, Debug, Args)]
pub struct RateChangeArgs {
    /// The stream.
    pub stream_id: U256,
    /// The new rate.
    #[command(flatten)]
    pub rate: RateArgs,
    /// --rate is in base units.
    #[arg(long)]
    pub raw: bool,
}

/// `stream restart`.
#[derive(Clone, Debug, Args)]
pub struct RestartArgs {
    /// The stream.
    pub stream_id: U256,
    /// The rate after the restart, in whole tokens per --per [default: the rate before the
    /// pause].
    #[arg(long, conflicts_with = "rate_wad")]
    pub rate: Option<String>,
    /// The period of --rate.
    #[arg(long, value_enum, default_value = "day")]
    pub per: Per,
    /// The exact contract rate (see `stream create --help`).
    #[arg(long)]
    pub rate_wad: Option<u128>,
    /// --rate is in base units.
    #[arg(long)]
    pub raw: bool,
}

/// A command on one stream.
#[derive(Clone, Debug, Args)]
pub struct StreamIdArgs {
    /// The stream.
    pub stream_id: U256,
}

/// `stream withdraw-owed`.
#[derive(Clone, Debug, Args)]
pub struct WithdrawOwedArgs {
    /// The account paid [default: the key's address].
    #[arg(long)]
    pub account: Option<Address>,
    /// Token: address or symbol of a deployment token [default: the deployment's first].
    #[arg(long)]
    pub token: Option<String>,
}

/// Reads a stream, refusing unknown ids before anything is sent.
async fn load(chain: &Chain, id: U256) -> Result<(Streams::Record, TokenInfo)> {
    let streams = chain.streams()?;
    let record = chain
        .read("reading the stream", streams.getStream(id))
        .await?;
    if record.status == 0 {
        return Err(CliError::Invalid(format!(
            "stream {id} does not exist (`fairtrain stream status <id>` of an existing one)"
        )));
    }
    let token = chain.token_info(record.token).await?;
    Ok((record, token))
}

/// `1.5 fUSD per day (17361111111111111111 base units/s × 1e-18)`.
fn describe_rate(token: &TokenInfo, wad: u128) -> String {
    let per_day = U256::from(wad) * U256::from(86_400u64) / U256::from(WAD);
    format!(
        "{} {} per day (rate {wad} = base units per second × 1e18)",
        token.human(per_day),
        token.symbol
    )
}

fn done(summary: String, next: Option<String>, details: serde_json::Value, txs: Vec<Sent>) -> Done {
    Done {
        summary,
        next,
        details,
        txs,
    }
}

/// `stream enable`: `RoyaltyStreams.enableStreams` from the key's account (the holder, or an
/// account it approved), or, for a license a revenue pool of the deployment holds,
/// `RevenuePool.enableStreams` (anyone may send it).
///
/// # Errors
///
/// An unknown license, streams already enabled (nothing sent); a decoded revert
/// (`RoyaltyStreams_NotHolderOrApproved`).
pub async fn enable(chain: &Chain, args: &EnableArgs) -> Result<Done> {
    let streams = chain.streams()?;
    let license = args.license_id;
    let holder = chain
        .read("reading the license", chain.nft().ownerOf(license))
        .await?;
    if chain
        .read(
            "reading the license's streams",
            streams.streamsEnabled(license),
        )
        .await?
    {
        return Err(CliError::Invalid(format!(
            "payers can already stream to license {license}"
        )));
    }
    let factory = chain.pool_factory()?;
    let by_pool = chain
        .read(
            "asking the factory about the holder",
            factory.isPool(holder),
        )
        .await?;
    let receipt = if by_pool {
        chain
            .send(
                "enableStreams",
                chain
                    .pool(holder)
                    .enableStreams(*streams.address(), license),
            )
            .await?
    } else {
        chain
            .send("enableStreams", streams.enableStreams(license))
            .await?
    };
    Ok(done(
        format!(
            "payers can now stream to license {license}, held by {holder}{}; each later transfer of it records the new holder (about 30k gas more per transfer)",
            if by_pool { " (a revenue pool)" } else { "" }
        ),
        Some(format!(
            "a payer opens one with `fairtrain stream create {license} --rate <amount> --per <period>`"
        )),
        serde_json::json!({ "licenseId": license.to_string(), "holder": holder, "pool": by_pool }),
        vec![Sent::new("enableStreams", &receipt)],
    ))
}

/// `stream create`: approves the deposit if needed, opens the stream, reports its id.
///
/// # Errors
///
/// Bad amounts or token; a license whose holder has not enabled streams or a wallet short of the
/// deposit (nothing sent); a decoded revert such as `RoyaltyStreams_StartInPast`.
pub async fn create(chain: &Chain, args: &CreateArgs) -> Result<Done> {
    let streams = chain.streams()?;
    let token = chain.resolve_token(args.token.as_deref()).await?;
    let rate = args.rate.resolve(&token, args.raw)?;
    let deposit = amount::parse(&args.deposit, token.decimals, args.raw)?;
    let deposit_u128 = u128::try_from(deposit)
        .map_err(|_| CliError::Invalid("--deposit is above 2^128 - 1 base units".into()))?;
    let license = args.license_id;
    // An unknown license, or one that does not take streams, is refused before any approval is
    // sent.
    chain
        .read("reading the license", chain.nft().ownerOf(license))
        .await?;
    if !chain
        .read(
            "reading the license's streams",
            streams.streamsEnabled(license),
        )
        .await?
    {
        return Err(CliError::Invalid(format!(
            "license {license} does not take streams yet: its holder enables them with `fairtrain stream enable {license}`"
        )));
    }
    let mut txs = Vec::new();
    if !deposit.is_zero() {
        txs.extend(
            chain
                .approve_if_short(&token, *streams.address(), deposit)
                .await?,
        );
    }
    let params = Streams::CreateParams {
        licenseId: license,
        token: token.address,
        ratePerSecond: rate,
        startTime: U40::from(args.start),
        endTime: U40::from(args.end),
        operator: args.operator.unwrap_or_default(),
        deposit: deposit_u128,
    };
    let receipt = chain.send("create", streams.create(params)).await?;
    let id = emitted::<RoyaltyStreams::StreamCreated>(&receipt)
        .next()
        .map(|e| e.streamId)
        .ok_or_else(|| CliError::rpc("create", "the receipt has no StreamCreated event"))?;
    txs.push(Sent::new("create", &receipt));
    Ok(done(
        format!(
            "opened stream {id} to license {license}: {}, deposit {}",
            describe_rate(&token, rate),
            token.describe(deposit)
        ),
        Some(format!(
            "the license's holder can be paid with `fairtrain stream withdraw {id}`; top it up with `fairtrain stream top-up {id} <amount>`"
        )),
        serde_json::json!({
            "streamId": id.to_string(), "licenseId": license.to_string(), "token": token,
            "ratePerSecond": rate.to_string(), "deposit": deposit.to_string(),
            "startTime": args.start, "endTime": args.end, "operator": args.operator,
        }),
        txs,
    ))
}

/// `stream top-up`.
///
/// # Errors
///
/// An unknown stream, a bad amount, a wallet short of it; a decoded revert
/// (`RoyaltyStreams_StreamCancelled`).
pub async fn top_up(chain: &Chain, args: &TopUpArgs) -> Result<Done> {
    let streams = chain.streams()?;
    let (_, token) = load(chain, args.stream_id).await?;
    let value = amount::parse(&args.amount, token.decimals, args.raw)?;
    let value_u128 = u128::try_from(value)
        .map_err(|_| CliError::Invalid("the amount is above 2^128 - 1 base units".into()))?;
    let mut txs: Vec<Sent> = chain
        .approve_if_short(&token, *streams.address(), value)
        .await?
        .into_iter()
        .collect();
    let receipt = chain
        .send("deposit", streams.deposit(args.stream_id, value_u128))
        .await?;
    txs.push(Sent::new("deposit", &receipt));
    let record = chain
        .read("reading the stream", streams.getStream(args.stream_id))
        .await?;
    Ok(done(
        format!(
            "topped up stream {} with {}; balance now {}",
            args.stream_id,
            token.describe(value),
            token.describe(U256::from(record.balance))
        ),
        None,
        serde_json::json!({
            "streamId": args.stream_id.to_string(), "amount": value.to_string(),
            "balance": record.balance.to_string(),
        }),
        txs,
    ))
}

/// `stream adjust`.
///
/// # Errors
///
/// A decoded revert: `RoyaltyStreams_NotPayer`, `_NotActive`, `_Insolvent`...
pub async fn adjust(chain: &Chain, args: &RateChangeArgs) -> Result<Done> {
    let streams = chain.streams()?;
    let (record, token) = load(chain, args.stream_id).await?;
    let rate = args.rate.resolve(&token, args.raw)?;
    let receipt = chain
        .send("adjustRate", streams.adjustRate(args.stream_id, rate))
        .await?;
    Ok(done(
        format!(
            "stream {} now streams {} (was {})",
            args.stream_id,
            describe_rate(&token, rate),
            describe_rate(&token, record.ratePerSecond)
        ),
        None,
        serde_json::json!({
            "streamId": args.stream_id.to_string(), "oldRate": record.ratePerSecond.to_string(),
            "ratePerSecond": rate.to_string(),
        }),
        vec![Sent::new("adjustRate", &receipt)],
    ))
}

/// `stream pause`.
///
/// # Errors
///
/// A decoded revert: `RoyaltyStreams_NotPayerOrOperator`, `_NotActive`...
pub async fn pause(chain: &Chain, args: &StreamIdArgs) -> Result<Done> {
    let streams = chain.streams()?;
    load(chain, args.stream_id).await?;
    let receipt = chain.send("pause", streams.pause(args.stream_id)).await?;
    let debt = emitted::<RoyaltyStreams::StreamPaused>(&receipt)
        .next()
        .map(|e| e.uncoveredDebt)
        .unwrap_or_default();
    Ok(done(
        format!(
            "paused stream {}{}",
            args.stream_id,
            if debt.is_zero() {
                String::new()
            } else {
                format!(" with {debt} base units of uncovered debt (top it up before restarting)")
            }
        ),
        Some(format!(
            "restart it with `fairtrain stream restart {}`",
            args.stream_id
        )),
        serde_json::json!({ "streamId": args.stream_id.to_string(), "uncoveredDebt": debt.to_string() }),
        vec![Sent::new("pause", &receipt)],
    ))
}

/// `stream restart`.
///
/// # Errors
///
/// A decoded revert: `RoyaltyStreams_NotPaused`, `_NotAllowedToRestart`, `_Insolvent`,
/// `_StreamEnded`...
pub async fn restart(chain: &Chain, args: &RestartArgs) -> Result<Done> {
    let streams = chain.streams()?;
    let (record, token) = load(chain, args.stream_id).await?;
    let rate = match (&args.rate, args.rate_wad) {
        (None, None) => record.ratePerSecond,
        (rate, rate_wad) => RateArgs {
            rate: rate.clone(),
            per: args.per,
            rate_wad,
        }
        .resolve(&token, args.raw)?,
    };
    let receipt = chain
        .send("restart", streams.restart(args.stream_id, rate))
        .await?;
    Ok(done(
        format!(
            "restarted stream {} at {}",
            args.stream_id,
            describe_rate(&token, rate)
        ),
        None,
        serde_json::json!({ "streamId": args.stream_id.to_string(), "ratePerSecond": rate.to_string() }),
        vec![Sent::new("restart", &receipt)],
    ))
}

/// `stream cancel`: reports the refund and any debt written off.
///
/// # Errors
///
/// A decoded revert: `RoyaltyStreams_NotPayer`, `_StreamCancelled`,
/// `_SettlementIncomplete`...
pub async fn cancel(chain: &Chain, args: &StreamIdArgs) -> Result<Done> {
    let streams = chain.streams()?;
    let (_, token) = load(chain, args.stream_id).await?;
    let receipt = chain.send("cancel", streams.cancel(args.stream_id)).await?;
    let event = emitted::<RoyaltyStreams::StreamCancelled>(&receipt)
        .next()
        .ok_or_else(|| CliError::rpc("cancel", "the receipt has no StreamCancelled event"))?;
    let credited = credited_in(&receipt);
    Ok(done(
        format!(
            "cancelled stream {}: {} refunded to {}, {} booked to the holders{}",
            args.stream_id,
            token.describe(U256::from(event.refunded)),
            event.payer,
            token.describe(credited),
            if event.uncoveredDebt.is_zero() {
                String::new()
            } else {
                format!(
                    ", {} of uncovered debt written off",
                    token.describe(event.uncoveredDebt)
                )
            }
        ),
        Some("holders collect what was booked to them with `fairtrain stream withdraw-owed --account <holder>`".into()),
        serde_json::json!({
            "streamId": args.stream_id.to_string(), "refunded": event.refunded.to_string(),
            "creditedToHolders": credited.to_string(),
            "uncoveredDebt": event.uncoveredDebt.to_string(),
        }),
        vec![Sent::new("cancel", &receipt)],
    ))
}

/// What a transaction booked to holders' `owedTo` (`AccrualCredited`).
fn credited_in(receipt: &alloy::rpc::types::TransactionReceipt) -> U256 {
    emitted::<RoyaltyStreams::AccrualCredited>(receipt)
        .map(|e| e.amount)
        .sum()
}

/// `stream withdraw`: pays the current holder; past holders' parts are booked to them.
///
/// # Errors
///
/// A decoded revert (`RoyaltyStreams_UnknownStream`...).
pub async fn withdraw(chain: &Chain, args: &StreamIdArgs) -> Result<Done> {
    let streams = chain.streams()?;
    let (_, token) = load(chain, args.stream_id).await?;
    let receipt = chain
        .send("withdraw", streams.withdraw(args.stream_id))
        .await?;
    let paid = emitted::<RoyaltyStreams::StreamWithdrawn>(&receipt).next();
    let credited = credited_in(&receipt);
    let (summary, holder, amount) = match paid {
        Some(e) => (
            format!(
                "paid {} from stream {} to the license's holder {}",
                token.describe(e.amount),
                args.stream_id,
                e.holder
            ),
            Some(e.holder),
            e.amount,
        ),
        None => (
            format!("stream {} had nothing to pay", args.stream_id),
            None,
            U256::ZERO,
        ),
    };
    let summary = if credited.is_zero() {
        summary
    } else {
        format!(
            "{summary}; {} booked to earlier holders",
            token.describe(credited)
        )
    };
    Ok(done(
        summary,
        None,
        serde_json::json!({
            "streamId": args.stream_id.to_string(), "holder": holder,
            "amount": amount.to_string(), "creditedToPastHolders": credited.to_string(),
        }),
        vec![Sent::new("withdraw", &receipt)],
    ))
}

/// `stream withdraw-owed`.
///
/// # Errors
///
/// A bad token, or a decoded revert.
pub async fn withdraw_owed(chain: &Chain, args: &WithdrawOwedArgs) -> Result<Done> {
    let streams = chain.streams()?;
    let account = match args.account {
        Some(a) => a,
        None => chain.sender()?,
    };
    let token = chain.resolve_token(args.token.as_deref()).await?;
    let owed = chain
        .read(
            "reading what is owed",
            streams.owedTo(account, token.address),
        )
        .await?;
    if owed.is_zero() {
        return Err(CliError::Invalid(format!(
            "streams owe {account} nothing in {}: `fairtrain stream withdraw <id>` pays the current holder",
            token.symbol
        )));
    }
    let receipt = chain
        .send("withdrawOwed", streams.withdrawOwed(account, token.address))
        .await?;
    Ok(done(
        format!("paid {} owed by streams to {account}", token.describe(owed)),
        None,
        serde_json::json!({ "account": account, "token": token, "amount": owed.to_string() }),
        vec![Sent::new("withdrawOwed", &receipt)],
    ))
}

/// `stream settle`.
///
/// # Errors
///
/// A decoded revert.
pub async fn settle(chain: &Chain, args: &StreamIdArgs) -> Result<Done> {
    let streams = chain.streams()?;
    let (_, token) = load(chain, args.stream_id).await?;
    let complete = chain
        .read("settling the stream", streams.settle(args.stream_id))
        .await?;
    let receipt = chain.send("settle", streams.settle(args.stream_id)).await?;
    let credited = credited_in(&receipt);
    Ok(done(
        format!(
            "booked {} of stream {} to its holders; {}",
            token.describe(credited),
            args.stream_id,
            if complete {
                "settlement complete"
            } else {
                "more holder changes remain: run it again"
            }
        ),
        None,
        serde_json::json!({
            "streamId": args.stream_id.to_string(), "credited": credited.to_string(),
            "complete": complete,
        }),
        vec![Sent::new("settle", &receipt)],
    ))
}

/// What `stream status` reports.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamStatus {
    /// The stream.
    pub stream_id: String,
    /// Its state now: pending, streaming, insolvent, paused, ended, cancelled.
    pub state: String,
    /// The license paid.
    pub license_id: String,
    /// Its holder now (who `withdraw` pays).
    pub holder: Address,
    /// Who opened it.
    pub payer: Address,
    /// Who may also pause it.
    pub operator: Option<Address>,
    /// The token.
    pub token: TokenInfo,
    /// Base units per second × 1e18.
    pub rate_per_second: String,
    /// Deposited and not yet credited or refunded, base units.
    pub balance: String,
    /// What `withdraw` would pay now, base units.
    pub withdrawable: String,
    /// Accrued beyond the balance, base units.
    pub uncovered_debt: String,
    /// What `cancel` would refund now, base units.
    pub refundable: String,
    /// Accrual is credited up to this time.
    pub credited_at: u64,
    /// Accrual stops at this time (`None`: open-ended).
    pub end_at: Option<u64>,
    /// The chain's time.
    pub now: u64,
    /// In words.
    pub lines: Vec<String>,
}

impl Render for StreamStatus {
    fn text(&self) -> String {
        self.lines.join("\n")
    }
}

fn state_name(state: u8) -> &'static str {
    match state {
        1 => "pending",
        2 => "streaming",
        3 => "insolvent",
        4 => "paused",
        5 => "ended",
        6 => "cancelled",
        _ => "unknown",
    }
}

/// `stream status`.
///
/// # Errors
///
/// An unknown stream or an RPC error.
pub async fn status(chain: &Chain, args: &StreamIdArgs) -> Result<StreamStatus> {
    let streams = chain.streams()?;
    let id = args.stream_id;
    let (record, token) = load(chain, id).await?;
    let state = chain
        .read("reading the stream's state", streams.stateOf(id))
        .await?;
    let withdrawable = chain
        .read("reading the stream", streams.withdrawableAmountOf(id))
        .await?;
    let debt = chain
        .read("reading the stream", streams.uncoveredDebtOf(id))
        .await?;
    let refundable = chain
        .read("reading the stream", streams.refundableAmountOf(id))
        .await?;
    let license = U256::from(record.licenseId);
    let holder = chain
        .read("reading the license holder", chain.nft().ownerOf(license))
        .await?;
    let now = chain.now().await?;
    let end_at = u64::try_from(record.endAt).unwrap_or(u64::MAX);
    let end_at = (end_at != (1 << 40) - 1).then_some(end_at);
    let credited_at = u64::try_from(record.creditedAt).unwrap_or_default();
    let operator = (record.operator != Address::ZERO).then_some(record.operator);
    let state = state_name(state);
    let mut lines = vec![
        format!("stream {id} ({state}) to license {license}, held by {holder}"),
        format!("  payer        {}", record.payer),
        format!(
            "  rate         {}",
            describe_rate(&token, record.ratePerSecond)
        ),
        format!(
            "  balance      {}",
            token.describe(U256::from(record.balance))
        ),
        format!("  withdrawable {}", token.describe(withdrawable)),
        format!("  refundable   {}", token.describe(refundable)),
    ];
    if !debt.is_zero() {
        lines.push(format!(
            "  debt         {} uncovered: top it up",
            token.describe(debt)
        ));
    }
    lines.push(format!(
        "  credited to  {}",
        time::relative(credited_at, now)
    ));
    lines.push(match end_at {
        Some(t) if state == "paused" => format!("  paused at    {}", time::relative(t, now)),
        Some(t) => format!("  ends         {}", time::relative(t, now)),
        None => "  ends         never".into(),
    });
    if let Some(op) = operator {
        lines.push(format!("  operator     {op} (may pause)"));
    }
    Ok(StreamStatus {
        stream_id: id.to_string(),
        state: state.into(),
        license_id: license.to_string(),
        holder,
        payer: record.payer,
        operator,
        token,
        rate_per_second: record.ratePerSecond.to_string(),
        balance: record.balance.to_string(),
        withdrawable: withdrawable.to_string(),
        uncovered_debt: debt.to_string(),
        refundable: refundable.to_string(),
        credited_at,
        end_at,
        now,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fusd() -> TokenInfo {
        TokenInfo {
            address: Address::ZERO,
            symbol: "fUSD".into(),
            decimals: 6,
        }
    }

    #[test]
    fn rates_convert_to_fixed_point_per_second() {
        // 1 fUSD per second: 1e6 base units per second.
        assert_eq!(
            RateArgs::per("1", Per::Second)
                .resolve(&fusd(), false)
                .unwrap(),
            1_000_000 * WAD
        );
        // 1 fUSD per day: 1e6 × 1e18 / 86400, rounded down.
        assert_eq!(
            RateArgs::per("1", Per::Day)
                .resolve(&fusd(), false)
                .unwrap(),
            11_574_074_074_074_074_074
        );
        assert_eq!(
            RateArgs::per("3600", Per::Hour)
                .resolve(&fusd(), true)
                .unwrap(),
            WAD
        );
        assert_eq!(RateArgs::wad(7).resolve(&fusd(), false).unwrap(), 7);
        assert!(RateArgs::per("0", Per::Day)
            .resolve(&fusd(), false)
            .is_err());
        assert!(describe_rate(&fusd(), 1_000_000 * WAD).starts_with("86400 fUSD per day"));
    }
}
