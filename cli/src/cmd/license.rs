//! `fairtrain license templates|mint|show|update-terms`.

use std::path::PathBuf;

use alloy::{
    primitives::{aliases::U96, Address, B256, U256},
    rpc::types::TransactionReceipt,
};
use clap::{Args, Subcommand};
use fairtrain_protocol::{
    bindings::{License, LicenseNFT},
    pricing::Unit,
    wire::decimal,
};
use serde::Serialize;

use crate::{
    amount,
    chain::{emitted, Chain, Sent, TokenInfo},
    cmd::manifest,
    error::{CliError, Result},
    output::Render,
    templates::{derivatives_name, kind_name, Economics, Template},
    time,
};

/// License subcommands.
#[derive(Debug, Subcommand)]
pub enum LicenseCmd {
    /// List the license templates.
    Templates,
    /// Mint a license for a signed manifest (the key must be the manifest's creator).
    Mint(MintArgs),
    /// Show a license: record, current terms, holder, royalty.
    Show(ShowArgs),
    /// Replace a license's terms by a new version (holder only).
    UpdateTerms(UpdateTermsArgs),
}

/// Terms chosen on the command line.
#[derive(Clone, Debug, Args)]
pub struct TermsArgs {
    /// The template.
    #[arg(long, value_enum)]
    pub template: Template,
    /// Price per unit (--unit), in whole tokens (e.g. 0.001) or base units with --raw.
    #[arg(long)]
    pub price: String,
    /// What the price is paid per: `sample` (training samples, metered by the payer's
    /// training run), `access` (each grant of the dataset's files by a gateway, paid by a
    /// receipt the gateway forwards), or `inference`.
    #[arg(long, default_value_t = Unit::Sample)]
    pub unit: Unit,
    /// --price is in base units.
    #[arg(long)]
    pub raw: bool,
    /// Payment token: address or symbol of a deployment token [default: the deployment's first].
    #[arg(long)]
    pub token: Option<String>,
    /// Cap on units charged per licensee (0: none).
    #[arg(long, default_value_t = 0)]
    pub max_samples: u64,
    /// Unix time after which the terms can no longer be accepted (0: never).
    #[arg(long, default_value_t = 0)]
    pub expires: u64,
    /// URI of the human-readable terms.
    #[arg(long, default_value = "")]
    pub uri: String,
    /// Make the terms exclusive to this payer.
    #[arg(long)]
    pub exclusive: Option<Address>,
}

/// `license mint`.
#[derive(Clone, Debug, Args)]
pub struct MintArgs {
    /// The signed manifest the license covers.
    #[arg(long)]
    pub manifest: PathBuf,
    /// Terms.
    #[command(flatten)]
    pub terms: TermsArgs,
    /// EIP-2981 royalty on resale, in basis points (paid to the creator).
    #[arg(long, default_value_t = 0)]
    pub royalty_bps: u64,
    /// Transfer the license to this holder after minting (the holder is the payee).
    #[arg(long)]
    pub to: Option<Address>,
}

/// `license show`.
#[derive(Clone, Debug, Args)]
pub struct ShowArgs {
    /// The license id.
    pub id: U256,
}

/// `license update-terms`.
#[derive(Clone, Debug, Args)]
pub struct UpdateTermsArgs {
    /// The license id.
    pub id: U256,
    /// The new terms.
    #[command(flatten)]
    pub terms: TermsArgs,
}

/// One template, for `license templates`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInfo {
    /// Name on the command line.
    pub name: &'static str,
    /// `License.Kind` name.
    pub kind: &'static str,
    /// Commercial use of trained models.
    pub commercial_use: bool,
    /// Attribution required.
    pub attribution_required: bool,
    /// Derived works.
    pub derivatives: &'static str,
    /// What it allows.
    pub summary: &'static str,
}

/// `license templates`.
#[derive(Clone, Debug, Serialize)]
pub struct Templates(pub Vec<TemplateInfo>);

