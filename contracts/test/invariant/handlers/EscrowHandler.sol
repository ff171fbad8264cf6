// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";

import {LicenseNFT} from "../../../src/LicenseNFT.sol";
import {TrainingEscrow} from "../../../src/TrainingEscrow.sol";
import {ITrainingEscrow} from "../../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../../src/libraries/Errors.sol";
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
    uint256 internal constant RELAYERS = 2;
    /// @dev Credit lines: payer × relayer × token.
    uint256 internal constant LINES = PAYERS * RELAYERS * TOKENS;
    /// @dev SPEC: earlier counts are used only if the line stays locked this long past the cut.
    uint256 internal constant COMMIT_MARGIN = 120;
    uint256 internal constant MAX_LEAVES = 8;
    uint256 internal constant MAX_DEPOSIT = 2e16;
    uint256 internal constant MAX_SAMPLES_PER_RECEIPT = 400;
    uint256 internal constant MAX_EXTRA_RESERVE = 5e12;

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
    /// @notice The claim window and notice period (never changed by the handler).
    uint40 public immutable claimWindow;
    uint40 public immutable noticePeriod;

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
        /// @dev Index of the committing relayer.
        uint256 relayer;
        uint40 expiresAt;
        uint16 feeBps;
        /// @dev Usage key and index in `_signed[key]` of each receipt leaf.
        uint256[] keys;
        uint256[] signedIndexes;
        /// @dev Receipt leaves in tree order, then one salt leaf that keeps roots unique.
        bytes32[] leaves;
    }

    Batch[] internal _batches;

    /// @dev Highest count of a usage key committed by a relayer in the current epoch of its line
    /// (see {_epochSlot}).
    mapping(bytes32 slot => uint64) internal _epochMax;

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
        noticePeriod = w.escrow.noticePeriod();
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
                             CREDIT LINES
    //////////////////////////////////////////////////////////////*/

    /// @dev A payer moves 1 .. its available balance into a line (any relayer, any token).
    function fundCredit(uint256 lineSeed, uint256 amount) external instrument {
        (bytes32 key, address payer, address relayer, address token) = _lineAt(lineSeed % LINES);
        uint256 available = escrow.availableBalance(payer, token);
        if (available == 0) return _skip("fundCredit");
        amount = bound(amount, 1, available);
        vm.prank(payer);
        escrow.fundCredit(relayer, token, uint128(amount));
        EscrowStore.Line memory l = store.line(key);
        l.credit += amount;
        store.setLine(key, token, l);
        store.countCall("fundCredit");
    }

    /// @dev A payer asks for 1 .. credit + a margin back (replacing an earlier request).
    function requestCreditReduction(uint256 lineSeed, uint256 amount) external instrument {
        (bytes32 key, address payer, address relayer, address token) = _lineAt(lineSeed % LINES);
        EscrowStore.Line memory l = store.line(key);
        amount = bound(amount, 1, l.credit + MAX_DEPOSIT);
        vm.prank(payer);
        escrow.requestCreditReduction(relayer, token, uint128(amount));
        l.reductionAmount = amount;
        l.reductionEffectiveAt = uint40(block.timestamp) + noticePeriod;
        store.setLine(key, token, l);
        store.countCall("requestCreditReduction");
    }

    function cancelCreditReduction(uint256 lineSeed) external instrument {
        (bool found, uint256 i) = _lineWithReduction(lineSeed);
        if (!found) return _skip("cancelCreditReduction");
        (bytes32 key, address payer, address relayer, address token) = _lineAt(i);
        vm.prank(payer);
        escrow.cancelCreditReduction(relayer, token);
        EscrowStore.Line memory l = store.line(key);
        (l.reductionAmount, l.reductionEffectiveAt) = (0, 0);
        store.setLine(key, token, l);
        store.countCall("cancelCreditReduction");
    }

    /// @dev Executes a pending reduction; if it is not effective yet, one time in four warps to
    /// its effective time (otherwise skips). Moves min(requested, credit) to the available balance.
    function reduceCredit(uint256 lineSeed, uint256 warpSeed) external instrument {
        (bool found, uint256 i) = _lineWithReduction(lineSeed);
        if (!found) return _skip("reduceCredit");
        (bytes32 key, address payer, address relayer, address token) = _lineAt(i);
        EscrowStore.Line memory l = store.line(key);
        if (block.timestamp < l.reductionEffectiveAt) {
            if (warpSeed % 4 != 0) return _skip("reduceCredit");
            _warpTo(l.reductionEffectiveAt);
        }
        uint256 expected = l.reductionAmount < l.credit ? l.reductionAmount : l.credit;
        uint256 availableBefore = escrow.availableBalance(payer, token);
        vm.prank(payer);
        uint256 moved = escrow.reduceCredit(relayer, token);
        require(moved == expected, "reduceCredit: moved != min(requested, credit)");
        require(escrow.availableBalance(payer, token) == availableBefore + moved, "reduceCredit: available");
        l.credit -= moved;
        if (moved == l.reductionAmount) (l.reductionAmount, l.reductionEffectiveAt) = (0, 0);
        else l.reductionAmount -= moved;
        store.setLine(key, token, l);
        store.countCall("reduceCredit");
    }

    /// @dev Anyone releases a line whose batches all expired; if none, one time in four warps to a
    /// locked line's `reservedUntil`. Checks that the release returns the model's reserved funds
    /// to the line's credit and touches neither the available balance nor the withdrawal.
    function release(uint256 lineSeed, uint256 warpSeed) external instrument {
        (bool found, uint256 i) = _lockedLine(lineSeed, true);
        if (!found) {
            (bool locked, uint256 j) = _lockedLine(lineSeed, false);
            if (!locked || warpSeed % 4 != 0) return _skip("release");
            (bytes32 lockedKey,,,) = _lineAt(j);
            _warpTo(store.line(lockedKey).reservedUntil);
            i = j;
        }
        (bytes32 key, address payer, address relayer, address token) = _lineAt(i);
        EscrowStore.Line memory l = store.line(key);
        uint256 availableBefore = escrow.availableBalance(payer, token);
        bytes memory withdrawalBefore = abi.encode(escrow.pendingWithdrawal(payer, token));
        vm.prank(_callers(warpSeed, relayer, payer));
        uint256 amount = escrow.release(payer, relayer, token);
        require(amount == l.reserved, "release: amount != model reserved");
        require(escrow.availableBalance(payer, token) == availableBefore, "release touched available");
        require(
            keccak256(abi.encode(escrow.pendingWithdrawal(payer, token))) == keccak256(withdrawalBefore),
            "release touched the withdrawal"
        );
        l.credit += amount;
        (l.reserved, l.fees, l.reservedUntil) = (0, 0, 0);
        ++l.epoch;
        store.setLine(key, token, l);
        store.recordReleased(token, amount);
        store.countCall("release");
    }

    /// @dev Anyone sweeps a line's fees to the platform.
    function sweepFees(uint256 lineSeed) external instrument {
        (bytes32 key, address payer, address relayer, address token) = _lineAt(lineSeed % LINES);
        EscrowStore.Line memory l = store.line(key);
        vm.prank(claimer);
        require(escrow.sweepFees(payer, relayer, token) == l.fees, "sweepFees: amount != model fees");
        l.fees = 0;
        store.setLine(key, token, l);
        store.countCall("sweepFees");
    }

    /*//////////////////////////////////////////////////////////////
                            RELAYER ACTIONS
    //////////////////////////////////////////////////////////////*/

    struct Pick {
        uint256 key;
        uint256 signedIndex;
        uint256 pair;
    }

    /// @dev An honest relayer commits a batch: for some usage keys of payers that gave it a line it
    /// takes the latest signed receipt, sometimes with (or instead of) a stale earlier one, and
    /// reserves for each (payer, token) what SPEC's pricing rule requires (earlier counts only
    /// while its line stays locked), or more; pairs its credit cannot cover are dropped.
    function commitBatch(uint256 relayerSeed, uint256 selectionSeed, uint256 extraSeed) external instrument {
        uint256 r = relayerSeed % RELAYERS;
        Pick[] memory picks = _pickReceipts(r, selectionSeed);
        (uint256[PAIRS] memory amounts, bool[PAIRS] memory keep) = _reservationAmounts(r, picks, extraSeed);
        picks = _dropUnfunded(picks, keep);
        if (picks.length == 0) return _skip("commitBatch");

        Batch storage batch = _batches.push();
        batch.relayer = r;
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
        vm.prank(_relayers[r]);
        escrow.commitBatch(
            root, uint32(picks.length), keccak256(abi.encode("batch", root)), "ipfs://batch", requests
        );

        _recordCommit(r, root, requests, batch.feeBps, batch.expiresAt);
        // The counts this epoch of each line has committed (what later batches may price over).
        for (uint256 i; i < picks.length; ++i) {
            uint256 k = picks[i].key;
            bytes32 slot = _epochSlot(r, k);
            uint64 cumulative = _signed[k][picks[i].signedIndex].receipt.cumulativeSamples;
            if (cumulative > _epochMax[slot]) _epochMax[slot] = cumulative;
        }
        store.countCall("commitBatch");
    }

    /// @dev Applies a commit's reservations to the line models and records the batch records.
    function _recordCommit(
        uint256 r,
        bytes32 root,
        Escrow.ReservationRequest[] memory requests,
        uint16 feeBps,
        uint40 expiresAt
    ) internal {
        for (uint256 i; i < requests.length; ++i) {
            bytes32 lineKey = _lineKey(requests[i].payer, _relayers[r], requests[i].token);
            EscrowStore.Line memory l = store.line(lineKey);
            l.credit -= requests[i].amount;
            l.reserved += requests[i].amount;
            if (expiresAt > l.reservedUntil) l.reservedUntil = expiresAt;
            store.setLine(lineKey, requests[i].token, l);
            store.recordReservation(
                _reservationKey(root, requests[i].payer, requests[i].token),
                EscrowStore.Reservation({
                    root: root,
                    payer: requests[i].payer,
                    token: requests[i].token,
                    relayer: _relayers[r],
                    feeBps: feeBps,
                    expiresAt: expiresAt,
                    reserved: requests[i].amount
                })
            );
        }
    }

    /*//////////////////////////////////////////////////////////////
                             PAYEE ACTIONS
    //////////////////////////////////////////////////////////////*/

    /// @dev Anyone (the claimer, a relayer, a holder or the payer) claims a random subset of an
    /// open batch's leaves (stale ones included), in tree order or reversed.
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
            uint256 k = batch.keys[j];
            Signed storage s = _signed[k][batch.signedIndexes[j]];
            claims[i] = Escrow.Claim({
                receipt: s.receipt, signature: s.signature, proof: MerkleBuilder.proof(leaves, j)
            });
            uint256 amount = _settleInModel(k, s.receipt, batch.feeBps);
            if (amount != 0) {
                address token = _tokenOf(k);
                bytes32 lineKey = _lineKey(s.receipt.payer, _relayers[batch.relayer], token);
                EscrowStore.Line memory l = store.line(lineKey);
                l.reserved -= amount;
                l.fees += amount * batch.feeBps / 10_000;
                store.setLine(lineKey, token, l);
                store.recordClaimed(token, amount);
            }
            expected += amount;
        }

        vm.recordLogs();
        vm.prank(
            _callers(subsetSeed >> 64, _relayers[batch.relayer], _payers[batch.keys[0] / (LICENSES * RUNS)])
        );
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
        // Fees still in lines are not the platform's balance until swept.
        uint256 expected = store.feesCharged(token) - store.feesWithdrawn(token) - store.lineFees(token);
        vm.prank(owner);
        uint256 amount = escrow.withdrawFees(token, feeSink);
        require(amount == expected, "withdrawFees: amount != model fees not yet withdrawn");
        store.recordFeesWithdrawn(token, amount);
        store.countCall("withdrawFees");
    }

    /*//////////////////////////////////////////////////////////////
                           ATTACKER ACTIONS
    //////////////////////////////////////////////////////////////*/

    /// @dev Someone (the relayer, the payer or a stranger) releases a line that is still locked:
    /// must revert with `ReservedNotReleasable` and change nothing.
    function attackEarlyRelease(uint256 lineSeed) external instrument {
        (bool found, uint256 i) = _lockedLine(lineSeed, false);
        if (!found) return _skip("attackEarlyRelease");
        (, address payer, address relayer, address token) = _lineAt(i);
        vm.prank(_callers(lineSeed >> 8, relayer, payer));
        (bool ok, bytes memory ret) =
            address(escrow).call(abi.encodeCall(escrow.release, (payer, relayer, token)));
        require(!ok && bytes4(ret) == Errors.TrainingEscrow_ReservedNotReleasable.selector, "early release");
        store.countCall("attackEarlyRelease");
    }

    /// @dev The payer executes its credit reduction before it is effective: must revert with
    /// `CreditReductionNotEffective`.
    function attackEarlyReduction(uint256 lineSeed) external instrument {
        (bool found, uint256 i) = _lineWithReduction(lineSeed);
        if (!found) return _skip("attackEarlyReduction");
        (bytes32 key, address payer, address relayer, address token) = _lineAt(i);
        if (block.timestamp >= store.line(key).reductionEffectiveAt) return _skip("attackEarlyReduction");
        vm.prank(payer);
        (bool ok, bytes memory ret) =
            address(escrow).call(abi.encodeCall(escrow.reduceCredit, (relayer, token)));
        require(
            !ok && bytes4(ret) == Errors.TrainingEscrow_CreditReductionNotEffective.selector,
            "early reduction"
        );
        store.countCall("attackEarlyReduction");
    }

    /// @dev Anyone claims a leaf of an expired batch: must revert with `ReservationExpired`.
    function attackExpiredClaim(uint256 batchSeed, uint256 leafSeed) external instrument {
        uint256 count = _batches.length;
        for (uint256 n; n < count; ++n) {
            Batch storage batch = _batches[(batchSeed % count + n) % count];
            if (block.timestamp < batch.expiresAt) continue;
            uint256 j = leafSeed % batch.keys.length;
            Signed storage s = _signed[batch.keys[j]][batch.signedIndexes[j]];
            Escrow.Claim[] memory claims = new Escrow.Claim[](1);
            claims[0] = Escrow.Claim({
                receipt: s.receipt, signature: s.signature, proof: MerkleBuilder.proof(batch.leaves, j)
            });
            vm.prank(claimer);
            (bool ok, bytes memory ret) =
                address(escrow).call(abi.encodeCall(escrow.claim, (batch.root, claims)));
            require(!ok && bytes4(ret) == Errors.TrainingEscrow_ReservationExpired.selector, "expired claim");
            store.countCall("attackExpiredClaim");
            return;
        }
        _skip("attackExpiredClaim");
    }

    /// @dev The property "every committed receipt is payable in full until its batch expires": in
    /// a snapshot, claims every leaf of every unexpired batch one by one, newest batch first (its
    /// leaves last to first); then, in another snapshot, oldest batch first from a random one
    /// (leaves in tree order). No claim may revert (in particular with `InsufficientReserved`),
    /// and each pays exactly what the receipt still owes, its payout to the license holder.
    /// Both snapshots are reverted: the campaign's state is unchanged.
    function claimEverything(uint256 seed) external instrument {
        uint256 count = _batches.length;
        bool any;
        for (uint256 b; b < count && !any; ++b) {
            any = block.timestamp < _batches[b].expiresAt;
        }
        if (!any) return _skip("claimEverything");
        uint256 snapshot = vm.snapshotState();
        for (uint256 n; n < count; ++n) {
            _claimBatchLeaves(count - 1 - n, true);
        }
        vm.revertToStateAndDelete(snapshot);
        snapshot = vm.snapshotState();
        for (uint256 n; n < count; ++n) {
            _claimBatchLeaves((seed % count + n) % count, false);
        }
        vm.revertToStateAndDelete(snapshot);
        store.countCall("claimEverything");
    }

    function _claimBatchLeaves(uint256 b, bool reversed) internal {
        Batch storage batch = _batches[b];
        if (block.timestamp >= batch.expiresAt) return;
        uint256 n = batch.keys.length;
        for (uint256 m; m < n; ++m) {
            uint256 j = reversed ? n - 1 - m : m;
            uint256 k = batch.keys[j];
            Signed storage s = _signed[k][batch.signedIndexes[j]];
            uint256 owed = _owedNow(k, s.receipt);
            address payee = nft.ownerOf(s.receipt.licenseId);
            MockERC20 token = MockERC20(_tokenOf(k));
            uint256 before = token.balanceOf(payee);
            Escrow.Claim[] memory claims = new Escrow.Claim[](1);
            claims[0] = Escrow.Claim({
                receipt: s.receipt, signature: s.signature, proof: MerkleBuilder.proof(batch.leaves, j)
            });
            (bool ok, bytes memory ret) =
                address(escrow).call(abi.encodeCall(escrow.claim, (batch.root, claims)));
            if (!ok) {
                require(
                    bytes4(ret) != Errors.TrainingEscrow_InsufficientReserved.selector,
                    "claimEverything: committed receipt not payable (InsufficientReserved)"
                );
                revert("claimEverything: claim of a committed receipt reverted");
            }
            require(abi.decode(ret, (uint256)) == owed, "claimEverything: paid != owed");
            require(
                token.balanceOf(payee) - before == owed - owed * batch.feeBps / 10_000,
                "claimEverything: payee not paid what it is owed"
            );
        }
    }

    /// @dev What settling `receipt` pays now, from the escrow's settled count and the
    /// acceptance's cap (both checked against the model by the invariants).
    function _owedNow(uint256 k, Escrow.Receipt memory receipt) internal view returns (uint256) {
        uint64 settled = escrow.settledSamples(_usageKey(k));
        if (receipt.cumulativeSamples <= settled) return 0;
        LicenseInfo memory info = _info[k / RUNS % LICENSES];
        uint64 samples = receipt.cumulativeSamples - settled;
        if (info.maxSamples != 0) {
            uint64 left = info.maxSamples
                - escrow.acceptance(receipt.payer, receipt.licenseId, receipt.termsId).samplesCharged;
            if (samples > left) samples = left;
        }
        return uint256(samples) * info.price;
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

    /// @dev Line `i` (payer × relayer × token) and its key.
    function _lineAt(uint256 i)
        internal
        view
        returns (bytes32 key, address payer, address relayer, address token)
    {
        payer = _payers[i / (RELAYERS * TOKENS)];
        relayer = _relayers[i / TOKENS % RELAYERS];
        token = address(_tokens[i % TOKENS]);
        key = _lineKey(payer, relayer, token);
    }

    function _lineKey(address payer, address relayer, address token) internal pure returns (bytes32) {
        return keccak256(abi.encode(payer, relayer, token));
    }

    /// @dev Where the highest count of key `k` committed by relayer `r` in the current epoch of
    /// its line (since the line's last release) is kept.
    function _epochSlot(uint256 r, uint256 k) internal view returns (bytes32) {
        bytes32 lineKey = _lineKey(_payers[k / (LICENSES * RUNS)], _relayers[r], _tokenOf(k));
        return keccak256(abi.encode(lineKey, store.line(lineKey).epoch, k));
    }

    /// @dev One of: a stranger, the relayer, the payer, a license holder.
    function _callers(uint256 seed, address relayer, address payer) internal view returns (address) {
        uint256 c = seed % 4;
        if (c == 0) return claimer;
        if (c == 1) return relayer;
        if (c == 2) return payer;
        return _holders[seed / 4 % _holders.length];
    }

    /// @dev The first line at or after the seed with a pending credit reduction.
    function _lineWithReduction(uint256 seed) internal view returns (bool, uint256) {
        for (uint256 n; n < LINES; ++n) {
            uint256 i = (seed % LINES + n) % LINES;
            (bytes32 key,,,) = _lineAt(i);
            if (store.line(key).reductionEffectiveAt != 0) return (true, i);
        }
        return (false, 0);
    }

    /// @dev The first line at or after the seed that reserved since its last release: releasable
    /// now (`releasable`) or still locked (otherwise).
    function _lockedLine(uint256 seed, bool releasable) internal view returns (bool, uint256) {
        for (uint256 n; n < LINES; ++n) {
            uint256 i = (seed % LINES + n) % LINES;
            (bytes32 key,,,) = _lineAt(i);
            uint40 until = store.line(key).reservedUntil;
            if (until == 0) continue;
            if (releasable == (block.timestamp >= until)) return (true, i);
        }
        return (false, 0);
    }

    function _pickReceipts(uint256 r, uint256 seed) internal view returns (Pick[] memory picks) {
        picks = new Pick[](MAX_LEAVES);
        uint256 n;
        for (uint256 i; i < KEYS && n < MAX_LEAVES; ++i) {
            uint256 k = (seed % KEYS + i) % KEYS;
            uint256 count = _signed[k].length;
            if (count == 0) continue;
            uint256 p = k / (LICENSES * RUNS);
            // A line must exist (credit or reserved funds), or the commit reverts NoCreditLine.
            EscrowStore.Line memory l = store.line(_lineKey(_payers[p], _relayers[r], _tokenOf(k)));
            if (l.credit == 0 && l.reserved == 0) continue;
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

    /// @dev SPEC's pricing rule, per (payer, token) of the batch: Σ over the payer's usage keys of
    /// (highest count in the batch − base) × price, capped by what each acceptance has left, where
    /// base = max(settled, highest count committed in this line's epoch) if the line stays locked
    /// past the commit (`reservedUntil > now + COMMIT_MARGIN`), else settled. Then either exactly
    /// that or more; a pair is dropped if the line's credit cannot cover the rule's amount.
    function _reservationAmounts(uint256 r, Pick[] memory picks, uint256 extraSeed)
        internal
        view
        returns (uint256[PAIRS] memory amounts, bool[PAIRS] memory keep)
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
            LicenseInfo memory info = _info[l];
            uint256 pair = p * TOKENS + info.tokenIndex;
            if (!used[pair]) continue;
            need[pair] += _acceptanceNeed(r, p, l, maxCumulative);
        }
        for (uint256 pair; pair < PAIRS; ++pair) {
            if (!used[pair]) continue;
            uint256 credit =
                store.line(_lineKey(_payers[pair / TOKENS], _relayers[r], address(_tokens[pair % TOKENS])))
            .credit;
            uint256 choice = uint256(keccak256(abi.encode(extraSeed, pair)));
            uint256 amount = need[pair];
            // Over-reserving is safe, but a surplus left in a line would hide an under-reserving
            // relayer: one batch in four over-reserves, by up to one sample's worth.
            if (choice % 4 == 1) amount += bound(choice >> 2, 1, MAX_EXTRA_RESERVE);
            if (amount > credit) amount = need[pair];
            keep[pair] = amount <= credit;
            amounts[pair] = amount;
        }
    }

    /// @dev The pricing rule for one acceptance (payer `p`, license `l`) of a batch of relayer
    /// `r` whose highest count per usage key is `maxCumulative`.
    function _acceptanceNeed(uint256 r, uint256 p, uint256 l, uint64[KEYS] memory maxCumulative)
        internal
        view
        returns (uint256)
    {
        LicenseInfo memory info = _info[l];
        EscrowStore.Line memory line =
            store.line(_lineKey(_payers[p], _relayers[r], address(_tokens[info.tokenIndex])));
        bool locked = line.reservedUntil != 0 && line.reservedUntil > block.timestamp + COMMIT_MARGIN;
        uint256 samples;
        for (uint256 run; run < RUNS; ++run) {
            uint256 k = _keyIndex(p, l, run);
            if (maxCumulative[k] == 0) continue;
            uint64 base = store.modelSettled(_usageKey(k));
            if (locked) {
                uint64 earlier = _epochMax[_epochSlot(r, k)];
                if (earlier > base) base = earlier;
            }
            if (maxCumulative[k] > base) samples += maxCumulative[k] - base;
        }
        if (info.maxSamples != 0) {
            uint256 left = info.maxSamples - store.modelSamplesCharged(_acceptanceKey(p, l));
            if (samples > left) samples = left;
        }
        return samples * info.price;
    }

    function _dropUnfunded(Pick[] memory picks, bool[PAIRS] memory keep)
        internal
        pure
        returns (Pick[] memory kept)
    {
        kept = new Pick[](picks.length);
        uint256 n;
        for (uint256 i; i < picks.length; ++i) {
            if (keep[picks[i].pair]) kept[n++] = picks[i];
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

    /// @notice What line `i` must hold for every receipt committed into it since its last release
    /// to be payable in full: Σ per acceptance of min(Σ over its keys of (highest count committed
    /// this epoch − settled)⁺, samples left under the cap) × price, per the model.
    function coverageNeed(uint256 i) external view returns (uint256 need) {
        uint256 p = i / (RELAYERS * TOKENS);
        uint256 r = i / TOKENS % RELAYERS;
        uint256 t = i % TOKENS;
        for (uint256 l; l < LICENSES; ++l) {
            LicenseInfo memory info = _info[l];
            if (info.tokenIndex != t) continue;
            uint256 samples;
            for (uint256 run; run < RUNS; ++run) {
                uint256 k = _keyIndex(p, l, run);
                uint64 committed = _epochMax[_epochSlot(r, k)];
                uint64 settled = store.modelSettled(_usageKey(k));
                if (committed > settled) samples += committed - settled;
            }
            if (info.maxSamples != 0) {
                uint256 left = info.maxSamples - store.modelSamplesCharged(_acceptanceKey(p, l));
                if (samples > left) samples = left;
            }
            need += samples * info.price;
        }
    }

    /// @notice Line `i`: its key, payer, relayer and token.
    function lineAt(uint256 i) external view returns (bytes32, address, address, address) {
        return _lineAt(i);
    }

    /// @notice The batch record of the escrow's `reservation`, per the handler.
    function batchRelayer(uint256 b) external view returns (address) {
        return _relayers[_batches[b].relayer];
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
