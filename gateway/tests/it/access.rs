//! Access: a grant only for what the chain entitles, downloads that resume and verify, and a log
//! of every grant and download.

use alloy::{
    primitives::{B256, U256},
    providers::Provider,
};
use fairtrain_gateway::api::Limits;
use fairtrain_protocol::{
    bindings::{License, LicenseNFT, TrainingEscrow},
    gateway::{client::ClientError, AccessRequest, Signed},
    manifest::verify_file,
    DatasetManifest,
};
use fairtrain_testkit::{
    address, key, mined,
    scenario::{self, dataset, Licensed, CREATOR, PAYER, TRAINING},
    Backend, Devnet,
};

use crate::harness::{code, manifest, nonce, now, post, start_on, Gateway, Storage};

/// A devnet with the scenario's licensed payer, and a gateway (its blobs in `storage`) with its
/// dataset published.
async fn setup(storage: Storage) -> (Devnet, Licensed, Gateway, DatasetManifest) {
    setup_in(Backend::Sqlite, storage).await
}

/// [`setup`] over a database of `backend`.
async fn setup_in(
    backend: Backend,
    storage: Storage,
) -> (Devnet, Licensed, Gateway, DatasetManifest) {
    let devnet = Devnet::start().await;
    let licensed = scenario::licensed_payer(&devnet).await;
    let gateway = start_on(
        backend,
        storage,
        &devnet.url,
        devnet.deployment.license_nft,
        devnet.deployment.training_escrow,
        Limits {
            max_page: 3,
            ..Limits::default()
        },
    )
    .await;
    let m = DatasetManifest::parse(&std::fs::read(&licensed.manifest).unwrap()).unwrap();
    gateway
        .client
        .publish(&m, &licensed.data, &key(CREATOR))
        .await
        .unwrap();
    (devnet, licensed, gateway, m)
}

