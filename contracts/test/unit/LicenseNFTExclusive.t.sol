// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {ILicenseNFT} from "../../src/interfaces/ILicenseNFT.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {LicenseNFTBase} from "./LicenseNFTBase.t.sol";

/// @notice Exclusive terms lock their creator's manifest: the creator may have no other license of
/// it, may mint none while they run, and the terms may not change while they run. The lock is keyed
/// by (creator, manifestHash): licenses and locks of the same hash by other accounts never bind the
/// creator (and the creator's lock never binds them). A license switches to exclusive terms only
/// when every terms version it had has expired (so that no earlier acceptance can charge usage
/// issued after the switch), and only by its creator holding it (so that no buyer can lock the
/// creator's manifest).
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

    /// @dev The default commercial terms, expiring at `expiresAt`.
    function expiringTerms(uint40 expiresAt) internal view returns (License.Terms memory t) {
        t = defaultTerms();
        t.expiresAt = expiresAt;
    }

    function _expectEarlierRunning(uint256 licenseId, uint40 until) internal {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.LicenseNFT_EarlierTermsRunning.selector, licenseId, until)
        );
    }

    function _expectOnlyCreator(uint256 licenseId, address caller) internal {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.LicenseNFT_ExclusiveOnlyByCreator.selector, licenseId, caller)
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
        expectOtherLicenses(1);
        mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);

        // Another account's license of the same hash is not counted as the creator's.
        mintAs(anyone, defaultTerms(), MANIFEST, 0);
        expectOtherLicenses(1);
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

        expectOtherLicenses(2);
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
        expectOtherLicenses(1);
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
        uint256 id = mintAs(creator, expiringTerms(expiry), MANIFEST, ROYALTY_BPS);
        vm.warp(expiry);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, expiry + 30 days));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), expiry + 30 days);
        assertEq(nft.earlierTermsRunUntil(id), expiry);
        (, License.Terms memory t) = nft.currentTerms(id);
        assertEq(t.exclusiveLicensee, payer);

        _expectLocked(MANIFEST, expiry + 30 days);
        mintAs(creator, researchTerms(), MANIFEST, 0);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 1);
    }

    function test_UpdateTerms_ToExclusiveDespiteOtherAccountsLicensesOfSameHash() public {
        uint256 id = mintAs(creator, expiringTerms(expiry), MANIFEST, ROYALTY_BPS);
        mintAs(anyone, researchTerms(), MANIFEST, 0);
        mintAs(anyone, defaultTerms(), MANIFEST, 0);

        vm.warp(expiry);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, 0));
        assertEq(nft.license(id).version, 2);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), type(uint40).max);
        assertEq(nft.exclusiveUntil(anyone, MANIFEST), 0);
    }

    function test_RevertWhen_UpdateTerms_ToExclusiveWithOtherLicenses() public {
        uint256 id = mintAs(creator, expiringTerms(expiry), MANIFEST, ROYALTY_BPS);
        mintAs(creator, researchTerms(), MANIFEST, 0);
        vm.warp(expiry);
        expectOtherLicenses(2);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, expiry + 1 days));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), 0);
        assertEq(nft.license(id).version, 1);
        assertEq(nft.termsCount(), 2, "the exclusive terms' registration is rolled back");
    }

    function test_RevertWhen_UpdateTerms_ToExclusiveAfterExpiredExclusiveAndNewMint() public {
        uint256 id = mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);
        vm.warp(expiry);
        mintAs(creator, researchTerms(), MANIFEST, 0);
        expectOtherLicenses(2);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, 0));
    }

    /*//////////////////////////////////////////////////////////////
                 SWITCHING TO EXCLUSIVE: EARLIER ACCEPTANCES
    //////////////////////////////////////////////////////////////*/

    /// @dev Exploit (issue 12, item 6): terms without expiry, which payers may have accepted, are
    /// replaced by exclusive terms; the earlier acceptances would stay chargeable for usage issued
    /// a year later. Terms that never expire can never be followed by exclusive terms.
    function test_RevertWhen_UpdateTerms_ToExclusiveWhileEarlierTermsNeverExpire() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
        assertEq(nft.earlierTermsRunUntil(id), 0, "no earlier version yet");
        _expectEarlierRunning(id, type(uint40).max);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, expiry));

        vm.warp(block.timestamp + 100 * 365 days);
        _expectEarlierRunning(id, type(uint40).max);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, 0));
        (, License.Terms memory t) = nft.currentTerms(id);
        assertEq(t.exclusiveLicensee, address(0));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), 0);
    }

    /// @dev Current terms expiring at `expiry` may have been accepted: until then the switch is
    /// refused, at `expiry` it is allowed (usage issued from then on is not chargeable under them).
    function test_UpdateTerms_ToExclusiveOnlyOnceTheCurrentTermsExpired() public {
        uint256 id = mintAs(creator, expiringTerms(expiry), MANIFEST, ROYALTY_BPS);
        _expectEarlierRunning(id, expiry);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, 0));
        vm.warp(expiry - 1);
        _expectEarlierRunning(id, expiry);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, 0));

        vm.warp(expiry);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, 0));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), type(uint40).max);
    }

    /// @dev Every earlier version counts, not only the one replaced: a first version without
    /// expiry, replaced by expiring terms, still blocks the switch forever; and of several
    /// expiring versions, the latest expiry counts.
    function test_RevertWhen_UpdateTerms_ToExclusiveWhileAnyEarlierVersionRuns() public {
        uint256 a = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);
        vm.prank(creator);
        nft.updateTerms(a, expiringTerms(expiry));
        assertEq(nft.earlierTermsRunUntil(a), type(uint40).max);
        vm.warp(expiry);
        _expectEarlierRunning(a, type(uint40).max);
        vm.prank(creator);
        nft.updateTerms(a, exclusiveTerms(payer, 0));

        uint40 later = expiry + 60 days;
        uint256 b = mintAs(creator, expiringTerms(later), MANIFEST_2, ROYALTY_BPS);
        vm.prank(creator);
        nft.updateTerms(b, expiringTerms(later - 10 days));
        assertEq(nft.earlierTermsRunUntil(b), later);
        vm.warp(later - 10 days);
        _expectEarlierRunning(b, later);
        vm.prank(creator);
        nft.updateTerms(b, exclusiveTerms(payer, 0));
        vm.warp(later);
        vm.prank(creator);
        nft.updateTerms(b, exclusiveTerms(payer, 0));
        assertEq(nft.earlierTermsRunUntil(b), later);
    }

    /// @dev A license minted exclusive, renewed for the same licensee at expiry: the expired
    /// exclusive version binds nobody else.
    function test_UpdateTerms_RenewedExclusivityKeepsEarlierExpiry() public {
        uint256 id = mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);
        vm.warp(expiry);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, expiry + 30 days));
        assertEq(nft.earlierTermsRunUntil(id), expiry);
    }

    /*//////////////////////////////////////////////////////////////
               SWITCHING TO EXCLUSIVE: ONLY THE CREATOR, HOLDING
    //////////////////////////////////////////////////////////////*/

    /// @dev Exploit (issue 12, item 6): a buyer of a creator's only license of a manifest sets
    /// exclusive terms without expiry, which would block any new license of the creator's work
    /// forever. Only the creator, holding the license, can make it exclusive.
    function test_RevertWhen_UpdateTerms_BuyerSetsExclusiveTerms() public {
        uint256 id = mintAs(creator, expiringTerms(expiry), MANIFEST, ROYALTY_BPS);
        vm.prank(creator);
        nft.transferFrom(creator, anyone, id);
        vm.warp(expiry);
        _expectOnlyCreator(id, anyone);
        vm.prank(anyone);
        nft.updateTerms(id, exclusiveTerms(anyone, 0));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), 0, "the creator's manifest is not locked");
        // The buyer may still change the terms otherwise, and the creator license its work again.
        vm.prank(anyone);
        nft.updateTerms(id, researchTerms());
        mintAs(creator, defaultTerms(), MANIFEST, 0);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 2);
    }

    /// @dev The creator cannot do it for a license it sold, even when the holder approves it;
    /// an account the creator approved cannot do it either.
    function test_RevertWhen_UpdateTerms_ExclusiveByApprovedOrByCreatorNotHolding() public {
        uint256 id = mintAs(creator, expiringTerms(expiry), MANIFEST, ROYALTY_BPS);
        vm.prank(creator);
        nft.setApprovalForAll(relayer, true);
        vm.warp(expiry);
        _expectOnlyCreator(id, relayer);
        vm.prank(relayer);
        nft.updateTerms(id, exclusiveTerms(payer, 0));

        vm.prank(creator);
        nft.transferFrom(creator, anyone, id);
        vm.prank(anyone);
        nft.approve(creator, id);
        _expectOnlyCreator(id, creator);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, 0));

        // Bought back, the creator can.
        vm.prank(anyone);
        nft.transferFrom(anyone, creator, id);
        vm.prank(creator);
        nft.updateTerms(id, exclusiveTerms(payer, 0));
        assertEq(nft.exclusiveUntil(creator, MANIFEST), type(uint40).max);
    }

    function test_RevertWhen_UpdateTerms_ToExclusiveByHolderWhileCreatorHasOtherLicense() public {
        uint256 id = mintAs(creator, expiringTerms(expiry), MANIFEST, ROYALTY_BPS);
        mintAs(creator, researchTerms(), MANIFEST, 0);
        vm.prank(creator);
        nft.transferFrom(creator, anyone, id);
        vm.warp(expiry);
        _expectOnlyCreator(id, anyone);
        vm.prank(anyone);
        nft.updateTerms(id, exclusiveTerms(payer, expiry + 1 days));
        assertEq(nft.license(id).version, 1);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), 0);
    }

    function test_EarlierTermsRunUntil_UnknownLicense() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 99));
        nft.earlierTermsRunUntil(99);
    }
}
