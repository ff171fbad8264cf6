//! The durable usage journal: one SQLite row per usage key with the cumulative samples
//! recorded, the last receipt signed for it and the count the relayer acknowledged.
//!
//! Every call commits before it returns (WAL, `synchronous = FULL`), so what a call reports as
//! recorded survives a killed process and a power cut. Counts only grow: a restart resumes each
//! key from its recorded count, never from zero.

use std::{path::Path, str::FromStr};

use alloy::primitives::{Address, B256, U256};
use fairtrain_protocol::{Receipt, SignedReceipt};
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Row, SqlitePool,
};

use crate::error::{Error, Result};

/// What a training run uses: a license under the terms version the payer accepted, within a run.
/// Together with the payer it is the escrow's usage key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Usage {
    /// The license NFT sampled from.
    pub license_id: U256,
    /// The terms version the payer accepted.
    pub terms_id: u64,
    /// The training run (e.g. `keccak256` of its name).
    pub run_id: B256,
}

impl Usage {
    /// The receipt for `payer` at `cumulative` samples, issued at `issued_at`.
    pub fn receipt(&self, payer: Address, cumulative: u64, issued_at: u64) -> Receipt {
        Receipt {
            payer,
            licenseId: self.license_id,
            termsId: self.terms_id,
            runId: self.run_id,
            cumulativeSamples: cumulative,
            issuedAt: issued_at,
        }
    }
}

/// One usage key's state in the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The usage.
    pub usage: Usage,
    /// Cumulative samples recorded.
    pub recorded: u64,
    /// The last receipt signed for this key (resent unchanged until acknowledged).
    pub signed: Option<SignedReceipt>,
    /// The highest cumulative count the relayer acknowledged.
    pub acked: u64,
    /// The relayer's last refusal of this key's receipt, if it refused the latest one.
    pub rejection: Option<Refusal>,
}

impl Entry {
    /// Samples recorded but not yet acknowledged by the relayer.
    pub const fn unreported(&self) -> u64 {
        self.recorded - self.acked
    }
}

/// A relayer's refusal of a receipt, as stored in the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The cumulative count of the refused receipt.
    pub cumulative: u64,
    /// The relayer's machine-readable code.
    pub code: String,
    /// The relayer's message.
    pub message: String,
}

/// The journal, a SQLite database owned by one meter (one signing process).
#[derive(Clone, Debug)]
pub struct Journal {
    pool: SqlitePool,
    payer: Address,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS usage (
    usage_key   BLOB PRIMARY KEY NOT NULL,
    payer       TEXT NOT NULL,
    license_id  TEXT NOT NULL,
    terms_id    TEXT NOT NULL,
    run_id      BLOB NOT NULL,
    recorded    INTEGER NOT NULL,
    signed      TEXT,
    acked       INTEGER NOT NULL DEFAULT 0,
    refused_at  INTEGER,
    refusal_code TEXT,
    refusal_message TEXT
) STRICT;
";

/// The largest count the journal stores (SQLite integers are signed 64-bit).
pub const MAX_CUMULATIVE: u64 = i64::MAX as u64;

fn to_db(n: u64) -> i64 {
    i64::try_from(n).expect("counts are checked against MAX_CUMULATIVE before they are stored")
}

fn from_db(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| Error::Corrupt(format!("negative count {n}")))
}