/// The code of a refused access, or "granted".
async fn ask(
    gateway: &Gateway,
    signer: usize,
    payer: usize,
    license: u64,
    terms: u64,
    m: B256,
) -> String {
    match gateway
        .client
        .access(&key(signer), address(payer), U256::from(license), terms, m)
        .await
    {
        Ok(_) => "granted".to_owned(),
        Err(ClientError::Refused { code, .. }) => code,
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn an_entitled_payer_downloads_resumes_verifies_and_is_logged() {
    entitled_download(Storage::Local).await;
}

#[tokio::test]
async fn downloads_from_a_bucket_resume_and_verify_alike() {
    entitled_download(Storage::S3).await;
}

async fn entitled_download(storage: Storage) {
    let (_devnet, licensed, gateway, m) = setup(storage).await;
    let hash = m.hash();
    let grant = gateway
        .client
        .access(
            &key(TRAINING),
            address(PAYER),
            licensed.license,
            licensed.terms,
            hash,
        )
        .await
        .unwrap();
    assert_eq!(grant.payer, address(PAYER));

    let out = tempfile::tempdir().unwrap();
    let report = gateway
        .client
        .download(&grant, &m, out.path())
        .await
        .unwrap();
    assert_eq!((report.downloaded, report.kept), (3, 0));
    for file in &m.files {
        assert_eq!(
            std::fs::read(out.path().join(&file.path)).unwrap(),
            std::fs::read(licensed.data.join(&file.path)).unwrap()
        );
    }

    // Interrupted after 4 bytes: the download resumes from there with a Range request.
    let label = out.path().join("labels.csv");
    let whole = std::fs::read(&label).unwrap();
    std::fs::remove_file(&label).unwrap();
    std::fs::write(out.path().join("labels.csv.part"), &whole[..4]).unwrap();
    let report = gateway
        .client
        .download(&grant, &m, out.path())
        .await
        .unwrap();
    assert_eq!((report.downloaded, report.resumed, report.kept), (1, 1, 2));
    assert_eq!(report.bytes, whole.len() as u64 - 4);
    assert_eq!(std::fs::read(&label).unwrap(), whole);

    // A part that is not the file's start: the result does not verify, and nothing is kept.
    std::fs::remove_file(&label).unwrap();
    std::fs::write(out.path().join("labels.csv.part"), b"EVIL").unwrap();
    let tampered = gateway
        .client
        .download(&grant, &m, out.path())
        .await
        .unwrap_err();
    assert!(
        matches!(tampered, ClientError::Tampered { .. }),
        "{tampered}"
    );
    assert!(!label.exists() && !out.path().join("labels.csv.part").exists());

    // A gateway serving other bytes (its blob altered, same length): the client refuses the file
    // and leaves nothing under its name.
    let second = m.files.iter().find(|f| f.path == "images/002.jpg").unwrap();
    let blob = gateway.blob_file(second.hash);
    let mut altered = std::fs::read(&blob).unwrap();
    altered[0] ^= 1;
    std::fs::write(&blob, &altered).unwrap();
    std::fs::remove_file(out.path().join("images/002.jpg")).unwrap();
    let refused = gateway
        .client
        .download(&grant, &m, out.path())
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ClientError::Tampered { path, .. } if path == "images/002.jpg"),
        "{refused}"
    );
    assert!(!out.path().join("images/002.jpg").exists());
    altered[0] ^= 1;
    std::fs::write(&blob, &altered).unwrap();

    // One file's proof against the files root.
    let proof: fairtrain_protocol::api::gateway::FileProof = reqwest::get(format!(
        "{}/v1/datasets/{hash}/proofs/images/002.jpg",
        gateway.url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let entry = m.files.iter().find(|f| f.path == "images/002.jpg").unwrap();
    assert_eq!(proof.files_root, m.files_root);
    assert!(verify_file(&proof.proof, m.files_root, entry));

    // A grant altered, or used for a path outside the manifest, opens nothing.
    let file_url = |path: &str, token: &str| format!("{}/{path}?grant={token}", grant.files);
    let forged = grant
        .token
        .replace(&grant.token[grant.token.len() - 4..], "0000");
    for (url, status) in [
        (file_url("labels.csv", &forged), 403),
        (file_url("labels.csv", "nonsense"), 403),
        (file_url("..%2F..%2F..%2Fetc%2Fpasswd", &grant.token), 404),
        (file_url("labels.csv", &grant.token), 200),
    ] {
        assert_eq!(reqwest::get(&url).await.unwrap().status(), status, "{url}");
    }

    // Every file carries the reuse signals of licensed data (TDMRep, AI preferences).
    let served = reqwest::get(file_url("labels.csv", &grant.token))
        .await
        .unwrap();
    assert_eq!(served.headers()["tdm-reservation"], "1");
    assert_eq!(served.headers()["content-usage"], "train-ai=n");

    // The log: the grant and every download, by the training key for the payer, paged by 3.
    let mut entries = Vec::new();
    let mut after = String::from("0");
    loop {
        let page: fairtrain_protocol::api::gateway::AccessPage = reqwest::get(format!(
            "{}/v1/datasets/{hash}/accesses?after={after}",
            gateway.url
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert!(page.accesses.len() <= 3);
        entries.extend(page.accesses);
        match page.next {
            Some(next) => after = next,
            None => break,
        }
    }
    let kinds: Vec<_> = entries.iter().map(|e| e.kind.as_str()).collect();
    // The grant; 3 downloads; 1 resumed; 1 refused by the client (a bad part); 1 of altered
    // bytes; the last GET, and the one that reads the headers.
    let mut expected = vec!["grant"];
    expected.extend(["download"; 8]);
    assert_eq!(kinds, expected);
    assert!(entries
        .iter()
        .all(|e| e.payer == address(PAYER) && e.signer == address(TRAINING)));
    assert_eq!(entries[4].range.as_deref(), Some("bytes=4-"));
}

#[tokio::test]
async fn the_chain_decides_who_may_download() {
    chain_decides(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_chain_decides_who_may_download_with_postgres() {
    chain_decides(Backend::Postgres).await;
}

async fn chain_decides(backend: Backend) {
    let (devnet, licensed, gateway, m) = setup_in(backend, Storage::Local).await;
    let hash = m.hash();
    let terms = licensed.terms;

    // Strangers, unregistered keys, unknown licenses.
    assert_eq!(
        ask(&gateway, 3, 3, 1, terms, hash).await,
        "terms_not_accepted"
    );
    assert_eq!(
        ask(&gateway, 6, PAYER, 1, terms, hash).await,
        "signer_not_registered"
    );
    assert_eq!(
        ask(&gateway, PAYER, PAYER, 99, terms, hash).await,
        "unknown_license"
    );

    // A signed request is granted once.
    let signed = Signed::sign(
        &gateway.domain,
        &key(PAYER),
        AccessRequest {
            gateway: gateway.url.clone(),
            payer: address(PAYER),
            license_id: licensed.license,
            terms_id: terms,
            manifest_hash: hash,
            expires_at: now() + 60,
            nonce: nonce(),
        },
    )
    .unwrap();
    let body = serde_json::to_value(&signed).unwrap();
    assert_eq!(post(&gateway.url, "/v1/access", &body).await.0, 200);
    let (status, answer) = post(&gateway.url, "/v1/access", &body).await;
    assert_eq!((status, code(&answer)), (409, "replayed"));
    let mut expired = signed.clone();
    expired.request.expires_at = now() - 1;
    let (status, answer) = post(
        &gateway.url,
        "/v1/access",
        &serde_json::to_value(&expired).unwrap(),
    )
    .await;
    assert_eq!((status, code(&answer)), (401, "request_expired"));

    // Another published dataset through license 1 (which covers the first).
    let other = tempfile::tempdir().unwrap();
    dataset(other.path(), "other");
    let other_manifest = manifest(other.path(), &key(CREATOR));
    gateway
        .client
        .publish(&other_manifest, other.path(), &key(CREATOR))
        .await
        .unwrap();
    assert_eq!(
        ask(&gateway, PAYER, PAYER, 1, terms, other_manifest.hash()).await,
        "manifest_mismatch"
    );

    // A license of the same manifest minted by someone else is not the creator's.
    let nft = LicenseNFT::new(devnet.deployment.license_nft, devnet.provider.clone());
    let escrow = TrainingEscrow::new(devnet.deployment.training_escrow, devnet.provider.clone());
    let mut request_terms = nft.terms(terms).call().await.unwrap();
    mined!(nft
        .mint(License::MintRequest {
            terms: request_terms.clone(),
            manifestHash: hash,
            royaltyBps: alloy::primitives::Uint::ZERO,
        })
        .from(address(3)));
    mined!(escrow
        .acceptTerms(U256::from(2), terms)
        .from(address(PAYER)));
    assert_eq!(
        ask(&gateway, PAYER, PAYER, 2, terms, hash).await,
        "not_creators_license"
    );

    // Terms that expire: the acceptance is granted in its notice period, and refused once the
    // terms expired.
    let chain_now = devnet
        .provider
        .get_block_by_number(Default::default())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    request_terms.expiresAt = alloy::primitives::Uint::from(chain_now + 7_200);
    mined!(nft
        .mint(License::MintRequest {
            terms: request_terms.clone(),
            manifestHash: hash,
            royaltyBps: alloy::primitives::Uint::ZERO,
        })
        .from(address(CREATOR)));
    let expiring = nft
        .currentTerms(U256::from(3))
        .call()
        .await
        .unwrap()
        .termsId;
    mined!(escrow
        .acceptTerms(U256::from(3), expiring)
        .from(address(PAYER)));
    let grant = gateway
        .client
        .access(&key(PAYER), address(PAYER), U256::from(3), expiring, hash)
        .await
        .unwrap();
    assert!(
        grant.chargeable_from > chain_now,
        "granted in the notice period"
    );
    devnet.advance(7_200 + 1).await;
    assert_eq!(
        ask(&gateway, PAYER, PAYER, 3, expiring, hash).await,
        "terms_expired"
    );

    // The creator's license 4, exclusive to account 3: the payer cannot accept its terms
    // (the escrow refuses), so it is not served; account 3 accepts and is.
    request_terms.expiresAt = alloy::primitives::Uint::ZERO;
    request_terms.exclusiveLicensee = address(3);
    mined!(nft
        .mint(License::MintRequest {
            terms: request_terms,
            manifestHash: other_manifest.hash(),
            royaltyBps: alloy::primitives::Uint::ZERO,
        })
        .from(address(CREATOR)));
    let exclusive = nft
        .currentTerms(U256::from(4))
        .call()
        .await
        .unwrap()
        .termsId;
    let refused = escrow
        .acceptTerms(U256::from(4), exclusive)
        .from(address(PAYER))
        .call()
        .await;
    assert!(
        refused.is_err(),
        "the escrow refuses another payer's acceptance"
    );
    let other_hash = other_manifest.hash();
    assert_eq!(
        ask(&gateway, PAYER, PAYER, 4, exclusive, other_hash).await,
        "terms_not_accepted"
    );
    mined!(escrow
        .acceptTerms(U256::from(4), exclusive)
        .from(address(3)));
    assert_eq!(
        ask(&gateway, 3, 3, 4, exclusive, other_hash).await,
        "granted"
    );

    // A revoked training key, once the revocation takes effect.
    assert_eq!(
        ask(&gateway, TRAINING, PAYER, 1, terms, hash).await,
        "granted"
    );
    mined!(escrow.revokeSigner(address(TRAINING)).from(address(PAYER)));
    devnet.advance(devnet.deployment.notice_period + 1).await;
    assert_eq!(
        ask(&gateway, TRAINING, PAYER, 1, terms, hash).await,
        "signer_not_registered"
    );
    assert_eq!(ask(&gateway, PAYER, PAYER, 1, terms, hash).await, "granted");
}

#[tokio::test]
async fn access_requests_past_the_cap_are_refused_before_the_chain_is_asked() {
    // No check may run at once, and the chain is unreachable: the refusal comes first.
    let gateway = start_on(
        Backend::Sqlite,
        Storage::Local,
        "http://127.0.0.1:9",
        alloy::primitives::Address::repeat_byte(1),
        alloy::primitives::Address::repeat_byte(2),
        Limits {
            max_checks_in_flight: 0,
            ..Limits::default()
        },
    )
    .await;
    let data = tempfile::tempdir().unwrap();
    dataset(data.path(), "a");
    let m = manifest(data.path(), &key(CREATOR));
    gateway
        .client
        .publish(&m, data.path(), &key(CREATOR))
        .await
        .unwrap();
    let refused = ask(&gateway, PAYER, PAYER, 1, 1, m.hash()).await;
    assert_eq!(refused, "overloaded");
    let log = gateway.client.dataset(m.hash()).await.unwrap();
    assert!(log.complete);
    let (status, answer) = post(
        &gateway.url,
        "/v1/access",
        &serde_json::to_value(
            Signed::sign(
                &gateway.domain,
                &key(PAYER),
                AccessRequest {
                    gateway: gateway.url.clone(),
                    payer: address(PAYER),
                    license_id: U256::from(1),
                    terms_id: 1,
                    manifest_hash: m.hash(),
                    expires_at: now() + 60,
                    nonce: nonce(),
                },
            )
            .unwrap(),
        )
        .unwrap(),
    )
    .await;
    assert_eq!((status, code(&answer)), (503, "overloaded"), "{answer}");
    let accesses: fairtrain_protocol::api::gateway::AccessPage =
        reqwest::get(format!("{}/v1/datasets/{}/accesses", gateway.url, m.hash()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(
        accesses.accesses.is_empty(),
        "nothing granted, nothing logged"
    );
}
