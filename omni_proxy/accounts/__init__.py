"""Who may call and how much: API keys, rate limits, budgets and the audit log."""
