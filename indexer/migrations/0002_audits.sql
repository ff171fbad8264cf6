-- Batch audits (fairtrain-indexer audit): the latest result per batch and, per receipt, what it
-- owes; with the claims (settlements) this gives every payee's unclaimed amounts.
CREATE TABLE audits (
    root TEXT PRIMARY KEY,
    passed BIGINT NOT NULL,
    audited_at BIGINT NOT NULL,
    audited_block BIGINT NOT NULL,
    summary TEXT NOT NULL,
    report TEXT NOT NULL
);

CREATE TABLE audit_receipts (
    root TEXT NOT NULL,
    idx BIGINT NOT NULL,
    payer TEXT NOT NULL,
    license_id TEXT NOT NULL,
    token TEXT NOT NULL,
    usage_key TEXT NOT NULL,
    samples BIGINT NOT NULL,
    expected TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (root, idx)
);
CREATE INDEX audit_receipts_license ON audit_receipts (license_id);
