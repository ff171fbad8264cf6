// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Script, console2} from "forge-std/Script.sol";

import {LicenseNFT} from "../src/LicenseNFT.sol";
import {TrainingEscrow} from "../src/TrainingEscrow.sol";
import {Escrow} from "../src/types/EscrowTypes.sol";
import {License} from "../src/types/LicenseTypes.sol";
import {MockERC20} from "../test/mocks/MockERC20.sol";
import {MerkleBuilder} from "../test/utils/MerkleBuilder.sol";

/// @notice Seeds a local devnet (after Deploy.s.sol) with a small believable story, using
/// anvil's well-known test accounts, in two steps:
/// - `prepare()`: two creators mint licenses of every kind; a payer funds a training budget,
///   accepts terms, registers its training key and a relayer.
/// - `settle()`, once the acceptances are chargeable (a notice period later; on anvil,
///   `cast rpc evm_increaseTime <noticePeriod>`): the training run signs cumulative receipts; the
///   relayer commits one batch and claims it for the creators; then everything is reconciled.
///
/// Usage: forge script contracts/script/Demo.s.sol --sig 'prepare()' --rpc-url $RPC --broadcast
///        forge script contracts/script/Demo.s.sol --sig 'settle()' --rpc-url $RPC --broadcast
contract Demo is Script {
    // anvil's default accounts 1..5 (public test keys; never use them on a real chain).
    uint256 private constant CREATOR_A = 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d;
    uint256 private constant CREATOR_B = 0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a;
    uint256 private constant PAYER = 0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6;
    uint256 private constant RELAYER = 0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a;
    uint256 private constant TRAINING_KEY =
        0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba;

    LicenseNFT private nft;
    TrainingEscrow private escrow;
    MockERC20 private token;

    /// @notice Step 1: licenses, budget, acceptances, key and relayer.
    function prepare() external {
        _load();
        uint256 unit = 10 ** token.decimals();
        uint256[] memory ids = _mintLicenses(unit);
        _fundPayer(ids, unit);
        console2.log("demo.licenses_minted:", ids.length);
        console2.log("demo.chargeable_from:", _chargeableFrom(ids));
    }

    /// @notice Step 2: receipts, one batch, claims, and a reconciliation that reverts on any
    /// difference.
    function settle() external {
        _load();
        uint256[] memory ids = _demoLicenses();
        require(block.timestamp >= _chargeableFrom(ids), "demo: acceptances not chargeable yet; advance time");
        (bytes32 root, Escrow.Claim[] memory claims, uint256 total) = _trainAndCommit(ids);

        vm.broadcast(RELAYER);
        uint256 paid = escrow.claim(root, claims);

        // The demo doubles as an end-to-end check on a real node: everything reserved was paid,
        // and every unit the escrow holds is someone's available balance or an accrued fee.
        require(paid == total, "demo: paid differs from reserved");
        Escrow.CreditLine memory line = escrow.creditLine(vm.addr(PAYER), vm.addr(RELAYER), address(token));
        require(line.reserved == 0, "demo: reservation left");
        require(
            token.balanceOf(address(escrow))
                == escrow.availableBalance(vm.addr(PAYER), address(token)) + line.credit + line.reserved
                    + line.fees + escrow.accruedFees(address(token)),
            "demo: escrow balance does not reconcile"
        );

        console2.log("demo.receipts_in_batch:", claims.length);
        console2.log("demo.batch_root:", vm.toString(root));
        console2.log("demo.reserved_units:", total);
        console2.log("demo.paid_units:", paid);
        console2.log("demo.creator_a_balance_units:", token.balanceOf(vm.addr(CREATOR_A)));
        console2.log("demo.creator_b_balance_units:", token.balanceOf(vm.addr(CREATOR_B)));
        console2.log("demo.payer_available_units:", escrow.availableBalance(vm.addr(PAYER), address(token)));
    }

    function _load() private {
        string memory json = vm.readFile(string.concat(vm.projectRoot(), "/deployments/31337.json"));
        nft = LicenseNFT(vm.parseJsonAddress(json, ".licenseNFT"));
        escrow = TrainingEscrow(vm.parseJsonAddress(json, ".trainingEscrow"));
        token = MockERC20(vm.parseJsonAddressArray(json, ".paymentTokens")[0]);
    }

    /// @dev The five licenses `prepare()` minted: the last five ids.
    function _demoLicenses() private view returns (uint256[] memory ids) {
        uint256 last = nft.totalMinted();
        require(last >= 5, "demo: run prepare() first");
        ids = new uint256[](5);
        for (uint256 i; i < 5; ++i) {
            ids[i] = last - 4 + i;
        }
    }

    /// @dev When the payer's acceptances of `ids` all become chargeable.
    function _chargeableFrom(uint256[] memory ids) private view returns (uint256 latest) {
        for (uint256 i; i < ids.length; ++i) {
            (uint64 termsId,) = nft.currentTerms(ids[i]);
            uint256 from = escrow.acceptance(vm.addr(PAYER), ids[i], termsId).chargeableFrom;
            if (from > latest) latest = from;
        }
    }

    function _mintLicenses(uint256 unit) private returns (uint256[] memory ids) {
        License.MintRequest[] memory a = new License.MintRequest[](3);
        a[0] = _request(
            License.Kind.Commercial, unit / 1000, 0, "ipfs://fairtrain-demo/terms/commercial", "photos"
        );
        a[1] = _request(
            License.Kind.ResearchOnly, unit / 10_000, 0, "ipfs://fairtrain-demo/terms/research", "notes"
        );
        a[2] = _request(
            License.Kind.Evaluation, unit / 2000, 5000, "ipfs://fairtrain-demo/terms/eval", "benchmark"
        );
        vm.broadcast(CREATOR_A);
        uint256 first = nft.mintBatch(a);

        vm.startBroadcast(CREATOR_B);
        uint256 asa = nft.mint(
            _request(
                License.Kind.AttributionShareAlike,
                unit / 500,
                0,
                "ipfs://fairtrain-demo/terms/by-sa",
                "poems"
            )
        );
        uint256 custom = nft.mint(
            _request(License.Kind.Custom, unit / 100, 0, "ipfs://fairtrain-demo/terms/custom", "voice")
        );
        vm.stopBroadcast();

        ids = new uint256[](5);
        (ids[0], ids[1], ids[2], ids[3], ids[4]) = (first, first + 1, first + 2, asa, custom);
    }

    function _fundPayer(uint256[] memory ids, uint256 unit) private {
        uint256 budget = 10_000 * unit;
        vm.startBroadcast(PAYER);
        token.mint(vm.addr(PAYER), budget);
        token.approve(address(escrow), budget);
        escrow.deposit(address(token), budget);
        escrow.registerSigner(vm.addr(TRAINING_KEY));
        // The relayer reserves from a credit line the payer funds for it (half the budget).
        escrow.fundCredit(vm.addr(RELAYER), address(token), uint128(budget / 2));
        for (uint256 i; i < ids.length; ++i) {
            (uint64 termsId,) = nft.currentTerms(ids[i]);
            escrow.acceptTerms(ids[i], termsId);
        }
        vm.stopBroadcast();
    }

    /// @dev Two training runs sample from every license; the last cumulative receipt of each
    /// (run, license) goes into one batch.
    function _trainAndCommit(uint256[] memory ids)
        private
        returns (bytes32 root, Escrow.Claim[] memory claims, uint256 total)
    {
        bytes32[2] memory runs = [keccak256("demo-run-llm-7b"), keccak256("demo-run-vision-small")];
        Escrow.Receipt[] memory receipts = new Escrow.Receipt[](ids.length * 2);
        bytes32[] memory leaves = new bytes32[](receipts.length);
        for (uint256 i; i < receipts.length; ++i) {
            uint256 id = ids[i % ids.length];
            (uint64 termsId, License.Terms memory t) = nft.currentTerms(id);
            uint64 samples = uint64(1000 * (i + 1));
            receipts[i] = Escrow.Receipt({
                payer: vm.addr(PAYER),
                licenseId: id,
                termsId: termsId,
                runId: runs[i / ids.length],
                cumulativeSamples: samples,
                issuedAt: uint64(block.timestamp)
            });
            uint256 charge = uint256(samples) * t.pricePerSample;
            if (t.maxSamples != 0 && samples > t.maxSamples) {
                charge = uint256(t.maxSamples) * t.pricePerSample;
            }
            total += charge;
            leaves[i] = escrow.receiptLeaf(receipts[i]);
        }
        // Both runs sample the capped evaluation license: the cap applies across runs.
        total -= _capOverlap(receipts, ids);
        root = MerkleBuilder.root(leaves);
        claims = new Escrow.Claim[](receipts.length);
        for (uint256 i; i < receipts.length; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(TRAINING_KEY, escrow.receiptDigest(receipts[i]));
            claims[i] = Escrow.Claim({
                receipt: receipts[i],
                signature: abi.encodePacked(r, s, v),
                proof: MerkleBuilder.proof(leaves, i)
            });
        }

        Escrow.ReservationRequest[] memory reservations = new Escrow.ReservationRequest[](1);
        reservations[0] =
            Escrow.ReservationRequest({payer: vm.addr(PAYER), token: address(token), amount: uint128(total)});
        vm.broadcast(RELAYER);
        escrow.commitBatch(
            root, uint32(receipts.length), keccak256(abi.encode(receipts)), "demo://batch/1", reservations
        );
    }

    /// @dev What the per-payer cap removes when several runs of one payer use a capped license.
    function _capOverlap(Escrow.Receipt[] memory receipts, uint256[] memory ids)
        private
        view
        returns (uint256)
    {
        uint256 overlap;
        for (uint256 k; k < ids.length; ++k) {
            (, License.Terms memory t) = nft.currentTerms(ids[k]);
            if (t.maxSamples == 0) continue;
            uint256 counted;
            uint256 used;
            for (uint256 i; i < receipts.length; ++i) {
                if (receipts[i].licenseId != ids[k]) continue;
                uint256 samples = receipts[i].cumulativeSamples;
                uint256 each = samples > t.maxSamples ? t.maxSamples : samples;
                counted += each;
                uint256 left = t.maxSamples - used;
                used += samples > left ? left : samples;
            }
            overlap += (counted - used) * t.pricePerSample;
        }
        return overlap;
    }

    function _request(
        License.Kind kind,
        uint256 price,
        uint64 maxSamples,
        string memory uri,
        string memory work
    ) private view returns (License.MintRequest memory request) {
        License.Terms memory t;
        t.kind = kind;
        t.paymentToken = address(token);
        t.pricePerSample = uint96(price);
        t.maxSamples = maxSamples;
        t.uri = uri;
        t.commercialUse = kind == License.Kind.Commercial;
        t.attributionRequired = kind == License.Kind.AttributionShareAlike || kind == License.Kind.Commercial;
        t.derivatives = kind == License.Kind.AttributionShareAlike
            ? License.Derivatives.ShareAlike
            : (kind == License.Kind.Commercial ? License.Derivatives.Allowed : License.Derivatives.NotAllowed);
        request.terms = t;
        request.manifestHash = keccak256(abi.encode("fairtrain-demo-manifest", work));
        request.royaltyBps = 500;
    }
}
