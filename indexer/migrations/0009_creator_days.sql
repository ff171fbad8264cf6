-- Royalties per creator, day and token: one creator's royalties by day read a row per day
-- instead of a row per day and license (the creator is the license's minter, which never
-- changes). Keyed creator first, so a creator's days are one index range.
CREATE TABLE royalties_creator_daily (
    creator TEXT NOT NULL,
    day BIGINT NOT NULL,
    token TEXT NOT NULL,
    samples BIGINT NOT NULL,
    gross TEXT NOT NULL,
    fee TEXT NOT NULL,
    net TEXT NOT NULL,
    settlements BIGINT NOT NULL,
    PRIMARY KEY (creator, day, token)
);

-- A database that indexed events before this migration has no rows here yet: the indexer
-- rebuilds its derived state from the raw events when it starts (and the rebuild removes the key).
INSERT INTO meta (key, value)
SELECT 'derived_stale', 'royalties_creator_daily (migration 9)'
WHERE EXISTS (SELECT 1 FROM raw_events);
