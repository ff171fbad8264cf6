// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ILicenseNFT} from "../../src/interfaces/ILicenseNFT.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {LicenseNFTBase} from "./LicenseNFTBase.t.sol";

/// @notice Exclusive terms lock their creator's manifest: the creator may have no other license of
/// it, may mint none while they run, and the terms may not change while they run. The lock is keyed
/// by (creator, manifestHash): licenses and locks of the same hash by other accounts never bind the
/// creator (and the creator's lock never binds them).
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
        mintAs(creator, researchTerms(), MANIFEST, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_ManifestHasOtherLicenses.selector,
                manifestKey(creator, MANIFEST),
                uint256(1)
            )
        );
        mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);

        // Another account's license of the same hash is not counted as the creator's.
        mintAs(anyone, defaultTerms(), MANIFEST, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_ManifestHasOtherLicenses.selector,
                manifestKey(creator, MANIFEST),
                uint256(1)
            )
        );
        mintAs(creator, exclusiveTerms(payer, 0), MANIFEST, ROYALTY_BPS);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), 0);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 1);
        assertEq(nft.licensesOfManifest(anyone, MANIFEST), 1);
        assertEq(nft.totalMinted(), 2);
    }

    function test_RevertWhen_Mint_ExclusiveAfterSameCreatorMintedManifestTwice() public {
        uint256 a = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
        uint256 b = mintAs(creator, researchTerms(), MANIFEST, 0);
        assertEq(nft.license(a).creator, creator);
        assertEq(nft.license(b).creator, creator);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 2, "each mint by the same creator counts");
        assertEq(nft.licensesOfManifest(anyone, MANIFEST), 0);

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_ManifestHasOtherLicenses.selector,
                manifestKey(creator, MANIFEST),
                uint256(2)
            )
        );
        mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);

        assertEq(nft.totalMinted(), 2);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 2);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), 0);
    }

    function test_Mint_ExclusiveNotBlockedByOtherAccountsLicenseOfSameHash() public {
        uint256 other = mintAs(anyone, researchTerms(), MANIFEST, 0);
        uint256 id = mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);

        assertEq(nft.exclusiveUntil(creator, MANIFEST), expiry);
        assertEq(nft.exclusiveUntil(anyone, MANIFEST), 0, "the lock is the creator's only");
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 1);
        assertEq(nft.licensesOfManifest(anyone, MANIFEST), 1);
        assertEq(nft.license(id).creator, creator);
        assertEq(nft.license(other).creator, anyone);
    }

    function test_RevertWhen_Mint_ManifestUnderRunningExclusiveTerms() public {
        mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);

        _expectLocked(MANIFEST, expiry);
        mintAs(creator, researchTerms(), MANIFEST, 0);

        // Still locked one second before expiry, for any terms including other exclusive terms.
        vm.warp(expiry - 1);
        _expectLocked(MANIFEST, expiry);
        mintAs(creator, defaultTerms(), MANIFEST, 0);
        _expectLocked(MANIFEST, expiry);
        mintAs(creator, exclusiveTerms(anyone, expiry + 1), MANIFEST, 0);

        assertEq(nft.totalMinted(), 1);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 1);
    }

    function test_Mint_CreatorsLockDoesNotBindOtherAccounts() public {
        mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);

        // Another account minting the same hash is not the creator granting a second license.
        uint256 other = mintAs(anyone, researchTerms(), MANIFEST, 0);
        assertEq(other, 2);
        assertEq(nft.license(other).creator, anyone);
        assertEq(nft.licensesOfManifest(anyone, MANIFEST), 1);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 1, "creator's count unchanged");
        assertEq(nft.exclusiveUntil(creator, MANIFEST), expiry, "creator's lock unchanged");

        // And the creator is still bound by its own promise.
        _expectLocked(MANIFEST, expiry);
        mintAs(creator, researchTerms(), MANIFEST, 0);
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
        vm.warp(expiry - 1);
        _expectLocked(MANIFEST, expiry);
        mintAs(creator, researchTerms(), MANIFEST, 0);

        vm.warp(expiry); // expiresAt itself is no longer running
        uint256 id = mintAs(creator, researchTerms(), MANIFEST, 0);
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

    /// @dev The squatting attack: someone who learns a creator's manifest hash (e.g. from a pending
    /// mint) front-runs it with forever-exclusive terms. The lock binds the squatter only; the real
    /// creator can still license its work, even exclusively. (Which license is the real creator's is
    /// proven off-chain by the signed manifest against `license(id).creator`.)
    function test_Mint_SquatterCannotLockAnotherCreatorsManifest() public {
        uint256 squat = mintAs(anyone, exclusiveTerms(anyone, 0), MANIFEST, 0);
        assertEq(nft.exclusiveUntil(anyone, MANIFEST), type(uint40).max);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), 0, "creator not locked");
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 0, "squat not counted as creator's");

        uint256 id = mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);
        assertEq(id, 2);
        assertEq(nft.ownerOf(id), creator);
        assertEq(nft.license(id).creator, creator);
        assertEq(nft.license(squat).creator, anyone);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), expiry);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 1);

        // The squatter's own forever lock still binds the squatter.
        _expectLocked(MANIFEST, type(uint40).max);
        mintAs(anyone, defaultTerms(), MANIFEST, 0);
        assertEq(nft.licensesOfManifest(anyone, MANIFEST), 1);
        assertEq(nft.totalMinted(), 2);
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
        // And the creator's manifest is open again.
        mintAs(creator, researchTerms(), MANIFEST, 0);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 2);
    }

    function test_UpdateTerms_RenewExclusivityAtExpiry() public {
        uint256 id = mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);
        vm.warp(expiry);
        uint40 renewed = expiry + 30 days;
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, renewed));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), renewed);

        vm.warp(renewed - 1);
        _expectLocked(MANIFEST, renewed);
        mintAs(creator, researchTerms(), MANIFEST, 0);
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
        mintAs(creator, researchTerms(), MANIFEST, 0);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 1);
    }

    function test_UpdateTerms_ToExclusiveDespiteOtherAccountsLicensesOfSameHash() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
        mintAs(anyone, researchTerms(), MANIFEST, 0);
        mintAs(anyone, defaultTerms(), MANIFEST, 0);

        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, expiry));
        assertEq(nft.license(id).version, 2);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), expiry);
        assertEq(nft.exclusiveUntil(anyone, MANIFEST), 0);
    }

    /// @dev The key is the license's creator, not its current holder: a holder who minted the same
    /// hash itself neither blocks nor is locked by the update.
    function test_UpdateTerms_ExclusivityKeyedByRecordCreatorNotHolder() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
        mintAs(anyone, researchTerms(), MANIFEST, 0);
        mintAs(anyone, defaultTerms(), MANIFEST, 0);
        vm.prank(creator);
        nft.transferFrom(creator, anyone, id);

        vm.prank(anyone);
        nft.updateTerms(id, exclusiveTerms(payer, expiry));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), expiry);
        assertEq(nft.exclusiveUntil(anyone, MANIFEST), 0, "holder's own key untouched");
        _expectLocked(MANIFEST, expiry);
        mintAs(creator, researchTerms(), MANIFEST, 0);
        mintAs(anyone, researchTerms(), MANIFEST, 0);
        assertEq(nft.licensesOfManifest(anyone, MANIFEST), 3);
    }

    function test_RevertWhen_UpdateTerms_ToExclusiveByHolderWhileCreatorHasOtherLicense() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
        mintAs(creator, researchTerms(), MANIFEST, 0);
        vm.prank(creator);
        nft.transferFrom(creator, anyone, id);

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_ManifestHasOtherLicenses.selector,
                manifestKey(creator, MANIFEST),
                uint256(2)
            )
        );
        vm.prank(anyone);
        nft.updateTerms(id, exclusiveTerms(payer, expiry));
        assertEq(nft.license(id).version, 1);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), 0);
    }

    function test_UpdateTerms_ToForeverExclusive() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, 0));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), type(uint40).max);
    }

    function test_RevertWhen_UpdateTerms_ToExclusiveWithOtherLicenses() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
        mintAs(creator, researchTerms(), MANIFEST, 0);
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
        mintAs(creator, researchTerms(), MANIFEST, 0);
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
