-- Royalty totals the dashboard reads without scanning every day: per license, payee and token
-- (the creators' and licenses' tables), and per day and token (the usage chart).
CREATE TABLE royalties_total (
    license_id TEXT NOT NULL,
    payee TEXT NOT NULL,
    token TEXT NOT NULL,
    samples BIGINT NOT NULL,
    gross TEXT NOT NULL,
    fee TEXT NOT NULL,
    net TEXT NOT NULL,
    settlements BIGINT NOT NULL,
    PRIMARY KEY (license_id, payee, token)
);

CREATE TABLE royalties_by_day (
    day BIGINT NOT NULL,
    token TEXT NOT NULL,
    samples BIGINT NOT NULL,
    gross TEXT NOT NULL,
    fee TEXT NOT NULL,
    net TEXT NOT NULL,
    settlements BIGINT NOT NULL,
    PRIMARY KEY (day, token)
);
