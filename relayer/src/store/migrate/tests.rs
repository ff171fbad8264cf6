//! Migrations on both backends: databases of the former migrator, the PostgreSQL ledger
//! backfill, and the committed-heads backfill.

use fairtrain_testkit::{Backend as TestBackend, TestDb};

use super::*;
use crate::store::Store;

const BACKENDS: [TestBackend; 2] = [TestBackend::Sqlite, TestBackend::Postgres];

/// A database as the former hand-written migrator left it at `version`: the same SQL files,
/// each in a transaction (with the ledger backfill after migration 2 on PostgreSQL), and the
/// versions in `schema_migrations`.
async fn legacy_database(url: &str, version: i64) -> Db {
    let db = Db::connect(url, &crate::store::options()).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, \
         applied_at BIGINT NOT NULL)",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    for migration in MIGRATOR.iter().filter(|m| m.version <= version) {
        let mut tx = db.pool.begin().await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(migration.sql.as_str().to_owned()))
            .execute(&mut *tx)
            .await
            .unwrap();
        if db.backend == Backend::Postgres && migration.version == LEDGER_VERSION {
            sqlx::raw_sql(LEDGER_BACKFILL)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)")
            .bind(migration.version)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    db
}

/// Stores a receipt with the columns of schema version 1.
async fn insert_receipt(db: &Db, digest: &str, key: &str, cumulative: &str, amount: &str) {
    sqlx::query(
        "INSERT INTO receipts (digest, usage_key, payer, license_id, terms_id, run_id, \
         cumulative, issued_at, signature, signer, token, amount, chargeable_from, \
         received_at, seq, status) VALUES ($1, $2, '0xp', '1', '1', '0xrun', $3, '0', '0xs', \
         '0xk', '0xt', $4, 0, 0, 0, 'pending')",
    )
    .bind(digest)
    .bind(key)
    .bind(cumulative)
    .bind(amount)
    .execute(&db.pool)
    .await
    .unwrap();
}

