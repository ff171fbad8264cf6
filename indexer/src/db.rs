//! The database: SQLite (embedded default) or PostgreSQL, through `sqlx`'s `Any` driver so that
//! one code path and one set of migrations (`indexer/migrations/`) serve both.

use std::{ops::Deref, str::FromStr};

use sqlx::migrate::Migrator;

pub use fairtrain_db::Backend;

use crate::{units, Deployment, Error, Result};

/// The migrations, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The indexer's connections: on SQLite, `synchronous = NORMAL` (durable across process
/// crashes, which is what resuming needs) and foreign keys off.
fn options() -> fairtrain_db::Options {
    fairtrain_db::Options::default()
}

/// Meta key set by migration 0008 in a database made by the indexer of the escrow before credit
/// lines; [`Db::connect`] refuses such a database.
pub const LEGACY_ESCROW: &str = "legacy_escrow";

/// Meta key set by a migration that adds derived state to a database with indexed events (0009:
/// `royalties_creator_daily`): [`crate::sync::Indexer::new`] rebuilds the derived tables from the
/// raw events, and every replay of them removes the key.
pub const DERIVED_STALE: &str = "derived_stale";

/// A connection pool to the indexer's database: a [`fairtrain_db::Db`] (its `pool` and
/// `backend` read through `Deref`) with the indexer's `meta` helpers.
#[derive(Debug, Clone)]
pub struct Db(fairtrain_db::Db);

impl Deref for Db {
    type Target = fairtrain_db::Db;

    fn deref(&self) -> &fairtrain_db::Db {
        &self.0
    }
}

/// The derived tables, in the order they are cleared for a rebuild.
pub const DERIVED_TABLES: &[&str] = &[
    "params",
    "tokens",
    "terms",
    "licenses",
    "balances",
    "withdrawals",
    "acceptances",
    "credit_lines",
    "signers",
    "batches",
    "reservations",
    "settlements",
    "royalties_daily",
    "royalties_total",
    "royalties_by_day",
    "royalties_creator_daily",
    "fees",
    "streams",
    "stream_payees",
    "pools",
    "pool_tokens",
    "pool_holders",
    "pool_accounts",
];

impl Db {
    /// Connects (creating a SQLite file if needed) and applies the migrations.
    ///
    /// # Errors
    ///
    /// [`Error::LegacyDatabase`] for a database made by the indexer of the escrow before credit
    /// lines (it is left as it was, apart from the migration that marked it).
    ///
    /// URLs: `sqlite:///path/to/file.db` or `sqlite://relative.db`;
    /// `postgres://user@localhost/dbname?host=/var/run/postgresql` (a Unix socket avoids a 44 ms
    /// Nagle delay per statement that sqlx suffers over TCP loopback).
    pub async fn connect(url: &str) -> Result<Self> {
        let db = fairtrain_db::Db::connect(url, &options())
            .await
            .map_err(from_db_error)?;
        db.migrate(&MIGRATOR).await.map_err(from_db_error)?;
        let db = Self(db);
        if let Some(legacy) = db.meta(LEGACY_ESCROW).await? {
            db.pool.close().await;
            return Err(Error::LegacyDatabase(legacy));
        }
        Ok(db)
    }

    /// Records the deployment in `meta` on first use, and refuses a database that indexes
    /// another one.
    pub async fn bind_deployment(&self, d: &Deployment) -> Result<()> {
        let expected = [
            ("chain_id", d.chain_id.to_string()),
            ("license_nft", units::addr(&d.license_nft)),
            ("training_escrow", units::addr(&d.training_escrow)),
            ("start_block", d.start_block.to_string()),
        ];
        for (key, given) in expected {
            match self.meta(key).await? {
                Some(stored) if stored != given => {
                    return Err(Error::WrongDatabase {
                        key: key.into(),
                        stored,
                        given,
                    });
                }
                Some(_) => {}
                None => self.set_meta(key, &given).await?,
            }
        }
        Ok(())
    }

    /// A value of the `meta` table.
    pub async fn meta(&self, key: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.0))
    }

    /// Sets a value of the `meta` table.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A `u64` value of the `meta` table.
    pub async fn meta_u64(&self, key: &str) -> Result<Option<u64>> {
        match self.meta(key).await? {
            None => Ok(None),
            Some(v) => u64::from_str(&v)
                .map(Some)
                .map_err(|e| Error::Stored(format!("meta {key} = {v:?}: {e}"))),
        }
    }
}

/// The indexer's error for a failure to open or migrate the database.
fn from_db_error(e: fairtrain_db::Error) -> Error {
    match e {
        fairtrain_db::Error::Migrate { source, .. } => Error::Migrate(source),
        fairtrain_db::Error::Connect { source, .. } => Error::Db(source),
        e @ fairtrain_db::Error::UnknownScheme { .. } => {
            Error::invalid("database url", e.to_string())
        }
    }
}
