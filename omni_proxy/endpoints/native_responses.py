"""``/v1/responses`` passed through to upstreams that serve the Responses API themselves.

After routing, a request whose model's provider says ``supports_responses()`` goes upstream
as the client sent it, with only ``model`` replaced (and ``previous_response_id`` expanded
when the upstream cannot resolve it itself); the answer comes back as the upstream wrote it.
Only the events that carry the whole ``Response`` (``response.created`` … ``response.completed``)
are re-written, to give ``model`` its public name and the final one its ``omni`` object;
every other event is relayed byte for byte. Fallback, limits, recording and the org's stored
responses work as on the translated path (``routes/responses.py``), which takes over when a
fallback lands on a provider without the Responses API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import ProxyError, bad_request
from ..pipeline import Handoff, Operation, Pipeline
from ..text import content_text
from ..types import Attempt, CallContext, Route, Usage, clamp_tokens
from ..wire.relay import aclose, gone, next_chunk
from ..wire.sse import event_parts, named_event
from ..wire.validation import check_model_length, type_name

#: Events whose data carries the whole ``Response`` (re-written: public model name, omni).
ENVELOPES = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.queued",
        "response.completed",
        "response.incomplete",
        "response.failed",
    }
)
TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
#: Events that carry an upstream's error text.
FAILURES = frozenset({"error", "response.failed", "response.incomplete"})
#: Fields no upstream can honour through the proxy: their follow-up calls (polling, cancel,
#: the Conversations API) are not proxied.
NEVER = {
    "background": "Background responses are not supported by this proxy.",
    "conversation": "Conversations are not supported by this proxy; use 'previous_response_id'.",
}
PORTABLE_KINDS = frozenset({"message", "function_call", "function_call_output"})


def is_native(pipeline: Pipeline, route: Route) -> bool:
    """Whether the route's provider takes Responses API requests as they are."""
    return provider_is_native(pipeline, route.model.provider)


def can_serve(pipeline: Pipeline, model: str) -> bool:
    """Whether a request only native providers can take may go on: the named model's
    provider is native, or ``auto`` has a native provider to pick from."""
    if model == "auto":
        return any(provider_is_native(pipeline, name) for name in pipeline.providers.names())
    named = pipeline.registry.get(model)
    return named is not None and provider_is_native(pipeline, named.provider)


def provider_is_native(pipeline: Pipeline, name: str) -> bool:
    # getattr: a provider class that predates ``supports_responses`` is translated.
    check = getattr(pipeline.providers.get(name), "supports_responses", None)
    return bool(check()) if callable(check) else False


# -- the request ------------------------------------------------------------------------------
@dataclass
class Basics:
    """What the proxy itself must know of any ``CreateResponse`` body, native or not."""

    model: str
    stream: bool
    store: bool
    previous_response_id: str | None


def _typed(body: dict[str, Any], key: str, kind: type, expected: str) -> Any:
    value = body.get(key)
    if value is not None and not isinstance(value, kind):
        raise bad_request(
            f"Invalid type for '{key}': expected {expected}, but got {type_name(value)} instead.",
            param=key,
            code="invalid_type",
        )
    return value


def check_basics(body: dict[str, Any]) -> Basics:
    """The checks every request gets, whichever upstream answers it (400 otherwise)."""
    for key, message in NEVER.items():
        if body.get(key):
            raise bad_request(message, param=key, code="unsupported_parameter")
    model = body.get("model")
    if model is None:
        raise bad_request(
            "Missing required parameter: 'model'.", param="model", code="missing_required_parameter"
        )
    if not isinstance(model, str) or not model:
        raise bad_request(
            f"Invalid type for 'model': expected a non-empty string, but got {type_name(model)} "
            "instead.",
            param="model",
            code="invalid_type",
        )
    check_model_length(model)
    previous = _typed(body, "previous_response_id", str, "a string")
    if body.get("input") is None and previous is None and body.get("prompt") is None:
        raise bad_request(
            "Missing required parameter: 'input'.", param="input", code="missing_required_parameter"
        )
    stream = _typed(body, "stream", bool, "a boolean")
    store = _typed(body, "store", bool, "a boolean")
    _check_tools(body.get("tools"))
    return Basics(model, bool(stream), store is not False, previous)


