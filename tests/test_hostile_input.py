"""Hostile input against a real proxy process: whatever the body, the answer is a CONTRACT.md
error with a status below 500 (or, for harmless oddities, a normal answer), never a traceback,
and the proxy stays healthy.

The proxy runs with ``omni-proxy serve`` in front of fake OpenAI, Anthropic and Gemini
upstreams (so hostile bodies also reach the provider translators), a 200 kB body limit and a
2-second body-read timeout (``OMNI_BODY_TIMEOUT_S``) for the slow-loris cases. After every test
the proxy log must hold no traceback and ``/health`` must answer.

Decisions pinned here:
* Any content type is parsed as JSON (``curl -d`` sends form-encoded), except ``multipart/*``,
  which is refused with 415 ``unsupported_content_type``.
* JSON nested deeper than 128 levels is a 400 ``invalid_json``.
* A ``tool`` message must answer a call of the assistant message just before it (only tool
  messages in between), as OpenAI checks; tool-call ``arguments`` must be a JSON object encoded
  as a string (or empty).
* A body that does not arrive within the body timeout is a 408 ``request_timeout``.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.anthropic_upstream import DEFAULT_API_KEY as ANTHROPIC_KEY
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.gemini_upstream import DEFAULT_API_KEY as GEMINI_KEY
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.openai_upstream import FakeOpenAI

UPSTREAM_KEY = "sk-upstream-test"
BODY_LIMIT = 200_000
BODY_TIMEOUT_S = 2.0
ADMIN_BODY_LIMIT = 64 * 1024
AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
JSON_HEADERS = {**AUTH, "Content-Type": "application/json"}

CHAT_ROUTES = ["/v1/chat/completions", "/v1/chat", "/v1/agent-step", "/v1/router/debug"]
OTHER_ROUTES = ["/v1/completions", "/v1/embeddings", "/v1/messages", "/v1/responses"]
ADMIN_ROUTES = ["/v1/api-keys", "/v1/organizations"]
ALL_POST_ROUTES = CHAT_ROUTES + OTHER_ROUTES + ADMIN_ROUTES
MARK = "MARK"  # every valid body below holds this string once, for byte-level surgery


# -- the proxy under test --------------------------------------------------------------------
def model_row(name: str, provider: str, model: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "provider": provider,
        "model": model,
        "cost_input": 1,
        "cost_output": 2,
        "avg_latency_ms": 300,
        "strengths": ["chat"],
        **extra,
    }


def hostile_config(openai_url: str, anthropic_url: str, gemini_url: str) -> dict[str, Any]:
    """Three providers (every translator gets the hostile bodies), one embedding model."""
    return {
        "providers": {
            "up": {"plugin": "openai", "base_url": openai_url, "api_key": UPSTREAM_KEY},
            "claude": {"plugin": "anthropic", "base_url": anthropic_url, "api_key": ANTHROPIC_KEY},
            "google": {"plugin": "gemini", "base_url": gemini_url, "api_key": GEMINI_KEY},
        },
        "models": [
            model_row("cheap", "up", "gpt-4o-mini", cost_input=0.15, cost_output=0.6),
            model_row("smart", "up", "gpt-4o", strengths=["coding", "reasoning"]),
            model_row("claude", "claude", "claude-sonnet-4-5", supports_vision=True),
            model_row("gem", "google", "gemini-2.5-flash", supports_vision=True),
            model_row("embed", "up", "text-embedding-3-small", kind="embedding"),
        ],
        "routing": {"premium_model": "smart", "fallback_model": "cheap", "max_attempts": 2},
        "max_body_bytes": BODY_LIMIT,
    }


class Upstreams:
    """The three fake providers, started together."""

    def __init__(self) -> None:
        self.openai = FakeOpenAI(embedding_dim=4)
        self.anthropic = FakeAnthropic()
        self.gemini = FakeGemini()

    def __enter__(self) -> Upstreams:
        self.openai.start()
        self.anthropic.start()
        self.gemini.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for fake in (self.openai, self.anthropic, self.gemini):
            fake.stop()

    def config(self) -> dict[str, Any]:
        return hostile_config(self.openai.base_url, self.anthropic.base_url, self.gemini.base_url)


def start_proxy(upstreams: Upstreams, tmp: Any) -> ProxyProcess:
    env = {"OMNI_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S)}
    return ProxyProcess(tmp, upstreams.config(), env=env).start()


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with Upstreams() as running:
        yield running


@pytest.fixture(scope="module")
def proxy(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    running = start_proxy(upstreams, tmp_path_factory.mktemp("hostile"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def http(proxy: ProxyProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.root, timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
def registered(http: httpx.Client) -> set[str]:
    """POST paths the proxy serves, from its own OpenAPI document."""
    doc = http.get("/openapi.json").json()
    return {path for path, item in doc["paths"].items() if "post" in item}


@pytest.fixture(autouse=True)
def stays_healthy(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: nothing unhandled in the proxy's log, and it still answers."""
    if "proxy" not in request.fixturenames:
        yield
        return
    proxy: ProxyProcess = request.getfixturevalue("proxy")
    http: httpx.Client = request.getfixturevalue("http")
    start = proxy.log_path.stat().st_size
    yield
    with open(proxy.log_path, errors="replace") as f:
        f.seek(start)
        log = f.read()
    if request.node.get_closest_marker("xfail") is None:  # known bugs are reported as xfail
        assert "Traceback" not in log, log[-3000:]
        assert "Exception in ASGI application" not in log, log[-3000:]
    assert http.get("/health", timeout=5).status_code == 200


