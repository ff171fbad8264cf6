//! The escrow's state derived from its events, in one place: [`apply`] folds one decoded
//! `TrainingEscrow` event into an [`EscrowStore`], the few records the events change (available
//! balances, credit lines, acceptances, signing keys, pending withdrawals, batches and their
//! reservations, settled counts).
//!
//! The relayer keeps these records in memory ([`apply_in_memory`] over its maps), the indexer in
//! its derived tables (an async store over a database transaction); [`MemoryStore`] is a
//! ready-made in-memory store. Arithmetic never fails: an event that would take a record below
//! zero (a store that did not follow the escrow from its deployment) saturates, and [`apply`]
//! reports the first such [`Inconsistency`] after applying the whole event, for the caller to
//! ignore or refuse.
//!
//! - [`records`]: the records and their keys' meaning.
//! - [`store`]: the [`EscrowStore`] trait.
//! - [`reduce`]: [`apply`], [`apply_in_memory`] and their errors.
//! - [`memory`]: the in-memory [`MemoryStore`].

pub mod memory;
pub mod records;
pub mod reduce;
pub mod store;
#[cfg(test)]
mod tests;

pub use memory::MemoryStore;
pub use records::{Acceptance, CreditLine, Reservation, Signer, Withdrawal};
pub use reduce::{apply, apply_in_memory, ApplyError, Inconsistency};
pub use store::EscrowStore;
