-- Fairtrain relayer schema, version 2: the acceptance ledger shared by every process on one
-- PostgreSQL database (SQLite creates the tables too; a single process keeps the ledger in
-- memory there and the tables stay empty).

-- Per (payer, token): the priced amount of the receipts acknowledged and not yet in a
-- confirmed batch (decimal text). Ingest locks the row `FOR UPDATE` in the transaction that
-- inserts the payer's receipts, so acceptance serialises per payer across processes; the
-- batcher subtracts a batch's reservation in the transaction that marks it confirmed.
CREATE TABLE payer_ledger (
    payer TEXT NOT NULL,
    token TEXT NOT NULL,
    pending TEXT NOT NULL,
    PRIMARY KEY (payer, token)
);

-- The highest acknowledged receipt of every usage key (`cumulative` in decimal text), updated
-- under the payer's ledger row lock.
CREATE TABLE usage_heads (
    usage_key TEXT PRIMARY KEY,
    cumulative TEXT NOT NULL,
    digest TEXT NOT NULL
);
