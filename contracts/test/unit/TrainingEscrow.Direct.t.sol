// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {EscrowHelpers} from "./TrainingEscrow.Helpers.sol";

contract TrainingEscrowDirectTest is EscrowHelpers {
    uint256 internal licenseId;

    function setUp() public override {
        super.setUp();
        licenseId = mintLicense();
        // The whole budget available, no credit line: direct settlement pays from the available
        // balance only; tests that need a line fund it.
        setUpPayer(payer, signerKey, BUDGET, 0);
        accept(payer, licenseId);
    }

    function fund(uint256 amount) internal {
        vm.prank(payer);
        escrow.fundCredit(relayer, address(usdc), uint128(amount));
    }

    function settle(Escrow.Receipt memory r, bytes memory sig) internal returns (uint256) {
        vm.prank(anyone);
        return escrow.settleDirect(r, sig);
    }

    function settle(Escrow.Receipt memory r) internal returns (uint256) {
        return settle(r, sign(signerKey, r));
    }

    function test_SettleDirect_PaysFromAvailableAndEmits() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        uint256 amount = 1000 * PRICE;
        (uint256 fee, uint256 payout) = split(amount, FEE_BPS);

        expectUsageSettled(bytes32(0), r, creator, 1000, amount, fee);
        assertEq(settle(r), amount);

        assertEq(avail(payer), BUDGET - amount);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(usdc.balanceOf(anyone), 0);
        assertEq(fees(), fee);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 1000);
        assertEq(escrowBalance(), BUDGET - payout);
        assertEq(escrowBalance(), avail(payer) + fees());
    }

    function test_SettleDirect_UsesCurrentFee() public {
        vm.prank(owner);
        escrow.setFee(1000);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        settle(r);
        (uint256 fee, uint256 payout) = split(1000 * PRICE, 1000);
        assertEq(fees(), fee);
        assertEq(usdc.balanceOf(creator), payout);
    }

    function test_SettleDirect_PaysCurrentHolder() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 10);
        vm.prank(creator);
        nft.transferFrom(creator, buyer, licenseId);
        settle(r);
        (, uint256 payout) = split(10 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(buyer), payout);
        assertEq(usdc.balanceOf(creator), 0);
    }

    function test_RevertWhen_SettleDirect_InsufficientAvailable() public {
        // Most of the budget is on a credit line, half of it reserved by a batch: direct
        // settlement cannot touch either.
        fund(BUDGET - 999 * PRICE);
        commitRoot(keccak256("root"), reserveFrom(payer, (BUDGET - 999 * PRICE) / 2));
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        vm.expectRevert(insufficientBalance(999 * PRICE, 1000 * PRICE));
        settle(r, sig);
    }

    function test_SettleDirect_ExactlyAvailable() public {
        fund(BUDGET - 1000 * PRICE);
        commitRoot(keccak256("root"), reserveFrom(payer, BUDGET - 1000 * PRICE));
        Escrow.CreditLine memory line = lineOf(payer);
        assertEq(settle(receipt(payer, licenseId, RUN, 1000)), 1000 * PRICE);
        assertEq(avail(payer), 0);
        assertEq(abi.encode(lineOf(payer)), abi.encode(line));
    }

    function test_SettleDirect_ReplayPaysZero() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        settle(r, sig);
        uint256 availBefore = avail(payer);
        uint256 creatorBefore = usdc.balanceOf(creator);

        vm.recordLogs();
        assertEq(settle(r, sig), 0);
        assertEq(countEscrowLogs(ITrainingEscrow.UsageSettled.selector), 0);
        assertEq(avail(payer), availBefore);
        assertEq(usdc.balanceOf(creator), creatorBefore);
    }

    function test_SettleDirect_HigherCumulativePaysDifferenceLowerPaysZero() public {
        settle(receipt(payer, licenseId, RUN, 1000));
        assertEq(settle(receipt(payer, licenseId, RUN, 1600)), 600 * PRICE);
        assertEq(settle(receipt(payer, licenseId, RUN, 1200)), 0);
        assertEq(avail(payer), BUDGET - 1600 * PRICE);
    }

    function test_SettleDirect_SharesSettledCountWithBatches() public {
        fundLine(payer, relayer, 1000 * PRICE);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        // The payee settles directly first (from the available balance); the batch then has
        // nothing left to pay for that key, and its reservation stays on the line.
        assertEq(settle(r, c[0].signature), 1000 * PRICE);
        assertEq(claimAs(anyone, root, c), 0);
        assertEq(reservedOf(payer), 1000 * PRICE);
        assertEq(avail(payer), BUDGET - 1000 * PRICE);
    }

    function test_SettleDirect_MaxSamplesCap() public {
        uint256 capped = mintTerms(creator2, PRICE, 100, 0, "manifest-capped");
        accept(payer, capped);
        assertEq(settle(receipt(payer, capped, keccak256("a"), 80)), 80 * PRICE);
        assertEq(settle(receipt(payer, capped, keccak256("b"), 80)), 20 * PRICE);
        assertEq(settle(receipt(payer, capped, keccak256("c"), 80)), 0);
        assertEq(escrow.acceptance(payer, capped, termsOf(capped)).samplesCharged, 100);
    }

    function test_SettleDirect_ZeroPriceNoTransfer() public {
        uint256 free = mintTerms(creator2, 0, 0, 0, "manifest-free");
        accept(payer, free);
        Escrow.Receipt memory r = receipt(payer, free, RUN, 1000);
        vm.expectCall(address(usdc), abi.encodeWithSelector(IERC20.transfer.selector), 0);
        assertEq(settle(r), 0);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 1000);
        assertEq(avail(payer), BUDGET);
    }

    function test_RevertWhen_SettleDirect_SignatureWrongLength() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sig = bytes.concat(sign(signerKey, r), bytes1(0));
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        settle(r, sig);
    }

    function test_RevertWhen_SettleDirect_GarbageSignature() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        settle(r, new bytes(65));
    }

    function test_RevertWhen_SettleDirect_MalleableSignature() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sig = highS(sign(signerKey, r));
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        settle(r, sig);
    }

    function test_RevertWhen_SettleDirect_SignerNotRegistered() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        bytes memory sig = sign(signerKey2, r);
        vm.expectRevert(signerNotAuthorized(signer2, block.timestamp));
        settle(r, sig);
    }

    function test_RevertWhen_SettleDirect_TermsNotAccepted() public {
        uint256 other = mintTerms(creator2, PRICE, 0, 0, "manifest-other");
        Escrow.Receipt memory r = receipt(payer, other, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_TermsNotAccepted.selector, payer, other, termsOf(other)
            )
        );
        settle(r, sig);
    }

    function test_RevertWhen_SettleDirect_ReceiptAfterTermsExpiry() public {
        uint40 expiry = uint40(block.timestamp + 1 days);
        uint256 expiring = mintTerms(creator2, PRICE, 0, expiry, "manifest-expiring");
        accept(payer, expiring);
        vm.warp(expiry + 5);
        Escrow.Receipt memory r = receipt(payer, expiring, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_ReceiptAfterExpiry.selector, uint64(expiry + 5), expiry
            )
        );
        settle(r, sig);
    }

    function test_SettleDirect_ReceiptIssuedOneSecondBeforeTermsExpiry() public {
        // Expiry beyond the acceptance's notice, so that time only moves forward.
        uint40 expiry = uint40(block.timestamp + 10 days);
        uint256 expiring = mintTerms(creator2, PRICE, 0, expiry, "manifest-expiring");
        accept(payer, expiring);
        vm.warp(expiry - 1);
        Escrow.Receipt memory r = receipt(payer, expiring, RUN, 1000);
        vm.warp(expiry + 30 days);
        assertEq(settle(r), 1000 * PRICE);
    }

    /*//////////////////////////////////////////////////////////////
                                MATURITY
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_SettleDirect_RightAfterAcceptance() public {
        (uint256 id, uint64 tid, uint40 chargeableFrom) = acceptFresh();
        Escrow.Receipt memory r = receipt(payer, id, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AcceptanceNotChargeable.selector, payer, id, tid, chargeableFrom
            )
        );
        settle(r, sig);
    }

    function test_RevertWhen_SettleDirect_OneSecondBeforeChargeable() public {
        (uint256 id, uint64 tid, uint40 chargeableFrom) = acceptFresh();
        Escrow.Receipt memory r = receipt(payer, id, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        vm.warp(chargeableFrom - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AcceptanceNotChargeable.selector, payer, id, tid, chargeableFrom
            )
        );
        settle(r, sig);
        assertEq(avail(payer), BUDGET);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 0);
        assertEq(escrow.acceptance(payer, id, tid).samplesCharged, 0);
        assertEq(usdc.balanceOf(creator2), 0);
        assertEq(fees(), 0);
    }

    /// At `chargeableFrom` exactly, a receipt signed during the notice (usage is not delayed, only
    /// its payment) settles in full.
    function test_SettleDirect_AtChargeableFrom() public {
        (uint256 id,, uint40 chargeableFrom) = acceptFresh();
        Escrow.Receipt memory r = receipt(payer, id, RUN, 1000);
        bytes memory sig = sign(signerKey, r);
        vm.warp(chargeableFrom);
        assertEq(settle(r, sig), 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator2), payout);
        assertEq(avail(payer), BUDGET - 1000 * PRICE);
    }
}
