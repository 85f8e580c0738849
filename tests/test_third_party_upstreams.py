"""Two real OpenAI-compatible servers as omni-proxy's upstreams, driven by the openai SDK:

* LiteLLM's proxy (``litellm --config``) with ``mock_response`` models: it sends streamed
  usage on the finishing chunk (choices not empty), and sends it unasked;
* fakellm from PyPI (``fakellm serve``), whose rules answer text, tool calls and errors, and
  whose streams carry no usage at all.

Each runs as a subprocess on a free 127.0.0.1 port from the third-party venv
(tests/third_party.py), with its own omni-proxy in front.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.conftest import MASTER_KEY, ProxyProcess, free_port
from tests.third_party import third_party_venv, unavailable

#: Minutes on a first run (the install, LiteLLM's start-up): `-m "not slow"` skips them.
pytestmark = pytest.mark.slow

LITELLM_KEY = "sk-litellm-upstream-test"
LITELLM_ANSWER = "Hello from the LiteLLM mock upstream, friend."


class Server:
    """A third-party server in a child process, stopped by its pid."""

    def __init__(self, cmd: list[str], port: int, tmp: Path, health: str, env: dict[str, str]):
        self.port = port
        self.log = tmp / f"server-{port}.log"
        self.cmd, self.health, self.env, self.tmp = cmd, health, env, tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 300.0) -> Server:
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.tmp, env=self.env
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                unavailable(f"{self.cmd[0]} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}{self.health}", timeout=1).is_success:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        unavailable(f"{self.cmd[0]} did not start: {self.log.read_text()[-2000:]}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNI_", "OPENAI_"))}
    # LiteLLM fetches its price map from the internet at import unless told not to.
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env["LITELLM_TELEMETRY"] = "False"
    env["DISABLE_SCHEMA_UPDATE"] = "True"
    return env


@pytest.fixture(scope="session")
def venv() -> Path:
    return third_party_venv()


@pytest.fixture(scope="module")
def litellm_proxy(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("litellm-upstream")
    mock = {"model": "openai/gpt-4o-mini", "api_key": "sk-not-used"}
    config = {
        "model_list": [
            {
                "model_name": "mock-gpt",
                "litellm_params": {**mock, "mock_response": LITELLM_ANSWER},
            },
            {
                "model_name": "mock-limited",
                "litellm_params": {**mock, "mock_response": "litellm.RateLimitError"},
            },
        ],
        "general_settings": {"master_key": LITELLM_KEY},
    }
    (tmp / "litellm.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    cmd = [
        str(venv / "bin" / "litellm"),
        "--config",
        str(tmp / "litellm.yaml"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    server = Server(cmd, port, tmp, "/health/liveliness", offline_env()).start()
    try:
        yield server
    finally:
        server.stop()


FAKELLM_RULES = {
    "rules": [
        {
            "name": "rate_limited",
            "when": {"messages_contain": "please fail with 429"},
            "respond": {"status": 429, "error": "fakellm says slow down"},
        },
        {
            "name": "broken",
            "when": {"messages_contain": "please fail with 500"},
            "respond": {"status": 500, "error": "fakellm exploded"},
        },
        {
            "name": "weather",
            "when": {"tools_include": "get_weather"},
            "respond": {
                "tool_calls": [
                    {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
                ]
            },
        },
        {
            "name": "hello",
            "when": {"messages_contain": "hello"},
            "respond": {"content": "Hello from fakellm, a fake but faithful friend"},
        },
    ]
}


@pytest.fixture(scope="module")
def fakellm(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("fakellm-upstream")
    (tmp / "fakellm.yaml").write_text(yaml.safe_dump(FAKELLM_RULES))
    port = free_port()
    cmd = [
        str(venv / "bin" / "fakellm"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(tmp / "fakellm.yaml"),
    ]
    server = Server(cmd, port, tmp, "/_fakellm/stats", offline_env()).start()
    try:
        yield server
    finally:
        server.stop()


def proxy_config(base_url: str, key: str, models: dict[str, str]) -> dict[str, Any]:
    return {
        "providers": {"up": {"plugin": "openai", "base_url": base_url, "api_key": key}},
        "models": [
            {"name": name, "provider": "up", "model": model, "cost_input": 1, "cost_output": 2}
            for name, model in models.items()
        ],
        "routing": {"strict_model": True},
    }


@pytest.fixture(scope="module")
def via_litellm(
    litellm_proxy: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[openai.OpenAI]:
    config = proxy_config(
        litellm_proxy.base_url, LITELLM_KEY, {"ll": "mock-gpt", "ll-limited": "mock-limited"}
    )
    with ProxyProcess(tmp_path_factory.mktemp("omni-litellm"), config) as proxy:
        yield openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def via_fakellm(
    fakellm: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[openai.OpenAI]:
    config = proxy_config(fakellm.base_url, "sk-not-used", {"fk": "gpt-4o-mini"})
    with ProxyProcess(tmp_path_factory.mktemp("omni-fakellm"), config) as proxy:
        yield openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30)


def stream(client: openai.OpenAI, model: str, text: str, asked: bool) -> list[Any]:
    extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if asked else {}
    return list(
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": text}], stream=True, **extra
        )
    )


def check_stream(chunks: list[Any], asked: bool, model: str) -> str:
    """One usage chunk to a client that asked, none to one that did not; ``omni`` last."""
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    with_usage = [c for c in chunks if c.usage is not None]
    final = chunks[-1].model_dump()
    assert final.get("omni", {}).get("model_used") == model, final
    if asked:
        assert len(with_usage) == 1, [c.usage for c in with_usage]
        assert with_usage[0] is chunks[-1] and chunks[-1].choices == []
        usage = chunks[-1].usage
        assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
        assert final["omni"]["cost"] > 0
    else:
        assert with_usage == [], "usage reached a client that did not ask for it"
        assert all(c.choices for c in chunks)
        assert chunks[-1].choices[0].finish_reason == "stop"
    return text


# -- LiteLLM's proxy as the upstream ---------------------------------------------------------
def test_litellm_upstream_chat(via_litellm: openai.OpenAI) -> None:
    done = via_litellm.chat.completions.create(
        model="ll", messages=[{"role": "user", "content": "hi"}]
    )
    assert done.choices[0].message.content == LITELLM_ANSWER
    assert done.model == "ll"
    assert done.usage is not None and done.usage.completion_tokens > 0
    omni = done.model_extra["omni"]  # type: ignore[index]
    assert omni["model_used"] == "ll" and omni["cost"] > 0


@pytest.mark.parametrize("asked", [True, False])
def test_litellm_upstream_stream_usage_once(via_litellm: openai.OpenAI, asked: bool) -> None:
    chunks = stream(via_litellm, "ll", "hi there", asked)
    assert check_stream(chunks, asked, "ll") == LITELLM_ANSWER


def test_litellm_upstream_error_is_openai_shaped(via_litellm: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        via_litellm.chat.completions.create(
            model="ll-limited", messages=[{"role": "user", "content": "hi"}]
        )
    err = caught.value
    assert err.status_code == 429, err.response.text
    body = err.response.json()
    assert set(body["error"]) >= {"message", "type", "param", "code"}


# -- fakellm as the upstream -----------------------------------------------------------------
def test_fakellm_upstream_chat_and_tools(via_fakellm: openai.OpenAI) -> None:
    done = via_fakellm.chat.completions.create(
        model="fk", messages=[{"role": "user", "content": "hello there"}]
    )
    assert done.choices[0].message.content == "Hello from fakellm, a fake but faithful friend"
    assert done.usage is not None and done.usage.total_tokens > 0
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    done = via_fakellm.chat.completions.create(
        model="fk", messages=[{"role": "user", "content": "weather?"}], tools=[tool]
    )
    call = done.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"
    assert call.function.arguments == '{"city": "Paris", "unit": "celsius"}'
    assert done.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("asked", [True, False])
def test_fakellm_stream_without_upstream_usage(via_fakellm: openai.OpenAI, asked: bool) -> None:
    """fakellm's streams carry no usage: the proxy counts it itself, once."""
    chunks = stream(via_fakellm, "fk", "hello stream", asked)
    assert check_stream(chunks, asked, "fk") == "Hello from fakellm, a fake but faithful friend"


@pytest.mark.parametrize(
    ("text", "status", "error_class"),
    [
        ("please fail with 429", 429, openai.RateLimitError),
        ("please fail with 500", 502, openai.APIStatusError),
    ],
)
def test_fakellm_errors_are_openai_shaped(
    via_fakellm: openai.OpenAI, text: str, status: int, error_class: type[Exception]
) -> None:
    with pytest.raises(error_class) as caught:
        via_fakellm.chat.completions.create(
            model="fk", messages=[{"role": "user", "content": text}]
        )
    err = caught.value
    assert isinstance(err, openai.APIStatusError)
    assert err.status_code == status, err.response.text
    body = err.response.json()
    assert set(body["error"]) >= {"message", "type", "param", "code"}
    assert "Traceback" not in err.response.text
