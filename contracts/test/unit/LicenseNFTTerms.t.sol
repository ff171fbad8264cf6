// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Vm} from "forge-std/Vm.sol";

import {ILicenseNFT} from "../../src/interfaces/ILicenseNFT.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {LicenseNFTBase} from "./LicenseNFTBase.t.sol";

/// @notice The terms registry: registerTerms, terms, termsIdOf, hashTerms, termsCount.
contract LicenseNFTTermsTest is LicenseNFTBase {
    /*//////////////////////////////////////////////////////////////
                              REGISTER TERMS
    //////////////////////////////////////////////////////////////*/

    function test_RegisterTerms_FirstTermsGetIdOneAndAreStored() public {
        License.Terms memory t = defaultTerms();
        assertEq(nft.termsCount(), 0);

        vm.expectEmit(true, true, true, true, address(nft));
        emit ILicenseNFT.TermsRegistered(1, keccak256(abi.encode(t)), t);
        vm.prank(anyone);
        uint64 id = nft.registerTerms(t);

        assertEq(id, 1);
        assertEq(nft.termsCount(), 1);
        assertEq(nft.termsIdOf(t), 1);
        assertTermsEq(nft.terms(1), t);
    }

    function test_RegisterTerms_SameTermsReturnSameIdWithoutEvent() public {
        License.Terms memory t = defaultTerms();
        uint64 first = nft.registerTerms(t);

        vm.recordLogs();
        vm.prank(anyone); // a different caller: terms are not owned by anyone
        uint64 second = nft.registerTerms(t);
        Vm.Log[] memory logs = vm.getRecordedLogs();

        assertEq(second, first);
        assertEq(logs.length, 0, "no event on a duplicate");
        assertEq(nft.termsCount(), 1);
    }

    function test_RegisterTerms_DistinctTermsGetNewIds() public {
        License.Terms memory a = defaultTerms();
        License.Terms memory b = defaultTerms();
        b.uri = "ipfs://terms/commercial-v2";
        License.Terms memory c = defaultTerms();
        c.pricePerSample = PRICE + 1;

        assertEq(nft.registerTerms(a), 1);
        vm.expectEmit(true, true, true, true, address(nft));
        emit ILicenseNFT.TermsRegistered(2, keccak256(abi.encode(b)), b);
        assertEq(nft.registerTerms(b), 2);
        assertEq(nft.registerTerms(c), 3);
        assertEq(nft.registerTerms(a), 1);

        assertEq(nft.termsCount(), 3);
        assertTermsEq(nft.terms(1), a);
        assertTermsEq(nft.terms(2), b);
        assertTermsEq(nft.terms(3), c);
        assertEq(nft.termsIdOf(b), 2);
        assertEq(nft.termsIdOf(c), 3);
    }

    function test_RegisterTerms_ReturnsIdOfTermsRegisteredByMint() public {
        uint256 licenseId = mintLicense();
        (uint64 mintedTermsId,) = nft.currentTerms(licenseId);

        vm.recordLogs();
        uint64 id = nft.registerTerms(defaultTerms());
        assertEq(countLogs(vm.getRecordedLogs(), address(nft), ILicenseNFT.TermsRegistered.selector), 0);

        assertEq(id, mintedTermsId);
        assertEq(nft.termsCount(), 1);
    }

    /*//////////////////////////////////////////////////////////////
                           KIND CONSISTENCY RULES
    //////////////////////////////////////////////////////////////*/

    function test_RegisterTerms_ResearchOnlyWithoutCommercialUse() public {
        License.Terms memory t = researchTerms();
        assertEq(nft.registerTerms(t), 1);
        assertTermsEq(nft.terms(1), t);
    }

    function test_RevertWhen_RegisterTerms_ResearchOnlyAllowsCommercialUse() public {
        License.Terms memory t = researchTerms();
        t.commercialUse = true;
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_TermsInconsistentWithKind.selector, uint8(License.Kind.ResearchOnly)
            )
        );
        nft.registerTerms(t);
    }

    function test_RegisterTerms_EvaluationWithoutCommercialUse() public {
        License.Terms memory t = researchTerms();
        t.kind = License.Kind.Evaluation;
        assertEq(nft.registerTerms(t), 1);
        assertEq(uint8(nft.terms(1).kind), uint8(License.Kind.Evaluation));
    }

    function test_RevertWhen_RegisterTerms_EvaluationAllowsCommercialUse() public {
        License.Terms memory t = researchTerms();
        t.kind = License.Kind.Evaluation;
        t.commercialUse = true;
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_TermsInconsistentWithKind.selector, uint8(License.Kind.Evaluation)
            )
        );
        nft.registerTerms(t);
    }

    function test_RegisterTerms_CommercialWithCommercialUse() public {
        License.Terms memory t = defaultTerms();
        t.attributionRequired = false;
        t.derivatives = License.Derivatives.NotAllowed;
        t.uri = "";
        assertEq(nft.registerTerms(t), 1);
        assertTermsEq(nft.terms(1), t);
    }

    function test_RevertWhen_RegisterTerms_CommercialForbidsCommercialUse() public {
        License.Terms memory t = defaultTerms();
        t.commercialUse = false;
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_TermsInconsistentWithKind.selector, uint8(License.Kind.Commercial)
            )
        );
        nft.registerTerms(t);
    }

    function _shareAlike() private view returns (License.Terms memory t) {
        t = defaultTerms();
        t.kind = License.Kind.AttributionShareAlike;
        t.attributionRequired = true;
        t.derivatives = License.Derivatives.ShareAlike;
        t.uri = "ipfs://terms/by-sa";
    }

    function test_RegisterTerms_AttributionShareAlikeWithBoth() public {
        License.Terms memory t = _shareAlike();
        assertEq(nft.registerTerms(t), 1);
        // Commercial use is free under this kind.
        t.commercialUse = false;
        assertEq(nft.registerTerms(t), 2);
    }

    function test_RevertWhen_RegisterTerms_AttributionShareAlikeWithoutAttribution() public {
        License.Terms memory t = _shareAlike();
        t.attributionRequired = false;
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_TermsInconsistentWithKind.selector,
                uint8(License.Kind.AttributionShareAlike)
            )
        );
        nft.registerTerms(t);
    }

    function test_RevertWhen_RegisterTerms_AttributionShareAlikeWithDerivativesAllowed() public {
        License.Terms memory t = _shareAlike();
        t.derivatives = License.Derivatives.Allowed;
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_TermsInconsistentWithKind.selector,
                uint8(License.Kind.AttributionShareAlike)
            )
        );
        nft.registerTerms(t);
    }

    function test_RevertWhen_RegisterTerms_AttributionShareAlikeWithDerivativesNotAllowed() public {
        License.Terms memory t = _shareAlike();
        t.derivatives = License.Derivatives.NotAllowed;
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_TermsInconsistentWithKind.selector,
                uint8(License.Kind.AttributionShareAlike)
            )
        );
        nft.registerTerms(t);
    }

    function test_RegisterTerms_CustomWithUriAcceptsAnyFlags() public {
        License.Terms memory t = defaultTerms();
        t.kind = License.Kind.Custom;
        t.uri = "ipfs://terms/custom";
        t.commercialUse = false;
        t.attributionRequired = false;
        t.derivatives = License.Derivatives.ShareAlike;
        assertEq(nft.registerTerms(t), 1);
        t.commercialUse = true;
        t.derivatives = License.Derivatives.NotAllowed;
        assertEq(nft.registerTerms(t), 2);
        assertEq(uint8(nft.terms(2).kind), uint8(License.Kind.Custom));
    }

    function test_RevertWhen_RegisterTerms_CustomWithoutUri() public {
        License.Terms memory t = defaultTerms();
        t.kind = License.Kind.Custom;
        t.uri = "";
        vm.expectRevert(Errors.LicenseNFT_CustomTermsNeedUri.selector);
        nft.registerTerms(t);
    }

    function test_RevertWhen_RegisterTerms_KindOutOfRange() public {
        // ABI decoding rejects an enum value past the last kind (Custom = 4).
        bytes memory data = abi.encodeCall(nft.registerTerms, (defaultTerms()));
        // selector | offset of the tuple | kind | ...
        assembly ("memory-safe") {
            mstore(add(data, 0x44), 5)
        }
        (bool ok, bytes memory ret) = address(nft).call(data);
        assertFalse(ok);
        assertEq(ret.length, 0);
        assertEq(nft.termsCount(), 0);

        // The same patch with the last valid kind (Custom, which the default uri satisfies) passes.
        assembly ("memory-safe") {
            mstore(add(data, 0x44), 4)
        }
        (ok,) = address(nft).call(data);
        assertTrue(ok);
        assertEq(uint8(nft.terms(1).kind), uint8(License.Kind.Custom));
    }

    /*//////////////////////////////////////////////////////////////
                         PAYMENT TOKEN AND EXPIRY
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_RegisterTerms_ZeroPaymentToken() public {
        License.Terms memory t = defaultTerms();
        t.paymentToken = address(0);
        vm.expectRevert(Errors.LicenseNFT_ZeroPaymentToken.selector);
        nft.registerTerms(t);
    }

    function test_RevertWhen_RegisterTerms_ExpiresNow() public {
        License.Terms memory t = defaultTerms();
        t.expiresAt = uint40(block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_TermsAlreadyExpired.selector, t.expiresAt));
        nft.registerTerms(t);
    }

    function test_RevertWhen_RegisterTerms_ExpiredInThePast() public {
        License.Terms memory t = defaultTerms();
        t.expiresAt = 1;
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_TermsAlreadyExpired.selector, uint40(1)));
        nft.registerTerms(t);
    }

    function test_RegisterTerms_ExpiresOneSecondFromNow() public {
        License.Terms memory t = defaultTerms();
        t.expiresAt = uint40(block.timestamp + 1);
        assertEq(nft.registerTerms(t), 1);
        assertEq(nft.terms(1).expiresAt, block.timestamp + 1);
    }

    function test_RegisterTerms_ZeroExpiryMeansNever() public {
        License.Terms memory t = defaultTerms();
        t.expiresAt = 0;
        assertEq(nft.registerTerms(t), 1);
        vm.warp(type(uint40).max);
        assertEq(nft.registerTerms(t), 1, "still valid and deduplicated at the end of time");
    }

    function test_RevertWhen_RegisterTerms_KnownTermsHaveSinceExpired() public {
        // Deduplication does not bypass validation: once expired, even known terms are refused.
        License.Terms memory t = defaultTerms();
        t.expiresAt = uint40(block.timestamp + 1 days);
        nft.registerTerms(t);
        vm.warp(t.expiresAt);
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_TermsAlreadyExpired.selector, t.expiresAt));
        nft.registerTerms(t);
        // Still readable.
        assertTermsEq(nft.terms(1), t);
    }

    /*//////////////////////////////////////////////////////////////
                                  READS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_Terms_IdZero() public {
        nft.registerTerms(defaultTerms());
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_UnknownTerms.selector, uint64(0)));
        nft.terms(0);
    }

    function test_RevertWhen_Terms_UnknownId() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_UnknownTerms.selector, uint64(1)));
        nft.terms(1);

        nft.registerTerms(defaultTerms());
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_UnknownTerms.selector, uint64(2)));
        nft.terms(2);
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_UnknownTerms.selector, type(uint64).max));
        nft.terms(type(uint64).max);
    }

    function test_TermsIdOf_ZeroForUnregisteredTerms() public {
        License.Terms memory t = defaultTerms();
        assertEq(nft.termsIdOf(t), 0);
        nft.registerTerms(t);
        t.maxSamples = 1;
        assertEq(nft.termsIdOf(t), 0);
        // Invalid terms can be looked up (and are never registered).
        t.paymentToken = address(0);
        assertEq(nft.termsIdOf(t), 0);
    }

    function test_HashTerms_IsKeccakOfAbiEncoding() public view {
        License.Terms memory t = defaultTerms();
        assertEq(nft.hashTerms(t), keccak256(abi.encode(t)));
        t.exclusiveLicensee = payer;
        t.uri = "";
        assertEq(nft.hashTerms(t), keccak256(abi.encode(t)));
    }

    function test_HashTerms_DiffersWhenAnyFieldDiffers() public view {
        bytes32 base = nft.hashTerms(defaultTerms());
        License.Terms memory t;

        t = defaultTerms();
        t.kind = License.Kind.Custom;
        assertNotEq(nft.hashTerms(t), base, "kind");
        t = defaultTerms();
        t.paymentToken = anyone;
        assertNotEq(nft.hashTerms(t), base, "paymentToken");
        t = defaultTerms();
        t.pricePerSample = PRICE + 1;
        assertNotEq(nft.hashTerms(t), base, "pricePerSample");
        t = defaultTerms();
        t.unit = License.Unit.Access;
        assertNotEq(nft.hashTerms(t), base, "unit");
        t = defaultTerms();
        t.maxSamples = 1;
        assertNotEq(nft.hashTerms(t), base, "maxSamples");
        t = defaultTerms();
        t.expiresAt = 1;
        assertNotEq(nft.hashTerms(t), base, "expiresAt");
        t = defaultTerms();
        t.commercialUse = false;
        assertNotEq(nft.hashTerms(t), base, "commercialUse");
        t = defaultTerms();
        t.attributionRequired = false;
        assertNotEq(nft.hashTerms(t), base, "attributionRequired");
        t = defaultTerms();
        t.derivatives = License.Derivatives.ShareAlike;
        assertNotEq(nft.hashTerms(t), base, "derivatives");
        t = defaultTerms();
        t.exclusiveLicensee = payer;
        assertNotEq(nft.hashTerms(t), base, "exclusiveLicensee");
        t = defaultTerms();
        t.uri = "ipfs://terms/commercial-v1 ";
        assertNotEq(nft.hashTerms(t), base, "uri");
    }

    function test_TermsCount_CountsDistinctTermsOnly() public {
        assertEq(nft.termsCount(), 0);
        nft.registerTerms(defaultTerms());
        nft.registerTerms(defaultTerms());
        nft.registerTerms(researchTerms());
        mintLicense(); // default terms again
        assertEq(nft.termsCount(), 2);
    }
}
