"""Config loading: ${VAR} expansion, environment overrides, errors that name the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from omni_proxy.config import ConfigError, expand_vars, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "omni.yaml"
    path.write_text(text)
    return path


def test_expand_vars_with_defaults_and_unset() -> None:
    env = {"A": "1", "KEY": "sk-x"}
    tree = {"a": "${A}", "b": "x-${A}-${MISSING:-d}", "c": ["${KEY}"], "d": "${UNSET}", "n": 5}
    assert expand_vars(tree, env) == {"a": "1", "b": "x-1-d", "c": ["sk-x"], "d": None, "n": 5}


def test_full_contract_example_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
database_url: sqlite:///omni-proxy.db
redis_url: null
providers:
  openai:
    plugin: openai
    base_url: https://api.openai.com/v1
    api_key: ${OPENAI_API_KEY}
    timeout_s: 60
models:
  - name: gpt-4o-mini
    provider: openai
    model: gpt-4o-mini
    cost_input: 0.15
    cost_output: 0.60
    avg_latency_ms: 400
    strengths: [chat, summarization]
    supports_functions: true
    supports_vision: true
    max_tokens: 128000
    kind: chat
routing:
  strategy: hybrid
  weights: {cost: 0.4, latency: 0.3, task: 0.3}
  premium_model: gpt-4o-mini
  fallback_model: gpt-4o-mini
""",
    )
    config = load_config(path, env={"OPENAI_API_KEY": "sk-from-env"})
    assert config.providers["openai"].api_key == "sk-from-env"
    assert config.providers["openai"].name == "openai"
    assert config.models[0].cost_input == Decimal("0.15")
    assert config.routing.weights.latency == 0.3


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
database_url: sqlite:///file.db
providers:
  groq: {plugin: openai, api_key: sk-file}
""",
    )
    env = {
        "OMNI_DATABASE_URL": "postgresql://db/x",
        "GROQ_API_KEY": "gsk-env",
        "OMNI_MASTER_KEY": "master",
    }
    config = load_config(path, env=env)
    assert config.database_url == "postgresql://db/x"
    assert config.providers["groq"].api_key == "gsk-env"
    assert config.master_key == "master"
    # A provider key in the env does not add providers a config file did not ask for.
    assert "openai" not in load_config(path, env={"OPENAI_API_KEY": "sk"}).providers


def test_no_file_configures_providers_from_keys() -> None:
    config = load_config(None, env={"OPENAI_API_KEY": "sk", "OPENROUTER_API_KEY": "or"})
    assert config.providers["openai"].plugin == "openai"
    assert config.providers["openrouter"].preset == "openrouter"
    assert config.database_url == "sqlite:///omni-proxy.db"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("providers: {a: {plugin: openai, timeout_s: soon}}", "providers.a.timeout_s"),
        ("models: [{name: m, provider: nope}]", "models[0].provider: 'nope' is not defined"),
        ("routing: {strategy: fastest}", "routing.strategy"),
        ("models: [{provider: p}]\nproviders: {p: {plugin: openai}}", "models.0.name"),
        ("bogus_key: 1", "bogus_key: unknown key"),
        ("models: [{name: auto, provider: p}]\nproviders: {p: {plugin: openai}}", "reserved"),
        (
            "models: [{name: m, provider: p, strengths: [poetry]}]\n"
            "providers: {p: {plugin: openai}}",
            "unknown task type 'poetry'",
        ),
        ("- just\n- a list", "mapping at the top level"),
        ("providers: [unclosed", "not valid YAML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    assert fragment in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.yaml", env={})


def test_serve_refuses_bad_config_before_binding(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path, "routing: {strategy: fastest}\n")
    out = subprocess.run(
        [sys.executable, "-m", "omni_proxy.cli", "serve", "--config", str(path), "--port", "1"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin", "OMNI_MASTER_KEY": "k"},
        timeout=30,
    )
    assert out.returncode == 2
    assert "routing.strategy" in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_refuses_to_run_open(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "omni_proxy.cli", "serve", "--port", "1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin", "OMNI_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"},
        timeout=30,
    )
    assert out.returncode == 2
    assert "OMNI_MASTER_KEY" in out.stderr


def test_provider_key_variables_come_from_the_provider_classes() -> None:
    """CONTRACT.md's six key variables, declared by the installed plugins (``key_env_var``,
    presets' ``env_switches_on``), not a table in the core; a disabled plugin's go."""
    from omni_proxy.plugins import provider_env_keys

    keys = provider_env_keys({})
    assert {name: (var, plugin) for name, (var, plugin, _) in keys.items()} == {
        "openai": ("OPENAI_API_KEY", "openai"),
        "anthropic": ("ANTHROPIC_API_KEY", "anthropic"),
        "gemini": ("GEMINI_API_KEY", "gemini"),
        "openrouter": ("OPENROUTER_API_KEY", "openai"),
        "groq": ("GROQ_API_KEY", "openai"),
        "mistral": ("MISTRAL_API_KEY", "openai"),
    }
    assert keys["groq"][2] == {"preset": "groq"} and keys["openai"][2] == {}
    assert "anthropic" not in provider_env_keys({"OMNI_PROXY_DISABLE_PLUGINS": "anthropic"})
    custom = {"acme": ("ACME_KEY", "openai", {"preset": "together"})}
    config = load_config(None, env={"ACME_KEY": "k", "OPENAI_API_KEY": "sk"}, env_keys=custom)
    assert set(config.providers) == {"acme"}
    assert config.providers["acme"].api_key == "k"
    assert config.providers["acme"].preset == "together"
