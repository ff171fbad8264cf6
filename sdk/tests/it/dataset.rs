//! Checking a dataset before use, through the library and the `fairtrain-meter` command. The
//! on-chain license check runs in the end-to-end tests (tests/ at the repository root).

use std::{path::Path, process::Command};

use alloy::{primitives::keccak256, signers::local::PrivateKeySigner};
use fairtrain_protocol::manifest::{folder::scan_dir, DatasetManifest};
use fairtrain_sdk::{verify_dataset, Error};

fn signed_manifest(dir: &Path, out: &Path) {
    let creator = PrivateKeySigner::from_bytes(&keccak256("creator")).unwrap();
    let files = scan_dir(dir).unwrap();
    let mut manifest = DatasetManifest::new(
        "photos",
        "test set",
        creator.address(),
        1_750_000_000,
        Default::default(),
        files,
    )
    .unwrap();
    manifest.sign(&creator).unwrap();
    std::fs::write(out, manifest.to_json()).unwrap();
}

#[tokio::test]
async fn an_intact_dataset_passes_and_a_changed_file_or_manifest_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("a")).unwrap();
    std::fs::write(data.join("a/1.txt"), "one").unwrap();
    std::fs::write(data.join("2.bin"), [0u8; 4096]).unwrap();
    let manifest = tmp.path().join("manifest.json");
    signed_manifest(&data, &manifest);

    let check = verify_dataset(&manifest, &data, None).await.unwrap();
    assert_eq!(check.files, 2);

    // A changed file.
    std::fs::write(data.join("a/1.txt"), "uno").unwrap();
    let err = verify_dataset(&manifest, &data, None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Dataset(m) if m.contains("a/1.txt")),
        "{err}"
    );
    std::fs::write(data.join("a/1.txt"), "one").unwrap();

    // A tampered manifest (the description no longer matches the signature).
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("test set", "other set")).unwrap();
    let err = verify_dataset(&manifest, &data, None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Dataset(m) if m.starts_with("manifest")),
        "{err}"
    );

    // The command says the same.
    std::fs::write(&manifest, text).unwrap();
    let run = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_fairtrain-meter"))
            .args(["verify-dataset", "--manifest", manifest.to_str().unwrap()])
            .args(["--dir", dir.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let ok = run(&data);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("2 files match"));
    std::fs::remove_file(data.join("2.bin")).unwrap();
    let missing = run(&data);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("2.bin"));
}
