// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {EscrowHelpers} from "./TrainingEscrow.Helpers.sol";

contract TrainingEscrowReleaseTest is EscrowHelpers {
    uint256 internal constant RESERVE = 1000 * PRICE;

    uint256 internal licenseId;
    bytes32 internal root;
    Escrow.Receipt internal rcpt;
    uint40 internal expiresAt;

    function setUp() public override {
        super.setUp();
        licenseId = mintLicense();
        setUpPayer(payer, signerKey, BUDGET);
        accept(payer, licenseId);
        rcpt = receipt(payer, licenseId, RUN, 400);
        (root,) = commitBatch(signerKey, payer, single(rcpt), uint128(RESERVE));
        expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;
    }

    function claims() internal view returns (Escrow.Claim[] memory c) {
        (, c) = buildClaims(signerKey, single(rcpt));
    }

    function release() internal returns (uint256) {
        vm.prank(anyone);
        return escrow.release(root, payer, address(usdc));
    }

    function test_RevertWhen_Release_Unknown() public {
        bytes32 other = keccak256("other");
        vm.warp(expiresAt);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_UnknownReservation.selector, other, payer, address(usdc)
            )
        );
        escrow.release(other, payer, address(usdc));
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_UnknownReservation.selector, root, payer2, address(usdc)
            )
        );
        escrow.release(root, payer2, address(usdc));
    }

    function test_RevertWhen_Release_OneSecondBeforeExpiry() public {
        vm.warp(expiresAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_ReservationNotExpired.selector, root, expiresAt)
        );
        release();
    }

    function test_RevertWhen_Release_RightAfterCommit() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_ReservationNotExpired.selector, root, expiresAt)
        );
        release();
    }

    function test_Release_AtExpiryReturnsEverythingUnclaimed() public {
        vm.warp(expiresAt);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.ReservationReleased(root, payer, address(usdc), RESERVE);
        assertEq(release(), RESERVE);

        assertEq(avail(payer), BUDGET);
        Escrow.Reservation memory res = escrow.reservation(root, payer, address(usdc));
        assertEq(res.remaining, 0);
        // The record stays, so the key can never be reused.
        assertTrue(res.committedAt != 0);
        assertEq(escrowBalance(), BUDGET);
    }

    function test_Release_ReturnsWhatClaimsLeft() public {
        claimAs(anyone, root, claims());
        vm.warp(expiresAt);
        assertEq(release(), RESERVE - 400 * PRICE);
        assertEq(avail(payer), BUDGET - 400 * PRICE);
        assertEq(escrowBalance(), avail(payer) + fees());
    }

    function test_Release_SecondReleaseReturnsZero() public {
        vm.warp(expiresAt);
        release();
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.ReservationReleased(root, payer, address(usdc), 0);
        assertEq(release(), 0);
        assertEq(avail(payer), BUDGET);
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

    /// @dev Warps to `at` (not earlier than now) and requests a withdrawal of the whole budget.
    function requestAt(uint40 at) internal returns (Escrow.Withdrawal memory w) {
        assertGe(at, block.timestamp);
        vm.warp(at);
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        w = escrow.pendingWithdrawal(payer, address(usdc));
    }

    function test_Release_PushesEarlierPendingWithdrawal() public {
        // Unlocked an hour before the reservation expires, so still executable at release time.
        Escrow.Withdrawal memory w0 = requestAt(expiresAt - NOTICE - 1 hours);
        assertLt(w0.unlockAt, expiresAt);
        assertGt(w0.lapsesAt, expiresAt);

        vm.warp(expiresAt);
        uint40 pushed = uint40(block.timestamp) + NOTICE;
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.ReservationReleased(root, payer, address(usdc), RESERVE);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.WithdrawalDelayed(payer, address(usdc), pushed, pushed + NOTICE);
        release();

        Escrow.Withdrawal memory w = escrow.pendingWithdrawal(payer, address(usdc));
        assertEq(w.unlockAt, pushed);
        assertEq(w.lapsesAt, pushed + NOTICE);
        assertEq(w.amount, BUDGET);

        vm.warp(pushed - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLocked.selector, payer, address(usdc), pushed
            )
        );
        vm.prank(payer);
        escrow.withdraw(address(usdc), payer);

        vm.warp(pushed);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET);
    }

    /// A pushed request is executable for one notice period from its new unlock time.
    function test_RevertWhen_Withdraw_PushedRequestAtNewLapsesAt() public {
        requestAt(expiresAt - NOTICE);
        vm.warp(expiresAt);
        release();
        Escrow.Withdrawal memory w = escrow.pendingWithdrawal(payer, address(usdc));
        assertEq(w.lapsesAt, expiresAt + 2 * NOTICE);

        vm.warp(w.lapsesAt);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLapsed.selector, payer, address(usdc), w.lapsesAt
            )
        );
        vm.prank(payer);
        escrow.withdraw(address(usdc), payer);
        assertEq(avail(payer), BUDGET);
    }

    /// A lapsed request can no longer be executed, so a release leaves it alone: no
    /// `WithdrawalDelayed`, no new unlock or lapse time, and it stays unexecutable.
    function test_Release_LeavesLapsedWithdrawalAlone() public {
        // Requested right after the commit: unlocked one notice later and lapsed one more notice
        // later, well before the reservation expires.
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        Escrow.Withdrawal memory w0 = escrow.pendingWithdrawal(payer, address(usdc));
        assertLt(w0.lapsesAt, expiresAt);

        vm.warp(expiresAt);
        vm.recordLogs();
        assertEq(release(), RESERVE);
        assertEq(countEscrowLogs(ITrainingEscrow.WithdrawalDelayed.selector), 0);
        assertEq(abi.encode(escrow.pendingWithdrawal(payer, address(usdc))), abi.encode(w0));

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLapsed.selector, payer, address(usdc), w0.lapsesAt
            )
        );
        vm.prank(payer);
        escrow.withdraw(address(usdc), payer);
        assertEq(avail(payer), BUDGET);
    }

    /// The boundary: a request that lapses exactly at the release is left alone; one that lapses a
    /// second later is pushed.
    function test_Release_LapseBoundary() public {
        Escrow.Withdrawal memory w0 = requestAt(expiresAt - 2 * NOTICE);
        assertEq(w0.lapsesAt, expiresAt);
        vm.warp(expiresAt);
        vm.recordLogs();
        release();
        assertEq(countEscrowLogs(ITrainingEscrow.WithdrawalDelayed.selector), 0);
        assertEq(abi.encode(escrow.pendingWithdrawal(payer, address(usdc))), abi.encode(w0));
    }

    function test_Release_OneSecondBeforeLapsePushes() public {
        Escrow.Withdrawal memory w0 = requestAt(expiresAt - 2 * NOTICE + 1);
        assertEq(w0.lapsesAt, expiresAt + 1);
        vm.warp(expiresAt);
        uint40 pushed = uint40(block.timestamp) + NOTICE;
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.WithdrawalDelayed(payer, address(usdc), pushed, pushed + NOTICE);
        release();
        Escrow.Withdrawal memory w = escrow.pendingWithdrawal(payer, address(usdc));
        assertEq(w.unlockAt, pushed);
        assertEq(w.lapsesAt, pushed + NOTICE);
    }

    function test_Release_KeepsLaterPendingWithdrawal() public {
        vm.prank(owner);
        escrow.setNoticePeriod(30 days);
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        uint40 unlockAt = escrow.pendingWithdrawal(payer, address(usdc)).unlockAt;
        vm.prank(owner);
        escrow.setNoticePeriod(NOTICE);

        vm.warp(expiresAt);
        assertGt(unlockAt, uint40(block.timestamp) + NOTICE);
        vm.recordLogs();
        release();
        assertEq(countEscrowLogs(ITrainingEscrow.WithdrawalDelayed.selector), 0);
        assertEq(escrow.pendingWithdrawal(payer, address(usdc)).unlockAt, unlockAt);
    }

    function test_Release_KeepsPendingWithdrawalEqualToEarliest() public {
        vm.warp(expiresAt);
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        uint40 unlockAt = escrow.pendingWithdrawal(payer, address(usdc)).unlockAt;
        vm.recordLogs();
        release();
        assertEq(countEscrowLogs(ITrainingEscrow.WithdrawalDelayed.selector), 0);
        assertEq(escrow.pendingWithdrawal(payer, address(usdc)).unlockAt, unlockAt);
    }

    function test_Release_NothingReturnedDoesNotDelayWithdrawal() public {
        // Claims use up the whole reservation.
        Escrow.Receipt memory r = receipt(payer, licenseId, keccak256("run-full"), 1000);
        (bytes32 fullRoot, Escrow.Claim[] memory c) =
            commitBatch(signerKey, payer, single(r), uint128(RESERVE));
        claimAs(anyone, fullRoot, c);
        // Unlocked and not lapsed at the release: only the empty return keeps it in place.
        Escrow.Withdrawal memory w0 = requestAt(expiresAt - NOTICE);
        uint40 unlockAt = w0.unlockAt;
        assertGt(w0.lapsesAt, expiresAt);

        vm.warp(expiresAt);
        vm.recordLogs();
        assertEq(escrow.release(fullRoot, payer, address(usdc)), 0);
        assertEq(countEscrowLogs(ITrainingEscrow.WithdrawalDelayed.selector), 0);
        assertEq(escrow.pendingWithdrawal(payer, address(usdc)).unlockAt, unlockAt);
    }

    function test_Release_WithoutPendingWithdrawalCreatesNone() public {
        vm.warp(expiresAt);
        vm.recordLogs();
        release();
        assertEq(countEscrowLogs(ITrainingEscrow.WithdrawalDelayed.selector), 0);
        Escrow.Withdrawal memory w = escrow.pendingWithdrawal(payer, address(usdc));
        assertEq(w.unlockAt, 0);
        assertEq(w.amount, 0);
    }
}
