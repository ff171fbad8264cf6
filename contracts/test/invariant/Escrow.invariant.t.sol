// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {StdInvariant} from "forge-std/StdInvariant.sol";
import {console2} from "forge-std/console2.sol";

import {Escrow} from "../../src/types/EscrowTypes.sol";
import {MockERC20} from "../mocks/MockERC20.sol";
import {EscrowInvariantFixture} from "./EscrowInvariantFixture.sol";
import {EscrowHandler} from "./handlers/EscrowHandler.sol";
import {EscrowStore} from "./stores/EscrowStore.sol";

/// @notice Stateful invariants of {TrainingEscrow}, fuzzed through {EscrowHandler}.
/// contracts/test/invariant/README.md states each invariant in words.
/// The CI profile's 256 runs would take over 6 minutes here (the handler claims every committed
/// receipt twice in snapshots); 128 runs × depth 100 stay under 4 minutes on two cores.
/// forge-config: ci.invariant.runs = 128
contract EscrowInvariantTest is EscrowInvariantFixture {
    uint256 internal constant PAYERS = 3;
    uint256 internal constant LICENSES = 4;
    uint256 internal constant LINES = 12;

    /// @dev The acceptances whose terms have a cap, cached (terms never change in the campaign).
    struct Capped {
        address payer;
        uint256 licenseId;
        uint64 termsId;
        uint64 maxSamples;
        bytes32 acceptanceKey;
    }

    Capped[] internal _capped;

    function setUp() public override {
        super.setUp();
        for (uint256 p; p < PAYERS; ++p) {
            for (uint256 l; l < LICENSES; ++l) {
                EscrowHandler.LicenseInfo memory info = handler.licenseInfo(l);
                if (info.maxSamples == 0) continue;
                _capped.push(
                    Capped({
                        payer: payers[p],
                        licenseId: licenseIds[l],
                        termsId: info.termsId,
                        maxSamples: info.maxSamples,
                        acceptanceKey: handler.acceptanceKeyAt(p, l)
                    })
                );
            }
        }
        bytes4[] memory selectors = new bytes4[](23);
        selectors[0] = EscrowHandler.deposit.selector;
        selectors[1] = EscrowHandler.depositFor.selector;
        selectors[2] = EscrowHandler.requestWithdrawal.selector;
        selectors[3] = EscrowHandler.withdraw.selector;
        selectors[4] = EscrowHandler.acceptTerms.selector;
        selectors[5] = EscrowHandler.signReceipt.selector;
        selectors[6] = EscrowHandler.fundCredit.selector;
        selectors[7] = EscrowHandler.requestCreditReduction.selector;
        selectors[8] = EscrowHandler.cancelCreditReduction.selector;
        selectors[9] = EscrowHandler.reduceCredit.selector;
        selectors[10] = EscrowHandler.commitBatch.selector;
        selectors[11] = EscrowHandler.claim.selector;
        selectors[12] = EscrowHandler.settleDirect.selector;
        selectors[13] = EscrowHandler.release.selector;
        selectors[14] = EscrowHandler.sweepFees.selector;
        selectors[15] = EscrowHandler.warp.selector;
        selectors[16] = EscrowHandler.transferLicense.selector;
        selectors[17] = EscrowHandler.setFee.selector;
        selectors[18] = EscrowHandler.withdrawFees.selector;
        selectors[19] = EscrowHandler.attackEarlyRelease.selector;
        selectors[20] = EscrowHandler.attackEarlyReduction.selector;
        selectors[21] = EscrowHandler.attackExpiredClaim.selector;
        selectors[22] = EscrowHandler.claimEverything.selector;
        targetContract(address(handler));
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /*//////////////////////////////////////////////////////////////
                         1. CONSERVATION PER TOKEN
    //////////////////////////////////////////////////////////////*/

    /// @dev The escrow holds exactly what it owes: Σ available + Σ line credit + Σ line reserved +
    /// Σ line fees + accrued fees.
    function invariant_BalanceEqualsLiabilities() external view {
        MockERC20[2] memory tokens = _tokens();
        for (uint256 t; t < 2; ++t) {
            address token = address(tokens[t]);
            assertEq(
                tokens[t].balanceOf(address(escrow)),
                _sumAvailable(token) + _sumLines(token, address(0)) + escrow.accruedFees(token),
                "balance != available + credit + reserved + line fees + fees"
            );
        }
    }

    /// @dev Every deposited unit is in exactly one place: available, in a line (credit, reserved
    /// or fees), paid to a payee, taken as a fee (accrued or withdrawn), or withdrawn by its payer.
    function invariant_DepositsAreAccountedFor() external view {
        MockERC20[2] memory tokens = _tokens();
        for (uint256 t; t < 2; ++t) {
            address token = address(tokens[t]);
            uint256 placed = _sumAvailable(token) + _sumLines(token, address(0))
                + _sumHolderBalances(tokens[t]) + escrow.accruedFees(token) + tokens[t].balanceOf(feeSink)
                + store.withdrawn(token);
            assertEq(store.deposited(token), placed, "deposited != sum of places");
        }
    }

    /*//////////////////////////////////////////////////////////////
                      2. NO USAGE PAID TWICE
    //////////////////////////////////////////////////////////////*/

    /// @dev Per usage key: the settled count never exceeds the highest cumulative count the payer
    /// signed, and matches the model; what was paid for the key is price × samples charged
    /// (after the cap), which is at most price × the highest signed count.
    function invariant_UsagePaidAtMostOnce() external view {
        EscrowStore.KeyLedger[] memory ledgers = store.signedKeyLedgers();
        for (uint256 i; i < ledgers.length; ++i) {
            EscrowStore.KeyLedger memory g = ledgers[i];
            uint64 settled = escrow.settledSamples(g.usageKey);

            assertLe(settled, g.maxSigned, "settled > max signed cumulative");
            assertEq(settled, g.modelSettled, "settled != model");
            assertLe(g.eventSamplesPaid, settled, "samples paid > settled");
            assertEq(g.eventSamplesPaid, g.modelSamplesPaid, "samples paid != model");
            assertEq(g.eventAmountPaid, g.price * g.eventSamplesPaid, "amount paid != price * samples");
            assertEq(g.eventAmountPaid, g.modelAmountPaid, "amount paid != model");
            assertLe(g.eventAmountPaid, g.price * g.maxSigned, "amount paid > price * max signed");
        }
        // A key nobody signed for is never settled: no settlement event names one.
        assertEq(store.eventsForUnsignedKeys(), 0, "settled a usage key that was never signed");
    }

    /*//////////////////////////////////////////////////////////////
            3. LINES MATCH THE MODEL, CLAIMS WITHIN RESERVATIONS
    //////////////////////////////////////////////////////////////*/

    /// @dev Every line (credit, reserved funds, fees, lock) and pending credit reduction equals the
    /// model; every batch record keeps its relayer, fee snapshot and expiry; per token, what lines
    /// hold reserved is exactly Σ reserved − Σ claimed − Σ released, and Σ claimed + Σ released
    /// <= Σ reserved.
    function invariant_LinesMatchModel() external view {
        for (uint256 i; i < LINES; ++i) {
            (bytes32 key, address payer, address relayer, address token) = handler.lineAt(i);
            Escrow.CreditLine memory onChain = escrow.creditLine(payer, relayer, token);
            EscrowStore.Line memory model = store.line(key);
            assertEq(onChain.credit, model.credit, "line credit != model");
            assertEq(onChain.reserved, model.reserved, "line reserved != model");
            assertEq(onChain.fees, model.fees, "line fees != model");
            assertEq(onChain.reservedUntil, model.reservedUntil, "line reservedUntil != model");
            Escrow.CreditReduction memory reduction = escrow.creditReduction(payer, relayer, token);
            assertEq(reduction.amount, model.reductionAmount, "reduction amount != model");
            assertEq(reduction.effectiveAt, model.reductionEffectiveAt, "reduction effectiveAt != model");
        }
        EscrowStore.Reservation[] memory list = store.reservations();
        for (uint256 i; i < list.length; ++i) {
            EscrowStore.Reservation memory r = list[i];
            Escrow.Reservation memory onChain = escrow.reservation(r.root, r.payer, r.token);
            assertEq(onChain.relayer, r.relayer, "batch relayer changed");
            assertEq(onChain.feeBps, r.feeBps, "fee snapshot changed");
            assertEq(onChain.expiresAt, r.expiresAt, "expiry changed");
        }
        MockERC20[2] memory tokens = _tokens();
        for (uint256 t; t < 2; ++t) {
            address token = address(tokens[t]);
            uint256 out = store.claimedTotal(token) + store.releasedTotal(token);
            assertLe(out, store.reservedTotal(token), "claimed + released > reserved");
            assertEq(_sumReserved(token), store.reservedTotal(token) - out, "line reserved != reserved - out");
        }
    }

    /// @dev Every committed receipt is payable in full until its batch expires, as an inequality:
    /// each line holds reserved at least what the receipts committed into it since its last
    /// release can still charge (SPEC's pricing rule makes this hold; `claimEverything` checks
    /// the claims themselves).
    function invariant_CommittedReceiptsCovered() external view {
        for (uint256 i; i < LINES; ++i) {
            (, address payer, address relayer, address token) = handler.lineAt(i);
            assertGe(
                escrow.creditLine(payer, relayer, token).reserved,
                handler.coverageNeed(i),
                "line reserved < what its committed receipts can charge"
            );
        }
    }

    /*//////////////////////////////////////////////////////////////
                    4. CHARGES NEVER EXCEED DEPOSITS
    //////////////////////////////////////////////////////////////*/

    /// @dev What payees and the platform received never exceeds what payers put in and did not
    /// take back.
    function invariant_ChargesWithinDeposits() external view {
        MockERC20[2] memory tokens = _tokens();
        for (uint256 t; t < 2; ++t) {
            address token = address(tokens[t]);
            uint256 paid = _sumHolderBalances(tokens[t]);
            uint256 fees = escrow.accruedFees(token) + tokens[t].balanceOf(feeSink);
            assertLe(paid + fees, store.deposited(token) - store.withdrawn(token), "charges > net deposits");
            assertEq(paid, store.paidToPayees(token), "payee total != model");
        }
    }

    /*//////////////////////////////////////////////////////////////
                                5. CAPS
    //////////////////////////////////////////////////////////////*/

    /// @dev No acceptance is charged beyond its terms' cap, and the count matches the model.
    function invariant_CapsRespected() external view {
        for (uint256 i; i < _capped.length; ++i) {
            Capped memory c = _capped[i];
            Escrow.Acceptance memory a = escrow.acceptance(c.payer, c.licenseId, c.termsId);
            assertLe(a.samplesCharged, c.maxSamples, "samples charged > cap");
            if (a.acceptedAt != 0) assertEq(a.maxSamples, c.maxSamples, "cap copy != terms");
            assertEq(a.samplesCharged, store.modelSamplesCharged(c.acceptanceKey), "samples charged != model");
        }
    }

    /*//////////////////////////////////////////////////////////////
                     6. PAYER WITHDRAWALS BOUNDED
    //////////////////////////////////////////////////////////////*/

    /// @dev A payer withdraws at most what was deposited for it minus what it was charged; more
    /// precisely its deposits are its available balance + its lines' credit and reserved funds +
    /// its charges (fees included) + its withdrawals.
    function invariant_PayerWithdrawalsBounded() external view {
        MockERC20[2] memory tokens = _tokens();
        for (uint256 p; p < PAYERS; ++p) {
            for (uint256 t; t < 2; ++t) {
                address token = address(tokens[t]);
                uint256 deposited = store.depositedFor(payers[p], token);
                uint256 charged = store.chargedTo(payers[p], token);
                uint256 withdrawn = store.withdrawnBy(payers[p], token);
                assertLe(withdrawn + charged, deposited, "withdrawn > deposited - charged");
                assertEq(store.chargedInEvents(payers[p], token), charged, "events misattribute charges");
                assertEq(
                    escrow.availableBalance(payers[p], token) + _sumCreditAndReservedOf(payers[p], token)
                        + charged + withdrawn,
                    deposited,
                    "payer ledger leaks"
                );
            }
        }
    }

    /*//////////////////////////////////////////////////////////////
                           7. FEE SPLIT EXACT
    //////////////////////////////////////////////////////////////*/

    /// @dev Fees taken (in lines, accrued or withdrawn) == Σ floor(charge × feeBps / 10_000) over
    /// settlements, with the batch's snapshotted fee for claims and the fee in force for direct
    /// settlements.
    function invariant_FeeSplitExact() external view {
        MockERC20[2] memory tokens = _tokens();
        for (uint256 t; t < 2; ++t) {
            address token = address(tokens[t]);
            assertEq(
                escrow.accruedFees(token) + store.feesWithdrawn(token) + _sumLines(token, token),
                store.feesCharged(token),
                "fees != model"
            );
            assertEq(store.feesInEvents(token), store.feesCharged(token), "event fees != model");
            assertEq(tokens[t].balanceOf(feeSink), store.feesWithdrawn(token), "fee sink != withdrawn fees");
        }
    }

    /*//////////////////////////////////////////////////////////////
                             EXTRA INVARIANTS
    //////////////////////////////////////////////////////////////*/

    /// @dev Each payee (current holder at settlement time) received exactly its modelled payouts.
    function invariant_PayeesPaidAsModelled() external view {
        MockERC20[2] memory tokens = _tokens();
        for (uint256 h; h < 3; ++h) {
            for (uint256 t; t < 2; ++t) {
                assertEq(
                    tokens[t].balanceOf(holders[h]),
                    store.receivedBy(holders[h], address(tokens[t])),
                    "payee balance != model"
                );
            }
        }
    }

    /*//////////////////////////////////////////////////////////////
                              CALL SUMMARY
    //////////////////////////////////////////////////////////////*/

    /// @dev The handler's actions, as counted by the store.
    function _actions() private pure returns (bytes32[23] memory) {
        return [
            bytes32("deposit"),
            "depositFor",
            "requestWithdrawal",
            "withdraw",
            "acceptTerms",
            "signReceipt",
            "fundCredit",
            "requestCreditReduction",
            "cancelCreditReduction",
            "reduceCredit",
            "commitBatch",
            "claim",
            "settleDirect",
            "release",
            "sweepFees",
            "warp",
            "transferLicense",
            "setFee",
            "withdrawFees",
            "attackEarlyRelease",
            "attackEarlyReduction",
            "attackExpiredClaim",
            "claimEverything"
        ];
    }

    /// @dev Logs what the run exercised (visible with -vv; forge prints the last run's logs).
    function afterInvariant() external {
        bytes32[23] memory actions = _actions();
        console2.log("call summary (done/skipped); calls:", store.totalCalls());
        for (uint256 i; i < actions.length; ++i) {
            console2.log(
                string.concat(
                    "  ",
                    string(abi.encodePacked(actions[i])),
                    ": ",
                    vm.toString(store.calls(actions[i])),
                    "/",
                    vm.toString(store.skips(actions[i]))
                )
            );
        }
        // Optional per-run CSV, to measure coverage across all runs (the console shows only the
        // last run): INVARIANT_SUMMARY_FILE=deployments/invariant-summary.csv (the only writable dir).
        string memory file = vm.envOr("INVARIANT_SUMMARY_FILE", string(""));
        if (bytes(file).length != 0) {
            string memory line = "";
            for (uint256 i; i < actions.length; ++i) {
                line = string.concat(line, vm.toString(store.calls(actions[i])), ",");
            }
            line = string.concat(
                line,
                vm.toString(store.claimedTotal(address(usdc)) + store.claimedTotal(address(dai))),
                ",",
                vm.toString(store.releasedTotal(address(usdc)) + store.releasedTotal(address(dai)))
            );
            vm.writeLine(file, line);
        }
        console2.log(
            "  claimed usdc/dai:", store.claimedTotal(address(usdc)), store.claimedTotal(address(dai))
        );
        console2.log(
            "  released usdc/dai:", store.releasedTotal(address(usdc)), store.releasedTotal(address(dai))
        );
    }

    /*//////////////////////////////////////////////////////////////
                              REACHABILITY
    //////////////////////////////////////////////////////////////*/

    /// @dev A short deterministic sequence drives every handler action to completion at least
    /// once (claims and releases that move funds included), then checks all the invariants: the
    /// handler's guards do not make any action unreachable.
    function test_Handler_ReachesEveryAction() external {
        handler.deposit(0, 0, 1e15);
        handler.depositFor(1, 1, 1e15);
        handler.acceptTerms(1); // payer 0 accepts license 1 (usdc, capped at 500)
        handler.warp(NOTICE); // the acceptance becomes chargeable
        handler.signReceipt(0, 0, 100); // payer 0, license 0, run 0: 100
        handler.signReceipt(0, 0, 50); // 150; the 100 receipt is now stale
        handler.signReceipt(1, 1, 400); // payer 0, license 1, run 1: 400
        handler.signReceipt(1, 1, 200); // 600, beyond the cap of 500

        _commitSomeBatch();
        handler.claim(0, type(uint256).max >> 1); // every leaf, in tree order
        assertGt(store.claimedTotal(address(usdc)), 0, "claim paid nothing");

        handler.signReceipt(0, 0, 25);
        handler.settleDirect(0, 1); // key 0 (payer 0, license 0, run 0), latest receipt
        assertGt(store.directTotal(address(usdc)), 0, "direct settlement paid nothing");

        handler.settleDirect(4, 1); // key 4 (payer 0, license 1, run 1): 600 signed, cap 500
        (uint64 termsId,) = nft.currentTerms(licenseIds[1]);
        assertEq(escrow.acceptance(payers[0], licenseIds[1], termsId).samplesCharged, 500, "cap not reached");
        assertEq(escrow.settledSamples(handler.usageKeyAt(4)), 600, "capped key not fully settled");

        handler.transferLicense(0, 2); // license 0 to the collector
        handler.signReceipt(0, 0, 10);
        handler.settleDirect(0, 1); // now pays the collector
        assertGt(usdc.balanceOf(collector), 0, "new holder not paid");

        handler.setFee(500);
        handler.sweepFees(0); // the claim's fee, from line 0 to the platform
        handler.withdrawFees(0);
        assertGt(store.feesWithdrawn(address(usdc)), 0, "no fees withdrawn");

        handler.requestWithdrawal(0, 0, 1e14);
        handler.withdraw(0); // warps to the unlock time
        assertEq(store.withdrawnBy(payers[0], address(usdc)), 1e14, "withdrawal");

        // Credit lines: line 0 is (payer 0, relayer 0, usdc).
        handler.fundCredit(0, 1e14);
        handler.requestCreditReduction(0, 1e13);
        handler.attackEarlyReduction(0);
        handler.cancelCreditReduction(0);
        handler.requestCreditReduction(0, 1e13);
        handler.reduceCredit(0, 0); // warps to the effective time
        assertEq(store.line(_line0()).reductionEffectiveAt, 0, "reduction not executed");

        // A batch nobody claims; everything it committed is claimable in a snapshot; it cannot be
        // released early, its line is released (to credit) after the window, and its leaves
        // cannot be claimed any more.
        handler.signReceipt(0, 0, 40);
        _commitSomeBatch();
        handler.claimEverything(0);
        handler.attackEarlyRelease(0);
        handler.warp(1 hours);
        handler.release(0, 0); // warps to reservedUntil
        assertEq(store.line(_line0()).reservedUntil, 0, "line not released");
        handler.attackExpiredClaim(handler.batchCount() - 1, 0);
        handler.sweepFees(0);

        bytes32[23] memory actions = _actions();
        for (uint256 i; i < actions.length; ++i) {
            assertGe(store.calls(actions[i]), 1, string(abi.encodePacked("unreached: ", actions[i])));
        }

        this.invariant_BalanceEqualsLiabilities();
        this.invariant_DepositsAreAccountedFor();
        this.invariant_UsagePaidAtMostOnce();
        this.invariant_LinesMatchModel();
        this.invariant_CommittedReceiptsCovered();
        this.invariant_ChargesWithinDeposits();
        this.invariant_CapsRespected();
        this.invariant_PayerWithdrawalsBounded();
        this.invariant_FeeSplitExact();
        this.invariant_PayeesPaidAsModelled();
    }

    function _line0() internal view returns (bytes32) {
        return keccak256(abi.encode(payers[0], relayers[0], address(usdc)));
    }

    /// @dev Commits a batch with relayer 0, trying selection seeds until one picks a receipt.
    function _commitSomeBatch() internal {
        uint256 before = store.calls("commitBatch");
        for (uint256 seed; seed < 32 && store.calls("commitBatch") == before; ++seed) {
            handler.commitBatch(0, seed, seed);
        }
        assertEq(store.calls("commitBatch"), before + 1, "no batch committed");
    }

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    function _sumAvailable(address token) internal view returns (uint256 sum) {
        for (uint256 p; p < PAYERS; ++p) {
            sum += escrow.availableBalance(payers[p], token);
        }
    }

    /// @dev Σ over the lines of `token` of credit + reserved + fees, or (with `feesOnly` set to the
    /// token) of fees only.
    function _sumLines(address token, address feesOnly) internal view returns (uint256 sum) {
        for (uint256 i; i < LINES; ++i) {
            (, address payer, address relayer, address lineToken) = handler.lineAt(i);
            if (lineToken != token) continue;
            Escrow.CreditLine memory line = escrow.creditLine(payer, relayer, token);
            sum += feesOnly == address(0) ? uint256(line.credit) + line.reserved + line.fees : line.fees;
        }
    }

    function _sumReserved(address token) internal view returns (uint256 sum) {
        for (uint256 i; i < LINES; ++i) {
            (, address payer, address relayer, address lineToken) = handler.lineAt(i);
            if (lineToken == token) sum += escrow.creditLine(payer, relayer, token).reserved;
        }
    }

    function _sumCreditAndReservedOf(address payer, address token) internal view returns (uint256 sum) {
        for (uint256 r; r < 2; ++r) {
            Escrow.CreditLine memory line = escrow.creditLine(payer, relayers[r], token);
            sum += uint256(line.credit) + line.reserved;
        }
    }

    function _sumHolderBalances(MockERC20 token) internal view returns (uint256 sum) {
        for (uint256 h; h < 3; ++h) {
            sum += token.balanceOf(holders[h]);
        }
    }
}
