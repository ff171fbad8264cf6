//! The gateway's SQL: published datasets and their files, and the access log. SQLite or
//! PostgreSQL through `fairtrain-db`; the schema is `gateway/migrations/`.

use alloy::primitives::{Address, B256, U256};
use fairtrain_db::{sql, Db, Decimal, Hex};
use fairtrain_protocol::{
    api::gateway::{AccessEntry, Dataset, DatasetFile},
    DatasetManifest, FileEntry,
};
use sqlx::{migrate::Migrator, Any, FromRow, Transaction};

/// The migrations, embedded in the binary.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// File rows per `INSERT` (six parameters each: far below SQLite's 32,766).
const FILES_PER_INSERT: usize = 500;

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("{doing}: {source}")]
pub struct StoreError {
    doing: &'static str,
    source: sqlx::Error,
}

/// The store's result.
pub type StoreResult<T> = Result<T, StoreError>;

trait Doing<T> {
    fn doing(self, what: &'static str) -> StoreResult<T>;
}

impl<T> Doing<T> for Result<T, sqlx::Error> {
    fn doing(self, doing: &'static str) -> StoreResult<T> {
        self.map_err(|source| StoreError { doing, source })
    }
}

/// One file of a published dataset.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct FileRow {
    /// Position in the manifest.
    #[sqlx(try_from = "i64")]
    pub idx: u64,
    /// Path in the dataset.
    pub path: String,
    /// Size in bytes.
    #[sqlx(try_from = "i64")]
    pub size: u64,
    /// keccak256 of the bytes.
    #[sqlx(try_from = "Hex<B256>")]
    pub hash: B256,
    /// 1 once the blob store holds the bytes, 0 before.
    pub stored: i64,
}

/// A row of [`Store::files`].
#[derive(FromRow)]
struct ListedFile {
    #[sqlx(try_from = "i64")]
    idx: u64,
    path: String,
    #[sqlx(try_from = "i64")]
    size: u64,
    #[sqlx(try_from = "Hex<B256>")]
    hash: B256,
    stored: i64,
    sha256: Option<String>,
}

impl ListedFile {
    fn into_file(self) -> DatasetFile {
        DatasetFile {
            index: self.idx,
            path: self.path,
            size: self.size,
            hash: self.hash,
            sha256: self.sha256.and_then(|h| h.parse().ok()),
            stored: self.stored == 1,
        }
    }
}

#[derive(FromRow)]
struct DatasetRow {
    #[sqlx(try_from = "Hex<B256>")]
    manifest_hash: B256,
    #[sqlx(try_from = "Hex<Address>")]
    creator: Address,
    name: String,
    file_count: i64,
    total_size: i64,
    published_at: i64,
    seq: i64,
    files_stored: i64,
}

impl FileRow {
    /// Whether the blob store holds the bytes.
    pub const fn is_stored(&self) -> bool {
        self.stored == 1
    }
}

impl DatasetRow {
    fn into_dataset(self) -> Dataset {
        let file_count = self.file_count as u64;
        let files_stored = self.files_stored as u64;
        Dataset {
            manifest_hash: self.manifest_hash,
            creator: self.creator,
            name: self.name,
            file_count,
            total_size: self.total_size as u64,
            files_stored,
            complete: files_stored == file_count,
            published_at: self.published_at as u64,
        }
    }
}

#[derive(FromRow)]
struct AccessRow {
    seq: i64,
    kind: String,
    #[sqlx(try_from = "Hex<B256>")]
    manifest_hash: B256,
    #[sqlx(try_from = "Hex<B256>")]
    access_id: B256,
    #[sqlx(try_from = "Hex<Address>")]
    payer: Address,
    #[sqlx(try_from = "Hex<Address>")]
    signer: Address,
    #[sqlx(try_from = "Decimal<U256>")]
    license_id: U256,
    #[sqlx(try_from = "Decimal<u64>")]
    terms_id: u64,
    path: Option<String>,
    range_header: Option<String>,
    at: i64,
    receipt: Option<Hex<B256>>,
}

