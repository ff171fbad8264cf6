-- The catalog: manifests published on the gateways the indexer reads (each verified: signed by
-- its creator, its hash recomputed), their metadata as rows for filtering, the device profile's
-- summary (`device`, JSON, so that a list never parses whole documents) with the fields the
-- catalog filters on (the largest two-qubit gate error in parts per billion, rounded up), and
-- each payment token's symbol and decimals as the token states them.
CREATE TABLE manifests (
    manifest_hash TEXT PRIMARY KEY,
    creator TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    file_count BIGINT NOT NULL,
    total_size BIGINT NOT NULL,
    gateway TEXT NOT NULL,
    document TEXT NOT NULL,
    device TEXT,
    device_qubits BIGINT,
    device_calibrated_at BIGINT,
    device_max_two_qubit_error_ppb BIGINT,
    fetched_at BIGINT NOT NULL
);
CREATE INDEX manifests_creator ON manifests (creator);

CREATE TABLE manifest_metadata (
    manifest_hash TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (manifest_hash, key)
);
CREATE INDEX manifest_metadata_key ON manifest_metadata (key, value);

-- Where the catalog's pull of each gateway stands (its datasets' publication positions).
CREATE TABLE gateway_cursors (
    gateway TEXT PRIMARY KEY,
    after BIGINT NOT NULL
);

-- The catalog counts each license's payers, and lists licenses in order.
CREATE INDEX acceptances_license ON acceptances (license_id);
CREATE INDEX licenses_num ON licenses (license_num);
-- Licenses by the manifest they cover: the catalog joins on it (by creator alone, one prolific
-- creator would make every join scan all of its licenses).
CREATE INDEX licenses_manifest ON licenses (manifest_hash);

CREATE TABLE token_meta (
    token TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    decimals BIGINT NOT NULL
);
