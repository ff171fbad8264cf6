//! `fairtrain-relayer`: the relayer service and its operator commands.

use std::path::PathBuf;

use alloy::{
    primitives::U256,
    providers::{Provider, ProviderBuilder},
};
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use fairtrain_relayer::{
    chain::journal::Journal,
    claims,
    config::Config,
    proofs, service,
    store::{JobKind, Store},
    util::hex0x,
};
use serde_json::json;

/// Fairtrain relayer: verifies signed usage receipts, stores them, commits them in batches to
/// TrainingEscrow and serves payees their proofs.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file (values can be overridden by FAIRTRAIN_* variables).
    #[arg(long, short, env = "FAIRTRAIN_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Log format.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "FAIRTRAIN_LOG_FORMAT",
        global = true
    )]
    log_format: LogFormat,
    /// Encrypted JSON keystore holding the relayer's key (foundry's `cast wallet import`
    /// writes one), decrypted by the relayer; instead of a private key. Also `keystore` in the
    /// file, or FAIRTRAIN_KEYSTORE.
    #[arg(long, global = true)]
    keystore: Option<PathBuf>,
    /// File holding the keystore's password (trailing newline trimmed). Also
    /// `keystore_password_file` in the file, or FAIRTRAIN_KEYSTORE_PASSWORD_FILE; without one,
    /// the password is FAIRTRAIN_KEYSTORE_PASSWORD, or asked for on a terminal.
    #[arg(long, global = true)]
    keystore_password_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the relayer: HTTP API, chain follower, batcher.
    Serve,
    /// Prints receipt counts by status and the latest batch.
    Status,
    /// Lists batches, newest first.
    Batches {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Prints the claimable receipts (with proofs) of a license or of a payee's licenses: those
    /// of confirmed batches that are not settled (as last followed from the chain).
    Proofs {
        /// License id.
        #[arg(long, conflicts_with = "payee")]
        license: Option<String>,
        /// Payee address (the licenses it holds, as last followed from the chain).
        #[arg(long)]
        payee: Option<String>,
    },
    /// Queues claims for payees (sponsored gas) of all confirmed batches, or of one; the
    /// running relayer sends them.
    Claim {
        /// Only this batch.
        #[arg(long)]
        batch: Option<i64>,
    },
    /// Forgets the followed chain state (the journal): the next start follows the chain again
    /// from `start_block`. For a reorganisation deeper than `reorg_window`; run it with the
    /// relayer stopped.
    Resync,
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Loads and validates the configuration, then checks the database and the RPC.
    Check,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn print(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON"));
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let mut config = Config::load(cli.config.as_deref())?;
    if cli.keystore.is_some() {
        config.keystore = cli.keystore;
    }
    if cli.keystore_password_file.is_some() {
        config.keystore_password_file = cli.keystore_password_file;
    }
    config.validate()?;
    match cli.command {
        Command::Serve => service::serve(&config, shutdown_signal()).await,
        Command::Status => print_status(&config).await,
        Command::Batches { limit } => {
            let store = Store::connect(&config.database_url).await?;
            let batches = store.batches(limit).await?;
            let batches = batches
                .iter()
                .map(|b| b.to_api())
                .collect::<Result<Vec<_>, _>>()?;
            print(&json!({ "batches": batches }));
            Ok(())
        }
        Command::Proofs { license, payee } => print_proofs(&config, license, payee).await,
        Command::Claim { batch } => {
            let store = Store::connect(&config.database_url).await?;
            let ids = claims::request(&store, batch, config.tx.claims_per_tx).await?;
            print(&json!({ "claimJobs": ids }));
            Ok(())
        }
        Command::Resync => {
            let store = Store::connect(&config.database_url).await?;
            store.journal_clear().await?;
            println!(
                "chain journal cleared: the next start follows from block {}",
                config.start_block
            );
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check,
        } => config_check(&config).await,
    }
}

/// `status`: receipts, claims and releases by state, and the latest batch.
async fn print_status(config: &Config) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url).await?;
    let counts: std::collections::BTreeMap<_, _> =
        store.receipt_counts().await?.into_iter().collect();
    let claims: std::collections::BTreeMap<_, _> =
        store.claim_counts().await?.into_iter().collect();
    let releases: std::collections::BTreeMap<_, _> = store
        .job_counts(JobKind::Release)
        .await?
        .into_iter()
        .collect();
    print(&json!({
        "receipts": counts,
        "claims": claims,
        "releases": releases,
        "latestBatch": store.batches(1).await?.first().map(|b| b.to_api()).transpose()?,
    }));
    Ok(())
}

/// `proofs`: every unsettled receipt of a license (or of a payee's licenses) with its proof.
async fn print_proofs(
    config: &Config,
    license: Option<String>,
    payee: Option<String>,
) -> anyhow::Result<()> {
    let store = Store::connect(&config.database_url).await?;
    let (_, state) = Journal::restore(
        config.escrow,
        config.license_nft,
        config.reorg_window,
        config.start_block,
        store.journal_load().await?,
    )?;
    let licenses: Vec<U256> = match (license, payee) {
        (Some(l), _) => vec![l.parse().context("license id")?],
        (None, Some(p)) => {
            let payee: alloy::primitives::Address = p.parse().context("payee address")?;
            state
                .holders
                .iter()
                .filter(|(_, h)| **h == payee)
                .map(|(id, _)| *id)
                .collect()
        }
        (None, None) => anyhow::bail!("give --license or --payee"),
    };
    let settled = |key| state.settled.get(&key).copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = proofs::page(
            &store,
            &licenses,
            after,
            config.limits.max_proofs_page,
            settled,
        )
        .await?;
        for row in &page.rows {
            let root = match row.batch_id {
                Some(id) => store.batch(id).await?.map(|b| b.root),
                None => None,
            };
            out.push(json!({
                "root": root,
                "receipt": row.signed_receipt()?,
                "proof": row.proof()?.iter().map(hex0x).collect::<Vec<_>>(),
                "claimTx": row.claim_tx,
            }));
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    print(&json!({ "claims": out }));
    Ok(())
}

/// `config check`: the configuration, the database and the RPC's chain.
async fn config_check(config: &Config) -> anyhow::Result<()> {
    println!("config: ok");
    match config.signer()? {
        Some(s) => println!("relayer account: {}", s.address()),
        None => println!("relayer account: none (serve needs private_key or keystore)"),
    }
    Store::connect(&config.database_url)
        .await
        .context("database")?;
    println!(
        "database: ok ({})",
        config.database_url.split(':').next().unwrap_or("")
    );
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_client(fairtrain_chain::rpc::client(
            config.rpc_url.parse().context("rpc_url")?,
            Default::default(),
        ));
    let id = provider.get_chain_id().await.context("rpc")?;
    anyhow::ensure!(
        id == config.chain_id,
        "rpc serves chain {id}, config says {}",
        config.chain_id
    );
    println!("rpc: ok (chain {id})");
    Ok(())
}
