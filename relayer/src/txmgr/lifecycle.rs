//! One transaction lifecycle for every piece of work the relayer sends (a batch's commit, a
//! sponsored claim, a line release): a [`TxJob`] walks `unsigned` → `signed` → `sent` → final,
//! and [`TxManager::advance`] drives it one step at a time. The job says what it sends and how
//! it records each step in its own table; the lifecycle does the estimating, signing,
//! broadcasting, following, fee bumping and rebroadcasting, the same way for all of them.
//!
//! | phase | step |
//! | --- | --- |
//! | unsigned | estimate (a revert is the job's to judge: [`TxJob::would_revert`]), take a nonce, sign, record the transaction and the phase `signed` in one store transaction |
//! | signed | broadcast → `sent` |
//! | sent | follow the current nonce's attempts: mined and buried → [`TxJob::confirmed`]; reverted → [`TxJob::reverted`]; stuck → a fee bump; dropped → rebroadcast (or a bump when refused as underpriced); nonce taken by another transaction → back to unsigned when [`TxJob::resign_after_nonce_taken`] |

use std::future::Future;

use alloy::{
    primitives::{Address, Bytes},
    rpc::types::TransactionReceipt,
};
use fairtrain_chain::rpc::RpcErrorKind;
use sqlx::AnyConnection;
use tracing::{info, warn};

use super::{TxError, TxManager, TxStatus};
use crate::{
    failpoint,
    store::{StoreError, TxRow},
};

/// Where a job's transaction is, before the job is final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxPhase {
    /// No transaction to send (yet, or again after its nonce was taken).
    Unsigned,
    /// Its transaction is signed and recorded, perhaps not broadcast.
    Signed,
    /// Its transaction was broadcast at least once.
    Sent,
}

/// How a kind of job differs in the lifecycle: its fail points and two edge cases.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Fail points (see [`failpoint`]) reached once the transaction is signed and recorded,
    /// once it is broadcast, and once the job is `sent`.
    pub failpoints: [&'static str; 3],
    /// Whether a first broadcast refused as underpriced still moves the job to `sent` (it is
    /// then seen as dropped and replaced at market fees); otherwise the step fails and is
    /// retried.
    pub sent_when_underpriced: bool,
    /// Whether a signed or sent job without a recorded transaction goes back to `unsigned`;
    /// otherwise it is a corrupt row.
    pub unsigned_without_tx: bool,
}

/// A piece of work sent as one transaction (with its fee bumps) and followed until final.
pub trait TxJob: Sync {
    /// The `kind` of its transactions in `txs`.
    fn kind(&self) -> &'static str;
    /// Its id: the `ref_id` of its transactions.
    fn id(&self) -> i64;
    /// Where it is.
    fn phase(&self) -> TxPhase;
    /// How it differs from the other kinds.
    fn policy(&self) -> &'static Policy;
    /// The contract its transaction calls.
    fn to(&self) -> Address;
    /// The calldata of its transaction (again for each fee bump).
    fn calldata(&self) -> impl Future<Output = Result<Bytes, TxError>> + Send;
    /// Records that it is now in `phase`, in `conn` (inside signing's store transaction for
    /// `signed`).
    fn set_phase(
        &self,
        conn: &mut AnyConnection,
        phase: TxPhase,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Its call would revert, before a transaction was signed (`reason`: the node's). Returns
    /// whether anything changed.
    fn would_revert(&self, reason: String) -> impl Future<Output = Result<bool, TxError>> + Send;
    /// Its mined transaction reverted.
    fn reverted(&self) -> impl Future<Output = Result<(), TxError>> + Send;
    /// Its transaction is mined and buried under the confirmations asked for.
    fn confirmed(
        &self,
        receipt: &TransactionReceipt,
    ) -> impl Future<Output = Result<(), TxError>> + Send;
    /// Its nonce is used by a transaction that is none of ours, `last` being its latest
    /// attempt: whether to sign again now with a new nonce (or wait for a receipt of ours the
    /// node may not have indexed yet).
    fn resign_after_nonce_taken(&self, last: &TxRow) -> bool;
}

/// What signing an unsigned job did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// Its transaction is signed and recorded; the job is `signed`.
    Signed,
    /// Its call would revert: the job judged it ([`TxJob::would_revert`]); whether anything
    /// changed.
    NotSigned(bool),
}

impl TxManager {
    /// Advances `job` one step of the lifecycle (see the module's table), with `confirmations`
    /// blocks (at least 1) burying a mined transaction. Returns whether anything changed.
    ///
    /// # Errors
    ///
    /// [`TxError`] when the node or the store fails.
    pub async fn advance(&self, job: &impl TxJob, confirmations: u64) -> Result<bool, TxError> {
        match job.phase() {
            TxPhase::Unsigned => Ok(match self.sign_job(job).await? {
                Signing::Signed => true,
                Signing::NotSigned(changed) => changed,
            }),
            TxPhase::Signed | TxPhase::Sent => self.follow_job(job, confirmations).await,
        }
    }

