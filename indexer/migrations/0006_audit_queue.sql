-- Automatic audits (`fairtrain-indexer run`, src/auditor.rs): per committed batch, where its audit
-- stands. `audits` keeps the latest report; this table says whether that report is current and,
-- while the batch's data cannot be fetched, the last error and when the next attempt is due.
--
-- status: pending (an audit is due: a new batch, or its claims or commit changed since the last
--         report), unavailable (the data could not be fetched; retried with backoff), passed,
--         failed (the report's verdict; reason = its failed checks).
CREATE TABLE audit_queue (
    root TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    -- The batch as last audited: its commit transaction and number of claims. A reorganisation
    -- that moves the commit, or a new claim, makes the report stale and the batch pending again.
    commit_tx TEXT NOT NULL,
    claims_audited BIGINT NOT NULL,
    -- Failed attempts since the last report (fetch errors and RPC errors).
    attempts BIGINT NOT NULL,
    -- Failed checks of the report, or the last error of an attempt.
    reason TEXT NOT NULL,
    -- Unix milliseconds: the next attempt is not made before this.
    next_attempt_ms BIGINT NOT NULL,
    -- Unix milliseconds of the last change (the live stream watches it).
    updated_ms BIGINT NOT NULL
);
CREATE INDEX audit_queue_due ON audit_queue (status, next_attempt_ms);
