// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Escrow} from "../../src/types/EscrowTypes.sol";
import {Base} from "../utils/Base.t.sol";

/// @notice The whole happy path once: mint, deposit, accept, sign, commit, claim.
contract SmokeTest is Base {
    function test_Lifecycle_PaysHolderAndFee() public {
        uint256 licenseId = mintLicense();
        setUpPayer(payer, signerKey, BUDGET);
        accept(payer, licenseId);

        Escrow.Receipt memory r = receipt(payer, licenseId, keccak256("run-1"), 1000);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);

        vm.prank(anyone);
        uint256 paid = escrow.claim(root, claims);

        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(paid, 1000 * PRICE);
        assertEq(usdc.balanceOf(creator), payout);
        // Half of the budget went to the relayer's line (see Base.setUpPayer); the claim drew on
        // what the batch reserved from it, never on the available half, and left its fee on it.
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET - BUDGET / 2);
        Escrow.CreditLine memory line = lineOf(payer);
        assertEq(line.reserved, 0);
        assertEq(line.fees, fee);
        assertEq(line.credit, BUDGET / 2 - 1000 * PRICE);
        assertEq(escrow.sweepFees(payer, relayer, address(usdc)), fee);
        assertEq(escrow.accruedFees(address(usdc)), fee);
        assertEq(usdc.balanceOf(address(escrow)), BUDGET - payout);
    }
}
