"""Demo models behave like models for clients: tool arguments and structured output that
satisfy the schemas the client sent, so ``parse()`` and agent tool loops work in demo mode.

Everything runs through ``omni-proxy serve --demo`` over a real socket with the official
openai and anthropic SDKs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import anthropic
import jsonschema
import openai
import pytest
from pydantic import BaseModel, Field

from tests.conftest import MASTER_KEY, ProxyProcess


class Colour(StrEnum):
    red = "red"
    blue = "blue"


class Address(BaseModel):
    street: str
    zip_code: str = Field(min_length=5, max_length=5)


class Person(BaseModel):
    name: str
    age: int = Field(ge=18, le=99)
    score: float
    tags: list[str]
    favourite: Colour
    kind: Literal["customer", "staff"]
    address: Address
    manager: Person | None
    email: str | None = None


class GetWeather(BaseModel):
    """Get the current weather in a city."""

    city: str
    unit: Literal["celsius", "fahrenheit"]
    days: int = Field(ge=1, le=7)


class SearchDocs(BaseModel):
    """Search the documentation."""

    query: str


SEARCH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "search_docs",
        "description": "Search the documentation",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 3},
                "limit": {"type": "integer", "minimum": 1, "maximum": 20},
                "since": {"type": "string", "format": "date"},
                "filters": {"type": "array", "items": {"$ref": "#/$defs/filter"}, "minItems": 1},
            },
            "required": ["query", "limit", "filters"],
            "additionalProperties": False,
            "$defs": {
                "filter": {
                    "type": "object",
                    "properties": {
                        "field": {"enum": ["title", "body"]},
                        "value": {"type": "string"},
                    },
                    "required": ["field", "value"],
                }
            },
        },
    },
}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    tmp: Path = tmp_path_factory.mktemp("demo-clients")
    with ProxyProcess(tmp, args=["--demo"]) as running:
        yield running


@pytest.fixture
def client(proxy: ProxyProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key=MASTER_KEY, max_retries=0, timeout=10)


def test_parse_with_a_pydantic_model(client: openai.OpenAI) -> None:
    completion = client.chat.completions.parse(
        model="auto",
        messages=[{"role": "user", "content": "Invent a person"}],
        response_format=Person,
    )
    person = completion.choices[0].message.parsed
    assert isinstance(person, Person)
    assert (
        18 <= person.age <= 99 and person.favourite in Colour and len(person.address.zip_code) == 5
    )


def test_streamed_parse(client: openai.OpenAI) -> None:
    with client.chat.completions.stream(
        model="demo-mini",
        messages=[{"role": "user", "content": "Invent a person"}],
        response_format=Person,
    ) as stream:
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, Person)


def test_json_schema_answer_is_valid(client: openai.OpenAI) -> None:
    schema = SEARCH_TOOL["function"]["parameters"]
    reply = client.chat.completions.create(
        model="demo-mini",
        messages=[{"role": "user", "content": "search"}],
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
    )
    jsonschema.validate(json.loads(reply.choices[0].message.content or ""), schema)
    plain = client.chat.completions.create(
        model="demo-mini",
        messages=[{"role": "user", "content": "anything, as JSON"}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(plain.choices[0].message.content or ""), dict)


def test_tool_loop_with_schema_valid_arguments(client: openai.OpenAI) -> None:
    """A minimal agent: call the tool the model picks, send its result, get an answer."""
    tools: list[Any] = [
        openai.pydantic_function_tool(SearchDocs),
        openai.pydantic_function_tool(GetWeather),
    ]
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    for _ in range(4):
        completion = client.chat.completions.parse(model="auto", messages=messages, tools=tools)
        message = completion.choices[0].message
        if not message.tool_calls:
            break
        assert completion.choices[0].finish_reason == "tool_calls"
        messages.append(message)
        for call in message.tool_calls:
            assert call.function.name == "GetWeather"  # the tool the prompt is about
            weather = call.function.parsed_arguments
            assert isinstance(weather, GetWeather) and 1 <= weather.days <= 7
            messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"})
    else:
        raise AssertionError("the demo model never stopped calling tools")
    assert "sunny, 21 C" in (message.content or "")
    assert len(messages) == 3


@pytest.mark.parametrize("stream", [False, True])
def test_forced_tool_arguments_satisfy_the_schema(client: openai.OpenAI, stream: bool) -> None:
    kwargs: dict[str, Any] = {
        "model": "demo-premium",
        "messages": [{"role": "user", "content": "weather please"}],
        "tools": [openai.pydantic_function_tool(GetWeather), SEARCH_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "search_docs"}},
    }
    if stream:
        with client.chat.completions.stream(**kwargs) as events:
            call = events.get_final_completion().choices[0].message.tool_calls[0]  # type: ignore[index]
    else:
        call = client.chat.completions.create(**kwargs).choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "search_docs"  # type: ignore[union-attr]
    args = json.loads(call.function.arguments)  # type: ignore[union-attr]
    jsonschema.validate(args, SEARCH_TOOL["function"]["parameters"])


def test_anthropic_tool_use_input_matches_the_schema(proxy: ProxyProcess) -> None:
    client = anthropic.Anthropic(base_url=proxy.root, api_key=MASTER_KEY, max_retries=0)
    schema = SEARCH_TOOL["function"]["parameters"]
    message = client.messages.create(
        model="demo-premium",
        max_tokens=200,
        tools=[{"name": "search_docs", "description": "Search", "input_schema": schema}],
        messages=[{"role": "user", "content": "search the docs for routing"}],
    )
    uses = [b for b in message.content if b.type == "tool_use"]
    assert uses and message.stop_reason == "tool_use"
    jsonschema.validate(uses[0].input, schema)


def test_responses_parse(client: openai.OpenAI) -> None:
    response = client.responses.parse(
        model="demo-mini", input="Invent a person", text_format=Person
    )
    assert isinstance(response.output_parsed, Person)


def test_pydantic_ai_agent_with_output_type_and_a_tool(proxy: ProxyProcess) -> None:
    """pydantic-ai in demo mode: a tool the model calls with schema-valid arguments, then
    structured output of the requested type (its ``final_result`` tool)."""
    pydantic_ai = pytest.importorskip("pydantic_ai")
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel(
        "demo-premium", provider=OpenAIProvider(base_url=proxy.base_url, api_key=MASTER_KEY)
    )
    calls: list[GetWeather] = []
    agent = pydantic_ai.Agent(model, output_type=Person)

    @agent.tool_plain
    def get_weather(city: str, unit: Literal["celsius", "fahrenheit"], days: int) -> str:
        """Get the current weather in a city."""
        calls.append(GetWeather(city=city, unit=unit, days=max(1, min(days, 7))))
        return "sunny"

    result = agent.run_sync("Check the weather in a city, then invent a person")
    assert isinstance(result.output, Person)
    assert len(calls) == 1  # the tool first, with arguments its signature accepts
    assert result.usage.requests == 2  # then the output: no endless loop
    direct = agent.run_sync("Invent a person")
    assert isinstance(direct.output, Person) and direct.usage.requests <= 2
