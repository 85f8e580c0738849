"""OpenAI Chat Completions <-> Anthropic Messages, as small pure functions.

Written from the wire-format reference (WIRE-FORMATS.md, Part B). Nothing here does I/O:
``to_anthropic`` builds a Messages request from an OpenAI request, ``from_anthropic`` turns a
``Message`` into a ``chat.completion``, and ``StreamTranslator`` turns the named SSE events of
a streamed message into ``chat.completion.chunk`` dicts.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from omni_proxy import (
    ProxyError,
    arguments_object,
    assistant_texts,
    bad_request,
    error_from_status,
    function_calls,
    function_tools,
    parse_data_uri,
    stop_sequences,
)

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

#: Anthropic ``stop_reason`` -> OpenAI ``finish_reason``.
FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

#: Anthropic ``error.type`` -> the HTTP status it comes with (used for mid-stream errors).
ERROR_STATUSES: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
JSON_INSTRUCTION = (
    "Respond with a single valid JSON object and nothing else: no prose before or after it "
    "and no Markdown code fences."
)
_TOOL_ID_BAD = re.compile(r"[^A-Za-z0-9_-]")

Block = dict[str, Any]


# --------------------------------------------------------------------------- requests


def to_anthropic(
    body: dict[str, Any], model_id: str, *, default_max_tokens: int = DEFAULT_MAX_TOKENS
) -> dict[str, Any]:
    """A Messages API request for an OpenAI chat request (``model_id`` = Anthropic's id).

    Raises a 400 ``ProxyError`` naming the parameter for input Anthropic cannot take.
    """
    n = body.get("n")
    if n is not None and n != 1:
        # Another provider may serve it, so let the proxy fall back.
        raise ProxyError(
            400,
            "Anthropic models return one choice per request; 'n' must be 1.",
            param="n",
            code="unsupported_parameter",
            retryable=True,
        )
    system: list[Block] = []
    turns: list[dict[str, Any]] = []
    messages = body.get("messages") or []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise bad_request(f"Invalid 'messages[{i}]': expected an object.", f"messages[{i}]")
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_blocks(message.get("content"), f"messages[{i}].content"))
        elif role == "user":
            _append_turn(turns, "user", _user_blocks(message.get("content"), i))
        elif role == "assistant":
            _append_turn(turns, "assistant", _assistant_blocks(message, i))
        elif role == "tool":
            _append_turn(turns, "user", [_tool_result(message, i)])
        else:
            raise bad_request(
                f"Invalid 'messages[{i}].role': {role!r} is not supported for Anthropic models "
                "(use system, developer, user, assistant or tool).",
                f"messages[{i}].role",
            )
    _finish_turns(turns)

    instruction = _format_instruction(body.get("response_format"))
    if instruction:
        system.append({"type": "text", "text": instruction})
    if not turns:
        # Only system text: Anthropic needs a turn, so the instructions become the user's.
        if not system:
            raise bad_request("Invalid 'messages': nothing to send to the model.", "messages")
        turns, system = [{"role": "user", "content": system}], []

    out: dict[str, Any] = {
        "model": model_id,
        "max_tokens": _max_tokens(body, default_max_tokens),
        "messages": [_compact_turn(t) for t in turns],
    }
    if system:
        plain = all(set(b) == {"type", "text"} for b in system)
        out["system"] = "\n\n".join(b["text"] for b in system) if plain else system
    sequences = stop_sequences(body)
    if sequences:
        out["stop_sequences"] = sequences
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        out["temperature"] = min(1.0, max(0.0, float(temperature)))
    top_p = body.get("top_p")
    if isinstance(top_p, int | float) and not isinstance(top_p, bool):
        out["top_p"] = top_p
    # Anthropic-native extras a client may send on purpose.
    if isinstance(body.get("top_k"), int):
        out["top_k"] = body["top_k"]
    if isinstance(body.get("thinking"), dict):
        out["thinking"] = body["thinking"]
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}

    tools, choice = _tools(body)
    if tools:
        out["tools"] = tools
        if choice is not None:
            out["tool_choice"] = choice
    if body.get("stream"):
        out["stream"] = True
    return out


def _max_tokens(body: dict[str, Any], default: int) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default


def _append_turn(turns: list[dict[str, Any]], role: str, blocks: list[Block]) -> None:
    """Anthropic wants alternating turns: consecutive same-role messages become one turn."""
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": list(blocks)})


def _finish_turns(turns: list[dict[str, Any]]) -> None:
    for turn in turns:
        if turn["role"] == "user":
            # tool_result blocks must open the turn that answers a tool_use.
            turn["content"].sort(key=lambda b: b.get("type") != "tool_result")
    if turns and turns[-1]["role"] == "assistant":
        # A final assistant turn is a prefill, which may not end in whitespace.
        blocks = turns[-1]["content"]
        if blocks and blocks[-1].get("type") == "text":
            blocks[-1] = {**blocks[-1], "text": blocks[-1]["text"].rstrip()}
            if not blocks[-1]["text"]:
                blocks.pop()
        if not blocks:
            turns.pop()


def _compact_turn(turn: dict[str, Any]) -> dict[str, Any]:
    blocks = turn["content"]
    if len(blocks) == 1 and set(blocks[0]) == {"type", "text"}:
        return {"role": turn["role"], "content": blocks[0]["text"]}
    return {"role": turn["role"], "content": blocks}


def _text_block(text: str, part: dict[str, Any] | None = None) -> Block:
    block: Block = {"type": "text", "text": text}
    if part is not None and isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def _text_blocks(content: Any, where: str) -> list[Block]:
    """Text-only content (system prompts): a string or an array of text parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [_text_block(content)] if content else []
    if isinstance(content, list):
        blocks = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise bad_request(
                    f"Invalid '{where}[{j}]': only text parts are allowed here.", f"{where}[{j}]"
                )
            if part.get("text"):
                blocks.append(_text_block(str(part["text"]), part))
        return blocks
    raise bad_request(f"Invalid '{where}': expected a string or an array of parts.", where)


def _user_blocks(content: Any, i: int) -> list[Block]:
    where = f"messages[{i}].content"
    if content is None or isinstance(content, str):
        return _text_blocks(content, where)
    if not isinstance(content, list):
        raise bad_request(f"Invalid '{where}': expected a string or an array of parts.", where)
    blocks: list[Block] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                blocks.append(_text_block(str(part["text"]), part))
        elif kind == "image_url":
            blocks.append(image_block(part.get("image_url"), f"{where}[{j}]"))
        elif kind == "file":
            blocks.append(_document_block(part.get("file"), f"{where}[{j}]"))
        else:
            raise bad_request(
                f"Invalid '{where}[{j}]': content parts of type {kind!r} are not supported by "
                "Anthropic models.",
                f"{where}[{j}]",
                code="unsupported_content",
            )
    return blocks


def image_block(image: Any, where: str) -> Block:
    """An Anthropic image block for an OpenAI ``image_url`` (data URI or http(s) URL)."""
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise bad_request(f"Invalid '{where}.image_url': expected an object with 'url'.", where)
    data = parse_data_uri(url)
    if data is not None:
        media, payload = data
        media = "image/jpeg" if media == "image/jpg" else media
        if media not in IMAGE_TYPES:
            raise bad_request(
                f"Invalid '{where}': Anthropic accepts image/jpeg, image/png, image/gif and "
                f"image/webp images, not {media}.",
                where,
                code="unsupported_content",
            )
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": payload}}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise bad_request(f"Invalid '{where}': image URLs must be http(s) or data URIs.", where)


def _document_block(file: Any, where: str) -> Block:
    data = file.get("file_data") if isinstance(file, dict) else None
    parsed = parse_data_uri(data) if isinstance(data, str) else None
    if parsed is None or parsed[0] != "application/pdf":
        raise bad_request(
            f"Invalid '{where}': Anthropic models take files as PDF data URIs in 'file_data'.",
            where,
            code="unsupported_content",
        )
    return {
        "type": "document",
        "source": {"type": "base64", "media_type": parsed[0], "data": parsed[1]},
    }


def tool_id(raw: Any) -> str:
    """Anthropic tool ids match ``^[a-zA-Z0-9_-]+$``; other providers' ids may not."""
    text = _TOOL_ID_BAD.sub("_", str(raw or ""))
    return text or "toolu_unknown"


def _assistant_blocks(message: dict[str, Any], i: int) -> list[Block]:
    where = f"messages[{i}]"
    blocks = [_text_block(text, part) for text, part in assistant_texts(message.get("content"))]
    for j, (function, call) in enumerate(function_calls(message, where)):
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_id(call.get("id")),
                "name": function["name"],
                "input": arguments_object(
                    function.get("arguments"), f"{where}.tool_calls[{j}].function.arguments"
                ),
            }
        )
    return blocks


