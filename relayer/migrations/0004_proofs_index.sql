-- The proofs endpoints page through a license's committed receipts in (batch, leaf) order from a
-- cursor (src/proofs.rs): one index range per page instead of sorting the license's receipts.
-- It replaces the index on license_id alone, of which it is an extension.
CREATE INDEX receipts_license_leaf ON receipts (license_id, batch_id, leaf_index);
DROP INDEX receipts_license;
