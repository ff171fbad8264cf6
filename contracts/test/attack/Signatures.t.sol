// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

import {TrainingEscrow} from "../../src/TrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {TwoPayerAttackBase} from "./AttackBase.sol";

/// @notice Signature attacks: cross-chain and cross-contract replay, malleability, malformed
/// signatures, forged and foreign keys, tampering with signed fields, revoked keys.
contract SignaturesAttackTest is TwoPayerAttackBase {
    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    /// @dev The escrow's state for `r` is untouched: nothing settled, paid or charged.
    function assertNothingSettled(Escrow.Receipt memory r) internal view {
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 0);
        assertEq(usdc.balanceOf(creator), 0);
        assertEq(escrow.accruedFees(address(usdc)), 0);
        assertEq(lineIn(payer, relayer, address(usdc)).fees, 0);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
    }

    function digestFor(Escrow.Receipt memory r, uint256 chainId, address verifyingContract)
        internal
        view
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                _DOMAIN_TYPEHASH,
                keccak256("Fairtrain TrainingEscrow"),
                keccak256("1"),
                chainId,
                verifyingContract
            )
        );
        bytes32 structHash = receiptStructHash(escrow.RECEIPT_TYPEHASH(), r);
        return MessageHashUtils.toTypedDataHash(domain, structHash);
    }

    /*//////////////////////////////////////////////////////////////
                           CROSS-CHAIN REPLAY
    //////////////////////////////////////////////////////////////*/

    /// A receipt signed here, replayed on a fork of the same deployment with another chain id.
    function test_RevertWhen_SignatureReplayedOnAnotherChain_Direct() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        bytes32 digestHere = escrow.receiptDigest(r);

        uint256 home = block.chainid;
        vm.chainId(home + 1);
        bytes32 digestThere = escrow.receiptDigest(r);
        assertTrue(digestThere != digestHere, "domain must bind the chain id");
        address recovered = ECDSA.recover(digestThere, sig);
        assertTrue(recovered != signer);

        vm.expectRevert(signerNotAuthorized(recovered, block.timestamp));
        escrow.settleDirect(r, sig);
        assertNothingSettled(r);

        // Control: the very same signature is good on its own chain.
        vm.chainId(home);
        assertEq(escrow.settleDirect(r, sig), 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
    }

    /// Replay through a batch: the relayer on the other chain builds its tree from that chain's
    /// leaves and reuses the home-chain signatures.
    function test_RevertWhen_SignatureReplayedOnAnotherChain_Batch() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory homeSig = sign(signerKey, r);

        vm.chainId(block.chainid + 7);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        claims[0].signature = homeSig;
        address recovered = ECDSA.recover(escrow.receiptDigest(r), homeSig);
        assertTrue(recovered != signer);

        vm.expectRevert(signerNotAuthorized(recovered, block.timestamp));
        escrow.claim(root, claims);
        assertEq(reservedOf(payer), 1000 * PRICE);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /// A signature over the digest of another chain id (computed off-chain, e.g. by a client that
    /// got the domain wrong or an attacker replaying mainnet receipts on a testnet deployment).
    function test_RevertWhen_DigestComputedForAnotherChainId() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        // Our digest computation matches the contract's for the real chain id...
        assertEq(digestFor(r, block.chainid, address(escrow)), escrow.receiptDigest(r));
        // ...and a signature for chain 1 recovers to an unrelated key here.
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(signerKey, digestFor(r, 1, address(escrow)));
        bytes memory sig = abi.encodePacked(rr, s, v);
        address recovered = ECDSA.recover(escrow.receiptDigest(r), sig);
        assertTrue(recovered != signer);

        vm.expectRevert(signerNotAuthorized(recovered, block.timestamp));
        escrow.settleDirect(r, sig);
        assertNothingSettled(r);
    }

    /*//////////////////////////////////////////////////////////////
                         CROSS-CONTRACT REPLAY
    //////////////////////////////////////////////////////////////*/

    function deploySecondEscrow() internal returns (TrainingEscrow escrowB) {
        escrowB = new TrainingEscrow(nft, owner, FEE_BPS, NOTICE, CLAIM_WINDOW);
        vm.prank(owner);
        escrowB.setTokenAllowed(address(usdc), true);
        usdc.mint(payer, BUDGET + CREDIT);
        (uint64 termsId,) = nft.currentTerms(licenseId);
        vm.startPrank(payer);
        usdc.approve(address(escrowB), BUDGET + CREDIT);
        escrowB.deposit(address(usdc), BUDGET + CREDIT);
        escrowB.registerSigner(signer);
        escrowB.fundCredit(relayer, address(usdc), uint128(CREDIT));
        escrowB.acceptTerms(licenseId, termsId);
        vm.stopPrank();
        // Wait until the acceptance on B is chargeable, so that only the signature can fail there.
        vm.warp(escrowB.acceptance(payer, licenseId, termsId).chargeableFrom);
    }

    function test_RevertWhen_SignatureForEscrowAReplayedOnEscrowB_Direct() public {
        TrainingEscrow escrowB = deploySecondEscrow();
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sigForA = sign(signerKey, r);
        assertTrue(escrowB.receiptDigest(r) != escrow.receiptDigest(r));
        address recovered = ECDSA.recover(escrowB.receiptDigest(r), sigForA);
        assertTrue(recovered != signer);

        vm.expectRevert(signerNotAuthorized(recovered, block.timestamp));
        escrowB.settleDirect(r, sigForA);
        assertEq(escrowB.settledSamples(escrowB.usageKey(r)), 0);
        assertEq(escrowB.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(usdc.balanceOf(creator), 0);

        // Control: on escrow A it pays, once.
        assertEq(escrow.settleDirect(r, sigForA), 1000 * PRICE);
        assertEq(escrowB.availableBalance(payer, address(usdc)), BUDGET);
    }

    function test_RevertWhen_SignatureForEscrowAReplayedOnEscrowB_Batch() public {
        TrainingEscrow escrowB = deploySecondEscrow();
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sigForA = sign(signerKey, r);

        // Root of escrow A's leaf committed on B: the leaf B computes is different.
        bytes32 leafA = escrow.receiptLeaf(r);
        bytes32 leafB = escrowB.receiptLeaf(r);
        assertTrue(leafA != leafB);
        Escrow.ReservationRequest[] memory res = reserveOf(payer, address(usdc), uint128(1000 * PRICE));
        vm.prank(relayer);
        escrowB.commitBatch(leafA, 1, bytes32(0), "", res);
        Escrow.Claim[] memory claims = new Escrow.Claim[](1);
        claims[0] = Escrow.Claim({receipt: r, signature: sigForA, proof: new bytes32[](0)});
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_InvalidProof.selector, leafA, leafB));
        escrowB.claim(leafA, claims);

        // Root of escrow B's own leaf, with A's signature: recovers to an unrelated key.
        vm.prank(relayer);
        escrowB.commitBatch(leafB, 1, bytes32(0), "", res);
        address recovered = ECDSA.recover(escrowB.receiptDigest(r), sigForA);
        vm.expectRevert(signerNotAuthorized(recovered, block.timestamp));
        escrowB.claim(leafB, claims);

        assertEq(escrowB.creditLine(payer, relayer, address(usdc)).reserved, 2000 * PRICE);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /*//////////////////////////////////////////////////////////////
                       MALLEABLE AND MALFORMED
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_SignatureIsMalleated_HighS() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes32 digest = escrow.receiptDigest(r);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(signerKey, digest);
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 flippedV = v == 27 ? 28 : 27;
        // The malleated signature is a genuine signature of the same key for raw ecrecover...
        assertEq(ecrecover(digest, flippedV, rr, highS), signer);
        bytes memory malleated = abi.encodePacked(rr, highS, flippedV);

        // ...but the escrow rejects it, directly and in a batch.
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        escrow.settleDirect(r, malleated);

        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        claims[0].signature = malleated;
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        escrow.claim(root, claims);

        assertEq(escrow.settledSamples(escrow.usageKey(r)), 0);
        assertEq(reservedOf(payer), 1000 * PRICE);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /// EIP-2098 compact signatures are valid signatures of the key, but the escrow takes only the
    /// 65-byte form, so the same receipt has a single accepted encoding.
    function test_RevertWhen_SignatureIsCompact64Bytes() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes32 digest = escrow.receiptDigest(r);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(signerKey, digest);
        bytes32 vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
        assertEq(ECDSA.recover(digest, rr, vs), signer);

        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        escrow.settleDirect(r, abi.encodePacked(rr, vs));
        assertNothingSettled(r);
    }

    function test_RevertWhen_SignatureHasWrongLength() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory good = sign(signerKey, r);
        bytes[] memory bad = new bytes[](5);
        bad[0] = "";
        bad[1] = hex"1b";
        bad[2] = bytes.concat(good, hex"00"); // 66 bytes: a trailing byte
        bad[3] = bytes.concat(good, good); // 130 bytes
        bytes memory truncated = new bytes(64);
        for (uint256 i; i < 64; ++i) {
            truncated[i] = good[i];
        }
        bad[4] = truncated; // 64 bytes: r and s without v
        for (uint256 i; i < bad.length; ++i) {
            vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
            escrow.settleDirect(r, bad[i]);
        }
        assertNothingSettled(r);
    }

    function test_RevertWhen_SignatureHasInvalidVOrZeroR() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(signerKey, escrow.receiptDigest(r));
        // v as 0/1 (the "raw" recovery id, as some libraries emit) or garbage.
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        escrow.settleDirect(r, abi.encodePacked(rr, s, v - 27));
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        escrow.settleDirect(r, abi.encodePacked(rr, s, uint8(29)));
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        escrow.settleDirect(r, abi.encodePacked(bytes32(0), s, v));
        assertNothingSettled(r);
    }

    /*//////////////////////////////////////////////////////////////
                        FORGED AND FOREIGN KEYS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_SignedByUnregisteredKey() public {
        uint256 forgerKey = 0xBAD;
        address forger = vm.addr(forgerKey);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1_000_000);
        bytes memory forged = sign(forgerKey, r);

        vm.expectRevert(signerNotAuthorized(forger, block.timestamp));
        escrow.settleDirect(r, forged);

        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(forgerKey, payer, single(r), 1000 * PRICE);
        vm.expectRevert(signerNotAuthorized(forger, block.timestamp));
        escrow.claim(root, claims);
        assertEq(reservedOf(payer), 1000 * PRICE);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 0);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /// Payer A's registered key signs a receipt that names payer B as the one who pays.
    function test_RevertWhen_KeyOfPayerAUsedForReceiptOfPayerB() public {
        openPayer(payerB, keyB);
        accept(payerB, licenseId);
        Escrow.Receipt memory r = receipt(payerB, licenseId, RUN, 1000);
        bytes memory sigOfA = sign(signerKey, r);

        vm.expectRevert(signerNotAuthorized(payerB, signer, block.timestamp));
        escrow.settleDirect(r, sigOfA);

        // Same in a batch reserving from B.
        (bytes32 root, Escrow.Claim[] memory claims) = buildClaims(signerKey, single(r));
        commitAs(relayer, root, reserveOf(payerB, address(usdc), uint128(1000 * PRICE)));
        vm.expectRevert(signerNotAuthorized(payerB, signer, block.timestamp));
        escrow.claim(root, claims);

        assertEq(escrow.availableBalance(payerB, address(usdc)), BUDGET);
        assertEq(reservedOf(payerB), 1000 * PRICE);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /// Rewriting the payer field of A's signed receipt to B changes the digest: the signature no
    /// longer recovers to A's key, let alone a key of B.
    function test_RevertWhen_PayerFieldRewritten() public {
        openPayer(payerB, keyB);
        accept(payerB, licenseId);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        r.payer = payerB;
        address recovered = ECDSA.recover(escrow.receiptDigest(r), sig);
        assertTrue(recovered != signer && recovered != vm.addr(keyB));

        vm.expectRevert(signerNotAuthorized(payerB, recovered, block.timestamp));
        escrow.settleDirect(r, sig);
        assertEq(escrow.availableBalance(payerB, address(usdc)), BUDGET);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /// The payee inflates the cumulative count of a receipt it received.
    function test_RevertWhen_PayeeInflatesSignedCumulative() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);

        Escrow.Receipt memory inflated = r;
        inflated.cumulativeSamples = 1_000_000;
        address recovered = ECDSA.recover(escrow.receiptDigest(inflated), sig);
        vm.prank(creator);
        vm.expectRevert(signerNotAuthorized(recovered, block.timestamp));
        escrow.settleDirect(inflated, sig);

        claims[0].receipt = inflated;
        vm.prank(creator);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_InvalidProof.selector, root, escrow.receiptLeaf(inflated)
            )
        );
        escrow.claim(root, claims);

        assertEq(usdc.balanceOf(creator), 0);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(reservedOf(payer), 1000 * PRICE);
    }

    /*//////////////////////////////////////////////////////////////
                              REVOKED KEY
    //////////////////////////////////////////////////////////////*/

    /// A receipt signed while the key was valid cannot be settled directly, nor committed, once
    /// the revocation took effect.
    function test_RevertWhen_KeyRevokedAfterNotice() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        vm.prank(payer);
        escrow.revokeSigner(signer);
        uint40 effectiveAt = uint40(block.timestamp) + NOTICE;
        assertEq(escrow.signerOf(payer, signer).revokedAt, effectiveAt);

        vm.warp(effectiveAt);
        vm.expectRevert(signerNotAuthorized(signer, effectiveAt));
        escrow.settleDirect(r, sig);

        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        vm.expectRevert(signerNotAuthorized(signer, effectiveAt));
        escrow.claim(root, claims);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 0);
        assertEq(usdc.balanceOf(creator), 0);
    }

    /// Re-registering a key whose revocation took effect, to revive a batch committed while it was
    /// revoked (and unclaimable then), is refused: a revocation that took effect is final. The
    /// batch stays unclaimable, its reservation untouched, and the key's record unchanged; the
    /// payer must rotate to a new key.
    function test_RevertWhen_ReRegisteringRevokedKeyToReviveBatchCommittedWhileRevoked() public {
        uint40 effectiveAt = uint40(block.timestamp) + NOTICE;
        vm.prank(payer);
        escrow.revokeSigner(signer);
        vm.warp(effectiveAt + 1 hours);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        uint256 committedAt = block.timestamp;
        vm.expectRevert(signerNotAuthorized(signer, committedAt));
        escrow.claim(root, claims);
        Escrow.Signer memory before = escrow.signerOf(payer, signer);

        vm.warp(block.timestamp + 1 hours);
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_SignerRevoked.selector, payer, signer, effectiveAt)
        );
        escrow.registerSigner(signer);

        assertEq(abi.encode(escrow.signerOf(payer, signer)), abi.encode(before));
        assertEq(escrow.signerOf(payer, signer).revokedAt, effectiveAt);
        vm.expectRevert(signerNotAuthorized(signer, committedAt));
        escrow.claim(root, claims);
        assertEq(reservedOf(payer), 1000 * PRICE);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 0);
        assertEq(usdc.balanceOf(creator), 0);
    }
}
