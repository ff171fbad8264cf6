// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";

import {LicenseNFT} from "../../../src/LicenseNFT.sol";
import {RevenuePool} from "../../../src/RevenuePool.sol";
import {RoyaltyStreams} from "../../../src/RoyaltyStreams.sol";
import {Streams} from "../../../src/types/StreamTypes.sol";
import {MockERC20} from "../../mocks/MockERC20.sol";
import {StreamsStore} from "../stores/StreamsStore.sol";

/// @notice Stateful fuzzing handler of {RoyaltyStreams} and {RevenuePool}. Two licenses (both
/// with streams enabled): L0 moves between three people; L1 is held by a pool whose shares move
/// between its three members. Every action is bounded so that it cannot revert
/// (`fail_on_revert = true`); states where an action cannot succeed are skipped. The model of each
/// stream (rate × active seconds) and of each pool member's earnings (income seen arriving at the
/// pool, booked pro rata to the shares at each distribution and share transfer) is kept in
/// {StreamsStore} without reading the contracts' accounting or return values.
contract StreamsHandler is Test {
    uint256 internal constant MAX_STREAMS = 12;
    uint256 internal constant MAX_DEPOSIT = 1e12;

    RoyaltyStreams public immutable streams;
    LicenseNFT public immutable nft;
    RevenuePool public immutable pool;
    MockERC20 public immutable token;
    StreamsStore public immutable store;
    address public immutable payer;
    address public immutable operator;
    address[3] internal _people;
    address[3] internal _members;
    uint256[2] internal _licenses;
    // Holder of L0 (index into _people).
    uint256 internal _holder0;

    /// @notice The contracts and cast the handler drives.
    struct World {
        RoyaltyStreams streams;
        LicenseNFT nft;
        RevenuePool pool;
        MockERC20 token;
        StreamsStore store;
        address payer;
        address operator;
        address[3] people;
        address[3] members;
        uint256[2] licenses;
    }

    constructor(World memory w) {
        streams = w.streams;
        nft = w.nft;
        pool = w.pool;
        token = w.token;
        store = w.store;
        payer = w.payer;
        operator = w.operator;
        _people = w.people;
        _members = w.members;
        _licenses = w.licenses;
        w.store.setTimestamp(block.timestamp);
        for (uint256 i; i < 3; ++i) {
            w.store.setPoolShares(w.members[i], w.pool.balanceOf(w.members[i]));
        }
    }

    modifier useTime() {
        vm.warp(store.currentTimestamp());
        _;
    }

    /// @dev Records as pool income what reached the pool during a stream payout (the pool only
    /// receives in those actions).
    modifier observePool() {
        uint256 before = token.balanceOf(address(pool));
        _;
        store.addPoolIncome(token.balanceOf(address(pool)) - before);
    }

    function people() external view returns (address[3] memory) {
        return _people;
    }

    function members() external view returns (address[3] memory) {
        return _members;
    }

    /*//////////////////////////////////////////////////////////////
                                STREAMS
    //////////////////////////////////////////////////////////////*/

    function create(uint256 licenseSeed, uint128 rate, uint128 amount, uint32 startIn, uint32 duration)
        external
        useTime
    {
        if (store.streamCount() == MAX_STREAMS) return _skip("create");
        rate = uint128(bound(rate, 1, 1e22));
        amount = uint128(bound(amount, 0, MAX_DEPOSIT));
        uint256 start = block.timestamp + bound(startIn, 0, 1 days) * (startIn % 3 == 0 ? 1 : 0);
        uint256 end = duration % 2 == 0 ? 0 : start + bound(duration, 1, 30 days);
        token.mint(payer, amount);
        vm.prank(payer);
        uint256 id = streams.create(
            Streams.CreateParams({
                licenseId: _licenses[licenseSeed % 2],
                token: address(token),
                ratePerSecond: rate,
                startTime: uint40(start == block.timestamp ? 0 : start),
                endTime: uint40(end),
                operator: operator,
                deposit: amount
            })
        );
        store.push(
            StreamsStore.StreamGhost({
                id: id,
                rate: rate,
                start: start,
                end: end == 0 ? type(uint40).max : end,
                paused: false,
                pausedByOperator: false,
                cancelled: false,
                modelUpTo: block.timestamp,
                modelScaled: 0,
                reanchors: 0,
                deposited: amount,
                refunded: 0,
                withdrawn: 0
            })
        );
        store.addDeposited(amount);
        store.count("create");
    }

    function deposit(uint256 seed, uint128 amount) external useTime {
        (bool ok, uint256 i, StreamsStore.StreamGhost memory g) = _pick(seed, false);
        if (!ok) return _skip("deposit");
        amount = uint128(bound(amount, 1, MAX_DEPOSIT));
        token.mint(payer, amount);
        vm.prank(payer);
        streams.deposit(g.id, amount);
        g.deposited += amount;
        store.setStream(i, g);
        store.addDeposited(amount);
        store.count("deposit");
    }

    function withdraw(uint256 seed) external useTime observePool {
        (bool ok, uint256 i, StreamsStore.StreamGhost memory g) = _pick(seed, true);
        if (!ok) return _skip("withdraw");
        uint256 paid = streams.withdraw(g.id);
        g.withdrawn += paid;
        store.setStream(i, g);
        store.addPaid(paid);
        store.count("withdraw");
    }

    function withdrawMultiple(uint256 seed) external useTime observePool {
        uint256 n = store.streamCount();
        if (n == 0) return _skip("withdrawMultiple");
        uint256[] memory ids = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            ids[i] = store.streamAt((seed % n + i) % n).id;
        }
        uint256 paid = streams.withdrawMultiple(ids);
        store.addPaid(paid);
        store.count("withdrawMultiple");
    }

    function settle(uint256 seed) external useTime {
        (bool ok,, StreamsStore.StreamGhost memory g) = _pick(seed, true);
        if (!ok) return _skip("settle");
        streams.settle(g.id);
        store.count("settle");
    }

    function withdrawOwed(uint256 seed) external useTime observePool {
        address[7] memory accounts = _accounts();
        uint256 paid = streams.withdrawOwed(accounts[seed % 7], address(token));
        store.addPaid(paid);
        store.count("withdrawOwed");
    }

    function pause(uint256 seed) external useTime {
        (bool ok, uint256 i, StreamsStore.StreamGhost memory g) = _pick(seed, false);
        if (!ok || g.paused) return _skip("pause");
        _settleFully(g.id);
        _advance(g);
        bool byOperator = seed % 2 == 1;
        vm.prank(byOperator ? operator : payer);
        streams.pause(g.id);
        g.paused = true;
        g.pausedByOperator = byOperator;
        ++g.reanchors;
        store.setStream(i, g);
        store.count("pause");
    }

    function restart(uint256 seed, uint128 rate) external useTime {
        (bool ok, uint256 i, StreamsStore.StreamGhost memory g) = _pick(seed, false);
        if (!ok || !g.paused || g.end <= block.timestamp || streams.uncoveredDebtOf(g.id) != 0) {
            return _skip("restart");
        }
        _settleFully(g.id);
        _advance(g);
        // The operator restarts its own pause, at the rate of the pause; the payer at any rate.
        if (g.pausedByOperator && rate % 2 == 1) {
            vm.prank(operator);
            streams.restart(g.id, uint128(g.rate));
        } else {
            rate = uint128(bound(rate, 1, 1e22));
            vm.prank(payer);
            streams.restart(g.id, rate);
            g.rate = rate;
        }
        g.paused = false;
        g.pausedByOperator = false;
        if (g.start < block.timestamp) g.start = block.timestamp;
        store.setStream(i, g);
        store.count("restart");
    }

    function adjustRate(uint256 seed, uint128 rate) external useTime {
        (bool ok, uint256 i, StreamsStore.StreamGhost memory g) = _pick(seed, false);
        if (!ok || g.paused || streams.uncoveredDebtOf(g.id) != 0) return _skip("adjustRate");
        _settleFully(g.id);
        _advance(g);
        rate = uint128(bound(rate, 1, 1e22));
        vm.prank(payer);
        streams.adjustRate(g.id, rate);
        g.rate = rate;
        ++g.reanchors;
        store.setStream(i, g);
        store.count("adjustRate");
    }

    function cancel(uint256 seed) external useTime {
        (bool ok, uint256 i, StreamsStore.StreamGhost memory g) = _pick(seed, false);
        if (!ok) return _skip("cancel");
        _settleFully(g.id);
        _advance(g);
        uint256 before = token.balanceOf(payer);
        vm.prank(payer);
        uint128 refund = streams.cancel(g.id);
        require(token.balanceOf(payer) - before == refund, "cancel: refund transferred exactly");
        g.cancelled = true;
        g.refunded = refund;
        ++g.reanchors;
        store.setStream(i, g);
        store.addRefunded(refund);
        store.count("cancel");
    }

    /// @dev Moves L0 to another of the three people.
    function transferLicense(uint256 seed) external useTime {
        uint256 next = (_holder0 + 1 + seed % 2) % 3;
        vm.prank(_people[_holder0]);
        nft.transferFrom(_people[_holder0], _people[next], _licenses[0]);
        _holder0 = next;
        store.count("transferLicense");
    }

    function warp(uint256 seconds_) external useTime {
        uint256 t = block.timestamp + bound(seconds_, 1, 3 days);
        vm.warp(t);
        store.setTimestamp(t);
        store.count("warp");
    }

    /*//////////////////////////////////////////////////////////////
                                  POOL
    //////////////////////////////////////////////////////////////*/

    function distribute() external useTime {
        store.bookPoolIncome(_members);
        pool.distribute(address(token));
        store.count("distribute");
    }

    function claim(uint256 seed) external useTime {
        pool.claim(_members[seed % 3], address(token));
        store.count("claim");
    }

    /// @dev A share transfer books the pool's pending income to the holders before it.
    function transferShares(uint256 seed, uint256 amount) external useTime {
        address from = _members[seed % 3];
        address to = _members[(seed / 3) % 3];
        amount = bound(amount, 0, store.poolShares(from));
        store.bookPoolIncome(_members);
        vm.prank(from);
        pool.transfer(to, amount);
        store.setPoolShares(from, store.poolShares(from) - amount);
        store.setPoolShares(to, store.poolShares(to) + amount);
        store.count("transferShares");
    }

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev Every account that can be owed by the streams contract: L0's people, the pool.
    function _accounts() internal view returns (address[7] memory a) {
        a = [_people[0], _people[1], _people[2], address(pool), _members[0], _members[1], _members[2]];
    }

    function accounts() external view returns (address[7] memory) {
        return _accounts();
    }

    /// @dev A stream by seed; with `any`, cancelled ones too.
    function _pick(uint256 seed, bool any)
        internal
        view
        returns (bool ok, uint256 i, StreamsStore.StreamGhost memory g)
    {
        uint256 n = store.streamCount();
        for (uint256 k; k < n; ++k) {
            i = (seed % n + k) % n;
            g = store.streamAt(i);
            if (any || !g.cancelled) return (true, i, g);
        }
    }

    /// @dev Brings the model of `g` up to now (before its state changes).
    function _advance(StreamsStore.StreamGhost memory g) internal view {
        g.modelScaled = modelNow(g);
        g.modelUpTo = block.timestamp;
    }

    /// @notice Model accrual of `g` up to now: rate × seconds it was active, not paused or
    /// cancelled, in [start, end).
    function modelNow(StreamsStore.StreamGhost memory g) public view returns (uint256) {
        if (g.paused || g.cancelled) return g.modelScaled;
        uint256 a = g.modelUpTo > g.start ? g.modelUpTo : g.start;
        uint256 b = block.timestamp < g.end ? block.timestamp : g.end;
        return b > a ? g.modelScaled + g.rate * (b - a) : g.modelScaled;
    }

    /// @dev Pages through a long holder history (payer operations need a full settlement).
    function _settleFully(uint256 id) internal {
        while (!streams.settle(id)) {}
    }

    function _skip(string memory action) internal {
        store.count(string.concat(action, ".skip"));
    }
}
