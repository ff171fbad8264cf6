//! The two stores behind the gateway, the local folder and an S3-compatible bucket (a real
//! s3s-fs server): the same uploads refused and stored, the same answers to the same ranges,
//! an outage of the bucket answered with a clear error, and the binary configured for a bucket
//! from its environment.

use alloy::primitives::{keccak256, Address, B256};
use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::header,
};
use fairtrain_gateway::{
    api::Limits,
    blobs::{blob_name, Blobs, PutError},
};
use fairtrain_testkit::{
    bin, free_port, gateway::GatewayProcess, key, s3::S3Server, scenario::dataset,
    scenario::CREATOR, Devnet,
};
use futures::StreamExt;

use crate::harness::{code, manifest, start, Gateway, Storage};

/// More than one 16 MiB part, so a bucket takes it as a multipart upload.
const LARGE: usize = (16 << 20) + (3 << 20) + 7;

/// A gateway that never asks the chain, its blobs in `storage`.
async fn offline(storage: Storage) -> Gateway {
    start(
        storage,
        "http://127.0.0.1:9",
        Address::repeat_byte(1),
        Address::repeat_byte(2),
        Limits::default(),
    )
    .await
}

/// `bytes` as an upload's body, in 1 MiB chunks.
fn body(bytes: &Bytes) -> impl futures::Stream<Item = Result<Bytes, String>> + Unpin + Send {
    let chunks: Vec<_> = (0..bytes.len())
        .step_by(1 << 20)
        .map(|at| Ok(bytes.slice(at..bytes.len().min(at + (1 << 20)))))
        .collect();
    futures::stream::iter(chunks)
}

