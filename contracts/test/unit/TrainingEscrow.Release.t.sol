// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {LicensedEscrowTest} from "./TrainingEscrow.Helpers.sol";

/// @notice `release(payer, relayer, token)`: once every batch that reserved into a line expired,
/// its reserved funds return to its credit. It never touches the available balance or a pending
/// withdrawal (issue 12 item 7b).
contract TrainingEscrowReleaseTest is LicensedEscrowTest {
    uint256 internal constant RESERVE = 1000 * PRICE;
    /// @dev The event the old design emitted when a release pushed a withdrawal back.
    bytes32 internal constant WITHDRAWAL_DELAYED =
        keccak256("WithdrawalDelayed(address,address,uint40,uint40)");

    bytes32 internal root;
    Escrow.Receipt internal rcpt;
    uint40 internal expiresAt;

    function setUp() public override {
        super.setUp();
        rcpt = receipt(payer, licenseId, RUN, 400);
        (root,) = commitBatch(signerKey, payer, single(rcpt), uint128(RESERVE));
        expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;
        assertEq(lineOf(payer).reservedUntil, expiresAt);
    }

    function claims() internal view returns (Escrow.Claim[] memory c) {
        (, c) = buildClaims(signerKey, single(rcpt));
    }

    function release() internal returns (uint256) {
        vm.prank(anyone);
        return escrow.release(payer, relayer, address(usdc));
    }

    function test_RevertWhen_Release_NoLine() public {
        vm.warp(expiresAt);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NothingReserved.selector, payer2, relayer, address(usdc)
            )
        );
        escrow.release(payer2, relayer, address(usdc));
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NothingReserved.selector, payer, anyone, address(usdc)
            )
        );
        escrow.release(payer, anyone, address(usdc));
    }

    function test_RevertWhen_Release_OneSecondBeforeExpiry() public {
        vm.warp(expiresAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_ReservedNotReleasable.selector, payer, relayer, address(usdc), expiresAt
            )
        );
        release();
    }

    function test_RevertWhen_Release_RightAfterCommit() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_ReservedNotReleasable.selector, payer, relayer, address(usdc), expiresAt
            )
        );
        release();
    }

    function test_Release_AtExpiryReturnsEverythingUnclaimedToCredit() public {
        vm.warp(expiresAt);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FundsReleased(payer, relayer, address(usdc), RESERVE);
        assertEq(release(), RESERVE);

        assertEq(creditOf(payer), CREDIT);
        assertEq(reservedOf(payer), 0);
        assertEq(lineOf(payer).reservedUntil, 0);
        assertEq(avail(payer), AVAILABLE);
        // The batch record stays, so the key can never be reused.
        assertTrue(escrow.reservation(root, payer, address(usdc)).committedAt != 0);
        assertEq(escrowBalance(), BUDGET);
    }

    function test_Release_ReturnsWhatClaimsLeft() public {
        claimAs(anyone, root, claims());
        vm.warp(expiresAt);
        assertEq(release(), RESERVE - 400 * PRICE);
        assertEq(creditOf(payer), CREDIT - 400 * PRICE);
        assertEq(avail(payer), AVAILABLE);
        assertEq(escrowBalance(), avail(payer) + lineTotal(payer) + fees());
    }

    function test_RevertWhen_Release_Twice() public {
        vm.warp(expiresAt);
        release();
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NothingReserved.selector, payer, relayer, address(usdc)
            )
        );
        release();
        assertEq(creditOf(payer), CREDIT);
    }

    function test_RevertWhen_Claim_AfterRelease() public {
        vm.warp(expiresAt);
        release();
        Escrow.Claim[] memory c = claims();
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_ReservationExpired.selector, root, expiresAt)
        );
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_CommitBatch_SameRootAfterRelease() public {
        vm.warp(expiresAt);
        release();
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AlreadyCommitted.selector, root, payer, address(usdc)
            )
        );
        commitRoot(root, reserveFrom(payer, RESERVE));
    }

    /// A new batch after a release starts a new reservation period.
    function test_Release_NewBatchAfterReleaseIsReleasableAgain() public {
        vm.warp(expiresAt);
        release();
        (bytes32 root2,) = commitBatch(signerKey, payer, single(receipt(payer, licenseId, RUN, 600)), 50);
        uint40 until = escrow.reservation(root2, payer, address(usdc)).expiresAt;
        assertEq(lineOf(payer).reservedUntil, until);
        vm.warp(until);
        assertEq(release(), 50);
    }

    /*//////////////////////////////////////////////////////////////
                   WITHDRAWALS ARE NOT TOUCHED (item 7b)
    //////////////////////////////////////////////////////////////*/

    /// @dev Warps to `at` (not earlier than now) and requests a withdrawal of the whole budget.
    function requestAt(uint40 at) internal returns (Escrow.Withdrawal memory w) {
        assertGe(at, block.timestamp);
        vm.warp(at);
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        w = escrow.pendingWithdrawal(payer, address(usdc));
    }

    /// A release leaves an executable withdrawal request exactly as it was, and the payer
    /// withdraws its available balance on time.
    function test_Release_LeavesPendingWithdrawalAlone() public {
        // Unlocked an hour before the line becomes releasable, so executable at release time.
        Escrow.Withdrawal memory w0 = requestAt(expiresAt - NOTICE - 1 hours);
        assertLt(w0.unlockAt, expiresAt);
        assertGt(w0.lapsesAt, expiresAt);

        vm.warp(expiresAt);
        vm.recordLogs();
        assertEq(release(), RESERVE);
        assertEq(countEscrowLogs(WITHDRAWAL_DELAYED), 0);
        assertEq(abi.encode(escrow.pendingWithdrawal(payer, address(usdc))), abi.encode(w0));

        // Executable now; the released funds stayed on the line, so it pays the available half.
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), AVAILABLE);
        assertEq(creditOf(payer), CREDIT);
    }

    /// Issue 12 item 7b: anyone could push a payer's withdrawal back by one notice period with a
    /// 1-wei reservation released just before the withdrawal was to be executed. A release now
    /// never touches the withdrawal: the 1-wei line's release leaves the request executable.
    function test_Release_OneWeiReleaseCannotDelayWithdrawal() public {
        // A relayer the payer gave 1 wei of credit commits a 1-wei batch.
        address griefer = makeAddr("griefer");
        fundLine(payer, griefer, 1);
        vm.warp(expiresAt);
        release();
        commitAs(griefer, keccak256("grief"), reserveFrom(payer, 1));
        uint40 griefUntil = escrow.creditLine(payer, griefer, address(usdc)).reservedUntil;

        // The payer asks to withdraw so that the request unlocks right as the 1-wei line becomes
        // releasable.
        Escrow.Withdrawal memory w0 = requestAt(griefUntil - NOTICE);
        assertEq(w0.unlockAt, griefUntil);

        vm.warp(griefUntil);
        vm.recordLogs();
        vm.prank(griefer);
        assertEq(escrow.release(payer, griefer, address(usdc)), 1);
        assertEq(countEscrowLogs(WITHDRAWAL_DELAYED), 0);
        assertEq(abi.encode(escrow.pendingWithdrawal(payer, address(usdc))), abi.encode(w0));

        // Same block: the withdrawal goes through at its original unlock time.
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), AVAILABLE);
        assertEq(avail(payer), 0);
    }

    /// A lapsed request stays lapsed: a release does not revive it.
    function test_Release_LeavesLapsedWithdrawalAlone() public {
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        Escrow.Withdrawal memory w0 = escrow.pendingWithdrawal(payer, address(usdc));
        assertLt(w0.lapsesAt, expiresAt);

        vm.warp(expiresAt);
        assertEq(release(), RESERVE);
        assertEq(abi.encode(escrow.pendingWithdrawal(payer, address(usdc))), abi.encode(w0));

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLapsed.selector, payer, address(usdc), w0.lapsesAt
            )
        );
        vm.prank(payer);
        escrow.withdraw(address(usdc), payer);
        assertEq(avail(payer), AVAILABLE);
    }

    /// A release creates no withdrawal and moves nothing to the available balance.
    function test_Release_WithoutPendingWithdrawalCreatesNone() public {
        vm.warp(expiresAt);
        release();
        Escrow.Withdrawal memory w = escrow.pendingWithdrawal(payer, address(usdc));
        assertEq(w.unlockAt, 0);
        assertEq(w.amount, 0);
        assertEq(avail(payer), AVAILABLE);
    }
}
