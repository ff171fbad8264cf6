//! Download throughput of the gateway on loopback against reading the same file from disk on
//! the same machine, in one run (the machine is noisy: compare the ratio). Prints
//! `name: value unit` lines:
//!
//! - `gateway.disk_read`: the blob read from the (warm) page cache, 1 MiB at a time;
//! - `gateway.download`: the same bytes through `GET /v1/datasets/{hash}/files/{path}` with a
//!   grant, received and dropped;
//! - `gateway.download_vs_disk`: their ratio (aim ≥ 80 %);
//! - `gateway.client_download`: the protocol client's download, which also writes the file and
//!   checks its keccak256;
//! - `gateway.keccak256`, `gateway.upload_stored`, `gateway.upload_vs_keccak`: an upload checked
//!   (keccak256 and SHA-256 as it streams), written and synced to the blob folder, against
//!   keccak256 alone over the same bytes in memory.
//!
//! No chain: the grant is logged and issued directly. `BENCH_GATEWAY_MIB` sets the file's size
//! (default 256). With `BENCH_GATEWAY_COLD=1` (root only) the page cache is dropped before each
//! read and download, so both read the disk; the lines are then named `gateway.cold_*`.

use std::{collections::BTreeMap, future::IntoFuture, sync::Arc, time::Instant};

