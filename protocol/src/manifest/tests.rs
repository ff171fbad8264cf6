use std::{fs, io::Write, path::Path};

use alloy::primitives::{address, keccak256};

use super::{folder::*, *};

fn creator() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256("manifest creator")).unwrap()
}

fn file(path: &str, content: &[u8]) -> FileEntry {
    FileEntry {
        path: path.into(),
        size: content.len() as u64,
        hash: keccak256(content),
    }
}

fn signed() -> DatasetManifest {
    let key = creator();
    let mut m = DatasetManifest::new(
        "Street photos",
        "Photos of Lisbon, 2025",
        key.address(),
        1_750_000_000,
        BTreeMap::from([
            ("camera".to_owned(), "X100".to_owned()),
            ("city".to_owned(), "Lisbon".to_owned()),
        ]),
        vec![
            file("b/2.jpg", b"two"),
            file("a.txt", b"one"),
            file("b/1.jpg", b"three"),
        ],
    )
    .unwrap();
    m.sign(&key).unwrap();
    m
}

#[test]
fn type_string_is_what_alloy_hashes() {
    assert_eq!(typed::Manifest::eip712_encode_type(), MANIFEST_TYPE);
    assert_eq!(
        signed().typed().eip712_type_hash(),
        keccak256(MANIFEST_TYPE)
    );
}

#[test]
fn hash_is_the_eip712_digest_computed_by_hand() {
    let m = signed();
    let t = m.typed();
    let entry_type = keccak256("MetadataEntry(string key,string value)");
    let entries: Vec<u8> = m
        .metadata
        .iter()
        .flat_map(|(k, v)| {
            keccak256((entry_type, keccak256(k), keccak256(v)).abi_encode())
                .0
                .to_vec()
        })
        .collect();
    let struct_hash = keccak256(
        (
            keccak256(MANIFEST_TYPE),
            keccak256(&m.name),
            keccak256(&m.description),
            m.creator,
            U256::from(m.created_at),
            keccak256(entries),
            m.files_root,
            U256::from(3),
            U256::from(11),
        )
            .abi_encode(),
    );
    let separator = keccak256(
        (
            keccak256("EIP712Domain(string name,string version)"),
            keccak256(MANIFEST_DOMAIN_NAME),
            keccak256(MANIFEST_DOMAIN_VERSION),
        )
            .abi_encode(),
    );
    assert_eq!(manifest_domain().separator(), separator);
    assert_eq!(t.eip712_hash_struct(), struct_hash);
    let digest = keccak256([&[0x19, 0x01], separator.as_slice(), struct_hash.as_slice()].concat());
    assert_eq!(m.hash(), digest);
}

#[test]
fn files_are_sorted_and_root_is_the_tree_of_leaves() {
    let m = signed();
    let paths: Vec<_> = m.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["a.txt", "b/1.jpg", "b/2.jpg"]);
    let leaves: Vec<_> = m.files.iter().map(FileEntry::leaf).collect();
    let expected = merkle::hash_pair(&merkle::hash_pair(&leaves[0], &leaves[1]), &leaves[2]);
    assert_eq!(m.files_root, expected);
    // The leaf is the OpenZeppelin StandardMerkleTree leaf of (string, uint256, bytes32).
    let f = &m.files[0];
    assert_eq!(
        f.leaf(),
        keccak256(keccak256(
            (f.path.clone(), U256::from(f.size), f.hash).abi_encode_params()
        ))
    );
    for i in 0..3 {
        let proof = m.file_proof(i).unwrap().unwrap();
        assert!(verify_file(&proof, m.files_root, &m.files[i]));
        assert!(!verify_file(&proof, m.files_root, &m.files[(i + 1) % 3]));
    }
    assert_eq!(m.file_proof(3).unwrap(), None);
}

#[test]
fn round_trip_through_json_verifies() {
    let m = signed();
    let hash = m.verify().unwrap();
    assert_eq!(hash, m.hash());
    let text = m.to_json();
    assert!(text.contains("\"createdAt\": \"1750000000\""), "{text}");
    assert!(text.contains("\"filesRoot\""));
    let back = DatasetManifest::parse(text.as_bytes()).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.verify().unwrap(), hash);
}

type Tamper = Box<dyn Fn(&mut DatasetManifest)>;

