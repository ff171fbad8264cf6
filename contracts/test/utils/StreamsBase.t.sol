// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {RevenuePool} from "../../src/RevenuePool.sol";
import {RevenuePoolFactory} from "../../src/RevenuePoolFactory.sol";
import {RoyaltyStreams} from "../../src/RoyaltyStreams.sol";
import {Pools} from "../../src/types/PoolTypes.sol";
import {Streams} from "../../src/types/StreamTypes.sol";
import {MockERC20} from "../mocks/MockERC20.sol";
import {Base} from "./Base.t.sol";

/// @notice Fixture of the streams and pools tests: the {Base} suite plus {RoyaltyStreams} (set as
/// the license contract's transfer hook) and a {RevenuePoolFactory}; a minted license held by
/// `creator`, who enabled streams to it, and a 6-decimal token funded for `payer`.
abstract contract StreamsBase is Base {
    /// @dev 1 unit of a 6-decimal token per day, as an 18-decimal rate of base units per second:
    /// 11.574074074074074074 base units per second (a rate that is not a whole number).
    uint128 internal constant RATE = uint128(uint256(1e6) * 1e18 / 86_400);
    uint128 internal constant DEPOSIT = 1000e6;

    RoyaltyStreams internal streams;
    RevenuePoolFactory internal factory;
    MockERC20 internal usd6;
    uint256 internal licenseId;

    address internal operator = makeAddr("operator");
    address internal buyer = makeAddr("buyer");
    address internal collector = makeAddr("collector");

    function setUp() public virtual override {
        super.setUp();
        streams = new RoyaltyStreams(nft);
        nft.setTransferHook(streams);
        factory = new RevenuePoolFactory();
        usd6 = new MockERC20("USD Coin 6", "USD6", 6);
        licenseId = mintLicense();
        enableStreams(creator, licenseId);
        usd6.mint(payer, 1_000_000e6);
        vm.prank(payer);
        usd6.approve(address(streams), type(uint256).max);
        vm.label(address(streams), "RoyaltyStreams");
        vm.label(address(usd6), "USD6");
    }

    function params(uint128 rate, uint128 amount) internal view returns (Streams.CreateParams memory p) {
        p = Streams.CreateParams({
            licenseId: licenseId,
            token: address(usd6),
            ratePerSecond: rate,
            startTime: 0,
            endTime: 0,
            operator: operator,
            deposit: amount
        });
    }

    function openStream(uint128 rate, uint128 amount) internal returns (uint256 id) {
        vm.prank(payer);
        id = streams.create(params(rate, amount));
    }

    function openStream() internal returns (uint256) {
        return openStream(RATE, DEPOSIT);
    }

    /// @dev Units accrued between `a` and `b` seconds after a rate's anchor.
    function accrued(uint128 rate, uint256 a, uint256 b) internal pure returns (uint256) {
        return uint256(rate) * b / 1e18 - uint256(rate) * a / 1e18;
    }

    /// @dev The holder `who` lets payers stream to license `id`.
    function enableStreams(address who, uint256 id) internal {
        vm.prank(who);
        streams.enableStreams(id);
    }

    /// @dev A pool config named `name` (`symbol`) with two members, `a` holding `sharesA` and `b`
    /// holding `sharesB`; tokens and the other settings are left to the caller.
    function twoMemberConfig(
        string memory name,
        string memory symbol,
        address a,
        uint256 sharesA,
        address b,
        uint256 sharesB
    ) internal pure returns (Pools.Config memory c) {
        c.name = name;
        c.symbol = symbol;
        c.members = new address[](2);
        c.members[0] = a;
        c.members[1] = b;
        c.shares = new uint256[](2);
        c.shares[0] = sharesA;
        c.shares[1] = sharesB;
    }

    function transferLicense(address from, address to) internal {
        vm.prank(from);
        nft.transferFrom(from, to, licenseId);
    }
}
