//! The catalog's inputs that are not events: the manifests published on the data gateways the
//! operator names (pulled page by page, each verified and stored once, with the SHA-256 the
//! gateway computed for each file), the gateways' public access logs, and each payment token's
//! `symbol()` and `decimals()`. `query::catalog` joins them with the licenses and terms the
//! indexer derived from the chain.
//!
//! A manifest is stored whatever license names it; the catalog shows it only next to licenses
//! minted by its creator (anyone can mint a license naming any hash).

use std::{
    collections::BTreeMap,
    time::{SystemTime, UNIX_EPOCH},
};

use alloy::{
    primitives::{Address, B256},
    providers::DynProvider,
};
use fairtrain_db::Hex;
use fairtrain_protocol::{
    api::indexer::DeviceSummary,
    bindings::IERC20Permit,
    gateway::client::{ClientError, GatewayClient},
    manifest::{device::PREFIX as DEVICE_PREFIX, DatasetManifest, DeviceProfile},
};

use crate::{Db, Error, Result};

/// Datasets read per page from a gateway.
const PAGE: usize = 100;

/// Files read per page from a gateway (its largest page by default).
const FILE_PAGE: usize = 1_000;

/// Access log entries read per page from a gateway.
const ACCESS_PAGE: usize = 1_000;

/// What one pull of a gateway did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pulled {
    /// Manifests stored now.
    pub stored: usize,
    /// Datasets seen that are not complete yet (read again next time).
    pub incomplete: usize,
    /// Access log entries stored now.
    pub accesses: usize,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn gateway_error(
    gateway: &str,
) -> impl Fn(fairtrain_protocol::gateway::client::ClientError) -> Error + '_ {
    move |e| Error::Gateway(format!("gateway {gateway}: {e}"))
}

/// Reads the datasets `gateway` published since the last pull and stores the manifest of each
/// complete one not stored yet, verified (signature and hash). The position advances past a
/// page only when every dataset on it is complete, so a dataset still being uploaded is read
/// again.
///
/// # Errors
///
/// The gateway cannot be reached or answers off-protocol; the database fails.
pub async fn pull(db: &Db, gateway: &str) -> Result<Pulled> {
    let client = GatewayClient::new(gateway).map_err(gateway_error(gateway))?;
    let mut after = cursor(db, Feed::Datasets, gateway).await?;
    let mut report = Pulled::default();
    loop {
        let page = client
            .datasets(after, PAGE)
            .await
            .map_err(gateway_error(gateway))?;
        let mut all_complete = true;
        for dataset in &page.datasets {
            if !dataset.complete {
                all_complete = false;
                report.incomplete += 1;
                continue;
            }
            let hash = dataset.manifest_hash;
            let stored: Option<(String,)> =
                sqlx::query_as("SELECT manifest_hash FROM manifests WHERE manifest_hash = $1")
                    .bind(Hex(hash))
                    .fetch_optional(&db.pool)
                    .await?;
            if stored.is_some() {
                continue;
            }
            let manifest = client
                .manifest(hash)
                .await
                .map_err(gateway_error(gateway))?;
            let digests = digests(&client, &manifest)
                .await
                .map_err(gateway_error(gateway))?;
            store(db, &manifest, &digests, gateway).await?;
            report.stored += 1;
        }
        let Some(next) = page.next.as_deref().and_then(|n| n.parse::<u64>().ok()) else {
            break;
        };
        if !all_complete {
            break;
        }
        after = next;
        save_cursor(&db.pool, Feed::Datasets, gateway, after).await?;
    }
    report.accesses = pull_accesses(db, &client, gateway).await?;
    Ok(report)
}

