"""The hook chain: ordering, the async rule, entry points, and docs that stay honest."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from omni_proxy import Classification, Principal, hookimpl, hookspecs
from omni_proxy.config import Config
from omni_proxy.plugins import (
    PluginError,
    await_me_maybe,
    describe_plugins,
    first_answer,
    get_plugin_manager,
)

ROOT = Path(__file__).resolve().parent.parent
HOOKS = {
    name: inspect.signature(fn)
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "omni_proxy_spec")
}


def test_docs_cover_every_hook_and_argument() -> None:
    doc = (ROOT / "docs" / "plugin-hooks.md").read_text()
    missing = []
    for name, sig in HOOKS.items():
        heading = re.search(rf"^### `{name}\((.*)\)`$", doc, re.M)
        if heading is None:
            missing.append(f"hook {name}")
            continue
        documented = [a.strip() for a in heading.group(1).split(",") if a.strip()]
        for arg in sig.parameters:
            if arg not in documented:
                missing.append(f"{name}({arg})")
    assert not missing, f"docs/plugin-hooks.md lacks: {missing}"


def test_every_hook_has_a_test() -> None:
    text = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    tests = re.findall(r"def (test_hook_\w+)", text)
    untested = [name for name in HOOKS if not any(name in t for t in tests)]
    assert not untested, f"hooks without a test_hook_<name> test: {untested}"


def test_async_def_implementation_is_refused() -> None:
    class Bad:
        @hookimpl
        async def classify(self, body: Any) -> Any:
            return None

    pm = get_plugin_manager(load_entry_points=False)
    with pytest.raises(PluginError, match="async def"):
        pm.register(Bad())


def test_hook_classify_plugin_overrides_default() -> None:
    class Mine:
        @hookimpl
        def classify(self, body: Any) -> Classification | None:
            return Classification("translation", 0.5, ("mine",)) if body.get("x") else None

    pm = get_plugin_manager(load_entry_points=False, plugins=[Mine()])
    body = {"messages": [{"role": "user", "content": "hello"}]}
    assert pm.hook.classify(
        body={**body, "x": 1}, principal=None, config=None, classifiers=[]
    ).task_type == ("translation")
    # Declining (None) lets the built-in heuristic answer.
    fallback = pm.hook.classify(body=body, principal=None, config=None, classifiers=[])
    assert fallback.classifier == "heuristic" and fallback.task_type == "chat"


async def test_hook_authenticate_first_non_none_answer_wins_and_awaitables_resolve() -> None:
    calls = []

    class Slow:
        @hookimpl
        def authenticate(self, api_key: str) -> Any:
            async def look() -> Principal | None:
                calls.append("slow")
                return Principal("org-slow") if api_key == "slow" else None

            return look()

    config = Config(master_key="master")
    pm = get_plugin_manager(load_entry_points=False, plugins=[Slow()])
    res = pm.hook.authenticate(request=None, api_key="slow", config=config)
    assert (await first_answer(res)).org_id == "org-slow"
    res = pm.hook.authenticate(request=None, api_key="master", config=config)
    principal = await first_answer(res)
    assert principal.org_id == "default" and principal.can("admin")
    res = pm.hook.authenticate(request=None, api_key="nobody", config=config)
    assert await first_answer(res) is None
    assert calls == ["slow", "slow", "slow"]


def test_hook_register_providers_and_entry_points_are_found() -> None:
    pm = get_plugin_manager()
    found: dict[str, Any] = {}
    pm.hook.register_providers(register=lambda name, cls: found.setdefault(name, cls))
    assert {"openai", "demo"} <= set(found)
    rows = {r["name"]: r for r in describe_plugins(pm)}
    assert rows["openai"]["distribution"] == "omni-proxy-openai"
    assert rows["openai"]["version"]
    assert "register_providers" in rows["openai"]["hooks"]
    assert "authenticate" in rows["omni_proxy.defaults.auth"]["hooks"]


def test_allow_and_block_lists() -> None:
    found: dict[str, Any] = {}
    pm = get_plugin_manager(env={"OMNI_PROXY_DISABLE_PLUGINS": "demo"})
    pm.hook.register_providers(register=lambda name, cls: found.setdefault(name, cls))
    assert "demo" not in found and "openai" in found
    found.clear()
    pm = get_plugin_manager(env={"OMNI_PROXY_LOAD_PLUGINS": "demo"})
    pm.hook.register_providers(register=lambda name, cls: found.setdefault(name, cls))
    assert "demo" in found and "openai" not in found


def test_hook_register_classifiers_collects_the_heuristic() -> None:
    pm = get_plugin_manager(load_entry_points=False)
    found: dict[str, Any] = {}
    pm.hook.register_classifiers(register=lambda name, fn: found.setdefault(name, fn))
    result = found["heuristic"]({"messages": [{"role": "user", "content": "def f(): pass"}]})
    assert result.task_type == "coding"


async def test_hook_startup_and_shutdown_run_with_the_app(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from omni_proxy.app import create_app

    seen: list[str] = []

    class Life:
        @hookimpl
        def startup(self, app: Any, config: Any) -> Any:
            async def go() -> None:
                seen.append(f"startup:{config.database_url.startswith('sqlite')}")

            return go()

        @hookimpl
        def shutdown(self, app: Any) -> None:
            seen.append("shutdown")

    pm = get_plugin_manager(plugins=[Life()])
    config = Config(master_key="m", demo=True, database_url=f"sqlite:///{tmp_path}/x.db")
    with TestClient(create_app(config, pm=pm)) as client:
        assert client.get("/health").status_code == 200
        assert seen == ["startup:True"]
    assert seen == ["startup:True", "shutdown"]


async def test_await_me_maybe_accepts_values_and_awaitables() -> None:
    async def coro() -> int:
        return 2

    assert await await_me_maybe(1) == 1
    assert await await_me_maybe(coro()) == 2


def test_hook_select_route_call_provider_fallback_route_and_record_can_be_replaced(
    tmp_path: Path,
) -> None:
    """One request through a chain where every later hook is a test plugin's."""
    from starlette.testclient import TestClient

    from omni_proxy import Route, RoutePlan
    from omni_proxy.app import create_app
    from omni_proxy.errors import ProxyError

    log: list[Any] = []

    class Chain:
        @hookimpl
        def select_route(self, registry: Any) -> RoutePlan:
            first, second = registry.get("demo-premium"), registry.get("demo-mini")
            return RoutePlan([Route(first), Route(second)], reason="test", strategy="test")

        @hookimpl
        def call_provider(self, route: Route, body: Any, stream: bool, providers: Any) -> Any:
            if route.model.name == "demo-premium":
                raise ProxyError(503, "premium down", type="server_error")
            return providers.get("demo").chat({**body, "model": route.model.model}, route.model)

        @hookimpl
        def fallback_route(self, plan: RoutePlan, error: ProxyError, attempts: list[Any]) -> Any:
            log.append(("fallback", error.status, len(attempts)))
            return plan.routes[1] if len(attempts) == 1 else None

        @hookimpl
        def record(self, event: Any) -> None:
            log.append(("record", event.model_used, event.fallback_count))

    pm = get_plugin_manager(plugins=[Chain()])
    config = Config(master_key="m", demo=True, database_url=f"sqlite:///{tmp_path}/x.db")
    with TestClient(create_app(config, pm=pm)) as client:
        r = client.post(
            "/v1/chat/completions",
            headers={"authorization": "Bearer m"},
            json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
        )
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "demo-mini"
    assert r.json()["omni"]["fallbacks"][0]["model"] == "demo-premium"
    assert log == [("fallback", 503, 1), ("record", "demo-mini", 1)]


