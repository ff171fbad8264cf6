// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice A token whose `permit` checks the owner's signature but uses no nonce (the signed
/// message binds owner, spender, value and deadline only), so a permit can be replayed; `nonces`
/// exists and always answers 0. A contract cannot tell from such a permit that the owner just
/// consented to this call.
contract NoncelessPermitToken is ERC20 {
    bytes32 public constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 deadline)");

    constructor() ERC20("Nonceless Permit", "NPT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice What the owner signs (a plain hash, no domain: a test token).
    function permitDigest(address owner, address spender, uint256 value, uint256 deadline)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, deadline));
    }

    function permit(
        address owner,
        address spender,
        uint256 value,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        require(block.timestamp <= deadline, "NPT: expired");
        require(
            ECDSA.recover(permitDigest(owner, spender, value, deadline), v, r, s) == owner,
            "NPT: bad signature"
        );
        _approve(owner, spender, value);
    }

    function nonces(address) external pure returns (uint256) {
        return 0;
    }
}
