//! Datasets through the gateway, with the real binaries: the creator publishes with the CLI, the
//! payer's training key downloads the license's dataset with the CLI (interrupted and resumed),
//! and the gateway's log shows the access to the creator.

use fairtrain_testkit::{
    address,
    gateway::GatewayProcess,
    scenario::{self, CREATOR, PAYER, TRAINING},
    Devnet,
};

#[tokio::test]
async fn a_payer_downloads_a_licensed_dataset_from_the_gateway_with_the_cli() {
    let devnet = Devnet::start().await;
    let licensed = scenario::licensed_payer(&devnet).await;
    let gateway = GatewayProcess::start(&devnet).await;
    let url = gateway.url.clone();
    let dir = devnet.dir.path();

    let published = gateway.publish(&devnet, CREATOR, &licensed.data, &licensed.manifest);
    assert!(published.contains("3 of 3 files stored"), "{published}");

    // The payer's training key asks for it; a download interrupted in a file resumes.
    let out = dir.join("downloaded");
    std::fs::create_dir_all(out.join("images")).unwrap();
    let first = std::fs::read(licensed.data.join("images/001.jpg")).unwrap();
    std::fs::write(out.join("images/001.jpg.part"), &first[..3]).unwrap();
    let out_arg = out.display().to_string();
    let payer = address(PAYER).to_string();
    let get = [
        "--json",
        "dataset",
        "get",
        "1",
        "--gateway",
        &url,
        "--out",
        &out_arg,
        "--payer",
        &payer,
    ];
    let got: serde_json::Value = serde_json::from_str(&devnet.cli(TRAINING, &get)).unwrap();
    assert_eq!(
        (got["downloaded"].as_u64(), got["resumed"].as_u64()),
        (Some(3), Some(1)),
        "{got}"
    );
    for file in ["images/001.jpg", "images/002.jpg", "labels.csv"] {
        assert_eq!(
            std::fs::read(out.join(file)).unwrap(),
            std::fs::read(licensed.data.join(file)).unwrap()
        );
    }
    let again: serde_json::Value = serde_json::from_str(&devnet.cli(TRAINING, &get)).unwrap();
    assert_eq!(again["kept"].as_u64(), Some(3), "{again}");

    // Someone with no acceptance is refused with the gateway's reason.
    let refused = devnet.cli_output(
        3,
        &["dataset", "get", "1", "--gateway", &url, "--out", &out_arg],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("terms_not_accepted"), "{stderr}");

    // The creator sees both grants and the downloads.
    let hash = got["manifestHash"].as_str().unwrap();
    let log: serde_json::Value = reqwest::get(format!("{url}/v1/datasets/{hash}/accesses"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = log["accesses"].as_array().unwrap();
    let grants = entries.iter().filter(|e| e["kind"] == "grant").count();
    let downloads = entries.iter().filter(|e| e["kind"] == "download").count();
    assert_eq!((grants, downloads), (2, 3), "{log}");
    assert!(entries
        .iter()
        .all(|e| e["signer"] == address(TRAINING).to_string()));
}
