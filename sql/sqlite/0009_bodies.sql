-- Body logging (`logging.bodies`, off by default): each request's prompt and answer as text,
-- kept apart from `requests` so the numbers stay small and bodies can expire on their own
-- (`logging.bodies_retention_days`; deleted by created_at).
CREATE TABLE IF NOT EXISTS request_bodies (
    request_id TEXT PRIMARY KEY,
    org_id TEXT,
    prompt TEXT,
    answer TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS request_bodies_created ON request_bodies (created_at);
