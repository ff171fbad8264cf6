// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Escrow} from "../types/EscrowTypes.sol";
import {ILicenseNFT} from "./ILicenseNFT.sol";

/// @title ITrainingEscrow
/// @notice Holds payers' training budgets and pays license holders for signed, cumulative usage
/// receipts, settled in Merkle batches committed by relayers (or directly, as an escape hatch).
///
/// Every token unit deposited is, at every moment, in exactly one place: a payer's available
/// balance (refundable), a relayer credit line (its credit, its reserved funds or its unswept
/// fees), paid to a payee, or accrued as platform fee. See docs/protocol.md for the full protocol and docs/threat-model.md.
interface ITrainingEscrow {
    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Emitted when `from` deposits `amount` of `token` for `payer`.
    event Deposited(address indexed payer, address indexed token, address indexed from, uint256 amount);

    /// @notice Emitted when a payer asks to withdraw; funds stay chargeable until `unlockAt`, and
    /// the request can be executed until `lapsesAt`.
    event WithdrawalRequested(
        address indexed payer, address indexed token, uint256 amount, uint40 unlockAt, uint40 lapsesAt
    );

    /// @notice Emitted when a payer cancels its withdrawal request.
    event WithdrawalCancelled(address indexed payer, address indexed token);

    /// @notice Emitted when a payer withdraws unspent budget.
    event Withdrawn(address indexed payer, address indexed token, address indexed to, uint256 amount);

    /// @notice Emitted when a payer accepts one terms version of a license; receipts under it can
    /// be charged from `chargeableFrom` (one notice period later).
    event TermsAccepted(
        address indexed payer,
        uint256 indexed licenseId,
        uint64 indexed termsId,
        address token,
        uint96 pricePerSample,
        uint64 maxSamples,
        uint40 expiresAt,
        uint40 chargeableFrom
    );

    /// @notice Emitted when a payer moves `amount` from its available balance into the credit
    /// line of `relayer`.
    event CreditFunded(address indexed payer, address indexed relayer, address indexed token, uint256 amount);

    /// @notice Emitted when a payer asks to take up to `amount` of credit back from a line, from
    /// `effectiveAt` on. Replaces an earlier request of the line.
    event CreditReductionRequested(
        address indexed payer,
        address indexed relayer,
        address indexed token,
        uint256 amount,
        uint40 effectiveAt
    );

    /// @notice Emitted when a payer cancels its pending credit reduction.
    event CreditReductionCancelled(address indexed payer, address indexed relayer, address indexed token);

    /// @notice Emitted when `amount` of a line's credit returns to the payer's available balance.
    event CreditReduced(
        address indexed payer, address indexed relayer, address indexed token, uint256 amount
    );

    /// @notice Emitted when a line's reserved funds return to its credit, every batch that
    /// reserved into it having expired.
    event FundsReleased(
        address indexed payer, address indexed relayer, address indexed token, uint256 amount
    );

    /// @notice Emitted when the fees of claims paid from a line move to the platform's balance.
    event FeesSwept(address indexed payer, address indexed relayer, address indexed token, uint256 amount);

    /// @notice Emitted when a payer registers a signing key of its training infrastructure.
    event SignerRegistered(address indexed payer, address indexed signer);

    /// @notice Emitted when a payer revokes a signing key; receipts judged at or after
    /// `effectiveAt` are no longer valid.
    event SignerRevoked(address indexed payer, address indexed signer, uint40 effectiveAt);

    /// @notice Emitted once per committed batch.
    /// @param root Merkle root of the batch's leaves.
    /// @param relayer The relayer that committed it.
    /// @param receiptCount Number of leaves in the tree.
    /// @param dataHash keccak256 of the published batch data (see docs/protocol.md).
    /// @param dataURI Where the batch data is published.
    event BatchCommitted(
        bytes32 indexed root, address indexed relayer, uint32 receiptCount, bytes32 dataHash, string dataURI
    );

    /// @notice Emitted for each payer and token of a batch: `amount` moved from the credit of the
    /// relayer's line to its reserved funds, which claims of the batch draw on until `expiresAt`.
    event FundsReserved(
        bytes32 indexed root,
        address indexed payer,
        address indexed token,
        address relayer,
        uint256 amount,
        uint40 expiresAt
    );