def test_plugins_command_lists_versions_and_hooks() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "omni_proxy.cli", "plugins"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert re.search(r"^openai\s+omni-proxy-openai\s+\d+\.\d+", out, re.M)
    assert "register_providers" in out
    assert "omni_proxy.defaults.select" in out and "select_route" in out


def test_hook_register_classifiers_chain_from_config(tmp_path: Path) -> None:
    """routing.classifiers puts registered classifiers before the heuristic, in order."""
    from starlette.testclient import TestClient

    from omni_proxy.app import create_app
    from omni_proxy.config import ConfigError

    asked: list[str] = []

    class Two:
        @hookimpl
        def register_classifiers(self, register: Any) -> None:
            def declines(body: Any) -> None:
                asked.append("declines")

            async def answers(body: Any) -> Classification | None:
                asked.append("answers")
                text = str(body.get("messages"))
                return Classification("translation", 0.9, ("two",), "two") if "x" in text else None

            register("declines", declines)
            register("answers", lambda body: answers(body))

    def app_with(names: list[str]) -> Any:
        config = Config.model_validate(
            {
                "master_key": "m",
                "demo": True,
                "database_url": f"sqlite:///{tmp_path}/c.db",
                "routing": {"classifiers": names},
            }
        )
        return create_app(config, pm=get_plugin_manager(plugins=[Two()]))

    with TestClient(app_with(["declines", "answers"])) as client:

        def debug(text: str) -> Any:
            return client.post(
                "/v1/router/debug",
                headers={"authorization": "Bearer m"},
                json={"messages": [{"role": "user", "content": text}]},
            ).json()

        assert debug("x marks the spot")["classification"]["classifier"] == "two"
        assert asked == ["declines", "answers"]
        fallback = debug("def f(): pass")  # both decline: the heuristic answers
        assert fallback["classification"]["classifier"] == "heuristic"
        assert fallback["task_type"] == "coding"
    with pytest.raises(ConfigError, match=r"routing\.classifiers"):
        app_with(["nobody"])