impl Render for Templates {
    fn text(&self) -> String {
        self.0
            .iter()
            .map(|t| format!("{:<24} {}", t.name, t.summary))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `license templates`.
pub fn templates() -> Templates {
    Templates(
        Template::ALL
            .iter()
            .map(|&t| {
                let f = t.flags();
                TemplateInfo {
                    name: t.name(),
                    kind: kind_name(f.kind),
                    commercial_use: f.commercial_use,
                    attribution_required: f.attribution_required,
                    derivatives: derivatives_name(f.derivatives),
                    summary: t.summary(),
                }
            })
            .collect(),
    )
}

/// Terms in readable form.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TermsView {
    /// Terms id.
    pub terms_id: u64,
    /// Kind name.
    pub kind: &'static str,
    /// What the price is paid per.
    pub unit: Unit,
    /// Token.
    pub token: TokenInfo,
    /// Base units per unit.
    pub price_per_sample: String,
    /// Whole tokens per unit.
    pub price_per_sample_human: String,
    /// Cap (0: none).
    pub max_samples: u64,
    /// Expiry (0: never).
    pub expires_at: u64,
    /// Commercial use.
    pub commercial_use: bool,
    /// Attribution required.
    pub attribution_required: bool,
    /// Derivatives.
    pub derivatives: &'static str,
    /// Exclusive licensee (zero: none).
    pub exclusive_licensee: Address,
    /// URI.
    pub uri: String,
}

impl TermsView {
    async fn load(chain: &Chain, terms_id: u64, t: &License::Terms) -> Result<Self> {
        let token = chain.token_info(t.paymentToken).await?;
        let price = U256::from(t.pricePerSample);
        Ok(Self {
            terms_id,
            kind: kind_name(t.kind),
            unit: Unit::from_value(t.unit).ok_or_else(|| {
                CliError::Invalid(format!("terms {terms_id} have an unknown unit {}", t.unit))
            })?,
            price_per_sample: price.to_string(),
            price_per_sample_human: token.human(price),
            token,
            max_samples: t.maxSamples,
            expires_at: t.expiresAt.to::<u64>(),
            commercial_use: t.commercialUse,
            attribution_required: t.attributionRequired,
            derivatives: derivatives_name(t.derivatives),
            exclusive_licensee: t.exclusiveLicensee,
            uri: t.uri.clone(),
        })
    }

    fn lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("terms {} ({})", self.terms_id, self.kind),
            format!(
                "  price          {} {} per {} ({} base units)",
                self.price_per_sample_human, self.token.symbol, self.unit, self.price_per_sample
            ),
            format!(
                "  token          {} {}",
                self.token.symbol, self.token.address
            ),
            format!(
                "  max {:<11}{}",
                self.unit.plural(),
                if self.max_samples == 0 {
                    "no cap".to_owned()
                } else {
                    self.max_samples.to_string()
                }
            ),
            format!(
                "  expires        {}",
                if self.expires_at == 0 {
                    "never".to_owned()
                } else {
                    time::utc(self.expires_at)
                }
            ),
            format!(
                "  commercial use {}, attribution {}, derivatives {}",
                yes(self.commercial_use),
                if self.attribution_required {
                    "required"
                } else {
                    "not required"
                },
                self.derivatives
            ),
        ];
        if self.exclusive_licensee != Address::ZERO {
            lines.push(format!("  exclusive to   {}", self.exclusive_licensee));
        }
        if !self.uri.is_empty() {
            lines.push(format!("  uri            {}", self.uri));
        }
        lines
    }
}

const fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

async fn economics(chain: &Chain, args: &TermsArgs) -> Result<(Economics, TokenInfo)> {
    let token = chain.resolve_token(args.token.as_deref()).await?;
    let price = amount::parse(&args.price, token.decimals, args.raw)?;
    if price.bit_len() > 96 {
        return Err(CliError::Amount {
            input: args.price.clone(),
            reason: "a price per sample must fit in 96 bits".into(),
        });
    }
    let price_per_sample = price.to::<U96>();
    Ok((
        Economics {
            token: token.address,
            price_per_sample,
            unit: args.unit,
            max_samples: args.max_samples,
            expires_at: args.expires,
            exclusive_licensee: args.exclusive.unwrap_or(Address::ZERO),
            uri: args.uri.clone(),
        },
        token,
    ))
}

/// What `mint` reports.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Minted {
    /// The new license.
    #[serde(with = "decimal::u256")]
    pub license_id: U256,
    /// Its terms id.
    pub terms_id: u64,
    /// The manifest hash recorded.
    pub manifest_hash: B256,
    /// The holder (payee).
    pub holder: Address,
    /// Transactions sent.
    pub txs: Vec<Sent>,
}

impl Render for Minted {
    fn text(&self) -> String {
        let mut lines = vec![
            format!(
                "minted license {} (terms {})",
                self.license_id, self.terms_id
            ),
            format!("  manifest hash {}", self.manifest_hash),
            format!("  holder        {} (paid for usage)", self.holder),
        ];
        lines.extend(self.txs.iter().map(|t| format!("  {t}")));
        lines.join("\n")
    }
}

fn minted_event(receipt: &TransactionReceipt) -> Option<LicenseNFT::LicenseMinted> {
    emitted::<LicenseNFT::LicenseMinted>(receipt).next()
}

