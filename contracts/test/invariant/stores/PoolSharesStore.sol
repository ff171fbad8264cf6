// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Ghost state of the pool-shares invariant campaign, written by {PoolSharesHandler}: an
/// independent model of what each account earned, kept without reading the pool's accounting.
///
/// The rule modelled: income the pool received belongs to the accounts that held shares when it
/// was booked, and it is booked at every distribution and before every share transfer. So at each
/// booking point the pending income `A` adds `A × shares(a)` to each account's numerator; an
/// account has earned `numerator(a) / totalSupply` units.
contract PoolSharesStore {
    /// @notice Σ income sent to the pool.
    uint256 public income;
    /// @notice Income sent to the pool since the last booking point.
    uint256 public pending;
    /// @notice Booking points (distributions and share transfers) that booked some income.
    uint256 public bookings;
    /// @notice Distributions that followed a share movement.
    uint256 public distributionsAfterMoves;
    /// @notice Whether shares moved since the last distribution.
    bool public movedSinceDistribution;

    /// @notice Σ over booking points of (income booked × shares held then).
    mapping(address account => uint256) public numerator;
    /// @notice Shares held, as the model tracks them from the transfers it made.
    mapping(address account => uint256) public shares;

    mapping(bytes32 => uint256) internal _calls;

    function count(string calldata action) external {
        ++_calls[keccak256(bytes(action))];
    }

    function callsOf(string calldata action) external view returns (uint256) {
        return _calls[keccak256(bytes(action))];
    }

    function setShares(address account, uint256 amount) external {
        shares[account] = amount;
    }

    function addIncome(uint256 amount) external {
        income += amount;
        pending += amount;
    }

    /// @notice Books the pending income to the accounts, pro rata to the shares they hold now.
    function book(address[] calldata accounts) external {
        uint256 amount = pending;
        if (amount == 0) return;
        for (uint256 i; i < accounts.length; ++i) {
            numerator[accounts[i]] += amount * shares[accounts[i]];
        }
        pending = 0;
        ++bookings;
    }

    function moved() external {
        movedSinceDistribution = true;
    }

    function distributed() external {
        if (movedSinceDistribution) ++distributionsAfterMoves;
        movedSinceDistribution = false;
    }
}
