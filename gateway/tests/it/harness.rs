//! A gateway served in-process on a free port, over a fresh database (SQLite, or PostgreSQL)
//! and blob store (a folder, or a bucket of a real S3-compatible server).

use std::{
    collections::BTreeMap,
    future::IntoFuture,
    path::{Path, PathBuf},
    sync::Arc,
};

use alloy::{
    primitives::{Address, B256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use fairtrain_gateway::{
    api::{self, AppState, Limits},
    blobs::{Blobs, LocalBlobs, ObjectBlobs},
    entitle::Entitlements,
    grant::GrantKey,
    pay::Payments,
    store::Store,
};
use fairtrain_protocol::{
    gateway::{client::GatewayClient, GatewayDomain},
    DatasetManifest, EscrowDomain,
};
use fairtrain_testkit::{s3::S3Server, Backend, TestDb};
use object_store::aws::AmazonS3Builder;

/// Where a test gateway keeps the files' bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    /// A local folder.
    Local,
    /// A bucket of a real S3-compatible server (s3s-fs), under a prefix.
    S3,
}

/// The prefix of the blobs in the test bucket.
const PREFIX: &str = "gateway/blobs";

/// A running gateway.
pub(crate) struct Gateway {
    /// Its URL.
    pub(crate) url: String,
    /// A client of it.
    pub(crate) client: GatewayClient,
    /// Its request domain.
    pub(crate) domain: GatewayDomain,
    /// Its blobs.
    pub(crate) blobs: Blobs,
    /// The S3 server behind it, if any.
    pub(crate) s3: Option<S3Server>,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

/// Starts a gateway over a SQLite database (see [`start_on`]).
pub(crate) async fn start(
    storage: Storage,
    rpc: &str,
    nft: Address,
    escrow: Address,
    limits: Limits,
) -> Gateway {
    start_on(Backend::Sqlite, storage, rpc, nft, escrow, limits).await
}

/// Starts a gateway over a fresh database of `backend`, its blobs in `storage`, reading
/// entitlements from `rpc` (a devnet, or an unreachable URL for tests that do not ask the
/// chain) for the deployment of `nft` and `escrow`.
pub(crate) async fn start_on(
    backend: Backend,
    storage: Storage,
    rpc: &str,
    nft: Address,
    escrow: Address,
    limits: Limits,
) -> Gateway {
    start_with_relayer(backend, storage, rpc, nft, escrow, limits, None).await
}

/// [`start_on`], forwarding the receipts of per-access terms to the relayer at `relayer`.
pub(crate) async fn start_with_relayer(
    backend: Backend,
    storage: Storage,
    rpc: &str,
    nft: Address,
    escrow: Address,
    limits: Limits,
    relayer: Option<String>,
) -> Gateway {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db.url).await.unwrap();
    let (blobs, s3) = match storage {
        Storage::Local => (
            Blobs::Local(LocalBlobs::open(dir.path().join("blobs")).unwrap()),
            None,
        ),
        Storage::S3 => {
            let server = S3Server::start().await;
            let builder = server
                .env()
                .into_iter()
                .fold(AmazonS3Builder::new(), |b, (key, value)| {
                    b.with_config(key.to_ascii_lowercase().parse().unwrap(), value)
                });
            let url = format!("s3://{}/{PREFIX}", fairtrain_testkit::s3::BUCKET);
            let blobs = Blobs::Object(ObjectBlobs::s3(&url, builder).unwrap());
            (blobs, Some(server))
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let provider = ProviderBuilder::new()
        .connect_http(rpc.parse().unwrap())
        .erased();
    let domain = GatewayDomain::new(31337, escrow);
    let state = AppState {
        store,
        blobs: blobs.clone(),
        entitlements: Entitlements::new(provider, nft, escrow, 0)
            .with_max_in_flight(limits.max_checks_in_flight),
        chain_id: 31337,
        escrow,
        domain: domain.clone(),
        public_url: Arc::from(url.as_str()),
        grant_key: GrantKey::new([9; 32]),
        payments: Payments::new(relayer, EscrowDomain::new(31337, escrow)).unwrap(),
        limits,
    };
    tokio::spawn(axum::serve(listener, api::router(state)).into_future());
    Gateway {
        client: GatewayClient::new(&url).unwrap(),
        url,
        domain,
        blobs,
        s3,
        _db: db,
        _dir: dir,
    }
}

impl Gateway {
    /// The file holding the blob `hash`: in the folder, or in the S3 server's folder.
    pub(crate) fn blob_file(&self, hash: B256) -> PathBuf {
        match (&self.blobs, &self.s3) {
            (Blobs::Local(local), _) => local.path(hash),
            (Blobs::Object(object), Some(server)) => server.object_file(object.path(hash).as_ref()),
            (Blobs::Object(_), None) => unreachable!("an S3 gateway has its server"),
        }
    }

    /// Uploads begun and neither finished nor refused: temporary files in the folder, or open
    /// multipart uploads on the S3 server.
    pub(crate) fn partial_uploads(&self) -> usize {
        match (&self.blobs, &self.s3) {
            (Blobs::Local(local), _) => std::fs::read_dir(
                local
                    .path(B256::ZERO)
                    .parent()
                    .and_then(Path::parent)
                    .unwrap()
                    .join("tmp"),
            )
            .unwrap()
            .count(),
            (_, Some(server)) => server.open_uploads(),
            (Blobs::Object(_), None) => unreachable!("an S3 gateway has its server"),
        }
    }
}

/// A manifest of `dir`, signed by `creator`.
pub(crate) fn manifest(dir: &Path, creator: &PrivateKeySigner) -> DatasetManifest {
    let mut manifest = DatasetManifest::of_folder(
        dir,
        "Street photos",
        "",
        creator.address(),
        1_750_000_000,
        BTreeMap::new(),
    )
    .unwrap();
    manifest.sign(creator).unwrap();
    manifest
}

/// `POST`s `body` as JSON to `path` and returns the status and the answer's JSON.
pub(crate) async fn post(
    url: &str,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or_default(),
    )
}

/// The error code of an answer.
pub(crate) fn code(answer: &serde_json::Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("")
}

/// Unix seconds now.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A fresh nonce.
pub(crate) fn nonce() -> B256 {
    fairtrain_protocol::gateway::client::random_nonce()
}