impl Journal {
    /// Opens (creating if needed) the journal at `path` for `payer`'s receipts.
    pub async fn open(path: &Path, payer: Address) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        // One connection: the journal's writes are tiny and serial, and one writer never waits
        // on SQLite's lock.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(Error::journal("opening"))?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(Error::journal("creating the schema"))?;
        Ok(Self { pool, payer })
    }

    /// The payer whose receipts this journal holds.
    pub const fn payer(&self) -> Address {
        self.payer
    }

    fn key(&self, usage: &Usage) -> B256 {
        usage.receipt(self.payer, 0, 0).usage_key()
    }

    /// Adds `samples` to each usage's cumulative count, all or nothing, and returns the new
    /// counts in the same order. Durable when it returns.
    pub async fn record(&self, usages: &[(Usage, u64)]) -> Result<Vec<u64>> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(Error::journal("starting a record"))?;
        let mut totals = Vec::with_capacity(usages.len());
        for (usage, samples) in usages {
            let key = self.key(usage);
            let recorded: Option<i64> =
                sqlx::query_scalar("SELECT recorded FROM usage WHERE usage_key = ?")
                    .bind(key.as_slice())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(Error::journal("reading a count"))?;
            let recorded = recorded.map(from_db).transpose()?.unwrap_or(0);
            let total = recorded
                .checked_add(*samples)
                .filter(|t| *t <= MAX_CUMULATIVE)
                .ok_or(Error::Overflow {
                    recorded,
                    adding: *samples,
                })?;
            sqlx::query(
                "INSERT INTO usage (usage_key, payer, license_id, terms_id, run_id, recorded)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (usage_key) DO UPDATE SET recorded = excluded.recorded",
            )
            .bind(key.as_slice())
            .bind(self.payer.to_string())
            .bind(usage.license_id.to_string())
            .bind(usage.terms_id.to_string())
            .bind(usage.run_id.as_slice())
            .bind(to_db(total))
            .execute(&mut *tx)
            .await
            .map_err(Error::journal("writing a count"))?;
            totals.push(total);
        }
        tx.commit()
            .await
            .map_err(Error::journal("committing a record"))?;
        Ok(totals)
    }

    /// Every key, or only those with samples the relayer has not acknowledged.
    pub async fn entries(&self, unreported_only: bool) -> Result<Vec<Entry>> {
        let sql = if unreported_only {
            "SELECT * FROM usage WHERE recorded > acked ORDER BY rowid"
        } else {
            "SELECT * FROM usage ORDER BY rowid"
        };
        let rows = sqlx::query(sql)
            .fetch_all(&self.pool)
            .await
            .map_err(Error::journal("listing keys"))?;
        rows.iter().map(entry).collect()
    }

    /// Stores the receipts about to be sent, so that a restart resends the same signed bytes
    /// (an idempotent duplicate for the relayer) instead of signing a second receipt.
    pub async fn store_signed(&self, receipts: &[SignedReceipt]) -> Result<()> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(Error::journal("starting to store receipts"))?;
        for receipt in receipts {
            let json = serde_json::to_string(receipt).expect("a signed receipt serializes");
            sqlx::query("UPDATE usage SET signed = ? WHERE usage_key = ?")
                .bind(json)
                .bind(receipt.receipt().usage_key().as_slice())
                .execute(&mut *tx)
                .await
                .map_err(Error::journal("storing a signed receipt"))?;
        }
        tx.commit()
            .await
            .map_err(Error::journal("committing signed receipts"))
    }

    /// Records the relayer's answers: acknowledged counts (which only ever grow) and refusals.
    pub async fn store_outcomes(
        &self,
        acked: &[(B256, u64)],
        refused: &[(B256, Refusal)],
    ) -> Result<()> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(Error::journal("starting to store outcomes"))?;
        for (key, cumulative) in acked {
            sqlx::query(
                "UPDATE usage SET acked = MAX(acked, ?), refused_at = NULL, refusal_code = NULL,
                 refusal_message = NULL WHERE usage_key = ?",
            )
            .bind(to_db(*cumulative))
            .bind(key.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(Error::journal("storing an acknowledgement"))?;
        }
        for (key, refusal) in refused {
            sqlx::query("UPDATE usage SET refused_at = ?, refusal_code = ?, refusal_message = ? WHERE usage_key = ?")
                .bind(to_db(refusal.cumulative))
                .bind(&refusal.code)
                .bind(&refusal.message)
                .bind(key.as_slice())
                .execute(&mut *tx)
                .await
                .map_err(Error::journal("storing a refusal"))?;
        }
        tx.commit()
            .await
            .map_err(Error::journal("committing outcomes"))
    }
}

fn entry(row: &sqlx::sqlite::SqliteRow) -> Result<Entry> {
    let get_i64 = |name: &str| -> Result<i64> {
        row.try_get(name)
            .map_err(|e| Error::Corrupt(format!("column {name}: {e}")))
    };
    let license_id: String = row
        .try_get("license_id")
        .map_err(|e| Error::Corrupt(e.to_string()))?;
    let run_id: Vec<u8> = row
        .try_get("run_id")
        .map_err(|e| Error::Corrupt(e.to_string()))?;
    let signed: Option<String> = row
        .try_get("signed")
        .map_err(|e| Error::Corrupt(e.to_string()))?;
    let refused_at: Option<i64> = row
        .try_get("refused_at")
        .map_err(|e| Error::Corrupt(e.to_string()))?;
    let usage = Usage {
        license_id: U256::from_str(&license_id)
            .map_err(|e| Error::Corrupt(format!("license id {license_id}: {e}")))?,
        terms_id: {
            let text: String = row
                .try_get("terms_id")
                .map_err(|e| Error::Corrupt(e.to_string()))?;
            text.parse()
                .map_err(|_| Error::Corrupt(format!("terms id {text}")))?
        },
        run_id: B256::try_from(run_id.as_slice())
            .map_err(|_| Error::Corrupt("run id is not 32 bytes".into()))?,
    };
    let signed = signed
        .map(|json| {
            serde_json::from_str(&json).map_err(|e| Error::Corrupt(format!("signed receipt: {e}")))
        })
        .transpose()?;
    let rejection = match refused_at {
        Some(cumulative) => Some(Refusal {
            cumulative: from_db(cumulative)?,
            code: row
                .try_get("refusal_code")
                .map_err(|e| Error::Corrupt(e.to_string()))?,
            message: row
                .try_get("refusal_message")
                .map_err(|e| Error::Corrupt(e.to_string()))?,
        }),
        None => None,
    };
    Ok(Entry {
        usage,
        recorded: from_db(get_i64("recorded")?)?,
        signed,
        acked: from_db(get_i64("acked")?)?,
        rejection,
    })
}