# -- checks ----------------------------------------------------------------------------------
def is_anthropic(path: str) -> bool:
    return path == "/v1/messages"


def expect_error(
    resp: httpx.Response, statuses: tuple[int, ...] = (), *, path: str = ""
) -> dict[str, Any]:
    """A CONTRACT.md error with a 4xx status; returns its ``error`` object."""
    text = resp.text
    assert "Traceback" not in text and 'File "' not in text, text[:2000]
    assert 400 <= resp.status_code < 500, (resp.status_code, text[:1000])
    if statuses:
        assert resp.status_code in statuses, (resp.status_code, text[:1000])
    assert resp.headers["content-type"].startswith("application/json"), resp.headers
    rid = resp.headers.get("x-request-id")
    assert rid
    body = resp.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    err: dict[str, Any] = body["error"]
    assert isinstance(err.get("message"), str) and err["message"], body
    if is_anthropic(path or str(resp.request.url.path)):
        assert body["type"] == "error" and isinstance(err.get("type"), str), body
    else:
        assert set(err) == {"message", "type", "param", "code"}, body
        assert isinstance(err["type"], str), body
        assert err["param"] is None or isinstance(err["param"], str), body
        assert err["code"] is None or isinstance(err["code"], str), body
    assert body.get("request_id") == rid, body
    return err


def expect_ok_or_error(resp: httpx.Response) -> None:
    """Harmless oddities: a normal answer, or a CONTRACT.md 4xx; never a 5xx or a trace."""
    if resp.status_code < 300:
        assert "Traceback" not in resp.text
        return
    expect_error(resp)


def valid_body(path: str) -> dict[str, Any]:
    """A request each route accepts, holding ``MARK`` once."""
    if path == "/v1/completions":
        return {"model": "cheap", "prompt": f"say {MARK}"}
    if path == "/v1/embeddings":
        return {"model": "embed", "input": f"embed {MARK}"}
    if path == "/v1/messages":
        return {
            "model": "cheap",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": f"hi {MARK}"}],
        }
    if path == "/v1/responses":
        return {"model": "cheap", "input": f"hi {MARK}"}
    if path == "/v1/organizations":
        return {"name": f"hostile-{uuid.uuid4().hex[:10]}-{MARK}"}
    if path == "/v1/api-keys":
        return {"org": "hostile-org", "name": f"key {MARK}"}
    return {"model": "cheap", "messages": [{"role": "user", "content": f"hi {MARK}"}]}


def spliced(path: str, payload: bytes) -> bytes:
    """The valid body for ``path`` with ``payload`` spliced into a string, as raw bytes."""
    raw = json.dumps(valid_body(path)).encode()
    assert raw.count(MARK.encode()) == 1
    return raw.replace(MARK.encode(), payload)


def with_field(path: str, key: str, raw_value: bytes) -> bytes:
    """The valid body for ``path`` with one more top-level field, its value given raw."""
    raw = json.dumps(valid_body(path)).encode()
    return raw[:-1] + b', "' + key.encode() + b'": ' + raw_value + b"}"


def nested(depth: int, kind: str = "array") -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def post(http: httpx.Client, path: str, content: Any) -> httpx.Response:
    """POST raw bytes (or an iterator of them: chunked), or a dict/list as JSON."""
    if isinstance(content, dict | list):
        content = json.dumps(content).encode()
    return http.post(path, content=content, headers=JSON_HEADERS)


@pytest.fixture
def route(request: pytest.FixtureRequest, registered: set[str]) -> str:
    path: str = request.param
    if path not in registered:
        pytest.skip(f"{path} is not served by this build")
    return path


# -- every POST route: bodies that are not what they should be -------------------------------
NOT_AN_OBJECT = {
    "null": b"null",
    "empty array": b"[]",
    "array": b'[{"model": "cheap"}]',
    "string": b'"hello"',
    "number": b"42",
    "boolean": b"true",
}
NOT_JSON = {
    "empty": b"",
    "whitespace": b" \r\n\t ",
    "truncated": b'{"model": "cheap", "messages": [',
    "single quotes": b"{'model': 'cheap'}",
    "trailing garbage": b'{"model": "cheap"} x',
    "trailing comma": b'{"model": "cheap",}',
    "NaN": b'{"model": "cheap", "temperature": NaN}',
    "Infinity": b'{"model": "cheap", "temperature": Infinity}',
    "float overflow": b'{"model": "cheap", "temperature": 1e400}',
    "byte order mark": b'\xef\xbb\xbf{"model": "cheap"}',
    "raw NUL": b'{"model": "ch\x00eap"}',
    "100,000-deep arrays": nested(100_000),
    "30,000-deep objects": nested(30_000, "object"),
    "javascript": b"alert(1)",
    "xml": b"<?xml version='1.0'?><model>cheap</model>",
}


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
@pytest.mark.parametrize("raw", list(NOT_AN_OBJECT.values()), ids=list(NOT_AN_OBJECT))
def test_body_that_is_not_an_object(http: httpx.Client, route: str, raw: bytes) -> None:
    expect_error(post(http, route, raw), (400,), path=route)


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
@pytest.mark.parametrize("raw", list(NOT_JSON.values()), ids=list(NOT_JSON))
def test_body_that_is_not_json(http: httpx.Client, route: str, raw: bytes) -> None:
    # The admin routes have their own, smaller body limit (64 KiB).
    too_big = route in ADMIN_ROUTES and len(raw) > ADMIN_BODY_LIMIT
    expect_error(post(http, route, raw), (413,) if too_big else (400,), path=route)


