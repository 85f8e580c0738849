-- omni-proxy schema, SQLite dialect. Money is exact decimal text (never a drifting float).
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    monthly_budget_usd TEXT,
    rpm_limit INTEGER,
    tpm_limit INTEGER,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deleted_at TEXT
);

CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'member',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
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
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS api_keys_org ON api_keys (org_id);

CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    upstream_model TEXT NOT NULL,
    cost_input TEXT NOT NULL,
    cost_output TEXT NOT NULL,
    avg_latency_ms INTEGER NOT NULL,
    strengths TEXT NOT NULL DEFAULT '',
    supports_functions INTEGER NOT NULL DEFAULT 1,
    supports_vision INTEGER NOT NULL DEFAULT 0,
    max_tokens INTEGER NOT NULL,
    kind TEXT NOT NULL DEFAULT 'chat',
    enabled INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
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
    cost TEXT NOT NULL DEFAULT '0',
    premium_cost TEXT NOT NULL DEFAULT '0',
    savings TEXT NOT NULL DEFAULT '0',
    latency_ms REAL NOT NULL,
    ttft_ms REAL,
    stream INTEGER NOT NULL DEFAULT 0,
    status INTEGER NOT NULL,
    error TEXT,
    fallback_count INTEGER NOT NULL DEFAULT 0,
    client_disconnected INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_org_created ON requests (org_id, created_at);
CREATE INDEX IF NOT EXISTS requests_created ON requests (created_at);

CREATE TABLE IF NOT EXISTS routing_logs (
    request_id TEXT PRIMARY KEY REFERENCES requests(id),
    org_id TEXT,
    strategy TEXT,
    task_type TEXT,
    candidates TEXT NOT NULL,
    plan TEXT NOT NULL,
    attempts TEXT NOT NULL,
    final_model TEXT,
    reason TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS routing_logs_org_created ON routing_logs (org_id, created_at);
