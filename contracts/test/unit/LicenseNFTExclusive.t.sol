// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ILicenseNFT} from "../../src/interfaces/ILicenseNFT.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {LicenseNFTBase} from "./LicenseNFTBase.t.sol";

/// @notice Exclusive terms lock their manifest: no other license may exist, none may be minted
/// and the terms may not change while they run.
contract LicenseNFTExclusiveTest is LicenseNFTBase {
    uint40 internal expiry;

    function setUp() public override {
        super.setUp();
        expiry = uint40(block.timestamp + 30 days);
    }

    function _expectLocked(bytes32 manifestHash, uint40 until) internal {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_ManifestExclusivelyLicensed.selector, manifestHash, until
            )
        );
    }

    function _expectRunning(uint256 licenseId, uint40 expiresAt) internal {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.LicenseNFT_ExclusiveTermsRunning.selector, licenseId, expiresAt)
        );
    }

    /*//////////////////////////////////////////////////////////////
                                   MINT
    //////////////////////////////////////////////////////////////*/

    function test_Mint_ExclusiveLocksManifestUntilExpiry() public {
        uint256 id = mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), expiry);
        assertEq(nft.exclusiveUntil(creator, MANIFEST_2), 0);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 1);
        (, License.Terms memory t) = nft.currentTerms(id);
        assertEq(t.exclusiveLicensee, payer);
    }

    function test_Mint_ExclusiveWithoutExpiryLocksForever() public {
        mintAs(creator, exclusiveTerms(payer, 0), MANIFEST, ROYALTY_BPS);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), type(uint40).max);

        vm.warp(block.timestamp + 100 * 365 days);
        _expectLocked(MANIFEST, type(uint40).max);
        mintAs(creator, defaultTerms(), MANIFEST, 0);
    }

    function test_RevertWhen_Mint_ExclusiveForManifestWithOtherLicense() public {
        mintAs(anyone, researchTerms(), MANIFEST, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_ManifestHasOtherLicenses.selector,
                manifestKey(creator, MANIFEST),
                uint256(1)
            )
        );
        mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);

        mintAs(creator, defaultTerms(), MANIFEST, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_ManifestHasOtherLicenses.selector,
                manifestKey(creator, MANIFEST),
                uint256(2)
            )
        );
        mintAs(creator, exclusiveTerms(payer, 0), MANIFEST, ROYALTY_BPS);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), 0);
        assertEq(nft.totalMinted(), 2);
    }

    function test_RevertWhen_Mint_ManifestUnderRunningExclusiveTerms() public {
        mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);

        _expectLocked(MANIFEST, expiry);
        mintAs(anyone, researchTerms(), MANIFEST, 0);

        // Still locked one second before expiry, also for the exclusive holder's own creator and
        // for other exclusive terms.
        vm.warp(expiry - 1);
        _expectLocked(MANIFEST, expiry);
        mintAs(creator, defaultTerms(), MANIFEST, 0);
        _expectLocked(MANIFEST, expiry);
        mintAs(creator, exclusiveTerms(anyone, expiry + 1), MANIFEST, 0);

        assertEq(nft.totalMinted(), 1);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 1);
    }

    function test_Mint_OtherManifestsUnaffectedByLock() public {
        mintAs(creator, exclusiveTerms(payer, 0), MANIFEST, ROYALTY_BPS);
        uint256 id = mintAs(creator, exclusiveTerms(payer, 0), MANIFEST_2, ROYALTY_BPS);
        assertEq(id, 2);
        assertEq(nft.exclusiveUntil(creator, MANIFEST_2), type(uint40).max);
        mintAs(creator, defaultTerms(), keccak256("manifest-3"), 0);
        assertEq(nft.totalMinted(), 3);
    }

    function test_Mint_AllowedAgainAtExpiry() public {
        mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);
        vm.warp(expiry); // expiresAt itself is no longer running
        uint256 id = mintAs(anyone, researchTerms(), MANIFEST, 0);
        assertEq(id, 2);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 2);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), expiry, "stale lock value is kept");
    }

    function test_RevertWhen_Mint_ExclusiveAgainAfterExpiry() public {
        // Even after the first exclusive terms expired, the manifest has one license already.
        mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);
        vm.warp(expiry);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_ManifestHasOtherLicenses.selector,
                manifestKey(creator, MANIFEST),
                uint256(1)
            )
        );
        mintAs(creator, exclusiveTerms(anyone, 0), MANIFEST, ROYALTY_BPS);
    }

    /// @dev A design consequence to be aware of: manifest hashes are not bound to their signer, so
    /// anyone who learns a hash (e.g. from a pending mint) can lock it forever before its creator.
    function test_Mint_AnyoneCanLockAnUnlicensedManifestForever() public {
        mintAs(anyone, exclusiveTerms(anyone, 0), MANIFEST, 0);
        _expectLocked(MANIFEST, type(uint40).max);
        mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
    }

    /*//////////////////////////////////////////////////////////////
                               UPDATE TERMS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_UpdateTerms_ExclusiveTermsRunning() public {
        uint256 id = mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);

        _expectRunning(id, expiry);
        vm.prank(creator);
        nft.updateTerms(id, defaultTerms());

        // Approved operators and later holders are bound too.
        vm.startPrank(creator);
        nft.setApprovalForAll(relayer, true);
        nft.transferFrom(creator, anyone, id);
        vm.stopPrank();
        vm.prank(anyone);
        nft.setApprovalForAll(relayer, true);

        vm.warp(expiry - 1);
        _expectRunning(id, expiry);
        vm.prank(anyone);
        nft.updateTerms(id, defaultTerms());
        _expectRunning(id, expiry);
        vm.prank(relayer);
        nft.updateTerms(id, exclusiveTerms(payer, expiry + 365 days));

        assertEq(nft.license(id).version, 1);
    }

    function test_RevertWhen_UpdateTerms_ForeverExclusive() public {
        uint256 id = mintAs(creator, exclusiveTerms(payer, 0), MANIFEST, ROYALTY_BPS);
        vm.warp(block.timestamp + 100 * 365 days);
        _expectRunning(id, 0);
        vm.prank(creator);
        nft.updateTerms(id, defaultTerms());
    }

    function test_UpdateTerms_AllowedAtExclusiveExpiry() public {
        uint256 id = mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);
        vm.warp(expiry);

        vm.expectEmit(true, true, true, true, address(nft));
        emit ILicenseNFT.LicenseTermsUpdated(id, 2, 2);
        vm.prank(creator);
        uint64 newId = nft.updateTerms(id, defaultTerms());

        assertEq(newId, 2);
        assertEq(nft.license(id).version, 2);
        (, License.Terms memory t) = nft.currentTerms(id);
        assertEq(t.exclusiveLicensee, address(0));
        // And the manifest is open again.
        mintAs(anyone, researchTerms(), MANIFEST, 0);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 2);
    }

    function test_UpdateTerms_RenewExclusivityAtExpiry() public {
        uint256 id = mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);
        vm.warp(expiry);
        uint40 renewed = expiry + 30 days;
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, renewed));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), renewed);

        _expectLocked(MANIFEST, renewed);
        mintAs(anyone, researchTerms(), MANIFEST, 0);
        _expectRunning(id, renewed);
        vm.prank(creator);
        nft.updateTerms(id, defaultTerms());
    }

    function test_UpdateTerms_ToExclusiveWhenOnlyLicenseOfManifest() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, expiry));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), expiry);
        (, License.Terms memory t) = nft.currentTerms(id);
        assertEq(t.exclusiveLicensee, payer);

        _expectLocked(MANIFEST, expiry);
        mintAs(anyone, researchTerms(), MANIFEST, 0);
    }

    function test_UpdateTerms_ToForeverExclusive() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, 0));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), type(uint40).max);
    }

    function test_RevertWhen_UpdateTerms_ToExclusiveWithOtherLicenses() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
        mintAs(anyone, researchTerms(), MANIFEST, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_ManifestHasOtherLicenses.selector,
                manifestKey(creator, MANIFEST),
                uint256(2)
            )
        );
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, expiry));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), 0);
        assertEq(nft.license(id).version, 1);
        assertEq(nft.termsCount(), 2, "the exclusive terms' registration is rolled back");
    }

    function test_RevertWhen_UpdateTerms_ToExclusiveAfterExpiredExclusiveAndNewMint() public {
        uint256 id = mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);
        vm.warp(expiry);
        mintAs(anyone, researchTerms(), MANIFEST, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_ManifestHasOtherLicenses.selector,
                manifestKey(creator, MANIFEST),
                uint256(2)
            )
        );
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, 0));
    }
}