#[test]
fn tampering_with_any_field_fails_verification() {
    let base = signed();
    let other = PrivateKeySigner::from_bytes(&keccak256("someone else")).unwrap();
    let cases: Vec<(&str, Tamper)> = vec![
        ("name", Box::new(|m| m.name.push('!'))),
        ("description", Box::new(|m| m.description.clear())),
        ("creator", Box::new(move |m| m.creator = other.address())),
        ("createdAt", Box::new(|m| m.created_at += 1)),
        (
            "metadata value",
            Box::new(|m| {
                m.metadata.insert("city".into(), "Porto".into());
            }),
        ),
        (
            "metadata added",
            Box::new(|m| {
                m.metadata.insert("extra".into(), String::new());
            }),
        ),
        ("file hash", Box::new(|m| m.files[1].hash = keccak256("x"))),
        ("file size", Box::new(|m| m.files[1].size += 1)),
        (
            "file path",
            Box::new(|m| m.files[2].path = "b/3.jpg".into()),
        ),
        ("file removed", Box::new(|m| drop(m.files.pop()))),
        ("files root", Box::new(|m| m.files_root = keccak256("root"))),
        (
            "files and root together",
            Box::new(|m| {
                m.files.pop();
                m.files_root = files_root(&m.files).unwrap();
            }),
        ),
        (
            "signature",
            Box::new(|m| {
                let mut sig = m.signature.clone().unwrap().to_vec();
                sig[10] ^= 1;
                m.signature = Some(sig.into());
            }),
        ),
        ("signature removed", Box::new(|m| m.signature = None)),
        ("version", Box::new(|m| m.version = 2)),
    ];
    for (what, tamper) in cases {
        let mut m = base.clone();
        tamper(&mut m);
        let err = m.verify().expect_err(what);
        match what {
            "file hash" | "file size" | "file path" | "file removed" | "files root" => {
                assert!(
                    matches!(err, ManifestError::FilesRoot { .. }),
                    "{what}: {err}"
                )
            }
            "signature removed" => assert!(matches!(err, ManifestError::Unsigned)),
            "version" => assert!(matches!(err, ManifestError::Version { found: 2 })),
            _ => assert!(
                matches!(
                    err,
                    ManifestError::SignerMismatch { .. } | ManifestError::Signature(_)
                ),
                "{what}: {err}"
            ),
        }
    }
}

#[test]
fn high_s_signature_is_rejected() {
    let mut m = signed();
    let sig = alloy::primitives::Signature::from_raw(m.signature.as_ref().unwrap()).unwrap();
    // The malleable twin: s' = n - s, parity flipped.
    let n = alloy::uint!(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141_U256);
    let twin = alloy::primitives::Signature::new(sig.r(), n - sig.s(), !sig.v());
    m.signature = Some(twin.as_bytes().to_vec().into());
    assert!(matches!(
        m.verify(),
        Err(ManifestError::Signature(crate::Error::SignatureHighS))
    ));
}

#[test]
fn only_the_creator_can_sign() {
    let mut m = signed();
    let other = PrivateKeySigner::from_bytes(&keccak256("someone else")).unwrap();
    assert!(matches!(
        m.sign(&other),
        Err(ManifestError::CreatorMismatch { .. })
    ));
}

#[test]
fn bad_documents_are_rejected() {
    let m = signed();
    let mut v: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
    v["unexpected"] = true.into();
    assert!(matches!(
        DatasetManifest::parse(v.to_string().as_bytes()),
        Err(ManifestError::Json(_))
    ));
    let mut v: serde_json::Value = serde_json::from_str(&m.to_json()).unwrap();
    v["createdAt"] = 1_750_000_000u64.into();
    assert!(DatasetManifest::parse(v.to_string().as_bytes()).is_err());

    for bad in ["../secret", "/etc/passwd", "a/./b"] {
        let mut t = m.clone();
        t.files[0].path = bad.into();
        assert!(
            matches!(t.verify(), Err(ManifestError::Path { .. })),
            "{bad}"
        );
        assert!(matches!(
            DatasetManifest::new(
                "n",
                "",
                m.creator,
                0,
                BTreeMap::new(),
                vec![file(bad, b"x")]
            ),
            Err(ManifestError::Path { .. })
        ));
    }

    let mut t = m.clone();
    t.files.swap(0, 1);
    assert!(matches!(t.verify(), Err(ManifestError::Order { .. })));
    assert!(matches!(
        DatasetManifest::new(
            "n",
            "",
            m.creator,
            0,
            BTreeMap::new(),
            vec![file("a", b"1"), file("a", b"2")]
        ),
        Err(ManifestError::Order { .. })
    ));
    assert!(matches!(
        DatasetManifest::new("n", "", m.creator, 0, BTreeMap::new(), vec![]),
        Err(ManifestError::NoFiles)
    ));
}

