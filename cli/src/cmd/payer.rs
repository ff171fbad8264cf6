//! `fairtrain payer ...`: budgets, acceptances, signing keys, relayer credit lines, withdrawals
//! and status.
//!
//! A payer authorizes a relayer by funding a credit line for it (`payer credit fund`): the
//! relayer's batches reserve from the line's credit, and claims draw on what the line holds
//! reserved. Credit comes back to the available balance only through a reduction requested one
//! notice period in advance (`credit reduce`, then `credit execute-reduction`); reserved funds
//! return to the credit once every batch that reserved into the line has expired (`credit
//! release`, which anyone may send).

use std::collections::BTreeSet;

use alloy::{
    primitives::{aliases::U40, keccak256, Address, B256, U256},
    signers::SignerSync,
    sol_types::{SolEvent, SolValue},
};
use clap::{Args, Subcommand};
use fairtrain_protocol::bindings::TrainingEscrow;
use serde::Serialize;

use crate::{
    amount,
    chain::{emitted, Chain, Sent, TokenInfo},
    error::{CliError, Result},
    logs::{events, Topic},
    output::Render,
    time,
};

/// Payer subcommands.
#[derive(Debug, Subcommand)]
pub enum PayerCmd {
    /// Deposit budget into the escrow (approve + deposit, or one transaction with --permit).
    Deposit(DepositArgs),
    /// Accept a license's current terms (chargeable one notice period later).
    Accept(AcceptArgs),
    /// Register or revoke signing keys of your training infrastructure.
    #[command(subcommand)]
    Signer(SignerCmd),
    /// Fund, reduce and release the credit lines of relayers that reserve from your budget.
    #[command(subcommand)]
    Credit(CreditCmd),
    /// Balances, credit lines, pending withdrawals, acceptances and spending, keys.
    Status(StatusArgs),
    /// Request, execute or cancel a withdrawal of unspent budget.
    #[command(subcommand)]
    Withdraw(WithdrawCmd),
}

/// An amount of a token.
#[derive(Clone, Debug, Args)]
pub struct AmountArgs {
    /// Amount in whole tokens (e.g. 12.5), or base units with --raw.
    pub amount: String,
    /// The amount is in base units.
    #[arg(long)]
    pub raw: bool,
    /// Token: address or symbol of a deployment token [default: the deployment's first].
    #[arg(long)]
    pub token: Option<String>,
}

/// `payer deposit`.
#[derive(Clone, Debug, Args)]
pub struct DepositArgs {
    /// How much.
    #[command(flatten)]
    pub amount: AmountArgs,
    /// Sign an EIP-2612 permit and deposit in one transaction (no approval transaction).
    #[arg(long)]
    pub permit: bool,
    /// Seconds the permit stays valid.
    #[arg(long, default_value_t = 3600)]
    pub permit_ttl: u64,
}

/// `payer accept`.
#[derive(Clone, Debug, Args)]
pub struct AcceptArgs {
    /// The license.
    pub license_id: U256,
    /// The terms id you read and accept [default: the license's current terms].
    #[arg(long)]
    pub terms: Option<u64>,
}

/// `payer signer`.
#[derive(Clone, Debug, Subcommand)]
pub enum SignerCmd {
    /// Register a key that signs usage receipts for you.
    Register {
        /// The key's address.
        signer: Address,
    },
    /// Revoke a key (effective after the notice period).
    Revoke {
        /// The key's address.
        signer: Address,
    },
    /// Cancel a pending revocation (before it takes effect).
    CancelRevocation {
        /// The key's address.
        signer: Address,
    },
}

/// `payer credit`.
#[derive(Clone, Debug, Subcommand)]
pub enum CreditCmd {
    /// Move available budget into a relayer's credit line: the relayer may then commit batches
    /// that reserve from it.
    Fund(CreditAmountArgs),
    /// Ask to take credit back from a line (executable after the notice period; replaces an
    /// earlier request).
    Reduce(CreditAmountArgs),
    /// Cancel the pending credit reduction of a line.
    CancelReduction(LineArgs),
    /// Move the requested credit (what the line still has) back to the available balance, once
    /// the notice period passed.
    ExecuteReduction(LineArgs),
    /// Return a line's reserved funds to its credit once every batch that reserved into it
    /// expired, and sweep its fees (anyone may send it).
    Release(AnyLineArgs),
    /// Move the platform fees of claims paid from a line to the platform's balance (anyone may
    /// send it).
    SweepFees(AnyLineArgs),
}

/// One of the key's credit lines.
#[derive(Clone, Debug, Args)]
pub struct LineArgs {
    /// The relayer the line is for.
    #[arg(long)]
    pub relayer: Address,
    /// Token: address or symbol of a deployment token [default: the deployment's first].
    #[arg(long)]
    pub token: Option<String>,
}

/// One of the key's credit lines and an amount.
#[derive(Clone, Debug, Args)]
pub struct CreditAmountArgs {
    /// The line.
    #[command(flatten)]
    pub line: LineArgs,
    /// Amount in whole tokens (e.g. 12.5), or base units with --raw.
    #[arg(long)]
    pub amount: String,
    /// The amount is in base units.
    #[arg(long)]
    pub raw: bool,
}

