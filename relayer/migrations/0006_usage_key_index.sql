-- Pricing looks up the committed receipts of a usage key (the highest count of the key in the
-- batches still in its credit line's pool, src/pricing.rs): one index range per key.
CREATE INDEX receipts_usage_key ON receipts (usage_key, status);
