"""A fake Anthropic Messages API on 127.0.0.1, in the real wire format (WIRE-FORMATS.md, Part B).

``FakeAnthropic().start()`` serves ``POST /v1/messages`` from a uvicorn thread; point a
provider at ``fake.base_url`` and assert on ``fake.requests`` (``{path, query, headers,
json}`` as received). It checks what the real API checks (``x-api-key``,
``anthropic-version``, required and unknown fields, tool_use/tool_result pairing, …) and
answers deterministically:

- a user turn ``text`` gets ``"Echo: text"`` (``" [N images]"`` appended when it has images);
- with ``tools``, a forced ``tool_choice`` (``any``/``tool``) or a user turn that names a
  tool gets a text block plus a ``tool_use`` block (input built from ``input_schema``);
- a user turn of ``tool_result`` blocks gets ``"Tool said: <results>"``;
- ``stop_sequences`` and ``max_tokens`` (counted in words) cut the text as the API would.

Streams are named SSE events (``event: …\\ndata: …\\n\\n``) with a ``ping``, text split
into words and tool input into small ``input_json_delta`` fragments. Failures are set per
model with ``set_behaviour`` (``"*"`` for all) or for the next requests with ``fail_next``.

The ``ThreadedFake`` base (lifecycle, recording, behaviours) is shared with the Gemini fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

DEFAULT_API_KEY = "sk-ant-fake-key"
ANTHROPIC_VERSION = "2023-06-01"
_WORD_RE = re.compile(r"\S+\s*|\s+")

MODES = frozenset(
    {
        "ok",  # normal answer (``blocks``/``stop_reason``/``usage`` may override it)
        "status",  # HTTP ``status`` with the provider's error body
        "stream_error",  # ``after`` events, then an ``error`` event (``error_type``)
        "stream_cut",  # ``after`` events, then the body ends without the closing event
        "refusal",  # stop_reason "refusal"
    }
)


def words(text: str) -> list[str]:
    """The fakes' "tokens": words with their trailing space (they join back exactly)."""
    return _WORD_RE.findall(text)


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def example_value(schema: Any, depth: int = 0) -> Any:
    """A value that fits a JSON Schema: first enum value, "Paris" for strings, …."""
    if not isinstance(schema, dict) or depth > 6:
        return None
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = str(kind or "").lower()
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {k: example_value(v, depth + 1) for k, v in props.items()}
    return {"string": "Paris", "integer": 1, "number": 1.5, "boolean": True, "array": []}.get(
        kind, "Paris"
    )


def cut_text(text: str, stops: Iterable[str], limit: int | None) -> tuple[str, str | None, str]:
    """(text, matched stop sequence, why) after stop sequences and a word limit."""
    best: tuple[int, str] | None = None
    for stop in stops:
        at = text.find(stop) if stop else -1
        if at >= 0 and (best is None or at < best[0]):
            best = (at, stop)
    if best is not None:
        return text[: best[0]], best[1], "stop_sequence"
    pieces = words(text)
    if limit is not None and len(pieces) > limit:
        return "".join(pieces[:limit]), None, "max_tokens"
    return text, None, "end"


@dataclass
class Behaviour:
    """How a fake answers; see ``MODES`` (each fake documents the ones it adds)."""

    mode: str = "ok"
    status: int = 500
    message: str | None = None
    error_type: str | None = None
    after: int = 2
    retry_after: float | None = None
    blocks: list[dict[str, Any]] | None = None
    stop_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    chunk_delay_s: float = 0.0


