//! `fairtrain creator earnings|settle`: what a creator's licenses have earned, from the escrow's
//! `UsageSettled` events, and direct settlement of a signed receipt. (`creator claim` is in
//! [`crate::cmd::claim`].)

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
};

use alloy::primitives::{Address, B256, U256};
use clap::{Args, Subcommand};
use fairtrain_protocol::{
    bindings::{LicenseNFT, TrainingEscrow},
    EscrowDomain, SignedReceipt,
};
use serde::Serialize;

use crate::{
    chain::{emitted, Chain, Sent},
    error::{CliError, Result},
    logs::{events, Topic},
    output::Render,
};

/// Creator subcommands.
#[derive(Debug, Subcommand)]
pub enum CreatorCmd {
    /// Usage settled for your licenses and payouts you received, per license and token.
    Earnings(EarningsArgs),
    /// Claim payment for receipts relayers committed in batches (proofs from a relayer's API
    /// or from published batch data, each checked locally before any gas is spent).
    Claim(crate::cmd::claim::ClaimArgs),
    /// Settle one signed receipt directly from the payer's balance (the escape hatch when no
    /// relayer commits it); anyone may send it, the license holder is paid.
    Settle(SettleArgs),
}

/// `creator settle`.
#[derive(Clone, Debug, Args)]
pub struct SettleArgs {
    /// A signed receipt in its JSON form (docs/protocol.md §8: payer, licenseId, termsId, runId,
    /// cumulativeSamples, issuedAt, signature).
    pub receipt: PathBuf,
}

/// What `settle` reports.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settled {
    /// The key that signed the receipt.
    pub signer: Address,
    /// The usage key.
    pub usage_key: B256,
    /// Whether anything was paid (nothing if the receipt adds nothing over what was settled).
    pub paid: bool,
    /// The holder paid.
    pub payee: Option<Address>,
    /// Samples charged.
    pub samples_charged: u64,
    /// Charged to the payer (payout + fee), base units.
    pub amount: String,
    /// Platform fee, base units.
    pub fee: String,
    /// In words.
    pub summary: String,
    /// The transaction.
    pub tx: Sent,
}

impl Render for Settled {
    fn text(&self) -> String {
        format!("{}\n  {}", self.summary, self.tx)
    }
}

/// `creator settle`: checks the signature locally, then calls `settleDirect`.
///
/// # Errors
///
/// An unreadable receipt or bad signature; a decoded revert such as
/// `TrainingEscrow_AcceptanceNotChargeable` (with the time it becomes chargeable),
/// `_SignerNotAuthorized` or `_InsufficientBalance`.
pub async fn settle(chain: &Chain, args: &SettleArgs) -> Result<Settled> {
    let bytes = std::fs::read(&args.receipt).map_err(|source| CliError::Io {
        path: args.receipt.clone(),
        source,
    })?;
    let signed: SignedReceipt = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::Invalid(format!(
            "{} is not a signed receipt: {e}",
            args.receipt.display()
        ))
    })?;
    let receipt = signed.receipt();
    let domain = EscrowDomain::new(chain.chain_id, chain.deployment.training_escrow);
    let signer = signed
        .recover(&domain)
        .map_err(|e| CliError::Invalid(format!("the receipt's signature is invalid: {e}")))?;
    let escrow = chain.escrow();
    let tx = chain
        .send(
            "settleDirect",
            escrow.settleDirect(receipt.clone().into(), signed.signature.to_bytes()),
        )
        .await?;
    let event = emitted::<TrainingEscrow::UsageSettled>(&tx).next();
    let tx = Sent::new("settleDirect", &tx);
    Ok(match event {
        Some(e) => {
            let token = chain.token_info(e.token).await?;
            Settled {
                signer,
                usage_key: receipt.usage_key(),
                paid: true,
                payee: Some(e.payee),
                samples_charged: e.samplesCharged,
                amount: e.amount.to_string(),
                fee: e.fee.to_string(),
                summary: format!(
                    "settled {} samples of license {}: {} paid to {} ({} platform fee)",
                    e.samplesCharged,
                    e.licenseId,
                    token.describe(e.amount - e.fee),
                    e.payee,
                    token.describe(e.fee)
                ),
                tx,
            }
        }
        None => Settled {
            signer,
            usage_key: receipt.usage_key(),
            paid: false,
            payee: None,
            samples_charged: 0,
            amount: "0".into(),
            fee: "0".into(),
            summary: "nothing to pay: usage up to this receipt's count was already settled".into(),
            tx,
        },
    })
}

/// `creator earnings`.
#[derive(Clone, Debug, Args)]
pub struct EarningsArgs {
    /// The creator [default: the key's address].
    #[arg(long)]
    pub address: Option<Address>,
}

