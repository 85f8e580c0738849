-- omni-proxy schema, PostgreSQL dialect. Money is NUMERIC.
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    monthly_budget_usd NUMERIC(18,8),
    rpm_limit INTEGER,
    tpm_limit INTEGER,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'member',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (org_id, email)
);

CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT REFERENCES users(id),
    name TEXT,
    prefix TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    permissions TEXT NOT NULL DEFAULT 'read,write',
    rpm_limit INTEGER,
    tpm_limit INTEGER,
    expires_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS api_keys_org ON api_keys (org_id);

CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    cost_input NUMERIC(18,8) NOT NULL,
    cost_output NUMERIC(18,8) NOT NULL,
    avg_latency_ms INTEGER NOT NULL,
    strengths TEXT NOT NULL DEFAULT '',
    supports_functions BOOLEAN NOT NULL DEFAULT TRUE,
    supports_vision BOOLEAN NOT NULL DEFAULT FALSE,
    max_tokens INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'chat',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    org_id TEXT,
    key_id TEXT,
    endpoint TEXT NOT NULL,
    task_type TEXT,
    model_requested TEXT,
    model_used TEXT,
    provider TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost NUMERIC(18,8) NOT NULL DEFAULT 0,
    premium_cost NUMERIC(18,8) NOT NULL DEFAULT 0,
    savings NUMERIC(18,8) NOT NULL DEFAULT 0,
    latency_ms DOUBLE PRECISION NOT NULL,
    ttft_ms DOUBLE PRECISION,
    stream BOOLEAN NOT NULL DEFAULT FALSE,
    status INTEGER NOT NULL,
    error TEXT,
    fallback_count INTEGER NOT NULL DEFAULT 0,
    client_disconnected BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_org_created ON requests (org_id, created_at);
CREATE INDEX IF NOT EXISTS requests_created ON requests (created_at);

CREATE TABLE IF NOT EXISTS routing_logs (
    request_id TEXT PRIMARY KEY REFERENCES requests(id),
    org_id TEXT,
    strategy TEXT,
    task_type TEXT,
    candidates JSONB NOT NULL,
    plan JSONB NOT NULL,
    attempts JSONB NOT NULL,
    final_model TEXT,
    reason TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS routing_logs_org_created ON routing_logs (org_id, created_at);
