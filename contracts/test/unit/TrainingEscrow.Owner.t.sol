// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {TrainingEscrow} from "../../src/TrainingEscrow.sol";
import {ILicenseNFT} from "../../src/interfaces/ILicenseNFT.sol";
import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {EscrowHelpers} from "./TrainingEscrow.Helpers.sol";

contract TrainingEscrowOwnerTest is EscrowHelpers {
    uint40 internal constant MIN_NOTICE = 1 hours;
    uint40 internal constant MAX_NOTICE = 30 days;
    uint40 internal constant MIN_WINDOW = 1 days;
    uint40 internal constant MAX_WINDOW = 365 days;

    /*//////////////////////////////////////////////////////////////
                               CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    function test_Constructor_SetsParametersAndEmits() public {
        vm.expectEmit();
        emit ITrainingEscrow.FeeUpdated(1000);
        vm.expectEmit();
        emit ITrainingEscrow.NoticePeriodUpdated(MIN_NOTICE);
        vm.expectEmit();
        emit ITrainingEscrow.ClaimWindowUpdated(MAX_WINDOW);
        TrainingEscrow e = new TrainingEscrow(nft, owner, 1000, MIN_NOTICE, MAX_WINDOW);

        assertEq(address(e.licenses()), address(nft));
        assertEq(e.owner(), owner);
        assertEq(e.feeBps(), 1000);
        assertEq(e.noticePeriod(), MIN_NOTICE);
        assertEq(e.claimWindow(), MAX_WINDOW);
        assertFalse(e.isTokenAllowed(address(usdc)));
    }

    function test_Constructor_OtherBoundsInclusive() public {
        TrainingEscrow e = new TrainingEscrow(nft, owner, 0, MAX_NOTICE, MIN_WINDOW);
        assertEq(e.feeBps(), 0);
        assertEq(e.noticePeriod(), MAX_NOTICE);
        assertEq(e.claimWindow(), MIN_WINDOW);
    }

    function test_RevertWhen_Constructor_FeeTooHigh() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_FeeTooHigh.selector, uint16(1001), uint16(1000))
        );
        new TrainingEscrow(nft, owner, 1001, NOTICE, CLAIM_WINDOW);
    }

    function test_RevertWhen_Constructor_NoticeTooShort() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoticePeriodOutOfBounds.selector, MIN_NOTICE - 1, MIN_NOTICE, MAX_NOTICE
            )
        );
        new TrainingEscrow(nft, owner, FEE_BPS, MIN_NOTICE - 1, CLAIM_WINDOW);
    }

    function test_RevertWhen_Constructor_NoticeTooLong() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoticePeriodOutOfBounds.selector, MAX_NOTICE + 1, MIN_NOTICE, MAX_NOTICE
            )
        );
        new TrainingEscrow(nft, owner, FEE_BPS, MAX_NOTICE + 1, CLAIM_WINDOW);
    }

    function test_RevertWhen_Constructor_ClaimWindowTooShort() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_ClaimWindowOutOfBounds.selector, MIN_WINDOW - 1, MIN_WINDOW, MAX_WINDOW
            )
        );
        new TrainingEscrow(nft, owner, FEE_BPS, NOTICE, MIN_WINDOW - 1);
    }

    function test_RevertWhen_Constructor_ClaimWindowTooLong() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_ClaimWindowOutOfBounds.selector, MAX_WINDOW + 1, MIN_WINDOW, MAX_WINDOW
            )
        );
        new TrainingEscrow(nft, owner, FEE_BPS, NOTICE, MAX_WINDOW + 1);
    }

    function test_RevertWhen_Constructor_ZeroLicenses() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroAddress.selector);
        new TrainingEscrow(ILicenseNFT(address(0)), owner, FEE_BPS, NOTICE, CLAIM_WINDOW);
    }

    function test_RevertWhen_Constructor_ZeroOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new TrainingEscrow(nft, address(0), FEE_BPS, NOTICE, CLAIM_WINDOW);
    }

    /*//////////////////////////////////////////////////////////////
                                ONLY OWNER
    //////////////////////////////////////////////////////////////*/

    function expectUnauthorized(address who) internal {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, who));
    }

    function test_RevertWhen_SetFee_NotOwner() public {
        expectUnauthorized(anyone);
        vm.prank(anyone);
        escrow.setFee(0);
    }

    function test_RevertWhen_SetNoticePeriod_NotOwner() public {
        expectUnauthorized(payer);
        vm.prank(payer);
        escrow.setNoticePeriod(2 days);
    }

    function test_RevertWhen_SetClaimWindow_NotOwner() public {
        expectUnauthorized(relayer);
        vm.prank(relayer);
        escrow.setClaimWindow(2 days);
    }

    function test_RevertWhen_SetTokenAllowed_NotOwner() public {
        expectUnauthorized(anyone);
        vm.prank(anyone);
        escrow.setTokenAllowed(address(usdc), false);
    }

    function test_RevertWhen_WithdrawFees_NotOwner() public {
        expectUnauthorized(creator);
        vm.prank(creator);
        escrow.withdrawFees(address(usdc), creator);
    }

    /*//////////////////////////////////////////////////////////////
                                PARAMETERS
    //////////////////////////////////////////////////////////////*/

    function test_SetFee_UpdatesAndEmits() public {
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FeeUpdated(1000);
        vm.prank(owner);
        escrow.setFee(1000);
        assertEq(escrow.feeBps(), 1000);

        vm.prank(owner);
        escrow.setFee(0);
        assertEq(escrow.feeBps(), 0);
    }

    function test_RevertWhen_SetFee_AboveMax() public {
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_FeeTooHigh.selector, uint16(1001), uint16(1000))
        );
        vm.prank(owner);
        escrow.setFee(1001);
        assertEq(escrow.feeBps(), FEE_BPS);
    }

    function test_SetNoticePeriod_UpdatesAndEmitsAtBounds() public {
        vm.startPrank(owner);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.NoticePeriodUpdated(MIN_NOTICE);
        escrow.setNoticePeriod(MIN_NOTICE);
        assertEq(escrow.noticePeriod(), MIN_NOTICE);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.NoticePeriodUpdated(MAX_NOTICE);
        escrow.setNoticePeriod(MAX_NOTICE);
        assertEq(escrow.noticePeriod(), MAX_NOTICE);
        vm.stopPrank();
    }

    function test_RevertWhen_SetNoticePeriod_OutOfBounds() public {
        vm.startPrank(owner);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoticePeriodOutOfBounds.selector, MIN_NOTICE - 1, MIN_NOTICE, MAX_NOTICE
            )
        );
        escrow.setNoticePeriod(MIN_NOTICE - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoticePeriodOutOfBounds.selector, MAX_NOTICE + 1, MIN_NOTICE, MAX_NOTICE
            )
        );
        escrow.setNoticePeriod(MAX_NOTICE + 1);
        vm.stopPrank();
        assertEq(escrow.noticePeriod(), NOTICE);
    }

    function test_SetClaimWindow_UpdatesAndEmitsAtBounds() public {
        vm.startPrank(owner);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.ClaimWindowUpdated(MIN_WINDOW);
        escrow.setClaimWindow(MIN_WINDOW);
        assertEq(escrow.claimWindow(), MIN_WINDOW);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.ClaimWindowUpdated(MAX_WINDOW);
        escrow.setClaimWindow(MAX_WINDOW);
        assertEq(escrow.claimWindow(), MAX_WINDOW);
        vm.stopPrank();
    }

    function test_RevertWhen_SetClaimWindow_OutOfBounds() public {
        vm.startPrank(owner);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_ClaimWindowOutOfBounds.selector, MIN_WINDOW - 1, MIN_WINDOW, MAX_WINDOW
            )
        );
        escrow.setClaimWindow(MIN_WINDOW - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_ClaimWindowOutOfBounds.selector, MAX_WINDOW + 1, MIN_WINDOW, MAX_WINDOW
            )
        );
        escrow.setClaimWindow(MAX_WINDOW + 1);
        vm.stopPrank();
        assertEq(escrow.claimWindow(), CLAIM_WINDOW);
    }

    function test_SetTokenAllowed_TogglesAndEmits() public {
        address token = makeAddr("token");
        vm.startPrank(owner);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.TokenAllowed(token, true);
        escrow.setTokenAllowed(token, true);
        assertTrue(escrow.isTokenAllowed(token));
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.TokenAllowed(token, false);
        escrow.setTokenAllowed(token, false);
        assertFalse(escrow.isTokenAllowed(token));
        vm.stopPrank();
    }

    function test_RevertWhen_SetTokenAllowed_ZeroAddress() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroAddress.selector);
        vm.prank(owner);
        escrow.setTokenAllowed(address(0), true);
    }

    function test_SetTokenAllowed_DisallowingKeepsExistingBalancesUsable() public {
        uint256 licenseId = mintLicense();
        setUpPayer(payer, signerKey, BUDGET, 0);
        accept(payer, licenseId);
        vm.prank(owner);
        escrow.setTokenAllowed(address(usdc), false);

        // Settlement and withdrawal still work for funds already in.
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 10);
        vm.prank(anyone);
        escrow.settleDirect(r, sign(signerKey, r));
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        vm.warp(block.timestamp + NOTICE);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET - 10 * PRICE);
    }

    /*//////////////////////////////////////////////////////////////
                                   FEES
    //////////////////////////////////////////////////////////////*/

    function accrueFees() internal returns (uint256 fee) {
        uint256 licenseId = mintLicense();
        setUpPayer(payer, signerKey, BUDGET, 0);
        accept(payer, licenseId);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        vm.prank(anyone);
        escrow.settleDirect(r, sign(signerKey, r));
        (fee,) = split(1000 * PRICE, FEE_BPS);
        assertEq(fees(), fee);
    }

    function test_WithdrawFees_TransfersAndZeroes() public {
        uint256 fee = accrueFees();
        address treasury = makeAddr("treasury");
        uint256 escrowBefore = escrowBalance();

        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FeesWithdrawn(address(usdc), treasury, fee);
        vm.prank(owner);
        assertEq(escrow.withdrawFees(address(usdc), treasury), fee);

        assertEq(usdc.balanceOf(treasury), fee);
        assertEq(fees(), 0);
        assertEq(escrowBalance(), escrowBefore - fee);
        assertEq(escrowBalance(), avail(payer));

        // Nothing left the second time.
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.FeesWithdrawn(address(usdc), treasury, 0);
        vm.prank(owner);
        assertEq(escrow.withdrawFees(address(usdc), treasury), 0);
        assertEq(usdc.balanceOf(treasury), fee);
    }

    function test_RevertWhen_WithdrawFees_ZeroRecipient() public {
        accrueFees();
        vm.expectRevert(Errors.TrainingEscrow_ZeroAddress.selector);
        vm.prank(owner);
        escrow.withdrawFees(address(usdc), address(0));
    }

    /*//////////////////////////////////////////////////////////////
                              OWNABLE 2-STEP
    //////////////////////////////////////////////////////////////*/

    function test_TransferOwnership_TwoStep() public {
        address next = makeAddr("next-owner");
        vm.expectEmit(address(escrow));
        emit Ownable2Step.OwnershipTransferStarted(owner, next);
        vm.prank(owner);
        escrow.transferOwnership(next);
        assertEq(escrow.owner(), owner);
        assertEq(escrow.pendingOwner(), next);

        // Not yet the owner.
        expectUnauthorized(next);
        vm.prank(next);
        escrow.setFee(0);

        // Only the pending owner can accept.
        expectUnauthorized(anyone);
        vm.prank(anyone);
        escrow.acceptOwnership();

        vm.expectEmit(address(escrow));
        emit Ownable.OwnershipTransferred(owner, next);
        vm.prank(next);
        escrow.acceptOwnership();
        assertEq(escrow.owner(), next);
        assertEq(escrow.pendingOwner(), address(0));

        vm.prank(next);
        escrow.setFee(0);
        assertEq(escrow.feeBps(), 0);
        expectUnauthorized(owner);
        vm.prank(owner);
        escrow.setFee(1);
    }

    function test_RevertWhen_TransferOwnership_NotOwner() public {
        expectUnauthorized(anyone);
        vm.prank(anyone);
        escrow.transferOwnership(anyone);
    }

    function test_TransferOwnership_CanBeReplacedBeforeAcceptance() public {
        address first = makeAddr("first");
        address second = makeAddr("second");
        vm.startPrank(owner);
        escrow.transferOwnership(first);
        escrow.transferOwnership(second);
        vm.stopPrank();
        expectUnauthorized(first);
        vm.prank(first);
        escrow.acceptOwnership();
        vm.prank(second);
        escrow.acceptOwnership();
        assertEq(escrow.owner(), second);
    }
}
