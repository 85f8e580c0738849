-- Issue 15: the proxy's own id is the primary key; a client's x-request-id is kept here.
ALTER TABLE requests ADD COLUMN client_request_id TEXT;
-- The key cache reloads only what changed: keys created or revoked since its last reload.
CREATE INDEX IF NOT EXISTS api_keys_created ON api_keys (created_at);
CREATE INDEX IF NOT EXISTS api_keys_revoked ON api_keys (revoked_at);
-- A stored response keeps only its own new input and points at the one it continues.
ALTER TABLE responses ADD COLUMN previous_id TEXT;