STRING_PAYLOADS = {
    "lone high surrogate": b"\\ud800",
    "lone low surrogate": b"\\udfff",
    "reversed surrogates": b"\\udc00\\ud800",
    "raw invalid utf-8": b"\xff\xfe\xfd",
    "overlong utf-8": b"\xc0\xaf",
    "truncated utf-8": b"\xe2\x82",
    "raw surrogate in utf-8": b"\xed\xa0\x80",
    "raw control character": b"a\x01b",
    "bad escape": b"\\x41",
    "short unicode escape": b"\\u12",
}


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
@pytest.mark.parametrize("payload", list(STRING_PAYLOADS.values()), ids=list(STRING_PAYLOADS))
def test_broken_strings(http: httpx.Client, route: str, payload: bytes) -> None:
    expect_error(post(http, route, spliced(route, payload)), (400,), path=route)


GOOD_STRINGS = {
    "surrogate pair escaped": b"\\ud83d\\ude00",
    "emoji": "\U0001f600".encode(),
    "escaped NUL": b"a\\u0000b",
    "right-to-left override": "\u202e".encode(),
    "zero width joiner": "\u200d".encode(),
    "max code point": b"\\udbff\\udfff",
    "noncharacter": b"\\uffff",
    "proto text": b"__proto__",
    "template": b"{{7*7}} ${7*7} %s %n",
    "sql": b"'; DROP TABLE requests; --",
    "path": b"../../../etc/passwd",
}


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
@pytest.mark.parametrize("payload", list(GOOD_STRINGS.values()), ids=list(GOOD_STRINGS))
def test_odd_but_valid_strings(http: httpx.Client, route: str, payload: bytes) -> None:
    expect_ok_or_error(post(http, route, spliced(route, payload)))


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
@pytest.mark.parametrize("kind", ["array", "object"])
@pytest.mark.parametrize("depth", [200, 1000])
def test_deep_nesting_in_a_field(http: httpx.Client, route: str, kind: str, depth: int) -> None:
    """orjson parses up to 1024 levels but cannot write more than 254 (when the body goes
    upstream): the proxy refuses anything deeper than 128 itself."""
    err = expect_error(post(http, route, with_field(route, "extra", nested(depth, kind))), (400,))
    assert "nested" in err["message"] or "parse" in err["message"]


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
def test_deep_nesting_as_the_body(http: httpx.Client, route: str) -> None:
    expect_error(post(http, route, nested(1000)), (400,), path=route)
    expect_error(post(http, route, nested(1000, "object")), (400,), path=route)


def test_moderate_nesting_is_fine(http: httpx.Client) -> None:
    """A deep (but sane) JSON schema in a tool still goes through."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(20):
        schema = {"type": "object", "properties": {"x": schema}}
    body = valid_body("/v1/chat/completions")
    body["tools"] = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    resp = post(http, "/v1/chat/completions", body)
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
def test_huge_bodies(http: httpx.Client, route: str) -> None:
    # Within the limit: a normal answer (or a 4xx, e.g. the admin routes' own smaller limit).
    expect_ok_or_error(post(http, route, spliced(route, b"x" * (BODY_LIMIT // 2))))
    # Above it, announced by Content-Length, sent chunked, or one enormous string.
    big = spliced(route, b"y" * (BODY_LIMIT + 1))
    expect_error(post(http, route, big), (413,), path=route)
    expect_error(post(http, route, iter([big[:1000], big[1000:]])), (413,), path=route)
    many = json.dumps([valid_body(route)] * 5000).encode()
    expect_error(post(http, route, many), (400, 413), path=route)


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
def test_lying_content_length(proxy: ProxyProcess, route: str) -> None:
    """Content-Length over the limit is refused before the body is read."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(
            f"POST {route} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {MASTER_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {10**12}\r\n\r\n{{".encode()
        )
        head = read_response_head(sock)
    assert head.startswith(b"HTTP/1.1 413"), head


