//! `fairtrain-indexer`: mirror a Fairtrain deployment, reconcile it with the chain, audit
//! batches, answer questions and serve the API and dashboard. `--help` lists the commands.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use fairtrain_indexer::{
    derive, reconcile,
    sync::{Indexer, SyncConfig},
    Db, Deployment,
};

/// Fairtrain indexer: every royalty flow of a deployment, mirrored and checkable.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Common {
    /// Database URL: `sqlite://path.db` or
    /// `postgres://user@localhost/db?host=/var/run/postgresql`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://fairtrain-index.db",
        global = true
    )]
    db: String,
    /// JSON-RPC endpoint of the chain.
    #[arg(
        long,
        env = "RPC_URL",
        default_value = "http://127.0.0.1:8545",
        global = true
    )]
    rpc_url: String,
    /// Deployment file written by Deploy.s.sol.
    #[arg(
        long,
        env = "DEPLOYMENT",
        default_value = "deployments/31337.json",
        global = true
    )]
    deployment: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Backfill, follow the head and serve the HTTP API and dashboard.
    #[command(alias = "serve")]
    Run {
        /// Address to listen on.
        #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[command(flatten)]
        sync: SyncArgs,
    },
    /// Index up to the current head, with a progress bar, then exit.
    Backfill {
        #[command(flatten)]
        sync: SyncArgs,
    },
    /// Recompute every derived table from the stored raw events.
    Rebuild,
    /// Compare derived state with the contracts' views; exits 1 on any difference.
    Reconcile {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct SyncArgs {
    /// Finalized = head − this many blocks (default: the RPC's `finalized` block).
    #[arg(long)]
    confirmations: Option<u64>,
    /// First `eth_getLogs` range in blocks (halved on provider errors, doubled back on success).
    #[arg(long, default_value_t = 1_000)]
    range: u64,
    /// Largest `eth_getLogs` range.
    #[arg(long, default_value_t = 50_000)]
    max_range: u64,
    /// Blocks of hashes kept to detect reorganisations.
    #[arg(long, default_value_t = 256)]
    window: u64,
}

impl SyncArgs {
    fn config(&self, progress: bool) -> SyncConfig {
        SyncConfig {
            initial_range: self.range,
            max_range: self.max_range,
            window: self.window,
            confirmations: self.confirmations,
            progress,
            ..SyncConfig::default()
        }
    }
}

fn provider(url: &str) -> anyhow::Result<DynProvider> {
    Ok(ProviderBuilder::new()
        .connect_http(url.parse().with_context(|| format!("rpc url {url}"))?)
        .erased())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let c = &cli.common;
    let deployment = Deployment::load(&c.deployment)?;
    let db = Db::connect(&c.db)
        .await
        .with_context(|| format!("database {}", c.db))?;
    match cli.command {
        Command::Run { listen, sync } => {
            let provider = provider(&c.rpc_url)?;
            let mut indexer = Indexer::new(
                provider.clone(),
                db.clone(),
                deployment.clone(),
                sync.config(false),
            )
            .await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listen on {listen}"))?;
            tracing::info!(%listen, "serving the API and dashboard");
            let app = fairtrain_indexer::api::router(fairtrain_indexer::api::AppState::new(
                db, provider, deployment,
            ));
            let server = axum::serve(listener, app).with_graceful_shutdown(shutdown());
            let (served, followed) = tokio::join!(server, indexer.follow(shutdown()));
            served?;
            followed?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backfill { sync } => {
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let mut indexer = Indexer::new(
                provider(&c.rpc_url)?,
                db.clone(),
                deployment,
                sync.config(progress),
            )
            .await?;
            let started = std::time::Instant::now();
            let events = indexer.sync_to_head().await?;
            let cp = fairtrain_indexer::raw::checkpoint(&db)
                .await?
                .map_or(0, |c| c.number);
            println!(
                "indexed {events} events up to block {cp} in {:.1?}",
                started.elapsed()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Rebuild => {
            let started = std::time::Instant::now();
            let stats = derive::rebuild(&db, &deployment).await?;
            println!(
                "rebuilt derived state from {} raw events in {:.1?}",
                stats.events,
                started.elapsed()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Reconcile { json } => {
            let report = reconcile::reconcile(&db, &provider(&c.rpc_url)?, &deployment).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            Ok(if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

async fn shutdown() {
    tokio::signal::ctrl_c().await.ok();
}
