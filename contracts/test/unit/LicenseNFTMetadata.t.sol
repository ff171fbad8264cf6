// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {License} from "../../src/types/LicenseTypes.sol";
import {LicenseNFTBase} from "./LicenseNFTBase.t.sol";

/// @notice tokenURI: a base64 JSON data URI that parses and describes the license.
contract LicenseNFTMetadataTest is LicenseNFTBase {
    string internal constant DESCRIPTION_TAIL =
        " license for AI training. Usage is paid per training sample through the Fairtrain escrow to whoever holds this token.";

    function _lower(address a) internal pure returns (string memory) {
        return vm.toLowercase(vm.toString(a));
    }

    function _attr(string memory, uint256 i, string memory field) internal pure returns (string memory) {
        return string.concat(".attributes[", vm.toString(i), "].", field);
    }

    function _assertTrait(string memory json, uint256 i, string memory name, string memory value)
        internal
        pure
    {
        assertEq(vm.parseJsonString(json, _attr(json, i, "trait_type")), name, name);
        assertEq(vm.parseJsonString(json, _attr(json, i, "value")), value, name);
    }

    function _assertNumberTrait(string memory json, uint256 i, string memory name, uint256 value)
        internal
        pure
    {
        assertEq(vm.parseJsonString(json, _attr(json, i, "trait_type")), name, name);
        assertEq(vm.parseJsonString(json, _attr(json, i, "display_type")), "number", name);
        assertEq(vm.parseJsonUint(json, _attr(json, i, "value")), value, name);
    }

    /*//////////////////////////////////////////////////////////////
                                  FORMAT
    //////////////////////////////////////////////////////////////*/

    function test_TokenURI_IsBase64JsonDataUri() public {
        uint256 id = mintLicense();
        string memory uri = nft.tokenURI(id);
        assertTrue(vm.contains(uri, URI_PREFIX));
        assertEq(vm.indexOf(uri, URI_PREFIX), 0, "prefix at the start");

        string memory json = metadataOf(id);
        vm.parseJson(json); // reverts if not valid JSON
        // Re-encoding the decoded payload gives back the URI exactly (canonical base64).
        assertEq(string.concat(URI_PREFIX, vm.toBase64(json)), uri);
    }

    function test_TokenURI_DescribesLicense() public {
        vm.warp(block.timestamp + 77);
        uint256 id = mintLicense();
        string memory json = metadataOf(id);

        assertEq(vm.parseJsonString(json, ".name"), "Fairtrain License #1");
        assertEq(vm.parseJsonString(json, ".description"), string.concat("Commercial", DESCRIPTION_TAIL));
        assertEq(vm.parseJsonString(json, ".external_url"), "ipfs://terms/commercial-v1");

        _assertTrait(json, 0, "Kind", "Commercial");
        _assertTrait(json, 1, "Unit", "sample");
        _assertNumberTrait(json, 2, "Price per sample", PRICE);
        _assertNumberTrait(json, 3, "Max samples", 0);
        _assertTrait(json, 4, "Commercial use", "Yes");
        _assertTrait(json, 5, "Attribution required", "Yes");
        _assertTrait(json, 6, "Derivatives", "Allowed");
        _assertTrait(json, 7, "Exclusive", "No");
        _assertTrait(json, 8, "Expires", "Never");
        _assertNumberTrait(json, 9, "Terms version", 1);
        _assertNumberTrait(json, 10, "Royalty (bps)", 500);
        assertFalse(vm.keyExistsJson(json, ".attributes[11]"), "exactly eleven attributes");

        assertEq(vm.parseJsonString(json, ".properties.collection"), _lower(address(nft)));
        assertEq(vm.parseJsonString(json, ".properties.license_id"), "1");
        assertEq(vm.parseJsonString(json, ".properties.terms_id"), "1");
        assertEq(
            vm.parseJsonString(json, ".properties.terms_hash"),
            vm.toString(keccak256(abi.encode(defaultTerms())))
        );
        assertEq(vm.parseJsonString(json, ".properties.manifest_hash"), vm.toString(MANIFEST));
        assertEq(vm.parseJsonString(json, ".properties.creator"), _lower(creator));
        assertEq(vm.parseJsonString(json, ".properties.payment_token"), _lower(address(usdc)));
        assertEq(vm.parseJsonString(json, ".properties.price_per_sample"), vm.toString(uint256(PRICE)));
        assertEq(vm.parseJsonString(json, ".properties.unit"), "sample");
        assertEq(vm.parseJsonString(json, ".properties.exclusive_licensee"), _lower(address(0)));
        assertEq(vm.parseJsonString(json, ".properties.expires_at"), "0");
        assertEq(vm.parseJsonString(json, ".properties.minted_at"), vm.toString(block.timestamp));
    }

    function test_TokenURI_ExclusiveExpiringTermsAndZeroRoyalty() public {
        License.Terms memory t = exclusiveTerms(payer, uint40(block.timestamp + 10 days));
        t.maxSamples = 42;
        t.derivatives = License.Derivatives.NotAllowed;
        t.attributionRequired = false;
        mintAs(anyone, defaultTerms(), MANIFEST_2, 0); // id 1, terms 1
        uint256 id = mintAs(creator, t, MANIFEST, 0);
        string memory json = metadataOf(id);

        assertEq(vm.parseJsonString(json, ".name"), "Fairtrain License #2");
        _assertNumberTrait(json, 3, "Max samples", 42);
        _assertTrait(json, 5, "Attribution required", "No");
        _assertTrait(json, 6, "Derivatives", "Not allowed");
        _assertTrait(json, 7, "Exclusive", "Yes");
        assertEq(vm.parseJsonString(json, _attr(json, 8, "trait_type")), "Expires");
        assertEq(vm.parseJsonString(json, _attr(json, 8, "display_type")), "date");
        assertEq(vm.parseJsonUint(json, _attr(json, 8, "value")), t.expiresAt);
        _assertNumberTrait(json, 10, "Royalty (bps)", 0);
        assertEq(vm.parseJsonString(json, ".properties.license_id"), "2");
        assertEq(vm.parseJsonString(json, ".properties.terms_id"), "2");
        assertEq(vm.parseJsonString(json, ".properties.exclusive_licensee"), _lower(payer));
        assertEq(vm.parseJsonString(json, ".properties.expires_at"), vm.toString(uint256(t.expiresAt)));
    }

    function test_TokenURI_NamesEveryUnit() public {
        string[3] memory one = ["sample", "access", "inference"];
        string[3] memory many = ["samples", "accesses", "inferences"];
        string[3] memory paid = [
            "per training sample",
            "per access to the dataset's files through a gateway",
            "per inference of a model trained on it"
        ];
        for (uint8 u; u < 3; ++u) {
            License.Terms memory t = defaultTerms();
            t.unit = License.Unit(u);
            t.maxSamples = 7;
            uint256 id = mintAs(creator, t, keccak256(abi.encode("unit", u)), ROYALTY_BPS);
            string memory json = metadataOf(id);
            _assertTrait(json, 1, "Unit", one[u]);
            _assertNumberTrait(json, 2, string.concat("Price per ", one[u]), PRICE);
            _assertNumberTrait(json, 3, string.concat("Max ", many[u]), 7);
            assertEq(vm.parseJsonString(json, ".properties.unit"), one[u]);
            assertEq(
                vm.parseJsonString(json, ".description"),
                string.concat(
                    "Commercial license for AI training. Usage is paid ",
                    paid[u],
                    " through the Fairtrain escrow to whoever holds this token."
                )
            );
        }
    }

    function test_TokenURI_NamesEveryKind() public {
        string[5] memory names =
            ["Research only", "Commercial", "Evaluation", "Attribution share-alike", "Custom"];
        for (uint8 k; k < 5; ++k) {
            License.Terms memory t = defaultTerms();
            t.kind = License.Kind(k);
            t.commercialUse = t.kind == License.Kind.Commercial;
            if (t.kind == License.Kind.AttributionShareAlike) t.derivatives = License.Derivatives.ShareAlike;
            uint256 id = mintAs(creator, t, keccak256(abi.encode("manifest", k)), ROYALTY_BPS);
            string memory json = metadataOf(id);
            _assertTrait(json, 0, "Kind", names[k]);
            _assertTrait(json, 4, "Commercial use", t.commercialUse ? "Yes" : "No");
            assertEq(vm.parseJsonString(json, ".description"), string.concat(names[k], DESCRIPTION_TAIL));
            if (t.kind == License.Kind.AttributionShareAlike) {
                _assertTrait(json, 6, "Derivatives", "Share-alike");
            }
        }
    }

    function test_TokenURI_ReflectsUpdatedTerms() public {
        uint256 id = mintLicense();
        License.Terms memory t = researchTerms();
        t.pricePerSample = 7;
        vm.prank(creator);
        nft.updateTerms(id, t);

        string memory json = metadataOf(id);
        _assertTrait(json, 0, "Kind", "Research only");
        _assertNumberTrait(json, 2, "Price per sample", 7);
        _assertNumberTrait(json, 9, "Terms version", 2);
        assertEq(vm.parseJsonString(json, ".properties.terms_id"), "2");
        assertEq(vm.parseJsonString(json, ".properties.terms_hash"), vm.toString(keccak256(abi.encode(t))));
        assertEq(vm.parseJsonString(json, ".external_url"), "ipfs://terms/research-v1");
    }

    function test_TokenURI_CreatorStaysAfterTransfer() public {
        uint256 id = mintLicense();
        vm.prank(creator);
        nft.transferFrom(creator, anyone, id);
        string memory json = metadataOf(id);
        assertEq(vm.parseJsonString(json, ".properties.creator"), _lower(creator));
        _assertNumberTrait(json, 10, "Royalty (bps)", 500);
    }

    /*//////////////////////////////////////////////////////////////
                                 ESCAPING
    //////////////////////////////////////////////////////////////*/

    function test_TokenURI_EscapesQuoteAndBackslashInUri() public {
        License.Terms memory t = defaultTerms();
        t.uri = 'ipfs://x","name":"pwned\\';
        uint256 id = mintAs(creator, t, MANIFEST, ROYALTY_BPS);
        string memory json = metadataOf(id);

        vm.parseJson(json); // must not revert
        assertEq(vm.parseJsonString(json, ".external_url"), t.uri);
        assertEq(vm.parseJsonString(json, ".name"), "Fairtrain License #1", "no injected key");
    }

    function test_TokenURI_EscapesControlCharactersInUri() public {
        License.Terms memory t = defaultTerms();
        t.kind = License.Kind.Custom;
        t.uri = string(
            abi.encodePacked(
                "a\nb\tc\rd", bytes1(0x00), bytes1(0x01), bytes1(0x1f), "\x08\x0c", unicode"é✓"
            )
        );
        uint256 id = mintAs(creator, t, MANIFEST, ROYALTY_BPS);
        string memory json = metadataOf(id);
        vm.parseJson(json);
        assertEq(vm.parseJsonString(json, ".external_url"), t.uri);
    }

    function test_TokenURI_EmptyUri() public {
        License.Terms memory t = defaultTerms();
        t.uri = "";
        uint256 id = mintAs(creator, t, MANIFEST, ROYALTY_BPS);
        assertEq(vm.parseJsonString(metadataOf(id), ".external_url"), "");
    }

    function test_RevertWhen_TokenURI_NonexistentToken() public {
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, uint256(0)));
        nft.tokenURI(0);
        mintLicense();
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, uint256(2)));
        nft.tokenURI(2);
    }

    /*//////////////////////////////////////////////////////////////
                           THE TEST'S OWN DECODER
    //////////////////////////////////////////////////////////////*/

    function test_DecodeBase64_KnownVectors() public pure {
        // RFC 4648 section 10.
        assertEq(decodeBase64(""), "");
        assertEq(decodeBase64("Zg=="), "f");
        assertEq(decodeBase64("Zm8="), "fo");
        assertEq(decodeBase64("Zm9v"), "foo");
        assertEq(decodeBase64("Zm9vYg=="), "foob");
        assertEq(decodeBase64("Zm9vYmE="), "fooba");
        assertEq(decodeBase64("Zm9vYmFy"), "foobar");
        assertEq(decodeBase64("+/+/"), hex"fbffbf");
    }

    function test_RevertWhen_DecodeBase64_Malformed() public {
        vm.expectRevert(bytes("base64: length"));
        this.decodeExternal("Zm9");
        vm.expectRevert(bytes("base64: character"));
        this.decodeExternal("Zm9*");
        vm.expectRevert(bytes("base64: padding"));
        this.decodeExternal("Zg==Zm9v");
    }

    function decodeExternal(string calldata s) external pure returns (bytes memory) {
        return decodeBase64(s);
    }
}
