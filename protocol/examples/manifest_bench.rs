//! Dataset manifest benchmarks, one figure a line (`name: value unit`), run by `./scripts/bench`:
//! `cargo run --release -p fairtrain-protocol --example manifest_bench`.
//!
//! - streamed keccak256 of file contents (in memory, so the disk is not measured);
//! - listing and hashing a folder of 10,000 small files, building and signing its manifest;
//! - verifying that manifest (paths, order, files root, signature) and checking the folder
//!   against it.

use std::{collections::BTreeMap, io::Read, time::Instant};

use alloy::{primitives::keccak256, signers::local::PrivateKeySigner};
use fairtrain_protocol::{manifest::folder, DatasetManifest};

const FILES: usize = 10_000;

fn main() {
    // Streamed hashing throughput.
    let bytes: u64 = 256 << 20;
    let start = Instant::now();
    let (size, _) = folder::hash_reader(std::io::repeat(7).take(bytes)).unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(size, bytes);
    println!(
        "manifest.hash_throughput: {:.0} MiB/s",
        bytes as f64 / secs / f64::from(1 << 20)
    );

    // A folder of FILES files of 1 KiB in 100 sub-folders.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..FILES {
        let sub = dir.path().join(format!("part-{:03}", i % 100));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("{i:06}.bin")), [i as u8; 1024]).unwrap();
    }
    let key = PrivateKeySigner::from_bytes(&keccak256("bench creator")).unwrap();

    let start = Instant::now();
    let files = folder::scan_dir(dir.path()).unwrap();
    let mut m = DatasetManifest::new(
        "bench",
        "",
        key.address(),
        1_750_000_000,
        BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        files,
    )
    .unwrap();
    m.sign(&key).unwrap();
    let build = start.elapsed();
    println!(
        "manifest.build_and_sign_10k_files: {:.0} ms",
        build.as_secs_f64() * 1e3
    );

    let start = Instant::now();
    let json = m.to_json();
    let parsed = DatasetManifest::parse(json.as_bytes()).unwrap();
    parsed.verify().unwrap();
    println!(
        "manifest.parse_and_verify_10k_files: {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );

    let start = Instant::now();
    parsed.verify_folder(dir.path()).unwrap();
    println!(
        "manifest.verify_folder_10k_files: {:.0} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    println!("manifest.json_bytes_per_file: {} bytes", json.len() / FILES);
}
