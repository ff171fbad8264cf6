//! Reconciliation: every derived value that a contract view can confirm is compared with an
//! `eth_call` at the checkpoint block. A run without differences is the indexer's proof that
//! its derived state is the chain's.
//!
//! Checked: parameters (fee, notice period, claim window, owner), allowed tokens, number of
//! terms and licenses, each license's holder, creator, terms and version, each payer's available
//! balance and pending withdrawal, each credit line (`creditLine`: credit, reserved, fees,
//! reservedUntil) and its pending reduction (`creditReduction`), the payer's credit and reserved
//! balances against the sums of its lines, each batch reservation's relayer and expiry,
//! acceptances, signers, accrued fees, settled samples per usage key, and the accounting identity
//! `balanceOf(escrow) = Σ available + Σ credit + Σ reserved + Σ line fees + accruedFees` per
//! token; per stream, `getStream`'s balance, rate and status and `stateOf`,
//! `withdrawableAmountOf` and `uncoveredDebtOf` against the state computed from the derived row
//! for the checkpoint block's time; per pool, `isPool`, transferability, manager, total supply
//! and accepted tokens, each token's `tokenState`, each holder's shares (`balanceOf`), and per
//! holder and token what is owed (`claimable`, and the exact scaled amount
//! `owedScaled + shares × (accPerShare − index)`), and Σ holders' claims against `paidOut`.

//! By layer: `compare` (the one comparison helper, [`Difference`]s by name), `escrow` (one
//! function per thing of `TrainingEscrow` and `LicenseNFT` reconciled), `streams`, `pools`.

mod compare;
mod escrow;
mod pools;
mod streams;

use alloy::{eips::BlockId, providers::DynProvider};
use fairtrain_chain::Views;
use fairtrain_protocol::bindings::{LicenseNFT, TrainingEscrow};
use serde::Serialize;

use self::compare::Checks;
use crate::{db::Backend, Db, Deployment, Error, Result};

/// One value on which the index and the chain disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// What was compared, e.g. `availableBalance(0x…, 0x…)`.
    pub what: String,
    /// The indexed value.
    pub indexed: String,
    /// The chain's value.
    pub chain: String,
}

/// The outcome of a reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The block compared at (the checkpoint).
    pub block: u64,
    /// Values compared.
    pub checks: u64,
    /// Values that differ (empty on a clean run).
    pub differences: Vec<Difference>,
}

