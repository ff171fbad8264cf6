// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Vm} from "forge-std/Vm.sol";

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {LicensedAttackBase} from "./AttackBase.sol";

/// @notice What a payer might try to escape receipts it signed: withdraw (also through a stale
/// request or a release race), revoke its key, take its relayer's credit back, change terms, or
/// settle its budget to a license it controls (a self-dealing license, through a direct settlement
/// or a batch it commits as its own relayer). Receipts the relayer accepted are covered by the
/// relayer's credit line, which the payer can reduce only after a notice period; the last section
/// documents what that does not cover (receipts only ever settled directly).
contract PayerAttackTest is LicensedAttackBase {
    /// @dev The self-dealing license (see `acceptSelfDealing`): held by `sink`, an address the
    /// payer controls.
    address internal sink = makeAddr("payer-sink");
    uint256 internal exitLicense;
    uint64 internal exitTerms;
    uint40 internal chargeableFrom;

    /*//////////////////////////////////////////////////////////////
                               WITHDRAWAL
    //////////////////////////////////////////////////////////////*/

    /// The payer signs usage, then tries to pull its whole budget out: its available balance with a
    /// withdrawal, its relayer's line with a credit reduction. Both need the notice period;
    /// meanwhile the relayer commits and the payee claims from the line; the payer gets the rest.
    function test_Withdraw_NoticeLetsRelayerCommitAndPayeeClaim() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        vm.startPrank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        escrow.requestCreditReduction(relayer, address(usdc), uint128(CREDIT));
        vm.stopPrank();
        uint40 unlockAt = uint40(block.timestamp) + NOTICE;

        vm.startPrank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLocked.selector, payer, address(usdc), unlockAt
            )
        );
        escrow.withdraw(address(usdc), payer);
        vm.expectRevert(notEffective(unlockAt));
        escrow.reduceCredit(relayer, address(usdc));
        vm.stopPrank();

        vm.warp(unlockAt - 1);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        vm.prank(creator);
        escrow.claim(root, claims);

        vm.warp(unlockAt);
        vm.startPrank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET);
        assertEq(escrow.reduceCredit(relayer, address(usdc)), CREDIT - 1000 * PRICE);
        vm.stopPrank();
        // The part of the request the line could not cover stays requested.
        assertEq(escrow.creditReduction(payer, relayer, address(usdc)).amount, 1000 * PRICE);

        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(usdc.balanceOf(payer), BUDGET);
        assertEq(escrow.availableBalance(payer, address(usdc)), CREDIT - 1000 * PRICE);
        assertEq(usdc.balanceOf(address(escrow)), CREDIT - 1000 * PRICE + fee);
        assertConserved(address(usdc), list1(payer));
    }

    /// Funds in a line are never withdrawable, even once the withdrawal notice passed.
    function test_Withdraw_CannotTakeLineFunds() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(signerKey, payer, single(r), uint128(CREDIT));
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), type(uint128).max);
        vm.warp(block.timestamp + NOTICE);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET);
        assertEq(usdc.balanceOf(payer), BUDGET);

        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        assertEq(reservedOf(payer), CREDIT - 1000 * PRICE);
    }

    /*//////////////////////////////////////////////////////////////
                              KEY REVOCATION
    //////////////////////////////////////////////////////////////*/

    /// Revoking the key after signing: batches committed before the revocation took effect still
    /// pay after it, and direct settlement works until the effective time.
    function test_RevokeSigner_DoesNotVoidCommittedBatchesOrEarlyDirectSettlement() public {
        Escrow.Receipt memory r1 = receipt(payer, licenseId, RUN, 1000);
        Escrow.Receipt memory r2 = receipt(payer, licenseId, RUN_2, 500);
        bytes memory sig2 = sign(signerKey, r2);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r1), 1000 * PRICE);

        vm.prank(payer);
        escrow.revokeSigner(signer);
        uint40 effectiveAt = uint40(block.timestamp) + NOTICE;

        vm.warp(effectiveAt - 1);
        vm.prank(creator);
        assertEq(escrow.settleDirect(r2, sig2), 500 * PRICE);

        vm.warp(effectiveAt + 3 days);
        vm.prank(creator);
        assertEq(escrow.claim(root, claims), 1000 * PRICE);

        (uint256 fee1, uint256 payout1) = split(1000 * PRICE, FEE_BPS);
        (uint256 fee2, uint256 payout2) = split(500 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout1 + payout2);
        assertEq(escrow.accruedFees(address(usdc)), fee2);
        assertEq(lineIn(payer, relayer, address(usdc)).fees, fee1);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET - 500 * PRICE);
        assertEq(reservedOf(payer), 0);
    }

    /// Taking the relayer's credit back stops future commits only: the reduction moves credit,
    /// never what committed batches reserved, and those batches stay claimable in full.
    function test_ReduceCredit_DoesNotVoidCommittedBatches() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        vm.prank(payer);
        escrow.requestCreditReduction(relayer, address(usdc), type(uint128).max);
        vm.warp(block.timestamp + NOTICE);
        vm.prank(payer);
        assertEq(escrow.reduceCredit(relayer, address(usdc)), CREDIT - 1000 * PRICE);
        assertEq(creditOf(payer), 0);
        assertEq(reservedOf(payer), 1000 * PRICE);

        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(reservedOf(payer), 0);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_NoCreditLine.selector, payer, relayer, address(usdc))
        );
        commitAs(relayer, keccak256("next"), reserveOf(payer, address(usdc), 1));
        assertConserved(address(usdc), list1(payer));
    }

    /*//////////////////////////////////////////////////////////////
                       CREDIT REDUCTION NOTICE
    //////////////////////////////////////////////////////////////*/

    /// Credit comes back only a notice period after the request. A new request replaces the old
    /// one and restarts the notice (a small request made early cannot be raised at the last
    /// moment), a cancelled request is gone, and nobody else can execute the payer's request.
    function test_ReduceCredit_OnlyAfterNotice() public {
        uint40 t0 = uint40(block.timestamp);
        vm.prank(payer);
        escrow.requestCreditReduction(relayer, address(usdc), 1);
        vm.warp(t0 + NOTICE - 1);
        vm.prank(payer);
        escrow.requestCreditReduction(relayer, address(usdc), uint128(CREDIT));
        uint40 effectiveAt = t0 + 2 * NOTICE - 1;
        assertEq(escrow.creditReduction(payer, relayer, address(usdc)).effectiveAt, effectiveAt);

        vm.warp(t0 + NOTICE);
        vm.prank(payer);
        vm.expectRevert(notEffective(effectiveAt));
        escrow.reduceCredit(relayer, address(usdc));
        vm.warp(effectiveAt - 1);
        vm.prank(payer);
        vm.expectRevert(notEffective(effectiveAt));
        escrow.reduceCredit(relayer, address(usdc));
        vm.prank(relayer);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoCreditReductionRequested.selector, relayer, relayer, address(usdc)
            )
        );
        escrow.reduceCredit(relayer, address(usdc));
        assertEq(creditOf(payer), CREDIT);

        uint256 snapshot = vm.snapshotState();
        vm.prank(payer);
        escrow.cancelCreditReduction(relayer, address(usdc));
        vm.warp(effectiveAt);
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_NoCreditReductionRequested.selector, payer, relayer, address(usdc)
            )
        );
        escrow.reduceCredit(relayer, address(usdc));
        vm.revertToState(snapshot);

        vm.warp(effectiveAt);
        vm.prank(payer);
        assertEq(escrow.reduceCredit(relayer, address(usdc)), CREDIT);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET + CREDIT);
        assertEq(escrow.creditReduction(payer, relayer, address(usdc)).effectiveAt, 0);
    }

    /// The relayer's acceptance rule (SPEC: what it accepted and has not committed stays within
    /// credit − pending reduction): a receipt it accepted after the payer asked for credit back is
    /// committed and claimed in full whenever the relayer commits (within the notice or after it),
    /// before or after the payer executes the reduction.
    function testFuzz_ReduceCredit_ReceiptAcceptedWithinCreditMinusPendingIsPaid(
        uint256 reduction,
        uint256 samples,
        uint256 commitAfter,
        bool reduceFirst
    ) public {
        reduction = bound(reduction, 1, CREDIT - PRICE);
        samples = bound(samples, 1, (CREDIT - reduction) / PRICE);
        commitAfter = bound(commitAfter, 0, 2 * NOTICE);
        uint256 t0 = block.timestamp;
        vm.prank(payer);
        escrow.requestCreditReduction(relayer, address(usdc), uint128(reduction));
        // Accepted by the relayer now: priced within credit − pending reduction.
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, uint64(samples));
        assertLe(
            samples * PRICE, creditOf(payer) - escrow.creditReduction(payer, relayer, address(usdc)).amount
        );

        bool reduced;
        if (reduceFirst) {
            vm.warp(t0 + NOTICE);
            vm.prank(payer);
            assertEq(escrow.reduceCredit(relayer, address(usdc)), reduction);
            reduced = true;
        }
        if (t0 + commitAfter > block.timestamp) vm.warp(t0 + commitAfter);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(signerKey, payer, single(r), uint128(samples * PRICE));
        if (!reduced) {
            if (block.timestamp < t0 + NOTICE) vm.warp(t0 + NOTICE);
            vm.prank(payer);
            assertEq(escrow.reduceCredit(relayer, address(usdc)), reduction);
        }
        assertEq(escrow.claim(root, claims), samples * PRICE);
        (, uint256 payout) = split(samples * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET + reduction);
        assertEq(creditOf(payer), CREDIT - reduction - samples * PRICE);
        assertConserved(address(usdc), list1(payer));
    }

    /// The boundary of the rule: with the whole reduction executed, one sample beyond
    /// credit − reduction cannot be reserved.
    function test_RevertWhen_CommitBeyondCreditMinusReduction() public {
        uint256 reduction = CREDIT - 1000 * PRICE;
        vm.prank(payer);
        escrow.requestCreditReduction(relayer, address(usdc), uint128(reduction));
        vm.warp(block.timestamp + NOTICE);
        vm.prank(payer);
        escrow.reduceCredit(relayer, address(usdc));
        vm.expectRevert(insufficientCredit(payer, 1000 * PRICE, 1001 * PRICE));
        commitAs(relayer, keccak256("over"), reserveOf(payer, address(usdc), 1001 * PRICE));
    }

    /*//////////////////////////////////////////////////////////////
                        RELEASE-THEN-WITHDRAW RACE
    //////////////////////////////////////////////////////////////*/

    /// The payer's withdrawal is unlocked; a batch nobody claimed expires. The payer releases it
    /// and withdraws in the same block: the release moved the funds back to the line's credit,
    /// not to the available balance, so the withdrawal takes only what was available before. The
    /// funds leave the line only after a credit reduction's notice, within which the relayer
    /// commits the receipt again and the payee claims it.
    function test_Release_ReturnsToCreditSoWithdrawalCannotRaceThePayee() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root,) = commitBatch(signerKey, payer, single(r), uint128(CREDIT));
        uint40 expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;
        vm.warp(expiresAt - NOTICE - 1 hours);
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), type(uint128).max);

        vm.warp(expiresAt);
        vm.startPrank(payer);
        assertEq(escrow.release(payer, relayer, address(usdc)), CREDIT);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET);
        escrow.requestCreditReduction(relayer, address(usdc), uint128(CREDIT));
        vm.stopPrank();
        assertEq(creditOf(payer), CREDIT);

        // Within the notice the relayer commits the usage again (the payer's latest receipt, signed
        // later with the same count); the payee claims it.
        vm.warp(block.timestamp + NOTICE - 1);
        Escrow.Receipt memory latest = receipt(payer, licenseId, RUN, 1000);
        (bytes32 again, Escrow.Claim[] memory claims) =
            commitBatch(signerKey, payer, single(latest), 1000 * PRICE);
        assertEq(escrow.claim(again, claims), 1000 * PRICE);

        vm.warp(block.timestamp + 1);
        vm.prank(payer);
        assertEq(escrow.reduceCredit(relayer, address(usdc)), CREDIT - 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
        assertConserved(address(usdc), list1(payer));
    }

    /// A payer acting as its own relayer cycles funds through junk reservations of its own line:
    /// every release goes back to that line's credit, never to the available balance, so no cycle
    /// gets around the credit reduction's notice.
    function test_Release_SelfRelayedCyclingNeverReachesAvailable() public {
        vm.prank(owner);
        escrow.setClaimWindow(1 days);
        vm.startPrank(payer);
        escrow.fundCredit(payer, address(usdc), uint128(BUDGET));
        escrow.commitBatch(keccak256("junk-1"), 0, 0, "", reserveOf(payer, address(usdc), uint128(BUDGET)));
        vm.warp(block.timestamp + 1 days);
        escrow.release(payer, payer, address(usdc));
        escrow.commitBatch(keccak256("junk-2"), 0, 0, "", reserveOf(payer, address(usdc), uint128(BUDGET)));
        vm.warp(block.timestamp + 1 days);
        assertEq(escrow.release(payer, payer, address(usdc)), BUDGET);
        vm.stopPrank();
        assertEq(escrow.availableBalance(payer, address(usdc)), 0);
        assertEq(lineIn(payer, payer, address(usdc)).credit, BUDGET);
        assertEq(usdc.balanceOf(payer), 0);
        assertConserved(address(usdc), list1(payer), list2(relayer, payer));
    }

    /// A request cannot be kept as a standing right to leave at once: one made long ago, and
    /// unlocked since, has lapsed. The payer cannot run ahead of a payee's direct settlement of a
    /// receipt it signed meanwhile; it must give a fresh notice, during which the payee is paid.
    function test_RevertWhen_Withdraw_StaleUnlockedRequestForInstantExit() public {
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), type(uint128).max);
        uint40 lapsesAt = uint40(block.timestamp) + 2 * NOTICE;
        vm.warp(block.timestamp + NOTICE + 90 days);

        Escrow.Receipt memory owed = receipt(payer, licenseId, RUN, 1000);
        bytes memory owedSig = sign(signerKey, owed);
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLapsed.selector, payer, address(usdc), lapsesAt
            )
        );
        escrow.withdraw(address(usdc), payer);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(usdc.balanceOf(payer), 0);

        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), type(uint128).max);
        uint40 unlockAt = uint40(block.timestamp) + NOTICE;
        vm.warp(unlockAt - 1);
        vm.prank(creator);
        assertEq(escrow.settleDirect(owed, owedSig), 1000 * PRICE);

        vm.warp(unlockAt);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET - 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(usdc.balanceOf(payer), BUDGET - 1000 * PRICE);
    }

    /*//////////////////////////////////////////////////////////////
                               TERMS
    //////////////////////////////////////////////////////////////*/

    /// New terms (and accepting them) leave receipts under the old accepted terms payable at the
    /// old price.
    function test_UpdateTerms_OldAcceptedReceiptsStillPayAtOldPrice() public {
        (uint64 oldTerms,) = nft.currentTerms(licenseId);
        Escrow.Receipt memory oldR = receipt(payer, licenseId, RUN, 1000);
        bytes memory oldSig = sign(signerKey, oldR);

        License.Terms memory t = defaultTerms();
        t.pricePerSample = PRICE / 2;
        vm.prank(creator);
        uint64 newTerms = nft.updateTerms(licenseId, t);
        assertTrue(newTerms != oldTerms);
        accept(payer, licenseId);
        Escrow.Receipt memory newR = receipt(payer, licenseId, RUN, 1000);
        assertEq(newR.termsId, newTerms);

        assertEq(escrow.settleDirect(oldR, oldSig), 1000 * PRICE);
        assertEq(escrow.settleDirect(newR, sign(signerKey, newR)), 1000 * (PRICE / 2));
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET - 1000 * PRICE - 1000 * (PRICE / 2));
        assertEq(escrow.acceptance(payer, licenseId, oldTerms).pricePerSample, PRICE);
    }

    /// The creator cannot slip pricier terms under an acceptance: the payer names the version it
    /// read.
    function test_RevertWhen_TermsChangedBeforeAcceptance() public {
        uint256 other = mintLicense(creator, defaultTerms(), keccak256("manifest-2"));
        (uint64 readTerms,) = nft.currentTerms(other);
        License.Terms memory t = defaultTerms();
        t.pricePerSample = PRICE * 100;
        vm.prank(creator);
        uint64 pricier = nft.updateTerms(other, t);

        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_TermsNotCurrent.selector, other, readTerms, pricier)
        );
        escrow.acceptTerms(other, readTerms);
        assertEq(escrow.acceptance(payer, other, pricier).acceptedAt, 0);
        assertEq(escrow.acceptance(payer, other, readTerms).acceptedAt, 0);
    }

    /*//////////////////////////////////////////////////////////////
            SELF-DEALING LICENSE (acceptance maturity)
    //////////////////////////////////////////////////////////////*/

    /// @dev The payer, through `sink`, mints a license at `price` per sample and accepts it now,
    /// without waiting for the notice (unlike `accept`).
    function acceptSelfDealing(uint96 price) internal {
        License.Terms memory t = defaultTerms();
        t.pricePerSample = price;
        exitLicense = mintLicense(sink, t, keccak256("payer-owned-manifest"));
        (exitTerms,) = nft.currentTerms(exitLicense);
        vm.prank(payer);
        escrow.acceptTerms(exitLicense, exitTerms);
        chargeableFrom = escrow.acceptance(payer, exitLicense, exitTerms).chargeableFrom;
        assertEq(chargeableFrom, uint40(block.timestamp) + NOTICE);
    }

    function notChargeable() internal view returns (bytes memory) {
        return abi.encodeWithSelector(
            Errors.TrainingEscrow_AcceptanceNotChargeable.selector,
            payer,
            exitLicense,
            exitTerms,
            chargeableFrom
        );
    }

    /// The payer mints a license priced at its whole balance, accepts it and settles one sample
    /// directly, to move its budget out at once, ahead of a receipt it signed for a real creator.
    /// The acceptance is not chargeable for a notice period: the exit is refused right away and one
    /// second before the notice ends, the creator settles its receipt in full meanwhile, and from
    /// the end of the notice the exit is an ordinary charge that cannot reach what was paid.
    function test_RevertWhen_SettleDirect_SelfDealingLicenseExitsWithoutNotice() public {
        Escrow.Receipt memory owed = receipt(payer, licenseId, RUN, 1000);
        bytes memory owedSig = sign(signerKey, owed);
        uint40 t0 = uint40(block.timestamp);
        acceptSelfDealing(uint96(BUDGET));
        assertEq(chargeableFrom, t0 + NOTICE);
        Escrow.Receipt memory exitR = receipt(payer, exitLicense, RUN, 1);
        bytes memory exitSig = sign(signerKey, exitR);

        vm.prank(payer);
        vm.expectRevert(notChargeable());
        escrow.settleDirect(exitR, exitSig);
        vm.warp(chargeableFrom - 1);
        vm.prank(payer);
        vm.expectRevert(notChargeable());
        escrow.settleDirect(exitR, exitSig);

        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(escrow.settledSamples(escrow.usageKey(exitR)), 0);
        assertEq(usdc.balanceOf(sink), 0);
        assertEq(escrow.accruedFees(address(usdc)), 0);

        // Within the notice, the creator settles the receipt it holds, in full.
        vm.prank(creator);
        assertEq(escrow.settleDirect(owed, owedSig), 1000 * PRICE);
        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);

        // From `chargeableFrom` the acceptance is chargeable, but the budget no longer holds what
        // the creator was paid.
        vm.warp(chargeableFrom);
        vm.prank(payer);
        vm.expectRevert(insufficientBalance(BUDGET - 1000 * PRICE, BUDGET));
        escrow.settleDirect(exitR, exitSig);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(usdc.balanceOf(sink), 0);
        assertEq(escrow.accruedFees(address(usdc)), fee);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET - 1000 * PRICE);
    }

    /// The boundary on its own: refused one second before `chargeableFrom`, paid at it (by then the
    /// payer has given as much notice as a withdrawal needs).
    function test_SettleDirect_SelfDealingLicenseChargeableAtNoticeEnd() public {
        acceptSelfDealing(uint96(BUDGET));
        Escrow.Receipt memory exitR = receipt(payer, exitLicense, RUN, 1);
        bytes memory exitSig = sign(signerKey, exitR);

        vm.warp(chargeableFrom - 1);
        vm.expectRevert(notChargeable());
        escrow.settleDirect(exitR, exitSig);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);

        vm.warp(chargeableFrom);
        assertEq(escrow.settleDirect(exitR, exitSig), BUDGET);
        (, uint256 payout) = split(BUDGET, FEE_BPS);
        assertEq(usdc.balanceOf(sink), payout);
        assertEq(escrow.availableBalance(payer, address(usdc)), 0);
    }

    /// The same exit through a batch the payer commits as its own relayer: what counts is the
    /// commit time. A batch committed one second before `chargeableFrom` never pays the
    /// self-dealing license, not even claimed later; one committed at `chargeableFrom` does.
    /// Meanwhile the creator's receipt settles directly, in full.
    function test_RevertWhen_Claim_SelfRelayedBatchForSelfDealingLicenseBeforeNotice() public {
        topUpLine(payer, payer, address(usdc), 3 * (BUDGET / 4));
        Escrow.Receipt memory owed = receipt(payer, licenseId, RUN, 1000);
        bytes memory owedSig = sign(signerKey, owed);
        acceptSelfDealing(uint96(BUDGET / 4));
        Escrow.Receipt memory exitEarly = receipt(payer, exitLicense, RUN, 1);
        Escrow.Receipt memory exitAt = receipt(payer, exitLicense, RUN_2, 1);

        // Committed right after the acceptance: refused.
        (bytes32 rootNow, Escrow.Claim[] memory claimsNow) = buildClaims(signerKey, single(exitEarly));
        commitAs(payer, rootNow, reserveOf(payer, address(usdc), uint128(BUDGET / 4)));
        vm.expectRevert(notChargeable());
        escrow.claim(rootNow, claimsNow);

        // Committed one second before the notice ends: refused then, at its end and a day later.
        vm.warp(chargeableFrom - 1);
        (bytes32 rootEarly, Escrow.Claim[] memory claimsEarly) =
            buildClaims(signerKey, pair(exitEarly, receipt(payer, exitLicense, keccak256("pad"), 1)));
        commitAs(payer, rootEarly, reserveOf(payer, address(usdc), uint128(BUDGET / 4)));
        vm.expectRevert(notChargeable());
        escrow.claim(rootEarly, claimsEarly);

        // Within the notice the creator is paid in full from what is still available.
        vm.prank(creator);
        assertEq(escrow.settleDirect(owed, owedSig), 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);

        vm.warp(chargeableFrom);
        (bytes32 rootAt, Escrow.Claim[] memory claimsAt) = buildClaims(signerKey, single(exitAt));
        commitAs(payer, rootAt, reserveOf(payer, address(usdc), uint128(BUDGET / 4)));
        vm.expectRevert(notChargeable());
        escrow.claim(rootEarly, claimsEarly);

        vm.warp(chargeableFrom + 1 days);
        vm.expectRevert(notChargeable());
        escrow.claim(rootEarly, one(claimsEarly[0]));
        vm.expectRevert(notChargeable());
        escrow.claim(rootNow, claimsNow);
        assertEq(lineIn(payer, payer, address(usdc)).reserved, 3 * (BUDGET / 4));
        assertEq(usdc.balanceOf(sink), 0);

        // After the notice it is an ordinary (announced) charge.
        assertEq(escrow.claim(rootAt, claimsAt), BUDGET / 4);
        (, uint256 sinkPayout) = split(BUDGET / 4, FEE_BPS);
        assertEq(usdc.balanceOf(sink), sinkPayout);
        assertEq(usdc.balanceOf(creator), payout);
        // The early batches' reserve stays in the line (not chargeable by those leaves).
        assertEq(lineIn(payer, payer, address(usdc)).reserved, BUDGET / 2);
        assertConserved(address(usdc), list1(payer), list2(relayer, payer));
    }

    /// Property: once a payer accepts a license (whoever controls it), a receipt the payer already
    /// signed for a real creator stays payable by direct settlement for the whole notice period,
    /// whenever in it the payer tries the self-dealing exit and whenever the creator settles.
    function testFuzz_Property_SignedReceiptStaysPayableForNotice(uint256 attemptAfter, uint256 settleAfter)
        public
    {
        attemptAfter = bound(attemptAfter, 0, NOTICE - 1);
        settleAfter = bound(settleAfter, 0, NOTICE - 1);
        Escrow.Receipt memory owed = receipt(payer, licenseId, RUN, 1000);
        bytes memory owedSig = sign(signerKey, owed);
        uint256 t0 = block.timestamp;
        acceptSelfDealing(uint96(BUDGET));
        Escrow.Receipt memory exitR = receipt(payer, exitLicense, RUN, 1);
        bytes memory exitSig = sign(signerKey, exitR);

        vm.warp(t0 + attemptAfter);
        vm.prank(payer);
        vm.expectRevert(notChargeable());
        escrow.settleDirect(exitR, exitSig);

        vm.warp(t0 + (settleAfter > attemptAfter ? settleAfter : attemptAfter));
        vm.prank(creator);
        assertEq(escrow.settleDirect(owed, owedSig), 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
    }

    /*//////////////////////////////////////////////////////////////
         SELF-DEALING THROUGH ITS OWN LINE (issue 12 item 2)
    //////////////////////////////////////////////////////////////*/

    /// @dev The creator's receipt, accepted by the honest `relayer` within its line's credit, is
    /// committed and claimed in full from that line.
    function assertOwedPaidFromLine(Escrow.Receipt memory owed) internal {
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(signerKey, payer, single(owed), 1000 * PRICE);
        vm.prank(creator);
        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
    }

    /// RESIDUAL LIMIT (by design): a payer can lock its whole available balance at any moment by
    /// funding a line of its own (no notice), so that a creator's DIRECT settlement fails for lack
    /// of available funds. What still holds: a junk batch in that line can never pay the
    /// self-dealing license it was committed next to (the acceptance was not chargeable at commit
    /// time), the funds come back to the available balance only through a credit reduction's
    /// notice, and receipts the honest relayer accepted are paid in full from its own line.
    function test_FundCredit_SelfLineLocksAvailableBalance_ResidualLimit() public {
        Escrow.Receipt memory owed = receipt(payer, licenseId, RUN, 1000);
        bytes memory owedSig = sign(signerKey, owed);
        acceptSelfDealing(uint96(BUDGET));
        Escrow.Receipt memory exitR = receipt(payer, exitLicense, RUN, 1);
        (bytes32 junk, Escrow.Claim[] memory exitClaims) = buildClaims(signerKey, single(exitR));
        vm.startPrank(payer);
        escrow.fundCredit(payer, address(usdc), uint128(BUDGET));
        escrow.commitBatch(junk, 1, 0, "", reserveOf(payer, address(usdc), uint128(BUDGET)));
        vm.stopPrank();
        uint40 expiresAt = escrow.reservation(junk, payer, address(usdc)).expiresAt;

        // The limit: the creator cannot settle directly while the balance is locked.
        vm.prank(creator);
        vm.expectRevert(insufficientBalance(0, 1000 * PRICE));
        escrow.settleDirect(owed, owedSig);

        // The junk batch never pays the self-dealing license.
        uint40[3] memory times = [chargeableFrom - 1, chargeableFrom, expiresAt - 1];
        for (uint256 i; i < times.length; ++i) {
            vm.warp(times[i]);
            vm.expectRevert(notChargeable());
            escrow.claim(junk, exitClaims);
        }
        assertEq(lineIn(payer, payer, address(usdc)).reserved, BUDGET);
        assertEq(usdc.balanceOf(sink), 0);

        // Released, the funds go back to the payer's own line, not to its available balance.
        vm.warp(expiresAt);
        assertEq(escrow.release(payer, payer, address(usdc)), BUDGET);
        assertEq(escrow.availableBalance(payer, address(usdc)), 0);
        assertEq(lineIn(payer, payer, address(usdc)).credit, BUDGET);

        // The creator's receipt, accepted by the honest relayer, is paid from the relayer's line.
        assertOwedPaidFromLine(owed);
        assertConserved(address(usdc), list1(payer), list2(relayer, payer));
    }

    /// Formerly KNOWN WEAKNESS (the release of a self-relayed junk reservation returned the funds
    /// to the available balance, and a self-dealing acceptance that matured meanwhile took them in
    /// the same block). Now closed: a release returns the funds to the line's credit, and
    /// `settleDirect` pays from the available balance only, so the self-dealing settlement finds
    /// nothing; the creator's receipt, accepted by the honest relayer, is paid in full from the
    /// relayer's line, which the payer cannot touch without notice.
    function test_Release_ThenSelfDealingSettleInSameBlock_CannotReachAnyLine() public {
        Escrow.Receipt memory owed = receipt(payer, licenseId, RUN, 1000);
        acceptSelfDealing(uint96(BUDGET));
        Escrow.Receipt memory exitR = receipt(payer, exitLicense, RUN, 1);
        bytes memory exitSig = sign(signerKey, exitR);
        bytes32 junk = keccak256("junk");
        vm.startPrank(payer);
        escrow.fundCredit(payer, address(usdc), uint128(BUDGET));
        escrow.commitBatch(junk, 0, 0, "", reserveOf(payer, address(usdc), uint128(BUDGET)));
        vm.stopPrank();

        vm.warp(escrow.reservation(junk, payer, address(usdc)).expiresAt);
        vm.startPrank(payer);
        assertEq(escrow.release(payer, payer, address(usdc)), BUDGET);
        vm.expectRevert(insufficientBalance(0, BUDGET));
        escrow.settleDirect(exitR, exitSig);
        vm.stopPrank();
        assertEq(usdc.balanceOf(sink), 0);

        assertOwedPaidFromLine(owed);
        assertEq(creditOf(payer), CREDIT - 1000 * PRICE);
        assertConserved(address(usdc), list1(payer), list2(relayer, payer));
    }

    /// Formerly KNOWN WEAKNESS (an acceptance of a self-dealing license made long ago was a
    /// standing right to move the whole balance out at once). Now closed for everything the payer
    /// gave its relayer: the self-dealing settlement can take the available balance only, a
    /// second relayer the payer controls has its own line that only the available balance can
    /// fund, and the honest line can be reduced only after the notice, within which the receipt
    /// the relayer accepted (within credit − pending reduction) is committed and claimed in full.
    function test_SettleDirect_PrePositionedSelfDealingAcceptanceCannotReachCreditLine() public {
        acceptSelfDealing(PRICE);
        vm.warp(chargeableFrom + 90 days);

        Escrow.Receipt memory owed = receipt(payer, licenseId, RUN, 1000);
        // All the payer has, as samples of its own license: the line is out of reach.
        Escrow.Receipt memory exitAll = receipt(payer, exitLicense, RUN, uint64((BUDGET + CREDIT) / PRICE));
        bytes memory exitAllSig = sign(signerKey, exitAll);
        vm.prank(payer);
        vm.expectRevert(insufficientBalance(BUDGET, BUDGET + CREDIT));
        escrow.settleDirect(exitAll, exitAllSig);
        Escrow.Receipt memory exitR = receipt(payer, exitLicense, RUN, uint64(BUDGET / PRICE));
        vm.prank(payer);
        assertEq(escrow.settleDirect(exitR, sign(signerKey, exitR)), BUDGET);
        (, uint256 payout) = split(BUDGET, FEE_BPS);
        assertEq(usdc.balanceOf(sink), payout);

        // A second relayer it controls: its line can only be funded from the available balance.
        address puppet = makeAddr("puppet-relayer");
        vm.startPrank(payer);
        vm.expectRevert(insufficientBalance(0, 1));
        escrow.fundCredit(puppet, address(usdc), 1);
        // Taking the honest line back needs the notice.
        escrow.requestCreditReduction(relayer, address(usdc), uint128(CREDIT));
        vm.expectRevert(notEffective(uint40(block.timestamp) + NOTICE));
        escrow.reduceCredit(relayer, address(usdc));
        vm.stopPrank();

        vm.warp(block.timestamp + NOTICE - 1);
        assertOwedPaidFromLine(owed);
        vm.warp(block.timestamp + 1);
        vm.prank(payer);
        assertEq(escrow.reduceCredit(relayer, address(usdc)), CREDIT - 1000 * PRICE);
        assertConserved(address(usdc), list1(payer));
    }
}
