// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";
import {AttackBase} from "./AttackBase.sol";

/// @notice What a relayer operator might try: inflate usage, reserve from payers that did not
/// authorize it or beyond their balance, lock funds, commit twice, redirect payment.
contract RelayerAttackTest is AttackBase {
    uint256 internal licenseId;
    uint256 internal relayerKey = 0x5E1A7;
    address internal payerB = makeAddr("payerB");
    uint256 internal keyB = 0xB0B;

    function setUp() public override {
        super.setUp();
        licenseId = mintLicense();
        setUpPayer(payer, signerKey, BUDGET);
        accept(payer, licenseId);
    }

    /*//////////////////////////////////////////////////////////////
                            INFLATED USAGE
    //////////////////////////////////////////////////////////////*/

    /// The relayer puts in its tree a receipt the payer never signed and signs it itself.
    function test_RevertWhen_RelayerSignsUsageItself() public {
        Escrow.Receipt memory fake = receipt(payer, licenseId, RUN, 1_000_000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(relayerKey, payer, single(fake), uint128(BUDGET));

        vm.prank(relayer);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_SignerNotAuthorized.selector,
                payer,
                vm.addr(relayerKey),
                block.timestamp
            )
        );
        escrow.claim(root, claims);

        // Without a signature at all.
        claims[0].signature = "";
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        escrow.claim(root, claims);

        assertEq(escrow.reservation(root, payer, address(usdc)).remaining, BUDGET);
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
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_SignerNotAuthorized.selector, payer, recovered, block.timestamp
            )
        );
        escrow.claim(root, claims);
        assertEq(escrow.reservation(root, payer, address(usdc)).remaining, 1_000_000 * PRICE);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /*//////////////////////////////////////////////////////////////
                             RESERVATIONS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_ReservingFromPayerThatDidNotAuthorize() public {
        usdc.mint(payerB, BUDGET);
        vm.startPrank(payerB);
        usdc.approve(address(escrow), BUDGET);
        escrow.deposit(address(usdc), BUDGET);
        vm.stopPrank();

        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_RelayerNotAuthorized.selector, payerB, relayer)
        );
        commitAs(relayer, keccak256("root"), reserveOf(payerB, address(usdc), 1));

        // Mixed batch: an authorized payer does not carry an unauthorized one through.
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_RelayerNotAuthorized.selector, payerB, relayer)
        );
        commitAs(relayer, keccak256("root"), reserveOf(payer, 1, payerB, 1));

        // Another payer's relayer cannot reserve from this payer either.
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_RelayerNotAuthorized.selector, payer, anyone)
        );
        commitAs(anyone, keccak256("root"), reserveOf(payer, address(usdc), 1));

        assertEq(escrow.availableBalance(payerB, address(usdc)), BUDGET);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(escrow.reservation(keccak256("root"), payer, address(usdc)).committedAt, 0);
    }

    function test_RevertWhen_ReservingAfterDeauthorization() public {
        vm.prank(payer);
        escrow.setRelayer(relayer, false);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_RelayerNotAuthorized.selector, payer, relayer)
        );
        commitAs(relayer, keccak256("root"), reserveOf(payer, address(usdc), 1));
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
    }

    function test_RevertWhen_ReservingMoreThanAvailable() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_InsufficientBalance.selector, payer, address(usdc), BUDGET, BUDGET + 1
            )
        );
        commitAs(relayer, keccak256("root"), reserveOf(payer, address(usdc), uint128(BUDGET + 1)));

        // Two reservations in one batch that together exceed the balance (different tokens are
        // separate keys; a second root is needed for the same token).
        commitAs(relayer, keccak256("root-1"), reserveOf(payer, address(usdc), uint128(BUDGET - 10)));
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_InsufficientBalance.selector, payer, address(usdc), 10, 11
            )
        );
        commitAs(relayer, keccak256("root-2"), reserveOf(payer, address(usdc), 11));
        assertEq(escrow.availableBalance(payer, address(usdc)), 10);
        assertEq(escrow.reservation(keccak256("root-2"), payer, address(usdc)).committedAt, 0);
    }

    /// Reserving far more than the batch needs only locks the payer's funds until expiry; all of
    /// the rest comes back on release, and nobody gains.
    function test_Release_ReturnsOverReservationInFull() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(signerKey, payer, single(r), uint128(BUDGET));
        assertEq(escrow.availableBalance(payer, address(usdc)), 0);

        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        uint40 expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;
        vm.warp(expiresAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_ReservationNotExpired.selector, root, expiresAt)
        );
        escrow.release(root, payer, address(usdc));

        vm.warp(expiresAt);
        vm.prank(relayer);
        assertEq(escrow.release(root, payer, address(usdc)), BUDGET - 1000 * PRICE);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET - 1000 * PRICE);
        assertEq(usdc.balanceOf(relayer), 0);
        assertConserved(address(usdc), list1(payer), roots1(root));
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
        escrow.release(root, payer, address(usdc));
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AlreadyCommitted.selector, root, payer, address(usdc)
            )
        );
        commitAs(relayer, root, reserveOf(payer, address(usdc), 1000 * PRICE));

        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET - 1000 * PRICE);
        assertEq(escrow.reservation(other, payer, address(usdc)).committedAt, 0);
    }

    /// A second relayer, authorized only by payer B, front-runs the honest relayer's two-payer
    /// commit of root R with a 1-wei reservation for B under the same root. The honest commit then
    /// reverts as a whole (the key (R, B, token) is taken). Recovery: commit R without B (or a new
    /// root). B's receipts in R stay chargeable through later batches or direct settlement, since
    /// receipts are cumulative. Low-severity griefing, see the report.
    function test_CommitBatch_RootSquattedByRelayerOfAnotherPayer() public {
        setUpPayer(payerB, keyB, BUDGET);
        accept(payerB, licenseId);
        address squatter = makeAddr("squatter");
        vm.prank(payerB);
        escrow.setRelayer(squatter, true);

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
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_InsufficientReservation.selector, root, 1, 1000 * PRICE
            )
        );
        escrow.claim(root, one(cB));
        assertEq(escrow.settleDirect(rB, cB.signature), 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), 2 * payout);
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
        assertEq(escrow.accruedFees(address(usdc)), fee);
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
