// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Vm} from "forge-std/Vm.sol";

import {Errors} from "../../src/libraries/Errors.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {Base} from "../utils/Base.t.sol";

/// @notice Helpers shared by the LicenseNFT unit and fuzz tests: request builders, terms
/// comparison, log counting and a strict base64 decoder to read `tokenURI` back.
abstract contract LicenseNFTBase is Base {
    bytes32 internal constant MANIFEST = keccak256("manifest-1");
    bytes32 internal constant MANIFEST_2 = keccak256("manifest-2");
    uint96 internal constant ROYALTY_BPS = 500;
    uint96 internal constant MAX_BPS = 5000;
    string internal constant URI_PREFIX = "data:application/json;base64,";

    /*//////////////////////////////////////////////////////////////
                                 BUILDERS
    //////////////////////////////////////////////////////////////*/

    function request(License.Terms memory t, bytes32 manifestHash, uint96 royaltyBps)
        internal
        pure
        returns (License.MintRequest memory)
    {
        return License.MintRequest({terms: t, manifestHash: manifestHash, royaltyBps: royaltyBps});
    }

    function mintAs(address who, License.Terms memory t, bytes32 manifestHash, uint96 royaltyBps)
        internal
        returns (uint256 id)
    {
        vm.prank(who);
        id = nft.mint(request(t, manifestHash, royaltyBps));
    }

    /// @dev Key of a creator's manifest in LicenseNFT's exclusivity bookkeeping.
    function manifestKey(address who, bytes32 manifestHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(who, manifestHash));
    }

    /// @dev Expects `ManifestHasOtherLicenses`: `creator` already has `count` licenses of
    /// `MANIFEST`, so it cannot license it exclusively.
    function expectOtherLicenses(uint256 count) internal {
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.LicenseNFT_ManifestHasOtherLicenses.selector, manifestKey(creator, MANIFEST), count
            )
        );
    }

    /// @dev Research-only terms (no commercial use) in `usdc`.
    function researchTerms() internal view returns (License.Terms memory t) {
        t = defaultTerms();
        t.kind = License.Kind.ResearchOnly;
        t.commercialUse = false;
        t.uri = "ipfs://terms/research-v1";
    }

    /// @dev The default commercial terms, exclusive to `licensee` until `expiresAt` (0: forever).
    function exclusiveTerms(address licensee, uint40 expiresAt)
        internal
        view
        returns (License.Terms memory t)
    {
        t = defaultTerms();
        t.exclusiveLicensee = licensee;
        t.expiresAt = expiresAt;
    }

    function batchOf(License.MintRequest memory r) internal pure returns (License.MintRequest[] memory list) {
        list = new License.MintRequest[](1);
        list[0] = r;
    }

    /*//////////////////////////////////////////////////////////////
                                ASSERTIONS
    //////////////////////////////////////////////////////////////*/

    function assertTermsEq(License.Terms memory a, License.Terms memory b) internal pure {
        assertEq(uint8(a.kind), uint8(b.kind), "kind");
        assertEq(a.paymentToken, b.paymentToken, "paymentToken");
        assertEq(a.pricePerSample, b.pricePerSample, "pricePerSample");
        assertEq(uint8(a.unit), uint8(b.unit), "unit");
        assertEq(a.maxSamples, b.maxSamples, "maxSamples");
        assertEq(a.expiresAt, b.expiresAt, "expiresAt");
        assertEq(a.commercialUse, b.commercialUse, "commercialUse");
        assertEq(a.attributionRequired, b.attributionRequired, "attributionRequired");
        assertEq(uint8(a.derivatives), uint8(b.derivatives), "derivatives");
        assertEq(a.exclusiveLicensee, b.exclusiveLicensee, "exclusiveLicensee");
        assertEq(a.uri, b.uri, "uri");
    }

    function countLogs(Vm.Log[] memory logs, address emitter, bytes32 topic0)
        internal
        pure
        returns (uint256 n)
    {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == emitter && logs[i].topics.length > 0 && logs[i].topics[0] == topic0) ++n;
        }
    }

    /*//////////////////////////////////////////////////////////////
                                 METADATA
    //////////////////////////////////////////////////////////////*/

    /// @dev The decoded JSON of `tokenURI(id)`; fails if the prefix is not the base64 JSON data URI
    /// or the payload is not valid base64.
    function metadataOf(uint256 id) internal view returns (string memory) {
        bytes memory uri = bytes(nft.tokenURI(id));
        bytes memory prefix = bytes(URI_PREFIX);
        require(uri.length >= prefix.length, "tokenURI shorter than prefix");
        for (uint256 i; i < prefix.length; ++i) {
            require(uri[i] == prefix[i], "tokenURI prefix");
        }
        bytes memory payload = new bytes(uri.length - prefix.length);
        for (uint256 i; i < payload.length; ++i) {
            payload[i] = uri[prefix.length + i];
        }
        return string(decodeBase64(string(payload)));
    }

    /// @dev Strict RFC 4648 base64 decoding (standard alphabet, mandatory padding).
    function decodeBase64(string memory encoded) internal pure returns (bytes memory out) {
        bytes memory data = bytes(encoded);
        require(data.length % 4 == 0, "base64: length");
        if (data.length == 0) return out;
        uint256 padding;
        if (data[data.length - 1] == "=") ++padding;
        if (data[data.length - 2] == "=") ++padding;
        out = new bytes(data.length / 4 * 3 - padding);
        uint256 o;
        for (uint256 i; i < data.length; i += 4) {
            uint256 chunk;
            for (uint256 j; j < 4; ++j) {
                bytes1 c = data[i + j];
                uint256 value;
                if (c == "=") {
                    // Only allowed as the last one or two characters of the input.
                    require(i + 4 == data.length && j >= 4 - padding, "base64: padding");
                } else {
                    value = _base64Value(c);
                }
                chunk = (chunk << 6) | value;
            }
            for (uint256 k; k < 3 && o < out.length; ++k) {
                out[o++] = bytes1(uint8(chunk >> (16 - 8 * k)));
            }
        }
    }

    function _base64Value(bytes1 c) private pure returns (uint256) {
        uint8 b = uint8(c);
        if (b >= 0x41 && b <= 0x5a) return b - 0x41; // A-Z
        if (b >= 0x61 && b <= 0x7a) return b - 0x61 + 26; // a-z
        if (b >= 0x30 && b <= 0x39) return b - 0x30 + 52; // 0-9
        if (b == 0x2b) return 62; // +
        if (b == 0x2f) return 63; // /
        revert("base64: character");
    }
}
