// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Escrow
/// @notice Namespace for the types of the {TrainingEscrow}: the signed receipt, batch inputs and
/// the records kept in storage. Storage structs note how they pack into slots.
library Escrow {
    /// @notice A cumulative usage receipt, signed (EIP-712) by a key the payer registered.
    /// A later receipt for the same (payer, licenseId, termsId, runId) supersedes earlier ones:
    /// settlement pays only the samples beyond what was already settled for that key.
    /// @param payer The account whose budget pays.
    /// @param licenseId The license NFT used.
    /// @param termsId The terms version the payer accepted (binds the price).
    /// @param runId The training run, chosen by the payer (e.g. a hash of the run's name).
    /// @param cumulativeSamples Samples drawn from the license in this run so far.
    /// @param issuedAt Unix time the receipt was signed; usage issued after the terms expire is
    /// not chargeable.
    struct Receipt {
        address payer;
        uint256 licenseId;
        uint64 termsId;
        bytes32 runId;
        uint64 cumulativeSamples;
        uint64 issuedAt;
    }

    /// @notice One receipt claimed against a committed batch root.
    /// @param receipt The signed receipt (a leaf of the batch).
    /// @param signature 65-byte ECDSA signature (r, s, v) of the receipt's EIP-712 digest.
    /// @param proof Merkle proof of the leaf (OpenZeppelin MerkleProof, sorted pairs).
    struct Claim {
        Receipt receipt;
        bytes signature;
        bytes32[] proof;
    }

    /// @notice Amount a relayer reserves from one payer's balance for a batch.
    struct ReservationRequest {
        address payer;
        address token;
        uint128 amount;
    }

    /// @notice The record of one (batch root, payer, token): which relayer's credit line its claims
    /// draw from, and when. One slot. The amount the commit reserved went into that line (see
    /// {CreditLine}); the record itself holds no funds.
    /// @param relayer The relayer that committed the batch.
    /// @param committedAt When the batch was committed (signer validity is judged at this time).
    /// @param expiresAt Claims are accepted while `block.timestamp < expiresAt`.
    /// @param feeBps The platform fee in force at commit time, applied to claims of this batch.
    struct Reservation {
        address relayer;
        uint40 committedAt;
        uint40 expiresAt;
        uint16 feeBps;
    }

    /// @notice Budget a payer set aside for one relayer in one token. Two slots.
    ///
    /// `credit` is what the relayer may still reserve; `reserved` is what its committed batches
    /// have reserved and not paid out, shared by all of them (a claim of any batch the relayer
    /// committed for this payer draws on it, so the order of claims cannot starve a committed
    /// receipt); `fees` is the platform's part of claims paid from the line, swept to the
    /// platform's balance by {ITrainingEscrow-sweepFees} or on release. The payer can take
    /// `credit` back only after a notice period; `reserved` returns to `credit` once every batch
    /// that reserved into it has expired (`reservedUntil`).
    /// @param reserved Funds reserved by committed batches and not yet paid.
    /// @param fees Fees of claims paid from the line, not yet swept.
    /// @param reservedUntil The latest expiry of a batch that reserved into the line since the
    /// last release (0 = nothing reserved since).
    /// @param credit Funds the relayer may still reserve.
    struct CreditLine {
        // slot 0
        uint104 reserved;
        uint112 fees;
        uint40 reservedUntil;
        // slot 1
        uint128 credit;
    }

    /// @notice A payer's pending request to take credit back from a relayer's line. One slot.
    /// From `effectiveAt` on, {ITrainingEscrow-reduceCredit} moves up to `amount` of the line's
    /// credit to the payer's available balance; the request stays until it is used up or
    /// cancelled.
    struct CreditReduction {
        uint128 amount;
        uint40 effectiveAt;
    }

    /// @notice A payer's acceptance of one terms version of one license, with a copy of the terms
    /// that settlement needs (terms are immutable, so the copy cannot go stale). Two slots.
    /// @param chargeableFrom `acceptedAt + noticePeriod`: receipts under this acceptance can be
    /// settled only in batches committed at or after it, or directly at or after it.
    struct Acceptance {
        // slot 0
        address token;
        uint96 pricePerSample;
        // slot 1
        uint40 acceptedAt;
        uint40 chargeableFrom;
        uint40 expiresAt;
        uint64 maxSamples;
        uint64 samplesCharged;
    }

    /// @notice Validity window of a payer's signing key. One slot.
    /// @param registeredAt When the key was first registered (0 = never).
    /// @param revokedAt When a revocation takes effect (0 = not revoked). Receipts are valid for
    /// times `t` with `registeredAt <= t < revokedAt`.
    struct Signer {
        uint40 registeredAt;
        uint40 revokedAt;
    }

    /// @notice A pending withdrawal request. One slot. It can be executed while
    /// `unlockAt <= block.timestamp < lapsesAt` (one notice period).
    struct Withdrawal {
        uint128 amount;
        uint40 unlockAt;
        uint40 lapsesAt;
    }
}
