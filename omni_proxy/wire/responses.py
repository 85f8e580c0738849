"""OpenAI Responses API in and out, OpenAI chat in the middle.

``POST /v1/responses`` is translated to a chat request (its conversation — a previous
response's stored items followed by the new input — becomes ``messages``), routed like any
other request, and the chat answer (or stream of chunks) is translated back into a
``Response`` object (or the Responses stream events). Pure functions and a stream
translator, each tested on its own; storage and routing live in ``routes/responses.py``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import ProxyError, bad_request
from ..text import content_text
from .models import MAX_OUTPUT_TOKENS, MAX_TOP_LOGPROBS, MIN_OUTPUT_TOKENS_RESPONSES
from .sse import named_event, relay_events
from .validation import ROUTING_FIELDS, type_name

MESSAGE_ROLES = ("user", "system", "developer", "assistant")
TOOL_CHOICE_MODES = ("none", "auto", "required")
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
# Other request fields (``include``, ``service_tier``, ``prompt_cache_retention``, ...) are
# accepted and have no effect on a chat upstream; these few would change the answer's meaning.
UNSUPPORTED_FIELDS = {
    "conversation": "Conversations are not supported by this proxy; use 'previous_response_id'.",
    "prompt": "Prompt templates are not supported by this proxy; send 'input' instead.",
}

#: The spec's ``IncludeEnum``: what ``include`` may name. ``GET /v1/responses/{id}/input_items``
#: accepts each and lists items with everything that was stored whatever it names.
INCLUDABLE = (
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "code_interpreter_call.outputs",
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


# -- the request -----------------------------------------------------------------------------
@dataclass
class ResponsesRequest:
    """A checked ``CreateResponse`` body: what the chat request is built from, and what the
    ``Response`` object echoes back."""

    model: str
    input: list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    text: dict[str, Any] = field(default_factory=lambda: {"format": {"type": "text"}})
    metadata: dict[str, str] = field(default_factory=dict)
    store: bool = True
    parallel_tool_calls: bool = True
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    previous_response_id: str | None = None
    stream: bool = False
    truncation: str = "disabled"
    reasoning: dict[str, Any] | None = None
    top_logprobs: int | None = None
    routing: dict[str, Any] = field(default_factory=dict)


def _invalid_type(param: str, expected: str, value: Any) -> ProxyError:
    return bad_request(
        f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _missing(param: str) -> ProxyError:
    return bad_request(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise _invalid_type(key, "a string", value)
    return value


def _optional_bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _invalid_type(key, "a boolean", value)
    return value


def _optional_number(
    body: dict[str, Any], key: str, lo: float, hi: float, *, integer: bool = False
) -> Any:
    value = body.get(key)
    if value is None:
        return None
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok:
        raise _invalid_type(key, "an integer" if integer else "a number", value)
    kind = "integer" if integer else "decimal"
    if value < lo:
        raise bad_request(
            f"Invalid '{key}': {kind} below minimum value. Expected a value >= {lo:g}, but got "
            f"{value} instead.",
            param=key,
            code=f"{kind}_below_min_value",
        )
    if value > hi:
        raise bad_request(
            f"Invalid '{key}': {kind} above maximum value. Expected a value <= {hi:g}, but got "
            f"{value} instead.",
            param=key,
            code=f"{kind}_above_max_value",
        )
    return value


def parse_request(body: Any) -> ResponsesRequest:
    """Check a ``CreateResponse`` body; raise a 400 ``ProxyError`` naming the bad field."""
    if not isinstance(body, dict):
        raise bad_request(
            f"The request body must be a JSON object, but got {type_name(body)}.",
            code="invalid_type",
        )
    for key, message in UNSUPPORTED_FIELDS.items():
        if body.get(key) is not None:
            raise bad_request(message, param=key, code="unsupported_parameter")
    if body.get("background"):
        raise bad_request(
            "Background responses are not supported by this proxy.",
            param="background",
            code="unsupported_parameter",
        )
    model = body.get("model")
    if model is None:
        raise _missing("model")
    if not isinstance(model, str) or not model:
        raise _invalid_type("model", "a non-empty string", model)
    previous = _optional_str(body, "previous_response_id")
    raw_input = body.get("input")
    if raw_input is None and previous is None:
        raise _missing("input")
    items = normalize_input(raw_input) if raw_input is not None else []
    instructions = _optional_str(body, "instructions")
    tools = parse_tools(body.get("tools"))
    tool_choice = parse_tool_choice(body.get("tool_choice"), tools)
    metadata = body.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise _invalid_type("metadata", "an object", metadata)
    if len(metadata) > 16:
        raise bad_request(
            "Invalid 'metadata': too many properties. Expected an object with at most 16 "
            f"properties, but got an object with {len(metadata)} properties instead.",
            param="metadata",
        )
    for key, value in metadata.items():
        if len(key) > 64 or not isinstance(value, str) or len(value) > 512:
            raise bad_request(
                "Invalid 'metadata': keys must be strings of at most 64 characters and values "
                "strings of at most 512 characters.",
                param="metadata",
            )
    truncation = body.get("truncation")
    if truncation is None:
        truncation = "disabled"
    if truncation not in ("auto", "disabled"):
        raise bad_request(
            f"Invalid value: '{truncation}'. Supported values are: 'auto' and 'disabled'.",
            param="truncation",
            code="invalid_value",
        )
    reasoning = body.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, dict):
        raise _invalid_type("reasoning", "an object", reasoning)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _invalid_type("stream", "a boolean", stream)
    return ResponsesRequest(
        model=model,
        input=items,
        instructions=instructions,
        tools=tools,
        tool_choice=tool_choice,
        max_output_tokens=_optional_number(
            body, "max_output_tokens", MIN_OUTPUT_TOKENS_RESPONSES, MAX_OUTPUT_TOKENS, integer=True
        ),
        temperature=_optional_number(body, "temperature", 0, 2),
        top_p=_optional_number(body, "top_p", 0, 1),
        text=parse_text(body.get("text")),
        metadata=metadata,
        store=_optional_bool(body, "store", True),
        parallel_tool_calls=_optional_bool(body, "parallel_tool_calls", True),
        user=_optional_str(body, "user"),
        safety_identifier=_optional_str(body, "safety_identifier"),
        prompt_cache_key=_optional_str(body, "prompt_cache_key"),
        previous_response_id=previous,
        stream=bool(stream),
        truncation=truncation,
        reasoning=reasoning,
        top_logprobs=_optional_number(body, "top_logprobs", 0, MAX_TOP_LOGPROBS, integer=True),
        routing={k: body[k] for k in ROUTING_FIELDS if k in body},
    )


# -- input items -----------------------------------------------------------------------------
def normalize_input(value: Any) -> list[dict[str, Any]]:
    """``input`` (a string or a list of items) as a list of checked, canonical items."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise _invalid_type("input", "a string or an array of input items", value)
    return [_normalize_item(item, f"input[{i}]") for i, item in enumerate(value)]


