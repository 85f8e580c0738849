"""The official npm SDKs (``openai``, ``@anthropic-ai/sdk``) against a real ``serve --demo``.

The packages are installed once per session into a pytest temp dir; each client runs a small
``.mjs`` script (tests/data/npm_clients/) that prints its results as JSON for Python to check.
Without node/npm the tests skip, except in CI where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, MASTER_KEY, ProxyProcess

SCRIPTS = Path(__file__).parent / "data" / "npm_clients"
#: openai 5 and @anthropic-ai/sdk 1 both support Node 20, the oldest Node we test with.
PACKAGES = ["openai@5", "@anthropic-ai/sdk@1"]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(reason + " — CI must have it")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the SDKs installed, shared by every test of the session."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _unavailable("node and npm are needed for the npm client tests")
    folder = tmp_path_factory.mktemp("npm-clients")
    (folder / "package.json").write_text('{"private": true, "type": "module"}')
    try:
        done = subprocess.run(
            [str(npm), "install", "--no-audit", "--no-fund", "--silent", *PACKAGES],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=240,
        )
    except subprocess.TimeoutExpired:
        _unavailable("npm install timed out")
    if done.returncode != 0:
        _unavailable(f"npm install failed: {done.stderr[-1000:]}")
    for name in ("openai_client.mjs", "anthropic_client.mjs"):
        shutil.copy(SCRIPTS / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    with ProxyProcess(tmp_path_factory.mktemp("npm-demo"), args=["--demo"]) as running:
        yield running


def run_script(folder: Path, script: str, proxy: ProxyProcess) -> dict[str, Any]:
    env = dict(os.environ, BASE_URL=proxy.base_url, ROOT_URL=proxy.root, API_KEY=MASTER_KEY)
    done = subprocess.run(
        ["node", script], cwd=folder, env=env, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_openai_npm_chat_stream_and_tool_round(node_modules: Path, proxy: ProxyProcess) -> None:
    out = run_script(node_modules, "openai_client.mjs", proxy)
    chat = out["chat"]
    assert "Say hello" in chat["content"] and chat["finish"] == "stop"
    assert chat["usage"]["total_tokens"] == (
        chat["usage"]["prompt_tokens"] + chat["usage"]["completion_tokens"]
    )
    stream = out["stream"]
    assert "Count to three" in stream["text"]
    assert len(stream["usages"]) == 1  # exactly one usage chunk, because it was asked for
    assert stream["usages"][0]["completion_tokens"] > 0
    tool = out["tool"]
    assert tool["finish"] == "tool_calls"
    assert [c["name"] for c in tool["calls"]] == ["get_weather"]
    args = tool["calls"][0]["args"]
    assert isinstance(args["city"], str) and args["unit"] in ("celsius", "fahrenheit")
    assert "sunny, 21 C" in tool["answer"]


def test_anthropic_npm_create_stream_and_count(node_modules: Path, proxy: ProxyProcess) -> None:
    out = run_script(node_modules, "anthropic_client.mjs", proxy)
    created = out["create"]
    assert created["type"] == "message" and created["role"] == "assistant"
    assert "Say hello" in created["text"] and created["stop"] == "end_turn"
    assert created["usage"]["output_tokens"] > 0
    assert created["request_id"]  # the SDK reads it from the request-id header
    stream = out["stream"]
    assert "Count to three" in stream["text"] and stream["deltas"] == stream["text"]
    assert stream["stop"] == "end_turn" and stream["usage"]["output_tokens"] > 0
    assert out["count"]["input_tokens"] > 0
