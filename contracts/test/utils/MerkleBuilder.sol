// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/// @notice Builds sorted-pair Merkle trees (OpenZeppelin MerkleProof compatible) in tests.
/// Layout: leaves in the given order; an odd node at the end of a level is carried up unchanged.
library MerkleBuilder {
    /// @notice Root of `leaves` (which must not be empty).
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            level = _next(level);
        }
        return level[0];
    }

    /// @notice Proof of `leaves[index]`.
    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory path) {
        bytes32[] memory scratch = new bytes32[](256);
        uint256 depth;
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) scratch[depth++] = level[sibling];
            level = _next(level);
            index /= 2;
        }
        path = new bytes32[](depth);
        for (uint256 i; i < depth; ++i) {
            path[i] = scratch[i];
        }
    }

    function _next(bytes32[] memory level) private pure returns (bytes32[] memory up) {
        up = new bytes32[]((level.length + 1) / 2);
        for (uint256 i; i < up.length; ++i) {
            uint256 left = 2 * i;
            up[i] = left + 1 < level.length
                ? Hashes.commutativeKeccak256(level[left], level[left + 1])
                : level[left];
        }
    }
}
