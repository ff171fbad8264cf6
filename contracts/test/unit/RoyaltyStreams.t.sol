// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Vm} from "forge-std/Vm.sol";

import {LicenseNFT} from "../../src/LicenseNFT.sol";
import {RoyaltyStreams} from "../../src/RoyaltyStreams.sol";
import {IRoyaltyStreams} from "../../src/interfaces/IRoyaltyStreams.sol";
import {Errors} from "../../src/libraries/Errors.sol";
import {Streams} from "../../src/types/StreamTypes.sol";
import {StreamsBase} from "../utils/StreamsBase.t.sol";

/// @notice Unit tests of {RoyaltyStreams}: enabling streams to a license, creation, accrual and
/// withdrawal, holder changes, insolvency, pause/restart, rate changes, cancellation, paging, and
/// the transfer hook.
contract RoyaltyStreamsTest is StreamsBase {
    /*//////////////////////////////////////////////////////////////
                             ENABLE STREAMS
    //////////////////////////////////////////////////////////////*/

    function test_EnableStreams_ByHolderStartsTheHistory() public {
        uint256 other = mintLicense(creator, defaultTerms(), keccak256("other"));
        assertFalse(streams.streamsEnabled(other));
        vm.warp(block.timestamp + 5);
        vm.expectEmit(address(streams));
        emit IRoyaltyStreams.HolderCheckpointed(other, creator, uint40(block.timestamp), 0);
        enableStreams(creator, other);
        assertTrue(streams.streamsEnabled(other));
        assertEq(streams.holderCheckpointCount(other), 1);
        assertEq(streams.holderCheckpoint(other, 0).holder, creator);
        assertEq(streams.holderCheckpoint(other, 0).since, block.timestamp);
    }

    function test_EnableStreams_ByApprovedAccountOrOperator() public {
        uint256 a = mintLicense(creator, defaultTerms(), keccak256("a"));
        uint256 b = mintLicense(creator, defaultTerms(), keccak256("b"));
        vm.startPrank(creator);
        nft.approve(anyone, a);
        nft.setApprovalForAll(collector, true);
        vm.stopPrank();
        enableStreams(anyone, a);
        enableStreams(collector, b);
        // The holder is recorded, not the caller.
        assertEq(streams.holderCheckpoint(a, 0).holder, creator);
        assertEq(streams.holderCheckpoint(b, 0).holder, creator);
    }

    function test_RevertWhen_EnableStreams_NotHolderTwiceOrUnknown() public {
        uint256 other = mintLicense(creator, defaultTerms(), keccak256("other"));
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_NotHolderOrApproved.selector, other, payer)
        );
        streams.enableStreams(other);
        // Once sold, the creator is an outsider too.
        vm.prank(creator);
        nft.transferFrom(creator, buyer, other);
        vm.prank(creator);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_NotHolderOrApproved.selector, other, creator)
        );
        streams.enableStreams(other);
        vm.prank(buyer);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_StreamsAlreadyEnabled.selector, licenseId)
        );
        streams.enableStreams(licenseId);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_UnknownLicense.selector, 999));
        streams.enableStreams(999);
        uint256 huge = uint256(type(uint56).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_UnknownLicense.selector, huge));
        streams.enableStreams(huge);
    }

    function test_RevertWhen_EnableStreams_NotTheTransferHook() public {
        // A streams contract that the license contract does not notify could not follow holders.
        RoyaltyStreams other = new RoyaltyStreams(nft);
        uint256 id = mintLicense(creator, defaultTerms(), keccak256("other"));
        vm.prank(creator);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_NotTransferHook.selector, address(nft)));
        other.enableStreams(id);
    }

    /*//////////////////////////////////////////////////////////////
                                 CREATE
    //////////////////////////////////////////////////////////////*/

    function test_Create_StoresTermsAndPullsDeposit() public {
        vm.expectEmit(address(streams));
        emit IRoyaltyStreams.StreamCreated(
            1, payer, licenseId, address(usd6), RATE, uint40(block.timestamp), 0, operator, DEPOSIT
        );
        uint256 id = openStream();
        assertEq(id, 1);
        assertEq(streams.nextStreamId(), 2);
        Streams.Record memory s = streams.getStream(id);
        assertEq(s.payer, payer);
        assertEq(s.operator, operator);
        assertEq(s.token, address(usd6));
        assertEq(s.licenseId, licenseId);
        assertEq(s.ratePerSecond, RATE);
        assertEq(s.balance, DEPOSIT);
        assertEq(s.creditedAt, block.timestamp);
        assertEq(s.anchor, block.timestamp);
        assertEq(s.endAt, type(uint40).max);
        assertEq(s.holderIndex, 0);
        assertEq(s.resumeEnd, 0);
        assertFalse(s.pausedByOperator);
        assertEq(uint8(s.status), uint8(Streams.Status.Active));
        assertEq(usd6.balanceOf(address(streams)), DEPOSIT);
        assertEq(uint8(streams.stateOf(id)), uint8(Streams.State.Streaming));
        assertEq(streams.holderCheckpointCount(licenseId), 1);
        assertEq(streams.holderCheckpoint(licenseId, 0).holder, creator);
    }

    function test_Create_FutureStartIsPending() public {
        Streams.CreateParams memory p = params(RATE, DEPOSIT);
        p.startTime = uint40(block.timestamp + 100);
        p.endTime = uint40(block.timestamp + 200);
        vm.prank(payer);
        uint256 id = streams.create(p);
        assertEq(uint8(streams.stateOf(id)), uint8(Streams.State.Pending));
        vm.warp(block.timestamp + 100);
        assertEq(streams.withdraw(id), 0);
        vm.warp(block.timestamp + 150);
        assertEq(uint8(streams.stateOf(id)), uint8(Streams.State.Ended));
        assertEq(streams.withdraw(id), accrued(RATE, 0, 100), "accrues from start to end only");
    }

    function test_Create_ZeroDepositIsInsolventAtOnce() public {
        uint256 id = openStream(RATE, 0);
        vm.warp(block.timestamp + 10);
        assertEq(uint8(streams.stateOf(id)), uint8(Streams.State.Insolvent));
        assertEq(streams.uncoveredDebtOf(id), accrued(RATE, 0, 10));
    }

    function test_RevertWhen_Create_BadParams() public {
        Streams.CreateParams memory p = params(RATE, DEPOSIT);
        vm.startPrank(payer);
        p.token = address(0);
        vm.expectRevert(Errors.RoyaltyStreams_ZeroAddress.selector);
        streams.create(p);
        p = params(0, DEPOSIT);
        vm.expectRevert(Errors.RoyaltyStreams_ZeroRate.selector);
        streams.create(p);
        p = params(RATE, DEPOSIT);
        p.startTime = uint40(block.timestamp - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.RoyaltyStreams_StartInPast.selector, block.timestamp - 1, block.timestamp
            )
        );
        streams.create(p);
        p.startTime = uint40(block.timestamp + 10);
        p.endTime = uint40(block.timestamp + 10);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.RoyaltyStreams_EndNotAfterStart.selector, block.timestamp + 10, block.timestamp + 10
            )
        );
        streams.create(p);
        vm.stopPrank();
    }

    /// @dev Streams need the holder's consent: to a license without it (or that does not exist)
    /// creation reverts, so no outsider can make the holder's transfers record checkpoints.
    function test_RevertWhen_Create_StreamsNotEnabled() public {
        Streams.CreateParams memory p = params(RATE, DEPOSIT);
        p.licenseId = mintLicense(creator, defaultTerms(), keccak256("other"));
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_StreamsNotEnabled.selector, p.licenseId));
        streams.create(p);
        p.licenseId = 999;
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_StreamsNotEnabled.selector, 999));
        streams.create(p);
        p.licenseId = uint256(type(uint64).max) + 1;
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_StreamsNotEnabled.selector, p.licenseId));
        streams.create(p);
    }

    function test_RevertWhen_Constructor_ZeroLicenses() public {
        vm.expectRevert(Errors.RoyaltyStreams_ZeroAddress.selector);
        new RoyaltyStreams(LicenseNFT(address(0)));
    }

    /*//////////////////////////////////////////////////////////////
                          ACCRUAL AND WITHDRAWAL
    //////////////////////////////////////////////////////////////*/

    function test_Withdraw_PaysAccrualToHolder_AnyoneMayCall() public {
        uint256 id = openStream();
        vm.warp(block.timestamp + 1 days);
        uint256 expected = accrued(RATE, 0, 1 days);
        assertEq(expected, 999_999, "1e6 per day, floored: 11.574... x 86400");
        assertEq(streams.withdrawableAmountOf(id), expected);
        vm.expectEmit(address(streams));
        emit IRoyaltyStreams.StreamWithdrawn(id, creator, address(usd6), expected);
        vm.prank(anyone);
        assertEq(streams.withdraw(id), expected);
        assertEq(usd6.balanceOf(creator), expected);
        assertEq(usd6.balanceOf(anyone), 0);
        assertEq(streams.getStream(id).balance, DEPOSIT - expected);
        assertEq(streams.withdraw(id), 0, "nothing more in the same second");
    }

    /// @dev Withdrawing every second loses nothing: fractions carry over through the anchor.
    function test_Withdraw_EverySecond_SameAsOnce() public {
        uint256 id = openStream();
        uint256 total;
        for (uint256 i; i < 300; ++i) {
            vm.warp(block.timestamp + 1);
            total += streams.withdraw(id);
        }
        assertEq(total, accrued(RATE, 0, 300));
        assertEq(total, 3472, "11.574 x 300 = 3472.2");
    }

    function test_RevertWhen_Withdraw_UnknownStream() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_UnknownStream.selector, 7));
        streams.withdraw(7);
    }

    function test_WithdrawMultiple_OneTransferPerHolderAndToken() public {
        uint256 a = openStream();
        uint256 b = openStream(RATE * 2, DEPOSIT);
        vm.warp(block.timestamp + 1000);
        uint256[] memory ids = new uint256[](2);
        ids[0] = a;
        ids[1] = b;
        vm.recordLogs();
        uint256 paid = streams.withdrawMultiple(ids);
        assertEq(paid, accrued(RATE, 0, 1000) + accrued(RATE * 2, 0, 1000));
        assertEq(usd6.balanceOf(creator), paid);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 transfers;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(usd6) && logs[i].topics[0] == IERC20.Transfer.selector) {
                ++transfers;
            }
        }
        assertEq(transfers, 1, "two streams, one holder and token: one transfer");
    }

    /*//////////////////////////////////////////////////////////////
                             HOLDER CHANGES
    //////////////////////////////////////////////////////////////*/

    function test_Transfer_RedirectsFutureAccrual_PastStaysWithSeller() public {
        uint256 id = openStream();
        uint256 t0 = block.timestamp;
        vm.warp(t0 + 100);
        transferLicense(creator, buyer);
        assertEq(streams.holderCheckpointCount(licenseId), 2);
        vm.warp(t0 + 250);
        uint256 paid = streams.withdraw(id);
        assertEq(paid, accrued(RATE, 100, 250), "buyer is paid from the transfer on");
        assertEq(usd6.balanceOf(buyer), paid);
        assertEq(streams.owedTo(creator, address(usd6)), accrued(RATE, 0, 100), "seller keeps the past");
        assertEq(streams.withdrawOwed(creator, address(usd6)), accrued(RATE, 0, 100));
        assertEq(usd6.balanceOf(creator), accrued(RATE, 0, 100));
        assertEq(streams.withdrawOwed(creator, address(usd6)), 0);
    }

    function test_Transfer_ManyHoldersBetweenWithdrawals() public {
        uint256 id = openStream();
        uint256 t0 = block.timestamp;
        address[4] memory hs = [creator, buyer, collector, anyone];
        for (uint256 i = 1; i < 4; ++i) {
            vm.warp(t0 + 60 * i);
            transferLicense(hs[i - 1], hs[i]);
        }
        vm.warp(t0 + 300);
        streams.withdraw(id);
        for (uint256 i; i < 3; ++i) {
            assertEq(streams.owedTo(hs[i], address(usd6)), accrued(RATE, 60 * i, 60 * (i + 1)));
        }
        assertEq(usd6.balanceOf(anyone), accrued(RATE, 180, 300));
    }

    function test_Transfer_SameSecondReplacesCheckpoint() public {
        openStream();
        vm.warp(block.timestamp + 5);
        transferLicense(creator, buyer);
        transferLicense(buyer, collector);
        assertEq(streams.holderCheckpointCount(licenseId), 2);
        assertEq(streams.holderCheckpoint(licenseId, 1).holder, collector);
    }

    function test_Transfer_LicenseWithoutStreamsEnabledAddsNoCheckpoint() public {
        uint256 other = mintLicense(creator, defaultTerms(), keccak256("other"));
        vm.prank(creator);
        nft.transferFrom(creator, buyer, other);
        assertEq(streams.holderCheckpointCount(other), 0);
    }

    /// @dev `getStream().holderIndex` is the checkpoint in force at `creditedAt`, found by search
    /// in a long history (the last checkpoint, then doubling steps back, then bisection).
    function test_GetStream_HolderIndexIsTheCheckpointAtCreditedAt() public {
        uint256 id = openStream();
        uint256 t0 = block.timestamp;
        address a = creator;
        address b = buyer;
        for (uint256 i = 1; i <= 40; ++i) {
            vm.warp(t0 + 10 * i);
            transferLicense(a, b);
            (a, b) = (b, a);
            if (i == 13) streams.withdraw(id); // credited up to t0 + 130, in force: checkpoint 13
        }
        assertEq(streams.getStream(id).creditedAt, t0 + 130);
        assertEq(streams.getStream(id).holderIndex, 13);
        // A settlement from there credits each holder its ten seconds per holding.
        vm.warp(t0 + 405);
        assertTrue(streams.settle(id));
        assertEq(streams.getStream(id).holderIndex, 40);
        uint256 creatorPaid = usd6.balanceOf(creator) + streams.owedTo(creator, address(usd6));
        uint256 buyerPaid = usd6.balanceOf(buyer) + streams.owedTo(buyer, address(usd6));
        uint256 expectCreator;
        uint256 expectBuyer;
        for (uint256 i; i <= 40; ++i) {
            uint256 end = i == 40 ? 405 : 10 * (i + 1);
            uint256 units = accrued(RATE, 10 * i, end);
            if (i % 2 == 0) expectCreator += units;
            else expectBuyer += units;
        }
        assertEq(creatorPaid, expectCreator);
        assertEq(buyerPaid, expectBuyer);
    }

    function test_RevertWhen_Hook_NotLicenseContract() public {
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_NotLicenseContract.selector, anyone));
        vm.prank(anyone);
        streams.onLicenseTransfer(licenseId, creator, anyone);
    }

    function test_Settle_PagesThroughLongHistories() public {
        uint256 id = openStream();
        uint256 max = streams.MAX_CHECKPOINTS_PER_CALL();
        address a = creator;
        address b = buyer;
        for (uint256 i; i < max + 10; ++i) {
            vm.warp(block.timestamp + 1);
            transferLicense(a, b);
            (a, b) = (b, a);
        }
        vm.warp(block.timestamp + 10);
        // The payer cannot cancel before the history is settled (one call walks `max`
        // checkpoints); settle pages through it.
        uint40 pageEnd = streams.holderCheckpoint(licenseId, max).since;
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_SettlementIncomplete.selector, id, pageEnd)
        );
        streams.cancel(id);
        assertFalse(streams.settle(id));
        assertTrue(streams.settle(id));
        uint256 total = streams.owedTo(creator, address(usd6)) + streams.owedTo(buyer, address(usd6));
        assertEq(total, accrued(RATE, 0, max + 20));
        vm.prank(payer);
        streams.cancel(id);
    }

    /*//////////////////////////////////////////////////////////////
                               INSOLVENCY
    //////////////////////////////////////////////////////////////*/

    function test_Insolvent_StopsPayingAndRecordsDebt_TopUpPaysPastHolder() public {
        // Funds for exactly 100 seconds of accrual.
        uint128 funded = uint128(accrued(RATE, 0, 100));
        uint256 id = openStream(RATE, funded);
        uint256 t0 = block.timestamp;
        vm.warp(t0 + 150);
        assertEq(uint8(streams.stateOf(id)), uint8(Streams.State.Insolvent));
        assertEq(streams.uncoveredDebtOf(id), accrued(RATE, 0, 150) - funded);
        vm.expectEmit(address(streams));
        emit IRoyaltyStreams.StreamInsolvent(id, uint40(t0 + 100), accrued(RATE, 0, 150) - funded);
        assertEq(streams.withdraw(id), funded);
        // The creator sells while the stream is in debt; the debt accrued under the creator.
        transferLicense(creator, buyer);
        vm.warp(t0 + 200);
        vm.prank(payer);
        streams.deposit(id, DEPOSIT);
        streams.withdraw(id);
        assertEq(streams.owedTo(creator, address(usd6)), accrued(RATE, 100, 150), "debt paid to its holder");
        assertEq(usd6.balanceOf(buyer), accrued(RATE, 150, 200));
        assertEq(uint8(streams.stateOf(id)), uint8(Streams.State.Streaming));
    }

    function test_RevertWhen_AdjustInsolvent() public {
        uint256 id = openStream(RATE, 10);
        vm.warp(block.timestamp + 100);
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_Insolvent.selector, id, accrued(RATE, 0, 100) - 10)
        );
        streams.adjustRate(id, RATE * 2);
    }

    function test_Cancel_Insolvent_LeftoverToHolder_DebtWrittenOff() public {
        uint256 id = openStream(RATE, 100);
        vm.warp(block.timestamp + 100);
        uint256 debt = accrued(RATE, 0, 100) - 100;
        // 100 units cover 8 whole seconds (92 units); the 8 left go to the holder on cancel.
        assertEq(streams.withdrawableAmountOf(id), accrued(RATE, 0, 8));
        assertEq(streams.uncoveredDebtOf(id), debt);
        vm.expectEmit(address(streams));
        emit IRoyaltyStreams.StreamCancelled(id, payer, 0, debt);
        vm.prank(payer);
        assertEq(streams.cancel(id), 0);
        assertEq(streams.owedTo(creator, address(usd6)), 100, "every funded unit goes to the holder");
        assertEq(usd6.balanceOf(address(streams)), 100);
    }

    /*//////////////////////////////////////////////////////////////
                             PAUSE, RESTART
    //////////////////////////////////////////////////////////////*/

    function test_Pause_ByPayerOrOperator_StopsAccrual() public {
        uint256 id = openStream();
        uint256 t0 = block.timestamp;
        vm.warp(t0 + 100);
        vm.expectEmit(address(streams));
        emit IRoyaltyStreams.StreamPaused(id, operator, 0);
        vm.prank(operator);
        streams.pause(id);
        assertEq(uint8(streams.stateOf(id)), uint8(Streams.State.Paused));
        // The 100 s of accrual were settled and rounded up for the holder.
        assertEq(streams.owedTo(creator, address(usd6)), accrued(RATE, 0, 100) + 1);
        vm.warp(t0 + 1000);
        assertEq(streams.withdraw(id), 0, "nothing accrues while paused");
        assertEq(streams.withdrawableAmountOf(id), 0);
    }

    function test_RevertWhen_Pause_Unauthorized() public {
        uint256 id = openStream();
        vm.prank(anyone);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_NotPayerOrOperator.selector, id, anyone));
        streams.pause(id);
        vm.prank(creator);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_NotPayerOrOperator.selector, id, creator)
        );
        streams.pause(id);
    }

    function test_RevertWhen_Pause_NoOperatorNamed_ZeroAddressCaller() public {
        Streams.CreateParams memory p = params(RATE, DEPOSIT);
        p.operator = address(0);
        vm.prank(payer);
        uint256 id = streams.create(p);
        vm.prank(address(0));
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_NotPayerOrOperator.selector, id, address(0))
        );
        streams.pause(id);
    }

    function test_Restart_OperatorOnlyItsOwnPause() public {
        uint256 id = openStream();
        vm.prank(payer);
        streams.pause(id);
        vm.prank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_NotAllowedToRestart.selector, id, operator)
        );
        streams.restart(id, RATE);
        vm.prank(payer);
        streams.restart(id, RATE);

        vm.prank(operator);
        streams.pause(id);
        uint256 t1 = block.timestamp + 500;
        vm.warp(t1);
        vm.expectEmit(address(streams));
        emit IRoyaltyStreams.StreamRestarted(id, operator, RATE);
        vm.prank(operator);
        streams.restart(id, RATE);
        vm.warp(t1 + 100);
        assertEq(streams.withdraw(id), accrued(RATE, 0, 100), "restarts from now at the rate of the pause");
    }

    /// @dev Only the payer changes the rate: the operator's restart keeps the rate of the pause.
    function test_RevertWhen_Restart_OperatorChangesRate() public {
        uint256 id = openStream();
        vm.prank(operator);
        streams.pause(id);
        vm.startPrank(operator);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.RoyaltyStreams_OperatorCannotChangeRate.selector, id, RATE, RATE * 3
            )
        );
        streams.restart(id, RATE * 3);
        vm.expectRevert(
            abi.encodeWithSelector(
                Errors.RoyaltyStreams_OperatorCannotChangeRate.selector, id, RATE, RATE - 1
            )
        );
        streams.restart(id, RATE - 1);
        vm.stopPrank();
        assertEq(uint8(streams.stateOf(id)), uint8(Streams.State.Paused));
        // The payer restarts the operator's pause at any rate.
        vm.expectEmit(address(streams));
        emit IRoyaltyStreams.StreamRestarted(id, payer, RATE * 3);
        vm.prank(payer);
        streams.restart(id, RATE * 3);
        assertEq(streams.getStream(id).ratePerSecond, RATE * 3);
    }

    function test_RevertWhen_Restart_NotPausedOrEnded() public {
        Streams.CreateParams memory p = params(RATE, DEPOSIT);
        p.endTime = uint40(block.timestamp + 100);
        vm.prank(payer);
        uint256 id = streams.create(p);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_NotPaused.selector, id));
        streams.restart(id, RATE);
        vm.prank(payer);
        streams.pause(id);
        vm.warp(block.timestamp + 100);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_StreamEnded.selector, id, p.endTime));
        streams.restart(id, RATE);
    }

    function test_Pause_Insolvent_KeepsDebt_RestartNeedsTopUp() public {
        uint256 id = openStream(RATE, 100);
        vm.warp(block.timestamp + 100);
        uint256 debt = accrued(RATE, 0, 100) - 100;
        vm.prank(payer);
        streams.pause(id);
        vm.warp(block.timestamp + 100);
        assertEq(streams.uncoveredDebtOf(id), debt, "debt does not grow while paused");
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_Insolvent.selector, id, debt));
        streams.restart(id, RATE);
        vm.prank(payer);
        streams.deposit(id, uint128(debt));
        vm.prank(payer);
        streams.restart(id, RATE);
        assertEq(usd6.balanceOf(creator) + streams.owedTo(creator, address(usd6)), accrued(RATE, 0, 100));
    }

    /*//////////////////////////////////////////////////////////////
                               RATE CHANGES
    //////////////////////////////////////////////////////////////*/

    function test_AdjustRate_AppliesFromNow() public {
        uint256 id = openStream();
        uint256 t0 = block.timestamp;
        vm.warp(t0 + 100);
        vm.prank(payer);
        streams.adjustRate(id, RATE / 2);
        vm.warp(t0 + 300);
        streams.withdraw(id);
        uint256 got = usd6.balanceOf(creator) + streams.owedTo(creator, address(usd6));
        assertEq(got, accrued(RATE, 0, 100) + 1 + accrued(RATE / 2, 0, 200), "old rate, rounded up, then new");
    }

    function test_RevertWhen_AdjustRate_NotPayerOrZero() public {
        uint256 id = openStream();
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_NotPayer.selector, id, operator));
        streams.adjustRate(id, RATE);
        vm.prank(payer);
        vm.expectRevert(Errors.RoyaltyStreams_ZeroRate.selector);
        streams.adjustRate(id, 0);
    }

    /*//////////////////////////////////////////////////////////////
                              CANCELLATION
    //////////////////////////////////////////////////////////////*/

    function test_Cancel_RefundsExactlyWhatHasNotStreamed() public {
        uint256 id = openStream();
        vm.warp(block.timestamp + 1000);
        uint256 owed = accrued(RATE, 0, 1000) + 1; // 11574.07..., rounded up for the holder
        uint256 refund = DEPOSIT - owed;
        assertEq(streams.refundableAmountOf(id), refund);
        uint256 before = usd6.balanceOf(payer);
        vm.prank(payer);
        assertEq(streams.cancel(id), refund);
        assertEq(usd6.balanceOf(payer) - before, refund);
        assertEq(streams.owedTo(creator, address(usd6)), owed);
        assertEq(usd6.balanceOf(address(streams)), owed);
        assertEq(uint8(streams.stateOf(id)), uint8(Streams.State.Cancelled));
    }

    function test_Cancelled_StaysCancelled() public {
        uint256 id = openStream();
        vm.prank(payer);
        streams.cancel(id);
        vm.startPrank(payer);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_StreamCancelled.selector, id));
        streams.cancel(id);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_StreamCancelled.selector, id));
        streams.deposit(id, 1);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_NotActive.selector, id, Streams.Status.Cancelled)
        );
        streams.pause(id);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_NotPaused.selector, id));
        streams.restart(id, RATE);
        vm.expectRevert(
            abi.encodeWithSelector(Errors.RoyaltyStreams_NotActive.selector, id, Streams.Status.Cancelled)
        );
        streams.adjustRate(id, RATE);
        vm.stopPrank();
        vm.warp(block.timestamp + 100);
        assertEq(streams.withdraw(id), 0);
        assertTrue(streams.settle(id));
    }

    /// @dev A cancelled stream was settled for good: withdrawing or settling it later emits
    /// nothing (no phantom `StreamInsolvent` with a debt growing with time) and moves nothing.
    function test_Cancelled_WithdrawAndSettleEmitNothing() public {
        uint256 id = openStream();
        vm.warp(block.timestamp + 100);
        vm.prank(payer);
        streams.cancel(id);
        Streams.Record memory before = streams.getStream(id);
        vm.warp(block.timestamp + 30 days);
        assertEq(streams.uncoveredDebtOf(id), 0);
        vm.recordLogs();
        assertEq(streams.withdraw(id), 0);
        assertTrue(streams.settle(id));
        uint256[] memory ids = new uint256[](1);
        ids[0] = id;
        assertEq(streams.withdrawMultiple(ids), 0);
        assertEq(vm.getRecordedLogs().length, 0, "no event at all");
        Streams.Record memory afterwards = streams.getStream(id);
        assertEq(afterwards.creditedAt, before.creditedAt, "nothing credited after the cancellation");
        assertEq(afterwards.balance, 0);
        assertEq(uint8(streams.stateOf(id)), uint8(Streams.State.Cancelled));
    }

    function test_RevertWhen_Cancel_NotPayer() public {
        uint256 id = openStream();
        vm.prank(operator);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_NotPayer.selector, id, operator));
        streams.cancel(id);
    }

    function test_EndTime_StopsAccrual_CancelRefundsRest() public {
        Streams.CreateParams memory p = params(RATE, DEPOSIT);
        p.endTime = uint40(block.timestamp + 1000);
        vm.prank(payer);
        uint256 id = streams.create(p);
        vm.warp(block.timestamp + 5000);
        assertEq(streams.withdraw(id), accrued(RATE, 0, 1000));
        vm.prank(payer);
        uint128 refunded = streams.cancel(id);
        assertEq(refunded, DEPOSIT - accrued(RATE, 0, 1000) - 1);
    }

    /*//////////////////////////////////////////////////////////////
                                DEPOSITS
    //////////////////////////////////////////////////////////////*/

    function test_Deposit_AnyoneTopsUp() public {
        uint256 id = openStream();
        usd6.mint(anyone, 5);
        vm.startPrank(anyone);
        usd6.approve(address(streams), 5);
        vm.expectEmit(address(streams));
        emit IRoyaltyStreams.StreamDeposited(id, anyone, 5);
        streams.deposit(id, 5);
        vm.stopPrank();
        assertEq(streams.getStream(id).balance, DEPOSIT + 5);
    }

    function test_RevertWhen_Deposit_ZeroOrUnknown() public {
        uint256 id = openStream();
        vm.expectRevert(Errors.RoyaltyStreams_ZeroAmount.selector);
        streams.deposit(id, 0);
        vm.expectRevert(abi.encodeWithSelector(Errors.RoyaltyStreams_UnknownStream.selector, 9));
        streams.deposit(9, 1);
    }
}
