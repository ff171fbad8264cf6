// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What the hand-written weird tokens (no OpenZeppelin ERC20 underneath) share: the
/// allowance bookkeeping, the two ERC-20 events, and `_approve` for their own `approve`.
abstract contract HandWrittenToken {
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// @dev Sets the caller's allowance for `spender` to `amount` and emits {Approval}.
    function _approve(address spender, uint256 amount) internal {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
    }
}