def _check_tools(tools: Any) -> None:
    """``tools`` is an array of objects each with a string ``type``, as OpenAI checks,
    whichever upstream answers (built-in tools pass through to native providers)."""
    if tools is None:
        return
    if not isinstance(tools, list):
        raise bad_request(
            f"Invalid type for 'tools': expected an array of tools, but got {type_name(tools)} "
            "instead.",
            param="tools",
            code="invalid_type",
        )
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise bad_request(
                f"Invalid 'tools[{i}]': expected an object with a string 'type'.",
                param=f"tools[{i}]",
                code="invalid_type",
            )


def input_items(value: Any) -> list[dict[str, Any]]:
    """``input`` as a list of items, as little changed as can be (``type`` filled in for
    bare ``{role, content}`` messages), for storing and for expanding history."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise bad_request(
            f"Invalid type for 'input': expected a string or an array of input items, but got "
            f"{type_name(value)} instead.",
            param="input",
            code="invalid_type",
        )
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise bad_request(
                f"Invalid type for 'input[{i}]': expected an object, but got {type_name(item)} "
                "instead.",
                param=f"input[{i}]",
                code="invalid_type",
            )
        if "type" not in item and "role" in item:
            item = {"type": "message", **item}
        items.append(item)
    return items


def portable_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored conversation items any Responses upstream can take as ``input``: what they
    said, without the ids that only the upstream which made them can resolve.

    Assistant messages become plain text, calls and their outputs keep their ``call_id``;
    reasoning is kept only when it carries its ``encrypted_content``; built-in tool calls
    (web search and the like) go, their findings being in the message that followed.
    """
    out: list[dict[str, Any]] = []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            role = item.get("role")
            if role == "assistant":
                out.append({"role": "assistant", "content": content_text(item.get("content"))})
            else:
                out.append({"type": "message", "role": role, "content": item.get("content")})
        elif kind == "function_call":
            out.append({k: item[k] for k in ("type", "call_id", "name", "arguments") if k in item})
        elif kind == "function_call_output":
            out.append({k: item[k] for k in ("type", "call_id", "output") if k in item})
        elif kind == "reasoning" and item.get("encrypted_content"):
            out.append(item)
    return out


