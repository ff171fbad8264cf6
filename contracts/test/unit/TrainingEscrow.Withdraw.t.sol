// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {EscrowHelpers} from "./TrainingEscrow.Helpers.sol";

contract TrainingEscrowWithdrawTest is EscrowHelpers {
    bytes32 internal constant ROOT = keccak256("root");

    /// @dev The whole budget starts available (no credit line); tests that need one fund it.
    function setUp() public override {
        super.setUp();
        setUpPayer(payer, signerKey, BUDGET, 0);
    }

    function fund(uint256 amount) internal {
        vm.prank(payer);
        escrow.fundCredit(relayer, address(usdc), uint128(amount));
    }

    function request(uint256 amount) internal returns (uint40 unlockAt) {
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(amount));
        unlockAt = escrow.pendingWithdrawal(payer, address(usdc)).unlockAt;
    }

    function withdrawTo(address to) internal returns (uint256) {
        vm.prank(payer);
        return escrow.withdraw(address(usdc), to);
    }

    /*//////////////////////////////////////////////////////////////
                           REQUEST WITHDRAWAL
    //////////////////////////////////////////////////////////////*/

    function test_RequestWithdrawal_RecordsAndEmits() public {
        uint40 unlockAt = uint40(block.timestamp) + NOTICE;
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.WithdrawalRequested(payer, address(usdc), 123e18, unlockAt, unlockAt + NOTICE);
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), 123e18);

        Escrow.Withdrawal memory w = escrow.pendingWithdrawal(payer, address(usdc));
        assertEq(w.amount, 123e18);
        assertEq(w.unlockAt, unlockAt);
        assertEq(w.lapsesAt, unlockAt + NOTICE);
        // Requesting moves nothing.
        assertEq(avail(payer), BUDGET);
    }

    function test_RevertWhen_RequestWithdrawal_ZeroAmount() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroAmount.selector);
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), 0);
    }

    function test_RequestWithdrawal_ReplacesEarlierRequest() public {
        request(100e18);
        vm.warp(block.timestamp + 5 hours);
        uint40 unlockAt = request(50e18);

        Escrow.Withdrawal memory w = escrow.pendingWithdrawal(payer, address(usdc));
        assertEq(w.amount, 50e18);
        assertEq(unlockAt, uint40(block.timestamp) + NOTICE);
        assertEq(w.lapsesAt, unlockAt + NOTICE);

        vm.warp(unlockAt);
        assertEq(withdrawTo(payer), 50e18);
    }

    function test_RequestWithdrawal_UsesNoticePeriodInForce() public {
        vm.prank(owner);
        escrow.setNoticePeriod(3 days);
        assertEq(request(1), uint40(block.timestamp) + 3 days);
        assertEq(escrow.pendingWithdrawal(payer, address(usdc)).lapsesAt, uint40(block.timestamp) + 6 days);
    }

    /// A lapsed request is replaced by a new one with a fresh notice: lapsing never shortens it.
    function test_RequestWithdrawal_AfterLapseStartsFreshNotice() public {
        request(100e18);
        Escrow.Withdrawal memory old = escrow.pendingWithdrawal(payer, address(usdc));
        vm.warp(old.lapsesAt);
        uint40 unlockAt = request(100e18);
        assertEq(unlockAt, uint40(block.timestamp) + NOTICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLocked.selector, payer, address(usdc), unlockAt
            )
        );
        withdrawTo(payer);
        vm.warp(unlockAt);
        assertEq(withdrawTo(payer), 100e18);
    }

    /*//////////////////////////////////////////////////////////////
                            CANCEL WITHDRAWAL
    //////////////////////////////////////////////////////////////*/

    function test_CancelWithdrawal_DeletesAndEmits() public {
        request(100e18);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.WithdrawalCancelled(payer, address(usdc));
        vm.prank(payer);
        escrow.cancelWithdrawal(address(usdc));

        Escrow.Withdrawal memory w = escrow.pendingWithdrawal(payer, address(usdc));
        assertEq(w.amount, 0);
        assertEq(w.unlockAt, 0);

        vm.warp(block.timestamp + NOTICE);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_NoWithdrawalRequested.selector, payer, address(usdc))
        );
        withdrawTo(payer);
    }

    function test_RevertWhen_CancelWithdrawal_NoRequest() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_NoWithdrawalRequested.selector, payer, address(usdc))
        );
        vm.prank(payer);
        escrow.cancelWithdrawal(address(usdc));
    }

    function test_RevertWhen_CancelWithdrawal_Twice() public {
        request(100e18);
        vm.startPrank(payer);
        escrow.cancelWithdrawal(address(usdc));
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_NoWithdrawalRequested.selector, payer, address(usdc))
        );
        escrow.cancelWithdrawal(address(usdc));
        vm.stopPrank();
    }

    function test_RevertWhen_CancelWithdrawal_OtherPayersRequest() public {
        request(100e18);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoWithdrawalRequested.selector, anyone, address(usdc)
            )
        );
        vm.prank(anyone);
        escrow.cancelWithdrawal(address(usdc));
    }

    /*//////////////////////////////////////////////////////////////
                                 WITHDRAW
    //////////////////////////////////////////////////////////////*/

    function test_Withdraw_AtUnlockAt() public {
        uint40 unlockAt = request(100e18);
        vm.warp(unlockAt);

        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.Withdrawn(payer, address(usdc), payer, 100e18);
        assertEq(withdrawTo(payer), 100e18);

        assertEq(usdc.balanceOf(payer), 100e18);
        assertEq(avail(payer), BUDGET - 100e18);
        assertEq(escrowBalance(), BUDGET - 100e18);
        assertEq(escrow.pendingWithdrawal(payer, address(usdc)).unlockAt, 0);
    }

    function test_RevertWhen_Withdraw_OneSecondBeforeUnlock() public {
        uint40 unlockAt = request(100e18);
        vm.warp(unlockAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLocked.selector, payer, address(usdc), unlockAt
            )
        );
        withdrawTo(payer);
    }

    function test_Withdraw_ToAnotherAddress() public {
        uint40 unlockAt = request(100e18);
        vm.warp(unlockAt);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.Withdrawn(payer, address(usdc), anyone, 100e18);
        withdrawTo(anyone);
        assertEq(usdc.balanceOf(anyone), 100e18);
        assertEq(usdc.balanceOf(payer), 0);
    }

    function test_RevertWhen_Withdraw_ToZeroAddress() public {
        uint40 unlockAt = request(100e18);
        vm.warp(unlockAt);
        vm.expectRevert(Errors.TrainingEscrow_ZeroAddress.selector);
        withdrawTo(address(0));
    }

    function test_RevertWhen_Withdraw_NoRequest() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_NoWithdrawalRequested.selector, payer, address(usdc))
        );
        withdrawTo(payer);
    }

    function test_RevertWhen_Withdraw_RequestAlreadyUsed() public {
        uint40 unlockAt = request(100e18);
        vm.warp(unlockAt);
        withdrawTo(payer);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_NoWithdrawalRequested.selector, payer, address(usdc))
        );
        withdrawTo(payer);
    }

    /// Funds on a credit line (credit or reserved) are not available: a withdrawal caps at the
    /// available balance.
    function test_Withdraw_CapsAtAvailableWhenPartOnLine() public {
        uint256 onLine = 400_000e18;
        uint40 unlockAt = request(BUDGET);
        fund(onLine);
        commitRoot(ROOT, reserveFrom(payer, onLine / 2));
        vm.warp(unlockAt);

        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.Withdrawn(payer, address(usdc), payer, BUDGET - onLine);
        assertEq(withdrawTo(payer), BUDGET - onLine);

        assertEq(avail(payer), 0);
        assertEq(reservedOf(payer), onLine / 2);
        assertEq(creditOf(payer), onLine / 2);
        assertEq(escrowBalance(), onLine);
    }

    function test_Withdraw_RequestBelowAvailableLeavesRest() public {
        uint40 unlockAt = request(1e18);
        vm.warp(unlockAt);
        assertEq(withdrawTo(payer), 1e18);
        assertEq(avail(payer), BUDGET - 1e18);
    }

    function test_Withdraw_NothingAvailablePaysZeroAndConsumesRequest() public {
        uint40 unlockAt = request(BUDGET);
        fund(BUDGET);
        commitRoot(ROOT, reserveFrom(payer, BUDGET));
        vm.warp(unlockAt);

        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.Withdrawn(payer, address(usdc), payer, 0);
        assertEq(withdrawTo(payer), 0);
        assertEq(usdc.balanceOf(payer), 0);
        assertEq(escrow.pendingWithdrawal(payer, address(usdc)).unlockAt, 0);
    }

    /// Reserved funds are never withdrawable; a release returns them to the line's credit (still
    /// not withdrawable), and only a credit reduction, after its notice, makes them available.
    function test_Withdraw_LineFundsOnlyThroughCreditReduction() public {
        fund(BUDGET);
        commitRoot(ROOT, reserveFrom(payer, BUDGET));
        uint40 expiresAt = escrow.reservation(ROOT, payer, address(usdc)).expiresAt;

        // Even long after the claim window closed, an unreleased reservation stays locked.
        vm.warp(expiresAt + 30 days);
        uint40 unlockAt = request(BUDGET);
        vm.warp(unlockAt);
        assertEq(withdrawTo(payer), 0);
        assertEq(reservedOf(payer), BUDGET);
        assertEq(escrowBalance(), BUDGET);

        // A release brings the funds back to credit, not to the available balance.
        escrow.release(payer, relayer, address(usdc));
        unlockAt = request(BUDGET);
        vm.warp(unlockAt);
        assertEq(withdrawTo(payer), 0);
        assertEq(creditOf(payer), BUDGET);

        vm.prank(payer);
        escrow.requestCreditReduction(relayer, address(usdc), uint128(BUDGET));
        vm.warp(block.timestamp + NOTICE);
        vm.prank(payer);
        assertEq(escrow.reduceCredit(relayer, address(usdc)), BUDGET);
        unlockAt = request(BUDGET);
        vm.warp(unlockAt);
        assertEq(withdrawTo(payer), BUDGET);
        assertEq(escrowBalance(), 0);
    }

    function test_Withdraw_OnlyOwnFunds() public {
        usdc.mint(anyone, 10e18);
        vm.startPrank(anyone);
        usdc.approve(address(escrow), 10e18);
        escrow.deposit(address(usdc), 10e18);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        vm.warp(block.timestamp + NOTICE);
        assertEq(escrow.withdraw(address(usdc), anyone), 10e18);
        vm.stopPrank();
        assertEq(avail(payer), BUDGET);
    }

    /*//////////////////////////////////////////////////////////////
                                  LAPSE
    //////////////////////////////////////////////////////////////*/

    function test_Withdraw_OneSecondBeforeLapse() public {
        uint40 unlockAt = request(100e18);
        uint40 lapsesAt = escrow.pendingWithdrawal(payer, address(usdc)).lapsesAt;
        assertEq(lapsesAt, unlockAt + NOTICE);
        vm.warp(lapsesAt - 1);
        assertEq(withdrawTo(payer), 100e18);
        assertEq(usdc.balanceOf(payer), 100e18);
        assertEq(avail(payer), BUDGET - 100e18);
    }

    function test_RevertWhen_Withdraw_AtLapsesAt() public {
        uint40 unlockAt = request(100e18);
        uint40 lapsesAt = unlockAt + NOTICE;
        vm.warp(lapsesAt);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLapsed.selector, payer, address(usdc), lapsesAt
            )
        );
        withdrawTo(payer);
        assertEq(usdc.balanceOf(payer), 0);
        assertEq(avail(payer), BUDGET);
        // The lapsed request stays recorded (it can be cancelled or replaced).
        assertEq(escrow.pendingWithdrawal(payer, address(usdc)).unlockAt, unlockAt);
    }

    /// The lapse is fixed at request time: a later change of the notice period does not move it.
    function test_RevertWhen_Withdraw_LapseUsesNoticeAtRequest() public {
        uint40 unlockAt = request(100e18);
        uint40 lapsesAt = unlockAt + NOTICE;
        vm.prank(owner);
        escrow.setNoticePeriod(30 days);
        assertEq(escrow.pendingWithdrawal(payer, address(usdc)).lapsesAt, lapsesAt);
        vm.warp(lapsesAt);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLapsed.selector, payer, address(usdc), lapsesAt
            )
        );
        withdrawTo(payer);
    }

    function test_CancelWithdrawal_LapsedRequest() public {
        uint40 unlockAt = request(100e18);
        vm.warp(unlockAt + NOTICE + 1 days);
        vm.prank(payer);
        escrow.cancelWithdrawal(address(usdc));
        Escrow.Withdrawal memory w = escrow.pendingWithdrawal(payer, address(usdc));
        assertEq(w.unlockAt, 0);
        assertEq(w.lapsesAt, 0);
        assertEq(w.amount, 0);
    }

    /// A request cannot be kept as a standing right to leave at once: months after it unlocked,
    /// it has lapsed, so a payee settles the receipts signed meanwhile in full, and the payer has to
    /// give a fresh notice to withdraw the rest.
    function test_RevertWhen_Withdraw_UnlockedRequestLapsedLongAgo() public {
        uint256 licenseId = mintLicense();
        accept(payer, licenseId);
        uint40 unlockAt = request(type(uint128).max);
        uint40 lapsesAt = unlockAt + NOTICE;
        vm.warp(unlockAt + 90 days);

        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLapsed.selector, payer, address(usdc), lapsesAt
            )
        );
        withdrawTo(payer);
        assertEq(avail(payer), BUDGET);
        assertEq(usdc.balanceOf(payer), 0);

        vm.prank(creator);
        assertEq(escrow.settleDirect(r, sig), 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);

        uint40 freshUnlock = request(type(uint128).max);
        assertEq(freshUnlock, uint40(block.timestamp) + NOTICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLocked.selector, payer, address(usdc), freshUnlock
            )
        );
        withdrawTo(payer);
    }
}