#[derive(FromRow)]
struct GrantRow {
    #[sqlx(try_from = "Hex<B256>")]
    manifest_hash: B256,
    #[sqlx(try_from = "Hex<Address>")]
    payer: Address,
    #[sqlx(try_from = "Hex<Address>")]
    signer: Address,
    #[sqlx(try_from = "Decimal<U256>")]
    license_id: U256,
    #[sqlx(try_from = "Decimal<u64>")]
    terms_id: u64,
}

/// Who was granted access, as the log records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessKey {
    /// The signed request's digest.
    pub access_id: B256,
    /// The dataset.
    pub manifest_hash: B256,
    /// The payer.
    pub payer: Address,
    /// The key that signed.
    pub signer: Address,
    /// The license.
    pub license_id: U256,
    /// The accepted terms version.
    pub terms_id: u64,
}

/// What [`Store::log_grant`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logged {
    /// The grant is in the log.
    New,
    /// This request was granted before: a replay.
    Replayed,
}

const DATASET_COLUMNS: &str = "d.manifest_hash, d.creator, d.name, d.file_count, d.total_size, \
     d.published_at, d.seq, \
     (SELECT COUNT(*) FROM dataset_files f WHERE f.manifest_hash = d.manifest_hash AND f.stored = 1) \
     AS files_stored";

/// The gateway's database.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
}

