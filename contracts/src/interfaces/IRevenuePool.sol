// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";

import {License} from "../types/LicenseTypes.sol";
import {Pools} from "../types/PoolTypes.sol";
import {ILicenseNFT} from "./ILicenseNFT.sol";
import {IRoyaltyStreams} from "./IRoyaltyStreams.sol";

/// @title IRevenuePool
/// @notice Shares income among many holders. The pool's shares are an ERC-20 with a fixed supply
/// (fractional data tokens), or non-transferable for a fixed split. Income in any accepted token
/// (per-sample claims paid to the pool as license holder, stream withdrawals, EIP-2981 royalties)
/// arrives as a plain balance increase; anyone books it with {distribute}, which adds it to a
/// per-token accumulator in O(1), and every share transfer books it first. Each holder claims its
/// pro-rata part at any time, in O(1). Income belongs to the shares held when it was received:
/// a share transfer books what arrived before it to the holders before it, then settles both
/// sides, so neither a buyer nor a flash-borrower of shares can take income received before it
/// held them. (Income earned elsewhere but not yet paid to the pool, such as a stream's accrual
/// not yet withdrawn, is not the pool's until it arrives; see docs/threat-model.md.)
///
/// For every accepted token: `received × PRECISION == Σ claimed × PRECISION + Σ owedScaled +
/// Σ shares × (accPerShare − index) + carry` (exact), so the pool never pays out more than it
/// received, and dust is the scaled `carry` plus holders' sub-unit remainders, all kept.
interface IRevenuePool is IERC20, IERC721Receiver {
    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Emitted when `amount` of new income is booked; `accPerShare` and `carry` are the
    /// token's accumulator and leftover after it.
    event IncomeDistributed(
        address indexed token, address indexed by, uint256 amount, uint256 accPerShare, uint256 carry
    );

    /// @notice Emitted when `account` is paid `amount` of `token`.
    event Claimed(address indexed account, address indexed token, uint256 amount);

    /// @notice Emitted when a token becomes distributable.
    event TokenAccepted(address indexed token);

    /// @notice Emitted when the manager replaces the terms of a license the pool holds.
    event LicenseTermsUpdatedByManager(address indexed licenses, uint256 indexed licenseId, uint64 termsId);

    /*//////////////////////////////////////////////////////////////
                                  READS
    //////////////////////////////////////////////////////////////*/

    /// @notice Scale of `accPerShare`, `carry` and `owedScaled`.
    function PRECISION() external view returns (uint256);

    /// @notice Most tokens a pool accepts (each share transfer settles every one).
    function MAX_TOKENS() external view returns (uint256);

    /// @notice Whether shares move between holders (false: a fixed split).
    function transferable() external view returns (bool);

    /// @notice Who may add tokens and update the terms of held licenses (`address(0)`: nobody).
    function manager() external view returns (address);

    /// @notice The accepted tokens.
    function acceptedTokens() external view returns (address[] memory);

    /// @notice Distribution state of `token`.
    function tokenState(address token) external view returns (Pools.TokenState memory);

    /// @notice `account`'s settled position in `token` (not counting what accrued since).
    function accountState(address account, address token) external view returns (Pools.Account memory);

    /// @notice What `account` can claim of `token` now, from distributed income.
    function claimable(address account, address token) external view returns (uint256);

    /// @notice Income of `token` the pool holds and has not distributed yet.
    function undistributed(address token) external view returns (uint256);

    /*//////////////////////////////////////////////////////////////
                                 WRITES
    //////////////////////////////////////////////////////////////*/

    /// @notice Books the pool's new income in `token` (its balance beyond what it owes) into the
    /// accumulator; anyone may call. A donation is simply income for the holders. Share transfers
    /// do the same for every accepted token before balances move (and emit this event too).
    /// @dev Emits {IncomeDistributed} when there is something to book.
    ///
    /// Requirements:
    /// - `token` is accepted.
    /// @return amount What was booked.
    function distribute(address token) external returns (uint256 amount);

    /// @notice Pays `account` its share of distributed income in `token`; anyone may call, the
    /// money only goes to `account`. Rounds down; the fraction stays with the account.
    /// @dev Emits {Claimed} when something is paid.
    /// @return amount What was paid.
    function claim(address account, address token) external returns (uint256 amount);

    /// @notice {claim} for several tokens.
    function claimMany(address account, address[] calldata tokens) external returns (uint256[] memory amounts);

    /// @notice Lets payers stream to a license the pool holds ({IRoyaltyStreams-enableStreams},
    /// with the pool as the holder); anyone may call. The pool never transfers its licenses, so
    /// the holder history costs it nothing.
    ///
    /// Requirements:
    /// - The pool holds the license and `streams` accepts the call (see
    ///   {IRoyaltyStreams-enableStreams}).
    function enableStreams(IRoyaltyStreams streams, uint256 licenseId) external;

    /// @notice Accepts a new income token.
    /// @dev Emits {TokenAccepted}.
    ///
    /// Requirements:
    /// - The caller is the manager; the token is not zero, not accepted yet, not the pool's own
    ///   shares, and fewer than {MAX_TOKENS} are accepted.
    function acceptToken(address token) external;

    /// @notice Replaces the terms of a license the pool holds (the pool can never transfer it).
    /// @dev Emits {LicenseTermsUpdatedByManager}.
    ///
    /// Requirements:
    /// - The caller is the manager (and the license contract's own rules hold).
    function updateLicenseTerms(ILicenseNFT licenses, uint256 licenseId, License.Terms calldata terms)
        external
        returns (uint64 termsId);
}
