-- Royalty streams (`RoyaltyStreams`), one row per stream, from its events. Amounts are decimal
-- text (uint256), as elsewhere.
CREATE TABLE streams (
    stream_id TEXT PRIMARY KEY,
    payer TEXT NOT NULL,
    license_id TEXT NOT NULL,
    token TEXT NOT NULL,
    rate TEXT NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT NOT NULL,
    operator TEXT NOT NULL,
    status TEXT NOT NULL,
    deposited TEXT NOT NULL,
    withdrawn TEXT NOT NULL,
    credited TEXT NOT NULL,
    refunded TEXT NOT NULL,
    uncovered_debt TEXT NOT NULL,
    balance TEXT NOT NULL
);