def routing_body(body: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    """A chat-shaped stand-in for a request that cannot be translated (built-in tools,
    files by id, ...): enough for the classifier, the filters and the token estimate."""
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    for item in portable_items([*history, *input_items(body.get("input"))]):
        role = item.get("role")
        content = item.get("content")
        if item.get("type") == "function_call_output":
            messages.append({"role": "user", "content": content_text(item.get("output"))})
        elif role in ("user", "system", "developer", "assistant"):
            parts: list[dict[str, Any]] = [{"type": "text", "text": content_text(content)}]
            if isinstance(content, list):
                parts += [
                    {"type": "image_url", "image_url": {"url": "image"}}
                    for p in content
                    if isinstance(p, dict) and p.get("type") == "input_image"
                ]
            messages.append(
                {"role": role, "content": parts if len(parts) > 1 else parts[0]["text"]}
            )
    if not messages:
        messages.append({"role": "user", "content": ""})
    chat: dict[str, Any] = {"model": body["model"], "messages": messages}
    tools = [
        {"type": "function", "function": {"name": str(t.get("name") or "tool")}}
        for t in body.get("tools") or ()
        if isinstance(t, dict) and t.get("type") == "function"
    ]
    if tools:
        chat["tools"] = tools
    return chat


@dataclass
class NativeTurn:
    """One request's body and history, and how to send them to a given upstream."""

    body: dict[str, Any]
    basics: Basics
    #: The stored conversation before this turn (the previous response's input and output).
    history: list[dict[str, Any]] = field(default_factory=list)
    #: Provider that answered the previous response natively (it can resolve its own id).
    previous_provider: str | None = None

    def payload_for(self, route: Route) -> dict[str, Any]:
        """The client's body with the upstream model id; ``previous_response_id`` stays
        only for the provider that made that response (it keeps the state — reasoning,
        tool results — itself); any other gets the stored conversation in ``input``."""
        payload = {**self.body, "model": route.model.model}
        if self.basics.previous_response_id is not None and (
            self.previous_provider != route.model.provider
        ):
            payload.pop("previous_response_id", None)
            raw = self.body.get("input")
            new = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw or []
            payload["input"] = portable_items(self.history) + list(new)
        return payload

    def previous(self) -> tuple[str, int] | None:
        """The response this one continues and how many items its history holds."""
        previous = self.basics.previous_response_id
        return (previous, len(self.history)) if previous is not None else None

    def conversation(self) -> list[dict[str, Any]]:
        """What is stored as this response's input: the history, then the new items."""
        return self.history + input_items(self.body.get("input"))


# -- calling ----------------------------------------------------------------------------------
def _failure(message: str, code: Any) -> ProxyError:
    """An upstream's in-band failure (``error`` event, ``failed`` response) as an error
    the fallback logic understands: rate limits are 429s, anything else a 502."""
    limited = code == "rate_limit_exceeded"
    return ProxyError(
        429 if limited else 502,
        message or "the upstream failed to generate a response",
        type="requests" if limited else "server_error",
        code=str(code) if code else "upstream_error",
        retryable=True,
    )


def failure_of(name: str | None, data: bytes) -> ProxyError | None:
    """The error an ``error`` or ``response.failed`` event reports, else None."""
    if name not in ("error", "response.failed"):
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _failure("the upstream sent an unreadable error event", None)
    if not isinstance(obj, dict):
        return _failure("", None)
    err = obj if name == "error" else (obj.get("response") or {}).get("error")
    err = err if isinstance(err, dict) else {}
    return _failure(str(err.get("message") or ""), err.get("code"))


async def _first_events(iterator: AsyncIterator[bytes]) -> list[bytes]:
    """Events up to the first with data (keep-alive comments may come first)."""
    events = []
    while True:
        raw = await anext(iterator)
        events.append(raw)
        name, data = event_parts(raw)
        if data:
            failure = failure_of(name, data)
            if failure is not None:
                raise failure
            return events


def check_response(response: Any) -> dict[str, Any]:
    if not isinstance(response, dict):
        raise ProxyError(502, "the upstream sent no Response object", type="server_error")
    if response.get("status") == "failed":
        err = response.get("error")
        err = err if isinstance(err, dict) else {}
        raise _failure(str(err.get("message") or ""), err.get("code"))
    return response


async def guard_turn(pipeline: Pipeline, ctx: CallContext, turn: NativeTurn) -> None:
    """The guard over what a native upstream may receive: this turn and the stored history.
    Its findings replace those of the routing body (the same text, already guarded)."""
    ctx.findings = None
    await pipeline.guards.request(turn.body, ctx, "responses")
    if turn.history:
        earlier: dict[str, Any] = {"input": turn.history}
        await pipeline.guards.request(earlier, ctx, "responses")
        turn.history = earlier["input"]


async def attempt(
    pipeline: Pipeline, ctx: CallContext, turn: NativeTurn, stream: bool
) -> tuple[Any, list[bytes]] | dict[str, Any] | Handoff:
    """The plan's routes tried natively by the pipeline's call loop until one answers: its
    ``Response`` (or, streaming, its iterator and first events), or a ``Handoff`` when the
    fallback is a provider without the Responses API."""
    if pipeline.guards.wanted(ctx):
        await guard_turn(pipeline, ctx, turn)
    op = Operation(
        "responses",
        payload=turn.payload_for,
        first=_first_events,
        check=_checked,
        handoff=lambda route: not is_native(pipeline, route),
        guarded=True,
    )
    return await pipeline.call(turn.body, ctx, op, stream)  # type: ignore[no-any-return]


def _checked(response: Any, route: Route) -> None:
    check_response(response)


def usage_of(response: dict[str, Any]) -> Usage | None:
    usage = response.get("usage")
    if not isinstance(usage, dict):
        return None
    return Usage(clamp_tokens(usage.get("input_tokens")), clamp_tokens(usage.get("output_tokens")))


def _dress(
    pipeline: Pipeline, ctx: CallContext, response: dict[str, Any], turn: NativeTurn
) -> None:
    """Public model name, the client's ``previous_response_id`` (the upstream may have been
    sent the history instead) — on every copy of the ``Response`` the client sees."""
    assert ctx.route is not None
    response["model"] = ctx.route.model.name
    if turn.basics.previous_response_id is not None:
        response["previous_response_id"] = turn.basics.previous_response_id


def finish(
    pipeline: Pipeline, ctx: CallContext, response: dict[str, Any], turn: NativeTurn
) -> dict[str, Any]:
    """A non-streamed native answer ready for the client: usage, ``omni``."""
    usage = usage_of(response) or Usage(ctx.prompt_estimate, 0)
    ctx.usage = usage
    _dress(pipeline, ctx, response, turn)
    response["omni"] = {**pipeline.omni(ctx, usage), "native": True}
    return response


def _sequence(data: bytes) -> int | None:
    at = data.rfind(b'"sequence_number":')
    if at < 0:
        return None
    digits = data[at + 18 : at + 40].lstrip()
    end = 0
    while end < len(digits) and digits[end : end + 1].isdigit():
        end += 1
    return int(digits[:end]) if end else None


class _Relay:
    """Per-stream state: the last sequence number, how many deltas went by, the end."""

    def __init__(
        self,
        pipeline: Pipeline,
        ctx: CallContext,
        turn: NativeTurn,
        keep: Callable[[dict[str, Any]], Awaitable[None]] | None,
    ) -> None:
        self.pipeline, self.ctx, self.turn, self.keep = pipeline, ctx, turn, keep
        self.seq = -1
        self.deltas = 0
        self.ended = False

    def estimate(self) -> Usage:
        return Usage(self.ctx.prompt_estimate, self.deltas)

    async def handle(self, raw: bytes) -> bytes:
        """One upstream event as the client gets it (the same bytes unless it carries
        the ``Response``); notes usage and failures on the context."""
        name, data = event_parts(raw)
        seq = _sequence(data) if data else None
        self.seq = self.seq if seq is None else seq
        if name is None:
            return raw
        if name in FAILURES:
            # Failures may echo the provider key: blanked for the client, log and record.
            raw = self.pipeline.scrub_bytes(raw)
            data = self.pipeline.scrub_bytes(data)
        if name.endswith(".delta"):
            self.deltas += 1
        elif name == "error":
            self._failed(failure_of(name, data))
        elif name in ENVELOPES:
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError:
                return raw
            response = obj.get("response") if isinstance(obj, dict) else None
            if isinstance(response, dict):
                await self._envelope(name, data, response)
                return named_event(name, obj)
        return raw

    async def _envelope(self, name: str, data: bytes, response: dict[str, Any]) -> None:
        ctx = self.ctx
        _dress(self.pipeline, ctx, response, self.turn)
        if name not in TERMINAL:
            return
        ctx.usage = usage_of(response) or self.estimate()
        response["omni"] = {**self.pipeline.omni(ctx, ctx.usage), "native": True}
        if name == "response.failed":
            self._failed(failure_of(name, data))
            return
        self.ended = True
        if self.keep is not None:
            await self.keep(response)

    def _failed(self, err: ProxyError | None) -> None:
        assert err is not None
        self.pipeline.scrub(err)
        self.ended = True
        ctx = self.ctx
        ctx.status, ctx.error, ctx.error_code = err.status, err.message, err.code
        ctx.usage = ctx.usage or self.estimate()

    def broke(self, err: ProxyError) -> bytes:
        """The stream broke on the proxy's side of it: note it, tell the client."""
        ctx = self.ctx
        assert ctx.route is not None
        self.pipeline.scrub(err)
        model = ctx.route.model
        ctx.attempts.append(Attempt(model.name, model.provider, err.status, err.message, err.code))
        self._failed(err)
        event = {
            "type": "error",
            "code": err.code or "server_error",
            "message": err.message,
            "param": None,
            "sequence_number": self.seq + 1,
        }
        return named_event("error", event)


async def relay(
    pipeline: Pipeline,
    ctx: CallContext,
    iterator: Any,
    first: list[bytes],
    turn: NativeTurn,
    keep: Callable[[dict[str, Any]], Awaitable[None]] | None,
) -> AsyncGenerator[bytes, None]:
    """The upstream's events for the client; stores the final ``Response`` (``keep``)
    before its event goes out. Notes on ``ctx`` how the stream ended; the request's owner
    records it when the stream closes."""
    assert ctx.route is not None
    idle_s = pipeline.config.routing.stream_idle_s
    ends = time.monotonic() + pipeline.config.routing.stream_max_s
    state = _Relay(pipeline, ctx, turn, keep)
    try:
        try:
            pending = first
            while not state.ended:
                for raw in pending:
                    yield await state.handle(raw)
                if state.ended:
                    break
                try:
                    pending = [await next_chunk(iterator, idle_s, ends)]
                except StopAsyncIteration:
                    raise ProxyError(
                        502,
                        f"{ctx.route.model.provider}: the stream ended before response.completed",
                        type="server_error",
                        code="upstream_stream_cut",
                    ) from None
        except ProxyError as err:
            yield state.broke(err)
    except (asyncio.CancelledError, GeneratorExit):
        ctx.usage = ctx.usage or state.estimate()
        gone(ctx)
        raise
    finally:
        await aclose(iterator)
