"""``POST /v1/responses`` for ``FakeOpenAI``, in OpenAI's wire format (the spec's
``CreateResponse`` in; ``Response`` or its ``ResponseStreamEvent`` stream out).

Deterministic like the chat endpoint: the answer to user text ``t`` is ``"Echo: t"``, to a
``function_call_output`` ``"Tool result: <output>"``; a function tool named in the last user
text (or forced by ``tool_choice``) is called; a ``web_search`` tool is "run" when the text
says "search". Tokens are whitespace-separated words. Responses are kept in memory so
``previous_response_id`` works — and an unknown one is OpenAI's 404. Every stream it sends
is kept (``sent_streams``) so tests can compare what the client got byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

if TYPE_CHECKING:
    from tests.fakes.openai_upstream import Behaviour, FakeOpenAI

# Top-level fields of the spec's ``CreateResponse``; anything else is OpenAI's 400.
KNOWN_FIELDS = frozenset(
    {
        "background", "context_management", "conversation", "include", "input",
        "instructions", "max_output_tokens", "max_tool_calls", "metadata", "model",
        "moderation", "parallel_tool_calls", "previous_response_id", "prompt",
        "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "reasoning",
        "safety_identifier", "service_tier", "store", "stream", "stream_options",
        "temperature", "text", "tool_choice", "tools", "top_logprobs", "top_p", "truncation",
        "user",
    }
)  # fmt: skip


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text") or "")
            for p in content
            if isinstance(p, dict) and p.get("type") in ("input_text", "output_text", "text")
        )
    return ""


def _items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [
        {"type": "message", **item} if "type" not in item else item
        for item in value or []
        if isinstance(item, dict)
    ]


def _words(text: str) -> list[str]:
    from tests.fakes.openai_upstream import words

    return words(text)


class ResponsesAPI:
    """The fake's Responses API state: stored responses and the streams it sent."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        self.stored: dict[str, dict[str, Any]] = {}  # id -> {"conversation", "response"}
        self.sent_streams: list[list[bytes]] = []

    # ---- request checks ---------------------------------------------------------------
    def _check(self, body: Any) -> dict[str, Any]:
        from tests.fakes.openai_upstream import _FakeError

        body = self.fake._require_body(body)
        self.fake._require_model(body)
        for key in body:
            if key not in KNOWN_FIELDS:
                raise _FakeError(
                    400, f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter"
                )
        raw = body.get("input")
        if raw is None and body.get("previous_response_id") is None:
            raise _FakeError(400, "Missing required parameter: 'input'.", param="input")
        if raw is not None and not isinstance(raw, str | list):
            raise _FakeError(400, "Invalid type for 'input'.", param="input", code="invalid_type")
        limit = body.get("max_output_tokens")
        if limit is not None and (not isinstance(limit, int) or limit < 16):
            raise _FakeError(
                400,
                f"Invalid 'max_output_tokens': integer below minimum value. Expected a value "
                f">= 16, but got {limit} instead.",
                param="max_output_tokens",
                code="integer_below_min_value",
            )
        previous = body.get("previous_response_id")
        if previous is not None and previous not in self.stored:
            raise _FakeError(
                404,
                f"Previous response with id '{previous}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        self.fake._check_model_known(body["model"])
        return body

    # ---- the answer ---------------------------------------------------------------------
    def _conversation(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        previous = body.get("previous_response_id")
        history = list(self.stored[previous]["conversation"]) if previous else []
        return history + _items(body.get("input"))

    def _outputs(self, body: dict[str, Any], conversation: list[dict[str, Any]]) -> list[Any]:
        """Output items to produce (texts still to be split into deltas)."""
        last = conversation[-1] if conversation else {}
        user = next(
            (
                _text(i.get("content"))
                for i in reversed(conversation)
                if i.get("type") == "message" and i.get("role") == "user"
            ),
            "",
        )
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
        out: list[Any] = []
        if last.get("type") == "function_call_output":
            return [("message", f"Tool result: {_text(last.get('output')) or last['output']}")]
        if any(t.get("type") == "web_search" for t in tools) and "search" in user.lower():
            out.append(("web_search", user))
        functions = [t for t in tools if t.get("type") == "function"]
        choice = body.get("tool_choice")
        forced = choice.get("name") if isinstance(choice, dict) else None
        called = [
            t
            for t in functions
            if t.get("name") == forced or (forced is None and str(t["name"]) in user)
        ]
        if body.get("parallel_tool_calls") is False:
            called = called[:1]
        if called and choice != "none":
            return out + [("function_call", t["name"]) for t in called]
        return [*out, ("message", f"Echo: {user}")]

    def _shell(self, body: dict[str, Any], rid: str, status: str) -> dict[str, Any]:
        shell = {
            "id": rid,
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "background": False,
            "completed_at": None,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": body["model"] + self.fake.model_suffix,
            "output": [],
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "prompt_cache_key": None,
            "reasoning": {"effort": None, "summary": None},
            "safety_identifier": None,
            "service_tier": "default",
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_logprobs": 0,
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "metadata": body.get("metadata") or {},
        }
        return shell

    def _usage(self, conversation: list[dict[str, Any]], body: dict[str, Any], out: int) -> Any:
        prompt = len(_words(str(body.get("instructions") or "")))
        for item in conversation:
            prompt += len(_words(_text(item.get("content")) or str(item.get("output") or "")))
        return {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + out,
        }

    def _events(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Every stream event (sequence numbers set) and the final ``Response``."""
        conversation = self._conversation(body)
        rid = _id("resp")
        shell = self._shell(body, rid, "in_progress")
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": dict(shell)},
            {"type": "response.in_progress", "response": dict(shell)},
        ]
        limit = body.get("max_output_tokens")
        budget = limit if isinstance(limit, int) else None
        output: list[dict[str, Any]] = []
        spent = 0
        for kind, value in self._outputs(body, conversation):
            index = len(output)
            if kind == "web_search":
                item = {
                    "id": _id("ws"),
                    "type": "web_search_call",
                    "status": "in_progress",
                    "action": {"type": "search", "query": value, "queries": [value]},
                }
                where = {"output_index": index, "item_id": item["id"]}
                events.append(
                    {
                        "type": "response.output_item.added",
                        "output_index": index,
                        "item": dict(item),
                    }
                )
                for step in ("in_progress", "searching", "completed"):
                    events.append({"type": f"response.web_search_call.{step}", **where})
                item["status"] = "completed"
            elif kind == "function_call":
                args = json.dumps({"city": "Paris"}, separators=(",", ":"))
                item = {
                    "id": _id("fc"),
                    "type": "function_call",
                    "status": "in_progress",
                    "call_id": _id("call"),
                    "name": value,
                    "arguments": "",
                }
                where = {"output_index": index, "item_id": item["id"]}
                events.append(
                    {
                        "type": "response.output_item.added",
                        "output_index": index,
                        "item": dict(item),
                    }
                )
                events += [
                    {"type": "response.function_call_arguments.delta", **where, "delta": piece}
                    for piece in (args[:8], args[8:])
                ]
                events.append(
                    {
                        "type": "response.function_call_arguments.done",
                        **where,
                        "name": value,
                        "arguments": args,
                    }
                )
                item.update(status="completed", arguments=args)
                spent += 1 + len(_words(args))
            else:
                pieces = _words(value)
                if budget is not None and spent + len(pieces) > budget:
                    pieces = pieces[: max(0, budget - spent)]
                text = "".join(pieces)
                spent += len(pieces)
                item = {
                    "id": _id("msg"),
                    "type": "message",
                    "status": "in_progress",
                    "role": "assistant",
                    "content": [],
                }
                where = {"output_index": index, "item_id": item["id"]}
                part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
                events.append(
                    {
                        "type": "response.output_item.added",
                        "output_index": index,
                        "item": json.loads(_dumps(item)),
                    }
                )
                events.append(
                    {
                        "type": "response.content_part.added",
                        **where,
                        "content_index": 0,
                        "part": dict(part),
                    }
                )
                events += [
                    {
                        "type": "response.output_text.delta",
                        **where,
                        "content_index": 0,
                        "delta": piece,
                        "logprobs": [],
                    }
                    for piece in pieces
                ]
                part["text"] = text
                events.append(
                    {
                        "type": "response.output_text.done",
                        **where,
                        "content_index": 0,
                        "text": text,
                        "logprobs": [],
                    }
                )
                events.append(
                    {
                        "type": "response.content_part.done",
                        **where,
                        "content_index": 0,
                        "part": dict(part),
                    }
                )
                cut = len(pieces) < len(_words(value))
                item.update(status="incomplete" if cut else "completed", content=[part])
            events.append(
                {
                    "type": "response.output_item.done",
                    "output_index": index,
                    "item": json.loads(_dumps(item)),
                }
            )
            output.append(item)
        incomplete = any(i["status"] == "incomplete" for i in output)
        final = {**shell, "output": output, "usage": self._usage(conversation, body, spent)}
        final["status"] = "incomplete" if incomplete else "completed"
        final["incomplete_details"] = {"reason": "max_output_tokens"} if incomplete else None
        final["completed_at"] = None if incomplete else int(time.time())
        kind = "response.incomplete" if incomplete else "response.completed"
        events.append({"type": kind, "response": final})
        for seq, event in enumerate(events):
            event["sequence_number"] = seq
        if body.get("store", True) is not False:
            self.stored[rid] = {"conversation": conversation + output, "response": final}
        return events, final

    # ---- the endpoint ---------------------------------------------------------------------
    async def handle(self, request: Request, raw: bytes, body: Any) -> Response:
        model = body.get("model") if isinstance(body, dict) else None
        stream = isinstance(body, dict) and body.get("stream") is True
        behaviour = self.fake._pick(model if isinstance(model, str) else None, request.url.path)
        await self.fake._before(behaviour, request, stream, model)
        body = self._check(body)
        events, final = self._events(body)
        if not stream:
            if behaviour is not None and behaviour.mode in ("half_json", "stream_cut"):
                return self.fake._half_json(final)
            return JSONResponse(final)
        frames = [
            b"event: " + e["type"].encode() + b"\ndata: " + _dumps(e) + b"\n\n" for e in events
        ]
        sent: list[bytes] = []
        self.sent_streams.append(sent)
        return StreamingResponse(
            self._stream(frames, behaviour, sent, len(events)),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache"},
        )

    async def _stream(
        self, frames: list[bytes], b: Behaviour | None, sent: list[bytes], count: int
    ) -> AsyncIterator[bytes]:
        delay = self.fake.chunk_delay_s
        for i, frame in enumerate(frames):
            if b is not None and i == b.after:
                if b.mode == "stream_cut":
                    return
                if b.mode == "stream_error":
                    error = {
                        "type": "error",
                        "code": b.code or "server_error",
                        "message": b.message or "The server had an error.",
                        "param": None,
                        "sequence_number": i,
                    }
                    frame = b"event: error\ndata: " + _dumps(error) + b"\n\n"
                    if b.type == "response.failed":  # the failure as a failed Response
                        failed = {
                            "type": "response.failed",
                            "sequence_number": i,
                            "response": {
                                "id": "resp_failed",
                                "object": "response",
                                "status": "failed",
                                "output": [],
                                "error": {"code": error["code"], "message": error["message"]},
                            },
                        }
                        frame = b"event: response.failed\ndata: " + _dumps(failed) + b"\n\n"
                    sent.append(frame)
                    yield frame
                    return
            if i and delay > 0:
                await asyncio.sleep(delay)
            sent.append(frame)
            yield frame
