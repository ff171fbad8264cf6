// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";

import {License} from "../types/LicenseTypes.sol";
import {ILicenseTransferHook} from "./ILicenseTransferHook.sol";

/// @title ILicenseNFT
/// @notice License NFTs for datasets and works: each token carries machine-readable terms, the
/// content hash of a signed dataset manifest and an EIP-2981 royalty. Whoever holds the token is
/// the payee for usage of the license.
interface ILicenseNFT is IERC2981, IERC721Metadata {
    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Emitted when terms are registered for the first time.
    event TermsRegistered(uint64 indexed termsId, bytes32 indexed termsHash, License.Terms terms);

    /// @notice Emitted when a license is minted.
    event LicenseMinted(
        uint256 indexed licenseId,
        address indexed creator,
        uint64 indexed termsId,
        bytes32 manifestHash,
        uint96 royaltyBps
    );

    /// @notice Emitted when a license's terms are replaced by a new version.
    event LicenseTermsUpdated(uint256 indexed licenseId, uint32 version, uint64 indexed termsId);

    /// @notice Emitted when the creator routes a license's EIP-2981 royalties to `receiver`
    /// (`address(0)`: back to the creator).
    event RoyaltyReceiverSet(uint256 indexed licenseId, address indexed creator, address indexed receiver);

    /// @notice Emitted once, when the deployer sets the contract told about license transfers.
    event TransferHookSet(address indexed hook);

    /*//////////////////////////////////////////////////////////////
                                  READS
    //////////////////////////////////////////////////////////////*/

    /// @notice Highest royalty a creator can set, in basis points.
    function MAX_ROYALTY_BPS() external view returns (uint96);

    /// @notice The terms registered under `termsId`.
    /// @dev Reverts with {Errors.LicenseNFT_UnknownTerms} for an unknown id.
    function terms(uint64 termsId) external view returns (License.Terms memory);

    /// @notice The id of terms identical to `t`, or 0 if none were registered.
    function termsIdOf(License.Terms calldata t) external view returns (uint64);

    /// @notice The hash that identifies terms: `keccak256(abi.encode(t))`.
    function hashTerms(License.Terms calldata t) external pure returns (bytes32);

    /// @notice Number of distinct terms registered.
    function termsCount() external view returns (uint64);

    /// @notice The record of a license (current terms id, version, creator, manifest).
    /// @dev Reverts with {IERC721Errors.ERC721NonexistentToken} for an unknown license.
    function license(uint256 licenseId) external view returns (License.Record memory);

    /// @notice The current terms of a license, with their id.
    function currentTerms(uint256 licenseId) external view returns (uint64 termsId, License.Terms memory);

    /// @notice Number of licenses minted.
    function totalMinted() external view returns (uint256);

    /// @notice Where EIP-2981 royalties of a license go if the creator routed them (e.g. to a
    /// revenue pool); `address(0)` means the creator.
    function royaltyReceiverOf(uint256 licenseId) external view returns (address);

    /// @notice The contract told about every license transfer (`address(0)` until set).
    function transferHook() external view returns (ILicenseTransferHook);

    /// @notice Number of licenses `creator` minted for a manifest.
    function licensesOfManifest(address creator, bytes32 manifestHash) external view returns (uint256);

    /// @notice When the last of a license's earlier terms versions (every version that was
    /// current before the current one) stops running: 0 if its terms were never replaced,
    /// max uint40 if one of them never expires. Payers who accepted an earlier version may be
    /// charged for usage issued before that time, so the license can switch to exclusive terms
    /// only once it has passed (see {updateTerms}).
    /// @dev Reverts with {IERC721Errors.ERC721NonexistentToken} for an unknown license.
    function earlierTermsRunUntil(uint256 licenseId) external view returns (uint40);

