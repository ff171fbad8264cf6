//! Publishing: only a manifest its creator signed and asked to publish here, and only the bytes
//! it lists.

use alloy::primitives::{Address, B256, U256};
use fairtrain_gateway::api::Limits;
use fairtrain_protocol::{
    gateway::{AccessRequest, PublishRequest, Signed},
    DatasetManifest,
};
use fairtrain_testkit::{key, scenario::dataset, Backend};
use serde_json::json;

use crate::harness::{code, manifest, nonce, now, post, start_on, Storage};

/// A gateway that never asks the chain (publishing does not).
async fn offline(limits: Limits) -> crate::harness::Gateway {
    offline_on(Storage::Local, limits).await
}

/// [`offline`] with its blobs in `storage`.
async fn offline_on(storage: Storage, limits: Limits) -> crate::harness::Gateway {
    offline_in(Backend::Sqlite, storage, limits).await
}

/// [`offline_on`] over a database of `backend`.
async fn offline_in(backend: Backend, storage: Storage, limits: Limits) -> crate::harness::Gateway {
    start_on(
        backend,
        storage,
        "http://127.0.0.1:9",
        Address::repeat_byte(1),
        Address::repeat_byte(2),
        limits,
    )
    .await
}

fn publish_body(
    gateway: &crate::harness::Gateway,
    manifest: &DatasetManifest,
    signer: usize,
    edit: impl FnOnce(&mut PublishRequest),
) -> serde_json::Value {
    let mut request = PublishRequest {
        gateway: gateway.url.clone(),
        creator: manifest.creator,
        manifest_hash: manifest.hash(),
        expires_at: now() + 60,
        nonce: nonce(),
    };
    edit(&mut request);
    let signed = Signed::sign(&gateway.domain, &key(signer), request).unwrap();
    json!({ "manifest": manifest, "publish": signed })
}

#[tokio::test]
async fn only_the_creators_signed_publish_request_for_this_gateway_publishes() {
    let gateway = offline(Limits::default()).await;
    let data = tempfile::tempdir().unwrap();
    dataset(data.path(), "a");
    let m = manifest(data.path(), &key(1));

    let refused = [
        (publish_body(&gateway, &m, 3, |_| {}), 401, "bad_signature"),
        (
            publish_body(&gateway, &m, 1, |r| r.expires_at = now() - 1),
            401,
            "request_expired",
        ),
        (
            publish_body(&gateway, &m, 1, |r| r.expires_at = now() + 3_600),
            401,
            "request_too_long",
        ),
        (
            publish_body(&gateway, &m, 1, |r| r.gateway = "http://elsewhere".into()),
            401,
            "wrong_gateway",
        ),
        (
            publish_body(&gateway, &m, 1, |r| r.manifest_hash = Default::default()),
            401,
            "request_mismatch",
        ),
    ];
    for (body, status, expected) in refused {
        let (got, answer) = post(&gateway.url, "/v1/datasets", &body).await;
        assert_eq!((got, code(&answer)), (status, expected), "{answer}");
    }

    // A manifest whose files were edited after signing no longer verifies.
    let mut tampered = publish_body(&gateway, &m, 1, |_| {});
    tampered["manifest"]["files"][0]["size"] = json!("999");
    let (status, answer) = post(&gateway.url, "/v1/datasets", &tampered).await;
    assert_eq!(
        (status, code(&answer)),
        (422, "manifest_invalid"),
        "{answer}"
    );
    let (status, answer) = post(&gateway.url, "/v1/datasets", &json!({"manifest": 1})).await;
    assert_eq!((status, code(&answer)), (400, "malformed"), "{answer}");
    let unlabelled = reqwest::Client::new()
        .post(format!("{}/v1/datasets", gateway.url))
        .body(tampered.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unlabelled.status(), 415);

    // Nothing above was published.
    let listed = gateway
        .client
        .dataset(m.hash())
        .await
        .unwrap_err()
        .to_string();
    assert!(listed.contains("not_found"), "{listed}");

    let published = gateway
        .client
        .publish(&m, data.path(), &key(1))
        .await
        .unwrap();
    assert!(published.complete, "{published:?}");
    assert_eq!((published.file_count, published.files_stored), (3, 3));
    // Publishing again changes nothing.
    let (status, _) = post(
        &gateway.url,
        "/v1/datasets",
        &publish_body(&gateway, &m, 1, |_| {}),
    )
    .await;
    assert_eq!(status, 200);
    let served = gateway.client.manifest(m.hash()).await.unwrap();
    assert_eq!(served, m);
}

#[tokio::test]
async fn a_dataset_over_the_limits_is_refused() {
    let gateway = offline(Limits {
        max_files: 2,
        ..Limits::default()
    })
    .await;
    let data = tempfile::tempdir().unwrap();
    dataset(data.path(), "a");
    let m = manifest(data.path(), &key(1));
    let (status, answer) = post(
        &gateway.url,
        "/v1/datasets",
        &publish_body(&gateway, &m, 1, |_| {}),
    )
    .await;
    assert_eq!(
        (status, code(&answer)),
        (413, "dataset_too_large"),
        "{answer}"
    );
}

