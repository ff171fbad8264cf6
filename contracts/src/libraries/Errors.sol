// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

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
    /// @notice A batch mint got an empty list.
    error LicenseNFT_EmptyBatch();

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
    /// @notice The permit failed and the caller is not the payer.
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
    /// @notice The caller is not a relayer authorized by this payer.
    error TrainingEscrow_RelayerNotAuthorized(address payer, address relayer);
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
    /// @notice The reservation's claim window is still open.
    error TrainingEscrow_ReservationNotExpired(bytes32 root, uint40 expiresAt);
    /// @notice What is left in the reservation does not cover the claim.
    error TrainingEscrow_InsufficientReservation(bytes32 root, uint256 remaining, uint256 needed);
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
}
