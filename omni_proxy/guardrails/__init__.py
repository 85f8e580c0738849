"""Guardrails: the guard steps of the chain, and the built-in PII and secrets detection."""
