"""Third-party plugins: the example packages, ``omni_proxy.testing``, and the real thing —
the echo provider built into a fresh virtual environment with pip and served from there.

The fresh-venv test downloads omni-proxy's dependencies from the package index (about a
minute with a warm pip cache). Every subprocess has a timeout. It is skipped only on a
machine without access to the index; in CI (``CI=true``) that is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import openai
import orjson
import pytest
import yaml
from omni_proxy_openai import OpenAIProvider

from omni_proxy import hookimpl, testing
from omni_proxy.config import ConfigError
from omni_proxy.plugins import describe_plugins
from omni_proxy.testing import (
    MASTER_KEY,
    STUB_CONFIG,
    chat,
    collect_stream,
    embed,
    make_config,
    make_provider,
    model_info,
    plugin_manager,
    proxy_app,
    route,
    stream_chat,
    stub_plugin,
    text_of,
)
from tests.conftest import IN_CI, free_port

# The helpers' fixture, for this module. (The examples' conftest.py enables all of them with
# `pytest_plugins`; omni-proxy's pytest11 entry point will do it for every test suite.)
omni_proxy = testing.omni_proxy

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ECHO = EXAMPLES / "omni-proxy-echo"
KEYWORD = EXAMPLES / "omni-proxy-keyword-classifier"
PIP_TIMEOUT_S = 420
NETWORK_TROUBLE = re.compile(
    r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution|"
    r"No matching distribution found|Could not find a version",
)


def load_example(directory: Path, module: str) -> ModuleType:
    """Import an example's module from its directory, without installing it."""
    if module in sys.modules:
        return sys.modules[module]
    spec = importlib.util.spec_from_file_location(module, directory / f"{module}.py")
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[module] = loaded
    writing, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ there
    try:
        spec.loader.exec_module(loaded)
    finally:
        sys.dont_write_bytecode = writing
    return loaded


@pytest.fixture(scope="module")
def echo() -> ModuleType:
    return load_example(ECHO, "omni_proxy_echo")


@pytest.fixture(scope="module")
def keyword() -> ModuleType:
    return load_example(KEYWORD, "omni_proxy_keyword_classifier")


