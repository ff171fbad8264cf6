// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {HandWrittenToken} from "./HandWrittenToken.sol";

/// @notice Token that signals failure by returning `false` instead of reverting (old ZRX / BAT
/// style): on insufficient balance or allowance, or on every transfer while `failing` is set.
contract ReturnsFalseToken is HandWrittenToken {
    string public constant name = "Returns False";
    string public constant symbol = "RFT";
    uint8 public constant decimals = 18;
    uint256 public totalSupply;
    bool public failing;
    mapping(address => uint256) public balanceOf;

    function setFailing(bool failing_) external {
        failing = failing_;
    }

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        _approve(spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        return _move(msg.sender, to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (failing || allowed < amount) return false;
        if (!_move(from, to, amount)) return false;
        allowance[from][msg.sender] = allowed - amount;
        return true;
    }

    function _move(address from, address to, uint256 amount) private returns (bool) {
        if (failing || balanceOf[from] < amount) return false;
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
        return true;
    }
}
