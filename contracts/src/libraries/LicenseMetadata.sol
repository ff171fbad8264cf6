// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {License} from "../types/LicenseTypes.sol";

/// @title LicenseMetadata
/// @notice Renders a license as ERC-721 metadata JSON in a base64 `data:` URI.
library LicenseMetadata {
    using Strings for uint256;
    using Strings for address;

    /// @notice The `tokenURI` of a license.
    function tokenURI(
        uint256 licenseId,
        License.Record memory record,
        License.Terms memory t,
        address collection
    ) internal pure returns (string memory) {
        string memory json = string.concat(
            '{"name":"Fairtrain License #',
            licenseId.toString(),
            '","description":"',
            _description(t),
            '","external_url":"',
            Strings.escapeJSON(t.uri),
            '","attributes":[',
            _attributes(record, t),
            '],"properties":',
            _properties(licenseId, record, t, collection),
            "}"
        );
        return string.concat("data:application/json;base64,", Base64.encode(bytes(json)));
    }

    /// @notice Human-readable name of a license kind.
    function kindName(License.Kind kind) internal pure returns (string memory) {
        if (kind == License.Kind.ResearchOnly) return "Research only";
        if (kind == License.Kind.Commercial) return "Commercial";
        if (kind == License.Kind.Evaluation) return "Evaluation";
        if (kind == License.Kind.AttributionShareAlike) return "Attribution share-alike";
        return "Custom";
    }

    /// @notice The noun of one unit of use, singular and plural.
    function unitNoun(License.Unit unit) internal pure returns (string memory one, string memory many) {
        if (unit == License.Unit.Access) return ("access", "accesses");
        if (unit == License.Unit.Inference) return ("inference", "inferences");
        return ("sample", "samples");
    }

    /// @notice How usage of a unit is paid, for the description.
    function _paidPer(License.Unit unit) private pure returns (string memory) {
        if (unit == License.Unit.Access) return "per access to the dataset's files through a gateway";
        if (unit == License.Unit.Inference) return "per inference of a model trained on it";
        return "per training sample";
    }

    /// @notice Human-readable name of a derivatives rule.
    function derivativesName(License.Derivatives rule) internal pure returns (string memory) {
        if (rule == License.Derivatives.NotAllowed) return "Not allowed";
        if (rule == License.Derivatives.Allowed) return "Allowed";
        return "Share-alike";
    }

    function _description(License.Terms memory t) private pure returns (string memory) {
        return string.concat(
            kindName(t.kind),
            " license for AI training. Usage is paid ",
            _paidPer(t.unit),
            " through the Fairtrain escrow",
            " to whoever holds this token."
        );
    }

    function _attributes(License.Record memory record, License.Terms memory t)
        private
        pure
        returns (string memory)
    {
        return string.concat(
            _trait("Kind", kindName(t.kind)),
            ",",
            _usageTraits(t),
            ",",
            _trait("Commercial use", t.commercialUse ? "Yes" : "No"),
            ",",
            _trait("Attribution required", t.attributionRequired ? "Yes" : "No"),
            ",",
            _trait("Derivatives", derivativesName(t.derivatives)),
            ",",
            _trait("Exclusive", t.exclusiveLicensee != address(0) ? "Yes" : "No"),
            ",",
            _dateTrait("Expires", t.expiresAt),
            ",",
            _numberTrait("Terms version", uint256(record.version)),
            ",",
            _numberTrait("Royalty (bps)", uint256(record.royaltyBps))
        );
    }

    /// @dev The unit, the price of one and the cap ("Price per sample", "Max accesses", ...).
    function _usageTraits(License.Terms memory t) private pure returns (string memory) {
        (string memory one, string memory many) = unitNoun(t.unit);
        return string.concat(
            _trait("Unit", one),
            ",",
            _numberTrait(string.concat("Price per ", one), uint256(t.pricePerSample)),
            ",",
            _numberTrait(string.concat("Max ", many), uint256(t.maxSamples))
        );
    }

    function _properties(
        uint256 licenseId,
        License.Record memory record,
        License.Terms memory t,
        address collection
    ) private pure returns (string memory) {
        return string.concat(
            '{"collection":"',
            collection.toHexString(),
            '","license_id":"',
            licenseId.toString(),
            '","terms_id":"',
            uint256(record.termsId).toString(),
            '","terms_hash":"',
            uint256(keccak256(abi.encode(t))).toHexString(32),
            '","manifest_hash":"',
            uint256(record.manifestHash).toHexString(32),
            '","creator":"',
            record.creator.toHexString(),
            '","payment_token":"',
            t.paymentToken.toHexString(),
            '","price_per_sample":"',
            uint256(t.pricePerSample).toString(),
            '","unit":"',
            _unitName(t.unit),
            '","exclusive_licensee":"',
            t.exclusiveLicensee.toHexString(),
            '","expires_at":"',
            uint256(t.expiresAt).toString(),
            '","minted_at":"',
            uint256(record.mintedAt).toString(),
            '"}'
        );
    }

    function _unitName(License.Unit unit) private pure returns (string memory one) {
        (one,) = unitNoun(unit);
    }

    function _trait(string memory name, string memory value) private pure returns (string memory) {
        return string.concat('{"trait_type":"', name, '","value":"', value, '"}');
    }

    function _numberTrait(string memory name, uint256 value) private pure returns (string memory) {
        return
            string.concat(
                '{"trait_type":"', name, '","display_type":"number","value":', value.toString(), "}"
            );
    }

    function _dateTrait(string memory name, uint40 value) private pure returns (string memory) {
        if (value == 0) return _trait(name, "Never");
        return string.concat(
            '{"trait_type":"', name, '","display_type":"date","value":', uint256(value).toString(), "}"
        );
    }
}