/// `license mint`: verifies the manifest, checks the key is its creator, mints, and transfers
/// to `--to` if given.
///
/// # Errors
///
/// A manifest that does not verify, a key that is not the creator's, a bad price, or a
/// decoded revert (e.g. `LicenseNFT_RoyaltyTooHigh`).
pub async fn mint(chain: &Chain, args: &MintArgs) -> Result<Minted> {
    let m = manifest::read(&args.manifest)?;
    let manifest_hash = m.verify()?;
    let sender = chain.sender()?;
    if sender != m.creator {
        return Err(CliError::Invalid(format!(
            "the manifest's creator is {}, but the key is {sender}: mint with the creator's key (licenses minted by others do not verify against the manifest)",
            m.creator
        )));
    }
    let (economics, _) = economics(chain, &args.terms).await?;
    let request = License::MintRequest {
        terms: args.terms.template.terms(economics),
        manifestHash: manifest_hash,
        royaltyBps: U96::from(args.royalty_bps),
    };
    let nft = chain.nft();
    let receipt = chain.send("mint", nft.mint(request)).await?;
    let event = minted_event(&receipt)
        .ok_or_else(|| CliError::rpc("mint", "no LicenseMinted event in the receipt"))?;
    let mut txs = vec![Sent::new("mint", &receipt)];
    let mut holder = sender;
    if let Some(to) = args.to {
        let receipt = chain
            .send("transfer", nft.transferFrom(sender, to, event.licenseId))
            .await?;
        txs.push(Sent::new("transfer", &receipt));
        holder = to;
    }
    Ok(Minted {
        license_id: event.licenseId,
        terms_id: event.termsId,
        manifest_hash,
        holder,
        txs,
    })
}

/// What `show` reports.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseView {
    /// License id.
    #[serde(with = "decimal::u256")]
    pub license_id: U256,
    /// Holder (payee).
    pub holder: Address,
    /// Creator (minter, royalty receiver).
    pub creator: Address,
    /// Terms version.
    pub version: u32,
    /// Mint time.
    pub minted_at: u64,
    /// Manifest hash.
    pub manifest_hash: B256,
    /// Royalty.
    pub royalty_bps: u16,
    /// Royalty receiver.
    pub royalty_receiver: Address,
    /// Current terms.
    pub terms: TermsView,
}

impl Render for LicenseView {
    fn text(&self) -> String {
        let mut lines = vec![
            format!("license {} (version {})", self.license_id, self.version),
            format!("  holder        {} (paid for usage)", self.holder),
            format!("  creator       {}", self.creator),
            format!("  minted        {}", time::utc(self.minted_at)),
            format!("  manifest hash {}", self.manifest_hash),
            if self.royalty_bps == 0 {
                "  royalty       none".to_owned()
            } else {
                format!(
                    "  royalty       {} bps to {}",
                    self.royalty_bps, self.royalty_receiver
                )
            },
        ];
        lines.extend(self.terms.lines());
        lines.join("\n")
    }
}

/// `license show`.
///
/// # Errors
///
/// A decoded revert (`ERC721NonexistentToken` for an unknown id) or an RPC error.
pub async fn show(chain: &Chain, args: &ShowArgs) -> Result<LicenseView> {
    let nft = chain.nft();
    let record = chain
        .read("reading the license", nft.license(args.id))
        .await?;
    let current = chain
        .read("reading the terms", nft.currentTerms(args.id))
        .await?;
    let holder = chain
        .read("reading the holder", nft.ownerOf(args.id))
        .await?;
    let royalty = chain
        .read(
            "reading the royalty",
            nft.royaltyInfo(args.id, U256::from(10_000)),
        )
        .await?;
    Ok(LicenseView {
        license_id: args.id,
        holder,
        creator: record.creator,
        version: record.version,
        minted_at: record.mintedAt.to::<u64>(),
        manifest_hash: record.manifestHash,
        royalty_bps: record.royaltyBps,
        royalty_receiver: royalty.receiver,
        terms: TermsView::load(chain, current.termsId, &current._1).await?,
    })
}

/// What `update-terms` reports.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TermsUpdated {
    /// The license.
    #[serde(with = "decimal::u256")]
    pub license_id: U256,
    /// The new version.
    pub version: u32,
    /// The new terms id.
    pub terms_id: u64,
    /// The transaction.
    pub tx: Sent,
}

impl Render for TermsUpdated {
    fn text(&self) -> String {
        format!(
            "license {} now at version {} with terms {}; payers must accept the new terms (earlier acceptances keep their version)\n  {}",
            self.license_id, self.version, self.terms_id, self.tx
        )
    }
}

/// `license update-terms`.
///
/// # Errors
///
/// A bad price, or a decoded revert (e.g. `LicenseNFT_NotHolderOrApproved`,
/// `LicenseNFT_TermsUnchanged`).
pub async fn update_terms(chain: &Chain, args: &UpdateTermsArgs) -> Result<TermsUpdated> {
    let (economics, _) = economics(chain, &args.terms).await?;
    let terms = args.terms.template.terms(economics);
    let nft = chain.nft();
    let receipt = chain
        .send("update-terms", nft.updateTerms(args.id, terms))
        .await?;
    let event = emitted::<LicenseNFT::LicenseTermsUpdated>(&receipt)
        .next()
        .ok_or_else(|| CliError::rpc("update-terms", "no LicenseTermsUpdated event"))?;
    Ok(TermsUpdated {
        license_id: args.id,
        version: event.version,
        terms_id: event.termsId,
        tx: Sent::new("update-terms", &receipt),
    })
}
