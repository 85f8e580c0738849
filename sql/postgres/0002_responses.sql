-- Stored Responses API responses (for previous_response_id and GET /v1/responses/{id}).
-- `input` is the whole conversation up to this response (its predecessors' input and output
-- included), so continuing from it takes one lookup; `output` is this response's items and
-- `body` the Response object as returned. Rows older than the retention setting are purged.
-- The JSON is kept as text, not JSONB: JSONB refuses "\u0000", which user text may contain,
-- and nothing queries inside these documents.
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    model TEXT,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_created ON responses (created_at);