    /// Estimates, takes the next nonce, signs and records the transaction of an unsigned
    /// `job` and moves it to `signed`, in one store transaction.
    ///
    /// # Errors
    ///
    /// [`TxError`] when the node or the store fails.
    pub async fn sign_job(&self, job: &impl TxJob) -> Result<Signing, TxError> {
        let input = job.calldata().await?;
        let gas = match self.estimate_gas(job.to(), &input).await {
            Ok(gas) => gas,
            Err(e) if e.is_revert() => {
                return Ok(Signing::NotSigned(job.would_revert(e.to_string()).await?));
            }
            Err(e) => return Err(e),
        };
        let fees = self.fees().await?;
        // Deferred: signing reads the chain's nonce, and an immediate transaction would hold
        // SQLite's write lock across that call. A conflict fails the step, which the loop retries.
        let mut tx = self.store.pool().begin().await?;
        let nonce = self
            .sign_next(&mut tx, job.kind(), job.id(), job.to(), input, gas, fees)
            .await?
            .nonce;
        job.set_phase(&mut tx, TxPhase::Signed).await?;
        tx.commit().await?;
        info!(
            kind = job.kind(),
            id = job.id(),
            nonce,
            "transaction signed"
        );
        failpoint::hit(job.policy().failpoints[0]).await;
        Ok(Signing::Signed)
    }

    /// Broadcasts a signed job's transaction, or follows a sent one.
    async fn follow_job(&self, job: &impl TxJob, confirmations: u64) -> Result<bool, TxError> {
        let policy = job.policy();
        let txs = self.store.txs(job.kind(), job.id()).await?;
        let Some(last) = txs.last() else {
            if !policy.unsigned_without_tx {
                let (kind, id) = (job.kind(), job.id());
                return Err(StoreError::Corrupt(format!("{kind} {id} signed without a tx")).into());
            }
            self.set_phase(job, TxPhase::Unsigned).await?;
            return Ok(true);
        };
        if job.phase() == TxPhase::Signed {
            match self.broadcast(last).await {
                // Already mined (e.g. before a crash): the `sent` phase finds it.
                Ok(())
                | Err(TxError::Rpc {
                    kind: RpcErrorKind::NonceTooLow,
                    ..
                }) => {}
                // Refused below the base fee: once sent, it is seen as dropped and replaced.
                Err(TxError::Rpc {
                    kind: RpcErrorKind::Underpriced,
                    ..
                }) if policy.sent_when_underpriced => {}
                Err(e) => return Err(e),
            }
            failpoint::hit(policy.failpoints[1]).await;
            self.set_phase(job, TxPhase::Sent).await?;
            failpoint::hit(policy.failpoints[2]).await;
            return Ok(true);
        }
        // Only the attempts of the current nonce can still be mined.
        let current: Vec<_> = txs
            .iter()
            .filter(|t| t.nonce == last.nonce)
            .cloned()
            .collect();
        match self.status(&current).await? {
            TxStatus::Mined { receipt, depth } => {
                if !receipt.status() {
                    job.reverted().await?;
                } else if depth >= confirmations.max(1) {
                    job.confirmed(&receipt).await?;
                } else {
                    return Ok(false);
                }
                Ok(true)
            }
            // Stuck: replaced with higher fees.
            TxStatus::Pending if self.bump_due(last) => self.replace_job(job, last).await,
            TxStatus::Pending => Ok(false),
            TxStatus::Dropped => {
                warn!(kind = job.kind(), id = job.id(), hash = %last.hash, "transaction dropped; rebroadcasting");
                match self.broadcast(last).await {
                    Ok(())
                    | Err(TxError::Rpc {
                        kind: RpcErrorKind::NonceTooLow,
                        ..
                    }) => Ok(true),
                    // The node refuses it at its fees (the base fee rose above them).
                    Err(TxError::Rpc {
                        kind: RpcErrorKind::Underpriced,
                        ..
                    }) => self.replace_job(job, last).await,
                    Err(e) => Err(e),
                }
            }
            TxStatus::NonceTaken if job.resign_after_nonce_taken(last) => {
                warn!(
                    kind = job.kind(),
                    id = job.id(),
                    "nonce taken by another transaction; signing again"
                );
                self.set_phase(job, TxPhase::Unsigned).await?;
                Ok(true)
            }
            TxStatus::NonceTaken => Ok(false),
        }
    }

    /// Replaces a job's transaction `last` with higher fees (same nonce).
    async fn replace_job(&self, job: &impl TxJob, last: &TxRow) -> Result<bool, TxError> {
        let input = job.calldata().await?;
        match self.replace(last, job.to(), input).await? {
            Some(_) => Ok(true),
            None => {
                warn!(
                    kind = job.kind(),
                    id = job.id(),
                    "fee ceiling reached; waiting"
                );
                Ok(false)
            }
        }
    }

    /// Records a phase change on its own.
    async fn set_phase(&self, job: &impl TxJob, phase: TxPhase) -> Result<(), StoreError> {
        let mut conn = self.store.pool().acquire().await?;
        job.set_phase(&mut conn, phase).await
    }
}
