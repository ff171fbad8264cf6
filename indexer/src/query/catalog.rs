//! The catalog: licensed datasets (a license, its current terms, and the published manifest it
//! covers, signed by the license's creator), searched and filtered; and a dataset's card.

use std::collections::BTreeMap;

use alloy::primitives::{B256, U256};
use fairtrain_protocol::{
    api::indexer::{
        AccessSummary, Amount, CardFile, CatalogEntry, DatasetAccess, DatasetCard, DeviceSummary,
        Paged, TokenView, Trainer,
    },
    pricing::Unit,
    units::format_units,
    DatasetManifest,
};
use serde::Deserialize;
use sqlx::FromRow;

use super::{lower, paged, Page};
use crate::{Db, Error, Result};

/// Files and trainers a card lists at most.
const CARD_LIMIT: usize = 100;

/// What the catalog is filtered by; every field is optional and they combine with AND.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, clap::Args)]
#[into_params(parameter_in = Query)]
pub struct CatalogFilter {
    /// Words in the dataset's name or description (case-insensitive).
    #[arg(long)]
    pub q: Option<String>,
    /// License kind: `research_only`, `commercial`, `evaluation`, `attribution_share_alike`,
    /// `custom`.
    #[param(pattern = "^(research_only|commercial|evaluation|attribution_share_alike|custom)$")]
    #[arg(long)]
    pub kind: Option<String>,
    /// What the price is paid per: `sample`, `access`, `inference`.
    #[param(pattern = "^(sample|access|inference)$")]
    #[arg(long)]
    pub unit: Option<String>,
    /// Payment token (address).
    #[arg(long)]
    pub token: Option<String>,
    /// Highest price per unit, in the token's base units.
    #[arg(long)]
    pub max_price: Option<u64>,
    /// Models may be used commercially.
    #[arg(long)]
    pub commercial: Option<bool>,
    /// Derived works: `not_allowed`, `allowed` or `share_alike`.
    #[param(pattern = "^(not_allowed|allowed|share_alike)$")]
    #[arg(long)]
    pub derivatives: Option<String>,
    /// Exclusive terms (`true`), or open to any payer (`false`).
    #[arg(long)]
    pub exclusive: Option<bool>,
    /// Terms still acceptable at this time (Unix seconds): not expired by then.
    #[arg(long)]
    pub active_at: Option<u64>,
    /// Creator (address).
    #[arg(long)]
    pub creator: Option<String>,
    /// Smallest total size in bytes.
    #[arg(long)]
    pub min_size: Option<u64>,
    /// Largest total size in bytes.
    #[arg(long)]
    pub max_size: Option<u64>,
    /// A metadata entry, `key=value`.
    #[param(pattern = "^[^=]+=")]
    #[arg(long)]
    pub meta: Option<String>,
    /// Quantum datasets on devices of at least this many qubits.
    #[arg(long)]
    pub min_qubits: Option<u32>,
    /// Quantum datasets whose largest two-qubit gate error is at most this.
    #[arg(long)]
    pub max_two_qubit_error: Option<f64>,
    /// Quantum datasets calibrated at or after this time (Unix seconds).
    #[arg(long)]
    pub calibrated_after: Option<u64>,
}

const KINDS: [&str; 5] = [
    "research_only",
    "commercial",
    "evaluation",
    "attribution_share_alike",
    "custom",
];
const DERIVATIVES: [&str; 3] = ["not_allowed", "allowed", "share_alike"];

fn position(what: &'static str, names: &[&str], name: &str) -> Result<i64> {
    names
        .iter()
        .position(|n| *n == name)
        .map(|i| i as i64)
        .ok_or_else(|| Error::invalid(what, format!("{name:?} is not one of {}", names.join(", "))))
}

/// `value` as a database integer: a value past `i64::MAX` is refused, as the document's `int64`
/// says.
fn int(what: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| Error::invalid(what, format!("{value} is past 2^63 - 1")))
}

/// A value bound to a placeholder.
enum Bind {
    Text(String),
    Int(i64),
}

