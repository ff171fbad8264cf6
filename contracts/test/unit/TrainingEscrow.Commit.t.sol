// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {MockERC20} from "../mocks/MockERC20.sol";
import {EscrowHelpers} from "./TrainingEscrow.Helpers.sol";

contract TrainingEscrowCommitTest is EscrowHelpers {
    bytes32 internal constant ROOT = keccak256("root");
    uint256 internal constant RESERVE = 1000e18;

    function setUp() public override {
        super.setUp();
        setUpPayer(payer, signerKey, BUDGET);
        setUpPayer(payer2, signerKey2, BUDGET);
    }

    function test_CommitBatch_ReservesAndEmits() public {
        uint40 expiresAt = uint40(block.timestamp) + CLAIM_WINDOW;
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FundsReserved(ROOT, payer, address(usdc), RESERVE, expiresAt);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.BatchCommitted(ROOT, relayer, 7, DATA_HASH, "ipfs://data");
        vm.prank(relayer);
        escrow.commitBatch(ROOT, 7, DATA_HASH, "ipfs://data", reserveFrom(payer, RESERVE));

        Escrow.Reservation memory res = escrow.reservation(ROOT, payer, address(usdc));
        assertEq(res.remaining, RESERVE);
        assertEq(res.committedAt, uint40(block.timestamp));
        assertEq(res.expiresAt, expiresAt);
        assertEq(res.feeBps, FEE_BPS);
        assertEq(avail(payer), BUDGET - RESERVE);
        // Moving value into a reservation moves no tokens.
        assertEq(escrowBalance(), 2 * BUDGET);
    }

    function test_CommitBatch_SnapshotsFeeAndClaimWindowInForce() public {
        vm.startPrank(owner);
        escrow.setFee(900);
        escrow.setClaimWindow(30 days);
        vm.stopPrank();
        commitRoot(ROOT, reserveFrom(payer, RESERVE));

        Escrow.Reservation memory res = escrow.reservation(ROOT, payer, address(usdc));
        assertEq(res.feeBps, 900);
        assertEq(res.expiresAt, uint40(block.timestamp) + 30 days);

        // Later changes do not touch the committed reservation.
        vm.startPrank(owner);
        escrow.setFee(0);
        escrow.setClaimWindow(1 days);
        vm.stopPrank();
        res = escrow.reservation(ROOT, payer, address(usdc));
        assertEq(res.feeBps, 900);
        assertEq(res.expiresAt, uint40(block.timestamp) + 30 days);
    }

    function test_RevertWhen_CommitBatch_ZeroRoot() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroRoot.selector);
        commitRoot(bytes32(0), reserveFrom(payer, RESERVE));
    }

    function test_RevertWhen_CommitBatch_NoReservations() public {
        vm.expectRevert(Errors.TrainingEscrow_NoReservations.selector);
        commitRoot(ROOT, new Escrow.ReservationRequest[](0));
    }

    function test_RevertWhen_CommitBatch_ZeroAmount() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroAmount.selector);
        commitRoot(ROOT, reserveFrom(payer, 0));
    }

    function test_RevertWhen_CommitBatch_InsufficientBalance() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_InsufficientBalance.selector, payer, address(usdc), BUDGET, BUDGET + 1
            )
        );
        commitRoot(ROOT, reserveFrom(payer, BUDGET + 1));
    }

    function test_CommitBatch_WholeAvailableBalance() public {
        commitRoot(ROOT, reserveFrom(payer, BUDGET));
        assertEq(avail(payer), 0);
        assertEq(remainingOf(ROOT, payer), BUDGET);
    }

    function test_RevertWhen_CommitBatch_TokenNeverDeposited() public {
        MockERC20 other = new MockERC20("Other", "OTH", 6);
        Escrow.ReservationRequest[] memory list = new Escrow.ReservationRequest[](1);
        list[0] = Escrow.ReservationRequest({payer: payer, token: address(other), amount: 1});
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_InsufficientBalance.selector, payer, address(other), 0, 1
            )
        );
        commitRoot(ROOT, list);
    }

    function test_RevertWhen_CommitBatch_AlreadyCommitted() public {
        commitRoot(ROOT, reserveFrom(payer, RESERVE));
        vm.warp(block.timestamp + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AlreadyCommitted.selector, ROOT, payer, address(usdc)
            )
        );
        commitRoot(ROOT, reserveFrom(payer, RESERVE));
    }

    function test_RevertWhen_CommitBatch_DuplicateEntryInOneBatch() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AlreadyCommitted.selector, ROOT, payer, address(usdc)
            )
        );
        commitRoot(ROOT, reserveFrom(payer, RESERVE, payer, RESERVE));
    }

    function test_CommitBatch_SameRootForTwoPayersInSeparateCommits() public {
        commitRoot(ROOT, reserveFrom(payer, RESERVE));
        vm.warp(block.timestamp + 1 hours);
        commitRoot(ROOT, reserveFrom(payer2, 2 * RESERVE));

        Escrow.Reservation memory a = escrow.reservation(ROOT, payer, address(usdc));
        Escrow.Reservation memory b = escrow.reservation(ROOT, payer2, address(usdc));
        assertEq(a.remaining, RESERVE);
        assertEq(b.remaining, 2 * RESERVE);
        assertEq(b.committedAt, a.committedAt + 1 hours);
        assertEq(avail(payer), BUDGET - RESERVE);
        assertEq(avail(payer2), BUDGET - 2 * RESERVE);
    }

    function test_CommitBatch_SameRootSamePayerOtherToken() public {
        MockERC20 dai = new MockERC20("Dai", "DAI", 18);
        vm.prank(owner);
        escrow.setTokenAllowed(address(dai), true);
        dai.mint(payer, RESERVE);
        vm.startPrank(payer);
        dai.approve(address(escrow), RESERVE);
        escrow.deposit(address(dai), RESERVE);
        vm.stopPrank();

        commitRoot(ROOT, reserveFrom(payer, RESERVE));
        Escrow.ReservationRequest[] memory list = new Escrow.ReservationRequest[](1);
        list[0] = Escrow.ReservationRequest({payer: payer, token: address(dai), amount: uint128(RESERVE)});
        commitRoot(ROOT, list);
        assertEq(escrow.reservation(ROOT, payer, address(dai)).remaining, RESERVE);
        assertEq(remainingOf(ROOT, payer), RESERVE);
    }

    function test_CommitBatch_MultiPayer() public {
        uint40 expiresAt = uint40(block.timestamp) + CLAIM_WINDOW;
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FundsReserved(ROOT, payer, address(usdc), RESERVE, expiresAt);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FundsReserved(ROOT, payer2, address(usdc), 3 * RESERVE, expiresAt);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.BatchCommitted(ROOT, relayer, 1, DATA_HASH, "ipfs://batch");
        commitRoot(ROOT, reserveFrom(payer, RESERVE, payer2, 3 * RESERVE));

        assertEq(remainingOf(ROOT, payer), RESERVE);
        assertEq(remainingOf(ROOT, payer2), 3 * RESERVE);
        assertEq(avail(payer), BUDGET - RESERVE);
        assertEq(avail(payer2), BUDGET - 3 * RESERVE);
    }

    function test_RevertWhen_CommitBatch_MultiPayerOneShort() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_InsufficientBalance.selector, payer2, address(usdc), BUDGET, BUDGET + 1
            )
        );
        commitRoot(ROOT, reserveFrom(payer, RESERVE, payer2, BUDGET + 1));
        // Atomic: the first payer's reservation was not kept.
        assertEq(avail(payer), BUDGET);
        assertEq(escrow.reservation(ROOT, payer, address(usdc)).committedAt, 0);
    }
}
