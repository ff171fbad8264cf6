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
/// @dev Accounting: for every token, `balanceOf(this) == Σ available + Σ line.credit
/// + Σ line.reserved + Σ line.fees + accruedFees`. Deposits add to `available`; funding moves
/// `available` to a line's credit and reductions move it back; commits move a line's credit to its
/// reserved funds; claims move reserved funds to the payee and the line's fees; releases move
/// reserved funds back to credit; sweeps move line fees to `accruedFees`; direct settlements move
/// `available` to the payee and `accruedFees`; withdrawals take from `available`. No other path
/// moves value.
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
    mapping(address payer => mapping(address relayer => mapping(address token => Escrow.CreditLine))) private
        _lines;
    mapping(
        address payer => mapping(address relayer => mapping(address token => Escrow.CreditReduction))
    ) private _reductions;
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
    function creditLine(address payer, address relayer, address token)
        external
        view
        override
        returns (Escrow.CreditLine memory)
    {
        return _lines[payer][relayer][token];
    }

    /// @inheritdoc ITrainingEscrow
    function creditReduction(address payer, address relayer, address token)
        external
        view
        override
        returns (Escrow.CreditReduction memory)
    {
        return _reductions[payer][relayer][token];
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
        if (msg.sender == payer) {
            // The payer may go on with its existing allowance if its permit was front-run.
            try IERC20Permit(token).permit(payer, address(this), amount, deadline, v, r, s) {} catch {}
        } else {
            _requirePermitUsed(payer, token, amount, deadline, v, r, s);
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
    function fundCredit(address relayer, address token, uint128 amount) external override {
        if (relayer == address(0)) revert Errors.TrainingEscrow_ZeroAddress();
        if (amount == 0) revert Errors.TrainingEscrow_ZeroAmount();
        uint256 available = _available[msg.sender][token];
        if (available < amount) {
            revert Errors.TrainingEscrow_InsufficientBalance(msg.sender, token, available, amount);
        }
        Escrow.CreditLine storage line = _lines[msg.sender][relayer][token];
        uint256 credit = uint256(line.credit) + amount;
        // Everything in a line must fit its `reserved` field, so that no commit can overflow it.
        if (credit + line.reserved > type(uint104).max) {
            revert Errors.TrainingEscrow_CreditLineOverflow(msg.sender, relayer, token);
        }
        // Cannot underflow: checked above.
        unchecked {
            _available[msg.sender][token] = available - amount;
        }
        line.credit = uint128(credit);
        emit CreditFunded(msg.sender, relayer, token, amount);
    }

    /// @inheritdoc ITrainingEscrow
    function requestCreditReduction(address relayer, address token, uint128 amount) external override {
        if (amount == 0) revert Errors.TrainingEscrow_ZeroAmount();
        uint40 effectiveAt = uint40(block.timestamp) + _config.noticePeriod;
        _reductions[msg.sender][relayer][token] =
            Escrow.CreditReduction({amount: amount, effectiveAt: effectiveAt});
        emit CreditReductionRequested(msg.sender, relayer, token, amount, effectiveAt);
    }

    /// @inheritdoc ITrainingEscrow
    function cancelCreditReduction(address relayer, address token) external override {
        if (_reductions[msg.sender][relayer][token].effectiveAt == 0) {
            revert Errors.TrainingEscrow_NoCreditReductionRequested(msg.sender, relayer, token);
        }
        delete _reductions[msg.sender][relayer][token];
        emit CreditReductionCancelled(msg.sender, relayer, token);
    }

    /// @inheritdoc ITrainingEscrow
    function reduceCredit(address relayer, address token) external override returns (uint256 amount) {
        Escrow.CreditReduction memory request = _reductions[msg.sender][relayer][token];
        if (request.effectiveAt == 0) {
            revert Errors.TrainingEscrow_NoCreditReductionRequested(msg.sender, relayer, token);
        }
        if (block.timestamp < request.effectiveAt) {
            revert Errors.TrainingEscrow_CreditReductionNotEffective(
                msg.sender, relayer, token, request.effectiveAt
            );
        }
        Escrow.CreditLine storage line = _lines[msg.sender][relayer][token];
        uint128 credit = line.credit;
        uint128 moved = request.amount < credit ? request.amount : credit;
        // Cannot underflow: moved is at most both.
        unchecked {
            line.credit = credit - moved;
            if (moved == request.amount) {
                delete _reductions[msg.sender][relayer][token];
            } else {
                _reductions[msg.sender][relayer][token].amount = request.amount - moved;
            }
        }
        _available[msg.sender][token] += moved;
        emit CreditReduced(msg.sender, relayer, token, moved);
        return moved;
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
        uint256 fee = charge.amount * _config.feeBps / _BPS;
        if (fee != 0) _fees[token] += fee;
        address payee = _emitSettled(bytes32(0), receipt, token, charge, fee);
        _transferOut(token, payee, charge.amount - fee);
        return charge.amount;
    }

    /// @inheritdoc ITrainingEscrow
    function release(address payer, address relayer, address token)
        external
        override
        returns (uint256 amount)
    {
        Escrow.CreditLine storage line = _lines[payer][relayer][token];
        uint40 reservedUntil = line.reservedUntil;
        if (reservedUntil == 0) revert Errors.TrainingEscrow_NothingReserved(payer, relayer, token);
        if (block.timestamp < reservedUntil) {
            revert Errors.TrainingEscrow_ReservedNotReleasable(payer, relayer, token, reservedUntil);
        }
        amount = line.reserved;
        // Cannot overflow: credit + reserved stays below 2^104 (checked when funding).
        line.credit += uint128(amount);
        line.reserved = 0;
        // The relayer prices its next batches over the settled counts alone from here on.
        line.reservedUntil = 0;
        emit FundsReleased(payer, relayer, token, amount);
        _sweepFees(payer, relayer, token, line);
    }

    /// @inheritdoc ITrainingEscrow
    function sweepFees(address payer, address relayer, address token) external override returns (uint256) {
        return _sweepFees(payer, relayer, token, _lines[payer][relayer][token]);
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
        Escrow.Reservation memory batch = _reservations[ReceiptLib.reservationKey(root, receipt.payer, token)];
        if (batch.committedAt == 0) {
            revert Errors.TrainingEscrow_UnknownReservation(root, receipt.payer, token);
        }
        _requireChargeable(receipt, accepted, batch.committedAt);
        if (block.timestamp >= batch.expiresAt) {
            revert Errors.TrainingEscrow_ReservationExpired(root, batch.expiresAt);
        }
        _requireValidSigner(receipt.payer, digest, item.signature, batch.committedAt);

        Charge memory charge = _advance(receipt, accepted);
        if (!charge.advanced) return (address(0), token, 0, 0);
        // Every batch of the relayer draws on one pool, so no order of claims can leave a
        // committed receipt without the funds its batch reserved for it.
        Escrow.CreditLine storage line = _lines[receipt.payer][batch.relayer][token];
        uint256 reserved = line.reserved;
        if (reserved < charge.amount) {
            revert Errors.TrainingEscrow_InsufficientReserved(
                receipt.payer, batch.relayer, token, reserved, charge.amount
            );
        }
        uint256 fee = charge.amount * batch.feeBps / _BPS;
        // Cannot underflow: checked just above.
        unchecked {
            line.reserved = uint104(reserved - charge.amount);
        }
        // The fee is below 2^104 (it comes out of reserved funds); unswept fees of a line that
        // would pass 2^112 revert until anyone sweeps them.
        line.fees += uint112(fee);
        payout = charge.amount - fee;
        payee = _emitSettled(root, receipt, token, charge, fee);
        amount = charge.amount;
    }

    /// @dev Moves `request.amount` from the credit of the caller's line for (payer, token) to its
    /// reserved funds, and records the batch for (root, payer, token).
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
        Escrow.CreditLine storage line = _lines[payer][msg.sender][token];
        uint128 credit = line.credit;
        uint104 reserved = line.reserved;
        if (credit == 0 && reserved == 0) {
            revert Errors.TrainingEscrow_NoCreditLine(payer, msg.sender, token);
        }
        if (credit < amount) {
            revert Errors.TrainingEscrow_InsufficientCredit(payer, msg.sender, token, credit, amount);
        }

        bytes32 key = ReceiptLib.reservationKey(root, payer, token);
        if (_reservations[key].committedAt != 0) {
            revert Errors.TrainingEscrow_AlreadyCommitted(root, payer, token);
        }
        _reservations[key] = Escrow.Reservation({
            relayer: msg.sender, committedAt: committedAt, expiresAt: expiresAt, feeBps: fee_
        });

        // Cannot underflow: checked above. Cannot overflow: credit + reserved < 2^104.
        unchecked {
            line.credit = credit - amount;
            line.reserved = reserved + uint104(amount);
        }
        if (expiresAt > line.reservedUntil) line.reservedUntil = expiresAt;
        emit FundsReserved(root, payer, token, msg.sender, amount, expiresAt);
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

    /// @dev Emits {UsageSettled} for a charge of which `fee` is the platform's part, and returns
    /// the payee: the license holder at this moment.
    function _emitSettled(
        bytes32 root,
        Escrow.Receipt calldata receipt,
        address token,
        Charge memory charge,
        uint256 fee
    ) private returns (address payee) {
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

    /// @dev Moves a line's fees to the platform's balance.
    function _sweepFees(address payer, address relayer, address token, Escrow.CreditLine storage line)
        private
        returns (uint256 amount)
    {
        amount = line.fees;
        if (amount == 0) return 0;
        line.fees = 0;
        _fees[token] += amount;
        emit FeesSwept(payer, relayer, token, amount);
    }

    /// @dev Calls the token's permit and reverts unless it went through and used exactly one of
    /// the payer's nonces: a token without `permit` whose fallback accepts any call would
    /// otherwise let anyone move the payer's standing allowance in with a junk signature.
    function _requirePermitUsed(
        address payer,
        address token,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) private {
        uint256 nonceBefore = _permitNonce(payer, token);
        try IERC20Permit(token).permit(payer, address(this), amount, deadline, v, r, s) {}
        catch {
            revert Errors.TrainingEscrow_PermitFailed(payer, token);
        }
        if (_permitNonce(payer, token) != nonceBefore + 1) {
            revert Errors.TrainingEscrow_PermitFailed(payer, token);
        }
    }

    /// @dev The token's EIP-2612 nonce of `payer`; reverts with {PermitFailed} if the token has
    /// none (no such function, or an answer that is not one word).
    function _permitNonce(address payer, address token) private view returns (uint256) {
        (bool ok, bytes memory answer) = token.staticcall(abi.encodeCall(IERC20Permit.nonces, (payer)));
        if (!ok || answer.length != 32) revert Errors.TrainingEscrow_PermitFailed(payer, token);
        return abi.decode(answer, (uint256));
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
