-- Fairtrain gateway schema, version 1. Portable SQL: the same file runs on SQLite and
-- PostgreSQL. Hashes and addresses are 0x-prefixed lowercase hex; uint256 values are decimal
-- text; times are unix seconds. The files' bytes live in the blob store, keyed by their hash.

-- Every dataset published: its signed manifest, as sent (the document is public).
CREATE TABLE datasets (
    manifest_hash TEXT PRIMARY KEY,
    creator TEXT NOT NULL,
    name TEXT NOT NULL,
    file_count BIGINT NOT NULL,
    total_size BIGINT NOT NULL,
    manifest TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    seq BIGINT NOT NULL UNIQUE
);

-- The files of each dataset, in manifest order; `stored` is 1 once the blob store holds the
-- bytes (0 before).
CREATE TABLE dataset_files (
    manifest_hash TEXT NOT NULL,
    idx BIGINT NOT NULL,
    path TEXT NOT NULL,
    size BIGINT NOT NULL,
    hash TEXT NOT NULL,
    stored BIGINT NOT NULL,
    PRIMARY KEY (manifest_hash, path)
);
CREATE INDEX dataset_files_hash ON dataset_files (hash);

-- The access log, for creators and auditors: each grant (`path` null) and each download made
-- with one. `access_id` is the signed request's EIP-712 digest; a request is granted once.
CREATE TABLE accesses (
    seq BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    access_id TEXT NOT NULL,
    manifest_hash TEXT NOT NULL,
    payer TEXT NOT NULL,
    signer TEXT NOT NULL,
    license_id TEXT NOT NULL,
    terms_id TEXT NOT NULL,
    path TEXT,
    range_header TEXT,
    at BIGINT NOT NULL
);
CREATE UNIQUE INDEX accesses_one_grant ON accesses (access_id) WHERE kind = 'grant';
CREATE INDEX accesses_dataset ON accesses (manifest_hash, seq);

-- Sequence numbers of the log and of publication, taken in the writing transaction.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('accesses', 0), ('datasets', 0);