/// Any payer's credit line.
#[derive(Clone, Debug, Args)]
pub struct AnyLineArgs {
    /// The payer whose line it is [default: the key's address].
    #[arg(long)]
    pub payer: Option<Address>,
    /// The line.
    #[command(flatten)]
    pub line: LineArgs,
}

/// `payer withdraw`.
#[derive(Clone, Debug, Subcommand)]
pub enum WithdrawCmd {
    /// Ask to withdraw; executable after the notice period, for one notice period.
    Request(AmountArgs),
    /// Withdraw what was requested (or what is available, if less).
    Execute {
        /// Token [default: the deployment's first].
        #[arg(long)]
        token: Option<String>,
        /// Send to this address [default: yourself].
        #[arg(long)]
        to: Option<Address>,
    },
    /// Cancel the pending request.
    Cancel {
        /// Token [default: the deployment's first].
        #[arg(long)]
        token: Option<String>,
    },
}

/// `payer status`.
#[derive(Clone, Debug, Args)]
pub struct StatusArgs {
    /// The payer [default: the key's address].
    #[arg(long)]
    pub address: Option<Address>,
}

/// A transaction-sending command's report.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Done {
    /// What happened, in a sentence.
    pub summary: String,
    /// What to do next, if anything.
    pub next: Option<String>,
    /// Structured details.
    pub details: serde_json::Value,
    /// Transactions sent.
    pub txs: Vec<Sent>,
}

impl Render for Done {
    fn text(&self) -> String {
        let mut lines = vec![self.summary.clone()];
        lines.extend(self.txs.iter().map(|t| format!("  {t}")));
        if let Some(next) = &self.next {
            lines.push(format!("next: {next}"));
        }
        lines.join("\n")
    }
}

/// `keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)")`.
fn permit_typehash() -> B256 {
    keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)")
}

/// `payer deposit`.
///
/// # Errors
///
/// A bad amount or token, or a decoded revert (e.g. `ERC20InsufficientBalance`).
pub async fn deposit(chain: &Chain, args: &DepositArgs) -> Result<Done> {
    let payer = chain.sender()?;
    let token = chain.resolve_token(args.amount.token.as_deref()).await?;
    let value = amount::parse(&args.amount.amount, token.decimals, args.amount.raw)?;
    let escrow = chain.escrow();
    let erc20 = chain.erc20(token.address);
    let mut txs = Vec::new();
    if args.permit {
        let nonce = chain
            .read("reading the permit nonce", erc20.nonces(payer))
            .await?;
        let separator = chain
            .read(
                "reading the token's EIP-712 domain",
                erc20.DOMAIN_SEPARATOR(),
            )
            .await?;
        let deadline = U256::from(chain.now().await? + args.permit_ttl);
        let struct_hash = keccak256(
            (
                permit_typehash(),
                payer,
                escrow.address().to_owned(),
                value,
                nonce,
                deadline,
            )
                .abi_encode(),
        );
        let digest =
            keccak256([&[0x19, 0x01], separator.as_slice(), struct_hash.as_slice()].concat());
        let signature = chain
            .signer()?
            .sign_hash_sync(&digest)
            .map_err(|e| CliError::Key(format!("signing the permit failed: {e}")))?;
        let v = 27 + u8::from(signature.v());
        let r = B256::from(signature.r());
        let s = B256::from(signature.s());
        let receipt = chain
            .send(
                "depositWithPermit",
                escrow.depositWithPermit(payer, token.address, value, deadline, v, r, s),
            )
            .await?;
        txs.push(Sent::new("depositWithPermit", &receipt));
    } else {
        let allowance = chain
            .read(
                "reading the allowance",
                erc20.allowance(payer, *escrow.address()),
            )
            .await?;
        // Refuse before approving, so that a deposit the wallet cannot cover costs nothing.
        let wallet = chain
            .read("reading the wallet balance", erc20.balanceOf(payer))
            .await?;
        if wallet < value {
            return Err(CliError::Invalid(format!(
                "the wallet {payer} holds {} but the deposit needs {}: fund the wallet first",
                token.describe(wallet),
                token.describe(value)
            )));
        }
        if allowance < value {
            let receipt = chain
                .send("approve", erc20.approve(*escrow.address(), value))
                .await?;
            txs.push(Sent::new("approve", &receipt));
        }
        let receipt = chain
            .send("deposit", escrow.deposit(token.address, value))
            .await?;
        txs.push(Sent::new("deposit", &receipt));
    }
    let available = chain
        .read(
            "reading the balance",
            escrow.availableBalance(payer, token.address),
        )
        .await?;
    Ok(Done {
        summary: format!(
            "deposited {}; available now {}",
            token.describe(value),
            token.describe(available)
        ),
        next: Some("accept a license's terms with `fairtrain payer accept <licenseId>`".into()),
        details: serde_json::json!({
            "payer": payer, "token": token, "amount": value.to_string(),
            "amountHuman": token.human(value), "available": available.to_string(),
            "permit": args.permit,
        }),
        txs,
    })
}