/// The versions and checksums recorded in `_sqlx_migrations`.
async fn recorded(store: &Store) -> Vec<(i64, Vec<u8>)> {
    sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

async fn has_legacy_table(store: &Store) -> bool {
    let mut conn = store.pool().acquire().await.unwrap();
    has_table(&mut conn, store.backend(), LEGACY_TABLE)
        .await
        .unwrap()
}

/// A database of the former migrator at the latest version opens with its data, every version
/// recorded with the embedded checksum, and `schema_migrations` dropped; it opens again after.
#[tokio::test]
async fn legacy_database_is_adopted_without_loss() {
    for backend in BACKENDS {
        let test_db = TestDb::new(backend);
        let legacy = legacy_database(&test_db.url, 7).await;
        insert_receipt(&legacy, "0xd1", "0xk1", "5", "7").await;
        legacy.pool.close().await;

        let store = Store::connect(&test_db.url).await.unwrap();
        let expected: Vec<(i64, Vec<u8>)> = MIGRATOR
            .iter()
            .map(|m| (m.version, m.checksum.to_vec()))
            .collect();
        assert_eq!(recorded(&store).await, expected, "{backend:?}");
        assert!(!has_legacy_table(&store).await, "{backend:?}");
        let digests: Vec<String> = sqlx::query_scalar("SELECT digest FROM receipts")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(digests, ["0xd1"], "{backend:?}");
        store.pool().close().await;

        let store = Store::connect(&test_db.url).await.unwrap();
        assert_eq!(recorded(&store).await, expected, "{backend:?}");
        store.pool().close().await;
    }
}

/// A version-1 database of the former migrator is upgraded; on PostgreSQL migration 2 fills
/// the shared ledger from its receipts (the highest count per key, the pending sum per payer),
/// on SQLite the ledger tables stay empty.
#[tokio::test]
async fn version_1_upgrade_backfills_the_ledger_on_postgres_only() {
    for backend in BACKENDS {
        let test_db = TestDb::new(backend);
        let legacy = legacy_database(&test_db.url, 1).await;
        insert_receipt(&legacy, "0xd1", "0xk1", "9", "900").await;
        insert_receipt(&legacy, "0xd2", "0xk1", "10", "100").await;
        legacy.pool.close().await;

        let store = Store::connect(&test_db.url).await.unwrap();
        assert_eq!(recorded(&store).await.len(), MIGRATOR.iter().count());
        let pending: Vec<(String, String, String)> =
            sqlx::query_as("SELECT payer, token, pending FROM payer_ledger")
                .fetch_all(store.pool())
                .await
                .unwrap();
        let heads: Vec<(String, String, String)> =
            sqlx::query_as("SELECT usage_key, cumulative, digest FROM usage_heads")
                .fetch_all(store.pool())
                .await
                .unwrap();
        match backend {
            TestBackend::Postgres => {
                assert_eq!(pending, [("0xp".into(), "0xt".into(), "1000".into())]);
                assert_eq!(heads, [("0xk1".into(), "10".into(), "0xd2".into())]);
            }
            TestBackend::Sqlite => {
                assert!(pending.is_empty() && heads.is_empty());
            }
        }
        store.pool().close().await;
    }
}

/// Processes starting together on a PostgreSQL database of the former migrator: one adopts and
/// migrates, the others wait and find it done; the backfill runs once.
#[tokio::test]
async fn concurrent_starts_on_postgres_adopt_and_backfill_once() {
    let test_db = TestDb::new(TestBackend::Postgres);
    let legacy = legacy_database(&test_db.url, 1).await;
    insert_receipt(&legacy, "0xd1", "0xk1", "3", "30").await;
    legacy.pool.close().await;
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = test_db.url.clone();
            tokio::spawn(async move {
                let store = Store::connect(&url).await.unwrap();
                store.pool().close().await;
            })
        })
        .collect();
    for start in starts {
        start.await.unwrap();
    }
    let store = Store::connect(&test_db.url).await.unwrap();
    assert_eq!(recorded(&store).await.len(), MIGRATOR.iter().count());
    let pending: Vec<String> = sqlx::query_scalar("SELECT pending FROM payer_ledger")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(pending, ["30"]);
    store.pool().close().await;
}

/// A database that lists a version this relayer does not know is refused, unchanged.
#[tokio::test]
async fn unknown_legacy_version_is_refused() {
    let test_db = TestDb::new(TestBackend::Sqlite);
    let legacy = legacy_database(&test_db.url, 7).await;
    sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)")
        .execute(&legacy.pool)
        .await
        .unwrap();
    let err = Store::connect(&test_db.url).await.unwrap_err();
    assert!(err.to_string().contains("version 99"), "{err}");
    let mut conn = legacy.pool.acquire().await.unwrap();
    assert!(has_table(&mut conn, Backend::Sqlite, LEGACY_TABLE)
        .await
        .unwrap());
    assert!(!has_table(&mut conn, Backend::Sqlite, "_sqlx_migrations")
        .await
        .unwrap());
}

