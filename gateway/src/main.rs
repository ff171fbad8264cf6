//! `fairtrain-gateway`: publish datasets and serve them to entitled payers. `--help` lists the
//! options.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use alloy::{
    primitives::B256,
    providers::{Provider, ProviderBuilder},
};
use anyhow::Context;
use clap::Parser;
use fairtrain_chain::rpc::{client, Retry};
use fairtrain_gateway::{
    api::{self, AppState, Limits},
    blobs::Blobs,
    entitle::Entitlements,
    grant::GrantKey,
    pay::Payments,
    store::Store,
};
use fairtrain_protocol::{gateway::GatewayDomain, Deployment, EscrowDomain};

/// Fairtrain gateway: datasets published against their signed manifests, served to the payers
/// a deployment's licenses entitle.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8070")]
    listen: SocketAddr,
    /// The URL clients reach this gateway at (signed requests name it; grants point at it).
    /// Default: http://<listen>.
    #[arg(long, env = "PUBLIC_URL")]
    public_url: Option<String>,
    /// Database URL: `sqlite://gateway.db` or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://fairtrain-gateway.db"
    )]
    db: String,
    /// Where the files' bytes are kept (content-addressed blobs): a folder, or an S3-compatible
    /// bucket as `s3://<bucket>[/<prefix>]`, reached with the AWS tools' environment
    /// (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, and
    /// AWS_ALLOW_HTTP=true for an endpoint without TLS).
    #[arg(long, env = "STORAGE", default_value = "fairtrain-gateway-blobs")]
    storage: String,
    /// JSON-RPC endpoint of the chain.
    #[arg(long, env = "RPC_URL", default_value = "http://127.0.0.1:8545")]
    rpc_url: url::Url,
    /// Deployment file written by Deploy.s.sol.
    #[arg(long, env = "DEPLOYMENT", default_value = "deployments/31337.json")]
    deployment: PathBuf,
    /// Blocks below the head at which entitlements are read (0: the head).
    #[arg(long, env = "CONFIRMATIONS", default_value_t = 0)]
    confirmations: u64,
    /// 32-byte hex key of download grants; share it between instances behind one URL. Default:
    /// a random key (grants then end when the process does).
    #[arg(long, env = "GRANT_KEY", hide_env_values = true)]
    grant_key: Option<B256>,
    /// How long a download grant lasts, in seconds.
    #[arg(long, env = "GRANT_SECONDS", default_value_t = Limits::default().grant_seconds)]
    grant_seconds: u64,
    /// Most files in one dataset.
    #[arg(long, env = "MAX_FILES", default_value_t = Limits::default().max_files)]
    max_files: usize,
    /// Largest dataset, in bytes.
    #[arg(long, env = "MAX_DATASET_BYTES", default_value_t = Limits::default().max_dataset_bytes)]
    max_dataset_bytes: u64,
    /// The relayer that receipts of datasets priced per access are forwarded to (its URL). The
    /// payers of such datasets fund a credit line for it. Without one, those datasets are
    /// refused (503 `no_relayer`).
    #[arg(long, env = "RELAYER_URL")]
    relayer: Option<String>,
    /// Access requests checked against the chain at once; more are refused (503 `overloaded`).
    #[arg(long, env = "MAX_CHECKS_IN_FLIGHT", default_value_t = Limits::default().max_checks_in_flight)]
    max_checks_in_flight: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fairtrain-gateway: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let deployment = Deployment::load(&cli.deployment)
        .with_context(|| format!("reading {}", cli.deployment.display()))?;
    let provider = ProviderBuilder::new()
        .connect_client(client(cli.rpc_url.clone(), Retry::default()))
        .erased();
    let chain_id = provider
        .get_chain_id()
        .await
        .with_context(|| format!("reaching the chain at {}", cli.rpc_url))?;
    anyhow::ensure!(
        chain_id == deployment.chain_id,
        "the chain at {} has id {chain_id}, the deployment file is for {}",
        cli.rpc_url,
        deployment.chain_id
    );
    let store = Store::open(&cli.db).await.context("opening the database")?;
    let blobs = Blobs::open(&cli.storage)
        .with_context(|| format!("opening the storage {}", cli.storage))?;
    anyhow::ensure!(
        blobs.ping().await,
        "the storage {} does not answer",
        blobs.describe()
    );
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("listening on {}", cli.listen))?;
    let local = listener.local_addr()?;
    let public_url = cli
        .public_url
        .unwrap_or_else(|| format!("http://{local}"))
        .trim_end_matches('/')
        .to_owned();
    let storage = blobs.describe();
    let state = AppState {
        store,
        blobs,
        entitlements: Entitlements::new(
            provider,
            deployment.license_nft,
            deployment.training_escrow,
            cli.confirmations,
        )
        .with_max_in_flight(cli.max_checks_in_flight),
        chain_id,
        escrow: deployment.training_escrow,
        domain: GatewayDomain::new(chain_id, deployment.training_escrow),
        public_url: Arc::from(public_url.as_str()),
        payments: Payments::new(
            cli.relayer,
            EscrowDomain::new(chain_id, deployment.training_escrow),
        )
        .context("the relayer's client")?,
        grant_key: cli
            .grant_key
            .map_or_else(GrantKey::random, |k| GrantKey::new(k.0)),
        limits: Limits {
            grant_seconds: cli.grant_seconds,
            max_files: cli.max_files,
            max_dataset_bytes: cli.max_dataset_bytes,
            max_checks_in_flight: cli.max_checks_in_flight,
            ..Limits::default()
        },
    };
    tracing::info!(listen = %local, public_url, storage, "gateway serving");
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
}