/// A WHERE clause being built: conditions joined by AND, and their values in placeholder order.
struct Where {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Where {
    /// Adds `clause`, whose `?` (every one) stands for `bind`.
    fn push(&mut self, clause: &str, bind: Bind) {
        self.push_all(clause, vec![bind]);
    }

    /// Adds `clause`, whose `{0}`, `{1}`, … stand for `binds` in order (and every `?` for the
    /// first).
    fn push_all(&mut self, clause: &str, binds: Vec<Bind>) {
        let mut clause = clause.to_owned();
        for (i, bind) in binds.into_iter().enumerate() {
            self.binds.push(bind);
            let placeholder = format!("${}", self.binds.len());
            clause = clause.replace(&format!("{{{i}}}"), &placeholder);
            if i == 0 {
                clause = clause.replace('?', &placeholder);
            }
        }
        self.clauses.push(clause);
    }
}

/// The WHERE clause of `filter` and what it binds, in order.
fn conditions(filter: &CatalogFilter) -> Result<(String, Vec<Bind>)> {
    let mut w = Where {
        clauses: vec!["1 = 1".to_owned()],
        binds: Vec::new(),
    };
    if let Some(q) = filter.q.as_deref().filter(|q| !q.trim().is_empty()) {
        let pattern = format!(
            "%{}%",
            q.trim()
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        w.push(
            "(LOWER(m.name) LIKE ? ESCAPE '\\' OR LOWER(m.description) LIKE ? ESCAPE '\\')",
            Bind::Text(pattern),
        );
    }
    if let Some(kind) = &filter.kind {
        w.push("t.kind = ?", Bind::Int(position("kind", &KINDS, kind)?));
    }
    if let Some(unit) = &filter.unit {
        let unit: Unit = unit
            .parse()
            .map_err(|e: String| Error::invalid("unit", e))?;
        w.push("t.unit = ?", Bind::Int(i64::from(unit.value())));
    }
    if let Some(token) = &filter.token {
        w.push("t.payment_token = ?", Bind::Text(lower(token)));
    }
    if let Some(max) = filter.max_price {
        int("max_price", max)?;
        // Stored as decimal text: compare by length, then as text (no leading zeros).
        let max = max.to_string();
        w.push(
            "(LENGTH(t.price_per_sample) < LENGTH(?) OR (LENGTH(t.price_per_sample) = LENGTH(?) AND t.price_per_sample <= ?))",
            Bind::Text(max),
        );
    }
    if let Some(commercial) = filter.commercial {
        w.push("t.commercial_use = ?", Bind::Int(i64::from(commercial)));
    }
    if let Some(derivatives) = &filter.derivatives {
        w.push(
            "t.derivatives = ?",
            Bind::Int(position("derivatives", &DERIVATIVES, derivatives)?),
        );
    }
    if let Some(exclusive) = filter.exclusive {
        let zero = "0x0000000000000000000000000000000000000000";
        if exclusive {
            w.push("t.exclusive_licensee <> ?", Bind::Text(zero.into()));
        } else {
            w.push("t.exclusive_licensee = ?", Bind::Text(zero.into()));
        }
    }
    if let Some(at) = filter.active_at {
        w.push(
            "(t.expires_at = 0 OR t.expires_at > ?)",
            Bind::Int(int("active_at", at)?),
        );
    }
    if let Some(creator) = &filter.creator {
        w.push("l.creator = ?", Bind::Text(lower(creator)));
    }
    if let Some(min) = filter.min_size {
        w.push("m.total_size >= ?", Bind::Int(int("min_size", min)?));
    }
    if let Some(max) = filter.max_size {
        w.push("m.total_size <= ?", Bind::Int(int("max_size", max)?));
    }
    if let Some(meta) = &filter.meta {
        let (key, value) = meta
            .split_once('=')
            .ok_or_else(|| Error::invalid("meta", "expected key=value"))?;
        w.push_all(
            "EXISTS (SELECT 1 FROM manifest_metadata mm WHERE mm.manifest_hash = m.manifest_hash \
             AND mm.key = {0} AND mm.value = {1})",
            vec![Bind::Text(key.to_owned()), Bind::Text(value.to_owned())],
        );
    }
    if let Some(qubits) = filter.min_qubits {
        // The document's `int32`.
        if i32::try_from(qubits).is_err() {
            return Err(Error::invalid(
                "min_qubits",
                format!("{qubits} is past 2^31 - 1"),
            ));
        }
        w.push("m.device_qubits >= ?", Bind::Int(i64::from(qubits)));
    }
    if let Some(error) = filter.max_two_qubit_error {
        if !error.is_finite() {
            return Err(Error::invalid("max_two_qubit_error", "not a number"));
        }
        // Stored in parts per billion, rounded up: an error just above the bound is out.
        w.push(
            "m.device_max_two_qubit_error_ppb <= ?",
            Bind::Int((error * 1e9).floor() as i64),
        );
    }
    if let Some(after) = filter.calibrated_after {
        w.push(
            "m.device_calibrated_at >= ?",
            Bind::Int(int("calibrated_after", after)?),
        );
    }
    Ok((w.clauses.join(" AND "), w.binds))
}

fn bind_all<'q, O>(
    mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    binds: &'q [Bind],
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
    for bind in binds {
        query = match bind {
            Bind::Text(t) => query.bind(t.as_str()),
            Bind::Int(i) => query.bind(*i),
        };
    }
    query
}

/// The licenses and manifests joined: a license shows a manifest only if its creator signed it.
const FROM: &str = "FROM licenses l JOIN terms t ON t.terms_id = l.terms_id \
     JOIN manifests m ON m.manifest_hash = l.manifest_hash AND m.creator = l.creator";

#[derive(FromRow)]
struct Row {
    license_id: String,
    creator: String,
    holder: String,
    terms_id: i64,
    kind: i64,
    unit: i64,
    payment_token: String,
    price_per_sample: String,
    max_samples: i64,
    expires_at: i64,
    commercial_use: i64,
    attribution_required: i64,
    derivatives: i64,
    exclusive_licensee: String,
    uri: String,
    manifest_hash: String,
    name: String,
    description: String,
    file_count: i64,
    total_size: i64,
    gateway: String,
    device: Option<String>,
}

const COLUMNS: &str =
    "l.license_id, l.creator, l.holder, l.terms_id, t.kind, t.unit, t.payment_token, \
     t.price_per_sample, t.max_samples, t.expires_at, t.commercial_use, t.attribution_required, \
     t.derivatives, t.exclusive_licensee, t.uri, m.manifest_hash, m.name, m.description, \
     m.file_count, m.total_size, m.gateway, m.device";

/// Symbols and decimals of the tokens that stated them.
async fn token_meta(db: &Db) -> Result<BTreeMap<String, (String, u8)>> {
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT token, symbol, decimals FROM token_meta")
            .fetch_all(&db.pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(t, s, d)| u8::try_from(d).ok().map(|d| (t, (s, d))))
        .collect())
}

