// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Errors} from "../../src/libraries/Errors.sol";
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
            payee: usdc.balanceOf(payee), fees: fees(), escrow: escrowBalance(), available: avail(payer)
        });
    }

    /// @dev Funds `payer` with `amount`, registers `signerKey`, authorizes `relayer` and accepts.
    function fundAndAccept(uint256 licenseId, uint256 amount) internal {
        setUpPayer(payer, signerKey, amount);
        accept(payer, licenseId);
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
        uint256 maxSamples = price == 0 ? type(uint64).max : type(uint128).max / price;
        if (maxSamples > type(uint64).max) maxSamples = type(uint64).max;
        samples = uint64(bound(samples, 1, maxSamples));
        uint256 amount = uint256(samples) * price;
        uint256 deposit = amount == 0 ? 1 : amount;

        vm.prank(owner);
        escrow.setFee(bps);
        uint256 licenseId = mintTerms(creator, price, 0, 0, "manifest-fuzz");
        fundAndAccept(licenseId, deposit);
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
            assertEq(remainingOf(root, payer), deposit - amount, "reservation");
        }
        assertEq(escrowBalance(), avail(payer) + remainingOf(root, payer) + fees(), "conservation");
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
        // Enough for every charge plus one unit for each reservation that pays nothing.
        uint256 budget = uint256(highest) * price + cums.length;
        fundAndAccept(licenseId, budget);
        bytes32 key = escrow.usageKey(receipt(payer, licenseId, RUN, 0));

        uint256 total;
        uint256 reservedLeft;
        bytes32[] memory roots = new bytes32[](cums.length);
        for (uint256 i; i < cums.length; ++i) {
            vm.warp(block.timestamp + 1);
            Escrow.Receipt memory r = receipt(payer, licenseId, RUN, cums[i]);
            if ((uint256(viaBatch) >> i) & 1 == 1) {
                uint64 settled = escrow.settledSamples(key);
                uint256 need = cums[i] > settled ? uint256(cums[i] - settled) * price : 0;
                uint256 reserve = need == 0 ? 1 : need;
                Escrow.Claim[] memory c;
                (roots[i], c) = commitBatch(signerKey, payer, single(r), uint128(reserve));
                total += claimAs(anyone, roots[i], c);
                reservedLeft += remainingOf(roots[i], payer);
            } else {
                vm.prank(anyone);
                total += escrow.settleDirect(r, sign(signerKey, r));
            }
        }

        assertEq(total, uint256(highest) * price, "total charged");
        assertEq(escrow.settledSamples(key), highest, "settled");
        assertEq(usdc.balanceOf(creator) + fees(), total, "payee + fees");
        assertEq(escrowBalance(), avail(payer) + reservedLeft + fees(), "conservation");
        assertEq(escrowBalance(), budget - usdc.balanceOf(creator), "escrow balance");
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
        fundAndAccept(licenseId, BUDGET);
        Escrow.Receipt memory r = receipt(payer, licenseId, RUN, samples);
        (bytes32 root, Escrow.Claim[] memory c) = commitBatch(signerKey, payer, single(r), reserve);

        if (reserve < amount) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    Errors.TrainingEscrow_InsufficientReservation.selector, root, uint256(reserve), amount
                )
            );
            claimAs(anyone, root, c);
            assertEq(remainingOf(root, payer), reserve);
            assertEq(escrow.settledSamples(escrow.usageKey(r)), 0);
        } else {
            assertEq(claimAs(anyone, root, c), amount);
            assertEq(remainingOf(root, payer), reserve - amount);
            assertEq(escrow.settledSamples(escrow.usageKey(r)), samples);
        }
        assertEq(escrowBalance(), avail(payer) + remainingOf(root, payer) + fees(), "conservation");
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
        fundAndAccept(licenseId, BUDGET * 10);

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
        assertEq(escrowBalance(), avail(payer) + fees(), "conservation");
    }
}