impl Store {
    /// Opens `url` and applies the migrations.
    ///
    /// # Errors
    ///
    /// If the database cannot be opened or migrated.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let db = Db::connect(url, &fairtrain_db::Options::default()).await?;
        db.migrate(&MIGRATOR).await?;
        Ok(Self { db })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        self.db.ping().await
    }

    /// Records a dataset and its files (none stored yet), unless it is recorded already.
    /// Returns whether it was new.
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn insert_dataset(
        &self,
        manifest: &DatasetManifest,
        hash: B256,
        now: u64,
    ) -> StoreResult<bool> {
        let mut tx = self.db.begin_write().await.doing("starting a write")?;
        let exists: Option<(String,)> =
            sqlx::query_as("SELECT manifest_hash FROM datasets WHERE manifest_hash = $1")
                .bind(Hex(hash))
                .fetch_optional(&mut *tx)
                .await
                .doing("looking the dataset up")?;
        if exists.is_some() {
            return Ok(false);
        }
        let seq = next(&mut tx, "datasets").await?;
        sqlx::query(
            "INSERT INTO datasets (manifest_hash, creator, name, file_count, total_size, \
             manifest, published_at, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(Hex(hash))
        .bind(Hex(manifest.creator))
        .bind(&manifest.name)
        .bind(manifest.files.len() as i64)
        .bind(manifest.total_size() as i64)
        .bind(manifest.to_json())
        .bind(now as i64)
        .bind(seq)
        .execute(&mut *tx)
        .await
        .doing("recording the dataset")?;
        for (chunk_index, chunk) in manifest.files.chunks(FILES_PER_INSERT).enumerate() {
            insert_files(&mut tx, hash, chunk_index * FILES_PER_INSERT, chunk).await?;
        }
        // A file whose bytes another dataset brought is stored already.
        sqlx::query(
            "UPDATE dataset_files SET stored = 1 WHERE manifest_hash = $1 AND hash IN \
             (SELECT hash FROM dataset_files WHERE stored = 1 AND manifest_hash <> $1)",
        )
        .bind(Hex(hash))
        .execute(&mut *tx)
        .await
        .doing("marking files already stored")?;
        tx.commit().await.doing("committing the dataset")?;
        Ok(true)
    }

    /// The dataset `hash`, if published.
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn dataset(&self, hash: B256) -> StoreResult<Option<Dataset>> {
        let row: Option<DatasetRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DATASET_COLUMNS} FROM datasets d WHERE d.manifest_hash = $1"
        )))
        .bind(Hex(hash))
        .fetch_optional(&self.db.pool)
        .await
        .doing("reading a dataset")?;
        Ok(row.map(DatasetRow::into_dataset))
    }

    /// The signed manifest of dataset `hash`, as published.
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn manifest(&self, hash: B256) -> StoreResult<Option<String>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT manifest FROM datasets WHERE manifest_hash = $1")
                .bind(Hex(hash))
                .fetch_optional(&self.db.pool)
                .await
                .doing("reading a manifest")?;
        Ok(row.map(|(m,)| m))
    }

    /// Up to `limit` datasets published after position `after`, with the position of the
    /// last one.
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn datasets(&self, after: u64, limit: usize) -> StoreResult<Vec<(u64, Dataset)>> {
        let rows: Vec<DatasetRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DATASET_COLUMNS} FROM datasets d WHERE d.seq > $1 ORDER BY d.seq LIMIT $2"
        )))
        .bind(after as i64)
        .bind(limit as i64)
        .fetch_all(&self.db.pool)
        .await
        .doing("listing datasets")?;
        Ok(rows
            .into_iter()
            .map(|r| (r.seq as u64, r.into_dataset()))
            .collect())
    }

    /// The file at `path` of dataset `hash`.
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn file(&self, hash: B256, path: &str) -> StoreResult<Option<FileRow>> {
        sqlx::query_as(
            "SELECT idx, path, size, hash, stored FROM dataset_files \
             WHERE manifest_hash = $1 AND path = $2",
        )
        .bind(Hex(hash))
        .bind(path)
        .fetch_optional(&self.db.pool)
        .await
        .doing("reading a file")
    }

    /// Up to `limit` files of dataset `hash` from position `from` on, in manifest order, each
    /// with the SHA-256 of its blob when known.
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn files(
        &self,
        hash: B256,
        from: u64,
        limit: usize,
    ) -> StoreResult<Vec<DatasetFile>> {
        let rows: Vec<ListedFile> = sqlx::query_as(
            "SELECT f.idx, f.path, f.size, f.hash, f.stored, b.sha256 FROM dataset_files f \
             LEFT JOIN blob_digests b ON b.hash = f.hash \
             WHERE f.manifest_hash = $1 AND f.idx >= $2 ORDER BY f.idx LIMIT $3",
        )
        .bind(Hex(hash))
        .bind(i64::try_from(from).unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.db.pool)
        .await
        .doing("reading files")?;
        Ok(rows.into_iter().map(ListedFile::into_file).collect())
    }

    /// The SHA-256 of the blob `file_hash`, if recorded.
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn digest(&self, file_hash: B256) -> StoreResult<Option<B256>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT sha256 FROM blob_digests WHERE hash = $1")
                .bind(Hex(file_hash))
                .fetch_optional(&self.db.pool)
                .await
                .doing("reading a digest")?;
        Ok(row.and_then(|(h,)| h.parse().ok()))
    }

    /// Records the SHA-256 of the blob `file_hash` (once; a blob's bytes never change).
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn record_digest(&self, file_hash: B256, sha256: B256) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO blob_digests (hash, sha256) VALUES ($1, $2) \
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(Hex(file_hash))
        .bind(Hex(sha256))
        .execute(&self.db.pool)
        .await
        .doing("recording a digest")?;
        Ok(())
    }

    /// Marks every file whose bytes hash to `file_hash` as stored, in every dataset.
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn mark_stored(&self, file_hash: B256) -> StoreResult<()> {
        sqlx::query("UPDATE dataset_files SET stored = 1 WHERE hash = $1")
            .bind(Hex(file_hash))
            .execute(&self.db.pool)
            .await
            .doing("marking a file stored")?;
        Ok(())
    }

    /// Logs a grant, and the digest of the receipt that paid for it under terms priced per
    /// access; a request granted before is [`Logged::Replayed`] and logs nothing.
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn log_grant(
        &self,
        key: &AccessKey,
        receipt: Option<B256>,
        now: u64,
    ) -> StoreResult<Logged> {
        let mut tx = self.db.begin_write().await.doing("starting a write")?;
        let seen: Option<(i64,)> =
            sqlx::query_as("SELECT seq FROM accesses WHERE access_id = $1 AND kind = 'grant'")
                .bind(Hex(key.access_id))
                .fetch_optional(&mut *tx)
                .await
                .doing("looking for the request")?;
        if seen.is_some() {
            return Ok(Logged::Replayed);
        }
        insert_access(&mut tx, key, "grant", None, None, receipt, now).await?;
        tx.commit().await.doing("committing the grant")?;
        Ok(Logged::New)
    }

    /// The grant of `access_id`, if logged.
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn grant(&self, access_id: B256) -> StoreResult<Option<AccessKey>> {
        let row: Option<GrantRow> = sqlx::query_as(
            "SELECT manifest_hash, payer, signer, license_id, terms_id FROM accesses \
             WHERE access_id = $1 AND kind = 'grant'",
        )
        .bind(Hex(access_id))
        .fetch_optional(&self.db.pool)
        .await
        .doing("reading a grant")?;
        Ok(row.map(|r| AccessKey {
            access_id,
            manifest_hash: r.manifest_hash,
            payer: r.payer,
            signer: r.signer,
            license_id: r.license_id,
            terms_id: r.terms_id,
        }))
    }

    /// Logs a download of `path` under the grant `key`.
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn log_download(
        &self,
        key: &AccessKey,
        path: &str,
        range: Option<&str>,
        now: u64,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin_write().await.doing("starting a write")?;
        insert_access(&mut tx, key, "download", Some(path), range, None, now).await?;
        tx.commit().await.doing("committing the download")
    }

    /// Up to `limit` log entries after position `after`: of dataset `hash`, or of every
    /// dataset.
    ///
    /// # Errors
    ///
    /// On a database failure.
    pub async fn accesses(
        &self,
        hash: Option<B256>,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<AccessEntry>> {
        let rows: Vec<AccessRow> = sqlx::query_as(
            "SELECT seq, kind, manifest_hash, access_id, payer, signer, license_id, terms_id, \
             path, range_header, at, receipt FROM accesses \
             WHERE ($1 = '' OR manifest_hash = $1) AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(hash.map(|h| format!("{h:#x}")).unwrap_or_default())
        .bind(after as i64)
        .bind(limit as i64)
        .fetch_all(&self.db.pool)
        .await
        .doing("listing accesses")?;
        Ok(rows
            .into_iter()
            .map(|r| AccessEntry {
                seq: r.seq as u64,
                kind: r.kind,
                manifest_hash: r.manifest_hash,
                access_id: r.access_id,
                payer: r.payer,
                signer: r.signer,
                license_id: r.license_id,
                terms_id: r.terms_id,
                path: r.path,
                range: r.range_header,
                at: r.at as u64,
                receipt: r.receipt.map(|h| h.0),
            })
            .collect())
    }
}

/// Takes the next number of counter `name` in `tx`.
async fn next(tx: &mut Transaction<'static, Any>, name: &str) -> StoreResult<i64> {
    let (value,): (i64,) =
        sqlx::query_as("UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value")
            .bind(name)
            .fetch_one(&mut **tx)
            .await
            .doing("taking a sequence number")?;
    Ok(value)
}

async fn insert_files(
    tx: &mut Transaction<'static, Any>,
    hash: B256,
    first: usize,
    files: &[FileEntry],
) -> StoreResult<()> {
    let backend = fairtrain_db::Backend::of_connection(tx);
    let statement = format!(
        "INSERT INTO dataset_files (manifest_hash, idx, path, size, hash, stored) VALUES {}",
        sql::values(backend, files.len(), 5, ", 0")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
    for (i, file) in files.iter().enumerate() {
        query = query
            .bind(Hex(hash))
            .bind((first + i) as i64)
            .bind(&file.path)
            .bind(file.size as i64)
            .bind(Hex(file.hash));
    }
    query
        .execute(&mut **tx)
        .await
        .doing("recording the files")?;
    Ok(())
}

async fn insert_access(
    tx: &mut Transaction<'static, Any>,
    key: &AccessKey,
    kind: &str,
    path: Option<&str>,
    range: Option<&str>,
    receipt: Option<B256>,
    now: u64,
) -> StoreResult<()> {
    let seq = next(tx, "accesses").await?;
    sqlx::query(
        "INSERT INTO accesses (seq, kind, access_id, manifest_hash, payer, signer, license_id, \
         terms_id, path, range_header, at, receipt) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(seq)
    .bind(kind)
    .bind(Hex(key.access_id))
    .bind(Hex(key.manifest_hash))
    .bind(Hex(key.payer))
    .bind(Hex(key.signer))
    .bind(Decimal(key.license_id))
    .bind(Decimal(key.terms_id))
    .bind(path)
    .bind(range)
    .bind(now as i64)
    .bind(receipt.map(Hex))
    .execute(&mut **tx)
    .await
    .doing("logging an access")?;
    Ok(())
}
