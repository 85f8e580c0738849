-- Governance: guardrail findings per request, an org's guardrail override, the audit log.
-- `requests.guardrails`: findings counted by type as JSON text ({"EMAIL": 2}), NULL when
-- nothing was found; the values themselves are never stored.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS guardrails TEXT;
-- `orgs.guardrails`: the org's override of the config's `guardrails` (JSON text), or NULL.
ALTER TABLE orgs ADD COLUMN IF NOT EXISTS guardrails TEXT;

-- Who (key id; NULL for the master key) changed what (before -> after, secrets never), when.
CREATE TABLE IF NOT EXISTS audit_log (
    id TEXT PRIMARY KEY,
    org_id TEXT,
    actor_key_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT,
    before TEXT,
    after TEXT,
    source TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_org_created ON audit_log (org_id, created_at, id);
CREATE INDEX IF NOT EXISTS audit_log_created ON audit_log (created_at, id);
