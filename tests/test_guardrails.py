"""Guardrails: the guard hooks, the built-in PII and secrets guard, end to end over sockets."""

from __future__ import annotations

import itertools
import re
import sqlite3
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omni_proxy import ProxyError, guard_blocked, hookimpl
from omni_proxy.config import Config, GuardrailSettings
from omni_proxy.guardrails.detect import find, iban_ok, luhn
from omni_proxy.guardrails.masking import Masker, RestoringStream
from omni_proxy.guardrails.stream import StreamGuards
from omni_proxy.testing import STUB_CONFIG, chat, proxy_app, stream_chat, stub_plugin, text_of
from omni_proxy.types import CallContext
from tests.conftest import MASTER_KEY, ProxyProcess
from tests.fakes.openai_upstream import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent

EMAIL = "jane.doe@example.com"
PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaA==\n-----END OPENSSH PRIVATE KEY-----"
CARD = "4111 1111 1111 1111"
OPENAI_KEY = "sk-proj-" + "Ab3" * 12


def kinds(text: str, **opts: Any) -> list[tuple[str, str]]:
    found = find(text, pii=opts.get("pii", True), secrets=opts.get("secrets", True))
    return [(f.kind, text[f.start : f.end]) for f in found]


# -- detection ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"mail {EMAIL} now", [("EMAIL", EMAIL)]),
        ("call +44 20 7946 0958 today", [("PHONE", "+44 20 7946 0958")]),
        ("call (415) 555-2671", [("PHONE", "(415) 555-2671")]),
        (f"card {CARD}.", [("CARD", CARD)]),
        ("iban DE89 3704 0044 0532 0130 00 ok", [("IBAN", "DE89 3704 0044 0532 0130 00")]),
        ("ssn 123-45-6789", [("SSN", "123-45-6789")]),
        (
            "host 10.0.12.7 and fe80::1ff:fe23:4567:890a",
            [("IP", "10.0.12.7"), ("IP", "fe80::1ff:fe23:4567:890a")],
        ),
        (f"key {OPENAI_KEY}", [("API_KEY", OPENAI_KEY)]),
        ("aws AKIAIOSFODNN7EXAMPLE", [("API_KEY", "AKIAIOSFODNN7EXAMPLE")]),
        ("gh ghp_" + "a1" * 18, [("API_KEY", "ghp_" + "a1" * 18)]),
        ("Authorization: Bearer abcdef0123456789xyz", [("TOKEN", "abcdef0123456789xyz")]),
        (PEM, [("PRIVATE_KEY", PEM)]),
    ],
)
def test_each_kind_is_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "In 2024 we shipped 3 releases; see section 4.2.1 and version 3.11.2.",
        "card 4111 1111 1111 1112 fails Luhn",
        "iban DE89 3704 0044 0532 0130 01 has a bad check",
        "ssn 000-12-3456 and 666-12-3456 and 123-00-4567 are never issued",
        "not an ip 999.1.1.1, a time 12:30:45, a date 2024-01-15",
        "sk-short and task-runner-handbook",
    ],
)
def test_ordinary_text_and_invalid_numbers_are_left(text: str) -> None:
    assert kinds(text) == []


def test_checksums() -> None:
    assert luhn("4111111111111111") and not luhn("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")


def test_categories_are_separate() -> None:
    text = f"{EMAIL} {OPENAI_KEY}"
    assert [k for k, _ in kinds(text, pii=False)] == ["API_KEY"]
    assert [k for k, _ in kinds(text, secrets=False)] == ["EMAIL"]


# -- masking and the stream window ----------------------------------------------------------
def test_same_value_same_placeholder_and_restore_only_restorable() -> None:
    masker = Masker(["EMAIL"])
    text = f"{EMAIL} and {EMAIL} and {CARD}"
    masked = masker.mask(text, find(text, pii=True, secrets=False))
    assert masked == "<EMAIL_1> and <EMAIL_1> and <CARD_1>"
    assert masker.restore("Hi <EMAIL_1>, <CARD_1>") == f"Hi {EMAIL}, <CARD_1>"


