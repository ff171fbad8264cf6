//! The real `fairtrain` binary: arguments, environment, text and JSON output, exit codes.

use serde_json::Value;

use crate::support::{dataset, Devnet, CREATOR, PAYER};

pub(crate) fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub(crate) fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

#[tokio::test]
async fn creator_and_payer_through_the_binary() {
    let net = Devnet::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data);
    let m = tmp.path().join("m.json");
    let (m_s, data_s) = (m.to_str().unwrap(), data.to_str().unwrap());

    let text = ok(&net.cli(None, &["license", "templates"]));
    for name in [
        "research",
        "commercial",
        "evaluation",
        "attribution-share-alike",
    ] {
        assert!(text.contains(name), "{text}");
    }

    // Build (unsigned, creator from the key), sign, verify with the folder.
    let text = ok(&net.cli(
        Some(CREATOR),
        &[
            "manifest",
            "build",
            data_s,
            "--name",
            "Street photos",
            "--meta",
            "camera=X100",
            "--out",
            m_s,
        ],
    ));
    assert!(
        text.contains("(unsigned)") && text.contains("files         4"),
        "{text}"
    );
    let signed = json(&net.cli(Some(CREATOR), &["manifest", "sign", m_s, "--json"]));
    assert_eq!(signed["signed"], true);
    let text = ok(&net.cli(None, &["manifest", "verify", m_s, "--dir", data_s]));
    assert!(text.contains("ok: signed by its creator"), "{text}");

    // Mint, with the token given by symbol.
    let minted = json(&net.cli(
        Some(CREATOR),
        &[
            "license",
            "mint",
            "--manifest",
            m_s,
            "--template",
            "attribution-share-alike",
            "--price",
            "0.5",
            "--token",
            "fusd",
            "--royalty-bps",
            "250",
            "--json",
        ],
    ));
    assert_eq!(minted["licenseId"], "1");
    assert_eq!(minted["manifestHash"], signed["manifestHash"]);
    let text = ok(&net.cli(None, &["license", "show", "1"]));
    assert!(text.contains("terms 1 (attribution-share-alike)"), "{text}");
    assert!(
        text.contains("0.5 fUSD per sample (500000 base units)"),
        "{text}"
    );
    let text = ok(&net.cli(None, &["manifest", "verify", m_s, "--license", "1"]));
    assert!(
        text.contains("ok: license 1 records this manifest"),
        "{text}"
    );

    // Payer: fund, deposit with permit (raw units), accept, status as JSON.
    net.fund(crate::support::key(PAYER).address(), 10).await;
    let text = ok(&net.cli(
        Some(PAYER),
        &["payer", "deposit", "2500000", "--raw", "--permit"],
    ));
    assert!(
        text.contains("deposited 2.5 fUSD (2500000 base units)"),
        "{text}"
    );
    ok(&net.cli(Some(PAYER), &["payer", "accept", "1"]));
    let relayer = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
    let text = ok(&net.cli(
        Some(PAYER),
        &[
            "payer",
            "credit",
            "fund",
            "--relayer",
            relayer,
            "--amount",
            "1",
        ],
    ));
    assert!(
        text.contains(&format!(
            "moved 1 fUSD (1000000 base units) into the credit line of relayer {relayer}"
        )),
        "{text}"
    );
    ok(&net.cli(
        Some(PAYER),
        &[
            "payer",
            "credit",
            "reduce",
            "--relayer",
            relayer,
            "--amount",
            "0.4",
        ],
    ));
    // Executing the reduction before its notice: exit 1, the decoded error and when it works.
    let out = net.cli(
        Some(PAYER),
        &["payer", "credit", "execute-reduction", "--relayer", relayer],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("reduceCredit reverted: TrainingEscrow_CreditReductionNotEffective("),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: the credit reduction takes effect at"),
        "{stderr}"
    );
    ok(&net.cli(Some(PAYER), &["payer", "withdraw", "request", "1"]));
    let status = json(&net.cli(Some(PAYER), &["payer", "status", "--json"]));
    assert_eq!(status["tokens"][0]["available"], "1500000");
    assert_eq!(status["tokens"][0]["credit"], "1000000");
    assert_eq!(status["tokens"][0]["withdrawal"]["state"], "locked");
    assert_eq!(status["acceptances"][0]["licenseId"], "1");
    let line = &status["tokens"][0]["creditLines"][0];
    assert_eq!(line["relayer"], relayer.to_lowercase());
    assert_eq!(line["credit"], "1000000");
    assert_eq!(line["reduction"]["amount"], "400000");
    assert_eq!(line["reduction"]["effective"], false);
    let text = ok(&net.cli(Some(PAYER), &["payer", "status"]));
    assert!(
        text.contains(&format!("line for relayer {relayer}: credit 1 fUSD (1000000 base units), reserved 0 fUSD (0 base units)")),
        "{text}"
    );

    // Executing before the unlock: exit 1, the decoded error and its hint on stderr; JSON on
    // stdout with --json.
    let out = net.cli(Some(PAYER), &["payer", "withdraw", "execute"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: withdraw reverted: TrainingEscrow_WithdrawalLocked(payer: 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"), "{stderr}");
    assert!(
        stderr.contains("hint: the withdrawal unlocks at"),
        "{stderr}"
    );
    let out = net.cli(Some(PAYER), &["payer", "withdraw", "execute", "--json"]);
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        err["error"]["revert"]["name"],
        "TrainingEscrow_WithdrawalLocked"
    );
    assert_eq!(err["error"]["revert"]["fields"][2]["name"], "unlockAt");

    // A tampered manifest fails verification with exit 1.
    let text = std::fs::read_to_string(&m)
        .unwrap()
        .replace("Street photos", "Street photoz");
    std::fs::write(&m, text).unwrap();
    let out = net.cli(None, &["manifest", "verify", m_s]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hint: do not use this manifest"));

    // A changed folder is reported file by file.
    std::fs::write(data.join("extra.txt"), b"x").unwrap();
    let out = net.cli(
        Some(CREATOR),
        &[
            "manifest", "build", data_s, "--name", "x", "--out", m_s, "--sign",
        ],
    );
    ok(&out);
    std::fs::remove_file(data.join("labels.csv")).unwrap();
    let out = net.cli(
        None,
        &["manifest", "verify", m_s, "--dir", data_s, "--json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["error"]["folder"]["missing"][0], "labels.csv");

    // Usage errors: a bad template is rejected by argument parsing (exit 2) with the choices.
    let out = net.cli(
        Some(CREATOR),
        &[
            "license",
            "mint",
            "--manifest",
            m_s,
            "--template",
            "cc0",
            "--price",
            "1",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("attribution-share-alike"));
    // No key.
    let out = net.cli(None, &["payer", "deposit", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--private-key"));
}

#[tokio::test]
async fn keystore_signs_and_a_wrong_password_is_refused() {
    let net = Devnet::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data);
    let keystores = tmp.path().join("keys");
    std::fs::create_dir(&keystores).unwrap();
    let out = std::process::Command::new(crate::support::tool("cast"))
        .args([
            "wallet",
            "import",
            "creator",
            "--private-key",
            crate::support::KEYS[CREATOR],
        ])
        .arg("--keystore-dir")
        .arg(&keystores)
        .args(["--unsafe-password", "correct horse"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keystore = keystores.join("creator");
    let m = tmp.path().join("m.json");
    let args = [
        "manifest",
        "build",
        data.to_str().unwrap(),
        "--name",
        "d",
        "--sign",
        "--out",
        m.to_str().unwrap(),
        "--keystore",
        keystore.to_str().unwrap(),
        "--json",
    ];
    let report = json(&net.cli_env(
        None,
        &args,
        &[("FAIRTRAIN_KEYSTORE_PASSWORD", "correct horse")],
    ));
    assert_eq!(report["signed"], true);
    assert_eq!(
        report["creator"].as_str().unwrap().to_lowercase(),
        crate::support::key(CREATOR)
            .address()
            .to_string()
            .to_lowercase()
    );
    let out = net.cli_env(None, &args, &[("FAIRTRAIN_KEYSTORE_PASSWORD", "wrong")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot decrypt keystore"));
    let out = net.cli(None, &args);
    assert!(String::from_utf8_lossy(&out.stderr).contains("FAIRTRAIN_KEYSTORE_PASSWORD"));
}

#[tokio::test]
async fn a_device_profile_is_validated_and_signed_into_the_manifest() {
    let net = Devnet::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data);
    let (m, device) = (tmp.path().join("m.json"), tmp.path().join("device.json"));
    let profile = serde_json::json!({
        "provider": "ibm", "backend": "ibm_kyiv", "qubits": 2, "calibratedAt": 1_750_000_000u64,
        "shots": 4000, "circuits": 12,
        "qubitProperties": [{"t1": 1.1e-4, "t2": 9.0e-5, "readoutError": 0.012}],
        "gates": [{"name": "cx", "qubits": [0, 1], "error": 0.0081, "duration": 5.3e-7}]
    });
    std::fs::write(&device, profile.to_string()).unwrap();
    let args = |device: &std::path::Path| {
        vec![
            "manifest".to_owned(),
            "build".into(),
            data.display().to_string(),
            "--name".into(),
            "Kyiv circuits".into(),
            "--device".into(),
            device.display().to_string(),
            "--sign".into(),
            "--out".into(),
            m.display().to_string(),
        ]
    };
    let argv = args(&device);
    ok(&net.cli(
        Some(CREATOR),
        &argv.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(&m).unwrap()).unwrap();
    assert_eq!(manifest["metadata"]["device.backend"], "ibm_kyiv");
    assert_eq!(manifest["metadata"]["device.gate.cx.0_1.error"], "0.0081");
    assert_eq!(manifest["metadata"]["device.qubit.0.readoutError"], "0.012");
    let text = ok(&net.cli(None, &["manifest", "verify", m.to_str().unwrap()]));
    assert!(text.contains("ok: signed by its creator"), "{text}");

    // An error rate above 1, or a gate on a qubit the device does not have, is refused.
    for (field, value) in [
        ("/gates/0/error", serde_json::json!(1.2)),
        ("/gates/0/qubits", serde_json::json!([0, 5])),
    ] {
        let mut bad = profile.clone();
        *bad.pointer_mut(field).unwrap() = value;
        let path = tmp.path().join("bad.json");
        std::fs::write(&path, bad.to_string()).unwrap();
        let argv = args(&path);
        let out = net.cli(
            Some(CREATOR),
            &argv.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert!(!out.status.success(), "{field}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("device profile"), "{stderr}");
    }
}
