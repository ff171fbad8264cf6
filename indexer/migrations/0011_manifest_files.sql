-- The SHA-256 of each file of a stored manifest, as the gateway that published it computed them
-- from the bytes it holds (the manifest itself lists keccak256 only): Croissant documents list
-- them. Files whose SHA-256 the gateway did not know have no row.
CREATE TABLE manifest_files (
    manifest_hash TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (manifest_hash, path)
);
