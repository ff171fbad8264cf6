// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {AttackBase} from "./AttackBase.sol";

/// @notice What a payer might try to escape receipts it signed: withdraw, revoke its key,
/// deauthorize its relayer, race a release, change terms.
contract PayerAttackTest is AttackBase {
    uint256 internal licenseId;

    function setUp() public override {
        super.setUp();
        licenseId = mintLicense();
        setUpPayer(payer, signerKey, BUDGET);
        accept(payer, licenseId);
    }

    /*//////////////////////////////////////////////////////////////
                               WITHDRAWAL
    //////////////////////////////////////////////////////////////*/

    /// The payer signs usage, then tries to pull its whole budget out. The notice period holds the
    /// funds; meanwhile the relayer commits and the payee claims; the payer gets only the rest.
    function test_Withdraw_NoticeLetsRelayerCommitAndPayeeClaim() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        uint40 unlockAt = uint40(block.timestamp) + NOTICE;

        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLocked.selector, payer, address(usdc), unlockAt
            )
        );
        escrow.withdraw(address(usdc), payer);

        vm.warp(unlockAt - 1);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        vm.prank(creator);
        escrow.claim(root, claims);

        vm.warp(unlockAt);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET - 1000 * PRICE);

        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(usdc.balanceOf(payer), BUDGET - 1000 * PRICE);
        assertEq(usdc.balanceOf(address(escrow)), fee);
        assertEq(escrow.pendingWithdrawal(payer, address(usdc)).unlockAt, 0);
    }

    /// Funds reserved for a batch are not withdrawable even once the notice passed.
    function test_Withdraw_CannotTakeReservedFunds() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(signerKey, payer, single(r), uint128(BUDGET));
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        vm.warp(block.timestamp + NOTICE);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), 0);
        assertEq(usdc.balanceOf(payer), 0);

        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        assertEq(escrow.reservation(root, payer, address(usdc)).remaining, BUDGET - 1000 * PRICE);
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
        assertEq(escrow.accruedFees(address(usdc)), fee1 + fee2);
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET - 1500 * PRICE);
    }

    /// Deauthorizing the relayer stops future commits only.
    function test_SetRelayer_DeauthorizingDoesNotVoidCommittedBatches() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, single(r), 1000 * PRICE);
        vm.prank(payer);
        escrow.setRelayer(relayer, false);
        assertFalse(escrow.isRelayer(payer, relayer));

        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(escrow.reservation(root, payer, address(usdc)).remaining, 0);

        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_RelayerNotAuthorized.selector, payer, relayer)
        );
        commitAs(relayer, keccak256("next"), reserveOf(payer, address(usdc), 1));
    }

    /*//////////////////////////////////////////////////////////////
                        RELEASE-THEN-WITHDRAW RACE
    //////////////////////////////////////////////////////////////*/

    /// The payer's withdrawal unlocked long ago; a batch nobody claimed expires. The payer releases
    /// it and tries to withdraw in the same block: the release pushed the unlock a full notice
    /// period out, during which the payee settles the receipt directly from the returned funds.
    function test_Release_PushesUnlockedWithdrawalSoPayeeCanSettleDirect() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(signerKey, payer, single(r), uint128(BUDGET));
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));

        uint40 expiresAt = escrow.reservation(root, payer, address(usdc)).expiresAt;
        vm.warp(expiresAt);
        assertLt(escrow.pendingWithdrawal(payer, address(usdc)).unlockAt, block.timestamp);
        uint40 pushed = uint40(block.timestamp) + NOTICE;

        vm.startPrank(payer);
        vm.expectEmit(address(escrow));
        emit ITrainingEscrow.WithdrawalDelayed(payer, address(usdc), pushed, pushed + NOTICE);
        escrow.release(root, payer, address(usdc));
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLocked.selector, payer, address(usdc), pushed
            )
        );
        escrow.withdraw(address(usdc), payer);
        vm.stopPrank();

        vm.warp(pushed - 1);
        vm.prank(creator);
        assertEq(escrow.settleDirect(r, claims[0].signature), 1000 * PRICE);

        vm.warp(pushed);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET - 1000 * PRICE);
        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout);
        assertEq(usdc.balanceOf(address(escrow)), fee);
    }

    /// Cycling funds through reservations (a payer acting as its own relayer) does not get around
    /// the push either: every release of a non-empty reservation restarts the notice.
    function test_Release_SelfRelayedCyclingNeverSkipsNotice() public {
        vm.prank(payer);
        escrow.setRelayer(payer, true);
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), uint128(BUDGET));
        commitAs(payer, keccak256("junk-1"), reserveOf(payer, address(usdc), uint128(BUDGET)));

        vm.warp(escrow.reservation(keccak256("junk-1"), payer, address(usdc)).expiresAt);
        vm.startPrank(payer);
        escrow.release(keccak256("junk-1"), payer, address(usdc));
        escrow.commitBatch(keccak256("junk-2"), 0, 0, "", reserveOf(payer, address(usdc), uint128(BUDGET)));
        vm.warp(escrow.reservation(keccak256("junk-2"), payer, address(usdc)).expiresAt);
        escrow.release(keccak256("junk-2"), payer, address(usdc));
        uint40 pushed = uint40(block.timestamp) + NOTICE;
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_WithdrawalLocked.selector, payer, address(usdc), pushed
            )
        );
        escrow.withdraw(address(usdc), payer);
        vm.stopPrank();
        assertEq(escrow.availableBalance(payer, address(usdc)), BUDGET);
        assertEq(usdc.balanceOf(payer), 0);
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
                 KNOWN WEAKNESSES (the attack succeeds)
    //////////////////////////////////////////////////////////////*/

    /// @dev Sets up the self-dealing exit: the payer (through a second address it controls) mints
    /// a license priced at its whole balance, accepts it, and settles one sample directly.
    function selfDealingExit() internal returns (address sink, uint256 drained) {
        sink = makeAddr("payer-sink");
        License.Terms memory t = defaultTerms();
        t.pricePerSample = uint96(BUDGET);
        uint256 exitLicense = mintLicense(sink, t, keccak256("payer-owned-manifest"));
        accept(payer, exitLicense);
        Escrow.Receipt memory exitR = receipt(payer, exitLicense, RUN, 1);
        bytes memory exitSig = sign(signerKey, exitR);
        vm.prank(payer);
        drained = escrow.settleDirect(exitR, exitSig);
    }

    /// KNOWN WEAKNESS (reported): the notice period binds `withdraw` only. A payer that signed
    /// receipts can move its whole available balance out in one transaction, with no notice, by
    /// settling a receipt for a license it controls; it loses only the platform fee. The payee's
    /// direct settlement of the receipt the payer signed then fails.
    function test_SettleDirect_SelfDealingLicenseExitsWithoutNotice_KnownWeakness() public {
        Escrow.Receipt memory owed = receipt(payer, licenseId, RUN, 1000);
        bytes memory owedSig = sign(signerKey, owed);

        (address sink, uint256 drained) = selfDealingExit();
        (uint256 fee, uint256 payout) = split(BUDGET, FEE_BPS);
        assertEq(drained, BUDGET);
        assertEq(usdc.balanceOf(sink), payout); // 97.5 % of the budget, back in the payer's hands
        assertEq(escrow.availableBalance(payer, address(usdc)), 0);
        assertEq(escrow.pendingWithdrawal(payer, address(usdc)).unlockAt, 0); // no notice given

        vm.prank(creator);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_InsufficientBalance.selector, payer, address(usdc), 0, 1000 * PRICE
            )
        );
        escrow.settleDirect(owed, owedSig);
        assertEq(usdc.balanceOf(creator), 0);
        assertEq(escrow.accruedFees(address(usdc)), fee);
    }

    /// The property the weakness breaks, as a failing test: skipped unless
    /// `ATTACK_SHOW_OPEN=true`, so that the suite stays green while the issue is open.
    function test_Property_SignedReceiptStaysPayableForNotice() public {
        vm.skip(!vm.envOr("ATTACK_SHOW_OPEN", false));
        Escrow.Receipt memory owed = receipt(payer, licenseId, RUN, 1000);
        bytes memory owedSig = sign(signerKey, owed);
        selfDealingExit();
        vm.warp(block.timestamp + NOTICE - 1);
        vm.prank(creator);
        assertEq(escrow.settleDirect(owed, owedSig), 1000 * PRICE);
    }

    /// KNOWN WEAKNESS (reported, lower severity): an unlocked withdrawal request never expires.
    /// A payer can request once, keep training and signing long after, and leave instantly
    /// whenever it likes, before the relayer's next commit. Visible on chain
    /// (`pendingWithdrawal`), so relayers must treat such a payer's available balance as gone.
    function test_Withdraw_StaleUnlockedRequestAllowsInstantExit_KnownWeakness() public {
        vm.prank(payer);
        escrow.requestWithdrawal(address(usdc), type(uint128).max);
        vm.warp(block.timestamp + NOTICE + 90 days);

        Escrow.Receipt memory owed = receipt(payer, licenseId, RUN, 1000);
        bytes memory owedSig = sign(signerKey, owed);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(usdc), payer), BUDGET);

        vm.prank(creator);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_InsufficientBalance.selector, payer, address(usdc), 0, 1000 * PRICE
            )
        );
        escrow.settleDirect(owed, owedSig);
        assertEq(usdc.balanceOf(payer), BUDGET);
        assertEq(usdc.balanceOf(creator), 0);
    }
}
