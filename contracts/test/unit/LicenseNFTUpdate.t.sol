// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {Vm} from "forge-std/Vm.sol";

import {ILicenseNFT} from "../../src/interfaces/ILicenseNFT.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {LicenseNFTBase} from "./LicenseNFTBase.t.sol";

/// @notice updateTerms: who may call it, versioning, and what happens to earlier terms.
contract LicenseNFTUpdateTest is LicenseNFTBase {
    uint256 internal id;

    function setUp() public override {
        super.setUp();
        id = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
    }

    function _v2() internal view returns (License.Terms memory t) {
        t = defaultTerms();
        t.pricePerSample = 2 * PRICE;
        t.maxSamples = 1_000_000;
        t.uri = "ipfs://terms/commercial-v2";
    }

    function test_UpdateTerms_ByHolderCreatesNewVersion() public {
        License.Terms memory v1 = defaultTerms();
        License.Terms memory v2 = _v2();
        uint40 mintedAt = nft.license(id).mintedAt;
        vm.warp(block.timestamp + 1 days);

        vm.expectEmit(true, true, true, true, address(nft));
        emit ILicenseNFT.TermsRegistered(2, keccak256(abi.encode(v2)), v2);
        vm.expectEmit(true, true, true, true, address(nft));
        emit ILicenseNFT.LicenseTermsUpdated(id, 2, 2);
        vm.prank(creator);
        uint64 newId = nft.updateTerms(id, v2);

        assertEq(newId, 2);
        License.Record memory r = nft.license(id);
        assertEq(r.termsId, 2);
        assertEq(r.version, 2);
        assertEq(r.creator, creator);
        assertEq(r.mintedAt, mintedAt, "mint time unchanged");
        assertEq(r.manifestHash, MANIFEST);

        (uint64 currentId, License.Terms memory current) = nft.currentTerms(id);
        assertEq(currentId, 2);
        assertTermsEq(current, v2);
        // The old version stays readable by id, unchanged, for payers who accepted it.
        assertTermsEq(nft.terms(1), v1);
        assertEq(nft.termsIdOf(v1), 1);
        assertEq(nft.termsCount(), 2);
        assertEq(nft.ownerOf(id), creator, "ownership unaffected");
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 1, "an update is not a new license");
    }

    function test_UpdateTerms_VersionIncrementsEachTime() public {
        License.Terms memory t = _v2();
        for (uint32 v = 2; v <= 5; ++v) {
            t.pricePerSample = uint96(v) * PRICE;
            vm.expectEmit(true, true, true, true, address(nft));
            emit ILicenseNFT.LicenseTermsUpdated(id, v, v);
            vm.prank(creator);
            assertEq(nft.updateTerms(id, t), v);
            assertEq(nft.license(id).version, v);
        }
        // Going back to the first terms reuses their id but is still a new version.
        vm.recordLogs();
        vm.prank(creator);
        assertEq(nft.updateTerms(id, defaultTerms()), 1);
        assertEq(countLogs(vm.getRecordedLogs(), address(nft), ILicenseNFT.TermsRegistered.selector), 0);
        assertEq(nft.license(id).version, 6);
        assertEq(nft.license(id).termsId, 1);
    }

    function test_RevertWhen_UpdateTerms_IdenticalTerms() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_TermsUnchanged.selector, id, uint64(1)));
        vm.prank(creator);
        nft.updateTerms(id, defaultTerms());
        assertEq(nft.license(id).version, 1, "no version bump for a no-op");
        assertEq(nft.license(id).termsId, 1);
        assertEq(nft.termsCount(), 1);

        // Also after a real update: the current terms are the ones compared, by content.
        vm.prank(creator);
        assertEq(nft.updateTerms(id, _v2()), 2);
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_TermsUnchanged.selector, id, uint64(2)));
        vm.prank(creator);
        nft.updateTerms(id, _v2());
        License.Record memory r = nft.license(id);
        assertEq(r.version, 2);
        assertEq(r.termsId, 2);
        assertEq(nft.termsCount(), 2);
    }

    function test_UpdateTerms_ToTermsOfAnotherLicense() public {
        uint256 other = mintAs(anyone, researchTerms(), MANIFEST_2, 0);
        (uint64 otherTermsId,) = nft.currentTerms(other);
        vm.prank(creator);
        assertEq(nft.updateTerms(id, researchTerms()), otherTermsId);
        (uint64 currentId,) = nft.currentTerms(id);
        assertEq(currentId, otherTermsId);
        assertEq(nft.termsCount(), 2);
    }

    function test_UpdateTerms_ByApprovedAddress() public {
        vm.prank(creator);
        nft.approve(relayer, id);
        vm.prank(relayer);
        uint64 newId = nft.updateTerms(id, _v2());
        assertEq(nft.license(id).termsId, newId);
        assertEq(nft.license(id).version, 2);
        assertEq(nft.getApproved(id), relayer, "updating does not consume the approval");
    }

    function test_UpdateTerms_ByOperator() public {
        vm.prank(creator);
        nft.setApprovalForAll(relayer, true);
        vm.prank(relayer);
        uint64 newId = nft.updateTerms(id, _v2());
        assertEq(nft.license(id).termsId, newId);
        assertEq(nft.license(id).version, 2);
    }

    function test_RevertWhen_UpdateTerms_ByStranger() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_NotHolderOrApproved.selector, id, anyone));
        vm.prank(anyone);
        nft.updateTerms(id, _v2());
        assertEq(nft.license(id).version, 1);
        assertEq(nft.termsCount(), 1, "nothing registered");
    }

    function test_RevertWhen_UpdateTerms_ByRevokedOperator() public {
        vm.startPrank(creator);
        nft.setApprovalForAll(relayer, true);
        nft.setApprovalForAll(relayer, false);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_NotHolderOrApproved.selector, id, relayer));
        vm.prank(relayer);
        nft.updateTerms(id, _v2());
    }

    function test_RevertWhen_UpdateTerms_ApprovedForAnotherToken() public {
        uint256 other = mintAs(creator, defaultTerms(), MANIFEST_2, 0);
        vm.prank(creator);
        nft.approve(relayer, other);
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_NotHolderOrApproved.selector, id, relayer));
        vm.prank(relayer);
        nft.updateTerms(id, _v2());
    }

    function test_UpdateTerms_AfterTransferOnlyNewHolder() public {
        vm.prank(creator);
        nft.transferFrom(creator, anyone, id);

        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_NotHolderOrApproved.selector, id, creator));
        vm.prank(creator);
        nft.updateTerms(id, _v2());

        vm.prank(anyone);
        uint64 newId = nft.updateTerms(id, _v2());
        assertEq(nft.license(id).termsId, newId);
        assertEq(nft.license(id).version, 2);
        assertEq(nft.license(id).creator, creator, "creator unchanged");
    }

    function test_RevertWhen_UpdateTerms_ApprovalClearedByTransfer() public {
        vm.startPrank(creator);
        nft.approve(relayer, id);
        nft.transferFrom(creator, anyone, id);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_NotHolderOrApproved.selector, id, relayer));
        vm.prank(relayer);
        nft.updateTerms(id, _v2());
    }

    function test_RevertWhen_UpdateTerms_NonexistentToken() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, uint256(2)));
        vm.prank(creator);
        nft.updateTerms(2, _v2());
    }

    function test_RevertWhen_UpdateTerms_InvalidTerms() public {
        License.Terms memory t = _v2();
        t.expiresAt = uint40(block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_TermsAlreadyExpired.selector, t.expiresAt));
        vm.prank(creator);
        nft.updateTerms(id, t);

        t = _v2();
        t.paymentToken = address(0);
        vm.expectRevert(Errors.LicenseNFT_ZeroPaymentToken.selector);
        vm.prank(creator);
        nft.updateTerms(id, t);

        t = _v2();
        t.kind = License.Kind.Evaluation;
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_TermsInconsistentWithKind.selector, uint8(License.Kind.Evaluation)
            )
        );
        vm.prank(creator);
        nft.updateTerms(id, t);

        assertEq(nft.license(id).version, 1);
        assertEq(nft.license(id).termsId, 1);
    }

    function test_UpdateTerms_AfterNonExclusiveTermsExpired() public {
        License.Terms memory t = _v2();
        t.expiresAt = uint40(block.timestamp + 1 days);
        vm.prank(creator);
        nft.updateTerms(id, t);
        vm.warp(block.timestamp + 30 days);
        vm.prank(creator);
        assertEq(nft.updateTerms(id, defaultTerms()), 1);
        assertEq(nft.license(id).version, 3);
    }
}
