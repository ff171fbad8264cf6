//! The raw event table, the checkpoint and the window of recent block hashes.

use alloy::primitives::{Address, Bytes};
use fairtrain_db::Backend;
use sqlx::{Any, Transaction};

use crate::{
    decode::{Event, Record},
    units::{self, big},
    Db, Deployment, Error, Result,
};

/// Bound parameters per multi-row statement. The placeholders of [`fairtrain_db::sql`] bind by
/// position on SQLite, so a statement's cost grows with its size only; 10k stays under SQLite's
/// 32,766 and PostgreSQL's 65,535 parameters. (With numbered parameters SQLite's binding time grew
/// with their square: this was 1k.)
pub const MAX_PARAMS: usize = 10_000;

/// The checkpoint (the last fully indexed block) and the blocks of the window are the shared
/// follower's types.
pub use fairtrain_chain::{BlockRef, Checkpoint};

/// Adds `delta` to the stored event count (`meta.events`), inside `tx`.
async fn add_to_count(tx: &mut Transaction<'static, Any>, delta: i64) -> Result<()> {
    let current: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = 'events'")
        .fetch_optional(&mut **tx)
        .await?;
    let current: i64 = match current {
        Some((v,)) => v
            .parse()
            .map_err(|e| Error::Stored(format!("meta events = {v:?}: {e}")))?,
        None => 0,
    };
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('events', $1) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind((current + delta).to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Inserts raw events; a row already stored (same chain, transaction and log index) is left
/// as it is, so inserting twice stores once. Keeps the event count in `meta` (so that status
/// queries need no `COUNT(*)` over millions of rows).
pub async fn insert_events(
    tx: &mut Transaction<'static, Any>,
    chain_id: u64,
    records: &[Record],
) -> Result<()> {
    let mut inserted = 0u64;
    const COLS: usize = 14;
    let backend = Backend::of_connection(tx);
    for chunk in records.chunks(MAX_PARAMS / COLS) {
        let sql = format!(
            "INSERT INTO raw_events (chain_id, tx_hash, log_index, block_number, block_hash, \
             block_time, address, name, topic0, topic1, topic2, topic3, data, payer) VALUES {} \
             ON CONFLICT DO NOTHING",
            fairtrain_db::sql::values(backend, chunk.len(), COLS, "")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
        for r in chunk {
            let topic = |i: usize| r.topics.get(i).map(units::word);
            q = q
                .bind(big(chain_id))
                .bind(units::word(&r.tx_hash))
                .bind(big(r.log_index))
                .bind(big(r.block_number))
                .bind(units::word(&r.block_hash))
                .bind(big(r.block_time))
                .bind(units::addr(&r.address))
                .bind(r.event.name())
                .bind(topic(0))
                .bind(topic(1))
                .bind(topic(2))
                .bind(topic(3))
                .bind(format!("{:#x}", r.data))
                .bind(r.event.settlement_payer().as_ref().map(units::addr));
        }
        inserted += q.execute(&mut **tx).await?.rows_affected();
    }
    add_to_count(tx, inserted as i64).await
}

/// The pools created by the deployment's factory, from the stored `PoolCreated` events (so
/// that a rollback, which deletes raw events, also forgets the pools created in rolled-back
/// blocks).
pub async fn pools(db: &Db, deployment: &Deployment) -> Result<Vec<Address>> {
    let Some(factory) = deployment.revenue_pool_factory else {
        return Ok(Vec::new());
    };
    let rows: Vec<(Option<String>,)> = sqlx::query_as(
        "SELECT topic1 FROM raw_events WHERE address = $1 AND name = 'PoolCreated' \
         ORDER BY block_number, log_index",
    )
    .bind(units::addr(&factory))
    .fetch_all(&db.pool)
    .await?;
    rows.into_iter()
        .map(|(topic,)| {
            let topic = topic.ok_or_else(|| Error::Stored("PoolCreated without topic1".into()))?;
            Ok(Address::from_word(units::parse_word(&topic)?))
        })
        .collect()
}

/// Up to `limit` raw events after position `after` (block number, log index; `None` for the
/// first), in chain order, decoded again. Reads inside `tx`, so that it sees the transaction's
/// own deletions. (No `chain_id` condition: a database holds one deployment, and an equality on
/// the primary key's first column would lead SQLite's planner away from the order index, turning
/// each page into a scan and sort of the whole table.)
pub async fn load_events_in(
    tx: &mut Transaction<'static, Any>,
    deployment: &Deployment,
    after: Option<(u64, u64)>,
    limit: u64,
) -> Result<Vec<Record>> {
    type Row = (
        String,
        i64,
        i64,
        String,
        i64,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT tx_hash, log_index, block_number, block_hash, block_time, address, topic0, \
         topic1, topic2, topic3, data FROM raw_events \
         WHERE block_number >= $1 AND (block_number > $1 OR log_index > $2) \
         ORDER BY block_number, log_index LIMIT $3",
    )
    .bind(after.map_or(-1, |a| big(a.0)))
    .bind(after.map_or(-1, |a| big(a.1)))
    .bind(big(limit))
    .fetch_all(&mut **tx)
    .await?;
    rows.into_iter()
        .map(|(tx, li, bn, bh, bt, addr, t0, t1, t2, t3, data)| {
            let topics = [t0, t1, t2, t3]
                .into_iter()
                .flatten()
                .map(|t| units::parse_word(&t))
                .collect::<Result<Vec<_>>>()?;
            let data: Bytes = data
                .parse()
                .map_err(|e| Error::Stored(format!("log data {data:?}: {e}")))?;
            let address = units::parse_addr(&addr)?;
            let event = Event::decode(deployment, address, &topics, &data);
            Ok(Record {
                block_number: bn as u64,
                block_hash: units::parse_word(&bh)?,
                block_time: bt as u64,
                tx_hash: units::parse_word(&tx)?,
                log_index: li as u64,
                address,
                topics,
                data,
                event,
            })
        })
        .collect()
}

/// The checkpoint, if any block was indexed yet.
pub async fn checkpoint(db: &Db) -> Result<Option<Checkpoint>> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT block_number, block_hash FROM checkpoint WHERE id = 1")
            .fetch_optional(&db.pool)
            .await?;
    row.map(|(n, h)| {
        Ok(Checkpoint {
            number: n as u64,
            hash: units::parse_word(&h)?,
        })
    })
    .transpose()
}

/// The timestamp of the checkpoint block (the time the derived state is as of), from the block
/// window, which always holds the checkpoint block.
pub async fn checkpoint_time(db: &Db) -> Result<Option<u64>> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT b.timestamp FROM blocks b JOIN checkpoint c ON b.number = c.block_number \
         WHERE c.id = 1",
    )
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(t,)| t as u64))
}

