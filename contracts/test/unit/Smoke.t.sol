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
        assertEq(escrow.accruedFees(address(usdc)), fee);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET - 1000 * PRICE);
        assertEq(escrow.reservation(root, payer, address(usdc)).remaining, 0);
        assertEq(usdc.balanceOf(address(escrow)), BUDGET - payout);
    }
}
