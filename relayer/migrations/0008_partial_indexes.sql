-- A receipt enters a batch, and later a claim, long after ingest stored it. The indexes on those
-- columns now hold only the rows that have them, so that storing a receipt at ingest writes three
-- B-trees (the table, its digest key and `(status, seq)`) instead of six. Every query that uses
-- them names a value of the column (`batch_id = $1`, `claim_tx = $1`, a range) or says
-- `batch_id IS NOT NULL`, which both SQLite and PostgreSQL need in order to choose a partial index.
DROP INDEX receipts_batch;
CREATE INDEX receipts_batch ON receipts (batch_id, leaf_index) WHERE batch_id IS NOT NULL;
DROP INDEX receipts_claim_tx;
CREATE INDEX receipts_claim_tx ON receipts (claim_tx) WHERE claim_tx IS NOT NULL;
DROP INDEX receipts_license_leaf;
CREATE INDEX receipts_license_leaf ON receipts (license_id, batch_id, leaf_index)
    WHERE batch_id IS NOT NULL;