def test_routing_classifiers_are_asked_only_below_the_confidence_gate(tmp_path: Path) -> None:
    """routing.llm_classifier_below: the heuristic answers first; a sure answer stands."""
    from starlette.testclient import TestClient

    from omni_proxy.app import create_app

    asked: list[str] = []

    class Slow:
        @hookimpl
        def register_classifiers(self, register: Any) -> None:
            async def second_opinion(body: Any) -> Classification:
                asked.append(str(body["messages"][-1]["content"]))
                return Classification("reasoning", 0.8, ("slow",), "slow")

            register("slow", lambda body: second_opinion(body))

    config = Config.model_validate(
        {
            "master_key": "m",
            "demo": True,
            "database_url": f"sqlite:///{tmp_path}/c.db",
            "routing": {"classifiers": ["slow"], "llm_classifier_below": 0.9},
        }
    )
    sure, unsure = (
        "write a python function that reverses a list",
        "How many squares are on a chessboard?",
    )
    with TestClient(create_app(config, pm=get_plugin_manager(plugins=[Slow()]))) as client:

        def debug(text: str) -> Any:
            return client.post(
                "/v1/router/debug",
                headers={"authorization": "Bearer m"},
                json={"messages": [{"role": "user", "content": text}]},
            ).json()

        confident = debug(sure)
        assert asked == []
        assert confident["classification"]["classifier"] == "heuristic"
        assert confident["task_type"] == "coding"
        doubtful = debug(unsure)
        assert asked == [unsure]
        assert doubtful["classification"]["classifier"] == "slow"
        assert doubtful["task_type"] == "reasoning"


def test_the_confidence_gate_is_a_probability() -> None:
    with pytest.raises(ValueError, match="llm_classifier_below"):
        Config.model_validate({"routing": {"llm_classifier_below": 1.5}})


