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
use crate::{raw, Db, Deployment, Error, Result};

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

async fn rows<T>(db: &Db, sql: &'static str) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    Ok(sqlx::query_as(sql).fetch_all(&db.pool).await?)
}

/// Compares the derived state of `db` with the chain at the checkpoint block.
pub async fn reconcile(db: &Db, provider: &DynProvider, deployment: &Deployment) -> Result<Report> {
    let cp = raw::checkpoint(db)
        .await?
        .ok_or_else(|| Error::invalid("reconcile", "nothing indexed yet"))?;
    let at = BlockId::number(cp.number);
    let chain = Chain {
        provider: provider.clone(),
        escrow: TrainingEscrow::new(deployment.training_escrow, provider.clone()),
        nft: LicenseNFT::new(deployment.license_nft, provider.clone()),
        at,
        views: Views::at(provider, at).await.map_err(compare::rpc)?,
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
        let time = raw::checkpoint_time(db).await?.unwrap_or_default();
        streams::streams(db, &chain, address, time, &mut checks).await?;
        streams::holdings(db, &chain, address, &mut checks).await?;
    }
    pools::pools(db, &chain, deployment, &mut checks).await?;
    let (checks, differences) = checks.run().await?;
    Ok(Report {
        block: cp.number,
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
