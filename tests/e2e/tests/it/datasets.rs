//! Datasets through the gateway, with the real binaries: the creator publishes with the CLI, the
//! payer's training key downloads the license's dataset with the CLI (interrupted and resumed),
//! and the gateway's log shows the access to the creator.

use fairtrain_testkit::{
    address,
    gateway::GatewayProcess,
    scenario::{self, CREATOR, PAYER, TRAINING},
    Devnet,
};

/// `fairtrain --json dataset get <license> --gateway <gateway> --out <out> --payer <payer>`.
fn get_args<'a>(license: &'a str, gateway: &'a str, out: &'a str, payer: &'a str) -> [&'a str; 10] {
    [
        "--json",
        "dataset",
        "get",
        license,
        "--gateway",
        gateway,
        "--out",
        out,
        "--payer",
        payer,
    ]
}

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
    let get = get_args("1", &url, &out_arg, &payer);
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

#[tokio::test(flavor = "multi_thread")]
async fn a_dataset_priced_per_access_is_paid_per_download_and_claimed_by_its_creator() {
    use crate::{
        lifecycle::all_committed,
        support::{Devnet as Chain, Relayer},
    };
    use alloy::{primitives::U256, providers::Provider};
    use fairtrain_testkit::{devnet::NOTICE, poll, Backend, TestDb};

    let chain = Chain::start().await;
    let devnet: &Devnet = &chain;
    scenario::licensed_payer(devnet).await;
    // A second dataset, priced per access: 2 fUSD each time the payer is granted its files.
    let scans = scenario::access_priced(devnet).await;
    let (data, manifest) = (scans.data, scans.manifest);
    let dir = devnet.dir.path();
    let shown = devnet.cli(CREATOR, &["license", "show", "2"]);
    assert!(shown.contains("per access"), "{shown}");

    let store = TestDb::new(Backend::Sqlite);
    let relayer = Relayer::start(&chain, &store).await;
    let gateway = GatewayProcess::start_with(devnet, None, Some(&relayer.url)).await;
    let url = gateway.url.clone();
    gateway.publish(devnet, CREATOR, &data, &manifest);
    let out = dir.join("scans-downloaded");
    let out_arg = out.display().to_string();
    let payer = address(PAYER).to_string();
    let get = get_args("2", &url, &out_arg, &payer);

    // In the notice period an access is not served: it would be paid only once chargeable.
    let early = devnet.cli_output(TRAINING, &get);
    assert!(!early.status.success());
    let stderr = String::from_utf8_lossy(&early.stderr);
    assert!(stderr.contains("not_chargeable_yet"), "{stderr}");
    assert!(!out.join("labels.csv").exists());

    devnet.advance(NOTICE + 1).await;
    relayer
        .wait_followed(devnet.provider.get_block_number().await.unwrap())
        .await;

    // Two downloads, two accesses, two receipts; the second keeps the files already there.
    let creator = address(CREATOR);
    let before = chain.balance(creator).await;
    let fees_before = chain.fees().await;
    let first: serde_json::Value = serde_json::from_str(&devnet.cli(TRAINING, &get)).unwrap();
    assert_eq!(first["downloaded"].as_u64(), Some(3), "{first}");
    let second: serde_json::Value = serde_json::from_str(&devnet.cli(TRAINING, &get)).unwrap();
    assert_eq!(second["kept"].as_u64(), Some(3), "{second}");
    let receipts: Vec<&str> = [&first, &second]
        .iter()
        .map(|g| {
            g["receipt"]
                .as_str()
                .expect("a paid access names its receipt")
        })
        .collect();
    assert_ne!(receipts[0], receipts[1]);
    for receipt in &receipts {
        let stored = relayer.get(&format!("/v1/receipts/{receipt}")).await;
        assert_eq!(stored["receipt"]["cumulativeSamples"], "1", "{stored}");
        assert_eq!(stored["receipt"]["licenseId"], "2", "{stored}");
    }

    // The relayer commits them like training usage, and the creator claims exactly two
    // accesses' worth (the relayer's fee aside).
    all_committed(&relayer, 2).await;
    let claimed = poll(60, || async {
        let out = devnet.cli_output(
            CREATOR,
            &[
                "--json",
                "creator",
                "claim",
                "--relayer-url",
                &relayer.url,
                "--license",
                "2",
            ],
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        (out.status.success() && text.contains("paidToPayee")).then_some(text)
    })
    .await
    .expect("the creator claims");
    let received = chain.balance(creator).await - before;
    let fees = chain.fees().await - fees_before;
    assert_eq!(
        received + fees,
        U256::from(2 * scenario::ACCESS_PRICE),
        "{claimed}"
    );
    assert!(received > U256::ZERO);

    // The gateway's log shows both grants to the creator.
    let hash = first["manifestHash"].as_str().unwrap();
    let log: serde_json::Value = reqwest::get(format!("{url}/v1/datasets/{hash}/accesses"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grants = log["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "grant")
        .count();
    assert_eq!(grants, 2, "{log}");
}
