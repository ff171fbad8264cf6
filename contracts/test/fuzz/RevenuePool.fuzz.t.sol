// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {RevenuePool} from "../../src/RevenuePool.sol";
import {Pools} from "../../src/types/PoolTypes.sol";
import {StreamsBase} from "../utils/StreamsBase.t.sol";

/// @notice Fuzz tests of {RevenuePool}: payments and share transfers in any order pay each
/// holder its exact pro-rata part (to the unit, rounded down) and never more than was received.
contract RevenuePoolFuzzTest is StreamsBase {
    address[3] internal members;

    function setUp() public override {
        super.setUp();
        members = [makeAddr("m0"), makeAddr("m1"), makeAddr("m2")];
    }

    function testFuzz_PaymentsAndTransfers(uint256[3] memory shares, uint256 seed, uint8 steps) public {
        Pools.Config memory c;
        c.name = "S";
        c.symbol = "S";
        c.members = new address[](3);
        c.shares = new uint256[](3);
        c.tokens = new address[](1);
        c.tokens[0] = address(usd6);
        c.transferable = true;
        for (uint256 i; i < 3; ++i) {
            c.members[i] = members[i];
            c.shares[i] = bound(shares[i], 1, 1e30);
        }
        RevenuePool pool = factory.createPool(c);
        uint256 supply = pool.totalSupply();
        steps = uint8(bound(steps, 1, 30));

        // Exact model: each member's entitlement, scaled by the supply (numerator of a fraction).
        uint256[3] memory entitledTimesSupply;
        uint256 received;
        for (uint256 i; i < steps; ++i) {
            seed = uint256(keccak256(abi.encode(seed, i)));
            if (seed % 3 == 0) {
                uint256 from = (seed >> 8) % 3;
                uint256 to = (seed >> 16) % 3;
                uint256 amount = (seed >> 24) % (pool.balanceOf(members[from]) + 1);
                vm.prank(members[from]);
                pool.transfer(members[to], amount);
            } else if (seed % 3 == 1) {
                uint256 amount = (seed >> 8) % 1e9;
                usd6.mint(address(pool), amount);
                pool.distribute(address(usd6));
                received += amount;
                for (uint256 m; m < 3; ++m) {
                    entitledTimesSupply[m] += pool.balanceOf(members[m]) * amount;
                }
            } else {
                pool.claim(members[(seed >> 8) % 3], address(usd6));
            }
        }
        uint256 paid;
        for (uint256 m; m < 3; ++m) {
            pool.claim(members[m], address(usd6));
            uint256 got = usd6.balanceOf(members[m]);
            uint256 exact = entitledTimesSupply[m] / supply;
            // The accumulator's carry can hold back at most one unit from a member.
            assertLe(got, exact, "never more than the exact share");
            assertGe(got + 1, exact, "at most one unit short (kept as carry or fraction)");
            paid += got;
        }
        assertLe(paid, received, "pool never pays out more than it received");
        assertEq(pool.tokenState(address(usd6)).paidOut, paid);
        assertEq(usd6.balanceOf(address(pool)), received - paid);
    }
}
