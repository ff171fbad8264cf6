// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {LicensedEscrowTest} from "./TrainingEscrow.Helpers.sol";

/// @notice Credit lines: funding, reductions with notice, commits against a line, claims drawing
/// on its reserved pool, release and fee sweeps.
contract TrainingEscrowCreditLinesTest is LicensedEscrowTest {
    bytes32 internal constant ROOT = keccak256("root");

    function fund(uint256 amount) internal {
        vm.prank(payer);
        escrow.fundCredit(relayer, address(usdc), uint128(amount));
    }

    function requestReduction(uint256 amount) internal returns (uint40 effectiveAt) {
        vm.prank(payer);
        escrow.requestCreditReduction(relayer, address(usdc), uint128(amount));
        effectiveAt = escrow.creditReduction(payer, relayer, address(usdc)).effectiveAt;
    }

    function reduce() internal returns (uint256) {
        vm.prank(payer);
        return escrow.reduceCredit(relayer, address(usdc));
    }

    function releaseLine() internal returns (uint256) {
        vm.prank(anyone);
        return escrow.release(payer, relayer, address(usdc));
    }

    /// @dev Commits one receipt of `samples` on a fresh run, reserving `reserve`.
    function commitRun(bytes32 runId, uint64 samples, uint256 reserve)
        internal
        returns (bytes32 root, Escrow.Claim[] memory c)
    {
        (root, c) = commitBatch(
            signerKey, payer, single(receipt(payer, licenseId, runId, samples)), uint128(reserve)
        );
    }

    /// @dev Σ available + line (credit, reserved, fees) + accrued fees == the escrow's balance.
    function assertConserved() internal view {
        assertEq(escrowBalance(), avail(payer) + lineTotal(payer) + fees(), "conservation");
    }

    /*//////////////////////////////////////////////////////////////
                                FUNDING
    //////////////////////////////////////////////////////////////*/

    function test_FundCredit_MovesAvailableToLineAndEmits() public {
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.CreditFunded(payer, relayer, address(usdc), 5e18);
        fund(5e18);
        assertEq(creditOf(payer), CREDIT + 5e18);
        assertEq(avail(payer), AVAILABLE - 5e18);
        Escrow.CreditLine memory line = lineOf(payer);
        assertEq(line.reserved, 0);
        assertEq(line.fees, 0);
        assertEq(line.reservedUntil, 0);
        // Per payer, relayer and token.
        assertEq(escrow.creditLine(payer2, relayer, address(usdc)).credit, 0);
        assertEq(escrow.creditLine(payer, anyone, address(usdc)).credit, 0);
        assertConserved();
    }

    function test_FundCredit_WholeAvailable() public {
        fund(AVAILABLE);
        assertEq(avail(payer), 0);
        assertEq(creditOf(payer), BUDGET);
    }

    function test_RevertWhen_FundCredit_ZeroRelayer() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroAddress.selector);
        vm.prank(payer);
        escrow.fundCredit(address(0), address(usdc), 1);
    }

    function test_RevertWhen_FundCredit_ZeroAmount() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroAmount.selector);
        fund(0);
    }

    function test_RevertWhen_FundCredit_InsufficientBalance() public {
        vm.expectRevert(insufficientBalance(AVAILABLE, AVAILABLE + 1));
        fund(AVAILABLE + 1);
    }

    /// @dev Deposits `room + 1` more for `payer`, `room` being what the line can still take
    /// (credit + reserved must stay below 2^104; `CREDIT` is on the line already), and checks that
    /// funding the line with `room + 1` reverts with `CreditLineOverflow`.
    function expectLineOverflow() internal returns (uint256 room) {
        room = uint256(type(uint104).max) - CREDIT;
        usdc.mint(payer, room + 1);
        vm.startPrank(payer);
        usdc.approve(address(escrow), room + 1);
        escrow.deposit(address(usdc), room + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_CreditLineOverflow.selector, payer, relayer, address(usdc)
            )
        );
        escrow.fundCredit(relayer, address(usdc), uint128(room + 1));
        vm.stopPrank();
    }

    function test_RevertWhen_FundCredit_LineOverflow() public {
        uint256 room = expectLineOverflow();
        // Exactly up to the limit is fine.
        fund(room);
        assertEq(creditOf(payer), type(uint104).max);
    }

    /// Reserved funds count towards the limit too.
    function test_RevertWhen_FundCredit_LineOverflowCountsReserved() public {
        commitRun(RUN, 100, CREDIT);
        assertEq(creditOf(payer), 0);
        expectLineOverflow();
    }

    /*//////////////////////////////////////////////////////////////
                              REDUCTIONS
    //////////////////////////////////////////////////////////////*/

    function test_RequestCreditReduction_RecordsAndEmits() public {
        uint40 effectiveAt = uint40(block.timestamp) + NOTICE;
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.CreditReductionRequested(payer, relayer, address(usdc), 7e18, effectiveAt);
        requestReduction(7e18);
        Escrow.CreditReduction memory r = escrow.creditReduction(payer, relayer, address(usdc));
        assertEq(r.amount, 7e18);
        assertEq(r.effectiveAt, effectiveAt);
        // Requesting moves nothing.
        assertEq(creditOf(payer), CREDIT);
        assertEq(avail(payer), AVAILABLE);
    }

    function test_RequestCreditReduction_ReplacesEarlierAndRestartsNotice() public {
        requestReduction(7e18);
        vm.warp(block.timestamp + NOTICE - 1);
        uint40 effectiveAt = requestReduction(3e18);
        assertEq(effectiveAt, uint40(block.timestamp) + NOTICE);
        assertEq(escrow.creditReduction(payer, relayer, address(usdc)).amount, 3e18);
        // The first request's effective time has passed, but it was replaced.
        vm.warp(block.timestamp + 1);
        vm.expectRevert(notEffective(effectiveAt));
        reduce();
    }

    function test_RevertWhen_RequestCreditReduction_ZeroAmount() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroAmount.selector);
        requestReduction(0);
    }

    function test_CancelCreditReduction_DeletesAndEmits() public {
        uint40 effectiveAt = requestReduction(7e18);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.CreditReductionCancelled(payer, relayer, address(usdc));
        vm.prank(payer);
        escrow.cancelCreditReduction(relayer, address(usdc));
        assertEq(escrow.creditReduction(payer, relayer, address(usdc)).effectiveAt, 0);

        vm.warp(effectiveAt);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoCreditReductionRequested.selector, payer, relayer, address(usdc)
            )
        );
        reduce();
    }

    function test_RevertWhen_CancelCreditReduction_NoneRequested() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoCreditReductionRequested.selector, payer, relayer, address(usdc)
            )
        );
        vm.prank(payer);
        escrow.cancelCreditReduction(relayer, address(usdc));
    }

    function test_RevertWhen_ReduceCredit_NoneRequested() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoCreditReductionRequested.selector, payer, relayer, address(usdc)
            )
        );
        reduce();
    }

    /// Another account's request is its own: it cannot reduce the payer's line.
    function test_RevertWhen_ReduceCredit_ByAnotherAccount() public {
        uint40 effectiveAt = requestReduction(7e18);
        vm.warp(effectiveAt);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoCreditReductionRequested.selector, anyone, relayer, address(usdc)
            )
        );
        vm.prank(anyone);
        escrow.reduceCredit(relayer, address(usdc));
    }

    function test_RevertWhen_ReduceCredit_OneSecondBeforeNotice() public {
        uint40 effectiveAt = requestReduction(7e18);
        vm.warp(effectiveAt - 1);
        vm.expectRevert(notEffective(effectiveAt));
        reduce();
    }

    function test_ReduceCredit_AtNoticeMovesCreditToAvailable() public {
        uint40 effectiveAt = requestReduction(7e18);
        vm.warp(effectiveAt);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.CreditReduced(payer, relayer, address(usdc), 7e18);
        assertEq(reduce(), 7e18);
        assertEq(creditOf(payer), CREDIT - 7e18);
        assertEq(avail(payer), AVAILABLE + 7e18);
        // Used up: the request is gone.
        assertEq(escrow.creditReduction(payer, relayer, address(usdc)).effectiveAt, 0);
        assertConserved();
    }

    /// Reserved funds cannot be reduced: a request beyond the credit moves the credit and keeps
    /// the rest requested, which the payer takes once a release returns the reserved funds.
    function test_ReduceCredit_PartialKeepsRemainderRequested() public {
        uint256 reserve = 400 * PRICE;
        commitRun(RUN, 400, CREDIT - 100 * PRICE);
        assertEq(creditOf(payer), 100 * PRICE);
        uint40 effectiveAt = requestReduction(reserve);
        vm.warp(effectiveAt);

        assertEq(reduce(), 100 * PRICE);
        assertEq(creditOf(payer), 0);
        assertEq(reservedOf(payer), CREDIT - 100 * PRICE);
        assertEq(avail(payer), AVAILABLE + 100 * PRICE);
        Escrow.CreditReduction memory r = escrow.creditReduction(payer, relayer, address(usdc));
        assertEq(r.amount, reserve - 100 * PRICE);
        assertEq(r.effectiveAt, effectiveAt);

        // Nothing left to move: a second call moves zero and keeps the request.
        assertEq(reduce(), 0);
        assertEq(escrow.creditReduction(payer, relayer, address(usdc)).amount, reserve - 100 * PRICE);

        // The release returns the reserved funds to credit; the remainder can be taken at once.
        vm.warp(lineOf(payer).reservedUntil);
        releaseLine();
        assertEq(reduce(), reserve - 100 * PRICE);
        assertEq(escrow.creditReduction(payer, relayer, address(usdc)).effectiveAt, 0);
        assertEq(avail(payer), AVAILABLE + reserve);
        assertEq(creditOf(payer), CREDIT - reserve);
        assertConserved();
    }

    /// A pending reduction does not stop the relayer from committing within the notice period.
    function test_CommitBatch_DuringPendingReduction() public {
        requestReduction(CREDIT);
        vm.warp(block.timestamp + NOTICE - 1);
        commitRun(RUN, 100, 100 * PRICE);
        assertEq(reservedOf(payer), 100 * PRICE);
        vm.warp(block.timestamp + 1);
        assertEq(reduce(), CREDIT - 100 * PRICE);
        assertEq(creditOf(payer), 0);
    }

    /// A fully reduced line (nothing reserved) is empty: the relayer can no longer commit.
    function test_RevertWhen_CommitBatch_LineReducedToZero() public {
        uint40 effectiveAt = requestReduction(CREDIT);
        vm.warp(effectiveAt);
        reduce();
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_NoCreditLine.selector, payer, relayer, address(usdc))
        );
        commitRoot(ROOT, reserveFrom(payer, 0));
    }

    /*//////////////////////////////////////////////////////////////
                                COMMITS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_CommitBatch_NoCreditLine() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_NoCreditLine.selector, payer, anyone, address(usdc))
        );
        commitAs(anyone, ROOT, reserveFrom(payer, 1e18));
    }

    function test_RevertWhen_CommitBatch_OnePayerOfBatchHasNoLine() public {
        setUpPayer(payer2, signerKey2, BUDGET, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoCreditLine.selector, payer2, relayer, address(usdc)
            )
        );
        commitRoot(ROOT, reserveFrom(payer, 1e18, payer2, 1e18));
        assertEq(creditOf(payer), CREDIT);
        assertEq(escrow.reservation(ROOT, payer, address(usdc)).committedAt, 0);
    }

    function test_RevertWhen_CommitBatch_InsufficientCredit() public {
        commitRun(RUN, 100, CREDIT - 1);
        vm.expectRevert(insufficientCredit(payer, 1, 2));
        commitRoot(ROOT, reserveFrom(payer, 2));
    }

    /// A zero reservation on a non-empty line lets the batch draw on what earlier batches of the
    /// relayer reserved: the pool is shared.
    function test_Claim_ZeroReservationBatchDrawsOnSharedPool() public {
        commitRun(RUN, 100, 300 * PRICE);
        vm.warp(block.timestamp + 1 hours);
        (bytes32 root2, Escrow.Claim[] memory c2) = commitRun(RUN, 300, 0);
        // The later receipt supersedes the earlier one: 300 samples, paid from the shared pool.
        assertEq(claimAs(anyone, root2, c2), 300 * PRICE);
        assertEq(reservedOf(payer), 0);
        // The pool is shared: the batch that reserved nothing drew on what the first one reserved.
        assertEq(escrow.reservation(root2, payer, address(usdc)).relayer, relayer);
    }

    /*//////////////////////////////////////////////////////////////
                            CLAIMS AND FEES
    //////////////////////////////////////////////////////////////*/

    function test_Claim_FeesLandOnLine() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitRun(RUN, 400, 1000 * PRICE);
        claimAs(anyone, root, c);
        (uint256 fee, uint256 payout) = split(400 * PRICE, FEE_BPS);
        Escrow.CreditLine memory line = lineOf(payer);
        assertEq(line.fees, fee);
        assertEq(line.reserved, 600 * PRICE);
        assertEq(fees(), 0);
        assertEq(usdc.balanceOf(creator), payout);
        assertConserved();
    }

    function test_RevertWhen_Claim_InsufficientReserved() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitRun(RUN, 400, 399 * PRICE);
        vm.expectRevert(insufficientReserved(399 * PRICE, 400 * PRICE));
        claimAs(anyone, root, c);
    }

    function test_SweepFees_ByAnyoneMovesLineFeesToPlatform() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitRun(RUN, 400, 1000 * PRICE);
        claimAs(anyone, root, c);
        (uint256 fee,) = split(400 * PRICE, FEE_BPS);

        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FeesSwept(payer, relayer, address(usdc), fee);
        vm.prank(anyone);
        assertEq(escrow.sweepFees(payer, relayer, address(usdc)), fee);
        assertEq(lineFees(payer), 0);
        assertEq(fees(), fee);
        // Sweeping touches nothing else.
        assertEq(reservedOf(payer), 600 * PRICE);
        assertEq(lineOf(payer).reservedUntil, escrow.reservation(root, payer, address(usdc)).expiresAt);
        assertConserved();

        // A second sweep moves nothing and emits nothing.
        vm.recordLogs();
        vm.prank(anyone);
        assertEq(escrow.sweepFees(payer, relayer, address(usdc)), 0);
        assertEq(countEscrowLogs(ITrainingEscrow.FeesSwept.selector), 0);
        assertEq(fees(), fee);
    }

    function test_SweepFees_WithoutLineReturnsZero() public {
        assertEq(escrow.sweepFees(payer2, anyone, address(usdc)), 0);
    }

    /// Direct settlement pays from the available balance only, never from a line.
    function test_SettleDirect_NeverTouchesLine() public {
        commitRun(RUN, 100, 100 * PRICE);
        Escrow.CreditLine memory before = lineOf(payer);
        Escrow.Receipt memory r = receipt(payer, licenseId, keccak256("direct"), 50);
        vm.prank(anyone);
        assertEq(escrow.settleDirect(r, sign(signerKey, r)), 50 * PRICE);
        assertEq(abi.encode(lineOf(payer)), abi.encode(before));
        assertEq(avail(payer), AVAILABLE - 50 * PRICE);
        (uint256 fee,) = split(50 * PRICE, FEE_BPS);
        assertEq(fees(), fee);
        assertConserved();
    }

    /// With nothing available, direct settlement fails even though the line holds credit.
    function test_RevertWhen_SettleDirect_OnlyLineFunds() public {
        fund(AVAILABLE);
        Escrow.Receipt memory r = receipt(payer, licenseId, keccak256("direct"), 50);
        bytes memory sig = sign(signerKey, r);
        vm.expectRevert(insufficientBalance(0, 50 * PRICE));
        escrow.settleDirect(r, sig);
    }

    /*//////////////////////////////////////////////////////////////
                                RELEASE
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_Release_NothingReserved() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NothingReserved.selector, payer, relayer, address(usdc)
            )
        );
        releaseLine();
    }

    function test_RevertWhen_Release_BeforeReservedUntil() public {
        commitRun(RUN, 100, 1000 * PRICE);
        uint40 until = lineOf(payer).reservedUntil;
        vm.warp(until - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_ReservedNotReleasable.selector, payer, relayer, address(usdc), until
            )
        );
        releaseLine();
    }

    function test_Release_AfterReservedUntilMovesReservedToCreditAndSweepsFees() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitRun(RUN, 400, 1000 * PRICE);
        claimAs(anyone, root, c);
        (uint256 fee,) = split(400 * PRICE, FEE_BPS);
        vm.warp(lineOf(payer).reservedUntil);

        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FundsReleased(payer, relayer, address(usdc), 600 * PRICE);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FeesSwept(payer, relayer, address(usdc), fee);
        assertEq(releaseLine(), 600 * PRICE);

        Escrow.CreditLine memory line = lineOf(payer);
        assertEq(line.reserved, 0);
        assertEq(line.fees, 0);
        assertEq(line.reservedUntil, 0);
        assertEq(line.credit, CREDIT - 400 * PRICE);
        assertEq(fees(), fee);
        // Back to credit, not to the available balance.
        assertEq(avail(payer), AVAILABLE);
        assertConserved();

        // Released: nothing reserved since.
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NothingReserved.selector, payer, relayer, address(usdc)
            )
        );
        releaseLine();
    }

    /// Without fees, a release emits no {FeesSwept}.
    function test_Release_WithoutFeesEmitsNoSweep() public {
        commitRun(RUN, 100, 1000 * PRICE);
        vm.warp(lineOf(payer).reservedUntil);
        vm.recordLogs();
        assertEq(releaseLine(), 1000 * PRICE);
        assertEq(countEscrowLogs(ITrainingEscrow.FeesSwept.selector), 0);
        assertEq(creditOf(payer), CREDIT);
    }

    /// A release waits for the latest batch that reserved into the line.
    function test_Release_WaitsForLatestBatch() public {
        commitRun(RUN, 100, 100 * PRICE);
        uint40 first = lineOf(payer).reservedUntil;
        vm.warp(block.timestamp + 1 days);
        commitRun(keccak256("run-2"), 100, 100 * PRICE);
        uint40 second = lineOf(payer).reservedUntil;
        assertEq(second, first + 1 days);

        vm.warp(first);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_ReservedNotReleasable.selector, payer, relayer, address(usdc), second
            )
        );
        releaseLine();
        vm.warp(second);
        assertEq(releaseLine(), 200 * PRICE);
    }

    /// A zero-amount commit after everything was paid still makes the line releasable (and the
    /// release returns zero).
    function test_Release_ZeroReservedReturnsZero() public {
        commitRoot(ROOT, reserveFrom(payer, 0));
        vm.warp(lineOf(payer).reservedUntil);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FundsReleased(payer, relayer, address(usdc), 0);
        assertEq(releaseLine(), 0);
        assertEq(lineOf(payer).reservedUntil, 0);
    }
}
