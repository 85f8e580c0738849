"""Security review, as tests (each promise in docs/security.md names the test proving it).

* Every route needs a key unless it is on an explicit public list (the route table is
  walked, so a route added later is covered without touching this file).
* Org isolation on every org-scoped route, with two orgs' keys.
* Keys stored only as keyed hashes, compared in constant time; no key in the database,
  the logs, error messages or the CLI's listing.
* Request bodies and headers cannot choose the upstream URL, key or headers (no SSRF).
* Admin actions need the admin permission.
* CORS closed unless configured; header (431) and body (413) size limits.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import re
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from omni_proxy.accounts import keys as keys_module
from omni_proxy.app import create_app
from omni_proxy.config import load_config
from omni_proxy.defaults import auth as master_auth
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI
from tests.reliability_support import (
    AUTH,
    UPSTREAM_KEY,
    assert_contract_error,
    chat_body,
    eventually,
    rss_kb,
    sqlite_path,
)

KEY_SECRET = "security-test-" + uuid.uuid4().hex
MAX_BODY = 100_000
WRONG_KEY = "sk-omni-zzzzzzzz-NotARealKeyButLongEnoughToLookLikeOne"

# (method, path template) answered without a key. Anything else must refuse.
PUBLIC: set[tuple[str, str]] = {
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/openapi.json"),
    # Dashboard sign-in and its static files (pages themselves redirect to the sign-in).
    ("GET", "/dashboard/login"),
    ("POST", "/dashboard/login"),
    ("GET", "/dashboard/static/{name}"),
}


def _config_dict(base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {
            "up": {"plugin": "openai", "base_url": base_url, "api_key": UPSTREAM_KEY,
                   "timeout_s": 5},
        },
        "models": [
            {"name": "cheap", "provider": "up", "model": "gpt-4o-mini", "cost_input": 0.15,
             "cost_output": 0.6, "strengths": ["chat"]},
            {"name": "emb", "provider": "up", "model": "text-embedding-3-small",
             "kind": "embedding", "cost_input": 0.02},
        ],
        "routing": {"fallback_model": "cheap"},
        "max_body_bytes": MAX_BODY,
        **extra,
    }  # fmt: skip


def in_process_app(tmp_path: Path, **extra: Any) -> Any:
    """``create_app`` on a temp SQLite file; the upstream is a closed port (never called)."""
    path = tmp_path / "omni.yaml"
    path.write_text(yaml.safe_dump(_config_dict("http://127.0.0.1:9/v1", **extra)))
    env = {
        "OMNI_MASTER_KEY": MASTER_KEY,
        "OMNI_DATABASE_URL": f"sqlite:///{tmp_path / 'omni.db'}",
    }
    return create_app(load_config(path, env=env))


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "probe", path)


def walk_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) for every endpoint, mounts included."""
    for route in routes:
        if isinstance(route, Route):
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    yield method, prefix + route.path
        elif isinstance(route, Mount):
            inner = getattr(route, "routes", None) or []
            if inner:
                yield from walk_routes(inner, prefix + route.path)
            else:
                yield "GET", prefix + route.path + "/{file}"
        else:  # an unknown kind of route cannot be vouched for
            raise AssertionError(f"unexpected route type {type(route).__name__}: {route!r}")


def _refused(method: str, path: str, r: httpx.Response) -> bool:
    if path.startswith("/dashboard"):
        # Browser pages: off to the sign-in page (or refused outright).
        location = r.headers.get("location", "")
        return (r.status_code in (302, 303, 307) and location.startswith("/dashboard/login")) or (
            r.status_code in (401, 403)
        )
    return r.status_code == 401


