//! The reducer: one decoded `TrainingEscrow` event's effect on the escrow's records.

use std::{
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use alloy::primitives::{Address, B256, U256};

use super::{
    records::{Acceptance, Reservation, Signer, Withdrawal},
    store::EscrowStore,
};
use crate::bindings::TrainingEscrow::{self, TrainingEscrowEvents as E};

/// An event that does not fit the stored state (applied anyway, saturating).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Inconsistency {
    /// A record would have gone below zero.
    #[error("{what} would go below zero: {have} - {take}")]
    Underflow {
        /// The record's name.
        what: &'static str,
        /// Its stored value.
        have: U256,
        /// What the event takes.
        take: U256,
    },
    /// A claim of a batch whose reservation for the payer and token is unknown.
    #[error("claim of batch {root} for payer {payer} and token {token} without a reservation")]
    UnknownReservation {
        /// The batch root.
        root: B256,
        /// The payer.
        payer: Address,
        /// The token.
        token: Address,
    },
}

/// Why [`apply`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError<S> {
    /// The store failed; the event may be partly applied.
    #[error("escrow store: {0}")]
    Store(S),
    /// The event was applied but did not fit the stored state.
    #[error(transparent)]
    Inconsistent(Inconsistency),
}

/// One application: the store, the event's block and the first inconsistency met.
struct Run<'s, S> {
    store: &'s mut S,
    block: u64,
    problem: Option<Inconsistency>,
}

