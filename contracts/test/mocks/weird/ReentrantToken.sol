// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice ERC-777-like token with a transfer hook: once armed, the next `transfer` or
/// `transferFrom` calls `target` with `payload` (e.g. `claim`, `withdraw`, `settleDirect`,
/// `deposit` on the escrow) in the middle of the outer operation. It records what the re-entry
/// returned; with `bubble` set, a failed re-entry makes the whole transfer revert with the same
/// data, otherwise the failure is swallowed and the outer operation goes on.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public payload;
    bool public bubble;

    bool public attempted;
    bool public reentrySucceeded;
    bytes public reentryReturnData;

    constructor() ERC20("Reentrant", "RE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms the hook for the next transfer (fires once).
    function arm(address target_, bytes calldata payload_, bool bubble_) external {
        target = target_;
        payload = payload_;
        bubble = bubble_;
        attempted = false;
        reentrySucceeded = false;
        delete reentryReturnData;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address callee = target;
        if (callee == address(0) || from == address(0) || to == address(0)) return;
        target = address(0); // fire once, and never recursively
        (bool ok, bytes memory ret) = callee.call(payload);
        attempted = true;
        reentrySucceeded = ok;
        reentryReturnData = ret;
        if (!ok && bubble) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