/// `payer accept`.
///
/// # Errors
///
/// A decoded revert: `TrainingEscrow_TermsNotCurrent`, `_TermsExpired`, `_AlreadyAccepted`...
pub async fn accept(chain: &Chain, args: &AcceptArgs) -> Result<Done> {
    let payer = chain.sender()?;
    let nft = chain.nft();
    let terms_id = match args.terms {
        Some(id) => id,
        None => {
            chain
                .read(
                    "reading the license's terms",
                    nft.currentTerms(args.license_id),
                )
                .await?
                .termsId
        }
    };
    let escrow = chain.escrow();
    let receipt = chain
        .send("acceptTerms", escrow.acceptTerms(args.license_id, terms_id))
        .await?;
    let acceptance = chain
        .read(
            "reading the acceptance",
            escrow.acceptance(payer, args.license_id, terms_id),
        )
        .await?;
    let token = chain.token_info(acceptance.token).await?;
    let chargeable = acceptance.chargeableFrom.to::<u64>();
    Ok(Done {
        summary: format!(
            "accepted terms {terms_id} of license {} at {} per sample; chargeable from {}",
            args.license_id,
            token.describe(U256::from(acceptance.pricePerSample)),
            time::utc(chargeable)
        ),
        next: Some("register the keys that sign usage receipts: `fairtrain payer signer register <address>`".into()),
        details: serde_json::json!({
            "licenseId": args.license_id.to_string(), "termsId": terms_id,
            "token": token, "pricePerSample": acceptance.pricePerSample.to_string(),
            "chargeableFrom": chargeable, "maxSamples": acceptance.maxSamples,
        }),
        txs: vec![Sent::new("acceptTerms", &receipt)],
    })
}

/// `payer signer ...`.
///
/// # Errors
///
/// A decoded revert (`TrainingEscrow_SignerAlreadyActive`, `_SignerNotActive`,
/// `_SignerRevoked`), or, for `cancel-revocation`, no pending revocation.
pub async fn signer(chain: &Chain, cmd: &SignerCmd) -> Result<Done> {
    let payer = chain.sender()?;
    let escrow = chain.escrow();
    let now = chain.now().await?;
    let (action, key, receipt) = match cmd {
        SignerCmd::Register { signer } => (
            "registerSigner",
            *signer,
            chain
                .send("registerSigner", escrow.registerSigner(*signer))
                .await?,
        ),
        SignerCmd::Revoke { signer } => (
            "revokeSigner",
            *signer,
            chain
                .send("revokeSigner", escrow.revokeSigner(*signer))
                .await?,
        ),
        SignerCmd::CancelRevocation { signer } => {
            let state = chain
                .read("reading the key", escrow.signerOf(payer, *signer))
                .await?;
            let revoked_at = state.revokedAt.to::<u64>();
            if revoked_at == 0 {
                return Err(CliError::Invalid(format!(
                    "key {signer} has no pending revocation (registered: {})",
                    state.registeredAt.to::<u64>() != 0
                )));
            }
            if revoked_at <= now {
                return Err(CliError::Invalid(format!(
                    "the revocation of {signer} took effect at {}; a revoked key can never be registered again: register a new key",
                    time::utc(revoked_at)
                )));
            }
            (
                "registerSigner (cancels the revocation)",
                *signer,
                chain
                    .send("registerSigner", escrow.registerSigner(*signer))
                    .await?,
            )
        }
    };
    let state = chain
        .read("reading the key", escrow.signerOf(payer, key))
        .await?;
    let summary = signer_state(key, state.registeredAt, state.revokedAt, now);
    Ok(Done {
        summary,
        next: None,
        details: serde_json::json!({
            "signer": key, "registeredAt": state.registeredAt.to::<u64>(),
            "revokedAt": state.revokedAt.to::<u64>(),
        }),
        txs: vec![Sent::new(action, &receipt)],
    })
}

fn signer_state(key: Address, registered: U40, revoked: U40, now: u64) -> String {
    let (registered, revoked) = (registered.to::<u64>(), revoked.to::<u64>());
    if registered == 0 {
        format!("key {key} is not registered")
    } else if revoked == 0 {
        format!("key {key} is active since {}", time::utc(registered))
    } else if revoked > now {
        format!(
            "key {key} is active until its revocation takes effect at {}",
            time::relative(revoked, now)
        )
    } else {
        format!("key {key} was revoked at {}", time::utc(revoked))
    }
}

