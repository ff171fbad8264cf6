//! The durable store: SQLite (WAL) or PostgreSQL behind one `sqlx::AnyPool`, with the same
//! portable SQL and migrations on both.
//!
//! A receipt is acknowledged only after the transaction that inserted it has committed
//! ([`Store::insert_receipts`] returns after `COMMIT`). Every step of a batch's life is one
//! transaction too (see the batcher), so a restart resumes from the last committed step.

pub mod batches;
pub mod jobs;
pub mod journal;
pub mod ledger;
mod migrate;
pub mod rows;
pub mod state;
pub mod txs;

use alloy::primitives::{Address, B256};
use fairtrain_db::{sql, Decimal, Hex};
use sqlx::{AnyPool, AssertSqlSafe};

pub use fairtrain_db::Backend;
pub use rows::{BatchRow, NewReceipt, ReceiptRow, TxRow};
pub use state::{BatchState, JobKind, JobState, ReceiptStatus};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated.
    #[error("{0}")]
    Open(#[from] fairtrain_db::Error),
    /// The database refused or failed a statement.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A row holds a value this code cannot read (a bug or a hand-edited database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A handle to the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: fairtrain_db::Db,
}

/// The condition that finds a receipt by its digest, bound as `$1`: the indexed first 8 bytes
/// (`receipts_digest`, migration 0009), then the whole digest.
///
/// The digest is not a key of the table: a random key of 66 characters made every stored receipt
/// dirty a page of its index. Its uniqueness follows from the ingest's rules instead: a receipt is
/// stored only if its count is above the highest stored for its usage key, and two receipts with
/// one digest have one usage key and one count (`ingest` reads that head from its ledger, or on
/// PostgreSQL from `usage_heads` under the payer's lock).
pub const BY_DIGEST: &str = "substr(digest, 1, 18) = substr($1, 1, 18) AND digest = $1";

/// Receipts inserted per statement (SQLite allows 32766 bound values; 18 columns each).
const INSERT_CHUNK: usize = 1_000;

