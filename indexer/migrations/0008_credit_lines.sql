-- TrainingEscrow with relayer credit lines (docs/indexer.md, "Credit lines"). A payer authorizes
-- a relayer by funding a credit line (payer, relayer, token); a batch reserves from the
-- committing relayer's line into the line's one pool of reserved funds, which every claim of
-- that relayer's batches draws on; a release returns the pool to the line's credit.
--
-- A database whose deployment was bound before this migration was made by the indexer of the
-- earlier escrow (RelayerSet, per-batch reservations released to the available balance): its
-- raw events are of another contract and its derived state cannot be carried over. It is marked
-- here and refused by `Db::connect`; index the new escrow into a new database.
INSERT INTO meta (key, value)
SELECT 'legacy_escrow', 'relayer-set (before credit lines)'
WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'training_escrow');

DROP TABLE relayers;

-- One row per credit line. `reserved_until` is 0 when nothing was reserved since the last
-- release; `reduction_amount`/`reduction_effective_at` are the pending credit reduction (0 when
-- none). `released_block` is the block of the line's last release (0 = never): batches
-- committed before it no longer hold funds in the line (the audit's pricing rule).
CREATE TABLE credit_lines (
    payer TEXT NOT NULL,
    relayer TEXT NOT NULL,
    token TEXT NOT NULL,
    credit TEXT NOT NULL,
    reserved TEXT NOT NULL,
    fees TEXT NOT NULL,
    reserved_until BIGINT NOT NULL,
    reduction_amount TEXT NOT NULL,
    reduction_effective_at BIGINT NOT NULL,
    released_block BIGINT NOT NULL,
    PRIMARY KEY (payer, relayer, token)
);
CREATE INDEX credit_lines_relayer ON credit_lines (relayer);
CREATE INDEX credit_lines_token ON credit_lines (token);

-- A batch's record for one payer and token: the relayer whose line it reserved `amount` into.
-- `locked_until` is the line's `reserved_until` just before the commit and `line_since_block`
-- its `released_block` then: the audit prices the batch over the relayer's earlier counts only
-- if the line was locked at the commit, and only over batches committed since that release.
DROP TABLE reservations;
CREATE TABLE reservations (
    root TEXT NOT NULL,
    payer TEXT NOT NULL,
    token TEXT NOT NULL,
    relayer TEXT NOT NULL,
    amount TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    line_since_block BIGINT NOT NULL,
    PRIMARY KEY (root, payer, token)
);
CREATE INDEX reservations_payer ON reservations (payer, token);

-- Batches release nothing themselves any more (lines do).
ALTER TABLE batches DROP COLUMN released;

-- Σ credit of the payer's lines in the token (`reserved` is now Σ the lines' reserved).
ALTER TABLE balances ADD COLUMN credit TEXT NOT NULL DEFAULT '0';
