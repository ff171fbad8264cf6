// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Streams} from "../types/StreamTypes.sol";
import {ILicenseNFT} from "./ILicenseNFT.sol";
import {ILicenseTransferHook} from "./ILicenseTransferHook.sol";

/// @title IRoyaltyStreams
/// @notice Continuous royalties: a payer streams a token to a license at a rate per second. What
/// accrues while someone holds the license is theirs: a transfer redirects future accrual to the
/// new holder and leaves past accrual with the old one. Streams never liquidate: a stream whose
/// balance runs out stops paying and records its uncovered debt, which a later top-up pays to the
/// holders of the time it accrued.
///
/// A license is streamed to only once its holder has enabled streams ({enableStreams}): that
/// starts the license's holder history, which makes each later transfer of the license record a
/// checkpoint. Nobody but the holder can put that cost on the holder's transfers.
///
/// Every token unit deposited is, at every moment, in exactly one place: a stream's balance
/// (not yet accrued, or accrued and not yet settled), owed to an account ({owedTo}), paid to a
/// holder, or refunded to the payer. See docs/streams-and-pools.md.
interface IRoyaltyStreams is ILicenseTransferHook {
    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Emitted when a stream is opened.
    event StreamCreated(
        uint256 indexed streamId,
        address indexed payer,
        uint256 indexed licenseId,
        address token,
        uint128 ratePerSecond,
        uint40 startTime,
        uint40 endTime,
        address operator,
        uint128 deposit
    );

    /// @notice Emitted when `funder` tops up a stream.
    event StreamDeposited(uint256 indexed streamId, address indexed funder, uint128 amount);

    /// @notice Emitted when the payer changes the rate; the new rate applies from `effectiveAt`.
    event StreamRateAdjusted(uint256 indexed streamId, uint128 oldRate, uint128 newRate, uint40 effectiveAt);

    /// @notice Emitted when `by` (the payer or the operator) pauses a stream. `uncoveredDebt` is
    /// what accrued before the pause and is not funded.
    event StreamPaused(uint256 indexed streamId, address indexed by, uint256 uncoveredDebt);

    /// @notice Emitted when `by` restarts a paused stream at `ratePerSecond`.
    event StreamRestarted(uint256 indexed streamId, address indexed by, uint128 ratePerSecond);

    /// @notice Emitted when the payer cancels a stream: `refunded` went back to the payer;
    /// `uncoveredDebt` had accrued without funds and is written off (final).
    event StreamCancelled(
        uint256 indexed streamId, address indexed payer, uint128 refunded, uint256 uncoveredDebt
    );

    /// @notice Emitted when accrual of a stream is booked to `holder`'s {owedTo} balance (past
    /// holders, and settlements that do not transfer).
    event AccrualCredited(
        uint256 indexed streamId, address indexed holder, address indexed token, uint256 amount
    );

    /// @notice Emitted when accrual of a stream is transferred to the license's current holder.
    event StreamWithdrawn(
        uint256 indexed streamId, address indexed holder, address indexed token, uint256 amount
    );

    /// @notice Emitted when a settlement stops short because the stream's balance ran out:
    /// accrual up to `fundedUntil` is paid, `uncoveredDebt` accrued after it without funds.
    event StreamInsolvent(uint256 indexed streamId, uint40 fundedUntil, uint256 uncoveredDebt);

    /// @notice Emitted when an account's {owedTo} balance is paid out.
    event OwedWithdrawn(address indexed account, address indexed token, uint256 amount);

    /// @notice Emitted when a license's holder enables streams (`index` 0: the history starts) and
    /// when a license with streams enabled changes hands: from `since` on, accrual goes to
    /// `holder`. `index` is the checkpoint's position in the license's holder history.
    event HolderCheckpointed(uint256 indexed licenseId, address indexed holder, uint40 since, uint256 index);

    /*//////////////////////////////////////////////////////////////
                                  READS
    //////////////////////////////////////////////////////////////*/

    /// @notice Most holder checkpoints one call walks through; a settlement that has more pending
    /// stops there, and `settle` / `withdraw` continue it.
    function MAX_CHECKPOINTS_PER_CALL() external view returns (uint256);

    /// @notice The license contract whose holders are paid.
    function licenses() external view returns (ILicenseNFT);

    /// @notice Id the next stream will get (ids start at 1).
    function nextStreamId() external view returns (uint256);

    /// @notice The record of a stream (zeroed for unknown ids). `holderIndex` is the position, in
    /// the license's holder history, of the checkpoint in force at `creditedAt`.
    function getStream(uint256 streamId) external view returns (Streams.Record memory);

    /// @notice The state of a stream right now (see {Streams-State}).
    function stateOf(uint256 streamId) external view returns (Streams.State);

    /// @notice Accrued, funded and not yet settled: what a full settlement would credit now.
    function withdrawableAmountOf(uint256 streamId) external view returns (uint256);

    /// @notice Accrued and not covered by the stream's balance.
    function uncoveredDebtOf(uint256 streamId) external view returns (uint256);

    /// @notice What a cancellation now would return to the payer (the balance less what accrued,
    /// less the unit that rounds the accrual up when a fraction of a unit accrued).
    function refundableAmountOf(uint256 streamId) external view returns (uint256);

    /// @notice Token units of `token` settled for `account` and not yet paid out.
    function owedTo(address account, address token) external view returns (uint256);

    /// @notice Whether the license's holder enabled streams (see {enableStreams}).
    function streamsEnabled(uint256 licenseId) external view returns (bool);