class ThreadedFake:
    """uvicorn serving ``self.app`` in a daemon thread on a free port, with request records."""

    modes: frozenset[str] = MODES

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"):
        self.host = host
        self.port = port
        self.log_level = log_level
        self.requests: list[dict[str, Any]] = []
        self.behaviours: dict[str, Behaviour] = {}
        self._queue: list[tuple[Behaviour, list[int], str | None]] = []
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(routes=self.routes())

    def routes(self) -> list[Route]:
        raise NotImplementedError

    # ---- lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ThreadedFake:
        if self._thread is not None:
            return self
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level=self.log_level,
            access_log=False,
            lifespan="off",
            loop="asyncio",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve()), name=type(self).__name__, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{type(self).__name__} failed to start")
            time.sleep(0.002)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> ThreadedFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- test controls

    def set_behaviour(self, model: str, mode: str, **kw: Any) -> Behaviour:
        """Answer every request for ``model`` ("*" = any model) this way until reset."""
        behaviour = self._behaviour(mode, **kw)
        with self._lock:
            self.behaviours[model] = behaviour
        return behaviour

    def fail_next(
        self, mode: str, count: int = 1, *, model: str | None = None, **kw: Any
    ) -> Behaviour:
        """Answer the next ``count`` requests (for ``model``, if given) this way."""
        behaviour = self._behaviour(mode, **kw)
        with self._lock:
            self._queue.append((behaviour, [count], model))
        return behaviour

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.behaviours.clear()
            self._queue.clear()

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]

    def _behaviour(self, mode: str, **kw: Any) -> Behaviour:
        if mode not in self.modes:
            raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(self.modes)}")
        return Behaviour(mode, **kw)

    def pick(self, model: str | None) -> Behaviour:
        with self._lock:
            for entry in self._queue:
                behaviour, left, only = entry
                if only is None or only == model:
                    left[0] -= 1
                    if left[0] <= 0:
                        self._queue.remove(entry)
                    return behaviour
            if model is not None and model in self.behaviours:
                return self.behaviours[model]
            return self.behaviours.get("*", Behaviour())

    async def record(self, request: Request) -> tuple[dict[str, Any], Any]:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        entry = {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "json": body,
        }
        self.requests.append(entry)
        return entry, body


# --------------------------------------------------------------------------- Anthropic


class AnthropicError(Exception):
    def __init__(self, status: int, type: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.type, self.message = status, type, message
        self.headers = headers or {}


_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request (simulated by the fake upstream)."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    404: ("not_found_error", "Not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute.",
    ),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}

_TOP_LEVEL = frozenset(
    {
        "model",
        "max_tokens",
        "messages",
        "system",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "tools",
        "tool_choice",
        "metadata",
        "thinking",
        "service_tier",
        "container",
        "cache_control",
        "inference_geo",
        "output_config",
        "mcp_servers",
    }
)
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def _invalid(message: str) -> AnthropicError:
    return AnthropicError(400, "invalid_request_error", message)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for block in content or ():
        if isinstance(block, dict) and block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
        elif isinstance(block, dict) and block.get("type") == "tool_result":
            texts.append(_text_of(block.get("content")))
    return " ".join(t for t in texts if t)


