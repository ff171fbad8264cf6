// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {EscrowHelpers} from "./TrainingEscrow.Helpers.sol";

contract TrainingEscrowRelayersTest is EscrowHelpers {
    bytes32 internal constant ROOT = keccak256("root");

    function test_SetRelayer_AuthorizesAndEmits() public {
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.RelayerSet(payer, relayer, true);
        vm.prank(payer);
        escrow.setRelayer(relayer, true);
        assertTrue(escrow.isRelayer(payer, relayer));
        // Per payer.
        assertFalse(escrow.isRelayer(payer2, relayer));
    }

    function test_SetRelayer_DeauthorizesAndEmits() public {
        vm.startPrank(payer);
        escrow.setRelayer(relayer, true);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.RelayerSet(payer, relayer, false);
        escrow.setRelayer(relayer, false);
        vm.stopPrank();
        assertFalse(escrow.isRelayer(payer, relayer));
    }

    function test_RevertWhen_SetRelayer_ZeroAddress() public {
        vm.expectRevert(Errors.TrainingEscrow_ZeroAddress.selector);
        vm.prank(payer);
        escrow.setRelayer(address(0), true);
    }

    function test_RevertWhen_CommitBatch_UnauthorizedRelayer() public {
        setUpPayer(payer, signerKey, BUDGET);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_RelayerNotAuthorized.selector, payer, anyone)
        );
        vm.prank(anyone);
        escrow.commitBatch(ROOT, 1, DATA_HASH, "ipfs://batch", reserveFrom(payer, 1e18));
    }

    function test_RevertWhen_CommitBatch_RelayerDeauthorized() public {
        setUpPayer(payer, signerKey, BUDGET);
        vm.prank(payer);
        escrow.setRelayer(relayer, false);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_RelayerNotAuthorized.selector, payer, relayer)
        );
        commitRoot(ROOT, reserveFrom(payer, 1e18));
    }

    function test_RevertWhen_CommitBatch_OnePayerOfBatchDidNotAuthorize() public {
        setUpPayer(payer, signerKey, BUDGET);
        usdc.mint(payer2, BUDGET);
        vm.startPrank(payer2);
        usdc.approve(address(escrow), BUDGET);
        escrow.deposit(address(usdc), BUDGET);
        vm.stopPrank();

        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_RelayerNotAuthorized.selector, payer2, relayer)
        );
        commitRoot(ROOT, reserveFrom(payer, 1e18, payer2, 1e18));
        assertEq(avail(payer), BUDGET);
        assertEq(escrow.reservation(ROOT, payer, address(usdc)).committedAt, 0);
    }

    function test_Claim_DeauthorizedRelayersEarlierBatchStaysClaimable() public {
        uint256 licenseId = mintLicense();
        setUpPayer(payer, signerKey, BUDGET);
        accept(payer, licenseId);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 100);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, single(r), 100 * PRICE);

        vm.prank(payer);
        escrow.setRelayer(relayer, false);
        vm.warp(block.timestamp + 1 days);

        assertEq(claimAs(anyone, root, c), 100 * PRICE);
        (, uint256 payout) = split(100 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
    }
}