impl Report {
    /// Whether index and chain agree on every value.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

/// The contracts and the block a reconciliation reads.
pub(crate) struct Chain {
    provider: DynProvider,
    escrow: TrainingEscrow::TrainingEscrowInstance<DynProvider>,
    nft: LicenseNFT::LicenseNFTInstance<DynProvider>,
    at: BlockId,
    /// Bulk reads at `at` of what grows with use (licenses, credit lines, balances, reservations,
    /// acceptances, signers, settled counts).
    views: Views,
}

/// The indexed state as of one moment: every read of a reconciliation goes through one read
/// transaction (on PostgreSQL `REPEATABLE READ`), so a running indexer that moves the checkpoint
/// meanwhile changes none of what is compared with the chain at the checkpoint read first.
pub(crate) struct Snapshot {
    tx: tokio::sync::Mutex<sqlx::Transaction<'static, sqlx::Any>>,
}

impl Snapshot {
    async fn begin(db: &Db) -> Result<Self> {
        let mut tx = db.pool.begin().await?;
        if db.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        Ok(Self {
            tx: tokio::sync::Mutex::new(tx),
        })
    }
}

/// The rows `sql` selects, in the reconciliation's [`Snapshot`].
async fn rows<T>(snapshot: &Snapshot, sql: &'static str) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut tx = snapshot.tx.lock().await;
    Ok(sqlx::query_as(sql).fetch_all(&mut **tx).await?)
}

/// Compares the derived state of `db` with the chain at the checkpoint block.
pub async fn reconcile(db: &Db, provider: &DynProvider, deployment: &Deployment) -> Result<Report> {
    let snapshot = Snapshot::begin(db).await?;
    // The checkpoint and its block's time (the block window always holds the checkpoint block).
    let checkpoint: Vec<(i64, i64)> = rows(
        &snapshot,
        "SELECT c.block_number, b.timestamp FROM checkpoint c \
         JOIN blocks b ON b.number = c.block_number WHERE c.id = 1",
    )
    .await?;
    let &[(number, time)] = checkpoint.as_slice() else {
        return Err(Error::invalid("reconcile", "nothing indexed yet"));
    };
    let (number, time) = (number as u64, time as u64);
    let db = &snapshot;
    let at = BlockId::number(number);
    let chain = Chain {
        provider: provider.clone(),
        escrow: TrainingEscrow::new(deployment.training_escrow, provider.clone()),
        nft: LicenseNFT::new(deployment.license_nft, provider.clone()),
        at,
        views: Views::at(provider, at).await?,
    };
    let mut checks = Checks::default();
    escrow::params(db, &chain, &mut checks).await?;
    let tokens = escrow::tokens(db, &chain, &mut checks).await?;
    escrow::licenses(db, &chain, &mut checks).await?;
    let mut held = escrow::Held::default();
    let lines = escrow::credit_lines(db, &chain, &mut checks, &mut held).await?;
    escrow::balances(db, &chain, &mut checks, &lines, &mut held).await?;
    escrow::reservations(db, &chain, &mut checks).await?;
    escrow::acceptances(db, &chain, &mut checks).await?;
    escrow::signers(db, &chain, &mut checks).await?;
    escrow::settled_samples(db, &chain, &mut checks).await?;
    let escrow_address = deployment.training_escrow;
    escrow::holdings(db, &chain, &mut checks, escrow_address, tokens, held).await?;
    if let Some(address) = deployment.royalty_streams {
        streams::streams(db, &chain, address, time, &mut checks).await?;
        streams::holdings(db, &chain, address, &mut checks).await?;
    }
    pools::pools(db, &chain, deployment, &mut checks).await?;
    let (checks, differences) = checks.run().await?;
    Ok(Report {
        block: number,
        checks,
        differences,
    })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "reconcile at block {}: {} values compared, {} differ",
            self.block,
            self.checks,
            self.differences.len()
        )?;
        for d in &self.differences {
            writeln!(
                f,
                "DIFFERS {}: indexed {}, chain {}",
                d.what, d.indexed, d.chain
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use fairtrain_testkit::{Backend as TestBackend, TestDb};

    use super::*;

    /// What a running indexer writes after a reconciliation began (a new checkpoint, a changed
    /// derived row) is not in the reconciliation's snapshot, on both backends.
    #[tokio::test]
    async fn a_snapshot_does_not_see_later_writes() {
        for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
            let test_db = TestDb::new(backend);
            let db = Db::connect(&test_db.url).await.unwrap();
            let write = |sql: &'static str| {
                let pool = db.pool.clone();
                async move { sqlx::query(sql).execute(&pool).await.unwrap() }
            };
            write("INSERT INTO checkpoint (id, block_number, block_hash) VALUES (1, 7, '0x07')")
                .await;
            write("INSERT INTO params (key, value) VALUES ('fee_bps', '250')").await;

            let snapshot = Snapshot::begin(&db).await.unwrap();
            let read = || async {
                let cp: Vec<(i64,)> = rows(&snapshot, "SELECT block_number FROM checkpoint")
                    .await
                    .unwrap();
                let fee: Vec<(String,)> =
                    rows(&snapshot, "SELECT value FROM params").await.unwrap();
                (cp, fee)
            };
            let before = read().await;
            write("UPDATE checkpoint SET block_number = 8, block_hash = '0x08'").await;
            write("UPDATE params SET value = '300'").await;
            assert_eq!(read().await, before, "{backend:?}");
            assert_eq!(before, (vec![(7,)], vec![("250".to_owned(),)]));
            let now: (i64,) = sqlx::query_as("SELECT block_number FROM checkpoint")
                .fetch_one(&db.pool)
                .await
                .unwrap();
            assert_eq!(now.0, 8, "{backend:?}: the write committed");
        }
    }
}
