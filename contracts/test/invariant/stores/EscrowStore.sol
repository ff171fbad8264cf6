// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Ghost state of the escrow invariant campaign: what the handler did, and what an
/// independent model of the protocol says each action should have moved. The handler writes it;
/// the invariant test reads it. Nothing here is computed from the escrow's own storage, except
/// where a comment says the value was observed (events or return values).
contract EscrowStore {
    /*//////////////////////////////////////////////////////////////
                                  TIME
    //////////////////////////////////////////////////////////////*/

    /// @notice The campaign's clock. Every handler action starts by warping here, so time only
    /// moves forward, whether or not the fuzzer keeps `vm.warp` between calls.
    uint256 public currentTimestamp;

    /*//////////////////////////////////////////////////////////////
                              TOTALS PER TOKEN
    //////////////////////////////////////////////////////////////*/

    /// @notice Σ deposits (deposit and depositFor).
    mapping(address token => uint256) public deposited;
    /// @notice Σ amounts `withdraw` returned.
    mapping(address token => uint256) public withdrawn;
    /// @notice Σ (charge - fee) over all settlements, per the model.
    mapping(address token => uint256) public paidToPayees;
    /// @notice Σ floor(charge * feeBps / 10_000) over all settlements, per the model (feeBps: the
    /// batch's snapshot for claims, the fee in force for direct settlements).
    mapping(address token => uint256) public feesCharged;
    /// @notice Σ fees in {UsageSettled} events (observed).
    mapping(address token => uint256) public feesInEvents;
    /// @notice Σ amounts `withdrawFees` returned.
    mapping(address token => uint256) public feesWithdrawn;
    /// @notice Σ amounts reserved by commits.
    mapping(address token => uint256) public reservedTotal;
    /// @notice Σ amounts claims drew from lines' reserved funds, per the model.
    mapping(address token => uint256) public claimedTotal;
    /// @notice Σ amounts `release` returned to lines' credit.
    mapping(address token => uint256) public releasedTotal;
    /// @notice Σ charges of direct settlements, per the model.
    mapping(address token => uint256) public directTotal;

    /*//////////////////////////////////////////////////////////////
                           PER PAYER, PER PAYEE
    //////////////////////////////////////////////////////////////*/

    /// @notice Σ deposits credited to the payer (its own and third parties').
    mapping(address payer => mapping(address token => uint256)) public depositedFor;
    /// @notice Σ the payer withdrew.
    mapping(address payer => mapping(address token => uint256)) public withdrawnBy;
    /// @notice Σ charges to the payer (claims and direct settlements), per the model.
    mapping(address payer => mapping(address token => uint256)) public chargedTo;
    /// @notice Σ `amount` of the {UsageSettled} events naming the payer (observed).
    mapping(address payer => mapping(address token => uint256)) public chargedInEvents;
    /// @notice Σ payouts to the payee, per the model (the holder at settlement time).
    mapping(address payee => mapping(address token => uint256)) public receivedBy;

    /*//////////////////////////////////////////////////////////////
                             PER USAGE KEY
    //////////////////////////////////////////////////////////////*/

    /// @notice Highest cumulative count the payer signed for the key.
    mapping(bytes32 usageKey => uint64) public maxSigned;
    /// @notice Settled count of the key, per the model.
    mapping(bytes32 usageKey => uint64) public modelSettled;
    /// @notice Σ samples charged for the key, per the model (after caps).
    mapping(bytes32 usageKey => uint64) public modelSamplesPaid;
    /// @notice Σ charges for the key, per the model.
    mapping(bytes32 usageKey => uint256) public modelAmountPaid;
    /// @notice Σ `samplesCharged` of the key's {UsageSettled} events (observed).
    mapping(bytes32 usageKey => uint64) public eventSamplesPaid;
    /// @notice Σ `amount` of the key's {UsageSettled} events (observed).
    mapping(bytes32 usageKey => uint256) public eventAmountPaid;
    /// @notice Number of {UsageSettled} events of the key (observed).
    mapping(bytes32 usageKey => uint256) public eventCount;
    /// @notice {UsageSettled} events whose usage key no receipt was ever signed for (observed).
    uint256 public eventsForUnsignedKeys;
    /// @notice Usage keys with at least one signed receipt, in order of first signature.
    bytes32[] internal _signedKeys;
    /// @notice Price per sample of a signed usage key's terms.
    mapping(bytes32 usageKey => uint256) public keyPrice;

    /*//////////////////////////////////////////////////////////////
                             PER ACCEPTANCE
    //////////////////////////////////////////////////////////////*/

    /// @notice Whether the payer accepted the terms (set by the handler after `acceptTerms`).
    mapping(bytes32 acceptanceKey => bool) public accepted;
    /// @notice Samples charged under the acceptance, per the model (after caps).
    mapping(bytes32 acceptanceKey => uint64) public modelSamplesCharged;

    /*//////////////////////////////////////////////////////////////
                       BATCHES AND CREDIT LINES
    //////////////////////////////////////////////////////////////*/

    /// @notice One (batch root, payer, token) record, as committed.
    struct Reservation {
        bytes32 root;
        address payer;
        address token;
        address relayer;
        uint16 feeBps;
        uint40 expiresAt;
        uint256 reserved;
    }

    Reservation[] internal _reservations;
    mapping(bytes32 reservationKey => uint256 indexPlusOne) internal _reservationIndex;

    /// @notice The model of one credit line (payer, relayer, token), with the model of its pending
    /// credit reduction and the number of releases so far (its epoch: the relayer prices over the
    /// counts of the batches committed in the current epoch only).
    struct Line {
        uint256 credit;
        uint256 reserved;
        uint256 fees;
        uint40 reservedUntil;
        uint256 epoch;
        uint256 reductionAmount;
        uint40 reductionEffectiveAt;
    }

    mapping(bytes32 lineKey => Line) internal _lines;
    /// @notice Σ line fees per token, per the model.
    mapping(address token => uint256) public lineFees;

    /*//////////////////////////////////////////////////////////////
                               CALL COUNTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Actions that ran to completion, by name.
    mapping(bytes32 action => uint256) public calls;
    /// @notice Actions that returned early because the fuzzed state made them impossible.
    mapping(bytes32 action => uint256) public skips;
    uint256 public totalCalls;

    /*//////////////////////////////////////////////////////////////
                                 WRITES
    //////////////////////////////////////////////////////////////*/

    function setCurrentTimestamp(uint256 timestamp) external {
        require(timestamp >= currentTimestamp, "EscrowStore: time goes forward");
        currentTimestamp = timestamp;
    }

    function countCall(bytes32 action) external {
        ++calls[action];
        ++totalCalls;
    }

    function countSkip(bytes32 action) external {
        ++skips[action];
    }

    function recordDeposit(address payer, address token, uint256 amount) external {
        deposited[token] += amount;
        depositedFor[payer][token] += amount;
    }

    function recordWithdrawal(address payer, address token, uint256 amount) external {
        withdrawn[token] += amount;
        withdrawnBy[payer][token] += amount;
    }

    function recordAcceptance(bytes32 acceptanceKey) external {
        accepted[acceptanceKey] = true;
    }

    function recordSigned(bytes32 usageKey, uint64 cumulative, uint256 price) external {
        if (maxSigned[usageKey] == 0) {
            _signedKeys.push(usageKey);
            keyPrice[usageKey] = price;
        }
        if (cumulative > maxSigned[usageKey]) maxSigned[usageKey] = cumulative;
    }

    function recordModelSettled(bytes32 usageKey, uint64 cumulative) external {
        modelSettled[usageKey] = cumulative;
    }

    /// @notice One settlement as the model computes it.
    struct Charge {
        bytes32 usageKey;
        bytes32 acceptanceKey;
        address payer;
        address payee;
        address token;
        uint64 samples;
        uint256 amount;
        uint256 fee;
    }

    function recordModelCharge(Charge calldata c) external {
        modelSamplesPaid[c.usageKey] += c.samples;
        modelAmountPaid[c.usageKey] += c.amount;
        modelSamplesCharged[c.acceptanceKey] += c.samples;
        chargedTo[c.payer][c.token] += c.amount;
        paidToPayees[c.token] += c.amount - c.fee;
        feesCharged[c.token] += c.fee;
        receivedBy[c.payee][c.token] += c.amount - c.fee;
    }

    function recordDirect(address token, uint256 amount) external {
        directTotal[token] += amount;
    }

    function recordEvent(
        bytes32 usageKey,
        address payer,
        address token,
        uint64 samples,
        uint256 amount,
        uint256 fee
    ) external {
        chargedInEvents[payer][token] += amount;
        eventSamplesPaid[usageKey] += samples;
        eventAmountPaid[usageKey] += amount;
        ++eventCount[usageKey];
        if (maxSigned[usageKey] == 0) ++eventsForUnsignedKeys;
        feesInEvents[token] += fee;
    }

    function recordFeesWithdrawn(address token, uint256 amount) external {
        feesWithdrawn[token] += amount;
    }

    function recordReservation(bytes32 reservationKey, Reservation calldata r) external {
        require(_reservationIndex[reservationKey] == 0, "EscrowStore: reservation recorded twice");
        _reservations.push(r);
        _reservationIndex[reservationKey] = _reservations.length;
        reservedTotal[r.token] += r.reserved;
    }

    function recordClaimed(address token, uint256 amount) external {
        claimedTotal[token] += amount;
    }

    function recordReleased(address token, uint256 amount) external {
        releasedTotal[token] += amount;
    }

    function setLine(bytes32 lineKey, address token, Line calldata line) external {
        lineFees[token] = lineFees[token] - _lines[lineKey].fees + line.fees;
        _lines[lineKey] = line;
    }

    /*//////////////////////////////////////////////////////////////
                                  READS
    //////////////////////////////////////////////////////////////*/

    /// @notice Everything recorded about one signed usage key.
    struct KeyLedger {
        bytes32 usageKey;
        uint256 price;
        uint64 maxSigned;
        uint64 modelSettled;
        uint64 modelSamplesPaid;
        uint64 eventSamplesPaid;
        uint256 modelAmountPaid;
        uint256 eventAmountPaid;
    }

    /// @notice The ledgers of all signed usage keys, in one call (the invariants read them after
    /// every handler call, and external calls dominate the campaign's run time).
    function signedKeyLedgers() external view returns (KeyLedger[] memory ledgers) {
        ledgers = new KeyLedger[](_signedKeys.length);
        for (uint256 i; i < ledgers.length; ++i) {
            bytes32 key = _signedKeys[i];
            ledgers[i] = KeyLedger({
                usageKey: key,
                price: keyPrice[key],
                maxSigned: maxSigned[key],
                modelSettled: modelSettled[key],
                modelSamplesPaid: modelSamplesPaid[key],
                eventSamplesPaid: eventSamplesPaid[key],
                modelAmountPaid: modelAmountPaid[key],
                eventAmountPaid: eventAmountPaid[key]
            });
        }
    }

    /// @notice All reservations, in one call.
    function reservations() external view returns (Reservation[] memory) {
        return _reservations;
    }

    function reservationCount() external view returns (uint256) {
        return _reservations.length;
    }

    function reservationAt(uint256 index) external view returns (Reservation memory) {
        return _reservations[index];
    }

    function hasReservation(bytes32 reservationKey) external view returns (bool) {
        return _reservationIndex[reservationKey] != 0;
    }

    function line(bytes32 lineKey) external view returns (Line memory) {
        return _lines[lineKey];
    }
}
