-- Finishing a claim job updates its receipts by `claim_tx` ('claim:<job>' while in flight), and
-- the status counts receipts whose claim is confirmed: both look receipts up by `claim_tx`.
CREATE INDEX receipts_claim_tx ON receipts (claim_tx);