def _normalize_item(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _invalid_type(where, "an object", item)
    kind = item.get("type")
    if kind is None and "role" in item:
        kind = "message"
    if kind == "message":
        role = item.get("role")
        if role not in MESSAGE_ROLES:
            raise bad_request(
                f"Invalid value: '{role}'. Supported values are: 'user', 'system', 'developer' "
                "and 'assistant'.",
                param=f"{where}.role",
                code="invalid_value",
            )
        content = item.get("content")
        if content is None:
            raise _missing(f"{where}.content")
        if not isinstance(content, str | list):
            raise _invalid_type(f"{where}.content", "a string or an array of content", content)
        if isinstance(content, list):
            for j, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    raise _missing(f"{where}.content[{j}].type")
        return {"type": "message", "role": role, "content": content}
    if kind == "function_call":
        for key in ("call_id", "name", "arguments"):
            if not isinstance(item.get(key), str):
                raise _missing(f"{where}.{key}")
        out = {
            "type": "function_call",
            "call_id": item["call_id"],
            "name": item["name"],
            "arguments": item["arguments"],
        }
        if isinstance(item.get("id"), str):
            out["id"] = item["id"]
        return out
    if kind == "function_call_output":
        if not isinstance(item.get("call_id"), str) or not item["call_id"]:
            raise _missing(f"{where}.call_id")
        output = item.get("output")
        if not isinstance(output, str | list):
            raise _invalid_type(f"{where}.output", "a string or an array of content", output)
        return {"type": "function_call_output", "call_id": item["call_id"], "output": output}
    if kind == "reasoning":
        return {"type": "reasoning", "summary": item.get("summary") or []}
    if kind == "item_reference":
        raise bad_request(
            "Item references are not supported by this proxy; send the items themselves or "
            "use 'previous_response_id'.",
            param=f"{where}.type",
            code="unsupported_parameter",
        )
    raise bad_request(
        f"Unsupported input item type {kind!r} in '{where}': this proxy accepts messages, "
        "function_call and function_call_output items.",
        param=f"{where}.type",
        code="invalid_value",
    )


def _text_parts(content: Any, where: str, kinds: tuple[str, ...]) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for j, part in enumerate(content):
        kind = part.get("type")
        if kind in kinds:
            key = "refusal" if kind == "refusal" else "text"
            if not isinstance(part.get(key), str):
                raise _missing(f"{where}.content[{j}].{key}")
            texts.append(part[key])
        else:
            raise bad_request(
                f"Invalid content part type {kind!r} in '{where}.content[{j}]' for this role "
                f"(expected {', '.join(kinds)}).",
                param=f"{where}.content[{j}].type",
                code="invalid_value",
            )
    return "\n".join(texts)


def _image_part(part: dict[str, Any], where: str) -> dict[str, Any]:
    url = part.get("image_url")
    if not isinstance(url, str) or not url:
        if part.get("file_id"):
            raise bad_request(
                "Images by 'file_id' are not supported by this proxy; send 'image_url' (a URL "
                "or a base64 data URI).",
                param=f"{where}.file_id",
                code="unsupported_parameter",
            )
        raise _missing(f"{where}.image_url")
    image: dict[str, Any] = {"url": url}
    detail = part.get("detail")
    if detail in ("low", "high", "auto"):
        image["detail"] = detail
    return {"type": "image_url", "image_url": image}


def _file_part(part: dict[str, Any], where: str) -> dict[str, Any]:
    data = part.get("file_data")
    if not isinstance(data, str) or not data:
        raise bad_request(
            "Files are only supported inline: send 'file_data' (a base64 data URI).",
            param=f"{where}.file_data",
            code="unsupported_parameter",
        )
    spec: dict[str, Any] = {"file_data": data}
    if isinstance(part.get("filename"), str):
        spec["filename"] = part["filename"]
    return {"type": "file", "file": spec}


def _user_content(content: Any, where: str) -> Any:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = part.get("type")
        here = f"{where}.content[{j}]"
        if kind in ("input_text", "text", "output_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise _missing(f"{here}.text")
            parts.append({"type": "text", "text": text})
        elif kind == "input_image":
            parts.append(_image_part(part, here))
        elif kind == "input_file":
            parts.append(_file_part(part, here))
        else:
            raise bad_request(
                f"Unsupported content part type {kind!r} in '{here}' (expected input_text, "
                "input_image or input_file).",
                param=f"{here}.type",
                code="invalid_value",
            )
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def items_to_messages(items: list[dict[str, Any]], offset: int = 0) -> list[dict[str, Any]]:
    """Canonical input items as chat messages (``items[offset]`` is ``input[0]`` in errors;
    the ones before it come from a previous response).

    ``function_call`` items join the assistant message before them (several calls in a row
    become one message with parallel ``tool_calls``); ``function_call_output`` items become
    ``tool`` messages; reasoning items carry nothing a chat model can take, so they go.
    """
    messages: list[dict[str, Any]] = []
    called: set[str] = set()
    for i, item in enumerate(items):
        where = f"input[{i - offset}]" if i >= offset else "previous_response_id"
        kind = item["type"]
        if kind == "message":
            role, content = item["role"], item["content"]
            if role == "assistant":
                text = _text_parts(content, where, ("output_text", "input_text", "refusal"))
                messages.append({"role": "assistant", "content": text})
            elif role in ("system", "developer"):
                messages.append(
                    {"role": role, "content": _text_parts(content, where, ("input_text", "text"))}
                )
            else:
                messages.append({"role": "user", "content": _user_content(content, where)})
        elif kind == "function_call":
            called.add(item["call_id"])
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": item["name"], "arguments": item["arguments"]},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
                if not last.get("content"):
                    last["content"] = None
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            if item["call_id"] not in called:
                raise bad_request(
                    f"No tool call found for function call output with call_id {item['call_id']}.",
                    param=f"{where}.call_id",
                )
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item["call_id"],
                    "content": content_text(item["output"]),
                }
            )
    return messages