/// What a store answers to a `GET` with `range`: status, `Content-Range`, `Content-Length`
/// and the body.
async fn get(
    blobs: &Blobs,
    hash: B256,
    size: u64,
    range: Option<&str>,
) -> (u16, Option<String>, Option<String>, Vec<u8>) {
    let mut request = Request::get("/blob");
    if let Some(range) = range {
        request = request.header(header::RANGE, range);
    }
    let response = blobs
        .serve(hash, size, request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let (status, content_range, length) = (
        response.status().as_u16(),
        header(header::CONTENT_RANGE),
        header(header::CONTENT_LENGTH),
    );
    let mut bytes = Vec::new();
    let mut stream = response.into_body().into_data_stream();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    (status, content_range, length, bytes)
}

#[tokio::test]
async fn both_stores_refuse_alike_store_alike_and_serve_the_same_ranges() {
    let local = offline(Storage::Local).await;
    let bucket = offline(Storage::S3).await;
    let data = Bytes::from((0..LARGE).map(|i| (i * 31 % 251) as u8).collect::<Vec<_>>());
    let hash = keccak256(&data);
    let size = LARGE as u64;
    let mut altered = data.to_vec();
    altered[LARGE - 1] ^= 1;
    let altered = Bytes::from(altered);

    for gateway in [&local, &bucket] {
        // Every byte but the last is right: the store takes it all before it can know, then
        // refuses it, and nothing is left (the bucket's multipart upload is aborted).
        let refused = gateway.blobs.put(hash, size, body(&altered)).await;
        assert!(
            matches!(refused, Err(PutError::Mismatch { .. })),
            "{refused:?}"
        );
        let longer = Bytes::from([data.to_vec(), vec![0]].concat());
        let refused = gateway.blobs.put(hash, size, body(&longer)).await;
        assert!(
            matches!(refused, Err(PutError::TooLarge { .. })),
            "{refused:?}"
        );
        assert!(!gateway.blobs.contains(hash).await.unwrap());
        assert!(!gateway.blob_file(hash).exists());
        assert_eq!(gateway.partial_uploads(), 0, "no partial upload left");

        gateway.blobs.put(hash, size, body(&data)).await.unwrap();
        assert!(gateway.blobs.contains(hash).await.unwrap());
        assert_eq!(std::fs::read(gateway.blob_file(hash)).unwrap(), data);
        assert_eq!(gateway.partial_uploads(), 0);
    }

    // The same requests get the same answers from both stores, byte for byte.
    let part = 16 << 20;
    for range in [
        None,
        Some("bytes=0-0".to_owned()),
        Some(format!("bytes={}-{}", part - 5, part + 5)),
        Some(format!("bytes={}-", LARGE - 3)),
        Some("bytes=-9".to_owned()),
        Some(format!("bytes={LARGE}-")),
        Some("bytes=0-1,5-6".to_owned()),
        Some("pages=1-2".to_owned()),
    ] {
        let from_local = get(&local.blobs, hash, size, range.as_deref()).await;
        let from_bucket = get(&bucket.blobs, hash, size, range.as_deref()).await;
        assert_eq!(
            (&from_local.0, &from_local.1, &from_local.2),
            (&from_bucket.0, &from_bucket.1, &from_bucket.2),
            "{range:?}"
        );
        if from_local.0 < 300 {
            assert!(
                from_local.3 == from_bucket.3,
                "the same bytes for {range:?}"
            );
        }
    }
    let (status, content_range, _, bytes) = get(
        &bucket.blobs,
        hash,
        size,
        Some(&format!("bytes={}-{}", part - 5, part + 5)),
    )
    .await;
    assert_eq!(status, 206);
    assert_eq!(
        content_range.unwrap(),
        format!("bytes {}-{}/{LARGE}", part - 5, part + 5)
    );
    assert_eq!(bytes, &data[part - 5..=part + 5]);
    let (status, content_range, _, _) =
        get(&bucket.blobs, hash, size, Some(&format!("bytes={LARGE}-"))).await;
    assert_eq!(
        (status, content_range.unwrap()),
        (416, format!("bytes */{LARGE}"))
    );
}

#[tokio::test]
async fn a_bucket_that_stops_answering_gets_a_clear_error_and_loses_nothing() {
    let mut gateway = offline(Storage::S3).await;
    let http = reqwest::Client::new();
    let ready = http
        .get(format!("{}/ready", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    gateway.s3.as_mut().unwrap().stop();
    let ready = http
        .get(format!("{}/ready", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.text().await.unwrap(), "the storage does not answer");
    let hash = keccak256(b"bytes");
    let refused = gateway
        .blobs
        .put(hash, 5, body(&Bytes::from_static(b"bytes")))
        .await;
    assert!(matches!(refused, Err(PutError::Storage(_))), "{refused:?}");
    let error = fairtrain_gateway::api::ApiError::from(refused.unwrap_err());
    let answer = axum::response::IntoResponse::into_response(error);
    assert_eq!(answer.status(), 503);
    let answer: serde_json::Value = serde_json::from_slice(
        &axum::body::to_bytes(answer.into_body(), 1 << 16)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(code(&answer), "storage_unavailable", "{answer}");
}

#[tokio::test]
async fn the_binary_keeps_its_blobs_in_the_bucket_its_environment_names() {
    let devnet = Devnet::start().await;
    let s3 = S3Server::start().await;
    let gateway = GatewayProcess::start_on(&devnet, Some(&s3)).await;
    let data = devnet.dir.path().join("photos");
    dataset(&data, "a");
    let m = manifest(&data, &key(CREATOR));
    let manifest_file = devnet.dir.path().join("photos.json");
    std::fs::write(&manifest_file, serde_json::to_vec(&m).unwrap()).unwrap();
    gateway.publish(&devnet, CREATOR, &data, &manifest_file);
    for file in &m.files {
        let name = format!("gateway/{}", blob_name(file.hash));
        assert_eq!(
            std::fs::read(s3.object_file(&name)).unwrap(),
            std::fs::read(data.join(&file.path)).unwrap(),
            "{} is in the bucket under its hash",
            file.path
        );
    }
    assert!(
        !gateway.blobs.exists(),
        "nothing went to the default folder"
    );

    // A bucket that does not answer: the gateway refuses to start, and says why.
    let output = devnet
        .command(bin("fairtrain-gateway"), None)
        .envs(s3.env())
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", free_port()),
        )
        .env("STORAGE", "s3://fairtrain/gateway")
        .env("RPC_URL", &devnet.url)
        .env("DEPLOYMENT", devnet.deployment_file())
        .env("LISTEN", format!("127.0.0.1:{}", free_port()))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", devnet.dir.path().join("second.db").display()),
        )
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("s3://fairtrain/gateway") && stderr.contains("does not answer"),
        "{stderr}"
    );
}
