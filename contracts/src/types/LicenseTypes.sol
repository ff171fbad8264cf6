// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title License
/// @notice Namespace for the machine-readable license terms carried by a {LicenseNFT}.
library License {
    /// @notice The family of a license. Each kind constrains the flags of its terms
    /// (see {LicenseNFT-registerTerms}); `Custom` requires a terms URI.
    enum Kind {
        ResearchOnly,
        Commercial,
        Evaluation,
        AttributionShareAlike,
        Custom
    }

    /// @notice What a licensee may do with models or data derived from the work.
    enum Derivatives {
        NotAllowed,
        Allowed,
        ShareAlike
    }

    /// @notice What one unit of use is: what a receipt's cumulative count counts and what the price
    /// is paid for. Settlement is the same for every unit (new units times the price, through the
    /// escrow's batches and claims); the unit says who issues the receipts.
    /// - `Sample`: one training sample, signed by the payer's training infrastructure as it samples.
    /// - `Access`: one grant of the dataset's files by a gateway, which serves them only against a
    ///   receipt for that access (docs/gateway.md).
    /// - `Inference`: one inference of a model trained on the work, signed by the payer's serving
    ///   infrastructure.
    enum Unit {
        Sample,
        Access,
        Inference
    }

    /// @notice The terms a payer accepts. Immutable once registered; identical terms share one id.
    /// @param kind The license family.
    /// @param paymentToken The ERC-20 in which usage is paid.
    /// @param pricePerSample Price of one unit of use (one `unit`), in `paymentToken` base units.
    /// The name predates units other than samples.
    /// @param unit What one unit of use is.
    /// @param maxSamples Cap on the units one licensee (payer) is charged for under these terms,
    /// across all its runs; 0 means no cap.
    /// @param expiresAt Unix time after which the terms can no longer be accepted and usage issued
    /// later is not chargeable under them; 0 means never.
    /// @param commercialUse Whether models trained on the work may be used commercially.
    /// @param attributionRequired Whether derived works must credit the creator.
    /// @param derivatives Whether and how derived works may be distributed.
    /// @param exclusiveLicensee If non-zero, the only payer that may accept these terms.
    /// @param uri Human-readable terms (e.g. an ipfs:// or https:// URI); required for `Custom`.
    struct Terms {
        Kind kind;
        address paymentToken;
        uint96 pricePerSample;
        Unit unit;
        uint64 maxSamples;
        uint40 expiresAt;
        bool commercialUse;
        bool attributionRequired;
        Derivatives derivatives;
        address exclusiveLicensee;
        string uri;
    }

    /// @notice What a license token records besides ownership. Three slots: (creator, termsId,
    /// version), (mintedAt, royaltyBps), manifestHash.
    /// @param creator The minter; receiver of EIP-2981 royalties.
    /// @param termsId The current terms version (an id in the terms registry).
    /// @param version Starts at 1 and increases by one each time the terms are replaced.
    /// @param mintedAt Unix time of the mint.
    /// @param royaltyBps EIP-2981 royalty on resale, in basis points (0: none).
    /// @param manifestHash Content hash of the signed dataset manifest the license covers.
    struct Record {
        address creator;
        uint64 termsId;
        uint32 version;
        uint40 mintedAt;
        uint16 royaltyBps;
        bytes32 manifestHash;
    }

    /// @notice Input of {LicenseNFT-mint} and {LicenseNFT-mintBatch}.
    /// @param terms The license terms (registered, or reused if identical terms exist).
    /// @param manifestHash Content hash of the signed dataset manifest.
    /// @param royaltyBps EIP-2981 royalty on resale of the token, in basis points, paid to the creator.
    struct MintRequest {
        Terms terms;
        bytes32 manifestHash;
        uint96 royaltyBps;
    }
}
