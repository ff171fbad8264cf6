-- PostgreSQL only: fill the shared ledger from the receipts stored before version 2.
INSERT INTO payer_ledger (payer, token, pending)
SELECT payer, token, CAST(SUM(CAST(amount AS NUMERIC)) AS TEXT)
FROM receipts WHERE status <> 'committed' GROUP BY payer, token;

INSERT INTO usage_heads (usage_key, cumulative, digest)
SELECT DISTINCT ON (usage_key) usage_key, cumulative, digest
FROM receipts ORDER BY usage_key, CAST(cumulative AS NUMERIC) DESC;
