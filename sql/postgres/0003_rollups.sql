-- Hourly rollups of `requests`, so usage and the dashboard read a few thousand rows instead of
-- a million. Kept by statement-level triggers over the transition tables, in the inserting
-- transaction: every row really inserted is counted once (rows skipped by a retried batch's
-- ON CONFLICT DO NOTHING are not in the transition table), whoever wrote it (the recorder, a
-- bulk load, a manual INSERT); DELETE and UPDATE are reflected too. Each statement upserts its
-- groups in key order, so concurrent writers lock rollup rows in the same order (no deadlock).
-- Rows without an org are not rolled up (usage is always per org). A missing model or task
-- is kept as '' (the key must be NOT NULL for ON CONFLICT to match).
LOCK TABLE requests IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE IF NOT EXISTS request_rollup (
    org_id TEXT NOT NULL,
    hour TIMESTAMPTZ NOT NULL,
    model_used TEXT NOT NULL,
    task_type TEXT NOT NULL,
    requests BIGINT NOT NULL,
    succeeded BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost NUMERIC NOT NULL,
    premium_cost NUMERIC NOT NULL,
    savings NUMERIC NOT NULL,
    latency_us BIGINT NOT NULL,   -- each latency rounded to the microsecond, then summed
    fallbacks BIGINT NOT NULL,
    with_fallback BIGINT NOT NULL,
    PRIMARY KEY (org_id, hour, model_used, task_type)
);

-- spend_since (budgets) reads every org's hours from a point in time.
CREATE INDEX IF NOT EXISTS request_rollup_hour ON request_rollup (hour);

-- Requests per latency bin and hour: bins of two significant digits of the latency in
-- microseconds (1-10% wide, in latency order). Exact percentiles find their bin here, then
-- read only that bin's rows through requests_org_latency_bin.
CREATE TABLE IF NOT EXISTS request_latency_rollup (
    org_id TEXT NOT NULL,
    hour TIMESTAMPTZ NOT NULL,
    bin INTEGER NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (org_id, hour, bin)
);

CREATE OR REPLACE FUNCTION omni_latency_bin(ms DOUBLE PRECISION) RETURNS INTEGER
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT length(floor(LEAST(GREATEST(ms, 0), 1e12) * 1000)::bigint::text) * 100
        + substr(floor(LEAST(GREATEST(ms, 0), 1e12) * 1000)::bigint::text, 1, 2)::integer
$$;

CREATE OR REPLACE FUNCTION omni_latency_us(ms DOUBLE PRECISION) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(LEAST(GREATEST(ms, -1e12), 1e12) * 1000)::bigint
$$;

CREATE INDEX IF NOT EXISTS requests_org_latency_bin
    ON requests (org_id, omni_latency_bin(latency_ms), created_at, latency_ms);

-- Adds (TG_ARGV[0] = 1) or removes (-1) the rows of the transition table `changed`.
CREATE OR REPLACE FUNCTION omni_requests_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    sign INTEGER := TG_ARGV[0]::integer;
BEGIN
    INSERT INTO request_rollup AS r (org_id, hour, model_used, task_type, requests, succeeded,
        prompt_tokens, completion_tokens, cost, premium_cost, savings, latency_us, fallbacks,
        with_fallback)
    SELECT org_id, date_trunc('hour', created_at, 'UTC'), COALESCE(model_used, ''),
        COALESCE(task_type, ''), sign * COUNT(*),
        sign * COUNT(*) FILTER (WHERE status < 400),
        sign * SUM(prompt_tokens), sign * SUM(completion_tokens), sign * SUM(cost),
        sign * SUM(premium_cost), sign * SUM(savings), sign * SUM(omni_latency_us(latency_ms)),
        sign * SUM(fallback_count), sign * COUNT(*) FILTER (WHERE fallback_count > 0)
    FROM changed WHERE org_id IS NOT NULL
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (org_id, hour, model_used, task_type) DO UPDATE SET
        requests = r.requests + excluded.requests,
        succeeded = r.succeeded + excluded.succeeded,
        prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = r.completion_tokens + excluded.completion_tokens,
        cost = r.cost + excluded.cost,
        premium_cost = r.premium_cost + excluded.premium_cost,
        savings = r.savings + excluded.savings,
        latency_us = r.latency_us + excluded.latency_us,
        fallbacks = r.fallbacks + excluded.fallbacks,
        with_fallback = r.with_fallback + excluded.with_fallback;
    INSERT INTO request_latency_rollup AS r (org_id, hour, bin, requests)
    SELECT org_id, date_trunc('hour', created_at, 'UTC'), omni_latency_bin(latency_ms),
        sign * COUNT(*)
    FROM changed WHERE org_id IS NOT NULL
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (org_id, hour, bin) DO UPDATE SET requests = r.requests + excluded.requests;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS requests_rollup_insert ON requests;
CREATE TRIGGER requests_rollup_insert AFTER INSERT ON requests
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION omni_requests_rollup('1');
DROP TRIGGER IF EXISTS requests_rollup_delete ON requests;
CREATE TRIGGER requests_rollup_delete AFTER DELETE ON requests
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION omni_requests_rollup('-1');
-- An UPDATE of requests is its old rows removed, then its new rows added (nothing in the
-- proxy updates them; this keeps a manual fix-up from desynchronising the rollups).
DROP TRIGGER IF EXISTS requests_rollup_update_old ON requests;
CREATE TRIGGER requests_rollup_update_old AFTER UPDATE ON requests
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION omni_requests_rollup('-1');
DROP TRIGGER IF EXISTS requests_rollup_update_new ON requests;
CREATE TRIGGER requests_rollup_update_new AFTER UPDATE ON requests
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION omni_requests_rollup('1');

-- Backfill what is already there. The migration is one transaction and holds requests in
-- SHARE ROW EXCLUSIVE mode from the top (CREATE TRIGGER would take it anyway): writers wait
-- until the triggers and the backfill commit together, so no row is missed or counted twice.
INSERT INTO request_rollup (org_id, hour, model_used, task_type, requests, succeeded,
    prompt_tokens, completion_tokens, cost, premium_cost, savings, latency_us, fallbacks,
    with_fallback)
SELECT org_id, date_trunc('hour', created_at, 'UTC'), COALESCE(model_used, ''),
    COALESCE(task_type, ''), COUNT(*), COUNT(*) FILTER (WHERE status < 400),
    SUM(prompt_tokens), SUM(completion_tokens), SUM(cost), SUM(premium_cost), SUM(savings),
    SUM(omni_latency_us(latency_ms)), SUM(fallback_count),
    COUNT(*) FILTER (WHERE fallback_count > 0)
FROM requests WHERE org_id IS NOT NULL
GROUP BY 1, 2, 3, 4;
INSERT INTO request_latency_rollup (org_id, hour, bin, requests)
SELECT org_id, date_trunc('hour', created_at, 'UTC'), omni_latency_bin(latency_ms), COUNT(*)
FROM requests WHERE org_id IS NOT NULL
GROUP BY 1, 2, 3;