/// `payer credit ...`.
///
/// # Errors
///
/// A bad amount or token; a decoded revert: `TrainingEscrow_InsufficientBalance`,
/// `_CreditLineOverflow`, `_NoCreditReductionRequested`, `_CreditReductionNotEffective` (with the
/// time it takes effect), `_ReservedNotReleasable` (with the time it can be released),
/// `_NothingReserved`, `_ZeroAmount`, `_ZeroAddress`.
pub async fn credit(chain: &Chain, cmd: &CreditCmd) -> Result<Done> {
    let (payer, line) = match cmd {
        CreditCmd::Fund(a) | CreditCmd::Reduce(a) => (chain.sender()?, &a.line),
        CreditCmd::CancelReduction(l) | CreditCmd::ExecuteReduction(l) => (chain.sender()?, l),
        CreditCmd::Release(a) | CreditCmd::SweepFees(a) => (
            match a.payer {
                Some(p) => p,
                None => chain.sender()?,
            },
            &a.line,
        ),
    };
    let token = chain.resolve_token(line.token.as_deref()).await?;
    let on = LineAction {
        chain,
        payer,
        relayer: line.relayer,
        token: &token,
    };
    let sent = match cmd {
        CreditCmd::Fund(a) => on.fund(a).await?,
        CreditCmd::Reduce(a) => on.request_reduction(a).await?,
        CreditCmd::CancelReduction(_) => on.cancel_reduction().await?,
        CreditCmd::ExecuteReduction(_) => on.execute_reduction().await?,
        CreditCmd::Release(_) => on.release().await?,
        CreditCmd::SweepFees(_) => on.sweep_fees().await?,
    };
    let now = chain.now().await?;
    let state = credit_line(chain, payer, line.relayer, &token, now).await?;
    Ok(Done {
        summary: format!("{}\n  {}", sent.summary, state.describe(&token, now)),
        next: sent.next,
        details: serde_json::json!({ "payer": payer, "token": token, "line": state }),
        txs: vec![Sent::new(sent.action, &sent.receipt)],
    })
}

/// One transaction on a credit line (`payer`, `relayer`, `token`).
struct LineAction<'a> {
    chain: &'a Chain,
    payer: Address,
    relayer: Address,
    token: &'a TokenInfo,
}

/// What a credit-line transaction did: the function called, its receipt, a sentence saying what
/// moved, and the next step when there is one.
struct LineSent {
    action: &'static str,
    receipt: alloy::rpc::types::TransactionReceipt,
    summary: String,
    next: Option<String>,
}

impl LineAction<'_> {
    /// A credit amount in the token's units, which the escrow takes as 128 bits.
    fn amount(&self, a: &CreditAmountArgs) -> Result<(U256, u128)> {
        let value = amount::parse(&a.amount, self.token.decimals, a.raw)?;
        let value128 = u128::try_from(value).map_err(|_| CliError::Amount {
            input: a.amount.clone(),
            reason: "a credit amount must fit in 128 bits".into(),
        })?;
        Ok((value, value128))
    }

    async fn fund(&self, a: &CreditAmountArgs) -> Result<LineSent> {
        let (value, value128) = self.amount(a)?;
        let (relayer, token) = (self.relayer, self.token);
        let receipt = self
            .chain
            .send(
                "fundCredit",
                self.chain
                    .escrow()
                    .fundCredit(relayer, token.address, value128),
            )
            .await?;
        Ok(LineSent {
            action: "fundCredit",
            receipt,
            summary: format!(
                "moved {} into the credit line of relayer {relayer}: it may commit batches reserving from it",
                token.describe(value)
            ),
            next: None,
        })
    }

    async fn request_reduction(&self, a: &CreditAmountArgs) -> Result<LineSent> {
        let (value, value128) = self.amount(a)?;
        let (escrow, relayer, token) = (self.chain.escrow(), self.relayer, self.token);
        let receipt = self
            .chain
            .send(
                "requestCreditReduction",
                escrow.requestCreditReduction(relayer, token.address, value128),
            )
            .await?;
        let (_, effective) = self.pending_reduction().await?;
        Ok(LineSent {
            action: "requestCreditReduction",
            receipt,
            summary: format!(
                "requested to take {} of credit back from relayer {relayer}, from {}",
                token.describe(value),
                time::utc(effective)
            ),
            next: Some(format!(
                "after {}, run `fairtrain payer credit execute-reduction --relayer {relayer}`",
                time::utc(effective)
            )),
        })
    }

    async fn cancel_reduction(&self) -> Result<LineSent> {
        let relayer = self.relayer;
        let receipt = self
            .chain
            .send(
                "cancelCreditReduction",
                self.chain
                    .escrow()
                    .cancelCreditReduction(relayer, self.token.address),
            )
            .await?;
        Ok(LineSent {
            action: "cancelCreditReduction",
            receipt,
            summary: format!("cancelled the pending credit reduction of relayer {relayer}"),
            next: None,
        })
    }

    async fn execute_reduction(&self) -> Result<LineSent> {
        let (relayer, token) = (self.relayer, self.token);
        let receipt = self
            .chain
            .send(
                "reduceCredit",
                self.chain.escrow().reduceCredit(relayer, token.address),
            )
            .await?;
        let moved = emitted::<TrainingEscrow::CreditReduced>(&receipt)
            .next()
            .map_or(U256::ZERO, |e| e.amount);
        let (left, _) = self.pending_reduction().await?;
        Ok(LineSent {
            action: "reduceCredit",
            receipt,
            summary: format!(
                "moved {} of credit from relayer {relayer} back to your available balance",
                token.describe(moved)
            ),
            next: (left != U256::ZERO).then(|| {
                format!(
                    "{} stays requested (the line's credit was short; reserved funds return to it on release): run the reduction again later",
                    token.describe(left)
                )
            }),
        })
    }

    async fn release(&self) -> Result<LineSent> {
        let (payer, relayer, token) = (self.payer, self.relayer, self.token);
        let receipt = self
            .chain
            .send(
                "release",
                self.chain.escrow().release(payer, relayer, token.address),
            )
            .await?;
        let released = emitted::<TrainingEscrow::FundsReleased>(&receipt)
            .next()
            .map_or(U256::ZERO, |e| e.amount);
        Ok(LineSent {
            action: "release",
            receipt,
            summary: format!(
                "released {} reserved by relayer {relayer} back to the credit of payer {payer}",
                token.describe(released)
            ),
            next: Some(
                "the payer takes credit back with `fairtrain payer credit reduce` (after the notice period)"
                    .into(),
            ),
        })
    }

    async fn sweep_fees(&self) -> Result<LineSent> {
        let (payer, relayer, token) = (self.payer, self.relayer, self.token);
        let receipt = self
            .chain
            .send(
                "sweepFees",
                self.chain.escrow().sweepFees(payer, relayer, token.address),
            )
            .await?;
        let swept = emitted::<TrainingEscrow::FeesSwept>(&receipt)
            .next()
            .map_or(U256::ZERO, |e| e.amount);
        Ok(LineSent {
            action: "sweepFees",
            receipt,
            summary: format!(
                "swept {} of platform fees from the line of payer {payer} for relayer {relayer}",
                token.describe(swept)
            ),
            next: None,
        })
    }

    /// The line's pending credit reduction: its amount and when it may be executed.
    async fn pending_reduction(&self) -> Result<(U256, u64)> {
        let r = self
            .chain
            .read(
                "reading the credit reduction",
                self.chain
                    .escrow()
                    .creditReduction(self.payer, self.relayer, self.token.address),
            )
            .await?;
        Ok((U256::from(r.amount), r.effectiveAt.to::<u64>()))
    }
}

