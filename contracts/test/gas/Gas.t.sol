// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {Escrow} from "../../src/types/EscrowTypes.sol";
import {License} from "../../src/types/LicenseTypes.sol";
import {Base} from "../utils/Base.t.sol";
import {MerkleBuilder} from "../utils/MerkleBuilder.sol";

/// @notice Gas per transaction of the main operations. Run with `--isolate` so that every call
/// is its own transaction (intrinsic gas, calldata and cold storage included), as on a chain:
///   forge test --isolate --match-path 'contracts/test/gas/*' -vv
/// Each figure is recorded in snapshots/gas.json (`vm.snapshotGasLastCall`) and logged as
/// `name: value unit` for scripts/bench.
contract GasTest is Base {
    string private constant GROUP = "gas";

    uint256 private licenseId;

    function setUp() public override {
        super.setUp();
        licenseId = mintLicense();
        // Half of the budget on `relayer`'s credit line, half available (see Base.setUpPayer).
        setUpPayer(payer, signerKey, BUDGET);
        accept(payer, licenseId);
        // The payee already holds some of the payment token, as a returning creator would.
        usdc.mint(creator, 1);
        // The line has been used and fees have accrued before, as on a live deployment.
        _settleOnce(keccak256("warm-up"), 1);
        escrow.sweepFees(payer, relayer, address(usdc));
    }

    /*//////////////////////////////////////////////////////////////
                               LICENSES
    //////////////////////////////////////////////////////////////*/

    function test_Gas_Mint() public {
        License.Terms memory t = defaultTerms();
        t.uri = "ipfs://terms/commercial-v2";
        vm.prank(creator);
        nft.mint(License.MintRequest({terms: t, manifestHash: keccak256("manifest-2"), royaltyBps: 500}));
        _record("mint_new_terms", 1);
        vm.prank(creator);
        nft.mint(License.MintRequest({terms: t, manifestHash: keccak256("manifest-3"), royaltyBps: 500}));
        _record("mint_existing_terms", 1);
    }

    function test_Gas_MintBatch10() public {
        License.MintRequest[] memory requests = new License.MintRequest[](10);
        for (uint256 i; i < 10; ++i) {
            requests[i] = License.MintRequest({
                terms: defaultTerms(), manifestHash: keccak256(abi.encode("batch", i)), royaltyBps: 500
            });
        }
        vm.prank(creator);
        nft.mintBatch(requests);
        _record("mint_batch_10_per_license", 10);
    }

    /*//////////////////////////////////////////////////////////////
                                PAYERS
    //////////////////////////////////////////////////////////////*/

    function test_Gas_Deposit() public {
        address newPayer = makeAddr("new-payer");
        usdc.mint(newPayer, 2e18);
        vm.prank(newPayer);
        usdc.approve(address(escrow), type(uint256).max);
        vm.prank(newPayer);
        escrow.deposit(address(usdc), 1e18);
        _record("deposit_first", 1);
        vm.prank(newPayer);
        escrow.deposit(address(usdc), 1e18);
        _record("deposit_top_up", 1);
    }

    function test_Gas_DepositWithPermit() public {
        uint256 key = 0xB0B;
        address newPayer = vm.addr(key);
        usdc.mint(newPayer, 1e18);
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
                ),
                newPayer,
                address(escrow),
                1e18,
                0,
                block.timestamp
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(key, keccak256(abi.encodePacked("\x19\x01", usdc.DOMAIN_SEPARATOR(), structHash)));
        vm.prank(anyone);
        escrow.depositWithPermit(newPayer, address(usdc), 1e18, block.timestamp, v, r, s);
        _record("deposit_with_permit_first", 1);
    }

    function test_Gas_FundCredit() public {
        vm.prank(payer);
        escrow.fundCredit(makeAddr("new-relayer"), address(usdc), 1e18);
        _record("fund_credit_new_line", 1);
        vm.prank(payer);
        escrow.fundCredit(relayer, address(usdc), 1e18);
        _record("fund_credit_top_up", 1);
    }

    function test_Gas_CreditReduction() public {
        vm.prank(payer);
        escrow.requestCreditReduction(relayer, address(usdc), 1e18);
        _record("request_credit_reduction", 1);
        vm.warp(block.timestamp + NOTICE);
        vm.prank(payer);
        escrow.reduceCredit(relayer, address(usdc));
        _record("reduce_credit", 1);
    }

    function test_Gas_AcceptTerms() public {
        uint256 other = mintLicense(creator, defaultTerms(), keccak256("manifest-accept"));
        (uint64 termsId,) = nft.currentTerms(other);
        vm.prank(payer);
        escrow.acceptTerms(other, termsId);
        _record("accept_terms", 1);
    }

    /*//////////////////////////////////////////////////////////////
                                BATCHES
    //////////////////////////////////////////////////////////////*/

    /// @dev Commit cost does not depend on the number of receipts: only the root is stored.
    function test_Gas_CommitOnePayer() public {
        uint32[3] memory counts = [uint32(1), 100, 10_000];
        string[3] memory names =
            ["commit_1_payer_1_receipt", "commit_1_payer_100_receipts", "commit_1_payer_10k_receipts"];
        for (uint256 i; i < counts.length; ++i) {
            Escrow.ReservationRequest[] memory reservations = new Escrow.ReservationRequest[](1);
            reservations[0] = Escrow.ReservationRequest({payer: payer, token: address(usdc), amount: 1e18});
            bytes32 root = keccak256(abi.encode("root", i));
            vm.prank(relayer);
            escrow.commitBatch(
                root,
                counts[i],
                keccak256(abi.encode("data", i)),
                "ipfs://bafybeigdyrztbatchdata",
                reservations
            );
            _record(names[i], 1);
        }
    }

    /// @dev Ten payers whose lines were funded but never reserved into (or were released since):
    /// each line's first slot goes from zero to non-zero.
    function test_Gas_CommitTenPayers() public {
        Escrow.ReservationRequest[] memory reservations = _tenPayers();
        vm.prank(relayer);
        escrow.commitBatch(
            keccak256("ten"), 1000, keccak256("data"), "ipfs://bafybeigdyrztbatchdata", reservations
        );
        _record("commit_10_payers_per_payer", 10);
    }

    /// @dev Ten payers whose lines hold an earlier, unexpired batch: the steady state of a relayer
    /// committing every few minutes.
    function test_Gas_CommitTenPayersLinesInUse() public {
        Escrow.ReservationRequest[] memory reservations = _tenPayers();
        vm.prank(relayer);
        escrow.commitBatch(keccak256("earlier"), 1000, keccak256("data-0"), "ipfs://earlier", reservations);
        vm.warp(block.timestamp + 10 minutes);
        vm.prank(relayer);
        escrow.commitBatch(
            keccak256("ten"), 1000, keccak256("data"), "ipfs://bafybeigdyrztbatchdata", reservations
        );
        _record("commit_10_payers_lines_in_use_per_payer", 10);
    }

    /// @dev Ten funded payers (half of 1e18 each on `relayer`'s line) and a reservation of each.
    function _tenPayers() private returns (Escrow.ReservationRequest[] memory reservations) {
        reservations = new Escrow.ReservationRequest[](10);
        for (uint256 i; i < 10; ++i) {
            uint256 key = 0x1000 + i;
            address who = vm.addr(key);
            setUpPayer(who, key, 1e18);
            reservations[i] = Escrow.ReservationRequest({payer: who, token: address(usdc), amount: 1e17});
        }
    }

    /*//////////////////////////////////////////////////////////////
                                CLAIMS
    //////////////////////////////////////////////////////////////*/

    /// @dev One leaf, key settled before, payee already holds the token: the common case.
    function test_Gas_ClaimOneLeafWarm() public {
        Escrow.Claim[] memory claims = _batch(1, keccak256("warm-up"), 1, 1000, 1);
        escrow.claim(_root, claims);
        _record("claim_1_leaf_settled_key", 1);
    }

    /// @dev One leaf on a key never settled before, payee holding none of the token yet.
    function test_Gas_ClaimOneLeafFirstEver() public {
        uint256 fresh = mintLicense(makeAddr("new-creator"), defaultTerms(), keccak256("manifest-fresh"));
        accept(payer, fresh);
        Escrow.Receipt[] memory receipts = single(receipt(payer, fresh, keccak256("fresh-run"), 1000));
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, receipts, 1000 * PRICE);
        escrow.claim(root, claims);
        _record("claim_1_leaf_first_ever", 1);
    }

    /// @dev Ten leaves (ten runs) for the same payee, keys settled before.
    function test_Gas_ClaimTenLeavesWarm() public {
        for (uint256 i; i < 10; ++i) {
            _settleOnce(keccak256(abi.encode("run", i)), 1);
        }
        Escrow.Claim[] memory claims = _batch(10, bytes32(0), 1, 1000, 10);
        escrow.claim(_root, claims);
        _record("claim_10_leaves_settled_keys_per_leaf", 10);
    }

    /// @dev Ten leaves on keys never settled before.
    function test_Gas_ClaimTenLeavesFirst() public {
        Escrow.Claim[] memory claims = _batch(10, bytes32(0), 0, 1000, 10);
        escrow.claim(_root, claims);
        _record("claim_10_leaves_new_keys_per_leaf", 10);
    }

    function test_Gas_SettleDirect() public {
        Escrow.Receipt memory r = receipt(payer, licenseId, keccak256("warm-up"), 1000);
        bytes memory signature = sign(signerKey, r);
        vm.prank(anyone);
        escrow.settleDirect(r, signature);
        _record("settle_direct_settled_key", 1);
    }

    /// @dev Release of a line whose batches expired, after a claim: reserved funds return to
    /// credit and the claim's fee is swept.
    function test_Gas_Release() public {
        // A batch that reserved more than its claim used: a surplus to return, a fee to sweep.
        Escrow.Receipt[] memory receipts = single(receipt(payer, licenseId, keccak256("before-release"), 1));
        (bytes32 root, Escrow.Claim[] memory claims) = commitBatch(signerKey, payer, receipts, 1000 * PRICE);
        escrow.claim(root, claims);
        vm.warp(block.timestamp + CLAIM_WINDOW);
        vm.prank(anyone);
        escrow.release(payer, relayer, address(usdc));
        _record("release", 1);
    }

    /// @dev Sweep of a line's fees to the platform's balance (already non-zero).
    function test_Gas_SweepFees() public {
        _settleOnce(keccak256("before-sweep"), 1000);
        vm.prank(anyone);
        escrow.sweepFees(payer, relayer, address(usdc));
        _record("sweep_fees", 1);
    }

    /// @dev Claim cost as the batch grows: the proof grows by one node per doubling, so gas grows
    /// with log2(leaves). Other leaves are random; the claimed leaf is real.
    function test_Gas_ClaimByBatchSize() public {
        // A tree of n leaves has proofs of ceil(log2(n)) nodes: 0 for 1 leaf, 7 for 100, 14 for 10k.
        uint256[3] memory depths = [uint256(0), 7, 14];
        string[3] memory names =
            ["claim_1_leaf_batch_of_1", "claim_1_leaf_batch_of_100", "claim_1_leaf_batch_of_10k"];
        for (uint256 i; i < depths.length; ++i) {
            Escrow.Receipt memory r = receipt(payer, licenseId, keccak256("warm-up"), uint64(1000 * (i + 2)));
            bytes32[] memory proof = new bytes32[](depths[i]);
            for (uint256 j; j < proof.length; ++j) {
                proof[j] = keccak256(abi.encode("sibling", i, j));
            }
            bytes32 root = MerkleProof.processProof(proof, leafOf(r));
            _commit(root, 10_000 * PRICE);
            escrow.claim(root, one(Escrow.Claim({receipt: r, signature: sign(signerKey, r), proof: proof})));
            _record(names[i], 1);
        }
    }

    /// @dev Claim cost does not depend on how many samples a leaf settles: 1, 1k or 1M samples
    /// cost the same, so gas per sample falls in proportion.
    function test_Gas_ClaimBySamples() public {
        uint64[3] memory added = [uint64(1), 1000, 1_000_000];
        string[3] memory names =
            ["claim_1_leaf_1_sample", "claim_1_leaf_1k_samples", "claim_1_leaf_1m_samples"];
        uint64 cumulative = 1;
        for (uint256 i; i < added.length; ++i) {
            cumulative += added[i];
            Escrow.Receipt memory r = receipt(payer, licenseId, keccak256("warm-up"), cumulative);
            bytes32[] memory proof = new bytes32[](7);
            for (uint256 j; j < proof.length; ++j) {
                proof[j] = keccak256(abi.encode("sibling", i, j));
            }
            bytes32 root = MerkleProof.processProof(proof, leafOf(r));
            _commit(root, uint128(added[i]) * PRICE);
            escrow.claim(root, one(Escrow.Claim({receipt: r, signature: sign(signerKey, r), proof: proof})));
            _record(names[i], 1);
        }
    }

    /*//////////////////////////////////////////////////////////////
                                HELPERS
    //////////////////////////////////////////////////////////////*/

    bytes32 private _root;

    /// @dev Commits and claims one receipt so that the usage key and fee slots are non-zero.
    function _settleOnce(bytes32 runId, uint64 cumulative) private {
        Escrow.Receipt[] memory receipts = single(receipt(payer, licenseId, runId, cumulative));
        (bytes32 root, Escrow.Claim[] memory claims) =
            commitBatch(signerKey, payer, receipts, uint128(cumulative) * PRICE);
        escrow.claim(root, claims);
    }

    /// @dev Commits a batch of `n` receipts on runs `run-0..` (or `runId` if n == 1), each at
    /// `base + added` cumulative samples, and returns the claims.
    function _batch(uint256 n, bytes32 runId, uint64 base, uint64 added, uint256 leaves)
        private
        returns (Escrow.Claim[] memory claims)
    {
        Escrow.Receipt[] memory receipts = new Escrow.Receipt[](n);
        for (uint256 i; i < n; ++i) {
            bytes32 run = n == 1 ? runId : keccak256(abi.encode("run", i));
            receipts[i] = receipt(payer, licenseId, run, base + added);
        }
        bytes32 root;
        (root, claims) = commitBatch(signerKey, payer, receipts, uint128(added) * PRICE * uint128(leaves));
        _root = root;
    }

    function _commit(bytes32 root, uint128 amount) private {
        Escrow.ReservationRequest[] memory reservations = new Escrow.ReservationRequest[](1);
        reservations[0] = Escrow.ReservationRequest({payer: payer, token: address(usdc), amount: amount});
        vm.prank(relayer);
        escrow.commitBatch(root, 1, bytes32(0), "", reservations);
    }

    /// @dev Records the last call's gas, divided by `per` (e.g. per leaf), and logs it.
    function _record(string memory name, uint256 per) private {
        uint256 gas = vm.snapshotGasLastCall(GROUP, name) / per;
        if (per != 1) vm.snapshotValue(GROUP, name, gas);
        emit log_named_uint(string.concat("gas.", name), gas);
    }
}