def _tool_result(message: dict[str, Any], i: int) -> Block:
    where = f"messages[{i}].content"
    block: Block = {"type": "tool_result", "tool_use_id": tool_id(message.get("tool_call_id"))}
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    elif isinstance(content, list):
        parts: list[Block] = []
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and part.get("text"):
                parts.append(_text_block(str(part["text"]), part))
            elif kind == "image_url":
                parts.append(image_block(part.get("image_url"), f"{where}[{j}]"))
        if parts:
            block["content"] = parts
    return block


def _format_instruction(response_format: Any) -> str | None:
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return JSON_INSTRUCTION
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if schema is None:
            return JSON_INSTRUCTION
        return (
            JSON_INSTRUCTION
            + " The object must conform to this JSON Schema:\n"
            + json.dumps(schema, ensure_ascii=False)
        )
    return None


def _tools(body: dict[str, Any]) -> tuple[list[Block], Block | None]:
    functions = function_tools(body, "Anthropic")
    if not functions:
        return [], None
    tools: list[Block] = []
    for function in functions:
        schema = function.get("parameters")
        schema = dict(schema) if isinstance(schema, dict) else {"properties": {}}
        schema.setdefault("type", "object")
        out: Block = {"name": function["name"], "input_schema": schema}
        if function.get("description"):
            out["description"] = function["description"]
        tools.append(out)

    choice: Block | None = None
    raw_choice = body.get("tool_choice")
    if raw_choice == "auto":
        choice = {"type": "auto"}
    elif raw_choice == "none":
        choice = {"type": "none"}
    elif raw_choice == "required":
        choice = {"type": "any"}
    elif isinstance(raw_choice, dict):
        kind = raw_choice.get("type")
        if kind == "function":
            name = (raw_choice.get("function") or {}).get("name")
            if not name:
                raise bad_request("Invalid 'tool_choice': missing function name.", "tool_choice")
            choice = {"type": "tool", "name": name}
        elif kind == "allowed_tools":
            allowed = raw_choice.get("allowed_tools") or {}
            names = {
                (t.get("function") or {}).get("name")
                for t in allowed.get("tools") or ()
                if isinstance(t, dict)
            }
            tools = [t for t in tools if t["name"] in names] or tools
            choice = {"type": "any" if allowed.get("mode") == "required" else "auto"}
    if body.get("parallel_tool_calls") is False and (choice or {}).get("type") != "none":
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    return tools, choice


