"""Anthropic Messages in, Anthropic Messages out, OpenAI chat in the middle.

Lets tools built on Anthropic's SDK point at omni-proxy (``/v1/messages``): the request is
translated to an OpenAI chat request, routed like any other, and the answer (or stream)
translated back. Pure functions, each tested on its own.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator
from typing import Any

import orjson

from ..errors import ProxyError, bad_request
from ..text import content_text
from .models import MESSAGES, checker, to_anthropic_error
from .sse import named_event, relay_events

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_body(err: ProxyError, request_id: str | None) -> dict[str, Any]:
    kind = ERROR_TYPES.get(err.status, "invalid_request_error" if err.status < 500 else "api_error")
    return {
        "type": "error",
        "error": {"type": kind, "message": err.message},
        "request_id": request_id,
    }


def _image_part(block: dict[str, Any]) -> dict[str, Any]:
    source = block.get("source") or {}
    if not isinstance(source, dict):
        raise bad_request("Invalid image 'source': expected an object.", param="messages")
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url":
        url = str(source.get("url", ""))
    else:
        raise bad_request("Unsupported image source: expected base64 or url.", param="messages")
    return {"type": "image_url", "image_url": {"url": url}}


def _user_messages(content: Any, where: str) -> list[dict[str, Any]]:
    """One Anthropic user turn → OpenAI tool results (first) and a user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise bad_request(
            f"Invalid '{where}.content': expected a string or blocks.", param=f"{where}.content"
        )
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image":
            parts.append(_image_part(block))
        elif kind == "tool_result":
            text = content_text(block.get("content"))
            if block.get("is_error"):
                text = f"[error] {text}"
            out.append(
                {"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")), "content": text}
            )
        elif kind in ("thinking", "redacted_thinking", "document"):
            continue
        else:
            raise bad_request(
                f"Unsupported content block type {kind!r} in '{where}'.", param=f"{where}.content"
            )
    if parts:
        only_text = all(p["type"] == "text" for p in parts)
        out.append(
            {"role": "user", "content": "\n".join(p["text"] for p in parts) if only_text else parts}
        )
    return out


def _assistant_message(content: Any) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    if content is not None and not isinstance(content, list):
        raise bad_request(
            "Invalid assistant 'content': expected a string or blocks.", param="messages"
        )
    texts, calls = [], []
    for block in content or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            calls.append(
                {
                    "id": str(block.get("id", "")),
                    "type": "function",
                    "function": {
                        "name": str(block.get("name", "")),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return message


#: The body's shape, from its one schema, in Anthropic's words.
_check_messages = checker(MESSAGES, to_anthropic_error)


def to_openai(body: Any) -> dict[str, Any]:
    """An Anthropic ``MessageCreateParams`` as an OpenAI chat request."""
    _check_messages(body)
    max_tokens = body["max_tokens"]
    messages: list[dict[str, Any]] = []
    system = content_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for i, msg in enumerate(body["messages"]):
        where = f"messages[{i}]"
        if msg["role"] == "user":
            messages += _user_messages(msg.get("content"), where)
        else:
            messages.append(_assistant_message(msg.get("content")))
    chat: dict[str, Any] = {"model": body["model"], "messages": messages, "max_tokens": max_tokens}
    for src, dst in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("stop_sequences", "stop"),
        ("stream", "stream"),
    ):
        if body.get(src) is not None:
            chat[dst] = body[src]
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise bad_request("metadata: expected an object.", param="metadata")
    user = (metadata or {}).get("user_id")
    if user:
        chat["user"] = str(user)
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise bad_request("tools: expected an array of tools.", param="tools")
    for i, tool in enumerate(tools or ()):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise bad_request(
                f"tools.{i}: expected an object with a string 'name'.", param=f"tools.{i}.name"
            )
    if tools:
        chat["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.get("name"),
                    "description": t.get("description", ""),
                    "parameters": t.get("input_schema") or {"type": "object"},
                },
            }
            for t in tools
            if isinstance(t, dict)
        ]
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and tools:
        kind = str(choice.get("type"))
        chat["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}.get(
            kind, {"type": "function", "function": {"name": choice.get("name")}}
        )
        if choice.get("disable_parallel_tool_use"):
            chat["parallel_tool_calls"] = False
    for key in ("priority", "latency_pref", "max_cost", "strategy", "quality_floor"):
        if key in body:
            chat[key] = body[key]
    if chat.get("stream"):
        chat["stream_options"] = {"include_usage": True}
    return chat


