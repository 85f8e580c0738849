-- The recorder's batches roll up per batch instead of per row: two upserts a row were half
-- of SQLite's write cost (the recorder shares the proxy's CPU). While the recorder's
-- transaction sets rollup_batch.active, the insert trigger stands aside and the recorder adds
-- the batch's newly inserted rows to the rollups with the same expressions, grouped, in the
-- same transaction (SQLiteDatabase.write_records). Every other writer (a bulk load, a
-- manual INSERT) still goes through the trigger; active is 0 outside that transaction, and a
-- rolled-back transaction takes its 1 back with it.
CREATE TABLE IF NOT EXISTS rollup_batch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    active INTEGER NOT NULL DEFAULT 0
);

INSERT OR IGNORE INTO rollup_batch (id, active) VALUES (1, 0);

DROP TRIGGER IF EXISTS requests_rollup_insert;

CREATE TRIGGER requests_rollup_insert AFTER INSERT ON requests
WHEN NEW.org_id IS NOT NULL
    AND (SELECT active FROM rollup_batch WHERE id = 1) = 0
BEGIN
    INSERT INTO request_rollup (org_id, hour, model_used, task_type, requests, succeeded,
        prompt_tokens, completion_tokens, cost, premium_cost, savings, latency_us, fallbacks,
        with_fallback)
    VALUES (NEW.org_id, substr(NEW.created_at, 1, 13) || ':00:00.000000Z',
        COALESCE(NEW.model_used, ''), COALESCE(NEW.task_type, ''), 1, NEW.status < 400,
        NEW.prompt_tokens, NEW.completion_tokens,
        CAST(ROUND(CAST(NEW.cost AS REAL) * 100000000) AS INTEGER),
        CAST(ROUND(CAST(NEW.premium_cost AS REAL) * 100000000) AS INTEGER),
        CAST(ROUND(CAST(NEW.savings AS REAL) * 100000000) AS INTEGER),
        CAST(ROUND(NEW.latency_ms * 1000) AS INTEGER), NEW.fallback_count,
        NEW.fallback_count > 0)
    ON CONFLICT (org_id, hour, model_used, task_type) DO UPDATE SET
        requests = requests + excluded.requests,
        succeeded = succeeded + excluded.succeeded,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        cost = cost + excluded.cost,
        premium_cost = premium_cost + excluded.premium_cost,
        savings = savings + excluded.savings,
        latency_us = latency_us + excluded.latency_us,
        fallbacks = fallbacks + excluded.fallbacks,
        with_fallback = with_fallback + excluded.with_fallback;
    INSERT INTO request_latency_rollup (org_id, hour, bin, requests)
    VALUES (NEW.org_id, substr(NEW.created_at, 1, 13) || ':00:00.000000Z',
        length(CAST(MAX(MIN(NEW.latency_ms, 1e12), 0) * 1000 AS INTEGER)) * 100
        + CAST(substr(CAST(MAX(MIN(NEW.latency_ms, 1e12), 0) * 1000 AS INTEGER), 1, 2)
            AS INTEGER),
        1)
    ON CONFLICT (org_id, hour, bin) DO UPDATE SET requests = requests + 1;
END;

