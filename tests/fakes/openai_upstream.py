"""A fake OpenAI upstream that speaks the real wire format (WIRE-FORMATS.md, Part A).

Tests point the proxy at ``FakeOpenAI().base_url`` and then assert on what the proxy sent
(``fake.requests``) and on how it copes with upstream failures (``fake.fail_next`` /
``fake.set_behaviour``). The server runs uvicorn in a background thread so the test thread
can read the recorded requests directly.

Answers are deterministic: the reply to a user message ``text`` is ``"Echo: text"``; tokens
are whitespace-separated words (so usage numbers are easy to predict in tests).

Run standalone with ``python -m tests.fakes.openai_upstream --port 9999``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import math
import re
import secrets
import socket
import string
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypedDict, cast, get_args

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.fakes.openai_responses import ResponsesAPI

DEFAULT_API_KEY = "sk-upstream-test"
DEFAULT_MODELS: tuple[str, ...] = (
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4.1-nano",
    "text-embedding-3-small",
)
SYSTEM_FINGERPRINT = "fp_fake0openai"
MODEL_CREATED = 1686935002
SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"

Mode = Literal[
    "ok",
    "status",
    "timeout",
    "reset",
    "half_json",
    "stream_cut",
    "stream_error",
    "stall",
    "error_200",
    "malformed",
    "bad_usage",
]
MODES: frozenset[str] = frozenset(get_args(Mode))

_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")
_ALPHANUM = string.ascii_letters + string.digits
_WORD_RE = re.compile(r"\S+\s*|\s+")
_TRANSPORT_KEY = "fake_openai.transport"
# Top-level request fields the fake knows; only consulted with ``strict_params=True``.
_KNOWN_PARAMS = frozenset(
    {
        "model", "messages", "temperature", "top_p", "n", "stream", "stream_options", "stop",
        "max_completion_tokens", "max_tokens", "presence_penalty", "frequency_penalty",
        "logit_bias", "logprobs", "top_logprobs", "seed", "tools", "tool_choice",
        "parallel_tool_calls", "response_format", "user", "safety_identifier",
        "prompt_cache_key", "prompt_cache_retention", "prompt_cache_options", "metadata",
        "store", "service_tier", "reasoning_effort", "verbosity", "modalities", "audio",
        "prediction", "web_search_options", "moderation", "function_call", "functions",
    }
)  # fmt: skip


class RecordedRequest(TypedDict):
    """One request as the fake received it, for assertions on what the proxy sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    body: bytes
    time: float


@dataclass
class Behaviour:
    """How the fake answers a request; anything but ``ok`` is a failure mode.

    Modes: ``ok`` (normal answer, optionally with ``content`` / ``chunk_delay_s`` overrides),
    ``status`` (HTTP ``status`` with an OpenAI error body), ``timeout`` (sleep ``delay_s``
    then answer normally), ``reset`` (drop the TCP connection with an RST, no response),
    ``half_json`` (200 with a truncated JSON body), ``stream_cut`` (``after`` SSE events then
    end the body without ``[DONE]``; with ``abort=True`` drop the connection instead),
    ``stream_error`` (``after`` events then ``data: {"error": ...}``), ``stall`` (``after``
    events, sleep ``delay_s``, then carry on), ``error_200`` (200 whose body is an error),
    ``malformed`` (a 200 completion whose ``choices`` and ``usage`` break the schema),
    ``bad_usage`` (good choices, ``usage_count`` as the completion tokens).
    On non-streaming requests ``stream_cut`` acts as ``half_json``, ``stream_error`` as
    ``error_200`` and ``stall`` as ``timeout``.
    """

    mode: Mode = "ok"
    status: int = 500
    message: str | None = None
    type: str | None = None
    code: str | None = None
    param: str | None = None
    #: Seconds for ``Retry-After``; "auto" sends 1 on 429 only, None never sends it.
    retry_after: float | Literal["auto"] | None = "auto"
    headers: dict[str, str] = field(default_factory=dict)
    #: Sleep for ``timeout`` / ``stall`` (cut short when the client hangs up).
    delay_s: float = 30.0
    #: SSE events (the role chunk counts as one) sent before a stream failure kicks in.
    after: int = 2
    abort: bool = False
    content: str | None = None
    chunk_delay_s: float | None = None
    #: ``bad_usage``: the completion token count reported.
    usage_count: int = -5

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown fake mode {self.mode!r}; expected one of {sorted(MODES)}")


@dataclass
class _Queued:
    behaviour: Behaviour
    remaining: int
    model: str | None
    path: str | None

    def matches(self, model: str | None, path: str) -> bool:
        if self.model is not None and self.model != model:
            return False
        return self.path is None or path.endswith(self.path)


class _FakeError(Exception):
    """Raised inside handlers to answer with an OpenAI error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}


class _Dropped(Exception):
    """The connection is gone (reset on purpose, or the client left); answer nothing."""


@dataclass
class _Choice:
    index: int
    content: str | None
    pieces: list[str]
    tool_calls: list[dict[str, Any]] | None
    finish_reason: str


# --------------------------------------------------------------------------- helpers


def _rand(n: int) -> str:
    return "".join(secrets.choice(_ALPHANUM) for _ in range(n))


def words(text: str) -> list[str]:
    """Split text into the fake's "tokens" (words with trailing space); joins back exactly."""
    return _WORD_RE.findall(text)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _sse(obj: Any) -> bytes:
    return b"data: " + _dumps(obj) + b"\n\n"


