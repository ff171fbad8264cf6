// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {TwoPayerAttackBase} from "./AttackBase.sol";

/// @notice What the platform owner might try: excessive or retroactive fees, taking payers' or
/// payees' funds, freezing funds through the token list or parameters.
contract OwnerAttackTest is TwoPayerAttackBase {
    function test_RevertWhen_FeeAboveMax() public {
        uint16 max = escrow.MAX_FEE_BPS();
        vm.startPrank(owner);
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_FeeTooHigh.selector, max + 1, max));
        escrow.setFee(max + 1);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_FeeTooHigh.selector, type(uint16).max, max)
        );
        escrow.setFee(type(uint16).max);
        escrow.setFee(max);
        vm.stopPrank();
        assertEq(escrow.feeBps(), max);

        vm.prank(anyone);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, anyone));
        escrow.setFee(0);
        assertEq(escrow.feeBps(), max);
    }

    /// Raising the fee after a batch was committed does not change what its claims pay. (Direct
    /// settlements pay the fee current at settlement, bounded by MAX_FEE_BPS.)
    function test_SetFee_DoesNotChangeCommittedBatches() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        assertEq(escrow.reservation(root, payer, address(usdc)).feeBps, FEE_BPS);

        uint16 max = escrow.MAX_FEE_BPS();
        vm.prank(owner);
        escrow.setFee(max);
        escrow.claim(root, claims);
        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(lineIn(payer, relayer, address(usdc)).fees, fee);

        Escrow.Receipt memory direct = receipt(payer, licenseId, RUN_2, 1000);
        escrow.settleDirect(direct, sign(signerKey, direct));
        (uint256 feeMax, uint256 payoutMax) = split(1000 * PRICE, max);
        assertEq(usdc.balanceOf(creator), payout + payoutMax);
        assertEq(escrow.accruedFees(address(usdc)), feeMax);
        escrow.sweepFees(payer, relayer, address(usdc));
        assertEq(escrow.accruedFees(address(usdc)), fee + feeMax);
    }

    /// With two payers, a claimed batch, an open reservation and a direct settlement, the owner's
    /// fee withdrawal takes exactly the accrued fees (a line's fees only once swept) and the escrow
    /// still covers every payer's available balance and credit line.
    function test_WithdrawFees_TakesOnlyAccruedFees() public {
        openPayer(payerB, keyB);
        accept(payerB, licenseId);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root1, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 3000 * PRICE);
        escrow.claim(root1, claims);
        Escrow.Receipt memory rB = receipt(payerB, licenseId, RUN, 400);
        escrow.settleDirect(rB, sign(keyB, rB));
        (bytes32 root2,) = buildClaims(keyB, single(receipt(payerB, licenseId, RUN_2, 7)));
        commitAs(relayer, root2, reserveOf(payerB, address(usdc), uint128(7 * PRICE)));

        (uint256 fee1,) = split(1000 * PRICE, FEE_BPS);
        (uint256 fee2,) = split(400 * PRICE, FEE_BPS);
        assertEq(escrow.accruedFees(address(usdc)), fee2);
        assertEq(lineIn(payer, relayer, address(usdc)).fees, fee1);

        address treasury = makeAddr("treasury");
        vm.prank(owner);
        assertEq(escrow.withdrawFees(address(usdc), treasury), fee2);
        escrow.sweepFees(payer, relayer, address(usdc));
        vm.prank(owner);
        assertEq(escrow.withdrawFees(address(usdc), treasury), fee1);
        assertEq(usdc.balanceOf(treasury), fee1 + fee2);
        assertEq(escrow.accruedFees(address(usdc)), 0);

        address[] memory payers = list2(payer, payerB);
        assertEq(usdc.balanceOf(address(escrow)), liabilities(address(usdc), payers, list1(relayer)));
        assertEq(
            usdc.balanceOf(address(escrow)),
            BUDGET + (CREDIT - 3000 * PRICE) + 2000 * PRICE + (BUDGET - 400 * PRICE) + (CREDIT - 7 * PRICE)
                + 7 * PRICE
        );

        // A second call takes nothing.
        vm.prank(owner);
        assertEq(escrow.withdrawFees(address(usdc), treasury), 0);
        assertEq(usdc.balanceOf(treasury), fee1 + fee2);

        // Nobody else can take the fees.
        vm.prank(anyone);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, anyone));
        escrow.withdrawFees(address(usdc), anyone);
    }

    /// The owner has no path to a payer's funds: it has no withdrawal or credit line of its own,
    /// cannot release a locked line, and what it releases after expiry goes back to the line.
    function test_Owner_CannotTakePayerFunds() public {
        (bytes32 root,) =
            commitBatch(signerKey, payer, single(receipt(payer, licenseId, RUN, 5)), 5000 * PRICE);
        vm.startPrank(owner);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_NoWithdrawalRequested.selector, owner, address(usdc))
        );
        escrow.withdraw(address(usdc), owner);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoCreditReductionRequested.selector, owner, relayer, address(usdc)
            )
        );
        escrow.reduceCredit(relayer, address(usdc));
        uint40 expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;
        vm.expectRevert(notReleasable(payer, relayer));
        escrow.release(payer, relayer, address(usdc));
        assertEq(escrow.withdrawFees(address(usdc), owner), 0);
        vm.warp(expiresAt);
        escrow.release(payer, relayer, address(usdc));
        vm.stopPrank();

        assertEq(usdc.balanceOf(owner), 0);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(creditOf(payer), CREDIT);
        assertEq(usdc.balanceOf(address(escrow)), BUDGET + CREDIT);
    }

    /// Disallowing the token stops new deposits only; commits, claims, direct settlements and
    /// withdrawals go on, so nothing already deposited is frozen.
    function test_SetTokenAllowed_DisallowBlocksOnlyNewDeposits() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));

        vm.prank(owner);
        escrow.setTokenAllowed(address(usdc), false);
        assertFalse(escrow.isTokenAllowed(address(usdc)));

        usdc.mint(payer, 1);
        vm.startPrank(payer);
        usdc.approve(address(escrow), 1);
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_TokenNotAllowed.selector, address(usdc)));
        escrow.deposit(address(usdc), 1);
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_TokenNotAllowed.selector, address(usdc)));
        escrow.depositFor(payerB, address(usdc), 1);
        vm.stopPrank();

        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        Escrow.Receipt memory direct = receipt(payer, licenseId, RUN_2, 500);
        assertEq(escrow.settleDirect(direct, sign(signerKey, direct)), 500 * PRICE);
        (bytes32 root2,) = buildClaims(signerKey, single(receipt(payer, licenseId, keccak256("r3"), 1)));
        commitAs(relayer, root2, reserveOf(payer, address(usdc), uint128(PRICE)));

        vm.warp(block.timestamp + NOTICE);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET - 500 * PRICE);
        (, uint256 payout1000) = split(1000 * PRICE, FEE_BPS);
        (, uint256 payout500) = split(500 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout1000 + payout500);
        assertEq(usdc.balanceOf(payer), BUDGET - 500 * PRICE + 1);
        assertEq(creditOf(payer), CREDIT - 1001 * PRICE);
        assertConserved(address(usdc), list1(payer));
    }

    /// Parameter changes are not retroactive: a longer notice period does not move a pending
    /// withdrawal (its unlock or its lapse), a pending credit reduction, a scheduled revocation or
    /// the time from which a fresh acceptance is chargeable, a longer claim window does not move a
    /// reservation's expiry or a line's lock, and every parameter stays within its bounds.
    function test_Parameters_NotRetroactiveAndBounded() public {
        (bytes32 root,) =
            commitBatch(signerKey, payer, single(receipt(payer, licenseId, RUN, 5)), 5000 * PRICE);
        uint256 fresh = mintLicense(creator, defaultTerms(), keccak256("manifest-fresh"));
        (uint64 freshTerms,) = nft.currentTerms(fresh);
        Escrow.Receipt memory freshR = receipt(payer, fresh, RUN, 7);
        vm.prank(payer);
        escrow.acceptTerms(fresh, freshTerms);
        // An hour later, so that the key is still valid when the acceptance becomes chargeable.
        vm.warp(block.timestamp + 1 hours);
        vm.startPrank(payer);
        escrow.requestWithdrawal(address(usdc), 1);
        escrow.requestCreditReduction(relayer, address(usdc), 1);
        escrow.revokeSigner(signer);
        vm.stopPrank();
        Escrow.CreditReduction memory reduction = escrow.creditReduction(payer, relayer, address(usdc));
        Escrow.CreditLine memory line = lineIn(payer, relayer, address(usdc));
        bytes memory freshSig = sign(signerKey, freshR);
        uint40 chargeableFrom = escrow.acceptance(payer, fresh, freshTerms).chargeableFrom;
        Escrow.Withdrawal memory request = escrow.pendingWithdrawal(payer, address(usdc));
        uint40 revokedAt = escrow.signerOf(payer, signer).revokedAt;
        uint40 expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;

        vm.startPrank(owner);
        escrow.setNoticePeriod(30 days);
        escrow.setClaimWindow(365 days);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoticePeriodOutOfBounds.selector, uint40(30 days + 1), 1 hours, 30 days
            )
        );
        escrow.setNoticePeriod(30 days + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoticePeriodOutOfBounds.selector, uint40(1 hours - 1), 1 hours, 30 days
            )
        );
        escrow.setNoticePeriod(1 hours - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_ClaimWindowOutOfBounds.selector, uint40(1 days - 1), 1 days, 365 days
            )
        );
        escrow.setClaimWindow(1 days - 1);
        vm.stopPrank();

        assertEq(abi.encode(escrow.pendingWithdrawal(payer, address(usdc))), abi.encode(request));
        assertEq(escrow.signerOf(payer, signer).revokedAt, revokedAt);
        assertEq(escrow.reservation(root, payer, address(usdc)).expiresAt, expiresAt);
        assertEq(abi.encode(lineIn(payer, relayer, address(usdc))), abi.encode(line));
        assertEq(abi.encode(escrow.creditReduction(payer, relayer, address(usdc))), abi.encode(reduction));
        assertEq(escrow.acceptance(payer, fresh, freshTerms).chargeableFrom, chargeableFrom);
        vm.warp(chargeableFrom);
        assertEq(escrow.settleDirect(freshR, freshSig), 7 * PRICE);
        vm.warp(request.unlockAt);
        vm.startPrank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), 1);
        assertEq(escrow.reduceCredit(relayer, address(usdc)), 1);
        vm.stopPrank();
    }

    /// Ownership moves only when the new owner accepts; the pending owner has no powers before.
    function test_TransferOwnership_NeedsAcceptance() public {
        address next = makeAddr("next-owner");
        vm.prank(owner);
        escrow.transferOwnership(next);
        assertEq(escrow.owner(), owner);
        vm.prank(next);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, next));
        escrow.setFee(0);
        vm.prank(anyone);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, anyone));
        escrow.acceptOwnership();
        vm.prank(next);
        escrow.acceptOwnership();
        assertEq(escrow.owner(), next);
        assertEq(escrow.feeBps(), FEE_BPS);
    }
}
