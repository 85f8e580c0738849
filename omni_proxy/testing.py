"""Testing omni-proxy plugins in a few lines: helpers, and a pytest plugin with fixtures.

The proxy runs in-process (Starlette's ``TestClient``, lifespan included) with a plugin
manager holding only the plugins you name, a fresh in-memory database and a known master
key, so nothing installed on the machine leaks into a test::

    import omni_proxy_acme
    from omni_proxy.testing import chat, proxy_app

    def test_acme_answers():
        config = {"providers": {"acme": {"plugin": "acme", "api_key": "k"}}}
        with proxy_app(config, plugins=[omni_proxy_acme]) as client:
            answer = chat(client, "hi", model="acme-small")
        assert answer["choices"][0]["message"]["content"]

With the ``omni_proxy`` fixture the ``with`` block goes away::

    def test_acme_answers(omni_proxy):
        client = omni_proxy(config, plugins=[omni_proxy_acme])
        assert chat(client, "hi", model="acme-small")["model"] == "acme-small"

The fixtures come with omni-proxy as a pytest plugin (entry point ``omni_proxy`` in the
``pytest11`` group); where that is not installed, a ``conftest.py`` line enables them:
``pytest_plugins = ["omni_proxy.testing"]``.

To unit-test a provider without the proxy around it, ``make_provider`` builds one over any
``httpx`` transport (e.g. ``httpx.MockTransport``) and ``collect_stream`` reads its stream.
Plugins that are not providers (classifiers, routers, auth) need models to route to:
``stub_plugin`` with ``STUB_CONFIG`` gives them a canned provider with one model per kind
of task.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from .config import Config, ConfigError, ProviderSettings, _check_references
from .plugins import PluginManager, get_plugin_manager, hookimpl
from .provider import Provider
from .types import ModelInfo

#: The master key every app built here accepts (``Authorization: Bearer …``).
MASTER_KEY = "sk-omni-plugin-tests-0123456789"
#: A database that lives as long as the app: nothing is left behind.
MEMORY_DATABASE = "sqlite:///:memory:"

__all__ = [
    "MASTER_KEY",
    "MEMORY_DATABASE",
    "STUB_CONFIG",
    "StubProvider",
    "chat",
    "collect_stream",
    "embed",
    "make_config",
    "make_provider",
    "model_info",
    "omni_proxy",
    "plugin_manager",
    "proxy_app",
    "route",
    "stream_chat",
    "stub_plugin",
    "text_of",
]


# --------------------------------------------------------------------------- building


class _Default:
    """Marks "not given" where None means something."""


_DEFAULT = _Default()


def make_config(config: Mapping[str, Any] | Config | None = None, /, **overrides: Any) -> Config:
    """A ``Config`` from a dict shaped like the YAML file (plus keyword overrides).

    Providers get their names (and ``plugin`` defaults to the name) as when a file is
    loaded; ``database_url`` defaults to an in-memory SQLite database and ``master_key`` to
    ``MASTER_KEY``. No environment variable is read.
    """
    if isinstance(config, Config):
        return config.model_copy(update=overrides) if overrides else config
    raw: dict[str, Any] = {"database_url": MEMORY_DATABASE, "master_key": MASTER_KEY}
    raw.update(dict(config or {}))
    raw.update(overrides)
    providers = raw.get("providers")
    if isinstance(providers, Mapping):
        raw["providers"] = {
            name: ({"name": name, "plugin": name, **block} if isinstance(block, Mapping) else block)
            for name, block in providers.items()
        }
    raw.setdefault("source", "omni_proxy.testing")
    try:
        built = Config.model_validate(raw)
    except ValueError as exc:
        raise ConfigError(f"invalid test config: {exc}") from None
    _check_references(built, "the test config")
    return built


def plugin_manager(
    plugins: Iterable[Any] = (), *, load_entry_points: bool = False
) -> PluginManager:
    """A fresh manager with ``plugins`` (modules or objects) and the built-in defaults;
    installed entry points only when asked."""
    return get_plugin_manager(load_entry_points=load_entry_points, plugins=list(plugins))


def proxy_app(
    config: Mapping[str, Any] | Config | None = None,
    plugins: Iterable[Any] = (),
    *,
    load_entry_points: bool = False,
    api_key: str | _Default | None = _DEFAULT,
    **overrides: Any,
) -> TestClient:
    """A ``TestClient`` for the whole proxy; use it in a ``with`` block so start-up and
    shut-down hooks (and the database) run. Requests carry ``api_key`` (default: the
    config's master key; None for none) as a bearer token."""
    from .app import create_app

    built = make_config(config, **overrides)
    app = create_app(built, pm=plugin_manager(plugins, load_entry_points=load_entry_points))
    key = built.master_key if isinstance(api_key, _Default) else api_key
    headers = {"authorization": f"Bearer {key}"} if key else None
    return TestClient(app, headers=headers)


P = TypeVar("P", bound=Provider)


def make_provider(
    cls: type[P],
    *,
    name: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **settings: Any,
) -> P:
    """An instance of a provider class over ``transport`` (e.g. ``httpx.MockTransport``),
    for testing ``chat`` / ``stream`` / ``embed`` directly. ``settings`` are the provider's
    config block (``api_key``, ``base_url``, plugin options, …)."""
    plugin = settings.pop("plugin", None) or cls.plugin or (name or "test")
    provider_settings = ProviderSettings(name=name or plugin, plugin=plugin, **settings)
    return cls(provider_settings, httpx.AsyncClient(transport=transport, timeout=10))


def model_info(name: str = "test-model", provider: str = "test", **fields: Any) -> ModelInfo:
    """A registry row as a provider receives it (``model`` defaults to ``name``)."""
    fields.setdefault("model", name)
    return ModelInfo(name=name, provider=provider, **fields)


# --------------------------------------------------------------------------- a stub provider


def _last_user_text(body: Mapping[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else orjson.dumps(content).decode()
    return ""


class StubProvider(Provider):
    """Canned answers (``"stub: <last user message>"``), no network, no key; its models
    cover every task type at different prices so a router has choices."""

    plugin = "stub"
    requires_api_key = False

    @classmethod
    def default_models(cls, settings: ProviderSettings) -> list[dict[str, Any]]:
        return [
            {
                "name": "stub-small",
                "cost_input": "0.1",
                "cost_output": "0.4",
                "avg_latency_ms": 200,
                "strengths": ["chat", "summarization", "translation"],
            },
            {
                "name": "stub-coder",
                "cost_input": "0.3",
                "cost_output": "1.2",
                "avg_latency_ms": 400,
                "strengths": ["coding"],
            },
            {
                "name": "stub-large",
                "cost_input": "3",
                "cost_output": "15",
                "avg_latency_ms": 900,
                "supports_vision": True,
                "strengths": ["reasoning", "coding", "agent_step", "image"],
            },
            {"name": "stub-embed", "cost_input": "0.02", "kind": "embedding"},
        ]

    def _answer(self, body: Mapping[str, Any]) -> tuple[str, dict[str, int]]:
        text = "stub: " + _last_user_text(body)
        prompt = sum(len(str(m.get("content") or "").split()) for m in body.get("messages") or [])
        done = len(text.split())
        return text, {
            "prompt_tokens": prompt,
            "completion_tokens": done,
            "total_tokens": prompt + done,
        }

    async def chat(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        text, usage = self._answer(body)
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        return {
            "id": "chatcmpl-stub",
            "object": "chat.completion",
            "created": 0,
            "model": model.model,
            "choices": [choice],
            "usage": usage,
        }

    async def stream(self, body: dict[str, Any], model: ModelInfo) -> AsyncIterator[bytes]:
        text, usage = self._answer(body)
        head = {
            "id": "chatcmpl-stub",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model.model,
        }
        for delta, finish in (({"role": "assistant", "content": text}, None), ({}, "stop")):
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            yield orjson.dumps({**head, "choices": [choice]})
        yield orjson.dumps({**head, "choices": [], "usage": usage})

    async def embed(self, body: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        items = body.get("input")
        count = 1 if isinstance(items, str) else len(items or [])
        data = [{"object": "embedding", "index": i, "embedding": [0.0, 1.0]} for i in range(count)]
        return {
            "object": "list",
            "data": data,
            "model": model.model,
            "usage": {"prompt_tokens": count, "total_tokens": count},
        }


class _StubPlugin:
    @hookimpl
    def register_providers(self, register: Any) -> None:
        register("stub", StubProvider)


#: Register with ``plugins=[stub_plugin, …]``; configure with ``STUB_CONFIG``.
stub_plugin = _StubPlugin()
STUB_CONFIG: dict[str, Any] = {"providers": {"stub": {"plugin": "stub"}}}


# --------------------------------------------------------------------------- requests


def _checked(response: Any, expect: int) -> Any:
    # (Starlette's TestClient answers with its own httpx's Response class.)
    if response.status_code != expect:
        raise AssertionError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}, expected {expect}: {response.text[:2000]}"
        )
    return response.json()


def _messages(content: Any, fields: dict[str, Any]) -> dict[str, Any]:
    if "messages" not in fields:
        fields["messages"] = [{"role": "user", "content": content}]
    return fields


def chat(
    client: TestClient,
    content: Any = "Hello",
    *,
    model: str = "auto",
    expect: int = 200,
    **fields: Any,
) -> Any:
    """POST ``/v1/chat/completions`` with one user message (or ``messages=``); the JSON
    answer, after checking the status is ``expect``."""
    body = {"model": model, **_messages(content, fields)}
    return _checked(client.post("/v1/chat/completions", json=body), expect)


def stream_chat(
    client: TestClient, content: Any = "Hello", *, model: str = "auto", **fields: Any
) -> list[dict[str, Any]]:
    """The chunks of a streamed chat completion, in order (an error event is a chunk with
    an ``error`` key); fails unless the stream ends with ``[DONE]`` or an error event."""
    body = {"model": model, "stream": True, **_messages(content, fields)}
    chunks: list[dict[str, Any]] = []
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            response.read()
            _checked(response, 200)
        done = False
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                done = True
                break
            chunks.append(orjson.loads(line[6:]))
    if not done and not (chunks and "error" in chunks[-1]):
        raise AssertionError(f"the stream ended without [DONE] after {len(chunks)} chunks")
    return chunks


def text_of(chunks: Iterable[Mapping[str, Any]], index: int = 0) -> str:
    """The content a stream's chunks spell out for choice ``index``."""
    return "".join(
        choice.get("delta", {}).get("content") or ""
        for chunk in chunks
        for choice in chunk.get("choices") or ()
        if choice.get("index", 0) == index
    )


def embed(
    client: TestClient,
    input: Any = "Hello",
    *,
    model: str = "auto",
    expect: int = 200,
    **fields: Any,
) -> Any:
    """POST ``/v1/embeddings``; the JSON answer."""
    body = {"model": model, "input": input, **fields}
    return _checked(client.post("/v1/embeddings", json=body), expect)


def route(client: TestClient, content: Any = "Hello", *, model: str = "auto", **fields: Any) -> Any:
    """POST ``/v1/router/debug``: the classification and routing plan, no provider called."""
    body = {"model": model, **_messages(content, fields)}
    return _checked(client.post("/v1/router/debug", json=body), 200)


async def collect_stream(
    provider: Provider, body: Mapping[str, Any], model: ModelInfo
) -> list[dict[str, Any]]:
    """Every chunk of ``provider.stream`` (parsed), for testing a provider directly."""
    stream: AsyncIterator[bytes] = provider.stream({**body, "stream": True}, model)
    return [orjson.loads(data) async for data in stream]


# --------------------------------------------------------------------------- fixtures

ProxyFactory = Callable[..., TestClient]


@pytest.fixture
def omni_proxy() -> Iterator[ProxyFactory]:
    """``omni_proxy(config, plugins=[...], **overrides)`` → a started ``TestClient``
    (see ``proxy_app``); every app is shut down when the test ends."""
    started: list[TestClient] = []

    def start(
        config: Mapping[str, Any] | Config | None = None,
        plugins: Iterable[Any] = (),
        **kwargs: Any,
    ) -> TestClient:
        client = proxy_app(config, plugins, **kwargs)
        client.__enter__()
        started.append(client)
        return client

    yield start
    for client in reversed(started):
        client.__exit__(None, None, None)