use alloy::{
    primitives::{keccak256, Address, B256, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use fairtrain_gateway::{
    api::{self, AppState, Limits},
    blobs::{Blobs, LocalBlobs},
    entitle::Entitlements,
    grant::GrantKey,
    store::{AccessKey, Store},
};
use fairtrain_protocol::{
    api::gateway::Grant,
    gateway::{client::GatewayClient, GatewayDomain},
    DatasetManifest, FileEntry,
};
use tokio::io::AsyncReadExt;

const RUNS: usize = 3;

#[tokio::main]
async fn main() {
    let mib: usize = std::env::var("BENCH_GATEWAY_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let dir = tempfile::tempdir().unwrap();
    let bytes: Vec<u8> = (0..mib << 20).map(|i| (i * 31 % 251) as u8).collect();
    let hash = keccak256(&bytes);
    let size = bytes.len() as u64;

    let store = Store::open(&format!("sqlite://{}", dir.path().join("g.db").display()))
        .await
        .unwrap();
    let blobs = LocalBlobs::open(dir.path().join("blobs")).unwrap();
    let chunks: Vec<axum::body::Bytes> = bytes
        .chunks(1 << 20)
        .map(axum::body::Bytes::copy_from_slice)
        .collect();
    let body = || futures::stream::iter(chunks.iter().cloned().map(Ok::<_, std::io::Error>));
    // An upload stored: checked (keccak256 and SHA-256 as it streams), written and synced; against
    // keccak256 alone over the same bytes, the floor of any check.
    let (mut keccak, mut upload) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let start = Instant::now();
        std::hint::black_box(keccak256(&bytes));
        keccak.push(mb_per_s(size, start));
        let scratch = LocalBlobs::open(dir.path().join("scratch")).unwrap();
        let start = Instant::now();
        scratch.put(hash, size, body()).await.unwrap();
        upload.push(mb_per_s(size, start));
        std::fs::remove_dir_all(dir.path().join("scratch")).unwrap();
    }
    blobs.put(hash, size, body()).await.unwrap();
    drop((bytes, chunks));
    let (keccak, upload) = (median(&mut keccak), median(&mut upload));
    println!("gateway.keccak256: {keccak:.0} MB/s");
    println!("gateway.upload_stored: {upload:.0} MB/s");
    println!("gateway.upload_vs_keccak: {:.0} %", 100.0 * upload / keccak);

    let creator = PrivateKeySigner::random();
    let file = FileEntry {
        path: "data.bin".into(),
        size,
        hash,
    };
    let mut manifest = DatasetManifest::new(
        "bench",
        "",
        creator.address(),
        0,
        BTreeMap::new(),
        vec![file],
    )
    .unwrap();
    let manifest_hash = manifest.sign(&creator).unwrap();
    store
        .insert_dataset(&manifest, manifest_hash, 0)
        .await
        .unwrap();
    store.mark_stored(hash).await.unwrap();
    let access_id = B256::repeat_byte(7);
    let key = AccessKey {
        access_id,
        manifest_hash,
        payer: Address::repeat_byte(1),
        signer: Address::repeat_byte(1),
        license_id: U256::from(1),
        terms_id: 1,
    };
    store.log_grant(&key, None, 0).await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let grant_key = GrantKey::new([3; 32]);
    let expires_at = u64::MAX / 2;
    let state = AppState {
        store,
        blobs: Blobs::Local(blobs.clone()),
        entitlements: Entitlements::new(
            ProviderBuilder::new()
                .connect_http("http://127.0.0.1:9".parse().unwrap())
                .erased(),
            Address::ZERO,
            Address::ZERO,
            0,
        ),
        chain_id: 31337,
        escrow: Address::ZERO,
        domain: GatewayDomain::new(31337, Address::ZERO),
        public_url: Arc::from(url.as_str()),
        grant_key: grant_key.clone(),
        payments: fairtrain_gateway::pay::Payments::new(
            None,
            fairtrain_protocol::EscrowDomain::new(31337, Address::ZERO),
        )
        .unwrap(),
        limits: Limits::default(),
    };
    tokio::spawn(axum::serve(listener, api::router(state)).into_future());
    let grant = Grant {
        access_id,
        manifest_hash,
        license_id: U256::from(1),
        terms_id: 1,
        payer: Address::repeat_byte(1),
        chargeable_from: 0,
        expires_at,
        unit: fairtrain_protocol::pricing::Unit::Sample,
        receipt: None,
        token: grant_key.issue(manifest_hash, access_id, expires_at),
        files: format!("{url}/v1/datasets/{manifest_hash}/files"),
    };
    let file_url = format!("{}/data.bin?grant={}", grant.files, grant.token);
    let http = reqwest::Client::new();
    let client = GatewayClient::new(&url).unwrap();

    let mut disk = Vec::new();
    let mut download = Vec::new();
    let mut client_download = Vec::new();
    let cold = std::env::var_os("BENCH_GATEWAY_COLD").is_some();
    read_blob(&blobs, hash).await; // warm the page cache
    for _ in 0..RUNS {
        drop_caches(cold);
        let start = Instant::now();
        assert_eq!(read_blob(&blobs, hash).await, size);
        disk.push(mb_per_s(size, start));

        drop_caches(cold);
        let start = Instant::now();
        let mut response = http.get(&file_url).send().await.unwrap();
        assert!(response.status().is_success());
        let mut got = 0u64;
        while let Some(chunk) = response.chunk().await.unwrap() {
            got += chunk.len() as u64;
        }
        assert_eq!(got, size);
        download.push(mb_per_s(size, start));

        let out = tempfile::tempdir().unwrap();
        drop_caches(cold);
        let start = Instant::now();
        let report = client
            .download(&grant, &manifest, out.path())
            .await
            .unwrap();
        assert_eq!(report.bytes, size);
        client_download.push(mb_per_s(size, start));
    }
    let (disk, download) = (median(&mut disk), median(&mut download));
    let prefix = if cold { "gateway.cold_" } else { "gateway." };
    println!("{prefix}disk_read: {disk:.0} MB/s");
    println!("{prefix}download: {download:.0} MB/s");
    println!("{prefix}download_vs_disk: {:.0} %", 100.0 * download / disk);
    println!(
        "{prefix}client_download: {:.0} MB/s",
        median(&mut client_download)
    );
}

/// Writes dirty pages and drops the page cache (Linux, root), when `cold`.
fn drop_caches(cold: bool) {
    if cold {
        let _ = std::process::Command::new("sync").status();
        std::fs::write("/proc/sys/vm/drop_caches", "3\n")
            .expect("BENCH_GATEWAY_COLD=1 drops the page cache: run as root");
    }
}

/// Reads the blob 1 MiB at a time; returns the bytes read.
async fn read_blob(blobs: &LocalBlobs, hash: B256) -> u64 {
    let mut file = tokio::fs::File::open(blobs.path(hash)).await.unwrap();
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buffer).await.unwrap();
        if n == 0 {
            return total;
        }
        total += n as u64;
    }
}

fn mb_per_s(bytes: u64, start: Instant) -> f64 {
    bytes as f64 / 1e6 / start.elapsed().as_secs_f64()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
