// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";
import {TwoPayerAttackBase} from "./AttackBase.sol";

/// @notice Merkle attacks: second preimages, proofs for other roots, superseded roots, and leaves
/// of one payer against the credit line of another.
contract MerkleAttackTest is TwoPayerAttackBase {
    function fourReceipts() internal view returns (Escrow.Receipt[] memory list) {
        list = new Escrow.Receipt[](4);
        for (uint256 i; i < 4; ++i) {
            list[i] = receipt(payer, licenseId, keccak256(abi.encode("run", i)), uint64(100 * (i + 1)));
        }
    }

    /*//////////////////////////////////////////////////////////////
                           SECOND PREIMAGE
    //////////////////////////////////////////////////////////////*/

    /// The classic second-preimage attack presents an inner node (the hash of a 64-byte pair) as
    /// if it were a leaf, with the shorter proof above it. Raw OpenZeppelin verification accepts
    /// that; the escrow cannot be fed a leaf at all: it derives the leaf from the receipt.
    function test_RevertWhen_InnerNodePresentedAsLeaf() public {
        Escrow.Receipt[] memory receipts = fourReceipts();
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, receipts, 1000 * PRICE);
        bytes32[] memory leaves = new bytes32[](4);
        for (uint256 i; i < 4; ++i) {
            leaves[i] = leafOf(receipts[i]);
        }
        bytes32 node01 = Hashes.commutativeKeccak256(leaves[0], leaves[1]);
        bytes32 node23 = Hashes.commutativeKeccak256(leaves[2], leaves[3]);
        bytes32[] memory upperProof = new bytes32[](1);
        upperProof[0] = node23;
        // The shortcut is real for a verifier that takes leaves as input.
        assertTrue(MerkleProof.verify(upperProof, root, node01));

        // With the escrow, the attacker must name a receipt; its leaf is not the inner node.
        claims[0].proof = upperProof;
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_InvalidProof.selector, root, leaves[0]));
        escrow.claim(root, one(claims[0]));
        assertEq(reservedOf(payer), 1000 * PRICE);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /// The leaf is keccak(keccak(abi.encode(digest))): the last hash takes 32 bytes, an inner node
    /// hashes 64 bytes (the sorted pair), so a leaf preimage can never be read as a pair of
    /// children, and the single hash (which a 64-byte encoding could collide with) is not the leaf.
    function test_Leaf_IsDoubleHashedAndNotAnInnerNodeOrSingleHash() public {
        Escrow.Receipt[] memory receipts = fourReceipts();
        bytes32[] memory leaves = new bytes32[](4);
        for (uint256 i; i < 4; ++i) {
            bytes32 digest = escrow.receiptDigest(receipts[i]);
            bytes memory inner = abi.encode(digest);
            assertEq(inner.length, 32);
            leaves[i] = leafOf(receipts[i]);
            assertEq(leaves[i], keccak256(bytes.concat(keccak256(inner))));
            assertTrue(leaves[i] != keccak256(inner));
        }
        // A tree of the single-hashed digests (a client that skipped the second hash) cannot be
        // claimed against, even when committed with a reservation.
        bytes32[] memory single = new bytes32[](4);
        for (uint256 i; i < 4; ++i) {
            single[i] = keccak256(abi.encode(escrow.receiptDigest(receipts[i])));
        }
        bytes32 wrongRoot = MerkleBuilder.root(single);
        commitAs(relayer, wrongRoot, reserveOf(payer, address(usdc), uint128(1000 * PRICE)));
        Escrow.Claim memory c = Escrow.Claim({
            receipt: receipts[1],
            signature: sign(signerKey, receipts[1]),
            proof: MerkleBuilder.proof(single, 1)
        });
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_InvalidProof.selector, wrongRoot, leaves[1])
        );
        escrow.claim(wrongRoot, one(c));
        assertEq(reservedOf(payer), 1000 * PRICE);
    }

    function test_RevertWhen_ProofHasExtraOrMissingElements() public {
        Escrow.Receipt[] memory receipts = fourReceipts();
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, receipts, 1000 * PRICE);
        bytes32 leaf2 = leafOf(receipts[2]);

        bytes32[] memory longer = new bytes32[](3);
        longer[0] = claims[2].proof[0];
        longer[1] = claims[2].proof[1];
        longer[2] = root;
        // A copy: `claims[2]` keeps its genuine proof.
        Escrow.Claim memory c =
            Escrow.Claim({receipt: claims[2].receipt, signature: claims[2].signature, proof: longer});
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_InvalidProof.selector, root, leaf2));
        escrow.claim(root, one(c));

        bytes32[] memory shorter = new bytes32[](1);
        shorter[0] = claims[2].proof[0];
        c.proof = shorter;
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_InvalidProof.selector, root, leaf2));
        escrow.claim(root, one(c));

        // The genuine proof pays exactly its receipt.
        assertEq(escrow.claim(root, one(claims[2])), 300 * PRICE);
        assertEq(reservedOf(payer), 700 * PRICE);
    }

    /*//////////////////////////////////////////////////////////////
                         PROOF FOR ANOTHER ROOT
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_ProofIsForAnotherRoot() public {
        Escrow.Receipt[] memory receipts = fourReceipts();
        (bytes32 rootA, Escrow.Claim[] memory claimsA) =
            commitBatch(signerKey, payer, pair(receipts[0], receipts[1]), 300 * PRICE);
        (bytes32 rootB,) = commitBatch(signerKey, payer, pair(receipts[2], receipts[3]), 700 * PRICE);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_InvalidProof.selector, rootB, leafOf(receipts[0]))
        );
        escrow.claim(rootB, one(claimsA[0]));
        assertEq(reservedOf(payer), 1000 * PRICE);
        assertEq(escrow.reservation(rootA, payer, address(usdc)).committedAt, block.timestamp);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /// Anyone can build a tree; without a relayer's commitment it has no reservation to draw from.
    function test_RevertWhen_RootWasNeverCommitted() public {
        Escrow.Receipt[] memory receipts = fourReceipts();
        (bytes32 root, Escrow.Claim[] memory claims) = buildClaims(signerKey, receipts);
        vm.prank(creator);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_UnknownReservation.selector, root, payer, address(usdc)
            )
        );
        escrow.claim(root, claims);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /*//////////////////////////////////////////////////////////////
                            SUPERSEDED ROOTS
    //////////////////////////////////////////////////////////////*/

    /// root1 holds cumulative 100, root2 (later) cumulative 300 for the same usage key (the
    /// relayer over-reserves 300 for it). Claiming root2 first pays 300; root1 then adds nothing
    /// and pays 0, and what the line kept goes back to its credit once the later batch expired.
    function test_Claim_SupersededRootAfterNewerPaysNothing() public {
        Escrow.Receipt memory r1 = receipt(payer, licenseId, RUN, 100);
        (bytes32 root1, Escrow.Claim[] memory c1) = commitBatch(signerKey, payer, single(r1), 100 * PRICE);
        vm.warp(block.timestamp + 1 hours);
        Escrow.Receipt memory r2 = receipt(payer, licenseId, RUN, 300);
        (bytes32 root2, Escrow.Claim[] memory c2) = commitBatch(signerKey, payer, single(r2), 300 * PRICE);

        assertEq(escrow.claim(root2, c2), 300 * PRICE);
        (uint256 fee300, uint256 payout300) = split(300 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout300);

        assertEq(escrow.claim(root1, c1), 0);
        assertEq(usdc.balanceOf(creator), payout300);
        assertEq(lineIn(payer, relayer, address(usdc)).fees, fee300);
        assertEq(escrow.settledSamples(escrow.usageKey(r1)), 300);
        assertEq(reservedOf(payer), 100 * PRICE);

        // The line stays locked until the later batch expires.
        vm.warp(escrow.reservation(root1, payer, address(usdc)).expiresAt);
        vm.expectRevert(notReleasable(payer, relayer));
        escrow.release(payer, relayer, address(usdc));
        vm.warp(escrow.reservation(root2, payer, address(usdc)).expiresAt);
        assertEq(escrow.release(payer, relayer, address(usdc)), 100 * PRICE);
        assertEq(creditOf(payer), CREDIT - 300 * PRICE);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertConserved(address(usdc), list1(payer));
    }

    /// The reverse order: root1 pays 100, root2 pays the increase of 200, never 300.
    function test_Claim_OlderRootFirstThenNewerPaysOnlyIncrease() public {
        Escrow.Receipt memory r1 = receipt(payer, licenseId, RUN, 100);
        (bytes32 root1, Escrow.Claim[] memory c1) = commitBatch(signerKey, payer, single(r1), 100 * PRICE);
        vm.warp(block.timestamp + 1 hours);
        Escrow.Receipt memory r2 = receipt(payer, licenseId, RUN, 300);
        (bytes32 root2, Escrow.Claim[] memory c2) = commitBatch(signerKey, payer, single(r2), 300 * PRICE);

        assertEq(escrow.claim(root1, c1), 100 * PRICE);
        assertEq(escrow.claim(root2, c2), 200 * PRICE);
        assertEq(escrow.claim(root2, c2), 0); // replay
        assertEq(escrow.claim(root1, c1), 0); // replay

        (uint256 fee100, uint256 payout100) = split(100 * PRICE, FEE_BPS);
        (uint256 fee200, uint256 payout200) = split(200 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout100 + payout200);
        assertEq(lineIn(payer, relayer, address(usdc)).fees, fee100 + fee200);
        assertEq(reservedOf(payer), 100 * PRICE);

        vm.warp(escrow.reservation(root2, payer, address(usdc)).expiresAt);
        escrow.release(payer, relayer, address(usdc));
        assertEq(creditOf(payer), CREDIT - 300 * PRICE);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertConserved(address(usdc), list1(payer));
    }

    /*//////////////////////////////////////////////////////////////
                     LEAVES OF ONE PAYER, FUNDS OF ANOTHER
    //////////////////////////////////////////////////////////////*/

    /// A batch holds payer A's receipts but reserves only from payer B: A's leaves find no
    /// reservation, because the reservation key comes from the receipt's own payer.
    function test_RevertWhen_LeafOfPayerAClaimedAgainstReservationOfPayerB() public {
        openPayer(payerB, keyB);
        accept(payerB, licenseId);
        Escrow.Receipt memory rA = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) = buildClaims(signerKey, single(rA));
        commitAs(relayer, root, reserveOf(payerB, address(usdc), uint128(1000 * PRICE)));

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_UnknownReservation.selector, root, payer, address(usdc)
            )
        );
        escrow.claim(root, claims);
        assertEq(reservedOf(payerB), 1000 * PRICE);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(creditOf(payer), CREDIT);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /// Both payers reserve in one batch; A's receipt cannot spill over into B's line when its own
    /// line's reserved funds are short.
    function test_RevertWhen_LeafOfPayerAExceedsItsReservationWhileBHasFunds() public {
        openPayer(payerB, keyB);
        accept(payerB, licenseId);
        Escrow.Receipt memory rA = receipt(payer, licenseId, RUN, 1000);
        Escrow.Receipt memory rB = receipt(payerB, licenseId, RUN, 10);
        bytes32[] memory leaves = new bytes32[](2);
        leaves[0] = leafOf(rA);
        leaves[1] = leafOf(rB);
        bytes32 root = MerkleBuilder.root(leaves);
        commitAs(relayer, root, reserveOf(payer, uint128(500 * PRICE), payerB, uint128(5000 * PRICE)));

        Escrow.Claim memory cA = Escrow.Claim({
            receipt: rA, signature: sign(signerKey, rA), proof: MerkleBuilder.proof(leaves, 0)
        });
        Escrow.Claim memory cB =
            Escrow.Claim({receipt: rB, signature: sign(keyB, rB), proof: MerkleBuilder.proof(leaves, 1)});
        vm.expectRevert(insufficientReserved(500 * PRICE, 1000 * PRICE));
        escrow.claim(root, one(cA));

        // B's receipt draws only from B's reservation.
        assertEq(escrow.claim(root, one(cB)), 10 * PRICE);
        assertEq(reservedOf(payerB), 4990 * PRICE);
        assertEq(reservedOf(payer), 500 * PRICE);
        assertEq(escrow.settledSamples(escrow.usageKey(rA)), 0);
        assertConserved(address(usdc), list2(payer, payerB));
    }
}
