"""Translations between client-facing wire formats and the OpenAI chat format the core routes."""