# -- content types ----------------------------------------------------------------------------
@pytest.mark.parametrize("route", CHAT_ROUTES, indirect=True)
@pytest.mark.parametrize(
    "ctype",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin-1",
        "application/xml",
        "image/png",
        "application/octet-stream",
        "garbage;;;=",
    ],
)
def test_json_is_read_whatever_the_content_type(
    http: httpx.Client, route: str, ctype: str | None
) -> None:
    headers = dict(AUTH)
    if ctype is not None:
        headers["Content-Type"] = ctype
    resp = http.post(route, content=json.dumps(valid_body(route)).encode(), headers=headers)
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
@pytest.mark.parametrize(
    "ctype", ["multipart/form-data; boundary=xyz", "MULTIPART/mixed", "multipart/form-data"]
)
def test_multipart_is_refused(http: httpx.Client, route: str, ctype: str) -> None:
    """Even when the body itself is JSON: a multipart body is a client bug."""
    headers = {**AUTH, "Content-Type": ctype}
    resp = http.post(route, content=json.dumps(valid_body(route)).encode(), headers=headers)
    err = expect_error(resp, (415,), path=route)
    assert "application/json" in err["message"]


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
def test_real_form_bodies(http: httpx.Client, route: str) -> None:
    files = {"file": ("a.json", b"{}", "application/json")}
    expect_error(http.post(route, files=files, headers=AUTH), (415,), path=route)
    expect_error(http.post(route, data={"model": "cheap"}, headers=AUTH), (400,), path=route)


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
def test_compressed_bodies_are_not_inflated(http: httpx.Client, route: str) -> None:
    """No decompression (so no zip bomb): a gzip body is just bytes that are not JSON."""
    bomb = gzip.compress(b"[" * 1_000_000)
    headers = {**JSON_HEADERS, "Content-Encoding": "gzip"}
    expect_error(http.post(route, content=bomb, headers=headers), (400,), path=route)


# -- chat bodies: wrong shapes and wrong types -----------------------------------------------
MESSAGES_CASES = {
    "string": "hello",
    "object": {"role": "user", "content": "hi"},
    "number": 3,
    "true": True,
    "empty": [],
    "strings": ["hi"],
    "nulls": [None],
    "nested arrays": [[{"role": "user", "content": "hi"}]],
    "no role": [{"content": "hi"}],
    "role number": [{"role": 1, "content": "hi"}],
    "role unknown": [{"role": "root", "content": "hi"}],
    "role list": [{"role": ["user"], "content": "hi"}],
    "no content": [{"role": "user"}],
    "content null": [{"role": "user", "content": None}],
    "content number": [{"role": "user", "content": 7}],
    "content object": [{"role": "user", "content": {"text": "hi"}}],
    "content bool": [{"role": "system", "content": False}],
    "part string": [{"role": "user", "content": ["hi"]}],
    "part no type": [{"role": "user", "content": [{"text": "hi"}]}],
    "part type number": [{"role": "user", "content": [{"type": 1, "text": "hi"}]}],
    "text part number": [{"role": "user", "content": [{"type": "text", "text": 5}]}],
    "text part missing": [{"role": "user", "content": [{"type": "text"}]}],
    "tool no id": [
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "content": "x"},
    ],
    "tool_calls string": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": "call"},
    ],
    "tool_calls of strings": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": ["call"]},
    ],
    "tool call no function": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function"}]},
    ],
}


@pytest.mark.parametrize("route", CHAT_ROUTES, indirect=True)
@pytest.mark.parametrize("messages", list(MESSAGES_CASES.values()), ids=list(MESSAGES_CASES))
def test_bad_messages(http: httpx.Client, route: str, messages: Any) -> None:
    err = expect_error(post(http, route, {"model": "cheap", "messages": messages}), (400,))
    assert err["param"] is not None and err["param"].startswith("messages"), err


VALUES = {
    "string": "x",
    "empty string": "",
    "integer": 7,
    "negative": -1,
    "float": 1.5,
    "true": True,
    "array": [1],
    "object": {"a": 1},
}
# field -> the VALUES it accepts (anything else is a 400 naming the field; "x" as a model
# is a 404, not a type error)
CHECKED_FIELDS: dict[str, set[str]] = {
    "model": {"string"},
    "stream": {"true"},
    "stream_options": {"object"},
    "temperature": {"float"},
    "top_p": set(),
    "presence_penalty": {"float", "negative"},
    "frequency_penalty": {"float", "negative"},
    "n": {"integer"},
    "max_tokens": {"integer"},
    "max_completion_tokens": {"integer"},
    "top_logprobs": {"integer"},
    "seed": {"integer", "negative"},
    "stop": {"string", "empty string"},
    "tools": set(),
    "tool_choice": set(),
    "response_format": set(),
    "priority": set(),
    "latency_pref": set(),
    "strategy": set(),
    "max_cost": {"integer", "float"},
}
WRONG_TYPES = [
    (field, name)
    for field, accepted in CHECKED_FIELDS.items()
    for name in VALUES
    if name not in accepted
]


@pytest.mark.parametrize("route", CHAT_ROUTES, indirect=True)
@pytest.mark.parametrize(("field", "value"), WRONG_TYPES, ids=[f"{f}={v}" for f, v in WRONG_TYPES])
def test_wrong_type_for_each_field(http: httpx.Client, route: str, field: str, value: str) -> None:
    body = valid_body(route)
    body[field] = VALUES[value]
    err = expect_error(post(http, route, body), (400,))
    assert err["param"] == field or field in err["message"], err


PASSTHROUGH_FIELDS = [
    "user",
    "logit_bias",
    "logprobs",
    "parallel_tool_calls",
    "metadata",
    "store",
    "service_tier",
    "reasoning_effort",
    "modalities",
    "audio",
    "prediction",
    "web_search_options",
    "functions",
    "function_call",
]


