// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {EscrowHelpers} from "./TrainingEscrow.Helpers.sol";

contract TrainingEscrowAcceptTest is EscrowHelpers {
    uint64 internal constant CAP = 500;
    uint40 internal expiry;
    uint256 internal licenseId;
    uint64 internal termsId;

    function setUp() public override {
        super.setUp();
        expiry = uint40(block.timestamp + 30 days);
        licenseId = mintTerms(creator, PRICE, CAP, expiry, "manifest-accept");
        termsId = termsOf(licenseId);
    }

    function test_AcceptTerms_CopiesTermsAndEmits() public {
        vm.warp(block.timestamp + 1 hours);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.TermsAccepted(
            payer, licenseId, termsId, address(usdc), PRICE, CAP, expiry, uint40(block.timestamp) + NOTICE
        );
        vm.prank(payer);
        escrow.acceptTerms(licenseId, termsId);

        Escrow.Acceptance memory a = escrow.acceptance(payer, licenseId, termsId);
        assertEq(a.token, address(usdc));
        assertEq(a.pricePerSample, PRICE);
        assertEq(a.maxSamples, CAP);
        assertEq(a.expiresAt, expiry);
        assertEq(a.acceptedAt, uint40(block.timestamp));
        assertEq(a.chargeableFrom, uint40(block.timestamp) + NOTICE);
        assertEq(a.samplesCharged, 0);
        // Only this payer accepted.
        assertEq(escrow.acceptance(anyone, licenseId, termsId).acceptedAt, 0);
    }

    function test_RevertWhen_AcceptTerms_OldTermsAfterUpdate() public {
        License.Terms memory t = defaultTerms();
        t.pricePerSample = 2 * PRICE;
        vm.prank(creator);
        uint64 newTermsId = nft.updateTerms(licenseId, t);
        assertTrue(newTermsId != termsId);

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_TermsNotCurrent.selector, licenseId, termsId, newTermsId
            )
        );
        vm.prank(payer);
        escrow.acceptTerms(licenseId, termsId);

        vm.prank(payer);
        escrow.acceptTerms(licenseId, newTermsId);
        assertEq(escrow.acceptance(payer, licenseId, newTermsId).pricePerSample, 2 * PRICE);
    }

    function test_AcceptTerms_EarlierAcceptanceKeepsOldTermsAfterUpdate() public {
        vm.prank(payer);
        escrow.acceptTerms(licenseId, termsId);

        License.Terms memory t = defaultTerms();
        t.pricePerSample = 2 * PRICE;
        vm.prank(creator);
        nft.updateTerms(licenseId, t);

        Escrow.Acceptance memory a = escrow.acceptance(payer, licenseId, termsId);
        assertEq(a.pricePerSample, PRICE);
        assertEq(a.maxSamples, CAP);
        assertEq(a.expiresAt, expiry);
    }

    function test_RevertWhen_AcceptTerms_UnknownTermsIdZero() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_TermsNotCurrent.selector, licenseId, uint64(0), termsId
            )
        );
        vm.prank(payer);
        escrow.acceptTerms(licenseId, 0);
    }

    function test_RevertWhen_AcceptTerms_AtExpiry() public {
        vm.warp(expiry);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_TermsExpired.selector, licenseId, termsId, expiry)
        );
        vm.prank(payer);
        escrow.acceptTerms(licenseId, termsId);
    }

    function test_AcceptTerms_OneSecondBeforeExpiry() public {
        vm.warp(expiry - 1);
        vm.prank(payer);
        escrow.acceptTerms(licenseId, termsId);
        assertEq(escrow.acceptance(payer, licenseId, termsId).acceptedAt, expiry - 1);
    }

    function test_AcceptTerms_NoExpiryAcceptableFarInFuture() public {
        uint256 open = mintLicense();
        vm.warp(block.timestamp + 100 * 365 days);
        accept(payer, open);
        assertEq(escrow.acceptance(payer, open, termsOf(open)).expiresAt, 0);
    }

    function exclusiveLicense(address licensee) internal returns (uint256 id) {
        License.Terms memory t = defaultTerms();
        t.exclusiveLicensee = licensee;
        id = mintLicense(creator2, t, keccak256("manifest-exclusive"));
    }

    function test_RevertWhen_AcceptTerms_ExclusiveToAnother() public {
        uint256 id = exclusiveLicense(payer);
        uint64 tid = termsOf(id);
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_ExclusiveToAnother.selector, id, payer));
        vm.prank(payer2);
        escrow.acceptTerms(id, tid);
    }

    function test_AcceptTerms_ExclusiveLicensee() public {
        uint256 id = exclusiveLicense(payer);
        uint64 tid = termsOf(id);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.TermsAccepted(
            payer, id, tid, address(usdc), PRICE, 0, 0, uint40(block.timestamp) + NOTICE
        );
        vm.prank(payer);
        escrow.acceptTerms(id, tid);
        assertEq(escrow.acceptance(payer, id, tid).acceptedAt, uint40(block.timestamp));
    }

    function test_RevertWhen_AcceptTerms_AlreadyAccepted() public {
        vm.prank(payer);
        escrow.acceptTerms(licenseId, termsId);
        vm.warp(block.timestamp + 1);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_AlreadyAccepted.selector, payer, licenseId, termsId)
        );
        vm.prank(payer);
        escrow.acceptTerms(licenseId, termsId);
    }

    function test_AcceptTerms_IndependentPerPayer() public {
        vm.prank(payer);
        escrow.acceptTerms(licenseId, termsId);
        vm.warp(block.timestamp + 10);
        vm.prank(payer2);
        escrow.acceptTerms(licenseId, termsId);
        assertEq(escrow.acceptance(payer2, licenseId, termsId).acceptedAt, uint40(block.timestamp));
        assertEq(escrow.acceptance(payer, licenseId, termsId).acceptedAt, uint40(block.timestamp - 10));
    }

    function test_RevertWhen_AcceptTerms_UnknownLicense() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, uint256(999)));
        vm.prank(payer);
        escrow.acceptTerms(999, termsId);
    }

    /*//////////////////////////////////////////////////////////////
                                MATURITY
    //////////////////////////////////////////////////////////////*/

    function test_AcceptTerms_ChargeableFromUsesNoticePeriodInForce() public {
        vm.prank(owner);
        escrow.setNoticePeriod(3 days);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.TermsAccepted(
            payer, licenseId, termsId, address(usdc), PRICE, CAP, expiry, uint40(block.timestamp) + 3 days
        );
        vm.prank(payer);
        escrow.acceptTerms(licenseId, termsId);
        Escrow.Acceptance memory a = escrow.acceptance(payer, licenseId, termsId);
        assertEq(a.chargeableFrom, a.acceptedAt + 3 days);
    }

    /// `chargeableFrom` is fixed when the terms are accepted: shortening the notice period later
    /// does not make the acceptance chargeable sooner, and lengthening it does not delay it.
    function test_AcceptTerms_NoticeChangeAfterAcceptanceDoesNotMoveChargeableFrom() public {
        setUpPayer(payer, signerKey, BUDGET);
        vm.prank(payer);
        escrow.acceptTerms(licenseId, termsId);
        uint40 chargeableFrom = uint40(block.timestamp) + NOTICE;
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 100);
        bytes memory sig = sign(signerKey, r);

        vm.prank(owner);
        escrow.setNoticePeriod(1 hours);
        assertEq(escrow.acceptance(payer, licenseId, termsId).chargeableFrom, chargeableFrom);
        vm.warp(block.timestamp + 1 hours);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AcceptanceNotChargeable.selector,
                payer,
                licenseId,
                termsId,
                chargeableFrom
            )
        );
        escrow.settleDirect(r, sig);

        vm.prank(owner);
        escrow.setNoticePeriod(30 days);
        assertEq(escrow.acceptance(payer, licenseId, termsId).chargeableFrom, chargeableFrom);
        vm.warp(chargeableFrom);
        assertEq(escrow.settleDirect(r, sig), 100 * PRICE);
    }

    /// Each accepted terms version has its own notice: accepting new terms does not delay the old
    /// acceptance, and the new one is chargeable only one notice after its own acceptance.
    function test_AcceptTerms_NewVersionHasItsOwnChargeableFrom() public {
        vm.prank(payer);
        escrow.acceptTerms(licenseId, termsId);
        uint40 oldFrom = escrow.acceptance(payer, licenseId, termsId).chargeableFrom;

        vm.warp(oldFrom + 5 hours);
        License.Terms memory t = defaultTerms();
        t.pricePerSample = 2 * PRICE;
        vm.prank(creator);
        uint64 newTermsId = nft.updateTerms(licenseId, t);
        vm.prank(payer);
        escrow.acceptTerms(licenseId, newTermsId);

        assertEq(escrow.acceptance(payer, licenseId, termsId).chargeableFrom, oldFrom);
        assertEq(
            escrow.acceptance(payer, licenseId, newTermsId).chargeableFrom, uint40(block.timestamp) + NOTICE
        );
    }
}
