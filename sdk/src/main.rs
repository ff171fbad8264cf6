//! `fairtrain-meter`: record training usage and report it to a relayer from the command line
//! (the [`fairtrain_sdk`] library for scripts, tests and load runs).

use std::{path::PathBuf, sync::Arc, time::Duration};

use alloy::{
    primitives::{keccak256, Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use fairtrain_protocol::Deployment;
use fairtrain_sdk::{verify_dataset, Entry, FlushReport, LicenseSource, Meter, MeterConfig, Usage};

/// Record training usage durably and report it to a Fairtrain relayer as signed cumulative
/// receipts.
#[derive(Parser)]
#[command(name = "fairtrain-meter", version)]
struct Cli {
    #[command(flatten)]
    meter: MeterArgs,
    #[command(subcommand)]
    command: Command,
}

/// Where the journal, the relayer and the escrow are, and whose key signs.
#[derive(Args)]
struct MeterArgs {
    /// The usage journal (SQLite file, created if missing).
    #[arg(long, env = "FAIRTRAIN_JOURNAL", default_value = "fairtrain-usage.db")]
    journal: PathBuf,
    /// The relayer's base URL.
    #[arg(
        long,
        env = "FAIRTRAIN_RELAYER_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    relayer_url: String,
    /// A deployment file (deployments/<chainId>.json) naming the chain and the escrow.
    #[arg(
        long,
        env = "FAIRTRAIN_DEPLOYMENT",
        default_value = "deployments/31337.json"
    )]
    deployment: PathBuf,
    /// The payer whose budget pays.
    #[arg(long, env = "FAIRTRAIN_PAYER")]
    payer: Option<Address>,
    /// The training key (hex private key) the payer registered with the escrow.
    #[arg(long, env = "FAIRTRAIN_SIGNER_KEY", hide_env_values = true)]
    signer_key: Option<PrivateKeySigner>,
}

#[derive(Subcommand)]
enum Command {
    /// Add samples drawn from a license to a run's cumulative count (durable on return).
    Record {
        #[command(flatten)]
        usage: UsageArgs,
        /// Samples drawn.
        #[arg(long)]
        samples: u64,
    },
    /// Sign and send receipts for everything not yet acknowledged.
    Flush,
    /// Show every usage key with its recorded, signed and acknowledged counts.
    Status,
    /// Check a dataset before training on it: the signed manifest, the local files, and
    /// (with --license) the license on-chain.
    VerifyDataset {
        /// The signed manifest (JSON, from `fairtrain manifest build` + `sign`).
        #[arg(long)]
        manifest: PathBuf,
        /// The local copy of the dataset.
        #[arg(long)]
        dir: PathBuf,
        /// The license to check on-chain (needs --rpc-url).
        #[arg(long)]
        license: Option<U256>,
        /// JSON-RPC URL of the chain.
        #[arg(
            long,
            env = "FAIRTRAIN_RPC_URL",
            default_value = "http://127.0.0.1:8545"
        )]
        rpc_url: String,
    },
    /// Simulate training runs that sample licenses at a steady rate, flushing periodically:
    /// a load generator for relayers.
    Simulate {
        /// Licenses as `licenseId:termsId`, sampled round-robin.
        #[arg(long, required = true, value_delimiter = ',')]
        licenses: Vec<String>,
        /// Concurrent runs (each has its own run id and usage keys).
        #[arg(long, default_value_t = 4)]
        runs: u32,
        /// Samples recorded per second, per run.
        #[arg(long, default_value_t = 1_000)]
        rate: u64,
        /// Minibatches per second per run (each is one `record`).
        #[arg(long, default_value_t = 10)]
        minibatches: u64,
        /// How long to run, in seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Flush interval, in milliseconds.
        #[arg(long, default_value_t = 500)]
        flush_ms: u64,
        /// Prefix of the run names (run ids are keccak256 of `<prefix>-<n>`).
        #[arg(long, default_value = "sim")]
        run_prefix: String,
    },
}

/// One usage key (the payer comes from the meter).
#[derive(Args)]
struct UsageArgs {
    /// License id.
    #[arg(long)]
    license: U256,
    /// Terms id the payer accepted.
    #[arg(long)]
    terms: u64,
    /// Run: a 0x-prefixed 32-byte id, or a name hashed with keccak256.
    #[arg(long)]
    run: String,
}