# --------------------------------------------------------------------------- the echo plugin,
# installed for real


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment minus anything that would leak this checkout into the fresh venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMNI_", "PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def _run(cmd: list[str], timeout: float, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with omni-proxy (from this checkout) and the two example
    plugins, installed by pip like any user would."""
    where = tmp_path_factory.mktemp("fresh-venv")
    venv = where / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], 120, cwd=where, env=_clean_env())
    assert made.returncode == 0, made.stderr[-2000:]
    python = venv / "bin" / "python"
    install = _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            str(ROOT),
            str(ECHO),
            str(KEYWORD),
        ],
        PIP_TIMEOUT_S,
        cwd=where,
        env=_clean_env(),
    )
    if install.returncode != 0:
        output = install.stdout[-3000:] + install.stderr[-3000:]
        if NETWORK_TROUBLE.search(output) and not IN_CI:
            pytest.skip(f"the package index is not reachable: {output[-500:]}")
        pytest.fail(f"pip install failed:\n{output}")
    return venv


def test_plugins_installed_in_a_fresh_venv_serve_requests(fresh_venv: Path, tmp_path: Path) -> None:
    bin_dir = fresh_venv / "bin"
    env = _clean_env()
    # Installed from the wheels, not imported from this checkout.
    where = _run(
        [
            str(bin_dir / "python"),
            "-c",
            "import omni_proxy as a, omni_proxy_echo as b; print(a.__file__, b.__file__)",
        ],
        60,
        cwd=tmp_path,
        env=env,
    )
    assert where.returncode == 0, where.stderr
    assert all(str(fresh_venv) in path for path in where.stdout.split()), where.stdout

    plugins = _run([str(bin_dir / "omni-proxy"), "plugins"], 60, cwd=tmp_path, env=env)
    assert plugins.returncode == 0, plugins.stderr
    assert re.search(
        r"^echo\s+omni-proxy-echo\s+0\.1\.0\s+register_providers$", plugins.stdout, re.M
    ), plugins.stdout
    assert re.search(
        r"^keyword_classifier\s+omni-proxy-keyword-classifier\s+0\.1\.0\s+"
        r"classify, register_classifiers$",
        plugins.stdout,
        re.M,
    ), plugins.stdout

    config = tmp_path / "omni.yaml"
    config.write_text(yaml.safe_dump({"providers": {"echo": {"plugin": "echo"}}}))
    models = _run(
        [str(bin_dir / "omni-proxy"), "models", "--config", str(config)], 60, cwd=tmp_path, env=env
    )
    assert models.returncode == 0, models.stderr
    assert re.search(r"^echo\s+echo\s+echo\s", models.stdout, re.M), models.stdout
    assert re.search(r"^echo-embed\s+echo\s.*\sembedding\b", models.stdout, re.M), models.stdout

    port = free_port()
    log = open(tmp_path / "proxy.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [str(bin_dir / "omni-proxy"), "serve", "--config", str(config), "--port", str(port)],
        cwd=tmp_path,
        env=_clean_env(
            OMNI_MASTER_KEY=MASTER_KEY, OMNI_DATABASE_URL=f"sqlite:///{tmp_path / 'proxy.db'}"
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_healthy(server, port, tmp_path / "proxy.log")
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30
        )
        completion = client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "hello from the SDK"}]
        )
        assert completion.choices[0].message.content == "echo: hello from the SDK"
        assert completion.model_extra["omni"]["provider"] == "echo"
        routed = client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "routed"}]
        )
        assert routed.model == "echo"
        chunks = list(
            client.chat.completions.create(
                model="echo",
                messages=[{"role": "user", "content": "stream it"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
            "echo: stream it"
        )
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
        vectors = client.embeddings.create(
            model="echo-embed", input=["a", "b"], encoding_format="float"
        )
        assert [len(d.embedding) for d in vectors.data] == [8, 8]
        assert {m.id for m in client.models.list()} >= {"echo", "echo-embed"}
        # The installed classifier plugin decides the task.
        decision = httpx.post(
            f"http://127.0.0.1:{port}/v1/router/debug",
            headers={"authorization": f"Bearer {MASTER_KEY}"},
            json={"messages": [{"role": "user", "content": "why this traceback?"}]},
            timeout=30,
        ).json()
        assert decision["task_type"] == "coding"
        assert decision["classification"]["classifier"] == "keyword"
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        log.close()


def _wait_healthy(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"omni-proxy exited with {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"omni-proxy did not become healthy:\n{log.read_text()}")


# --------------------------------------------------------------------------- the examples' own
# tests (what a plugin author runs), with omni_proxy.testing as their pytest plugin


@pytest.mark.parametrize("example", [ECHO, KEYWORD], ids=lambda p: p.name)
def test_the_examples_own_test_suites_pass(example: Path) -> None:
    result = _run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(example)],
        300,
        cwd=example,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", result.stdout)


# --------------------------------------------------------------------------- classifier plugins


def test_keyword_classifier_registered_in_a_plugin_manager(
    keyword: ModuleType, omni_proxy: Any
) -> None:
    client = omni_proxy(STUB_CONFIG, plugins=[stub_plugin, keyword])
    decision = route(client, "Can you translate this to French?")
    assert decision["task_type"] == "translation"
    assert decision["classification"] == {
        "confidence": 0.9,
        "signals": ["kw:translate"],
        "classifier": "keyword",
    }
    assert decision["selected_model"] == "stub-small"
    coding = route(client, "Why does this traceback happen?")
    assert (coding["task_type"], coding["classification"]["classifier"]) == ("coding", "keyword")
    # No keyword: the built-in heuristic decides.
    assert route(client, "hi!")["classification"]["classifier"] != "keyword"


def test_keyword_classifier_hooks_and_registration(keyword: ModuleType) -> None:
    pm = plugin_manager([keyword])
    found: dict[str, Any] = {}
    pm.hook.register_classifiers(register=lambda name, fn: found.setdefault(name, fn))
    assert {"keyword", "heuristic"} <= set(found)
    result = found["keyword"]({"messages": [{"role": "user", "content": "tl;dr please"}]})
    assert result.task_type == "summarization" and result.signals == ("kw:tl;dr",)
    rows = {p["name"]: p["hooks"] for p in describe_plugins(pm)}
    assert rows["omni_proxy_keyword_classifier"] == ["classify", "register_classifiers"]


def test_a_classifier_instance_with_its_own_rules_is_a_plugin(
    keyword: ModuleType, omni_proxy: Any
) -> None:
    rules = keyword.KeywordClassifier({"invoice": "summarization", "sql": "coding"})
    client = omni_proxy(STUB_CONFIG, plugins=[stub_plugin, rules])
    decision = route(client, "Summarise the attached INVOICE")
    assert decision["task_type"] == "summarization"
    assert decision["classification"]["signals"] == ["kw:invoice"]
    assert route(client, "write some SQL")["selected_model"] == "stub-coder"


# --------------------------------------------------------------------------- omni_proxy.testing


def test_make_config_names_providers_and_checks_references() -> None:
    config = make_config({"providers": {"echo": {"prefix": ">"}}}, log_level="debug")
    echo_settings = config.providers["echo"]
    assert (echo_settings.name, echo_settings.plugin) == ("echo", "echo")
    assert echo_settings.option("prefix") == ">"
    assert config.master_key == MASTER_KEY and config.database_url == "sqlite:///:memory:"
    assert config.log_level == "debug"
    with pytest.raises(ConfigError, match="not defined under providers"):
        make_config({"models": [{"name": "m", "provider": "nope"}]})
    with pytest.raises(ConfigError):
        make_config({"routing": {"strategy": "bogus"}})


def test_proxy_app_runs_the_lifespan_and_the_helpers_work(echo: ModuleType) -> None:
    seen: list[str] = []

    class Watcher:
        @hookimpl
        def startup(self) -> None:
            seen.append("startup")

        @hookimpl
        def shutdown(self) -> None:
            seen.append("shutdown")

    config = {"providers": {"echo": {"plugin": "echo"}}}
    with proxy_app(config, plugins=[echo, Watcher()]) as client:
        assert seen == ["startup"]
        answer = chat(client, "hi", model="echo")
        assert answer["choices"][0]["message"]["content"] == "echo: hi"
        chunks = stream_chat(client, "a b", model="echo", stream_options={"include_usage": True})
        assert text_of(chunks) == "echo: a b" and chunks[-1]["omni"]["model_used"] == "echo"
        assert embed(client, "x", model="echo-embed")["data"][0]["index"] == 0
        failed = chat(client, "fail 503", model="echo", expect=503)
        assert failed["error"]["type"] == "server_error"
        assert chat(client, "x", model="missing", expect=404)["error"]["code"] == "model_not_found"
        with pytest.raises(AssertionError, match="answered 404, expected 200"):
            chat(client, "x", model="missing")
    assert seen == ["startup", "shutdown"]
    with proxy_app(config, plugins=[echo], api_key="sk-wrong") as client:
        assert chat(client, expect=401)["error"]["code"] == "invalid_api_key"
    # The client sends the config's own master key unless told otherwise.
    with proxy_app({**config, "master_key": "sk-own-key"}, plugins=[echo]) as client:
        assert (
            chat(client, "mine", model="echo")["choices"][0]["message"]["content"] == "echo: mine"
        )


async def test_make_provider_over_a_mock_transport() -> None:
    sent: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if orjson.loads(request.content).get("stream"):
            body = (
                b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
                b'"choices":[{"index":0,"delta":{"content":"yo"},"finish_reason":null}]}\n\n'
                b"data: [DONE]\n\n"
            )
            return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
        return httpx.Response(429, json={"error": {"message": "slow down", "code": None}})

    provider = make_provider(
        OpenAIProvider,
        name="up",
        base_url="https://upstream.test/v1",
        api_key="sk-up",
        transport=httpx.MockTransport(upstream),
    )
    model = model_info("m", provider="up")
    chunks = await collect_stream(provider, {"model": "m", "messages": []}, model)
    assert text_of(chunks) == "yo"
    assert sent[0].headers["authorization"] == "Bearer sk-up"
    assert str(sent[0].url) == "https://upstream.test/v1/chat/completions"
    from omni_proxy import ProxyError

    with pytest.raises(ProxyError) as info:
        await provider.chat({"model": "m", "messages": []}, model)
    assert info.value.status == 429 and info.value.retryable
    await provider.client.aclose()


def test_the_fixture_starts_and_stops_apps(omni_proxy: Any) -> None:
    first = omni_proxy(STUB_CONFIG, plugins=[stub_plugin])
    second = omni_proxy(STUB_CONFIG, plugins=[stub_plugin])
    assert chat(first, "one")["model"] == chat(second, "two")["model"]
    assert chat(first, "hello", model="stub-large")["choices"][0]["message"]["content"] == (
        "stub: hello"
    )


def test_stub_plugin_serves_every_kind(omni_proxy: Any) -> None:
    client = omni_proxy(STUB_CONFIG, plugins=[stub_plugin])
    assert embed(client, ["a", "b"])["model"] == "stub-embed"
    chunks = stream_chat(client, "hey", model="stub-small")
    assert text_of(chunks) == "stub: hey"