/// Reads `gateway`'s access log from where the last pull stopped, a page at a time, each page
/// stored with the new position in one transaction. Returns the entries stored.
async fn pull_accesses(db: &Db, client: &GatewayClient, gateway: &str) -> Result<usize> {
    let mut after = cursor(db, Feed::Accesses, gateway).await?;
    let mut stored = 0;
    loop {
        let page = client
            .accesses(after, ACCESS_PAGE)
            .await
            .map_err(gateway_error(gateway))?;
        let Some(last) = page.accesses.last().map(|a| a.seq) else {
            break;
        };
        if last <= after {
            // A log must move forward; one that does not is read again next round.
            break;
        }
        let mut tx = db.begin_write().await?;
        for entry in page.accesses.iter().filter(|a| a.seq > after) {
            sqlx::query(
                "INSERT INTO dataset_accesses (gateway, seq, manifest_hash, kind, payer, signer, \
                 license_id, path, at, receipt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (gateway, seq) DO NOTHING",
            )
            .bind(gateway)
            .bind(i64::try_from(entry.seq).unwrap_or(i64::MAX))
            .bind(Hex(entry.manifest_hash))
            .bind(&entry.kind)
            .bind(Hex(entry.payer))
            .bind(Hex(entry.signer))
            .bind(entry.license_id.to_string())
            .bind(&entry.path)
            .bind(i64::try_from(entry.at).unwrap_or(i64::MAX))
            .bind(entry.receipt.map(Hex))
            .execute(&mut *tx)
            .await?;
            stored += 1;
        }
        after = last;
        save_cursor(&mut *tx, Feed::Accesses, gateway, after).await?;
        tx.commit().await?;
        if page.next.is_none() {
            break;
        }
    }
    Ok(stored)
}

/// A gateway's feed the catalog reads from where it stopped.
#[derive(Clone, Copy)]
enum Feed {
    /// Published datasets (`GET /v1/datasets`).
    Datasets,
    /// The access log (`GET /v1/accesses`).
    Accesses,
}

impl Feed {
    /// The table of its positions, one row per gateway.
    const fn table(self) -> &'static str {
        match self {
            Self::Datasets => "gateway_cursors",
            Self::Accesses => "gateway_access_cursors",
        }
    }
}

/// Where the last pull of `gateway`'s `feed` stopped (0: the start).
async fn cursor(db: &Db, feed: Feed, gateway: &str) -> Result<u64> {
    let select = format!("SELECT after FROM {} WHERE gateway = $1", feed.table());
    let row: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(select))
        .bind(gateway)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map_or(0, |(a,)| a as u64))
}

/// Records that `gateway`'s `feed` has been read up to `after`.
async fn save_cursor<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    feed: Feed,
    gateway: &str,
    after: u64,
) -> Result<()> {
    let upsert = format!(
        "INSERT INTO {} (gateway, after) VALUES ($1, $2) \
         ON CONFLICT (gateway) DO UPDATE SET after = excluded.after",
        feed.table()
    );
    sqlx::query(sqlx::AssertSqlSafe(upsert))
        .bind(gateway)
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .execute(executor)
        .await?;
    Ok(())
}

/// The SHA-256 the gateway states for each file of `manifest`, read page by page: only for
/// paths the manifest lists, with the size and keccak256 it lists, at most one per file (a
/// gateway's answer is input like any other).
async fn digests(
    client: &GatewayClient,
    manifest: &DatasetManifest,
) -> std::result::Result<BTreeMap<String, B256>, ClientError> {
    let listed: BTreeMap<&str, (u64, B256)> = manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), (f.size, f.hash)))
        .collect();
    let hash = manifest.hash();
    let mut digests = BTreeMap::new();
    let mut from = 0u64;
    while from < manifest.files.len() as u64 {
        let page = client.files(hash, from, FILE_PAGE).await?;
        for file in page.files {
            let matches = listed.get(file.path.as_str()) == Some(&(file.size, file.hash));
            if let (true, Some(sha256)) = (matches, file.sha256) {
                digests.insert(file.path, sha256);
            }
        }
        match page.next.and_then(|n| n.parse::<u64>().ok()) {
            Some(next) if next > from => from = next,
            _ => break,
        }
    }
    Ok(digests)
}

