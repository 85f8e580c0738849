"""LiteLLM's SDK as a client of a real ``serve --demo``: ``completion`` and ``acompletion``,
streamed and not, a tool call, a refused key, with ``api_base`` at the proxy and the model
``openai/auto`` (LiteLLM's OpenAI-compatible route).

The SDK runs in the third-party venv (tests/third_party.py), from
tests/data/litellm/sdk_client.py, which prints what it saw as JSON for this test to check.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.test_third_party_upstreams import offline_env
from tests.third_party import third_party_venv

#: Minutes on a first run (the install, LiteLLM's start-up): `-m "not slow"` skips them.
pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).parent / "data" / "litellm" / "sdk_client.py"


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    venv = third_party_venv()
    with ProxyProcess(tmp_path_factory.mktemp("litellm-client"), args=["--demo"]) as proxy:
        env = dict(offline_env(), BASE_URL=proxy.base_url, API_KEY=MASTER_KEY)
        done = subprocess.run(
            [str(venv / "bin" / "python"), str(SCRIPT)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{SCRIPT.name} failed:\n{done.stderr[-4000:]}"
        yield json.loads(done.stdout.strip().splitlines()[-1])


def test_completion(seen: dict[str, Any]) -> None:
    chat = seen["chat"]
    assert "Say hello to LiteLLM" in chat["content"] and chat["finish"] == "stop"
    usage = chat["usage"]
    assert usage["total"] == usage["prompt"] + usage["completion"] > 0
    # The proxy's ``omni`` object survives LiteLLM's response model, and its request id is the
    # one LiteLLM read from the response headers.
    omni = chat["omni"]
    assert omni["model_used"].startswith("demo-") and omni["cost"] > 0
    assert chat["headers"]["request-id"] == omni["request_id"]


def test_streamed_completion_counts_usage_once(seen: dict[str, Any]) -> None:
    s = seen["stream"]
    assert "rivers" in s["text"] and s["text"] == s["rebuilt_text"]
    assert s["finish"] == "stop"
    # One usage-bearing chunk: LiteLLM's chunk builder then counts the tokens once.
    assert len(s["usages"]) == 1, s["usages"]
    assert s["rebuilt_usage"] == s["usages"][0]
    assert s["rebuilt_usage"]["completion"] > 0


def test_tool_call_matches_the_schema(seen: dict[str, Any]) -> None:
    tool = seen["tool"]
    assert tool["name"] == "get_weather" and tool["finish"] == "tool_calls"
    assert isinstance(tool["arguments"]["city"], str)
    assert tool["arguments"]["unit"] in ("celsius", "fahrenheit")


def test_async_completion_and_stream(seen: dict[str, Any]) -> None:
    a = seen["async"]
    assert "async hello" in a["content"] and a["usage"]["total"] > 0
    assert "async stream" in a["stream_text"]


def test_wrong_key_is_an_authentication_error(seen: dict[str, Any]) -> None:
    err = seen["error"]
    assert err is not None, "a wrong key was accepted"
    assert err["type"] == "AuthenticationError" and err["status"] == 401
