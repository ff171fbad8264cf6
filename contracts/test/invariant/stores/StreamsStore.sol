// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Ghost state of the streams and pools invariant campaign, written by
/// {StreamsHandler}: what went in and out of the contracts, an independent model of each
/// stream's accrual (rate × active seconds, kept without reading the contract's accounting), and
/// of what each pool member earned (income the handler saw arrive at the pool, booked pro rata to
/// the shares the handler moved, at every distribution and share transfer).
contract StreamsStore {
    /// @notice Per stream: the model and the money that moved.
    struct StreamGhost {
        uint256 id;
        uint256 rate;
        uint256 start;
        uint256 end;
        bool paused;
        // Paused by the operator (which may then restart it, at the same rate).
        bool pausedByOperator;
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
    /// @notice Σ tokens that arrived at the pool (seen as its balance rising during stream payouts).
    uint256 public poolIncome;
    /// @notice Pool income not booked yet (arrived since the last distribution or share transfer).
    uint256 public poolPending;
    /// @notice Per pool member: Σ over booking points of (income booked × shares held then).
    mapping(address member => uint256) public poolNumerator;
    /// @notice Per pool member: shares held, as moved by the handler.
    mapping(address member => uint256) public poolShares;

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

    function addPoolIncome(uint256 amount) external {
        poolIncome += amount;
        poolPending += amount;
    }

    function setPoolShares(address member, uint256 amount) external {
        poolShares[member] = amount;
    }

    /// @notice Books the pending pool income to `members`, pro rata to the shares they hold now.
    function bookPoolIncome(address[3] calldata members) external {
        uint256 amount = poolPending;
        if (amount == 0) return;
        for (uint256 i; i < 3; ++i) {
            poolNumerator[members[i]] += amount * poolShares[members[i]];
        }
        poolPending = 0;
    }
}
