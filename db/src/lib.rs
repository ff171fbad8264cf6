//! The database layer shared by the Fairtrain services: SQLite (embedded, WAL) or PostgreSQL
//! behind one `sqlx::AnyPool`, so that one code path and one set of migrations serve both.
//!
//! A service connects with the [`Options`] it needs ([`Db::connect`]), runs its own
//! `sqlx::migrate!` migrator ([`Db::migrate`]; the macro stays in the service crate because its
//! path is relative to that crate) and writes in [`Db::begin_write`] transactions.

pub mod sql;
pub mod value;

pub use value::{Decimal, Hex};

use std::{fmt, str::FromStr};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::{MigrateError, Migrator},
    AnyPool, Executor,
};

/// Errors opening or migrating a database. They name the backend, never the URL (it may hold a
/// password).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is neither `sqlite:…` nor `postgres:…`/`postgresql:…`.
    #[error("database url with scheme {scheme:?}: expected sqlite:… or postgres:…")]
    UnknownScheme {
        /// What stood before the first `:` (the whole URL's start if none).
        scheme: String,
    },
    /// The database could not be reached or opened.
    #[error("connecting to the {backend} database: {source}")]
    Connect {
        /// Which database.
        backend: Backend,
        /// What sqlx reported.
        source: sqlx::Error,
    },
    /// A migration could not be applied (or an applied one differs from the embedded one).
    #[error("migrating the {backend} database: {source}")]
    Migrate {
        /// Which database.
        backend: Backend,
        /// What the migrator reported.
        source: MigrateError,
    },
}

/// Which database a URL points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, a file: the embedded default.
    Sqlite,
    /// PostgreSQL, for several processes sharing one database.
    Postgres,
}

impl Backend {
    /// The backend behind a connection of an `AnyPool`.
    ///
    /// # Panics
    ///
    /// On a driver other than SQLite or PostgreSQL ([`Db::connect`] installs only those two).
    pub fn of_connection(conn: &sqlx::AnyConnection) -> Self {
        match conn.backend_name() {
            "SQLite" => Self::Sqlite,
            "PostgreSQL" => Self::Postgres,
            other => panic!("fairtrain-db opens SQLite or PostgreSQL, not {other}"),
        }
    }

    /// The backend of a database URL (`sqlite:…`, `postgres:…` or `postgresql:…`).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownScheme`] for any other URL.
    pub fn of(url: &str) -> Result<Self, Error> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
            Err(Error::UnknownScheme {
                scheme: scheme.chars().take(32).collect(),
            })
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        })
    }
}

/// SQLite's `synchronous` setting (in WAL mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Synchronous {
    /// A committed transaction survives a crash of the process, not a power cut.
    Normal,
    /// A committed transaction survives a power cut too.
    Full,
}

impl Synchronous {
    const fn pragma(self) -> &'static str {
        match self {
            Self::Normal => "PRAGMA synchronous = NORMAL",
            Self::Full => "PRAGMA synchronous = FULL",
        }
    }
}

/// What differs between the services' connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// SQLite `synchronous` (every SQLite connection is in WAL mode).
    pub synchronous: Synchronous,
    /// SQLite `foreign_keys` (PostgreSQL always enforces them).
    pub foreign_keys: bool,
    /// SQLite `busy_timeout`, in milliseconds: how long a writer waits for another.
    pub busy_timeout_ms: u32,
    /// Pool size on SQLite.
    pub sqlite_connections: u32,
    /// Most memory each SQLite connection keeps as its page cache, in MiB (SQLite's default is
    /// 2 MiB: a writer inserting at random places in an index larger than that reads its pages
    /// back from the file at every commit).
    pub sqlite_cache_mib: u32,
    /// Pool size on PostgreSQL.
    pub postgres_connections: u32,
}

impl Default for Options {
    /// `synchronous = NORMAL`, foreign keys off, 10 s busy timeout, 4 SQLite or 8 PostgreSQL
    /// connections, a page cache of up to 64 MiB per SQLite connection.
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Normal,
            foreign_keys: false,
            busy_timeout_ms: 10_000,
            sqlite_connections: 4,
            postgres_connections: 8,
            sqlite_cache_mib: 64,
        }
    }
}

