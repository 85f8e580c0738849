-- Quality (issue 14): the expected quality of each routed answer, the prompt text a quality
-- model can learn from, and the outcomes it learns from (`feedback`: /v1/feedback scores and
-- cascade verdicts, read by `omni-proxy router train --from-db`).
ALTER TABLE requests ADD COLUMN expected_quality REAL;

-- The start (2000 characters) of the last user message of a routed request.
ALTER TABLE routing_logs ADD COLUMN prompt_text TEXT;

CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    model TEXT,                    -- model_used of the request (the model judged)
    task_type TEXT,
    prompt_text TEXT,
    score REAL NOT NULL,           -- 0..1
    comment TEXT,
    source TEXT NOT NULL DEFAULT 'feedback',   -- 'feedback' | 'cascade'
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_org_created ON feedback (org_id, created_at);
CREATE INDEX IF NOT EXISTS feedback_request ON feedback (request_id);

-- Expected quality summed per org, hour and model, so usage averages it from the rollups
-- like every other figure. Kept like request_rollup: the recorder's batches add their rows
-- themselves (while rollup_batch.active), every other insert goes through the trigger.
CREATE TABLE IF NOT EXISTS request_quality_rollup (
    org_id TEXT NOT NULL,
    hour TEXT NOT NULL,
    model_used TEXT NOT NULL,
    expected_sum REAL NOT NULL,
    expected_n INTEGER NOT NULL,
    PRIMARY KEY (org_id, hour, model_used)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS requests_quality_insert AFTER INSERT ON requests
WHEN NEW.org_id IS NOT NULL AND NEW.expected_quality IS NOT NULL
    AND (SELECT active FROM rollup_batch WHERE id = 1) = 0
BEGIN
    INSERT INTO request_quality_rollup (org_id, hour, model_used, expected_sum, expected_n)
    VALUES (NEW.org_id, substr(NEW.created_at, 1, 13) || ':00:00.000000Z',
        COALESCE(NEW.model_used, ''), NEW.expected_quality, 1)
    ON CONFLICT (org_id, hour, model_used) DO UPDATE SET
        expected_sum = expected_sum + excluded.expected_sum,
        expected_n = expected_n + 1;
END;

CREATE TRIGGER IF NOT EXISTS requests_quality_delete AFTER DELETE ON requests
WHEN OLD.org_id IS NOT NULL AND OLD.expected_quality IS NOT NULL
BEGIN
    UPDATE request_quality_rollup SET
        expected_sum = expected_sum - OLD.expected_quality,
        expected_n = expected_n - 1
    WHERE org_id = OLD.org_id AND hour = substr(OLD.created_at, 1, 13) || ':00:00.000000Z'
        AND model_used = COALESCE(OLD.model_used, '');
END;
