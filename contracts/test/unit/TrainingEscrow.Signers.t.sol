// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {EscrowHelpers} from "./TrainingEscrow.Helpers.sol";

contract TrainingEscrowSignersTest is EscrowHelpers {
    uint256 internal licenseId;
    uint40 internal registeredAt;

    function setUp() public override {
        super.setUp();
        licenseId = mintLicense();
        setUpPayer(payer, signerKey, BUDGET);
        registeredAt = uint40(block.timestamp);
        accept(payer, licenseId);
    }

    function revoke() internal returns (uint40 revokedAt) {
        vm.prank(payer);
        escrow.revokeSigner(signer);
        revokedAt = escrow.signerOf(payer, signer).revokedAt;
    }

    /// @dev Commits, now, a one-receipt batch signed by `key` and returns its root and claims.
    function commitNow(uint256 key, uint64 cumulative)
        internal
        returns (bytes32 root, Escrow.Claim[] memory c)
    {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, cumulative);
        return commitBatch(key, payer, single(r), uint128(cumulative) * PRICE);
    }

    /*//////////////////////////////////////////////////////////////
                               REGISTRATION
    //////////////////////////////////////////////////////////////*/

    function test_RegisterSigner_RecordsAndEmits() public {
        vm.warp(block.timestamp + 7);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.SignerRegistered(payer, signer2);
        vm.prank(payer);
        escrow.registerSigner(signer2);

        Escrow.Signer memory key = escrow.signerOf(payer, signer2);
        assertEq(key.registeredAt, uint40(block.timestamp));
        assertEq(key.revokedAt, 0);
        // Keys are per payer.
        assertEq(escrow.signerOf(payer2, signer2).registeredAt, 0);
    }

    function test_RevertWhen_RegisterSigner_ZeroAddress() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroAddress.selector);
        vm.prank(payer);
        escrow.registerSigner(address(0));
    }

    function test_RevertWhen_RegisterSigner_AlreadyActive() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_SignerAlreadyActive.selector, payer, signer)
        );
        vm.prank(payer);
        escrow.registerSigner(signer);
    }

    function test_RegisterSigner_SameKeyForTwoPayers() public {
        vm.prank(payer2);
        escrow.registerSigner(signer);
        assertEq(escrow.signerOf(payer2, signer).registeredAt, uint40(block.timestamp));
        assertEq(escrow.signerOf(payer, signer).registeredAt, registeredAt);
    }

    /*//////////////////////////////////////////////////////////////
                                REVOCATION
    //////////////////////////////////////////////////////////////*/

    function test_RevokeSigner_SetsRevokedAtAfterNotice() public {
        vm.warp(block.timestamp + 1 hours);
        uint40 effectiveAt = uint40(block.timestamp) + NOTICE;
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.SignerRevoked(payer, signer, effectiveAt);
        vm.prank(payer);
        escrow.revokeSigner(signer);

        Escrow.Signer memory key = escrow.signerOf(payer, signer);
        assertEq(key.revokedAt, effectiveAt);
        assertEq(key.registeredAt, registeredAt);
    }

    function test_RevokeSigner_UsesNoticePeriodInForce() public {
        vm.prank(owner);
        escrow.setNoticePeriod(10 days);
        assertEq(revoke(), uint40(block.timestamp) + 10 days);
    }

    function test_RevertWhen_RevokeSigner_NotRegistered() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_SignerNotActive.selector, payer, signer2)
        );
        vm.prank(payer);
        escrow.revokeSigner(signer2);
    }

    function test_RevertWhen_RevokeSigner_AlreadyRevoked() public {
        revoke();
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_SignerNotActive.selector, payer, signer));
        vm.prank(payer);
        escrow.revokeSigner(signer);
    }

    function test_RevertWhen_RevokeSigner_OtherPayersKey() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_SignerNotActive.selector, payer2, signer)
        );
        vm.prank(payer2);
        escrow.revokeSigner(signer);
    }

    /// A revocation that took effect is final: registering the key again is refused, the key's
    /// record is unchanged and it stays invalid; the payer rotates to a new key instead.
    function test_RevertWhen_RegisterSigner_AfterRevocationTookEffect() public {
        uint40 revokedAt = revoke();
        vm.warp(revokedAt + 5 days);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_SignerRevoked.selector, payer, signer, revokedAt)
        );
        vm.prank(payer);
        escrow.registerSigner(signer);

        Escrow.Signer memory key = escrow.signerOf(payer, signer);
        assertEq(key.registeredAt, registeredAt);
        assertEq(key.revokedAt, revokedAt);

        // Still invalid now.
        (bytes32 root, Escrow.Claim[] memory c) = commitNow(signerKey, 10);
        vm.expectRevert(signerNotAuthorized(signer, block.timestamp));
        claimAs(anyone, root, c);

        // A new key works.
        vm.prank(payer);
        escrow.registerSigner(signer2);
        Escrow.Receipt memory r = receipt(payer, licenseId, keccak256("run-new-key"), 10);
        (bytes32 root2, Escrow.Claim[] memory c2) = commitBatch(signerKey2, payer, single(r), 10 * PRICE);
        assertEq(claimAs(anyone, root2, c2), 10 * PRICE);
    }

    /// The revocation took effect at `revokedAt` exactly: from then on the key cannot come back.
    function test_RevertWhen_RegisterSigner_AtRevokedAt() public {
        uint40 revokedAt = revoke();
        vm.warp(revokedAt);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_SignerRevoked.selector, payer, signer, revokedAt)
        );
        vm.prank(payer);
        escrow.registerSigner(signer);
        assertEq(escrow.signerOf(payer, signer).revokedAt, revokedAt);
    }

    function test_RegisterSigner_CancelsPendingRevocation() public {
        revoke();
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.SignerRegistered(payer, signer);
        vm.prank(payer);
        escrow.registerSigner(signer);
        assertEq(escrow.signerOf(payer, signer).revokedAt, 0);
        assertEq(escrow.signerOf(payer, signer).registeredAt, registeredAt);
    }

    /// Cancelling a pending revocation one second before it would take effect keeps the first
    /// registration time, and the key stays valid throughout: for batches committed before the
    /// cancellation, at the old revocation time and after it, and for direct settlement then.
    function test_RegisterSigner_CancelAtLastSecondKeepsKeyValidThroughout() public {
        uint40 revokedAt = revoke();
        vm.warp(revokedAt - 1);
        (bytes32 rootBefore, Escrow.Claim[] memory cBefore) = commitNow(signerKey, 100);

        vm.prank(payer);
        escrow.registerSigner(signer);
        Escrow.Signer memory key = escrow.signerOf(payer, signer);
        assertEq(key.registeredAt, registeredAt);
        assertEq(key.revokedAt, 0);

        vm.warp(revokedAt);
        Escrow.Receipt memory rAt = receipt(payer, licenseId, keccak256("run-at"), 200);
        (bytes32 rootAt, Escrow.Claim[] memory cAt) = commitBatch(signerKey, payer, single(rAt), 200 * PRICE);
        Escrow.Receipt memory rDirect = receipt(payer, licenseId, keccak256("run-direct"), 50);
        vm.prank(anyone);
        assertEq(escrow.settleDirect(rDirect, sign(signerKey, rDirect)), 50 * PRICE);

        vm.warp(revokedAt + 3 days);
        assertEq(claimAs(anyone, rootBefore, cBefore), 100 * PRICE);
        assertEq(claimAs(anyone, rootAt, cAt), 200 * PRICE);
        // And the key can be revoked again later, with a fresh notice.
        assertEq(revoke(), uint40(block.timestamp) + NOTICE);
        assertEq(escrow.signerOf(payer, signer).registeredAt, registeredAt);
    }

    /*//////////////////////////////////////////////////////////////
                          VALIDITY OF RECEIPTS
    //////////////////////////////////////////////////////////////*/

    function test_Claim_BatchCommittedBeforeRevokedAtStaysClaimable() public {
        uint40 revokedAt = revoke();
        vm.warp(revokedAt - 1);
        (bytes32 root, Escrow.Claim[] memory c) = commitNow(signerKey, 100);

        // Claimed long after the key's revocation took effect.
        vm.warp(revokedAt + 3 days);
        assertEq(claimAs(anyone, root, c), 100 * PRICE);
    }

    function test_RevertWhen_Claim_BatchCommittedAtRevokedAt() public {
        uint40 revokedAt = revoke();
        vm.warp(revokedAt);
        (bytes32 root, Escrow.Claim[] memory c) = commitNow(signerKey, 100);
        vm.expectRevert(signerNotAuthorized(signer, uint256(revokedAt)));
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_Claim_BatchCommittedAfterRevokedAt() public {
        uint40 revokedAt = revoke();
        vm.warp(revokedAt + 1 days);
        (bytes32 root, Escrow.Claim[] memory c) = commitNow(signerKey, 100);
        vm.expectRevert(signerNotAuthorized(signer, uint256(revokedAt + 1 days)));
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_Claim_BatchCommittedBeforeKeyRegistered() public {
        uint256 committedAt = block.timestamp;
        (bytes32 root, Escrow.Claim[] memory c) = commitNow(signerKey2, 100);
        vm.warp(block.timestamp + 1);
        vm.prank(payer);
        escrow.registerSigner(signer2);

        vm.expectRevert(signerNotAuthorized(signer2, committedAt));
        claimAs(anyone, root, c);
    }

    function test_Claim_BatchCommittedAtRegistrationTime() public {
        vm.prank(payer);
        escrow.registerSigner(signer2);
        (bytes32 root, Escrow.Claim[] memory c) = commitNow(signerKey2, 100);
        assertEq(claimAs(anyone, root, c), 100 * PRICE);
    }

    function test_RevertWhen_Claim_KeyOfAnotherPayer() public {
        vm.prank(payer2);
        escrow.registerSigner(signer2);
        (bytes32 root, Escrow.Claim[] memory c) = commitNow(signerKey2, 100);
        vm.expectRevert(signerNotAuthorized(signer2, block.timestamp));
        claimAs(anyone, root, c);
    }

    function test_SettleDirect_OneSecondBeforeRevokedAt() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 100);
        bytes memory sig = sign(signerKey, r);
        uint40 revokedAt = revoke();
        vm.warp(revokedAt - 1);
        vm.prank(anyone);
        assertEq(escrow.settleDirect(r, sig), 100 * PRICE);
    }

    function test_RevertWhen_SettleDirect_AtRevokedAt() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 100);
        bytes memory sig = sign(signerKey, r);
        uint40 revokedAt = revoke();
        vm.warp(revokedAt);
        vm.expectRevert(signerNotAuthorized(signer, uint256(revokedAt)));
        vm.prank(anyone);
        escrow.settleDirect(r, sig);
    }

    /// A batch committed while the key was revoked cannot be revived by registering the key
    /// again: the registration is refused and the batch stays unclaimable, its reservation intact.
    function test_RevertWhen_Claim_BatchCommittedWhileRevokedAfterReRegistrationAttempt() public {
        uint40 revokedAt = revoke();
        vm.warp(revokedAt + 1 days);
        uint256 committedAt = block.timestamp;
        (bytes32 root, Escrow.Claim[] memory c) = commitNow(signerKey, 100);
        vm.expectRevert(signerNotAuthorized(signer, committedAt));
        claimAs(anyone, root, c);

        vm.warp(block.timestamp + 1 days);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_SignerRevoked.selector, payer, signer, revokedAt)
        );
        vm.prank(payer);
        escrow.registerSigner(signer);

        vm.expectRevert(signerNotAuthorized(signer, committedAt));
        claimAs(anyone, root, c);
        assertEq(reservedOf(payer), 100 * PRICE);
        assertEq(escrow.settledSamples(escrow.usageKey(c[0].receipt)), 0);
        assertEq(usdc.balanceOf(creator), 0);
    }
}