#[test]
fn license_record_must_name_this_manifest_and_creator() {
    let m = signed();
    let id = U256::from(7);
    let record = License::Record {
        creator: m.creator,
        termsId: 1,
        version: 1,
        mintedAt: alloy::primitives::aliases::U40::from(1u64),
        royaltyBps: 0,
        manifestHash: m.hash(),
    };
    m.check_license(id, &record).unwrap();
    let mut wrong = record.clone();
    wrong.manifestHash = keccak256("other");
    assert!(matches!(
        m.check_license(id, &wrong),
        Err(ManifestError::LicenseManifest { .. })
    ));
    let mut wrong = record;
    wrong.creator = address!("0x000000000000000000000000000000000000dEaD");
    assert!(matches!(
        m.check_license(id, &wrong),
        Err(ManifestError::LicenseCreator { .. })
    ));
}

fn write(root: &Path, path: &str, content: &[u8]) {
    let full = root.join(path);
    fs::create_dir_all(full.parent().unwrap()).unwrap();
    fs::write(full, content).unwrap();
}

#[test]
fn folder_scan_builds_a_verifiable_manifest_and_reports_differences() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", b"one");
    write(dir.path(), "b/1.jpg", b"three");
    write(dir.path(), "b/2.jpg", b"two");
    write(dir.path(), ".hidden", b"h");
    let files = scan_dir(dir.path()).unwrap();
    let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, [".hidden", "a.txt", "b/1.jpg", "b/2.jpg"]);
    assert_eq!(files[3], file("b/2.jpg", b"two"));

    let key = creator();
    let mut m = DatasetManifest::new("d", "", key.address(), 1, BTreeMap::new(), files).unwrap();
    m.sign(&key).unwrap();
    m.verify().unwrap();
    m.verify_folder(dir.path()).unwrap();

    // Same size, other content; a missing file; an extra file.
    write(dir.path(), "b/2.jpg", b"TWO");
    fs::remove_file(dir.path().join("a.txt")).unwrap();
    write(dir.path(), "c/new.bin", b"new");
    match m.verify_folder(dir.path()) {
        Err(ManifestError::FolderMismatch(report)) => {
            assert_eq!(report.missing, ["a.txt"]);
            assert_eq!(report.changed, ["b/2.jpg"]);
            assert_eq!(report.extra, ["c/new.bin"]);
        }
        other => panic!("{other:?}"),
    }
    // A size change is caught without hashing.
    write(dir.path(), "b/1.jpg", b"three!");
    let report = m.compare_folder(dir.path()).unwrap();
    assert_eq!(report.changed, ["b/1.jpg", "b/2.jpg"]);
}

#[test]
fn empty_folder_gives_no_manifest() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("empty-sub")).unwrap();
    let files = scan_dir(dir.path()).unwrap();
    assert!(files.is_empty());
    assert!(matches!(
        DatasetManifest::new("d", "", creator().address(), 1, BTreeMap::new(), files),
        Err(ManifestError::NoFiles)
    ));
}

#[test]
fn missing_folder_and_file_instead_of_folder_are_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        scan_dir(&dir.path().join("nope")),
        Err(ManifestError::Io { .. })
    ));
    write(dir.path(), "f", b"x");
    assert!(matches!(
        scan_dir(&dir.path().join("f")),
        Err(ManifestError::Io { .. })
    ));
}

#[cfg(unix)]
#[test]
fn symlinks_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "real", b"x");
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link")).unwrap();
    assert!(matches!(
        scan_dir(dir.path()),
        Err(ManifestError::NotRegular { .. })
    ));
}

#[test]
fn large_file_is_hashed_as_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    // Larger than the hash buffer several times over, written in chunks.
    let chunk: Vec<u8> = (0..HASH_BUFFER).map(|i| (i % 251) as u8).collect();
    let mut out = fs::File::create(dir.path().join("big.bin")).unwrap();
    let mut whole = Vec::new();
    for i in 0..5u8 {
        let mut c = chunk.clone();
        c[0] = i;
        out.write_all(&c).unwrap();
        whole.extend_from_slice(&c);
    }
    out.write_all(b"tail").unwrap();
    whole.extend_from_slice(b"tail");
    drop(out);
    let files = scan_dir(dir.path()).unwrap();
    assert_eq!(files, [file("big.bin", &whole)]);
}