/// The payment tokens that stated their symbol and decimals.
///
/// # Errors
///
/// The database fails.
pub async fn tokens(db: &Db) -> Result<Vec<TokenView>> {
    Ok(token_meta(db)
        .await?
        .into_iter()
        .map(|(token, (symbol, decimals))| TokenView {
            token,
            symbol,
            decimals,
        })
        .collect())
}

/// `units` of `token` for people.
fn amount(tokens: &BTreeMap<String, (String, u8)>, token: &str, units: U256) -> Amount {
    let display = match tokens.get(token) {
        Some((symbol, decimals)) => format!("{} {symbol}", format_units(units, *decimals)),
        None => format!("{units} units of {token}"),
    };
    Amount {
        token: token.to_owned(),
        units: units.to_string(),
        display,
    }
}

/// Per license: payers that accepted, samples settled, gross per token.
async fn usage(
    db: &Db,
    license: &str,
    tokens: &BTreeMap<String, (String, u8)>,
) -> Result<(u64, u64, Vec<Amount>)> {
    let (payers,): (i64,) =
        sqlx::query_as("SELECT COUNT(DISTINCT payer) FROM acceptances WHERE license_id = $1")
            .bind(license)
            .fetch_one(&db.pool)
            .await?;
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT token, samples, gross FROM royalties_total WHERE license_id = $1 ORDER BY token",
    )
    .bind(license)
    .fetch_all(&db.pool)
    .await?;
    let mut samples = 0u64;
    let mut gross: BTreeMap<String, U256> = BTreeMap::new();
    for (token, s, g) in rows {
        samples += s as u64;
        *gross.entry(token).or_default() += crate::units::parse_amount(&g)?;
    }
    let earned = gross
        .into_iter()
        .map(|(token, units)| amount(tokens, &token, units))
        .collect();
    Ok((payers as u64, samples, earned))
}

