// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Escrow} from "../../src/types/EscrowTypes.sol";
import {AttackBase} from "./AttackBase.sol";

/// @notice Claim order (issue 12 item 1). Batch B1 commits run R of license L1 at 100 samples and
/// reserves 100p; batch B2 commits the same run at 150 and license L2 (another creator) at 100,
/// and reserves 50p + 100p. With per-batch reservations, claiming B2's L1 leaf first drew 150p
/// from B2 and left L2's committed receipt unpayable (and, with nothing available, not settleable
/// directly either). Both batches now reserve into one pool, the relayer's credit line, so every
/// committed receipt stays payable until its batch expires, whatever was claimed or settled
/// directly before it. These tests try every order.
contract ClaimOrderAttackTest is AttackBase {
    address internal creatorB = makeAddr("creatorB");
    uint256 internal l1;
    uint256 internal l2;

    /// @dev The three committed receipts: 0 = B1's L1 leaf (100), 1 = B2's L1 leaf (150),
    /// 2 = B2's L2 leaf (100).
    Escrow.Receipt[3] internal receipts;
    Escrow.Claim[3] internal claims;
    bytes32[3] internal rootOf;
    uint40 internal b1ExpiresAt;
    uint40 internal b2ExpiresAt;

    function setUp() public override {
        super.setUp();
        l1 = mintLicense();
        l2 = mintLicense(creatorB, defaultTerms(), keccak256("manifest-2"));
        // Nothing available: the line holds all the payer gave the relayer, exactly what the
        // relayer accepted (250 samples at PRICE).
        setUpPayerIn(address(usdc), payer, signerKey, 0, 250 * PRICE);
        accept(payer, l1);
        accept(payer, l2);

        receipts[0] = receipt(payer, l1, RUN, 100);
        (bytes32 b1, Escrow.Claim[] memory c1) =
            commitBatch(signerKey, payer, single(receipts[0]), 100 * PRICE);
        b1ExpiresAt = escrow.reservation(b1, payer, address(usdc)).expiresAt;
        vm.warp(block.timestamp + 1 hours);
        receipts[1] = receipt(payer, l1, RUN, 150);
        receipts[2] = receipt(payer, l2, RUN, 100);
        // The relayer's line is locked (B1 not released), so B2 prices L1 over B1's count: 50p.
        (bytes32 b2, Escrow.Claim[] memory c2) =
            commitBatch(signerKey, payer, pair(receipts[1], receipts[2]), 50 * PRICE + 100 * PRICE);
        b2ExpiresAt = escrow.reservation(b2, payer, address(usdc)).expiresAt;
        (rootOf[0], rootOf[1], rootOf[2]) = (b1, b2, b2);
        (claims[0], claims[1], claims[2]) = (c1[0], c2[0], c2[1]);
        assertEq(reservedOf(payer), 250 * PRICE);
        assertEq(creditOf(payer), 0);
        assertEq(escrow.availableBalance(payer, address(usdc)), 0);
    }

    function permutations() internal pure returns (uint8[3][6] memory) {
        return [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    }

    /// @dev What settling receipt `i` pays now: its increase over the settled count.
    function owed(uint256 i) internal view returns (uint256) {
        uint64 settled = escrow.settledSamples(escrow.usageKey(receipts[i]));
        uint64 cumulative = receipts[i].cumulativeSamples;
        return cumulative > settled ? uint256(cumulative - settled) * PRICE : 0;
    }

    /// @dev Settles receipt `i` by a claim of its batch or directly, and checks it paid exactly
    /// what it owed, to the holder of its license.
    function settle(uint256 i, bool direct) internal {
        uint256 expected = owed(i);
        address holder = receipts[i].licenseId == l1 ? creator : creatorB;
        uint256 before = usdc.balanceOf(holder);
        uint256 paid = direct
            ? escrow.settleDirect(receipts[i], claims[i].signature)
            : escrow.claim(rootOf[i], one(claims[i]));
        assertEq(paid, expected, "paid != owed");
        (, uint256 payout) = split(expected, FEE_BPS);
        assertEq(usdc.balanceOf(holder) - before, payout, "holder not paid what it is owed");
    }

    /// The issue's scenario in all six orders of claims, the last claim a second before B1
    /// expires: every claim pays exactly its increase, L1's creator gets 150p and L2's 100p, and
    /// the pool is drained exactly.
    function test_Claim_EveryOrderPaysEveryCommittedReceipt() public {
        vm.warp(b1ExpiresAt - 1);
        uint8[3][6] memory orders = permutations();
        for (uint256 o; o < orders.length; ++o) {
            uint256 snapshot = vm.snapshotState();
            for (uint256 s; s < 3; ++s) {
                settle(orders[o][s], false);
            }
            (uint256 fee150, uint256 payout150) = split(150 * PRICE, FEE_BPS);
            (uint256 fee100, uint256 payout100) = split(100 * PRICE, FEE_BPS);
            assertEq(usdc.balanceOf(creator), payout150);
            assertEq(usdc.balanceOf(creatorB), payout100);
            Escrow.CreditLine memory line = lineIn(payer, relayer, address(usdc));
            assertEq(line.reserved, 0);
            assertEq(line.fees, fee150 + fee100);
            assertConserved(address(usdc), list1(payer));
            vm.revertToState(snapshot);
        }
    }

    /// Every order of the three receipts, each settled either by a claim of its batch or directly
    /// from the payer's available balance (48 sequences, the payer having topped up its available
    /// balance): nothing reverts, every step pays exactly what is owed, direct settlements draw
    /// on the available balance only and claims on the line only, and what the line kept goes
    /// back to its credit once B2 expires.
    function test_EveryOrderOfClaimsAndDirectSettlementsPaysExactly() public {
        usdc.mint(anyone, 250 * PRICE);
        vm.startPrank(anyone);
        usdc.approve(address(escrow), 250 * PRICE);
        escrow.depositFor(payer, address(usdc), 250 * PRICE);
        vm.stopPrank();

        uint8[3][6] memory orders = permutations();
        for (uint256 o; o < orders.length; ++o) {
            for (uint256 mode; mode < 8; ++mode) {
                uint256 snapshot = vm.snapshotState();
                uint256 direct;
                uint256 claimed;
                for (uint256 s; s < 3; ++s) {
                    uint256 i = orders[o][s];
                    bool isDirect = (mode >> s) & 1 == 1;
                    uint256 amount = owed(i);
                    settle(i, isDirect);
                    if (isDirect) direct += amount;
                    else claimed += amount;
                }
                assertEq(direct + claimed, 250 * PRICE, "total != usage");
                assertEq(escrow.availableBalance(payer, address(usdc)), 250 * PRICE - direct);
                assertEq(reservedOf(payer), 250 * PRICE - claimed);
                vm.warp(b2ExpiresAt);
                assertEq(escrow.release(payer, relayer, address(usdc)), 250 * PRICE - claimed);
                assertEq(creditOf(payer), 250 * PRICE - claimed);
                assertConserved(address(usdc), list1(payer));
                vm.revertToState(snapshot);
            }
        }
    }

    /// A direct settlement of a committed receipt (B2's L1 leaf, from the available balance)
    /// strands no committed receipt: L2's leaf is still claimed in full from the line, B1's leaf
    /// adds nothing, and the pool keeps the rest until release.
    function test_SettleDirect_OfCommittedReceiptStrandsNoCommittedReceipt() public {
        usdc.mint(payer, 150 * PRICE);
        vm.startPrank(payer);
        usdc.approve(address(escrow), 150 * PRICE);
        escrow.deposit(address(usdc), 150 * PRICE);
        vm.stopPrank();

        vm.prank(creator);
        assertEq(escrow.settleDirect(receipts[1], claims[1].signature), 150 * PRICE);
        assertEq(escrow.availableBalance(payer, address(usdc)), 0);
        assertEq(reservedOf(payer), 250 * PRICE);

        vm.warp(b1ExpiresAt - 1);
        assertEq(escrow.claim(rootOf[2], one(claims[2])), 100 * PRICE);
        assertEq(escrow.claim(rootOf[0], one(claims[0])), 0);
        assertEq(reservedOf(payer), 150 * PRICE);
        (, uint256 payout100) = split(100 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creatorB), payout100);

        vm.warp(b1ExpiresAt);
        vm.expectRevert(notReleasable(payer, relayer));
        escrow.release(payer, relayer, address(usdc));
        vm.warp(b2ExpiresAt);
        assertEq(escrow.release(payer, relayer, address(usdc)), 150 * PRICE);
        assertConserved(address(usdc), list1(payer));
    }

    /// Property form: any sequence of claims of the three leaves, in any order and with repeats,
    /// at any time before B1 expires, pays L1's creator 150p and L2's 100p in total once every
    /// leaf was claimed, and no claim reverts.
    function testFuzz_AnyClaimSequencePaysInFull(uint256 seed, uint256 at) public {
        vm.warp(bound(at, block.timestamp, b1ExpiresAt - 1));
        bool[3] memory done;
        for (uint256 n; n < 8; ++n) {
            uint256 i = uint256(keccak256(abi.encode(seed, n))) % 3;
            settle(i, false);
            done[i] = true;
        }
        for (uint256 i; i < 3; ++i) {
            if (!done[i]) settle(i, false);
        }
        (, uint256 payout150) = split(150 * PRICE, FEE_BPS);
        (, uint256 payout100) = split(100 * PRICE, FEE_BPS);
        assertEq(usdc.balanceOf(creator), payout150);
        assertEq(usdc.balanceOf(creatorB), payout100);
        assertEq(reservedOf(payer), 0);
    }

    /// @dev After B1 and B2 expired and the line was released, B3 commits L2's run at 120 and B4
    /// commits L1's run at 160, reserving `b4Reserve` for it. Returns B4's root and claim.
    function commitAfterRelease(uint128 b4Reserve) internal returns (bytes32 b4, Escrow.Claim memory c4) {
        vm.warp(b2ExpiresAt);
        assertEq(escrow.release(payer, relayer, address(usdc)), 250 * PRICE);
        topUpLine(payer, relayer, address(usdc), 30 * PRICE);
        // The line is not locked (reservedUntil == 0): B3 prices over the settled count, 120p.
        (, Escrow.Claim[] memory c3) =
            commitBatch(signerKey, payer, single(receipt(payer, l2, RUN, 120)), 120 * PRICE);
        vm.warp(block.timestamp + 1 hours);
        Escrow.Claim[] memory claimsB4;
        (b4, claimsB4) = commitBatch(signerKey, payer, single(receipt(payer, l1, RUN, 160)), b4Reserve);
        c4 = claimsB4[0];
        assertEq(c3.length, 1);
    }

    /// The pricing rule counts only batches committed since the line's last release: B1 and B2
    /// counted L1's run up to 150, but their reservations went back to credit, so B4 (line locked
    /// again by B3) prices L1's run at 160 over the settled count, 0: 160p. Its claim then pays
    /// in full.
    function test_PricingAfterRelease_OverSettledPaysInFull() public {
        (bytes32 b4, Escrow.Claim memory c4) = commitAfterRelease(160 * PRICE);
        assertEq(escrow.claim(b4, one(c4)), 160 * PRICE);
        assertEq(reservedOf(payer), 120 * PRICE);
    }

    /// What the rule rules out: a relayer that priced B4 over the counts of B1 and B2 (10p)
    /// leaves its claim short (it draws 160p from a pool of 130p). The invariant campaign's honest
    /// relayer follows the rule; this pins why.
    function test_PricingAfterRelease_OverEarlierEpochUnderReserves() public {
        (bytes32 b4, Escrow.Claim memory c4) = commitAfterRelease(10 * PRICE);
        vm.expectRevert(insufficientReserved(130 * PRICE, 160 * PRICE));
        escrow.claim(b4, one(c4));
    }
}
