// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {LicenseNFT} from "../../src/LicenseNFT.sol";
import {ILicenseNFT} from "../../src/interfaces/ILicenseNFT.sol";
import {ILicenseTransferHook} from "../../src/interfaces/ILicenseTransferHook.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {StreamsBase} from "../utils/StreamsBase.t.sol";

/// @notice {LicenseNFT}'s transfer hook (set once, by the deployer) and per-license royalty
/// receivers (set by the creator).
contract LicenseNFTHooksTest is StreamsBase {
    function test_TransferHook_SetOnceByDeployer() public {
        assertEq(address(nft.transferHook()), address(streams));
        vm.expectRevert(
            abi.encodeWithSelector(Errors.LicenseNFT_TransferHookAlreadySet.selector, address(streams))
        );
        nft.setTransferHook(ILicenseTransferHook(address(1)));
    }

    function test_RevertWhen_SetTransferHook_NotDeployerOrZero() public {
        vm.prank(anyone);
        LicenseNFT fresh = new LicenseNFT();
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_NotHookSetter.selector, address(this)));
        fresh.setTransferHook(streams);
        vm.prank(anyone);
        vm.expectRevert(Errors.LicenseNFT_ZeroTransferHook.selector);
        fresh.setTransferHook(ILicenseTransferHook(address(0)));
        vm.expectEmit(address(fresh));
        emit ILicenseNFT.TransferHookSet(address(streams));
        vm.prank(anyone);
        fresh.setTransferHook(streams);
    }

    function test_Hook_CalledOnTransfersNotMints() public {
        vm.expectCall(
            address(streams),
            abi.encodeCall(ILicenseTransferHook.onLicenseTransfer, (licenseId, creator, buyer))
        );
        transferLicense(creator, buyer);
        // Mints do not call the hook (a count of 0 calls).
        vm.expectCall(
            address(streams), abi.encodeWithSelector(ILicenseTransferHook.onLicenseTransfer.selector), 0
        );
        mintLicense(creator, defaultTerms(), keccak256("manifest-9"));
    }

    function test_RoyaltyReceiver_CreatorRoutesAndResets() public {
        vm.expectEmit(address(nft));
        emit ILicenseNFT.RoyaltyReceiverSet(licenseId, creator, collector);
        vm.prank(creator);
        nft.setRoyaltyReceiver(licenseId, collector);
        assertEq(nft.royaltyReceiverOf(licenseId), collector);
        (address receiver, uint256 amount) = nft.royaltyInfo(licenseId, 10_000);
        assertEq(receiver, collector);
        assertEq(amount, 500);
        // The royalty is the creator's, whoever holds the token.
        transferLicense(creator, buyer);
        (receiver,) = nft.royaltyInfo(licenseId, 10_000);
        assertEq(receiver, collector);
        vm.prank(creator);
        nft.setRoyaltyReceiver(licenseId, address(0));
        (receiver,) = nft.royaltyInfo(licenseId, 10_000);
        assertEq(receiver, creator);
    }

    function test_RevertWhen_SetRoyaltyReceiver_NotCreator() public {
        transferLicense(creator, buyer);
        vm.prank(buyer);
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_NotCreator.selector, licenseId, buyer));
        nft.setRoyaltyReceiver(licenseId, buyer);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 99));
        nft.setRoyaltyReceiver(99, buyer);
    }
}