@pytest.mark.parametrize("route", ["/v1/chat/completions"], indirect=True)
@pytest.mark.parametrize("field", PASSTHROUGH_FIELDS)
@pytest.mark.parametrize("model", ["cheap", "claude", "gem"])
def test_wrong_types_in_passed_through_fields(
    http: httpx.Client, route: str, field: str, model: str
) -> None:
    """Fields the proxy does not read go to the provider (or its translator) as sent: the
    answer is the provider's, or a 4xx, never a crash."""
    for value in VALUES.values():
        body = valid_body(route)
        body["model"] = model
        body[field] = value
        expect_ok_or_error(post(http, route, body))


NUMBERS = [
    ("max_tokens", 0),
    ("max_tokens", -1),
    ("max_tokens", -(2**63)),
    ("max_tokens", 10**9),
    ("max_tokens", 2**63),
    ("max_tokens", 2**64 + 1),
    ("max_tokens", 1e308),
    ("max_tokens", 10.5),
    ("max_completion_tokens", -5),
    ("n", 0),
    ("n", -1),
    ("n", 129),
    ("n", 10**6),
    ("n", 2**64),
    ("n", 1.0000001),
    ("temperature", -0.1),
    ("temperature", 2.0001),
    ("temperature", 1e308),
    ("top_p", 1.5),
    ("seed", 2**64),
    ("top_logprobs", 21),
    ("presence_penalty", -2.5),
]


@pytest.mark.parametrize("route", CHAT_ROUTES, indirect=True)
@pytest.mark.parametrize(("field", "value"), NUMBERS, ids=[f"{f}={v}" for f, v in NUMBERS])
def test_numbers_out_of_range(http: httpx.Client, route: str, field: str, value: Any) -> None:
    body = valid_body(route)
    body[field] = value
    err = expect_error(post(http, route, body), (400,))
    assert err["param"] == field, err


@pytest.mark.parametrize("route", CHAT_ROUTES, indirect=True)
def test_numbers_at_the_edges_are_fine(http: httpx.Client, route: str) -> None:
    body = valid_body(route)
    body.update(n=1, max_tokens=1, temperature=0, top_p=1, seed=-(2**63))
    assert post(http, route, body).status_code == 200


@pytest.mark.parametrize("route", ["/v1/chat", "/v1/agent-step"], indirect=True)
def test_non_streaming_routes_take_stream_options(http: httpx.Client, route: str) -> None:
    body = {**valid_body(route), "stream": True, "stream_options": {"include_usage": True}}
    assert post(http, route, body).status_code == 200


@pytest.mark.parametrize("route", CHAT_ROUTES, indirect=True)
def test_stream_options_without_stream(http: httpx.Client, route: str) -> None:
    """As OpenAI: 'stream_options' only with 'stream': true (whichever provider answers)."""
    for stream in (None, False):
        body = {**valid_body(route), "stream_options": {"include_usage": True}}
        if stream is not None:
            body["stream"] = stream
        err = expect_error(post(http, route, body), (400,))
        assert err["param"] == "stream_options"


# -- tools -----------------------------------------------------------------------------------
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


def call(call_id: str = "call_1", arguments: Any = '{"city": "Paris"}') -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }


def tool_turn(*calls: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": list(calls)},
    ]


@pytest.mark.parametrize("route", CHAT_ROUTES, indirect=True)
@pytest.mark.parametrize(
    "choice",
    ["required", "auto", {"type": "function", "function": {"name": "get_weather"}}],
    ids=["required", "auto", "named"],
)
def test_tool_choice_without_tools(http: httpx.Client, route: str, choice: Any) -> None:
    for tools in (None, []):
        body = {**valid_body(route), "tool_choice": choice}
        if tools is not None:
            body["tools"] = tools
        err = expect_error(post(http, route, body), (400,))
        assert err["param"] == "tool_choice"


@pytest.mark.parametrize("route", CHAT_ROUTES, indirect=True)
def test_tool_choice_none_without_tools_is_fine(http: httpx.Client, route: str) -> None:
    assert post(http, route, {**valid_body(route), "tool_choice": "none"}).status_code == 200


ORPHAN_TOOL_RESULTS = {
    "first message": [{"role": "tool", "tool_call_id": "call_1", "content": "18C"}],
    "after a user message": [
        {"role": "user", "content": "weather?"},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ],
    "after a plain assistant message": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "let me check"},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ],
    "unknown call id": [
        *tool_turn(call("call_1")),
        {"role": "tool", "tool_call_id": "call_2", "content": "18C"},
    ],
    "after the turn ended": [
        *tool_turn(call("call_1")),
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "user", "content": "and tomorrow?"},
        {"role": "tool", "tool_call_id": "call_1", "content": "19C"},
    ],
    "empty tool_calls": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "hm", "tool_calls": []},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ],
}


@pytest.mark.parametrize("route", CHAT_ROUTES, indirect=True)
@pytest.mark.parametrize(
    "messages", list(ORPHAN_TOOL_RESULTS.values()), ids=list(ORPHAN_TOOL_RESULTS)
)
def test_tool_result_without_a_call(http: httpx.Client, route: str, messages: Any) -> None:
    """OpenAI answers 400 ('messages with role 'tool' must be a response to a preceding
    message with 'tool_calls''); so does the proxy, before any provider is called."""
    body = {"model": "cheap", "messages": messages, "tools": [WEATHER]}
    err = expect_error(post(http, route, body), (400,))
    assert err["param"] is not None and err["param"].startswith("messages["), err