def test_hook_call_monitoring_switched_on_after_the_first_request_sees_the_next(
    tmp_path: Path,
) -> None:
    """The request path calls hooks through pluggy itself, so pluggy's monitoring (and
    tracing) work whenever they are switched on, not only before the first request."""
    from starlette.testclient import TestClient

    from .conftest import MASTER_KEY
    from .test_security import in_process_app

    app = in_process_app(tmp_path)
    pm = app.state.services.pm
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    auth = {"authorization": f"Bearer {MASTER_KEY}"}
    called: list[str] = []
    with TestClient(app, raise_server_exceptions=False) as client:
        client.post("/v1/chat/completions", json=body, headers=auth)
        undo = pm.add_hookcall_monitoring(
            lambda name, impls, kwargs: called.append(name), lambda *a: None
        )
        try:
            client.post("/v1/chat/completions", json=body, headers=auth)
        finally:
            undo()
        client.post("/v1/chat/completions", json=body, headers=auth)
    assert {"authenticate", "classify", "select_route", "call_provider"} <= set(called)
    assert called.count("authenticate") == 1  # the monitor saw exactly the second request


def test_hook_admit_refuses_before_any_call_beside_the_built_in_limits(tmp_path: Path) -> None:
    """A plugin's ``admit`` runs for every authenticated request, with the estimates; its
    refusal is the client's error and nothing is called. The built-in limits are the same
    kind of plugin, registered for the app's lifetime."""
    from starlette.testclient import TestClient

    from omni_proxy.app import create_app
    from omni_proxy.defaults.limits import NAME as LIMITS
    from omni_proxy.errors import ProxyError

    seen: list[tuple[str, int]] = []
    called: list[str] = []

    class Quota:
        @hookimpl
        def admit(self, principal: Principal, context: Any) -> None:
            seen.append((context.requested_model, context.prompt_estimate))
            if context.requested_model == "demo-premium":
                raise ProxyError(429, "No premium today.", code="rate_limit_exceeded")

        @hookimpl
        def call_provider(self, route: Any) -> None:
            called.append(route.model.name)  # then the default provider call answers

    pm = get_plugin_manager(plugins=[Quota()])
    config = Config(master_key="m", demo=True, database_url=f"sqlite:///{tmp_path}/x.db")
    with TestClient(create_app(config, pm=pm)) as client:
        assert pm.has_plugin(LIMITS)
        ask = {"messages": [{"role": "user", "content": "hello there, how are you?"}]}
        refused = client.post(
            "/v1/chat/completions",
            headers={"authorization": "Bearer m"},
            json={"model": "demo-premium", **ask},
        )
        allowed = client.post(
            "/v1/chat/completions",
            headers={"authorization": "Bearer m"},
            json={"model": "demo-mini", **ask},
        )
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["message"] == "No premium today."
    assert allowed.status_code == 200, allowed.text
    assert [m for m, _ in seen] == ["demo-premium", "demo-mini"]
    assert all(estimate > 0 for _, estimate in seen)
    assert called == ["demo-mini"]
    assert not pm.has_plugin(LIMITS)  # unregistered at shutdown


def test_hook_startup_gets_services_and_old_app_state_names_still_answer(tmp_path: Path) -> None:
    """``startup`` gets the ``Services`` as a new argument; a plugin written before it, which
    reads ``app.state.registry`` / ``.db`` / ``.pipeline``, sees the same objects."""
    from starlette.testclient import TestClient

    from omni_proxy import Services
    from omni_proxy.app import create_app

    seen: dict[str, Any] = {}

    class Old:
        @hookimpl
        def startup(self, app: Any) -> None:
            seen["old"] = (app.state.registry, app.state.db, app.state.pipeline, app.state.pm)

    class New:
        @hookimpl
        def startup(self, services: Services) -> None:
            seen["new"] = (services.registry, services.db, services.pipeline, services.pm)

    pm = get_plugin_manager(plugins=[Old(), New()])
    config = Config(master_key="m", demo=True, database_url=f"sqlite:///{tmp_path}/x.db")
    app = create_app(config, pm=pm)
    with TestClient(app):
        assert seen["new"][1] is not None  # the database is connected before startup hooks
        assert all(a is b for a, b in zip(seen["old"], seen["new"], strict=True))
        app.state.mine = 1  # a plugin's own attributes work as before
        assert app.state.mine == 1
    with pytest.raises(AttributeError):
        _ = app.state.not_a_thing
