//! The chain follower's journal (see `chain::journal`): a snapshot of the followed
//! state written rarely (`checkpoint`), the logs followed since (`chain_logs`), the window of
//! recent block hashes (`chain_blocks`) and the last block followed (`chain_cursor`). A step
//! writes its own logs and window blocks, not the state, so its cost does not grow with
//! history.

use alloy::primitives::B256;
use fairtrain_chain::{BlockRef, Checkpoint};
use fairtrain_db::{sql, Hex};
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{Backend, Store, StoreError, StoreResult};
use crate::util::hex0x;

/// A followed log as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLog {
    /// Its block.
    pub block: u64,
    /// Its index in the block.
    pub index: u64,
    /// Its block's hash.
    pub block_hash: B256,
    /// The log (address, topics, data) as JSON.
    pub log: String,
}

/// What one follow step writes, in one transaction.
#[derive(Clone, Debug)]
pub struct JournalWrite<'a> {
    /// The logs of the range.
    pub logs: &'a [StoredLog],
    /// The window blocks of the range.
    pub blocks: &'a [BlockRef],
    /// Window blocks below this are dropped.
    pub floor: u64,
    /// The new last block followed.
    pub cursor: Checkpoint,
    /// A new snapshot, `(block, state JSON)`: the state after every log up to `block`. The
    /// stored logs up to `block` are dropped with it.
    pub snapshot: Option<(u64, &'a str)>,
}

impl JournalWrite<'_> {
    /// Bytes of data written (log and snapshot text, 32 bytes per hash, 8 per number).
    pub fn bytes(&self) -> usize {
        self.logs.iter().map(|l| l.log.len() + 48).sum::<usize>()
            + self.blocks.len() * 80
            + 40
            + self.snapshot.map_or(0, |(_, s)| s.len() + 8)
    }
}

/// The journal as stored.
#[derive(Clone, Debug, Default)]
pub struct StoredJournal {
    /// The snapshot `(block, state JSON)`, if one was written.
    pub snapshot: Option<(u64, String)>,
    /// The last block followed (none before the first range, or in a store written before
    /// the journal existed).
    pub cursor: Option<Checkpoint>,
    /// The window, oldest first.
    pub blocks: Vec<BlockRef>,
    /// The logs above the snapshot up to the cursor, in chain order.
    pub logs: Vec<StoredLog>,
}

/// Rows per multi-row statement (4 columns each).
const CHUNK: usize = 200;

