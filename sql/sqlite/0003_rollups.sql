-- Hourly rollups of `requests`, so usage and the dashboard read a few thousand rows instead of
-- a million. Kept by triggers in the inserting transaction: every row really inserted is
-- counted once (a retried batch's ON CONFLICT DO NOTHING rows fire nothing), whoever wrote
-- it (the recorder, a bulk load, a manual INSERT); DELETE and UPDATE are reflected too.
-- Rows without an org are not rolled up (usage is always per org). A missing model or task
-- is kept as '' (the key must be NOT NULL for ON CONFLICT to match).
-- Money is summed in integer units of 1e-8 USD, latency in whole microseconds: both exact.
CREATE TABLE IF NOT EXISTS request_rollup (
    org_id TEXT NOT NULL,
    hour TEXT NOT NULL,            -- 'YYYY-MM-DDTHH:00:00.000000Z', the created_at format
    model_used TEXT NOT NULL,
    task_type TEXT NOT NULL,
    requests INTEGER NOT NULL,
    succeeded INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost INTEGER NOT NULL,
    premium_cost INTEGER NOT NULL,
    savings INTEGER NOT NULL,
    latency_us INTEGER NOT NULL,
    fallbacks INTEGER NOT NULL,
    with_fallback INTEGER NOT NULL,
    PRIMARY KEY (org_id, hour, model_used, task_type)
) WITHOUT ROWID;

-- spend_since (budgets) reads every org's hours from a point in time.
CREATE INDEX IF NOT EXISTS request_rollup_hour ON request_rollup (hour);

-- Requests per latency bin and hour: bins of two significant digits of the latency in
-- microseconds (1-10% wide, in latency order). Exact percentiles find their bin here, then
-- read only that bin's rows through requests_org_latency_bin.
CREATE TABLE IF NOT EXISTS request_latency_rollup (
    org_id TEXT NOT NULL,
    hour TEXT NOT NULL,
    bin INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (org_id, hour, bin)
) WITHOUT ROWID;

-- The bin expression must stay identical to SQLiteDatabase._latency_bin (the planner only
-- uses the index for the same expression).
CREATE INDEX IF NOT EXISTS requests_org_latency_bin ON requests (
    org_id,
    (length(CAST(MAX(MIN(latency_ms, 1e12), 0) * 1000 AS INTEGER)) * 100
     + CAST(substr(CAST(MAX(MIN(latency_ms, 1e12), 0) * 1000 AS INTEGER), 1, 2) AS INTEGER)),
    created_at,
    latency_ms
);

INSERT INTO request_rollup (org_id, hour, model_used, task_type, requests, succeeded,
    prompt_tokens, completion_tokens, cost, premium_cost, savings, latency_us, fallbacks,
    with_fallback)
SELECT org_id, substr(created_at, 1, 13) || ':00:00.000000Z', COALESCE(model_used, ''),
    COALESCE(task_type, ''), COUNT(*), SUM(status < 400), SUM(prompt_tokens),
    SUM(completion_tokens),
    SUM(CAST(ROUND(CAST(cost AS REAL) * 100000000) AS INTEGER)),
    SUM(CAST(ROUND(CAST(premium_cost AS REAL) * 100000000) AS INTEGER)),
    SUM(CAST(ROUND(CAST(savings AS REAL) * 100000000) AS INTEGER)),
    SUM(CAST(ROUND(latency_ms * 1000) AS INTEGER)), SUM(fallback_count),
    SUM(fallback_count > 0)
FROM requests WHERE org_id IS NOT NULL
GROUP BY 1, 2, 3, 4;

INSERT INTO request_latency_rollup (org_id, hour, bin, requests)
SELECT org_id, substr(created_at, 1, 13) || ':00:00.000000Z',
    length(CAST(MAX(MIN(latency_ms, 1e12), 0) * 1000 AS INTEGER)) * 100
    + CAST(substr(CAST(MAX(MIN(latency_ms, 1e12), 0) * 1000 AS INTEGER), 1, 2) AS INTEGER),
    COUNT(*)
FROM requests WHERE org_id IS NOT NULL
GROUP BY 1, 2, 3;

CREATE TRIGGER IF NOT EXISTS requests_rollup_insert AFTER INSERT ON requests
WHEN NEW.org_id IS NOT NULL
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

CREATE TRIGGER IF NOT EXISTS requests_rollup_delete AFTER DELETE ON requests
WHEN OLD.org_id IS NOT NULL
BEGIN
    UPDATE request_rollup SET
        requests = requests - 1,
        succeeded = succeeded - (OLD.status < 400),
        prompt_tokens = prompt_tokens - OLD.prompt_tokens,
        completion_tokens = completion_tokens - OLD.completion_tokens,
        cost = cost - CAST(ROUND(CAST(OLD.cost AS REAL) * 100000000) AS INTEGER),
        premium_cost = premium_cost
            - CAST(ROUND(CAST(OLD.premium_cost AS REAL) * 100000000) AS INTEGER),
        savings = savings - CAST(ROUND(CAST(OLD.savings AS REAL) * 100000000) AS INTEGER),
        latency_us = latency_us - CAST(ROUND(OLD.latency_ms * 1000) AS INTEGER),
        fallbacks = fallbacks - OLD.fallback_count,
        with_fallback = with_fallback - (OLD.fallback_count > 0)
    WHERE org_id = OLD.org_id AND hour = substr(OLD.created_at, 1, 13) || ':00:00.000000Z'
        AND model_used = COALESCE(OLD.model_used, '')
        AND task_type = COALESCE(OLD.task_type, '');
    UPDATE request_latency_rollup SET requests = requests - 1
    WHERE org_id = OLD.org_id AND hour = substr(OLD.created_at, 1, 13) || ':00:00.000000Z'
        AND bin = length(CAST(MAX(MIN(OLD.latency_ms, 1e12), 0) * 1000 AS INTEGER)) * 100
            + CAST(substr(CAST(MAX(MIN(OLD.latency_ms, 1e12), 0) * 1000 AS INTEGER), 1, 2)
                AS INTEGER);
END;

-- An UPDATE of a request is its DELETE then its INSERT (nothing in the proxy updates them;
-- this keeps a manual fix-up from desynchronising the rollups).
CREATE TRIGGER IF NOT EXISTS requests_rollup_update AFTER UPDATE ON requests
BEGIN
    UPDATE request_rollup SET
        requests = requests - 1,
        succeeded = succeeded - (OLD.status < 400),
        prompt_tokens = prompt_tokens - OLD.prompt_tokens,
        completion_tokens = completion_tokens - OLD.completion_tokens,
        cost = cost - CAST(ROUND(CAST(OLD.cost AS REAL) * 100000000) AS INTEGER),
        premium_cost = premium_cost
            - CAST(ROUND(CAST(OLD.premium_cost AS REAL) * 100000000) AS INTEGER),
        savings = savings - CAST(ROUND(CAST(OLD.savings AS REAL) * 100000000) AS INTEGER),
        latency_us = latency_us - CAST(ROUND(OLD.latency_ms * 1000) AS INTEGER),
        fallbacks = fallbacks - OLD.fallback_count,
        with_fallback = with_fallback - (OLD.fallback_count > 0)
    WHERE OLD.org_id IS NOT NULL AND org_id = OLD.org_id
        AND hour = substr(OLD.created_at, 1, 13) || ':00:00.000000Z'
        AND model_used = COALESCE(OLD.model_used, '')
        AND task_type = COALESCE(OLD.task_type, '');
    UPDATE request_latency_rollup SET requests = requests - 1
    WHERE OLD.org_id IS NOT NULL AND org_id = OLD.org_id
        AND hour = substr(OLD.created_at, 1, 13) || ':00:00.000000Z'
        AND bin = length(CAST(MAX(MIN(OLD.latency_ms, 1e12), 0) * 1000 AS INTEGER)) * 100
            + CAST(substr(CAST(MAX(MIN(OLD.latency_ms, 1e12), 0) * 1000 AS INTEGER), 1, 2)
                AS INTEGER);
    INSERT INTO request_rollup (org_id, hour, model_used, task_type, requests, succeeded,
        prompt_tokens, completion_tokens, cost, premium_cost, savings, latency_us, fallbacks,
        with_fallback)
    SELECT NEW.org_id, substr(NEW.created_at, 1, 13) || ':00:00.000000Z',
        COALESCE(NEW.model_used, ''), COALESCE(NEW.task_type, ''), 1, NEW.status < 400,
        NEW.prompt_tokens, NEW.completion_tokens,
        CAST(ROUND(CAST(NEW.cost AS REAL) * 100000000) AS INTEGER),
        CAST(ROUND(CAST(NEW.premium_cost AS REAL) * 100000000) AS INTEGER),
        CAST(ROUND(CAST(NEW.savings AS REAL) * 100000000) AS INTEGER),
        CAST(ROUND(NEW.latency_ms * 1000) AS INTEGER), NEW.fallback_count,
        NEW.fallback_count > 0
    WHERE NEW.org_id IS NOT NULL
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
    SELECT NEW.org_id, substr(NEW.created_at, 1, 13) || ':00:00.000000Z',
        length(CAST(MAX(MIN(NEW.latency_ms, 1e12), 0) * 1000 AS INTEGER)) * 100
        + CAST(substr(CAST(MAX(MIN(NEW.latency_ms, 1e12), 0) * 1000 AS INTEGER), 1, 2)
            AS INTEGER),
        1
    WHERE NEW.org_id IS NOT NULL
    ON CONFLICT (org_id, hour, bin) DO UPDATE SET requests = requests + 1;
END;