# -- 1. authentication on every route ---------------------------------------------------------
def test_every_route_needs_a_key_unless_public(tmp_path: Path) -> None:
    app = in_process_app(tmp_path)
    endpoints = sorted(set(walk_routes(app.routes)))
    assert len(endpoints) >= 25, endpoints  # the walk really saw the route table
    # The public list names real routes only (a renamed route must not stay "public").
    missing = {e for e in PUBLIC if e not in endpoints and not e[1].startswith("/dashboard")}
    assert not missing, missing
    refused: list[str] = []
    problems: list[str] = []
    body = chat_body("cheap", "hi")
    with TestClient(app, follow_redirects=False) as client:
        for method, template in endpoints:
            path = _concrete(template)
            if (method, template) in PUBLIC:
                r = client.request(method, path)
                if r.status_code >= 500:
                    problems.append(f"public {method} {template} -> {r.status_code}")
                continue
            attempts = {
                "no key": {},
                "wrong bearer": {"authorization": f"Bearer {WRONG_KEY}"},
                "wrong x-api-key": {"x-api-key": WRONG_KEY},
                "not bearer": {"authorization": f"Basic {MASTER_KEY}"},
            }
            for label, headers in attempts.items():
                kwargs: dict[str, Any] = {"headers": headers}
                if method in ("POST", "PATCH", "PUT"):
                    kwargs["json"] = body
                r = client.request(method, path, **kwargs)
                if not _refused(method, template, r):
                    problems.append(f"{method} {template} ({label}) -> {r.status_code}")
                elif r.status_code == 401:
                    assert WRONG_KEY not in r.text and MASTER_KEY not in r.text
                    if not template.startswith("/v1/messages"):
                        assert_contract_error(401, r.json())
                        assert r.json()["error"]["code"] == "invalid_api_key"
            refused.append(f"{method} {template}")
    assert not problems, "routes answering without a valid key:\n" + "\n".join(problems)
    print(f"\nauth walk: {len(refused)} endpoints refuse without a key, {len(PUBLIC)} public")


def test_metrics_is_public_only_when_configured(tmp_path: Path) -> None:
    (tmp_path / "closed").mkdir()
    (tmp_path / "open").mkdir()
    with TestClient(in_process_app(tmp_path / "closed")) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=AUTH).status_code == 200
    with TestClient(in_process_app(tmp_path / "open", metrics_public=True)) as client:
        assert client.get("/metrics").status_code == 200


# -- 2. constant-time comparison, hashes only -------------------------------------------------
def test_keys_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    secret = b"unit-test-secret"
    key, prefix = keys_module.generate_key()
    cache = keys_module.KeyCache(db=None, refresh_s=60)  # type: ignore[arg-type]
    cache.secret = secret
    cache.add(
        {"id": "key_1", "org_id": "org_1", "prefix": prefix, "permissions": "read,write",
         "secret_hash": keys_module.hash_key(key, secret)}
    )  # fmt: skip
    assert cache.lookup(key) is not None and len(calls) == 1
    assert cache.lookup(key[:-1] + ("A" if key[-1] != "A" else "B")) is None and len(calls) == 2
    # The master key: compared with compare_digest too.
    config = load_config(env={"OMNI_MASTER_KEY": MASTER_KEY})
    assert master_auth.authenticate(api_key=MASTER_KEY, config=config) is not None
    assert master_auth.authenticate(api_key=MASTER_KEY[:-1] + "x", config=config) is None
    assert len(calls) == 4
    # No ordinary equality on a secret anywhere in the lookup paths.
    for fn in (keys_module.KeyCache.lookup, master_auth.authenticate):
        source = inspect.getsource(fn)
        assert "compare_digest" in source
        assert not re.search(r"(==|!=)\s*(entry\.secret_hash|master)", source), source


def test_keys_are_stored_as_keyed_hashes() -> None:
    key, _ = keys_module.generate_key()
    digest = keys_module.hash_key(key, b"s1")
    assert digest == hmac.new(b"s1", key.encode(), hashlib.sha256).hexdigest()
    assert digest != keys_module.hash_key(key, b"s2")  # keyed: useless without the secret
    assert key not in digest and hashlib.sha256(key.encode()).hexdigest() != digest


