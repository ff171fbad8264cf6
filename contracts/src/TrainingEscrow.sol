// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {ILicenseNFT} from "./interfaces/ILicenseNFT.sol";
import {ITrainingEscrow} from "./interfaces/ITrainingEscrow.sol";
import {Errors} from "./libraries/Errors.sol";
import {ReceiptLib} from "./libraries/ReceiptLib.sol";
import {Escrow} from "./types/EscrowTypes.sol";
import {License} from "./types/LicenseTypes.sol";

/// @title TrainingEscrow
/// @notice See {ITrainingEscrow}.
/// @dev Accounting: for every token, `balanceOf(this) == Σ available + Σ reservation.remaining
/// + accruedFees`. Deposits add to `available`; commits move `available` to a reservation;
/// claims move a reservation to the payee and fees; releases move a reservation back to
/// `available`; direct settlements move `available` to the payee and fees; withdrawals take from
/// `available`. No other path moves value.
contract TrainingEscrow is ITrainingEscrow, EIP712, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @inheritdoc ITrainingEscrow
    uint16 public constant override MAX_FEE_BPS = 1000;
    /// @notice Bounds of the notice period the owner can set.
    uint40 public constant MIN_NOTICE_PERIOD = 1 hours;
    uint40 public constant MAX_NOTICE_PERIOD = 30 days;
    /// @notice Bounds of the claim window the owner can set.
    uint40 public constant MIN_CLAIM_WINDOW = 1 days;
    uint40 public constant MAX_CLAIM_WINDOW = 365 days;

    uint256 private constant _BPS = 10_000;

    /// @inheritdoc ITrainingEscrow
    ILicenseNFT public immutable override licenses;

    /// @dev Owner-set parameters, packed in one slot.
    struct Config {
        uint16 feeBps;
        uint40 noticePeriod;
        uint40 claimWindow;
    }

    Config private _config;

    /// @dev The outcome of advancing one usage key (see {_advance}).
    struct Charge {
        bool advanced;
        bytes32 usageKey;
        uint64 samples;
        uint256 amount;
    }

    mapping(address token => bool) private _tokenAllowed;
    mapping(address payer => mapping(address token => uint256)) private _available;
    mapping(address payer => mapping(address token => Escrow.Withdrawal)) private _withdrawals;
    mapping(address payer => mapping(address relayer => bool)) private _relayers;
    mapping(address payer => mapping(address signer => Escrow.Signer)) private _signers;
    mapping(bytes32 acceptanceKey => Escrow.Acceptance) private _acceptances;
    mapping(bytes32 usageKey => uint64 cumulativeSamples) private _settled;
    mapping(bytes32 reservationKey => Escrow.Reservation) private _reservations;
    mapping(address token => uint256) private _fees;

    /// @param licenses_ The license NFT contract.
    /// @param owner_ The platform owner (fees, parameters, token list).
    /// @param feeBps_ Initial platform fee.
    /// @param noticePeriod_ Initial notice period.
    /// @param claimWindow_ Initial claim window.
    constructor(
        ILicenseNFT licenses_,
        address owner_,
        uint16 feeBps_,
        uint40 noticePeriod_,
        uint40 claimWindow_
    ) EIP712("Fairtrain TrainingEscrow", "1") Ownable(owner_) {
        if (address(licenses_) == address(0)) {
            revert Errors.TrainingEscrow_ZeroAddress();
        }
        licenses = licenses_;
        _setFee(feeBps_);
        _setNoticePeriod(noticePeriod_);
        _setClaimWindow(claimWindow_);
    }

    /*//////////////////////////////////////////////////////////////
                                  READS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc ITrainingEscrow
    function RECEIPT_TYPEHASH() external pure override returns (bytes32) {
        return ReceiptLib.RECEIPT_TYPEHASH;
    }

    /// @inheritdoc ITrainingEscrow
    function feeBps() external view override returns (uint16) {
        return _config.feeBps;
    }

    /// @inheritdoc ITrainingEscrow
    function noticePeriod() external view override returns (uint40) {
        return _config.noticePeriod;
    }

    /// @inheritdoc ITrainingEscrow
    function claimWindow() external view override returns (uint40) {
        return _config.claimWindow;
    }

    /// @inheritdoc ITrainingEscrow
    function isTokenAllowed(address token) external view override returns (bool) {
        return _tokenAllowed[token];
    }

    /// @inheritdoc ITrainingEscrow
    function availableBalance(address payer, address token) external view override returns (uint256) {
        return _available[payer][token];
    }

    /// @inheritdoc ITrainingEscrow
    function pendingWithdrawal(address payer, address token)
        external
        view
        override
        returns (Escrow.Withdrawal memory)
    {
        return _withdrawals[payer][token];
    }

    /// @inheritdoc ITrainingEscrow
    function isRelayer(address payer, address relayer) external view override returns (bool) {
        return _relayers[payer][relayer];
    }

    /// @inheritdoc ITrainingEscrow
    function signerOf(address payer, address signer) external view override returns (Escrow.Signer memory) {
        return _signers[payer][signer];
    }

    /// @inheritdoc ITrainingEscrow
    function acceptance(address payer, uint256 licenseId, uint64 termsId)
        external
        view
        override
        returns (Escrow.Acceptance memory)
    {
        return _acceptances[ReceiptLib.acceptanceKey(payer, licenseId, termsId)];
    }

    /// @inheritdoc ITrainingEscrow
    function settledSamples(bytes32 key) external view override returns (uint64) {
        return _settled[key];
    }

    /// @inheritdoc ITrainingEscrow
    function reservation(bytes32 root, address payer, address token)
        external
        view
        override
        returns (Escrow.Reservation memory)
    {
        return _reservations[ReceiptLib.reservationKey(root, payer, token)];
    }

    /// @inheritdoc ITrainingEscrow
    function accruedFees(address token) external view override returns (uint256) {
        return _fees[token];
    }

    /// @inheritdoc ITrainingEscrow
    function usageKey(Escrow.Receipt calldata receipt) external pure override returns (bytes32) {
        return ReceiptLib.usageKey(receipt);
    }

    /// @inheritdoc ITrainingEscrow
    function receiptDigest(Escrow.Receipt calldata receipt) public view override returns (bytes32) {
        return _hashTypedDataV4(ReceiptLib.structHash(receipt));
    }

    /// @inheritdoc ITrainingEscrow
    function receiptLeaf(Escrow.Receipt calldata receipt) external view override returns (bytes32) {
        return ReceiptLib.leaf(receiptDigest(receipt));
    }

    /*//////////////////////////////////////////////////////////////
                              PAYER WRITES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc ITrainingEscrow
    function deposit(address token, uint256 amount) external override nonReentrant {
        _deposit(msg.sender, token, msg.sender, amount);
    }

    /// @inheritdoc ITrainingEscrow
    function depositFor(address payer, address token, uint256 amount) external override nonReentrant {
        _deposit(payer, token, msg.sender, amount);
    }

    /// @inheritdoc ITrainingEscrow
    function depositWithPermit(
        address payer,
        address token,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external override nonReentrant {
        _checkDeposit(payer, token, amount);
        // A failed permit (e.g. front-run, so already used) is tolerated only when the payer itself
        // calls: otherwise anyone could sweep a payer's standing allowance into the escrow with a
        // junk signature.
        try IERC20Permit(token).permit(payer, address(this), amount, deadline, v, r, s) {}
        catch {
            if (msg.sender != payer) revert Errors.TrainingEscrow_PermitFailed(payer, token);
        }
        _pull(payer, token, payer, amount);
    }

    /// @inheritdoc ITrainingEscrow
    function acceptTerms(uint256 licenseId, uint64 termsId) external override {
        (uint64 current, License.Terms memory t) = licenses.currentTerms(licenseId);
        if (current != termsId) revert Errors.TrainingEscrow_TermsNotCurrent(licenseId, termsId, current);
        if (t.expiresAt != 0 && block.timestamp >= t.expiresAt) {
            revert Errors.TrainingEscrow_TermsExpired(licenseId, termsId, t.expiresAt);
        }
        if (t.exclusiveLicensee != address(0) && t.exclusiveLicensee != msg.sender) {
            revert Errors.TrainingEscrow_ExclusiveToAnother(licenseId, t.exclusiveLicensee);
        }
        Escrow.Acceptance storage accepted =
            _acceptances[ReceiptLib.acceptanceKey(msg.sender, licenseId, termsId)];
        if (accepted.acceptedAt != 0) {
            revert Errors.TrainingEscrow_AlreadyAccepted(msg.sender, licenseId, termsId);
        }

        // Accepting opens a new destination for the payer's budget, so it is chargeable only after
        // the notice period: a payer cannot drain its balance through a license it controls
        // faster than it could withdraw it.
        uint40 chargeableFrom = uint40(block.timestamp) + _config.noticePeriod;
        accepted.token = t.paymentToken;
        accepted.pricePerSample = t.pricePerSample;
        accepted.acceptedAt = uint40(block.timestamp);
        accepted.chargeableFrom = chargeableFrom;
        accepted.expiresAt = t.expiresAt;
        accepted.maxSamples = t.maxSamples;
        emit TermsAccepted(
            msg.sender,
            licenseId,
            termsId,
            t.paymentToken,
            t.pricePerSample,
            t.maxSamples,
            t.expiresAt,
            chargeableFrom
        );
    }

    /// @inheritdoc ITrainingEscrow
    function setRelayer(address relayer, bool authorized) external override {
        if (relayer == address(0)) revert Errors.TrainingEscrow_ZeroAddress();
        _relayers[msg.sender][relayer] = authorized;
        emit RelayerSet(msg.sender, relayer, authorized);
    }

    /// @inheritdoc ITrainingEscrow
    function registerSigner(address signer) external override {
        if (signer == address(0)) revert Errors.TrainingEscrow_ZeroAddress();
        Escrow.Signer storage key = _signers[msg.sender][signer];
        if (key.registeredAt == 0) {
            key.registeredAt = uint40(block.timestamp);
        } else if (key.revokedAt == 0) {
            revert Errors.TrainingEscrow_SignerAlreadyActive(msg.sender, signer);
        } else if (block.timestamp >= key.revokedAt) {
            // A revocation that took effect is final, so that it cannot revive batches committed
            // while the key was revoked: rotate to a new key instead.
            revert Errors.TrainingEscrow_SignerRevoked(msg.sender, signer, key.revokedAt);
        } else {
            // Cancelling a pending revocation keeps the key's history unbroken.
            key.revokedAt = 0;
        }
        emit SignerRegistered(msg.sender, signer);
    }

    /// @inheritdoc ITrainingEscrow
    function revokeSigner(address signer) external override {
        Escrow.Signer storage key = _signers[msg.sender][signer];
        if (key.registeredAt == 0 || key.revokedAt != 0) {
            revert Errors.TrainingEscrow_SignerNotActive(msg.sender, signer);
        }
        uint40 effectiveAt = uint40(block.timestamp) + _config.noticePeriod;
        key.revokedAt = effectiveAt;
        emit SignerRevoked(msg.sender, signer, effectiveAt);
    }

    /// @inheritdoc ITrainingEscrow
    function requestWithdrawal(address token, uint128 amount) external override {
        if (amount == 0) revert Errors.TrainingEscrow_ZeroAmount();
        uint40 notice = _config.noticePeriod;
        uint40 unlockAt = uint40(block.timestamp) + notice;
        uint40 lapsesAt = unlockAt + notice;
        _withdrawals[msg.sender][token] =
            Escrow.Withdrawal({amount: amount, unlockAt: unlockAt, lapsesAt: lapsesAt});
        emit WithdrawalRequested(msg.sender, token, amount, unlockAt, lapsesAt);
    }

    /// @inheritdoc ITrainingEscrow
    function cancelWithdrawal(address token) external override {
        if (_withdrawals[msg.sender][token].unlockAt == 0) {
            revert Errors.TrainingEscrow_NoWithdrawalRequested(msg.sender, token);
        }
        delete _withdrawals[msg.sender][token];
        emit WithdrawalCancelled(msg.sender, token);
    }

    /// @inheritdoc ITrainingEscrow
    function withdraw(address token, address to) external override nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert Errors.TrainingEscrow_ZeroAddress();
        Escrow.Withdrawal memory request = _withdrawals[msg.sender][token];
        if (request.unlockAt == 0) revert Errors.TrainingEscrow_NoWithdrawalRequested(msg.sender, token);
        if (block.timestamp < request.unlockAt) {
            revert Errors.TrainingEscrow_WithdrawalLocked(msg.sender, token, request.unlockAt);
        }
        // An unlocked request is good for one notice period; an older one would let a payer keep a
        // standing right to leave at once while it goes on signing receipts.
        if (block.timestamp >= request.lapsesAt) {
            revert Errors.TrainingEscrow_WithdrawalLapsed(msg.sender, token, request.lapsesAt);
        }
        uint256 available = _available[msg.sender][token];
        amount = request.amount < available ? request.amount : available;

        delete _withdrawals[msg.sender][token];
        _available[msg.sender][token] = available - amount;
        emit Withdrawn(msg.sender, token, to, amount);
        if (amount != 0) IERC20(token).safeTransfer(to, amount);
    }

    /*//////////////////////////////////////////////////////////////
                         RELAYER AND PAYEE WRITES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc ITrainingEscrow
    function commitBatch(
        bytes32 root,
        uint32 receiptCount,
        bytes32 dataHash,
        string calldata dataURI,
        Escrow.ReservationRequest[] calldata reservations
    ) external override {
        if (root == bytes32(0)) revert Errors.TrainingEscrow_ZeroRoot();
        if (reservations.length == 0) revert Errors.TrainingEscrow_NoReservations();
        Config memory config = _config;
        uint40 committedAt = uint40(block.timestamp);
        uint40 expiresAt = committedAt + config.claimWindow;

        for (uint256 i; i < reservations.length; ++i) {
            _reserve(root, reservations[i], committedAt, expiresAt, config.feeBps);
        }
        emit BatchCommitted(root, msg.sender, receiptCount, dataHash, dataURI);
    }

    /// @inheritdoc ITrainingEscrow
    function claim(bytes32 root, Escrow.Claim[] calldata claims)
        external
        override
        nonReentrant
        returns (uint256 paid)
    {
        if (claims.length == 0) revert Errors.TrainingEscrow_EmptyClaim();
        // Consecutive payouts to the same payee in the same token are sent as one transfer.
        address pendingPayee;
        address pendingToken;
        uint256 pendingPayout;

        for (uint256 i; i < claims.length; ++i) {
            (address payee, address token, uint256 payout, uint256 amount) = _claimOne(root, claims[i]);
            if (payee == address(0)) continue;
            if (payee != pendingPayee || token != pendingToken) {
                _transferOut(pendingToken, pendingPayee, pendingPayout);
                (pendingPayee, pendingToken, pendingPayout) = (payee, token, 0);
            }
            pendingPayout += payout;
            paid += amount;
        }
        _transferOut(pendingToken, pendingPayee, pendingPayout);
    }

    /// @inheritdoc ITrainingEscrow
    function settleDirect(Escrow.Receipt calldata receipt, bytes calldata signature)
        external
        override
        nonReentrant
        returns (uint256 paid)
    {
        bytes32 digest = receiptDigest(receipt);
        Escrow.Acceptance storage accepted = _requireAcceptance(receipt);
        _requireChargeable(receipt, accepted, block.timestamp);
        _requireValidSigner(receipt.payer, digest, signature, block.timestamp);

        Charge memory charge = _advance(receipt, accepted);
        if (!charge.advanced) return 0;
        address token = accepted.token;
        uint256 available = _available[receipt.payer][token];
        if (available < charge.amount) {
            revert Errors.TrainingEscrow_InsufficientBalance(receipt.payer, token, available, charge.amount);
        }
        // Cannot underflow: checked just above.
        unchecked {
            _available[receipt.payer][token] = available - charge.amount;
        }
        (address payee, uint256 payout) = _pay(bytes32(0), receipt, token, charge, _config.feeBps);
        _transferOut(token, payee, payout);
        return charge.amount;
    }

    /// @inheritdoc ITrainingEscrow
    function release(bytes32 root, address payer, address token) external override returns (uint256 amount) {
        Escrow.Reservation storage reserved = _reservations[ReceiptLib.reservationKey(root, payer, token)];
        if (reserved.committedAt == 0) revert Errors.TrainingEscrow_UnknownReservation(root, payer, token);
        if (block.timestamp < reserved.expiresAt) {
            revert Errors.TrainingEscrow_ReservationNotExpired(root, reserved.expiresAt);
        }
        amount = reserved.remaining;
        // The record stays (with nothing left) so that the same (root, payer, token) can never be
        // committed again.
        reserved.remaining = 0;
        _available[payer][token] += amount;
        emit ReservationReleased(root, payer, token, amount);

        // Funds coming back must stay chargeable for a full notice period, so that payees can
        // still settle receipts directly before the payer withdraws them. A lapsed request is left
        // alone (it can no longer be executed).
        Escrow.Withdrawal storage request = _withdrawals[payer][token];
        uint40 notice = _config.noticePeriod;
        uint40 earliest = uint40(block.timestamp) + notice;
        if (
            amount != 0 && request.unlockAt != 0 && request.unlockAt < earliest
                && block.timestamp < request.lapsesAt
        ) {
            request.unlockAt = earliest;
            request.lapsesAt = earliest + notice;
            emit WithdrawalDelayed(payer, token, earliest, earliest + notice);
        }
    }

    /*//////////////////////////////////////////////////////////////
                              OWNER WRITES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc ITrainingEscrow
    function setFee(uint16 newFeeBps) external override onlyOwner {
        _setFee(newFeeBps);
    }

    /// @inheritdoc ITrainingEscrow
    function setNoticePeriod(uint40 newNoticePeriod) external override onlyOwner {
        _setNoticePeriod(newNoticePeriod);
    }

    /// @inheritdoc ITrainingEscrow
    function setClaimWindow(uint40 newClaimWindow) external override onlyOwner {
        _setClaimWindow(newClaimWindow);
    }

    /// @inheritdoc ITrainingEscrow
    function setTokenAllowed(address token, bool allowed) external override onlyOwner {
        if (token == address(0)) revert Errors.TrainingEscrow_ZeroAddress();
        _tokenAllowed[token] = allowed;
        emit TokenAllowed(token, allowed);
    }

    /// @inheritdoc ITrainingEscrow
    function withdrawFees(address token, address to)
        external
        override
        onlyOwner
        nonReentrant
        returns (uint256 amount)
    {
        if (to == address(0)) revert Errors.TrainingEscrow_ZeroAddress();
        amount = _fees[token];
        _fees[token] = 0;
        emit FeesWithdrawn(token, to, amount);
        _transferOut(token, to, amount);
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    function _checkDeposit(address payer, address token, uint256 amount) private view {
        if (payer == address(0)) revert Errors.TrainingEscrow_ZeroAddress();
        if (amount == 0) revert Errors.TrainingEscrow_ZeroAmount();
        if (!_tokenAllowed[token]) revert Errors.TrainingEscrow_TokenNotAllowed(token);
    }

    function _deposit(address payer, address token, address from, uint256 amount) private {
        _checkDeposit(payer, token, amount);
        _pull(payer, token, from, amount);
    }

    /// @dev Takes exactly `amount` of `token` from `from` and credits it to `payer` (checked by
    /// {_checkDeposit} beforehand).
    function _pull(address payer, address token, address from, uint256 amount) private {
        uint256 balanceBefore = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(from, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - balanceBefore;
        if (received != amount) revert Errors.TrainingEscrow_TransferAmountMismatch(token, amount, received);

        _available[payer][token] += amount;
        emit Deposited(payer, token, from, amount);
    }

    /// @dev Verifies one claimed receipt against `root` and settles it from the batch's
    /// reservation. Returns a zero payee if the receipt adds nothing.
    function _claimOne(bytes32 root, Escrow.Claim calldata item)
        private
        returns (address payee, address token, uint256 payout, uint256 amount)
    {
        Escrow.Receipt calldata receipt = item.receipt;
        bytes32 digest = receiptDigest(receipt);
        bytes32 leaf = ReceiptLib.leaf(digest);
        if (!MerkleProof.verifyCalldata(item.proof, root, leaf)) {
            revert Errors.TrainingEscrow_InvalidProof(root, leaf);
        }

        Escrow.Acceptance storage accepted = _requireAcceptance(receipt);
        token = accepted.token;
        Escrow.Reservation storage reserved =
            _reservations[ReceiptLib.reservationKey(root, receipt.payer, token)];
        uint40 committedAt = reserved.committedAt;
        if (committedAt == 0) revert Errors.TrainingEscrow_UnknownReservation(root, receipt.payer, token);
        _requireChargeable(receipt, accepted, committedAt);
        if (block.timestamp >= reserved.expiresAt) {
            revert Errors.TrainingEscrow_ReservationExpired(root, reserved.expiresAt);
        }
        _requireValidSigner(receipt.payer, digest, item.signature, committedAt);

        Charge memory charge = _advance(receipt, accepted);
        if (!charge.advanced) return (address(0), token, 0, 0);
        uint256 remaining = reserved.remaining;
        if (remaining < charge.amount) {
            revert Errors.TrainingEscrow_InsufficientReservation(root, remaining, charge.amount);
        }
        // Cannot underflow: checked just above.
        unchecked {
            reserved.remaining = uint128(remaining - charge.amount);
        }
        (payee, payout) = _pay(root, receipt, token, charge, reserved.feeBps);
        amount = charge.amount;
    }

    /// @dev Moves `request.amount` from the payer's available balance into the reservation of
    /// (root, payer, token).
    function _reserve(
        bytes32 root,
        Escrow.ReservationRequest calldata request,
        uint40 committedAt,
        uint40 expiresAt,
        uint16 fee_
    ) private {
        address payer = request.payer;
        address token = request.token;
        uint128 amount = request.amount;
        if (!_relayers[payer][msg.sender]) {
            revert Errors.TrainingEscrow_RelayerNotAuthorized(payer, msg.sender);
        }
        if (amount == 0) revert Errors.TrainingEscrow_ZeroAmount();

        Escrow.Reservation storage reserved = _reservations[ReceiptLib.reservationKey(root, payer, token)];
        if (reserved.committedAt != 0) revert Errors.TrainingEscrow_AlreadyCommitted(root, payer, token);
        uint256 available = _available[payer][token];
        if (available < amount) {
            revert Errors.TrainingEscrow_InsufficientBalance(payer, token, available, amount);
        }

        // Cannot underflow: checked just above.
        unchecked {
            _available[payer][token] = available - amount;
        }
        reserved.remaining = amount;
        reserved.committedAt = committedAt;
        reserved.expiresAt = expiresAt;
        reserved.feeBps = fee_;
        emit FundsReserved(root, payer, token, amount, expiresAt);
    }

    function _requireAcceptance(Escrow.Receipt calldata receipt)
        private
        view
        returns (Escrow.Acceptance storage accepted)
    {
        accepted = _acceptances[ReceiptLib.acceptanceKey(receipt.payer, receipt.licenseId, receipt.termsId)];
        if (accepted.acceptedAt == 0) {
            revert Errors.TrainingEscrow_TermsNotAccepted(receipt.payer, receipt.licenseId, receipt.termsId);
        }
    }

    /// @dev Reverts unless the acceptance was chargeable at time `at` (the batch's commit time, or
    /// now for direct settlement).
    function _requireChargeable(
        Escrow.Receipt calldata receipt,
        Escrow.Acceptance storage accepted,
        uint256 at
    ) private view {
        uint40 chargeableFrom = accepted.chargeableFrom;
        if (at < chargeableFrom) {
            revert Errors.TrainingEscrow_AcceptanceNotChargeable(
                receipt.payer, receipt.licenseId, receipt.termsId, chargeableFrom
            );
        }
    }

    /// @dev Reverts unless `signature` over `digest` recovers to a key of `payer` that was valid at
    /// time `at`. OpenZeppelin's ECDSA rejects malleable (high-s) and malformed signatures.
    function _requireValidSigner(address payer, bytes32 digest, bytes calldata signature, uint256 at)
        private
        view
    {
        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (error != ECDSA.RecoverError.NoError) revert Errors.TrainingEscrow_InvalidSignature();
        Escrow.Signer memory key = _signers[payer][signer];
        if (key.registeredAt == 0 || at < key.registeredAt || (key.revokedAt != 0 && at >= key.revokedAt)) {
            revert Errors.TrainingEscrow_SignerNotAuthorized(payer, signer, at);
        }
    }

    /// @dev Moves the settled count of the receipt's usage key up to its cumulative count and
    /// prices the increase, within the terms' cap. Returns `advanced = false`, changing nothing,
    /// if the receipt adds nothing to what was settled (a replay or a superseded receipt).
    function _advance(Escrow.Receipt calldata receipt, Escrow.Acceptance storage accepted)
        private
        returns (Charge memory charge)
    {
        charge.usageKey = ReceiptLib.usageKey(receipt);
        uint64 settled = _settled[charge.usageKey];
        uint64 cumulative = receipt.cumulativeSamples;
        if (cumulative <= settled) return charge;
        uint40 expiresAt = accepted.expiresAt;
        if (expiresAt != 0 && receipt.issuedAt >= expiresAt) {
            revert Errors.TrainingEscrow_ReceiptAfterExpiry(receipt.issuedAt, expiresAt);
        }

        _settled[charge.usageKey] = cumulative;
        uint64 samples;
        // Cannot underflow: cumulative > settled.
        unchecked {
            samples = cumulative - settled;
        }
        uint64 maxSamples = accepted.maxSamples;
        if (maxSamples != 0) {
            uint64 used = accepted.samplesCharged;
            uint64 left;
            // Cannot underflow: samplesCharged never exceeds maxSamples.
            unchecked {
                left = maxSamples - used;
            }
            if (samples > left) samples = left;
            accepted.samplesCharged = used + samples;
        }
        charge.advanced = true;
        charge.samples = samples;
        charge.amount = uint256(samples) * accepted.pricePerSample;
    }

    /// @dev Splits the charge into fee and payout, accrues the fee and emits {UsageSettled}. The
    /// payee is the license holder at this moment.
    function _pay(
        bytes32 root,
        Escrow.Receipt calldata receipt,
        address token,
        Charge memory charge,
        uint16 fee_
    ) private returns (address payee, uint256 payout) {
        uint256 fee = charge.amount * fee_ / _BPS;
        payout = charge.amount - fee;
        if (fee != 0) _fees[token] += fee;
        payee = licenses.ownerOf(receipt.licenseId);
        emit UsageSettled(
            root,
            charge.usageKey,
            payee,
            receipt.payer,
            receipt.licenseId,
            receipt.termsId,
            token,
            receipt.cumulativeSamples,
            charge.samples,
            charge.amount,
            fee
        );
    }

    function _transferOut(address token, address to, uint256 amount) private {
        if (amount != 0) IERC20(token).safeTransfer(to, amount);
    }

    function _setFee(uint16 newFeeBps) private {
        if (newFeeBps > MAX_FEE_BPS) revert Errors.TrainingEscrow_FeeTooHigh(newFeeBps, MAX_FEE_BPS);
        _config.feeBps = newFeeBps;
        emit FeeUpdated(newFeeBps);
    }

    function _setNoticePeriod(uint40 period) private {
        if (period < MIN_NOTICE_PERIOD || period > MAX_NOTICE_PERIOD) {
            revert Errors.TrainingEscrow_NoticePeriodOutOfBounds(period, MIN_NOTICE_PERIOD, MAX_NOTICE_PERIOD);
        }
        _config.noticePeriod = period;
        emit NoticePeriodUpdated(period);
    }

    function _setClaimWindow(uint40 window) private {
        if (window < MIN_CLAIM_WINDOW || window > MAX_CLAIM_WINDOW) {
            revert Errors.TrainingEscrow_ClaimWindowOutOfBounds(window, MIN_CLAIM_WINDOW, MAX_CLAIM_WINDOW);
        }
        _config.claimWindow = window;
        emit ClaimWindowUpdated(window);
    }
}
