"""Simon Willison's ``llm`` CLI against a real ``serve --demo``, set up as a user would: an
OpenAI-compatible model in ``extra-openai-models.yaml`` and its key in ``keys.json``, both in
a temporary ``LLM_USER_PATH``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from tests.conftest import MASTER_KEY, ProxyProcess

pytest.importorskip("llm", reason="the llm CLI comes with the test extra")


@pytest.fixture(scope="module")
def llm_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with ProxyProcess(tmp_path_factory.mktemp("llm-demo"), args=["--demo"]) as proxy:
        home = tmp_path_factory.mktemp("llm-home")
        models = [
            {"model_id": "omni-demo", "model_name": "demo-mini", "api_base": proxy.base_url,
             "api_key_name": "omni"},
            {"model_id": "omni-tools", "model_name": "demo-premium", "api_base": proxy.base_url,
             "api_key_name": "omni", "supports_tools": True},
        ]  # fmt: skip
        (home / "extra-openai-models.yaml").write_text(yaml.safe_dump(models))
        (home / "keys.json").write_text(json.dumps({"omni": MASTER_KEY}))
        env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
        yield env | {"LLM_USER_PATH": str(home)}


def llm(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "llm", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(env["LLM_USER_PATH"]),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("stream", [True, False])
def test_llm_prompt_answers(llm_env: dict[str, str], stream: bool) -> None:
    out = llm(
        llm_env, "-m", "omni-demo", "Say hello to the proxy", *([] if stream else ["--no-stream"])
    )
    assert "demo-mini answering" in out and "Say hello to the proxy" in out


def test_llm_usage_is_logged(llm_env: dict[str, str]) -> None:
    llm(llm_env, "-m", "omni-demo", "Count the tokens", "--no-stream")
    logged = json.loads(llm(llm_env, "logs", "-n", "1", "--json"))
    assert logged[0]["model"] == "omni-demo"
    assert logged[0]["input_tokens"] > 0 and logged[0]["output_tokens"] > 0


def test_llm_tool_call_round(llm_env: dict[str, str]) -> None:
    """``llm -T`` runs the model's tool call locally and sends the result back."""
    out = llm(llm_env, "-m", "omni-tools", "-T", "llm_version", "What version of llm is this?")
    assert f"from the tool's result: {version('llm')}" in out
