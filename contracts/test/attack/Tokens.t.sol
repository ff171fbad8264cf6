// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ITrainingEscrow} from "../../src/interfaces/ITrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {FeeOnTransferToken} from "../mocks/weird/FeeOnTransferToken.sol";
import {NoReturnToken} from "../mocks/weird/NoReturnToken.sol";
import {RebasingToken} from "../mocks/weird/RebasingToken.sol";
import {ReentrantToken} from "../mocks/weird/ReentrantToken.sol";
import {ReturnsFalseToken} from "../mocks/weird/ReturnsFalseToken.sol";
import {RevertingToken} from "../mocks/weird/RevertingToken.sol";
import {AttackBase} from "./AttackBase.sol";

/// @notice Weird ERC-20s: fee-on-transfer, missing return values, false returns, re-entrant
/// hooks, rebasing balances and blocklists. The owner's token list is the first defence; these
/// tests show what the escrow itself guarantees if such a token is listed anyway.
contract TokensAttackTest is AttackBase {
    address internal payerB = makeAddr("payerB");
    uint256 internal keyB = 0xB0B;

    function setUp() public override {
        super.setUp();
        vm.prank(payer);
        escrow.registerSigner(signer);
    }

    function fundIn(address token, address who, uint256 amount) internal {
        mintTo(token, who, amount);
        approveFrom(token, who, address(escrow), amount);
        vm.prank(who);
        escrow.deposit(token, amount);
    }

    /// @dev Mints a license paid in `token` (to `holder`) and has `payer` accept it.
    function licenseIn(address token, address holder, bytes32 manifest) internal returns (uint256 id) {
        id = mintLicense(holder, termsIn(token), manifest);
        accept(payer, id);
    }

    /*//////////////////////////////////////////////////////////////
                            FEE ON TRANSFER
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_DepositOfFeeOnTransferToken() public {
        FeeOnTransferToken fot = new FeeOnTransferToken(100); // 1 %
        allowToken(address(fot));
        fot.mint(payer, 1000e18);
        vm.startPrank(payer);
        fot.approve(address(escrow), 1000e18);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_TransferAmountMismatch.selector, address(fot), 1000e18, 990e18
            )
        );
        escrow.deposit(address(fot), 1000e18);
        vm.stopPrank();
        assertEq(fot.balanceOf(payer), 1000e18);
        assertEq(fot.balanceOf(address(escrow)), 0);
        assertEq(escrow.availableBalance(payer, address(fot)), 0);
    }

    /// A token whose fee is switched on after deposits (USDT has such a dormant parameter): the
    /// escrow's books stay exact (it is debited what it sends), the recipient gets less, and new
    /// deposits are refused.
    function test_FeeOnTransfer_FeeSwitchedOnLaterShortsRecipientsNotEscrow() public {
        FeeOnTransferToken fot = new FeeOnTransferToken(0);
        allowToken(address(fot));
        fundIn(address(fot), payer, 1000e18);
        vm.prank(payer);
        escrow.requestWithdrawal(address(fot), 1000e18);
        fot.setFee(100);

        fot.mint(payerB, 10e18);
        approveFrom(address(fot), payerB, address(escrow), 10e18);
        vm.prank(payerB);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.TrainingEscrow_TransferAmountMismatch.selector, address(fot), 10e18, 9.9e18
            )
        );
        escrow.deposit(address(fot), 10e18);

        vm.warp(block.timestamp + NOTICE);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(fot), payer), 1000e18);
        assertEq(fot.balanceOf(payer), 990e18);
        assertEq(fot.balanceOf(address(escrow)), 0);
        assertConserved(address(fot), list2(payer, payerB), list1(relayer));
    }

    /*//////////////////////////////////////////////////////////////
                         NO RETURN (USDT STYLE)
    //////////////////////////////////////////////////////////////*/

    function test_NoReturnToken_DepositClaimWithdrawWork() public {
        NoReturnToken nrt = new NoReturnToken();
        allowToken(address(nrt));
        uint256 id = licenseIn(address(nrt), creator, keccak256("m-nrt"));
        fundIn(address(nrt), payer, BUDGET);
        topUpLine(payer, relayer, address(nrt), 1000 * PRICE);
        assertEq(nrt.balanceOf(address(escrow)), BUDGET + 1000 * PRICE);

        Escrow.Receipt memory r = receipt(payer, id, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatchIn(address(nrt), signerKey, payer, single(r), 1000 * PRICE);
        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(nrt.balanceOf(creator), payout);

        vm.prank(payer);
        escrow.requestWithdrawal(address(nrt), uint128(BUDGET));
        vm.warp(block.timestamp + NOTICE);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(nrt), payer), BUDGET);
        assertEq(nrt.balanceOf(payer), BUDGET);

        escrow.sweepFees(payer, relayer, address(nrt));
        vm.prank(owner);
        assertEq(escrow.withdrawFees(address(nrt), owner), fee);
        assertEq(nrt.balanceOf(owner), fee);
        assertEq(nrt.balanceOf(address(escrow)), 0);
    }

    /*//////////////////////////////////////////////////////////////
                             RETURNS FALSE
    //////////////////////////////////////////////////////////////*/

    function test_RevertWhen_ReturnsFalseTokenFails() public {
        ReturnsFalseToken rft = new ReturnsFalseToken();
        allowToken(address(rft));
        uint256 id = licenseIn(address(rft), creator, keccak256("m-rft"));

        // Deposit without allowance: transferFrom returns false instead of reverting.
        rft.mint(payer, BUDGET);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(rft)));
        escrow.deposit(address(rft), BUDGET);
        assertEq(escrow.availableBalance(payer, address(rft)), 0);

        vm.prank(payer);
        rft.approve(address(escrow), BUDGET);
        vm.prank(payer);
        escrow.deposit(address(rft), BUDGET);
        topUpLine(payer, relayer, address(rft), 1000 * PRICE);

        Escrow.Receipt memory r = receipt(payer, id, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatchIn(address(rft), signerKey, payer, single(r), 1000 * PRICE);
        vm.prank(payer);
        escrow.requestWithdrawal(address(rft), uint128(BUDGET));
        vm.warp(block.timestamp + NOTICE);

        // While transfers return false, payouts and withdrawals revert and change nothing.
        rft.setFailing(true);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(rft)));
        escrow.claim(root, claims);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(SafeERC20.SafeERC20FailedOperation.selector, address(rft)));
        escrow.withdraw(address(rft), payer);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 0);
        assertEq(lineIn(payer, relayer, address(rft)).reserved, 1000 * PRICE);
        assertEq(escrow.pendingWithdrawal(payer, address(rft)).amount, BUDGET);
        assertEq(rft.balanceOf(address(escrow)), BUDGET + 1000 * PRICE);

        rft.setFailing(false);
        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(rft), payer), BUDGET);
        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(rft.balanceOf(creator), payout);
        assertEq(rft.balanceOf(address(escrow)), fee);
        assertEq(lineIn(payer, relayer, address(rft)).fees, fee);
    }

    /*//////////////////////////////////////////////////////////////
                               RE-ENTRANCY
    //////////////////////////////////////////////////////////////*/

    ReentrantToken internal ret;
    uint256 internal retLicense;

    function setUpReentrant()
        internal
        returns (bytes32 root, Escrow.Claim[] memory claims, Escrow.Receipt memory r)
    {
        ret = new ReentrantToken();
        allowToken(address(ret));
        retLicense = licenseIn(address(ret), creator, keccak256("m-ret"));
        fundIn(address(ret), payer, BUDGET);
        topUpLine(payer, relayer, address(ret), 2000 * PRICE);
        r = receipt(payer, retLicense, RUN, 1000);
        (root, claims) = commitBatchIn(address(ret), signerKey, payer, single(r), 2000 * PRICE);
    }

    function assertBlockedByGuard() internal view {
        assertTrue(ret.attempted(), "hook did not fire");
        assertFalse(ret.reentrySucceeded());
        assertEq(
            ret.reentryReturnData(),
            abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector)
        );
    }

    /// The payout transfer of a claim re-enters `claim` with the same leaves (a double-pay
    /// attempt). The re-entry reverts; the outer claim pays once.
    function test_Reentrancy_ClaimIntoClaim_SwallowedPaysOnce() public {
        (bytes32 root, Escrow.Claim[] memory claims, Escrow.Receipt memory r) = setUpReentrant();
        ret.arm(address(escrow), abi.encodeCall(ITrainingEscrow.claim, (root, claims)), false);
        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        assertBlockedByGuard();

        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(ret.balanceOf(creator), payout);
        assertEq(lineIn(payer, relayer, address(ret)).fees, fee);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 1000);
        assertEq(lineIn(payer, relayer, address(ret)).reserved, 1000 * PRICE);
        assertConserved(address(ret), list1(payer));
    }

    /// Same, with the token bubbling the failure: the whole claim reverts and nothing moves.
    function test_Reentrancy_ClaimIntoClaim_BubbledRevertsAll() public {
        (bytes32 root, Escrow.Claim[] memory claims, Escrow.Receipt memory r) = setUpReentrant();
        ret.arm(address(escrow), abi.encodeCall(ITrainingEscrow.claim, (root, claims)), true);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        escrow.claim(root, claims);
        assertEq(ret.balanceOf(creator), 0);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 0);
        assertEq(lineIn(payer, relayer, address(ret)).reserved, 2000 * PRICE);
    }

    /// A withdrawal's transfer re-enters `withdraw` and then, cross-function, `claim`.
    function test_Reentrancy_WithdrawIntoWithdrawOrClaim_Blocked() public {
        (bytes32 root, Escrow.Claim[] memory claims, Escrow.Receipt memory r) = setUpReentrant();
        vm.prank(payer);
        escrow.requestWithdrawal(address(ret), 1000);
        vm.warp(block.timestamp + NOTICE);

        ret.arm(address(escrow), abi.encodeCall(ITrainingEscrow.withdraw, (address(ret), payer)), false);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(ret), payer), 1000);
        assertBlockedByGuard();
        assertEq(ret.balanceOf(payer), 1000);

        vm.prank(payer);
        escrow.requestWithdrawal(address(ret), 1000);
        vm.warp(block.timestamp + NOTICE);
        ret.arm(address(escrow), abi.encodeCall(ITrainingEscrow.claim, (root, claims)), false);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(ret), payer), 1000);
        assertBlockedByGuard();
        assertEq(ret.balanceOf(payer), 2000);
        assertEq(escrow.settledSamples(escrow.usageKey(r)), 0);
        assertEq(escrow.availableBalance(payer, address(ret)), BUDGET - 2000);
        assertConserved(address(ret), list1(payer));
    }

    /// A direct settlement's payout re-enters `settleDirect` with the same receipt.
    function test_Reentrancy_SettleDirectIntoSettleDirect_Blocked() public {
        setUpReentrant();
        Escrow.Receipt memory r2 = receipt(payer, retLicense, RUN_2, 300);
        bytes memory sig = sign(signerKey, r2);
        ret.arm(address(escrow), abi.encodeCall(ITrainingEscrow.settleDirect, (r2, sig)), false);
        assertEq(escrow.settleDirect(r2, sig), 300 * PRICE);
        assertBlockedByGuard();
        (, uint256 payout) = split(300 * PRICE, FEE_BPS);
        assertEq(ret.balanceOf(creator), payout);
        assertEq(escrow.availableBalance(payer, address(ret)), BUDGET - 300 * PRICE);
    }

    /// A deposit's transferFrom re-enters `deposit` (to be credited twice for one transfer) and
    /// `depositFor`.
    function test_Reentrancy_DepositIntoDeposit_Blocked() public {
        setUpReentrant();
        ret.mint(payer, 500);
        approveFrom(address(ret), payer, address(escrow), 500);
        ret.arm(address(escrow), abi.encodeCall(ITrainingEscrow.deposit, (address(ret), 500)), false);
        vm.prank(payer);
        escrow.deposit(address(ret), 500);
        assertBlockedByGuard();
        assertEq(escrow.availableBalance(payer, address(ret)), BUDGET + 500);

        ret.mint(payer, 500);
        approveFrom(address(ret), payer, address(escrow), 500);
        ret.arm(address(escrow), abi.encodeCall(ITrainingEscrow.depositFor, (payer, address(ret), 500)), true);
        vm.prank(payer);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        escrow.deposit(address(ret), 500);
        assertEq(escrow.availableBalance(payer, address(ret)), BUDGET + 500);
        assertEq(ret.balanceOf(payer), 500);
    }

    /// A claim's payout re-enters `withdraw` (cross-function) while the payer's request is due.
    function test_Reentrancy_ClaimIntoWithdraw_Blocked() public {
        (bytes32 root, Escrow.Claim[] memory claims,) = setUpReentrant();
        vm.prank(payer);
        escrow.requestWithdrawal(address(ret), 1000);
        vm.warp(block.timestamp + NOTICE);
        ret.arm(address(escrow), abi.encodeCall(ITrainingEscrow.withdraw, (address(ret), payer)), false);
        escrow.claim(root, claims);
        assertBlockedByGuard();
        assertEq(escrow.pendingWithdrawal(payer, address(ret)).amount, 1000);
        assertEq(ret.balanceOf(payer), 0);
    }

    /// `release` and `sweepFees` have no guard (they make no external call); re-entering them
    /// from a payout is allowed and harmless: the re-entry releases another relayer's expired line
    /// back to its credit and sweeps the line being paid from, and the books stay exact.
    function test_Reentrancy_ClaimIntoReleaseAndSweep_AllowedAndHarmless() public {
        ret = new ReentrantToken();
        allowToken(address(ret));
        retLicense = licenseIn(address(ret), creator, keccak256("m-ret"));
        fundIn(address(ret), payer, BUDGET);
        address other = makeAddr("other-relayer");
        topUpLine(payer, other, address(ret), 777);
        topUpLine(payer, relayer, address(ret), 1000 * PRICE);
        bytes32 oldRoot = keccak256("old-root");
        commitAs(other, oldRoot, reserveOf(payer, address(ret), 777));

        vm.warp(block.timestamp + 1 days);
        Escrow.Receipt memory r = receipt(payer, retLicense, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatchIn(address(ret), signerKey, payer, single(r), 1000 * PRICE);
        vm.warp(escrow.reservation(oldRoot, payer, address(ret)).expiresAt);

        ret.arm(address(escrow), abi.encodeCall(ITrainingEscrow.release, (payer, other, address(ret))), true);
        assertEq(escrow.claim(root, claims), 1000 * PRICE);
        assertTrue(ret.attempted());
        assertTrue(ret.reentrySucceeded());
        assertEq(lineIn(payer, other, address(ret)).reserved, 0);
        assertEq(lineIn(payer, other, address(ret)).credit, 777);
        assertEq(lineIn(payer, relayer, address(ret)).reserved, 0);
        assertEq(escrow.availableBalance(payer, address(ret)), BUDGET);
        (uint256 fee, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(ret.balanceOf(creator), payout);
        assertConserved(address(ret), list1(payer), list2(relayer, other));

        // Re-entering `sweepFees` of the line the claim pays from, during its payout.
        Escrow.Receipt memory r2 = receipt(payer, retLicense, RUN, 2000);
        topUpLine(payer, relayer, address(ret), 1000 * PRICE);
        (bytes32 root2, Escrow.Claim[] memory claims2) =
            commitBatchIn(address(ret), signerKey, payer, single(r2), 1000 * PRICE);
        ret.arm(
            address(escrow), abi.encodeCall(ITrainingEscrow.sweepFees, (payer, relayer, address(ret))), true
        );
        assertEq(escrow.claim(root2, claims2), 1000 * PRICE);
        assertTrue(ret.reentrySucceeded());
        assertEq(lineIn(payer, relayer, address(ret)).fees, 0);
        assertEq(escrow.accruedFees(address(ret)), 2 * fee);
        assertConserved(address(ret), list1(payer), list2(relayer, other));
    }

    /*//////////////////////////////////////////////////////////////
                               REBASING
    //////////////////////////////////////////////////////////////*/

    /// Rebasing tokens must not be listed: the escrow books nominal amounts, so a negative
    /// rebase leaves it short (the conservation check detects it) and the last payer out cannot
    /// withdraw. The default token list refuses them; this shows why.
    function test_Rebasing_NegativeRebaseDetectedAndLastPayerStuck() public {
        RebasingToken reb = new RebasingToken();
        reb.mint(payer, 100e18);
        approveFrom(address(reb), payer, address(escrow), 100e18);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_TokenNotAllowed.selector, address(reb)));
        escrow.deposit(address(reb), 100e18);

        allowToken(address(reb)); // an owner mistake
        vm.prank(payer);
        escrow.deposit(address(reb), 100e18);
        fundIn(address(reb), payerB, 100e18);
        assertConserved(address(reb), list2(payer, payerB), list1(relayer));

        reb.rebase(0.9e18); // -10 %
        uint256 owed = liabilities(address(reb), list2(payer, payerB), list1(relayer));
        assertEq(owed, 200e18);
        assertEq(reb.balanceOf(address(escrow)), 180e18);
        assertLt(reb.balanceOf(address(escrow)), owed);

        vm.prank(payer);
        escrow.requestWithdrawal(address(reb), 100e18);
        vm.prank(payerB);
        escrow.requestWithdrawal(address(reb), 100e18);
        vm.warp(block.timestamp + NOTICE);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(reb), payer), 100e18);
        vm.prank(payerB);
        vm.expectRevert(bytes("REB: balance"));
        escrow.withdraw(address(reb), payerB);
        assertEq(escrow.availableBalance(payerB, address(reb)), 100e18);
    }

    /// A positive rebase leaves a surplus no one can take: it is not in anyone's balance.
    function test_Rebasing_PositiveRebaseSurplusIsStuck() public {
        RebasingToken reb = new RebasingToken();
        allowToken(address(reb));
        fundIn(address(reb), payer, 100e18);
        reb.rebase(1.5e18);
        assertEq(reb.balanceOf(address(escrow)), 150e18);
        assertEq(liabilities(address(reb), list1(payer), list1(relayer)), 100e18);

        vm.prank(payer);
        escrow.requestWithdrawal(address(reb), type(uint128).max);
        vm.warp(block.timestamp + NOTICE);
        vm.prank(payer);
        assertEq(escrow.withdraw(address(reb), payer), 100e18);
        vm.prank(owner);
        assertEq(escrow.withdrawFees(address(reb), owner), 0);
        // The surplus (up to a wei of the token's share rounding) stays in the escrow for good.
        assertApproxEqAbs(reb.balanceOf(address(escrow)), 50e18, 1);
        assertEq(escrow.availableBalance(payer, address(reb)), 0);
    }

    /*//////////////////////////////////////////////////////////////
                               BLOCKLIST
    //////////////////////////////////////////////////////////////*/

    /// A payee blocklisted by the token cannot receive, which blocks its own claims only: other
    /// payees' claims go through (in separate calls, or in a batch without the blocked leaf), and
    /// the blocked payee can still be paid by moving the license to an address it can receive at.
    function test_Blocklist_BlockedPayeeBlocksOnlyItsOwnClaims() public {
        RevertingToken bl = new RevertingToken();
        allowToken(address(bl));
        address creator2 = makeAddr("creator2");
        uint256 id1 = licenseIn(address(bl), creator, keccak256("m-bl-1"));
        uint256 id2 = licenseIn(address(bl), creator2, keccak256("m-bl-2"));
        fundIn(address(bl), payer, BUDGET);
        topUpLine(payer, relayer, address(bl), 2000 * PRICE);
        Escrow.Receipt memory r1 = receipt(payer, id1, RUN, 1000);
        Escrow.Receipt memory r2 = receipt(payer, id2, RUN, 1000);
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatchIn(address(bl), signerKey, payer, pair(r1, r2), 2000 * PRICE);

        bl.setBlocked(creator, true);
        vm.expectRevert(abi.encodeWithSelector(RevertingToken.Blocked.selector, creator));
        escrow.claim(root, claims);
        vm.expectRevert(abi.encodeWithSelector(RevertingToken.Blocked.selector, creator));
        escrow.claim(root, one(claims[0]));

        assertEq(escrow.claim(root, one(claims[1])), 1000 * PRICE);
        (, uint256 payout) = split(1000 * PRICE, FEE_BPS);
        assertEq(bl.balanceOf(creator2), payout);

        address fresh = makeAddr("creator-fresh");
        vm.prank(creator);
        nft.transferFrom(creator, fresh, id1);
        assertEq(escrow.claim(root, claims), 1000 * PRICE); // leaf 2 skipped, leaf 1 pays
        assertEq(bl.balanceOf(fresh), payout);
        assertEq(lineIn(payer, relayer, address(bl)).reserved, 0);
    }

    /// A blocklisted payer picks another destination for its withdrawal.
    function test_Blocklist_BlockedPayerWithdrawsElsewhere() public {
        RevertingToken bl = new RevertingToken();
        allowToken(address(bl));
        fundIn(address(bl), payer, 1000);
        vm.prank(payer);
        escrow.requestWithdrawal(address(bl), 1000);
        vm.warp(block.timestamp + NOTICE);
        bl.setBlocked(payer, true);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(RevertingToken.Blocked.selector, payer));
        escrow.withdraw(address(bl), payer);
        address cold = makeAddr("cold-wallet");
        vm.prank(payer);
        assertEq(escrow.withdraw(address(bl), cold), 1000);
        assertEq(bl.balanceOf(cold), 1000);
        assertEq(bl.balanceOf(address(escrow)), 0);
    }
}