def _chunk(text: str, finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": finish}
    return orjson.dumps({"id": "c", "choices": [choice]})


def _content(data: bytes) -> str:
    return str(orjson.loads(data)["choices"][0]["delta"].get("content") or "")


def test_stream_restores_placeholders_cut_across_chunks() -> None:
    masker = Masker(["EMAIL"])
    masker.placeholder("EMAIL", EMAIL)
    guards = StreamGuards([RestoringStream(masker)], window=64)
    pieces = ["Write to <EM", "AIL_", "1> soon", ""]
    out = [
        _content(guards.chunk(_chunk(p, "stop" if i == 3 else None))) for i, p in enumerate(pieces)
    ]
    assert out == ["Write to ", "", f"{EMAIL} soon", ""]


def test_stream_guard_never_holds_more_than_the_window() -> None:
    class HoldEverything:
        def scan(self, text: str, final: bool) -> tuple[str, str]:
            return ("", text) if not final else (text, "")

    guards = StreamGuards([HoldEverything()], window=5)
    assert _content(guards.chunk(_chunk("abc"))) == ""
    assert _content(guards.chunk(_chunk("de"))) == ""  # 5 held: the window's worth
    assert _content(guards.chunk(_chunk("f"))) == "abcdef"  # 6 would be too many
    assert _content(guards.chunk(_chunk("gh"))) == ""
    assert guards.leftover() is not None  # ended without a finish chunk: still sent


# -- the hooks, through the documented third-party example ----------------------------------
def _doc_example() -> types.ModuleType:
    """The guardrail pip plugin of docs/plugin-hooks.md, as the docs print it."""
    doc = (ROOT / "docs" / "plugin-hooks.md").read_text()
    section = doc.split("## A guardrail as a pip plugin", 1)[1]
    code = re.search(r"```python\n# omni_proxy_codenames.py\n(.*?)```", section, re.S)
    assert code is not None
    module = types.ModuleType("omni_proxy_codenames")
    exec(compile(code.group(1), "omni_proxy_codenames.py", "exec"), module.__dict__)
    return module


def test_hook_guard_request_blocks_before_any_provider_and_counts() -> None:
    calls: list[str] = []

    class Spy:
        @hookimpl
        def call_provider(self, route: Any) -> None:
            calls.append(route.model.name)

        @hookimpl
        def record(self, event: Any) -> None:
            calls.append(f"record:{event.status}:{event.guardrails}")

    with proxy_app(STUB_CONFIG, plugins=[stub_plugin, _doc_example(), Spy()]) as client:
        err = chat(client, "What is the status of Project Nightingale?", expect=400)["error"]
        assert err["code"] == "codename_detected" and err["type"] == "invalid_request_error"
        assert calls == ["record:400:{'CODENAME': 1}"]  # recorded, no provider was called
        assert chat(client, "hello")["choices"][0]["message"]["content"] == "stub: hello"


def test_hook_guard_request_redacts_in_place_for_later_guards_and_the_provider() -> None:
    seen: list[str] = []

    class First:
        @hookimpl
        def guard_request(self, body: Any) -> None:
            body["messages"][-1]["content"] = body["messages"][-1]["content"].replace("x", "y")

    class Second:
        @hookimpl(trylast=True)
        def guard_request(self, body: Any) -> Any:
            async def look() -> None:
                seen.append(body["messages"][-1]["content"])

            return look()

    with proxy_app(STUB_CONFIG, plugins=[stub_plugin, Second(), First()]) as client:
        assert chat(client, "xox")["choices"][0]["message"]["content"] == "stub: yoy"
    assert seen == ["yoy"]


def test_hook_guard_response_rewrites_answers_and_streams() -> None:
    class Upper:
        def scan(self, text: str, final: bool) -> tuple[str, str]:
            return text.replace("hello", "HELLO"), ""

    class Shout:
        @hookimpl
        def guard_response(self, response: Any, stream: bool, operation: str) -> Any:
            assert operation == "chat"
            if stream:
                return Upper()
            message = response["choices"][0]["message"]
            message["content"] = message["content"].replace("hello", "HELLO")
            return None

    with proxy_app(STUB_CONFIG, plugins=[stub_plugin, Shout()]) as client:
        assert chat(client, "hello")["choices"][0]["message"]["content"] == "stub: HELLO"
        assert text_of(stream_chat(client, "hello there")) == "stub: HELLO there"


def test_doc_example_stream_guard_redacts_a_word_cut_across_chunks() -> None:
    guards = StreamGuards([_doc_example().Redact()], window=64)
    out = [_content(guards.chunk(_chunk(p))) for p in ["the nightin", "gale sang"]]
    assert "".join(out) == "the [redacted] sang" and out[0] == "the "


def test_a_request_too_deep_to_check_is_refused_not_passed() -> None:
    from omni_proxy.defaults.guard import guard_request

    nested: Any = "x"
    for _ in range(200):
        nested = [nested]
    ctx = CallContext("r", "/v1/responses", guard={})
    config = Config(guardrails=GuardrailSettings.model_validate({"secrets": {"mode": "block"}}))
    with pytest.raises(ProxyError) as caught:
        guard_request({"input": nested}, None, config, ctx)
    assert caught.value.status == 400 and caught.value.code == "too_deep"


def test_classifiers_see_the_masked_prompt_and_it_is_guarded_once() -> None:
    seen: list[str] = []

    class Look:
        @hookimpl
        def classify(self, body: Any) -> None:
            seen.append(body["messages"][-1]["content"])

        @hookimpl
        def call_provider(self, body: Any, context: Any) -> None:
            seen.append(body["messages"][-1]["content"])
            seen.append(str(context.findings))

    config = {**STUB_CONFIG, "guardrails": {"pii": {"mode": "mask", "restore": True}}}
    with proxy_app(config, plugins=[stub_plugin, Look()]) as client:
        answer = chat(client, f"mail {EMAIL}")
    assert seen == ["mail <EMAIL_1>", "mail <EMAIL_1>", "{'EMAIL': 1}"]
    assert answer["choices"][0]["message"]["content"] == f"stub: mail {EMAIL}"


def test_guard_off_does_no_work() -> None:
    class Spy:
        @hookimpl
        def call_provider(self, body: Any, context: Any) -> None:
            assert context.guard is None and context.findings is None

    with proxy_app(STUB_CONFIG, plugins=[stub_plugin, Spy()]) as client:
        assert client.app.state.services.pipeline.guards.on is False  # type: ignore[attr-defined]
        chat(client, f"mail {EMAIL}")


# -- end to end: the openai SDK -> a real proxy process -> a fake OpenAI upstream -----------
def _config(fake: FakeOpenAI) -> dict[str, Any]:
    return {
        "providers": {"up": {"plugin": "openai", "base_url": fake.base_url, "api_key": "sk-up"}},
        "models": [{"name": "cheap", "provider": "up", "model": "gpt-4o-mini"}],
        "guardrails": {
            "pii": {"mode": "mask", "restore": True},
            "secrets": {"mode": "block"},
        },
    }


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-up") as server:
        yield server


@pytest.fixture(scope="module")
def proxy(fake: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    with ProxyProcess(tmp_path_factory.mktemp("guard"), _config(fake)) as running:
        yield running


@pytest.fixture
def client(proxy: ProxyProcess, fake: FakeOpenAI) -> openai.OpenAI:
    fake.clear_behaviour()
    fake.requests.clear()
    return openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)


def _sent(fake: FakeOpenAI) -> str:
    return str(fake.last_request["json"]["messages"])


PROMPT = f"Write to {EMAIL} about card {CARD}, then {EMAIL} again"


def test_upstream_gets_placeholders_and_the_client_its_values(
    client: openai.OpenAI, fake: FakeOpenAI
) -> None:
    answer = client.chat.completions.create(
        model="cheap", messages=[{"role": "user", "content": PROMPT}]
    )
    sent = _sent(fake)
    assert EMAIL not in sent and "4111" not in sent
    assert "Write to <EMAIL_1> about card <CARD_1>, then <EMAIL_1> again" in sent
    assert answer.choices[0].message.content == f"Echo: {PROMPT}"


def test_streamed_answers_are_restored(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    stream = client.chat.completions.create(
        model="cheap",
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Echo: {PROMPT}"
    assert EMAIL not in _sent(fake)
    assert chunks[-1].model_extra["omni"]["model_used"] == "cheap"


def test_legacy_completions_guard_every_prompt(client: openai.OpenAI, fake: FakeOpenAI) -> None:
    done = client.completions.create(model="cheap", prompt=[f"a {EMAIL}", f"b {CARD}"])
    sent = [str(r["json"]["messages"]) for r in fake.requests]
    assert len(sent) == 2 and "<EMAIL_1>" in sent[0] and "<CARD_1>" in sent[1]
    assert EMAIL not in "".join(sent) and "4111" not in "".join(sent)
    assert [c.text for c in done.choices] == [f"Echo: a {EMAIL}", f"Echo: b {CARD}"]


def test_a_credential_never_leaves_and_the_block_is_recorded_as_counts(
    client: openai.OpenAI, fake: FakeOpenAI, proxy: ProxyProcess
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="cheap",
            messages=[{"role": "user", "content": f"my key is {OPENAI_KEY}, mail {EMAIL}"}],
        )
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "secret_detected"
    assert OPENAI_KEY not in str(error)
    assert fake.requests == []  # nothing reached the upstream
    rid = caught.value.response.headers["x-request-id"]
    db = proxy.tmp / "proxy.db"
    row = None
    for _ in range(100):  # the recorder writes in the background
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT status, guardrails FROM requests WHERE id = ?", (rid,))
            row = row.fetchone()
        if row is not None:
            break
        time.sleep(0.05)
    assert row is not None and row[0] == 400
    assert orjson.loads(row[1]) == {"API_KEY": 1, "EMAIL": 1}
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert OPENAI_KEY not in dump and EMAIL not in dump
    metrics = httpx.get(
        proxy.root + "/metrics", headers={"authorization": f"Bearer {MASTER_KEY}"}
    ).text
    assert 'omni_guardrail_findings_total{outcome="blocked",type="API_KEY"} 1.0' in metrics


# -- every endpoint that reaches a provider is guarded ---------------------------------------
@pytest.fixture(scope="module")
def native_proxy(
    native_up: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxyProcess]:
    config = {
        "providers": {
            # Named "openai": the preset serves /v1/responses natively (passed through).
            "openai": {
                "plugin": "openai",
                "base_url": native_up.base_url,
                "api_key": "sk-upstream-test",
            }
        },
        "models": [
            {"name": "native-mini", "provider": "openai", "model": "gpt-4o-mini"},
            {
                "name": "embed",
                "provider": "openai",
                "model": "text-embedding-3-small",
                "kind": "embedding",
            },
        ],
        "guardrails": {"pii": {"mode": "mask"}, "secrets": {"mode": "block"}},
    }
    with ProxyProcess(tmp_path_factory.mktemp("native-guard"), config) as running:
        yield running


def _post(proxy: ProxyProcess, path: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"authorization": f"Bearer {MASTER_KEY}"}
    return httpx.post(proxy.base_url + path, json=body, headers=headers, timeout=30)


def test_responses_embeddings_and_messages_are_guarded(
    native_proxy: ProxyProcess, native_up: FakeOpenAI
) -> None:
    native_up.reset()
    answer = _post(native_proxy, "/responses", {"model": "native-mini", "input": f"mail {EMAIL}"})
    assert answer.status_code == 200, answer.text
    sent = native_up.requests_to("/responses")[-1]["json"]
    assert sent["input"] == "mail <EMAIL_1>"

    vectors = _post(native_proxy, "/embeddings", {"model": "embed", "input": [f"hi {EMAIL}"]})
    assert vectors.status_code == 200, vectors.text
    assert native_up.requests_to("/embeddings")[-1]["json"]["input"] == ["hi <EMAIL_1>"]

    native_up.reset()
    leaked = f"deploy with {OPENAI_KEY}"
    refused = _post(native_proxy, "/responses", {"model": "native-mini", "input": leaked})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "secret_detected"
    anthropic = _post(
        native_proxy,
        "/messages",
        {
            "model": "native-mini",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": leaked}],
        },
    )
    assert anthropic.status_code == 400
    assert (
        anthropic.json()["type"] == "error" and "credential" in anthropic.json()["error"]["message"]
    )
    assert native_up.requests == []  # neither reached the upstream


def test_a_stream_guard_can_end_a_stream_with_an_error_event() -> None:
    class Stop:
        def scan(self, text: str, final: bool) -> tuple[str, str]:
            if "there" in text:
                raise guard_blocked("The answer was stopped.", "answer_blocked")
            return text, ""

    class Guard:
        @hookimpl
        def guard_response(self, stream: bool) -> Any:
            return Stop() if stream else None

    with proxy_app(STUB_CONFIG, plugins=[stub_plugin, Guard()]) as client:
        chunks = stream_chat(client, "hello there")
    assert chunks[-1]["error"]["code"] == "answer_blocked"
    assert "there" not in text_of(chunks[:-1])


FRAGMENTS = [EMAIL, CARD, "+1 415-555-2671", OPENAI_KEY, "10.0.0.1", "fe80::1", "Bearer ", PEM]
TEXTS = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(FRAGMENTS)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(TEXTS.map("".join))
def test_any_text_masks_and_restores_to_itself(text: str) -> None:
    masker = Masker(
        ["EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP", "API_KEY", "TOKEN", "PRIVATE_KEY"]
    )
    found = find(text, pii=True, secrets=True)
    assert all(0 <= f.start < f.end <= len(text) for f in found)
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))
    masked = masker.mask(text, found)
    if "<" not in text:  # a text holding its own placeholder-like tags may not round-trip
        assert masker.restore(masked) == text