/// Reads one credit line and its pending reduction.
async fn credit_line(
    chain: &Chain,
    payer: Address,
    relayer: Address,
    token: &TokenInfo,
    now: u64,
) -> Result<CreditLineStatus> {
    let escrow = chain.escrow();
    let line = chain
        .read(
            "reading the credit line",
            escrow.creditLine(payer, relayer, token.address),
        )
        .await?;
    let reduction = chain
        .read(
            "reading the credit reduction",
            escrow.creditReduction(payer, relayer, token.address),
        )
        .await?;
    let reserved_until = line.reservedUntil.to::<u64>();
    let effective_at = reduction.effectiveAt.to::<u64>();
    Ok(CreditLineStatus {
        relayer,
        token: token.symbol.clone(),
        credit: line.credit.to_string(),
        reserved: line.reserved.to_string(),
        fees: line.fees.to_string(),
        reserved_until,
        releasable: reserved_until != 0 && now >= reserved_until,
        reduction: (effective_at != 0).then(|| ReductionStatus {
            amount: reduction.amount.to_string(),
            effective_at,
            effective: now >= effective_at,
        }),
    })
}

/// `payer withdraw ...`.
///
/// # Errors
///
/// A decoded revert: `TrainingEscrow_WithdrawalLocked` (with the unlock time),
/// `_WithdrawalLapsed`, `_NoWithdrawalRequested`, `_ZeroAmount`.
pub async fn withdraw(chain: &Chain, cmd: &WithdrawCmd) -> Result<Done> {
    let payer = chain.sender()?;
    let escrow = chain.escrow();
    match cmd {
        WithdrawCmd::Request(args) => {
            let token = chain.resolve_token(args.token.as_deref()).await?;
            let value = amount::parse(&args.amount, token.decimals, args.raw)?;
            let value128 = u128::try_from(value).map_err(|_| CliError::Amount {
                input: args.amount.clone(),
                reason: "a withdrawal must fit in 128 bits".into(),
            })?;
            let receipt = chain
                .send(
                    "requestWithdrawal",
                    escrow.requestWithdrawal(token.address, value128),
                )
                .await?;
            let w = chain
                .read(
                    "reading the withdrawal",
                    escrow.pendingWithdrawal(payer, token.address),
                )
                .await?;
            let (unlock, lapse) = (w.unlockAt.to::<u64>(), w.lapsesAt.to::<u64>());
            Ok(Done {
                summary: format!(
                    "requested a withdrawal of {}; executable from {} until {} (funds stay chargeable until then)",
                    token.describe(value),
                    time::utc(unlock),
                    time::utc(lapse)
                ),
                next: Some(format!(
                    "after {}, run `fairtrain payer withdraw execute`",
                    time::utc(unlock)
                )),
                details: serde_json::json!({
                    "token": token, "amount": value.to_string(), "unlockAt": unlock, "lapsesAt": lapse,
                }),
                txs: vec![Sent::new("requestWithdrawal", &receipt)],
            })
        }
        WithdrawCmd::Execute { token, to } => {
            let token = chain.resolve_token(token.as_deref()).await?;
            let to = to.unwrap_or(payer);
            let receipt = chain
                .send("withdraw", escrow.withdraw(token.address, to))
                .await?;
            let sent = emitted::<TrainingEscrow::Withdrawn>(&receipt)
                .next()
                .map_or(U256::ZERO, |e| e.amount);
            Ok(Done {
                summary: format!("withdrew {} to {to}", token.describe(sent)),
                next: None,
                details: serde_json::json!({ "token": token, "amount": sent.to_string(), "to": to }),
                txs: vec![Sent::new("withdraw", &receipt)],
            })
        }
        WithdrawCmd::Cancel { token } => {
            let token = chain.resolve_token(token.as_deref()).await?;
            let receipt = chain
                .send("cancelWithdrawal", escrow.cancelWithdrawal(token.address))
                .await?;
            Ok(Done {
                summary: format!("cancelled the pending withdrawal of {}", token.symbol),
                next: None,
                details: serde_json::json!({ "token": token }),
                txs: vec![Sent::new("cancelWithdrawal", &receipt)],
            })
        }
    }
}

