//! Logs of the followed contracts as typed events, with the bindings of `fairtrain-protocol`.

use alloy::{
    primitives::{Address, Bytes, B256},
    sol_types::SolEventInterface,
};
use fairtrain_protocol::bindings::{
    pool_factory::RevenuePoolFactory::RevenuePoolFactoryEvents,
    pools::RevenuePool::RevenuePoolEvents, streams::RoyaltyStreams::RoyaltyStreamsEvents,
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
    /// An event of `RoyaltyStreams`.
    Streams(RoyaltyStreamsEvents),
    /// An event of `RevenuePoolFactory`.
    PoolFactory(RevenuePoolFactoryEvents),
    /// An event of a `RevenuePool` created by the factory (including ERC-20 `Transfer`).
    Pool(RevenuePoolEvents),
    /// A log that matches no event of the contract's ABI (kept raw, not applied).
    Unknown,
}

impl Event {
    /// Decodes a log emitted by `address`. Logs of addresses other than the deployment's fixed
    /// contracts come from pools (only those are followed), so they decode as pool events;
    /// unknown topics decode to [`Event::Unknown`].
    pub fn decode(deployment: &Deployment, address: Address, topics: &[B256], data: &[u8]) -> Self {
        if address == deployment.training_escrow {
            TrainingEscrowEvents::decode_raw_log(topics, data)
                .map(Self::Escrow)
                .unwrap_or(Self::Unknown)
        } else if address == deployment.license_nft {
            LicenseNFTEvents::decode_raw_log(topics, data)
                .map(Self::License)
                .unwrap_or(Self::Unknown)
        } else if Some(address) == deployment.royalty_streams {
            RoyaltyStreamsEvents::decode_raw_log(topics, data)
                .map(Self::Streams)
                .unwrap_or(Self::Unknown)
        } else if Some(address) == deployment.revenue_pool_factory {
            RevenuePoolFactoryEvents::decode_raw_log(topics, data)
                .map(Self::PoolFactory)
                .unwrap_or(Self::Unknown)
        } else {
            RevenuePoolEvents::decode_raw_log(topics, data)
                .map(Self::Pool)
                .unwrap_or(Self::Unknown)
        }
    }

    /// For `UsageSettled`: the payer whose funds paid, as the event names it.
    pub fn settlement_payer(&self) -> Option<Address> {
        match self {
            Self::Escrow(TrainingEscrowEvents::UsageSettled(ev)) => Some(ev.payer),
            _ => None,
        }
    }

    /// The event's Solidity name.
    pub fn name(&self) -> &'static str {
        use LicenseNFTEvents as L;
        use RevenuePoolEvents as P;
        use RevenuePoolFactoryEvents as F;
        use RoyaltyStreamsEvents as S;
        use TrainingEscrowEvents as E;
        match self {
            Self::Escrow(e) => match e {
                E::BatchCommitted(_) => "BatchCommitted",
                E::ClaimWindowUpdated(_) => "ClaimWindowUpdated",
                E::CreditFunded(_) => "CreditFunded",
                E::CreditReduced(_) => "CreditReduced",
                E::CreditReductionCancelled(_) => "CreditReductionCancelled",
                E::CreditReductionRequested(_) => "CreditReductionRequested",
                E::Deposited(_) => "Deposited",
                E::EIP712DomainChanged(_) => "EIP712DomainChanged",
                E::FeeUpdated(_) => "FeeUpdated",
                E::FeesSwept(_) => "FeesSwept",
                E::FeesWithdrawn(_) => "FeesWithdrawn",
                E::FundsReleased(_) => "FundsReleased",
                E::FundsReserved(_) => "FundsReserved",
                E::NoticePeriodUpdated(_) => "NoticePeriodUpdated",
                E::OwnershipTransferStarted(_) => "OwnershipTransferStarted",
                E::OwnershipTransferred(_) => "OwnershipTransferred",
                E::SignerRegistered(_) => "SignerRegistered",
                E::SignerRevoked(_) => "SignerRevoked",
                E::TermsAccepted(_) => "TermsAccepted",
                E::TokenAllowed(_) => "TokenAllowed",
                E::UsageSettled(_) => "UsageSettled",
                E::WithdrawalCancelled(_) => "WithdrawalCancelled",
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
            Self::Streams(e) => match e {
                S::AccrualCredited(_) => "AccrualCredited",
                S::HolderCheckpointed(_) => "HolderCheckpointed",
                S::OwedWithdrawn(_) => "OwedWithdrawn",
                S::StreamCancelled(_) => "StreamCancelled",
                S::StreamCreated(_) => "StreamCreated",
                S::StreamDeposited(_) => "StreamDeposited",
                S::StreamInsolvent(_) => "StreamInsolvent",
                S::StreamPaused(_) => "StreamPaused",
                S::StreamRateAdjusted(_) => "StreamRateAdjusted",
                S::StreamRestarted(_) => "StreamRestarted",
                S::StreamWithdrawn(_) => "StreamWithdrawn",
            },
            Self::PoolFactory(e) => match e {
                F::PoolCreated(_) => "PoolCreated",
            },
            Self::Pool(e) => match e {
                P::Approval(_) => "Approval",
                P::Claimed(_) => "Claimed",
                P::IncomeDistributed(_) => "IncomeDistributed",
                P::LicenseTermsUpdatedByManager(_) => "LicenseTermsUpdatedByManager",
                P::TokenAccepted(_) => "TokenAccepted",
                P::Transfer(_) => "Transfer",
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
    /// The decoded event.
    pub event: Event,
}
