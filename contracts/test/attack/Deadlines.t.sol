// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {LicensedAttackBase} from "./AttackBase.sol";

/// @notice Off-by-ones at every deadline: one second before and at each boundary.
contract DeadlinesAttackTest is LicensedAttackBase {
    /*//////////////////////////////////////////////////////////////
                          WITHDRAWAL UNLOCK
    //////////////////////////////////////////////////////////////*/

    function test_Withdraw_UnlockAtBoundary() public {
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), 1000);
        uint40 unlockAt = uint40(block.timestamp) + NOTICE;

        vm.warp(unlockAt - 1);
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLocked.selector, payer, address(usdc), unlockAt
            )
        );
        escrow.withdraw(address(usdc), payer);
        assertEq(usdc.balanceOf(payer), 0);

        vm.warp(unlockAt);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), 1000);
        assertEq(usdc.balanceOf(payer), 1000);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET - 1000);
    }

    /// An unlocked request is executable until one second before `lapsesAt`, not at it.
    function test_Withdraw_LapseBoundary() public {
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), 1000);
        uint40 lapsesAt = uint40(block.timestamp) + 2 * NOTICE;
        assertEq(escrow.pendingWithdrawal(payer, address(usdc)).lapsesAt, lapsesAt);
        uint256 snapshot = vm.snapshotState();

        vm.warp(lapsesAt - 1);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), 1000);
        assertEq(usdc.balanceOf(payer), 1000);

        vm.revertToState(snapshot);
        vm.warp(lapsesAt);
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLapsed.selector, payer, address(usdc), lapsesAt
            )
        );
        escrow.withdraw(address(usdc), payer);
        assertEq(usdc.balanceOf(payer), 0);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
    }

    /// A release never touches withdrawals (issue 12 item 7b): a batch of the payer's line
    /// expires exactly when its withdrawal unlocks; anyone releases it (the 1 wei it reserved goes
    /// back to the line's credit, not to the available balance) and the request keeps its
    /// boundaries: executable from the unlock, in the same block, lapsed one notice later.
    function test_Release_AtWithdrawalUnlockLeavesItsBoundariesAlone() public {
        (bytes32 root,) = commitBatch(signerKey, payer, single(receipt(payer, licenseId, RUN, 1)), 1);
        uint40 expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;
        vm.warp(expiresAt - NOTICE);
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        Escrow.Withdrawal memory request = escrow.pendingWithdrawal(payer, address(usdc));
        assertEq(request.unlockAt, expiresAt);

        vm.warp(expiresAt);
        vm.prank(anyone);
        assertEq(escrow.release(payer, relayer, address(usdc)), 1);
        assertEq(abi.encode(escrow.pendingWithdrawal(payer, address(usdc))), abi.encode(request));
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(creditOf(payer), CREDIT);

        uint256 snapshot = vm.snapshotState();
        vm.warp(request.lapsesAt);
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLapsed.selector, payer, address(usdc), request.lapsesAt
            )
        );
        escrow.withdraw(address(usdc), payer);
        vm.revertToState(snapshot);

        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET);
        assertConserved(address(usdc), list1(payer));
    }

    /*//////////////////////////////////////////////////////////////
                        ACCEPTANCE MATURITY
    //////////////////////////////////////////////////////////////*/

    function acceptNow() internal returns (uint256 id, uint64 termsId, uint40 chargeableFrom) {
        id = mintLicense(creator, defaultTerms(), keccak256("manifest-fresh"));
        (termsId,) = nft.currentTerms(id);
        vm.prank(payer);
        escrow.acceptTerms(id, termsId);
        chargeableFrom = uint40(block.timestamp) + NOTICE;
        assertEq(escrow.acceptance(payer, id, termsId).chargeableFrom, chargeableFrom);
    }

    function test_SettleDirect_AcceptanceChargeableBoundary() public {
        (uint256 id, uint64 termsId, uint40 chargeableFrom) = acceptNow();
        Escrow.Receipt memory r = receipt(payer, id, RUN, 1000);
        bytes memory sig = sign(signerKey, r);

        vm.warp(chargeableFrom - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AcceptanceNotChargeable.selector, payer, id, termsId, chargeableFrom
            )
        );
        escrow.settleDirect(r, sig);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);

        vm.warp(chargeableFrom);
        assertEq(escrow.settleDirect(r, sig), 1000 * PRICE);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET - 1000 * PRICE);
    }

    /// A batch committed one second before the acceptance is chargeable never pays for it (even
    /// claimed later); one committed at `chargeableFrom` does.
    function test_Claim_AcceptanceChargeableBoundaryAtCommitTime() public {
        (uint256 id, uint64 termsId, uint40 chargeableFrom) = acceptNow();
        Escrow.Receipt memory rEarly = receipt(payer, id, RUN, 1000);
        Escrow.Receipt memory rAt = receipt(payer, id, RUN_2, 1000);

        vm.warp(chargeableFrom - 1);
        (bytes32 rootEarly, Escrow.Claim[] memory claimsEarly) =
            commitBatch(signerKey, payer, single(rEarly), 1000 * PRICE);
        vm.warp(chargeableFrom);
        (bytes32 rootAt, Escrow.Claim[] memory claimsAt) =
            commitBatch(signerKey, payer, single(rAt), 1000 * PRICE);

        vm.warp(chargeableFrom + 1 days);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AcceptanceNotChargeable.selector, payer, id, termsId, chargeableFrom
            )
        );
        escrow.claim(rootEarly, claimsEarly);
        assertEq(escrow.claim(rootAt, claimsAt), 1000 * PRICE);

        assertEq(reservedOf(payer), 1000 * PRICE);
        assertEq(escrow.settledSamples(escrow.usageKey(rEarly)), 0);
    }

    /*//////////////////////////////////////////////////////////////
                           KEY REVOCATION
    //////////////////////////////////////////////////////////////*/

    function revokeNow() internal returns (uint40 effectiveAt) {
        vm.prank(payer);
        escrow.revokeSigner(signer);
        effectiveAt = uint40(block.timestamp) + NOTICE;
    }

    /// A batch committed one second before the revocation takes effect stays claimable (even
    /// after it); one committed at the effective time is not.
    function test_Claim_KeyRevocationBoundaryAtCommitTime() public {
        Escrow.Receipt memory rOk = receipt(payer, licenseId, RUN, 1000);
        Escrow.Receipt memory rLate = receipt(payer, licenseId, RUN_2, 1000);
        uint40 effectiveAt = revokeNow();

        vm.warp(effectiveAt - 1);
        (bytes32 rootOk, Escrow.Claim[] memory claimsOk) =
            commitBatch(signerKey, payer, single(rOk), 1000 * PRICE);
        vm.warp(effectiveAt);
        (bytes32 rootLate, Escrow.Claim[] memory claimsLate) =
            commitBatch(signerKey, payer, single(rLate), 1000 * PRICE);

        vm.expectRevert(signerNotAuthorized(signer, effectiveAt));
        escrow.claim(rootLate, claimsLate);
        assertEq(escrow.claim(rootOk, claimsOk), 1000 * PRICE);

        assertEq(reservedOf(payer), 1000 * PRICE);
        assertEq(escrow.settledSamples(escrow.usageKey(rLate)), 0);
    }

    function test_SettleDirect_KeyRevocationBoundary() public {
        Escrow.Receipt memory r1 = receipt(payer, licenseId, RUN, 1000);
        Escrow.Receipt memory r2 = receipt(payer, licenseId, RUN_2, 1000);
        bytes memory sig1 = sign(signerKey, r1);
        bytes memory sig2 = sign(signerKey, r2);
        uint40 effectiveAt = revokeNow();

        vm.warp(effectiveAt - 1);
        assertEq(escrow.settleDirect(r1, sig1), 1000 * PRICE);
        vm.warp(effectiveAt);
        vm.expectRevert(signerNotAuthorized(signer, effectiveAt));
        escrow.settleDirect(r2, sig2);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET - 1000 * PRICE);
        assertEq(escrow.settledSamples(escrow.usageKey(r2)), 0);
    }

    /// Registering the key again one second before its revocation takes effect cancels the
    /// revocation; at the effective time it is refused for good.
    function test_RegisterSigner_RevocationBoundary() public {
        uint40 effectiveAt = revokeNow();
        uint256 snapshot = vm.snapshotState();

        vm.warp(effectiveAt);
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_SignerRevoked.selector, payer, signer, effectiveAt)
        );
        escrow.registerSigner(signer);
        assertEq(escrow.signerOf(payer, signer).revokedAt, effectiveAt);

        vm.revertToState(snapshot);
        vm.warp(effectiveAt - 1);
        vm.prank(payer);
        escrow.registerSigner(signer);
        assertEq(escrow.signerOf(payer, signer).revokedAt, 0);
        vm.warp(effectiveAt);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 10);
        assertEq(escrow.settleDirect(r, sign(signerKey, r)), 10 * PRICE);
    }

    /// The other end of the key's window: a batch committed before the key was registered is not
    /// claimable with it.
    function test_Claim_KeyRegistrationBoundaryAtCommitTime() public {
        uint256 lateKey = 0x1A7E;
        address late = vm.addr(lateKey);
        Escrow.Receipt memory rEarly = receipt(payer, licenseId, RUN, 100);
        (bytes32 rootEarly, Escrow.Claim[] memory claimsEarly) =
            commitBatch(lateKey, payer, single(rEarly), 100 * PRICE);
        uint256 committedAt = block.timestamp;

        vm.warp(block.timestamp + 1);
        vm.prank(payer);
        escrow.registerSigner(late);
        Escrow.Receipt memory rAt = receipt(payer, licenseId, RUN_2, 100);
        (bytes32 rootAt, Escrow.Claim[] memory claimsAt) =
            commitBatch(lateKey, payer, single(rAt), 100 * PRICE);

        vm.expectRevert(signerNotAuthorized(late, committedAt));
        escrow.claim(rootEarly, claimsEarly);
        assertEq(escrow.claim(rootAt, claimsAt), 100 * PRICE);
        assertEq(reservedOf(payer), 100 * PRICE);
    }

    /*//////////////////////////////////////////////////////////////
                          RESERVATION EXPIRY
    //////////////////////////////////////////////////////////////*/

    function test_Claim_ReservationExpiryBoundary() public {
        Escrow.Receipt memory r1 = receipt(payer, licenseId, RUN, 1000);
        Escrow.Receipt memory r2 = receipt(payer, licenseId, RUN_2, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(signerKey, payer, pair(r1, r2), 2000 * PRICE);
        uint40 expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;
        assertEq(expiresAt, block.timestamp + CLAIM_WINDOW);

        vm.warp(expiresAt - 1);
        assertEq(escrow.claim(root, one(claims[0])), 1000 * PRICE);
        vm.warp(expiresAt);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_ReservationExpired.selector, root, expiresAt)
        );
        escrow.claim(root, one(claims[1]));
        assertEq(reservedOf(payer), 1000 * PRICE);
        assertEq(escrow.settledSamples(escrow.usageKey(r2)), 0);
    }

    function test_Release_ReservedUntilBoundary() public {
        (bytes32 root,) = commitBatch(signerKey, payer, single(receipt(payer, licenseId, RUN, 1)), 5000);
        uint40 expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;
        assertEq(lineIn(payer, relayer, address(usdc)).reservedUntil, expiresAt);

        vm.warp(expiresAt - 1);
        vm.expectRevert(notReleasable(payer, relayer));
        escrow.release(payer, relayer, address(usdc));
        assertEq(reservedOf(payer), 5000);

        vm.warp(expiresAt);
        assertEq(escrow.release(payer, relayer, address(usdc)), 5000);
        assertEq(creditOf(payer), CREDIT);
        assertEq(lineIn(payer, relayer, address(usdc)).reservedUntil, 0);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);

        // Released: nothing to release until the next commit.
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NothingReserved.selector, payer, relayer, address(usdc)
            )
        );
        escrow.release(payer, relayer, address(usdc));
    }

    /// The line is locked until the LATEST expiry of the batches that reserved into it since the
    /// last release, zero-amount commits included: a later batch keeps an earlier one's funds in
    /// the pool (its receipts may need them), while the earlier batch's own claims close at its
    /// own expiry.
    function test_Release_ReservedUntilIsTheLatestBatchExpiry() public {
        Escrow.Receipt memory r1 = receipt(payer, licenseId, RUN, 100);
        (bytes32 root1, Escrow.Claim[] memory c1) = commitBatch(signerKey, payer, single(r1), 300 * PRICE);
        uint40 expires1 = escrow.reservation(root1, payer, address(usdc)).expiresAt;
        vm.warp(block.timestamp + 1 hours);
        // Priced over the earlier batch's count (the line is locked): reserves nothing.
        Escrow.Receipt memory r2 = receipt(payer, licenseId, RUN, 300);
        (bytes32 root2, Escrow.Claim[] memory c2) = commitBatch(signerKey, payer, single(r2), 0);
        uint40 expires2 = escrow.reservation(root2, payer, address(usdc)).expiresAt;
        assertEq(lineIn(payer, relayer, address(usdc)).reservedUntil, expires2);

        vm.warp(expires1);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_ReservationExpired.selector, root1, expires1)
        );
        escrow.claim(root1, c1);
        vm.expectRevert(notReleasable(payer, relayer));
        escrow.release(payer, relayer, address(usdc));

        vm.warp(expires2 - 1);
        vm.expectRevert(notReleasable(payer, relayer));
        escrow.release(payer, relayer, address(usdc));
        assertEq(escrow.claim(root2, c2), 300 * PRICE);
        vm.warp(expires2);
        assertEq(escrow.release(payer, relayer, address(usdc)), 0);
        assertEq(creditOf(payer), CREDIT - 300 * PRICE);
        assertConserved(address(usdc), list1(payer));
    }

    /*//////////////////////////////////////////////////////////////
                            TERMS EXPIRY
    //////////////////////////////////////////////////////////////*/

    function expiringLicense() internal returns (uint256 id, uint64 termsId, uint40 expiresAt) {
        License.Terms memory t = defaultTerms();
        expiresAt = uint40(block.timestamp + 30 days);
        t.expiresAt = expiresAt;
        id = mintLicense(creator, t, keccak256("manifest-expiring"));
        (termsId,) = nft.currentTerms(id);
    }

    function test_AcceptTerms_ExpiryBoundary() public {
        (uint256 id, uint64 termsId, uint40 expiresAt) = expiringLicense();
        address late = makeAddr("late-payer");

        vm.warp(expiresAt - 1);
        vm.prank(payer);
        escrow.acceptTerms(id, termsId);
        assertEq(escrow.acceptance(payer, id, termsId).acceptedAt, expiresAt - 1);

        vm.warp(expiresAt);
        vm.prank(late);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_TermsExpired.selector, id, termsId, expiresAt)
        );
        escrow.acceptTerms(id, termsId);
        assertEq(escrow.acceptance(late, id, termsId).acceptedAt, 0);
    }

    /// Receipts issued one second before the terms expire are payable (also long after, directly
    /// or in a batch); receipts issued at the expiry are not.
    function test_Settle_ReceiptIssuedAtExpiryBoundary() public {
        (uint256 id,, uint40 expiresAt) = expiringLicense();
        accept(payer, id);

        Escrow.Receipt memory ok1 = receipt(payer, id, RUN, 100);
        ok1.issuedAt = expiresAt - 1;
        Escrow.Receipt memory ok2 = receipt(payer, id, RUN_2, 100);
        ok2.issuedAt = expiresAt - 1;
        Escrow.Receipt memory late1 = receipt(payer, id, keccak256("late-1"), 100);
        late1.issuedAt = expiresAt;
        Escrow.Receipt memory late2 = receipt(payer, id, keccak256("late-2"), 100);
        late2.issuedAt = expiresAt;
        bytes memory sigOk1 = sign(signerKey, ok1);
        bytes memory sigLate1 = sign(signerKey, late1);

        vm.warp(expiresAt + 10 days);
        assertEq(escrow.settleDirect(ok1, sigOk1), 100 * PRICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_ReceiptAfterExpiry.selector, uint64(expiresAt), expiresAt
            )
        );
        escrow.settleDirect(late1, sigLate1);

        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(signerKey, payer, pair(ok2, late2), 200 * PRICE);
        assertEq(escrow.claim(root, one(claims[0])), 100 * PRICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_ReceiptAfterExpiry.selector, uint64(expiresAt), expiresAt
            )
        );
        escrow.claim(root, one(claims[1]));

        assertEq(reservedOf(payer), 100 * PRICE);
        assertEq(escrow.settledSamples(escrow.usageKey(late1)), 0);
        assertEq(escrow.settledSamples(escrow.usageKey(late2)), 0);
        (, uint256 payout) = split(100 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), 2 * payout);
    }
}
