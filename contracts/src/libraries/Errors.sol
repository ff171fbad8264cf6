// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Streams} from "../types/StreamTypes.sol";

/// @title Errors
/// @notice Every custom error of the Fairtrain contracts, named `Contract_Reason`.
library Errors {
    /*//////////////////////////////////////////////////////////////
                               LICENSE NFT
    //////////////////////////////////////////////////////////////*/

    /// @notice The terms name the zero address as payment token.
    error LicenseNFT_ZeroPaymentToken();
    /// @notice The flags of the terms contradict their kind (e.g. a research-only license that
    /// allows commercial use).
    error LicenseNFT_TermsInconsistentWithKind(uint8 kind);
    /// @notice Custom terms need a URI to the human-readable terms.
    error LicenseNFT_CustomTermsNeedUri();
    /// @notice The terms expired before they were registered.
    error LicenseNFT_TermsAlreadyExpired(uint40 expiresAt);
    /// @notice The royalty exceeds {LicenseNFT-MAX_ROYALTY_BPS}.
    error LicenseNFT_RoyaltyTooHigh(uint96 royaltyBps, uint96 maxBps);
    /// @notice The manifest hash is zero.
    error LicenseNFT_ZeroManifestHash();
    /// @notice No terms are registered under this id.
    error LicenseNFT_UnknownTerms(uint64 termsId);
    /// @notice The caller is neither the holder of the license nor approved for it.
    error LicenseNFT_NotHolderOrApproved(uint256 licenseId, address caller);
    /// @notice Exclusive terms are still running on this license, so they cannot be replaced.
    error LicenseNFT_ExclusiveTermsRunning(uint256 licenseId, uint40 expiresAt);
    /// @notice The caller's manifest is under exclusive terms that are still running.
    error LicenseNFT_ManifestExclusivelyLicensed(bytes32 manifestHash, uint40 until);
    /// @notice Exclusive terms need the creator to have no other license of the manifest; the key
    /// is keccak256(abi.encode(creator, manifestHash)).
    error LicenseNFT_ManifestHasOtherLicenses(bytes32 manifestKey, uint256 count);
    /// @notice The new terms are the license's current terms.
    error LicenseNFT_TermsUnchanged(uint256 licenseId, uint64 termsId);
    /// @notice Only the license's creator, holding the license, may switch it to exclusive terms.
    error LicenseNFT_ExclusiveOnlyByCreator(uint256 licenseId, address caller);
    /// @notice A terms version the license had before runs until `until` (max uint40: forever):
    /// payers who accepted it could still be charged, so the license cannot become exclusive.
    error LicenseNFT_EarlierTermsRunning(uint256 licenseId, uint40 until);
    /// @notice A batch mint got an empty list.
    error LicenseNFT_EmptyBatch();
    /// @notice Only the license's creator may route its royalties.
    error LicenseNFT_NotCreator(uint256 licenseId, address caller);
    /// @notice Only the deployer may set the transfer hook.
    error LicenseNFT_NotHookSetter(address caller);
    /// @notice The transfer hook is set once and never changes.
    error LicenseNFT_TransferHookAlreadySet(address hook);
    /// @notice The transfer hook cannot be the zero address.
    error LicenseNFT_ZeroTransferHook();

    /*//////////////////////////////////////////////////////////////
                             TRAINING ESCROW
    //////////////////////////////////////////////////////////////*/

    /// @notice An amount is zero where it must not be.
    error TrainingEscrow_ZeroAmount();
    /// @notice An address argument is zero where it must not be.
    error TrainingEscrow_ZeroAddress();
    /// @notice Deposits of this token are not allowed by the owner's token list.
    error TrainingEscrow_TokenNotAllowed(address token);
    /// @notice The escrow received a different amount than was sent (fee-on-transfer tokens).
    error TrainingEscrow_TransferAmountMismatch(address token, uint256 expected, uint256 received);
    /// @notice The payer's available balance does not cover the amount.
    error TrainingEscrow_InsufficientBalance(address payer, address token, uint256 available, uint256 needed);
    /// @notice No withdrawal was requested.
    error TrainingEscrow_NoWithdrawalRequested(address payer, address token);
    /// @notice The withdrawal's notice period has not passed yet.
    error TrainingEscrow_WithdrawalLocked(address payer, address token, uint40 unlockAt);
    /// @notice The withdrawal request was not executed within a notice period of unlocking.
    error TrainingEscrow_WithdrawalLapsed(address payer, address token, uint40 lapsesAt);
    /// @notice A sponsor's deposit could not prove that the payer's permit was used (the permit
    /// reverted, or the token's `nonces(payer)` did not move by one).
    error TrainingEscrow_PermitFailed(address payer, address token);
    /// @notice The acceptance's notice period had not passed at the time that counts.
    error TrainingEscrow_AcceptanceNotChargeable(
        address payer, uint256 licenseId, uint64 termsId, uint40 chargeableFrom
    );
    /// @notice The key's revocation took effect; revoked keys cannot be registered again.
    error TrainingEscrow_SignerRevoked(address payer, address signer, uint40 revokedAt);
    /// @notice The terms id named is not the license's current terms version.
    error TrainingEscrow_TermsNotCurrent(uint256 licenseId, uint64 expected, uint64 current);
    /// @notice The license's terms have expired.
    error TrainingEscrow_TermsExpired(uint256 licenseId, uint64 termsId, uint40 expiresAt);
    /// @notice The terms are exclusive to another payer.
    error TrainingEscrow_ExclusiveToAnother(uint256 licenseId, address licensee);
    /// @notice The payer already accepted these terms of this license.
    error TrainingEscrow_AlreadyAccepted(address payer, uint256 licenseId, uint64 termsId);
    /// @notice The payer has not accepted these terms of this license.
    error TrainingEscrow_TermsNotAccepted(address payer, uint256 licenseId, uint64 termsId);
    /// @notice The key is already registered (and not revoked) for this payer.
    error TrainingEscrow_SignerAlreadyActive(address payer, address signer);
    /// @notice The key is not registered for this payer, or its revocation is already scheduled.
    error TrainingEscrow_SignerNotActive(address payer, address signer);
    /// @notice The signature is malformed or malleable (high s).
    error TrainingEscrow_InvalidSignature();
    /// @notice The recovered key was not valid for the payer at the time that counts.
    error TrainingEscrow_SignerNotAuthorized(address payer, address signer, uint256 at);
    /// @notice The receipt was issued after the terms expired.
    error TrainingEscrow_ReceiptAfterExpiry(uint64 issuedAt, uint40 expiresAt);
    /// @notice The payer opened no credit line for the committing relayer (or it is empty).
    error TrainingEscrow_NoCreditLine(address payer, address relayer, address token);
    /// @notice The relayer's credit line does not cover the reservation.
    error TrainingEscrow_InsufficientCredit(
        address payer, address relayer, address token, uint256 credit, uint256 needed
    );
    /// @notice A credit line would hold more than 2^104 - 1 units.
    error TrainingEscrow_CreditLineOverflow(address payer, address relayer, address token);
    /// @notice No credit reduction was requested for this line.
    error TrainingEscrow_NoCreditReductionRequested(address payer, address relayer, address token);
    /// @notice The credit reduction's notice period has not passed yet.
    error TrainingEscrow_CreditReductionNotEffective(
        address payer, address relayer, address token, uint40 effectiveAt
    );
    /// @notice A batch that reserved into the line can still be claimed.
    error TrainingEscrow_ReservedNotReleasable(
        address payer, address relayer, address token, uint40 reservedUntil
    );
    /// @notice The line holds nothing reserved and no fees.
    error TrainingEscrow_NothingReserved(address payer, address relayer, address token);
    /// @notice What the relayer's line holds reserved does not cover the claim.
    error TrainingEscrow_InsufficientReserved(
        address payer, address relayer, address token, uint256 reserved, uint256 needed
    );
    /// @notice A batch needs at least one reservation.
    error TrainingEscrow_NoReservations();
    /// @notice This (root, payer, token) was already committed.
    error TrainingEscrow_AlreadyCommitted(bytes32 root, address payer, address token);
    /// @notice The root is zero.
    error TrainingEscrow_ZeroRoot();
    /// @notice No reservation exists for this (root, payer, token).
    error TrainingEscrow_UnknownReservation(bytes32 root, address payer, address token);
    /// @notice The reservation's claim window is over.
    error TrainingEscrow_ReservationExpired(bytes32 root, uint40 expiresAt);
    /// @notice The Merkle proof does not lead from the receipt's leaf to the root.
    error TrainingEscrow_InvalidProof(bytes32 root, bytes32 leaf);
    /// @notice A claim got an empty list.
    error TrainingEscrow_EmptyClaim();
    /// @notice The fee exceeds {TrainingEscrow-MAX_FEE_BPS}.
    error TrainingEscrow_FeeTooHigh(uint16 feeBps, uint16 maxBps);
    /// @notice The notice period is outside its bounds.
    error TrainingEscrow_NoticePeriodOutOfBounds(uint40 period, uint40 min, uint40 max);
    /// @notice The claim window is outside its bounds.
    error TrainingEscrow_ClaimWindowOutOfBounds(uint40 window, uint40 min, uint40 max);

    /*//////////////////////////////////////////////////////////////
                             ROYALTY STREAMS
    //////////////////////////////////////////////////////////////*/

    /// @notice An address argument is zero where it must not be.
    error RoyaltyStreams_ZeroAddress();
    /// @notice An amount is zero where it must not be.
    error RoyaltyStreams_ZeroAmount();
    /// @notice A rate of zero (pause the stream instead).
    error RoyaltyStreams_ZeroRate();
    /// @notice The start time is in the past.
    error RoyaltyStreams_StartInPast(uint40 startTime, uint40 now_);
    /// @notice The end time is not after the start time.
    error RoyaltyStreams_EndNotAfterStart(uint40 startTime, uint40 endTime);
    /// @notice No license with this id exists.
    error RoyaltyStreams_UnknownLicense(uint256 licenseId);
    /// @notice This contract is not the license contract's transfer hook, so it could not follow
    /// holders.
    error RoyaltyStreams_NotTransferHook(address licenseContract);
    /// @notice Only the license contract calls the transfer hook.
    error RoyaltyStreams_NotLicenseContract(address caller);
    /// @notice No stream with this id exists.
    error RoyaltyStreams_UnknownStream(uint256 streamId);
    /// @notice The stream is cancelled (final).
    error RoyaltyStreams_StreamCancelled(uint256 streamId);
    /// @notice The caller is not the stream's payer.
    error RoyaltyStreams_NotPayer(uint256 streamId, address caller);
    /// @notice The caller is neither the stream's payer nor its operator.
    error RoyaltyStreams_NotPayerOrOperator(uint256 streamId, address caller);
    /// @notice The caller may not restart this pause (the operator restarts only its own pauses).
    error RoyaltyStreams_NotAllowedToRestart(uint256 streamId, address caller);
    /// @notice The operation needs an active stream.
    error RoyaltyStreams_NotActive(uint256 streamId, Streams.Status status);
    /// @notice The operation needs a paused stream.
    error RoyaltyStreams_NotPaused(uint256 streamId);
    /// @notice The stream's end time has passed.
    error RoyaltyStreams_StreamEnded(uint256 streamId, uint40 endTime);
    /// @notice The stream has uncovered debt; top it up first.
    error RoyaltyStreams_Insolvent(uint256 streamId, uint256 uncoveredDebt);
    /// @notice The stream has more holder checkpoints to settle than one call walks; call
    /// `settle` until it returns true.
    error RoyaltyStreams_SettlementIncomplete(uint256 streamId, uint40 settledUntil);
    /// @notice The contract received a different amount than was sent (fee-on-transfer tokens).
    error RoyaltyStreams_TransferAmountMismatch(address token, uint256 expected, uint256 received);
    /// @notice The license's holder has not enabled streams (`enableStreams`).
    error RoyaltyStreams_StreamsNotEnabled(uint256 licenseId);
    /// @notice Streams are already enabled for this license.
    error RoyaltyStreams_StreamsAlreadyEnabled(uint256 licenseId);
    /// @notice Only the license's holder, or an account it approved, may enable streams.
    error RoyaltyStreams_NotHolderOrApproved(uint256 licenseId, address caller);
    /// @notice The operator restarts a pause at the rate in force at the pause; only the payer
    /// changes the rate.
    error RoyaltyStreams_OperatorCannotChangeRate(uint256 streamId, uint128 rate, uint128 requested);

    /*//////////////////////////////////////////////////////////////
                              REVENUE POOL
    //////////////////////////////////////////////////////////////*/

    /// @notice Members and shares must be non-empty lists of equal length, with no zero address
    /// or zero share, and a total of at most 2^128 - 1.
    error RevenuePool_BadMembers();
    /// @notice The token is zero, the pool's own shares, or already accepted.
    error RevenuePool_BadToken(address token);
    /// @notice The pool accepts at most this many tokens.
    error RevenuePool_TooManyTokens(uint256 max);
    /// @notice The token is not distributed by this pool.
    error RevenuePool_TokenNotAccepted(address token);
    /// @notice Only the manager may do this (and a pool without a manager has none).
    error RevenuePool_NotManager(address caller);
    /// @notice The pool is a fixed split: shares cannot move.
    error RevenuePool_SharesNotTransferable();
}
