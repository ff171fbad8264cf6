//! `fairtrain payer ...`: budgets, acceptances, signing keys, relayers, withdrawals and status.

use std::collections::BTreeSet;

use alloy::{
    primitives::{aliases::U40, keccak256, Address, B256, U256},
    signers::SignerSync,
    sol_types::SolValue,
};
use clap::{Args, Subcommand};
use fairtrain_protocol::bindings::TrainingEscrow;
use serde::Serialize;

use crate::{
    amount,
    chain::{Chain, Sent, TokenInfo},
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
    /// Authorize or revoke relayers that may reserve from your budget.
    #[command(subcommand)]
    Relayer(RelayerCmd),
    /// Balances, pending withdrawals, acceptances and spending, keys and relayers.
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

/// `payer relayer`.
#[derive(Clone, Debug, Subcommand)]
pub enum RelayerCmd {
    /// Allow a relayer to commit batches reserving from your budget.
    Authorize {
        /// The relayer's address.
        relayer: Address,
    },
    /// Stop a relayer (future commits only).
    Revoke {
        /// The relayer's address.
        relayer: Address,
    },
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

/// `payer relayer ...`.
///
/// # Errors
///
/// A decoded revert (e.g. `TrainingEscrow_ZeroAddress`).
pub async fn relayer(chain: &Chain, cmd: &RelayerCmd) -> Result<Done> {
    let escrow = chain.escrow();
    let (relayer, authorized) = match cmd {
        RelayerCmd::Authorize { relayer } => (*relayer, true),
        RelayerCmd::Revoke { relayer } => (*relayer, false),
    };
    let receipt = chain
        .send("setRelayer", escrow.setRelayer(relayer, authorized))
        .await?;
    Ok(Done {
        summary: if authorized {
            format!("relayer {relayer} may now commit batches that reserve from your budget")
        } else {
            format!("relayer {relayer} may no longer commit batches for you (batches already committed stay claimable)")
        },
        next: None,
        details: serde_json::json!({ "relayer": relayer, "authorized": authorized }),
        txs: vec![Sent::new("setRelayer", &receipt)],
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
            let sent = receipt
                .inner
                .logs()
                .iter()
                .find_map(|l| l.log_decode::<TrainingEscrow::Withdrawn>().ok())
                .map_or(U256::ZERO, |l| l.inner.data.amount);
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
    /// Locked in batch reservations.
    pub reserved: String,
    /// Deposited for the payer, in total.
    pub deposited: String,
    /// Withdrawn by the payer, in total.
    pub withdrawn: String,
    /// Paid for usage (payouts and fees): deposited − withdrawn − available − reserved.
    pub spent: String,
    /// Pending withdrawal, if any.
    pub withdrawal: Option<WithdrawalStatus>,
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
    /// Relayers currently authorized.
    pub relayers: Vec<Address>,
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
                "{} {}: available {}, reserved {}, spent {} (of {} deposited, {} withdrawn); wallet {}, allowance {}",
                t.token.symbol,
                t.token.address,
                show(&t.available),
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
        if self.relayers.is_empty() {
            lines.push("relayers: none".into());
        } else {
            lines.push(format!(
                "relayers: {}",
                self.relayers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
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
    let payer_topic = payer.into_word();
    let escrow = chain.escrow();
    let address = *escrow.address();
    let now = chain.now().await?;

    let reservations =
        events::<TrainingEscrow::FundsReserved>(chain, address, Topic::Second(payer_topic)).await?;
    let deposits =
        events::<TrainingEscrow::Deposited>(chain, address, Topic::First(payer_topic)).await?;
    let withdrawals =
        events::<TrainingEscrow::Withdrawn>(chain, address, Topic::First(payer_topic)).await?;
    let mut tokens = Vec::new();
    for &token_address in &chain.deployment.payment_tokens {
        let token = chain.token_info(token_address).await?;
        let erc20 = chain.erc20(token_address);
        let wallet = chain
            .read("reading the wallet balance", erc20.balanceOf(payer))
            .await?;
        let allowance = chain
            .read("reading the allowance", erc20.allowance(payer, address))
            .await?;
        let available = chain
            .read(
                "reading the balance",
                escrow.availableBalance(payer, token_address),
            )
            .await?;
        let mut reserved = U256::ZERO;
        for (event, _) in reservations
            .iter()
            .filter(|(e, _)| e.token == token_address)
        {
            let r = chain
                .read(
                    "reading a reservation",
                    escrow.reservation(event.root, payer, token_address),
                )
                .await?;
            reserved += U256::from(r.remaining);
        }
        let deposited: U256 = deposits
            .iter()
            .filter(|(e, _)| e.token == token_address)
            .map(|(e, _)| e.amount)
            .sum();
        let withdrawn: U256 = withdrawals
            .iter()
            .filter(|(e, _)| e.token == token_address)
            .map(|(e, _)| e.amount)
            .sum();
        // Every unit deposited is available, reserved, withdrawn or paid (docs/protocol.md §10).
        let spent = deposited
            .saturating_sub(withdrawn)
            .saturating_sub(available)
            .saturating_sub(reserved);
        let w = chain
            .read(
                "reading the withdrawal",
                escrow.pendingWithdrawal(payer, token_address),
            )
            .await?;
        let withdrawal = (w.unlockAt.to::<u64>() != 0).then(|| {
            let (unlock_at, lapses_at) = (w.unlockAt.to::<u64>(), w.lapsesAt.to::<u64>());
            WithdrawalStatus {
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
            }
        });
        tokens.push(TokenStatus {
            token,
            wallet: wallet.to_string(),
            allowance: allowance.to_string(),
            available: available.to_string(),
            reserved: reserved.to_string(),
            deposited: deposited.to_string(),
            withdrawn: withdrawn.to_string(),
            spent: spent.to_string(),
            withdrawal,
        });
    }

    let mut acceptances = Vec::new();
    for (event, _) in
        events::<TrainingEscrow::TermsAccepted>(chain, address, Topic::First(payer_topic)).await?
    {
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

    let keys: BTreeSet<Address> =
        events::<TrainingEscrow::SignerRegistered>(chain, address, Topic::First(payer_topic))
            .await?
            .into_iter()
            .map(|(e, _)| e.signer)
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

    let candidates: BTreeSet<Address> =
        events::<TrainingEscrow::RelayerSet>(chain, address, Topic::First(payer_topic))
            .await?
            .into_iter()
            .map(|(e, _)| e.relayer)
            .collect();
    let mut relayers = Vec::new();
    for relayer in candidates {
        if chain
            .read("reading a relayer", escrow.isRelayer(payer, relayer))
            .await?
        {
            relayers.push(relayer);
        }
    }

    Ok(PayerStatus {
        payer,
        now,
        tokens,
        acceptances,
        signers,
        relayers,
    })
}