def from_openai(response: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` as an Anthropic ``Message`` (first choice)."""
    choice = (response.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or ():
        fn = call.get("function") or {}
        try:
            args = orjson.loads(fn.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            args = {"_raw": fn.get("arguments")}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or _tool_id(),
                "name": fn.get("name", ""),
                "input": args,
            }
        )
    usage = response.get("usage") or {}
    return {
        "id": "msg_" + str(response.get("id", secrets.token_hex(12))).removeprefix("chatcmpl-"),
        "type": "message",
        "role": "assistant",
        "model": response.get("model"),
        "content": content,
        "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": int(usage.get("prompt_tokens") or 0),
            "output_tokens": int(usage.get("completion_tokens") or 0),
        },
    }


def _tool_id() -> str:
    return "toolu_" + secrets.token_hex(12)


def event(kind: str, data: dict[str, Any]) -> bytes:
    return named_event(kind, {"type": kind, **data})


class StreamTranslator:
    """OpenAI chunk dicts in, Anthropic SSE events out."""

    def __init__(self, input_tokens: int) -> None:
        self.input_tokens = input_tokens
        self.started = False
        self.block = -1
        self.block_kind: str | None = None
        self.tool_blocks: dict[int, int] = {}
        self.stop_reason: str | None = None
        self.output_tokens = 0

    def _open(self, kind: str, content_block: dict[str, Any]) -> bytes:
        out = self._close()
        self.block += 1
        self.block_kind = kind
        return out + event(
            "content_block_start", {"index": self.block, "content_block": content_block}
        )

    def _close(self) -> bytes:
        if self.block_kind is None:
            return b""
        self.block_kind = None
        return event("content_block_stop", {"index": self.block})

    def feed(self, chunk: dict[str, Any]) -> bytes:
        out = b""
        if not self.started:
            self.started = True
            out += event(
                "message_start",
                {
                    "message": {
                        "id": "msg_" + str(chunk.get("id", "")).removeprefix("chatcmpl-"),
                        "type": "message",
                        "role": "assistant",
                        "model": chunk.get("model"),
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": self.input_tokens, "output_tokens": 1},
                    }
                },
            )
        if chunk.get("usage"):
            self.input_tokens = int(chunk["usage"].get("prompt_tokens") or self.input_tokens)
            self.output_tokens = int(chunk["usage"].get("completion_tokens") or 0)
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self.block_kind != "text":
                    out += self._open("text", {"type": "text", "text": ""})
                out += event(
                    "content_block_delta",
                    {
                        "index": self.block,
                        "delta": {"type": "text_delta", "text": delta["content"]},
                    },
                )
            for call in delta.get("tool_calls") or ():
                k = int(call.get("index", 0))
                fn = call.get("function") or {}
                if k not in self.tool_blocks:
                    out += self._open(
                        "tool_use",
                        {
                            "type": "tool_use",
                            "id": call.get("id") or _tool_id(),
                            "name": fn.get("name", ""),
                            "input": {},
                        },
                    )
                    self.tool_blocks[k] = self.block
                if fn.get("arguments"):
                    out += event(
                        "content_block_delta",
                        {
                            "index": self.tool_blocks[k],
                            "delta": {"type": "input_json_delta", "partial_json": fn["arguments"]},
                        },
                    )
            if choice.get("finish_reason"):
                self.stop_reason = STOP_REASONS.get(choice["finish_reason"], "end_turn")
        return out

    def finish(self, omni: dict[str, Any] | None) -> bytes:
        delta: dict[str, Any] = {
            "delta": {"stop_reason": self.stop_reason or "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": self.output_tokens, "input_tokens": self.input_tokens},
        }
        if omni is not None:
            delta["omni"] = omni
        return self._close() + event("message_delta", delta) + event("message_stop", {})


async def translate_stream(
    chat_sse: AsyncGenerator[bytes, None], input_tokens: int
) -> AsyncGenerator[bytes, None]:
    """The relay's OpenAI SSE bytes re-emitted as Anthropic events."""
    translator = StreamTranslator(input_tokens)
    omni: dict[str, Any] | None = None
    try:
        async for block in chat_sse:
            out = b""
            for data in relay_events(block):
                if data == b"[DONE]":
                    out += translator.finish(omni)
                    continue
                chunk = orjson.loads(data)
                if "error" in chunk:
                    err = chunk["error"]
                    status = 503 if err.get("code") == "upstream_overloaded" else 500
                    out += event(
                        "error",
                        {
                            "error": {
                                "type": ERROR_TYPES.get(status, "api_error"),
                                "message": err.get("message", "upstream failed"),
                            }
                        },
                    )
                    continue
                omni = chunk.pop("omni", omni)
                out += translator.feed(chunk)
            if out:
                yield out
    finally:
        await chat_sse.aclose()