impl<S: EscrowStore> Run<'_, S> {
    fn note(&mut self, problem: Inconsistency) {
        self.problem.get_or_insert(problem);
    }

    /// `have - take`, saturating, noting an underflow.
    fn sub(&mut self, what: &'static str, have: U256, take: U256) -> U256 {
        if take > have {
            self.note(Inconsistency::Underflow { what, have, take });
        }
        have.saturating_sub(take)
    }

    async fn add_available(
        &mut self,
        payer: Address,
        token: Address,
        amount: U256,
    ) -> Result<(), S::Error> {
        let have = self.store.available(payer, token).await?;
        self.store
            .put_available(payer, token, have.saturating_add(amount))
            .await
    }

    async fn take_available(
        &mut self,
        payer: Address,
        token: Address,
        amount: U256,
    ) -> Result<(), S::Error> {
        let have = self.store.available(payer, token).await?;
        let left = self.sub("available balance", have, amount);
        self.store.put_available(payer, token, left).await
    }

    /// Deposits, withdrawals and their requests.
    async fn balance(&mut self, event: &E) -> Result<(), S::Error> {
        match event {
            E::Deposited(e) => self.add_available(e.payer, e.token, e.amount).await,
            E::WithdrawalRequested(e) => {
                let request = Withdrawal {
                    amount: e.amount,
                    unlock_at: e.unlockAt.to(),
                    lapses_at: e.lapsesAt.to(),
                };
                self.store
                    .put_withdrawal(e.payer, e.token, Some(request))
                    .await
            }
            E::WithdrawalCancelled(e) => self.store.put_withdrawal(e.payer, e.token, None).await,
            E::Withdrawn(e) => {
                self.take_available(e.payer, e.token, e.amount).await?;
                self.store.put_withdrawal(e.payer, e.token, None).await
            }
            _ => Ok(()),
        }
    }

    /// Acceptances of terms and signing keys.
    async fn payer_setup(&mut self, event: &E) -> Result<(), S::Error> {
        match event {
            E::TermsAccepted(e) => {
                let acceptance = Acceptance {
                    token: e.token,
                    price_per_sample: U256::from(e.pricePerSample),
                    max_samples: e.maxSamples,
                    expires_at: e.expiresAt.to(),
                    chargeable_from: e.chargeableFrom.to(),
                    accepted_block: self.block,
                };
                self.store
                    .put_acceptance(e.payer, e.licenseId, e.termsId, acceptance)
                    .await
            }
            E::SignerRegistered(e) => {
                // Re-registering cancels a pending revocation.
                let key = Signer {
                    registered_block: self.block,
                    revoked_at: 0,
                };
                self.store.put_signer(e.payer, e.signer, key).await
            }
            E::SignerRevoked(e) => {
                let stored = self.store.signer(e.payer, e.signer).await?;
                let mut key = stored.unwrap_or(Signer {
                    registered_block: self.block,
                    revoked_at: 0,
                });
                key.revoked_at = e.effectiveAt.to();
                self.store.put_signer(e.payer, e.signer, key).await
            }
            _ => Ok(()),
        }
    }

    /// Credit lines: funding, reductions, releases and swept fees.
    async fn credit(&mut self, event: &E) -> Result<(), S::Error> {
        let (payer, relayer, token) = match event {
            E::CreditFunded(e) => (e.payer, e.relayer, e.token),
            E::CreditReductionRequested(e) => (e.payer, e.relayer, e.token),
            E::CreditReductionCancelled(e) => (e.payer, e.relayer, e.token),
            E::CreditReduced(e) => (e.payer, e.relayer, e.token),
            E::FundsReleased(e) => (e.payer, e.relayer, e.token),
            E::FeesSwept(e) => (e.payer, e.relayer, e.token),
            _ => return Ok(()),
        };
        let mut line = self.store.line(payer, relayer, token).await?;
        match event {
            E::CreditFunded(e) => {
                self.take_available(payer, token, e.amount).await?;
                line.credit = line.credit.saturating_add(e.amount);
            }
            E::CreditReductionRequested(e) => {
                line.reduction = e.amount;
                line.reduction_effective_at = e.effectiveAt.to();
            }
            E::CreditReductionCancelled(_) => {
                line.reduction = U256::ZERO;
                line.reduction_effective_at = 0;
            }
            E::CreditReduced(e) => {
                line.credit = self.sub("line credit", line.credit, e.amount);
                // The escrow keeps what it could not move requested (with its effective time),
                // and deletes a request met in full.
                line.reduction = self.sub("credit reduction", line.reduction, e.amount);
                if line.reduction.is_zero() {
                    line.reduction_effective_at = 0;
                }
                self.add_available(payer, token, e.amount).await?;
            }
            E::FundsReleased(e) => {
                line.reserved = self.sub("line reserved", line.reserved, e.amount);
                line.credit = line.credit.saturating_add(e.amount);
                line.reserved_until = 0;
                line.released_block = self.block;
            }
            E::FeesSwept(e) => line.fees = self.sub("line fees", line.fees, e.amount),
            _ => {}
        }
        self.store.put_line(payer, relayer, token, line).await
    }

    /// Batches: commits and their reservations.
    async fn batch(&mut self, event: &E) -> Result<(), S::Error> {
        match event {
            E::BatchCommitted(e) => self.store.put_batch(e.root, e.relayer, self.block).await,
            E::FundsReserved(e) => {
                let mut line = self.store.line(e.payer, e.relayer, e.token).await?;
                let expires_at: u64 = e.expiresAt.to();
                let reservation = Reservation {
                    relayer: e.relayer,
                    amount: e.amount,
                    expires_at,
                    locked_until: line.reserved_until,
                    line_since_block: line.released_block,
                };
                line.credit = self.sub("line credit", line.credit, e.amount);
                line.reserved = line.reserved.saturating_add(e.amount);
                line.reserved_until = line.reserved_until.max(expires_at);
                self.store
                    .put_line(e.payer, e.relayer, e.token, line)
                    .await?;
                self.store
                    .put_reservation(e.root, e.payer, e.token, reservation)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// A settlement: direct (root zero) from the available balance, or a claim of a batch from
    /// the committing relayer's line (its reserved funds, the fee going to the line's fees).
    async fn settle(&mut self, e: &TrainingEscrow::UsageSettled) -> Result<(), S::Error> {
        self.store
            .raise_settled(e.usageKey, e.cumulativeSamples)
            .await?;
        if e.root == B256::ZERO {
            return self.take_available(e.payer, e.token, e.amount).await;
        }
        let Some(relayer) = self.store.claim_relayer(e.root, e.payer, e.token).await? else {
            self.note(Inconsistency::UnknownReservation {
                root: e.root,
                payer: e.payer,
                token: e.token,
            });
            return Ok(());
        };
        let mut line = self.store.line(e.payer, relayer, e.token).await?;
        line.reserved = self.sub("line reserved", line.reserved, e.amount);
        line.fees = line.fees.saturating_add(e.fee);
        self.store.put_line(e.payer, relayer, e.token, line).await
    }
}

/// Applies one event of the escrow, emitted in `block`, to `store` (events must come in chain
/// order). Events that change none of the records (parameters, ownership, fees withdrawn)
/// leave it alone.
///
/// # Errors
///
/// [`ApplyError::Store`] when the store fails (the event may be partly applied), else
/// [`ApplyError::Inconsistent`] with the first inconsistency met (the event is fully applied,
/// saturating).
pub async fn apply<S: EscrowStore>(
    store: &mut S,
    block: u64,
    event: &E,
) -> Result<(), ApplyError<S::Error>> {
    let mut run = Run {
        store,
        block,
        problem: None,
    };
    let applied = match event {
        E::Deposited(_)
        | E::WithdrawalRequested(_)
        | E::WithdrawalCancelled(_)
        | E::Withdrawn(_) => run.balance(event).await,
        E::TermsAccepted(_) | E::SignerRegistered(_) | E::SignerRevoked(_) => {
            run.payer_setup(event).await
        }
        E::CreditFunded(_)
        | E::CreditReductionRequested(_)
        | E::CreditReductionCancelled(_)
        | E::CreditReduced(_)
        | E::FundsReleased(_)
        | E::FeesSwept(_) => run.credit(event).await,
        E::BatchCommitted(_) | E::FundsReserved(_) => run.batch(event).await,
        E::UsageSettled(e) => run.settle(e).await,
        _ => Ok(()),
    };
    applied.map_err(ApplyError::Store)?;
    run.problem
        .map_or(Ok(()), |p| Err(ApplyError::Inconsistent(p)))
}

/// [`apply`] for a store whose futures never wait (an in-memory store).
///
/// # Errors
///
/// As [`apply`].
///
/// # Panics
///
/// If the store's futures wait.
pub fn apply_in_memory<S: EscrowStore>(
    store: &mut S,
    block: u64,
    event: &E,
) -> Result<(), ApplyError<S::Error>> {
    let applying = pin!(apply(store, block, event));
    match applying.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("apply_in_memory: the escrow store waited"),
    }
}