/// Usage settled for one license in one token.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseEarnings {
    /// The license.
    pub license_id: String,
    /// The token symbol.
    pub token: String,
    /// Whether the address minted it.
    pub created: bool,
    /// Settlements.
    pub settlements: u64,
    /// Samples charged.
    pub samples: u64,
    /// Charged to payers (payout + fee), base units.
    pub charged: String,
    /// Platform fees, base units.
    pub fees: String,
    /// Paid to holders, base units.
    pub payout: String,
    /// Of the payout, what went to the address (as holder at the time).
    pub received: String,
    /// `received` in whole tokens.
    pub received_human: String,
}

/// `creator earnings`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Earnings {
    /// The creator.
    pub address: Address,
    /// Licenses the address minted.
    pub licenses_created: Vec<String>,
    /// Per license and token: licenses it created or was paid for.
    pub licenses: Vec<LicenseEarnings>,
    /// Total received per token symbol, whole tokens.
    pub total_received: BTreeMap<String, String>,
}

impl Render for Earnings {
    fn text(&self) -> String {
        let mut lines = vec![format!(
            "creator {}: {} license(s) minted ({})",
            self.address,
            self.licenses_created.len(),
            self.licenses_created.join(", ")
        )];
        if self.licenses.is_empty() {
            lines.push("no usage settled yet".into());
        }
        for l in &self.licenses {
            lines.push(format!(
                "license {} ({}): {} samples in {} settlement(s); charged {} {t}, fees {} {t}, paid to holders {} {t}; received by you {} {t} ({} base units)",
                l.license_id,
                if l.created { "yours" } else { "held" },
                l.samples,
                l.settlements,
                l.charged,
                l.fees,
                l.payout,
                l.received_human,
                l.received,
                t = l.token,
            ));
        }
        for (symbol, total) in &self.total_received {
            lines.push(format!("total received: {total} {symbol}"));
        }
        lines.push(
            "payouts go to the license's holder when a claim or direct settlement runs: `fairtrain creator claim --relayer-url <url>` (or `--batch-data <file|url>`), `fairtrain creator settle <receipt.json>`".into(),
        );
        lines.join("\n")
    }
}

/// `creator earnings`: reads `LicenseMinted` and `UsageSettled` events since the deployment.
///
/// # Errors
///
/// An RPC error.
pub async fn earnings(chain: &Chain, args: &EarningsArgs) -> Result<Earnings> {
    let address = match args.address {
        Some(a) => a,
        None => chain.sender()?,
    };
    let created: BTreeSet<U256> = events::<LicenseNFT::LicenseMinted>(
        chain,
        chain.deployment.license_nft,
        Topic::Second(address.into_word()),
    )
    .await?
    .into_iter()
    .map(|(e, _)| e.licenseId)
    .collect();
    let settled =
        events::<TrainingEscrow::UsageSettled>(chain, chain.deployment.training_escrow, Topic::Any)
            .await?;

    #[derive(Default)]
    struct Sum {
        settlements: u64,
        samples: u64,
        charged: U256,
        fees: U256,
        received: U256,
    }
    let mut sums: BTreeMap<(U256, Address), Sum> = BTreeMap::new();
    for (e, _) in settled {
        if !created.contains(&e.licenseId) && e.payee != address {
            continue;
        }
        let sum = sums.entry((e.licenseId, e.token)).or_default();
        sum.settlements += 1;
        sum.samples += e.samplesCharged;
        sum.charged += e.amount;
        sum.fees += e.fee;
        if e.payee == address {
            sum.received += e.amount - e.fee;
        }
    }
    let mut licenses = Vec::new();
    let mut totals: BTreeMap<String, (U256, u8)> = BTreeMap::new();
    for ((license_id, token), sum) in sums {
        let info = chain.token_info(token).await?;
        let total = totals
            .entry(info.symbol.clone())
            .or_insert((U256::ZERO, info.decimals));
        total.0 += sum.received;
        licenses.push(LicenseEarnings {
            license_id: license_id.to_string(),
            token: info.symbol.clone(),
            created: created.contains(&license_id),
            settlements: sum.settlements,
            samples: sum.samples,
            charged: info.human(sum.charged),
            fees: info.human(sum.fees),
            payout: info.human(sum.charged - sum.fees),
            received: sum.received.to_string(),
            received_human: info.human(sum.received),
        });
    }
    Ok(Earnings {
        address,
        licenses_created: created.iter().map(ToString::to_string).collect(),
        licenses,
        total_received: totals
            .into_iter()
            .map(|(symbol, (units, decimals))| (symbol, crate::amount::format(units, decimals)))
            .collect(),
    })
}