fn run_id(run: &str) -> B256 {
    run.parse().unwrap_or_else(|_| keccak256(run))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Command::VerifyDataset {
        manifest,
        dir,
        license,
        rpc_url,
    } = &cli.command
    {
        let source = match license {
            Some(license_id) => Some(LicenseSource {
                rpc_url: rpc_url.clone(),
                license_nft: Deployment::load(&cli.meter.deployment)?.license_nft,
                license_id: *license_id,
            }),
            None => None,
        };
        let check = verify_dataset(manifest, dir, source.as_ref()).await?;
        println!(
            "ok: manifest {} by {}, {} files match{}",
            check.manifest_hash,
            check.creator,
            check.files,
            check
                .license_id
                .map(|id| format!(", license {id} covers it"))
                .unwrap_or_default()
        );
        return Ok(());
    }
    let meter = open_meter(cli.meter).await?;
    match cli.command {
        Command::Record { usage, samples } => {
            let usage = Usage {
                license_id: usage.license,
                terms_id: usage.terms,
                run_id: run_id(&usage.run),
            };
            let total = meter.record(usage, samples).await?;
            println!("{total}");
        }
        Command::Flush => print_flush(&meter.flush().await?),
        Command::Status => print_status(&meter.status().await?),
        Command::VerifyDataset { .. } => unreachable!("handled before the meter opens"),
        Command::Simulate {
            licenses,
            runs,
            rate,
            minibatches,
            seconds,
            flush_ms,
            run_prefix,
        } => {
            if minibatches == 0 {
                bail!("--minibatches must be at least 1");
            }
            simulate(
                Arc::new(meter),
                &parse_licenses(&licenses)?,
                runs,
                rate,
                minibatches,
                seconds,
                flush_ms,
                &run_prefix,
            )
            .await?;
        }
    }
    Ok(())
}

/// Opens the journal of the meter the options describe (payer and signing key required).
async fn open_meter(args: MeterArgs) -> anyhow::Result<Meter> {
    let domain = Deployment::load(&args.deployment)?.domain();
    let config = MeterConfig::new(
        args.journal,
        args.relayer_url,
        domain,
        args.payer
            .context("--payer (or FAIRTRAIN_PAYER) is required")?,
        args.signer_key
            .context("--signer-key (or FAIRTRAIN_SIGNER_KEY) is required")?,
    );
    Ok(Meter::open(config).await?)
}

/// `licenseId:termsId` pairs.
fn parse_licenses(licenses: &[String]) -> anyhow::Result<Vec<(U256, u64)>> {
    licenses
        .iter()
        .map(|l| {
            let (license, terms) = l
                .split_once(':')
                .context("licenses are licenseId:termsId")?;
            Ok((license.parse::<U256>()?, terms.parse::<u64>()?))
        })
        .collect()
}

/// Prints what a flush sent and every refusal.
fn print_flush(report: &FlushReport) {
    println!(
        "sent {} accepted {} duplicates {} refused {}",
        report.sent,
        report.accepted,
        report.duplicates,
        report.refused.len()
    );
    for (usage, refusal) in &report.refused {
        println!(
            "refused license {} terms {} at {}: {}: {}",
            usage.license_id, usage.terms_id, refusal.cumulative, refusal.code, refusal.message
        );
    }
}

/// Prints the journal's state per usage key, tab-separated.
fn print_status(entries: &[Entry]) {
    println!("license\tterms\trun\trecorded\tacked\trefusal");
    for e in entries {
        let refusal = e
            .rejection
            .as_ref()
            .map(|r| format!("{} at {}", r.code, r.cumulative))
            .unwrap_or_default();
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            e.usage.license_id, e.usage.terms_id, e.usage.run_id, e.recorded, e.acked, refusal
        );
    }
}

#[allow(clippy::too_many_arguments)]
async fn simulate(
    meter: Arc<Meter>,
    licenses: &[(U256, u64)],
    runs: u32,
    rate: u64,
    minibatches: u64,
    seconds: u64,
    flush_ms: u64,
    prefix: &str,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let flusher = meter
        .clone()
        .spawn_flusher(Duration::from_millis(flush_ms), async move {
            let _ = stop_rx.await;
        });
    let per_batch = (rate / minibatches).max(1);
    let mut tasks = Vec::new();
    for run in 0..runs {
        let meter = meter.clone();
        let licenses = licenses.to_vec();
        let run_id = keccak256(format!("{prefix}-{run}"));
        tasks.push(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(1_000 / minibatches));
            let mut recorded = 0u64;
            for step in 0..seconds * minibatches {
                ticker.tick().await;
                let (license_id, terms_id) = licenses[(step as usize) % licenses.len()];
                let usage = Usage {
                    license_id,
                    terms_id,
                    run_id,
                };
                meter.record(usage, per_batch).await?;
                recorded += per_batch;
            }
            anyhow::Ok(recorded)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    let _ = stop_tx.send(());
    flusher.await?;
    let unreported: u64 = meter.status().await?.iter().map(|e| e.unreported()).sum();
    println!(
        "recorded {total} samples in {runs} runs; unreported after the final flush: {unreported}"
    );
    Ok(())
}