/// The relayer's connections: on SQLite, `synchronous = FULL` (a committed transaction
/// survives a power cut, not only a crash) and foreign keys enforced.
fn options() -> fairtrain_db::Options {
    fairtrain_db::Options {
        synchronous: fairtrain_db::Synchronous::Full,
        foreign_keys: true,
        ..fairtrain_db::Options::default()
    }
}

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://...`), creating a SQLite file if
    /// needed, and applies the migrations (see [`migrate`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Open`] when the database cannot be reached or migrated, [`StoreError::Db`]
    /// when adopting a database of the former migrator fails.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let db = fairtrain_db::Db::connect(url, &options()).await?;
        migrate::run(&db).await?;
        Ok(Self { db })
    }

    /// The backend in use.
    pub const fn backend(&self) -> Backend {
        self.db.backend
    }

    /// The connection pool.
    pub const fn pool(&self) -> &AnyPool {
        &self.db.pool
    }

    /// Begins a transaction that writes (`BEGIN IMMEDIATE` on SQLite, see
    /// [`fairtrain_db::Db::begin_write`]).
    ///
    /// # Errors
    ///
    /// [`sqlx::Error`] if no connection can be had or the transaction cannot start.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        self.db.begin_write().await
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        self.db.ping().await
    }

    /// Inserts `receipts` in one transaction (multi-row `INSERT`s) and returns once it has
    /// committed. The caller stores only receipts it accepted, none of them stored already (see
    /// [`BY_DIGEST`] for why the table does not check).
    ///
    /// # Errors
    ///
    /// [`StoreError::Db`]; nothing is stored then.
    pub async fn insert_receipts(&self, receipts: &[NewReceipt]) -> StoreResult<()> {
        if receipts.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        self.insert_receipts_in(&mut tx, receipts).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Store::insert_receipts`] inside the caller's transaction (which must commit before
    /// any of them is acknowledged).
    ///
    /// # Errors
    ///
    /// [`StoreError::Db`].
    pub async fn insert_receipts_in(
        &self,
        conn: &mut sqlx::AnyConnection,
        receipts: &[NewReceipt],
    ) -> StoreResult<()> {
        for chunk in receipts.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO receipts (digest, usage_key, payer, license_id, terms_id, run_id, \
                 cumulative, issued_at, signature, signer, token, amount, chargeable_from, \
                 received_at, seq, status) VALUES {}",
                sql::values(self.backend(), chunk.len(), 16, "")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(Hex(r.digest))
                    .bind(Hex(r.usage_key))
                    .bind(Hex(r.payer))
                    .bind(Decimal(r.license_id))
                    .bind(Decimal(r.terms_id))
                    .bind(Hex(r.run_id))
                    .bind(Decimal(r.cumulative))
                    .bind(Decimal(r.issued_at))
                    .bind(Hex(&r.signature))
                    .bind(Hex(r.signer))
                    .bind(Hex(r.token))
                    .bind(Decimal(r.amount))
                    .bind(r.chargeable_from)
                    .bind(r.received_at)
                    .bind(r.seq)
                    .bind(ReceiptStatus::Pending.as_str());
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Whether a receipt with this digest is stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::Db`].
    pub async fn has_receipt(&self, digest: &str) -> StoreResult<bool> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT 1 FROM receipts WHERE {BY_DIGEST}"
        )))
        .bind(digest.to_owned())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Of each of `usage_keys` (hex), the committed receipt with the highest count and its
    /// batch's root (`committed_heads`, written by [`Self::record_committed_heads`]).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn committed_of_keys(
        &self,
        usage_keys: &[String],
    ) -> StoreResult<Vec<rows::CommittedReceipt>> {
        let mut out = Vec::new();
        for chunk in usage_keys.chunks(ledger::CHUNK) {
            let list = sql::list(self.backend(), chunk.len());
            let mut q = sqlx::query_as::<_, rows::CommittedReceipt>(AssertSqlSafe(format!(
                "SELECT {} FROM committed_heads r JOIN batches b ON b.id = r.batch_id \
                 WHERE r.usage_key IN ({list})",
                rows::CommittedReceipt::COLUMNS
            )));
            for k in chunk {
                q = q.bind(k.clone());
            }
            out.extend(q.fetch_all(self.pool()).await?);
        }
        Ok(out)
    }

    /// Records, in `tx`, the highest count of each usage key in batch `batch_id`, now confirmed,
    /// as the key's committed head. Batches confirm in commit order and a key's counts only rise,
    /// so the batch's count replaces the one stored.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if a row does not parse or a statement fails.
    pub async fn record_committed_heads(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        batch_id: i64,
    ) -> StoreResult<()> {
        type Row = (
            Hex<B256>,
            Hex<B256>,
            Hex<Address>,
            Hex<Address>,
            Decimal<u64>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT usage_key, digest, payer, token, cumulative FROM receipts WHERE batch_id = $1",
        )
        .bind(batch_id)
        .fetch_all(&mut **tx)
        .await?;
        // Per usage key, its highest receipt: (digest, payer, token, count).
        let mut heads: std::collections::BTreeMap<B256, (B256, Address, Address, u64)> =
            std::collections::BTreeMap::new();
        for (key, digest, payer, token, count) in rows {
            if heads.get(&key.0).is_none_or(|head| count.0 > head.3) {
                heads.insert(key.0, (digest.0, payer.0, token.0, count.0));
            }
        }
        let heads: Vec<_> = heads.into_iter().collect();
        let backend = Backend::of_connection(tx);
        for chunk in heads.chunks(ledger::CHUNK / 6) {
            let values = sql::values(backend, chunk.len(), 6, "");
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO committed_heads (usage_key, digest, payer, token, cumulative, \
                 batch_id) VALUES {values} ON CONFLICT (usage_key) DO UPDATE SET \
                 digest = excluded.digest, payer = excluded.payer, token = excluded.token, \
                 cumulative = excluded.cumulative, batch_id = excluded.batch_id"
            )));
            for &(key, (digest, payer, token, count)) in chunk {
                q = q
                    .bind(Hex(key))
                    .bind(Hex(digest))
                    .bind(Hex(payer))
                    .bind(Hex(token))
                    .bind(Decimal(count))
                    .bind(batch_id);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// One receipt by digest.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn receipt(&self, digest: &str) -> StoreResult<Option<ReceiptRow>> {
        let row = sqlx::query_as::<_, ReceiptRow>(AssertSqlSafe(format!(
            "SELECT {} FROM receipts WHERE {BY_DIGEST}",
            ReceiptRow::COLUMNS
        )))
        .bind(digest.to_owned())
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }

    /// Up to `limit` receipts of `license_id` in confirmed batches that no confirmed claim of
    /// this relayer paid, after the position `after` = (batch id, leaf index), in batch and
    /// leaf order (see the `proofs` module, which also leaves out what is settled on-chain).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn claimable_receipts(
        &self,
        license_id: &str,
        after: (i64, i64),
        limit: i64,
    ) -> StoreResult<Vec<ReceiptRow>> {
        // A confirmed claim stores its transaction hash; a claim in flight 'claim:<job>'.
        let rows = sqlx::query_as::<_, ReceiptRow>(AssertSqlSafe(format!(
            "SELECT {} FROM receipts WHERE license_id = $1 AND status = $5 \
             AND batch_id IS NOT NULL AND (claim_tx IS NULL OR claim_tx NOT LIKE '0x%') \
             AND (batch_id > $2 OR (batch_id = $2 AND leaf_index > $3)) \
             ORDER BY batch_id, leaf_index LIMIT $4",
            ReceiptRow::COLUMNS
        )))
        .bind(license_id.to_owned())
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .bind(ReceiptStatus::Committed.as_str())
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// The receipts of a batch in leaf order.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn batch_receipts(&self, batch_id: i64) -> StoreResult<Vec<ReceiptRow>> {
        let rows = sqlx::query_as::<_, ReceiptRow>(AssertSqlSafe(format!(
            "SELECT {} FROM receipts WHERE batch_id = $1 ORDER BY leaf_index",
            ReceiptRow::COLUMNS
        )))
        .bind(batch_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// Up to `limit` pending receipts, oldest first.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn pending_receipts(&self, limit: i64) -> StoreResult<Vec<ReceiptRow>> {
        let rows = sqlx::query_as::<_, ReceiptRow>(AssertSqlSafe(format!(
            "SELECT {} FROM receipts WHERE status = $1 ORDER BY seq LIMIT $2",
            ReceiptRow::COLUMNS
        )))
        .bind(ReceiptStatus::Pending.as_str())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// Counts of receipts by status.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn receipt_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) FROM receipts GROUP BY status")
            .fetch_all(self.pool())
            .await?;
        use sqlx::Row;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            .collect()
    }

    /// Jobs of `kind` (see the `claims` module) by state ([`JobState`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::Db`].
    pub async fn job_counts(&self, kind: JobKind) -> StoreResult<Vec<(String, i64)>> {
        use sqlx::Row;
        sqlx::query("SELECT state, COUNT(*) FROM claims WHERE kind = $1 GROUP BY state")
            .bind(kind.as_str())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            .collect()
    }

    /// Claim jobs by state (see [`Store::job_counts`]), and `claimedReceipts`: receipts whose
    /// claim transaction is confirmed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Db`].
    pub async fn claim_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        use sqlx::Row;
        let mut counts = self.job_counts(JobKind::Claim).await?;
        let claimed: i64 =
            // A range on the index: confirmed claims hold a transaction hash, in-flight ones
            // 'claim:<job>'.
            sqlx::query("SELECT COUNT(*) FROM receipts WHERE claim_tx >= '0x' AND claim_tx < '0y'")
                .fetch_one(self.pool())
                .await?
                .try_get(0)?;
        counts.push(("claimedReceipts".to_owned(), claimed));
        Ok(counts)
    }

    /// Every receipt not yet in a confirmed batch, and the highest receipt of every usage key,
    /// which the ingest pipeline needs at start: `(usage_key, cumulative, digest, payer, token,
    /// amount, status)` for all rows, and the highest `seq`.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn ingest_snapshot(&self) -> StoreResult<(Vec<rows::IngestRow>, i64)> {
        let out = sqlx::query_as::<_, rows::IngestRow>(
            "SELECT usage_key, cumulative, digest, payer, token, amount, status FROM receipts",
        )
        .fetch_all(self.pool())
        .await?;
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM receipts")
            .fetch_one(self.pool())
            .await?;
        Ok((out, max.unwrap_or(0)))
    }

    /// The published batch data with this hash.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn batch_data(&self, data_hash: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT body FROM batch_data WHERE data_hash = $1")
                .bind(data_hash.to_owned())
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// One batch.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn batch(&self, id: i64) -> StoreResult<Option<BatchRow>> {
        let row = sqlx::query_as::<_, BatchRow>(AssertSqlSafe(format!(
            "SELECT {} FROM batches WHERE id = $1",
            BatchRow::COLUMNS
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }

    /// Batches, newest first.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn batches(&self, limit: i64) -> StoreResult<Vec<BatchRow>> {
        let rows = sqlx::query_as::<_, BatchRow>(AssertSqlSafe(format!(
            "SELECT {} FROM batches ORDER BY id DESC LIMIT $1",
            BatchRow::COLUMNS
        )))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// The batch in progress (built, signed or sent), if any.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn active_batch(&self) -> StoreResult<Option<BatchRow>> {
        let row = sqlx::query_as::<_, BatchRow>(AssertSqlSafe(format!(
            "SELECT {} FROM batches WHERE state IN ($1, $2, $3) ORDER BY id LIMIT 1",
            BatchRow::COLUMNS
        )))
        .bind(BatchState::UNFINISHED[0].as_str())
        .bind(BatchState::UNFINISHED[1].as_str())
        .bind(BatchState::UNFINISHED[2].as_str())
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }

    /// The transactions sent for `(kind, ref_id)`, oldest first.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn txs(&self, kind: &str, ref_id: i64) -> StoreResult<Vec<TxRow>> {
        let rows = sqlx::query_as::<_, TxRow>(AssertSqlSafe(format!(
            "SELECT {} FROM txs WHERE kind = $1 AND ref_id = $2 ORDER BY attempt",
            TxRow::COLUMNS
        )))
        .bind(kind.to_owned())
        .bind(ref_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }
}
