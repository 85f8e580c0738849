-- Quality (issue 14): the expected quality of each routed answer, the prompt text a quality
-- model can learn from, and the outcomes it learns from (`feedback`: /v1/feedback scores and
-- cascade verdicts, read by `omni-proxy router train --from-db`).
ALTER TABLE requests ADD COLUMN IF NOT EXISTS expected_quality DOUBLE PRECISION;

-- The start (2000 characters) of the last user message of a routed request.
ALTER TABLE routing_logs ADD COLUMN IF NOT EXISTS prompt_text TEXT;

CREATE TABLE IF NOT EXISTS feedback (
    id BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    model TEXT,                    -- model_used of the request (the model judged)
    task_type TEXT,
    prompt_text TEXT,
    score REAL NOT NULL,           -- 0..1
    comment TEXT,
    source TEXT NOT NULL DEFAULT 'feedback',   -- 'feedback' | 'cascade'
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_org_created ON feedback (org_id, created_at);
CREATE INDEX IF NOT EXISTS feedback_request ON feedback (request_id);

-- Expected quality summed per org, hour and model, so usage averages it from the rollups
-- like every other figure (a statement trigger, as for request_rollup).
CREATE TABLE IF NOT EXISTS request_quality_rollup (
    org_id TEXT NOT NULL,
    hour TIMESTAMPTZ NOT NULL,
    model_used TEXT NOT NULL,
    expected_sum DOUBLE PRECISION NOT NULL,
    expected_n BIGINT NOT NULL,
    PRIMARY KEY (org_id, hour, model_used)
);

CREATE OR REPLACE FUNCTION omni_requests_quality_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    sign INTEGER := TG_ARGV[0]::integer;
BEGIN
    INSERT INTO request_quality_rollup AS r (org_id, hour, model_used, expected_sum, expected_n)
    SELECT org_id, date_trunc('hour', created_at, 'UTC'), COALESCE(model_used, ''),
        sign * SUM(expected_quality), sign * COUNT(*)
    FROM changed WHERE org_id IS NOT NULL AND expected_quality IS NOT NULL
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (org_id, hour, model_used) DO UPDATE SET
        expected_sum = r.expected_sum + excluded.expected_sum,
        expected_n = r.expected_n + excluded.expected_n;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS requests_quality_insert ON requests;
CREATE TRIGGER requests_quality_insert AFTER INSERT ON requests
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION omni_requests_quality_rollup('1');
DROP TRIGGER IF EXISTS requests_quality_delete ON requests;
CREATE TRIGGER requests_quality_delete AFTER DELETE ON requests
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION omni_requests_quality_rollup('-1');
