-- The SHA-256 of each blob, computed while its upload streamed in (beside the keccak256 that
-- names it), for clients that check files by SHA-256 (Croissant's `sha256`). Blobs stored
-- before this table existed have no row.
CREATE TABLE blob_digests (
    hash TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL
);
