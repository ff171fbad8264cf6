//! Relayer benchmarks (run by `./scripts/bench`; one figure a line, `name: value unit`).
//!
//! - the ceiling: signature recoveries per second with alloy's backend in this build
//!   (libsecp256k1, the `secp256k1` feature) and with k256 (alloy's default), per thread;
//! - end-to-end ingest over HTTP on localhost (decode, EIP-712 digest, recovery, stateful checks,
//!   durable group commit), single and bulk submission, SQLite and PostgreSQL;
//! - the Merkle root of 1M receipts, leaf hashing included, and proofs per second;
//! - peak RSS after a flood of bulk submissions;
//! - the chain follower's cost per step (`follow`): time and store bytes of a one-block step
//!   after 100 and 10,000 followed events, with the journal and with the full-state checkpoint
//!   it replaced, and the time to restore the state at start.
//!
//! Thread counts follow the CPUs the process may use (`taskset -c 0` for one core).

use std::{
    collections::HashMap,
    sync::{atomic::AtomicBool, Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use alloy::{
    primitives::{keccak256, Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use fairtrain_protocol::{
    api::relayer::BulkResponse, leaf, wire::SignedReceipt, EscrowDomain, Receipt, ReceiptTree,
};
use fairtrain_relayer::{
    api::{router, AppState},
    chain::{
        state::{Acceptance, CreditLine, SignerWindow},
        ChainState,
    },
    config::Limits,
    ingest::{Ingest, Ledger, Rules},
    store::Store,
};
use tokio::sync::Semaphore;

/// The number in environment variable `name`, or `default` when it is unset or not a number.
fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn domain() -> EscrowDomain {
    EscrowDomain::new(31337, Address::repeat_byte(0xe5))
}

fn key() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256("bench signer")).unwrap()
}

const PAYER: Address = Address::repeat_byte(0x11);
const RELAYER: Address = Address::repeat_byte(0x33);
const TOKEN: Address = Address::repeat_byte(0x44);

/// `n` receipts of distinct runs, signed on all cores.
fn receipts(n: usize, salt: u64) -> Vec<SignedReceipt> {
    let threads = cores();
    let per = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let (domain, key) = (domain(), key());
                    (t * per..((t + 1) * per).min(n))
                        .map(|i| {
                            let receipt = Receipt {
                                payer: PAYER,
                                licenseId: U256::from(1),
                                termsId: 1,
                                runId: keccak256(format!("run-{salt}-{i}")),
                                cumulativeSamples: 1 + i as u64,
                                issuedAt: 1_750_000_000,
                            };
                            SignedReceipt::sign(&domain, &key, &receipt).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

fn recovery_ceiling(sample: &[SignedReceipt]) {
    let domain = domain();
    let digests: Vec<B256> = sample.iter().map(|r| domain.digest(&r.receipt())).collect();
    let n = sample.len();
    let threads = cores();
    if threads > 1 {
        receipt_check_all_cores(sample, threads);
        return;
    }
    let t = Instant::now();
    for (r, d) in sample.iter().zip(&digests) {
        r.signature.recover(d).unwrap();
    }
    let per_core = n as f64 / t.elapsed().as_secs_f64();
    println!("ceiling.recover_secp256k1.1_core: {per_core:.0} sig/s");
    let t = Instant::now();
    for (r, d) in sample.iter().zip(&digests) {
        let bytes = r.signature.as_bytes();
        let sig = k256::ecdsa::Signature::from_slice(&bytes[..64]).unwrap();
        let id = k256::ecdsa::RecoveryId::from_byte(bytes[64] - 27).unwrap();
        k256::ecdsa::VerifyingKey::recover_from_prehash(d.as_slice(), &sig, id).unwrap();
    }
    println!(
        "ceiling.recover_k256.1_core: {:.0} sig/s",
        n as f64 / t.elapsed().as_secs_f64()
    );
    receipt_check_all_cores(sample, threads);
}

/// Full receipt checks (digest and recovery) on `threads` threads, the backend in use.
fn receipt_check_all_cores(sample: &[SignedReceipt], threads: usize) {
    println!(
        "ceiling.receipt_check.{threads}_cores: {:.0} receipts/s",
        receipt_check_rate(sample, threads)
    );
}

/// Receipts per second through full checks (digest and recovery) of `sample` on `threads`
/// threads.
fn receipt_check_rate(sample: &[SignedReceipt], threads: usize) -> f64 {
    let (domain, n) = (domain(), sample.len());
    let t = Instant::now();
    std::thread::scope(|s| {
        for chunk in sample.chunks(n.div_ceil(threads)) {
            let domain = domain.clone();
            s.spawn(move || {
                for r in chunk {
                    r.recover(&domain).unwrap();
                }
            });
        }
    });
    n as f64 / t.elapsed().as_secs_f64()
}

/// A one-block range at block `n` with a deposit of payer number `id` (the state gains an
/// entry per payer, so it grows with history).
fn deposit_range(n: u64, id: u64) -> fairtrain_chain::Range {
    use alloy::{primitives::Log, rpc::types::Log as RpcLog, sol_types::SolEvent};
    let hash = |n: u64| B256::left_padding_from(&n.to_be_bytes());
    let block = fairtrain_chain::BlockRef {
        number: n,
        hash: hash(n),
        parent_hash: Some(hash(n - 1)),
        timestamp: 1_750_000_000 + n,
    };
    let payer = Address::left_padding_from(&id.to_be_bytes());
    let event = fairtrain_protocol::bindings::TrainingEscrow::Deposited {
        payer,
        token: TOKEN,
        from: payer,
        amount: U256::from(1_000_000u64),
    };
    let log = RpcLog {
        inner: Log {
            address: ESCROW,
            data: event.encode_log_data(),
        },
        block_number: Some(n),
        block_hash: Some(hash(n)),
        log_index: Some(0),
        ..RpcLog::default()
    };
    fairtrain_chain::Range {
        from: n,
        to: n,
        logs: vec![log],
        blocks: vec![block],
        last: block,
    }
}

const ESCROW: Address = Address::repeat_byte(0xe5);
const NFT: Address = Address::repeat_byte(0x4f);

/// The follower's per-step cost against history, on SQLite: the journal (a step writes its
/// logs and window blocks) and, for comparison, what it replaced (a step cloned the state and
/// wrote it whole as the checkpoint).
fn follow_benches() {
    use fairtrain_relayer::{chain::journal::Journal, store::journal::StoredJournal};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        for history in [100u64, 10_000] {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::connect(&format!("sqlite://{}", dir.path().join("f.db").display()))
                .await
                .unwrap();
            let (mut journal, mut tip) =
                Journal::restore(ESCROW, NFT, 256, 1, StoredJournal::default()).unwrap();
            let mut written = 0usize;
            for n in 1..=history {
                let executed = journal.execute(&deposit_range(n, n)).unwrap();
                store.journal_execute(&executed.write()).await.unwrap();
                written += executed.write().bytes();
                journal.apply(&mut tip, &executed);
            }
            // 200 more one-block steps, timed.
            let steps = 200u64;
            let (mut bytes, t) = (0usize, Instant::now());
            for n in history + 1..=history + steps {
                let executed = journal.execute(&deposit_range(n, n)).unwrap();
                store.journal_execute(&executed.write()).await.unwrap();
                bytes += executed.write().bytes();
                journal.apply(&mut tip, &executed);
            }
            let per_step = t.elapsed().as_secs_f64() / steps as f64;
            println!(
                "follow.journal_step_after_{history}_events: {:.2} ms",
                per_step * 1e3
            );
            println!(
                "follow.journal_bytes_per_step_after_{history}_events: {} bytes",
                bytes / steps as usize
            );
            println!(
                "follow.journal_bytes_written_per_event_over_{history}_events: {} bytes",
                written / history as usize
            );
            let t = Instant::now();
            let (_, restored) =
                Journal::restore(ESCROW, NFT, 256, 1, store.journal_load().await.unwrap()).unwrap();
            println!(
                "follow.restore_after_{history}_events: {:.1} ms",
                t.elapsed().as_secs_f64() * 1e3
            );
            assert_eq!(restored.available, tip.available);

            // Before: clone the state, apply the step, write the whole state as JSON.
            let (mut bytes, t) = (0usize, Instant::now());
            for n in history + steps + 1..=history + 2 * steps {
                let mut next = tip.clone();
                for log in &deposit_range(n, n).logs {
                    next.block = n;
                    next.apply(ESCROW, NFT, &log.inner);
                }
                let json = next.to_json();
                bytes += json.len();
                sqlx::query(
                    "INSERT INTO checkpoint (id, block, state) VALUES (1, $1, $2) \
                     ON CONFLICT (id) DO UPDATE SET block = excluded.block, state = excluded.state",
                )
                .bind(n as i64)
                .bind(json)
                .execute(store.pool())
                .await
                .unwrap();
                tip = next;
            }
            let per_step = t.elapsed().as_secs_f64() / steps as f64;
            println!(
                "follow.full_checkpoint_step_after_{history}_events: {:.2} ms",
                per_step * 1e3
            );
            println!(
                "follow.full_checkpoint_bytes_per_step_after_{history}_events: {} bytes",
                bytes / steps as usize
            );
        }
    });
}

fn chain_state() -> ChainState {
    let mut s = ChainState::default();
    s.signers
        .insert((PAYER, key().address()), SignerWindow::default());
    s.acceptances.insert(
        (PAYER, U256::from(1), 1),
        Acceptance {
            token: TOKEN,
            price: 1,
            max_samples: 0,
            expires_at: 0,
            chargeable_from: 0,
        },
    );
    s.lines.insert(
        (PAYER, RELAYER, TOKEN),
        CreditLine {
            credit: U256::MAX >> 2,
            ..CreditLine::default()
        },
    );
    s.timestamp = 1_750_000_000;
    s
}

struct Served {
    url: String,
    server: tokio::task::JoinHandle<()>,
}

async fn serve(url: &str, limits: Limits) -> Served {
    let store = Store::connect(url).await.unwrap();
    let state = Arc::new(RwLock::new(chain_state()));
    let ingest = Ingest::start(
        store.clone(),
        state.clone(),
        Ledger::default(),
        Rules {
            relayer: RELAYER,
            horizon_secs: 600,
        },
    );
    let app = AppState {
        store,
        ingest,
        chain: state,
        domain: domain(),
        relayer: RELAYER,
        operator_token: None,
        limits,
        claims_per_tx: 100,
        caught_up: Arc::new(AtomicBool::new(true)),
        metrics: fairtrain_relayer::service::metrics_handle(),
        buckets: Arc::new(Mutex::new(HashMap::new())),
        inflight: Arc::new(Semaphore::new(64)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, router(app)).await.unwrap();
    });
    Served {
        url: format!("http://{addr}"),
        server,
    }
}

fn limits() -> Limits {
    Limits {
        max_body_bytes: 64 << 20,
        max_bulk: 100_000,
        signer_rate: u32::MAX,
        signer_burst: u32::MAX,
        ..Limits::default()
    }
}

/// Receipts per second through `POST /v1/receipts/bulk` in requests of `chunk`, `parallel`
/// requests at a time.
async fn bulk(url: &str, receipts: &[SignedReceipt], chunk: usize, parallel: usize) -> f64 {
    let bodies = receipts
        .chunks(chunk)
        .map(|c| serde_json::to_vec(c).unwrap())
        .collect();
    let secs = post_all(
        format!("{url}/v1/receipts/bulk"),
        bodies,
        parallel,
        Expect::NoneRejected,
    )
    .await;
    receipts.len() as f64 / secs
}

/// Receipts per second through `POST /v1/receipts`, `parallel` clients.
async fn single(url: &str, receipts: &[SignedReceipt], parallel: usize) -> f64 {
    let bodies = receipts
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap())
        .collect();
    let secs = post_all(
        format!("{url}/v1/receipts"),
        bodies,
        parallel,
        Expect::Created,
    )
    .await;
    receipts.len() as f64 / secs
}

/// What every answer of [`post_all`] must be.
#[derive(Clone, Copy)]
enum Expect {
    /// 201: one receipt accepted.
    Created,
    /// A success whose bulk answer rejected nothing.
    NoneRejected,
}

/// Posts every JSON body to `url`, `parallel` requests at a time, each answer checked against
/// `expect`: the seconds it took.
async fn post_all(url: String, bodies: Vec<Vec<u8>>, parallel: usize, expect: Expect) -> f64 {
    let client = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let bodies = Arc::new(bodies);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let (client, bodies, next, url) =
            (client.clone(), bodies.clone(), next.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let r = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                match expect {
                    Expect::Created => assert_eq!(r.status(), 201),
                    Expect::NoneRejected => {
                        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
                        let v: BulkResponse = r.json().await.unwrap();
                        assert_eq!(v.rejected, 0, "{v:?}");
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    t.elapsed().as_secs_f64()
}

fn psql(sql: &str) -> bool {
    std::process::Command::new("psql")
        .args([
            "host=/var/run/postgresql user=postgres dbname=postgres",
            "-q",
            "-c",
            sql,
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A fresh database URL and its cleanup.
fn database(kind: &str, dir: &std::path::Path, n: usize) -> Option<(String, Option<String>)> {
    match kind {
        "sqlite" => Some((
            format!("sqlite://{}", dir.join(format!("bench-{n}.db")).display()),
            None,
        )),
        _ => {
            let name = format!("relayer_bench_{}_{n}", std::process::id());
            psql(&format!("CREATE DATABASE {name}")).then(|| {
                (
                    format!("postgres://postgres@localhost/{name}?host=/var/run/postgresql"),
                    Some(name),
                )
            })
        }
    }
}

fn ingest_benches(all: &[SignedReceipt]) {
    let threads = cores();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .max_blocking_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // `BENCH_ONLY=sqlite.bulk` (or any part of `<store>.<mode>`) runs only the matching cases,
    // for profiling one of them.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    // `BENCH_IN_FLIGHT`: bulk requests in flight at once.
    let in_flight = env_or("BENCH_IN_FLIGHT", 4);
    let mut n = 0;
    for kind in ["sqlite", "postgres"] {
        for mode in ["bulk", "single"] {
            n += 1;
            if !format!("{kind}.{mode}").contains(&only) {
                continue;
            }
            let Some((url, pg)) = database(kind, dir.path(), n) else {
                eprintln!("skipping {kind}: no PostgreSQL");
                continue;
            };
            // The ceiling right before each case, on as many receipts: the machine's speed
            // drifts between cases more than one short sample shows.
            let ceiling = receipt_check_rate(all, threads);
            let rate = runtime.block_on(async {
                let served = serve(&url, limits()).await;
                let rate = match mode {
                    "bulk" => bulk(&served.url, all, 2_000, in_flight).await,
                    _ => single(&served.url, &all[..all.len().min(20_000)], 64).await,
                };
                served.server.abort();
                rate
            });
            println!("ingest.{kind}.{mode}.{threads}_cores: {rate:.0} receipts/s");
            println!(
                "ingest.{kind}.{mode}.share_of_ceiling: {:.0} %",
                100.0 * rate / ceiling
            );
            if let Some(name) = pg {
                psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn merkle_benches() {
    const N: usize = 1 << 20;
    let digests: Vec<B256> = (0..N as u64).map(|i| keccak256(i.to_be_bytes())).collect();
    let threads = cores();
    let t = Instant::now();
    let mut leaves = vec![B256::ZERO; N];
    std::thread::scope(|s| {
        for (out, input) in leaves
            .chunks_mut(N.div_ceil(threads))
            .zip(digests.chunks(N.div_ceil(threads)))
        {
            s.spawn(move || {
                for (o, d) in out.iter_mut().zip(input) {
                    *o = leaf(d);
                }
            });
        }
    });
    let hashed = t.elapsed();
    let tree = ReceiptTree::from_leaves(&leaves).unwrap();
    let total = t.elapsed();
    println!(
        "merkle.leaves_1m.{threads}_cores: {:.3} s",
        hashed.as_secs_f64()
    );
    println!(
        "merkle.tree_1m_rs_merkle.1_core: {:.3} s",
        (total - hashed).as_secs_f64()
    );
    println!(
        "merkle.root_1m_rs_merkle_with_leaves.{threads}_cores: {:.3} s",
        total.as_secs_f64()
    );
    // What the batcher does: leaves and levels on all cores.
    let t = Instant::now();
    let leaves = std::thread::scope(|s| {
        let handles: Vec<_> = digests
            .chunks(N.div_ceil(threads))
            .map(|c| s.spawn(move || c.iter().map(leaf).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let levels = fairtrain_relayer::tree::LevelTree::from_leaves(leaves).unwrap();
    println!(
        "merkle.root_1m_with_leaves.{threads}_cores: {:.3} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(levels.root(), tree.root());
    let t = Instant::now();
    let mut count = 0u64;
    while t.elapsed() < Duration::from_secs(1) {
        for i in 0..1_000usize {
            let p = tree.proof((i * 7_919 + count as usize) % N).unwrap();
            std::hint::black_box(p);
        }
        count += 1_000;
    }
    println!(
        "merkle.proofs_per_s_1m_tree: {:.0} proofs/s",
        count as f64 / t.elapsed().as_secs_f64()
    );
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let n = env_or("BENCH_RECEIPTS", 100_000);
    match which.as_str() {
        "merkle" => merkle_benches(),
        "store" => {
            let dir = tempfile::tempdir().unwrap();
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async {
                for url in [format!("sqlite://{}", dir.path().join("s.db").display())] {
                    let store = Store::connect(&url).await.unwrap();
                    let rows: Vec<_> = (0..20_000i64)
                        .map(|i| fairtrain_relayer::store::NewReceipt {
                            digest: B256::left_padding_from(&i.to_be_bytes()),
                            usage_key: B256::left_padding_from(&i.to_be_bytes()),
                            payer: Address::with_last_byte(1),
                            license_id: U256::from(1),
                            terms_id: 1,
                            run_id: B256::left_padding_from(&i.to_be_bytes()),
                            cumulative: 1,
                            issued_at: 1,
                            signature: vec![0; 65].into(),
                            signer: Address::with_last_byte(1),
                            token: Address::with_last_byte(1),
                            amount: U256::from(1),
                            chargeable_from: 0,
                            received_at: 0,
                            seq: i,
                        })
                        .collect();
                    let t = Instant::now();
                    for c in rows.chunks(2_000) {
                        store.insert_receipts(c).await.unwrap();
                    }
                    println!(
                        "store.insert: {:.0} rows/s",
                        20_000.0 / t.elapsed().as_secs_f64()
                    );
                }
            });
        }
        "follow" => follow_benches(),
        "flood" => {
            // A flood: many bulk requests of the largest allowed size at once; the in-flight
            // limit and the writer's group size bound memory.
            let all = receipts(n, 7);
            let before = peak_rss_kib();
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let dir = tempfile::tempdir().unwrap();
            runtime.block_on(async {
                let served = serve(
                    &format!("sqlite://{}", dir.path().join("flood.db").display()),
                    limits(),
                )
                .await;
                bulk(&served.url, &all, 10_000, 16).await;
                served.server.abort();
            });
            println!(
                "memory.receipts_held_by_bench_{n}: {:.0} MiB",
                before as f64 / 1024.0
            );
            println!(
                "memory.peak_rss_flood_{n}: {:.0} MiB",
                peak_rss_kib() as f64 / 1024.0
            );
        }
        _ => {
            let all = receipts(n, 1);
            recovery_ceiling(&all[..20_000.min(n)]);
            ingest_benches(&all);
        }
    }
}
