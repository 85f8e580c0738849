"""The OpenAI Agents SDK against a real ``serve --demo``: an agent with a function tool, over
both of the SDK's model kinds (the Responses API and Chat Completions)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest

from tests.conftest import MASTER_KEY, ProxyProcess

agents = pytest.importorskip("agents", reason="openai-agents comes with the test extra")

calls: list[str] = []
TEXT_DELTA = "response.output_text.delta"


@agents.function_tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    calls.append(city)
    return f"sunny, 21 C in {city}"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    agents.set_tracing_disabled(True)  # no export to OpenAI's tracing endpoint
    with ProxyProcess(tmp_path_factory.mktemp("agents-demo"), args=["--demo"]) as running:
        yield running


@pytest.fixture
def client(proxy: ProxyProcess) -> openai.AsyncOpenAI:
    """A client per test: each run has its own event loop, and connections are bound to one."""
    return openai.AsyncOpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0)


@pytest.mark.parametrize("api", ["responses", "chat_completions"])
def test_agent_calls_the_function_tool(client: openai.AsyncOpenAI, api: str) -> None:
    kind = agents.OpenAIResponsesModel if api == "responses" else agents.OpenAIChatCompletionsModel
    agent = agents.Agent(
        name="weather",
        instructions="Answer with the weather tool.",
        model=kind(model="demo-premium", openai_client=client),
        tools=[get_weather],
    )
    calls.clear()
    result = agents.Runner.run_sync(agent, "What is the weather in Paris?", max_turns=4)
    assert len(calls) == 1 and isinstance(calls[0], str)
    assert f"sunny, 21 C in {calls[0]}" in result.final_output
    assert result.context_wrapper.usage.output_tokens > 0


def test_streamed_agent_run(client: openai.AsyncOpenAI) -> None:
    agent = agents.Agent(
        name="weather",
        model=agents.OpenAIResponsesModel(model="demo-mini", openai_client=client),
        tools=[get_weather],
    )

    async def run() -> tuple[str, int]:
        result = agents.Runner.run_streamed(agent, "Weather in Oslo?", max_turns=4)
        deltas = [
            event.data.delta
            async for event in result.stream_events()
            if event.type == "raw_response_event" and event.data.type == TEXT_DELTA
        ]
        assert "".join(deltas).strip() == str(result.final_output).strip()
        return str(result.final_output), len(deltas)

    calls.clear()
    final, chunks = asyncio.run(run())
    assert calls and f"sunny, 21 C in {calls[0]}" in final and chunks > 0