# --------------------------------------------------------------------------- responses


def finish_reason(stop_reason: Any) -> str:
    return FINISH_REASONS.get(str(stop_reason), "stop")


def openai_usage(usage: Any) -> dict[str, Any]:
    """OpenAI ``usage``: prompt tokens include cache reads and writes (Anthropic's do not)."""
    usage = usage if isinstance(usage, dict) else {}

    def count(key: str) -> int:
        value = usage.get(key)
        return int(value) if isinstance(value, int | float) else 0

    cached = count("cache_read_input_tokens")
    prompt = count("input_tokens") + count("cache_creation_input_tokens") + cached
    completion = count("output_tokens")
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


def _arguments_json(value: Any) -> str:
    return json.dumps(value if value is not None else {}, ensure_ascii=False, separators=(",", ":"))


def from_anthropic(
    message: dict[str, Any], public_model: str, *, created: int | None = None
) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` for an Anthropic ``Message`` (every block read)."""
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": str(block.get("id") or f"toolu_{uuid.uuid4().hex[:24]}"),
                    "type": "function",
                    "function": {
                        "name": str(block.get("name") or ""),
                        "arguments": _arguments_json(block.get("input")),
                    },
                }
            )
        elif kind == "thinking":
            thinking.append(str(block.get("thinking") or ""))
    reply: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if calls:
        reply["tool_calls"] = calls
    if thinking:
        reply["reasoning_content"] = "".join(thinking)
    return {
        "id": str(message.get("id") or f"msg_{uuid.uuid4().hex}"),
        "object": "chat.completion",
        "created": created if created is not None else int(time.time()),
        "model": public_model,
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": finish_reason(message.get("stop_reason")),
            }
        ],
        "usage": openai_usage(message.get("usage")),
    }


def anthropic_error(
    provider: str,
    status: int | None,
    payload: Any,
    *,
    retry_after: float | None = None,
    fallback_message: str = "",
) -> ProxyError:
    """The CONTRACT.md error for an Anthropic error body (HTTP or an ``error`` SSE event)."""
    err = payload.get("error") if isinstance(payload, dict) else None
    err = err if isinstance(err, dict) else {}
    kind = str(err.get("type") or "")
    message = str(err.get("message") or "") or fallback_message
    if status is None:
        status = ERROR_STATUSES.get(kind, 500)
    return error_from_status(
        provider,
        status,
        message,
        code="billing_error" if kind == "billing_error" else None,
        retry_after=retry_after,
        overloaded=kind == "overloaded_error" or status == 529,
    )


class StreamTranslator:
    """Anthropic stream events in, OpenAI chunk dicts out (one translator per stream).

    ``feed`` takes each event's name and parsed data and returns the chunks to send; an
    ``error`` event raises ``ProxyError``. After ``message_stop`` (``done``) the last two
    chunks were the one carrying ``finish_reason`` and the usage chunk (``choices: []``).
    """

    def __init__(
        self,
        public_model: str,
        *,
        provider: str = "anthropic",
        include_usage: bool = False,
        created: int | None = None,
    ) -> None:
        self.model = public_model
        self.provider = provider
        self.include_usage = include_usage
        self.created = created if created is not None else int(time.time())
        self.id = f"msg_{uuid.uuid4().hex}"
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.finished = False
        self.done = False
        self._tools: dict[int, int] = {}  # Anthropic block index -> OpenAI tool-call index

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self.include_usage:
            out["usage"] = None
        return out

    def usage_chunk(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": openai_usage(self.usage),
        }

    def _merge_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.usage.update({k: v for k, v in usage.items() if isinstance(v, int)})

    def feed(self, event: str | None, data: dict[str, Any]) -> list[dict[str, Any]]:
        kind = data.get("type") or event
        if kind == "message_start":
            message = data.get("message") or {}
            if message.get("id"):
                self.id = str(message["id"])
            self._merge_usage(message.get("usage"))
            return [self.chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "text" and block.get("text"):
                return [self.chunk({"content": block["text"]})]
            if block.get("type") == "tool_use":
                index = len(self._tools)
                self._tools[int(data.get("index", index))] = index
                head = {
                    "index": index,
                    "id": str(block.get("id") or ""),
                    "type": "function",
                    "function": {"name": str(block.get("name") or ""), "arguments": ""},
                }
                return [self.chunk({"tool_calls": [head]})]
            return []
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta" and delta.get("text"):
                return [self.chunk({"content": delta["text"]})]
            if dtype == "input_json_delta" and delta.get("partial_json"):
                ordinal = self._tools.get(int(data.get("index", -1)))
                if ordinal is None:
                    return []
                fragment = {"index": ordinal, "function": {"arguments": delta["partial_json"]}}
                return [self.chunk({"tool_calls": [fragment]})]
            if dtype == "thinking_delta" and delta.get("thinking"):
                return [self.chunk({"reasoning_content": delta["thinking"]})]
            return []
        if kind == "message_delta":
            self._merge_usage(data.get("usage"))
            reason = (data.get("delta") or {}).get("stop_reason")
            if reason is None or self.finished:
                return []
            self.stop_reason = reason
            self.finished = True
            return [self.chunk({}, finish_reason(reason))]
        if kind == "message_stop":
            self.done = True
            out = [] if self.finished else [self.chunk({}, "stop")]
            self.finished = True
            return [*out, self.usage_chunk()]
        if kind == "error":
            raise anthropic_error(self.provider, None, data, fallback_message="the stream failed")
        return []  # ping, content_block_stop, and event types added later