# -- tools, tool choice, text format ---------------------------------------------------------
def parse_tools(tools: Any) -> list[dict[str, Any]]:
    """Function tools in the Responses shape, checked and normalised (as the response echoes)."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise _invalid_type("tools", "an array of tools", tools)
    out = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise _invalid_type(where, "an object", tool)
        kind = tool.get("type")
        if kind != "function":
            raise bad_request(
                f"Unsupported tool type {kind!r} in '{where}': this proxy supports function "
                "tools only.",
                param=f"{where}.type",
                code="unsupported_parameter",
            )
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise _missing(f"{where}.name")
        parameters = tool.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise _invalid_type(f"{where}.parameters", "an object", parameters)
        strict = tool.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise _invalid_type(f"{where}.strict", "a boolean", strict)
        description = tool.get("description")
        if description is not None and not isinstance(description, str):
            raise _invalid_type(f"{where}.description", "a string", description)
        out.append(
            {
                "type": "function",
                "name": name,
                "description": description,
                "parameters": parameters,
                "strict": strict,
            }
        )
    return out


def tools_to_chat(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chat = []
    for tool in tools:
        fn: dict[str, Any] = {
            "name": tool["name"],
            "parameters": tool["parameters"] or {"type": "object", "properties": {}},
        }
        if tool["description"] is not None:
            fn["description"] = tool["description"]
        if tool["strict"] is not None:
            fn["strict"] = tool["strict"]
        chat.append({"type": "function", "function": fn})
    return chat


def parse_tool_choice(choice: Any, tools: list[dict[str, Any]]) -> Any:
    if choice is None:
        return "auto"
    names = {t["name"] for t in tools}
    if isinstance(choice, str):
        if choice not in TOOL_CHOICE_MODES:
            raise bad_request(
                f"Invalid value: '{choice}'. Supported values are: 'none', 'auto' and 'required'.",
                param="tool_choice",
                code="invalid_value",
            )
        if choice == "required" and not tools:
            raise bad_request(
                "Tool choice 'required' needs at least one tool in 'tools'.", param="tool_choice"
            )
        return choice
    if not isinstance(choice, dict):
        raise _invalid_type("tool_choice", "a string or an object", choice)
    kind = choice.get("type")
    if kind == "function":
        name = choice.get("name")
        if not isinstance(name, str) or name not in names:
            raise bad_request(
                f"Tool choice '{name}' not found in 'tools' parameter.", param="tool_choice"
            )
        return {"type": "function", "name": name}
    if kind == "allowed_tools":
        mode = choice.get("mode")
        if mode not in ("auto", "required"):
            raise bad_request(
                "Invalid 'tool_choice.mode': expected 'auto' or 'required'.",
                param="tool_choice.mode",
            )
        allowed = choice.get("tools")
        if not isinstance(allowed, list) or not all(
            isinstance(t, dict) and t.get("type") == "function" and _named(t, names)
            for t in allowed
        ):
            raise bad_request(
                "Invalid 'tool_choice.tools': expected function tools named in 'tools'.",
                param="tool_choice.tools",
            )
        return {
            "type": "allowed_tools",
            "mode": mode,
            "tools": [{"type": "function", "name": t["name"]} for t in allowed],
        }
    raise bad_request(
        f"Unsupported tool_choice type {kind!r}: this proxy supports function tools only.",
        param="tool_choice",
        code="unsupported_parameter",
    )


def _named(tool: dict[str, Any], names: set[str]) -> bool:
    return isinstance(tool.get("name"), str) and tool["name"] in names


def tool_choice_to_chat(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    if choice["type"] == "function":
        return {"type": "function", "function": {"name": choice["name"]}}
    return {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": choice["mode"],
            "tools": [
                {"type": "function", "function": {"name": t["name"]}} for t in choice["tools"]
            ],
        },
    }


def parse_text(text: Any) -> dict[str, Any]:
    """``text`` with its ``format`` checked (default ``{"format": {"type": "text"}}``)."""
    if text is None:
        return {"format": {"type": "text"}}
    if not isinstance(text, dict):
        raise _invalid_type("text", "an object", text)
    out: dict[str, Any] = {"format": {"type": "text"}}
    verbosity = text.get("verbosity")
    if verbosity is not None:
        if verbosity not in ("low", "medium", "high"):
            raise bad_request(
                f"Invalid value: '{verbosity}'. Supported values are: 'low', 'medium' and 'high'.",
                param="text.verbosity",
                code="invalid_value",
            )
        out["verbosity"] = verbosity
    fmt = text.get("format")
    if fmt is None:
        return out
    if not isinstance(fmt, dict):
        raise _invalid_type("text.format", "an object", fmt)
    kind = fmt.get("type")
    if kind == "json_schema":
        if not isinstance(fmt.get("name"), str) or not fmt["name"]:
            raise _missing("text.format.name")
        if not isinstance(fmt.get("schema"), dict):
            raise _missing("text.format.schema")
        strict = fmt.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise _invalid_type("text.format.strict", "a boolean", strict)
    elif kind not in ("text", "json_object"):
        raise bad_request(
            f"Invalid value: '{kind}'. Supported values are: 'text', 'json_schema' and "
            "'json_object'.",
            param="text.format.type",
            code="invalid_value",
        )
    out["format"] = fmt
    return out


def text_to_response_format(text: dict[str, Any]) -> dict[str, Any] | None:
    fmt = text["format"]
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    if fmt["type"] == "json_schema":
        spec: dict[str, Any] = {"name": fmt["name"], "schema": fmt["schema"]}
        for key in ("description", "strict"):
            if fmt.get(key) is not None:
                spec[key] = fmt[key]
        return {"type": "json_schema", "json_schema": spec}
    return None


# -- the chat request ------------------------------------------------------------------------
def to_chat(req: ResponsesRequest, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The chat request for a Responses request: instructions, then the previous
    response's conversation (``history``), then the new input."""
    messages: list[dict[str, Any]] = []
    if req.instructions:
        messages.append({"role": "system", "content": req.instructions})
    history = history or []
    messages += items_to_messages([*history, *req.input], offset=len(history))
    if not any(m["role"] != "system" for m in messages):
        raise bad_request(
            "The request has no input: send 'input' (a string or a list of items).", param="input"
        )
    chat: dict[str, Any] = {"model": req.model, "messages": messages}
    if req.max_output_tokens is not None:
        chat["max_tokens"] = req.max_output_tokens
    for key in ("temperature", "top_p", "user", "safety_identifier", "prompt_cache_key"):
        value = getattr(req, key)
        if value is not None:
            chat[key] = value
    if req.tools:
        chat["tools"] = tools_to_chat(req.tools)
        chat["tool_choice"] = tool_choice_to_chat(req.tool_choice)
        if not req.parallel_tool_calls:
            chat["parallel_tool_calls"] = False
    fmt = text_to_response_format(req.text)
    if fmt is not None:
        chat["response_format"] = fmt
    if "verbosity" in req.text:
        chat["verbosity"] = req.text["verbosity"]
    effort = (req.reasoning or {}).get("effort")
    if isinstance(effort, str):
        chat["reasoning_effort"] = effort
    if req.stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    chat.update(req.routing)
    return chat