/// Moves the checkpoint (inside the transaction that stores the events up to it).
pub async fn set_checkpoint(tx: &mut Transaction<'static, Any>, cp: Checkpoint) -> Result<()> {
    sqlx::query(
        "INSERT INTO checkpoint (id, block_number, block_hash) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET block_number = excluded.block_number, \
         block_hash = excluded.block_hash",
    )
    .bind(big(cp.number))
    .bind(units::word(&cp.hash))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores blocks of the window (replacing a stored block of the same number).
pub async fn insert_blocks(tx: &mut Transaction<'static, Any>, blocks: &[BlockRef]) -> Result<()> {
    let backend = Backend::of_connection(tx);
    for chunk in blocks.chunks(MAX_PARAMS / 4) {
        let sql = format!(
            "INSERT INTO blocks (number, hash, parent_hash, timestamp) VALUES {} \
             ON CONFLICT (number) DO UPDATE SET hash = excluded.hash, \
             parent_hash = excluded.parent_hash, timestamp = excluded.timestamp",
            fairtrain_db::sql::values(backend, chunk.len(), 4, "")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
        for b in chunk {
            q = q
                .bind(big(b.number))
                .bind(units::word(&b.hash))
                .bind(b.parent_hash.as_ref().map(units::word))
                .bind(big(b.timestamp));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Drops window blocks older than `below`.
pub async fn prune_blocks(tx: &mut Transaction<'static, Any>, below: u64) -> Result<()> {
    sqlx::query("DELETE FROM blocks WHERE number < $1")
        .bind(big(below))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The window, newest first.
pub async fn window(db: &Db) -> Result<Vec<BlockRef>> {
    let rows: Vec<(i64, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT number, hash, parent_hash, timestamp FROM blocks ORDER BY number DESC",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.into_iter()
        .map(|(n, h, p, t)| {
            Ok(BlockRef {
                number: n as u64,
                hash: units::parse_word(&h)?,
                parent_hash: p.as_deref().map(units::parse_word).transpose()?,
                timestamp: t as u64,
            })
        })
        .collect()
}

/// Deletes raw events and window blocks above `ancestor` (a reorganisation's common ancestor).
pub async fn delete_above(tx: &mut Transaction<'static, Any>, ancestor: u64) -> Result<u64> {
    let deleted = sqlx::query("DELETE FROM raw_events WHERE block_number > $1")
        .bind(big(ancestor))
        .execute(&mut **tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM blocks WHERE number > $1")
        .bind(big(ancestor))
        .execute(&mut **tx)
        .await?;
    add_to_count(tx, -(deleted as i64)).await?;
    Ok(deleted)
}

/// Number of stored raw events (kept in `meta`).
pub async fn count(db: &Db) -> Result<u64> {
    if let Some(n) = db.meta_u64("events").await? {
        return Ok(n);
    }
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM raw_events")
        .fetch_one(&db.pool)
        .await?;
    Ok(n as u64)
}
