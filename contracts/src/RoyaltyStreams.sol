// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ILicenseNFT} from "./interfaces/ILicenseNFT.sol";
import {ILicenseTransferHook} from "./interfaces/ILicenseTransferHook.sol";
import {IRoyaltyStreams} from "./interfaces/IRoyaltyStreams.sol";
import {Errors} from "./libraries/Errors.sol";
import {Streams} from "./types/StreamTypes.sol";

/// @title RoyaltyStreams
/// @notice See {IRoyaltyStreams}. No owner, no fee, no admin function.
/// @dev Accounting, per token: `balanceOf(this) == Σ stream.balance + Σ owedTo`. Deposits add to a
/// stream's balance; settlement moves accrual from the balance to a holder (transferred, or booked
/// to `owedTo`); cancellation moves the rest of the balance to the payer. No other path moves
/// value.
///
/// Holder changes: a license's holder history starts when its holder enables streams
/// ({enableStreams}); from then on {LicenseNFT} calls {onLicenseTransfer} on every transfer, which
/// appends one checkpoint to the history (O(1), nothing about streams is touched). A stream's
/// settlement finds the checkpoint in force at its `creditedAt` (the last one in the common case,
/// a search otherwise), walks the checkpoints since then and credits each holder the accrual of
/// the time it held the license. Only the license's holders can start a history or add
/// checkpoints, and a stream never walks more than {MAX_CHECKPOINTS_PER_CALL} per call.
///
/// Storage: a stream takes three slots (see {Stored}), four with an operator or while paused;
/// {getStream} returns them as a {Streams-Record}.
contract RoyaltyStreams is IRoyaltyStreams, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @inheritdoc IRoyaltyStreams
    uint256 public constant override MAX_CHECKPOINTS_PER_CALL = 64;
    /// @dev Fixed-point scale of rates.
    uint256 private constant _SCALE = 1e18;
    uint40 private constant _NO_END = type(uint40).max;

    /// @inheritdoc IRoyaltyStreams
    ILicenseNFT public immutable override licenses;

    /// @inheritdoc IRoyaltyStreams
    uint256 public override nextStreamId = 1;

    mapping(uint256 streamId => Stored) private _streams;
    mapping(uint256 licenseId => Streams.Checkpoint[]) private _holders;
    mapping(address account => mapping(address token => uint256)) private _owed;

    /// @dev A stream as stored. Slots 0 to 2 are written at creation (and read by every
    /// settlement); slot 3 only with an operator, and by a pause. The position of the holder at
    /// `creditedAt` in the license's history is not stored: settlements find it (see {_indexAt}).
    /// Field meanings: {Streams-Record}.
    struct Stored {
        // slot 0
        address token;
        uint40 creditedAt;
        uint40 endAt;
        Streams.Status status;
        bool pausedByOperator;
        // slot 1
        uint128 ratePerSecond;
        uint128 balance;
        // slot 2 (license ids above 2^56 - 1 cannot enable streams: see {enableStreams})
        address payer;
        uint56 licenseId;
        uint40 anchor;
        // slot 3
        address operator;
        uint40 resumeEnd;
    }

    /// @dev The outcome of settling a stream (see {_settle}).
    struct Settlement {
        // Credited to the current holder and not booked (the caller transfers it).
        uint256 toCurrent;
        // The license's current holder.
        address current;
        // Whether every fundable second up to now was settled (no checkpoint page left).
        bool complete;
        // Accrued after the funded part (0 when solvent).
        uint256 uncoveredDebt;
    }

    /// @dev Working state of one settlement (see {_settle}).
    struct Walk {
        uint256 rate;
        uint256 anchor;
        uint256 balance;
        // Units accrued from the anchor to the settlement's start (credited before).
        uint256 base;
        // Units accrued from the anchor to the walk's cursor.
        uint256 cumulative;
        // Index of the last checkpoint (the current holder) and of the cursor's.
        uint256 last;
        uint256 i;
        uint40 fundedTo;
        address token;
    }

    /// @param licenses_ The license contract; this contract must become its transfer hook.
    constructor(ILicenseNFT licenses_) {
        if (address(licenses_) == address(0)) revert Errors.RoyaltyStreams_ZeroAddress();
        licenses = licenses_;
    }

    /*//////////////////////////////////////////////////////////////
                                  READS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IRoyaltyStreams
    function getStream(uint256 streamId) external view override returns (Streams.Record memory r) {
        Stored storage s = _streams[streamId];
        if (s.status == Streams.Status.Null) return r;
        Streams.Checkpoint[] storage history = _holders[s.licenseId];
        r.token = s.token;
        r.creditedAt = s.creditedAt;
        r.endAt = s.endAt;
        r.status = s.status;
        r.pausedByOperator = s.pausedByOperator;
        r.ratePerSecond = s.ratePerSecond;
        r.balance = s.balance;
        r.licenseId = s.licenseId;
        // Cannot truncate: the history grows by one checkpoint per license transfer.
        r.holderIndex = uint32(_indexAt(history, history.length - 1, s.creditedAt));
        r.anchor = s.anchor;
        r.resumeEnd = s.resumeEnd;
        r.payer = s.payer;
        r.operator = s.operator;
    }

    /// @inheritdoc IRoyaltyStreams
    function stateOf(uint256 streamId) external view override returns (Streams.State) {
        Stored storage s = _streams[streamId];
        Streams.Status status = s.status;
        if (status == Streams.Status.Null) return Streams.State.Null;
        if (status == Streams.Status.Cancelled) return Streams.State.Cancelled;
        (, uint256 debt) = _pending(s);
        if (debt != 0) return Streams.State.Insolvent;
        if (status == Streams.Status.Paused) return Streams.State.Paused;
        if (block.timestamp < s.creditedAt) return Streams.State.Pending;
        if (block.timestamp >= s.endAt) return Streams.State.Ended;
        return Streams.State.Streaming;
    }

    /// @inheritdoc IRoyaltyStreams
    function withdrawableAmountOf(uint256 streamId) external view override returns (uint256 covered) {
        (covered,) = _pending(_streams[streamId]);
    }

    /// @inheritdoc IRoyaltyStreams
    function uncoveredDebtOf(uint256 streamId) external view override returns (uint256 debt) {
        (, debt) = _pending(_streams[streamId]);
    }

    /// @inheritdoc IRoyaltyStreams
    function refundableAmountOf(uint256 streamId) external view override returns (uint256) {
        Stored storage s = _streams[streamId];
        if (s.status == Streams.Status.Cancelled) return 0;
        (uint256 covered, uint256 debt) = _pending(s);
        uint256 rest = s.balance - covered;
        if (debt != 0 || rest == 0) return 0;
        uint40 to = _accrualEnd(s);
        uint40 at = to > s.creditedAt ? to : s.creditedAt;
        // The fraction of a unit accrued by `at` is rounded up for the holder on cancellation.
        return _fractionAt(s, at) ? rest - 1 : rest;
    }

    /// @inheritdoc IRoyaltyStreams
    function owedTo(address account, address token) external view override returns (uint256) {
        return _owed[account][token];
    }

    /// @inheritdoc IRoyaltyStreams
    function streamsEnabled(uint256 licenseId) external view override returns (bool) {
        return _holders[licenseId].length != 0;
    }

    /// @inheritdoc IRoyaltyStreams
    function holderCheckpointCount(uint256 licenseId) external view override returns (uint256) {
        return _holders[licenseId].length;
    }

    /// @inheritdoc IRoyaltyStreams
    function holderCheckpoint(uint256 licenseId, uint256 index)
        external
        view
        override
        returns (Streams.Checkpoint memory)
    {
        return _holders[licenseId][index];
    }

    /*//////////////////////////////////////////////////////////////
                              PAYER WRITES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IRoyaltyStreams
    function enableStreams(uint256 licenseId) external override nonReentrant {
        if (licenseId > type(uint56).max) revert Errors.RoyaltyStreams_UnknownLicense(licenseId);
        Streams.Checkpoint[] storage history = _holders[licenseId];
        if (history.length != 0) revert Errors.RoyaltyStreams_StreamsAlreadyEnabled(licenseId);
        address holder = _ownerOf(licenseId);
        if (
            msg.sender != holder && !licenses.isApprovedForAll(holder, msg.sender)
                && licenses.getApproved(licenseId) != msg.sender
        ) revert Errors.RoyaltyStreams_NotHolderOrApproved(licenseId, msg.sender);
        if (address(licenses.transferHook()) != address(this)) {
            revert Errors.RoyaltyStreams_NotTransferHook(address(licenses));
        }
        history.push(Streams.Checkpoint({since: uint40(block.timestamp), holder: holder}));
        emit HolderCheckpointed(licenseId, holder, uint40(block.timestamp), 0);
    }

    /// @inheritdoc IRoyaltyStreams
    function create(Streams.CreateParams calldata params)
        external
        override
        nonReentrant
        returns (uint256 streamId)
    {
        uint256 licenseId = params.licenseId;
        if (params.token == address(0)) revert Errors.RoyaltyStreams_ZeroAddress();
        if (params.ratePerSecond == 0) revert Errors.RoyaltyStreams_ZeroRate();
        uint40 start = params.startTime == 0 ? uint40(block.timestamp) : params.startTime;
        if (start < block.timestamp) {
            revert Errors.RoyaltyStreams_StartInPast(start, uint40(block.timestamp));
        }
        uint40 end = params.endTime == 0 ? _NO_END : params.endTime;
        if (end <= start) revert Errors.RoyaltyStreams_EndNotAfterStart(start, end);
        // Only licenses whose holder started a history can be streamed to (so that nobody else
        // can make the holder's transfers pay for checkpoints); such a license exists, and its id
        // fits in 56 bits.
        if (_holders[licenseId].length == 0) revert Errors.RoyaltyStreams_StreamsNotEnabled(licenseId);

        unchecked {
            // Cannot overflow: one id per transaction at most.
            streamId = nextStreamId++;
        }
        Stored storage s = _streams[streamId];
        s.token = params.token;
        s.creditedAt = start;
        s.endAt = end;
        s.status = Streams.Status.Active;
        s.ratePerSecond = params.ratePerSecond;
        s.balance = params.deposit;
        s.payer = msg.sender;
        // Cannot truncate: checked by `enableStreams`.
        s.licenseId = uint56(licenseId);
        s.anchor = start;
        if (params.operator != address(0)) s.operator = params.operator;

        _emitCreated(streamId, params, start);
        if (params.deposit != 0) _pull(params.token, msg.sender, params.deposit);
    }

    /// @inheritdoc IRoyaltyStreams
    function deposit(uint256 streamId, uint128 amount) external override nonReentrant {
        if (amount == 0) revert Errors.RoyaltyStreams_ZeroAmount();
        Stored storage s = _streams[streamId];
        Streams.Status status = s.status;
        if (status == Streams.Status.Null) revert Errors.RoyaltyStreams_UnknownStream(streamId);
        if (status == Streams.Status.Cancelled) revert Errors.RoyaltyStreams_StreamCancelled(streamId);
        s.balance += amount;
        emit StreamDeposited(streamId, msg.sender, amount);
        _pull(s.token, msg.sender, amount);
    }

    /// @inheritdoc IRoyaltyStreams
    function adjustRate(uint256 streamId, uint128 newRate) external override nonReentrant {
        Stored storage s = _streams[streamId];
        _requirePayer(streamId, s);
        if (s.status != Streams.Status.Active) revert Errors.RoyaltyStreams_NotActive(streamId, s.status);
        if (newRate == 0) revert Errors.RoyaltyStreams_ZeroRate();
        Settlement memory st = _settleFully(streamId, s);
        if (st.uncoveredDebt != 0) revert Errors.RoyaltyStreams_Insolvent(streamId, st.uncoveredDebt);
        _roundUpAndReanchor(streamId, s);
        uint128 oldRate = s.ratePerSecond;
        s.ratePerSecond = newRate;
        emit StreamRateAdjusted(streamId, oldRate, newRate, s.anchor);
    }

    /// @inheritdoc IRoyaltyStreams
    function pause(uint256 streamId) external override nonReentrant {
        Stored storage s = _streams[streamId];
        Streams.Status status = s.status;
        if (status == Streams.Status.Null) revert Errors.RoyaltyStreams_UnknownStream(streamId);
        bool byOperator = msg.sender != s.payer;
        if (byOperator && (msg.sender != s.operator || s.operator == address(0))) {
            revert Errors.RoyaltyStreams_NotPayerOrOperator(streamId, msg.sender);
        }
        if (status != Streams.Status.Active) revert Errors.RoyaltyStreams_NotActive(streamId, status);
        Settlement memory st = _settleFully(streamId, s);
        if (st.uncoveredDebt == 0) _roundUpAndReanchor(streamId, s);
        uint40 now_ = uint40(block.timestamp);
        s.resumeEnd = s.endAt;
        if (now_ < s.endAt) s.endAt = now_;
        s.status = Streams.Status.Paused;
        s.pausedByOperator = byOperator;
        emit StreamPaused(streamId, msg.sender, st.uncoveredDebt);
    }

    /// @inheritdoc IRoyaltyStreams
    function restart(uint256 streamId, uint128 ratePerSecond) external override nonReentrant {
        Stored storage s = _streams[streamId];
        Streams.Status status = s.status;
        if (status == Streams.Status.Null) revert Errors.RoyaltyStreams_UnknownStream(streamId);
        bool byPayer = msg.sender == s.payer;
        if (!byPayer && !(s.pausedByOperator && msg.sender == s.operator)) {
            revert Errors.RoyaltyStreams_NotAllowedToRestart(streamId, msg.sender);
        }
        if (status != Streams.Status.Paused) revert Errors.RoyaltyStreams_NotPaused(streamId);
        if (ratePerSecond == 0) revert Errors.RoyaltyStreams_ZeroRate();
        // The operator may only pause: it restarts at the rate in force at the pause.
        if (!byPayer && ratePerSecond != s.ratePerSecond) {
            revert Errors.RoyaltyStreams_OperatorCannotChangeRate(streamId, s.ratePerSecond, ratePerSecond);
        }
        Settlement memory st = _settleFully(streamId, s);
        if (st.uncoveredDebt != 0) revert Errors.RoyaltyStreams_Insolvent(streamId, st.uncoveredDebt);
        uint40 from = s.creditedAt > block.timestamp ? s.creditedAt : uint40(block.timestamp);
        uint40 end = s.resumeEnd;
        if (end <= from) revert Errors.RoyaltyStreams_StreamEnded(streamId, end);
        // Nothing accrued while paused: accrual resumes from `from` at the new rate.
        s.creditedAt = from;
        s.anchor = from;
        s.endAt = end;
        s.resumeEnd = 0;
        s.ratePerSecond = ratePerSecond;
        s.status = Streams.Status.Active;
        s.pausedByOperator = false;
        emit StreamRestarted(streamId, msg.sender, ratePerSecond);
    }

    /// @inheritdoc IRoyaltyStreams
    function cancel(uint256 streamId) external override nonReentrant returns (uint128 refunded) {
        Stored storage s = _streams[streamId];
        _requirePayer(streamId, s);
        if (s.status == Streams.Status.Cancelled) revert Errors.RoyaltyStreams_StreamCancelled(streamId);
        Settlement memory st = _settleFully(streamId, s);
        uint128 rest = s.balance;
        if (st.uncoveredDebt != 0) {
            // Insolvent: what is left (less than one more second of accrual) goes to the holder
            // of the first unfunded second; the debt beyond the balance is written off.
            if (rest != 0) _credit(streamId, _holderAt(s, s.creditedAt), s.token, rest);
        } else {
            _roundUpAndReanchor(streamId, s);
            refunded = s.balance;
        }
        s.balance = 0;
        s.status = Streams.Status.Cancelled;
        emit StreamCancelled(streamId, msg.sender, refunded, st.uncoveredDebt);
        if (refunded != 0) IERC20(s.token).safeTransfer(msg.sender, refunded);
    }

    /*//////////////////////////////////////////////////////////////
                              PAYEE WRITES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IRoyaltyStreams
    function withdraw(uint256 streamId) external override nonReentrant returns (uint256 paid) {
        Stored storage s = _streams[streamId];
        if (s.status == Streams.Status.Null) revert Errors.RoyaltyStreams_UnknownStream(streamId);
        Settlement memory st = _settle(streamId, s, true);
        paid = st.toCurrent;
        if (paid != 0) {
            address token = s.token;
            emit StreamWithdrawn(streamId, st.current, token, paid);
            IERC20(token).safeTransfer(st.current, paid);
        }
    }

    /// @inheritdoc IRoyaltyStreams
    function withdrawMultiple(uint256[] calldata streamIds)
        external
        override
        nonReentrant
        returns (uint256 paid)
    {
        address pendingHolder;
        address pendingToken;
        uint256 pendingAmount;
        for (uint256 i; i < streamIds.length; ++i) {
            uint256 streamId = streamIds[i];
            Stored storage s = _streams[streamId];
            if (s.status == Streams.Status.Null) revert Errors.RoyaltyStreams_UnknownStream(streamId);
            Settlement memory st = _settle(streamId, s, true);
            uint256 amount = st.toCurrent;
            if (amount == 0) continue;
            address token = s.token;
            emit StreamWithdrawn(streamId, st.current, token, amount);
            paid += amount;
            if (st.current == pendingHolder && token == pendingToken) {
                pendingAmount += amount;
                continue;
            }
            if (pendingAmount != 0) IERC20(pendingToken).safeTransfer(pendingHolder, pendingAmount);
            (pendingHolder, pendingToken, pendingAmount) = (st.current, token, amount);
        }
        if (pendingAmount != 0) IERC20(pendingToken).safeTransfer(pendingHolder, pendingAmount);
    }

    /// @inheritdoc IRoyaltyStreams
    function settle(uint256 streamId) external override nonReentrant returns (bool complete) {
        Stored storage s = _streams[streamId];
        if (s.status == Streams.Status.Null) revert Errors.RoyaltyStreams_UnknownStream(streamId);
        return _settle(streamId, s, false).complete;
    }

    /// @inheritdoc IRoyaltyStreams
    function withdrawOwed(address account, address token)
        external
        override
        nonReentrant
        returns (uint256 amount)
    {
        amount = _owed[account][token];
        if (amount == 0) return 0;
        _owed[account][token] = 0;
        emit OwedWithdrawn(account, token, amount);
        IERC20(token).safeTransfer(account, amount);
    }

    /// @inheritdoc ILicenseTransferHook
    /// @dev O(1): appends one checkpoint (or replaces the last one if it was made in the same
    /// second, so that zero-length holdings take no space). Licenses whose holder has not enabled
    /// streams are skipped.
    function onLicenseTransfer(uint256 licenseId, address, address to) external override {
        if (msg.sender != address(licenses)) revert Errors.RoyaltyStreams_NotLicenseContract(msg.sender);
        Streams.Checkpoint[] storage history = _holders[licenseId];
        uint256 length = history.length;
        if (length == 0) return;
        uint40 now_ = uint40(block.timestamp);
        Streams.Checkpoint storage last = history[length - 1];
        if (last.since == now_) {
            last.holder = to;
            emit HolderCheckpointed(licenseId, to, now_, length - 1);
        } else {
            history.push(Streams.Checkpoint({since: now_, holder: to}));
            emit HolderCheckpointed(licenseId, to, now_, length);
        }
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    /// @dev Credits the stream's accrual since `creditedAt` to the holders of each moment, in
    /// time order, as far as the balance covers it and at most {MAX_CHECKPOINTS_PER_CALL}
    /// checkpoints further. With `payCurrent`, the current holder's part is returned in
    /// `toCurrent` (and the holder in `current`) for the caller to transfer; everything else is
    /// booked to `_owed`. A cancelled stream was settled for good when it was cancelled: nothing
    /// accrues after that, so it has nothing to settle and no debt.
    function _settle(uint256 streamId, Stored storage s, bool payCurrent)
        private
        returns (Settlement memory st)
    {
        uint40 from = s.creditedAt;
        uint40 to = _accrualEnd(s);
        if (to <= from || s.status == Streams.Status.Cancelled) {
            st.complete = true;
            return st;
        }
        Streams.Checkpoint[] storage history = _holders[s.licenseId];
        Walk memory w;
        w.rate = s.ratePerSecond;
        w.anchor = s.anchor;
        w.balance = s.balance;
        // Units accrued from the anchor up to `from` (already credited).
        w.base = w.rate * (from - w.anchor) / _SCALE;
        w.cumulative = w.base;
        w.fundedTo = to;
        uint256 reach = w.rate * (to - w.anchor) / _SCALE - w.base;
        if (reach > w.balance) {
            st.uncoveredDebt = reach - w.balance;
            // The last second `t` with floor(rate * (t - anchor) / 1e18) <= base + balance; it
            // lies in [from, to), so it fits in uint40.
            w.fundedTo = uint40(w.anchor + ((w.base + w.balance + 1) * _SCALE - 1) / w.rate);
        }
        w.last = history.length - 1;
        w.i = _indexAt(history, w.last, from);
        w.token = s.token;

        uint40 cursor = _walk(streamId, history, w, from, payCurrent, st);

        st.complete = cursor == w.fundedTo;
        if (st.toCurrent != 0) st.current = history[w.last].holder;
        if (st.uncoveredDebt != 0 && st.complete) {
            emit StreamInsolvent(streamId, w.fundedTo, st.uncoveredDebt);
        }

        s.creditedAt = cursor;
        // Cannot underflow: the funded limit keeps the credited units within the balance.
        unchecked {
            s.balance = uint128(w.balance - (w.cumulative - w.base));
        }
    }

    /// @dev Index of the checkpoint in force at time `at` (the last one with `since <= at`; 0 if
    /// none is). The last checkpoint is checked first (no transfer since `at`: the common case);
    /// otherwise a search goes back in doubling steps and then bisects, O(log k) reads for k
    /// checkpoints after `at`, which the walk then reads anyway.
    function _indexAt(Streams.Checkpoint[] storage history, uint256 last, uint40 at)
        private
        view
        returns (uint256 lo)
    {
        if (history[last].since <= at) return last;
        // Invariant: history[hi].since > at; the answer is in [lo, hi).
        uint256 hi = last;
        uint256 step = 1;
        while (step < hi) {
            uint256 probe = hi - step;
            if (history[probe].since <= at) {
                lo = probe;
                break;
            }
            hi = probe;
            step <<= 1;
        }
        while (hi - lo > 1) {
            uint256 mid = (lo + hi) >> 1;
            if (history[mid].since <= at) lo = mid;
            else hi = mid;
        }
    }

    /// @dev Walks the holder checkpoints from `from` to the funded limit (or the page limit),
    /// crediting each holder the units accrued while it held the license.
    function _walk(
        uint256 streamId,
        Streams.Checkpoint[] storage history,
        Walk memory w,
        uint40 from,
        bool payCurrent,
        Settlement memory st
    ) private returns (uint40 cursor) {
        uint256 steps;
        cursor = from;
        while (cursor < w.fundedTo) {
            uint40 sliceEnd = w.fundedTo;
            if (w.i < w.last) {
                uint40 next = history[w.i + 1].since;
                if (next <= cursor) {
                    // The next holder took over at or before the cursor.
                    ++w.i;
                    if (++steps == MAX_CHECKPOINTS_PER_CALL) break;
                    continue;
                }
                if (next < sliceEnd) sliceEnd = next;
            }
            uint256 accrued = w.rate * (sliceEnd - w.anchor) / _SCALE;
            uint256 units = accrued - w.cumulative;
            w.cumulative = accrued;
            if (units != 0) {
                if (w.i == w.last && payCurrent) st.toCurrent += units;
                else _credit(streamId, history[w.i].holder, w.token, units);
            }
            cursor = sliceEnd;
        }
    }

    /// @dev `_settle` without transfers, which must reach the present (or the funded limit).
    function _settleFully(uint256 streamId, Stored storage s) private returns (Settlement memory st) {
        st = _settle(streamId, s, false);
        if (!st.complete) revert Errors.RoyaltyStreams_SettlementIncomplete(streamId, s.creditedAt);
    }

    /// @dev After a full, solvent settlement by the payer or operator: if a fraction of a unit
    /// accrued at `creditedAt`, the holder gets the whole unit (rounding never favours the payer),
    /// and the rate's anchor moves to `creditedAt`, so that the fraction is not counted again.
    function _roundUpAndReanchor(uint256 streamId, Stored storage s) private {
        uint40 at = s.creditedAt;
        if (_fractionAt(s, at) && s.balance != 0) {
            s.balance -= 1;
            // The fraction accrued in the second before `at`: its holder gets the unit.
            _credit(streamId, _holderAt(s, at - 1), s.token, 1);
        }
        s.anchor = at;
    }

    /// @dev Whether a fraction of a unit accrued between the anchor and `at`.
    function _fractionAt(Stored storage s, uint40 at) private view returns (bool) {
        return at > s.anchor && (uint256(s.ratePerSecond) * (at - s.anchor)) % _SCALE != 0;
    }

    /// @dev The holder of the stream's license at time `at`.
    function _holderAt(Stored storage s, uint40 at) private view returns (address) {
        Streams.Checkpoint[] storage history = _holders[s.licenseId];
        return history[_indexAt(history, history.length - 1, at)].holder;
    }

    function _emitCreated(uint256 streamId, Streams.CreateParams calldata params, uint40 start) private {
        emit StreamCreated(
            streamId,
            msg.sender,
            params.licenseId,
            params.token,
            params.ratePerSecond,
            start,
            params.endTime,
            params.operator,
            params.deposit
        );
    }

    function _credit(uint256 streamId, address holder, address token, uint256 amount) private {
        _owed[holder][token] += amount;
        emit AccrualCredited(streamId, holder, token, amount);
    }

    /// @dev Accrued since `creditedAt` and not settled: the part the balance covers, and the rest.
    function _pending(Stored storage s) private view returns (uint256 covered, uint256 debt) {
        uint40 from = s.creditedAt;
        uint40 to = _accrualEnd(s);
        if (s.status == Streams.Status.Null || s.status == Streams.Status.Cancelled || to <= from) {
            return (0, 0);
        }
        uint256 rate = s.ratePerSecond;
        uint256 anchor = s.anchor;
        uint256 base = rate * (from - anchor) / _SCALE;
        uint256 reach = rate * (to - anchor) / _SCALE - base;
        uint256 balance = s.balance;
        if (reach <= balance) return (reach, 0);
        // Settlement stops at the last whole second the balance covers (see {_settle}).
        uint256 fundedTo = anchor + ((base + balance + 1) * _SCALE - 1) / rate;
        return (rate * (fundedTo - anchor) / _SCALE - base, reach - balance);
    }

    /// @dev Accrual runs until the end time (the pause time while paused) or now.
    function _accrualEnd(Stored storage s) private view returns (uint40) {
        uint40 end = s.endAt;
        return block.timestamp < end ? uint40(block.timestamp) : end;
    }

    function _requirePayer(uint256 streamId, Stored storage s) private view {
        if (s.status == Streams.Status.Null) revert Errors.RoyaltyStreams_UnknownStream(streamId);
        if (msg.sender != s.payer) revert Errors.RoyaltyStreams_NotPayer(streamId, msg.sender);
    }

    function _ownerOf(uint256 licenseId) private view returns (address holder) {
        try licenses.ownerOf(licenseId) returns (address owner) {
            holder = owner;
        } catch {
            revert Errors.RoyaltyStreams_UnknownLicense(licenseId);
        }
    }

    /// @dev Pulls exactly `amount`; tokens that deliver less (fee-on-transfer) revert.
    function _pull(address token, address from, uint256 amount) private {
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(from, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received != amount) revert Errors.RoyaltyStreams_TransferAmountMismatch(token, amount, received);
    }
}
