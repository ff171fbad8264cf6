// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {Vm} from "forge-std/Vm.sol";

import {ILicenseNFT} from "../../src/interfaces/ILicenseNFT.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {LicenseNFTBase} from "./LicenseNFTBase.t.sol";

/// @notice Minting (single and batch), records, royalties, interfaces and ownership.
contract LicenseNFTTest is LicenseNFTBase {
    /*//////////////////////////////////////////////////////////////
                                   MINT
    //////////////////////////////////////////////////////////////*/

    function test_Mint_StoresRecordAndOwnership() public {
        vm.warp(block.timestamp + 123);
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);

        assertEq(id, 1, "ids start at 1");
        License.Record memory r = nft.license(id);
        assertEq(r.termsId, 1);
        assertEq(r.version, 1);
        assertEq(r.mintedAt, block.timestamp);
        assertEq(r.creator, creator);
        assertEq(r.manifestHash, MANIFEST);

        assertEq(nft.ownerOf(id), creator);
        assertEq(nft.balanceOf(creator), 1);
        assertEq(nft.totalMinted(), 1);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 1);
        assertEq(nft.licensesOfManifest(creator, MANIFEST_2), 0);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), 0, "non-exclusive terms do not lock the manifest");

        (uint64 termsId, License.Terms memory t) = nft.currentTerms(id);
        assertEq(termsId, 1);
        assertTermsEq(t, defaultTerms());
    }

    function test_Mint_EmitsTermsRegisteredTransferAndLicenseMinted() public {
        License.Terms memory t = defaultTerms();
        vm.expectEmit(true, true, true, true, address(nft));
        emit ILicenseNFT.TermsRegistered(1, keccak256(abi.encode(t)), t);
        vm.expectEmit(true, true, true, true, address(nft));
        emit IERC721.Transfer(address(0), creator, 1);
        vm.expectEmit(true, true, true, true, address(nft));
        emit ILicenseNFT.LicenseMinted(1, creator, 1, MANIFEST, ROYALTY_BPS);
        mintAs(creator, t, MANIFEST, ROYALTY_BPS);
    }

    function test_Mint_ReusesRegisteredTermsWithoutTermsEvent() public {
        mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS);

        vm.recordLogs();
        uint256 id = mintAs(anyone, defaultTerms(), MANIFEST_2, 0);
        Vm.Log[] memory logs = vm.getRecordedLogs();

        assertEq(id, 2);
        assertEq(nft.license(id).termsId, 1);
        assertEq(nft.termsCount(), 1);
        assertEq(countLogs(logs, address(nft), ILicenseNFT.TermsRegistered.selector), 0);
        assertEq(countLogs(logs, address(nft), ILicenseNFT.LicenseMinted.selector), 1);
        assertEq(countLogs(logs, address(nft), IERC721.Transfer.selector), 1);
    }

    function test_Mint_IdsIncrementAcrossCreatorsAndManifests() public {
        assertEq(nft.totalMinted(), 0);
        assertEq(mintAs(creator, defaultTerms(), MANIFEST, ROYALTY_BPS), 1);
        assertEq(mintAs(anyone, researchTerms(), MANIFEST, 0), 2);
        assertEq(mintAs(creator, defaultTerms(), MANIFEST_2, ROYALTY_BPS), 3);

        assertEq(nft.totalMinted(), 3);
        // Counts are per (creator, manifest): `anyone`'s license of MANIFEST is not `creator`'s.
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 1);
        assertEq(nft.licensesOfManifest(anyone, MANIFEST), 1);
        assertEq(nft.licensesOfManifest(creator, MANIFEST_2), 1);
        assertEq(nft.licensesOfManifest(anyone, MANIFEST_2), 0);
        assertEq(nft.ownerOf(2), anyone);
        assertEq(nft.license(2).creator, anyone);
        assertEq(nft.license(2).termsId, 2);
        assertEq(nft.license(3).termsId, 1);
        assertEq(nft.balanceOf(creator), 2);
    }

    function test_Mint_ToContractWithoutReceiverHook() public {
        // `_mint`, not `_safeMint`: a contract creator (e.g. a multisig) needs no onERC721Received.
        address contractCreator = address(usdc);
        uint256 id = mintAs(contractCreator, defaultTerms(), MANIFEST, ROYALTY_BPS);
        assertEq(nft.ownerOf(id), contractCreator);
    }

    function test_RevertWhen_Mint_ZeroManifestHash() public {
        vm.expectRevert(Errors.LicenseNFT_ZeroManifestHash.selector);
        mintAs(creator, defaultTerms(), bytes32(0), ROYALTY_BPS);
        assertEq(nft.totalMinted(), 0);
    }

    function test_RevertWhen_Mint_RoyaltyAboveMax() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.LicenseNFT_RoyaltyTooHigh.selector, MAX_BPS + 1, MAX_BPS)
        );
        mintAs(creator, defaultTerms(), MANIFEST, MAX_BPS + 1);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.LicenseNFT_RoyaltyTooHigh.selector, type(uint96).max, MAX_BPS)
        );
        mintAs(creator, defaultTerms(), MANIFEST, type(uint96).max);
    }

    function test_RevertWhen_Mint_InvalidTerms() public {
        License.Terms memory t = defaultTerms();
        t.paymentToken = address(0);
        vm.expectRevert(Errors.LicenseNFT_ZeroPaymentToken.selector);
        mintAs(creator, t, MANIFEST, ROYALTY_BPS);

        t = defaultTerms();
        t.commercialUse = false;
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_TermsInconsistentWithKind.selector, uint8(License.Kind.Commercial)
            )
        );
        mintAs(creator, t, MANIFEST, ROYALTY_BPS);

        t = defaultTerms();
        t.expiresAt = uint40(block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_TermsAlreadyExpired.selector, t.expiresAt));
        mintAs(creator, t, MANIFEST, ROYALTY_BPS);

        assertEq(nft.totalMinted(), 0);
        assertEq(nft.termsCount(), 0);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 0);
    }

    function test_MaxRoyaltyBps_IsFiftyPercent() public view {
        assertEq(nft.MAX_ROYALTY_BPS(), 5000);
    }

    /*//////////////////////////////////////////////////////////////
                                 ROYALTY
    //////////////////////////////////////////////////////////////*/

    function test_RoyaltyInfo_PaysBpsOfSalePriceToCreator() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, 500);
        (address receiver, uint256 amount) = nft.royaltyInfo(id, 1 ether);
        assertEq(receiver, creator);
        assertEq(amount, 0.05 ether);

        (, amount) = nft.royaltyInfo(id, 10_001);
        assertEq(amount, 500, "rounds down");
    }

    function test_RoyaltyInfo_MaxRoyaltyIsHalf() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, MAX_BPS);
        (address receiver, uint256 amount) = nft.royaltyInfo(id, 1 ether);
        assertEq(receiver, creator);
        assertEq(amount, 0.5 ether);
    }

    function test_RoyaltyInfo_ZeroRoyaltyHasNoReceiver() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, 0);
        (address receiver, uint256 amount) = nft.royaltyInfo(id, 1 ether);
        assertEq(receiver, address(0));
        assertEq(amount, 0);
    }

    function test_RoyaltyInfo_StaysWithCreatorAfterTransfer() public {
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, 500);
        vm.prank(creator);
        nft.transferFrom(creator, anyone, id);
        (address receiver, uint256 amount) = nft.royaltyInfo(id, 1 ether);
        assertEq(receiver, creator);
        assertEq(amount, 0.05 ether);
    }

    function test_RoyaltyInfo_IsPerToken() public {
        uint256 a = mintAs(creator, defaultTerms(), MANIFEST, 100);
        uint256 b = mintAs(anyone, defaultTerms(), MANIFEST_2, 2500);
        (address ra, uint256 aa) = nft.royaltyInfo(a, 10_000);
        (address rb, uint256 ab) = nft.royaltyInfo(b, 10_000);
        assertEq(ra, creator);
        assertEq(aa, 100);
        assertEq(rb, anyone);
        assertEq(ab, 2500);
    }

    /*//////////////////////////////////////////////////////////////
                                MINT BATCH
    //////////////////////////////////////////////////////////////*/

    function test_MintBatch_MintsConsecutiveIdsAndReturnsFirst() public {
        mintAs(anyone, defaultTerms(), MANIFEST_2, 0); // id 1 belongs to someone else

        License.MintRequest[] memory reqs = new License.MintRequest[](3);
        reqs[0] = request(defaultTerms(), MANIFEST, 100);
        reqs[1] = request(researchTerms(), MANIFEST, 0);
        reqs[2] = request(defaultTerms(), keccak256("manifest-3"), MAX_BPS);

        vm.recordLogs();
        vm.prank(creator);
        uint256 firstId = nft.mintBatch(reqs);
        Vm.Log[] memory logs = vm.getRecordedLogs();

        assertEq(firstId, 2);
        assertEq(nft.totalMinted(), 4);
        assertEq(nft.balanceOf(creator), 3);
        for (uint256 i; i < 3; ++i) {
            uint256 id = firstId + i;
            assertEq(nft.ownerOf(id), creator);
            License.Record memory r = nft.license(id);
            assertEq(r.creator, creator);
            assertEq(r.version, 1);
            assertEq(r.mintedAt, block.timestamp);
            assertEq(r.manifestHash, reqs[i].manifestHash);
            assertTermsEq(nft.terms(r.termsId), reqs[i].terms);
            (address receiver, uint256 amount) = nft.royaltyInfo(id, 10_000);
            assertEq(amount, reqs[i].royaltyBps);
            assertEq(receiver, reqs[i].royaltyBps == 0 ? address(0) : creator);
        }
        assertEq(nft.license(2).termsId, 1, "default terms reused");
        assertEq(nft.license(3).termsId, 2);
        assertEq(nft.license(4).termsId, 1, "deduplicated within the batch");
        assertEq(nft.termsCount(), 2);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 2);
        assertEq(nft.licensesOfManifest(creator, MANIFEST_2), 0, "id 1 is anyone's, not creator's");
        assertEq(nft.licensesOfManifest(anyone, MANIFEST_2), 1);
        assertEq(nft.licensesOfManifest(creator, keccak256("manifest-3")), 1);

        assertEq(countLogs(logs, address(nft), ILicenseNFT.LicenseMinted.selector), 3);
        assertEq(countLogs(logs, address(nft), IERC721.Transfer.selector), 3);
        assertEq(countLogs(logs, address(nft), ILicenseNFT.TermsRegistered.selector), 1);
    }

    function test_MintBatch_SingleItem() public {
        vm.expectEmit(true, true, true, true, address(nft));
        emit ILicenseNFT.LicenseMinted(1, creator, 1, MANIFEST, ROYALTY_BPS);
        vm.prank(creator);
        uint256 firstId = nft.mintBatch(batchOf(request(defaultTerms(), MANIFEST, ROYALTY_BPS)));
        assertEq(firstId, 1);
        assertEq(nft.ownerOf(1), creator);
        assertEq(nft.totalMinted(), 1);
    }

    function test_RevertWhen_MintBatch_Empty() public {
        vm.expectRevert(Errors.LicenseNFT_EmptyBatch.selector);
        vm.prank(creator);
        nft.mintBatch(new License.MintRequest[](0));
    }

    function _batchWithBadLast(License.MintRequest memory bad)
        private
        view
        returns (License.MintRequest[] memory reqs)
    {
        License.Terms memory fresh = researchTerms();
        fresh.uri = "ipfs://terms/only-in-this-batch";
        reqs = new License.MintRequest[](3);
        reqs[0] = request(defaultTerms(), MANIFEST, ROYALTY_BPS);
        reqs[1] = request(fresh, MANIFEST_2, 0);
        reqs[2] = bad;
    }

    function _assertNothingMinted() private view {
        assertEq(nft.totalMinted(), 0);
        assertEq(nft.termsCount(), 0, "terms registered by earlier items are rolled back");
        assertEq(nft.balanceOf(creator), 0);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), 0);
        assertEq(nft.licensesOfManifest(creator, MANIFEST_2), 0);
    }

    function test_RevertWhen_MintBatch_AnItemHasZeroManifest() public {
        License.MintRequest[] memory reqs = _batchWithBadLast(request(defaultTerms(), bytes32(0), 0));
        vm.expectRevert(Errors.LicenseNFT_ZeroManifestHash.selector);
        vm.prank(creator);
        nft.mintBatch(reqs);
        _assertNothingMinted();
    }

    function test_RevertWhen_MintBatch_AnItemHasRoyaltyTooHigh() public {
        License.MintRequest[] memory reqs = _batchWithBadLast(request(defaultTerms(), MANIFEST, MAX_BPS + 1));
        vm.expectRevert(
            abi.encodeWithSelector(Errors.LicenseNFT_RoyaltyTooHigh.selector, MAX_BPS + 1, MAX_BPS)
        );
        vm.prank(creator);
        nft.mintBatch(reqs);
        _assertNothingMinted();
    }

    function test_RevertWhen_MintBatch_AnItemHasInvalidTerms() public {
        License.Terms memory t = defaultTerms();
        t.kind = License.Kind.Custom;
        t.uri = "";
        License.MintRequest[] memory reqs = _batchWithBadLast(request(t, MANIFEST, 0));
        vm.expectRevert(Errors.LicenseNFT_CustomTermsNeedUri.selector);
        vm.prank(creator);
        nft.mintBatch(reqs);
        _assertNothingMinted();
    }

    function test_RevertWhen_MintBatch_FirstItemIsBad() public {
        License.MintRequest[] memory reqs = _batchWithBadLast(request(defaultTerms(), MANIFEST, 0));
        reqs[0].manifestHash = bytes32(0);
        vm.expectRevert(Errors.LicenseNFT_ZeroManifestHash.selector);
        vm.prank(creator);
        nft.mintBatch(reqs);
        _assertNothingMinted();
    }

    function test_RevertWhen_MintBatch_ExclusiveItemAfterAnotherForSameManifest() public {
        // Item 0 licenses MANIFEST non-exclusively, so item 2 cannot be exclusive for it.
        License.MintRequest[] memory reqs = _batchWithBadLast(request(exclusiveTerms(payer, 0), MANIFEST, 0));
        expectOtherLicenses(1);
        vm.prank(creator);
        nft.mintBatch(reqs);
        _assertNothingMinted();
    }

    function test_RevertWhen_MintBatch_ItemAfterExclusiveForSameManifest() public {
        License.MintRequest[] memory reqs = new License.MintRequest[](2);
        reqs[0] = request(exclusiveTerms(payer, 0), MANIFEST, 0);
        reqs[1] = request(defaultTerms(), MANIFEST, 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_ManifestExclusivelyLicensed.selector, MANIFEST, type(uint40).max
            )
        );
        vm.prank(creator);
        nft.mintBatch(reqs);
        assertEq(nft.totalMinted(), 0);
        assertEq(nft.exclusiveUntil(creator, MANIFEST), 0, "lock rolled back");
    }

    /*//////////////////////////////////////////////////////////////
                              LICENSE READS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_License_NonexistentToken() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, uint256(0)));
        nft.license(0);
        mintLicense();
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, uint256(2)));
        nft.license(2);
    }

    function test_RevertWhen_CurrentTerms_NonexistentToken() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, uint256(1)));
        nft.currentTerms(1);
    }

    function test_Metadata_NameAndSymbol() public view {
        assertEq(nft.name(), "Fairtrain License");
        assertEq(nft.symbol(), "FTL");
    }

    /*//////////////////////////////////////////////////////////////
                            SUPPORTS INTERFACE
    //////////////////////////////////////////////////////////////*/

    function test_SupportsInterface_StandardInterfaces() public view {
        assertTrue(nft.supportsInterface(type(IERC165).interfaceId));
        assertTrue(nft.supportsInterface(type(IERC721).interfaceId));
        assertTrue(nft.supportsInterface(type(IERC721Metadata).interfaceId));
        assertTrue(nft.supportsInterface(type(IERC2981).interfaceId));
        assertTrue(nft.supportsInterface(type(ILicenseNFT).interfaceId));
        // The literal ids, in case the imported interfaces ever drift.
        assertTrue(nft.supportsInterface(0x01ffc9a7));
        assertTrue(nft.supportsInterface(0x80ac58cd));
        assertTrue(nft.supportsInterface(0x5b5e139f));
        assertTrue(nft.supportsInterface(0x2a55205a));
    }

    function test_SupportsInterface_FalseForOthers() public view {
        assertFalse(nft.supportsInterface(0xffffffff), "ERC165 invalid id");
        assertFalse(nft.supportsInterface(0xdeadbeef));
        assertFalse(nft.supportsInterface(0x780e9d63), "ERC721Enumerable is not implemented");
        assertFalse(nft.supportsInterface(0xd9b67a26), "ERC1155");
    }

    /*//////////////////////////////////////////////////////////////
                                OWNERSHIP
    //////////////////////////////////////////////////////////////*/

    function test_Transfer_MovesHolderButNotCreatorOrTerms() public {
        uint256 id = mintLicense();
        (uint64 termsBefore,) = nft.currentTerms(id);

        vm.expectEmit(true, true, true, true, address(nft));
        emit IERC721.Transfer(creator, anyone, id);
        vm.prank(creator);
        nft.transferFrom(creator, anyone, id);

        assertEq(nft.ownerOf(id), anyone);
        assertEq(nft.balanceOf(creator), 0);
        assertEq(nft.balanceOf(anyone), 1);
        License.Record memory r = nft.license(id);
        assertEq(r.creator, creator, "creator is historical");
        assertEq(r.version, 1);
        assertEq(r.termsId, termsBefore);
    }

    function test_Transfer_SafeTransferAndApprovedTransfer() public {
        uint256 id = mintLicense();
        vm.prank(creator);
        nft.safeTransferFrom(creator, payer, id);
        assertEq(nft.ownerOf(id), payer);

        vm.prank(payer);
        nft.approve(relayer, id);
        vm.prank(relayer);
        nft.transferFrom(payer, anyone, id);
        assertEq(nft.ownerOf(id), anyone);
        assertEq(nft.getApproved(id), address(0), "approval cleared by the transfer");
    }

    function test_RevertWhen_Transfer_ByFormerHolder() public {
        uint256 id = mintLicense();
        vm.prank(creator);
        nft.transferFrom(creator, anyone, id);

        vm.expectRevert(
            abi.encodeWithSelector(IERC721Errors.ERC721InsufficientApproval.selector, creator, id)
        );
        vm.prank(creator);
        nft.transferFrom(anyone, creator, id);
        assertEq(nft.ownerOf(id), anyone);
    }
}