    /// @notice Emitted for each receipt that pays something.
    /// @param root The batch root the claim was made against, or zero for direct settlement.
    /// @param usageKey keccak256(abi.encode(payer, licenseId, termsId, runId)).
    /// @param payee The license holder paid.
    /// @param payer The payer whose funds paid (the receipt's signer account).
    /// @param licenseId The license used.
    /// @param termsId The terms version accepted (with payer and license: the acceptance charged).
    /// @param token The payment token.
    /// @param cumulativeSamples The receipt's cumulative count, now the settled count of the key.
    /// @param samplesCharged Samples paid for (the increase, less what the terms' cap excludes).
    /// @param amount Total charged to the payer: `payout + fee`.
    /// @param fee The platform's part.
    event UsageSettled(
        bytes32 indexed root,
        bytes32 indexed usageKey,
        address indexed payee,
        address payer,
        uint256 licenseId,
        uint64 termsId,
        address token,
        uint64 cumulativeSamples,
        uint64 samplesCharged,
        uint256 amount,
        uint256 fee
    );

    /// @notice Emitted when the owner changes the platform fee.
    event FeeUpdated(uint16 feeBps);

    /// @notice Emitted when the owner changes the notice period.
    event NoticePeriodUpdated(uint40 noticePeriod);

    /// @notice Emitted when the owner changes the claim window of new batches.
    event ClaimWindowUpdated(uint40 claimWindow);

    /// @notice Emitted when the owner allows or disallows deposits of a token.
    event TokenAllowed(address indexed token, bool allowed);

    /// @notice Emitted when the owner withdraws accrued fees.
    event FeesWithdrawn(address indexed token, address indexed to, uint256 amount);

    /*//////////////////////////////////////////////////////////////
                                  READS
    //////////////////////////////////////////////////////////////*/

    /// @notice The license NFT contract whose licenses this escrow pays for.
    function licenses() external view returns (ILicenseNFT);

    /// @notice EIP-712 type hash of {Escrow.Receipt}.
    function RECEIPT_TYPEHASH() external view returns (bytes32);

    /// @notice Highest platform fee, in basis points.
    function MAX_FEE_BPS() external view returns (uint16);

    /// @notice The platform fee in basis points, applied to batches committed from now on and to
    /// direct settlements.
    function feeBps() external view returns (uint16);

    /// @notice How long a withdrawal request or a key revocation waits before it takes effect.
    function noticePeriod() external view returns (uint40);

    /// @notice How long after commit a batch can be claimed.
    function claimWindow() external view returns (uint40);

    /// @notice Whether deposits of `token` are allowed.
    function isTokenAllowed(address token) external view returns (bool);

    /// @notice A payer's balance that is neither reserved nor paid: chargeable, and refundable.
    function availableBalance(address payer, address token) external view returns (uint256);

    /// @notice A payer's pending withdrawal request.
    function pendingWithdrawal(address payer, address token) external view returns (Escrow.Withdrawal memory);

    /// @notice The credit line `payer` opened for `relayer` in `token` (zeroes if none).
    function creditLine(address payer, address relayer, address token)
        external
        view
        returns (Escrow.CreditLine memory);

    /// @notice The pending credit reduction of a line (zeroes if none).
    function creditReduction(address payer, address relayer, address token)
        external
        view
        returns (Escrow.CreditReduction memory);

    /// @notice The validity window of a payer's signing key.
    function signerOf(address payer, address signer) external view returns (Escrow.Signer memory);

    /// @notice A payer's acceptance of one terms version of a license (zeroes if none).
    function acceptance(address payer, uint256 licenseId, uint64 termsId)
        external
        view
        returns (Escrow.Acceptance memory);

    /// @notice Cumulative samples already settled for a usage key.
    function settledSamples(bytes32 key) external view returns (uint64);

    /// @notice The record of a batch for one payer and token: the relayer whose line its claims
    /// draw on, and its claim window (zeroes if none).
    function reservation(bytes32 root, address payer, address token)
        external
        view
        returns (Escrow.Reservation memory);

    /// @notice Platform fees accrued and not yet withdrawn.
    function accruedFees(address token) external view returns (uint256);

    /// @notice The usage key of a receipt: keccak256(abi.encode(payer, licenseId, termsId, runId)).
    function usageKey(Escrow.Receipt calldata receipt) external pure returns (bytes32);

