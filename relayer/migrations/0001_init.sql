-- Fairtrain relayer schema, version 1. Portable SQL: the same file runs on SQLite and
-- PostgreSQL. Hashes and addresses are 0x-prefixed lowercase hex; uint64/uint256 values are
-- decimal text (they do not fit a signed BIGINT); times are unix seconds.

-- Every acknowledged receipt. `status`: pending (waiting for a batch), batched (in a batch
-- being committed), committed (its batch is confirmed on-chain).
CREATE TABLE receipts (
    digest TEXT PRIMARY KEY,
    usage_key TEXT NOT NULL,
    payer TEXT NOT NULL,
    license_id TEXT NOT NULL,
    terms_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    cumulative TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    signature TEXT NOT NULL,
    signer TEXT NOT NULL,
    token TEXT NOT NULL,
    amount TEXT NOT NULL,
    chargeable_from BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    batch_id BIGINT,
    leaf_index BIGINT,
    proof TEXT,
    claim_tx TEXT
);
CREATE INDEX receipts_status_seq ON receipts (status, seq);
CREATE INDEX receipts_batch ON receipts (batch_id, leaf_index);
CREATE INDEX receipts_license ON receipts (license_id);

-- One row per batch; `state` walks built -> signed -> sent -> confirmed (or failed).
CREATE TABLE batches (
    id BIGINT PRIMARY KEY,
    state TEXT NOT NULL,
    root TEXT NOT NULL,
    receipt_count BIGINT NOT NULL,
    data_hash TEXT NOT NULL,
    data_uri TEXT NOT NULL,
    reservations TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    commit_tx TEXT,
    commit_block BIGINT,
    error TEXT
);
CREATE INDEX batches_state ON batches (state);

-- Published batch data, addressed by its keccak256.
CREATE TABLE batch_data (
    data_hash TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

-- Every signed transaction (all fee bumps of a nonce), so that a restart can rebroadcast or
-- find the one that was mined.
CREATE TABLE txs (
    hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    ref_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    nonce BIGINT NOT NULL,
    raw TEXT NOT NULL,
    max_fee TEXT NOT NULL,
    priority_fee TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX txs_ref ON txs (kind, ref_id);

-- The next nonce of each sending account, kept here rather than asked of the node.
CREATE TABLE accounts (
    address TEXT PRIMARY KEY,
    next_nonce BIGINT NOT NULL
);

-- Claim transactions sent for payees.
CREATE TABLE claims (
    id BIGINT PRIMARY KEY,
    batch_id BIGINT NOT NULL,
    state TEXT NOT NULL,
    digests TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The chain follower's checkpoint: last block applied and the state derived from events.
CREATE TABLE checkpoint (
    id BIGINT PRIMARY KEY,
    block BIGINT NOT NULL,
    state TEXT NOT NULL
);
