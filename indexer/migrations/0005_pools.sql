-- Revenue-share pools (`RevenuePoolFactory` / `RevenuePool`) and the stream fields needed to tell
-- a stream's state at any time. Amounts and accumulators are decimal TEXT (uint256), as elsewhere.

-- Streams: the accrual function since the last re-anchoring, so that the state (streaming,
-- insolvent, ended, …), the withdrawable amount and the uncovered debt can be computed for the
-- latest indexed block's time (see docs/indexer.md, "Stream state").
--   anchor       when the current rate took effect (`StreamCreated`, `StreamRateAdjusted`,
--                `StreamPaused` without debt, `StreamRestarted`)
--   end_at       accrual stops here (the pause time while paused; 1099511627775 = open-ended)
--   resume_end   while paused, the end restored by a restart
--   credited_base units credited to holders since the anchor (= A(creditedAt))
ALTER TABLE streams ADD COLUMN anchor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE streams ADD COLUMN end_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE streams ADD COLUMN resume_end BIGINT NOT NULL DEFAULT 0;
ALTER TABLE streams ADD COLUMN credited_base TEXT NOT NULL DEFAULT '0';

-- One row per pool; pool events emitted by its constructor (TokenAccepted, share mints) come
-- before the factory's PoolCreated, so a row may exist with `created_block` 0 for a moment.
CREATE TABLE pools (
    pool TEXT PRIMARY KEY,
    factory TEXT NOT NULL,
    creator TEXT NOT NULL,
    manager TEXT NOT NULL,
    transferable BIGINT NOT NULL,
    name TEXT NOT NULL,
    symbol TEXT NOT NULL,
    total_supply TEXT NOT NULL,
    created_block BIGINT NOT NULL,
    created_tx TEXT NOT NULL
);

-- Per pool and accepted token: the contract's `tokenState`, and the number of distributions.
--   distributed = Σ IncomeDistributed.amount (`received`), claimed = Σ Claimed.amount (`paidOut`)
CREATE TABLE pool_tokens (
    pool TEXT NOT NULL,
    token TEXT NOT NULL,
    acc_per_share TEXT NOT NULL,
    carry TEXT NOT NULL,
    distributed TEXT NOT NULL,
    claimed TEXT NOT NULL,
    distributions BIGINT NOT NULL,
    accepted_block BIGINT NOT NULL,
    PRIMARY KEY (pool, token)
);

-- Share balances (ERC-20 `Transfer` of the pool's shares; mints happen only at creation).
CREATE TABLE pool_holders (
    pool TEXT NOT NULL,
    holder TEXT NOT NULL,
    shares TEXT NOT NULL,
    PRIMARY KEY (pool, holder)
);

-- Per pool, token and holder: the contract's `accountState` (`idx` = index, `owed_scaled`),
-- replayed from distributions, share transfers and claims, and Σ Claimed.amount.
CREATE TABLE pool_accounts (
    pool TEXT NOT NULL,
    token TEXT NOT NULL,
    holder TEXT NOT NULL,
    idx TEXT NOT NULL,
    owed_scaled TEXT NOT NULL,
    claimed TEXT NOT NULL,
    PRIMARY KEY (pool, token, holder)
);

-- Per license holder (payee of streams) and token: paid by `withdraw` (StreamWithdrawn), booked
-- to `owedTo` (AccrualCredited), paid out of `owedTo` (OwedWithdrawn), and `owed` = what
-- `owedTo(holder, token)` holds.
CREATE TABLE stream_payees (
    holder TEXT NOT NULL,
    token TEXT NOT NULL,
    withdrawn TEXT NOT NULL,
    credited TEXT NOT NULL,
    owed_withdrawn TEXT NOT NULL,
    owed TEXT NOT NULL,
    PRIMARY KEY (holder, token)
);
