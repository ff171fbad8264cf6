// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";

import {RevenuePool} from "../../../src/RevenuePool.sol";
import {MockERC20} from "../../mocks/MockERC20.sol";
import {PoolSharesStore} from "../stores/PoolSharesStore.sol";

/// @notice Stateful fuzzing handler of one {RevenuePool} whose shares move between every
/// distribution: income arrives, shares move between members and outsiders (plain transfers and
/// flash loans that distribute and claim while they hold the shares), anyone distributes and
/// claims, in any order. Every action is bounded so that it cannot revert
/// (`fail_on_revert = true`). The model in {PoolSharesStore} is written from the income the
/// handler sends and the shares it moves, never from the pool's return values or views.
contract PoolSharesHandler is Test {
    uint256 internal constant MAX_INCOME = 1e15;

    RevenuePool public immutable pool;
    MockERC20 public immutable token;
    PoolSharesStore public immutable store;
    address[] internal _accounts;

    constructor(RevenuePool pool_, MockERC20 token_, PoolSharesStore store_, address[] memory accounts_) {
        pool = pool_;
        token = token_;
        store = store_;
        _accounts = accounts_;
    }

    function accounts() external view returns (address[] memory) {
        return _accounts;
    }

    /// @notice Income arrives (a stream withdrawal, a claim paid to the pool as license holder, a
    /// royalty: all plain transfers).
    function income(uint256 amount) external {
        amount = bound(amount, 1, MAX_INCOME);
        token.mint(address(pool), amount);
        store.addIncome(amount);
        store.count("income");
    }

    /// @notice Any holder moves any part of its shares to any account (members and outsiders).
    function transferShares(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        (bool ok, address from) = _holder(fromSeed);
        if (!ok) return _skip("transferShares");
        _move(from, _account(toSeed), bound(amount, 0, store.shares(from)));
        store.count("transferShares");
    }

    /// @notice Shares move, then anyone distributes: shares move between every distribution.
    function distribute(uint256 fromSeed, uint256 toSeed, uint256 amount, uint256 callerSeed) external {
        (bool ok, address from) = _holder(fromSeed);
        if (ok) _move(from, _account(toSeed), bound(amount, 1, store.shares(from)));
        store.book(_accounts);
        vm.prank(_account(callerSeed));
        pool.distribute(address(token));
        store.distributed();
        store.count("distribute");
    }

    /// @notice Anyone claims for any account.
    function claim(uint256 accountSeed, uint256 callerSeed) external {
        vm.prank(_account(callerSeed));
        pool.claim(_account(accountSeed), address(token));
        store.count("claim");
    }

    /// @notice In one transaction an outsider borrows shares from a holder, distributes, claims
    /// for itself and returns them: it must get nothing of the income received before.
    function flashBorrow(uint256 lenderSeed, uint256 borrowerSeed, uint256 amount) external {
        (bool ok, address lender) = _holder(lenderSeed);
        address borrower = _account(borrowerSeed);
        if (!ok || borrower == lender) return _skip("flashBorrow");
        amount = bound(amount, 1, store.shares(lender));
        _move(lender, borrower, amount);
        store.book(_accounts);
        vm.prank(borrower);
        pool.distribute(address(token));
        store.distributed();
        vm.prank(borrower);
        pool.claim(borrower, address(token));
        _move(borrower, lender, amount);
        store.count("flashBorrow");
    }

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev A share transfer: the model books the pending income to the holders before it, then
    /// moves the shares.
    function _move(address from, address to, uint256 amount) internal {
        store.book(_accounts);
        vm.prank(from);
        pool.transfer(to, amount);
        store.setShares(from, store.shares(from) - amount);
        store.setShares(to, store.shares(to) + amount);
        store.moved();
    }

    function _account(uint256 seed) internal view returns (address) {
        return _accounts[seed % _accounts.length];
    }

    /// @dev The first account from `seed` on that holds shares.
    function _holder(uint256 seed) internal view returns (bool ok, address holder) {
        uint256 n = _accounts.length;
        for (uint256 k; k < n; ++k) {
            holder = _accounts[(seed % n + k) % n];
            if (store.shares(holder) != 0) return (true, holder);
        }
    }

    function _skip(string memory action) internal {
        store.count(string.concat(action, ".skip"));
    }
}
