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
        emit ITrainingEscrow.FundsReserved(ROOT, payer, address(usdc), relayer, RESERVE, expiresAt);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.BatchCommitted(ROOT, relayer, 7, DATA_HASH, "ipfs://data");
        vm.prank(relayer);
        escrow.commitBatch(ROOT, 7, DATA_HASH, "ipfs://data", reserveFrom(payer, RESERVE));

        Escrow.Reservation memory res = escrow.reservation(ROOT, payer, address(usdc));
        assertEq(res.relayer, relayer);
        assertEq(res.committedAt, uint40(block.timestamp));
        assertEq(res.expiresAt, expiresAt);
        assertEq(res.feeBps, FEE_BPS);
        Escrow.CreditLine memory line = lineOf(payer);
        assertEq(line.credit, CREDIT - RESERVE);
        assertEq(line.reserved, RESERVE);
        assertEq(line.reservedUntil, expiresAt);
        assertEq(line.fees, 0);
        // The available balance is not touched, and moving value within a line moves no tokens.
        assertEq(avail(payer), AVAILABLE);
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

    /// A zero reservation is allowed on a non-empty line: it records the batch (so its claims
    /// can draw on the line) and extends `reservedUntil`, moving no funds.
    function test_CommitBatch_ZeroAmountOnNonEmptyLine() public {
        uint40 expiresAt = uint40(block.timestamp) + CLAIM_WINDOW;
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FundsReserved(ROOT, payer, address(usdc), relayer, 0, expiresAt);
        commitRoot(ROOT, reserveFrom(payer, 0));
        Escrow.CreditLine memory line = lineOf(payer);
        assertEq(line.credit, CREDIT);
        assertEq(line.reserved, 0);
        assertEq(line.reservedUntil, expiresAt);
        assertEq(escrow.reservation(ROOT, payer, address(usdc)).relayer, relayer);
    }

    /// A line whose credit is all reserved is not empty: a zero reservation still commits.
    function test_CommitBatch_ZeroAmountOnFullyReservedLine() public {
        commitRoot(ROOT, reserveFrom(payer, CREDIT));
        assertEq(creditOf(payer), 0);
        vm.warp(block.timestamp + 1 hours);
        bytes32 root2 = keccak256("root2");
        commitRoot(root2, reserveFrom(payer, 0));
        assertEq(lineOf(payer).reservedUntil, uint40(block.timestamp) + CLAIM_WINDOW);
        assertEq(reservedOf(payer), CREDIT);
    }

    function test_RevertWhen_CommitBatch_ZeroAmountWithoutLine() public {
        address stranger = makeAddr("stranger");
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoCreditLine.selector, payer, stranger, address(usdc)
            )
        );
        commitAs(stranger, ROOT, reserveFrom(payer, 0));
    }

    /// The available balance does not back a commit: only the line's credit does.
    function test_RevertWhen_CommitBatch_InsufficientCredit() public {
        assertGt(avail(payer), 1);
        vm.expectRevert(insufficientCredit(payer, CREDIT, CREDIT + 1));
        commitRoot(ROOT, reserveFrom(payer, CREDIT + 1));
    }

    function test_CommitBatch_WholeCredit() public {
        commitRoot(ROOT, reserveFrom(payer, CREDIT));
        assertEq(creditOf(payer), 0);
        assertEq(reservedOf(payer), CREDIT);
        assertEq(avail(payer), AVAILABLE);
    }

    function test_RevertWhen_CommitBatch_TokenNeverDeposited() public {
        MockERC20 other = new MockERC20("Other", "OTH", 6);
        Escrow.ReservationRequest[] memory list = new Escrow.ReservationRequest[](1);
        list[0] = Escrow.ReservationRequest({payer: payer, token: address(other), amount: 1});
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoCreditLine.selector, payer, relayer, address(other)
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
        assertEq(b.committedAt, a.committedAt + 1 hours);
        assertEq(reservedOf(payer), RESERVE);
        assertEq(reservedOf(payer2), 2 * RESERVE);
        assertEq(creditOf(payer), CREDIT - RESERVE);
        assertEq(creditOf(payer2), CREDIT - 2 * RESERVE);
    }

    function test_CommitBatch_SameRootSamePayerOtherToken() public {
        MockERC20 dai = new MockERC20("Dai", "DAI", 18);
        vm.prank(owner);
        escrow.setTokenAllowed(address(dai), true);
        dai.mint(payer, RESERVE);
        vm.startPrank(payer);
        dai.approve(address(escrow), RESERVE);
        escrow.deposit(address(dai), RESERVE);
        escrow.fundCredit(relayer, address(dai), uint128(RESERVE));
        vm.stopPrank();

        commitRoot(ROOT, reserveFrom(payer, RESERVE));
        Escrow.ReservationRequest[] memory list = new Escrow.ReservationRequest[](1);
        list[0] = Escrow.ReservationRequest({payer: payer, token: address(dai), amount: uint128(RESERVE)});
        commitRoot(ROOT, list);
        assertEq(escrow.creditLine(payer, relayer, address(dai)).reserved, RESERVE);
        assertEq(escrow.creditLine(payer, relayer, address(dai)).credit, 0);
        assertEq(reservedOf(payer), RESERVE);
    }

    function test_CommitBatch_MultiPayer() public {
        uint40 expiresAt = uint40(block.timestamp) + CLAIM_WINDOW;
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FundsReserved(ROOT, payer, address(usdc), relayer, RESERVE, expiresAt);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FundsReserved(ROOT, payer2, address(usdc), relayer, 3 * RESERVE, expiresAt);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.BatchCommitted(ROOT, relayer, 1, DATA_HASH, "ipfs://batch");
        commitRoot(ROOT, reserveFrom(payer, RESERVE, payer2, 3 * RESERVE));

        assertEq(reservedOf(payer), RESERVE);
        assertEq(reservedOf(payer2), 3 * RESERVE);
        assertEq(creditOf(payer), CREDIT - RESERVE);
        assertEq(creditOf(payer2), CREDIT - 3 * RESERVE);
    }

    function test_RevertWhen_CommitBatch_MultiPayerOneShort() public {
        vm.expectRevert(insufficientCredit(payer2, CREDIT, CREDIT + 1));
        commitRoot(ROOT, reserveFrom(payer, RESERVE, payer2, CREDIT + 1));
        // Atomic: the first payer's reservation was not kept.
        assertEq(creditOf(payer), CREDIT);
        assertEq(reservedOf(payer), 0);
        assertEq(escrow.reservation(ROOT, payer, address(usdc)).committedAt, 0);
    }

    /// Batches of one relayer share the line's reserved pool; `reservedUntil` is the latest expiry.
    function test_CommitBatch_SecondBatchAddsToPoolAndExtendsReservedUntil() public {
        commitRoot(ROOT, reserveFrom(payer, RESERVE));
        uint40 first = lineOf(payer).reservedUntil;
        vm.warp(block.timestamp + 1 hours);
        commitRoot(keccak256("root2"), reserveFrom(payer, 2 * RESERVE));
        assertEq(reservedOf(payer), 3 * RESERVE);
        assertEq(lineOf(payer).reservedUntil, first + 1 hours);
    }

    /// A later batch with a shorter claim window does not pull `reservedUntil` back.
    function test_CommitBatch_ShorterWindowKeepsReservedUntil() public {
        commitRoot(ROOT, reserveFrom(payer, RESERVE));
        uint40 first = lineOf(payer).reservedUntil;
        vm.prank(owner);
        escrow.setClaimWindow(1 days);
        vm.warp(block.timestamp + 1 hours);
        commitRoot(keccak256("root2"), reserveFrom(payer, RESERVE));
        assertEq(
            escrow.reservation(keccak256("root2"), payer, address(usdc)).expiresAt, block.timestamp + 1 days
        );
        assertEq(lineOf(payer).reservedUntil, first);
    }

    /// Each relayer commits against its own line only.
    function test_CommitBatch_DrawsOnCallersLineOnly() public {
        address relayer2 = makeAddr("relayer2");
        fundLine(payer, relayer2, RESERVE);
        commitAs(relayer2, ROOT, reserveFrom(payer, RESERVE));
        assertEq(escrow.creditLine(payer, relayer2, address(usdc)).reserved, RESERVE);
        assertEq(escrow.creditLine(payer, relayer2, address(usdc)).credit, 0);
        assertEq(escrow.reservation(ROOT, payer, address(usdc)).relayer, relayer2);
        assertEq(creditOf(payer), CREDIT);
        assertEq(reservedOf(payer), 0);
    }
}