/// A payer's position in one token.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenStatus {
    /// The token.
    pub token: TokenInfo,
    /// In the payer's wallet.
    pub wallet: String,
    /// The escrow's allowance.
    pub allowance: String,
    /// Available (chargeable, refundable).
    pub available: String,
    /// Credit of the payer's lines (what relayers may still reserve).
    pub credit: String,
    /// Reserved in the payer's lines by committed batches, not yet paid.
    pub reserved: String,
    /// Deposited for the payer, in total.
    pub deposited: String,
    /// Withdrawn by the payer, in total.
    pub withdrawn: String,
    /// Paid for usage (payouts and fees): deposited − withdrawn − available − credit − reserved.
    pub spent: String,
    /// Pending withdrawal, if any.
    pub withdrawal: Option<WithdrawalStatus>,
    /// The payer's credit lines in this token.
    pub credit_lines: Vec<CreditLineStatus>,
}

/// A credit line the payer funded for a relayer, in one token.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditLineStatus {
    /// The relayer.
    pub relayer: Address,
    /// Token symbol.
    pub token: String,
    /// What the relayer may still reserve, base units.
    pub credit: String,
    /// Reserved by the relayer's committed batches and not paid, base units.
    pub reserved: String,
    /// Platform fees of claims paid from the line, not yet swept, base units.
    pub fees: String,
    /// The latest expiry of a batch that reserved into the line since its last release (0:
    /// none).
    pub reserved_until: u64,
    /// Whether `credit release` would go through now.
    pub releasable: bool,
    /// The pending credit reduction, if any.
    pub reduction: Option<ReductionStatus>,
}

impl CreditLineStatus {
    /// The line in words.
    fn describe(&self, token: &TokenInfo, now: u64) -> String {
        let show =
            |units: &str| token.describe(U256::from_str_radix(units, 10).unwrap_or_default());
        let mut text = format!(
            "line for relayer {}: credit {}, reserved {}, fees {}",
            self.relayer,
            show(&self.credit),
            show(&self.reserved),
            show(&self.fees)
        );
        if self.reserved_until != 0 {
            text.push_str(&format!(
                ", reserved until {}{}",
                time::relative(self.reserved_until, now),
                if self.releasable { " (releasable)" } else { "" }
            ));
        }
        if let Some(r) = &self.reduction {
            text.push_str(&format!(
                "; reduction of {} {} {}",
                show(&r.amount),
                if r.effective {
                    "executable since"
                } else {
                    "pending until"
                },
                time::relative(r.effective_at, now)
            ));
        }
        text
    }
}

/// A pending credit reduction.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReductionStatus {
    /// Base units still requested.
    pub amount: String,
    /// Executable from.
    pub effective_at: u64,
    /// Whether its notice period passed.
    pub effective: bool,
}

/// A pending withdrawal.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawalStatus {
    /// Base units requested.
    pub amount: String,
    /// Executable from.
    pub unlock_at: u64,
    /// Lapses at.
    pub lapses_at: u64,
    /// `locked`, `executable` or `lapsed`.
    pub state: &'static str,
}

/// One acceptance and what it has cost.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptanceStatus {
    /// License.
    pub license_id: String,
    /// Terms.
    pub terms_id: u64,
    /// Token symbol.
    pub token: String,
    /// Base units per sample.
    pub price_per_sample: String,
    /// Chargeable from.
    pub chargeable_from: u64,
    /// Whether chargeable now.
    pub chargeable: bool,
    /// Samples charged so far against the cap (the escrow counts them only for capped terms).
    pub samples_charged: Option<u64>,
    /// Cap (0: none).
    pub max_samples: u64,
}

