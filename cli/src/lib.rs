//! `fairtrain`, the command line of Fairtrain for creators and payers.
//!
//! Creators describe a dataset folder in a signed [manifest](cmd::manifest) (file hashes, a
//! Merkle root, metadata; `fairtrain_protocol::manifest`), mint a [license](cmd::license) for
//! it from a template, follow their [earnings](cmd::creator) and [claim](cmd::claim) what
//! relayers committed. Payers [deposit, accept terms, register keys, fund relayers' credit lines,
//! watch spending and withdraw](cmd::payer), and [stream](cmd::stream) royalties to a license per
//! second; income can be shared among many holders through a revenue [pool](cmd::pool).
//!
//! Each subcommand is a library function taking a connected [`Chain`] (or nothing, for
//! offline manifest work) and its clap `Args` struct, and returning a report that renders as
//! text or JSON ([`output::Render`]); [`run`] parses nothing and dispatches, and `main.rs` only
//! parses arguments and prints. Failures are [`CliError`]s: a reverted transaction or call
//! carries the contract's decoded custom error and a hint ([`revert`]).
//!
//! Modules: [`opts`] (shared flattened options), [`chain`] (provider, deployment, sending),
//! [`deployment`], [`amount`] (human and raw units), [`templates`], [`logs`] (event queries),
//! [`revert`], [`time`], [`error`].

use clap::{Parser, Subcommand};

pub mod amount;
pub mod chain;
pub mod cmd;
pub mod deployment;
pub mod error;
pub mod logs;
pub mod opts;
pub mod output;
pub mod revert;
pub mod templates;
pub mod time;

pub use chain::Chain;
pub use error::{CliError, Result};

use cmd::{
    creator::CreatorCmd, dataset::DatasetCmd, license::LicenseCmd, manifest::ManifestCmd,
    payer::PayerCmd, pool::PoolCmd, stream::StreamCmd,
};
use opts::GlobalOpts;
use output::Render;

/// Fairtrain: pay creators when their data trains AI models.
#[derive(Debug, Parser)]
#[command(name = "fairtrain", version, about, long_about = None)]
pub struct Cli {
    /// Options of every command.
    #[command(flatten)]
    pub global: GlobalOpts,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build, sign and verify dataset manifests.
    #[command(subcommand)]
    Manifest(ManifestCmd),
    /// License templates, minting, terms.
    #[command(subcommand)]
    License(LicenseCmd),
    /// Publish datasets to a gateway; download a license's dataset from one.
    #[command(subcommand)]
    Dataset(DatasetCmd),
    /// Creator views (earnings), claims of committed batches, direct settlement of receipts.
    #[command(subcommand)]
    Creator(CreatorCmd),
    /// Payer budget, acceptances, keys, relayer credit lines, withdrawals.
    #[command(subcommand)]
    Payer(PayerCmd),
    /// Per-second royalty streams from a payer to a license's holder.
    #[command(subcommand)]
    Stream(StreamCmd),
    /// Revenue-share pools: shares for members, income distributed and claimed.
    #[command(subcommand)]
    Pool(PoolCmd),
}