BAD_ARGUMENTS = {
    "not json": "{city: Paris",
    "truncated": '{"city": "Par',
    "json array": "[1, 2]",
    "json string": '"Paris"',
    "json number": "42",
    "python dict": "{'city': 'Paris'}",
    "number": 42,
    "object": {"city": "Paris"},
    "null": None,
    "lone surrogate": '{"city": "\\ud800"}',
}


@pytest.mark.parametrize("route", CHAT_ROUTES, indirect=True)
@pytest.mark.parametrize("arguments", list(BAD_ARGUMENTS.values()), ids=list(BAD_ARGUMENTS))
def test_non_json_tool_arguments(http: httpx.Client, route: str, arguments: Any) -> None:
    messages = [
        *tool_turn(call("call_1", arguments)),
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ]
    body = {"model": "cheap", "messages": messages, "tools": [WEATHER]}
    err = expect_error(post(http, route, body), (400,))
    assert err["param"] == "messages[1].tool_calls[0].function.arguments", err


@pytest.mark.parametrize("route", CHAT_ROUTES, indirect=True)
@pytest.mark.parametrize("model", ["cheap", "claude", "gem"])
def test_a_proper_tool_turn_still_works(http: httpx.Client, route: str, model: str) -> None:
    messages = [
        *tool_turn(call("call_1"), call("call_2", "")),
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "19C"},
    ]
    body = {"model": model, "messages": messages, "tools": [WEATHER]}
    resp = post(http, route, body)
    assert resp.status_code == 200, resp.text


# -- prototype-pollution keys ----------------------------------------------------------------
PROTO = {"__proto__": {"admin": True, "model": "smart"}, "constructor": {"prototype": {"x": 1}}}


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
def test_proto_keys_are_just_keys(http: httpx.Client, route: str) -> None:
    body = {**valid_body(route), **PROTO}
    expect_ok_or_error(post(http, route, body))
    expect_error(post(http, route, PROTO), (400,), path=route)


@pytest.mark.parametrize("route", CHAT_ROUTES, indirect=True)
def test_proto_keys_inside_messages(http: httpx.Client, route: str) -> None:
    body = valid_body(route)
    body["messages"][0].update(PROTO)
    body["messages"].append({"__proto__": {"role": "user"}, "content": "x"})
    err = expect_error(post(http, route, body), (400,))
    assert err["param"] == "messages[1].role"
    assert post(http, route, {**valid_body(route), "model": "auto", **PROTO}).status_code == 200


def test_proto_keys_grant_nothing(http: httpx.Client) -> None:
    """A read-only key stays read-only whatever the body says."""
    resp = post(http, "/v1/api-keys", {"org": "proto-org", "permissions": ["read"]})
    assert resp.status_code == 201, resp.text
    key = resp.json()["key"]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    body = {**valid_body("/v1/chat/completions"), **PROTO, "permissions": ["admin"]}
    expect_error(http.post("/v1/chat/completions", json=body, headers=headers), (403,))
    expect_error(http.post("/v1/organizations", json={"name": "x", **PROTO}, headers=headers))


