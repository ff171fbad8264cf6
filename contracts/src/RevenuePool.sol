// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC721Receiver} from "@openzeppelin/contracts/token/ERC721/IERC721Receiver.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ILicenseNFT} from "./interfaces/ILicenseNFT.sol";
import {IRevenuePool} from "./interfaces/IRevenuePool.sol";
import {IRoyaltyStreams} from "./interfaces/IRoyaltyStreams.sol";
import {Errors} from "./libraries/Errors.sol";
import {License} from "./types/LicenseTypes.sol";
import {Pools} from "./types/PoolTypes.sol";

/// @title RevenuePool
/// @notice See {IRevenuePool}. Shares are minted once, at creation; there is no mint, burn or
/// owner afterwards. The optional manager can only add income tokens (up to {MAX_TOKENS}) and
/// update the terms of licenses the pool holds; it can never move the pool's money or licenses.
/// Every share transfer first books the income the pool has received and not distributed, so
/// that it belongs to the holders before the transfer.
contract RevenuePool is ERC20, IRevenuePool, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @inheritdoc IRevenuePool
    uint256 public constant override PRECISION = 1e36;
    /// @inheritdoc IRevenuePool
    uint256 public constant override MAX_TOKENS = 8;

    /// @inheritdoc IRevenuePool
    bool public immutable override transferable;
    /// @inheritdoc IRevenuePool
    address public immutable override manager;

    address[] private _tokens;
    mapping(address token => Pools.TokenState) private _state;
    mapping(address token => mapping(address account => Pools.Account)) private _accounts;

    /// @param config Name, symbol, members and their shares, accepted tokens, transferability,
    /// manager (see {Pools-Config}).
    constructor(Pools.Config memory config) ERC20(config.name, config.symbol) {
        uint256 n = config.members.length;
        if (n == 0 || n != config.shares.length) revert Errors.RevenuePool_BadMembers();
        transferable = config.transferable;
        manager = config.manager;
        for (uint256 i; i < config.tokens.length; ++i) {
            _accept(config.tokens[i]);
        }
        for (uint256 i; i < n; ++i) {
            if (config.members[i] == address(0) || config.shares[i] == 0) {
                revert Errors.RevenuePool_BadMembers();
            }
            _mint(config.members[i], config.shares[i]);
        }
        if (totalSupply() > type(uint128).max) revert Errors.RevenuePool_BadMembers();
    }

    /*//////////////////////////////////////////////////////////////
                                  READS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IRevenuePool
    function acceptedTokens() external view override returns (address[] memory) {
        return _tokens;
    }

    /// @inheritdoc IRevenuePool
    function tokenState(address token) external view override returns (Pools.TokenState memory) {
        return _state[token];
    }

    /// @inheritdoc IRevenuePool
    function accountState(address account, address token)
        external
        view
        override
        returns (Pools.Account memory)
    {
        return _accounts[token][account];
    }

    /// @inheritdoc IRevenuePool
    function claimable(address account, address token) external view override returns (uint256) {
        Pools.Account storage a = _accounts[token][account];
        uint256 owed = a.owedScaled + balanceOf(account) * (_state[token].accPerShare - a.index);
        return owed / PRECISION;
    }

    /// @inheritdoc IRevenuePool
    function undistributed(address token) public view override returns (uint256) {
        Pools.TokenState storage t = _state[token];
        if (!t.accepted) return 0;
        uint256 balance = IERC20(token).balanceOf(address(this));
        uint256 booked = t.received - t.paidOut;
        return balance > booked ? balance - booked : 0;
    }

    /*//////////////////////////////////////////////////////////////
                                 WRITES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IRevenuePool
    function distribute(address token) external override nonReentrant returns (uint256 amount) {
        Pools.TokenState storage t = _state[token];
        if (!t.accepted) revert Errors.RevenuePool_TokenNotAccepted(token);
        amount = undistributed(token);
        // Bounded so that the scaled sum cannot overflow; a larger balance is booked over
        // several calls.
        if (amount > type(uint128).max) amount = type(uint128).max;
        _book(token, t, amount);
    }

    /// @inheritdoc IRevenuePool
    function claim(address account, address token) external override nonReentrant returns (uint256 amount) {
        return _claim(account, token);
    }

    /// @inheritdoc IRevenuePool
    function claimMany(address account, address[] calldata tokens)
        external
        override
        nonReentrant
        returns (uint256[] memory amounts)
    {
        amounts = new uint256[](tokens.length);
        for (uint256 i; i < tokens.length; ++i) {
            amounts[i] = _claim(account, tokens[i]);
        }
    }

    /// @inheritdoc IRevenuePool
    function acceptToken(address token) external override {
        if (msg.sender != manager || manager == address(0)) revert Errors.RevenuePool_NotManager(msg.sender);
        _accept(token);
    }

    /// @inheritdoc IRevenuePool
    function updateLicenseTerms(ILicenseNFT licenses, uint256 licenseId, License.Terms calldata terms)
        external
        override
        nonReentrant
        returns (uint64 termsId)
    {
        if (msg.sender != manager || manager == address(0)) revert Errors.RevenuePool_NotManager(msg.sender);
        termsId = licenses.updateTerms(licenseId, terms);
        emit LicenseTermsUpdatedByManager(address(licenses), licenseId, termsId);
    }

    /// @inheritdoc IRevenuePool
    function enableStreams(IRoyaltyStreams streams, uint256 licenseId) external override nonReentrant {
        streams.enableStreams(licenseId);
    }

    /// @inheritdoc IERC721Receiver
    /// @dev The pool accepts license NFTs (so that it is paid as their holder) and never sends
    /// them anywhere.
    function onERC721Received(address, address, uint256, bytes calldata)
        external
        pure
        override
        returns (bytes4)
    {
        return IERC721Receiver.onERC721Received.selector;
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    /// @dev Before balances change, books the income received and not distributed yet in every
    /// accepted token (it belongs to the holders before the movement), then settles both sides,
    /// so that income distributed before the movement stays with the previous holder. A share
    /// transfer during another call of the pool (a token's callback in a claim, whose payout is
    /// in flight) is refused: it would book that payout as income.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            if (!transferable) revert Errors.RevenuePool_SharesNotTransferable();
            if (_reentrancyGuardEntered()) revert ReentrancyGuardReentrantCall();
            uint256 n = _tokens.length;
            for (uint256 i; i < n; ++i) {
                address token = _tokens[i];
                Pools.TokenState storage t = _state[token];
                uint256 acc = _book(token, t, _pendingIncome(token, t));
                _settle(from, token, acc);
                _settle(to, token, acc);
            }
        }
        // Mints happen only in the constructor, before any income (accPerShare is 0).
        super._update(from, to, value);
    }

    /// @dev Adds `amount` of new income of `token` to its accumulator, pro rata to the shares
    /// held now; returns the accumulator.
    function _book(address token, Pools.TokenState storage t, uint256 amount) private returns (uint256 acc) {
        acc = t.accPerShare;
        if (amount == 0) return acc;
        uint256 numerator = amount * PRECISION + t.carry;
        uint256 supply = totalSupply();
        acc += numerator / supply;
        uint256 carry = numerator % supply;
        t.accPerShare = acc;
        t.carry = carry;
        t.received += amount;
        emit IncomeDistributed(token, msg.sender, amount, acc, carry);
    }

    /// @dev {undistributed} for a share transfer: 0 when the token's balance cannot be read, so
    /// that a broken token cannot block the shares (its income then waits for {distribute}). A
    /// sender cannot starve the read on purpose: the call gets 63/64 of the gas left, so a gas
    /// limit that makes it fail leaves far too little for the rest of the transfer.
    function _pendingIncome(address token, Pools.TokenState storage t) private view returns (uint256) {
        bytes4 selector = IERC20.balanceOf.selector;
        uint256 held;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 0x04), address())
            let ok := staticcall(gas(), token, ptr, 0x24, 0x00, 0x20)
            held := mul(mload(0x00), and(ok, gt(returndatasize(), 0x1f)))
        }
        uint256 booked = t.received - t.paidOut;
        if (held <= booked) return 0;
        held -= booked;
        return held > type(uint128).max ? type(uint128).max : held;
    }

    /// @dev Moves what `account` earned since its last settlement into `owedScaled` (exact, no
    /// rounding).
    function _settle(address account, address token, uint256 acc) private returns (Pools.Account storage a) {
        a = _accounts[token][account];
        uint256 index = a.index;
        if (index == acc) return a;
        a.owedScaled += balanceOf(account) * (acc - index);
        a.index = acc;
    }

    function _claim(address account, address token) private returns (uint256 amount) {
        Pools.TokenState storage t = _state[token];
        if (!t.accepted) revert Errors.RevenuePool_TokenNotAccepted(token);
        Pools.Account storage a = _settle(account, token, t.accPerShare);
        uint256 owed = a.owedScaled;
        amount = owed / PRECISION;
        if (amount == 0) return 0;
        // The fraction of a unit stays with the account.
        a.owedScaled = owed - amount * PRECISION;
        t.paidOut += amount;
        emit Claimed(account, token, amount);
        IERC20(token).safeTransfer(account, amount);
    }

    function _accept(address token) private {
        if (token == address(0) || token == address(this)) revert Errors.RevenuePool_BadToken(token);
        Pools.TokenState storage t = _state[token];
        if (t.accepted) revert Errors.RevenuePool_BadToken(token);
        if (_tokens.length == MAX_TOKENS) revert Errors.RevenuePool_TooManyTokens(MAX_TOKENS);
        t.accepted = true;
        _tokens.push(token);
        emit TokenAccepted(token);
    }
}
