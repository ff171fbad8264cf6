// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {HandWrittenToken} from "./HandWrittenToken.sol";

/// @notice USDT-style token: `transfer`, `transferFrom` and `approve` return nothing (and revert on
/// failure). Calling it through the plain IERC20 interface would fail to decode the missing return
/// value; SafeERC20 handles it.
contract NoReturnToken is HandWrittenToken {
    string public constant name = "No Return USD";
    string public constant symbol = "NRT";
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external {
        _approve(spender, amount);
    }

    function transfer(address to, uint256 amount) external {
        _move(msg.sender, to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= amount, "NRT: allowance");
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
    }

    function _move(address from, address to, uint256 amount) private {
        require(balanceOf[from] >= amount, "NRT: balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
