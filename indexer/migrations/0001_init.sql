-- Fairtrain indexer schema, version 1. Portable SQL: the same file runs on SQLite and
-- PostgreSQL. Addresses and hashes are lowercase 0x-hex TEXT, token amounts are decimal TEXT
-- (uint256 does not fit any native integer type of both databases), block numbers, times and
-- small integers are BIGINT, flags are BIGINT 0/1.

-- What this database indexes: one deployment (chain id, contract addresses).
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The last block whose events are all stored; written in the same transaction as the events.
CREATE TABLE checkpoint (
    id BIGINT PRIMARY KEY,
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL
);

-- Window of recent indexed blocks (the checkpoint block and every block that had events), for
-- detecting reorganisations by comparing hashes with the chain.
CREATE TABLE blocks (
    number BIGINT PRIMARY KEY,
    hash TEXT NOT NULL,
    parent_hash TEXT,
    timestamp BIGINT NOT NULL
);

-- Every log of the followed contracts, exactly as emitted, plus what ingest learned about it.
-- `payer` is set for UsageSettled (the event does not carry it; see docs/indexer.md).
CREATE TABLE raw_events (
    chain_id BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    block_number BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    block_time BIGINT NOT NULL,
    address TEXT NOT NULL,
    name TEXT NOT NULL,
    topic0 TEXT,
    topic1 TEXT,
    topic2 TEXT,
    topic3 TEXT,
    data TEXT NOT NULL,
    payer TEXT,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX raw_events_order ON raw_events (block_number, log_index);
CREATE INDEX raw_events_name ON raw_events (name);

-- Derived state, rebuilt by applying raw events in (block_number, log_index) order.

CREATE TABLE params (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tokens (
    token TEXT PRIMARY KEY,
    allowed BIGINT NOT NULL
);

CREATE TABLE terms (
    terms_id BIGINT PRIMARY KEY,
    terms_hash TEXT NOT NULL,
    kind BIGINT NOT NULL,
    payment_token TEXT NOT NULL,
    price_per_sample TEXT NOT NULL,
    max_samples BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    commercial_use BIGINT NOT NULL,
    attribution_required BIGINT NOT NULL,
    derivatives BIGINT NOT NULL,
    exclusive_licensee TEXT NOT NULL,
    uri TEXT NOT NULL,
    block_number BIGINT NOT NULL
);

CREATE TABLE licenses (
    license_id TEXT PRIMARY KEY,
    license_num BIGINT NOT NULL,
    creator TEXT NOT NULL,
    holder TEXT NOT NULL,
    terms_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    manifest_hash TEXT NOT NULL,
    royalty_bps BIGINT NOT NULL,
    minted_block BIGINT NOT NULL,
    minted_at BIGINT NOT NULL
);
CREATE INDEX licenses_creator ON licenses (creator);
CREATE INDEX licenses_holder ON licenses (holder);

-- Per payer and token: available (refundable) and reserved (locked for claims) now, and the
-- flows that made them.
CREATE TABLE balances (
    payer TEXT NOT NULL,
    token TEXT NOT NULL,
    available TEXT NOT NULL,
    reserved TEXT NOT NULL,
    deposited TEXT NOT NULL,
    withdrawn TEXT NOT NULL,
    spent TEXT NOT NULL,
    PRIMARY KEY (payer, token)
);

CREATE TABLE withdrawals (
    payer TEXT NOT NULL,
    token TEXT NOT NULL,
    amount TEXT NOT NULL,
    unlock_at BIGINT NOT NULL,
    lapses_at BIGINT NOT NULL,
    PRIMARY KEY (payer, token)
);

CREATE TABLE acceptances (
    payer TEXT NOT NULL,
    license_id TEXT NOT NULL,
    terms_id BIGINT NOT NULL,
    token TEXT NOT NULL,
    price_per_sample TEXT NOT NULL,
    max_samples BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    chargeable_from BIGINT NOT NULL,
    accepted_block BIGINT NOT NULL,
    PRIMARY KEY (payer, license_id, terms_id)
);

CREATE TABLE relayers (
    payer TEXT NOT NULL,
    relayer TEXT NOT NULL,
    authorized BIGINT NOT NULL,
    PRIMARY KEY (payer, relayer)
);

CREATE TABLE signers (
    payer TEXT NOT NULL,
    signer TEXT NOT NULL,
    registered_block BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL,
    PRIMARY KEY (payer, signer)
);

CREATE TABLE batches (
    root TEXT PRIMARY KEY,
    relayer TEXT NOT NULL,
    receipt_count BIGINT NOT NULL,
    data_hash TEXT NOT NULL,
    data_uri TEXT NOT NULL,
    block_number BIGINT NOT NULL,
    block_time BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    reserved TEXT NOT NULL,
    settled TEXT NOT NULL,
    fees TEXT NOT NULL,
    released TEXT NOT NULL,
    claims BIGINT NOT NULL
);

CREATE TABLE reservations (
    root TEXT NOT NULL,
    payer TEXT NOT NULL,
    token TEXT NOT NULL,
    amount TEXT NOT NULL,
    remaining TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    released BIGINT NOT NULL,
    PRIMARY KEY (root, payer, token)
);

-- One row per UsageSettled (batch claim or direct settlement; root is zero for the latter).
CREATE TABLE settlements (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    block_time BIGINT NOT NULL,
    tx_hash TEXT NOT NULL,
    root TEXT NOT NULL,
    usage_key TEXT NOT NULL,
    payer TEXT,
    payee TEXT NOT NULL,
    license_id TEXT NOT NULL,
    token TEXT NOT NULL,
    cumulative_samples BIGINT NOT NULL,
    samples BIGINT NOT NULL,
    amount TEXT NOT NULL,
    fee TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX settlements_root ON settlements (root);
CREATE INDEX settlements_payee ON settlements (payee);
CREATE INDEX settlements_license ON settlements (license_id);

-- Royalties per day, license, payee and token: what the dashboard and period queries read.
CREATE TABLE royalties_daily (
    day BIGINT NOT NULL,
    license_id TEXT NOT NULL,
    payee TEXT NOT NULL,
    token TEXT NOT NULL,
    samples BIGINT NOT NULL,
    gross TEXT NOT NULL,
    fee TEXT NOT NULL,
    net TEXT NOT NULL,
    settlements BIGINT NOT NULL,
    PRIMARY KEY (day, license_id, payee, token)
);
CREATE INDEX royalties_daily_payee ON royalties_daily (payee);
CREATE INDEX royalties_daily_license ON royalties_daily (license_id);

CREATE TABLE fees (
    token TEXT PRIMARY KEY,
    accrued TEXT NOT NULL,
    withdrawn TEXT NOT NULL
);

-- Streams and pools (issue 3) are not indexed yet: their tables will come in a later migration.
