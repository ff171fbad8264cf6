-- Pricing needs, per usage key, the highest count this relayer has committed and the batch that
-- committed it (src/pricing.rs: the key's count in its credit line's pool). One row per key,
-- written when a batch is confirmed (batches confirm in commit order, and a key's counts only
-- rise), read by key at ingest. An index on `receipts (usage_key, …)` would serve too, but every
-- receipt insert would then update one more B-tree keyed by a random hash (bulk SQLite ingest
-- fell from ~27k to ~21k receipts/s with it), and each lookup would read all of a key's committed
-- receipts.
CREATE TABLE committed_heads (
    usage_key TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    payer TEXT NOT NULL,
    token TEXT NOT NULL,
    cumulative TEXT NOT NULL,
    batch_id BIGINT NOT NULL
);

-- Counts are decimal text without leading zeros: the longer is the larger, then text order.
INSERT INTO committed_heads (usage_key, digest, payer, token, cumulative, batch_id)
SELECT usage_key, digest, payer, token, cumulative, batch_id FROM (
    SELECT usage_key, digest, payer, token, cumulative, batch_id,
           ROW_NUMBER() OVER (
               PARTITION BY usage_key ORDER BY LENGTH(cumulative) DESC, cumulative DESC
           ) AS n
    FROM receipts WHERE status = 'committed'
) ranked
WHERE n = 1;