def _error_body(message: str, type: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _mask_key(key: str) -> str:
    if len(key) <= 8:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


def _text_of(content: Any) -> str:
    """Text of a message ``content`` (string or array of parts); non-text parts are skipped."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            str(p.get("text") or p.get("refusal") or "")
            for p in content
            if isinstance(p, dict) and p.get("type") in ("text", "refusal")
        ]
        return " ".join(t for t in texts if t)
    return ""


def _message_words(message: dict[str, Any]) -> int:
    count = len(words(_text_of(message.get("content"))))
    for call in message.get("tool_calls") or []:
        if isinstance(call, dict) and isinstance(call.get("function"), dict):
            count += len(words(str(call["function"].get("arguments") or "")))
    return count


def _example(schema: Any, root: Any, text: str, depth: int = 0) -> Any:
    """A JSON value that fits ``schema`` (first enum/anyOf branch, strings get ``text``)."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _example(target, root, text, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return _example(options[0], root, text, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {name: _example(sub, root, text, depth + 1) for name, sub in props.items()}
    if kind == "array":
        items = schema.get("items")
        return [_example(items, root, text, depth + 1)] if isinstance(items, dict) else []
    return {
        "string": text,
        "integer": 1,
        "number": 1.5,
        "boolean": True,
        "null": None,
    }.get(str(kind), text)


def embedding_vector(item: Any, dim: int) -> list[float]:
    """Deterministic unit vector for one embeddings input (float32-exact, so base64 matches)."""
    seed = json.dumps(item, sort_keys=True)
    raw = b""
    block = 0
    while len(raw) < dim * 4:
        raw += hashlib.sha256(f"{block}:{seed}".encode()).digest()
        block += 1
    ints = struct.unpack(f"<{dim}I", raw[: dim * 4])
    vals = [(x / 0xFFFFFFFF) * 2.0 - 1.0 for x in ints]
    norm = math.sqrt(sum(v * v for v in vals)) or 1.0
    packed = struct.pack(f"<{dim}f", *(v / norm for v in vals))
    return list(struct.unpack(f"<{dim}f", packed))


def _reset_transport(transport: Any) -> None:
    """Drop the connection with an RST so the client sees a reset, not a response."""
    with contextlib.suppress(Exception):
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _type_name(value: Any) -> str:
    """How OpenAI's type errors name a JSON value ("an object", "a string", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _check_number(body: dict[str, Any], name: str, lo: float, hi: float, integer: bool) -> None:
    """Range/type check with OpenAI's error wording; None means "not set"."""
    value = body.get(name)
    if value is None:
        return
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        expected = "an integer" if integer else "a number"
        raise _FakeError(
            400,
            f"Invalid type for '{name}': expected {expected}, but got {_type_name(value)} instead.",
            param=name,
            code="invalid_type",
        )
    kind = "integer" if integer else "decimal"
    if value < lo:
        raise _FakeError(
            400,
            f"Invalid '{name}': {kind} below minimum value. Expected a value >= {lo:g}, "
            f"but got {value} instead.",
            param=name,
            code=f"{kind}_below_min_value",
        )
    if value > hi:
        raise _FakeError(
            400,
            f"Invalid '{name}': {kind} above maximum value. Expected a value <= {hi:g}, "
            f"but got {value} instead.",
            param=name,
            code=f"{kind}_above_max_value",
        )


def _missing(param: str) -> _FakeError:
    return _FakeError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def _invalid_value(param: str, value: Any, allowed: Iterable[str]) -> _FakeError:
    options = [f"'{a}'" for a in allowed]
    listed = (
        ", ".join(options[:-1]) + f", and {options[-1]}"
        if len(options) > 2
        else (" and ".join(options))
    )
    return _FakeError(
        400,
        f"Invalid value: '{value}'. Supported values are: {listed}.",
        param=param,
        code="invalid_value",
    )


# --------------------------------------------------------------------------- fake server


class FakeOpenAI:
    """An OpenAI-compatible upstream on 127.0.0.1, run in a thread; use as a context manager.

    ``api_key`` is the key (or keys) accepted as ``Authorization: Bearer``; None disables auth.
    ``models`` restricts known models (default: any model not starting with "unknown";
    ``/v1/models`` then lists ``DEFAULT_MODELS``). ``model_suffix`` is appended to the model
    in answers (e.g. "-2024-08-06", as OpenAI reports dated snapshots). ``chunk_delay_s`` is
    the pause between SSE events. ``strict_params`` rejects unknown top-level fields like
    OpenAI does ("Unrecognized request argument supplied"). ``obfuscation`` adds the
    ``obfuscation`` padding field to stream chunks unless the request turns it off.
    ``usage_placement`` is where a stream carries usage: ``"separate"`` (OpenAI: a chunk of
    its own with empty ``choices``, only when asked), or, as other servers do whether asked
    or not, ``"finish"`` (on the chunk with ``finish_reason``, as LiteLLM does),
    ``"last_content"`` (on the last content chunk) or ``"unasked"`` (OpenAI's separate
    chunk, sent even when not asked).
    """

    def __init__(
        self,
        *,
        api_key: str | Iterable[str] | None = DEFAULT_API_KEY,
        models: Iterable[str] | None = None,
        model_suffix: str = "",
        chunk_delay_s: float = 0.0,
        embedding_dim: int = 8,
        strict_params: bool = False,
        obfuscation: bool = False,
        usage_placement: str = "separate",
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
    ) -> None:
        self.api_keys: frozenset[str] | None = (
            None
            if api_key is None
            else frozenset({api_key} if isinstance(api_key, str) else api_key)
        )
        self.models: list[str] | None = list(models) if models is not None else None
        self.model_suffix = model_suffix
        self.chunk_delay_s = chunk_delay_s
        self.embedding_dim = embedding_dim
        self.strict_params = strict_params
        self.obfuscation = obfuscation
        self.usage_placement = usage_placement
        self.host = host
        self.port = port
        self.log_level = log_level
        self.requests: list[RecordedRequest] = []
        #: Reported in ``usage.*_tokens_details`` (capped at the prompt / completion), as
        #: OpenAI does for prompt-cache reads and reasoning models.
        self.cached_tokens = 0
        self.reasoning_tokens = 0
        #: Persistent behaviour per model name; "*" applies to every model without an entry.
        self.behaviours: dict[str, Behaviour] = {}
        self._queue: list[_Queued] = []
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transports: set[Any] = set()
        #: POST /v1/responses (tests/fakes/openai_responses.py): stored responses, streams sent.
        self.responses_api = ResponsesAPI(self)
        self.app = self._build_app()

    # ---- lifecycle

    @property
    def url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client uses as ``base_url`` (root + ``/v1``)."""
        return f"{self.url}/v1"

    def _config(self) -> uvicorn.Config:
        # h11 + asyncio: the "reset" mode needs the asyncio transport behind the request.
        return uvicorn.Config(
            self.asgi,
            host=self.host,
            port=self.port,
            log_level=self.log_level,
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            loop="asyncio",
            interface="asgi3",
            proxy_headers=False,
            timeout_graceful_shutdown=1,
        )

    def start(self, timeout: float = 10.0) -> FakeOpenAI:
        """Start serving in a daemon thread and return once the socket is listening."""
        if self._thread is not None:
            return self
        server = uvicorn.Server(self._config())
        self._server = server
        self._thread = threading.Thread(target=self._run, name="fake-openai", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("fake OpenAI upstream failed to start")
            time.sleep(0.002)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        assert self._server is not None
        self._loop = asyncio.get_running_loop()
        try:
            await self._server.serve()
        finally:
            self._abort_inflight()

    def _abort_inflight(self) -> None:
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()

    def stop(self) -> None:
        """Stop quickly: in-flight (e.g. stalled) connections are dropped, not awaited."""
        server, thread, loop = self._server, self._thread, self._loop
        if server is None or thread is None:
            return
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._abort_inflight)
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=10)
        self._server = self._thread = self._loop = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (for ``__main__``)."""
        self._server = uvicorn.Server(self._config())
        asyncio.run(self._serve())

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- test controls

    def reset(self) -> None:
        """Forget recorded requests and all configured failures (for reuse across tests);
        constructor settings such as ``chunk_delay_s`` are left as they are."""
        with self._lock:
            self.requests.clear()
            self.behaviours.clear()
            self._queue.clear()
            self.responses_api.sent_streams.clear()

    def fail_next(
        self,
        mode: Mode,
        count: int = 1,
        *,
        model: str | None = None,
        path: str | None = None,
        **kw: Any,
    ) -> Behaviour:
        """Apply ``mode`` to the next ``count`` requests (only for ``model`` / a path ending
        in ``path`` if given); ``kw`` are ``Behaviour`` fields. One-shot rules go before
        per-model behaviours and are used in the order they were added."""
        behaviour = Behaviour(mode, **kw)
        with self._lock:
            self._queue.append(_Queued(behaviour, count, model, path))
        return behaviour

    def set_behaviour(self, model: str, mode: Mode, **kw: Any) -> Behaviour:
        """Make every request for ``model`` ("*" = any model) behave as ``mode`` until cleared."""
        behaviour = Behaviour(mode, **kw)
        with self._lock:
            self.behaviours[model] = behaviour
        return behaviour

    def clear_behaviour(self, model: str | None = None) -> None:
        """Drop the behaviour for ``model``, or every behaviour and queued failure."""
        with self._lock:
            if model is None:
                self.behaviours.clear()
                self._queue.clear()
            else:
                self.behaviours.pop(model, None)

    @property
    def last_request(self) -> RecordedRequest:
        return self.requests[-1]

    def requests_to(self, path_suffix: str) -> list[RecordedRequest]:
        """Recorded requests whose path ends with ``path_suffix`` (e.g. "chat/completions")."""
        return [r for r in list(self.requests) if r["path"].endswith(path_suffix)]

    def is_known_model(self, model: str) -> bool:
        if self.models is not None:
            return model in self.models
        return not model.startswith("unknown")

    def _pick(self, model: str | None, path: str) -> Behaviour | None:
        with self._lock:
            for entry in self._queue:
                if entry.matches(model, path):
                    entry.remaining -= 1
                    if entry.remaining <= 0:
                        self._queue.remove(entry)
                    return entry.behaviour
            if model is not None and model in self.behaviours:
                return self.behaviours[model]
            return self.behaviours.get("*")

    # ---- ASGI plumbing

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Outer ASGI app: remember the connection's transport so "reset" can drop it."""
        transport = getattr(getattr(receive, "__self__", None), "transport", None)
        if scope["type"] != "http" or transport is None:
            await self.app(scope, receive, send)
            return
        scope[_TRANSPORT_KEY] = transport
        self._transports.add(transport)
        try:
            await self.app(scope, receive, send)
        finally:
            self._transports.discard(transport)

    def _build_app(self) -> Starlette:
        every = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
        routes = [
            Route("/v1/chat/completions", self._handle(self._chat), methods=["POST"]),
            Route("/v1/embeddings", self._handle(self._embeddings), methods=["POST"]),
            Route("/v1/responses", self._handle(self.responses_api.handle), methods=["POST"]),
            Route("/v1/models", self._handle(self._list_models), methods=["GET"]),
            Route("/v1/models/{model:path}", self._handle(self._get_model), methods=["GET"]),
            Route("/{rest:path}", self._handle(self._not_found), methods=every),
        ]
        return Starlette(routes=routes)

    def _handle(self, handler: Any) -> Any:
        """Wrap a handler: record the request, check auth, render ``_FakeError``s."""

        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            try:
                parsed: Any = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            headers: dict[str, str] = {}
            for key, value in request.headers.items():
                key = key.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.url.path,
                    query=dict(request.query_params),
                    headers=headers,
                    json=parsed,
                    body=raw,
                    time=time.time(),
                )
            )
            try:
                self._check_auth(headers)
                response: Response = await handler(request, raw, parsed)
            except _FakeError as err:
                response = self._error(err)
            except _Dropped:
                return Response(status_code=204)  # never reaches the (gone) client
            response.headers.setdefault("x-request-id", f"req_{secrets.token_hex(16)}")
            response.headers.setdefault("openai-version", "2020-10-01")
            response.headers.setdefault("openai-processing-ms", "1")
            return response

        return endpoint

    def _error(self, err: _FakeError) -> Response:
        return JSONResponse(
            _error_body(err.message, err.type, err.param, err.code),
            status_code=err.status,
            headers=err.headers,
        )

    def _check_auth(self, headers: dict[str, str]) -> None:
        if self.api_keys is None:
            return
        auth = headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise _FakeError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                "or as the password field (with blank username) if you're accessing the API "
                "from your browser and are prompted for a username and password. You can "
                "obtain an API key from https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        if key not in self.api_keys:
            raise _FakeError(
                401,
                f"Incorrect API key provided: {_mask_key(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    # ---- failure modes

    def _status_error(self, b: Behaviour, model: str | None) -> _FakeError:
        status = b.status
        name = model or "gpt-4o-mini"
        defaults: tuple[str, str, str | None]
        if status == 429:
            defaults = (
                f"Rate limit reached for {name} in organization org-fake on requests per min "
                "(RPM): Limit 3, Used 3, Requested 1. Please try again in 1s. Visit "
                "https://platform.openai.com/account/rate-limits to learn more.",
                "requests",
                "rate_limit_exceeded",
            )
        elif status == 401:
            defaults = (
                "Incorrect API key provided: sk-***. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
        elif status == 403:
            defaults = (
                "Country, region, or territory not supported",
                "request_forbidden",
                "unsupported_country_region_territory",
            )
        elif status == 404:
            defaults = (
                f"The model `{name}` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
            )
        elif status == 503:
            defaults = (
                "The engine is currently overloaded, please try again later.",
                "server_error",
                None,
            )
        elif status >= 500:
            defaults = (SERVER_ERROR_MESSAGE, "server_error", None)
        else:
            defaults = ("Invalid request (simulated by the fake upstream).",
                        "invalid_request_error", None)  # fmt: skip
        headers = dict(b.headers)
        retry_after = b.retry_after
        if retry_after == "auto":
            retry_after = 1 if status == 429 else None
        if retry_after is not None:
            headers.setdefault("retry-after", f"{retry_after:g}")
        return _FakeError(
            status,
            b.message if b.message is not None else defaults[0],
            type=b.type if b.type is not None else defaults[1],
            param=b.param,
            code=b.code if b.code is not None else defaults[2],
            headers=headers,
        )

    async def _before(
        self, b: Behaviour | None, request: Request, stream: bool, model: str | None
    ) -> None:
        """Apply the failure modes that act before the request is even looked at."""
        if b is None:
            return
        mode = b.mode
        if mode == "status":
            raise self._status_error(b, model)
        if mode == "timeout" or (mode == "stall" and not stream):
            await self._sleep_unless_gone(request, b.delay_s)
        elif mode == "reset":
            transport = request.scope.get(_TRANSPORT_KEY)
            if transport is None:
                raise RuntimeError("reset mode needs uvicorn's h11 transport")
            _reset_transport(transport)
            await asyncio.sleep(0.01)  # let uvicorn see the close, so it sends nothing more
            raise _Dropped
        elif mode == "error_200" or (mode == "stream_error" and not stream):
            raise _FakeError(
                200,
                b.message or SERVER_ERROR_MESSAGE,
                type=b.type or "server_error",
                param=b.param,
                code=b.code,
                headers=dict(b.headers),
            )

    async def _sleep_unless_gone(self, request: Request, seconds: float) -> None:
        """Sleep, but stop early (raising ``_Dropped``) when the client hangs up or the
        server stops, so abandoned slow requests do not linger."""

        async def wait_disconnect() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass

        try:
            await asyncio.wait_for(wait_disconnect(), seconds)
        except TimeoutError:
            return
        raise _Dropped

    def _half_json(self, obj: Any) -> Response:
        data = _dumps(obj)
        return Response(data[: len(data) // 2], media_type="application/json")

    # ---- endpoints

    async def _not_found(self, request: Request, raw: bytes, body: Any) -> Response:
        raise _FakeError(404, f"Invalid URL ({request.method} {request.url.path})")

    async def _list_models(self, request: Request, raw: bytes, body: Any) -> Response:
        behaviour = self._pick(None, request.url.path)
        await self._before(behaviour, request, False, None)
        ids = self.models if self.models is not None else list(DEFAULT_MODELS)
        payload = {"object": "list", "data": [self._model_obj(m) for m in ids]}
        if behaviour is not None and behaviour.mode in ("half_json", "stream_cut"):
            return self._half_json(payload)
        return JSONResponse(payload)

    async def _get_model(self, request: Request, raw: bytes, body: Any) -> Response:
        model = request.path_params["model"]
        behaviour = self._pick(model, request.url.path)
        await self._before(behaviour, request, False, model)
        if not self.is_known_model(model):
            raise _FakeError(
                404,
                f"The model '{model}' does not exist",
                param="model",
                code="model_not_found",
            )
        if behaviour is not None and behaviour.mode in ("half_json", "stream_cut"):
            return self._half_json(self._model_obj(model))
        return JSONResponse(self._model_obj(model))

    def _model_obj(self, model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": MODEL_CREATED, "owned_by": "openai"}

    def _require_body(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _FakeError(
                400,
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                "payload, but what was sent was not valid JSON. If you have trouble figuring "
                "out how to fix this, please contact us through our help center at "
                "help.openai.com.)",
            )
        return body

    def _require_model(self, body: dict[str, Any]) -> str:
        model = body.get("model")
        if model is None or model == "":
            raise _FakeError(400, "you must provide a model parameter", param="model")
        if not isinstance(model, str):
            raise _FakeError(
                400,
                f"Invalid type for 'model': expected a string, but got {_type_name(model)} "
                "instead.",
                param="model",
                code="invalid_type",
            )
        return model

    def _check_model_known(self, model: str) -> None:
        if not self.is_known_model(model):
            raise _FakeError(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )

    async def _embeddings(self, request: Request, raw: bytes, body: Any) -> Response:
        body = self._require_body(body)
        model = body.get("model") if isinstance(body.get("model"), str) else None
        behaviour = self._pick(model, request.url.path)
        await self._before(behaviour, request, False, model)
        model = self._require_model(body)
        if "input" not in body or body["input"] is None:
            raise _missing("input")
        inputs = body["input"]
        items: list[Any]
        if isinstance(inputs, str):
            items = [inputs]
        elif isinstance(inputs, list) and inputs:
            if all(isinstance(i, int) and not isinstance(i, bool) for i in inputs):
                items = [inputs]
            elif all(isinstance(i, (str, list)) for i in inputs):
                items = list(inputs)
            else:
                items = []
        else:
            items = []
        if not items or any(i in ("", []) for i in items):
            raise _FakeError(
                400,
                "'$.input' is invalid. Please check the API reference: "
                "https://platform.openai.com/docs/api-reference.",
            )
        fmt = body.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise _invalid_value("encoding_format", fmt, ("float", "base64"))
        _check_number(body, "dimensions", 1, 3072, integer=True)
        self._check_model_known(model)
        dim = body.get("dimensions") or self.embedding_dim
        data: list[dict[str, Any]] = []
        tokens = 0
        for index, item in enumerate(items):
            tokens += len(words(item)) if isinstance(item, str) else len(item)
            vec = embedding_vector(item, dim)
            embedding: Any = vec
            if fmt == "base64":
                embedding = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode()
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        payload = {
            "object": "list",
            "data": data,
            "model": model + self.model_suffix,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        if behaviour is not None and behaviour.mode in ("half_json", "stream_cut"):
            return self._half_json(payload)
        return JSONResponse(payload)

    async def _chat(self, request: Request, raw: bytes, body: Any) -> Response:
        body = self._require_body(body)
        model = body.get("model") if isinstance(body.get("model"), str) else None
        stream = body.get("stream") is True
        behaviour = self._pick(model, request.url.path)
        await self._before(behaviour, request, stream, model)
        self._validate_chat(body)
        model = cast(str, body["model"])
        self._check_model_known(model)
        if behaviour is not None and behaviour.mode == "ok" and behaviour.content is not None:
            choices = self._plan(body, behaviour.content)
        else:
            choices = self._plan(body, None)
        prompt_tokens = sum(_message_words(m) for m in body["messages"])
        usage = self._usage(prompt_tokens, choices)
        cid = f"chatcmpl-{_rand(29)}"
        created = int(time.time())
        answer_model = model + self.model_suffix
        if stream:
            if behaviour is not None and behaviour.mode == "half_json":
                return self._half_json(self._completion(cid, created, answer_model, choices, usage))
            events = self._chunks(body, cid, created, answer_model, choices, usage)
            return StreamingResponse(
                self._stream(events, behaviour, request.scope.get(_TRANSPORT_KEY)),
                media_type="text/event-stream",
                headers={"cache-control": "no-cache"},
            )
        payload = self._completion(cid, created, answer_model, choices, usage, body)
        if behaviour is not None and behaviour.mode in ("half_json", "stream_cut"):
            return self._half_json(payload)
        if behaviour is not None and behaviour.mode == "malformed":
            payload["choices"] = [{"index": 0, "message": "not an object"}, 7]
            payload["usage"] = {"prompt_tokens": "many", "completion_tokens": -5}
        if behaviour is not None and behaviour.mode == "bad_usage":
            # Well-formed choices, an impossible count.
            count = behaviour.usage_count
            payload["usage"] = {"prompt_tokens": 3, "completion_tokens": count, "total_tokens": 3}
        return JSONResponse(payload)

    # ---- chat: validation

    def _validate_chat(self, body: dict[str, Any]) -> None:
        """The subset of OpenAI's request validation that catches proxy translation bugs."""
        self._require_model(body)
        if "messages" not in body or body["messages"] is None:
            raise _missing("messages")
        messages = body["messages"]
        if not isinstance(messages, list):
            raise _FakeError(
                400,
                f"Invalid type for 'messages': expected an array of objects, but got "
                f"{_type_name(messages)} instead.",
                param="messages",
                code="invalid_type",
            )
        if not messages:
            raise _FakeError(
                400,
                "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                "but got an empty array instead.",
                param="messages",
                code="empty_array",
            )
        if self.strict_params:
            for key in body:
                if key not in _KNOWN_PARAMS:
                    raise _FakeError(400, f"Unrecognized request argument supplied: {key}")
        for i, message in enumerate(messages):
            self._validate_message(i, message)
        self._validate_tool_sequence(messages)
        _check_number(body, "n", 1, 128, integer=True)
        _check_number(body, "temperature", 0, 2, integer=False)
        _check_number(body, "top_p", 0, 1, integer=False)
        _check_number(body, "presence_penalty", -2, 2, integer=False)
        _check_number(body, "frequency_penalty", -2, 2, integer=False)
        _check_number(body, "top_logprobs", 0, 20, integer=True)
        for name in ("max_tokens", "max_completion_tokens"):
            _check_number(body, name, 1, 10**9, integer=True)
        stream = body.get("stream")
        if stream is not None and not isinstance(stream, bool):
            raise _FakeError(
                400,
                f"Invalid type for 'stream': expected a boolean, but got {_type_name(stream)} "
                "instead.",
                param="stream",
                code="invalid_type",
            )
        if body.get("stream_options") is not None and stream is not True:
            raise _FakeError(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        stop = body.get("stop")
        if isinstance(stop, list) and len(stop) > 4:
            raise _FakeError(
                400,
                f"Invalid 'stop': array too long. Expected an array with maximum length 4, "
                f"but got an array with length {len(stop)} instead.",
                param="stop",
                code="array_above_max_length",
            )
        self._validate_tools(body)
        fmt = body.get("response_format")
        if fmt is not None:
            kind = fmt.get("type") if isinstance(fmt, dict) else None
            if kind not in ("text", "json_object", "json_schema"):
                raise _invalid_value(
                    "response_format.type", kind, ("json_object", "json_schema", "text")
                )
            if kind == "json_schema":
                spec = fmt.get("json_schema")
                if not isinstance(spec, dict):
                    raise _missing("response_format.json_schema")
                if not spec.get("name"):
                    raise _missing("response_format.json_schema.name")

    def _validate_message(self, i: int, message: Any) -> None:
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _FakeError(
                400,
                f"Invalid type for '{where}': expected an object, but got "
                f"{_type_name(message)} instead.",
                param=where,
                code="invalid_type",
            )
        role = message.get("role")
        if role is None:
            raise _missing(f"{where}.role")
        if role not in _ROLES:
            raise _invalid_value(f"{where}.role", role, _ROLES)
        content = message.get("content")
        if role in ("system", "developer", "user", "tool") and "content" not in message:
            raise _missing(f"{where}.content")
        if (
            role == "assistant"
            and "content" not in message
            and not message.get("tool_calls")
            and not message.get("function_call")
        ):
            raise _missing(f"{where}.content")
        if content is not None and not isinstance(content, (str, list)):
            raise _FakeError(
                400,
                f"Invalid type for '{where}.content': expected one of a string or array of "
                f"objects, but got {_type_name(content)} instead.",
                param=f"{where}.content",
                code="invalid_type",
            )
        if isinstance(content, list):
            for j, part in enumerate(content):
                part_where = f"{where}.content[{j}]"
                kind = part.get("type") if isinstance(part, dict) else None
                if kind not in _PART_TYPES:
                    raise _invalid_value(f"{part_where}.type", kind, _PART_TYPES)
                if kind == "text" and not isinstance(part.get("text"), str):
                    raise _missing(f"{part_where}.text")
        if role == "tool" and not message.get("tool_call_id"):
            raise _missing(f"{where}.tool_call_id")
        for j, call in enumerate(message.get("tool_calls") or []):
            call_where = f"{where}.tool_calls[{j}]"
            if not isinstance(call, dict):
                raise _missing(call_where)
            for key in ("id", "type"):
                if not call.get(key):
                    raise _missing(f"{call_where}.{key}")
            if call["type"] == "function":
                fn = call.get("function")
                if not isinstance(fn, dict):
                    raise _missing(f"{call_where}.function")
                if not fn.get("name"):
                    raise _missing(f"{call_where}.function.name")
                args = fn.get("arguments")
                if args is None:
                    raise _missing(f"{call_where}.function.arguments")
                if not isinstance(args, str):
                    raise _FakeError(
                        400,
                        f"Invalid type for '{call_where}.function.arguments': expected a "
                        f"string, but got {_type_name(args)} instead.",
                        param=f"{call_where}.function.arguments",
                        code="invalid_type",
                    )

    def _validate_tool_sequence(self, messages: list[dict[str, Any]]) -> None:
        """OpenAI insists tool results directly follow the assistant turn that asked for them."""
        pending: set[str] | None = None
        for i, message in enumerate(messages):
            if message["role"] == "tool":
                if pending is None:
                    raise _FakeError(
                        400,
                        "Invalid parameter: messages with role 'tool' must be a response to a "
                        "preceeding message with 'tool_calls'.",
                        param=f"messages.[{i}].role",
                    )
                pending.discard(str(message.get("tool_call_id")))
                continue
            if pending:
                raise _FakeError(
                    400,
                    "An assistant message with 'tool_calls' must be followed by tool messages "
                    "responding to each 'tool_call_id'. The following tool_call_ids did not "
                    f"have response messages: {', '.join(sorted(pending))}",
                    param=f"messages.[{i}].role",
                )
            pending = None
            if message["role"] == "assistant" and message.get("tool_calls"):
                pending = {str(c.get("id")) for c in message["tool_calls"]}

    def _validate_tools(self, body: dict[str, Any]) -> None:
        tools = body.get("tools")
        choice = body.get("tool_choice")
        if tools is None:
            if choice is not None and choice != "none":
                raise _FakeError(
                    400,
                    "Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
                    "'tools' are specified.",
                    param="tool_choice",
                )
            return
        if not isinstance(tools, list):
            raise _FakeError(
                400,
                f"Invalid type for 'tools': expected an array of objects, but got "
                f"{_type_name(tools)} instead.",
                param="tools",
                code="invalid_type",
            )
        names: set[str] = set()
        for i, tool in enumerate(tools):
            kind = tool.get("type") if isinstance(tool, dict) else None
            if kind not in ("function", "custom"):
                raise _invalid_value(f"tools[{i}].type", kind, ("function", "custom"))
            spec = tool.get(kind)
            if not isinstance(spec, dict):
                raise _missing(f"tools[{i}].{kind}")
            if not spec.get("name"):
                raise _missing(f"tools[{i}].{kind}.name")
            names.add(spec["name"])
        if isinstance(choice, str) and choice not in ("none", "auto", "required"):
            raise _invalid_value("tool_choice", choice, ("none", "auto", "required"))
        if isinstance(choice, dict) and choice.get("type") == "function":
            name = (choice.get("function") or {}).get("name")
            if name not in names:
                raise _FakeError(
                    400,
                    f"Invalid value for 'tool_choice': tool '{name}' not found in 'tools'.",
                    param="tool_choice",
                )

    # ---- chat: answer planning

    def _plan(self, body: dict[str, Any], override: str | None) -> list[_Choice]:
        n = body.get("n") or 1
        calls = self._tool_calls(body) if override is None else None
        choices: list[_Choice] = []
        for index in range(n):
            if calls:
                tool_calls = [
                    {
                        "id": f"call_{_rand(24)}",
                        "type": "function",
                        "function": {"name": name, "arguments": args},
                    }
                    for name, args in calls
                ]
                choices.append(_Choice(index, None, [], tool_calls, "tool_calls"))
                continue
            content, finish = self._content(body, override)
            choices.append(_Choice(index, content, words(content), None, finish))
        return choices

    def _content(self, body: dict[str, Any], override: str | None) -> tuple[str, str]:
        messages: list[dict[str, Any]] = body["messages"]
        last = messages[-1]
        user_text = next(
            (_text_of(m.get("content")) for m in reversed(messages) if m["role"] == "user"), ""
        )
        fmt = body.get("response_format") or {}
        if override is not None:
            content = override
        elif last["role"] == "tool":
            content = f"Tool result: {_text_of(last.get('content'))}"
        elif fmt.get("type") == "json_object":
            content = json.dumps({"echo": user_text})
        elif fmt.get("type") == "json_schema":
            schema = fmt["json_schema"].get("schema") or {}
            value = _example(schema, schema, user_text) if schema else {"echo": user_text}
            content = json.dumps(value)
        else:
            content = f"Echo: {user_text}"
        finish = "stop"
        stop = body.get("stop")
        stops = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)]
        cut = min((i for s in stops if s and (i := content.find(s)) >= 0), default=-1)
        if cut >= 0:
            content = content[:cut]
        limit = body.get("max_completion_tokens")
        if limit is None:
            limit = body.get("max_tokens")
        pieces = words(content)
        if limit is not None and len(pieces) > limit:
            content = "".join(pieces[:limit])
            finish = "length"
        return content, finish

    def _tool_calls(self, body: dict[str, Any]) -> list[tuple[str, str]] | None:
        """Which tools to call: forced by ``tool_choice`` or named in the last user message."""
        tools = [
            t["function"]
            for t in body.get("tools") or []
            if t.get("type") == "function" and isinstance(t.get("function"), dict)
        ]
        choice = body.get("tool_choice", "auto")
        if not tools or choice == "none":
            return None
        required = choice == "required"
        if isinstance(choice, dict) and choice.get("type") == "function":
            wanted = (choice.get("function") or {}).get("name")
            tools = [t for t in tools if t.get("name") == wanted]
            required = True
        elif isinstance(choice, dict) and choice.get("type") == "allowed_tools":
            allowed_spec = choice.get("allowed_tools") or {}
            allowed = {
                (t.get("function") or {}).get("name")
                for t in allowed_spec.get("tools") or []
                if isinstance(t, dict)
            }
            tools = [t for t in tools if t.get("name") in allowed] or tools
            required = allowed_spec.get("mode") == "required"
        messages: list[dict[str, Any]] = body["messages"]
        last = messages[-1]
        text = _text_of(last.get("content")) if last["role"] == "user" else ""
        mentioned = [t for t in tools if str(t.get("name", "")).lower() in text.lower()]
        selected = mentioned or (tools[:1] if required else [])
        if not selected:
            return None
        if body.get("parallel_tool_calls") is False:
            selected = selected[:1]
        result = []
        for tool in selected:
            params = tool.get("parameters")
            args = _example(params, params, text) if isinstance(params, dict) else {}
            value = args if args is not None else {}
            result.append((str(tool["name"]), json.dumps(value, separators=(",", ":"))))
        return result

    def _usage(self, prompt_tokens: int, choices: list[_Choice]) -> dict[str, Any]:
        completion = 0
        for choice in choices:
            completion += len(choice.pieces)
            for call in choice.tool_calls or []:
                completion += 1 + len(words(call["function"]["arguments"]))
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "prompt_tokens_details": {
                "cached_tokens": min(self.cached_tokens, prompt_tokens),
                "audio_tokens": 0,
            },
            "completion_tokens_details": {
                "reasoning_tokens": min(self.reasoning_tokens, completion),
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    # ---- chat: rendering

    def _logprobs(self, body: dict[str, Any], pieces: list[str]) -> dict[str, Any] | None:
        if body.get("logprobs") is not True:
            return None
        k = body.get("top_logprobs") or 0
        content = []
        for piece in pieces:
            top = [
                {"token": piece, "logprob": -0.01, "bytes": list(piece.encode())},
                *(
                    {"token": f"alt{i}", "logprob": -5.0 - i, "bytes": list(f"alt{i}".encode())}
                    for i in range(1, k)
                ),
            ][:k]
            entry = {"token": piece, "logprob": -0.01, "bytes": list(piece.encode())}
            content.append({**entry, "top_logprobs": top})
        return {"content": content, "refusal": None}

    def _completion(
        self,
        cid: str,
        created: int,
        model: str,
        choices: list[_Choice],
        usage: dict[str, Any],
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        rendered = []
        for c in choices:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": c.content,
                "refusal": None,
                "annotations": [],
            }
            if c.tool_calls:
                message["tool_calls"] = c.tool_calls
            rendered.append(
                {
                    "index": c.index,
                    "message": message,
                    "logprobs": self._logprobs(body, c.pieces) if body else None,
                    "finish_reason": c.finish_reason,
                }
            )
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": rendered,
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }

    def _chunks(
        self,
        body: dict[str, Any],
        cid: str,
        created: int,
        model: str,
        choices: list[_Choice],
        usage: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """All chunk objects of a stream, per A.5: choices interleaved round-robin."""
        options = body.get("stream_options") or {}
        include_usage = options.get("include_usage") is True
        obfuscate = self.obfuscation and options.get("include_obfuscation") is not False
        per_choice: list[list[dict[str, Any]]] = []
        for c in choices:
            events: list[dict[str, Any]] = []
            if c.tool_calls:
                for j, call in enumerate(c.tool_calls):
                    head: dict[str, Any] = {
                        "index": j,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""},
                    }
                    if j == 0:
                        delta: dict[str, Any] = {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [head],
                        }
                    else:
                        delta = {"tool_calls": [head]}
                    events.append({"index": c.index, "delta": delta})
                    args = call["function"]["arguments"]
                    for k in range(0, len(args), 8):
                        fragment = {"index": j, "function": {"arguments": args[k : k + 8]}}
                        events.append({"index": c.index, "delta": {"tool_calls": [fragment]}})
            else:
                events.append({"index": c.index, "delta": {"role": "assistant", "content": ""}})
                for piece in c.pieces:
                    event: dict[str, Any] = {"index": c.index, "delta": {"content": piece}}
                    logprobs = self._logprobs(body, [piece])
                    if logprobs is not None:
                        event["logprobs"] = logprobs
                    events.append(event)
            events.append({"index": c.index, "delta": {}, "finish_reason": c.finish_reason})
            per_choice.append(events)
        ordered: list[dict[str, Any]] = []
        for step in range(max(len(e) for e in per_choice)):
            ordered.extend(e[step] for e in per_choice if step < len(e))

        def chunk(choice_list: list[dict[str, Any]]) -> dict[str, Any]:
            obj: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": "default",
                "system_fingerprint": SYSTEM_FINGERPRINT,
                "choices": choice_list,
            }
            if include_usage:
                obj["usage"] = None
            if obfuscate:
                obj["obfuscation"] = _rand(8)
            return obj

        out = [
            chunk(
                [
                    {
                        "index": e["index"],
                        "delta": e["delta"],
                        "logprobs": e.get("logprobs"),
                        "finish_reason": e.get("finish_reason"),
                    }
                ]
            )
            for e in ordered
        ]
        placement = self.usage_placement
        if placement == "finish":
            out[-1]["usage"] = usage
        elif placement == "last_content" and len(out) > 1:
            out[-2]["usage"] = usage
        elif include_usage or placement == "unasked":
            last = chunk([])
            last["usage"] = usage
            out.append(last)
        return out

    async def _stream(
        self, chunks: list[dict[str, Any]], b: Behaviour | None, transport: Any
    ) -> AsyncIterator[bytes]:
        """Yield SSE events one by one (each is flushed as its own body message)."""
        delay = self.chunk_delay_s
        if b is not None and b.chunk_delay_s is not None:
            delay = b.chunk_delay_s
        events = [_sse(c) for c in chunks] + [b"data: [DONE]\n\n"]
        for i, event in enumerate(events):
            if b is not None and i == b.after:
                if b.mode == "stream_cut":
                    if b.abort and transport is not None:
                        _reset_transport(transport)
                        await asyncio.sleep(0.01)
                    return
                if b.mode == "stream_error":
                    error = _error_body(
                        b.message or SERVER_ERROR_MESSAGE,
                        b.type or "server_error",
                        b.param,
                        b.code,
                    )
                    yield _sse(error)
                    return
                if b.mode == "stall":
                    await asyncio.sleep(b.delay_s)
            if i and delay > 0:
                await asyncio.sleep(delay)
            yield event


def main(argv: list[str] | None = None) -> None:
    """Run the fake in the foreground (manual testing, benchmarks)."""
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help='"" disables auth')
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    parser.add_argument("--model-suffix", default="")
    parser.add_argument(
        "--behaviour",
        action="append",
        default=[],
        metavar="MODEL=MODE[:STATUS]",
        help="persistent failure mode for a model, e.g. flaky=status:503 or '*=stall'",
    )
    args = parser.parse_args(argv)
    fake = FakeOpenAI(
        api_key=args.api_key or None,
        host=args.host,
        port=args.port,
        chunk_delay_s=args.chunk_delay,
        model_suffix=args.model_suffix,
        log_level="info",
    )
    for spec in args.behaviour:
        model, _, mode_spec = spec.partition("=")
        mode, _, status = mode_spec.partition(":")
        extra: dict[str, Any] = {"status": int(status)} if status else {}
        fake.behaviours[model] = replace(Behaviour(cast(Mode, mode)), **extra)
    print(f"fake OpenAI upstream at {fake.base_url} (key: {args.api_key or 'none'})", flush=True)
    fake.serve_forever()


if __name__ == "__main__":
    main()