#[tokio::test]
async fn only_the_listed_bytes_are_stored_and_lists_are_paged() {
    only_listed_bytes_stored(Backend::Sqlite, Storage::Local).await;
}

#[tokio::test]
async fn only_the_listed_bytes_are_stored_in_a_bucket() {
    only_listed_bytes_stored(Backend::Sqlite, Storage::S3).await;
}

#[tokio::test]
async fn only_the_listed_bytes_are_stored_with_postgres() {
    only_listed_bytes_stored(Backend::Postgres, Storage::Local).await;
}

async fn only_listed_bytes_stored(backend: Backend, storage: Storage) {
    let gateway = offline_in(
        backend,
        storage,
        Limits {
            max_page: 2,
            ..Limits::default()
        },
    )
    .await;
    let http = reqwest::Client::new();
    let mut hashes = Vec::new();
    for flavour in ["a", "b", "c"] {
        let data = tempfile::tempdir().unwrap();
        dataset(data.path(), flavour);
        let m = manifest(data.path(), &key(1));
        let (status, _) = post(
            &gateway.url,
            "/v1/datasets",
            &publish_body(&gateway, &m, 1, |_| {}),
        )
        .await;
        assert_eq!(status, 201);
        hashes.push(m.hash());
        if flavour != "a" {
            continue;
        }
        let file = |path: &str| format!("{}/v1/datasets/{}/files/{path}", gateway.url, m.hash());
        let put = |path: String, bytes: &'static [u8]| http.put(path).body(bytes).send();
        let right = std::fs::read(data.path().join("images/001.jpg")).unwrap();

        let wrong = put(file("images/001.jpg"), b"jpeg one X").await.unwrap();
        assert_eq!(wrong.status(), 422);
        let long = put(file("images/001.jpg"), b"jpeg one a and then some")
            .await
            .unwrap();
        assert_eq!(long.status(), 413);
        for attack in ["..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "nope"] {
            let answer = put(file(attack), b"x").await.unwrap();
            assert_eq!(answer.status(), 404, "{attack}");
        }
        let dataset = gateway.client.dataset(m.hash()).await.unwrap();
        assert_eq!(dataset.files_stored, 0, "nothing stored by the refusals");
        assert_eq!(
            gateway.partial_uploads(),
            0,
            "no partial upload left behind"
        );

        // Access to an incomplete dataset is refused before the chain is asked.
        let access = Signed::sign(
            &gateway.domain,
            &key(2),
            AccessRequest {
                gateway: gateway.url.clone(),
                payer: key(2).address(),
                license_id: U256::from(1),
                terms_id: 1,
                manifest_hash: m.hash(),
                expires_at: now() + 60,
                nonce: nonce(),
            },
        )
        .unwrap();
        let (status, answer) = post(
            &gateway.url,
            "/v1/access",
            &serde_json::to_value(&access).unwrap(),
        )
        .await;
        assert_eq!(
            (status, code(&answer)),
            (409, "dataset_incomplete"),
            "{answer}"
        );

        let stored = http
            .put(file("images/001.jpg"))
            .body(right)
            .send()
            .await
            .unwrap();
        assert_eq!(stored.status(), 200);
        let dataset = gateway.client.dataset(m.hash()).await.unwrap();
        assert_eq!((dataset.files_stored, dataset.complete), (1, false));

        // The files, paged past the page size (2): the stored one with its SHA-256.
        let mut listed = Vec::new();
        let mut from = 0;
        loop {
            let page = gateway.client.files(m.hash(), from, 2).await.unwrap();
            assert!(page.files.len() <= 2);
            listed.extend(page.files);
            match page.next {
                Some(next) => from = next.parse().unwrap(),
                None => break,
            }
        }
        let paths: Vec<_> = listed.iter().map(|f| f.path.as_str()).collect();
        let expected: Vec<_> = m.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, expected);
        for (listed, file) in listed.iter().zip(&m.files) {
            assert_eq!((listed.size, listed.hash), (file.size, file.hash));
            let stored = file.path == "images/001.jpg";
            assert_eq!(listed.stored, stored);
            let sha256 = stored.then(|| {
                let bytes = std::fs::read(data.path().join(&file.path)).unwrap();
                B256::from_slice(
                    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes).as_ref(),
                )
            });
            assert_eq!(listed.sha256, sha256, "{}", file.path);
        }
    }

    // Three datasets, pages of two.
    let first: serde_json::Value = http
        .get(format!("{}/v1/datasets", gateway.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["datasets"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap();
    let second: serde_json::Value = http
        .get(format!("{}/v1/datasets?after={next}&limit=2", gateway.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["datasets"].as_array().unwrap().len(), 1);
    assert!(second.get("next").is_none());
    let listed: Vec<String> = first["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["datasets"].as_array().unwrap())
        .map(|d| d["manifestHash"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed,
        hashes.iter().map(|h| h.to_string()).collect::<Vec<_>>()
    );
}
