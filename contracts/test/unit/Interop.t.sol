// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {stdJson} from "forge-std/StdJson.sol";

import {TrainingEscrow} from "../../src/TrainingEscrow.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Escrow} from "../../src/types/EscrowTypes.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {Base} from "../utils/Base.t.sol";

/// @notice Receipts, digests, leaves, signatures and proofs made by independent implementations
/// are accepted on-chain:
/// - `interop-viem.json`: viem `signTypedData`/`hashTypedData` and OpenZeppelin's
///   `StandardMerkleTree` (tests/interop/make-fixture.mjs);
/// - `interop-rust.json`: the `fairtrain-protocol` crate (alloy signer, rs_merkle tree;
///   protocol/tests/it/interop.rs).
/// Each test deploys the escrow at the fixture's verifying contract on the fixture's chain, sets up
/// the fixture's licenses (ids 1..n, minted in order), payers, signers and acceptances, commits the
/// fixture's root and claims its receipts with the fixture's signatures and proofs.
contract InteropTest is Base {
    using stdJson for string;

    string internal constant VIEM = "interop-viem.json";
    string internal constant RUST = "interop-rust.json";

    struct Fixture {
        uint256 chainId;
        address verifyingContract;
        bytes32 root;
        uint256[] prices; // by license id - 1
        Escrow.Receipt[] receipts;
        address[] signers;
        bytes[] signatures;
        bytes32[] digests;
        bytes32[] leaves;
        bytes32[][] proofs;
    }

    /// @dev The test's own model of settlement: samples settled so far per usage key.
    mapping(bytes32 usageKey => uint64) private _modelSettled;
    mapping(address payer => bool) private _funded;
    mapping(address payer => mapping(address signer => bool)) private _registered;
    mapping(bytes32 acceptanceKey => bool) private _accepted;
    address[] private _payers;

    /*//////////////////////////////////////////////////////////////
                                 TESTS
    //////////////////////////////////////////////////////////////*/

    function test_ViemFixture_DigestsLeavesAndSignersMatch() public {
        _assertHashesMatch(_deploy(_load(VIEM)));
    }

    function test_RustFixture_DigestsLeavesAndSignersMatch() public {
        _assertHashesMatch(_deploy(_load(RUST)));
    }

    function test_ViemFixture_ClaimsPayExactAmounts() public {
        _claimOneByOne(_deploy(_load(VIEM)));
    }

    function test_RustFixture_ClaimsPayExactAmounts() public {
        _claimOneByOne(_deploy(_load(RUST)));
    }

    function test_ViemFixture_ClaimAllInOneCall() public {
        _claimAllAtOnce(_deploy(_load(VIEM)));
    }

    function test_RustFixture_ClaimAllInOneCall() public {
        _claimAllAtOnce(_deploy(_load(RUST)));
    }

    /// @dev The receipts are bound to the fixture's domain: the same escrow code at another address
    /// computes other digests, so the fixture's proofs do not prove its leaves there.
    function test_RevertWhen_FixtureClaimedAtAnotherAddress() public {
        Fixture memory f = _load(VIEM);
        assertTrue(address(escrow) != f.verifyingContract);
        _setUpParties(f);
        uint128[] memory totals = _expectedTotals(f);
        _commit(f, totals);

        bytes32 leafHere = escrow.receiptLeaf(f.receipts[0]);
        assertTrue(leafHere != f.leaves[0]);
        vm.expectRevert(abi.encodeWithSelector(Errors.TrainingEscrow_InvalidProof.selector, f.root, leafHere));
        escrow.claim(f.root, one(_claim(f, 0)));
    }

    /// @dev Claims stay bound to their own batch: a viem proof does not open the Rust root.
    function test_RevertWhen_ProofAgainstOtherFixtureRoot() public {
        Fixture memory viem = _deploy(_load(VIEM));
        Fixture memory rust = _load(RUST);
        _commit(viem, _expectedTotals(viem));

        vm.expectRevert(
            abi.encodeWithSelector(Errors.TrainingEscrow_InvalidProof.selector, rust.root, viem.leaves[0])
        );
        escrow.claim(rust.root, one(_claim(viem, 0)));
    }

    /*//////////////////////////////////////////////////////////////
                                 CHECKS
    //////////////////////////////////////////////////////////////*/

    function _assertHashesMatch(Fixture memory f) private view {
        assertEq(block.chainid, f.chainId);
        assertEq(address(escrow), f.verifyingContract);
        for (uint256 i; i < f.receipts.length; ++i) {
            assertEq(escrow.receiptDigest(f.receipts[i]), f.digests[i], "digest");
            assertEq(escrow.receiptLeaf(f.receipts[i]), f.leaves[i], "leaf");
            assertEq(ECDSA.recover(f.digests[i], f.signatures[i]), f.signers[i], "signer");
        }
    }

    /// @dev Claims each receipt in its own call, in fixture order, and checks what each one pays
    /// against the test's model: (cumulative - settled) * price, split into fee and payout.
    function _claimOneByOne(Fixture memory f) private {
        uint128[] memory totals = _expectedTotals(f);
        _commit(f, totals);

        uint256 fees;
        for (uint256 i; i < f.receipts.length; ++i) {
            Escrow.Receipt memory r = f.receipts[i];
            uint256 amount = _modelCharge(f, r);
            (uint256 fee, uint256 payout) = split(amount, FEE_BPS);
            address holder = nft.ownerOf(r.licenseId);
            uint256 holderBefore = usdc.balanceOf(holder);

            vm.prank(anyone);
            uint256 paid = escrow.claim(f.root, one(_claim(f, i)));

            assertEq(paid, amount, "paid");
            assertEq(usdc.balanceOf(holder) - holderBefore, payout, "payout");
            fees += fee;
            assertEq(_platformFees(), fees, "fees");
            assertEq(escrow.settledSamples(escrow.usageKey(r)), _modelSettled[escrow.usageKey(r)], "settled");
        }
        _assertDrained(f);

        // Replaying the whole batch pays nothing more.
        vm.prank(anyone);
        assertEq(escrow.claim(f.root, _claims(f)), 0);
    }

    /// @dev Claims every receipt in one call and checks the total and each holder's payout.
    function _claimAllAtOnce(Fixture memory f) private {
        uint128[] memory totals = _expectedTotals(f);
        _commit(f, totals);

        uint256 total;
        uint256 fees;
        uint256[] memory payouts = new uint256[](f.prices.length);
        for (uint256 i; i < f.receipts.length; ++i) {
            uint256 amount = _modelCharge(f, f.receipts[i]);
            (uint256 fee, uint256 payout) = split(amount, FEE_BPS);
            total += amount;
            fees += fee;
            payouts[f.receipts[i].licenseId - 1] += payout;
        }

        vm.prank(anyone);
        assertEq(escrow.claim(f.root, _claims(f)), total, "paid");

        for (uint256 id = 1; id <= f.prices.length; ++id) {
            assertEq(usdc.balanceOf(nft.ownerOf(id)), payouts[id - 1], "holder payout");
        }
        assertEq(_platformFees(), fees, "fees");
        _assertDrained(f);
    }

    /// @dev Every reservation was exactly consumed (each payer's line has nothing reserved left),
    /// and the escrow's books balance.
    function _assertDrained(Fixture memory) private view {
        uint256 held;
        for (uint256 p; p < _payers.length; ++p) {
            Escrow.CreditLine memory line = escrow.creditLine(_payers[p], relayer, address(usdc));
            assertEq(line.reserved, 0, "reserved");
            held += escrow.availableBalance(_payers[p], address(usdc)) + line.credit + line.fees;
        }
        assertEq(usdc.balanceOf(address(escrow)), held + escrow.accruedFees(address(usdc)), "conservation");
    }

    /// @dev Platform fees: accrued plus those still on the payers' lines (claims leave them there).
    function _platformFees() private view returns (uint256 total) {
        total = escrow.accruedFees(address(usdc));
        for (uint256 p; p < _payers.length; ++p) {
            total += escrow.creditLine(_payers[p], relayer, address(usdc)).fees;
        }
    }

    /*//////////////////////////////////////////////////////////////
                                 MODEL
    //////////////////////////////////////////////////////////////*/

    /// @dev What claiming `r` charges, advancing the model (the fixtures have no sample caps and
    /// no expiry).
    function _modelCharge(Fixture memory f, Escrow.Receipt memory r) private returns (uint256) {
        bytes32 key = keccak256(abi.encode(r.payer, r.licenseId, r.termsId, r.runId));
        uint64 settled = _modelSettled[key];
        if (r.cumulativeSamples <= settled) return 0;
        _modelSettled[key] = r.cumulativeSamples;
        return uint256(r.cumulativeSamples - settled) * f.prices[r.licenseId - 1];
    }

    /// @dev Total charge per payer (in `_payers` order) if every receipt is claimed in order,
    /// computed on a scratch copy of the model.
    function _expectedTotals(Fixture memory f) private returns (uint128[] memory totals) {
        totals = new uint128[](_payers.length);
        bytes32[] memory keys = new bytes32[](f.receipts.length);
        uint64[] memory saved = new uint64[](f.receipts.length);
        for (uint256 i; i < f.receipts.length; ++i) {
            Escrow.Receipt memory r = f.receipts[i];
            keys[i] = keccak256(abi.encode(r.payer, r.licenseId, r.termsId, r.runId));
            saved[i] = _modelSettled[keys[i]];
        }
        for (uint256 i; i < f.receipts.length; ++i) {
            totals[_payerIndex(f.receipts[i].payer)] += uint128(_modelCharge(f, f.receipts[i]));
        }
        for (uint256 i; i < f.receipts.length; ++i) {
            _modelSettled[keys[i]] = saved[i];
        }
    }

    /*//////////////////////////////////////////////////////////////
                                 SETUP
    //////////////////////////////////////////////////////////////*/

    function _load(string memory name) private view returns (Fixture memory f) {
        string memory json = vm.readFile(string.concat(vm.projectRoot(), "/contracts/test/fixtures/", name));
        f.chainId = json.readUint(".chainId");
        f.verifyingContract = json.readAddress(".verifyingContract");
        f.root = json.readBytes32(".root");
        f.digests = json.readBytes32Array(".digests");
        f.leaves = json.readBytes32Array(".leaves");
        f.signers = json.readAddressArray(".signers");
        uint256 n = f.digests.length;
        assertEq(f.leaves.length, n);
        assertEq(f.signers.length, n);

        f.receipts = new Escrow.Receipt[](n);
        f.signatures = new bytes[](n);
        f.proofs = new bytes32[][](n);
        for (uint256 i; i < n; ++i) {
            string memory at = string.concat(".receipts[", vm.toString(i), "]");
            f.receipts[i] = Escrow.Receipt({
                payer: json.readAddress(string.concat(at, ".payer")),
                licenseId: json.readUint(string.concat(at, ".licenseId")),
                termsId: uint64(json.readUint(string.concat(at, ".termsId"))),
                runId: json.readBytes32(string.concat(at, ".runId")),
                cumulativeSamples: uint64(json.readUint(string.concat(at, ".cumulativeSamples"))),
                issuedAt: uint64(json.readUint(string.concat(at, ".issuedAt")))
            });
            f.signatures[i] = json.readBytes(string.concat(".signatures[", vm.toString(i), "]"));
            f.proofs[i] = json.readBytes32Array(string.concat(".proofs[", vm.toString(i), "]"));
        }

        uint256 licenses;
        while (json.keyExists(string.concat(".licenses[", vm.toString(licenses), "]"))) {
            ++licenses;
        }
        f.prices = new uint256[](licenses);
        for (uint256 i; i < licenses; ++i) {
            string memory at = string.concat(".licenses[", vm.toString(i), "]");
            assertEq(json.readUint(string.concat(at, ".licenseId")), i + 1, "license ids are 1..n");
            f.prices[i] = json.readUint(string.concat(at, ".pricePerSample"));
        }
    }

    /// @dev Deploys the escrow at the fixture's address on the fixture's chain and sets up parties.
    function _deploy(Fixture memory f) private returns (Fixture memory) {
        vm.chainId(f.chainId);
        deployCodeTo(
            "TrainingEscrow.sol:TrainingEscrow",
            abi.encode(address(nft), owner, FEE_BPS, NOTICE, CLAIM_WINDOW),
            f.verifyingContract
        );
        escrow = TrainingEscrow(f.verifyingContract);
        vm.label(address(escrow), "TrainingEscrow@fixture");
        vm.prank(owner);
        escrow.setTokenAllowed(address(usdc), true);
        _setUpParties(f);
        return f;
    }

    /// @dev Mints licenses 1..n (each to its own creator, with its own price, hence its own terms
    /// id), funds payers, registers their signers and accepts the terms the receipts name, then
    /// waits until every acceptance is chargeable (the batch is committed after that).
    function _setUpParties(Fixture memory f) private {
        uint40 chargeableFrom;
        for (uint256 i; i < f.prices.length; ++i) {
            License.Terms memory t = defaultTerms();
            t.pricePerSample = uint96(f.prices[i]);
            address holder = makeAddr(string.concat("creator-", vm.toString(i + 1)));
            uint256 id = mintLicense(holder, t, keccak256(abi.encode("manifest", i + 1)));
            assertEq(id, i + 1, "license id");
        }
        for (uint256 i; i < f.receipts.length; ++i) {
            Escrow.Receipt memory r = f.receipts[i];
            (uint64 current,) = nft.currentTerms(r.licenseId);
            assertEq(current, r.termsId, "terms id");
            if (!_funded[r.payer]) {
                _funded[r.payer] = true;
                _payers.push(r.payer);
                usdc.mint(r.payer, BUDGET);
                vm.startPrank(r.payer);
                usdc.approve(address(escrow), BUDGET);
                escrow.deposit(address(usdc), BUDGET);
                escrow.fundCredit(relayer, address(usdc), uint128(BUDGET));
                vm.stopPrank();
            }
            if (!_registered[r.payer][f.signers[i]]) {
                _registered[r.payer][f.signers[i]] = true;
                vm.prank(r.payer);
                escrow.registerSigner(f.signers[i]);
            }
            bytes32 key = keccak256(abi.encode(r.payer, r.licenseId, r.termsId));
            if (!_accepted[key]) {
                _accepted[key] = true;
                vm.prank(r.payer);
                escrow.acceptTerms(r.licenseId, r.termsId);
                uint40 from = escrow.acceptance(r.payer, r.licenseId, r.termsId).chargeableFrom;
                if (from > chargeableFrom) chargeableFrom = from;
            }
        }
        assertEq(chargeableFrom, uint40(block.timestamp) + NOTICE, "chargeable after the notice");
        vm.warp(chargeableFrom);
    }

    /// @dev Commits the fixture's root as the relayer, reserving each payer's expected total.
    function _commit(Fixture memory f, uint128[] memory totals) private {
        Escrow.ReservationRequest[] memory reservations = new Escrow.ReservationRequest[](_payers.length);
        for (uint256 p; p < _payers.length; ++p) {
            reservations[p] =
                Escrow.ReservationRequest({payer: _payers[p], token: address(usdc), amount: totals[p]});
        }
        vm.prank(relayer);
        escrow.commitBatch(
            f.root, uint32(f.receipts.length), keccak256("interop-batch"), "ipfs://interop", reservations
        );
    }

    function _claim(Fixture memory f, uint256 i) private pure returns (Escrow.Claim memory) {
        return Escrow.Claim({receipt: f.receipts[i], signature: f.signatures[i], proof: f.proofs[i]});
    }

    function _claims(Fixture memory f) private pure returns (Escrow.Claim[] memory list) {
        list = new Escrow.Claim[](f.receipts.length);
        for (uint256 i; i < list.length; ++i) {
            list[i] = _claim(f, i);
        }
    }

    function _payerIndex(address who) private view returns (uint256) {
        for (uint256 p; p < _payers.length; ++p) {
            if (_payers[p] == who) return p;
        }
        revert("unknown payer");
    }
}