    /// @notice The EIP-712 digest a payer's key signs for `receipt`.
    function receiptDigest(Escrow.Receipt calldata receipt) external view returns (bytes32);

    /// @notice The Merkle leaf of a receipt: keccak256(bytes.concat(keccak256(abi.encode(digest)))),
    /// i.e. an OpenZeppelin StandardMerkleTree leaf of type ["bytes32"].
    function receiptLeaf(Escrow.Receipt calldata receipt) external view returns (bytes32);

    /*//////////////////////////////////////////////////////////////
                              PAYER WRITES
    //////////////////////////////////////////////////////////////*/

    /// @notice Deposits `amount` of `token` for the caller.
    /// @dev Emits {Deposited}. Requirements: token allowed; amount not zero; the escrow receives
    /// exactly `amount` (fee-on-transfer tokens are rejected).
    function deposit(address token, uint256 amount) external;

    /// @notice Deposits `amount` of `token` from the caller for `payer`. Never touches the
    /// payer's withdrawal or key timers.
    function depositFor(address payer, address token, uint256 amount) external;

    /// @notice Deposits with an EIP-2612 permit signed by `payer`, in one call, for `payer`.
    /// Anyone may submit it (gasless for the payer); a caller other than the payer must show that
    /// the permit was used: it must not revert and must move the token's `nonces(payer)` by
    /// exactly one (a token without `permit` whose fallback accepts the call proves nothing). If
    /// the permit fails (e.g. it was front-run and used), only the payer itself may go on with its
    /// existing allowance.
    function depositWithPermit(
        address payer,
        address token,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /// @notice Accepts the current terms of a license; the caller names the terms id it read, so
    /// that a change of terms in between cannot be slipped under it. Receipts under the acceptance
    /// become chargeable one notice period later (a new destination for the payer's budget is
    /// announced as long in advance as a withdrawal).
    /// @dev Emits {TermsAccepted}. Requirements: `termsId` is the current version; the terms have
    /// not expired; exclusive terms name the caller; not accepted before.
    function acceptTerms(uint256 licenseId, uint64 termsId) external;

    /// @notice Moves `amount` of the caller's available balance into the credit line of
    /// `relayer`, which that relayer's batches reserve from. Credit comes back only through a
    /// credit reduction, one notice period after it is requested, so that the relayer can commit
    /// every receipt it accepted within the line before the payer takes it away.
    /// @dev Emits {CreditFunded}. Requirements: relayer not zero; amount not zero and covered by
    /// the available balance; the line stays below 2^104 units.
    function fundCredit(address relayer, address token, uint128 amount) external;

    /// @notice Asks to take up to `amount` of credit back from the caller's line for `relayer`,
    /// from one notice period on. Replaces an earlier request of the line.
    /// @dev Emits {CreditReductionRequested}.
    function requestCreditReduction(address relayer, address token, uint128 amount) external;

    /// @notice Cancels the caller's pending credit reduction of a line.
    /// @dev Emits {CreditReductionCancelled}.
    function cancelCreditReduction(address relayer, address token) external;

    /// @notice Executes the caller's effective credit reduction: moves up to the requested amount
    /// of the line's credit (what is not reserved) to the available balance. What the line could
    /// not give stays requested, so credit that returns later on release can be taken too.
    /// @dev Emits {CreditReduced}. Requirements: a request exists and its notice has passed.
    /// @return amount What moved.
    function reduceCredit(address relayer, address token) external returns (uint256 amount);

    /// @notice Registers a signing key of the caller's training infrastructure. Registering a key
    /// whose revocation is pending cancels the revocation; a key whose revocation took effect can
    /// never be registered again (rotate to a new key).
    /// @dev Emits {SignerRegistered}.
    function registerSigner(address signer) external;

    /// @notice Revokes a signing key, effective after the notice period (so that receipts
    /// already signed can still be committed).
    /// @dev Emits {SignerRevoked}.
    function revokeSigner(address signer) external;

    /// @notice Asks to withdraw up to `amount` of `token` after the notice period. Replaces any
    /// earlier request. Until then the funds remain chargeable; the request can then be executed
    /// for one notice period, after which it lapses.
    /// @dev Emits {WithdrawalRequested}.
    function requestWithdrawal(address token, uint128 amount) external;

    /// @notice Cancels the caller's pending withdrawal request.
    /// @dev Emits {WithdrawalCancelled}.
    function cancelWithdrawal(address token) external;

    /// @notice Withdraws the requested amount, or what is available if less, to `to`.
    /// @dev Emits {Withdrawn}. Requirements: a request exists, its notice has passed and it has
    /// not lapsed.
    /// @return amount What was sent.
    function withdraw(address token, address to) external returns (uint256 amount);

    /*//////////////////////////////////////////////////////////////
                         RELAYER AND PAYEE WRITES
    //////////////////////////////////////////////////////////////*/

    /// @notice Commits a batch: its Merkle root, and for each payer a reservation from the credit
    /// the payer gave the caller. Claims against the root draw on the caller's line of that payer
    /// and token, which holds what all of the caller's batches reserved. One transaction whatever
    /// the number of receipts.
    /// @dev Emits {BatchCommitted} and one {FundsReserved} per reservation.
    ///
    /// Requirements: root not zero; at least one reservation; each payer has a non-empty line
    /// for the caller in the token (an amount may be zero, when earlier batches of the line
    /// already reserved what the batch's receipts add); each amount is covered by the line's
    /// credit; each (root, payer, token) is committed once.
    function commitBatch(
        bytes32 root,
        uint32 receiptCount,
        bytes32 dataHash,
        string calldata dataURI,
        Escrow.ReservationRequest[] calldata reservations
    ) external;

    /// @notice Pays license holders for receipts of the batch committed as `root`. Anyone may
    /// call it. Each receipt pays the increase of its cumulative count over what was settled for
    /// its usage key; a receipt that adds nothing pays nothing (no revert).
    /// @dev Emits {UsageSettled} for each receipt that pays.
    ///
    /// Requirements, for each receipt: the proof is valid; the payer accepted the terms, and the
    /// acceptance was chargeable when the batch was committed; the batch was committed for (root,
    /// payer, token) and has not expired; the signature recovers to a key valid for the payer when
    /// the batch was committed; the receipt was issued before the terms expired; the committing
    /// relayer's line holds enough reserved funds.
    /// @return paid The total charged (payouts plus fees).
    function claim(bytes32 root, Escrow.Claim[] calldata claims) external returns (uint256 paid);

    /// @notice Escape hatch: settles one signed receipt from the payer's available balance (never
    /// from a credit line), without a batch. Anyone may call it; the license holder is paid.
    /// @dev Same checks as {claim}, with the acceptance and the key judged at the current time, and
    /// the current fee.
    /// @return paid The amount charged (payout plus fee).
    function settleDirect(Escrow.Receipt calldata receipt, bytes calldata signature)
        external
        returns (uint256 paid);

    /// @notice Once every batch that reserved into a line has expired, returns the line's reserved
    /// funds to its credit (still the relayer's to reserve, and the payer's to reduce with notice)
    /// and sweeps its fees. Anyone may call it; it never touches the payer's available balance or
    /// withdrawal.
    /// @dev Emits {FundsReleased} and, if there were fees, {FeesSwept}. Requirements: something
    /// was reserved since the last release, and `block.timestamp >= reservedUntil`.
    /// @return amount What returned to credit.
    function release(address payer, address relayer, address token) external returns (uint256 amount);

    /// @notice Moves the fees of claims paid from a line to the platform's balance. Anyone may
    /// call it.
    /// @dev Emits {FeesSwept} if there were fees.
    /// @return amount What moved.
    function sweepFees(address payer, address relayer, address token) external returns (uint256 amount);

    /*//////////////////////////////////////////////////////////////
                              OWNER WRITES
    //////////////////////////////////////////////////////////////*/

    /// @notice Sets the platform fee for batches committed from now on and direct settlements.
    function setFee(uint16 newFeeBps) external;

    /// @notice Sets the notice period of withdrawal requests and key revocations made from now on.
    function setNoticePeriod(uint40 newNoticePeriod) external;

    /// @notice Sets the claim window of batches committed from now on.
    function setClaimWindow(uint40 newClaimWindow) external;

    /// @notice Allows or disallows new deposits of a token. Existing balances are unaffected.
    function setTokenAllowed(address token, bool allowed) external;

    /// @notice Sends accrued fees of `token` to `to`.
    function withdrawFees(address token, address to) external returns (uint256 amount);
}
