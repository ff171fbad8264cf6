//! A fresh database per test: a SQLite file in a temporary folder, or a new PostgreSQL database
//! (user `postgres`, over the Unix socket `/var/run/postgresql`) dropped when the test ends.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A temporary SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database, dropped afterwards.
    Postgres,
}

/// The maintenance database the test databases are created from.
const PG_ADMIN: &str = "postgres://postgres@localhost/postgres?host=/var/run/postgresql";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh database for one test; a PostgreSQL one is dropped on drop.
#[derive(Debug)]
pub struct TestDb {
    /// Its URL, for the services' `database_url`.
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Creates one: a SQLite file `test.db` in a temporary folder, or a PostgreSQL database
    /// named `fairtrain_test_<pid>_<n>_<nanos>`.
    ///
    /// # Panics
    ///
    /// If PostgreSQL does not answer or refuses.
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                Self {
                    url: format!("sqlite://{}", dir.path().join("test.db").display()),
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let name = format!(
                    "fairtrain_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .expect("after 1970")
                        .subsec_nanos()
                );
                pg_admin(format!("CREATE DATABASE {name}"));
                Self {
                    url: format!("postgres://postgres@localhost/{name}?host=/var/run/postgresql"),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }
}

/// Runs one statement on the maintenance database (from any context, see
/// [`crate::block_on`]).
fn pg_admin(sql: String) {
    crate::block_on(async move {
        let mut conn = sqlx::PgConnection::connect(PG_ADMIN)
            .await
            .expect("PostgreSQL answers on /var/run/postgresql as user postgres");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            pg_admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}
