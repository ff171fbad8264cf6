//! Logs of the followed contracts as typed events, with the bindings of `fairtrain-protocol`.

use alloy::{
    primitives::{Address, Bytes, B256},
    sol_types::SolEventInterface,
};
use fairtrain_protocol::bindings::{
    LicenseNFT::LicenseNFTEvents, TrainingEscrow::TrainingEscrowEvents,
};

use crate::Deployment;

/// A decoded event of one of the followed contracts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An event of `TrainingEscrow`.
    Escrow(TrainingEscrowEvents),
    /// An event of `LicenseNFT` (including ERC-721 `Transfer`).
    License(LicenseNFTEvents),
    /// A log that matches no event of the contract's ABI (kept raw, not applied).
    Unknown,
}

impl Event {
    /// Decodes a log emitted by `address`; logs of other addresses and unknown topics decode to
    /// [`Event::Unknown`].
    pub fn decode(deployment: &Deployment, address: Address, topics: &[B256], data: &[u8]) -> Self {
        if address == deployment.training_escrow {
            TrainingEscrowEvents::decode_raw_log(topics, data)
                .map(Self::Escrow)
                .unwrap_or(Self::Unknown)
        } else if address == deployment.license_nft {
            LicenseNFTEvents::decode_raw_log(topics, data)
                .map(Self::License)
                .unwrap_or(Self::Unknown)
        } else {
            Self::Unknown
        }
    }

    /// The event's Solidity name.
    pub fn name(&self) -> &'static str {
        use LicenseNFTEvents as L;
        use TrainingEscrowEvents as E;
        match self {
            Self::Escrow(e) => match e {
                E::BatchCommitted(_) => "BatchCommitted",
                E::ClaimWindowUpdated(_) => "ClaimWindowUpdated",
                E::Deposited(_) => "Deposited",
                E::EIP712DomainChanged(_) => "EIP712DomainChanged",
                E::FeeUpdated(_) => "FeeUpdated",
                E::FeesWithdrawn(_) => "FeesWithdrawn",
                E::FundsReserved(_) => "FundsReserved",
                E::NoticePeriodUpdated(_) => "NoticePeriodUpdated",
                E::OwnershipTransferStarted(_) => "OwnershipTransferStarted",
                E::OwnershipTransferred(_) => "OwnershipTransferred",
                E::RelayerSet(_) => "RelayerSet",
                E::ReservationReleased(_) => "ReservationReleased",
                E::SignerRegistered(_) => "SignerRegistered",
                E::SignerRevoked(_) => "SignerRevoked",
                E::TermsAccepted(_) => "TermsAccepted",
                E::TokenAllowed(_) => "TokenAllowed",
                E::UsageSettled(_) => "UsageSettled",
                E::WithdrawalCancelled(_) => "WithdrawalCancelled",
                E::WithdrawalDelayed(_) => "WithdrawalDelayed",
                E::WithdrawalRequested(_) => "WithdrawalRequested",
                E::Withdrawn(_) => "Withdrawn",
            },
            Self::License(e) => match e {
                L::Approval(_) => "Approval",
                L::ApprovalForAll(_) => "ApprovalForAll",
                L::LicenseMinted(_) => "LicenseMinted",
                L::LicenseTermsUpdated(_) => "LicenseTermsUpdated",
                L::RoyaltyReceiverSet(_) => "RoyaltyReceiverSet",
                L::TermsRegistered(_) => "TermsRegistered",
                L::TransferHookSet(_) => "TransferHookSet",
                L::Transfer(_) => "Transfer",
            },
            Self::Unknown => "unknown",
        }
    }
}

/// One log with its position on the chain, as stored in `raw_events` and applied to the
/// derived tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Block timestamp (seconds).
    pub block_time: u64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Index of the log in its block.
    pub log_index: u64,
    /// Emitting contract.
    pub address: Address,
    /// Topics (0 to 4).
    pub topics: Vec<B256>,
    /// Non-indexed data.
    pub data: Bytes,
    /// For `UsageSettled`: the payer whose funds paid (the event does not carry it; ingest
    /// resolves it from the transaction, see [`crate::sync`]).
    pub payer: Option<Address>,
    /// The decoded event.
    pub event: Event,
}