/// Stores a verified manifest, its files' SHA-256, its metadata rows and its device summary.
async fn store(
    db: &Db,
    manifest: &DatasetManifest,
    digests: &BTreeMap<String, B256>,
    gateway: &str,
) -> Result<()> {
    let hash = manifest.hash();
    let device = manifest
        .device()
        .map_err(|e| Error::Gateway(format!("manifest {hash}: {e}")))?;
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO manifests (manifest_hash, creator, name, description, file_count, \
         total_size, gateway, document, device, device_qubits, device_calibrated_at, \
         device_max_two_qubit_error_ppb, fetched_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (manifest_hash) DO NOTHING",
    )
    .bind(Hex(hash))
    .bind(Hex(manifest.creator))
    .bind(&manifest.name)
    .bind(&manifest.description)
    .bind(manifest.files.len() as i64)
    .bind(i64::try_from(manifest.total_size()).unwrap_or(i64::MAX))
    .bind(gateway)
    .bind(manifest.to_json())
    .bind(
        device
            .as_ref()
            .map(|d| serde_json::to_string(&summary(d)).expect("a device summary serializes")),
    )
    .bind(device.as_ref().map(|d| i64::from(d.qubits)))
    .bind(
        device
            .as_ref()
            .map(|d| i64::try_from(d.calibrated_at).unwrap_or(i64::MAX)),
    )
    .bind(
        device
            .as_ref()
            .and_then(|d| d.max_multi_qubit_error())
            .map(|e| (e * 1e9).ceil() as i64),
    )
    .bind(now())
    .execute(&mut *tx)
    .await?;
    for (path, sha256) in digests {
        sqlx::query(
            "INSERT INTO manifest_files (manifest_hash, path, sha256) VALUES ($1, $2, $3) \
             ON CONFLICT (manifest_hash, path) DO NOTHING",
        )
        .bind(Hex(hash))
        .bind(path)
        .bind(Hex(*sha256))
        .execute(&mut *tx)
        .await?;
    }
    for (key, value) in &manifest.metadata {
        if key.starts_with(DEVICE_PREFIX) {
            continue;
        }
        sqlx::query(
            "INSERT INTO manifest_metadata (manifest_hash, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (manifest_hash, key) DO NOTHING",
        )
        .bind(Hex(hash))
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What the catalog shows of a device profile.
fn summary(d: &DeviceProfile) -> DeviceSummary {
    DeviceSummary {
        provider: d.provider.clone(),
        backend: d.backend.clone(),
        qubits: d.qubits,
        calibrated_at: d.calibrated_at,
        shots: d.shots,
        max_two_qubit_error: d.max_multi_qubit_error(),
    }
}

/// Reads `symbol()` and `decimals()` of every payment token of the terms that has none stored.
/// A token that does not answer is left without (the catalog then shows base units).
///
/// # Errors
///
/// The database fails.
pub async fn refresh_tokens(db: &Db, provider: &DynProvider) -> Result<usize> {
    let tokens: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT payment_token FROM terms WHERE payment_token NOT IN \
         (SELECT token FROM token_meta)",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut read = 0;
    for (token,) in tokens {
        let Ok(address) = token.parse::<Address>() else {
            continue;
        };
        let erc20 = IERC20Permit::new(address, provider);
        let (Ok(symbol), Ok(decimals)) =
            (erc20.symbol().call().await, erc20.decimals().call().await)
        else {
            continue;
        };
        // A symbol is attacker input: printable, short.
        let symbol: String = symbol
            .chars()
            .filter(|c| !c.is_control())
            .take(16)
            .collect();
        sqlx::query(
            "INSERT INTO token_meta (token, symbol, decimals) VALUES ($1, $2, $3) \
             ON CONFLICT (token) DO NOTHING",
        )
        .bind(&token)
        .bind(symbol)
        .bind(i64::from(decimals))
        .execute(&db.pool)
        .await?;
        read += 1;
    }
    Ok(read)
}
