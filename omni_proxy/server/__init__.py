"""Serving HTTP: hardening, one-write responses, request ids, logs, metrics, traces, alerts."""