/// A key's state.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignerStatus {
    /// The key.
    pub signer: Address,
    /// Registered at.
    pub registered_at: u64,
    /// Revocation effective at (0: none).
    pub revoked_at: u64,
    /// In words.
    pub state: String,
}

/// `payer status`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayerStatus {
    /// The payer.
    pub payer: Address,
    /// Chain time.
    pub now: u64,
    /// Per token.
    pub tokens: Vec<TokenStatus>,
    /// Acceptances.
    pub acceptances: Vec<AcceptanceStatus>,
    /// Keys.
    pub signers: Vec<SignerStatus>,
}

impl Render for PayerStatus {
    fn text(&self) -> String {
        let mut lines = vec![format!("payer {} at {}", self.payer, time::utc(self.now))];
        for t in &self.tokens {
            let d = t.token.decimals;
            let show = |units: &str| {
                let u = U256::from_str_radix(units, 10).unwrap_or_default();
                format!("{} {}", amount::format(u, d), t.token.symbol)
            };
            lines.push(format!(
                "{} {}: available {}, credit {}, reserved {}, spent {} (of {} deposited, {} withdrawn); wallet {}, allowance {}",
                t.token.symbol,
                t.token.address,
                show(&t.available),
                show(&t.credit),
                show(&t.reserved),
                show(&t.spent),
                show(&t.deposited),
                show(&t.withdrawn),
                show(&t.wallet),
                show(&t.allowance)
            ));
            if let Some(w) = &t.withdrawal {
                lines.push(format!(
                    "  withdrawal of {} {}: unlocks {}, lapses {}",
                    show(&w.amount),
                    w.state,
                    time::relative(w.unlock_at, self.now),
                    time::utc(w.lapses_at)
                ));
            }
            lines.extend(
                t.credit_lines
                    .iter()
                    .map(|l| format!("  {}", l.describe(&t.token, self.now))),
            );
        }
        if self.tokens.iter().all(|t| t.credit_lines.is_empty()) {
            lines.push(
                "credit lines: none (`fairtrain payer credit fund --relayer <address> --amount <n>` lets a relayer commit your receipts)"
                    .into(),
            );
        }
        if self.acceptances.is_empty() {
            lines.push("acceptances: none".into());
        }
        for a in &self.acceptances {
            lines.push(format!(
                "license {} terms {}: {} base units of {} per sample, {}, {}",
                a.license_id,
                a.terms_id,
                a.price_per_sample,
                a.token,
                match a.samples_charged {
                    Some(n) => format!("{n} of {} capped samples charged", a.max_samples),
                    None => "no cap".to_owned(),
                },
                if a.chargeable {
                    "chargeable".to_owned()
                } else {
                    format!(
                        "chargeable from {}",
                        time::relative(a.chargeable_from, self.now)
                    )
                }
            ));
        }
        if self.signers.is_empty() {
            lines.push("signing keys: none".into());
        }
        lines.extend(self.signers.iter().map(|s| s.state.clone()));
        lines.join("\n")
    }
}

/// `payer status`: what the chain says about a payer.
///
/// # Errors
///
/// An RPC error.
pub async fn status(chain: &Chain, args: &StatusArgs) -> Result<PayerStatus> {
    let payer = match args.address {
        Some(a) => a,
        None => chain.sender()?,
    };
    let now = chain.now().await?;
    let history = PayerHistory::read(chain, payer).await?;
    let mut tokens = Vec::new();
    for &token in &chain.deployment.payment_tokens {
        tokens.push(token_status(chain, payer, token, &history, now).await?);
    }
    Ok(PayerStatus {
        payer,
        now,
        tokens,
        acceptances: acceptances(chain, payer, now).await?,
        signers: signers(chain, payer, now).await?,
    })
}

/// The payer's escrow events that name what its balances are made of.
struct PayerHistory {
    /// Every line was funded at least once: `CreditFunded` names them all.
    funded: Vec<TrainingEscrow::CreditFunded>,
    deposits: Vec<TrainingEscrow::Deposited>,
    withdrawals: Vec<TrainingEscrow::Withdrawn>,
}

impl PayerHistory {
    async fn read(chain: &Chain, payer: Address) -> Result<Self> {
        Ok(Self {
            funded: payer_events(chain, payer).await?,
            deposits: payer_events(chain, payer).await?,
            withdrawals: payer_events(chain, payer).await?,
        })
    }
}

/// The escrow's events of type `E` whose first indexed topic is `payer`.
async fn payer_events<E: SolEvent>(chain: &Chain, payer: Address) -> Result<Vec<E>> {
    let escrow = chain.deployment.training_escrow;
    let found = events::<E>(chain, escrow, Topic::First(payer.into_word())).await?;
    Ok(found.into_iter().map(|(e, _)| e).collect())
}

