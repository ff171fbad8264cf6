// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";

import {LicenseNFT} from "../../../src/LicenseNFT.sol";
import {TrainingEscrow} from "../../../src/TrainingEscrow.sol";
import {ITrainingEscrow} from "../../../src/interfaces/ITrainingEscrow.sol";
import {Escrow} from "../../../src/types/EscrowTypes.sol";
import {License} from "../../../src/types/LicenseTypes.sol";
import {MockERC20} from "../../mocks/MockERC20.sol";
import {MerkleBuilder} from "../../utils/MerkleBuilder.sol";
import {EscrowStore} from "../stores/EscrowStore.sol";

/// @notice The fixed cast and contracts the handler drives.
struct World {
    TrainingEscrow escrow;
    LicenseNFT nft;
    EscrowStore store;
    address owner;
    address feeSink;
    address funder;
    address claimer;
    MockERC20[2] tokens;
    address[3] payers;
    uint256[3] keys;
    address[2] relayers;
    address[3] holders;
    uint256[4] licenseIds;
    bytes32[3] runs;
}

/// @notice Stateful fuzzing handler of {TrainingEscrow}. Every action is bounded so that it cannot
/// revert (the campaign runs with `fail_on_revert = true`): impossible states return early and
/// are counted as skips. The handler keeps the payers' signed receipts "off-chain" (in its own
/// storage), builds batch trees with {MerkleBuilder}, and mirrors every settlement in a model
/// (in {EscrowStore}) computed without reading the escrow's accounting, so that the invariants
/// compare two independent computations.
contract EscrowHandler is Test {
    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    uint256 internal constant PAYERS = 3;
    uint256 internal constant LICENSES = 4;
    uint256 internal constant RUNS = 3;
    uint256 internal constant TOKENS = 2;
    /// @dev Usage keys: payer × license × run.
    uint256 internal constant KEYS = PAYERS * LICENSES * RUNS;
    /// @dev Acceptances: payer × license (one terms version per license).
    uint256 internal constant ACCEPTANCES = PAYERS * LICENSES;
    /// @dev Reservation pairs: payer × token.
    uint256 internal constant PAIRS = PAYERS * TOKENS;
    uint256 internal constant MAX_LEAVES = 8;
    uint256 internal constant MAX_DEPOSIT = 2e16;
    uint256 internal constant MAX_SAMPLES_PER_RECEIPT = 400;
    uint256 internal constant MAX_EXTRA_RESERVE = 1e15;

    bytes32 internal immutable USAGE_SETTLED = ITrainingEscrow.UsageSettled.selector;

    /*//////////////////////////////////////////////////////////////
                                 WORLD
    //////////////////////////////////////////////////////////////*/

    TrainingEscrow public immutable escrow;
    LicenseNFT public immutable nft;
    EscrowStore public immutable store;
    address public immutable owner;
    address public immutable feeSink;
    address public immutable funder;
    address public immutable claimer;

    MockERC20[2] internal _tokens;
    address[3] internal _payers;
    uint256[3] internal _keys;
    address[2] internal _relayers;
    address[3] internal _holders;
    uint256[4] internal _licenseIds;
    bytes32[3] internal _runs;

    /// @dev What settlement needs of each license's (only) terms version, read once at deploy.
    struct LicenseInfo {
        uint64 termsId;
        uint256 tokenIndex;
        uint96 price;
        uint64 maxSamples;
        uint40 expiresAt;
        address exclusiveLicensee;
    }

    LicenseInfo[4] internal _info;

    /// @notice Current holder of each license, tracked by the handler (the payee of settlements).
    address[4] public holderOf;
    /// @notice The platform fee the handler last set.
    uint16 public currentFeeBps;
    /// @notice The claim window (never changed by the handler).
    uint40 public immutable claimWindow;

    /*//////////////////////////////////////////////////////////////
                          OFF-CHAIN RECEIPT STORE
    //////////////////////////////////////////////////////////////*/

    struct Signed {
        Escrow.Receipt receipt;
        bytes signature;
        bytes32 leaf;
    }

    /// @dev Every receipt each usage key's payer signed, oldest first (cumulative increasing).
    mapping(uint256 key => Signed[]) internal _signed;

    struct Batch {
        bytes32 root;
        uint40 expiresAt;
        uint16 feeBps;
        /// @dev Usage key and index in `_signed[key]` of each receipt leaf.
        uint256[] keys;
        uint256[] signedIndexes;
        /// @dev Receipt leaves in tree order, then one salt leaf that keeps roots unique.
        bytes32[] leaves;
    }

    Batch[] internal _batches;

    /*//////////////////////////////////////////////////////////////
                              CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    constructor(World memory w) {
        escrow = w.escrow;
        nft = w.nft;
        store = w.store;
        owner = w.owner;
        feeSink = w.feeSink;
        funder = w.funder;
        claimer = w.claimer;
        _tokens = w.tokens;
        _payers = w.payers;
        _keys = w.keys;
        _relayers = w.relayers;
        _holders = w.holders;
        _licenseIds = w.licenseIds;
        _runs = w.runs;
        currentFeeBps = w.escrow.feeBps();
        claimWindow = w.escrow.claimWindow();
        for (uint256 l; l < LICENSES; ++l) {
            (uint64 termsId, License.Terms memory t) = w.nft.currentTerms(w.licenseIds[l]);
            uint256 tokenIndex = t.paymentToken == address(w.tokens[0]) ? 0 : 1;
            require(t.paymentToken == address(w.tokens[tokenIndex]), "EscrowHandler: unknown token");
            _info[l] = LicenseInfo({
                termsId: termsId,
                tokenIndex: tokenIndex,
                price: t.pricePerSample,
                maxSamples: t.maxSamples,
                expiresAt: t.expiresAt,
                exclusiveLicensee: t.exclusiveLicensee
            });
            holderOf[l] = w.nft.ownerOf(w.licenseIds[l]);
        }
    }

    /// @dev Every action runs at the campaign's clock.
    modifier instrument() {
        vm.warp(store.currentTimestamp());
        _;
    }

    /*//////////////////////////////////////////////////////////////
                             PAYER ACTIONS
    //////////////////////////////////////////////////////////////*/

    function deposit(uint256 payerSeed, uint256 tokenSeed, uint256 amount) external instrument {
        address payer = _payers[payerSeed % PAYERS];
        MockERC20 token = _tokens[tokenSeed % TOKENS];
        amount = bound(amount, 1, MAX_DEPOSIT);

        token.mint(payer, amount);
        vm.startPrank(payer);
        token.approve(address(escrow), amount);
        escrow.deposit(address(token), amount);
        vm.stopPrank();

        store.recordDeposit(payer, address(token), amount);
        store.countCall("deposit");
    }

    /// @dev A third party (the funder) tops up a payer's balance.
    function depositFor(uint256 payerSeed, uint256 tokenSeed, uint256 amount) external instrument {
        address payer = _payers[payerSeed % PAYERS];
        MockERC20 token = _tokens[tokenSeed % TOKENS];
        amount = bound(amount, 1, MAX_DEPOSIT);

        token.mint(funder, amount);
        vm.startPrank(funder);
        token.approve(address(escrow), amount);
        escrow.depositFor(payer, address(token), amount);
        vm.stopPrank();

        store.recordDeposit(payer, address(token), amount);
        store.countCall("depositFor");
    }

    /// @dev Requests up to the available balance plus a margin (withdraw takes the minimum).
    function requestWithdrawal(uint256 payerSeed, uint256 tokenSeed, uint256 amount) external instrument {
        address payer = _payers[payerSeed % PAYERS];
        address token = address(_tokens[tokenSeed % TOKENS]);
        uint256 available = escrow.availableBalance(payer, token);
        amount = bound(amount, 1, available + MAX_DEPOSIT);

        vm.prank(payer);
        escrow.requestWithdrawal(token, uint128(amount));
        store.countCall("requestWithdrawal");
    }

    /// @dev Withdraws the first pending, unlapsed request at or after the seed, warping to its
    /// unlock time if it is still locked.
    function withdraw(uint256 seed) external instrument {
        (bool found, address payer, address token) = _pendingWithdrawal(seed);
        if (!found) return _skip("withdraw");
        Escrow.Withdrawal memory request = escrow.pendingWithdrawal(payer, token);
        if (block.timestamp < request.unlockAt) _warpTo(request.unlockAt);

        uint256 available = escrow.availableBalance(payer, token);
        uint256 expected = request.amount < available ? request.amount : available;
        uint256 balanceBefore = MockERC20(token).balanceOf(payer);
        vm.prank(payer);
        uint256 amount = escrow.withdraw(token, payer);
        require(amount == expected, "withdraw: returned amount != min(requested, available)");
        require(MockERC20(token).balanceOf(payer) - balanceBefore == amount, "withdraw: transfer != returned");

        store.recordWithdrawal(payer, token, amount);
        store.countCall("withdraw");
    }

    /// @dev Accepts the first acceptable (payer, license) pair at or after the seed.
    function acceptTerms(uint256 seed) external instrument {
        for (uint256 i; i < ACCEPTANCES; ++i) {
            uint256 a = (seed % ACCEPTANCES + i) % ACCEPTANCES;
            (uint256 p, uint256 l) = (a / LICENSES, a % LICENSES);
            LicenseInfo memory info = _info[l];
            if (store.accepted(_acceptanceKey(p, l))) continue;
            if (_expired(info.expiresAt)) continue;
            if (info.exclusiveLicensee != address(0) && info.exclusiveLicensee != _payers[p]) continue;

            vm.prank(_payers[p]);
            escrow.acceptTerms(_licenseIds[l], info.termsId);
            store.recordAcceptance(_acceptanceKey(p, l));
            store.countCall("acceptTerms");
            return;
        }
        _skip("acceptTerms");
    }

    /// @dev The payer's training job reports `samples` more samples for one usage key of an
    /// accepted, unexpired license: its key signs the new cumulative count, and the receipt is
    /// kept off-chain (here) for relayers and payees.
    function signReceipt(uint256 seed, uint256 runSeed, uint256 samples) external instrument {
        for (uint256 i; i < ACCEPTANCES; ++i) {
            uint256 a = (seed % ACCEPTANCES + i) % ACCEPTANCES;
            (uint256 p, uint256 l) = (a / LICENSES, a % LICENSES);
            if (!store.accepted(_acceptanceKey(p, l))) continue;
            // Training starts once the acceptance is chargeable (a notice period after it), so
            // every receipt can be committed or settled directly from the moment it is signed.
            if (
                block.timestamp
                    < escrow.acceptance(_payers[p], _licenseIds[l], _info[l].termsId).chargeableFrom
            ) {
                continue;
            }
            // Usage issued at or after the terms' expiry is not chargeable: the payer's job stops.
            if (_expired(_info[l].expiresAt)) continue;

            uint256 k = _keyIndex(p, l, runSeed % RUNS);
            _sign(k, uint64(bound(samples, 1, MAX_SAMPLES_PER_RECEIPT)));
            store.countCall("signReceipt");
            return;
        }
        _skip("signReceipt");
    }

    /*//////////////////////////////////////////////////////////////
                            RELAYER ACTIONS
    //////////////////////////////////////////////////////////////*/

    struct Pick {
        uint256 key;
        uint256 signedIndex;
        uint256 pair;
    }

    /// @dev A relayer commits a batch: for some usage keys it takes the latest signed receipt,
    /// sometimes with (or instead of) a stale earlier one, and reserves for each (payer, token)
    /// either exactly the most the batch can charge or more.
    function commitBatch(uint256 relayerSeed, uint256 selectionSeed, uint256 extraSeed) external instrument {
        address relayer = _relayers[relayerSeed % _relayers.length];
        Pick[] memory picks = _pickReceipts(relayer, selectionSeed);
        uint256[PAIRS] memory amounts = _reservationAmounts(picks, extraSeed);
        picks = _dropUnfunded(picks, amounts);
        if (picks.length == 0) return _skip("commitBatch");

        Batch storage batch = _batches.push();
        batch.expiresAt = uint40(block.timestamp) + claimWindow;
        batch.feeBps = currentFeeBps;
        bytes32[] memory leaves = new bytes32[](picks.length + 1);
        for (uint256 i; i < picks.length; ++i) {
            batch.keys.push(picks[i].key);
            batch.signedIndexes.push(picks[i].signedIndex);
            leaves[i] = _signed[picks[i].key][picks[i].signedIndex].leaf;
        }
        leaves[picks.length] = keccak256(abi.encode("salt", _batches.length));
        batch.leaves = leaves;
        bytes32 root = MerkleBuilder.root(leaves);
        batch.root = root;

        Escrow.ReservationRequest[] memory requests = _requests(picks, amounts);
        vm.prank(relayer);
        escrow.commitBatch(
            root, uint32(picks.length), keccak256(abi.encode("batch", root)), "ipfs://batch", requests
        );

        for (uint256 i; i < requests.length; ++i) {
            store.recordReservation(
                _reservationKey(root, requests[i].payer, requests[i].token),
                root,
                requests[i].payer,
                requests[i].token,
                requests[i].amount,
                batch.feeBps,
                batch.expiresAt
            );
        }
        store.countCall("commitBatch");
    }

    /*//////////////////////////////////////////////////////////////
                             PAYEE ACTIONS
    //////////////////////////////////////////////////////////////*/

    /// @dev Anyone claims a random subset of an open batch's leaves (stale ones included), in
    /// tree order or reversed.
    function claim(uint256 batchSeed, uint256 subsetSeed) external instrument {
        (bool found, uint256 b) = _openBatch(batchSeed);
        if (!found) return _skip("claim");
        Batch storage batch = _batches[b];
        uint256[] memory positions = _subset(batch.keys.length, subsetSeed);
        bytes32[] memory leaves = batch.leaves;

        Escrow.Claim[] memory claims = new Escrow.Claim[](positions.length);
        uint256 expected;
        for (uint256 i; i < positions.length; ++i) {
            uint256 j = positions[i];
            Signed storage s = _signed[batch.keys[j]][batch.signedIndexes[j]];
            claims[i] = Escrow.Claim({
                receipt: s.receipt, signature: s.signature, proof: MerkleBuilder.proof(leaves, j)
            });
            uint256 amount = _settleInModel(batch.keys[j], s.receipt, batch.feeBps);
            if (amount != 0) {
                store.recordClaimed(
                    _reservationKey(batch.root, s.receipt.payer, _tokenOf(batch.keys[j])), amount
                );
            }
            expected += amount;
        }

        vm.recordLogs();
        vm.prank(claimer);
        uint256 paid = escrow.claim(batch.root, claims);
        _recordEvents();
        require(paid == expected, "claim: paid != model");
        store.countCall("claim");
    }

    /// @dev A payee settles one signed receipt (latest or stale) directly from the payer's
    /// balance, at the current fee. Skipped if the balance cannot cover it.
    function settleDirect(uint256 keySeed, uint256 staleSeed) external instrument {
        (bool found, uint256 k) = _signedKey(keySeed);
        if (!found) return _skip("settleDirect");
        Signed[] storage list = _signed[k];
        uint256 index = staleSeed % 3 == 0 ? staleSeed % list.length : list.length - 1;
        Signed memory s = list[index];

        (bool advanced,, uint256 amount) = _preview(k, s.receipt);
        address token = _tokenOf(k);
        if (advanced && amount > escrow.availableBalance(s.receipt.payer, token)) {
            return _skip("settleDirect");
        }
        uint256 expected = _settleInModel(k, s.receipt, currentFeeBps);
        require(expected == amount, "settleDirect: model preview drifted");

        vm.recordLogs();
        vm.prank(holderOf[k / RUNS % LICENSES]);
        uint256 paid = escrow.settleDirect(s.receipt, s.signature);
        _recordEvents();
        require(paid == expected, "settleDirect: paid != model");
        store.recordDirect(token, paid);
        store.countCall("settleDirect");
    }

    /// @dev Releases an expired reservation (preferring one not yet released). If none has
    /// expired, warps to the expiry of one (one time in four, so that batches stay claimable
    /// most of the time) or returns.
    function release(uint256 reservationSeed, uint256 warpSeed) external instrument {
        uint256 count = store.reservationCount();
        if (count == 0) return _skip("release");
        (bool found, uint256 index) = _expiredReservation(reservationSeed, count);
        if (!found) {
            if (warpSeed % 4 != 0) return _skip("release");
            index = reservationSeed % count;
            _warpTo(store.reservationAt(index).expiresAt);
        }
        EscrowStore.Reservation memory r = store.reservationAt(index);

        vm.prank(claimer);
        uint256 amount = escrow.release(r.root, r.payer, r.token);
        require(amount == r.reserved - r.claimed - r.releasedAmount, "release: amount != model remaining");
        store.recordRelease(_reservationKey(r.root, r.payer, r.token), amount, block.timestamp);
        store.countCall("release");
    }

    /// @dev A license changes hands; later settlements pay the new holder.
    function transferLicense(uint256 licenseSeed, uint256 holderSeed) external instrument {
        uint256 l = licenseSeed % LICENSES;
        address from = holderOf[l];
        address to = _holders[holderSeed % _holders.length];
        if (from == to) return _skip("transferLicense");

        vm.prank(from);
        nft.transferFrom(from, to, _licenseIds[l]);
        holderOf[l] = to;
        store.countCall("transferLicense");
    }

    /*//////////////////////////////////////////////////////////////
                             OWNER ACTIONS
    //////////////////////////////////////////////////////////////*/

    function setFee(uint256 feeSeed) external instrument {
        uint16 fee = uint16(bound(feeSeed, 0, escrow.MAX_FEE_BPS()));
        vm.prank(owner);
        escrow.setFee(fee);
        currentFeeBps = fee;
        store.countCall("setFee");
    }

    function withdrawFees(uint256 tokenSeed) external instrument {
        address token = address(_tokens[tokenSeed % TOKENS]);
        uint256 expected = store.feesCharged(token) - store.feesWithdrawn(token);
        vm.prank(owner);
        uint256 amount = escrow.withdrawFees(token, feeSink);
        require(amount == expected, "withdrawFees: amount != model fees not yet withdrawn");
        store.recordFeesWithdrawn(token, amount);
        store.countCall("withdrawFees");
    }

    /*//////////////////////////////////////////////////////////////
                                  TIME
    //////////////////////////////////////////////////////////////*/

    /// @dev Moves time forward by 1 minute to 3 days.
    function warp(uint256 secondsSeed) external instrument {
        _warpTo(block.timestamp + bound(secondsSeed, 1 minutes, 3 days));
        store.countCall("warp");
    }

    /*//////////////////////////////////////////////////////////////
                            READS FOR TESTS
    //////////////////////////////////////////////////////////////*/

    function payers() external view returns (address[3] memory) {
        return _payers;
    }

    function tokens() external view returns (MockERC20[2] memory) {
        return _tokens;
    }

    function holders() external view returns (address[3] memory) {
        return _holders;
    }

    function licenseIds() external view returns (uint256[4] memory) {
        return _licenseIds;
    }

    function licenseInfo(uint256 l) external view returns (LicenseInfo memory) {
        return _info[l];
    }

    function batchCount() external view returns (uint256) {
        return _batches.length;
    }

    function signedCount(uint256 key) external view returns (uint256) {
        return _signed[key].length;
    }

    /// @notice The usage key of index `k` (payer, license, run), as the escrow derives it.
    function usageKeyAt(uint256 k) external view returns (bytes32) {
        return _usageKey(k);
    }

    /// @notice (payer index, license index) of usage key index `k`.
    function keyParts(uint256 k) external pure returns (uint256 p, uint256 l) {
        return (k / (LICENSES * RUNS), k / RUNS % LICENSES);
    }

    function acceptanceKeyAt(uint256 p, uint256 l) external view returns (bytes32) {
        return _acceptanceKey(p, l);
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    function _skip(bytes32 action) internal {
        store.countSkip(action);
    }

    function _warpTo(uint256 timestamp) internal {
        if (timestamp <= block.timestamp) return;
        vm.warp(timestamp);
        store.setCurrentTimestamp(timestamp);
    }

    function _expired(uint40 expiresAt) internal view returns (bool) {
        return expiresAt != 0 && block.timestamp >= expiresAt;
    }

    function _keyIndex(uint256 p, uint256 l, uint256 r) internal pure returns (uint256) {
        return (p * LICENSES + l) * RUNS + r;
    }

    function _usageKey(uint256 k) internal view returns (bytes32) {
        uint256 p = k / (LICENSES * RUNS);
        uint256 l = k / RUNS % LICENSES;
        return keccak256(abi.encode(_payers[p], _licenseIds[l], _info[l].termsId, _runs[k % RUNS]));
    }

    function _acceptanceKey(uint256 p, uint256 l) internal view returns (bytes32) {
        return keccak256(abi.encode(_payers[p], _licenseIds[l], _info[l].termsId));
    }

    function _reservationKey(bytes32 root, address payer, address token) internal pure returns (bytes32) {
        return keccak256(abi.encode(root, payer, token));
    }

    function _tokenOf(uint256 k) internal view returns (address) {
        return address(_tokens[_info[k / RUNS % LICENSES].tokenIndex]);
    }

    function _sign(uint256 k, uint64 samples) internal {
        uint256 p = k / (LICENSES * RUNS);
        uint256 l = k / RUNS % LICENSES;
        bytes32 usageKey = _usageKey(k);
        uint64 cumulative = store.maxSigned(usageKey) + samples;
        Escrow.Receipt memory receipt = Escrow.Receipt({
            payer: _payers[p],
            licenseId: _licenseIds[l],
            termsId: _info[l].termsId,
            runId: _runs[k % RUNS],
            cumulativeSamples: cumulative,
            issuedAt: uint64(block.timestamp)
        });
        bytes32 digest = escrow.receiptDigest(receipt);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_keys[p], digest);
        Signed storage entry = _signed[k].push();
        entry.receipt = receipt;
        entry.signature = abi.encodePacked(r, s, v);
        entry.leaf = keccak256(bytes.concat(keccak256(abi.encode(digest))));
        store.recordSigned(usageKey, cumulative, _info[l].price);
    }

    /// @dev What settling `receipt` would charge now, per the model: the increase over the
    /// model's settled count, capped by what the acceptance has left, times the price.
    function _preview(uint256 k, Escrow.Receipt memory receipt)
        internal
        view
        returns (bool advanced, uint64 samples, uint256 amount)
    {
        uint64 settled = store.modelSettled(_usageKey(k));
        if (receipt.cumulativeSamples <= settled) return (false, 0, 0);
        uint256 l = k / RUNS % LICENSES;
        LicenseInfo memory info = _info[l];
        samples = receipt.cumulativeSamples - settled;
        if (info.maxSamples != 0) {
            uint64 left =
                info.maxSamples - store.modelSamplesCharged(_acceptanceKey(k / (LICENSES * RUNS), l));
            if (samples > left) samples = left;
        }
        return (true, samples, uint256(samples) * info.price);
    }

    /// @dev Applies a settlement of `receipt` at fee `feeBps` to the model and returns its charge.
    function _settleInModel(uint256 k, Escrow.Receipt memory receipt, uint16 feeBps)
        internal
        returns (uint256 amount)
    {
        (bool advanced, uint64 samples, uint256 charge) = _preview(k, receipt);
        if (!advanced) return 0;
        uint256 l = k / RUNS % LICENSES;
        EscrowStore.Charge memory c;
        c.usageKey = _usageKey(k);
        c.acceptanceKey = _acceptanceKey(k / (LICENSES * RUNS), l);
        c.payer = receipt.payer;
        c.payee = holderOf[l];
        c.token = _tokenOf(k);
        c.samples = samples;
        c.amount = charge;
        c.fee = charge * feeBps / 10_000;
        store.recordModelSettled(c.usageKey, receipt.cumulativeSamples);
        store.recordModelCharge(c);
        return charge;
    }

    /// @dev Accumulates the {UsageSettled} events of the last call into the store.
    function _recordEvents() internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(escrow) || logs[i].topics[0] != USAGE_SETTLED) continue;
            (address payer,,, address token,, uint64 samples, uint256 amount, uint256 fee) = abi.decode(
                logs[i].data, (address, uint256, uint64, address, uint64, uint64, uint256, uint256)
            );
            store.recordEvent(logs[i].topics[2], payer, token, samples, amount, fee);
        }
    }

    function _pickReceipts(address relayer, uint256 seed) internal view returns (Pick[] memory picks) {
        picks = new Pick[](MAX_LEAVES);
        uint256 n;
        for (uint256 i; i < KEYS && n < MAX_LEAVES; ++i) {
            uint256 k = (seed % KEYS + i) % KEYS;
            uint256 count = _signed[k].length;
            if (count == 0) continue;
            uint256 p = k / (LICENSES * RUNS);
            if (!escrow.isRelayer(_payers[p], relayer)) continue;
            uint256 pair = p * TOKENS + _info[k / RUNS % LICENSES].tokenIndex;

            uint256 choice = uint256(keccak256(abi.encode(seed, k)));
            uint256 mode = choice % 4; // 0: skip, 1: latest, 2: latest and a stale one, 3: a stale one
            if (mode == 0) continue;
            if (mode != 3 || count == 1) picks[n++] = Pick(k, count - 1, pair);
            if (mode >= 2 && count > 1 && n < MAX_LEAVES) {
                picks[n++] = Pick(k, (choice >> 8) % (count - 1), pair);
            }
        }
        assembly ("memory-safe") {
            mstore(picks, n)
        }
    }

    /// @dev For each (payer, token): the most the picked receipts can charge (per the model, with
    /// caps), then either exactly that or more; 0 when the payer's balance cannot cover it.
    function _reservationAmounts(Pick[] memory picks, uint256 extraSeed)
        internal
        view
        returns (uint256[PAIRS] memory amounts)
    {
        uint64[KEYS] memory maxCumulative;
        bool[PAIRS] memory used;
        for (uint256 i; i < picks.length; ++i) {
            uint64 cumulative = _signed[picks[i].key][picks[i].signedIndex].receipt.cumulativeSamples;
            if (cumulative > maxCumulative[picks[i].key]) maxCumulative[picks[i].key] = cumulative;
            used[picks[i].pair] = true;
        }
        uint256[PAIRS] memory need;
        for (uint256 a; a < ACCEPTANCES; ++a) {
            (uint256 p, uint256 l) = (a / LICENSES, a % LICENSES);
            uint256 samples;
            for (uint256 r; r < RUNS; ++r) {
                uint256 k = _keyIndex(p, l, r);
                uint64 settled = store.modelSettled(_usageKey(k));
                if (maxCumulative[k] > settled) samples += maxCumulative[k] - settled;
            }
            LicenseInfo memory info = _info[l];
            if (info.maxSamples != 0) {
                uint256 left = info.maxSamples - store.modelSamplesCharged(_acceptanceKey(p, l));
                if (samples > left) samples = left;
            }
            need[p * TOKENS + info.tokenIndex] += samples * info.price;
        }
        for (uint256 pair; pair < PAIRS; ++pair) {
            if (!used[pair]) continue;
            uint256 choice = uint256(keccak256(abi.encode(extraSeed, pair)));
            uint256 amount = need[pair];
            if (choice % 2 == 1) amount += bound(choice >> 1, 1, MAX_EXTRA_RESERVE);
            if (amount == 0) amount = 1;
            uint256 available =
                escrow.availableBalance(_payers[pair / TOKENS], address(_tokens[pair % TOKENS]));
            if (amount > available) amount = need[pair] == 0 ? 1 : need[pair];
            amounts[pair] = amount <= available ? amount : 0;
        }
    }

    function _dropUnfunded(Pick[] memory picks, uint256[PAIRS] memory amounts)
        internal
        pure
        returns (Pick[] memory kept)
    {
        kept = new Pick[](picks.length);
        uint256 n;
        for (uint256 i; i < picks.length; ++i) {
            if (amounts[picks[i].pair] != 0) kept[n++] = picks[i];
        }
        assembly ("memory-safe") {
            mstore(kept, n)
        }
    }

    function _requests(Pick[] memory picks, uint256[PAIRS] memory amounts)
        internal
        view
        returns (Escrow.ReservationRequest[] memory requests)
    {
        bool[PAIRS] memory used;
        uint256 n;
        for (uint256 i; i < picks.length; ++i) {
            if (!used[picks[i].pair]) ++n;
            used[picks[i].pair] = true;
        }
        requests = new Escrow.ReservationRequest[](n);
        n = 0;
        for (uint256 pair; pair < PAIRS; ++pair) {
            if (!used[pair]) continue;
            requests[n++] = Escrow.ReservationRequest({
                payer: _payers[pair / TOKENS],
                token: address(_tokens[pair % TOKENS]),
                amount: uint128(amounts[pair])
            });
        }
    }

    /// @dev The first batch at or after the seed whose claim window is still open.
    function _openBatch(uint256 seed) internal view returns (bool, uint256) {
        uint256 count = _batches.length;
        for (uint256 i; i < count; ++i) {
            uint256 b = (seed % count + i) % count;
            if (block.timestamp < _batches[b].expiresAt) return (true, b);
        }
        return (false, 0);
    }

    /// @dev The first (payer, token) at or after the seed with a pending withdrawal request.
    function _pendingWithdrawal(uint256 seed) internal view returns (bool, address, address) {
        for (uint256 i; i < PAIRS; ++i) {
            uint256 pair = (seed % PAIRS + i) % PAIRS;
            (address payer, address token) = (_payers[pair / TOKENS], address(_tokens[pair % TOKENS]));
            // A request that lapsed can no longer be executed.
            Escrow.Withdrawal memory request = escrow.pendingWithdrawal(payer, token);
            if (request.unlockAt != 0 && block.timestamp < request.lapsesAt) return (true, payer, token);
        }
        return (false, address(0), address(0));
    }

    /// @dev The first usage key at or after the seed with a signed receipt.
    function _signedKey(uint256 seed) internal view returns (bool, uint256) {
        for (uint256 i; i < KEYS; ++i) {
            uint256 k = (seed % KEYS + i) % KEYS;
            if (_signed[k].length != 0) return (true, k);
        }
        return (false, 0);
    }

    /// @dev The first expired reservation at or after the seed, preferring one not yet released.
    function _expiredReservation(uint256 seed, uint256 count)
        internal
        view
        returns (bool found, uint256 index)
    {
        for (uint256 i; i < count; ++i) {
            uint256 j = (seed % count + i) % count;
            EscrowStore.Reservation memory r = store.reservationAt(j);
            if (block.timestamp < r.expiresAt) continue;
            if (!r.released) return (true, j);
            if (!found) (found, index) = (true, j);
        }
    }

    /// @dev A non-empty subset of `0..count-1` chosen by the seed's low bits, in order or reversed.
    function _subset(uint256 count, uint256 seed) internal pure returns (uint256[] memory positions) {
        positions = new uint256[](count);
        uint256 n;
        for (uint256 j; j < count; ++j) {
            if ((seed >> j) & 1 == 1) positions[n++] = j;
        }
        if (n == 0) positions[n++] = (seed >> 128) % count;
        assembly ("memory-safe") {
            mstore(positions, n)
        }
        if ((seed >> 255) == 1) {
            for (uint256 i; i < n / 2; ++i) {
                (positions[i], positions[n - 1 - i]) = (positions[n - 1 - i], positions[i]);
            }
        }
    }
}
