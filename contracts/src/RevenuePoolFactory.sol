// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {RevenuePool} from "./RevenuePool.sol";
import {Pools} from "./types/PoolTypes.sol";

/// @title RevenuePoolFactory
/// @notice Deploys {RevenuePool}s and records which addresses are genuine pools, so that payers,
/// marketplaces and the indexer can recognise them from one event source. No owner, no fee.
contract RevenuePoolFactory {
    /// @notice Emitted when a pool is created.
    event PoolCreated(
        address indexed pool,
        address indexed creator,
        address indexed manager,
        bool transferable,
        string name,
        string symbol,
        address[] members,
        uint256[] shares,
        address[] tokens
    );

    /// @notice Whether `pool` was created by this factory.
    mapping(address pool => bool) public isPool;

    /// @notice Deploys a pool with `config` (see {Pools-Config} and {RevenuePool}).
    /// @dev Emits {PoolCreated}.
    function createPool(Pools.Config calldata config) external returns (RevenuePool pool) {
        pool = new RevenuePool(config);
        isPool[address(pool)] = true;
        emit PoolCreated(
            address(pool),
            msg.sender,
            config.manager,
            config.transferable,
            config.name,
            config.symbol,
            config.members,
            config.shares,
            config.tokens
        );
    }
}
