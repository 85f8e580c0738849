-- Key controls (issue 16): a key's model allow-list (JSON list, NULL: every model), its own
-- budget per period, rotation (the previous secret stays valid until prev_expires_at), and
-- an org's soft budget (an alert threshold, never a refusal).
ALTER TABLE api_keys ADD COLUMN models TEXT;
ALTER TABLE api_keys ADD COLUMN max_budget_usd TEXT;
ALTER TABLE api_keys ADD COLUMN budget_period TEXT;
ALTER TABLE api_keys ADD COLUMN prev_prefix TEXT;
ALTER TABLE api_keys ADD COLUMN prev_secret_hash TEXT;
ALTER TABLE api_keys ADD COLUMN prev_expires_at TEXT;
ALTER TABLE api_keys ADD COLUMN rotated_at TEXT;
ALTER TABLE orgs ADD COLUMN soft_budget_usd TEXT;
-- A key's spend in its budget period is summed from its own rows.
CREATE INDEX IF NOT EXISTS requests_key_time ON requests (key_id, created_at);
