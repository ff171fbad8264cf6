// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {ILicenseNFT} from "./interfaces/ILicenseNFT.sol";
import {ILicenseTransferHook} from "./interfaces/ILicenseTransferHook.sol";
import {Errors} from "./libraries/Errors.sol";
import {LicenseMetadata} from "./libraries/LicenseMetadata.sol";
import {License} from "./types/LicenseTypes.sol";

/// @title LicenseNFT
/// @notice See {ILicenseNFT}. Permissionless: there is no owner and no admin function; the
/// deployer sets the transfer hook once ({setTransferHook}) and has no power afterwards.
contract LicenseNFT is ERC721, ILicenseNFT {
    /// @inheritdoc ILicenseNFT
    uint96 public constant override MAX_ROYALTY_BPS = 5000;
    uint256 private constant _BPS = 10_000;

    /// @dev Registered terms; terms id `i` is stored at index `i - 1`.
    License.Terms[] private _terms;
    mapping(bytes32 termsHash => uint64 termsId) private _termsIdByHash;
    mapping(uint256 licenseId => License.Record) private _records;
    /// @dev Keyed by `_manifestKey(creator, manifestHash)`: exclusivity is a creator's promise
    /// about its own work, so another account minting the same hash never binds the creator.
    mapping(bytes32 manifestKey => uint256 count) private _manifestLicenses;
    mapping(bytes32 manifestKey => uint40 until) private _exclusiveUntil;
    /// @dev Per license, when the last of its earlier terms versions stops running (0: none
    /// replaced yet; max uint40: one never expires). See {earlierTermsRunUntil}.
    mapping(uint256 licenseId => uint40 until) private _earlierTermsUntil;
    uint256 private _totalMinted;
    mapping(uint256 licenseId => address receiver) private _royaltyReceivers;
    /// @dev Told about every transfer; set once by `_HOOK_SETTER`.
    ILicenseTransferHook private _transferHook;
    address private immutable _HOOK_SETTER;

    constructor() ERC721("Fairtrain License", "FTL") {
        _HOOK_SETTER = msg.sender;
    }

    /*//////////////////////////////////////////////////////////////
                                  READS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc ILicenseNFT
    function terms(uint64 termsId) public view override returns (License.Terms memory) {
        if (termsId == 0 || termsId > _terms.length) revert Errors.LicenseNFT_UnknownTerms(termsId);
        return _terms[termsId - 1];
    }

    /// @inheritdoc ILicenseNFT
    function termsIdOf(License.Terms calldata t) external view override returns (uint64) {
        return _termsIdByHash[hashTerms(t)];
    }

    /// @inheritdoc ILicenseNFT
    function hashTerms(License.Terms calldata t) public pure override returns (bytes32) {
        return keccak256(abi.encode(t));
    }

    /// @inheritdoc ILicenseNFT
    function termsCount() external view override returns (uint64) {
        return uint64(_terms.length);
    }

    /// @inheritdoc ILicenseNFT
    function license(uint256 licenseId) public view override returns (License.Record memory) {
        _requireOwned(licenseId);
        return _records[licenseId];
    }

    /// @inheritdoc ILicenseNFT
    function currentTerms(uint256 licenseId)
        external
        view
        override
        returns (uint64 termsId, License.Terms memory)
    {
        termsId = license(licenseId).termsId;
        return (termsId, _terms[termsId - 1]);
    }

    /// @inheritdoc ILicenseNFT
    function totalMinted() external view override returns (uint256) {
        return _totalMinted;
    }

    /// @inheritdoc ILicenseNFT
    function licensesOfManifest(address creator, bytes32 manifestHash)
        external
        view
        override
        returns (uint256)
    {
        return _manifestLicenses[_manifestKey(creator, manifestHash)];
    }

    /// @inheritdoc ILicenseNFT
    function exclusiveUntil(address creator, bytes32 manifestHash) external view override returns (uint40) {
        return _exclusiveUntil[_manifestKey(creator, manifestHash)];
    }

    /// @inheritdoc ILicenseNFT
    function earlierTermsRunUntil(uint256 licenseId) external view override returns (uint40) {
        _requireOwned(licenseId);
        return _earlierTermsUntil[licenseId];
    }

    /// @inheritdoc ILicenseNFT
    function royaltyReceiverOf(uint256 licenseId) external view override returns (address) {
        return _royaltyReceivers[licenseId];
    }

    /// @inheritdoc ILicenseNFT
    function transferHook() external view override returns (ILicenseTransferHook) {
        return _transferHook;
    }

    /// @notice Standards-compliant JSON metadata (ERC-721 metadata JSON schema, OpenSea-style
    /// attributes), inlined as a base64 `data:` URI so that it never depends on a server.
    function tokenURI(uint256 licenseId)
        public
        view
        override(ERC721, IERC721Metadata)
        returns (string memory)
    {
        License.Record memory record = license(licenseId);
        return LicenseMetadata.tokenURI(licenseId, record, _terms[record.termsId - 1], address(this));
    }

    /// @notice EIP-2981: the creator (or the receiver the creator routed royalties to, see
    /// {setRoyaltyReceiver}) receives `royaltyBps` of a resale price; no royalty when the rate is
    /// 0 (and for unknown tokens). The rate lives in the license record rather than in a separate
    /// royalty slot, which saves a storage write per mint.
    function royaltyInfo(uint256 licenseId, uint256 salePrice)
        external
        view
        override
        returns (address receiver, uint256 amount)
    {
        License.Record storage record = _records[licenseId];
        uint256 bps = record.royaltyBps;
        if (bps == 0) return (address(0), 0);
        receiver = _royaltyReceivers[licenseId];
        if (receiver == address(0)) receiver = record.creator;
        return (receiver, Math.mulDiv(salePrice, bps, _BPS));
    }

    /// @inheritdoc IERC165
    function supportsInterface(bytes4 interfaceId) public view override(ERC721, IERC165) returns (bool) {
        return interfaceId == type(ILicenseNFT).interfaceId || interfaceId == type(IERC2981).interfaceId
            || ERC721.supportsInterface(interfaceId);
    }

    /*//////////////////////////////////////////////////////////////
                                 WRITES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc ILicenseNFT
    function registerTerms(License.Terms calldata t) public override returns (uint64 termsId) {
        _validateTerms(t);
        bytes32 termsHash = hashTerms(t);
        termsId = _termsIdByHash[termsHash];
        if (termsId != 0) return termsId;

        _terms.push(t);
        termsId = uint64(_terms.length);
        _termsIdByHash[termsHash] = termsId;
        emit TermsRegistered(termsId, termsHash, t);
    }

    /// @inheritdoc ILicenseNFT
    function mint(License.MintRequest calldata request) external override returns (uint256 licenseId) {
        return _mintOne(request);
    }

    /// @inheritdoc ILicenseNFT
    function mintBatch(License.MintRequest[] calldata requests) external override returns (uint256 firstId) {
        if (requests.length == 0) revert Errors.LicenseNFT_EmptyBatch();
        firstId = _mintOne(requests[0]);
        for (uint256 i = 1; i < requests.length; ++i) {
            _mintOne(requests[i]);
        }
    }

    /// @inheritdoc ILicenseNFT
    function updateTerms(uint256 licenseId, License.Terms calldata t)
        external
        override
        returns (uint64 termsId)
    {
        address holder = _requireOwned(licenseId);
        if (!_isAuthorized(holder, msg.sender, licenseId)) {
            revert Errors.LicenseNFT_NotHolderOrApproved(licenseId, msg.sender);
        }
        License.Record storage record = _records[licenseId];
        License.Terms storage current = _terms[record.termsId - 1];
        if (current.exclusiveLicensee != address(0) && _isRunning(current.expiresAt)) {
            revert Errors.LicenseNFT_ExclusiveTermsRunning(licenseId, current.expiresAt);
        }

        termsId = registerTerms(t);
        if (termsId == record.termsId) revert Errors.LicenseNFT_TermsUnchanged(licenseId, termsId);
        // The replaced version joins the earlier ones: payers who accepted any of them keep
        // charging usage issued before it expires.
        uint40 earlier = _earlierTermsUntil[licenseId];
        uint40 replacedUntil = current.expiresAt == 0 ? type(uint40).max : current.expiresAt;
        if (replacedUntil > earlier) {
            earlier = replacedUntil;
            _earlierTermsUntil[licenseId] = earlier;
        }
        if (t.exclusiveLicensee != address(0)) {
            // Exclusive means no other payer can be charged for usage from now on: every earlier
            // version must have expired. And only the creator, holding its license, can lock its
            // own manifest (exclusive terms block any new license of it).
            if (msg.sender != record.creator || holder != record.creator) {
                revert Errors.LicenseNFT_ExclusiveOnlyByCreator(licenseId, msg.sender);
            }
            if (_isLocked(earlier)) revert Errors.LicenseNFT_EarlierTermsRunning(licenseId, earlier);
            // This license must be the only one of its creator for the manifest.
            _claimExclusivity(_manifestKey(record.creator, record.manifestHash), t.expiresAt, 1);
        }
        uint32 version = record.version + 1;
        record.termsId = termsId;
        record.version = version;
        emit LicenseTermsUpdated(licenseId, version, termsId);
    }

    /// @inheritdoc ILicenseNFT
    function setRoyaltyReceiver(uint256 licenseId, address receiver) external override {
        _requireOwned(licenseId);
        address creator = _records[licenseId].creator;
        if (msg.sender != creator) revert Errors.LicenseNFT_NotCreator(licenseId, msg.sender);
        _royaltyReceivers[licenseId] = receiver;
        emit RoyaltyReceiverSet(licenseId, creator, receiver);
    }

    /// @inheritdoc ILicenseNFT
    function setTransferHook(ILicenseTransferHook hook) external override {
        if (msg.sender != _HOOK_SETTER) revert Errors.LicenseNFT_NotHookSetter(msg.sender);
        if (address(_transferHook) != address(0)) {
            revert Errors.LicenseNFT_TransferHookAlreadySet(address(_transferHook));
        }
        if (address(hook) == address(0)) revert Errors.LicenseNFT_ZeroTransferHook();
        _transferHook = hook;
        emit TransferHookSet(address(hook));
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    /// @dev Tells the transfer hook about every transfer (not mints: a license has no stream
    /// before it exists). Mints skip the hook's storage read.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        if (from != address(0)) {
            ILicenseTransferHook hook = _transferHook;
            if (address(hook) != address(0)) hook.onLicenseTransfer(tokenId, from, to);
        }
    }

    function _mintOne(License.MintRequest calldata request) private returns (uint256 licenseId) {
        bytes32 manifestHash = request.manifestHash;
        if (manifestHash == bytes32(0)) revert Errors.LicenseNFT_ZeroManifestHash();
        if (request.royaltyBps > MAX_ROYALTY_BPS) {
            revert Errors.LicenseNFT_RoyaltyTooHigh(request.royaltyBps, MAX_ROYALTY_BPS);
        }
        bytes32 manifestKey = _manifestKey(msg.sender, manifestHash);
        uint40 lockedUntil = _exclusiveUntil[manifestKey];
        if (_isLocked(lockedUntil)) {
            revert Errors.LicenseNFT_ManifestExclusivelyLicensed(manifestHash, lockedUntil);
        }

        uint64 termsId = registerTerms(request.terms);
        if (request.terms.exclusiveLicensee != address(0)) {
            _claimExclusivity(manifestKey, request.terms.expiresAt, 0);
        }

        licenseId = ++_totalMinted;
        ++_manifestLicenses[manifestKey];
        _records[licenseId] = License.Record({
            creator: msg.sender,
            termsId: termsId,
            version: 1,
            mintedAt: uint40(block.timestamp),
            // Cannot truncate: at most MAX_ROYALTY_BPS, checked above.
            royaltyBps: uint16(request.royaltyBps),
            manifestHash: manifestHash
        });
        _mint(msg.sender, licenseId);
        emit LicenseMinted(licenseId, msg.sender, termsId, manifestHash, request.royaltyBps);
    }

    /// @dev Locks a creator's manifest under exclusive terms, which requires it to have exactly
    /// `allowedLicenses` licenses (0 when minting, 1 — the license itself — when updating).
    function _claimExclusivity(bytes32 manifestKey, uint40 expiresAt, uint256 allowedLicenses) private {
        uint256 count = _manifestLicenses[manifestKey];
        if (count != allowedLicenses) revert Errors.LicenseNFT_ManifestHasOtherLicenses(manifestKey, count);
        _exclusiveUntil[manifestKey] = expiresAt == 0 ? type(uint40).max : expiresAt;
    }

    /// @dev Key of a creator's manifest in the exclusivity bookkeeping.
    function _manifestKey(address creator, bytes32 manifestHash) private pure returns (bytes32) {
        return keccak256(abi.encode(creator, manifestHash));
    }

    function _validateTerms(License.Terms calldata t) private view {
        if (t.paymentToken == address(0)) revert Errors.LicenseNFT_ZeroPaymentToken();
        if (t.expiresAt != 0 && t.expiresAt <= block.timestamp) {
            revert Errors.LicenseNFT_TermsAlreadyExpired(t.expiresAt);
        }
        License.Kind kind = t.kind;
        bool consistent;
        if (kind == License.Kind.ResearchOnly || kind == License.Kind.Evaluation) {
            consistent = !t.commercialUse;
        } else if (kind == License.Kind.Commercial) {
            consistent = t.commercialUse;
        } else if (kind == License.Kind.AttributionShareAlike) {
            consistent = t.attributionRequired && t.derivatives == License.Derivatives.ShareAlike;
        } else {
            if (bytes(t.uri).length == 0) revert Errors.LicenseNFT_CustomTermsNeedUri();
            consistent = true;
        }
        if (!consistent) revert Errors.LicenseNFT_TermsInconsistentWithKind(uint8(kind));
    }

    /// @dev Whether terms expiring at `expiresAt` (0 = never) still run.
    function _isRunning(uint40 expiresAt) private view returns (bool) {
        return expiresAt == 0 || block.timestamp < expiresAt;
    }

    /// @dev Whether an exclusivity lock until `until` (0 = none) still holds.
    function _isLocked(uint40 until) private view returns (bool) {
        return block.timestamp < until;
    }
}
