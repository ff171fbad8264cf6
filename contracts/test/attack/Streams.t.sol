// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {RevenuePool} from "../../src/RevenuePool.sol";
import {IRevenuePool} from "../../src/interfaces/IRevenuePool.sol";
import {IRoyaltyStreams} from "../../src/interfaces/IRoyaltyStreams.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Pools} from "../../src/types/PoolTypes.sol";
import {Streams} from "../../src/types/StreamTypes.sol";
import {MockERC20} from "../mocks/MockERC20.sol";
import {FeeOnTransferToken} from "../mocks/weird/FeeOnTransferToken.sol";
import {NoReturnToken} from "../mocks/weird/NoReturnToken.sol";
import {ReentrantToken} from "../mocks/weird/ReentrantToken.sol";
import {RevertingToken} from "../mocks/weird/RevertingToken.sol";
import {StreamsBase} from "../utils/StreamsBase.t.sol";

/// @dev Borrows pool shares from a lender for one transaction: takes them, distributes, claims
/// for itself and returns them (a flash loan of shares).
contract ShareFlashBorrower {
    function run(RevenuePool pool, address lender, uint256 shares, address token)
        external
        returns (uint256 claimed)
    {
        pool.transferFrom(lender, address(this), shares);
        pool.distribute(token);
        claimed = pool.claim(address(this), token);
        pool.transfer(lender, shares);
    }
}

/// @dev Borrows pool shares for one transaction and has a stream to the pool's license paid out
/// while it holds them (see `test_PoolShares_FlashBorrowerTriggeringAStreamPayout_KnownWeakness`).
contract StreamPayoutBorrower {
    function run(
        RevenuePool pool,
        IRoyaltyStreams streams,
        uint256 streamId,
        address lender,
        uint256 shares,
        address token
    ) external returns (uint256 claimed) {
        pool.transferFrom(lender, address(this), shares);
        streams.withdraw(streamId);
        pool.distribute(token);
        claimed = pool.claim(address(this), token);
        pool.transfer(lender, shares);
    }
}