# -- the Response object ---------------------------------------------------------------------
def usage_from_chat(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    reasoning = int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def response_shell(
    req: ResponsesRequest, response_id: str, created_at: int, model: str
) -> dict[str, Any]:
    """A ``Response`` in progress: everything but the output, echoing the request."""
    reasoning = None
    if req.reasoning is not None:
        reasoning = {
            "effort": req.reasoning.get("effort"),
            "summary": req.reasoning.get("summary"),
        }
    shell: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": False,
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": req.instructions,
        "max_output_tokens": req.max_output_tokens,
        "max_tool_calls": None,
        "model": model,
        "output": [],
        "parallel_tool_calls": req.parallel_tool_calls,
        "previous_response_id": req.previous_response_id,
        "prompt_cache_key": req.prompt_cache_key,
        "reasoning": reasoning,
        "safety_identifier": req.safety_identifier,
        "service_tier": "default",
        "store": req.store,
        "temperature": 1.0 if req.temperature is None else req.temperature,
        "text": req.text,
        "tool_choice": req.tool_choice,
        "tools": req.tools,
        "top_logprobs": req.top_logprobs or 0,
        "top_p": 1.0 if req.top_p is None else req.top_p,
        "truncation": req.truncation,
        "metadata": req.metadata,
    }
    if req.user is not None:  # the spec has no null ``user`` (nor ``usage``, set when known)
        shell["user"] = req.user
    return shell


