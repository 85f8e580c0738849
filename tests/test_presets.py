"""The ``openai`` plugin's presets against fakes of OpenRouter and Groq, and all six seed
providers (OpenAI, Anthropic, OpenRouter, Groq, Google, Mistral) from one config file.

The two fakes are ``FakeOpenAI`` behind a thin ASGI layer adding what each upstream does
differently, per its public docs:

- OpenRouter (openrouter.ai/docs, "Errors" and "Streaming"): errors are
  ``{"error": {"code": <int>, "message", "metadata"}}`` with the HTTP status equal to the
  code (402 = out of credits, 403 = input flagged by moderation); once generation started,
  errors come in a 200 — in the body, or as an SSE event that is a chunk with an ``error``
  and a choice finishing with ``"error"``; streams carry ``: OPENROUTER PROCESSING``
  comments; chunks name the ``provider``; model ids contain slashes.
- Groq (console.groq.com/docs, "OpenAI Compatibility" and "Rate Limits"): ``logprobs``,
  ``logit_bias``, ``top_logprobs``, ``messages[].name`` and ``n`` other than 1 are refused
  with a 400; answers carry ``x_groq`` (its request id, and usage with timings on the last
  chunk) and ``x-groq-region`` / ``x-ratelimit-*`` headers; 429s carry ``retry-after``.
  (Error wordings are approximations; the shapes are what matter to the proxy.)
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from omni_proxy_openai import PRESETS
from omni_proxy_openai.quirks import (
    CONTENT_POLICY,
    INSUFFICIENT_CREDITS,
    upstream_error_of,
    usage_from_x_groq,
)

from omni_proxy.app import provider_classes
from omni_proxy.config import load_config
from omni_proxy.plugins import get_plugin_manager
from omni_proxy.registry import build_registry
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.anthropic_upstream import DEFAULT_API_KEY as ANTHROPIC_KEY
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import DEFAULT_API_KEY as GEMINI_KEY
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI

OPENROUTER_KEY = "sk-or-v1-fake"
GROQ_KEY = "gsk_fake"
SONNET = "openrouter/anthropic/claude-sonnet-4"
LLAMA_OR = "openrouter/meta-llama/llama-3.3-70b-instruct"
GROQ_BIG = "llama-3.3-70b-versatile"
GROQ_SMALL = "llama-3.1-8b-instant"

Message = dict[str, Any]
Send = Callable[[Message], Any]


# --------------------------------------------------------------------------- the fakes


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


class QuirkyFake(FakeOpenAI):
    """``FakeOpenAI`` behind an ASGI layer: ``intercept`` may answer a request itself, and
    ``rewrite`` edits the inner fake's whole answer (status, headers, body) on the way out."""

    def _build_app(self) -> Any:
        inner = super()._build_app()

        async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
            if scope["type"] != "http":
                await inner(scope, receive, send)
                return
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return dict(await receive())

            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = None
            answer = self.intercept(scope["path"], parsed)
            if answer is not None:
                self._record(scope, body, parsed)
                status, headers, events = answer
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
                    }
                )
                for event in events:
                    await send({"type": "http.response.body", "body": event, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                return
            start: Message = {}
            chunks: list[bytes] = []

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    start.update(message)
                elif message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))

            await inner(scope, replay, capture)
            headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
            headers.pop("content-length", None)
            status, headers, out = self.rewrite(
                parsed, start.get("status", 500), headers, b"".join(chunks)
            )
            if not headers.get("content-type", "").startswith("text/event-stream"):
                headers["content-length"] = str(len(out))
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
                }
            )
            await send({"type": "http.response.body", "body": out})

        return app

    def _record(self, scope: dict[str, Any], body: bytes, parsed: Any) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(
            {
                "method": scope["method"],
                "path": scope["path"],
                "query": {},
                "headers": headers,
                "json": parsed,
                "body": body,
                "time": time.time(),
            }  # type: ignore[typeddict-item]
        )

    def intercept(self, path: str, body: Any) -> tuple[int, dict[str, str], list[bytes]] | None:
        return None

    def rewrite(
        self, request: Any, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        return status, headers, body


class FakeOpenRouter(QuirkyFake):
    """OpenRouter: ``quirk(kind, ...)`` queues a one-shot answer for the next chat request.

    Kinds: ``status`` (HTTP ``status`` with OpenRouter's error body), ``error_200`` (a 200
    whose body is an error), ``choice_error`` (a 200 completion whose choice failed),
    ``stream_error`` (the role chunk unless ``role=False``, ``after`` content chunks, then
    the error chunk, then ``[DONE]``).
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(api_key=OPENROUTER_KEY, **kw)
        self.quirks: list[dict[str, Any]] = []

    def quirk(self, kind: str, **kw: Any) -> None:
        self.quirks.append({"kind": kind, **kw})

    def reset(self) -> None:
        super().reset()
        self.quirks.clear()

    @staticmethod
    def error(code: int, message: str, **metadata: Any) -> dict[str, Any]:
        err: dict[str, Any] = {"code": code, "message": message}
        if metadata:
            err["metadata"] = metadata
        return {"error": err}

    def intercept(self, path: str, body: Any) -> tuple[int, dict[str, str], list[bytes]] | None:
        if not path.endswith("/chat/completions") or not self.quirks:
            return None
        q = self.quirks.pop(0)
        kind = q["kind"]
        as_json = {"content-type": "application/json"}
        model = body.get("model") if isinstance(body, dict) else "?"
        if kind == "status":
            status = q["status"]
            payload = self.error(status, q["message"], **q.get("metadata", {}))
            return status, {**as_json, **q.get("headers", {})}, [json.dumps(payload).encode()]
        if kind == "error_200":
            payload = self.error(
                502,
                "Provider returned error",
                provider_name="Anthropic",
                raw="overloaded_error: Overloaded",
            )
            return 200, as_json, [json.dumps(payload).encode()]
        cid = f"gen-{secrets.token_hex(8)}"
        common = {"id": cid, "provider": "Anthropic", "model": model, "created": 1_700_000_000}
        failure = {"code": "server_error", "message": "Provider disconnected unexpectedly"}
        if kind == "choice_error":
            payload = {
                **common,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": ""},
                        "finish_reason": "error",
                        "native_finish_reason": "error",
                        "error": {"code": 502, "message": "Provider disconnected unexpectedly"},
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3},
            }
            return 200, as_json, [json.dumps(payload).encode()]
        assert kind == "stream_error", kind
        chunk = {**common, "object": "chat.completion.chunk"}
        events = [b": OPENROUTER PROCESSING\n\n"]
        if q.get("role", True):
            role = {"index": 0, "delta": {"role": "assistant", "content": ""}}
            events.append(_sse({**chunk, "choices": [role]}))
        for word in ["Partial ", "answer ", "then "][: q.get("after", 2)]:
            events.append(_sse({**chunk, "choices": [{"index": 0, "delta": {"content": word}}]}))
        events.append(
            _sse(
                {
                    **chunk,
                    "error": failure,
                    "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
                }
            )
        )
        events.append(b"data: [DONE]\n\n")
        return 200, {"content-type": "text/event-stream", "cache-control": "no-cache"}, events

    def rewrite(
        self, request: Any, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        headers["x-generation-id"] = f"gen-{secrets.token_hex(8)}"
        if status != 200:
            # OpenRouter's error shape: the integer status as the code.
            try:
                err = json.loads(body)["error"]
            except (ValueError, KeyError, TypeError):
                return status, headers, body
            return status, headers, json.dumps(self.error(status, err["message"])).encode()
        if headers.get("content-type", "").startswith("text/event-stream"):
            out = [b": OPENROUTER PROCESSING\n\n"]
            for event in body.split(b"\n\n"):
                if not event.startswith(b"data: {"):
                    if event:
                        out.append(event + b"\n\n")
                    continue
                chunk = json.loads(event[6:])
                out.append(_sse({**chunk, "provider": "Anthropic"}))
                if len(out) == 3:
                    out.append(b": OPENROUTER PROCESSING\n\n")
            return status, headers, b"".join(out)
        payload = json.loads(body)
        payload["provider"] = "Anthropic"
        return status, headers, json.dumps(payload).encode()


GROQ_UNSUPPORTED = ("logprobs", "logit_bias", "top_logprobs")


class FakeGroq(QuirkyFake):
    """Groq: refuses the fields it does not support, adds ``x_groq`` and its headers.

    ``usage_chunk=False`` behaves like Groq before it honoured ``stream_options``: no
    ``include_usage`` chunk, the usage only in ``x_groq.usage`` of the last chunk.
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(api_key=GROQ_KEY, **kw)
        self.usage_chunk = True

    def reset(self) -> None:
        super().reset()
        self.usage_chunk = True

    def intercept(self, path: str, body: Any) -> tuple[int, dict[str, str], list[bytes]] | None:
        if not path.endswith("/chat/completions") or not isinstance(body, dict):
            return None
        bad = [f for f in GROQ_UNSUPPORTED if f in body]
        messages = body.get("messages") or []
        bad += [
            f"messages.{i}.name"
            for i, m in enumerate(messages)
            if isinstance(m, dict) and "name" in m
        ]
        message = f"'{bad[0]}' : property '{bad[0]}' is unsupported" if bad else None
        if body.get("n") not in (None, 1):
            message = "'n' : number must be at most 1"
        if message is None:
            return None
        payload = {"error": {"message": message, "type": "invalid_request_error"}}
        return 400, {"content-type": "application/json"}, [json.dumps(payload).encode()]

    def rewrite(
        self, request: Any, status: int, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        rid = f"req_{secrets.token_hex(13)}"
        headers.update(
            {
                "x-groq-region": "us-east-1",
                "x-request-id": rid,
                "x-ratelimit-limit-requests": "14400",
                "x-ratelimit-limit-tokens": "6000",
                "x-ratelimit-remaining-requests": "14399",
                "x-ratelimit-remaining-tokens": "5990",
                "x-ratelimit-reset-requests": "6s",
                "x-ratelimit-reset-tokens": "100ms",
            }
        )
        if status != 200:
            return status, headers, body
        if not headers.get("content-type", "").startswith("text/event-stream"):
            payload = json.loads(body)
            payload["x_groq"] = {"id": rid}
            payload["usage"] = {**payload["usage"], **self.timings()}
            return status, headers, json.dumps(payload).encode()
        chunks = [json.loads(e[6:]) for e in body.split(b"\n\n") if e.startswith(b"data: {")]
        usage = next((c["usage"] for c in chunks if c.get("usage")), None)
        out = []
        for i, chunk in enumerate(chunks):
            if not chunk["choices"] and chunk.get("usage"):
                if self.usage_chunk:
                    out.append(chunk)
                continue
            if not self.usage_chunk:
                chunk.pop("usage", None)
            if i == 0:
                chunk["x_groq"] = {"id": rid}
            if any(c.get("finish_reason") for c in chunk["choices"]) and usage is not None:
                chunk["x_groq"] = {"id": rid, "usage": {**usage, **self.timings()}}
            out.append(chunk)
        return status, headers, b"".join(_sse(c) for c in out) + b"data: [DONE]\n\n"

    @staticmethod
    def timings() -> dict[str, float]:
        return {
            "queue_time": 0.02,
            "prompt_time": 0.001,
            "completion_time": 0.01,
            "total_time": 0.03,
        }


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def openrouter() -> Iterator[FakeOpenRouter]:
    with FakeOpenRouter() as fake:
        yield fake


@pytest.fixture(scope="module")
def groq() -> Iterator[FakeGroq]:
    with FakeGroq() as fake:
        yield fake


@pytest.fixture(scope="module")
def proxy(
    openrouter: FakeOpenRouter, groq: FakeGroq, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    # No models listed: both providers contribute their presets' models.
    config = {
        "providers": {
            "openrouter": {
                "plugin": "openai",
                "preset": "openrouter",
                "base_url": openrouter.base_url,
                "api_key": OPENROUTER_KEY,
                "timeout_s": 5,
            },
            "groq": {
                "plugin": "openai",
                "preset": "groq",
                "base_url": groq.base_url,
                "api_key": GROQ_KEY,
                "timeout_s": 5,
            },
        },
        "routing": {"fallback_model": GROQ_SMALL, "max_attempts": 3},
    }
    with ProxyProcess(tmp_path_factory.mktemp("presets"), config) as running:
        yield running


@pytest.fixture
def client(proxy: ProxyProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    fakes = [
        request.getfixturevalue(name)
        for name in ("openrouter", "groq")
        if name in request.fixturenames
    ]
    client = request.getfixturevalue("client") if "client" in request.fixturenames else None
    for fake in fakes:
        fake.reset()
    yield
    for fake in fakes:
        fake.reset()
    if client is not None:
        # One success per model resets the circuit breaker the failure tests feed.
        for model in (SONNET, LLAMA_OR, GROQ_BIG, GROQ_SMALL):
            client.chat.completions.create(model=model, messages=user("reset"))


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# --------------------------------------------------------------------------- pure mapping


def test_openrouter_integer_codes_map_to_contract_errors() -> None:
    def err(status: int | None, code: int, **meta: Any) -> Any:
        body = FakeOpenRouter.error(code, "boom", **meta)
        return upstream_error_of("openrouter", status, body)

    credits = err(402, 402)
    assert (credits.status, credits.code, credits.retryable) == (502, INSUFFICIENT_CREDITS, True)
    assert credits.type == "server_error"
    limited = err(429, 429)
    assert (limited.status, limited.code, limited.retryable) == (429, "rate_limit_exceeded", True)
    bad = err(400, 400)
    assert (bad.status, bad.code, bad.retryable) == (400, None, False)
    assert isinstance(err(503, 503).code, str) and err(503, 503).status == 503
    assert err(408, 408).status == 504
    flagged = err(403, 403, reasons=["violence"], flagged_input="...", provider_name="OpenAI")
    assert (flagged.status, flagged.code, flagged.retryable) == (400, CONTENT_POLICY, False)
    assert "violence" in flagged.message
    auth = err(401, 401)
    assert auth.status == 502 and auth.code == "upstream_auth_failed"
    # Inside a 200 the integer code is the status; metadata names the provider behind it.
    inside = err(None, 502, provider_name="Anthropic", raw="Overloaded")
    assert inside.status == 502 and inside.retryable and "Anthropic: Overloaded" in inside.message
    assert err(None, 402).code == INSUFFICIENT_CREDITS
    # A string code (OpenRouter's mid-stream errors, OpenAI's) stays a string code.
    stream = upstream_error_of("x", None, {"error": {"code": "server_error", "message": "gone"}})
    assert (stream.status, stream.code) == (502, "server_error")
    for e in (credits, limited, bad, flagged, auth, inside, stream):
        assert e.code is None or isinstance(e.code, str)
        assert set(e.body()["error"]) == {"message", "type", "param", "code"}


def test_x_groq_usage_is_read() -> None:
    chunk = {"x_groq": {"id": "req_1", "usage": {"prompt_tokens": 5, "completion_tokens": 2}}}
    assert usage_from_x_groq(chunk) == {
        "prompt_tokens": 5,
        "completion_tokens": 2,
        "total_tokens": 7,
    }
    assert usage_from_x_groq({"x_groq": {"id": "req_1"}}) is None


def test_presets_cover_the_seed_providers() -> None:
    for name in ("openai", "openrouter", "groq", "mistral"):
        assert PRESETS[name]["base_url"].startswith("https://")
        assert PRESETS[name]["models"], name
    assert {"HTTP-Referer", "X-Title"} <= set(PRESETS["openrouter"]["headers"])
    assert set(GROQ_UNSUPPORTED) <= set(PRESETS["groq"]["drop_fields"])
    assert PRESETS["groq"]["drop_message_fields"] == ["name"]


# --------------------------------------------------------------------------- OpenRouter


def test_openrouter_headers_and_model_ids_with_slashes(
    client: openai.OpenAI, openrouter: FakeOpenRouter
) -> None:
    raw = client.chat.completions.with_raw_response.create(model=SONNET, messages=user("hi there"))
    completion = raw.parse()
    assert completion.choices[0].message.content == "Echo: hi there"
    assert completion.model == SONNET
    assert raw.headers["x-omni-provider"] == "openrouter"
    sent = openrouter.last_request
    assert sent["json"]["model"] == "anthropic/claude-sonnet-4"
    assert sent["headers"]["http-referer"] == PRESETS["openrouter"]["headers"]["HTTP-Referer"]
    assert sent["headers"]["x-title"] == "omni-proxy"
    assert sent["headers"]["authorization"] == f"Bearer {OPENROUTER_KEY}"
    # The id with slashes is a model of its own in /v1/models.
    assert client.models.retrieve(SONNET).id == SONNET
    assert {SONNET, LLAMA_OR} <= {m.id for m in client.models.list()}


def test_openrouter_stream_with_processing_comments(
    client: openai.OpenAI, openrouter: FakeOpenRouter
) -> None:
    chunks = list(
        client.chat.completions.create(
            model=LLAMA_OR,
            messages=user("stream me please"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream me please"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert openrouter.last_request["json"]["model"] == "meta-llama/llama-3.3-70b-instruct"


def test_openrouter_402_is_a_retryable_upstream_error(
    client: openai.OpenAI, openrouter: FakeOpenRouter, groq: FakeGroq
) -> None:
    openrouter.quirk(
        "status",
        status=402,
        message="Insufficient credits. Add more using https://openrouter.ai/credits",
        metadata={"limit_source": "openrouter_credits"},
    )
    completion = client.chat.completions.create(model=SONNET, messages=user("pay me"))
    omni = completion.model_extra["omni"]
    assert omni["model_used"] == GROQ_SMALL  # fell back: not the client's fault
    [failed] = omni["fallbacks"]
    assert failed["model"] == SONNET and failed["status"] == 502
    assert failed["code"] == INSUFFICIENT_CREDITS
    assert groq.last_request["json"]["model"] == GROQ_SMALL


def test_openrouter_402_on_every_attempt_reaches_the_client_as_a_502(
    openrouter: FakeOpenRouter, tmp_path: Path
) -> None:
    config = {
        "providers": {
            "openrouter": {
                "plugin": "openai",
                "preset": "openrouter",
                "base_url": openrouter.base_url,
                "api_key": OPENROUTER_KEY,
            }
        },
        "routing": {"max_attempts": 2},
    }
    for _ in range(2):
        openrouter.quirk("status", status=402, message="Insufficient credits")
    with ProxyProcess(tmp_path, config) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model=SONNET, messages=user("x"))
    assert info.value.status_code == 502
    assert info.value.code == INSUFFICIENT_CREDITS
    assert "Insufficient credits" in info.value.message
    # Both OpenRouter models were tried: the error is the upstream's, not the client's.
    assert [r["json"]["model"] for r in openrouter.requests] == [
        "anthropic/claude-sonnet-4",
        "meta-llama/llama-3.3-70b-instruct",
    ]


def test_openrouter_moderation_403_is_a_client_error(
    client: openai.OpenAI, openrouter: FakeOpenRouter, groq: FakeGroq
) -> None:
    openrouter.quirk(
        "status",
        status=403,
        message="meta-llama/llama-guard flagged your input",
        metadata={
            "reasons": ["violence"],
            "flagged_input": "how do I…",
            "provider_name": "OpenAI",
            "model_slug": "openai/gpt-4o",
        },
    )
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=SONNET, messages=user("flag me"))
    assert info.value.code == CONTENT_POLICY
    assert "violence" in info.value.message
    assert not groq.requests_to("chat/completions")  # no fallback for the client's input


@pytest.mark.parametrize("kind", ["error_200", "choice_error"])
def test_openrouter_error_inside_a_200_falls_back(
    client: openai.OpenAI, openrouter: FakeOpenRouter, kind: str
) -> None:
    openrouter.quirk(kind)
    completion = client.chat.completions.create(model=SONNET, messages=user("hello"))
    omni = completion.model_extra["omni"]
    assert omni["model_used"] == GROQ_SMALL
    assert completion.choices[0].message.content == "Echo: hello"
    [failed] = omni["fallbacks"]
    assert failed["status"] == 502 and failed["model"] == SONNET


def test_openrouter_error_event_mid_stream_reaches_the_sdk(
    client: openai.OpenAI, openrouter: FakeOpenRouter
) -> None:
    openrouter.quirk("stream_error", after=2)
    stream = client.chat.completions.create(model=SONNET, messages=user("go"), stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received) == "Partial answer "  # what came before the error, no more
    assert "Provider disconnected unexpectedly" in info.value.message


def test_openrouter_error_event_before_any_content_falls_back(
    client: openai.OpenAI, openrouter: FakeOpenRouter
) -> None:
    openrouter.quirk("stream_error", after=0, role=False)
    raw = client.chat.completions.with_raw_response.create(
        model=SONNET, messages=user("early"), stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text == "Echo: early"  # nothing reached the client yet, so another model answered
    assert raw.headers["x-omni-model"] == GROQ_SMALL


# --------------------------------------------------------------------------- Groq


def test_groq_unsupported_fields_are_dropped(client: openai.OpenAI, groq: FakeGroq) -> None:
    completion = client.chat.completions.create(
        model=GROQ_BIG,
        messages=[
            {"role": "system", "content": "Be brief.", "name": "rules"},
            {"role": "user", "content": "hello groq", "name": "alice"},
        ],
        logprobs=True,
        top_logprobs=2,
        logit_bias={"50256": -100},
        store=True,
        metadata={"team": "a"},
        temperature=0.2,
        seed=7,
    )
    assert completion.choices[0].message.content == "Echo: hello groq"
    assert completion.model_extra["x_groq"]["id"].startswith("req_")
    sent = groq.last_request["json"]
    for field in ("logprobs", "top_logprobs", "logit_bias", "store", "metadata"):
        assert field not in sent, field
    assert all("name" not in m for m in sent["messages"])
    assert sent["messages"][1]["content"] == "hello groq"
    assert sent["temperature"] == 0.2 and sent["seed"] == 7
    assert groq.last_request["headers"]["authorization"] == f"Bearer {GROQ_KEY}"


def test_groq_refuses_n_above_one_as_a_client_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=GROQ_BIG, messages=user("two please"), n=2)
    assert "'n'" in info.value.message


def test_groq_answers_with_its_headers_and_x_groq(proxy: ProxyProcess, groq: FakeGroq) -> None:
    r = httpx.post(
        f"{groq.base_url}/chat/completions",
        headers={"authorization": f"Bearer {GROQ_KEY}"},
        json={"model": GROQ_BIG, "messages": user("hi")},
    )
    assert r.headers["x-groq-region"] and r.headers["x-ratelimit-remaining-tokens"]
    assert r.json()["x_groq"]["id"].startswith("req_")


@pytest.mark.parametrize("usage_chunk", [True, False])
def test_groq_stream_usage_with_or_without_the_usage_chunk(
    client: openai.OpenAI, groq: FakeGroq, usage_chunk: bool
) -> None:
    groq.usage_chunk = usage_chunk
    chunks = list(
        client.chat.completions.create(
            model=GROQ_BIG,
            messages=user("count these four words"),
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: count these four words"
    usage = chunks[-1].usage
    assert usage is not None
    # The fake counts words: 4 prompt words, 5 answer words; no estimate would match.
    assert (usage.prompt_tokens, usage.completion_tokens) == (4, 5)


GROQ_429 = (
    f"Rate limit reached for model `{GROQ_BIG}` in organization `org_fake` service tier "
    "`on_demand` on tokens per minute (TPM): Limit 6000, Used 5990, Requested 80. "
    "Please try again in 1s."
)


def test_groq_429_falls_back_to_another_model(client: openai.OpenAI, groq: FakeGroq) -> None:
    groq.fail_next(
        "status", status=429, retry_after=1, type="tokens", message=GROQ_429, model=GROQ_BIG
    )
    completion = client.chat.completions.create(model=GROQ_BIG, messages=user("busy?"))
    omni = completion.model_extra["omni"]
    # Backups prefer another provider than the one that just failed.
    assert omni["model_used"] not in (GROQ_BIG, GROQ_SMALL) and omni["provider"] != "groq"
    [failed] = omni["fallbacks"]
    assert failed["status"] == 429 and failed["code"] == "rate_limit_exceeded"
    assert "Please try again in 1s" in failed["error"]


def test_groq_429_everywhere_honours_retry_after(groq: FakeGroq, tmp_path: Path) -> None:
    config = {
        "providers": {
            "groq": {
                "plugin": "openai",
                "preset": "groq",
                "base_url": groq.base_url,
                "api_key": GROQ_KEY,
            }
        },
        "routing": {"max_attempts": 3},
    }
    groq.fail_next("status", 3, status=429, retry_after=1, type="tokens", message=GROQ_429)
    with ProxyProcess(tmp_path, config) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
        started = time.monotonic()
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model=GROQ_BIG, messages=user("busy?"))
        elapsed = time.monotonic() - started
    # Both Groq models, then the last one again once its retry-after had passed.
    assert [r["json"]["model"] for r in groq.requests] == [GROQ_BIG, GROQ_SMALL, GROQ_SMALL]
    assert elapsed >= 0.9
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.code == "rate_limit_exceeded"


# --------------------------------------------------------------------------- six providers


SIX_PROVIDERS_YAML = """
providers:
  openai:
    plugin: openai
    api_key: ${OPENAI_API_KEY}
  anthropic:
    plugin: anthropic
    api_key: ${ANTHROPIC_API_KEY}
  openrouter:
    plugin: openai
    preset: openrouter
    api_key: ${OPENROUTER_API_KEY}
  groq:
    plugin: openai
    preset: groq
    api_key: ${GROQ_API_KEY}
  google:
    plugin: gemini
    api_key: ${GEMINI_API_KEY}
  mistral:
    plugin: openai
    preset: mistral
    api_key: ${MISTRAL_API_KEY}
routing:
  premium_model: gpt-4o
"""
SIX_KEYS = {
    "OPENAI_API_KEY": "sk-upstream-test",
    "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
    "OPENROUTER_API_KEY": OPENROUTER_KEY,
    "GROQ_API_KEY": GROQ_KEY,
    "GEMINI_API_KEY": GEMINI_KEY,
    "MISTRAL_API_KEY": "mistral-fake-key",
}
#: One model of each provider's defaults.
ONE_EACH = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "openrouter": SONNET,
    "groq": GROQ_SMALL,
    "google": "gemini-2.5-flash",
    "mistral": "mistral-small-latest",
}


def test_six_seed_providers_load_from_one_yaml(tmp_path: Path) -> None:
    path = tmp_path / "omni.yaml"
    path.write_text(SIX_PROVIDERS_YAML)
    config = load_config(path, env=SIX_KEYS)
    assert set(config.providers) == set(ONE_EACH)
    assert config.providers["groq"].api_key == GROQ_KEY
    registry = build_registry(config, provider_classes(get_plugin_manager()))
    by_provider: dict[str, set[str]] = {}
    for m in registry:
        by_provider.setdefault(m.provider, set()).add(m.name)
    assert set(by_provider) == set(ONE_EACH)
    for provider, model in ONE_EACH.items():
        assert model in by_provider[provider], (provider, sorted(by_provider[provider]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNI_")}
    env.update(SIX_KEYS)
    out = subprocess.run(
        [sys.executable, "-m", "omni_proxy.cli", "models", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    ).stdout
    rows = [line.split() for line in out.splitlines()[1:] if line.strip()]
    listed = {(row[0], row[1]) for row in rows}
    for provider, model in ONE_EACH.items():
        assert (model, provider) in listed, out
    assert {row[1] for row in rows} == set(ONE_EACH)


def test_six_seed_providers_route_through_one_proxy(tmp_path: Path) -> None:
    """The same file with each provider's ``base_url`` pointed at a fake: one request to a
    model of each, through the openai SDK, reaches that provider in its own format."""
    fakes: dict[str, Any] = {
        "openai": FakeOpenAI(),
        "anthropic": FakeAnthropic(),
        "openrouter": FakeOpenRouter(),
        "groq": FakeGroq(),
        "google": FakeGemini(),
        "mistral": FakeOpenAI(api_key="mistral-fake-key"),
    }
    for fake in fakes.values():
        fake.start()
    try:
        raw = yaml.safe_load(SIX_PROVIDERS_YAML)
        for name, fake in fakes.items():
            raw["providers"][name]["base_url"] = fake.base_url
            raw["providers"][name]["timeout_s"] = 5
        with ProxyProcess(tmp_path, raw, env=SIX_KEYS) as proxy:
            client = openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)
            for provider, model in ONE_EACH.items():
                raw_response = client.chat.completions.with_raw_response.create(
                    model=model, messages=user(f"hello {provider}")
                )
                completion = raw_response.parse()
                assert raw_response.headers["x-omni-provider"] == provider
                assert completion.model == model
                assert f"hello {provider}" in (completion.choices[0].message.content or "")
                assert fakes[provider].requests, provider
    finally:
        for fake in fakes.values():
            fake.stop()
    assert fakes["anthropic"].requests[-1]["path"] == "/v1/messages"
    assert fakes["google"].requests[-1]["path"].endswith(":generateContent")
    assert fakes["google"].requests[-1]["headers"]["x-goog-api-key"] == GEMINI_KEY
    assert fakes["openrouter"].requests[-1]["headers"]["x-title"] == "omni-proxy"
