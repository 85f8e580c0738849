-- Stored Responses API responses (for previous_response_id and GET /v1/responses/{id}).
-- `input` is the whole conversation up to this response (its predecessors' input and output
-- included), so continuing from it takes one lookup; `output` is this response's items and
-- `body` the Response object as returned. Rows older than the retention setting are purged.
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    model TEXT,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_created ON responses (created_at);
