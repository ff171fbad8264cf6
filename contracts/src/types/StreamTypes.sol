// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Streams
/// @notice Namespace for the types of {RoyaltyStreams}. Storage structs note how they pack into
/// slots.
library Streams {
    /// @notice What is stored about a stream's lifecycle. `Null`: no such stream.
    enum Status {
        Null,
        Active,
        Paused,
        Cancelled
    }

    /// @notice The state a stream is in right now, derived from storage and the clock (for
    /// indexers and UIs; the contract's rules use {Status}).
    enum State {
        Null,
        // Active, before its start time.
        Pending,
        // Active, accruing, and its balance covers what accrued.
        Streaming,
        // Active or paused, and what accrued exceeds its balance (uncovered debt > 0).
        Insolvent,
        // Paused by the payer or the operator, no debt.
        Paused,
        // Past its end time, no debt; the payer can cancel to take back what is left.
        Ended,
        // Cancelled: final.
        Cancelled
    }

    /// @notice One stream, as {RoyaltyStreams-getStream} returns it (the contract stores it in
    /// three slots, four with an operator or while paused, and derives `holderIndex`).
    /// Accrual: between `anchor` (the last rate change) and time `t`, the stream has accrued
    /// `floor(ratePerSecond * (t - anchor) / 1e18)` token units; it has credited to holders what
    /// accrued up to `creditedAt`, and `balance` holds what has not been credited or refunded.
    /// @param token The ERC-20 streamed.
    /// @param creditedAt Accrual up to this time has been credited to the holders of that time.
    /// @param endAt Accrual stops here (`type(uint40).max`: open-ended; while paused: the pause
    /// time, the original end being kept in `resumeEnd`).
    /// @param status Lifecycle.
    /// @param pausedByOperator Whether the operator (not the payer) paused it.
    /// @param ratePerSecond Token base units per second, as an 18-decimal fixed-point number.
    /// @param balance Deposited and not yet credited to a holder or refunded.
    /// @param licenseId The license whose holders the stream pays.
    /// @param holderIndex Index, in the license's holder history, of the checkpoint in force at
    /// `creditedAt` (derived, not stored).
    /// @param anchor When the current rate took effect (accrual is measured from here).
    /// @param resumeEnd While paused, the end time to restore on restart.
    /// @param payer Who opened the stream: may top up, adjust, pause, restart, cancel; refunds go
    /// to it.
    /// @param operator May pause the stream (and restart it at the same rate if it paused it);
    /// `address(0)`: none.
    struct Record {
        address token;
        uint40 creditedAt;
        uint40 endAt;
        Status status;
        bool pausedByOperator;
        uint128 ratePerSecond;
        uint128 balance;
        uint64 licenseId;
        uint32 holderIndex;
        uint40 anchor;
        uint40 resumeEnd;
        address payer;
        address operator;
    }

    /// @notice From `since` on, `holder` held the license (until the next checkpoint). One slot.
    struct Checkpoint {
        uint40 since;
        address holder;
    }

    /// @notice Input of {RoyaltyStreams-create}.
    /// @param licenseId The license paid (its holder over time is the payee).
    /// @param token The ERC-20 streamed (must move exact amounts: fee-on-transfer tokens revert).
    /// @param ratePerSecond Token base units per second as an 18-decimal fixed-point number
    /// (e.g. 1 unit of a 6-decimal token per day is `1e6 * 1e18 / 86_400`).
    /// @param startTime When accrual starts; 0 means now. Not in the past.
    /// @param endTime When accrual stops; 0 means never.
    /// @param operator Account that may also pause the stream (e.g. the relayer that sees the
    /// model go offline) and restart its own pause at the same rate; `address(0)`: only the payer.
    /// @param deposit Amount pulled from the payer now (may be 0 and topped up later).
    struct CreateParams {
        uint256 licenseId;
        address token;
        uint128 ratePerSecond;
        uint40 startTime;
        uint40 endTime;
        address operator;
        uint128 deposit;
    }
}
