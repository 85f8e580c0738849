-- Key controls (issue 16): a key's model allow-list (JSON list, NULL: every model), its own
-- budget per period, rotation (the previous secret stays valid until prev_expires_at), and
-- an org's soft budget (an alert threshold, never a refusal).
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS models TEXT;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS max_budget_usd NUMERIC(18,8);
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS budget_period TEXT;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS prev_prefix TEXT;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS prev_secret_hash TEXT;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS prev_expires_at TIMESTAMPTZ;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS rotated_at TIMESTAMPTZ;
ALTER TABLE orgs ADD COLUMN IF NOT EXISTS soft_budget_usd NUMERIC(18,8);
-- A key's spend in its budget period is summed from its own rows.
CREATE INDEX IF NOT EXISTS requests_key_time ON requests (key_id, created_at);
