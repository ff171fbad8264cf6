//! Schema migrations: numbered SQL files compiled into the binary, applied in order, each in a
//! transaction, and recorded in `schema_migrations`.

use sqlx::Row;

use super::{Backend, Store, StoreResult};

/// `(version, SQL, PostgreSQL-only SQL run after it)` of every migration, in order.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql"), ""),
    (
        2,
        include_str!("../../migrations/0002_shared_ledger.sql"),
        include_str!("../../migrations/0002_shared_ledger_postgres.sql"),
    ),
    (3, include_str!("../../migrations/0003_claim_index.sql"), ""),
    (
        4,
        include_str!("../../migrations/0004_proofs_index.sql"),
        "",
    ),
    (
        5,
        include_str!("../../migrations/0005_chain_journal.sql"),
        "",
    ),
    (
        6,
        include_str!("../../migrations/0006_committed_heads.sql"),
        "",
    ),
    (
        7,
        include_str!("../../migrations/0007_release_jobs.sql"),
        "",
    ),
];

/// Applies the migrations that `store` has not applied yet. On PostgreSQL an advisory lock
/// serializes processes starting at the same time.
pub(super) async fn run(store: &Store) -> StoreResult<()> {
    let mut conn = store.pool.acquire().await?;
    if store.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock(727274)")
            .execute(&mut *conn)
            .await?;
    }
    let result = apply(&mut conn, store.backend).await;
    if store.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_unlock(727274)")
            .execute(&mut *conn)
            .await?;
    }
    result
}

async fn apply(conn: &mut sqlx::AnyConnection, backend: Backend) -> StoreResult<()> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, \
         applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    for (version, sql, postgres_sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
            .execute(&mut *tx)
            .await?;
        if backend == Backend::Postgres && !postgres_sql.is_empty() {
            sqlx::raw_sql(sqlx::AssertSqlSafe(*postgres_sql))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(crate::util::now_secs())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed-heads migration's backfill keeps, per usage key, the committed receipt with
    /// the highest count (counts are decimal text: "10" is above "9"), and ignores receipts not
    /// committed.
    #[tokio::test]
    async fn committed_heads_backfill_keeps_each_keys_highest_committed_count() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("r.db").display());
        let store = Store::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO batches (id, state, root, receipt_count, data_hash, data_uri, \
             reservations, created_at, updated_at) VALUES \
             (1, 'confirmed', '0xr1', 2, '0xh1', '', '[]', 0, 0), \
             (2, 'confirmed', '0xr2', 1, '0xh2', '', '[]', 0, 0)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        for (digest, key, count, status, batch) in [
            ("0xd1", "0xk1", "9", "committed", Some(1)),
            ("0xd2", "0xk1", "10", "committed", Some(2)),
            ("0xd3", "0xk1", "11", "pending", None),
            ("0xd4", "0xk2", "5", "committed", Some(1)),
        ] {
            sqlx::query(
                "INSERT INTO receipts (digest, usage_key, payer, license_id, terms_id, run_id, \
                 cumulative, issued_at, signature, signer, token, amount, chargeable_from, \
                 received_at, seq, status, batch_id) VALUES ($1, $2, '0xp', '1', '1', '0xrun', \
                 $3, '0', '0xs', '0xk', '0xt', '0', 0, 0, 0, $4, $5)",
            )
            .bind(digest)
            .bind(key)
            .bind(count)
            .bind(status)
            .bind(batch)
            .execute(store.pool())
            .await
            .unwrap();
        }
        let backfill = MIGRATIONS
            .iter()
            .find(|(v, _, _)| *v == 6)
            .unwrap()
            .1
            .split_once("-- Counts are decimal text")
            .unwrap()
            .1;
        let backfill = &backfill[backfill.find("INSERT").unwrap()..];
        sqlx::raw_sql(sqlx::AssertSqlSafe(backfill))
            .execute(store.pool())
            .await
            .unwrap();
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT usage_key, cumulative, batch_id FROM committed_heads ORDER BY usage_key",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(
            rows,
            vec![
                ("0xk1".into(), "10".into(), 2),
                ("0xk2".into(), "5".into(), 1)
            ]
        );
    }
}
