//! `fairtrain-indexer`: mirror a Fairtrain deployment, reconcile it with the chain, audit
//! batches, answer questions and serve the API and dashboard. `--help` lists the commands.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use fairtrain_indexer::{
    audit::{
        self,
        worker::{self as auditor, Auditor, AuditorConfig},
    },
    catalog, derive, export,
    fetch::{self, Fetcher},
    query::{self, lines, pools, streams, CatalogFilter},
    reconcile,
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
    /// IPFS HTTP gateway for `ipfs://CID` data URIs (fetched as `<gateway>/ipfs/CID`), e.g.
    /// https://ipfs.io. The content is checked against the on-chain hash either way.
    #[arg(long, env = "IPFS_GATEWAY", global = true)]
    ipfs_gateway: Option<String>,
    /// Timeout of one fetch of batch data, redirects and DNS included (e.g. 30s, 500ms).
    #[arg(
        long,
        env = "FETCH_TIMEOUT",
        default_value = "30s",
        value_parser = auditor::parse_duration,
        global = true
    )]
    fetch_timeout: Duration,
    /// Largest batch data document fetched, in bytes (a larger one is `unavailable`).
    #[arg(long, env = "FETCH_MAX_BYTES", default_value_t = fetch::DEFAULT_MAX_BYTES, global = true)]
    fetch_max_bytes: u64,
    /// Fetch batch data from this host (`host` for any port, or `host:port`) even if it is
    /// loopback, private or otherwise not public, e.g. a relayer on this machine
    /// (127.0.0.1:8080); repeatable, or comma-separated in the environment. Data URIs are
    /// chosen by whoever commits a batch: by default only public addresses are fetched.
    #[arg(
        long = "allow-data-host",
        env = "ALLOW_DATA_HOSTS",
        value_name = "HOST[:PORT]",
        value_delimiter = ',',
        global = true
    )]
    allow_data_hosts: Vec<fetch::AllowedHost>,
}

