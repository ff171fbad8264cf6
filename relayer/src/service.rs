//! Wiring: store, chain follower, ingest writer, batcher and HTTP API.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock, RwLock},
};

use alloy::{
    primitives::B256,
    providers::{Provider, ProviderBuilder},
};
use anyhow::Context;
use fairtrain_protocol::{batch::Reservation, EscrowDomain};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::{net::TcpListener, sync::Semaphore, task::JoinHandle};
use tracing::{info, warn};

use crate::{
    api::{router, AppState},
    batcher::Batcher,
    chain::{ChainState, Follower, SharedState},
    config::Config,
    ingest::{Ingest, Ledger, Rules},
    store::{Backend, BatchState, Store},
    txmgr::TxManager,
};

/// The process-wide Prometheus recorder (installed once).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed (tests in one process): then this
            // handle renders nothing, which is harmless.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// A running relayer.
pub struct Running {
    /// Handler state (tests use it to call the API in-process).
    pub app: AppState,
    /// Background tasks (follower, batcher).
    pub tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops the background tasks.
    pub fn abort(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts everything but the HTTP listener.
///
/// # Errors
///
/// When the store cannot be opened or the configuration lacks a key.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    let signer = config.signer()?.context(
        "a relayer key is required (private_key or FAIRTRAIN_PRIVATE_KEY, or a keystore: \
         keystore, FAIRTRAIN_KEYSTORE or --keystore)",
    )?;
    let store = Store::connect(&config.database_url)
        .await
        .context("opening the store")?;
    let url = config.rpc_url.parse().context("rpc_url")?;
    // Transient failures are retried per request (alloy's retry layer, errors classified from
    // their codes: `fairtrain_chain::rpc`).
    let provider = ProviderBuilder::new()
        .disable_recommended_fillers()
        .connect_client(fairtrain_chain::rpc::client(url, Default::default()))
        .erased();
    match provider.get_chain_id().await {
        Ok(id) if id != config.chain_id => {
            anyhow::bail!(
                "the RPC serves chain {id}, the config says {}",
                config.chain_id
            )
        }
        Ok(_) => {}
        Err(e) => warn!(error = %e, "RPC unreachable at start; serving from the checkpoint"),
    }
    let domain = EscrowDomain::new(config.chain_id, config.escrow);
    let state: SharedState = Arc::new(RwLock::new(ChainState::default()));
    let mut follower = Follower::new(
        provider.clone(),
        store.clone(),
        state.clone(),
        config.escrow,
        config.license_nft,
        config.start_block,
        config.confirmations.saturating_sub(1),
        config.reorg_window,
        config.poll_interval(),
    );
    follower
        .restore()
        .await
        .context("restoring the chain journal")?;
    let mut ledger = Ledger::load(&store).await.context("loading the ledger")?;
    awaiting_follower(&store, &state, &mut ledger).await?;
    let ingest = Ingest::start(
        store.clone(),
        state.clone(),
        ledger,
        Rules {
            relayer: signer.address(),
            horizon_secs: config.batch.horizon_secs,
        },
    );
    let caught_up = follower.caught_up_flag();
    let mut tasks = vec![tokio::spawn(follower.run())];
    let txm = TxManager::new(
        provider.clone(),
        signer.clone(),
        config.chain_id,
        config.tx.clone(),
        store.clone(),
    );
    let batcher = Batcher::new(
        store.clone(),
        txm,
        state.clone(),
        ingest.ledger().clone(),
        domain.clone(),
        config.batch.clone(),
        config.public_url.clone(),
        config.confirmations,
        config.tx.bump_after_secs,
        config.poll_interval(),
    );
    tasks.push(tokio::spawn(lead(store.clone(), batcher)));
    let app = AppState {
        store,
        ingest,
        chain: state,
        domain,
        relayer: signer.address(),
        operator_token: config.operator_token.as_deref().map(Arc::from),
        limits: config.limits.clone(),
        claims_per_tx: config.tx.claims_per_tx,
        caught_up,
        metrics: metrics_handle(),
        buckets: Arc::new(Mutex::new(HashMap::new())),
        inflight: Arc::new(Semaphore::new(64)),
    };
    Ok(Running { app, tasks })
}

/// The PostgreSQL advisory lock of the committer.
const COMMITTER_LOCK: i64 = 727_275;

/// Runs the batcher, on PostgreSQL only while holding the committer lock: several relayer
/// processes may share a store and all ingest, but one at a time commits and claims (they
/// share the relayer's account and its nonces).
async fn lead(store: Store, batcher: Batcher) {
    if store.backend() == Backend::Postgres {
        let _held = loop {
            match store.try_advisory_lock(COMMITTER_LOCK).await {
                Ok(Some(conn)) => break conn,
                Ok(None) => {}
                Err(e) => warn!(error = %e, "committer lock"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        };
        info!("this process is the committer");
        batcher.run().await;
    } else {
        batcher.run().await;
    }
}

/// Confirmed batches whose reservations the checkpointed state has not applied yet: their
/// amounts stay counted as pending until the follower sees them.
async fn awaiting_follower(
    store: &Store,
    state: &SharedState,
    ledger: &mut Ledger,
) -> anyhow::Result<()> {
    let committed = state.read().expect("state lock").committed_roots.clone();
    for batch in store.batches(1_000).await? {
        if batch.state != BatchState::Confirmed {
            continue;
        }
        let root: B256 = batch.root;
        if committed.contains_key(&root) {
            continue;
        }
        let reservations: Vec<Reservation> = serde_json::from_str(&batch.reservations)?;
        let amounts: Vec<_> = reservations
            .into_iter()
            .map(|r| ((r.payer, r.token), r.amount))
            .collect();
        for (key, amount) in &amounts {
            *ledger.pending.entry(*key).or_default() += *amount;
        }
        ledger.awaiting_follower.insert(root, amounts);
    }
    Ok(())
}

/// Starts everything and serves HTTP until `shutdown` resolves.
///
/// # Errors
///
/// When starting fails or the listener cannot bind.
pub async fn serve(
    config: &Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let running = start(config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    info!(listen = %listener.local_addr()?, relayer = %running.app.relayer, "relayer serving");
    axum::serve(listener, router(running.app.clone()))
        .with_graceful_shutdown(shutdown)
        .await?;
    running.abort();
    Ok(())
}