/// The non-device metadata of each of `hashes`' manifests, in one query.
async fn metadata(db: &Db, hashes: &[&str]) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut by_hash: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    if hashes.is_empty() {
        return Ok(by_hash);
    }
    let select = format!(
        "SELECT manifest_hash, key, value FROM manifest_metadata WHERE manifest_hash IN ({})",
        fairtrain_db::sql::list(db.backend, hashes.len())
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(select));
    for hash in hashes {
        query = query.bind(*hash);
    }
    let rows: Vec<(String, String, String)> = query.fetch_all(&db.pool).await?;
    for (hash, key, value) in rows {
        by_hash.entry(hash).or_default().insert(key, value);
    }
    Ok(by_hash)
}

fn entry(
    row: &Row,
    tokens: &BTreeMap<String, (String, u8)>,
    usage: (u64, u64, Vec<Amount>),
    metadata: BTreeMap<String, String>,
) -> Result<CatalogEntry> {
    let price = crate::units::parse_amount(&row.price_per_sample)?;
    let device: Option<DeviceSummary> = row
        .device
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| Error::Stored(format!("device of manifest {}: {e}", row.manifest_hash)))?;
    let zero = "0x0000000000000000000000000000000000000000";
    Ok(CatalogEntry {
        license_id: row.license_id.clone(),
        creator: row.creator.clone(),
        holder: row.holder.clone(),
        terms_id: row.terms_id,
        kind: KINDS
            .get(row.kind as usize)
            .unwrap_or(&"custom")
            .to_string(),
        unit: u8::try_from(row.unit)
            .ok()
            .and_then(Unit::from_value)
            .ok_or_else(|| {
                Error::Stored(format!("terms {} have unit {}", row.terms_id, row.unit))
            })?,
        price_per_sample: amount(tokens, &row.payment_token, price),
        max_samples: row.max_samples as u64,
        expires_at: row.expires_at as u64,
        commercial_use: row.commercial_use != 0,
        attribution_required: row.attribution_required != 0,
        derivatives: DERIVATIVES
            .get(row.derivatives as usize)
            .unwrap_or(&"not_allowed")
            .to_string(),
        exclusive_licensee: (row.exclusive_licensee != zero)
            .then(|| row.exclusive_licensee.clone()),
        terms_uri: row.uri.clone(),
        manifest_hash: row.manifest_hash.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        file_count: row.file_count as u64,
        total_size: row.total_size.to_string(),
        gateway: row.gateway.clone(),
        metadata,
        device,
        payers: usage.0,
        samples: usage.1,
        earned: usage.2,
    })
}

/// Licensed datasets matching `filter`, by license id.
///
/// # Errors
///
/// An invalid filter ([`Error::Invalid`]) or page; the database fails.
pub async fn catalog(db: &Db, filter: &CatalogFilter, page: Page) -> Result<Paged<CatalogEntry>> {
    let page = page.check()?;
    let (cond, binds) = conditions(filter)?;
    let count = format!("SELECT COUNT(*) {FROM} WHERE {cond}");
    let (total,): (i64,) = bind_all(sqlx::query_as(sqlx::AssertSqlSafe(count)), &binds)
        .fetch_one(&db.pool)
        .await?;
    let n = binds.len();
    let select = format!(
        "SELECT {COLUMNS} {FROM} WHERE {cond} ORDER BY l.license_num LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let rows: Vec<Row> = bind_all(sqlx::query_as(sqlx::AssertSqlSafe(select)), &binds)
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&db.pool)
        .await?;
    let tokens = token_meta(db).await?;
    let hashes: Vec<&str> = rows.iter().map(|r| r.manifest_hash.as_str()).collect();
    let mut metadata = metadata(db, &hashes).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let usage = usage(db, &row.license_id, &tokens).await?;
        let meta = metadata.remove(&row.manifest_hash).unwrap_or_default();
        items.push(entry(row, &tokens, usage, meta)?);
    }
    paged(db, items, page, total).await
}

