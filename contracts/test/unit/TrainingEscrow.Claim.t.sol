// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {LicensedEscrowTest} from "./TrainingEscrow.Helpers.sol";

contract TrainingEscrowClaimTest is LicensedEscrowTest {
    function commitOne(uint64 cumulative, uint256 reserve)
        internal
        returns (bytes32 root, Escrow.Claim[] memory c)
    {
        return commitBatch(
            signerKey, payer, single(receipt(payer, licenseId, RUN, cumulative)), uint128(reserve)
        );
    }

    /*//////////////////////////////////////////////////////////////
                                 PAYMENT
    //////////////////////////////////////////////////////////////*/

    function test_Claim_PaysHolderMinusFeeAndEmits() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, single(r), 1500 * PRICE);
        uint256 amount = 1000 * PRICE;
        (uint256 fee, uint256 payout) = split(amount, FEE_BPS);

        expectUsageSettled(root, r, creator, 1000, amount, fee);
        uint256 paid = claimAs(anyone, root, c);

        assertEq(paid, amount);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(usdc.balanceOf(anyone), 0);
        // The fee stays on the line until swept.
        assertEq(lineFees(payer), fee);
        assertEq(fees(), 0);
        assertEq(reservedOf(payer), 500 * PRICE);
        assertEq(creditOf(payer), CREDIT - 1500 * PRICE);
        assertEq(avail(payer), BUDGET - CREDIT);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 1000);
        assertEq(escrowBalance(), BUDGET - payout);
        // Conservation.
        assertEq(escrowBalance(), avail(payer) + lineTotal(payer) + fees());
    }

    function test_Claim_ByHolderItself() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(10, 10 * PRICE);
        assertEq(claimAs(creator, root, c), 10 * PRICE);
        (, uint256 payout) = split(10 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
    }

    /// @dev Payment goes to whoever holds the license NFT when the claim executes, not to the
    /// holder at usage or commit time: a creator who sells the token before the claim forfeits
    /// the pending revenue to the buyer.
    function test_Claim_PaysHolderAtClaimTime_CreatorSoldTokenBeforeClaim() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(1000, 1000 * PRICE);
        vm.prank(creator);
        nft.transferFrom(creator, buyer, licenseId);

        uint256 amount = 1000 * PRICE;
        (uint256 fee, uint256 payout) = split(amount, FEE_BPS);
        expectUsageSettled(root, c[0].receipt, buyer, 1000, amount, fee);
        claimAs(creator, root, c);
        assertEq(usdc.balanceOf(buyer), payout);
        assertEq(usdc.balanceOf(creator), 0);
    }

    function test_Claim_HigherCumulativePaysOnlyTheDifference() public {
        (bytes32 root1, Escrow.Claim[] memory c1) = commitOne(1000, 1000 * PRICE);
        claimAs(anyone, root1, c1);

        vm.warp(block.timestamp + 1 hours);
        Escrow.Receipt memory r2 = receipt(payer, licenseId, RUN, 1500);
        (bytes32 root2, Escrow.Claim[] memory c2) = commitBatch(signerKey, payer, single(r2), 1000 * PRICE);
        (uint256 fee, uint256 payout) = split(500 * PRICE, FEE_BPS);

        expectUsageSettled(root2, r2, creator, 500, 500 * PRICE, fee);
        assertEq(claimAs(anyone, root2, c2), 500 * PRICE);
        assertEq(reservedOf(payer), 500 * PRICE);
        assertEq(escrow.settledSamples(escrow.usageKey(r2)), 1500);
        (uint256 fee1, uint256 payout1) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout1 + payout);
        assertEq(allFees(), fee1 + fee);
    }

    function test_Claim_SecondClaimOfSameReceiptPaysZero() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(1000, 2000 * PRICE);
        claimAs(anyone, root, c);
        uint256 creatorBefore = usdc.balanceOf(creator);
        uint256 feesBefore = allFees();

        vm.recordLogs();
        assertEq(claimAs(anyone, root, c), 0);
        assertEq(countEscrowLogs(ITrainingEscrow.UsageSettled.selector), 0);
        assertEq(usdc.balanceOf(creator), creatorBefore);
        assertEq(allFees(), feesBefore);
        assertEq(reservedOf(payer), 1000 * PRICE);
    }

    function test_Claim_LowerCumulativePaysZero() public {
        (bytes32 root1, Escrow.Claim[] memory c1) = commitOne(1000, 1000 * PRICE);
        claimAs(anyone, root1, c1);

        vm.warp(block.timestamp + 1);
        (bytes32 root2, Escrow.Claim[] memory c2) = commitOne(800, 800 * PRICE);
        vm.recordLogs();
        assertEq(claimAs(anyone, root2, c2), 0);
        assertEq(countEscrowLogs(ITrainingEscrow.UsageSettled.selector), 0);
        assertEq(reservedOf(payer), 800 * PRICE);
        assertEq(escrow.settledSamples(escrow.usageKey(c2[0].receipt)), 1000);
    }

    function test_Claim_RunsAreSettledIndependently() public {
        Escrow.Receipt memory a = receipt(payer, licenseId, keccak256("run-a"), 100);
        Escrow.Receipt memory b = receipt(payer, licenseId, keccak256("run-b"), 100);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, pair(a, b), 200 * PRICE);
        assertEq(claimAs(anyone, root, c), 200 * PRICE);
        assertEq(reservedOf(payer), 0);
    }

    function test_Claim_SubsetOfLeavesThenTheRest() public {
        Escrow.Receipt memory a = receipt(payer, licenseId, keccak256("run-a"), 100);
        Escrow.Receipt memory b = receipt(payer, licenseId, keccak256("run-b"), 300);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, pair(a, b), 400 * PRICE);
        assertEq(claimAs(anyone, root, one(c[1])), 300 * PRICE);
        assertEq(claimAs(anyone, root, one(c[0])), 100 * PRICE);
        assertEq(reservedOf(payer), 0);
    }

    function test_Claim_MaxSamplesCapClampsAcrossRuns() public {
        uint256 capped = mintTerms(creator2, PRICE, 1500, 0, "manifest-capped");
        accept(payer, capped);
        uint64 tid = termsOf(capped);
        Escrow.Receipt memory a = receipt(payer, capped, keccak256("run-a"), 1000);
        Escrow.Receipt memory b = receipt(payer, capped, keccak256("run-b"), 1000);
        Escrow.Receipt memory d = receipt(payer, capped, keccak256("run-c"), 10);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, triple(a, b, d), 3000 * PRICE);

        assertEq(claimAs(anyone, root, one(c[0])), 1000 * PRICE);
        assertEq(escrow.acceptance(payer, capped, tid).samplesCharged, 1000);

        (uint256 fee, uint256 payout) = split(500 * PRICE, FEE_BPS);
        expectUsageSettled(root, b, creator2, 500, 500 * PRICE, fee);
        assertEq(claimAs(anyone, root, one(c[1])), 500 * PRICE);
        assertEq(escrow.acceptance(payer, capped, tid).samplesCharged, 1500);
        assertEq(escrow.settledSamples(escrow.usageKey(b)), 1000);

        // Cap reached: the third run settles its count but is charged nothing.
        expectUsageSettled(root, d, creator2, 0, 0, 0);
        assertEq(claimAs(anyone, root, one(c[2])), 0);
        assertEq(escrow.settledSamples(escrow.usageKey(d)), 10);
        assertEq(reservedOf(payer), 1500 * PRICE);
        (uint256 fee1, uint256 payout1) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator2), payout1 + payout);
        assertEq(allFees(), fee1 + fee);
    }

    function test_Claim_ZeroPriceSettlesWithoutTransfer() public {
        uint256 free = mintTerms(creator2, 0, 0, 0, "manifest-free");
        accept(payer, free);
        Escrow.Receipt memory r = receipt(payer, free, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, single(r), 1);

        vm.expectCall(address(usdc), abi.encodeWithSelector(IERC20.transfer.selector), 0);
        expectUsageSettled(root, r, creator2, 1000, 0, 0);
        assertEq(claimAs(anyone, root, c), 0);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 1000);
        assertEq(usdc.balanceOf(creator2), 0);
        assertEq(reservedOf(payer), 1);
    }

    function test_Claim_UsesFeeSnapshottedAtCommit() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(1000, 1000 * PRICE);
        vm.prank(owner);
        escrow.setFee(1000);

        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        claimAs(anyone, root, c);
        assertEq(allFees(), fee);
        assertEq(usdc.balanceOf(creator), payout);

        // A batch committed after the change uses the new fee.
        vm.warp(block.timestamp + 1);
        (bytes32 root2, Escrow.Claim[] memory c2) = commitOne(2000, 1000 * PRICE);
        claimAs(anyone, root2, c2);
        (uint256 fee2, uint256 payout2) = split(1000 * PRICE, 1000);
        assertEq(allFees(), fee + fee2);
        assertEq(usdc.balanceOf(creator), payout + payout2);
    }

    function test_Claim_OldTermsReceiptPaysAcceptedPriceAfterUpdate() public {
        uint64 oldTerms = termsOf(licenseId);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        License.Terms memory t = defaultTerms();
        t.pricePerSample = 3 * PRICE;
        vm.prank(creator);
        nft.updateTerms(licenseId, t);

        assertEq(r.termsId, oldTerms);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, single(r), 3000 * PRICE);
        assertEq(claimAs(anyone, root, c), 1000 * PRICE);
    }

    function test_Claim_MultiLeafSeveralLicensesAndPayeesAggregatesTransfers() public {
        uint256 b = mintTerms(creator2, 2 * PRICE, 0, 0, "manifest-b");
        uint256 d = mintTerms(creator2, 3 * PRICE, 0, 0, "manifest-d");
        accept(payer, b);
        accept(payer, d);
        // creator2's two receipts are consecutive: one transfer for both.
        Escrow.Receipt memory rb = receipt(payer, b, RUN, 200);
        Escrow.Receipt memory rd = receipt(payer, d, RUN, 300);
        Escrow.Receipt memory ra = receipt(payer, licenseId, RUN, 100);
        uint256 amountA = 100 * PRICE;
        uint256 amountB = 200 * 2 * PRICE;
        uint256 amountD = 300 * 3 * PRICE;
        (bytes32 root, Escrow.Claim[] memory c) =
            commitBatch(signerKey, payer, triple(rb, rd, ra), uint128(amountA + amountB + amountD));

        (uint256 feeA, uint256 payoutA) = split(amountA, FEE_BPS);
        (uint256 feeB, uint256 payoutB) = split(amountB, FEE_BPS);
        (uint256 feeD, uint256 payoutD) = split(amountD, FEE_BPS);
        vm.expectCall(address(usdc), abi.encodeCall(IERC20.transfer, (creator2, payoutB + payoutD)), 1);
        vm.expectCall(address(usdc), abi.encodeCall(IERC20.transfer, (creator, payoutA)), 1);
        vm.expectCall(address(usdc), abi.encodeWithSelector(IERC20.transfer.selector), 2);

        assertEq(claimAs(anyone, root, c), amountA + amountB + amountD);
        assertEq(usdc.balanceOf(creator), payoutA);
        assertEq(usdc.balanceOf(creator2), payoutB + payoutD);
        assertEq(allFees(), feeA + feeB + feeD);
        assertEq(reservedOf(payer), 0);
        assertEq(escrowBalance(), BUDGET - payoutA - payoutB - payoutD);
    }

    function test_Claim_MultiPayerBatchInOneCall() public {
        setUpPayer(payer2, signerKey2, BUDGET);
        accept(payer2, licenseId);
        Escrow.Receipt memory r1 = receipt(payer, licenseId, RUN, 100);
        Escrow.Receipt memory r2 = receipt(payer2, licenseId, RUN, 250);
        uint256[] memory keys = new uint256[](2);
        (keys[0], keys[1]) = (signerKey, signerKey2);
        (bytes32 root, Escrow.Claim[] memory c) = buildClaims(keys, pair(r1, r2));
        commitRoot(root, reserveFrom(payer, 100 * PRICE, payer2, 300 * PRICE));

        // Same payee and token: one transfer.
        (, uint256 payout1) = split(100 * PRICE, FEE_BPS);
        (, uint256 payout2) = split(250 * PRICE, FEE_BPS);
        vm.expectCall(address(usdc), abi.encodeCall(IERC20.transfer, (creator, payout1 + payout2)), 1);
        assertEq(claimAs(anyone, root, c), 350 * PRICE);
        assertEq(usdc.balanceOf(creator), payout1 + payout2);
        assertEq(reservedOf(payer), 0);
        assertEq(reservedOf(payer2), 50 * PRICE);
    }

    function test_Claim_SkippedLeafInMiddleDoesNotBreakAggregation() public {
        Escrow.Receipt memory a = receipt(payer, licenseId, keccak256("run-a"), 100);
        Escrow.Receipt memory b = receipt(payer, licenseId, keccak256("run-b"), 200);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, pair(a, b), 300 * PRICE);
        claimAs(anyone, root, one(c[0]));

        // Claims [a (replay, skipped), b]: only b pays.
        assertEq(claimAs(anyone, root, c), 200 * PRICE);
        (, uint256 payoutA) = split(100 * PRICE, FEE_BPS);
        (, uint256 payoutB) = split(200 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payoutA + payoutB);
    }

    /// All of a relayer's batches for a payer draw on one pool, so the order of claims does not
    /// matter: the later batch (which reserved only the increase over the earlier one) is claimed
    /// first and pays its whole count; the earlier one then adds nothing.
    function test_Claim_LaterBatchFirstDrawsOnSharedPool() public {
        (bytes32 root1, Escrow.Claim[] memory c1) = commitOne(100, 100 * PRICE);
        vm.warp(block.timestamp + 1 hours);
        (bytes32 root2, Escrow.Claim[] memory c2) = commitOne(300, 200 * PRICE);
        assertEq(reservedOf(payer), 300 * PRICE);

        assertEq(claimAs(anyone, root2, c2), 300 * PRICE);
        assertEq(reservedOf(payer), 0);
        assertEq(claimAs(anyone, root1, c1), 0);
        (, uint256 payout) = split(300 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
    }

    /// Lines are per relayer: a batch draws on the line of the relayer that committed it only.
    function test_RevertWhen_Claim_OtherRelayersLineDoesNotPay() public {
        address relayer2 = makeAddr("relayer2");
        fundLine(payer, relayer2, 1000 * PRICE);
        (bytes32 root, Escrow.Claim[] memory c) =
            buildClaims(signerKey, single(receipt(payer, licenseId, RUN, 100)));
        commitAs(relayer2, root, reserveFrom(payer, 50 * PRICE));
        // `relayer`'s line holds 500 reserved, which relayer2's batch cannot draw on.
        commitOne(1, 500 * PRICE);
        vm.expectRevert(insufficientReserved(payer, relayer2, 50 * PRICE, 100 * PRICE));
        claimAs(anyone, root, c);
    }

    /*//////////////////////////////////////////////////////////////
                                 REVERTS
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_Claim_EmptyClaims() public {
        (bytes32 root,) = commitOne(10, 10 * PRICE);
        vm.expectRevert(Errors.TrainingEscrow_EmptyClaim.selector);
        claimAs(anyone, root, new Escrow.Claim[](0));
    }

    function test_RevertWhen_Claim_InvalidProof() public {
        Escrow.Receipt memory a = receipt(payer, licenseId, keccak256("run-a"), 100);
        Escrow.Receipt memory b = receipt(payer, licenseId, keccak256("run-b"), 200);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, pair(a, b), 300 * PRICE);
        c[0].proof[0] = bytes32(uint256(1));
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_InvalidProof.selector, root, leafOf(a)));
        claimAs(anyone, root, one(c[0]));
    }

    function test_RevertWhen_Claim_ReceiptNotInTree() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(100, 100 * PRICE);
        // Inflate the count: the leaf changes and no longer matches.
        c[0].receipt.cumulativeSamples = 10_000;
        c[0].signature = sign(signerKey, c[0].receipt);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_InvalidProof.selector, root, leafOf(c[0].receipt))
        );
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_Claim_OneBadLeafRevertsWholeClaim() public {
        Escrow.Receipt memory a = receipt(payer, licenseId, keccak256("run-a"), 100);
        Escrow.Receipt memory b = receipt(payer, licenseId, keccak256("run-b"), 200);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, pair(a, b), 300 * PRICE);
        c[1].proof = new bytes32[](0);
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_InvalidProof.selector, root, leafOf(b)));
        claimAs(anyone, root, c);
        assertEq(usdc.balanceOf(creator), 0);
        assertEq(escrow.settledSamples(escrow.usageKey(a)), 0);
    }

    function test_RevertWhen_Claim_RootCommittedForAnotherPayerOnly() public {
        setUpPayer(payer2, signerKey2, BUDGET);
        accept(payer2, licenseId);
        Escrow.Receipt memory r1 = receipt(payer, licenseId, RUN, 100);
        Escrow.Receipt memory r2 = receipt(payer2, licenseId, RUN, 100);
        uint256[] memory keys = new uint256[](2);
        (keys[0], keys[1]) = (signerKey, signerKey2);
        (bytes32 root, Escrow.Claim[] memory c) = buildClaims(keys, pair(r1, r2));
        commitRoot(root, reserveFrom(payer, 100 * PRICE));

        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_UnknownReservation.selector, root, payer2, address(usdc)
            )
        );
        claimAs(anyone, root, one(c[1]));
        // payer's part is claimable.
        assertEq(claimAs(anyone, root, one(c[0])), 100 * PRICE);
    }

    function test_RevertWhen_Claim_RootNeverCommitted() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 100);
        (bytes32 root, Escrow.Claim[] memory c) = buildClaims(signerKey, single(r));
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_UnknownReservation.selector, root, payer, address(usdc)
            )
        );
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_Claim_AtExpiresAt() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(100, 100 * PRICE);
        uint40 expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;
        vm.warp(expiresAt);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_ReservationExpired.selector, root, expiresAt)
        );
        claimAs(anyone, root, c);
    }

    function test_Claim_OneSecondBeforeExpiresAt() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(100, 100 * PRICE);
        vm.warp(escrow.reservation(root, payer, address(usdc)).expiresAt - 1);
        assertEq(claimAs(anyone, root, c), 100 * PRICE);
    }

    function test_RevertWhen_Claim_SignatureWrongLength() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(100, 100 * PRICE);
        bytes memory sig = c[0].signature;
        assembly {
            mstore(sig, 64)
        }
        c[0].signature = sig;
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_Claim_EmptySignature() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(100, 100 * PRICE);
        c[0].signature = "";
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_Claim_GarbageSignature() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(100, 100 * PRICE);
        c[0].signature = abi.encodePacked(bytes32(uint256(7)), bytes32(uint256(9)), uint8(31));
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_Claim_MalleableHighSSignature() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(100, 100 * PRICE);
        c[0].signature = highS(c[0].signature);
        vm.expectRevert(Errors.TrainingEscrow_InvalidSignature.selector);
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_Claim_SignerNotRegistered() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 100);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey2, payer, single(r), 100 * PRICE);
        vm.expectRevert(signerNotAuthorized(signer2, block.timestamp));
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_Claim_SignatureOfOtherReceipt() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(100, 100 * PRICE);
        Escrow.Receipt memory other = receipt(payer, licenseId, RUN, 1);
        c[0].signature = sign(signerKey, other);
        // Recovers to some unrelated address, never registered.
        address recovered = recoverSigner(escrow.receiptDigest(c[0].receipt), c[0].signature);
        assertTrue(recovered != signer);
        vm.expectRevert(signerNotAuthorized(recovered, block.timestamp));
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_Claim_TermsNotAccepted() public {
        setUpPayer(payer2, signerKey2, BUDGET);
        Escrow.Receipt memory r = receipt(payer2, licenseId, RUN, 100);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey2, payer2, single(r), 100 * PRICE);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_TermsNotAccepted.selector, payer2, licenseId, termsOf(licenseId)
            )
        );
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_Claim_ReceiptIssuedAtTermsExpiry() public {
        uint40 expiry = uint40(block.timestamp + 10 days);
        uint256 expiring = mintTerms(creator2, PRICE, 0, expiry, "manifest-expiring");
        accept(payer, expiring);
        vm.warp(expiry);
        Escrow.Receipt memory r = receipt(payer, expiring, RUN, 100);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, single(r), 100 * PRICE);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_ReceiptAfterExpiry.selector, uint64(expiry), expiry)
        );
        claimAs(anyone, root, c);
    }

    function test_Claim_ReceiptIssuedBeforeTermsExpiryClaimedAfter() public {
        uint40 expiry = uint40(block.timestamp + 10 days);
        uint256 expiring = mintTerms(creator2, PRICE, 0, expiry, "manifest-expiring");
        accept(payer, expiring);
        vm.warp(expiry - 1);
        Escrow.Receipt memory r = receipt(payer, expiring, RUN, 100);
        vm.warp(expiry + 1 days);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, single(r), 100 * PRICE);
        assertEq(claimAs(anyone, root, c), 100 * PRICE);
    }

    function test_RevertWhen_Claim_InsufficientReserved() public {
        (bytes32 root, Escrow.Claim[] memory c) = commitOne(1000, 999 * PRICE);
        vm.expectRevert(insufficientReserved(999 * PRICE, 1000 * PRICE));
        claimAs(anyone, root, c);
    }

    function test_RevertWhen_Claim_SecondLeafExceedsWhatFirstLeft() public {
        Escrow.Receipt memory a = receipt(payer, licenseId, keccak256("run-a"), 100);
        Escrow.Receipt memory b = receipt(payer, licenseId, keccak256("run-b"), 200);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, pair(a, b), 250 * PRICE);
        vm.expectRevert(insufficientReserved(150 * PRICE, 200 * PRICE));
        claimAs(anyone, root, c);
    }

    /*//////////////////////////////////////////////////////////////
                                MATURITY
    //////////////////////////////////////////////////////////////*/

    /// What counts is the commit time: a batch committed one second before the acceptance became
    /// chargeable never pays for it, however long the claimant waits.
    function test_RevertWhen_Claim_BatchCommittedOneSecondBeforeChargeable() public {
        (uint256 id, uint64 tid, uint40 chargeableFrom) = acceptFresh();
        vm.warp(chargeableFrom - 1);
        Escrow.Receipt memory r = receipt(payer, id, RUN, 100);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, single(r), 100 * PRICE);
        uint40 expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;

        for (uint256 i; i < 3; ++i) {
            // At commit time, when the acceptance became chargeable, and just before expiry.
            if (i == 1) vm.warp(chargeableFrom + 3 days);
            if (i == 2) vm.warp(expiresAt - 1);
            vm.expectRevert(
                abi.encodeWithSelector(
                    Errors.TrainingEscrow_AcceptanceNotChargeable.selector, payer, id, tid, chargeableFrom
                )
            );
            claimAs(anyone, root, c);
        }
        assertEq(reservedOf(payer), 100 * PRICE);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 0);
        assertEq(escrow.acceptance(payer, id, tid).samplesCharged, 0);
        assertEq(usdc.balanceOf(creator2), 0);
        assertEq(allFees(), 0);

        // The funds come back to the line's credit when the batch expires.
        vm.warp(expiresAt);
        assertEq(escrow.release(payer, relayer, address(usdc)), 100 * PRICE);
        assertEq(creditOf(payer), CREDIT);
    }

    function test_Claim_BatchCommittedAtChargeableFrom() public {
        (uint256 id,, uint40 chargeableFrom) = acceptFresh();
        // Usage during the notice is fine; only the commit must wait.
        Escrow.Receipt memory r = receipt(payer, id, RUN, 100);
        vm.warp(chargeableFrom);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, single(r), 100 * PRICE);
        assertEq(claimAs(anyone, root, c), 100 * PRICE);
        (, uint256 payout) = split(100 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator2), payout);
        assertEq(reservedOf(payer), 0);
    }

    /// A leaf under an acceptance that was not yet chargeable at commit time makes a claim that
    /// includes it revert; the batch's other leaves still pay when claimed without it.
    function test_RevertWhen_Claim_MixedBatchIncludesNotYetChargeableLeaf() public {
        (uint256 id, uint64 tid, uint40 chargeableFrom) = acceptFresh();
        Escrow.Receipt memory mature = receipt(payer, licenseId, RUN, 100);
        Escrow.Receipt memory fresh = receipt(payer, id, RUN, 100);
        (bytes32 root, Escrow.Claim[] memory c) =
            commitBatch(signerKey, payer, pair(mature, fresh), 200 * PRICE);

        vm.warp(chargeableFrom);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_AcceptanceNotChargeable.selector, payer, id, tid, chargeableFrom
            )
        );
        claimAs(anyone, root, c);
        assertEq(reservedOf(payer), 200 * PRICE);

        assertEq(claimAs(anyone, root, one(c[0])), 100 * PRICE);
        assertEq(reservedOf(payer), 100 * PRICE);
        assertEq(usdc.balanceOf(creator2), 0);
    }
}
