-- Storing a receipt wrote, besides the table and `(status, seq)`, the index of its primary key
-- `digest`: a random 66-character key, so each committed group dirtied a page of that index per
-- receipt or so, and ingest's share of the signature-recovery ceiling fell as the table grew
-- (docs/performance.md). The digest is now found through an index on its first 8 bytes
-- (`substr(digest, 1, 18)`, "0x" and 16 hex digits), a third of the size; a query by digest
-- names that expression and the full digest (`store::BY_DIGEST`).
--
-- Uniqueness of the digest is the ingest's: it stores a receipt only if its count is above the
-- highest stored for its usage key (two receipts of one digest have one usage key and one count),
-- reading that head from its ledger (SQLite: loaded from every stored receipt at start) or, on
-- PostgreSQL, from `usage_heads` under the lock of the payer's row.
--
-- Neither backend drops a primary key the same way: the table is rebuilt, portably.
CREATE TABLE receipts_v9 (
    digest TEXT NOT NULL,
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
INSERT INTO receipts_v9 (digest, usage_key, payer, license_id, terms_id, run_id, cumulative,
    issued_at, signature, signer, token, amount, chargeable_from, received_at, seq, status,
    batch_id, leaf_index, proof, claim_tx)
SELECT digest, usage_key, payer, license_id, terms_id, run_id, cumulative, issued_at, signature,
    signer, token, amount, chargeable_from, received_at, seq, status, batch_id, leaf_index, proof,
    claim_tx
FROM receipts ORDER BY seq;
DROP TABLE receipts;
ALTER TABLE receipts_v9 RENAME TO receipts;
CREATE INDEX receipts_digest ON receipts (substr(digest, 1, 18));
CREATE INDEX receipts_status_seq ON receipts (status, seq);
CREATE INDEX receipts_batch ON receipts (batch_id, leaf_index) WHERE batch_id IS NOT NULL;
CREATE INDEX receipts_claim_tx ON receipts (claim_tx) WHERE claim_tx IS NOT NULL;
CREATE INDEX receipts_license_leaf ON receipts (license_id, batch_id, leaf_index)
    WHERE batch_id IS NOT NULL;
