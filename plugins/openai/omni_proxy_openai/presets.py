"""OpenAI-compatible upstreams as data: where they live, which key they use, what they serve.

Prices are USD per million tokens from each provider's public price list (late 2026); keep
them in your own config's ``models`` if they matter to you.
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "openai": {
        "base_url": "https://api.openai.com/v1",
        "key_env": "OPENAI_API_KEY",
        "env_switches_on": True,  # the key alone configures it (CONTRACT.md)
        # POST /v1/responses is passed through, not translated (the provider's
        # ``responses_api`` option overrides this; other presets default to false).
        "responses_api": True,
        "models": [
            {
                "name": "gpt-4o",
                "cost_input": "2.50",
                "cost_output": "10.00",
                "avg_latency_ms": 900,
                "strengths": ["coding", "reasoning", "image", "agent_step"],
                "supports_vision": True,
                "max_tokens": 128000,
            },
            {
                "name": "gpt-4o-mini",
                "cost_input": "0.15",
                "cost_output": "0.60",
                "avg_latency_ms": 500,
                "strengths": ["chat", "summarization", "translation"],
                "supports_vision": True,
                "max_tokens": 128000,
            },
            {
                "name": "gpt-4.1",
                "cost_input": "2.00",
                "cost_output": "8.00",
                "avg_latency_ms": 900,
                "strengths": ["coding", "agent_step", "reasoning"],
                "supports_vision": True,
                "max_tokens": 1047576,
            },
            {
                "name": "gpt-4.1-mini",
                "cost_input": "0.40",
                "cost_output": "1.60",
                "avg_latency_ms": 600,
                "strengths": ["chat", "coding", "summarization"],
                "supports_vision": True,
                "max_tokens": 1047576,
            },
            {
                "name": "text-embedding-3-small",
                "cost_input": "0.02",
                "cost_output": "0",
                "avg_latency_ms": 200,
                "kind": "embedding",
                "max_tokens": 8191,
            },
            {
                "name": "text-embedding-3-large",
                "cost_input": "0.13",
                "cost_output": "0",
                "avg_latency_ms": 250,
                "kind": "embedding",
                "max_tokens": 8191,
            },
        ],
    },
    "groq": {
        "base_url": "https://api.groq.com/openai/v1",
        "key_env": "GROQ_API_KEY",
        "env_switches_on": True,  # the key alone configures it (CONTRACT.md)
        # Groq answers 400 to a few OpenAI fields instead of ignoring them (its "OpenAI
        # compatibility" page: logprobs, logit_bias, top_logprobs, messages[].name), and to
        # OpenAI-platform-only ones (store, metadata). ``n`` other than 1 is refused too;
        # that one goes through, since quietly answering one choice would be wrong.
        "drop_fields": ["logprobs", "top_logprobs", "logit_bias", "store", "metadata"],
        "drop_message_fields": ["name"],
        # Without OpenAI's usage chunk, Groq's usage rides in ``x_groq.usage``.
        "x_groq_usage": True,
        "models": [
            {
                "name": "llama-3.3-70b-versatile",
                "cost_input": "0.59",
                "cost_output": "0.79",
                "avg_latency_ms": 250,
                "strengths": ["chat", "summarization", "coding"],
                "max_tokens": 131072,
            },
            {
                "name": "llama-3.1-8b-instant",
                "cost_input": "0.05",
                "cost_output": "0.08",
                "avg_latency_ms": 150,
                "strengths": ["chat", "translation"],
                "max_tokens": 131072,
            },
        ],
    },
    "openrouter": {
        "base_url": "https://openrouter.ai/api/v1",
        "key_env": "OPENROUTER_API_KEY",
        "env_switches_on": True,  # the key alone configures it (CONTRACT.md)
        # OpenRouter attributes traffic to an app by these (override them under the
        # provider's ``headers``). Its quirks — integer error codes, 402 out of credits,
        # errors inside a 200 and ": OPENROUTER PROCESSING" comments — are in quirks.py.
        "headers": {
            "HTTP-Referer": "https://github.com/omni-proxy/omni-proxy",
            "X-Title": "omni-proxy",
        },
        "models": [
            {
                "name": "openrouter/anthropic/claude-sonnet-4",
                "model": "anthropic/claude-sonnet-4",
                "cost_input": "3.00",
                "cost_output": "15.00",
                "avg_latency_ms": 1200,
                "strengths": ["coding", "reasoning", "agent_step"],
                "supports_vision": True,
                "max_tokens": 200000,
            },
            {
                "name": "openrouter/meta-llama/llama-3.3-70b-instruct",
                "model": "meta-llama/llama-3.3-70b-instruct",
                "cost_input": "0.13",
                "cost_output": "0.40",
                "avg_latency_ms": 700,
                "strengths": ["chat"],
                "max_tokens": 131072,
            },
        ],
    },
    "mistral": {
        "base_url": "https://api.mistral.ai/v1",
        "key_env": "MISTRAL_API_KEY",
        "env_switches_on": True,  # the key alone configures it (CONTRACT.md)
        "models": [
            {
                "name": "mistral-small-latest",
                "cost_input": "0.10",
                "cost_output": "0.30",
                "avg_latency_ms": 400,
                "strengths": ["chat", "translation", "summarization"],
                "max_tokens": 128000,
            },
            {
                "name": "codestral-latest",
                "cost_input": "0.30",
                "cost_output": "0.90",
                "avg_latency_ms": 500,
                "strengths": ["coding"],
                "max_tokens": 256000,
            },
        ],
    },
    "together": {
        "base_url": "https://api.together.xyz/v1",
        "key_env": "TOGETHER_API_KEY",
        "models": [],
    },
    "deepseek": {
        "base_url": "https://api.deepseek.com/v1",
        "key_env": "DEEPSEEK_API_KEY",
        "models": [
            {
                "name": "deepseek-chat",
                "cost_input": "0.27",
                "cost_output": "1.10",
                "avg_latency_ms": 900,
                "strengths": ["coding", "chat"],
                "max_tokens": 64000,
            },
            {
                "name": "deepseek-reasoner",
                "cost_input": "0.55",
                "cost_output": "2.19",
                "avg_latency_ms": 3000,
                "strengths": ["reasoning"],
                "supports_functions": False,
                "max_tokens": 64000,
            },
        ],
    },
    "ollama": {"base_url": "http://localhost:11434/v1", "key_env": None, "models": []},
    "vllm": {"base_url": "http://localhost:8000/v1", "key_env": None, "models": []},
}
