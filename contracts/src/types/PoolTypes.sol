// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Pools
/// @notice Namespace for the types of {RevenuePool}.
library Pools {
    /// @notice Distribution state of one accepted token. Amounts in token units; `accPerShare`
    /// and `carry` in units scaled by {RevenuePool-PRECISION}.
    /// @param accepted Whether the token is distributed by the pool.
    /// @param accPerShare Σ over distributions of (amount × PRECISION + carry) / totalSupply.
    /// @param carry What the last division left over (scaled); it joins the next distribution, so
    /// no income is lost to rounding, however small the payment.
    /// @param received Σ amounts distributed (booked into `accPerShare`).
    /// @param paidOut Σ amounts claimed.
    struct TokenState {
        bool accepted;
        uint256 accPerShare;
        uint256 carry;
        uint256 received;
        uint256 paidOut;
    }

    /// @notice One shareholder's position in one token.
    /// @param index `accPerShare` when the account was last settled.
    /// @param owedScaled Settled and not claimed, scaled by {RevenuePool-PRECISION}: fractions of
    /// a unit stay with the account until they add up, so frequent settlement cannot erode a
    /// small holder's income.
    struct Account {
        uint256 index;
        uint256 owedScaled;
    }

    /// @notice Input of {RevenuePoolFactory-createPool}.
    /// @param name ERC-20 name of the shares.
    /// @param symbol ERC-20 symbol of the shares.
    /// @param members Who receives shares at creation.
    /// @param shares Shares of each member (the total supply is their sum and never changes).
    /// @param tokens Accepted income tokens (at most {RevenuePool-MAX_TOKENS}).
    /// @param transferable Whether shares move between holders (false: a fixed split).
    /// @param manager May add accepted tokens and update the terms of licenses the pool holds;
    /// `address(0)`: nobody (the pool is immutable).
    struct Config {
        string name;
        string symbol;
        address[] members;
        uint256[] shares;
        address[] tokens;
        bool transferable;
        address manager;
    }
}
