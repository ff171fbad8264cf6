// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {StreamsBase} from "../utils/StreamsBase.t.sol";

/// @notice Fuzz tests of {RoyaltyStreams}: holder changes interleaved with withdrawals pay every
/// holder exactly the accrual of its holding time; insolvency and top-ups; exact refunds.
contract RoyaltyStreamsFuzzTest is StreamsBase {
    address[4] internal holders;

    function setUp() public override {
        super.setUp();
        holders = [creator, buyer, collector, anyone];
    }

    /// @dev Each step waits 0 .. 2000 s, then transfers the license, withdraws, settles, or
    /// withdraws the owed balances. At the end every holder has received (paid + owed) exactly
    /// floor(rate × (b − t0) / 1e18) − floor(rate × (a − t0) / 1e18) summed over its holdings
    /// [a, b), and together exactly what streamed.
    function testFuzz_TransfersInterleavedWithWithdrawals(uint128 rate, uint256 seed, uint8 steps) public {
        rate = uint128(bound(rate, 1, 1e24));
        steps = uint8(bound(steps, 1, 40));
        usd6.mint(payer, type(uint128).max / 2);
        uint256 id = openStream(rate, type(uint128).max / 4);
        uint256 t0 = block.timestamp;

        uint256[4] memory expected;
        uint256 current; // index of the current holder
        uint256 since = t0;
        for (uint256 i; i < steps; ++i) {
            seed = uint256(keccak256(abi.encode(seed, i)));
            vm.warp(block.timestamp + seed % 2001);
            uint256 action = (seed >> 16) % 4;
            if (action == 0) {
                uint256 next = (current + 1 + (seed >> 32) % 3) % 4;
                expected[current] += accrued(rate, since - t0, block.timestamp - t0);
                since = block.timestamp;
                transferLicense(holders[current], holders[next]);
                current = next;
            } else if (action == 1) {
                streams.withdraw(id);
            } else if (action == 2) {
                streams.settle(id);
            } else {
                streams.withdrawOwed(holders[(seed >> 32) % 4], address(usd6));
            }
        }
        vm.warp(block.timestamp + 1);
        expected[current] += accrued(rate, since - t0, block.timestamp - t0);
        streams.withdraw(id);

        uint256 sum;
        for (uint256 h; h < 4; ++h) {
            uint256 got = usd6.balanceOf(holders[h]) + streams.owedTo(holders[h], address(usd6));
            assertEq(got, expected[h], "holder paid its holding time exactly");
            sum += got;
        }
        assertEq(sum, accrued(rate, 0, block.timestamp - t0), "sum paid == total streamed");
        assertEq(
            usd6.balanceOf(address(streams)),
            streams.getStream(id).balance + _owedSum(),
            "balance == stream balance + owed"
        );
    }

    /// @dev A stream funded for part of the time, topped up later, with the license changing
    /// hands in between: holders are paid in time order up to the funding, never more than was
    /// deposited, and what is credited plus the stream's balance is exactly what was deposited.
    function testFuzz_InsolvencyAndTopUp(uint128 rate, uint128 first, uint128 topUp, uint32 t1, uint32 t2)
        public
    {
        rate = uint128(bound(rate, 1e12, 1e24));
        first = uint128(bound(first, 0, 1e12));
        topUp = uint128(bound(topUp, 1, 1e12));
        t1 = uint32(bound(t1, 1, 30 days));
        t2 = uint32(bound(t2, 1, 30 days));
        usd6.mint(payer, 2e12);
        uint256 id = openStream(rate, first);
        uint256 t0 = block.timestamp;
        vm.warp(t0 + t1);
        streams.withdraw(id);
        transferLicense(creator, buyer);
        vm.warp(t0 + t1 + t2);
        vm.prank(payer);
        streams.deposit(id, topUp);
        streams.withdraw(id);

        uint256 toCreator = usd6.balanceOf(creator) + streams.owedTo(creator, address(usd6));
        uint256 toBuyer = usd6.balanceOf(buyer) + streams.owedTo(buyer, address(usd6));
        uint256 deposited = uint256(first) + topUp;
        uint256 total = accrued(rate, 0, t1 + t2);
        assertEq(toCreator + toBuyer + streams.getStream(id).balance, deposited, "every unit in one place");
        assertLe(toCreator, accrued(rate, 0, t1), "creator paid at most its holding time");
        assertLe(toBuyer, accrued(rate, t1, t1 + t2), "buyer paid at most its holding time");
        if (deposited >= total) {
            assertEq(toCreator, accrued(rate, 0, t1), "funded: creator exact");
            assertEq(toBuyer, accrued(rate, t1, t1 + t2), "funded: buyer exact");
        } else {
            // Chronological: the buyer is paid only once the creator's time is covered.
            if (toBuyer != 0) assertEq(toCreator, accrued(rate, 0, t1));
            assertEq(streams.uncoveredDebtOf(id), total - deposited);
        }
    }

    /// @dev Cancel returns exactly the deposit less the accrual (rounded up for the holder).
    function testFuzz_CancelRefundExact(uint128 rate, uint128 amount, uint32 elapsed) public {
        rate = uint128(bound(rate, 1, 1e24));
        amount = uint128(bound(amount, 0, 1e12));
        elapsed = uint32(bound(elapsed, 0, 365 days));
        usd6.mint(payer, 1e12);
        uint256 id = openStream(rate, amount);
        vm.warp(block.timestamp + elapsed);
        uint256 streamed = uint256(rate) * elapsed / 1e18;
        bool fraction = (uint256(rate) * elapsed) % 1e18 != 0;
        uint256 before = usd6.balanceOf(payer);
        uint256 preview = streams.refundableAmountOf(id);
        vm.prank(payer);
        uint128 refunded = streams.cancel(id);
        assertEq(refunded, preview, "preview matches");
        assertEq(usd6.balanceOf(payer) - before, refunded);
        uint256 toHolder = usd6.balanceOf(creator) + streams.owedTo(creator, address(usd6));
        assertEq(toHolder + refunded, amount, "deposit = paid + refunded");
        if (streamed + (fraction ? 1 : 0) <= amount) {
            assertEq(toHolder, streamed + (fraction ? 1 : 0), "holder gets the accrual, rounded up");
        } else {
            assertEq(refunded, 0, "insolvent: nothing to refund");
        }
        assertEq(streams.getStream(id).balance, 0);
    }

    function _owedSum() private view returns (uint256 sum) {
        for (uint256 h; h < 4; ++h) {
            sum += streams.owedTo(holders[h], address(usd6));
        }
    }
}