/// The committed-heads migration's backfill keeps, per usage key, the committed receipt with
/// the highest count (counts are decimal text: "10" is above "9"), and ignores receipts not
/// committed.
#[tokio::test]
async fn committed_heads_backfill_keeps_each_keys_highest_committed_count() {
    let test_db = TestDb::new(TestBackend::Sqlite);
    let store = Store::connect(&test_db.url).await.unwrap();
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
    let migration = MIGRATOR.iter().find(|m| m.version == 6).unwrap();
    let backfill = migration
        .sql
        .as_str()
        .split_once("-- Counts are decimal text")
        .unwrap()
        .1;
    let backfill = &backfill[backfill.find("INSERT").unwrap()..];
    sqlx::raw_sql(AssertSqlSafe(backfill.to_owned()))
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

/// Migration 9 rebuilds `receipts` without the digest key: every column of every row is kept,
/// and a lookup by digest ([`crate::store::BY_DIGEST`]) uses the index on the digest's prefix.
#[tokio::test]
async fn digest_prefix_migration_keeps_rows_and_serves_lookups() {
    const COLUMNS: &str = "digest, usage_key, payer, license_id, terms_id, run_id, cumulative, \
        issued_at, signature, signer, token, amount, chargeable_from, received_at, seq, status, \
        batch_id, leaf_index, proof, claim_tx";
    type Row = (String, String, String, String, Option<i64>, Option<String>);
    for backend in BACKENDS {
        let test_db = TestDb::new(backend);
        let legacy = legacy_database(&test_db.url, 8).await;
        insert_receipt(&legacy, "0xd1aaaaaaaaaaaaaaaa01", "0xk1", "9", "900").await;
        insert_receipt(&legacy, "0xd1aaaaaaaaaaaaaaaa02", "0xk1", "10", "100").await;
        sqlx::query(
            "UPDATE receipts SET status = 'committed', batch_id = 3, leaf_index = 1, \
             proof = '0xpr', claim_tx = '0xc1' WHERE digest = '0xd1aaaaaaaaaaaaaaaa02'",
        )
        .execute(&legacy.pool)
        .await
        .unwrap();
        let read = |pool: sqlx::AnyPool| async move {
            let all: Vec<Row> = sqlx::query_as(
                "SELECT digest, cumulative, amount, status, batch_id, claim_tx FROM receipts \
                 ORDER BY digest",
            )
            .fetch_all(&pool)
            .await
            .unwrap();
            let whole: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT CONCAT({}) FROM receipts ORDER BY digest",
                COLUMNS.replace(", ", ", '|', ")
            )))
            .fetch_all(&pool)
            .await
            .unwrap();
            (all, whole)
        };
        let before = read(legacy.pool.clone()).await;
        legacy.pool.close().await;

        let store = Store::connect(&test_db.url).await.unwrap();
        assert_eq!(read(store.pool().clone()).await, before, "{backend:?}");
        assert_eq!(before.0.len(), 2);

        // Two digests share their first 8 bytes: the lookup still finds exactly one.
        let found: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT cumulative FROM receipts WHERE {}",
            crate::store::BY_DIGEST
        )))
        .bind("0xd1aaaaaaaaaaaaaaaa02")
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(found, ["10"]);
        assert!(store.has_receipt("0xd1aaaaaaaaaaaaaaaa01").await.unwrap());
        assert!(!store.has_receipt("0xd1aaaaaaaaaaaaaaaa03").await.unwrap());

        let lookup = format!("SELECT 1 FROM receipts WHERE {}", crate::store::BY_DIGEST)
            .replace("$1", "'0xd1aaaaaaaaaaaaaaaa02'");
        let mut conn = store.pool().acquire().await.unwrap();
        let plan: Vec<String> = match backend {
            TestBackend::Sqlite => {
                let rows: Vec<(i64, i64, i64, String)> =
                    sqlx::query_as(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {lookup}")))
                        .fetch_all(&mut *conn)
                        .await
                        .unwrap();
                rows.into_iter().map(|r| r.3).collect()
            }
            TestBackend::Postgres => {
                // Two rows would be scanned whole otherwise: ask for the index if usable.
                sqlx::raw_sql("SET enable_seqscan = off")
                    .execute(&mut *conn)
                    .await
                    .unwrap();
                sqlx::query_scalar(AssertSqlSafe(format!("EXPLAIN {lookup}")))
                    .fetch_all(&mut *conn)
                    .await
                    .unwrap()
            }
        };
        assert!(
            plan.iter().any(|line| line.contains("receipts_digest")),
            "{backend:?}: {plan:?}"
        );
        drop(conn);
        store.pool().close().await;
    }
}
