//! Dataset manifests checked by an independent implementation: viem recomputes the files root,
//! the EIP-712 manifest hash and the signer from the JSON document alone, following
//! docs/manifest.md (`tests/interop/verify-manifest.mjs`).

use std::{collections::BTreeMap, path::Path, process::Command};

use alloy::{
    primitives::{keccak256, Address, B256},
    signers::local::PrivateKeySigner,
};
use fairtrain_protocol::{DatasetManifest, FileEntry};

fn file(path: &str, content: &[u8]) -> FileEntry {
    FileEntry {
        path: path.into(),
        size: content.len() as u64,
        hash: keccak256(content),
    }
}

fn viem(manifest: &DatasetManifest) -> (bool, serde_json::Value) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.json");
    std::fs::write(&path, manifest.to_json()).unwrap();
    let out = Command::new("node")
        .arg("tests/interop/verify-manifest.mjs")
        .arg(&path)
        .current_dir(&root)
        .output()
        .expect("node runs");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "verify-manifest.mjs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

#[test]
fn viem_recomputes_hash_root_and_signer() {
    let key = PrivateKeySigner::from_bytes(&keccak256("fairtrain interop creator")).unwrap();
    // Five files (an odd level), keys whose byte order differs from a naive sort of
    // characters, and non-ASCII text.
    let mut m = DatasetManifest::new(
        "Café recordings ☕",
        "Ambient sound, 48 kHz",
        key.address(),
        1_750_000_000,
        BTreeMap::from([
            ("Zone".to_owned(), "A".to_owned()),
            ("device".to_owned(), "Zoom H5".to_owned()),
            ("émetteur".to_owned(), "x".to_owned()),
        ]),
        vec![
            file("b/02.wav", b"two"),
            file("a.txt", b""),
            file("b/01.wav", b"one"),
            file("c/ü.wav", b"umlaut"),
            file("B.txt", b"capital"),
        ],
    )
    .unwrap();
    m.sign(&key).unwrap();
    m.verify().unwrap();

    let (ok, report) = viem(&m);
    assert!(ok, "{report}");
    assert_eq!(report["filesRoot"], m.files_root.to_string());
    assert_eq!(report["manifestHash"], m.hash().to_string());
    assert_eq!(
        report["signer"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        key.address()
    );

    // A tampered document: viem agrees it no longer verifies.
    let mut tampered = m.clone();
    tampered.metadata.insert("device".into(), "Zoom H6".into());
    let (ok, report) = viem(&tampered);
    assert!(!ok, "{report}");
    assert_ne!(
        report["manifestHash"]
            .as_str()
            .unwrap()
            .parse::<B256>()
            .unwrap(),
        m.hash()
    );
}
