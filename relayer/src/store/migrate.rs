//! Schema migrations: the numbered SQL files of `relayer/migrations/`, applied by sqlx's
//! migrator (each in a transaction, recorded in `_sqlx_migrations`; on PostgreSQL under
//! sqlx's advisory lock, so processes starting together migrate one after the other).
//!
//! Two steps around the plain migrator:
//! - a database made by the former hand-written migrator (versions in `schema_migrations`) is
//!   adopted first ([`adopt_legacy`]);
//! - on PostgreSQL, migration 2 also fills the shared ledger from the receipts stored before
//!   it (`migrations/postgres/0002_shared_ledger_backfill.sql`, in the same transaction).
//!   SQLite keeps that ledger in memory: its tables stay empty there.

use fairtrain_db::{Backend, Db};
use sqlx::{
    migrate::{Migrate, Migrator},
    AssertSqlSafe, SqlSafeStr,
};

use super::{StoreError, StoreResult};

/// The migrations, embedded in the binary.
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The version whose PostgreSQL transaction also runs [`LEDGER_BACKFILL`].
const LEDGER_VERSION: i64 = 2;

/// PostgreSQL only: fills `payer_ledger` and `usage_heads` from the receipts of a version-1
/// database.
const LEDGER_BACKFILL: &str =
    include_str!("../../migrations/postgres/0002_shared_ledger_backfill.sql");

/// Where the former migrator recorded the versions it applied.
const LEGACY_TABLE: &str = "schema_migrations";

/// Where sqlx's migrator records the versions it applied (its default table).
const SQLX_TABLE: &str = "_sqlx_migrations";

/// Key of the advisory lock the former migrator took on PostgreSQL; adoption takes it too, so
/// an old and a new relayer starting together do not interleave.
const LEGACY_LOCK: i64 = 727_274;

/// Adopts a database of the former migrator, then applies the pending migrations.
pub(super) async fn run(db: &Db) -> StoreResult<()> {
    adopt_legacy(db).await?;
    match db.backend {
        Backend::Sqlite => db.migrate(&MIGRATOR).await?,
        Backend::Postgres => db.migrate(&postgres_migrator()).await?,
    }
    Ok(())
}

/// [`MIGRATOR`] with [`LEDGER_BACKFILL`] appended to migration 2, recorded under the checksum of
/// the portable file alone: `_sqlx_migrations` is then the same on both backends, and the
/// checksums a later start validates are the files' own.
fn postgres_migrator() -> Migrator {
    let migrations = MIGRATOR.iter().cloned().map(|mut migration| {
        if migration.version == LEDGER_VERSION {
            let sql = format!("{}\n{LEDGER_BACKFILL}", migration.sql.as_str());
            migration.sql = AssertSqlSafe(sql).into_sql_str();
        }
        migration
    });
    Migrator::with_migrations(migrations.collect())
}

/// Adopts a database made by the former migrator, in one transaction: creates sqlx's
/// `_sqlx_migrations`, records there every version listed in `schema_migrations` with the
/// checksum of the embedded migration, and drops `schema_migrations` (its presence is what
/// marks a database not yet adopted). A database without `schema_migrations` is left alone.
///
/// # Errors
///
/// [`StoreError::Corrupt`] if `schema_migrations` lists a version this relayer does not know;
/// nothing is changed then.
async fn adopt_legacy(db: &Db) -> StoreResult<()> {
    let mut tx = db.pool.begin().await?;
    if db.backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LEGACY_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    if !has_table(&mut tx, db.backend, LEGACY_TABLE).await? {
        return Ok(());
    }
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await?;
    tx.ensure_migrations_table(SQLX_TABLE)
        .await
        .map_err(|source| fairtrain_db::Error::Migrate {
            backend: db.backend,
            source,
        })?;
    for version in versions {
        let migration = MIGRATOR
            .iter()
            .find(|m| m.version == version)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "{LEGACY_TABLE} lists version {version}, unknown to this relayer"
                ))
            })?;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES ($1, $2, TRUE, $3, 0)",
        )
        .bind(version)
        .bind(migration.description.to_string())
        .bind(migration.checksum.to_vec())
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DROP TABLE schema_migrations")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!("adopted the database of the former migrator into _sqlx_migrations");
    Ok(())
}

/// Whether `table` exists (in the current schema on PostgreSQL).
async fn has_table(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    table: &str,
) -> StoreResult<bool> {
    let sql = match backend {
        Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = $1"
        }
    };
    let count: i64 = sqlx::query_scalar(sql)
        .bind(table)
        .fetch_one(&mut *conn)
        .await?;
    Ok(count > 0)
}

#[cfg(test)]
mod tests;