# -- 3. CORS and header limits, in process ----------------------------------------------------
def test_cors_opens_only_for_configured_origins(tmp_path: Path) -> None:
    app = in_process_app(tmp_path, cors_origins=["https://app.example"])
    preflight = {"access-control-request-method": "POST",
                 "access-control-request-headers": "authorization,content-type"}  # fmt: skip
    with TestClient(app) as client:
        ok = client.options(
            "/v1/chat/completions", headers={"origin": "https://app.example", **preflight}
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        assert "access-control-allow-credentials" not in ok.headers
        evil = client.options(
            "/v1/chat/completions", headers={"origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in evil.headers
        # CORS is not authentication: the allowed origin still needs a key.
        r = client.get("/v1/models", headers={"origin": "https://app.example"})
        assert r.status_code == 401
        r = client.get("/v1/models", headers={"origin": "https://evil.example", **AUTH})
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_header_limit_middleware_answers_431(tmp_path: Path) -> None:
    with TestClient(in_process_app(tmp_path)) as client:
        r = client.get("/health", headers={"x-big": "a" * 100_000})
        assert r.status_code == 431
        assert_contract_error(431, r.json())
        assert r.json()["error"]["code"] == "request_header_fields_too_large"
        assert client.get("/health", headers={"x-fine": "a" * 8_000}).status_code == 200


# -- against a real proxy process --------------------------------------------------------------
class World:
    def __init__(self, proxy: ProxyProcess, fake: FakeOpenAI) -> None:
        self.proxy = proxy
        self.fake = fake
        self.keys: dict[str, dict[str, Any]] = {}  # label -> created key object (with "key")
        self.presented: list[str] = [WRONG_KEY]  # every secret a client ever sent

    def create(self, label: str, org: str, permissions: list[str]) -> dict[str, Any]:
        r = httpx.post(
            self.proxy.base_url + "/api-keys",
            headers=AUTH,
            json={"org": org, "name": label, "permissions": permissions},
        )
        assert r.status_code == 201, r.text
        self.keys[label] = r.json()
        return r.json()  # type: ignore[no-any-return]

    def h(self, label: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.keys[label]['key']}"}

    def get(self, label: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.proxy.root + path, headers=self.h(label), timeout=20, **kw)

    def post(self, label: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return httpx.post(
            self.proxy.root + path, headers=self.h(label), json=body, timeout=20, **kw
        )

    def delete(self, label: str, path: str) -> httpx.Response:
        return httpx.delete(self.proxy.root + path, headers=self.h(label), timeout=20)

    def patch(self, label: str, path: str, body: Any) -> httpx.Response:
        return httpx.patch(self.proxy.root + path, headers=self.h(label), json=body, timeout=20)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with FakeOpenAI() as fake:
        tmp = tmp_path_factory.mktemp("security")
        proxy = ProxyProcess(
            tmp, _config_dict(fake.base_url), env={"OMNI_KEY_SECRET": KEY_SECRET}
        ).start()
        try:
            w = World(proxy, fake)
            w.create("a-admin", "alpha", ["read", "write", "admin"])
            w.create("a-rw", "alpha", ["read", "write"])
            w.create("a-read", "alpha", ["read"])
            w.create("b-admin", "beta", ["read", "write", "admin"])
            w.create("b-rw", "beta", ["read", "write"])
            yield w
        finally:
            proxy.stop()


def test_org_isolation_on_every_org_scoped_route(world: World) -> None:
    a_org, b_org = world.keys["a-rw"]["org_id"], world.keys["b-rw"]["org_id"]
    assert a_org != b_org

    # /v1/usage: each org sees its own figures only; asking for the other org is refused.
    def usage(label: str, org: str | None = None) -> httpx.Response:
        return world.get(label, "/v1/usage", params={"org_id": org} if org else None)

    def total(label: str) -> int:
        return int(usage(label).json()["total_requests"])

    base_a, base_b = total("a-rw"), total("b-rw")
    # Traffic in both orgs: one request for alpha, two for beta.
    sent = [world.post("a-rw", "/v1/chat/completions", chat_body("cheap", "alpha secret"))]
    sent += [world.post("b-rw", "/v1/chat/completions", chat_body("cheap", "beta")) for _ in "xy"]
    assert all(r.status_code == 200 for r in sent)
    assert eventually(lambda: total("b-rw") == base_b + 2)
    assert total("a-rw") == base_a + 1
    for label in ("a-rw", "a-read", "a-admin"):
        r = usage(label, b_org)
        assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    ok = httpx.get(world.proxy.base_url + "/usage", headers=AUTH, params={"org_id": b_org})
    assert ok.json()["total_requests"] == base_b + 2  # the master key sees any org

    # /v1/api-keys: an org admin sees and touches its own org's keys only.
    listed = world.get("a-admin", "/v1/api-keys").json()["data"]
    assert listed and {k["org_id"] for k in listed} == {a_org}
    assert world.get("a-admin", "/v1/api-keys", params={"org_id": b_org}).status_code == 403
    b_key_id = world.keys["b-rw"]["id"]
    assert world.get("a-admin", f"/v1/api-keys/{b_key_id}").status_code == 404
    assert world.delete("a-admin", f"/v1/api-keys/{b_key_id}").status_code == 404
    assert world.post("b-rw", "/v1/chat/completions", chat_body("cheap", "x")).status_code == 200
    for body in ({"org_id": b_org}, {"org": "beta"}, {"org_id": b_org, "permissions": ["admin"]}):
        r = world.post("a-admin", "/v1/api-keys", body)
        assert r.status_code == 403, (body, r.text)
    assert all(k["org_id"] == b_org for k in world.get("b-admin", "/v1/api-keys").json()["data"])

    # /v1/organizations: own org only; creating, renaming, deleting orgs is the master's.
    orgs = world.get("a-admin", "/v1/organizations").json()["data"]
    assert [o["id"] for o in orgs] == [a_org]
    assert world.get("a-admin", f"/v1/organizations/{b_org}").status_code == 404
    assert world.patch("a-admin", f"/v1/organizations/{b_org}", {"name": "x"}).status_code == 403
    assert world.delete("a-admin", f"/v1/organizations/{b_org}").status_code == 403
    assert world.post("a-admin", "/v1/organizations", {"name": "gamma"}).status_code == 403
    assert world.patch("a-admin", f"/v1/organizations/{a_org}", {"rpm_limit": 1}).status_code == 403

    # /v1/responses: stored per org; another org can neither read (the response or its input
    # items), delete nor continue it.
    created = world.post("a-rw", "/v1/responses", {"model": "cheap", "input": "alpha only"})
    assert created.status_code == 200, created.text
    rid = created.json()["id"]
    assert world.get("a-rw", f"/v1/responses/{rid}").status_code == 200
    assert world.get("b-rw", f"/v1/responses/{rid}").status_code == 404
    assert world.delete("b-rw", f"/v1/responses/{rid}").status_code == 404
    items = world.get("a-read", f"/v1/responses/{rid}/input_items")
    assert items.status_code == 200 and "alpha only" in items.text
    listed = world.get("b-rw", f"/v1/responses/{rid}/input_items")
    assert listed.status_code == 404 and "alpha only" not in listed.text
    follow = world.post(
        "b-rw", "/v1/responses", {"model": "cheap", "input": "more", "previous_response_id": rid}
    )
    assert follow.status_code == 404 and "alpha only" not in follow.text
    assert world.get("a-rw", f"/v1/responses/{rid}").status_code == 200  # still there


def test_admin_actions_need_the_admin_permission(world: World) -> None:
    a_org = world.keys["a-rw"]["org_id"]
    some_key = world.keys["a-read"]["id"]
    admin_calls = [
        ("GET", "/v1/api-keys", None),
        ("POST", "/v1/api-keys", {"org_id": a_org, "permissions": ["read", "write", "admin"]}),
        ("GET", f"/v1/api-keys/{some_key}", None),
        ("DELETE", f"/v1/api-keys/{some_key}", None),
        ("GET", "/v1/organizations", None),
        ("POST", "/v1/organizations", {"name": "new-org"}),
        ("GET", f"/v1/organizations/{a_org}", None),
        ("PATCH", f"/v1/organizations/{a_org}", {"rpm_limit": 1}),
        ("DELETE", f"/v1/organizations/{a_org}", None),
        ("GET", "/metrics", None),
    ]
    for label in ("a-rw", "a-read"):
        for method, path, body in admin_calls:
            r = httpx.request(
                method, world.proxy.root + path, headers=world.h(label), json=body, timeout=20
            )
            assert r.status_code == 403, (label, method, path, r.text)
            assert_contract_error(403, r.json())
            assert r.json()["error"]["type"] == "permission_error"
    # read cannot write (call a model); the key it tried to delete is still alive.
    r = world.post("a-read", "/v1/chat/completions", chat_body("cheap", "x"))
    assert r.status_code == 403
    assert world.get("a-read", "/v1/models").status_code == 200
    assert world.get("a-admin", f"/v1/api-keys/{some_key}").json()["revoked_at"] is None


def test_request_bodies_cannot_choose_the_upstream(world: World) -> None:
    """No SSRF: URL, key and headers come from the config alone. Fields a client adds to a
    body may travel upstream as body fields (OpenAI ignores unknown ones) but are never
    acted on; client headers are not forwarded."""
    with FakeOpenAI(api_key=None) as canary:
        evil = {
            "base_url": canary.base_url,
            "api_base": canary.base_url,
            "url": canary.url + "/v1/chat/completions",
            "api_key": "sk-attacker-chosen-key",
            "headers": {"authorization": "Bearer sk-attacker", "x-evil": "1"},
            "extra_headers": {"x-evil": "1"},
            "default_headers": {"x-evil": "1"},
            "provider": {"base_url": canary.base_url},
        }
        client_headers = {
            **world.h("a-rw"),
            "x-evil": "1",
            "openai-organization": "org-evil",
            "x-forwarded-host": "evil.example",
            "x-omni-base-url": canary.base_url,
        }
        calls = [
            ("/v1/chat/completions", {**chat_body("cheap", "ssrf?"), **evil}),
            ("/v1/chat/completions", {**chat_body("cheap", "ssrf?", stream=True), **evil}),
            ("/v1/embeddings", {"model": "emb", "input": "ssrf?", **evil}),
            ("/v1/completions", {"model": "cheap", "prompt": "ssrf?", **evil}),
            ("/v1/responses", {"model": "cheap", "input": "ssrf?", **evil}),
            ("/v1/chat", {"messages": [{"role": "user", "content": "ssrf?"}], **evil}),
            ("/v1/messages", {"model": "cheap", "max_tokens": 20,
                              "messages": [{"role": "user", "content": "ssrf?"}], **evil}),
        ]  # fmt: skip
        for path, body in calls:
            world.fake.requests.clear()
            r = httpx.post(world.proxy.root + path, headers=client_headers, json=body, timeout=20)
            assert r.status_code == 200, (path, r.text)
            (sent,) = world.fake.requests
            assert sent["path"] in ("/v1/chat/completions", "/v1/embeddings"), sent["path"]
            assert sent["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"
            for name in ("x-evil", "openai-organization", "x-forwarded-host", "x-omni-base-url",
                         "x-api-key"):  # fmt: skip
                assert name not in sent["headers"], (path, name)
            assert world.keys["a-rw"]["key"] not in str(sent["headers"]) + str(sent["body"])
            assert sent["json"]["model"] in ("gpt-4o-mini", "text-embedding-3-small")
        # A model name cannot be a URL or reach an unconfigured provider either.
        for model in (canary.base_url, "up/gpt-4o", "openai/gpt-4o", "../cheap"):
            r = world.post("a-rw", "/v1/chat/completions", chat_body(model, "x"))
            assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
        assert canary.requests == []


def test_cors_is_closed_by_default(world: World) -> None:
    origin = {"origin": "https://evil.example"}
    pre = world.proxy.root + "/v1/chat/completions"
    r = httpx.options(pre, headers={**origin, "access-control-request-method": "POST"})
    assert r.status_code == 405 and "access-control-allow-origin" not in r.headers
    for path in ("/health", "/v1/models"):
        r = httpx.get(world.proxy.root + path, headers={**origin, **AUTH})
        assert r.status_code == 200
        assert not any(h.startswith("access-control-") for h in r.headers), dict(r.headers)
    r = httpx.post(pre, headers={**origin, **AUTH}, json=chat_body("cheap", "x"))
    assert not any(h.startswith("access-control-") for h in r.headers)


def test_header_and_body_size_limits(world: World) -> None:
    assert world.proxy.proc is not None
    pid = world.proxy.proc.pid
    for size in (100_000, 1_000_000):
        r = httpx.get(world.proxy.root + "/health", headers={"x-big": "a" * size}, timeout=20)
        assert r.status_code == 431, (size, r.status_code)
        assert_contract_error(431, r.json())
    before = rss_kb(pid)
    started = time.monotonic()
    r = httpx.get(world.proxy.root + "/health", headers={"x-big": "a" * 20_000_000}, timeout=30)
    assert r.status_code == 431 and time.monotonic() - started < 10
    # Refused as the head arrived: the server never held 20 MB of it.
    assert rss_kb(pid) - before < 10_000, (before, rss_kb(pid))
    many = {f"x-h{i}": "b" * 100 for i in range(1_000)}
    assert httpx.get(world.proxy.root + "/health", headers=many).status_code == 431
    assert httpx.get(world.proxy.root + "/health", headers={"x-ok": "a" * 8_000}).status_code == 200
    # Bodies: over max_body_bytes is a 413 before it is all read; admin bodies cap at 64 KB.
    big = chat_body("cheap", "a" * (MAX_BODY + 10))
    r = world.post("a-rw", "/v1/chat/completions", big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    r = world.post("a-admin", "/v1/api-keys", {"name": "x" * 70_000})
    assert r.status_code == 413
    assert httpx.get(world.proxy.root + "/health").status_code == 200  # still serving


def test_no_key_in_the_database_logs_errors_or_cli(world: World) -> None:
    """Runs after the other ``world`` tests (file order), then scans everything they left."""
    # Keys a client presents are never echoed, right or wrong, in either header.
    for headers in ({"authorization": f"Bearer {WRONG_KEY}"}, {"x-api-key": WRONG_KEY}):
        r = httpx.post(
            world.proxy.base_url + "/chat/completions", headers=headers, json=chat_body("cheap")
        )
        assert r.status_code == 401 and WRONG_KEY not in r.text and "zzzzzzzz" not in r.text
    revoked = world.create("a-revoked", "alpha", ["read", "write"])
    assert world.delete("a-admin", f"/v1/api-keys/{revoked['id']}").status_code == 200
    r = world.post("a-revoked", "/v1/chat/completions", chat_body("cheap"))
    assert r.status_code == 401 and revoked["key"] not in r.text
    # An upstream that echoes the proxy's own upstream key in its error: scrubbed.
    world.fake.set_behaviour(
        "*", "status", status=401, message=f"Incorrect API key provided: {UPSTREAM_KEY}."
    )
    try:
        for stream in (False, True):
            r = world.post("a-rw", "/v1/chat/completions", chat_body("cheap", stream=stream))
            assert r.status_code == 502 and UPSTREAM_KEY not in r.text, r.text
    finally:
        world.fake.clear_behaviour()
    world.fake.set_behaviour("*", "stream_error", after=1, message=f"bad key {UPSTREAM_KEY}")
    try:
        r = world.post("a-rw", "/v1/chat/completions", chat_body("cheap", "x y", stream=True))
        assert r.status_code == 200 and "error" in r.text and UPSTREAM_KEY not in r.text
    finally:
        world.fake.clear_behaviour()
    time.sleep(0.6)  # let the recorder flush

    secrets = [MASTER_KEY, UPSTREAM_KEY, WRONG_KEY, *(k["key"] for k in world.keys.values())]
    db = sqlite_path(world.proxy)
    stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())
    logs = world.proxy.read_log()
    for secret in secrets:
        assert secret.encode() not in stored, f"a key is stored in clear: {secret[:12]}…"
        assert secret not in logs, f"a key is in the log: {secret[:12]}…"
    for k in world.keys.values():
        # Not even the secret part of an omni key (everything after its public prefix).
        tail = k["key"][len(keys_module.KEY_PREFIX) + keys_module.PREFIX_LEN + 1 :]
        assert len(tail) > 20 and tail.encode() not in stored and tail not in logs
    # What is stored is the keyed hash (OMNI_KEY_SECRET), found by the prefix.
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT id, secret_hash FROM api_keys").fetchall())
    for k in world.keys.values():
        expected = hmac.new(KEY_SECRET.encode(), k["key"].encode(), hashlib.sha256).hexdigest()
        assert rows[k["id"]] == expected
    # The CLI lists keys without their secrets.
    listing = subprocess.run(
        [sys.executable, "-m", "omni_proxy.cli", "keys", "list"],
        env={**world.proxy.env, "OMNI_KEY_SECRET": KEY_SECRET},
        capture_output=True, text=True, timeout=60, check=True, cwd=world.proxy.tmp,
    )  # fmt: skip
    assert world.keys["a-rw"]["id"] in listing.stdout
    for secret in secrets:
        assert secret not in listing.stdout + listing.stderr
