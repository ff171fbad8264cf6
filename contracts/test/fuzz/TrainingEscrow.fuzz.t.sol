// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Escrow} from "../../src/types/EscrowTypes.sol";
import {EscrowHelpers} from "../unit/TrainingEscrow.Helpers.sol";

/// @notice Fuzz tests of settlement arithmetic: fee split, cumulative receipts, reservation
/// coverage and the per-acceptance sample cap. Every test ends with the conservation check.
contract TrainingEscrowFuzzTest is EscrowHelpers {
    struct Snapshot {
        uint256 payee;
        uint256 fees;
        uint256 escrow;
        uint256 available;
    }

    function snapshot(address payee) internal view returns (Snapshot memory s) {
        s = Snapshot({
            payee: usdc.balanceOf(payee), fees: allFees(), escrow: escrowBalance(), available: avail(payer)
        });
    }

    /// @dev Deposits `amount` for `payer`, registers `signerKey`, opens a line of `credit` (out of
    /// `amount`) for `relayer` and accepts.
    function fundAndAccept(uint256 licenseId, uint256 amount, uint256 credit) internal {
        setUpPayer(payer, signerKey, amount, credit);
        accept(payer, licenseId);
    }

    /// @dev The escrow holds exactly the payer's available balance, its line and accrued fees.
    function assertConserved() internal view {
        assertEq(escrowBalance(), avail(payer) + lineTotal(payer) + fees(), "conservation");
    }

    /*//////////////////////////////////////////////////////////////
                              FEE SPLIT
    //////////////////////////////////////////////////////////////*/

    /// @dev For any price, sample count and fee, `fee + payout == amount` exactly, the fee is
    /// `amount * bps / 10_000` rounded down, and the payee, fees and escrow balances move by
    /// exactly those amounts, whether settled by batch claim or directly.
    function testFuzz_Settlement_FeePlusPayoutEqualsAmount(
        uint96 price,
        uint64 samples,
        uint16 bps,
        bool direct
    ) public {
        bps = uint16(bound(bps, 0, 1000));
        // A credit line holds less than 2^104 units; the available balance up to 2^128.
        uint256 maxSamples =
            price == 0 ? type(uint64).max : (direct ? type(uint128).max : type(uint104).max) / price;
        if (maxSamples > type(uint64).max) maxSamples = type(uint64).max;
        samples = uint64(bound(samples, 1, maxSamples));
        uint256 amount = uint256(samples) * price;
        uint256 deposit = amount == 0 ? 1 : amount;

        vm.prank(owner);
        escrow.setFee(bps);
        uint256 licenseId = mintTerms(creator, price, 0, 0, "manifest-fuzz");
        // Direct settlement pays from the available balance, a batch from the line.
        fundAndAccept(licenseId, deposit, direct ? 0 : deposit);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, samples);

        uint256 paid;
        bytes32 root;
        Snapshot memory before;
        if (direct) {
            before = snapshot(creator);
            vm.prank(anyone);
            paid = escrow.settleDirect(r, sign(signerKey, r));
        } else {
            Escrow.Claim[] memory c;
            (root, c) = commitBatch(signerKey, payer, single(r), uint128(deposit));
            before = snapshot(creator);
            paid = claimAs(anyone, root, c);
        }
        Snapshot memory afterwards = snapshot(creator);

        uint256 fee = afterwards.fees - before.fees;
        uint256 payout = afterwards.payee - before.payee;
        assertEq(paid, amount, "paid");
        assertEq(fee + payout, amount, "fee + payout");
        assertEq(fee, amount * bps / 10_000, "fee");
        assertEq(before.escrow - afterwards.escrow, payout, "escrow outflow");
        if (direct) {
            assertEq(before.available - afterwards.available, amount, "available");
        } else {
            assertEq(afterwards.available, before.available, "available untouched");
            assertEq(reservedOf(payer), deposit - amount, "reserved");
            assertEq(lineFees(payer), fee, "line fees");
        }
        assertConserved();
    }

    /*//////////////////////////////////////////////////////////////
                          CUMULATIVE RECEIPTS
    //////////////////////////////////////////////////////////////*/

    /// @dev Any sequence of cumulative receipts for one usage key, settled in any mix of batch
    /// claims and direct settlements, charges exactly `price * max(cumulatives)` in total.
    function testFuzz_CumulativeSequence_PaysPriceTimesMax(
        uint64[8] memory cums,
        uint96 price,
        uint8 viaBatch
    ) public {
        price = uint96(bound(price, 0, 1e18));
        uint64 highest;
        for (uint256 i; i < cums.length; ++i) {
            cums[i] = uint64(bound(cums[i], 0, 1e12));
            if (cums[i] > highest) highest = cums[i];
        }
        uint256 licenseId = mintTerms(creator, price, 0, 0, "manifest-fuzz");
        // Enough for every charge from either side (the line never runs empty, so zero
        // reservations are allowed): `budget` available and `budget` on the line.
        uint256 budget = uint256(highest) * price + 1;
        fundAndAccept(licenseId, 2 * budget, budget);
        bytes32 key = escrow.usageKey(receipt(payer, licenseId, RUN, 0));

        uint256 total;
        bytes32[] memory roots = new bytes32[](cums.length);
        for (uint256 i; i < cums.length; ++i) {
            vm.warp(block.timestamp + 1);
            Escrow.Receipt memory r = receipt(payer, licenseId, RUN, cums[i]);
            if ((uint256(viaBatch) >> i) & 1 == 1) {
                uint64 settled = escrow.settledSamples(key);
                uint256 need = cums[i] > settled ? uint256(cums[i] - settled) * price : 0;
                Escrow.Claim[] memory c;
                (roots[i], c) = commitBatch(signerKey, payer, single(r), uint128(need));
                total += claimAs(anyone, roots[i], c);
                assertEq(reservedOf(payer), 0, "reserved exactly used");
            } else {
                vm.prank(anyone);
                total += escrow.settleDirect(r, sign(signerKey, r));
            }
        }

        assertEq(total, uint256(highest) * price, "total charged");
        assertEq(escrow.settledSamples(key), highest, "settled");
        assertEq(usdc.balanceOf(creator) + allFees(), total, "payee + fees");
        assertConserved();
        assertEq(escrowBalance(), 2 * budget - usdc.balanceOf(creator), "escrow balance");
    }

    /*//////////////////////////////////////////////////////////////
                          RESERVATION COVERAGE
    //////////////////////////////////////////////////////////////*/

    /// @dev A claim succeeds iff the reservation covers its amount.
    function testFuzz_Claim_SucceedsIffReservationCovers(uint64 samples, uint128 reserve) public {
        samples = uint64(bound(samples, 1, 1e9));
        uint256 amount = uint256(samples) * PRICE;
        reserve = uint128(bound(reserve, 1, 2 * amount));
        uint256 licenseId = mintLicense();
        fundAndAccept(licenseId, BUDGET, BUDGET / 2);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, samples);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, single(r), reserve);

        if (reserve < amount) {
            vm.expectRevert(insufficientReserved(uint256(reserve), amount));
            claimAs(anyone, root, c);
            assertEq(reservedOf(payer), reserve);
            assertEq(escrow.settledSamples(escrow.usageKey(r)), 0);
        } else {
            assertEq(claimAs(anyone, root, c), amount);
            assertEq(reservedOf(payer), reserve - amount);
            assertEq(escrow.settledSamples(escrow.usageKey(r)), samples);
        }
        assertConserved();
    }

    /*//////////////////////////////////////////////////////////////
                               SAMPLE CAP
    //////////////////////////////////////////////////////////////*/

    /// @dev Across runs, a payer is charged for `min(cap, Σ samples)` samples under capped terms.
    function testFuzz_MaxSamplesCap_ChargesMinOfCapAndUsage(uint64 cap, uint64[4] memory runs) public {
        cap = uint64(bound(cap, 1, 1e9));
        uint256 used;
        for (uint256 i; i < runs.length; ++i) {
            runs[i] = uint64(bound(runs[i], 0, 1e9));
            used += runs[i];
        }
        uint256 licenseId = mintTerms(creator, PRICE, cap, 0, "manifest-capped");
        fundAndAccept(licenseId, BUDGET * 10, 0);

        uint256 total;
        for (uint256 i; i < runs.length; ++i) {
            Escrow.Receipt memory r = receipt(payer, licenseId, keccak256(abi.encode(i)), runs[i]);
            vm.prank(anyone);
            total += escrow.settleDirect(r, sign(signerKey, r));
        }
        uint256 charged = used < cap ? used : cap;
        assertEq(total, charged * PRICE, "total");
        assertEq(
            escrow.acceptance(payer, licenseId, termsOf(licenseId)).samplesCharged, charged, "samplesCharged"
        );
        assertConserved();
    }

    /*//////////////////////////////////////////////////////////////
                              CREDIT LINES
    //////////////////////////////////////////////////////////////*/

    /// @dev A credit reduction moves `min(requested, credit)` to the available balance, never
    /// reserved funds; the rest stays requested and is taken once a release returns the reserved
    /// funds to credit. Value is conserved throughout.
    function testFuzz_CreditReduction_TakesOnlyCredit(uint128 credit, uint128 reserve, uint128 requested)
        public
    {
        credit = uint128(bound(credit, 1, BUDGET));
        reserve = uint128(bound(reserve, 0, credit));
        requested = uint128(bound(requested, 1, 2 * uint256(credit)));
        setUpPayer(payer, signerKey, BUDGET, credit);
        commitRoot(keccak256("root"), reserveFrom(payer, reserve));

        vm.startPrank(payer);
        escrow.requestCreditReduction(relayer, address(usdc), requested);
        vm.warp(block.timestamp + NOTICE);
        uint256 free = credit - reserve;
        uint256 moved = requested < free ? requested : free;
        assertEq(escrow.reduceCredit(relayer, address(usdc)), moved, "moved");
        vm.stopPrank();
        assertEq(avail(payer), BUDGET - credit + moved, "available");
        assertEq(creditOf(payer), free - moved, "credit");
        assertEq(reservedOf(payer), reserve, "reserved untouched");
        assertEq(escrow.creditReduction(payer, relayer, address(usdc)).amount, requested - moved, "left");
        assertConserved();

        // After the release, what is left of the request comes out of the returned funds.
        vm.warp(lineOf(payer).reservedUntil);
        escrow.release(payer, relayer, address(usdc));
        if (requested > moved) {
            uint256 rest = requested - moved;
            uint256 room = free - moved + reserve;
            uint256 second = rest < room ? rest : room;
            vm.prank(payer);
            assertEq(escrow.reduceCredit(relayer, address(usdc)), second, "second");
            moved += second;
        }
        assertEq(avail(payer), BUDGET - credit + moved, "available after release");
        assertEq(creditOf(payer), credit - moved, "credit after release");
        assertConserved();
    }
}
