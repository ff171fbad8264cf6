//! Auditing a batch: fetch its published data (docs/protocol.md §8), check its hash against the
//! on-chain commitment, verify every receipt signature and that its key was registered for the
//! payer at commit time, recompute the Merkle root and each receipt's amount from the chain state
//! at the commit, compare the reservations with what the pricing rule requires (a batch may
//! reserve more, never less), and the claims with what the receipts can owe.
//!
//! The pricing rule (docs/indexer.md, "Audits"): for the batch's relayer R, payer P and token T,
//! the reservation must cover, per usage key of P, `(highest count in the batch − base) × price`
//! within the terms' cap, where `base` is the key's settled count at the commit, raised to the
//! highest count of the key in R's earlier batches only if R's line (P, R, T) was locked just
//! before the commit (`reservedUntil > commit time`; those batches' reserves were then still in
//! the line's pool, which every claim of R's batches draws on). Batches committed before the
//! line's last release no longer hold funds in it and are not counted.
//!
//! The [`AuditReport`] is kept as JSON (every check and every receipt), as CSV (one line per
//! receipt) and as a readable summary; the latest report per batch is stored in `audits` and
//! its receipts in `audit_receipts`, from which payees' unclaimed amounts are computed; its
//! outcome becomes the batch's audit status (`audit_queue`, see [`worker`]).
//!
//! The module, by layer:
//!
//! - [`report`]: the report types and the names of its checks, and a batch's audit status;
//! - `checks`: the checks, pure functions of the published data, the indexed batch and the
//!   chain state at the commit;
//! - `chain`: reading that chain state;
//! - `store`: the SQL (the batch as audited, stored reports, the audit queue);
//! - [`worker`]: the automatic auditor (every new batch, with retries).

mod chain;
pub(crate) mod checks;
pub mod report;
pub(crate) mod store;
pub mod worker;

use alloy::{primitives::B256, providers::DynProvider};
use fairtrain_protocol::EscrowDomain;

pub use report::{
    AuditReport, AuditStatus, Audited, Check, ReceiptAudit, ReservationAudit, CLAIMS_CHECK,
    DATA_FETCHED, RESERVATIONS_CHECK,
};
pub use store::{forget_dropped, status_at, stored, version, STATUS_COLS, STATUS_JOINS};

use crate::{fetch::Fetcher, Db, Deployment, Error, Result};

/// Audits the batch `root`, reading its data from `data` if given, else from its `dataURI`
/// (`https://` or `http://` on a public host; no IPFS gateway and no allowed private hosts:
/// see [`audit_with`] and [`crate::fetch`]).
/// Stores the report (see the module docs) and returns it.
pub async fn audit(
    db: &Db,
    provider: &DynProvider,
    deployment: &Deployment,
    root: &str,
    data: Option<Vec<u8>>,
) -> Result<AuditReport> {
    audit_with(db, provider, deployment, &Fetcher::default(), root, data).await
}

/// [`audit`], fetching the data (when `data` is `None`) with `fetcher`.
///
/// Besides the report, records the batch's audit status (`audit_queue`, see [`worker`]): the
/// verdict, or `unavailable` when the data could not be fetched.
pub async fn audit_with(
    db: &Db,
    provider: &DynProvider,
    deployment: &Deployment,
    fetcher: &Fetcher,
    root: &str,
    data: Option<Vec<u8>>,
) -> Result<AuditReport> {
    let batch = store::committed(db, root)
        .await?
        .ok_or_else(|| Error::NotFound {
            what: "root",
            message: format!("no indexed batch with root {root}"),
        })?;
    let root_word: B256 = batch
        .root
        .parse()
        .map_err(|e| Error::Stored(format!("root: {e}")))?;
    let escrow = (deployment.chain_id, deployment.training_escrow);
    let mut report = checks::new_report(&batch, escrow.0, escrow.1);
    let bytes = match data {
        Some(d) => Ok(d),
        None => fetcher.fetch(&batch.data_uri).await,
    };
    let bytes = match bytes {
        Ok(bytes) => {
            let detail = format!("{} bytes", bytes.len());
            report::check(&mut report.checks, DATA_FETCHED, true, detail);
            bytes
        }
        Err(e) => {
            report::check(&mut report.checks, DATA_FETCHED, false, e.to_string());
            return finish(db, report, &batch.seen, true).await;
        }
    };
    let domain = EscrowDomain::new(escrow.0, escrow.1);
    let Some(doc) = checks::document(&mut report, &bytes, &batch, root_word, &domain, escrow)
    else {
        return finish(db, report, &batch.seen, true).await;
    };
    let signers = checks::signers(&doc, &domain);
    let lines = store::line_locks(db, &batch.root, batch.block_time).await?;
    let at = chain::at_commit(db, provider, escrow.1, &batch, &doc, &signers, &lines).await?;
    let expected_by = checks::receipts(&mut report, &doc, &signers, &at);
    checks::reservations(&mut report, &doc, &batch.reservations, &expected_by, &lines);
    checks::apply_claims(&mut report, &store::claims(db, &batch.root).await?)?;
    finish(db, report, &batch.seen, true).await
}

/// Brings the stored report of a batch up to date with its claims, without fetching its data
/// or reading the chain: `None` when no stored report applies (none yet, the data was not
/// audited, or a reorganisation moved the commit since), and a full audit is needed.
///
/// # Errors
///
/// Database errors.
pub async fn recheck_claims(db: &Db, root: &str) -> Result<Option<AuditReport>> {
    let Some(batch) = store::committed(db, root).await? else {
        return Ok(None);
    };
    let audited_commit = store::audited_commit(db, &batch.root).await?;
    let Some(mut report) = stored(db, &batch.root).await? else {
        return Ok(None);
    };
    let same_commit = audited_commit.is_some_and(|tx| tx == batch.seen.commit_tx)
        && report.commit_block == batch.block_number;
    if !same_commit || !report.checks.iter().any(|c| c.name == CLAIMS_CHECK) {
        return Ok(None);
    }
    checks::apply_claims(&mut report, &store::claims(db, &batch.root).await?)?;
    finish(db, report, &batch.seen, false).await.map(Some)
}

/// Gives `report` its verdict and stores it with its status, in one transaction.
async fn finish(
    db: &Db,
    mut report: AuditReport,
    seen: &Audited,
    receipts_changed: bool,
) -> Result<AuditReport> {
    report.passed = !report.checks.is_empty() && report.checks.iter().all(|c| c.passed);
    store::save(db, &report, seen, receipts_changed).await?;
    Ok(report)
}
