//! [`MemoryStore`]: the escrow's records in ordered maps.

use std::{collections::BTreeMap, convert::Infallible};

use alloy::primitives::{Address, B256, U256};

use super::{
    records::{Acceptance, CreditLine, Reservation, Signer, Withdrawal},
    store::EscrowStore,
};

/// Every record of the escrow's state, in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStore {
    /// `(payer, token)` → available balance.
    pub available: BTreeMap<(Address, Address), U256>,
    /// `(payer, relayer, token)` → credit line.
    pub lines: BTreeMap<(Address, Address, Address), CreditLine>,
    /// `(payer, licenseId, termsId)` → acceptance.
    pub acceptances: BTreeMap<(Address, U256, u64), Acceptance>,
    /// `(payer, signer)` → signing key.
    pub signers: BTreeMap<(Address, Address), Signer>,
    /// `(payer, token)` → pending withdrawal.
    pub withdrawals: BTreeMap<(Address, Address), Withdrawal>,
    /// Batch root → (committing relayer, block).
    pub batches: BTreeMap<B256, (Address, u64)>,
    /// `(root, payer, token)` → reservation.
    pub reservations: BTreeMap<(B256, Address, Address), Reservation>,
    /// Usage key → highest settled cumulative count.
    pub settled: BTreeMap<B256, u64>,
}

impl EscrowStore for MemoryStore {
    type Error = Infallible;

    async fn available(&mut self, payer: Address, token: Address) -> Result<U256, Infallible> {
        Ok(self
            .available
            .get(&(payer, token))
            .copied()
            .unwrap_or_default())
    }

    async fn put_available(
        &mut self,
        payer: Address,
        token: Address,
        amount: U256,
    ) -> Result<(), Infallible> {
        self.available.insert((payer, token), amount);
        Ok(())
    }

    async fn line(
        &mut self,
        payer: Address,
        relayer: Address,
        token: Address,
    ) -> Result<CreditLine, Infallible> {
        Ok(self
            .lines
            .get(&(payer, relayer, token))
            .copied()
            .unwrap_or_default())
    }

    async fn put_line(
        &mut self,
        payer: Address,
        relayer: Address,
        token: Address,
        line: CreditLine,
    ) -> Result<(), Infallible> {
        self.lines.insert((payer, relayer, token), line);
        Ok(())
    }

    async fn put_acceptance(
        &mut self,
        payer: Address,
        license_id: U256,
        terms_id: u64,
        acceptance: Acceptance,
    ) -> Result<(), Infallible> {
        self.acceptances
            .insert((payer, license_id, terms_id), acceptance);
        Ok(())
    }

    async fn signer(
        &mut self,
        payer: Address,
        signer: Address,
    ) -> Result<Option<Signer>, Infallible> {
        Ok(self.signers.get(&(payer, signer)).copied())
    }

    async fn put_signer(
        &mut self,
        payer: Address,
        signer: Address,
        record: Signer,
    ) -> Result<(), Infallible> {
        self.signers.insert((payer, signer), record);
        Ok(())
    }

    async fn put_withdrawal(
        &mut self,
        payer: Address,
        token: Address,
        withdrawal: Option<Withdrawal>,
    ) -> Result<(), Infallible> {
        match withdrawal {
            Some(w) => self.withdrawals.insert((payer, token), w),
            None => self.withdrawals.remove(&(payer, token)),
        };
        Ok(())
    }

    async fn put_batch(
        &mut self,
        root: B256,
        relayer: Address,
        block: u64,
    ) -> Result<(), Infallible> {
        self.batches.insert(root, (relayer, block));
        Ok(())
    }

    async fn put_reservation(
        &mut self,
        root: B256,
        payer: Address,
        token: Address,
        reservation: Reservation,
    ) -> Result<(), Infallible> {
        self.reservations.insert((root, payer, token), reservation);
        Ok(())
    }

    async fn claim_relayer(
        &mut self,
        root: B256,
        payer: Address,
        token: Address,
    ) -> Result<Option<Address>, Infallible> {
        Ok(self
            .reservations
            .get(&(root, payer, token))
            .map(|r| r.relayer))
    }

    async fn raise_settled(&mut self, usage_key: B256, cumulative: u64) -> Result<(), Infallible> {
        let settled = self.settled.entry(usage_key).or_default();
        *settled = (*settled).max(cumulative);
        Ok(())
    }
}