impl Common {
    fn fetcher(&self) -> anyhow::Result<Fetcher> {
        Ok(
            Fetcher::new(self.ipfs_gateway.as_deref(), self.fetch_timeout)?
                .with_max_bytes(self.fetch_max_bytes)
                .with_allowed_hosts(self.allow_data_hosts.iter().cloned()),
        )
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Backfill, follow the head and serve the HTTP API and dashboard.
    #[command(alias = "serve")]
    Run {
        /// Address to listen on.
        #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The URL clients reach the API at, for links in the documents it exports (Croissant,
        /// TDMRep policies). Default: `http://` and each request's `Host`.
        #[arg(long, env = "PUBLIC_URL")]
        public_url: Option<String>,
        #[command(flatten)]
        sync: SyncArgs,
        #[command(flatten)]
        audit: AuditArgs,
        #[command(flatten)]
        catalog: CatalogArgs,
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
    /// Audit a batch: fetch its published data, check hash, signatures, keys, root, amounts,
    /// reservations and claims; print a summary and exit 1 if any check fails.
    Audit {
        /// The batch's Merkle root.
        root: String,
        /// Read the batch data from this file instead of the committed dataURI.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Write the full report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write one CSV line per receipt here.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// Answer a question from the index (JSON on stdout), as the HTTP API does.
    Query {
        #[command(subcommand)]
        what: QueryCmd,
    },
    /// The catalog: read the gateways' published manifests, then list the licensed datasets
    /// matching the filters (JSON on stdout), as `/api/catalog` does.
    Catalog {
        #[command(flatten)]
        catalog: CatalogArgs,
        #[command(flatten)]
        filter: CatalogFilter,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Export royalty flows (every settlement, with fee and net) for accounting.
    Export {
        /// `csv` or `json`.
        #[arg(long, default_value = "csv")]
        format: String,
        /// First block.
        #[arg(long, default_value_t = 0)]
        from_block: u64,
        /// Last block (default: all).
        #[arg(long)]
        to_block: Option<u64>,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum QueryCmd {
    /// Where the index stands.
    Status,
    /// Royalty totals.
    Royalties {
        /// Licenses of this creator.
        #[arg(long)]
        creator: Option<String>,
        /// One license.
        #[arg(long)]
        license: Option<String>,
        /// Paid to this payee.
        #[arg(long)]
        payee: Option<String>,
        /// Paid by this payer.
        #[arg(long)]
        payer: Option<String>,
        /// From this UTC day (days since 1970-01-01).
        #[arg(long)]
        from_day: Option<i64>,
        /// To this UTC day.
        #[arg(long)]
        to_day: Option<i64>,
        /// Only finalized blocks.
        #[arg(long)]
        finalized: bool,
        /// license, creator, payee or day.
        #[arg(long, default_value = "license")]
        group: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Per-creator totals (claimed and unclaimed).
    Creators,
    /// Licenses.
    Licenses {
        /// Minted by.
        #[arg(long)]
        creator: Option<String>,
        /// Held by.
        #[arg(long)]
        holder: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Payers' balances.
    Balances {
        /// One payer.
        #[arg(long)]
        payer: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Credit lines (payer, relayer, token) with their pending reductions.
    CreditLines {
        /// Funded by.
        #[arg(long)]
        payer: Option<String>,
        /// For relayer.
        #[arg(long)]
        relayer: Option<String>,
        /// In token.
        #[arg(long)]
        token: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Batches, newest first.
    Batches {
        #[command(flatten)]
        page: PageArgs,
    },
    /// One batch with its reservations and claims.
    Batch {
        /// Merkle root.
        root: String,
    },
    /// Settlements.
    Settlements {
        /// Paid to.
        #[arg(long)]
        payee: Option<String>,
        /// Paid by.
        #[arg(long)]
        payer: Option<String>,
        /// License.
        #[arg(long)]
        license: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// What audited batches still owe a payee.
    Unclaimed {
        /// Current license holder.
        #[arg(long)]
        payee: Option<String>,
    },
    /// Royalty streams with their state at the latest indexed block.
    Streams {
        /// Paying this license.
        #[arg(long)]
        license: Option<String>,
        /// Paid by.
        #[arg(long)]
        payer: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// One stream.
    Stream {
        /// Stream id.
        id: String,
    },
    /// What streams paid each license holder (withdrawn, booked to owedTo, paid out of it).
    StreamPayees {
        /// One holder.
        #[arg(long)]
        holder: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Revenue-share pools with their totals per token.
    Pools {
        #[command(flatten)]
        page: PageArgs,
    },
    /// One pool with its holders' shares, claims and claimable amounts.
    Pool {
        /// Pool address.
        address: String,
    },
}

#[derive(Debug, Args)]
struct PageArgs {
    /// Page, from 1.
    #[arg(long, default_value_t = 1)]
    page: u64,
    /// Items per page (≤ 1000).
    #[arg(long, default_value_t = 100)]
    per_page: u64,
}

impl PageArgs {
    fn page(&self) -> query::Page {
        query::Page {
            page: self.page,
            per_page: self.per_page,
        }
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

/// Prints `value`, or says it is `missing` and exits 1.
fn print_found<T: serde::Serialize>(
    value: Option<T>,
    missing: impl FnOnce() -> String,
) -> anyhow::Result<ExitCode> {
    match value {
        Some(v) => print_json(&v),
        None => {
            eprintln!("{}", missing());
            Ok(ExitCode::from(1))
        }
    }
}

/// The grouping named by `--group`.
fn group_by(group: &str) -> anyhow::Result<query::GroupBy> {
    serde_json::from_value(serde_json::Value::String(group.to_owned()))
        .map_err(|_| anyhow::anyhow!("--group {group:?}: expected license, creator, payee or day"))
}

async fn run_query(db: &Db, what: QueryCmd) -> anyhow::Result<ExitCode> {
    match what {
        QueryCmd::Status => print_json(&query::status(db).await?),
        QueryCmd::Royalties {
            creator,
            license,
            payee,
            payer,
            from_day,
            to_day,
            finalized,
            group,
            page,
        } => {
            let filter = query::RoyaltyFilter {
                creator,
                license,
                payee,
                payer,
                from_day,
                to_day,
                finalized,
                group: group_by(&group)?,
            };
            print_json(&query::royalties(db, &filter, page.page()).await?)
        }
        QueryCmd::Creators => print_json(&query::creators(db).await?),
        QueryCmd::Licenses {
            creator,
            holder,
            page,
        } => print_json(
            &query::licenses(db, creator.as_deref(), holder.as_deref(), page.page()).await?,
        ),
        QueryCmd::Balances { payer, page } => {
            print_json(&query::balances(db, payer.as_deref(), page.page()).await?)
        }
        QueryCmd::CreditLines {
            payer,
            relayer,
            token,
            page,
        } => {
            let filter = lines::LineFilter {
                payer,
                relayer,
                token,
            };
            print_json(&lines::credit_lines(db, &filter, page.page()).await?)
        }
        QueryCmd::Batches { page } => print_json(&query::batches(db, page.page()).await?),
        QueryCmd::Batch { root } => print_found(query::batch(db, &root).await?, || {
            format!("no batch with root {root}")
        }),
        QueryCmd::Settlements {
            payee,
            payer,
            license,
            page,
        } => print_json(
            &query::settlements(
                db,
                payee.as_deref(),
                payer.as_deref(),
                license.as_deref(),
                page.page(),
            )
            .await?,
        ),
        QueryCmd::Unclaimed { payee } => print_json(&query::unclaimed(db, payee.as_deref()).await?),
        QueryCmd::Streams {
            license,
            payer,
            page,
        } => print_json(
            &streams::streams(db, license.as_deref(), payer.as_deref(), page.page()).await?,
        ),
        QueryCmd::Stream { id } => print_found(streams::stream(db, &id).await?, || {
            format!("no stream with id {id}")
        }),
        QueryCmd::StreamPayees { holder, page } => {
            print_json(&streams::stream_payees(db, holder.as_deref(), page.page()).await?)
        }
        QueryCmd::Pools { page } => print_json(&pools::pools(db, page.page()).await?),
        QueryCmd::Pool { address } => print_found(pools::pool(db, &address).await?, || {
            format!("no pool at {address}")
        }),
    }
}

/// Where the catalog's manifests come from.
#[derive(Debug, Args)]
struct CatalogArgs {
    /// A data gateway whose published datasets the catalog lists (its URL); repeatable, or
    /// comma-separated in the environment.
    #[arg(long = "gateway", env = "GATEWAYS", value_delimiter = ',')]
    gateways: Vec<String>,
    /// How often `run` reads the gateways (e.g. 10s).
    #[arg(long, env = "CATALOG_EVERY", default_value = "10s", value_parser = auditor::parse_duration)]
    catalog_every: Duration,
}

impl CatalogArgs {
    /// Reads every gateway once, then the payment tokens' symbols and decimals; a gateway that
    /// fails is reported and skipped.
    async fn pull(&self, db: &Db, provider: &DynProvider) -> anyhow::Result<()> {
        for gateway in &self.gateways {
            match catalog::pull(db, gateway).await {
                Ok(p) if p.stored > 0 => {
                    tracing::info!(gateway, stored = p.stored, "catalog: manifests stored")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(gateway, "catalog: {e}"),
            }
        }
        catalog::refresh_tokens(db, provider).await?;
        Ok(())
    }

    /// Pulls every `catalog_every` until shutdown.
    async fn run(&self, db: &Db, provider: &DynProvider) -> anyhow::Result<()> {
        let stop = shutdown();
        tokio::pin!(stop);
        loop {
            if let Err(e) = self.pull(db, provider).await {
                tracing::warn!("catalog: {e:#}");
            }
            tokio::select! {
                () = &mut stop => return Ok(()),
                () = tokio::time::sleep(self.catalog_every) => {}
            }
        }
    }
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

/// Automatic audits while following (see docs/indexer.md, "Audit lifecycle").
#[derive(Debug, Args)]
struct AuditArgs {
    /// Do not audit new batches automatically (audits then run only on request).
    #[arg(long, env = "NO_AUTO_AUDIT")]
    no_auto_audit: bool,
    /// Batch audits (fetch and checks) run at once.
    #[arg(
        long,
        env = "AUDIT_CONCURRENCY",
        default_value_t = 2,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    audit_concurrency: u16,
    /// First retry delay when a batch's data cannot be fetched (or an audit fails on an RPC
    /// error); doubles on each further failure.
    #[arg(
        long,
        env = "AUDIT_RETRY_MIN",
        default_value = "5s",
        value_parser = auditor::parse_duration
    )]
    audit_retry_min: Duration,
    /// Longest retry delay.
    #[arg(
        long,
        env = "AUDIT_RETRY_MAX",
        default_value = "10m",
        value_parser = auditor::parse_duration
    )]
    audit_retry_max: Duration,
}

impl AuditArgs {
    fn config(&self) -> AuditorConfig {
        AuditorConfig {
            concurrency: self.audit_concurrency.into(),
            retry_min: self.audit_retry_min,
            retry_max: self.audit_retry_max,
            ..AuditorConfig::default()
        }
    }
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

/// A provider whose requests retry transient failures (`fairtrain_chain::rpc::client`).
fn provider(url: &str) -> anyhow::Result<DynProvider> {
    let url = url.parse().with_context(|| format!("rpc url {url}"))?;
    Ok(ProviderBuilder::new()
        .connect_client(fairtrain_chain::rpc::client(url, Default::default()))
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
        Command::Run {
            listen,
            public_url,
            sync,
            audit,
            catalog,
        } => {
            let api = Api { listen, public_url };
            serve(c, db, deployment, api, &sync, &audit, &catalog).await
        }
        Command::Catalog {
            catalog,
            filter,
            page,
        } => {
            catalog.pull(&db, &provider(&c.rpc_url)?).await?;
            print_json(&query::catalog(&db, &filter, page.page()).await?)
        }
        Command::Backfill { sync } => backfill(c, &db, deployment, &sync).await,
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
        Command::Query { what } => run_query(&db, what).await,
        Command::Audit {
            root,
            data,
            json,
            csv,
        } => run_audit(c, &db, &deployment, &root, data, json, csv).await,
        Command::Export {
            format,
            from_block,
            to_block,
            output,
        } => run_export(&db, &format, from_block, to_block, output).await,
    }
}

/// Where `run` serves its API.
struct Api {
    listen: SocketAddr,
    public_url: Option<String>,
}

/// `run`: follows the chain, serves the API and dashboard, and audits new batches, until the
/// first of them fails or Ctrl-C.
async fn serve(
    c: &Common,
    db: Db,
    deployment: Deployment,
    Api { listen, public_url }: Api,
    sync: &SyncArgs,
    audit: &AuditArgs,
    catalog: &CatalogArgs,
) -> anyhow::Result<ExitCode> {
    let provider = provider(&c.rpc_url)?;
    let fetcher = c.fetcher()?;
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
    let auditor = (!audit.no_auto_audit).then(|| {
        Auditor::new(
            db.clone(),
            provider.clone(),
            deployment.clone(),
            fetcher.clone(),
            audit.config(),
        )
    });
    let catalog_db = db.clone();
    let catalog_provider = provider.clone();
    let mut state =
        fairtrain_indexer::api::AppState::new(db, provider, deployment).with_fetcher(fetcher);
    if let Some(url) = &public_url {
        state = state.with_public_url(url);
    }
    let app = fairtrain_indexer::api::router(state);
    let server = async {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown())
            .await
            .context("API server")
    };
    let follower = async {
        indexer
            .follow(shutdown())
            .await
            .context("following the chain stopped")
    };
    let audits = async {
        match &auditor {
            Some(a) => a.run(shutdown()).await.context("audit worker"),
            None => Ok(()),
        }
    };
    // The first task to fail stops the process: an API serving an index that no longer
    // follows the chain (a reorg deeper than the window, say) would look healthy.
    // The catalog's gateways, and the tokens' symbols and decimals (with or without gateways).
    let catalog = catalog.run(&catalog_db, &catalog_provider);
    tokio::try_join!(server, follower, audits, catalog)?;
    Ok(ExitCode::SUCCESS)
}

/// `backfill`: indexes up to the head, with progress on a terminal.
async fn backfill(
    c: &Common,
    db: &Db,
    deployment: Deployment,
    sync: &SyncArgs,
) -> anyhow::Result<ExitCode> {
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
    let cp = fairtrain_indexer::raw::checkpoint(db)
        .await?
        .map_or(0, |c| c.number);
    println!(
        "indexed {events} events up to block {cp} in {:.1?}",
        started.elapsed()
    );
    Ok(ExitCode::SUCCESS)
}

/// `audit`: audits one batch, writes its report as JSON and CSV if asked, prints its summary.
async fn run_audit(
    c: &Common,
    db: &Db,
    deployment: &Deployment,
    root: &str,
    data: Option<PathBuf>,
    json: Option<PathBuf>,
    csv: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let bytes = data
        .map(|p| std::fs::read(&p).with_context(|| format!("read {}", p.display())))
        .transpose()?;
    let report = audit::audit_with(
        db,
        &provider(&c.rpc_url)?,
        deployment,
        &c.fetcher()?,
        root,
        bytes,
    )
    .await?;
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("write {}", path.display()))?;
    }
    if let Some(path) = csv {
        std::fs::write(&path, export::to_csv(&report.receipts)?)
            .with_context(|| format!("write {}", path.display()))?;
    }
    print!("{}", report.summary());
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `export`: the flows of blocks `from_block..=to_block` as CSV or JSON, to `output` or stdout.
async fn run_export(
    db: &Db,
    format: &str,
    from_block: u64,
    to_block: Option<u64>,
    output: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let rows = export::flows(db, from_block, to_block.unwrap_or(u64::MAX >> 1)).await?;
    let text = match format {
        "csv" => export::to_csv(&rows)?,
        "json" => serde_json::to_string_pretty(&rows)? + "\n",
        other => anyhow::bail!("--format {other:?}: expected csv or json"),
    };
    match output {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown() {
    tokio::signal::ctrl_c().await.ok();
}