/// The card of license `license_id`'s dataset, or [`Error::NotFound`] if the catalog has none.
///
/// # Errors
///
/// Not in the catalog; the database fails.
pub async fn card(db: &Db, license_id: &str) -> Result<DatasetCard> {
    let (entry, manifest) = dataset(db, license_id).await?;
    let files = card_file_slice(&manifest, 0, CARD_LIMIT);
    let trainers = trainers(db, license_id, 0, CARD_LIMIT as i64).await?;
    let of = AccessesOf {
        license_id,
        manifest_hash: &entry.manifest_hash,
        gateway: &entry.gateway,
    };
    let access = access_summary(db, &of).await?;
    let accesses = accesses(db, &of, 0, CARD_LIMIT as i64).await?;
    Ok(DatasetCard {
        terms: plain_terms(&entry),
        entry,
        files,
        trainers,
        access,
        accesses,
    })
}

/// A page of a listed dataset's files, in manifest order (a card shows the first 100).
///
/// # Errors
///
/// An out-of-range page; as [`dataset`].
pub async fn card_files(db: &Db, license_id: &str, page: Page) -> Result<Paged<CardFile>> {
    let page = page.check()?;
    let manifest = manifest(db, &listed(db, license_id).await?.manifest_hash).await?;
    let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let limit = usize::try_from(page.limit()).unwrap_or(usize::MAX);
    let files = card_file_slice(&manifest, offset, limit);
    paged(db, files, page, manifest.files.len() as i64).await
}

/// A page of the payers that accepted a listed license's terms, in order of acceptance (a card
/// shows the first 100).
///
/// # Errors
///
/// An out-of-range page; as [`dataset`].
pub async fn card_trainers(db: &Db, license_id: &str, page: Page) -> Result<Paged<Trainer>> {
    let page = page.check()?;
    listed(db, license_id).await?;
    let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM acceptances WHERE license_id = $1")
        .bind(license_id)
        .fetch_one(&db.pool)
        .await?;
    let listed = trainers(db, license_id, page.offset(), page.limit()).await?;
    paged(db, listed, page, total).await
}

/// A page of a listed dataset's accesses under its license, newest first (a card shows the
/// latest 100).
///
/// # Errors
///
/// An out-of-range page; as [`dataset`].
pub async fn card_accesses(db: &Db, license_id: &str, page: Page) -> Result<Paged<DatasetAccess>> {
    let page = page.check()?;
    let row = listed(db, license_id).await?;
    let of = AccessesOf {
        license_id,
        manifest_hash: &row.manifest_hash,
        gateway: &row.gateway,
    };
    let summary = access_summary(db, &of).await?;
    let listed = accesses(db, &of, page.offset(), page.limit()).await?;
    let total = i64::try_from(summary.grants + summary.downloads).unwrap_or(i64::MAX);
    paged(db, listed, page, total).await
}

/// `limit` files of `manifest` from position `offset`.
fn card_file_slice(manifest: &DatasetManifest, offset: usize, limit: usize) -> Vec<CardFile> {
    manifest
        .files
        .iter()
        .skip(offset)
        .take(limit)
        .map(|f| CardFile {
            path: f.path.clone(),
            size: f.size,
            hash: format!("{:#x}", f.hash),
        })
        .collect()
}

