// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {Vm} from "forge-std/Vm.sol";

import {ILicenseNFT} from "../../src/interfaces/ILicenseNFT.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {LicenseNFTBase} from "../unit/LicenseNFTBase.t.sol";

/// @notice Fuzzed terms, royalties, batches, exclusivity boundaries and metadata.
contract LicenseNFTFuzzTest is LicenseNFTBase {
    /// @dev Raw fuzz input for terms; enums as plain integers so the fuzzer cannot produce
    /// out-of-range values that would fail ABI decoding of the test call itself.
    struct TermsSeed {
        uint8 kind;
        address paymentToken;
        uint96 pricePerSample;
        uint8 unit;
        uint64 maxSamples;
        uint40 expiresAt;
        bool commercialUse;
        bool attributionRequired;
        uint8 derivatives;
        address exclusiveLicensee;
        string uri;
    }

    /// @dev Valid terms from a seed: the seed's values, adjusted only where the rules demand.
    function _build(TermsSeed memory s) internal view returns (License.Terms memory t) {
        t.kind = License.Kind(s.kind % 5);
        t.paymentToken = s.paymentToken == address(0) ? address(usdc) : s.paymentToken;
        t.pricePerSample = s.pricePerSample;
        t.unit = License.Unit(s.unit % 3);
        t.maxSamples = s.maxSamples;
        t.expiresAt =
            s.expiresAt == 0 ? 0 : uint40(_bound(s.expiresAt, block.timestamp + 1, type(uint40).max));
        t.commercialUse = s.commercialUse;
        t.attributionRequired = s.attributionRequired;
        t.derivatives = License.Derivatives(s.derivatives % 3);
        t.exclusiveLicensee = s.exclusiveLicensee;
        t.uri = s.uri;
        if (t.kind == License.Kind.ResearchOnly || t.kind == License.Kind.Evaluation) {
            t.commercialUse = false;
        }
        if (t.kind == License.Kind.Commercial) t.commercialUse = true;
        if (t.kind == License.Kind.AttributionShareAlike) {
            t.attributionRequired = true;
            t.derivatives = License.Derivatives.ShareAlike;
        }
        if (t.kind == License.Kind.Custom && bytes(t.uri).length == 0) t.uri = "ipfs://custom";
    }

    function _copy(License.Terms memory t) internal pure returns (License.Terms memory) {
        return abi.decode(abi.encode(t), (License.Terms));
    }

    /// @dev Whether `t`'s flags fit `kind` (the documented rules, for picking valid mutations).
    function _fits(License.Kind kind, License.Terms memory t) internal pure returns (bool) {
        if (kind == License.Kind.ResearchOnly || kind == License.Kind.Evaluation) return !t.commercialUse;
        if (kind == License.Kind.Commercial) return t.commercialUse;
        if (kind == License.Kind.AttributionShareAlike) {
            return t.attributionRequired && t.derivatives == License.Derivatives.ShareAlike;
        }
        return bytes(t.uri).length != 0;
    }

    /*//////////////////////////////////////////////////////////////
                              TERMS DEDUPE
    //////////////////////////////////////////////////////////////*/

    function testFuzz_RegisterTerms_EqualContentSameId(TermsSeed memory seed) public {
        License.Terms memory a = _build(seed);
        vm.prank(creator);
        uint64 id = nft.registerTerms(a);
        assertEq(id, 1);

        License.Terms memory b = _copy(a); // equal content, separate memory
        vm.recordLogs();
        vm.prank(anyone);
        assertEq(nft.registerTerms(b), id);
        assertEq(vm.getRecordedLogs().length, 0, "no second TermsRegistered");

        assertEq(nft.termsCount(), 1);
        assertEq(nft.termsIdOf(b), id);
        assertEq(nft.hashTerms(b), keccak256(abi.encode(a)));
        assertTermsEq(nft.terms(id), a);

        // Minting with the same content reuses the id too (unless it is exclusive: a fresh manifest).
        uint256 licenseId = mintAs(payer, b, MANIFEST, 0);
        assertEq(nft.license(licenseId).termsId, id);
        assertEq(nft.termsCount(), 1);
    }

    function testFuzz_RegisterTerms_AnyFieldDiffersGetsNewId(TermsSeed memory seed, uint8 field, uint256 salt)
        public
    {
        License.Terms memory a = _build(seed);
        field %= 11;
        // Flags constrained by the kind are mutated under Custom terms, where they are free.
        if (
            (field == 5 && a.kind != License.Kind.AttributionShareAlike && a.kind != License.Kind.Custom)
                || ((field == 6 || field == 7) && a.kind == License.Kind.AttributionShareAlike)
        ) {
            a.kind = License.Kind.Custom;
            if (bytes(a.uri).length == 0) a.uri = "ipfs://custom";
        }
        License.Terms memory b = _copy(a);

        if (field == 0) {
            // Another kind that the same flags fit; if none does, fall back to the uri.
            for (uint8 i = 1; i < 5; ++i) {
                License.Kind k = License.Kind((uint8(a.kind) + i + uint8(salt % 5)) % 5);
                if (k != a.kind && _fits(k, a)) {
                    b.kind = k;
                    break;
                }
            }
            if (b.kind == a.kind) b.uri = string.concat(a.uri, "#k");
        } else if (field == 1) {
            address other = address(uint160(a.paymentToken) ^ uint160(_bound(salt, 1, type(uint160).max)));
            if (other == address(0)) other = a.paymentToken == address(1) ? address(2) : address(1);
            b.paymentToken = other;
        } else if (field == 2) {
            b.pricePerSample = a.pricePerSample ^ uint96(_bound(salt, 1, type(uint96).max));
        } else if (field == 3) {
            b.maxSamples = a.maxSamples ^ uint64(_bound(salt, 1, type(uint64).max));
        } else if (field == 4) {
            if (a.expiresAt == 0) b.expiresAt = uint40(_bound(salt, block.timestamp + 1, type(uint40).max));
            else if (salt % 2 == 0) b.expiresAt = 0;
            else b.expiresAt = a.expiresAt == type(uint40).max ? a.expiresAt - 1 : a.expiresAt + 1;
        } else if (field == 5) {
            b.commercialUse = !a.commercialUse;
        } else if (field == 6) {
            b.attributionRequired = !a.attributionRequired;
        } else if (field == 7) {
            b.derivatives = License.Derivatives((uint8(a.derivatives) + 1 + salt % 2) % 3);
        } else if (field == 8) {
            b.exclusiveLicensee =
                address(uint160(a.exclusiveLicensee) ^ uint160(_bound(salt, 1, type(uint160).max)));
        } else if (field == 9) {
            b.uri = string.concat(a.uri, string(abi.encodePacked(bytes1(uint8(salt)))));
        } else {
            b.unit = License.Unit((uint8(a.unit) + 1 + salt % 2) % 3);
        }

        uint64 idA = nft.registerTerms(a);
        vm.expectEmit(true, true, true, true, address(nft));
        emit ILicenseNFT.TermsRegistered(idA + 1, keccak256(abi.encode(b)), b);
        uint64 idB = nft.registerTerms(b);

        assertEq(idA, 1);
        assertEq(idB, 2);
        assertEq(nft.termsCount(), 2);
        assertNotEq(nft.hashTerms(a), nft.hashTerms(b));
        assertTermsEq(nft.terms(idA), a);
        assertTermsEq(nft.terms(idB), b);
        assertEq(nft.termsIdOf(a), idA);
        assertEq(nft.termsIdOf(b), idB);
    }

    function testFuzz_RegisterTerms_ExpiryBoundary(uint40 expiresAt, uint40 now_) public {
        vm.warp(_bound(now_, 1, type(uint40).max - 1));
        License.Terms memory t = defaultTerms();
        t.expiresAt = expiresAt;
        if (expiresAt != 0 && expiresAt <= block.timestamp) {
            vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_TermsAlreadyExpired.selector, expiresAt));
            nft.registerTerms(t);
            assertEq(nft.termsCount(), 0);
        } else {
            assertEq(nft.registerTerms(t), 1);
            assertEq(nft.terms(1).expiresAt, expiresAt);
        }
    }

    /*//////////////////////////////////////////////////////////////
                                 ROYALTY
    //////////////////////////////////////////////////////////////*/

    function testFuzz_Mint_RoyaltyBounds(uint96 bps, uint256 salePrice) public {
        if (bps > MAX_BPS) {
            vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_RoyaltyTooHigh.selector, bps, MAX_BPS));
            mintAs(creator, defaultTerms(), MANIFEST, bps);
            assertEq(nft.totalMinted(), 0);
            return;
        }
        uint256 id = mintAs(creator, defaultTerms(), MANIFEST, bps);
        (address receiver, uint256 amount) = nft.royaltyInfo(id, salePrice);
        // floor(salePrice * bps / 10_000) without overflow.
        uint256 expected = salePrice / 10_000 * bps + (salePrice % 10_000) * bps / 10_000;
        assertEq(amount, expected);
        assertEq(receiver, bps == 0 ? address(0) : creator);
        assertLe(amount, salePrice / 2 + 1);
    }

    /*//////////////////////////////////////////////////////////////
                                MINT BATCH
    //////////////////////////////////////////////////////////////*/

    function testFuzz_MintBatch_ConsecutiveIds(uint256 n, uint256 pre, bytes32 salt) public {
        n = _bound(n, 1, 20);
        pre = _bound(pre, 0, 5);
        for (uint256 j; j < pre; ++j) {
            mintAs(anyone, defaultTerms(), keccak256(abi.encode("pre", j)), 0);
        }

        License.MintRequest[] memory reqs = new License.MintRequest[](n);
        for (uint256 i; i < n; ++i) {
            License.Terms memory t = defaultTerms();
            t.pricePerSample = PRICE + uint96(i % 4); // i % 4 == 0 reuses the default terms
            reqs[i] = request(t, keccak256(abi.encode(salt, i % 3)), uint96(i * 100));
        }

        vm.recordLogs();
        vm.prank(creator);
        uint256 firstId = nft.mintBatch(reqs);
        Vm.Log[] memory logs = vm.getRecordedLogs();

        assertEq(firstId, pre + 1);
        assertEq(nft.totalMinted(), pre + n);
        assertEq(nft.balanceOf(creator), n);
        assertEq(nft.termsCount(), n < 4 ? n : 4);
        assertEq(countLogs(logs, address(nft), ILicenseNFT.LicenseMinted.selector), n);
        for (uint256 i; i < n; ++i) {
            uint256 id = firstId + i;
            assertEq(nft.ownerOf(id), creator);
            License.Record memory r = nft.license(id);
            assertEq(r.manifestHash, reqs[i].manifestHash);
            assertEq(r.version, 1);
            assertEq(r.creator, creator);
            assertEq(nft.terms(r.termsId).pricePerSample, reqs[i].terms.pricePerSample);
            (, uint256 royalty) = nft.royaltyInfo(id, 10_000);
            assertEq(royalty, i * 100);
        }
        for (uint256 k; k < 3; ++k) {
            uint256 expected = n > k ? (n - k + 2) / 3 : 0;
            assertEq(nft.licensesOfManifest(creator, keccak256(abi.encode(salt, k))), expected);
        }
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, pre + n + 1));
        nft.ownerOf(pre + n + 1);
    }

    /*//////////////////////////////////////////////////////////////
                               EXCLUSIVITY
    //////////////////////////////////////////////////////////////*/

    function testFuzz_Exclusive_LockEndsExactlyAtExpiry(uint256 duration, uint256 elapsed) public {
        uint40 expiry = uint40(block.timestamp + _bound(duration, 1, 10 * 365 days));
        uint256 id = mintAs(creator, exclusiveTerms(payer, expiry), MANIFEST, ROYALTY_BPS);
        vm.warp(block.timestamp + _bound(elapsed, 0, 20 * 365 days));
        bool running = block.timestamp < expiry;

        if (running) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    Errors.LicenseNFT_ManifestExclusivelyLicensed.selector, MANIFEST, expiry
                )
            );
        }
        mintAs(creator, researchTerms(), MANIFEST, 0);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), running ? 1 : 2);
        // Another account minting the same hash is never bound by the creator's lock.
        mintAs(anyone, researchTerms(), MANIFEST, 0);
        assertEq(nft.licensesOfManifest(anyone, MANIFEST), 1);
        assertEq(nft.licensesOfManifest(creator, MANIFEST), running ? 1 : 2);

        if (running) {
            vm.expectRevert(
                abi.encodeWithSelector(Errors.LicenseNFT_ExclusiveTermsRunning.selector, id, expiry)
            );
        }
        vm.prank(creator);
        nft.updateTerms(id, defaultTerms());
        assertEq(nft.license(id).version, running ? 1 : 2);
    }

    function testFuzz_UpdateTerms_RevertWhen_NotHolderOrApproved(address caller) public {
        vm.assume(caller != creator);
        uint256 id = mintLicense();
        License.Terms memory t = researchTerms();
        vm.expectRevert(abi.encodeWithSelector(Errors.LicenseNFT_NotHolderOrApproved.selector, id, caller));
        vm.prank(caller);
        nft.updateTerms(id, t);
    }

    /*//////////////////////////////////////////////////////////////
                                 METADATA
    //////////////////////////////////////////////////////////////*/

    function testFuzz_TokenURI_ValidJson(uint96 price, uint64 maxSamples, uint40 expiresAt, uint96 bps)
        public
    {
        License.Terms memory t = defaultTerms();
        t.pricePerSample = price;
        t.maxSamples = maxSamples;
        t.expiresAt = expiresAt == 0 ? 0 : uint40(_bound(expiresAt, block.timestamp + 1, type(uint40).max));
        bps = uint96(_bound(bps, 0, MAX_BPS));
        uint256 id = mintAs(creator, t, MANIFEST, bps);

        string memory json = metadataOf(id);
        vm.parseJson(json);
        assertEq(vm.parseJsonString(json, ".name"), "Fairtrain License #1");
        assertEq(vm.parseJsonString(json, ".attributes[0].value"), "Commercial");
        assertEq(vm.parseJsonUint(json, ".attributes[2].value"), price);
        assertEq(vm.parseJsonUint(json, ".attributes[3].value"), maxSamples);
        if (t.expiresAt == 0) {
            assertEq(vm.parseJsonString(json, ".attributes[8].value"), "Never");
        } else {
            assertEq(vm.parseJsonUint(json, ".attributes[8].value"), t.expiresAt);
        }
        assertEq(vm.parseJsonUint(json, ".attributes[10].value"), bps);
        assertEq(vm.parseJsonString(json, ".properties.price_per_sample"), vm.toString(uint256(price)));
        assertEq(vm.parseJsonString(json, ".properties.expires_at"), vm.toString(uint256(t.expiresAt)));
        assertEq(vm.parseJsonString(json, ".properties.manifest_hash"), vm.toString(MANIFEST));
        assertEq(vm.parseJsonString(json, ".properties.terms_id"), "1");
    }

    function testFuzz_TokenURI_AsciiUriRoundTrips(bytes memory raw) public {
        // Any ASCII, including quotes, backslashes and control characters.
        for (uint256 i; i < raw.length; ++i) {
            raw[i] = bytes1(uint8(raw[i]) & 0x7f);
        }
        License.Terms memory t = defaultTerms();
        t.uri = string(raw);
        uint256 id = mintAs(creator, t, MANIFEST, ROYALTY_BPS);
        string memory json = metadataOf(id);
        vm.parseJson(json);
        assertEq(vm.parseJsonString(json, ".external_url"), t.uri);
        assertEq(vm.parseJsonString(json, ".name"), "Fairtrain License #1");
    }

    function testFuzz_DecodeBase64_RoundTrip(bytes memory data) public pure {
        assertEq(decodeBase64(vm.toBase64(data)), data);
    }
}
