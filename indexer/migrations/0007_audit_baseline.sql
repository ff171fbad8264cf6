-- The relayer reserves, for each receipt, only its increase over the highest count of the same
-- usage key in its earlier batches (those may not be claimed yet). Audits therefore compare each
-- receipt with the audited receipts of earlier batches, and match claims to receipts by usage key
-- and count: each audited receipt keeps its cumulative count.
ALTER TABLE audit_receipts ADD COLUMN cumulative BIGINT NOT NULL DEFAULT 0;
CREATE INDEX audit_receipts_usage ON audit_receipts (usage_key);
-- Reports written before this counted from the settled count only: every batch is audited again.
DELETE FROM audit_receipts;
DELETE FROM audits;
DELETE FROM audit_queue;