impl Store {
    /// Reads the journal, consistently (one snapshot of the database, also while another
    /// process writes it).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn journal_load(&self) -> StoreResult<StoredJournal> {
        let mut tx = self.pool().begin().await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut *tx)
                .await?;
        }
        let snapshot = sqlx::query("SELECT block, state FROM checkpoint WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| {
                Ok::<_, sqlx::Error>((r.try_get::<i64, _>("block")? as u64, r.try_get("state")?))
            })
            .transpose()?;
        let cursor = sqlx::query("SELECT block, hash FROM chain_cursor WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| {
                Ok::<_, StoreError>(Checkpoint {
                    number: r.try_get::<i64, _>("block")? as u64,
                    hash: r.try_get::<Hex<B256>, _>("hash")?.0,
                })
            })
            .transpose()?;
        let blocks = sqlx::query(
            "SELECT number, hash, parent_hash, timestamp FROM chain_blocks ORDER BY number",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            let parent: Option<Hex<B256>> = r.try_get("parent_hash")?;
            Ok(BlockRef {
                number: r.try_get::<i64, _>("number")? as u64,
                hash: r.try_get::<Hex<B256>, _>("hash")?.0,
                parent_hash: parent.map(|p| p.0),
                timestamp: r.try_get::<i64, _>("timestamp")? as u64,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let logs = match cursor {
            None => Vec::new(),
            Some(cursor) => sqlx::query(
                "SELECT block_number, log_index, block_hash, log FROM chain_logs \
                 WHERE block_number > $1 AND block_number <= $2 \
                 ORDER BY block_number, log_index",
            )
            .bind(snapshot.as_ref().map_or(-1, |(b, _)| *b as i64))
            .bind(cursor.number as i64)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| {
                Ok(StoredLog {
                    block: r.try_get::<i64, _>("block_number")? as u64,
                    index: r.try_get::<i64, _>("log_index")? as u64,
                    block_hash: r.try_get::<Hex<B256>, _>("block_hash")?.0,
                    log: r.try_get("log")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?,
        };
        tx.commit().await?;
        Ok(StoredJournal {
            snapshot,
            cursor,
            blocks,
            logs,
        })
    }

    /// Writes one follow step.
    ///
    /// # Errors
    ///
    /// [`StoreError`]; nothing is written then.
    pub async fn journal_execute(&self, w: &JournalWrite<'_>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for chunk in w.logs.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO chain_logs (block_number, log_index, block_hash, log) VALUES {} \
                 ON CONFLICT (block_number, log_index) DO UPDATE SET \
                 block_hash = excluded.block_hash, log = excluded.log",
                sql::values(self.backend(), chunk.len(), 4, "")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for l in chunk {
                q = q
                    .bind(l.block as i64)
                    .bind(l.index as i64)
                    .bind(hex0x(l.block_hash))
                    .bind(l.log.clone());
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in w.blocks.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO chain_blocks (number, hash, parent_hash, timestamp) VALUES {} \
                 ON CONFLICT (number) DO UPDATE SET hash = excluded.hash, \
                 parent_hash = excluded.parent_hash, timestamp = excluded.timestamp",
                sql::values(self.backend(), chunk.len(), 4, "")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for b in chunk {
                q = q
                    .bind(b.number as i64)
                    .bind(hex0x(b.hash))
                    .bind(b.parent_hash.map(hex0x))
                    .bind(b.timestamp as i64);
            }
            q.execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM chain_blocks WHERE number < $1")
            .bind(w.floor as i64)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO chain_cursor (id, block, hash) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET block = excluded.block, hash = excluded.hash",
        )
        .bind(w.cursor.number as i64)
        .bind(hex0x(w.cursor.hash))
        .execute(&mut *tx)
        .await?;
        if let Some((block, state)) = w.snapshot {
            sqlx::query(
                "INSERT INTO checkpoint (id, block, state) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO UPDATE SET block = excluded.block, state = excluded.state",
            )
            .bind(block as i64)
            .bind(state.to_owned())
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM chain_logs WHERE block_number <= $1")
                .bind(block as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Unwinds the journal to `ancestor` after a reorganisation: logs and window blocks above
    /// it are dropped and it becomes the last block followed.
    ///
    /// # Errors
    ///
    /// [`StoreError`]; nothing is changed then.
    pub async fn journal_unwind(&self, ancestor: Checkpoint) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM chain_logs WHERE block_number > $1")
            .bind(ancestor.number as i64)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM chain_blocks WHERE number > $1")
            .bind(ancestor.number as i64)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO chain_cursor (id, block, hash) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET block = excluded.block, hash = excluded.hash",
        )
        .bind(ancestor.number as i64)
        .bind(hex0x(ancestor.hash))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the whole journal: the next start follows the chain again from the start block
    /// (`fairtrain-relayer resync`, after a reorganisation deeper than the window).
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn journal_clear(&self) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for table in ["checkpoint", "chain_logs", "chain_blocks", "chain_cursor"] {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {table}")))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes the PostgreSQL session advisory lock `key` on a connection detached from the
    /// pool, so that the lock is released exactly when that connection closes (process exit,
    /// or the holder dropping it). `None` if another session holds it.
    ///
    /// # Errors
    ///
    /// [`StoreError`].
    pub async fn try_advisory_lock(&self, key: i64) -> StoreResult<Option<AnyConnection>> {
        let mut conn = self.pool().acquire().await?.detach();
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await?;
        Ok(got.then_some(conn))
    }
}
