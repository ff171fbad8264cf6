// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {StdInvariant} from "forge-std/StdInvariant.sol";
import {Test} from "forge-std/Test.sol";
import {console2} from "forge-std/console2.sol";

import {RevenuePool} from "../../src/RevenuePool.sol";
import {Pools} from "../../src/types/PoolTypes.sol";
import {MockERC20} from "../mocks/MockERC20.sol";
import {PoolSharesHandler} from "./handlers/PoolSharesHandler.sol";
import {PoolSharesStore} from "./stores/PoolSharesStore.sol";

/// @notice A {RevenuePool} whose shares move between every distribution, fuzzed through
/// {PoolSharesHandler}: each account is paid exactly the income booked while it held shares, and
/// no unit is lost or created. contracts/test/invariant/README.md states the invariants in words.
contract StreamsPoolSharesInvariantTest is Test {
    /// @dev The total supply divides the pool's precision (1e36), so the accumulator never
    /// rounds and the model is exact to the unit.
    uint256 internal constant SUPPLY = 1e18;

    RevenuePool internal pool;
    MockERC20 internal token;
    PoolSharesStore internal store;
    PoolSharesHandler internal handler;
    address[] internal accounts;

    function setUp() public {
        token = new MockERC20("USD6", "USD6", 6);
        for (uint256 i; i < 3; ++i) {
            accounts.push(makeAddr(string.concat("member", vm.toString(i))));
        }
        for (uint256 i; i < 3; ++i) {
            accounts.push(makeAddr(string.concat("outsider", vm.toString(i))));
        }
        Pools.Config memory c;
        c.name = "Shares";
        c.symbol = "SH";
        c.members = new address[](3);
        c.shares = new uint256[](3);
        // Odd holdings, so that every distribution leaves fractions of a unit in the accounts.
        c.shares[0] = 333_333_333_333_333_333;
        c.shares[1] = 333_333_333_333_333_333;
        c.shares[2] = SUPPLY - 2 * 333_333_333_333_333_333;
        c.tokens = new address[](1);
        c.tokens[0] = address(token);
        c.transferable = true;
        store = new PoolSharesStore();
        for (uint256 i; i < 3; ++i) {
            c.members[i] = accounts[i];
            store.setShares(accounts[i], c.shares[i]);
        }
        pool = new RevenuePool(c);
        handler = new PoolSharesHandler(pool, token, store, accounts);

        bytes4[] memory selectors = new bytes4[](6);
        selectors[0] = PoolSharesHandler.income.selector;
        selectors[1] = PoolSharesHandler.transferShares.selector;
        selectors[2] = PoolSharesHandler.distribute.selector;
        selectors[3] = PoolSharesHandler.claim.selector;
        selectors[4] = PoolSharesHandler.flashBorrow.selector;
        selectors[5] = PoolSharesHandler.income.selector; // income twice as likely
        targetContract(address(handler));
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @dev PS1: each account's claimed (its token balance: accounts receive tokens only from the
    /// pool) plus claimable equals exactly the income booked while it held shares, by the model.
    function invariant_PS1_PaidExactlyWhatWasEarnedWhileHolding() external view {
        for (uint256 i; i < accounts.length; ++i) {
            address a = accounts[i];
            assertEq(
                token.balanceOf(a) + pool.claimable(a, address(token)),
                store.numerator(a) / SUPPLY,
                "claimed + claimable != income earned while holding"
            );
            assertEq(pool.balanceOf(a), store.shares(a), "shares differ from the model");
        }
    }

    /// @dev PS2: no unit lost or created: the pool holds the income not yet paid out; of that,
    /// the income received since the last booking is undistributed, and the rest covers every
    /// account's claimable amount, less than one unit per account being fractions kept.
    function invariant_PS2_NoUnitLostOrCreated() external view {
        uint256 paid;
        uint256 claimable;
        for (uint256 i; i < accounts.length; ++i) {
            paid += token.balanceOf(accounts[i]);
            claimable += pool.claimable(accounts[i], address(token));
        }
        uint256 balance = token.balanceOf(address(pool));
        assertEq(balance, store.income() - paid, "pool balance != income - paid out");
        assertEq(pool.undistributed(address(token)), store.pending(), "undistributed != income not booked");
        uint256 booked = balance - store.pending();
        assertGe(booked, claimable, "pool owes more than it holds");
        assertLt(booked - claimable, accounts.length, "more than a unit per account unaccounted for");
    }

    function afterInvariant() external view {
        string[5] memory actions = ["income", "transferShares", "distribute", "claim", "flashBorrow"];
        for (uint256 i; i < actions.length; ++i) {
            console2.log(
                actions[i], store.callsOf(actions[i]), store.callsOf(string.concat(actions[i], ".skip"))
            );
        }
        console2.log(
            "bookings", store.bookings(), "distributions after moves", store.distributionsAfterMoves()
        );
    }

    /// @dev Drives every action in a fixed order (income, a transfer to an outsider, a flash loan
    /// with income pending, distributions, claims by third parties), then checks both invariants.
    function test_Handler_ReachesEveryAction() external {
        handler.income(1e9);
        handler.transferShares(0, 3, 1e17);
        handler.income(7e8 + 3);
        handler.flashBorrow(1, 4, 2e17);
        handler.distribute(2, 5, 5e16, 1);
        handler.claim(3, 0);
        handler.claim(0, 4);
        handler.income(12_345);
        handler.distribute(5, 0, 1, 2);
        handler.claim(5, 5);
        string[5] memory actions = ["income", "transferShares", "distribute", "claim", "flashBorrow"];
        for (uint256 i; i < actions.length; ++i) {
            assertGt(store.callsOf(actions[i]), 0, actions[i]);
        }
        assertGt(token.balanceOf(accounts[3]), 0, "outsider paid for its holding time");
        assertEq(token.balanceOf(accounts[4]), 0, "flash borrower paid nothing");
        assertGt(store.distributionsAfterMoves(), 0);
        this.invariant_PS1_PaidExactlyWhatWasEarnedWhileHolding();
        this.invariant_PS2_NoUnitLostOrCreated();
    }
}
