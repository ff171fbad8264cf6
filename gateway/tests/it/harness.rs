//! A gateway served in-process on a free port, over a fresh SQLite database and blob folder.

use std::{collections::BTreeMap, future::IntoFuture, path::Path, sync::Arc};

use alloy::{
    primitives::{Address, B256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use fairtrain_gateway::{
    api::{self, AppState, Limits},
    blobs::LocalBlobs,
    entitle::Entitlements,
    grant::GrantKey,
    store::Store,
};
use fairtrain_protocol::{
    gateway::{client::GatewayClient, GatewayDomain},
    DatasetManifest,
};
use fairtrain_testkit::{Backend, TestDb};

/// A running gateway.
pub(crate) struct Gateway {
    /// Its URL.
    pub(crate) url: String,
    /// A client of it.
    pub(crate) client: GatewayClient,
    /// Its request domain.
    pub(crate) domain: GatewayDomain,
    /// Its blob folder.
    pub(crate) blobs: LocalBlobs,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

/// Starts a gateway reading entitlements from `rpc` (a devnet, or an unreachable URL for tests
/// that do not ask the chain) for the deployment of `nft` and `escrow`.
pub(crate) async fn start(rpc: &str, nft: Address, escrow: Address, limits: Limits) -> Gateway {
    let db = TestDb::new(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&db.url).await.unwrap();
    let blobs = LocalBlobs::open(dir.path().join("blobs")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let provider = ProviderBuilder::new()
        .connect_http(rpc.parse().unwrap())
        .erased();
    let domain = GatewayDomain::new(31337, escrow);
    let state = AppState {
        store,
        blobs: blobs.clone(),
        entitlements: Entitlements::new(provider, nft, escrow, 0),
        chain_id: 31337,
        escrow,
        domain: domain.clone(),
        public_url: Arc::from(url.as_str()),
        grant_key: GrantKey::new([9; 32]),
        limits,
    };
    tokio::spawn(axum::serve(listener, api::router(state)).into_future());
    Gateway {
        client: GatewayClient::new(&url).unwrap(),
        url,
        domain,
        blobs,
        _db: db,
        _dir: dir,
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
