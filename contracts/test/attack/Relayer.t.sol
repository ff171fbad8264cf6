// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";
import {TwoPayerAttackBase} from "./AttackBase.sol";

/// @notice What a relayer operator might try: inflate usage, reserve from payers that gave it no
/// credit line or beyond its credit, lock funds, commit twice, redirect payment.
contract RelayerAttackTest is TwoPayerAttackBase {
    uint256 internal relayerKey = 0x5E1A7;

    /*//////////////////////////////////////////////////////////////
                            INFLATED USAGE
    //////////////////////////////////////////////////////////////*/

    /// The relayer puts in its tree a receipt the payer never signed and signs it itself.
    function test_RevertWhen_RelayerSignsUsageItself() public {
        Escrow.Receipt memory fake = receipt(payer, licenseId, RUN, 1_000_000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(relayerKey, payer, single(fake), uint128(BUDGET));

        vm.prank(relayer);
        vm.expectRevert(signerNotAuthorized(vm.addr(relayerKey), block.timestamp));
        escrow.claim(root, claims);

        // Without a signature at all.
        claims[0].signature = "";
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        escrow.claim(root, claims);

        assertEq(reservedOf(payer), BUDGET);
        assertEq(escrow.settledSamples(escrow.usageKey(fake)), 0);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /// The relayer reuses the payer's genuine signature of 100 samples on a leaf claiming 1e6.
    function test_RevertWhen_RelayerInflatesASignedReceipt() public {
        Escrow.Receipt memory real = receipt(payer, licenseId, RUN, 100);
        bytes memory realSig = sign(signerKey, real);
        Escrow.Receipt memory inflated = real;
        inflated.cumulativeSamples = 1_000_000;
        (bytes32 root, Escrow.Claim[] memory claims) = buildClaims(signerKey, single(inflated));
        claims[0].signature = realSig;
        commitAs(relayer, root, reserveOf(payer, address(usdc), uint128(1_000_000 * PRICE)));

        address recovered = ECDSA.recover(escrow.receiptDigest(inflated), realSig);
        vm.expectRevert(signerNotAuthorized(recovered, block.timestamp));
        escrow.claim(root, claims);
        assertEq(reservedOf(payer), 1_000_000 * PRICE);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /*//////////////////////////////////////////////////////////////
                             RESERVATIONS
    //////////////////////////////////////////////////////////////*/

    function noLine(address who, address by) internal view returns (bytes memory) {
        return abi.encodeWithSelector(Errors.TrainingEscrow_NoCreditLine.selector, who, by, address(usdc));
    }

    /// A relayer reserves from a payer that never funded a line for it: refused, even for a zero
    /// amount, alone or next to a payer that did, and another relayer cannot use this one's line.
    function test_RevertWhen_ReservingFromPayerWithoutCreditLine() public {
        usdc.mint(payerB, BUDGET);
        vm.startPrank(payerB);
        usdc.approve(address(escrow), BUDGET);
        escrow.deposit(address(usdc), BUDGET);
        vm.stopPrank();

        vm.expectRevert(noLine(payerB, relayer));
        commitAs(relayer, keccak256("root"), reserveOf(payerB, address(usdc), 1));
        vm.expectRevert(noLine(payerB, relayer));
        commitAs(relayer, keccak256("root"), reserveOf(payerB, address(usdc), 0));

        // Mixed batch: a payer with a line does not carry one without through.
        vm.expectRevert(noLine(payerB, relayer));
        commitAs(relayer, keccak256("root"), reserveOf(payer, 1, payerB, 1));

        // Another relayer cannot reserve from the line this payer funded for `relayer`.
        vm.expectRevert(noLine(payer, anyone));
        commitAs(anyone, keccak256("root"), reserveOf(payer, address(usdc), 1));

        assertEq(escrow.availableBalance(payerB, address(usdc)), BUDGET);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(creditOf(payer), CREDIT);
        assertEq(escrow.reservation(keccak256("root"), payer, address(usdc)).committedAt, 0);
    }

    /// The payer takes all of its credit back (after the notice): the relayer can no longer
    /// reserve, not even zero. Before the notice ends it still can.
    function test_RevertWhen_ReservingAfterCreditReducedToZero() public {
        vm.prank(payer);
        escrow.requestCreditReduction(relayer, address(usdc), uint128(CREDIT));
        vm.warp(block.timestamp + NOTICE - 1);
        commitAs(relayer, keccak256("in-notice"), reserveOf(payer, address(usdc), 0));
        vm.warp(block.timestamp + 1);
        vm.prank(payer);
        assertEq(escrow.reduceCredit(relayer, address(usdc)), CREDIT);

        vm.expectRevert(noLine(payer, relayer));
        commitAs(relayer, keccak256("root"), reserveOf(payer, address(usdc), 0));
        vm.expectRevert(noLine(payer, relayer));
        commitAs(relayer, keccak256("root"), reserveOf(payer, address(usdc), 1));
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET + CREDIT);
        assertConserved(address(usdc), list1(payer));
    }

    /// A relayer can reserve its line's credit and no more: never the payer's available balance,
    /// never another relayer's line.
    function test_RevertWhen_ReservingMoreThanCredit() public {
        address other = makeAddr("other-relayer");
        topUpLine(payer, other, address(usdc), BUDGET);
        vm.expectRevert(insufficientCredit(payer, CREDIT, CREDIT + 1));
        commitAs(relayer, keccak256("root"), reserveOf(payer, address(usdc), uint128(CREDIT + 1)));

        // Two batches that together exceed the credit.
        commitAs(relayer, keccak256("root-1"), reserveOf(payer, address(usdc), uint128(CREDIT - 10)));
        vm.expectRevert(insufficientCredit(payer, 10, 11));
        commitAs(relayer, keccak256("root-2"), reserveOf(payer, address(usdc), 11));
        assertEq(creditOf(payer), 10);
        assertEq(reservedOf(payer), CREDIT - 10);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(lineIn(payer, other, address(usdc)).credit, BUDGET);
        assertEq(escrow.reservation(keccak256("root-2"), payer, address(usdc)).committedAt, 0);
        assertConserved(address(usdc), list1(payer), list2(relayer, other));
    }

    /// Reserving far more than the batch needs only locks the line until the batch expires; all of
    /// the rest comes back to the line's credit on release, and nobody gains.
    function test_Release_ReturnsOverReservationInFull() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(signerKey, payer, single(r), uint128(CREDIT));
        assertEq(creditOf(payer), 0);

        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        uint40 expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;
        assertEq(lineIn(payer, relayer, address(usdc)).reservedUntil, expiresAt);
        vm.warp(expiresAt - 1);
        vm.expectRevert(notReleasable(payer, relayer));
        escrow.release(payer, relayer, address(usdc));

        vm.warp(expiresAt);
        (uint256 fee,) = split(1000 * PRICE, FEE_BPS);
        vm.prank(relayer);
        assertEq(escrow.release(payer, relayer, address(usdc)), CREDIT - 1000 * PRICE);
        Escrow.CreditLine memory line = lineIn(payer, relayer, address(usdc));
        assertEq(line.credit, CREDIT - 1000 * PRICE);
        assertEq(line.reserved, 0);
        assertEq(line.fees, 0);
        assertEq(line.reservedUntil, 0);
        assertEq(escrow.accruedFees(address(usdc)), fee);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(usdc.balanceOf(relayer), 0);
        assertConserved(address(usdc), list1(payer));
    }

    function test_RevertWhen_CommittingSameRootPayerTokenTwice() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AlreadyCommitted.selector, root, payer, address(usdc)
            )
        );
        commitAs(relayer, root, reserveOf(payer, address(usdc), 1000 * PRICE));

        // Twice in one batch.
        bytes32 other = keccak256("other-root");
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AlreadyCommitted.selector, other, payer, address(usdc)
            )
        );
        commitAs(relayer, other, reserveOf(payer, 1, payer, 1));

        // Even after the reservation was drained and released.
        escrow.claim(root, claims);
        vm.warp(escrow.reservation(root, payer, address(usdc)).expiresAt);
        escrow.release(payer, relayer, address(usdc));
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AlreadyCommitted.selector, root, payer, address(usdc)
            )
        );
        commitAs(relayer, root, reserveOf(payer, address(usdc), 1000 * PRICE));

        assertEq(creditOf(payer), CREDIT - 1000 * PRICE);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(escrow.reservation(other, payer, address(usdc)).committedAt, 0);
    }

    /// A second relayer, with a line only from payer B, front-runs the honest relayer's two-payer
    /// commit of root R with a 1-wei reservation for B under the same root. The honest commit then
    /// reverts as a whole (the key (R, B, token) is taken). Recovery: commit R without B (or a new
    /// root). B's receipts in R stay chargeable through later batches or direct settlement, since
    /// receipts are cumulative; claims of B's leaves in R draw on the squatter's line for B (1 wei),
    /// never on the honest relayer's. Low-severity griefing, see the report.
    function test_CommitBatch_RootSquattedByRelayerOfAnotherPayer() public {
        openPayer(payerB, keyB);
        accept(payerB, licenseId);
        address squatter = makeAddr("squatter");
        topUpLine(payerB, squatter, address(usdc), 1);

        Escrow.Receipt memory rA = receipt(payer, licenseId, RUN, 1000);
        Escrow.Receipt memory rB = receipt(payerB, licenseId, RUN, 1000);
        bytes32[] memory leaves = new bytes32[](2);
        leaves[0] = leafOf(rA);
        leaves[1] = leafOf(rB);
        bytes32 root = MerkleBuilder.root(leaves);

        commitAs(squatter, root, reserveOf(payerB, address(usdc), 1));
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AlreadyCommitted.selector, root, payerB, address(usdc)
            )
        );
        commitAs(relayer, root, reserveOf(payer, uint128(1000 * PRICE), payerB, uint128(1000 * PRICE)));
        assertEq(escrow.reservation(root, payer, address(usdc)).committedAt, 0);

        // The squatter cannot touch A, and A's part of the batch still goes through.
        commitAs(relayer, root, reserveOf(payer, address(usdc), uint128(1000 * PRICE)));
        Escrow.Claim memory cA = Escrow.Claim({
            receipt: rA, signature: sign(signerKey, rA), proof: MerkleBuilder.proof(leaves, 0)
        });
        assertEq(escrow.claim(root, one(cA)), 1000 * PRICE);

        // B's receipt cannot be paid from the 1-wei squat, but settles directly from B's balance.
        Escrow.Claim memory cB =
            Escrow.Claim({receipt: rB, signature: sign(keyB, rB), proof: MerkleBuilder.proof(leaves, 1)});
        vm.expectRevert(insufficientReserved(payerB, squatter, 1, 1000 * PRICE));
        escrow.claim(root, one(cB));
        assertEq(escrow.settleDirect(rB, cB.signature), 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), 2 * payout);
        assertEq(creditOf(payerB), CREDIT);
        assertConserved(address(usdc), list2(payer, payerB), list2(relayer, squatter));
    }

    /*//////////////////////////////////////////////////////////////
                          REDIRECTING PAYMENT
    //////////////////////////////////////////////////////////////*/

    /// The relayer claims the batch itself: the license holder is paid, the relayer gets nothing.
    /// There is no payee argument to redirect.
    function test_Claim_ByRelayerPaysLicenseHolderOnly() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        vm.prank(relayer);
        escrow.claim(root, claims);
        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(usdc.balanceOf(relayer), 0);
        // The fee waits in the line until anyone sweeps it to the platform.
        assertEq(lineIn(payer, relayer, address(usdc)).fees, fee);
        assertEq(escrow.accruedFees(address(usdc)), 0);
        vm.prank(relayer);
        assertEq(escrow.sweepFees(payer, relayer, address(usdc)), fee);
        assertEq(escrow.accruedFees(address(usdc)), fee);
        assertEq(usdc.balanceOf(relayer), 0);
        assertConserved(address(usdc), list1(payer));
    }

    /// The payee is whoever holds the license at claim time, never someone the relayer names.
    function test_Claim_PaysCurrentHolderAfterTransfer() public {
        address buyer = makeAddr("buyer");
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        vm.prank(creator);
        nft.transferFrom(creator, buyer, licenseId);

        vm.prank(relayer);
        escrow.claim(root, claims);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(buyer), payout);
        assertEq(usdc.balanceOf(creator), 0);
        assertEq(usdc.balanceOf(relayer), 0);
    }
}