# -- slow and vanishing clients --------------------------------------------------------------
def read_response_head(sock: socket.socket, limit: float = 15.0) -> bytes:
    sock.settimeout(limit)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def read_to_close(sock: socket.socket, limit: float) -> bytes:
    sock.settimeout(limit)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def loris(port: int, route: str, *, chunked: bool = False, key: str = MASTER_KEY) -> socket.socket:
    """Headers and the first few bytes of a body, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    framing = "Transfer-Encoding: chunked" if chunked else "Content-Length: 5000"
    sock.sendall(
        f"POST {route} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n".encode()
    )
    sock.sendall(b'5\r\n{"mod\r\n' if chunked else b'{"mod')
    return sock


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_slow_loris_body_times_out(
    proxy: ProxyProcess, http: httpx.Client, registered: set[str], chunked: bool
) -> None:
    """Every POST route at once: each stalled body gets a 408 and its connection closed."""
    routes = [r for r in ALL_POST_ROUTES if r in registered]
    started = time.monotonic()
    socks = {route: loris(proxy.port, route, chunked=chunked) for route in routes}
    try:
        # Meanwhile, the proxy serves others at once.
        t0 = time.monotonic()
        ok = post(http, "/v1/chat/completions", valid_body("/v1/chat/completions"))
        assert ok.status_code == 200 and time.monotonic() - t0 < BODY_TIMEOUT_S
        answers = {route: read_to_close(sock, BODY_TIMEOUT_S + 10) for route, sock in socks.items()}
    finally:
        for sock in socks.values():
            sock.close()
    waited = time.monotonic() - started
    assert BODY_TIMEOUT_S - 0.5 <= waited < BODY_TIMEOUT_S + 5, waited
    for route, data in answers.items():
        head, _, payload = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), (route, data[:500])
        assert b"x-request-id" in head.lower(), route
        if b"transfer-encoding: chunked" in head.lower():
            payload = b"".join(payload.split(b"\r\n")[1::2])
        body = json.loads(payload)
        if route == "/v1/messages":
            assert body["type"] == "error" and body["error"]["message"], body
        else:
            assert body["error"]["code"] == "request_timeout", (route, body)
            assert body["request_id"], body


def test_slow_drip_is_bounded_by_a_total_deadline(proxy: ProxyProcess) -> None:
    """A byte every 0.3 s never lets an idle timer fire: the deadline is for the whole body."""
    sock = loris(proxy.port, "/v1/chat/completions")
    started = time.monotonic()
    data = b""
    try:
        sock.settimeout(0.3)
        while time.monotonic() - started < BODY_TIMEOUT_S + 8 and b"\r\n\r\n" not in data:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                sock.sendall(b" ")
                continue
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 408"), data[:300]
    assert time.monotonic() - started < BODY_TIMEOUT_S + 5


def test_many_slow_clients_do_not_starve_the_rest(proxy: ProxyProcess, http: httpx.Client) -> None:
    socks = [loris(proxy.port, "/v1/chat/completions") for _ in range(50)]
    try:
        for _ in range(5):
            t0 = time.monotonic()
            resp = post(http, "/v1/chat/completions", valid_body("/v1/chat/completions"))
            assert resp.status_code == 200 and time.monotonic() - t0 < 1.5
        for sock in socks:
            assert read_response_head(sock, limit=BODY_TIMEOUT_S + 10).startswith(b"HTTP/1.1 408")
    finally:
        for sock in socks:
            sock.close()


def test_unauthenticated_slow_loris_is_answered_at_once(proxy: ProxyProcess) -> None:
    sock = loris(proxy.port, "/v1/chat/completions", key="sk-wrong")
    try:
        t0 = time.monotonic()
        head = read_response_head(sock, limit=BODY_TIMEOUT_S + 5)
        assert head.startswith(b"HTTP/1.1 401"), head
        assert time.monotonic() - t0 < 1.0
    finally:
        sock.close()


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
def test_client_vanishing_mid_body(proxy: ProxyProcess, http: httpx.Client, route: str) -> None:
    """The client hangs up half-way: nothing to answer, nothing logged as a crash."""
    for chunked in (False, True):
        sock = loris(proxy.port, route, chunked=chunked)
        time.sleep(0.1)
        sock.close()
    time.sleep(0.3)
    assert post(http, route, valid_body(route)).status_code < 500


def test_headers_and_nothing_else_then_a_normal_request(proxy: ProxyProcess) -> None:
    """A connection that stalls inside the headers does not block the server."""
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    try:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        done = threading.Event()
        result: list[int] = []

        def normal() -> None:
            result.append(
                httpx.post(
                    proxy.root + "/v1/chat/completions",
                    json=valid_body("/v1/chat/completions"),
                    headers=AUTH,
                    timeout=10,
                ).status_code
            )
            done.set()

        threading.Thread(target=normal, daemon=True).start()
        assert done.wait(5) and result == [200]
    finally:
        sock.close()


# -- headers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rid",
    [b"x" * 5000, b"a b", b"<script>", b"../..", b"req\xe9", b""],
    ids=["long", "space", "html", "path", "latin1", "empty"],
)
def test_hostile_request_ids_are_replaced(http: httpx.Client, rid: bytes) -> None:
    headers: dict[str, Any] = {**JSON_HEADERS, "x-request-id": rid}
    resp = http.post("/v1/chat/completions", content=b"null", headers=headers)
    expect_error(resp, (400,))
    assert resp.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    "value",
    [b"x" * 10_000, b"-1", b"NaN", b"-Infinity", b"1e999999", b"0x10", b"[]", b"\xe9", b""],
)
@pytest.mark.parametrize("route", ["/v1/router/debug", "/v1/chat/completions"], indirect=True)
def test_hostile_routing_headers(http: httpx.Client, route: str, value: bytes) -> None:
    for header in ("x-omni-priority", "x-omni-latency-pref", "x-omni-max-cost", "x-omni-strategy"):
        headers: dict[str, Any] = {**JSON_HEADERS, header: value}
        body = {**valid_body(route), "model": "auto"}
        expect_ok_or_error(http.post(route, json=body, headers=headers))


@pytest.mark.parametrize("route", ALL_POST_ROUTES, indirect=True)
@pytest.mark.parametrize(
    "auth",
    [
        b"Bearer",
        b"Basic abc",
        b"Bearer " + b"k" * 10_000,
        b"bearer\tsk",
        b"Bearer \xe9",
    ],
    ids=["empty bearer", "basic", "long", "tab", "latin1"],
)
def test_hostile_authorization(http: httpx.Client, route: str, auth: bytes) -> None:
    headers: dict[str, Any] = {"Content-Type": "application/json", "Authorization": auth}
    resp = http.post(route, content=json.dumps(valid_body(route)), headers=headers)
    expect_error(resp, (401,), path=route)


# -- /v1/messages: Anthropic-shaped hostility ------------------------------------------------
MESSAGES_BODIES = {
    "metadata string": {"metadata": "x"},
    "metadata list": {"metadata": [1]},
    "metadata user_id object": {"metadata": {"user_id": {"a": 1}}},
    "system number": {"system": 5},
    "system list of strings": {"system": ["be brief"]},
    "stop_sequences string": {"stop_sequences": "x"},
    "tools string": {"tools": "x"},
    "tools list of strings": {"tools": ["x"]},
    "tool without name": {"tools": [{"input_schema": {}}]},
    "tool_choice string": {"tools": [{"name": "f", "input_schema": {}}], "tool_choice": "any"},
    "tool_choice unknown": {
        "tools": [{"name": "f", "input_schema": {}}],
        "tool_choice": {"type": "magic"},
    },
    "max_tokens string": {"max_tokens": "16"},
    "max_tokens huge": {"max_tokens": 2**64},
    "thinking string": {"thinking": "yes"},
    "temperature string": {"temperature": "hot"},
}
MESSAGES_CONTENT = {
    "block not an object": ["hi"],
    "block null": [None],
    "block no type": [{"text": "hi"}],
    "text number": [{"type": "text", "text": 5}],
    "image no source": [{"type": "image"}],
    "image source string": [{"type": "image", "source": "x"}],
    "tool_result alone": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}],
    "tool_result content number": [{"type": "tool_result", "tool_use_id": "t1", "content": 5}],
    "tool_use in user turn": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
    "content number": 5,
    "content null": None,
}
ASSISTANT_CONTENT = {
    "tool_use input list": [{"type": "tool_use", "id": "t1", "name": "f", "input": [1]}],
    "tool_use input string": [{"type": "tool_use", "id": "t1", "name": "f", "input": "x"}],
    "tool_use no id": [{"type": "tool_use", "name": "f", "input": {}}],
    "content number": 5,
    "content object": {"type": "text", "text": "x"},
}


ANTHROPIC_BUG = pytest.mark.xfail(
    reason="omni_proxy/wire/anthropic.py answers 500 (reported, not mine to fix)", strict=False
)


def cases(table: dict[str, Any], known_bugs: set[str]) -> list[Any]:
    return [
        pytest.param(value, id=name, marks=[ANTHROPIC_BUG] if name in known_bugs else [])
        for name, value in table.items()
    ]


@pytest.mark.parametrize("route", ["/v1/messages"], indirect=True)
@pytest.mark.parametrize("extra", cases(MESSAGES_BODIES, set()))
def test_messages_route_fields(http: httpx.Client, route: str, extra: dict[str, Any]) -> None:
    expect_ok_or_error(post(http, route, {**valid_body(route), **extra}))


@pytest.mark.parametrize("route", ["/v1/messages"], indirect=True)
@pytest.mark.parametrize("content", cases(MESSAGES_CONTENT, set()))
def test_messages_route_user_content(http: httpx.Client, route: str, content: Any) -> None:
    body = {**valid_body(route), "messages": [{"role": "user", "content": content}]}
    expect_ok_or_error(post(http, route, body))


@pytest.mark.parametrize("route", ["/v1/messages"], indirect=True)
@pytest.mark.parametrize("content", cases(ASSISTANT_CONTENT, set()))
def test_messages_route_assistant_content(http: httpx.Client, route: str, content: Any) -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "1"}]},
    ]
    expect_ok_or_error(post(http, route, {**valid_body(route), "messages": messages}))


# -- admin routes ----------------------------------------------------------------------------
ADMIN_BODIES = {
    "/v1/organizations": {
        "name number": {"name": 5},
        "name blank": {"name": "   "},
        "name NUL": {"name": "a\u0000b"},
        "budget string": {"monthly_budget_usd": "lots"},
        "budget negative": {"monthly_budget_usd": -1},
        "budget huge": {"monthly_budget_usd": 1e300},
        "budget huge string": {"monthly_budget_usd": "1e999"},
        "budget NaN string": {"monthly_budget_usd": "NaN"},
        "budget bool": {"monthly_budget_usd": True},
        "rpm zero": {"rpm_limit": 0},
        "rpm float": {"rpm_limit": 1.5},
        "rpm 2**63": {"rpm_limit": 2**63},
        "tpm 2**64": {"tpm_limit": 2**64 - 1},
        "tpm string": {"tpm_limit": "10"},
    },
    "/v1/api-keys": {
        "org number": {"org": 5},
        "org_id number": {"org_id": 5},
        "org_id unknown": {"org_id": "org_does_not_exist"},
        "org blank": {"org": "   "},
        "name object": {"name": {"a": 1}},
        "permissions numbers": {"permissions": [1, 2]},
        "permissions nested": {"permissions": [["read"]]},
        "permissions unknown": {"permissions": ["root"]},
        "permissions object": {"permissions": {"read": True}},
        "expires far": {"expires_at": 1e20},
        "expires negative": {"expires_at": -1e20},
        "expires junk": {"expires_at": "tomorrow"},
        "expires bool": {"expires_at": True},
        "rpm 2**63": {"rpm_limit": 2**63},
        "rpm negative": {"rpm_limit": -5},
    },
}
ADMIN_CASES = [(path, name) for path, cases in ADMIN_BODIES.items() for name in cases]
KNOWN_ADMIN_BUGS: set[tuple[str, str]] = set()


@pytest.mark.parametrize(
    ("route", "case"),
    [
        pytest.param(
            path,
            name,
            marks=[
                pytest.mark.xfail(
                    reason="routes/admin.py or keys.py answers 500 (reported, not mine to fix)",
                    strict=False,
                )
            ]
            if (path, name) in KNOWN_ADMIN_BUGS
            else [],
            id=f"{path}:{name}",
        )
        for path, name in ADMIN_CASES
    ],
    indirect=["route"],
)
def test_admin_fields(http: httpx.Client, route: str, case: str) -> None:
    body = {**valid_body(route), **ADMIN_BODIES[route][case]}
    expect_ok_or_error(post(http, route, body))
