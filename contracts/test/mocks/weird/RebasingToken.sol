// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {HandWrittenToken} from "./HandWrittenToken.sol";

/// @notice Elastic-supply token (stETH / AMPL style): balances are shares times a global index, so
/// every holder's balance changes on `rebase` without any transfer. Transfers move exact amounts
/// while the index is 1.
contract RebasingToken is HandWrittenToken {
    string public constant name = "Rebasing";
    string public constant symbol = "REB";
    uint8 public constant decimals = 18;
    uint256 private constant _ONE = 1e18;

    uint256 public index = _ONE;
    uint256 public totalShares;
    mapping(address => uint256) public sharesOf;

    /// @notice Multiplies every balance by `newIndex / 1e18`.
    function rebase(uint256 newIndex) external {
        index = newIndex;
    }

    function balanceOf(address account) public view returns (uint256) {
        return sharesOf[account] * index / _ONE;
    }

    function totalSupply() external view returns (uint256) {
        return totalShares * index / _ONE;
    }

    function mint(address to, uint256 amount) external {
        uint256 shares = amount * _ONE / index;
        totalShares += shares;
        sharesOf[to] += shares;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        _approve(spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= amount, "REB: allowance");
        allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        uint256 shares = amount * _ONE / index;
        require(sharesOf[from] >= shares, "REB: balance");
        sharesOf[from] -= shares;
        sharesOf[to] += shares;
        emit Transfer(from, to, amount);
    }
}