/// The payers that accepted `license_id`'s terms, in order of acceptance, with the samples
/// settled for each: `limit` from position `offset`.
async fn trainers(db: &Db, license_id: &str, offset: i64, limit: i64) -> Result<Vec<Trainer>> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT payer, terms_id, accepted_block FROM acceptances WHERE license_id = $1 \
         ORDER BY accepted_block, payer LIMIT $2 OFFSET $3",
    )
    .bind(license_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await?;
    let mut listed = Vec::with_capacity(rows.len());
    for (payer, terms_id, block) in rows {
        let (samples,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(samples), 0) AS BIGINT) FROM settlements \
             WHERE license_id = $1 AND payer = $2",
        )
        .bind(license_id)
        .bind(&payer)
        .fetch_one(&db.pool)
        .await?;
        listed.push(Trainer {
            payer,
            terms_id,
            accepted_block: block as u64,
            samples: samples as u64,
        });
    }
    Ok(listed)
}

/// Whose accesses a card shows: a dataset's, under one license, from the log of the gateway
/// that published its manifest (another gateway's log cannot speak for it).
struct AccessesOf<'a> {
    license_id: &'a str,
    manifest_hash: &'a str,
    gateway: &'a str,
}

/// The rows of [`AccessesOf`], binding `$1` to `$3` in its field order.
const ACCESSES_OF: &str = "FROM dataset_accesses \
    WHERE license_id = $1 AND manifest_hash = $2 AND gateway = $3";

/// What the publishing gateway's log says of a dataset's accesses under a license.
async fn access_summary(db: &Db, of: &AccessesOf<'_>) -> Result<AccessSummary> {
    let (grants, paid, downloads, payers, last_at): (i64, i64, i64, i64, Option<i64>) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'grant' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN kind = 'grant' AND receipt IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN kind = 'download' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             COUNT(DISTINCT payer), MAX(at) {ACCESSES_OF}"
        )))
        .bind(of.license_id)
        .bind(of.manifest_hash)
        .bind(of.gateway)
        .fetch_one(&db.pool)
        .await?;
    Ok(AccessSummary {
        grants: grants as u64,
        paid: paid as u64,
        downloads: downloads as u64,
        payers: payers as u64,
        last_at: last_at.map(|t| t as u64),
    })
}

/// The accesses of [`AccessesOf`], newest first: `limit` from position `offset`.
async fn accesses(
    db: &Db,
    of: &AccessesOf<'_>,
    offset: i64,
    limit: i64,
) -> Result<Vec<DatasetAccess>> {
    let rows: Vec<AccessRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT kind, payer, signer, path, at, receipt {ACCESSES_OF} \
         ORDER BY seq DESC LIMIT $4 OFFSET $5"
    )))
    .bind(of.license_id)
    .bind(of.manifest_hash)
    .bind(of.gateway)
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DatasetAccess {
            kind: r.kind,
            payer: r.payer,
            signer: r.signer,
            path: r.path,
            at: r.at as u64,
            receipt: r.receipt,
        })
        .collect())
}

/// A row of `dataset_accesses` as a card shows it.
#[derive(FromRow)]
struct AccessRow {
    kind: String,
    payer: String,
    signer: String,
    path: Option<String>,
    at: i64,
    receipt: Option<String>,
}

/// The catalog row of a listed license.
///
/// # Errors
///
/// [`Error::NotFound`] if the license has no dataset in the catalog; a database error.
async fn listed(db: &Db, license_id: &str) -> Result<Row> {
    let select = format!("SELECT {COLUMNS} {FROM} WHERE l.license_id = $1");
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(select))
        .bind(license_id)
        .fetch_optional(&db.pool)
        .await?;
    row.ok_or_else(|| Error::NotFound {
        what: "dataset",
        message: format!("license {license_id} has no dataset in the catalog"),
    })
}

/// A listed license's catalog entry (its terms and usage; the manifest is not read).
///
/// # Errors
///
/// As [`listed`].
pub async fn listing(db: &Db, license_id: &str) -> Result<CatalogEntry> {
    let row = listed(db, license_id).await?;
    let tokens = token_meta(db).await?;
    let usage = usage(db, license_id, &tokens).await?;
    let meta = metadata(db, &[row.manifest_hash.as_str()])
        .await?
        .remove(&row.manifest_hash)
        .unwrap_or_default();
    entry(&row, &tokens, usage, meta)
}