def _message_item(item_id: str, parts: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": parts,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _call_item(call: dict[str, Any], status: str, item_id: str | None = None) -> dict[str, Any]:
    fn = call.get("function") or {}
    return {
        "id": item_id or new_id("fc"),
        "type": "function_call",
        "status": status,
        "call_id": call.get("id") or new_id("call"),
        "name": fn.get("name") or "",
        "arguments": fn.get("arguments") or "",
    }


def output_items(message: dict[str, Any], finish_reason: str | None) -> list[dict[str, Any]]:
    """A chat ``message`` as Responses output items: the message, then its function calls."""
    status = "incomplete" if finish_reason in INCOMPLETE_REASONS else "completed"
    calls = message.get("tool_calls") or []
    parts = []
    content = message.get("content")
    if isinstance(content, list):  # some upstreams answer with parts
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    if content or (not calls and not message.get("refusal")):
        parts.append(_text_part(content or ""))
    if message.get("refusal"):
        parts.append({"type": "refusal", "refusal": str(message["refusal"])})
    items = [_message_item(new_id("msg"), parts, status)] if parts else []
    items += [_call_item(call, status) for call in calls if isinstance(call, dict)]
    return items


def output_text(items: list[dict[str, Any]]) -> str:
    return "".join(
        part["text"]
        for item in items
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )


def finish(
    shell: dict[str, Any],
    items: list[dict[str, Any]],
    finish_reason: str | None,
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    """The shell completed (or incomplete) with its output and usage."""
    response = dict(shell)
    reason = INCOMPLETE_REASONS.get(finish_reason or "")
    response["status"] = "incomplete" if reason else "completed"
    response["completed_at"] = None if reason else int(time.time())
    response["incomplete_details"] = {"reason": reason} if reason else None
    response["output"] = items
    response["output_text"] = output_text(items)
    converted = usage_from_chat(usage)
    if converted is not None:
        response["usage"] = converted
    return response


def from_chat(
    chat: dict[str, Any],
    req: ResponsesRequest,
    *,
    response_id: str,
    created_at: int,
    model: str,
) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` (first choice) as a ``Response``."""
    choice = (chat.get("choices") or [{}])[0]
    finish_reason = choice.get("finish_reason")
    items = output_items(choice.get("message") or {}, finish_reason)
    shell = response_shell(req, response_id, created_at, model)
    return finish(shell, items, finish_reason, chat.get("usage"))


# -- streaming -------------------------------------------------------------------------------
def failure_code(code: Any, kind: Any) -> str:
    """A ``ResponseErrorCode`` for an OpenAI error body's ``code`` and ``type``."""
    if code in ("rate_limit_exceeded", "upstream_rate_limited") or kind in ("requests", "tokens"):
        return "rate_limit_exceeded"
    return "server_error"


class StreamTranslator:
    """OpenAI chat chunk dicts in, Responses stream events (SSE bytes) out.

    Output items are opened as their first delta arrives (``output_item.added``, and for
    text ``content_part.added``), and closed — text when a tool call starts, everything at
    the end — with their ``.done`` events; each event carries the next ``sequence_number``.
    """

    def __init__(self, shell: dict[str, Any]) -> None:
        self.shell = shell
        self.seq = 0
        self.items: list[dict[str, Any]] = []
        self.text_index: int | None = None  # output index of the open message, if any
        self.calls: dict[int, int] = {}  # chat tool_call index → output index (open calls)
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None

    def event(self, kind: str, data: dict[str, Any]) -> bytes:
        out = named_event(kind, {"type": kind, "sequence_number": self.seq, **data})
        self.seq += 1
        return out

    def start(self) -> bytes:
        return self.event("response.created", {"response": self.shell}) + self.event(
            "response.in_progress", {"response": self.shell}
        )

    # -- the message (text and refusal parts) -------------------------------------------
    def _where(self, index: int, content_index: int | None = None) -> dict[str, Any]:
        where: dict[str, Any] = {"item_id": self.items[index]["id"], "output_index": index}
        if content_index is not None:
            where["content_index"] = content_index
        return where

    def _part(self, kind: str) -> tuple[bytes, int, dict[str, Any]]:
        """The open message's part of ``kind`` (opening the message and the part as needed):
        the events that opened them, the output index, the part."""
        out = b""
        if self.text_index is None:
            self.text_index = len(self.items)
            item = _message_item(new_id("msg"), [], "in_progress")
            self.items.append(item)
            out += self.event(
                "response.output_item.added",
                {"output_index": self.text_index, "item": _copy(item)},
            )
        index = self.text_index
        content = self.items[index]["content"]
        part = next((p for p in content if p["type"] == kind), None)
        if part is None:
            part = _text_part("") if kind == "output_text" else {"type": kind, "refusal": ""}
            content.append(part)
            out += self.event(
                "response.content_part.added",
                {**self._where(index, len(content) - 1), "part": dict(part)},
            )
        return out, index, part

    def _text_delta(self, text: str) -> bytes:
        out, index, part = self._part("output_text")
        part["text"] += text
        k = self.items[index]["content"].index(part)
        return out + self.event(
            "response.output_text.delta",
            {**self._where(index, k), "delta": text, "logprobs": []},
        )

    def _refusal_delta(self, text: str) -> bytes:
        out, index, part = self._part("refusal")
        part["refusal"] += text
        k = self.items[index]["content"].index(part)
        return out + self.event("response.refusal.delta", {**self._where(index, k), "delta": text})

    def _close_text(self, status: str) -> bytes:
        if self.text_index is None:
            return b""
        index, self.text_index = self.text_index, None
        item = self.items[index]
        out = b""
        for k, part in enumerate(item["content"]):
            if part["type"] == "output_text":
                done = {"text": part["text"], "logprobs": []}
                out += self.event("response.output_text.done", {**self._where(index, k), **done})
            else:
                done = {"refusal": part["refusal"]}
                out += self.event("response.refusal.done", {**self._where(index, k), **done})
            out += self.event(
                "response.content_part.done", {**self._where(index, k), "part": dict(part)}
            )
        item["status"] = status
        return out + self.event(
            "response.output_item.done", {"output_index": index, "item": _copy(item)}
        )

    # -- function calls -----------------------------------------------------------------
    def _call_delta(self, call: dict[str, Any]) -> bytes:
        k = int(call.get("index", 0))
        fn = call.get("function") or {}
        out = b""
        if k not in self.calls:
            out += self._close_text("completed")
            index = len(self.items)
            item = _call_item(
                {"id": call.get("id"), "function": {"name": fn.get("name"), "arguments": ""}},
                "in_progress",
            )
            self.items.append(item)
            self.calls[k] = index
            out += self.event(
                "response.output_item.added", {"output_index": index, "item": _copy(item)}
            )
        index = self.calls[k]
        item = self.items[index]
        if fn.get("name") and not item["name"]:
            item["name"] = fn["name"]
        args = fn.get("arguments")
        if args:
            item["arguments"] += args
            out += self.event(
                "response.function_call_arguments.delta", {**self._where(index), "delta": args}
            )
        return out

    def _close_calls(self, status: str) -> bytes:
        out = b""
        for index in sorted(self.calls.values()):
            item = self.items[index]
            done = {"name": item["name"], "arguments": item["arguments"]}
            out += self.event(
                "response.function_call_arguments.done", {**self._where(index), **done}
            )
            item["status"] = status
            out += self.event(
                "response.output_item.done", {"output_index": index, "item": _copy(item)}
            )
        self.calls = {}
        return out

    # -- chunks in, events out ----------------------------------------------------------
    def feed(self, chunk: dict[str, Any]) -> bytes:
        out = b""
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self.calls and self.text_index is None:
                    # Text after tool calls: a message item of its own, after the calls.
                    out += self._close_calls("completed")
                out += self._text_delta(str(delta["content"]))
            if delta.get("refusal"):
                out += self._refusal_delta(str(delta["refusal"]))
            for call in delta.get("tool_calls") or ():
                out += self._call_delta(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def finish(self) -> tuple[bytes, dict[str, Any]]:
        """Close every open item; return the events and the final ``Response`` (the caller
        stores it, then sends ``done(response)``)."""
        status = "incomplete" if self.finish_reason in INCOMPLETE_REASONS else "completed"
        out = b""
        if not self.items:
            out += self._part("output_text")[0]  # an empty answer is still a message
        out += self._close_text(status) + self._close_calls(status)
        return out, finish(self.shell, self.items, self.finish_reason, self.usage)

    def done(self, response: dict[str, Any]) -> bytes:
        kind = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
        return self.event(kind, {"response": response})

    def fail(self, error: dict[str, Any]) -> bytes:
        """The stream broke after it started: close what is open, then ``response.failed``."""
        out = self._close_text("incomplete") + self._close_calls("incomplete")
        response = dict(self.shell)
        response["status"] = "failed"
        response["output"] = self.items
        response["error"] = {
            "code": failure_code(error.get("code"), error.get("type")),
            "message": str(error.get("message") or "The upstream failed mid-stream."),
        }
        if self.usage is not None:
            response["usage"] = usage_from_chat(self.usage)
        return out + self.event("response.failed", {"response": response})


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    return orjson.loads(orjson.dumps(item))  # type: ignore[no-any-return]


async def translate_stream(
    chat_sse: AsyncGenerator[bytes, None],
    translator: StreamTranslator,
    on_complete: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> AsyncGenerator[bytes, None]:
    """The relay's OpenAI SSE bytes re-emitted as Responses events.

    ``on_complete`` gets the final ``Response`` (with ``omni``) before ``response.completed``
    is sent, so a stored response exists by the time the client can ask for a follow-up.
    """
    omni: dict[str, Any] | None = None
    try:
        yield translator.start()
        async for block in chat_sse:
            out = b""
            for data in relay_events(block):
                if data == b"[DONE]":
                    events, response = translator.finish()
                    if omni is not None:
                        response["omni"] = omni
                    out += events
                    if on_complete is not None:
                        if out:
                            yield out  # the deltas are not held up by the write
                            out = b""
                        await on_complete(response)
                    out += translator.done(response)
                    continue
                chunk = orjson.loads(data)
                if "error" in chunk:
                    err = chunk["error"] if isinstance(chunk["error"], dict) else {}
                    out += translator.fail(err)
                    continue
                omni = chunk.pop("omni", omni)
                out += translator.feed(chunk)
            if out:
                yield out
    finally:
        await chat_sse.aclose()
