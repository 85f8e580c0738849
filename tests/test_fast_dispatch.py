"""``OmniApp``'s direct dispatch of chat completions must answer exactly as the middleware
stack would: request ids, the header limit, an unhandled error as a 500, CORS when set,
and step aside for any middleware or exception handler it does not reproduce."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from omni_proxy.app import OmniApp

from .conftest import MASTER_KEY
from .test_security import _concrete, assert_contract_error, in_process_app, walk_routes

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}


def test_chat_completions_skip_the_stack_and_keep_its_behaviour(tmp_path: Path) -> None:
    app = in_process_app(tmp_path)
    assert isinstance(app, OmniApp)
    assert set(app.fast_routes) == {("POST", "/v1/chat/completions"), ("POST", "/chat/completions")}
    with TestClient(app, raise_server_exceptions=False) as client:
        # An error answer from the endpoint: CONTRACT.md's shape, with the client's id echoed.
        r = client.post(
            "/v1/chat/completions", json={"model": "auto"}, headers={"x-request-id": "mine-1"}
        )
        assert r.status_code == 401
        assert_contract_error(401, r.json())
        assert r.headers["x-request-id"].startswith("req_")  # ours, never the client's
        assert r.headers["x-client-request-id"] == "mine-1"
        # A fresh id when the client's is missing or unsafe.
        r = client.post("/chat/completions", json={}, headers={**AUTH, "x-request-id": "bad id\t"})
        assert r.status_code == 400
        assert r.headers["x-request-id"].startswith("req_")
        assert "x-client-request-id" not in r.headers
        # The header limit holds on the direct path too.
        r = client.post("/v1/chat/completions", json={}, headers={"x-big": "a" * 100_000})
        assert r.status_code == 431
        assert_contract_error(431, r.json())
        assert r.headers["x-request-id"].startswith("req_")
        # Other methods on the same path still go through the router (405, not a 404).
        r = client.get("/v1/chat/completions", headers=AUTH)
        assert r.status_code == 405


def test_an_unhandled_error_on_the_direct_path_is_a_contract_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(request: Request) -> Any:
        raise RuntimeError("boom")

    app = in_process_app(tmp_path)
    monkeypatch.setitem(app.fast_routes, ("POST", "/v1/chat/completions"), broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/v1/chat/completions", json={}, headers={"x-request-id": "rid-500"})
    assert r.status_code == 500
    assert_contract_error(500, r.json())
    assert "boom" not in r.text  # no internals leak
    assert r.headers["x-request-id"] == r.json()["request_id"]
    assert r.headers["x-client-request-id"] == "rid-500"


def test_cors_turns_the_direct_path_off(tmp_path: Path) -> None:
    app = in_process_app(tmp_path, cors_origins=["https://app.example"])
    with TestClient(app) as client:
        r = client.post("/v1/chat/completions", json={}, headers={"origin": "https://app.example"})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert app.fast_routes == {}


def test_a_users_middleware_sees_every_route(tmp_path: Path) -> None:
    """``app.add_middleware`` keeps Starlette's promise: the middleware sees every request,
    the chat completions the direct path would otherwise take included."""
    seen: list[tuple[str, str]] = []

    class Seen:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append((scope["method"], scope["path"]))
            await self.app(scope, receive, send)

    app = in_process_app(tmp_path)
    app.add_middleware(Seen)
    endpoints = sorted(set(walk_routes(app.routes)))
    assert ("POST", "/v1/chat/completions") in endpoints
    with TestClient(app, follow_redirects=False) as client:
        for method, template in endpoints:
            path = _concrete(template)
            kwargs: dict[str, Any] = {"headers": AUTH}
            if method in ("POST", "PATCH", "PUT"):
                kwargs["json"] = {}
            client.request(method, path, **kwargs)
            assert seen[-1] == (method, path), f"{method} {template} passed the middleware by"
    assert app.fast_routes == {}
    assert len(seen) == len(endpoints)


def test_an_exception_handler_of_the_user_turns_the_direct_path_off(tmp_path: Path) -> None:
    class Mine(Exception):
        pass

    async def broken(request: Request) -> Any:
        raise Mine()

    async def handle(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("handled by the user", status_code=418)

    app = in_process_app(tmp_path)
    app.add_exception_handler(Mine, handle)
    app.fast_routes[("POST", "/v1/chat/completions")] = broken
    app.router.routes.insert(0, Route("/v1/chat/completions", broken, methods=["POST"]))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/v1/chat/completions", json={})
    assert (r.status_code, r.text) == (418, "handled by the user")
    assert app.fast_routes == {}


def test_indexed_headers_answer_like_starlettes() -> None:
    """The fast path's request headers: same answers as ``Headers`` for present, absent,
    differently-cased and repeated names (the first value wins)."""
    from starlette.datastructures import Headers

    from omni_proxy.server.http import IndexedHeaders

    raw = [
        (b"authorization", b"Bearer k"),
        (b"x-omni-priority", b"cost"),
        (b"x-dup", b"first"),
        (b"x-dup", b"second"),
    ]
    fast, plain = IndexedHeaders({"headers": list(raw)}), Headers(scope={"headers": list(raw)})
    for name in ("Authorization", "x-omni-priority", "X-DUP", "traceparent", "x-omni-strategy"):
        assert fast.get(name) == plain.get(name)
        assert fast.get(name, "d") == plain.get(name, "d")
        assert (name in fast) == (name in plain)
    assert fast["x-dup"] == "first" and fast.getlist("x-dup") == ["first", "second"]
    assert 3 not in fast
    with pytest.raises(KeyError):
        fast["traceparent"]


def test_a_bug_on_a_routed_path_is_answered_once_and_keeps_the_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 15: each bare 500 was logged twice and closed the client's keep-alive (it
    went up to the server). Now the app answers it: the test client, which re-raises what
    reaches the server, sees only the CONTRACT.md 500."""

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("boom")

    app = in_process_app(tmp_path)
    with TestClient(app, raise_server_exceptions=True) as client:
        monkeypatch.setattr(app.state.services.pipeline, "authenticate", broken)
        caplog.clear()
        r = client.get("/v1/models", headers=AUTH)
    assert r.status_code == 500
    assert_contract_error(500, r.json(), r.headers["x-request-id"])
    assert "boom" not in r.text
    assert len([rec for rec in caplog.records if "unhandled error" in rec.getMessage()]) == 1