/// Runs a parsed command and returns what to print (text, or JSON with `--json`).
///
/// # Errors
///
/// The command's [`CliError`].
pub async fn run(cli: Cli) -> Result<String> {
    let g = &cli.global;
    let json = g.json;
    let connect = || async {
        let signer = g.key.signer()?;
        Chain::connect(&g.rpc, signer).await
    };
    Ok(match &cli.command {
        Command::Manifest(cmd) => match cmd {
            ManifestCmd::Build(args) => {
                cmd::manifest::build(args, g.key.signer()?.as_ref())?.render(json)
            }
            ManifestCmd::Sign(args) => cmd::manifest::sign(args, &g.key.require()?)?.render(json),
            ManifestCmd::Verify(args) => cmd::manifest::verify(args, g).await?.render(json),
            ManifestCmd::Prove(args) => cmd::manifest::prove(args)?.render(json),
        },
        Command::License(cmd) => match cmd {
            LicenseCmd::Templates => cmd::license::templates().render(json),
            LicenseCmd::Mint(args) => cmd::license::mint(&connect().await?, args)
                .await?
                .render(json),
            LicenseCmd::Show(args) => cmd::license::show(&connect().await?, args)
                .await?
                .render(json),
            LicenseCmd::UpdateTerms(args) => cmd::license::update_terms(&connect().await?, args)
                .await?
                .render(json),
        },
        Command::Dataset(DatasetCmd::Publish(args)) => {
            cmd::dataset::publish(args, &g.key.require()?)
                .await?
                .render(json)
        }
        Command::Dataset(DatasetCmd::Get(args)) => cmd::dataset::get(&connect().await?, args)
            .await?
            .render(json),
        Command::Creator(CreatorCmd::Earnings(args)) => {
            cmd::creator::earnings(&connect().await?, args)
                .await?
                .render(json)
        }
        Command::Creator(CreatorCmd::Settle(args)) => cmd::creator::settle(&connect().await?, args)
            .await?
            .render(json),
        Command::Creator(CreatorCmd::Claim(args)) => cmd::claim::claim(&connect().await?, args)
            .await?
            .render(json),
        Command::Stream(cmd) => {
            let chain = connect().await?;
            match cmd {
                StreamCmd::Enable(a) => cmd::stream::enable(&chain, a).await?.render(json),
                StreamCmd::Create(a) => cmd::stream::create(&chain, a).await?.render(json),
                StreamCmd::TopUp(a) => cmd::stream::top_up(&chain, a).await?.render(json),
                StreamCmd::Adjust(a) => cmd::stream::adjust(&chain, a).await?.render(json),
                StreamCmd::Pause(a) => cmd::stream::pause(&chain, a).await?.render(json),
                StreamCmd::Restart(a) => cmd::stream::restart(&chain, a).await?.render(json),
                StreamCmd::Cancel(a) => cmd::stream::cancel(&chain, a).await?.render(json),
                StreamCmd::Withdraw(a) => cmd::stream::withdraw(&chain, a).await?.render(json),
                StreamCmd::WithdrawOwed(a) => {
                    cmd::stream::withdraw_owed(&chain, a).await?.render(json)
                }
                StreamCmd::Settle(a) => cmd::stream::settle(&chain, a).await?.render(json),
                StreamCmd::Status(a) => cmd::stream::status(&chain, a).await?.render(json),
            }
        }
        Command::Pool(cmd) => {
            let chain = connect().await?;
            match cmd {
                PoolCmd::Create(a) => cmd::pool::create(&chain, a).await?.render(json),
                PoolCmd::AddLicense(a) => cmd::pool::add_license(&chain, a).await?.render(json),
                PoolCmd::RouteRoyalties(a) => {
                    cmd::pool::route_royalties(&chain, a).await?.render(json)
                }
                PoolCmd::Distribute(a) => cmd::pool::distribute(&chain, a).await?.render(json),
                PoolCmd::Claim(a) => cmd::pool::claim(&chain, a).await?.render(json),
                PoolCmd::Status(a) => cmd::pool::status(&chain, a).await?.render(json),
            }
        }
        Command::Payer(cmd) => {
            let chain = connect().await?;
            match cmd {
                PayerCmd::Deposit(args) => cmd::payer::deposit(&chain, args).await?.render(json),
                PayerCmd::Accept(args) => cmd::payer::accept(&chain, args).await?.render(json),
                PayerCmd::Signer(c) => cmd::payer::signer(&chain, c).await?.render(json),
                PayerCmd::Credit(c) => cmd::payer::credit(&chain, c).await?.render(json),
                PayerCmd::Status(args) => cmd::payer::status(&chain, args).await?.render(json),
                PayerCmd::Withdraw(c) => cmd::payer::withdraw(&chain, c).await?.render(json),
            }
        }
    })
}

/// Formats an error for people: the message, its causes, and a hint.
pub fn render_error(err: &CliError) -> String {
    let mut text = format!("error: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!("\n  caused by: {cause}"));
        source = cause.source();
    }
    if let Some(hint) = err.hint() {
        text.push_str(&format!("\nhint: {hint}"));
    }
    text
}
