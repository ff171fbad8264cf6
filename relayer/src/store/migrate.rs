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
        include_str!("../../migrations/0006_usage_key_index.sql"),
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
