// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice WETH9-style token: no `permit` and no `nonces`, but a payable fallback that accepts any
/// call without reverting (WETH9's fallback deposits the sent ether). A `permit` call to it
/// "succeeds" and does nothing, so a contract that treats a non-reverting permit as proof of the
/// owner's consent can be made to spend the owner's standing allowance with a junk signature
/// (the "phantom permit").
contract WethLikeToken is ERC20 {
    constructor() ERC20("Wrapped Ether", "WETH") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    fallback() external payable {}

    receive() external payable {}
}
