// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Ghost state of the streams and pools invariant campaign, written by
/// {StreamsHandler}: what went in and out of the contracts, and an independent model of each
/// stream's accrual (rate × active seconds, kept without reading the contract's accounting).
contract StreamsStore {
    /// @notice Per stream: the model and the money that moved.
    struct StreamGhost {
        uint256 id;
        uint256 rate;
        uint256 start;
        uint256 end;
        bool paused;
        bool cancelled;
        uint256 modelUpTo;
        // Σ rate × active seconds (token units scaled by 1e18).
        uint256 modelScaled;
        // Pauses, rate changes and cancellations (each may round by one unit).
        uint256 reanchors;
        uint256 deposited;
        uint256 refunded;
        // Paid to the current holder by `withdraw` (returned value).
        uint256 withdrawn;
    }

    uint256 public currentTimestamp;
    StreamGhost[] internal _streams;

    /// @notice Σ deposits into streams (create and deposit).
    uint256 public deposited;
    /// @notice Σ refunds on cancel.
    uint256 public refunded;
    /// @notice Σ transferred to holders by withdraw and withdrawOwed.
    uint256 public paidToHolders;
    /// @notice Σ booked into the pool's accumulator by distribute (returned values).
    uint256 public poolDistributed;
    /// @notice Σ paid out by pool claims (returned values).
    uint256 public poolClaimed;

    mapping(bytes32 => uint256) public calls;

    function setTimestamp(uint256 t) external {
        currentTimestamp = t;
    }

    function count(string calldata action) external {
        ++calls[keccak256(bytes(action))];
    }

    function callsOf(string calldata action) external view returns (uint256) {
        return calls[keccak256(bytes(action))];
    }

    function push(StreamGhost calldata g) external {
        _streams.push(g);
    }

    function streamCount() external view returns (uint256) {
        return _streams.length;
    }

    function streamAt(uint256 i) external view returns (StreamGhost memory) {
        return _streams[i];
    }

    function setStream(uint256 i, StreamGhost calldata g) external {
        _streams[i] = g;
    }

    function addDeposited(uint256 amount) external {
        deposited += amount;
    }

    function addRefunded(uint256 amount) external {
        refunded += amount;
    }

    function addPaid(uint256 amount) external {
        paidToHolders += amount;
    }

    function addDistributed(uint256 amount) external {
        poolDistributed += amount;
    }

    function addClaimed(uint256 amount) external {
        poolClaimed += amount;
    }
}
