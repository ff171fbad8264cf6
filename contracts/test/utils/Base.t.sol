// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Test} from "forge-std/Test.sol";

import {LicenseNFT} from "../../src/LicenseNFT.sol";
import {TrainingEscrow} from "../../src/TrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {MockERC20} from "../mocks/MockERC20.sol";
import {MerkleBuilder} from "./MerkleBuilder.sol";

/// @notice Shared fixture: a deployed suite, funded actors and helpers to mint, accept, sign,
/// commit and claim. Tests inherit it and call `super.setUp()` if they override `setUp`.
abstract contract Base is Test {
    uint16 internal constant FEE_BPS = 250; // 2.5 %
    uint40 internal constant NOTICE = 1 days;
    uint40 internal constant CLAIM_WINDOW = 7 days;
    uint96 internal constant PRICE = 1e12; // per sample, in token base units
    uint256 internal constant BUDGET = 1_000_000e18;

    LicenseNFT internal nft;
    TrainingEscrow internal escrow;
    MockERC20 internal usdc;

    address internal owner = makeAddr("owner");
    address internal creator = makeAddr("creator");
    address internal payer = makeAddr("payer");
    address internal relayer = makeAddr("relayer");
    address internal anyone = makeAddr("anyone");
    uint256 internal signerKey = 0xA11CE;
    address internal signer;

    function setUp() public virtual {
        vm.warp(1_750_000_000);
        signer = vm.addr(signerKey);
        nft = new LicenseNFT();
        escrow = new TrainingEscrow(nft, owner, FEE_BPS, NOTICE, CLAIM_WINDOW);
        usdc = new MockERC20("USD Coin", "USDC", 18);
        vm.prank(owner);
        escrow.setTokenAllowed(address(usdc), true);
        vm.label(address(nft), "LicenseNFT");
        vm.label(address(escrow), "TrainingEscrow");
        vm.label(address(usdc), "USDC");
        vm.label(signer, "signer");
    }

    /*//////////////////////////////////////////////////////////////
                               LICENSES
    //////////////////////////////////////////////////////////////*/

    /// @dev Commercial terms paid in `usdc` at `PRICE` per sample, no cap, no expiry.
    function defaultTerms() internal view returns (License.Terms memory t) {
        t.kind = License.Kind.Commercial;
        t.paymentToken = address(usdc);
        t.pricePerSample = PRICE;
        t.commercialUse = true;
        t.attributionRequired = true;
        t.derivatives = License.Derivatives.Allowed;
        t.uri = "ipfs://terms/commercial-v1";
    }

    function mintLicense(address to, License.Terms memory t, bytes32 manifestHash)
        internal
        returns (uint256 id)
    {
        vm.prank(to);
        id = nft.mint(License.MintRequest({terms: t, manifestHash: manifestHash, royaltyBps: 500}));
    }

    function mintLicense() internal returns (uint256) {
        return mintLicense(creator, defaultTerms(), keccak256("manifest-1"));
    }

    /*//////////////////////////////////////////////////////////////
                                PAYERS
    //////////////////////////////////////////////////////////////*/

    /// @dev Funds and deposits `amount` for `who`, registers `key` and opens a credit line of
    /// `credit` (out of `amount`) for `relayer`; `amount - credit` stays available (for
    /// withdrawals, direct settlement or more lines). `credit` may be 0 (no line).
    function setUpPayer(address who, uint256 key, uint256 amount, uint256 credit) internal {
        usdc.mint(who, amount);
        vm.startPrank(who);
        usdc.approve(address(escrow), amount);
        escrow.deposit(address(usdc), amount);
        escrow.registerSigner(vm.addr(key));
        if (credit != 0) escrow.fundCredit(relayer, address(usdc), uint128(credit));
        vm.stopPrank();
    }

    /// @dev The default convention: {setUpPayer} with HALF of `amount` on `relayer`'s credit line
    /// and the other half (`amount - amount / 2`) available. Tests that need exact figures read
    /// them with {lineOf} / `availableBalance`, or pass `credit` explicitly.
    function setUpPayer(address who, uint256 key, uint256 amount) internal {
        setUpPayer(who, key, amount, amount / 2);
    }

    /// @dev Mints and deposits `amount` more for `who` and moves all of it into the line of
    /// `relayer_` (any relayer, e.g. a second one); `who`'s available balance is unchanged.
    function fundLine(address who, address relayer_, uint256 amount) internal {
        usdc.mint(who, amount);
        vm.startPrank(who);
        usdc.approve(address(escrow), amount);
        escrow.deposit(address(usdc), amount);
        escrow.fundCredit(relayer_, address(usdc), uint128(amount));
        vm.stopPrank();
    }

    /// @dev The usdc credit line `who` opened for `relayer`.
    function lineOf(address who) internal view returns (Escrow.CreditLine memory) {
        return escrow.creditLine(who, relayer, address(usdc));
    }

    /// @dev Accepts the license's current terms for `who` and waits out the notice period, so that
    /// the acceptance is chargeable. Tests of the waiting itself call `acceptTerms` directly.
    function accept(address who, uint256 licenseId) internal {
        (uint64 termsId,) = nft.currentTerms(licenseId);
        vm.prank(who);
        escrow.acceptTerms(licenseId, termsId);
        vm.warp(escrow.acceptance(who, licenseId, termsId).chargeableFrom);
    }

    /*//////////////////////////////////////////////////////////////
                               RECEIPTS
    //////////////////////////////////////////////////////////////*/

    function receipt(address who, uint256 licenseId, bytes32 runId, uint64 cumulative)
        internal
        view
        returns (Escrow.Receipt memory r)
    {
        (uint64 termsId,) = nft.currentTerms(licenseId);
        r = Escrow.Receipt({
            payer: who,
            licenseId: licenseId,
            termsId: termsId,
            runId: runId,
            cumulativeSamples: cumulative,
            issuedAt: uint64(block.timestamp)
        });
    }

    function sign(uint256 key, Escrow.Receipt memory r) internal view returns (bytes memory) {
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(key, escrow.receiptDigest(r));
        return abi.encodePacked(rr, s, v);
    }

    /// @dev EIP-712 struct hash of `r` under the receipt type hash `typehash`, computed here,
    /// independently of the escrow.
    function receiptStructHash(bytes32 typehash, Escrow.Receipt memory r) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(typehash, r.payer, r.licenseId, r.termsId, r.runId, r.cumulativeSamples, r.issuedAt)
        );
    }

    function leafOf(Escrow.Receipt memory r) internal view returns (bytes32) {
        return escrow.receiptLeaf(r);
    }

    /*//////////////////////////////////////////////////////////////
                                BATCHES
    //////////////////////////////////////////////////////////////*/

    /// @dev Builds the tree of `receipts` (receipt `i` signed with `keys[i]`) without committing
    /// it, and returns the root and one claim per receipt.
    function buildClaims(uint256[] memory keys, Escrow.Receipt[] memory receipts)
        internal
        view
        returns (bytes32 root, Escrow.Claim[] memory claims)
    {
        bytes32[] memory leaves = new bytes32[](receipts.length);
        for (uint256 i; i < receipts.length; ++i) {
            leaves[i] = leafOf(receipts[i]);
        }
        root = MerkleBuilder.root(leaves);
        claims = new Escrow.Claim[](receipts.length);
        for (uint256 i; i < receipts.length; ++i) {
            claims[i] = Escrow.Claim({
                receipt: receipts[i],
                signature: sign(keys[i], receipts[i]),
                proof: MerkleBuilder.proof(leaves, i)
            });
        }
    }

    /// @dev {buildClaims} with every receipt signed by `key`.
    function buildClaims(uint256 key, Escrow.Receipt[] memory receipts)
        internal
        view
        returns (bytes32 root, Escrow.Claim[] memory claims)
    {
        uint256[] memory keys = new uint256[](receipts.length);
        for (uint256 i; i < receipts.length; ++i) {
            keys[i] = key;
        }
        return buildClaims(keys, receipts);
    }

    /// @dev Builds the tree of `receipts`, commits it as `relayer` reserving `reserve` of usdc
    /// from `who`'s credit line for `relayer` (into the line's reserved pool), and returns the root and one claim per receipt (signed with `key`).
    function commitBatch(uint256 key, address who, Escrow.Receipt[] memory receipts, uint128 reserve)
        internal
        returns (bytes32 root, Escrow.Claim[] memory claims)
    {
        (root, claims) = buildClaims(key, receipts);
        Escrow.ReservationRequest[] memory reservations = new Escrow.ReservationRequest[](1);
        reservations[0] = Escrow.ReservationRequest({payer: who, token: address(usdc), amount: reserve});
        vm.prank(relayer);
        escrow.commitBatch(
            root, uint32(receipts.length), keccak256("batch-data"), "ipfs://batch", reservations
        );
    }

    function single(Escrow.Receipt memory r) internal pure returns (Escrow.Receipt[] memory list) {
        list = new Escrow.Receipt[](1);
        list[0] = r;
    }

    function pair(Escrow.Receipt memory a, Escrow.Receipt memory b)
        internal
        pure
        returns (Escrow.Receipt[] memory list)
    {
        list = new Escrow.Receipt[](2);
        list[0] = a;
        list[1] = b;
    }

    function one(Escrow.Claim memory c) internal pure returns (Escrow.Claim[] memory list) {
        list = new Escrow.Claim[](1);
        list[0] = c;
    }

    /*//////////////////////////////////////////////////////////////
                            EXPECTED ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @dev `InsufficientBalance` of `payer`'s available usdc.
    function insufficientBalance(uint256 available, uint256 needed) internal view returns (bytes memory) {
        return abi.encodeWithSelector(
            Errors.TrainingEscrow_InsufficientBalance.selector, payer, address(usdc), available, needed
        );
    }

    /// @dev `InsufficientCredit` of `who`'s usdc line for `relayer`.
    function insufficientCredit(address who, uint256 credit, uint256 needed)
        internal
        view
        returns (bytes memory)
    {
        return abi.encodeWithSelector(
            Errors.TrainingEscrow_InsufficientCredit.selector, who, relayer, address(usdc), credit, needed
        );
    }

    /// @dev `InsufficientReserved` of `who`'s usdc line for `relayer_`.
    function insufficientReserved(address who, address relayer_, uint256 reserved, uint256 needed)
        internal
        view
        returns (bytes memory)
    {
        return abi.encodeWithSelector(
            Errors.TrainingEscrow_InsufficientReserved.selector,
            who,
            relayer_,
            address(usdc),
            reserved,
            needed
        );
    }

    /// @dev `InsufficientReserved` of `payer`'s usdc line for `relayer`.
    function insufficientReserved(uint256 reserved, uint256 needed) internal view returns (bytes memory) {
        return insufficientReserved(payer, relayer, reserved, needed);
    }

    /// @dev `CreditReductionNotEffective` of `payer`'s usdc line for `relayer`.
    function notEffective(uint40 effectiveAt) internal view returns (bytes memory) {
        return abi.encodeWithSelector(
            Errors.TrainingEscrow_CreditReductionNotEffective.selector,
            payer,
            relayer,
            address(usdc),
            effectiveAt
        );
    }

    /// @dev `SignerNotAuthorized`: `recovered` was not a signer of `who` at `at`.
    function signerNotAuthorized(address who, address recovered, uint256 at)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSelector(Errors.TrainingEscrow_SignerNotAuthorized.selector, who, recovered, at);
    }

    /// @dev {signerNotAuthorized} for `payer`.
    function signerNotAuthorized(address recovered, uint256 at) internal view returns (bytes memory) {
        return signerNotAuthorized(payer, recovered, at);
    }

    /// @dev Fee and payout of a charge at the fee `bps`, as the escrow computes them.
    function split(uint256 amount, uint16 bps) internal pure returns (uint256 fee, uint256 payout) {
        fee = amount * bps / 10_000;
        payout = amount - fee;
    }
}