/// One payment token's balances of a payer: wallet, escrow, credit lines and what was spent.
async fn token_status(
    chain: &Chain,
    payer: Address,
    token_address: Address,
    history: &PayerHistory,
    now: u64,
) -> Result<TokenStatus> {
    let escrow = chain.escrow();
    let token = chain.token_info(token_address).await?;
    let erc20 = chain.erc20(token_address);
    let wallet = chain
        .read("reading the wallet balance", erc20.balanceOf(payer))
        .await?;
    let allowance = chain
        .read(
            "reading the allowance",
            erc20.allowance(payer, *escrow.address()),
        )
        .await?;
    let available = chain
        .read(
            "reading the balance",
            escrow.availableBalance(payer, token_address),
        )
        .await?;
    let relayers: BTreeSet<Address> = history
        .funded
        .iter()
        .filter(|e| e.token == token_address)
        .map(|e| e.relayer)
        .collect();
    let (mut credit, mut reserved) = (U256::ZERO, U256::ZERO);
    let mut credit_lines = Vec::new();
    for relayer in relayers {
        let line = credit_line(chain, payer, relayer, &token, now).await?;
        credit += U256::from_str_radix(&line.credit, 10).unwrap_or_default();
        reserved += U256::from_str_radix(&line.reserved, 10).unwrap_or_default();
        credit_lines.push(line);
    }
    let deposited: U256 = history
        .deposits
        .iter()
        .filter(|e| e.token == token_address)
        .map(|e| e.amount)
        .sum();
    let withdrawn: U256 = history
        .withdrawals
        .iter()
        .filter(|e| e.token == token_address)
        .map(|e| e.amount)
        .sum();
    // Every unit deposited is available, in a line's credit or reserved funds, withdrawn or
    // paid (a line's unswept fees are paid already) (docs/protocol.md §10).
    let spent = deposited
        .saturating_sub(withdrawn)
        .saturating_sub(available)
        .saturating_sub(credit)
        .saturating_sub(reserved);
    Ok(TokenStatus {
        token,
        wallet: wallet.to_string(),
        allowance: allowance.to_string(),
        available: available.to_string(),
        credit: credit.to_string(),
        reserved: reserved.to_string(),
        deposited: deposited.to_string(),
        withdrawn: withdrawn.to_string(),
        spent: spent.to_string(),
        withdrawal: pending_withdrawal(chain, payer, token_address, now).await?,
        credit_lines,
    })
}

/// The payer's pending withdrawal of a token, if any, and whether it is executable now.
async fn pending_withdrawal(
    chain: &Chain,
    payer: Address,
    token: Address,
    now: u64,
) -> Result<Option<WithdrawalStatus>> {
    let w = chain
        .read(
            "reading the withdrawal",
            chain.escrow().pendingWithdrawal(payer, token),
        )
        .await?;
    let (unlock_at, lapses_at) = (w.unlockAt.to::<u64>(), w.lapsesAt.to::<u64>());
    Ok((unlock_at != 0).then(|| WithdrawalStatus {
        amount: w.amount.to_string(),
        unlock_at,
        lapses_at,
        state: if now < unlock_at {
            "locked"
        } else if now < lapses_at {
            "executable"
        } else {
            "lapsed"
        },
    }))
}

/// Every terms acceptance of the payer, as the escrow holds it now.
async fn acceptances(chain: &Chain, payer: Address, now: u64) -> Result<Vec<AcceptanceStatus>> {
    let escrow = chain.escrow();
    let mut acceptances = Vec::new();
    for event in payer_events::<TrainingEscrow::TermsAccepted>(chain, payer).await? {
        let a = chain
            .read(
                "reading an acceptance",
                escrow.acceptance(payer, event.licenseId, event.termsId),
            )
            .await?;
        let token = chain.token_info(a.token).await?;
        let chargeable_from = a.chargeableFrom.to::<u64>();
        acceptances.push(AcceptanceStatus {
            license_id: event.licenseId.to_string(),
            terms_id: event.termsId,
            token: token.symbol.clone(),
            price_per_sample: a.pricePerSample.to_string(),
            chargeable_from,
            chargeable: now >= chargeable_from,
            samples_charged: (a.maxSamples != 0).then_some(a.samplesCharged),
            max_samples: a.maxSamples,
        });
    }
    Ok(acceptances)
}

/// Every training key the payer registered, with its state now.
async fn signers(chain: &Chain, payer: Address, now: u64) -> Result<Vec<SignerStatus>> {
    let escrow = chain.escrow();
    let keys: BTreeSet<Address> = payer_events::<TrainingEscrow::SignerRegistered>(chain, payer)
        .await?
        .into_iter()
        .map(|e| e.signer)
        .collect();
    let mut signers = Vec::new();
    for key in keys {
        let s = chain
            .read("reading a key", escrow.signerOf(payer, key))
            .await?;
        signers.push(SignerStatus {
            signer: key,
            registered_at: s.registeredAt.to::<u64>(),
            revoked_at: s.revokedAt.to::<u64>(),
            state: signer_state(key, s.registeredAt, s.revokedAt, now),
        });
    }
    Ok(signers)
}