class FakeAnthropic(ThreadedFake):
    """Anthropic's Messages API. ``api_key`` None accepts any key; ``models`` limits the
    known models (default: any not starting with "unknown")."""

    def __init__(
        self,
        *,
        api_key: str | None = DEFAULT_API_KEY,
        models: Iterable[str] | None = None,
        **kw: Any,
    ) -> None:
        self.api_key = api_key
        self.models = set(models) if models is not None else None
        super().__init__(**kw)

    @property
    def base_url(self) -> str:
        """What the provider is configured with (it appends ``/v1/messages``)."""
        return self.url

    def routes(self) -> list[Route]:
        every = ["GET", "POST", "PUT", "DELETE", "PATCH"]
        return [
            Route("/v1/messages", self._messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", self._count_tokens, methods=["POST"]),
            Route("/{rest:path}", self._not_found, methods=every),
        ]

    # ---- HTTP

    def _error(self, err: AnthropicError) -> Response:
        body = {
            "type": "error",
            "error": {"type": err.type, "message": err.message},
            "request_id": f"req_{secrets.token_hex(12)}",
        }
        headers = {"request-id": body["request_id"], **err.headers}
        return JSONResponse(body, status_code=err.status, headers=headers)

    async def _not_found(self, request: Request) -> Response:
        await self.record(request)
        return self._error(AnthropicError(404, "not_found_error", "Not found"))

    async def _messages(self, request: Request) -> Response:
        entry, body = await self.record(request)
        try:
            self._check_headers(entry["headers"])
            if not isinstance(body, dict):
                raise _invalid("The request body is not valid JSON.")
            model = body.get("model")
            behaviour = self.pick(model if isinstance(model, str) else None)
            if behaviour.mode == "status":
                raise self._status_error(behaviour, model)
            self._validate(body)
            known = model in self.models if self.models is not None else True
            if not known or str(model).startswith("unknown"):
                raise AnthropicError(404, "not_found_error", f"model: {model}")
            message = self._answer(body, behaviour)
        except AnthropicError as err:
            return self._error(err)
        headers = {"request-id": f"req_{secrets.token_hex(12)}"}
        if body.get("stream"):
            return StreamingResponse(
                self._events(message, behaviour),
                media_type="text/event-stream; charset=utf-8",
                headers={**headers, "cache-control": "no-cache"},
            )
        return JSONResponse(message, headers=headers)

    async def _count_tokens(self, request: Request) -> Response:
        """``POST /v1/messages/count_tokens``: the words of the prompt, as usage counts them;
        no ``max_tokens``, ``stream`` or sampling fields allowed."""
        entry, body = await self.record(request)
        try:
            self._check_headers(entry["headers"])
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise _invalid("messages: Field required")
            for key in body:
                if key not in ("model", "messages", "system", "tools", "tool_choice", "thinking"):
                    raise _invalid(f"{key}: Extra inputs are not permitted")
        except AnthropicError as err:
            return self._error(err)
        headers = {"request-id": f"req_{secrets.token_hex(12)}"}
        return JSONResponse({"input_tokens": self._prompt_tokens(body)}, headers=headers)

    def _check_headers(self, headers: dict[str, str]) -> None:
        key = headers.get("x-api-key")
        if self.api_key is not None:
            if not key:
                raise AnthropicError(401, "authentication_error", "x-api-key header is required")
            if key != self.api_key:
                raise AnthropicError(401, "authentication_error", "invalid x-api-key")
        if not headers.get("anthropic-version"):
            raise _invalid("anthropic-version: header is required")
        if headers["anthropic-version"] != ANTHROPIC_VERSION:
            raise _invalid(f"anthropic-version: invalid version {headers['anthropic-version']}")

    def _status_error(self, b: Behaviour, model: Any) -> AnthropicError:
        kind, message = _STATUS_ERRORS.get(b.status, ("api_error", "Internal server error"))
        if b.status == 404:
            message = f"model: {model}"
        headers = {}
        retry_after = (
            b.retry_after if b.retry_after is not None else (1 if b.status == 429 else None)
        )
        if retry_after is not None:
            headers["retry-after"] = f"{retry_after:g}"
        return AnthropicError(b.status, b.error_type or kind, b.message or message, headers)

    # ---- validation (the checks the real API makes that a translator can get wrong)

    def _validate(self, body: dict[str, Any]) -> None:
        for key in body:
            if key not in _TOP_LEVEL:
                raise _invalid(f"{key}: Extra inputs are not permitted")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise _invalid("model: Field required")
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            raise _invalid("max_tokens: Field required")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise _invalid("max_tokens: Input should be a valid integer greater than 0")
        temperature = body.get("temperature")
        if temperature is not None and not 0 <= temperature <= 1:
            raise _invalid("temperature: range: 0..1")
        system = body.get("system")
        if system is not None and not isinstance(system, str):
            blocks_ok = isinstance(system, list) and all(
                isinstance(b, dict) and b.get("type") == "text" and b.get("text") for b in system
            )
            if not blocks_ok:
                raise _invalid("system: Input should be a valid string or list of text blocks")
        stops = body.get("stop_sequences")
        if stops is not None and (
            not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)
        ):
            raise _invalid("stop_sequences: Input should be a valid list of strings")
        self._validate_tools(body)
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise _invalid("messages: Field required")
        if not messages:
            raise _invalid("messages: at least one message is required")
        pending: list[str] = []  # tool_use ids the next message must answer
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise _invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
            blocks = self._validate_content(i, message)
            results = [b["tool_use_id"] for b in blocks if b.get("type") == "tool_result"]
            if pending:
                missing = [p for p in pending if p not in results]
                if message["role"] != "user" or missing:
                    raise _invalid(
                        f"messages.{i - 1}: `tool_use` ids were found without `tool_result` "
                        f"blocks immediately after: {', '.join(missing or pending)}. Each "
                        "`tool_use` block must have a corresponding `tool_result` block in "
                        "the next message."
                    )
            previous = messages[i - 1] if i else {}
            known = {
                b.get("id")
                for b in previous.get("content") or ()
                if isinstance(b, dict) and b.get("type") == "tool_use"
            }
            for j, result in enumerate(results):
                if result not in known:
                    raise _invalid(
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                        f"`tool_result` blocks: {result}. Each `tool_result` block must have a "
                        "corresponding `tool_use` block in the previous message."
                    )
            pending = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        last = messages[-1]
        if last["role"] == "assistant":
            text = last["content"] if isinstance(last["content"], str) else ""
            if isinstance(last["content"], list) and last["content"]:
                final = last["content"][-1]
                text = final.get("text", "") if final.get("type") == "text" else ""
            if text != text.rstrip():
                raise _invalid(
                    "messages: final assistant content cannot end with trailing whitespace"
                )

    def _validate_content(self, i: int, message: dict[str, Any]) -> list[dict[str, Any]]:
        content = message.get("content")
        if isinstance(content, str):
            if not content:
                raise _invalid(f"messages.{i}: user messages must have non-empty content")
            return [{"type": "text", "text": content}]
        if not isinstance(content, list) or not content:
            raise _invalid(
                f"messages.{i}: all messages must have non-empty content except "
                "for the optional final assistant message"
            )
        role = message["role"]
        for j, block in enumerate(content):
            where = f"messages.{i}.content.{j}"
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                if not isinstance(block.get("text"), str) or not block["text"]:
                    raise _invalid("messages: text content blocks must be non-empty")
            elif kind == "image":
                source = block.get("source") or {}
                if source.get("type") == "base64":
                    if source.get("media_type") not in _IMAGE_TYPES or not source.get("data"):
                        raise _invalid(f"{where}.image.source.base64: invalid image")
                elif source.get("type") != "url" or not source.get("url"):
                    raise _invalid(f"{where}.image.source: invalid source")
            elif kind == "document":
                if not (block.get("source") or {}).get("data"):
                    raise _invalid(f"{where}.document.source: Field required")
            elif kind == "tool_use":
                if role != "assistant":
                    raise _invalid(f"{where}: tool_use blocks are only allowed in assistant turns")
                if not re.fullmatch(r"[a-zA-Z0-9_-]+", str(block.get("id") or "")):
                    raise _invalid(
                        f"{where}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"
                    )
                if not block.get("name") or not isinstance(block.get("input"), dict):
                    raise _invalid(f"{where}.tool_use: name and input (an object) are required")
            elif kind == "tool_result":
                if role != "user":
                    raise _invalid(f"{where}: tool_result blocks are only allowed in user turns")
                if not block.get("tool_use_id"):
                    raise _invalid(f"{where}.tool_result.tool_use_id: Field required")
            else:
                raise _invalid(
                    f"{where}: Input tag '{kind}' found using 'type' does not match "
                    "any of the expected tags"
                )
        return content

    def _validate_tools(self, body: dict[str, Any]) -> None:
        tools = body.get("tools")
        if tools is not None:
            if not isinstance(tools, list):
                raise _invalid("tools: Input should be a valid list")
            for j, tool in enumerate(tools):
                schema = tool.get("input_schema") if isinstance(tool, dict) else None
                if not isinstance(tool, dict) or not tool.get("name"):
                    raise _invalid(f"tools.{j}.name: Field required")
                if not isinstance(schema, dict) or schema.get("type") != "object":
                    raise _invalid(f"tools.{j}.custom.input_schema.type: Input should be 'object'")
        choice = body.get("tool_choice")
        if choice is not None:
            kind = choice.get("type") if isinstance(choice, dict) else None
            if kind not in ("auto", "any", "tool", "none"):
                raise _invalid("tool_choice: Input tag does not match any of the expected tags")
            if kind == "tool" and not choice.get("name"):
                raise _invalid("tool_choice.tool.name: Field required")
            if kind == "tool" and choice["name"] not in {t["name"] for t in tools or ()}:
                raise _invalid(f"tool_choice: tool '{choice['name']}' not found in tools")

    # ---- answers

    def _answer(self, body: dict[str, Any], b: Behaviour) -> dict[str, Any]:
        stop_reason = b.stop_reason
        stop_sequence = None
        if b.blocks is not None:
            blocks = [dict(x) for x in b.blocks]
            stop_reason = stop_reason or "end_turn"
        else:
            blocks, natural = self._plan(body)
            if b.mode == "refusal":
                blocks, natural = [{"type": "text", "text": "I can't help with that."}], "refusal"
            stop_reason = stop_reason or natural
            if blocks and blocks[0]["type"] == "text" and natural == "end_turn":
                text, stop_sequence, why = cut_text(
                    blocks[0]["text"], body.get("stop_sequences") or (), body["max_tokens"]
                )
                blocks[0]["text"] = text
                stop_reason = {"stop_sequence": "stop_sequence", "max_tokens": "max_tokens"}.get(
                    why, stop_reason
                )
        output = 0
        for block in blocks:
            if block["type"] == "text":
                block.setdefault("citations", None)
                output += len(words(block["text"]))
            elif block["type"] == "tool_use":
                output += len(words(dumps(block.get("input") or {})))
            elif block["type"] == "thinking":
                output += len(words(block.get("thinking") or ""))
        usage = {
            "input_tokens": self._prompt_tokens(body),
            "output_tokens": output,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
            **b.usage,
        }
        return {
            "id": f"msg_{secrets.token_hex(12)}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": usage,
        }

    @staticmethod
    def _prompt_tokens(body: dict[str, Any]) -> int:
        system = body.get("system")
        count = len(words(system if isinstance(system, str) else _text_of(system)))
        for message in body["messages"]:
            count += len(words(_text_of(message["content"])))
        return max(1, count)

    def _plan(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        last = body["messages"][-1]
        content = last["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if last["role"] == "assistant":
            return [{"type": "text", "text": " (continued)"}], "end_turn"
        results = [b for b in blocks if b.get("type") == "tool_result"]
        if results:
            said = "; ".join(_text_of(r.get("content")) or "(empty)" for r in results)
            return [{"type": "text", "text": f"Tool said: {said}"}], "end_turn"
        text = _text_of(blocks)
        tool = self._tool_to_call(body, text)
        if tool is not None:
            call = {
                "type": "tool_use",
                "id": f"toolu_{secrets.token_hex(12)}",
                "name": tool["name"],
                "input": example_value(tool["input_schema"]),
            }
            return [{"type": "text", "text": "Let me check."}, call], "tool_use"
        images = sum(1 for b in blocks if b.get("type") == "image")
        reply = f"Echo: {text}" + (f" [{images} image{'s' * (images != 1)}]" if images else "")
        return [{"type": "text", "text": reply}], "end_turn"

    @staticmethod
    def _tool_to_call(body: dict[str, Any], text: str) -> dict[str, Any] | None:
        tools = body.get("tools") or []
        choice = body.get("tool_choice") or {"type": "auto"}
        if not tools or choice["type"] == "none":
            return None
        if choice["type"] == "tool":
            return next(t for t in tools if t["name"] == choice["name"])
        if choice["type"] == "any":
            return tools[0]
        return next((t for t in tools if t["name"] in text), None)

    # ---- streaming

    def _event(self, obj: dict[str, Any]) -> bytes:
        return f"event: {obj['type']}\ndata: {dumps(obj)}\n\n".encode()

    def _stream_events(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**message["usage"], "output_tokens": 1},
        }
        events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
        for index, block in enumerate(message["content"]):
            kind = block["type"]
            if kind == "text":
                opening: dict[str, Any] = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": w} for w in words(block["text"])]
            elif kind == "tool_use":
                opening = {
                    "type": "tool_use",
                    "id": block["id"],
                    "name": block["name"],
                    "input": {},
                }
                raw = dumps(block.get("input") or {})
                deltas = [{"type": "input_json_delta", "partial_json": ""}] + [
                    {"type": "input_json_delta", "partial_json": raw[k : k + 7]}
                    for k in range(0, len(raw), 7)
                ]
            elif kind == "thinking":
                opening = {"type": "thinking", "thinking": "", "signature": ""}
                deltas = [
                    {"type": "thinking_delta", "thinking": w}
                    for w in words(block.get("thinking") or "")
                ]
                deltas.append({"type": "signature_delta", "signature": block.get("signature", "")})
            else:
                opening, deltas = block, []
            events.append({"type": "content_block_start", "index": index, "content_block": opening})
            if index == 0:
                events.append({"type": "ping"})
            events.extend(
                {"type": "content_block_delta", "index": index, "delta": d} for d in deltas
            )
            events.append({"type": "content_block_stop", "index": index})
        usage = {k: v for k, v in message["usage"].items() if k != "service_tier"}
        events.append(
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": message["stop_reason"],
                    "stop_sequence": message["stop_sequence"],
                },
                "usage": usage,
            }
        )
        events.append({"type": "message_stop"})
        return events

    async def _events(self, message: dict[str, Any], b: Behaviour) -> AsyncIterator[bytes]:
        for i, event in enumerate(self._stream_events(message)):
            if i == b.after and b.mode == "stream_cut":
                return
            if i == b.after and b.mode == "stream_error":
                kind = b.error_type or "overloaded_error"
                default = next((m for k, m in _STATUS_ERRORS.values() if k == kind), "Overloaded")
                yield self._event(
                    {"type": "error", "error": {"type": kind, "message": b.message or default}}
                )
                return
            if i and b.chunk_delay_s:
                await asyncio.sleep(b.chunk_delay_s)
            yield self._event(event)


def main() -> None:  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description="fake Anthropic Messages API")
    parser.add_argument("--port", type=int, default=9998)
    args = parser.parse_args()
    fake = FakeAnthropic(port=args.port, log_level="info").start()
    print(f"fake Anthropic at {fake.base_url} (x-api-key: {DEFAULT_API_KEY})")
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
