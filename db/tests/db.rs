//! `fairtrain-db` against a SQLite file and a fresh PostgreSQL database.

use fairtrain_db::{sql, Backend, Db, Error, Options, Synchronous};
use fairtrain_testkit::{Backend as TestBackend, TestDb};
use sqlx::{migrate::Migrator, Row};

static MIGRATOR: Migrator = sqlx::migrate!("./tests/migrations");

const BACKENDS: [TestBackend; 2] = [TestBackend::Sqlite, TestBackend::Postgres];

/// The value of a SQLite pragma on one connection of the pool.
async fn pragma(db: &Db, name: &str) -> String {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
        .fetch_one(&db.pool)
        .await
        .unwrap();
    row.try_get::<String, _>(0)
        .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
        .unwrap()
}

#[tokio::test]
async fn sqlite_file_is_created_with_the_options() {
    let test_db = TestDb::new(TestBackend::Sqlite);
    let options = Options {
        synchronous: Synchronous::Full,
        foreign_keys: true,
        sqlite_connections: 2,
        sqlite_cache_mib: 16,
        ..Options::default()
    };
    let db = Db::connect(&test_db.url, &options).await.unwrap();
    assert_eq!(db.backend, Backend::Sqlite);
    assert_eq!(pragma(&db, "journal_mode").await, "wal");
    assert_eq!(pragma(&db, "synchronous").await, "2");
    assert_eq!(pragma(&db, "foreign_keys").await, "1");
    assert_eq!(pragma(&db, "busy_timeout").await, "10000");
    assert_eq!(pragma(&db, "cache_size").await, "-16384");
    assert_eq!(db.pool.options().get_max_connections(), 2);

    let db = Db::connect(&test_db.url, &Options::default())
        .await
        .unwrap();
    assert_eq!(pragma(&db, "synchronous").await, "1");
    assert_eq!(pragma(&db, "foreign_keys").await, "0");
    assert_eq!(db.pool.options().get_max_connections(), 4);
}

#[tokio::test]
async fn migrates_pings_and_writes_on_both_backends() {
    for backend in BACKENDS {
        let test_db = TestDb::new(backend);
        let db = Db::connect(&test_db.url, &Options::default())
            .await
            .unwrap();
        assert!(db.ping().await, "{backend:?}");
        db.migrate(&MIGRATOR).await.unwrap();
        // Applying again is a no-op.
        db.migrate(&MIGRATOR).await.unwrap();
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&db.pool)
                .await
                .unwrap();
        assert_eq!(versions, [1, 2], "{backend:?}");

        let mut tx = db.begin_write().await.unwrap();
        sqlx::query("INSERT INTO notes (id, body) VALUES ($1, $2)")
            .bind(1_i64)
            .bind("hello")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let body: String = sqlx::query_scalar("SELECT body FROM notes WHERE id = 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(body, "hello");
    }
}

/// Two writers on one SQLite file: `BEGIN IMMEDIATE` makes the second wait for the first
/// instead of failing when it upgrades a read to a write.
#[tokio::test]
async fn sqlite_writers_wait_for_each_other() {
    let test_db = TestDb::new(TestBackend::Sqlite);
    let db = Db::connect(&test_db.url, &Options::default())
        .await
        .unwrap();
    db.migrate(&MIGRATOR).await.unwrap();
    let writers = (0..8_i64).map(|id| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin_write().await.unwrap();
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notes")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            tokio::task::yield_now().await;
            sqlx::query("INSERT INTO notes (id, body) VALUES ($1, $2)")
                .bind(id)
                .bind(count.to_string())
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.unwrap();
    }
    let bodies: Vec<String> =
        sqlx::query_scalar("SELECT body FROM notes ORDER BY CAST(body AS INTEGER)")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let expected: Vec<String> = (0..8).map(|n: i64| n.to_string()).collect();
    assert_eq!(bodies, expected);
}

/// Processes starting together on one PostgreSQL database: the migrator's advisory lock lets
/// one apply the migrations while the others wait, and none fails.
#[tokio::test]
async fn concurrent_migrations_on_postgres_are_serialized() {
    let test_db = TestDb::new(TestBackend::Postgres);
    let starts = (0..4).map(|_| {
        let url = test_db.url.clone();
        tokio::spawn(async move {
            let db = Db::connect(&url, &Options::default()).await.unwrap();
            db.migrate(&MIGRATOR).await.unwrap();
            db.pool.close().await;
        })
    });
    for start in starts.collect::<Vec<_>>() {
        start.await.unwrap();
    }
    let db = Db::connect(&test_db.url, &Options::default())
        .await
        .unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(applied, 2);
    db.pool.close().await;
}

#[tokio::test]
async fn errors_name_the_backend_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("missing/dir/x.db").display());
    let err = Db::connect(&url, &Options::default()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Connect {
                backend: Backend::Sqlite,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("connecting to the SQLite database: "),
        "{err}"
    );

    let err = Db::connect("mysql://localhost/x", &Options::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownScheme { .. }), "{err}");

    // An applied migration that differs from the embedded one.
    let test_db = TestDb::new(TestBackend::Sqlite);
    let db = Db::connect(&test_db.url, &Options::default())
        .await
        .unwrap();
    db.migrate(&MIGRATOR).await.unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 1")
        .bind(vec![0_u8; 48])
        .execute(&db.pool)
        .await
        .unwrap();
    let err = db.migrate(&MIGRATOR).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("migrating the SQLite database: "),
        "{err}"
    );
}

/// The placeholders of `fairtrain_db::sql` bind every value of a multi-row insert and an `IN`
/// list, in order, on both backends (positional `?` on SQLite, `$n` on PostgreSQL).
#[tokio::test]
async fn many_values_bind_in_order_on_both_backends() {
    for backend in BACKENDS {
        let test_db = TestDb::new(backend);
        let db = Db::connect(&test_db.url, &Options::default())
            .await
            .unwrap();
        db.migrate(&MIGRATOR).await.unwrap();
        let mut conn = db.pool.acquire().await.unwrap();
        assert_eq!(Backend::of_connection(&conn), db.backend);

        let rows = 1_500;
        let sql = format!(
            "INSERT INTO notes (id, body) VALUES {}",
            sql::values(db.backend, rows, 2, "")
        );
        let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in 0..rows as i64 {
            insert = insert.bind(id).bind(format!("note {id}"));
        }
        insert.execute(&mut *conn).await.unwrap();

        let wanted = [7_i64, 1_499, 0, 700];
        let sql = format!(
            "SELECT body FROM notes WHERE id IN ({}) ORDER BY id",
            sql::list(db.backend, wanted.len())
        );
        let mut select = sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
        for id in wanted {
            select = select.bind(id);
        }
        let bodies: Vec<String> = select.fetch_all(&mut *conn).await.unwrap();
        assert_eq!(
            bodies,
            ["note 0", "note 7", "note 700", "note 1499"],
            "{backend:?}"
        );
    }
}
