-- The access logs of the data gateways the catalog reads (GET /v1/accesses, public): each grant
-- and download, so a dataset's card shows who accessed it. `seq` is the gateway's position;
-- `gateway_access_cursors` is how far each gateway's log has been read.
CREATE TABLE dataset_accesses (
    gateway TEXT NOT NULL,
    seq BIGINT NOT NULL,
    manifest_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    payer TEXT NOT NULL,
    signer TEXT NOT NULL,
    license_id TEXT NOT NULL,
    path TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (gateway, seq)
);
CREATE INDEX dataset_accesses_license ON dataset_accesses (license_id, manifest_hash);

CREATE TABLE gateway_access_cursors (
    gateway TEXT PRIMARY KEY,
    after BIGINT NOT NULL
);
