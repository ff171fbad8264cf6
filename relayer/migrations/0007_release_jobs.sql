-- The relayer releases its own credit lines (`release(payer, relayer, token)`) once every batch
-- that reserved into one expired. A release is a job of the same pipeline as a claim (same
-- table, states and transaction path, src/claims.rs): `kind` is 'claim' (a claim of `digests`
-- of batch `batch_id`) or 'release' (batch_id 0, no digests; the line of `payer` and `token`
-- whose `reservedUntil` was `reserved_until`: one release per line and lock, ever).
ALTER TABLE claims ADD COLUMN kind TEXT NOT NULL DEFAULT 'claim';
ALTER TABLE claims ADD COLUMN payer TEXT;
ALTER TABLE claims ADD COLUMN token TEXT;
ALTER TABLE claims ADD COLUMN reserved_until BIGINT;
CREATE INDEX claims_line ON claims (kind, payer, token, reserved_until);
