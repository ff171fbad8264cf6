//! Where the escrow's state lives: the reads and writes [`super::apply`] needs.

use std::future::Future;

use alloy::primitives::{Address, B256, U256};

use super::records::{Acceptance, CreditLine, Reservation, Signer, Withdrawal};

/// Storage of the escrow's records. Reads of absent records give the default (zero) record.
///
/// Methods return futures so that a store can load records lazily (the indexer reads its
/// derived tables within a database transaction); an in-memory store answers at once and can
/// be driven by [`super::apply_in_memory`].
pub trait EscrowStore: Send {
    /// A storage failure.
    type Error: Send;

    /// The available balance of `(payer, token)`.
    fn available(
        &mut self,
        payer: Address,
        token: Address,
    ) -> impl Future<Output = Result<U256, Self::Error>> + Send;

    /// Sets the available balance of `(payer, token)`.
    fn put_available(
        &mut self,
        payer: Address,
        token: Address,
        amount: U256,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The credit line of `(payer, relayer, token)`.
    fn line(
        &mut self,
        payer: Address,
        relayer: Address,
        token: Address,
    ) -> impl Future<Output = Result<CreditLine, Self::Error>> + Send;

    /// Sets the credit line of `(payer, relayer, token)`.
    fn put_line(
        &mut self,
        payer: Address,
        relayer: Address,
        token: Address,
        line: CreditLine,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Sets the acceptance of `(payer, licenseId, termsId)`.
    fn put_acceptance(
        &mut self,
        payer: Address,
        license_id: U256,
        terms_id: u64,
        acceptance: Acceptance,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The signing key `signer` of `payer`, if registered.
    fn signer(
        &mut self,
        payer: Address,
        signer: Address,
    ) -> impl Future<Output = Result<Option<Signer>, Self::Error>> + Send;

    /// Sets the signing key `signer` of `payer`.
    fn put_signer(
        &mut self,
        payer: Address,
        signer: Address,
        record: Signer,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Sets (`Some`) or clears (`None`) the pending withdrawal of `(payer, token)`.
    fn put_withdrawal(
        &mut self,
        payer: Address,
        token: Address,
        withdrawal: Option<Withdrawal>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Records the batch `root` committed by `relayer` in `block`.
    fn put_batch(
        &mut self,
        root: B256,
        relayer: Address,
        block: u64,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Sets what batch `root` reserved for `(payer, token)`.
    fn put_reservation(
        &mut self,
        root: B256,
        payer: Address,
        token: Address,
        reservation: Reservation,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The relayer whose line pays a claim of batch `root` for `(payer, token)` (`None`:
    /// unknown batch or reservation).
    fn claim_relayer(
        &mut self,
        root: B256,
        payer: Address,
        token: Address,
    ) -> impl Future<Output = Result<Option<Address>, Self::Error>> + Send;

    /// Records that `usage_key` settled up to `cumulative` samples; the store keeps the
    /// highest count (a store that keeps every settlement elsewhere may ignore it).
    fn raise_settled(
        &mut self,
        usage_key: B256,
        cumulative: u64,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}