    /// @notice Until when `creator`'s manifest is under exclusive terms (0: never; max uint40:
    /// forever). Exclusivity binds the creator who granted it: licenses of the same manifest hash
    /// minted by other accounts are not the creator's (the signed manifest says who the creator
    /// is; clients check it against `license(id).creator`).
    function exclusiveUntil(address creator, bytes32 manifestHash) external view returns (uint40);

    /*//////////////////////////////////////////////////////////////
                                 WRITES
    //////////////////////////////////////////////////////////////*/

    /// @notice Registers terms, or returns the id of identical terms registered before.
    /// @dev Emits {TermsRegistered} the first time.
    ///
    /// Requirements:
    /// - `paymentToken` is not zero; `expiresAt` is 0 or in the future.
    /// - The flags fit the kind: `ResearchOnly` and `Evaluation` forbid commercial use;
    ///   `Commercial` requires it; `AttributionShareAlike` requires attribution and share-alike
    ///   derivatives; `Custom` requires a URI.
    function registerTerms(License.Terms calldata t) external returns (uint64 termsId);

    /// @notice Mints a license to the caller, who becomes its creator and royalty receiver.
    /// @dev Emits {LicenseMinted}, {IERC721-Transfer} and possibly {TermsRegistered}.
    ///
    /// Requirements:
    /// - The terms are valid (see {registerTerms}); `manifestHash` is not zero.
    /// - `royaltyBps` is at most {MAX_ROYALTY_BPS}.
    /// - The caller's manifest is not under running exclusive terms; exclusive terms need the
    ///   caller to have no other license of the manifest.
    /// @return licenseId The id of the new token (ids start at 1).
    function mint(License.MintRequest calldata request) external returns (uint256 licenseId);

    /// @notice Mints several licenses to the caller in one transaction.
    /// @return firstId The id of the first token; the others follow consecutively.
    function mintBatch(License.MintRequest[] calldata requests) external returns (uint256 firstId);

    /// @notice Replaces a license's terms by a new version. Payers who accepted an earlier
    /// version keep it (until it expires); the new version needs a new acceptance.
    ///
    /// Exclusive terms promise their licensee that no other payer can be charged for the work
    /// from then on. A license therefore switches to exclusive terms only when every terms version
    /// it had before (the current one included) has expired, so that no earlier acceptance can
    /// charge usage issued after the switch; a license whose terms ever had no expiry can never
    /// switch (mint a new license with exclusive terms instead). And exclusive terms lock the
    /// creator's manifest against any new license, so only the creator, holding the license, can
    /// set them: a buyer of the license (or a pool holding it) cannot lock the creator's work.
    /// @dev Emits {LicenseTermsUpdated} and possibly {TermsRegistered}.
    ///
    /// Requirements:
    /// - The caller holds the license or is approved for it.
    /// - The new terms differ from the current ones; the current terms are not exclusive and running.
    /// - New exclusive terms: the caller is the license's creator and holds it; every earlier
    ///   version has expired ({earlierTermsRunUntil}, with the current one); the license is its
    ///   creator's only one of the manifest.
    function updateTerms(uint256 licenseId, License.Terms calldata t) external returns (uint64 termsId);

    /// @notice Routes the license's EIP-2981 royalties on resale to `receiver` (e.g. a revenue
    /// pool); `address(0)` routes them back to the creator. The royalty is the creator's right
    /// whoever holds the token, so only the creator decides where it goes.
    /// @dev Emits {RoyaltyReceiverSet}.
    ///
    /// Requirements:
    /// - The license exists and the caller is its creator.
    function setRoyaltyReceiver(uint256 licenseId, address receiver) external;

    /// @notice Sets the contract told about every license transfer. Callable once, by the
    /// deployer; afterwards the hook can never change, and the license contract has no admin.
    /// @dev Emits {TransferHookSet}.
    ///
    /// Requirements:
    /// - The caller is the deployer; no hook was set before; `hook` is not zero.
    function setTransferHook(ILicenseTransferHook hook) external;
}