/// A license's catalog entry with the whole manifest it covers (for its card and the
/// descriptions exported from it).
///
/// # Errors
///
/// [`Error::NotFound`] if the license has no dataset in the catalog; a database error; a
/// stored manifest that does not parse.
pub async fn dataset(db: &Db, license_id: &str) -> Result<(CatalogEntry, DatasetManifest)> {
    let entry = listing(db, license_id).await?;
    let manifest = manifest(db, &entry.manifest_hash).await?;
    Ok((entry, manifest))
}

/// The stored manifest `manifest_hash`, parsed.
async fn manifest(db: &Db, manifest_hash: &str) -> Result<DatasetManifest> {
    let (document,): (String,) =
        sqlx::query_as("SELECT document FROM manifests WHERE manifest_hash = $1")
            .bind(manifest_hash)
            .fetch_one(&db.pool)
            .await?;
    DatasetManifest::parse(document.as_bytes())
        .map_err(|e| Error::Stored(format!("manifest {manifest_hash}: {e}")))
}

/// The SHA-256 of the files of manifest `manifest_hash`, by path, as its gateway stated them.
///
/// # Errors
///
/// A database error.
pub async fn file_digests(db: &Db, manifest_hash: &str) -> Result<BTreeMap<String, B256>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT path, sha256 FROM manifest_files WHERE manifest_hash = $1")
            .bind(manifest_hash)
            .fetch_all(&db.pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(path, sha256)| Some((path, sha256.parse().ok()?)))
        .collect())
}

/// The terms of `entry`, one plain sentence each.
pub fn plain_terms(entry: &CatalogEntry) -> Vec<String> {
    let mut terms = vec![match entry.kind.as_str() {
        "research_only" => "Research only.".to_owned(),
        "commercial" => "Commercial license.".to_owned(),
        "evaluation" => "For evaluation.".to_owned(),
        "attribution_share_alike" => "Attribution, share-alike.".to_owned(),
        _ => "Custom terms: read them at the terms URI.".to_owned(),
    }];
    let unit = entry.unit;
    terms.push(match unit {
        Unit::Sample => format!(
            "Costs {} per training sample, paid through the escrow.",
            entry.price_per_sample.display
        ),
        Unit::Access => format!(
            "Costs {} per access: each download of the dataset from its gateway is paid through the escrow when it is granted.",
            entry.price_per_sample.display
        ),
        Unit::Inference => format!(
            "Costs {} per inference of a model trained on it, paid through the escrow.",
            entry.price_per_sample.display
        ),
    });
    terms.push(if entry.max_samples == 0 {
        format!("No cap on the {} charged.", unit.plural())
    } else {
        format!(
            "Each payer is charged for at most {} {}.",
            entry.max_samples,
            unit.plural()
        )
    });
    terms.push(if entry.commercial_use {
        "Models trained on it may be used commercially.".to_owned()
    } else {
        "Models trained on it may not be used commercially.".to_owned()
    });
    terms.push(match entry.derivatives.as_str() {
        "allowed" => "Derived works may be distributed.".to_owned(),
        "share_alike" => "Derived works may be distributed under the same terms.".to_owned(),
        _ => "Derived works may not be distributed.".to_owned(),
    });
    terms.push(if entry.attribution_required {
        "Derived works must credit the creator.".to_owned()
    } else {
        "No attribution is required.".to_owned()
    });
    terms.push(match &entry.exclusive_licensee {
        Some(payer) => format!("Exclusive to {payer}: no other payer may accept these terms."),
        None => "Open to any payer.".to_owned(),
    });
    terms.push(if entry.expires_at == 0 {
        "The terms never expire.".to_owned()
    } else {
        format!(
            "The terms can be accepted until {} (Unix time).",
            entry.expires_at
        )
    });
    if !entry.terms_uri.is_empty() {
        terms.push(format!("Full terms: {}", entry.terms_uri));
    }
    terms
}