/// A connection pool and the backend behind it; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    /// The pool.
    pub pool: AnyPool,
    /// Which database it is.
    pub backend: Backend,
}

impl Db {
    /// Connects to `url`, creating a SQLite file if needed (`mode=rwc` unless the URL sets a
    /// `mode`), with `options`. It applies no migration: see [`Db::migrate`].
    ///
    /// URLs: `sqlite:///path/to/file.db` or `sqlite://relative.db`;
    /// `postgres://user@localhost/dbname?host=/var/run/postgresql` (a Unix socket avoids a
    /// 44 ms Nagle delay per statement that sqlx suffers over TCP loopback).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownScheme`], or [`Error::Connect`] when the database cannot be opened.
    pub async fn connect(url: &str, options: &Options) -> Result<Self, Error> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let connect = |source| Error::Connect { backend, source };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let pragmas = sqlite_pragmas(options);
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => options.sqlite_connections,
                Backend::Postgres => options.postgres_connections,
            })
            .after_connect(move |conn, _| {
                let pragmas = pragmas.clone();
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in pragmas {
                            conn.execute(sqlx::AssertSqlSafe(pragma)).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(AnyConnectOptions::from_str(&url).map_err(connect)?)
            .await
            .map_err(connect)?;
        Ok(Self { pool, backend })
    }

    /// Applies the migrations of `migrator` that the database has not applied yet (sqlx
    /// records them in `_sqlx_migrations`; on PostgreSQL it holds an advisory lock meanwhile,
    /// so processes starting together migrate one after the other).
    ///
    /// # Errors
    ///
    /// [`Error::Migrate`], e.g. when an applied migration differs from the embedded one.
    pub async fn migrate(&self, migrator: &Migrator) -> Result<(), Error> {
        migrator
            .run(&self.pool)
            .await
            .map_err(|source| Error::Migrate {
                backend: self.backend,
                source,
            })
    }

    /// Begins a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`, waiting up to `busy_timeout` for another writer): a deferred transaction
    /// that reads first cannot become a writer once another connection has committed since
    /// its read (`SQLITE_BUSY_SNAPSHOT`, which no timeout waits out). PostgreSQL needs
    /// nothing more: its writers wait on row locks.
    ///
    /// # Errors
    ///
    /// [`sqlx::Error`] if no connection can be had or the transaction cannot start.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// The statements run on every new SQLite connection: WAL (readers never block the writer),
/// then `options`.
fn sqlite_pragmas(options: &Options) -> Vec<String> {
    vec![
        "PRAGMA journal_mode = WAL".to_owned(),
        options.synchronous.pragma().to_owned(),
        format!("PRAGMA busy_timeout = {}", options.busy_timeout_ms),
        format!(
            "PRAGMA foreign_keys = {}",
            if options.foreign_keys { "ON" } else { "OFF" }
        ),
        format!("PRAGMA cache_size = -{}", options.sqlite_cache_mib * 1024),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_of_known_schemes() {
        assert_eq!(Backend::of("sqlite://a.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("postgres://u@h/d").unwrap(), Backend::Postgres);
        assert_eq!(
            Backend::of("postgresql://u@h/d").unwrap(),
            Backend::Postgres
        );
    }

    #[test]
    fn unknown_scheme_is_named_without_the_rest_of_the_url() {
        let err = Backend::of("mysql://root:secret@host/db").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("\"mysql\""), "{message}");
        assert!(!message.contains("secret"), "{message}");
        assert!(Backend::of("db.sqlite").is_err());
    }

    #[test]
    fn pragmas_follow_the_options() {
        let relayer = Options {
            synchronous: Synchronous::Full,
            foreign_keys: true,
            sqlite_cache_mib: 8,
            ..Options::default()
        };
        assert_eq!(
            sqlite_pragmas(&relayer),
            [
                "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = FULL",
                "PRAGMA busy_timeout = 10000",
                "PRAGMA foreign_keys = ON",
                "PRAGMA cache_size = -8192"
            ]
        );
        let indexer = sqlite_pragmas(&Options::default());
        assert_eq!(indexer[1], "PRAGMA synchronous = NORMAL");
        assert_eq!(indexer[3], "PRAGMA foreign_keys = OFF");
    }
}