/// @notice Attacks on {RoyaltyStreams} and {RevenuePool}, by actor: reentrant and weird tokens,
/// griefing with dust and zero-deposit streams, donations and tiny payments, unauthorized stream
/// control (an operator raising the rate), payouts to the wrong address, blocklisted holders,
/// and sniping a pool's undistributed income by buying or flash-borrowing shares.
contract StreamsAttackTest is StreamsBase {
    address internal attacker = makeAddr("attacker");

    function openIn(address token, uint128 amount, address who) internal returns (uint256 id) {
        (bool ok,) = token.call(abi.encodeWithSignature("mint(address,uint256)", who, amount));
        require(ok, "mint");
        vm.prank(who);
        (ok,) = token.call(abi.encodeWithSignature("approve(address,uint256)", address(streams), amount));
        require(ok, "approve");
        Streams.CreateParams memory p = params(RATE, amount);
        p.token = token;
        vm.prank(who);
        id = streams.create(p);
    }

    /*//////////////////////////////////////////////////////////////
                               TOKENS
    //////////////////////////////////////////////////////////////*/

    /// @dev A token that calls back into the contract during the payout cannot withdraw twice:
    /// every entry point is non-reentrant, and the state is written before the transfer.
    function test_Reentrancy_WithdrawDuringWithdraw() public {
        ReentrantToken ret = new ReentrantToken();
        uint256 id = openIn(address(ret), DEPOSIT, payer);
        vm.warp(block.timestamp + 1 days);
        ret.arm(address(streams), abi.encodeCall(IRoyaltyStreams.withdraw, (id)), false);
        uint256 paid = streams.withdraw(id);
        assertTrue(ret.attempted());
        assertFalse(ret.reentrySucceeded(), "re-entry blocked");
        assertEq(ret.balanceOf(creator), paid);
        assertEq(ret.balanceOf(address(streams)), streams.getStream(id).balance);
    }

    function test_Reentrancy_CancelDuringRefund() public {
        ReentrantToken ret = new ReentrantToken();
        uint256 id = openIn(address(ret), DEPOSIT, payer);
        vm.warp(block.timestamp + 100);
        ret.arm(
            address(streams), abi.encodeCall(IRoyaltyStreams.withdrawOwed, (creator, address(ret))), false
        );
        vm.prank(payer);
        uint128 refunded = streams.cancel(id);
        assertFalse(ret.reentrySucceeded());
        assertEq(ret.balanceOf(payer), refunded);
        assertEq(ret.balanceOf(address(streams)), streams.owedTo(creator, address(ret)));
    }

    function test_Reentrancy_PoolClaim() public {
        ReentrantToken ret = new ReentrantToken();
        RevenuePool pool = _pool(address(ret), 1, 1, true);
        ret.mint(address(pool), 100);
        pool.distribute(address(ret));
        ret.arm(address(pool), abi.encodeCall(IRevenuePool.claim, (creator, address(ret))), false);
        assertEq(pool.claim(creator, address(ret)), 50);
        assertFalse(ret.reentrySucceeded());
        assertEq(ret.balanceOf(creator), 50);
    }

    function test_FeeOnTransfer_Rejected() public {
        FeeOnTransferToken fot = new FeeOnTransferToken(100);
        fot.mint(payer, DEPOSIT);
        vm.prank(payer);
        fot.approve(address(streams), DEPOSIT);
        Streams.CreateParams memory p = params(RATE, DEPOSIT);
        p.token = address(fot);
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.RoyaltyStreams_TransferAmountMismatch.selector,
                address(fot),
                DEPOSIT,
                DEPOSIT * 99 / 100
            )
        );
        streams.create(p);
    }

    function test_NoReturnToken_FullLifecycle() public {
        NoReturnToken nrt = new NoReturnToken();
        uint256 id = openIn(address(nrt), DEPOSIT, payer);
        vm.warp(block.timestamp + 1 days);
        uint256 paid = streams.withdraw(id);
        assertEq(nrt.balanceOf(creator), paid);
        vm.prank(payer);
        uint128 refunded = streams.cancel(id);
        assertEq(nrt.balanceOf(payer), refunded);
        assertEq(paid + refunded + streams.owedTo(creator, address(nrt)), DEPOSIT);
    }

    /// @dev A holder the token blocklists cannot receive; the payer can still cancel (payer
    /// operations never transfer to holders), and the next holder is still paid.
    function test_BlocklistedHolder_BlocksNobodyElse() public {
        RevertingToken blt = new RevertingToken();
        uint256 id = openIn(address(blt), DEPOSIT, payer);
        vm.warp(block.timestamp + 100);
        blt.setBlocked(creator, true);
        vm.expectRevert(abi.encodeWithSelector(RevertingToken.Blocked.selector, creator));
        streams.withdraw(id);
        assertTrue(streams.settle(id), "settlement books the blocked holder's share instead");
        transferLicense(creator, buyer);
        vm.warp(block.timestamp + 100);
        assertEq(streams.withdraw(id), accrued(RATE, 100, 200));
        vm.prank(payer);
        streams.cancel(id);
        assertEq(streams.owedTo(creator, address(blt)), accrued(RATE, 0, 100));
    }

    /*//////////////////////////////////////////////////////////////
                        ANYONE: GRIEFING AND THEFT
    //////////////////////////////////////////////////////////////*/

    /// @dev The griefing attack: an outsider opens a zero-deposit stream (of any token address,
    /// here one that is not even a contract) to someone else's license, or a dust stream of a
    /// token it made up, to make every later transfer of the license record a checkpoint
    /// (≈ +25k gas each, forever). Streams need the holder's consent (`enableStreams`): both
    /// attempts revert, and the license's transfers cost exactly what they cost before.
    function test_ZeroDepositStream_CannotRaiseTransferGasOfAnotherHoldersLicense() public {
        uint256 victim = mintLicense(creator, defaultTerms(), keccak256("victim"));
        uint256 before = _transferRoundTrip(victim);

        Streams.CreateParams memory p = params(1, 0);
        p.licenseId = victim;
        p.token = address(0xdead);
        vm.prank(attacker);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_StreamsNotEnabled.selector, victim));
        streams.create(p);
        MockERC20 junk = new MockERC20("Junk", "J", 18);
        junk.mint(attacker, 1);
        vm.startPrank(attacker);
        junk.approve(address(streams), 1);
        p.token = address(junk);
        p.deposit = 1;
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_StreamsNotEnabled.selector, victim));
        streams.create(p);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_NotHolderOrApproved.selector, victim, attacker)
        );
        streams.enableStreams(victim);
        vm.stopPrank();

        assertEq(_transferRoundTrip(victim), before, "transfer gas unchanged");
        assertEq(streams.holderCheckpointCount(victim), 0, "no checkpoint");
        // What the attack would have cost the holder: the same transfer once streams are enabled
        // (the holder's own choice).
        enableStreams(creator, victim);
        emit log_named_uint("license transfer, streams not enabled", before);
        emit log_named_uint("license transfer, streams enabled", _transferRoundTrip(victim));
    }

    /// @dev Gas of a transfer of license `id` from the creator to the buyer (after a round trip
    /// that creates both accounts' balances), then back.
    function _transferRoundTrip(uint256 id) private returns (uint256 transferGas) {
        vm.prank(creator);
        nft.transferFrom(creator, buyer, id);
        vm.warp(block.timestamp + 1);
        vm.prank(buyer);
        nft.transferFrom(buyer, creator, id);
        vm.warp(block.timestamp + 1);
        vm.prank(creator);
        uint256 g = gasleft();
        nft.transferFrom(creator, buyer, id);
        transferGas = g - gasleft();
        vm.warp(block.timestamp + 1);
        vm.prank(buyer);
        nft.transferFrom(buyer, creator, id);
        vm.warp(block.timestamp + 1);
    }

    /// @dev 1000 dust streams to a license whose holder enabled streams change neither the cost
    /// of transferring it nor the cost of withdrawing another stream: transfers touch no stream
    /// (one checkpoint whatever the number of streams), withdrawals only their own.
    function test_DustStreams_DoNotGriefTransfersOrOtherStreams() public {
        uint256 id = openStream();
        // Steady state: the stream, both holders' balances and ledgers exist.
        vm.warp(block.timestamp + 100);
        transferLicense(creator, buyer);
        vm.warp(block.timestamp + 100);
        transferLicense(buyer, creator);
        vm.warp(block.timestamp + 100);
        streams.withdraw(id);
        vm.warp(block.timestamp + 100);
        (uint256 withdrawBefore, uint256 transferBefore) = _measure(id);

        usd6.mint(attacker, 1000);
        vm.startPrank(attacker);
        usd6.approve(address(streams), 1000);
        for (uint256 i; i < 1000; ++i) {
            streams.create(params(1, 1));
        }
        vm.stopPrank();

        vm.warp(block.timestamp + 100);
        (uint256 withdrawAfter, uint256 transferAfter) = _measure(id);
        assertEq(withdrawAfter, withdrawBefore, "withdraw cost unchanged");
        assertEq(transferAfter, transferBefore, "transfer cost unchanged");
    }

    /// @dev Gas of a withdrawal of `id` by the current holder (creator), then of a transfer of
    /// the license to the buyer and back (the measured transfer is the first).
    function _measure(uint256 id) private returns (uint256 withdrawGas, uint256 transferGas) {
        uint256 g = gasleft();
        streams.withdraw(id);
        withdrawGas = g - gasleft();
        vm.warp(block.timestamp + 1);
        g = gasleft();
        transferLicense(creator, buyer);
        transferGas = g - gasleft();
        vm.warp(block.timestamp + 1);
        transferLicense(buyer, creator);
        vm.warp(block.timestamp + 1);
        streams.withdraw(id);
        vm.warp(block.timestamp + 100);
    }

    /// @dev Anyone may trigger payouts, but the money only goes to the rightful holders.
    function test_Withdraw_ByAttacker_PaysHolderOnly() public {
        uint256 id = openStream();
        vm.warp(block.timestamp + 100);
        transferLicense(creator, buyer);
        vm.warp(block.timestamp + 100);
        vm.startPrank(attacker);
        streams.withdraw(id);
        streams.withdrawOwed(creator, address(usd6));
        streams.withdrawOwed(attacker, address(usd6));
        vm.stopPrank();
        assertEq(usd6.balanceOf(attacker), 0);
        assertEq(usd6.balanceOf(creator), accrued(RATE, 0, 100));
        assertEq(usd6.balanceOf(buyer), accrued(RATE, 100, 200));
    }

    /// @dev The operator may only pause. Exploit (issue 12, item 3): a 1,000-unit deposit to a
    /// stream of 1 unit per day; after a day the operator pauses and restarts at 999 units per
    /// second, and one second later the holder takes everything left, the payer's cancel refunding
    /// nothing. The restart at another rate reverts; the operator's restart keeps the rate, and
    /// the payer keeps its refund.
    function test_Operator_CannotRaiseTheRateThroughPauseAndRestart() public {
        uint256 id = openStream();
        vm.warp(block.timestamp + 1 days);
        vm.prank(operator);
        streams.pause(id);
        uint128 huge = uint128(DEPOSIT - 1e6) * 1e18;
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_OperatorCannotChangeRate.selector, id, RATE, huge)
        );
        streams.restart(id, huge);
        vm.prank(operator);
        streams.restart(id, RATE);
        vm.warp(block.timestamp + 1);
        streams.withdraw(id);
        uint256 toHolder = usd6.balanceOf(creator) + streams.owedTo(creator, address(usd6));
        assertEq(toHolder, accrued(RATE, 0, 1 days) + 1 + accrued(RATE, 0, 1), "a day and a second");
        vm.prank(payer);
        uint128 refunded = streams.cancel(id);
        assertEq(refunded + usd6.balanceOf(creator) + streams.owedTo(creator, address(usd6)), DEPOSIT);
        assertGt(refunded, 998e6, "the payer gets back what did not stream");
    }

    function test_Unauthorized_StreamControl() public {
        uint256 id = openStream();
        vm.startPrank(attacker);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_NotPayerOrOperator.selector, id, attacker)
        );
        streams.pause(id);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_NotPayer.selector, id, attacker));
        streams.adjustRate(id, 1);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_NotPayer.selector, id, attacker));
        streams.cancel(id);
        vm.stopPrank();
        // The holder cannot control the payer's stream either; the operator can only pause.
        vm.prank(creator);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_NotPayer.selector, id, creator));
        streams.cancel(id);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_NotPayer.selector, id, operator));
        streams.cancel(id);
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_NotPayer.selector, id, operator));
        streams.adjustRate(id, RATE * 100);
        // Nor can an outsider enable streams to a license it does not hold.
        uint256 other = mintLicense(creator, defaultTerms(), keccak256("other"));
        vm.prank(attacker);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_NotHolderOrApproved.selector, other, attacker)
        );
        streams.enableStreams(other);
    }

    function test_StreamToNonexistentLicense_Reverts() public {
        Streams.CreateParams memory p = params(RATE, DEPOSIT);
        p.licenseId = nft.totalMinted() + 1;
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_StreamsNotEnabled.selector, p.licenseId));
        streams.create(p);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_UnknownLicense.selector, p.licenseId));
        streams.enableStreams(p.licenseId);
    }

    /// @dev A donation to the streams contract belongs to nobody's ledger and cannot be taken.
    function test_DonationToStreams_CannotBeExtracted() public {
        uint256 id = openStream();
        usd6.mint(address(streams), 1e6);
        vm.warp(block.timestamp + 100);
        streams.withdraw(id);
        vm.prank(payer);
        uint128 refunded = streams.cancel(id);
        assertEq(refunded + usd6.balanceOf(creator) + streams.owedTo(creator, address(usd6)), DEPOSIT);
        assertEq(usd6.balanceOf(address(streams)), 1e6 + streams.owedTo(creator, address(usd6)));
    }

    /*//////////////////////////////////////////////////////////////
                                 POOLS
    //////////////////////////////////////////////////////////////*/

    /// @dev Donations are income for the holders, pro rata; they cannot shift shares.
    function test_PoolDonation_IsJustIncome() public {
        RevenuePool pool = _pool(address(usd6), 3, 1, true);
        usd6.mint(attacker, 400);
        vm.prank(attacker);
        usd6.transfer(address(pool), 400);
        vm.prank(attacker);
        pool.distribute(address(usd6));
        assertEq(pool.claim(creator, address(usd6)), 300);
        assertEq(pool.claim(buyer, address(usd6)), 100);
        assertEq(pool.claim(attacker, address(usd6)), 0);
    }

    /// @dev An attacker pays 1 unit and distributes it, over and over, to make every
    /// distribution round the minority's part to 0. The carry keeps every fraction: after the
    /// majority's normal income the minority has its exact share.
    function test_TinyPayments_CannotZeroOutMinority() public {
        RevenuePool pool = _pool(address(usd6), 999_999, 1, true);
        usd6.mint(attacker, 1000);
        vm.startPrank(attacker);
        for (uint256 i; i < 1000; ++i) {
            usd6.transfer(address(pool), 1);
            pool.distribute(address(usd6));
            pool.claim(buyer, address(usd6)); // forces the minority's settlement every time
        }
        vm.stopPrank();
        usd6.mint(address(pool), 999_000);
        pool.distribute(address(usd6));
        assertEq(pool.claim(buyer, address(usd6)), 1, "1e6 units x 1/1e6 share = exactly 1");
        assertEq(pool.claim(creator, address(usd6)), 999_999);
        assertEq(usd6.balanceOf(address(pool)), 0);
    }

    /// @dev Share moves settle both sides first: buying shares after a distribution does not
    /// capture income distributed before it.
    function test_PoolShares_BuyAfterDistributionGetsNothing() public {
        RevenuePool pool = _pool(address(usd6), 1, 1, true);
        usd6.mint(address(pool), 100);
        pool.distribute(address(usd6));
        vm.prank(creator);
        pool.transfer(attacker, 1);
        assertEq(pool.claim(attacker, address(usd6)), 0);
        assertEq(pool.claim(creator, address(usd6)), 50);
    }

    /// @dev Exploit (issue 12, item 4): income the pool received while the creator held half the
    /// shares is not distributed yet; the attacker buys the creator's shares, distributes and
    /// claims. The share transfer books the pending income to the holders before it first: the
    /// buyer gets nothing of it, the seller all of its half.
    function test_PoolShares_BuyerCannotSnipeUndistributedIncome() public {
        RevenuePool pool = _pool(address(usd6), 1, 1, true);
        usd6.mint(address(pool), 100);
        vm.prank(creator);
        pool.transfer(attacker, 1);
        assertEq(pool.undistributed(address(usd6)), 0, "booked by the transfer");
        vm.startPrank(attacker);
        assertEq(pool.distribute(address(usd6)), 0);
        assertEq(pool.claim(attacker, address(usd6)), 0, "nothing earned before the purchase");
        vm.stopPrank();
        assertEq(pool.claim(creator, address(usd6)), 50);
        assertEq(pool.claim(buyer, address(usd6)), 50);
        // Income received after the purchase is the attacker's.
        usd6.mint(address(pool), 10);
        pool.distribute(address(usd6));
        assertEq(pool.claim(attacker, address(usd6)), 5);
    }

    /// @dev The same with a flash loan of shares: borrow, distribute, claim, return in one
    /// transaction. The borrower gets nothing; the lender keeps its part.
    function test_PoolShares_FlashBorrowerCannotSnipeUndistributedIncome() public {
        RevenuePool pool = _pool(address(usd6), 1, 1, true);
        usd6.mint(address(pool), 100);
        ShareFlashBorrower borrower = new ShareFlashBorrower();
        vm.prank(creator);
        pool.approve(address(borrower), 1);
        vm.prank(attacker);
        assertEq(borrower.run(pool, creator, 1, address(usd6)), 0, "flash borrower paid nothing");
        assertEq(usd6.balanceOf(address(borrower)), 0);
        assertEq(pool.balanceOf(creator), 1, "shares returned");
        assertEq(pool.claim(creator, address(usd6)), 50);
        assertEq(pool.claim(buyer, address(usd6)), 50);
        assertEq(usd6.balanceOf(address(pool)), 0);
    }

    /// @dev Known weakness (docs/threat-model.md, "Streams and pools: limits"): income earned but
    /// not yet paid to the pool is not the pool's yet. A flash-borrower of half the shares who
    /// itself triggers the withdrawal of a day of a stream to a license the pool holds gets half
    /// of that day, earned while the lender held the shares. Sellers and lenders protect
    /// themselves by having the pool's streams withdrawn before lending or selling shares.
    function test_PoolShares_FlashBorrowerTriggeringAStreamPayout_KnownWeakness() public {
        RevenuePool pool = _pool(address(usd6), 1, 1, true);
        uint256 held = mintLicense(creator, defaultTerms(), keccak256("pooled"));
        vm.prank(creator);
        nft.safeTransferFrom(creator, address(pool), held);
        pool.enableStreams(streams, held);
        Streams.CreateParams memory p = params(RATE, DEPOSIT);
        p.licenseId = held;
        vm.prank(payer);
        uint256 id = streams.create(p);
        vm.warp(block.timestamp + 1 days);
        uint256 day = accrued(RATE, 0, 1 days);

        StreamPayoutBorrower borrower = new StreamPayoutBorrower();
        vm.prank(creator);
        pool.approve(address(borrower), 1);
        vm.prank(attacker);
        uint256 got = borrower.run(pool, streams, id, creator, 1, address(usd6));
        assertEq(got, day / 2, "half of a day earned while the lender held the shares");
    }

    /// @dev A token that calls back during a claim's payout cannot move shares then: the payout
    /// is booked as paid but not yet sent, so a share transfer would book it again as income.
    function test_PoolShares_TransferDuringClaimCallbackReverts() public {
        ReentrantToken ret = new ReentrantToken();
        RevenuePool pool = _pool(address(ret), 1, 1, true);
        vm.prank(buyer);
        pool.transfer(address(ret), 1); // the token's callback now holds shares it could move
        ret.mint(address(pool), 100);
        pool.distribute(address(ret));
        ret.arm(address(pool), abi.encodeCall(IERC20.transfer, (attacker, 1)), true);
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        pool.claim(creator, address(ret));
        assertEq(pool.balanceOf(address(ret)), 1);
    }

    function _pool(address token, uint256 a, uint256 b, bool transferable) internal returns (RevenuePool) {
        Pools.Config memory c = twoMemberConfig("P", "P", creator, a, buyer, b);
        c.tokens = new address[](1);
        c.tokens[0] = token;
        c.transferable = transferable;
        return factory.createPool(c);
    }
}
