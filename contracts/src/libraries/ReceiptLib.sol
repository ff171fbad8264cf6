// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Escrow} from "../types/EscrowTypes.sol";

/// @title ReceiptLib
/// @notice Hashing of usage receipts: the EIP-712 struct hash, the usage key and the Merkle leaf.
/// docs/protocol.md specifies each byte so that other clients can reproduce them.
library ReceiptLib {
    /// @notice EIP-712 type hash of {Escrow.Receipt}.
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256(
        "Receipt(address payer,uint256 licenseId,uint64 termsId,bytes32 runId,uint64 cumulativeSamples,uint64 issuedAt)"
    );

    /// @notice EIP-712 `hashStruct` of a receipt.
    function structHash(Escrow.Receipt calldata r) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RECEIPT_TYPEHASH, r.payer, r.licenseId, r.termsId, r.runId, r.cumulativeSamples, r.issuedAt
            )
        );
    }

    /// @notice The key under which cumulative usage is settled: one per (payer, license, terms
    /// version, run).
    function usageKey(Escrow.Receipt calldata r) internal pure returns (bytes32) {
        return keccak256(abi.encode(r.payer, r.licenseId, r.termsId, r.runId));
    }

    /// @notice Merkle leaf of a receipt given its EIP-712 digest: double-hashed, as an
    /// OpenZeppelin StandardMerkleTree leaf of type ["bytes32"] holding the digest. Double hashing
    /// keeps a leaf from ever equalling an inner node (second-preimage safety).
    function leaf(bytes32 digest) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(digest))));
    }

    /// @notice Key of a reservation: one per (batch root, payer, token).
    function reservationKey(bytes32 root, address payer, address token) internal pure returns (bytes32) {
        return keccak256(abi.encode(root, payer, token));
    }

    /// @notice Key of an acceptance: one per (payer, license, terms version).
    function acceptanceKey(address payer, uint256 licenseId, uint64 termsId) internal pure returns (bytes32) {
        return keccak256(abi.encode(payer, licenseId, termsId));
    }
}