    /// @notice Number of holder checkpoints of a license (0: streams are not enabled).
    function holderCheckpointCount(uint256 licenseId) external view returns (uint256);

    /// @notice The `index`-th holder checkpoint of a license.
    function holderCheckpoint(uint256 licenseId, uint256 index)
        external
        view
        returns (Streams.Checkpoint memory);

    /*//////////////////////////////////////////////////////////////
                              PAYER WRITES
    //////////////////////////////////////////////////////////////*/

    /// @notice Lets payers stream to a license: starts its holder history with the current
    /// holder, so that accrual follows the license across transfers from now on. From then on
    /// every transfer of the license records a checkpoint (one storage slot, paid by whoever
    /// transfers it), which is why only the holder (or an account it approved for the license)
    /// may enable it. Final: a license's history is never removed. A {IRevenuePool} enables the
    /// licenses it holds through {IRevenuePool-enableStreams}.
    /// @dev Emits {HolderCheckpointed} with index 0.
    ///
    /// Requirements:
    /// - The license exists; the caller is its holder, approved for it, or an operator of the
    ///   holder; streams are not enabled yet; this contract is the license contract's transfer
    ///   hook.
    function enableStreams(uint256 licenseId) external;

    /// @notice Opens a stream from the caller to a license and pulls `params.deposit`.
    /// @dev Emits {StreamCreated}.
    ///
    /// Requirements:
    /// - The license's holder enabled streams ({enableStreams}).
    /// - `token` is not zero and moves exact amounts; `ratePerSecond` is not zero.
    /// - `startTime` is 0 or not in the past; `endTime` is 0 or after the start.
    /// @return streamId The new stream's id.
    function create(Streams.CreateParams calldata params) external returns (uint256 streamId);

    /// @notice Adds `amount` to a stream's balance; anyone may fund any stream. A top-up of an
    /// insolvent stream pays its uncovered debt first (to the holders of the time it accrued).
    /// @dev Emits {StreamDeposited}.
    ///
    /// Requirements:
    /// - The stream exists and is not cancelled; `amount` is not zero and arrives exactly.
    function deposit(uint256 streamId, uint128 amount) external;

    /// @notice Changes the rate from now on (from the start time if the stream has not started).
    /// Accrual so far is settled first, its fraction of a unit rounded up for the holder.
    /// @dev Emits {StreamRateAdjusted} and {AccrualCredited} for what was settled.
    ///
    /// Requirements:
    /// - The caller is the payer; the stream is active, solvent and fully settled (see
    ///   {settle}); `newRate` is not zero.
    function adjustRate(uint256 streamId, uint128 newRate) external;

    /// @notice Stops accrual now; nothing accrues until {restart}. The payer may always pause; the
    /// stream's operator may too. Debt accrued before the pause stays and is paid by top-ups.
    /// @dev Emits {StreamPaused} and {AccrualCredited} for what was settled.
    ///
    /// Requirements:
    /// - The caller is the payer or the operator; the stream is active and fully settled.
    function pause(uint256 streamId) external;

    /// @notice Restarts a paused stream at `ratePerSecond` until its original end. The payer may
    /// restart any pause, at any rate; the operator only a pause it made, and only at the rate in
    /// force at the pause (only the payer changes the rate).
    /// @dev Emits {StreamRestarted}.
    ///
    /// Requirements:
    /// - The stream is paused, has no uncovered debt and its end time has not passed;
    ///   `ratePerSecond` is not zero, and equals the stream's rate when the operator restarts.
    function restart(uint256 streamId, uint128 ratePerSecond) external;

    /// @notice Ends a stream for good: what accrued goes to the holders of the time (rounded up
    /// to the unit), the exact rest of the balance back to the payer. Uncovered debt is written
    /// off and reported.
    /// @dev Emits {StreamCancelled} and {AccrualCredited} for what was settled.
    ///
    /// Requirements:
    /// - The caller is the payer; the stream is not cancelled and is fully settled.
    /// @return refunded What was returned to the payer.
    function cancel(uint256 streamId) external returns (uint128 refunded);

    /*//////////////////////////////////////////////////////////////
                              PAYEE WRITES
    //////////////////////////////////////////////////////////////*/

    /// @notice Settles a stream (up to {MAX_CHECKPOINTS_PER_CALL} holder changes) and transfers
    /// what accrued to the license's current holder; what accrued under earlier holders is booked
    /// to their {owedTo}. Anyone may call; the money only ever goes to the rightful holders.
    /// @dev Emits {StreamWithdrawn}, {AccrualCredited}, {StreamInsolvent} as they apply.
    /// A cancelled stream returns 0 and emits nothing (it was settled when it was cancelled).
    /// @return paid What was transferred to the current holder.
    function withdraw(uint256 streamId) external returns (uint256 paid);

    /// @notice {withdraw} for several streams; consecutive streams with the same holder and token
    /// are paid in one transfer.
    /// @return paid The total transferred.
    function withdrawMultiple(uint256[] calldata streamIds) external returns (uint256 paid);

    /// @notice Settles a stream (up to {MAX_CHECKPOINTS_PER_CALL} holder changes) without any
    /// transfer: everything is booked to {owedTo}. For streams with long holder histories, and for
    /// holders that cannot receive the token right now.
    /// @return complete Whether the stream is now settled up to the present.
    function settle(uint256 streamId) external returns (bool complete);

    /// @notice Pays `account` its {owedTo} balance of `token`; anyone may call.
    /// @dev Emits {OwedWithdrawn}.
    /// @return amount What was paid.
    function withdrawOwed(address account, address token) external returns (uint256 amount);
}
