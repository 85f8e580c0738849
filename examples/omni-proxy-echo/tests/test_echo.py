"""The echo provider through the whole proxy, in-process (omni_proxy.testing)."""

from __future__ import annotations

import omni_proxy_echo
import pytest

from omni_proxy.testing import chat, embed, make_provider, model_info, stream_chat, text_of

CONFIG = {"providers": {"echo": {"plugin": "echo", "prefix": "you said: "}}}


def test_chat(omni_proxy):
    client = omni_proxy(CONFIG, plugins=[omni_proxy_echo])
    answer = chat(client, "hello there", model="echo")
    assert answer["choices"][0]["message"]["content"] == "you said: hello there"
    assert answer["model"] == "echo" and answer["omni"]["provider"] == "echo"


def test_stream(omni_proxy):
    client = omni_proxy(CONFIG, plugins=[omni_proxy_echo])
    chunks = stream_chat(
        client, "one two three", model="echo", stream_options={"include_usage": True}
    )
    assert text_of(chunks) == "you said: one two three"
    assert chunks[-1]["usage"]["completion_tokens"] == 5


def test_embeddings(omni_proxy):
    client = omni_proxy(CONFIG, plugins=[omni_proxy_echo])
    result = embed(client, ["a", "b"], model="echo-embed", dimensions=4)
    assert [len(d["embedding"]) for d in result["data"]] == [4, 4]


def test_upstream_errors_become_proxy_errors(omni_proxy):
    client = omni_proxy(CONFIG, plugins=[omni_proxy_echo])
    error = chat(client, "fail 400", model="echo", expect=400)["error"]
    assert "asked to fail" in error["message"]


async def test_the_provider_alone():
    provider = make_provider(omni_proxy_echo.EchoProvider)
    answer = await provider.chat(
        {"messages": [{"role": "user", "content": "hi"}]}, model_info("echo")
    )
    assert answer["choices"][0]["message"]["content"] == "echo: hi"
    with pytest.raises(Exception, match="asked to fail"):
        await provider.chat({"messages": [{"role": "user", "content": "fail 503"}]}, model_info())
