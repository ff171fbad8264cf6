-- The chain follower's journal (see relayer/src/chain/follower.rs). `checkpoint` (version 1)
-- now holds a snapshot: the state derived from every followed log of the blocks up to `block`,
-- written rarely. The logs followed since, the window of recent block hashes and the last
-- block followed are written at each step, so a step writes what it followed, not the state.

-- Every followed log above the snapshot, in chain order (`log`: JSON address, topics, data).
CREATE TABLE chain_logs (
    block_number BIGINT NOT NULL,
    log_index BIGINT NOT NULL,
    block_hash TEXT NOT NULL,
    log TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);

-- The window of recent followed blocks (the first and last block of each range and every
-- block with a log), to find the common ancestor after a reorganisation.
CREATE TABLE chain_blocks (
    number BIGINT PRIMARY KEY,
    hash TEXT NOT NULL,
    parent_hash TEXT,
    timestamp BIGINT NOT NULL
);

-- The last block followed completely, and its hash.
CREATE TABLE chain_cursor (
    id BIGINT PRIMARY KEY,
    block BIGINT NOT NULL,
    hash TEXT NOT NULL
);
