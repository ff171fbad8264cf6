//! The catalog: the scenario's dataset and a quantum dataset published on a real gateway, their
//! licenses indexed, the manifests pulled and verified, searched and filtered through the API and
//! the CLI, with amounts in the token's units; a license of the same manifest minted by someone
//! else is not listed.

use fairtrain_indexer::catalog;
use fairtrain_protocol::bindings::{License, LicenseNFT};
use fairtrain_testkit::{
    address,
    gateway::GatewayProcess,
    mined,
    scenario::{self, CREATOR},
};
use serde_json::Value;

use crate::{
    both_databases,
    support::{config, serve_api, Backend, Chain, Connect, TestDb},
};

async fn get(base: &str, path: &str) -> (u16, Value) {
    let resp = alloy::transports::http::reqwest::get(format!("{base}{path}"))
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["license_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Two datasets published on a gateway and licensed (1: the scenario's photos, research terms
/// at 0.001 fUSD; 2: quantum circuits with a device profile, commercial terms at 0.002 fUSD),
/// and license 3 of the photos' manifest minted by account 6; indexed, the gateway pulled, the
/// API served.
pub(crate) struct Published {
    pub(crate) chain: Chain,
    pub(crate) gateway: GatewayProcess,
    pub(crate) test_db: TestDb,
    pub(crate) base: String,
}

pub(crate) async fn published(backend: Backend) -> Published {
    let chain = Chain::deployed().await;
    let licensed = scenario::licensed_payer(&chain).await;
    let gateway = GatewayProcess::start(&chain).await;
    let dir = chain.dir.path();
    gateway.publish(&chain, CREATOR, &licensed.data, &licensed.manifest);

    // A quantum dataset with a device profile, under commercial terms at 0.002 fUSD a sample.
    let qdata = dir.join("quantum");
    std::fs::create_dir_all(&qdata).unwrap();
    std::fs::write(qdata.join("circuits.qpy"), b"QISKIT circuits").unwrap();
    let device = dir.join("device.json");
    std::fs::write(
        &device,
        r#"{"provider": "ibm", "backend": "ibm_kyiv", "qubits": 2, "calibratedAt": 1750000000,
            "shots": 4000, "circuits": 12, "qubitProperties": [{"t1": 0.0001}],
            "gates": [{"name": "ecr", "qubits": [0, 1], "error": 0.031}]}"#,
    )
    .unwrap();
    let qmanifest = dir.join("quantum.json").display().to_string();
    let qdata_s = qdata.display().to_string();
    chain.cli(
        CREATOR,
        &[
            "manifest",
            "build",
            &qdata_s,
            "--name",
            "Kyiv circuits",
            "--meta",
            "topic=chemistry",
            "--device",
            device.to_str().unwrap(),
            "--sign",
            "--out",
            &qmanifest,
        ],
    );
    chain.cli(
        CREATOR,
        &[
            "license",
            "mint",
            "--manifest",
            &qmanifest,
            "--template",
            "commercial",
            "--unit",
            "access",
            "--price",
            "0.002",
        ],
    );
    gateway.publish(&chain, CREATOR, &qdata, std::path::Path::new(&qmanifest));
    // License 3: the scenario's manifest, minted by account 6, not its creator.
    let nft = LicenseNFT::new(chain.deployment.license_nft, chain.provider.clone());
    let mut terms = nft.terms(licensed.terms).call().await.unwrap();
    terms.pricePerSample = alloy::primitives::Uint::from(1u64);
    let record = nft.license(licensed.license).call().await.unwrap();
    mined!(nft
        .mint(License::MintRequest {
            terms,
            manifestHash: record.manifestHash,
            royaltyBps: alloy::primitives::Uint::ZERO,
        })
        .from(address(6)));

    let test_db = TestDb::new(backend);
    let db = test_db.connect().await;
    let mut indexer = chain.indexer(&db, config()).await;
    indexer.sync_to_head().await.unwrap();
    let pulled = catalog::pull(&db, &gateway.url).await.unwrap();
    assert_eq!(pulled.stored, 2);
    assert_eq!(
        catalog::pull(&db, &gateway.url).await.unwrap().stored,
        0,
        "each once"
    );
    assert_eq!(
        catalog::refresh_tokens(&db, &chain.provider).await.unwrap(),
        1
    );
    let base = serve_api(&chain, &db).await;
    Published {
        chain,
        gateway,
        test_db,
        base,
    }
}

async fn catalog_lists_published_licensed_datasets(backend: Backend) {
    let Published {
        chain,
        gateway,
        test_db,
        base,
    } = published(backend).await;
    let (status, all) = get(&base, "/api/catalog").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all), ["1", "2"], "license 3 is not the creator's");
    let photos = &all["items"][0];
    assert_eq!(photos["name"], "Street photos");
    assert_eq!(photos["kind"], "research_only");
    assert_eq!(photos["unit"], "sample");
    assert_eq!(all["items"][1]["unit"], "access");
    assert_eq!(photos["price_per_sample"]["display"], "0.001 fUSD");
    assert_eq!(photos["price_per_sample"]["units"], "1000");
    assert_eq!(photos["payers"], 1);
    assert_eq!(photos["file_count"], 3);
    assert_eq!(photos["gateway"], gateway.url.as_str());

    for (filter, expected) in [
        ("kind=commercial", vec!["2"]),
        ("commercial=false", vec!["1"]),
        ("max_price=1000", vec!["1"]),
        ("max_price=999", vec![]),
        ("unit=access", vec!["2"]),
        ("unit=sample", vec!["1"]),
        ("unit=inference", vec![]),
        ("q=KYIV", vec!["2"]),
        ("q=%25", vec![]),
        ("meta=topic%3Dchemistry", vec!["2"]),
        ("max_two_qubit_error=0.04", vec!["2"]),
        ("max_two_qubit_error=0.03", vec![]),
        ("calibrated_after=1750000000", vec!["2"]),
        ("min_qubits=3", vec![]),
        ("exclusive=false&active_at=4000000000", vec!["1", "2"]),
        ("min_size=1000000", vec![]),
    ] {
        let (status, page) = get(&base, &format!("/api/catalog?{filter}")).await;
        assert_eq!(status, 200, "{filter}: {page}");
        assert_eq!(ids(&page), expected, "{filter}");
    }
    for bad in [
        "kind=free",
        "unit=samples",
        "min_size=9223372036854775808",
        "meta=no-equals-sign",
    ] {
        let (status, answer) = get(&base, &format!("/api/catalog?{bad}")).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("malformed")),
            "{bad}"
        );
    }

    let (status, card) = get(&base, "/api/catalog/2").await;
    assert_eq!(status, 200, "{card}");
    assert_eq!(card["entry"]["device"]["backend"], "ibm_kyiv");
    assert_eq!(card["entry"]["device"]["max_two_qubit_error"], 0.031);
    assert!(card["entry"]["metadata"].get("device.backend").is_none());
    let terms: Vec<&str> = card["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        terms.contains(&"Costs 0.002 fUSD per access: each download of the dataset from its gateway is paid through the escrow when it is granted."),
        "{terms:?}"
    );
    assert!(
        terms.contains(&"Models trained on it may be used commercially."),
        "{terms:?}"
    );
    let (_, photos_card) = get(&base, "/api/catalog/1").await;
    assert_eq!(photos_card["files"].as_array().unwrap().len(), 3);
    assert_eq!(
        photos_card["trainers"][0]["payer"],
        format!("{:#x}", address(scenario::PAYER))
    );
    assert_eq!(get(&base, "/api/catalog/3").await.0, 404);

    // The payer downloads the dataset; the next pull reads the gateway's log, and the card shows
    // the grant and the three downloads under license 1 (and nothing under license 2).
    let out = chain.dir.path().join("got");
    chain.cli(
        scenario::PAYER,
        &[
            "dataset",
            "get",
            "1",
            "--gateway",
            &gateway.url,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let db = test_db.connect().await;
    assert_eq!(catalog::pull(&db, &gateway.url).await.unwrap().accesses, 4);
    assert_eq!(catalog::pull(&db, &gateway.url).await.unwrap().accesses, 0);
    let (_, accessed) = get(&base, "/api/catalog/1").await;
    assert_eq!(
        accessed["access"],
        serde_json::json!({"grants": 1, "paid": 0, "downloads": 3, "payers": 1,
            "last_at": accessed["accesses"][0]["at"]}),
        "{accessed}"
    );
    assert_eq!(accessed["accesses"].as_array().unwrap().len(), 4);
    assert_eq!(accessed["accesses"][0]["kind"], "download");
    assert_eq!(accessed["accesses"][3]["kind"], "grant");
    assert_eq!(
        accessed["accesses"][3]["receipt"],
        serde_json::Value::Null,
        "per sample: unpaid"
    );
    assert_eq!(
        accessed["accesses"][3]["payer"],
        format!("{:#x}", address(scenario::PAYER))
    );
    let (_, other) = get(&base, "/api/catalog/2").await;
    assert_eq!(other["access"]["grants"], 0);

    // What a card shows first, paged past the page size: files, payers, accesses.
    let walk = |path: &'static str, per_page: u64| {
        let base = base.clone();
        async move {
            let mut items = Vec::new();
            for page in 1.. {
                let (status, answer) =
                    get(&base, &format!("{path}?page={page}&per_page={per_page}")).await;
                assert_eq!(status, 200, "{answer}");
                let got = answer["items"].as_array().unwrap().clone();
                assert!(got.len() as u64 <= per_page);
                let total = answer["total"].as_u64().unwrap();
                items.extend(got);
                if items.len() as u64 >= total {
                    break;
                }
            }
            items
        }
    };
    let files = walk("/api/catalog/1/files", 2).await;
    assert_eq!(files, photos_card["files"].as_array().unwrap().clone());
    let trainers = walk("/api/catalog/1/trainers", 1).await;
    assert_eq!(
        trainers,
        photos_card["trainers"].as_array().unwrap().clone()
    );
    let accesses = walk("/api/catalog/1/accesses", 3).await;
    assert_eq!(accesses, accessed["accesses"].as_array().unwrap().clone());
    assert_eq!(get(&base, "/api/catalog/3/files").await.0, 404);
    assert_eq!(
        get(&base, "/api/catalog/1/files?per_page=1001").await.0,
        400
    );

    // Its Croissant document: every file at its gateway URL, with the SHA-256 of its bytes (the
    // gateway's) and the keccak256 of the signed manifest; its terms as a TDMRep policy.
    let (status, croissant) = get(&base, "/api/catalog/1/croissant").await;
    assert_eq!(status, 200, "{croissant}");
    assert_eq!(
        croissant["conformsTo"],
        "http://mlcommons.org/croissant/1.0"
    );
    assert_eq!(croissant["@id"], format!("{base}/api/catalog/1"));
    let photos = chain.dir.path().join("photos");
    let licensed: Vec<(String, Vec<u8>)> = ["images/001.jpg", "images/002.jpg", "labels.csv"]
        .into_iter()
        .map(|p| (p.to_owned(), std::fs::read(photos.join(p)).unwrap()))
        .collect();
    let objects = croissant["distribution"].as_array().unwrap();
    assert_eq!(objects.len(), licensed.len());
    for (object, (path, bytes)) in objects.iter().zip(&licensed) {
        assert_eq!(object["name"], path.as_str());
        let sha256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
        assert_eq!(
            object["sha256"],
            alloy::hex::encode(sha256.as_ref()),
            "{path}"
        );
        assert_eq!(
            object["ft:keccak256"],
            format!("{:#x}", alloy::primitives::keccak256(bytes))
        );
        assert!(object["contentUrl"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/v1/datasets/0x", gateway.url)));
    }
    let (status, policy) = get(&base, "/api/catalog/1/tdm-policy").await;
    assert_eq!(status, 200, "{policy}");
    assert_eq!(policy["permission"][0]["action"], "tdm:mine");
    assert_eq!(
        policy["permission"][0]["constraint"][0]["rightOperand"],
        "tdm:research"
    );
    assert_eq!(get(&base, "/api/catalog/3/croissant").await.0, 404);
    assert_eq!(get(&base, "/api/catalog/3/tdm-policy").await.0, 404);

    // The CLI answers the same, after reading the gateway itself.
    let out = std::process::Command::new(fairtrain_testkit::bin("fairtrain-indexer"))
        .args([
            "--db",
            &test_db.url,
            "--rpc-url",
            &chain.url,
            "--deployment",
            chain.deployment_file().to_str().unwrap(),
            "catalog",
            "--gateway",
            &gateway.url,
            "--kind",
            "commercial",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ids(&page), ["2"]);
}

both_databases!(
    catalog_lists_datasets,
    super::catalog_lists_published_licensed_datasets
);
