"""OpenAI Chat Completions <-> Gemini ``generateContent``, as small pure functions.

Written from the wire-format reference (WIRE-FORMATS.md, Part C). Nothing here does I/O:
``to_gemini`` builds a ``GenerateContentRequest`` (camelCase wire names) from an OpenAI
request, ``from_gemini`` turns a ``GenerateContentResponse`` into a ``chat.completion``, and
``StreamTranslator`` turns the responses of an ``alt=sse`` stream into chunk dicts.

Gemini 3 models want the ``thoughtSignature`` of a function call back on later turns. It is
handed to the client as ``tool_calls[].extra_content.google.thought_signature`` (the field
Google's own OpenAI-compatible endpoint uses) and read back from there, or from the
``signatures`` map the provider keeps for clients that drop unknown fields.
"""

from __future__ import annotations

import json
import mimetypes
import re
import secrets
import time
import urllib.parse
from collections.abc import Mapping
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

#: Gemini ``finishReason`` values shown to the client as ``content_filter``.
FILTERED = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)

#: google.rpc status -> HTTP status (for errors that arrive inside a stream).
RPC_STATUSES: dict[str, int] = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNKNOWN": 500,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}

Part = dict[str, Any]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


# --------------------------------------------------------------------------- requests


def to_gemini(
    body: dict[str, Any], *, signatures: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A ``GenerateContentRequest`` for an OpenAI chat request (the model goes in the URL).

    ``signatures`` maps tool-call ids to thought signatures seen in earlier answers.
    Raises a 400 ``ProxyError`` naming the parameter for input Gemini cannot take.
    """
    signatures = signatures or {}
    system: list[Part] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for i, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict):
            raise bad_request(f"Invalid 'messages[{i}]': expected an object.", f"messages[{i}]")
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_parts(message.get("content"), f"messages[{i}].content"))
        elif role == "user":
            _append(contents, "user", _user_parts(message.get("content"), i))
        elif role == "assistant":
            _append(contents, "model", _model_parts(message, i, call_names, signatures))
        elif role == "tool":
            _append(contents, "user", [_function_response(message, i, call_names)])
        else:
            raise bad_request(
                f"Invalid 'messages[{i}].role': {role!r} is not supported for Gemini models "
                "(use system, developer, user, assistant or tool).",
                f"messages[{i}].role",
            )
    if not contents:
        if not system:
            raise bad_request("Invalid 'messages': nothing to send to the model.", "messages")
        contents, system = [{"role": "user", "parts": system}], []

    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    tools, tool_config = _tools(body)
    if tools:
        out["tools"] = tools
        if tool_config:
            out["toolConfig"] = tool_config
    config = _generation_config(body)
    if config:
        out["generationConfig"] = config
    return out


def _append(contents: list[dict[str, Any]], role: str, parts: list[Part]) -> None:
    """Consecutive same-role messages become one content (tool results answer together)."""
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": list(parts)})


def _text_parts(content: Any, where: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise bad_request(
                    f"Invalid '{where}[{j}]': only text parts are allowed here.", f"{where}[{j}]"
                )
            if part.get("text"):
                parts.append({"text": str(part["text"])})
        return parts
    raise bad_request(f"Invalid '{where}': expected a string or an array of parts.", where)


def guess_mime(url: str, default: str = "image/jpeg") -> str:
    path = urllib.parse.urlsplit(url).path
    guessed, _ = mimetypes.guess_type(path, strict=False)
    return guessed or default


def media_part(url: Any, where: str, default_mime: str = "image/jpeg") -> Part:
    """``inlineData`` for a data URI, ``fileData`` for an http(s)/gs URL."""
    if not isinstance(url, str) or not url:
        raise bad_request(f"Invalid '{where}': expected a URL or a data URI.", where)
    data = parse_data_uri(url)
    if data is not None:
        mime = "image/jpeg" if data[0] == "image/jpg" else data[0]
        return {"inlineData": {"mimeType": mime, "data": data[1]}}
    if url.startswith(("https://", "http://", "gs://")):
        return {"fileData": {"mimeType": guess_mime(url, default_mime), "fileUri": url}}
    raise bad_request(f"Invalid '{where}': URLs must be http(s) or data URIs.", where)


def _user_parts(content: Any, i: int) -> list[Part]:
    where = f"messages[{i}].content"
    if content is None or isinstance(content, str):
        return _text_parts(content, where)
    if not isinstance(content, list):
        raise bad_request(f"Invalid '{where}': expected a string or an array of parts.", where)
    parts: list[Part] = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        here = f"{where}[{j}]"
        if kind == "text":
            if part.get("text"):
                parts.append({"text": str(part["text"])})
        elif kind == "image_url":
            image = part.get("image_url")
            parts.append(media_part(image.get("url") if isinstance(image, dict) else image, here))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            fmt = str(audio.get("format") or "wav")
            parts.append({"inlineData": {"mimeType": f"audio/{fmt}", "data": audio.get("data")}})
        elif kind == "file":
            file = part.get("file") or {}
            data = file.get("file_data")
            if not isinstance(data, str):
                raise bad_request(
                    f"Invalid '{here}': Gemini models take files as data URIs in 'file_data'.",
                    here,
                    code="unsupported_content",
                )
            if not data.startswith("data:"):
                filename = str(file.get("filename") or "")
                mime = guess_mime(filename, "application/pdf")
                data = f"data:{mime};base64,{data}"
            parts.append(media_part(data, here))
        else:
            raise bad_request(
                f"Invalid '{here}': content parts of type {kind!r} are not "
                "supported by Gemini models.",
                here,
                code="unsupported_content",
            )
    return parts


def signature_of(call: dict[str, Any]) -> str | None:
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, dict) else None
    sig = google.get("thought_signature") if isinstance(google, dict) else None
    return sig if isinstance(sig, str) and sig else None


def _model_parts(
    message: dict[str, Any], i: int, call_names: dict[str, str], signatures: Mapping[str, str]
) -> list[Part]:
    where = f"messages[{i}]"
    parts: list[Part] = [{"text": text} for text, _ in assistant_texts(message.get("content"))]
    for j, (function, call) in enumerate(function_calls(message, where)):
        name = str(function["name"])
        call_id = str(call.get("id") or "")
        if call_id:
            call_names[call_id] = name
        call_part: Part = {
            "functionCall": {
                "name": name,
                "args": arguments_object(
                    function.get("arguments"), f"{where}.tool_calls[{j}].function.arguments"
                ),
            }
        }
        sig = signature_of(call) or signatures.get(call_id)
        if sig:
            call_part["thoughtSignature"] = sig
        parts.append(call_part)
    return parts


def _function_response(message: dict[str, Any], i: int, call_names: dict[str, str]) -> Part:
    call_id = str(message.get("tool_call_id") or "")
    name = call_names.get(call_id) or message.get("name")
    if not name:
        raise bad_request(
            f"Invalid 'messages[{i}].tool_call_id': no earlier assistant tool call has id "
            f"{call_id!r}, and Gemini needs the function's name.",
            f"messages[{i}].tool_call_id",
        )
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(
            str(p.get("text") or "")
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    text = content if isinstance(content, str) else ""
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    response = value if isinstance(value, dict) else {"result": value}
    return {"functionResponse": {"name": str(name), "response": response}}


def _tools(body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    functions = function_tools(body, "Gemini")
    if not functions:
        return [], None
    declarations: list[dict[str, Any]] = []
    for function in functions:
        declaration: dict[str, Any] = {"name": function["name"]}
        if function.get("description"):
            declaration["description"] = function["description"]
        if isinstance(function.get("parameters"), dict) and function["parameters"]:
            # Full JSON Schema (OpenAI schemas use additionalProperties, $defs, …).
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)

    config: dict[str, Any] | None = None
    choice = body.get("tool_choice")
    if choice == "auto":
        config = {"mode": "AUTO"}
    elif choice == "none":
        config = {"mode": "NONE"}
    elif choice == "required":
        config = {"mode": "ANY"}
    elif isinstance(choice, dict):
        if choice.get("type") == "function":
            name = (choice.get("function") or {}).get("name")
            if not name:
                raise bad_request("Invalid 'tool_choice': missing function name.", "tool_choice")
            config = {"mode": "ANY", "allowedFunctionNames": [name]}
        elif choice.get("type") == "allowed_tools":
            allowed = choice.get("allowed_tools") or {}
            names = [
                (t.get("function") or {}).get("name")
                for t in allowed.get("tools") or ()
                if isinstance(t, dict)
            ]
            config = {"mode": "ANY" if allowed.get("mode") == "required" else "AUTO"}
            if names and config["mode"] == "ANY":
                config["allowedFunctionNames"] = [n for n in names if n]
            elif names:
                declarations = [d for d in declarations if d["name"] in names] or declarations
    tool_config = {"functionCallingConfig": config} if config else None
    return [{"functionDeclarations": declarations}], tool_config


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ):
        if _number(body.get(ours)):
            config[theirs] = body[ours]
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            config["maxOutputTokens"] = value
            break
    sequences = stop_sequences(body)
    if sequences:
        config["stopSequences"] = sequences
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        config["candidateCount"] = n
    if isinstance(body.get("seed"), int) and not isinstance(body.get("seed"), bool):
        config["seed"] = body["seed"]
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind in ("json_object", "json_schema"):
            config["responseMimeType"] = "application/json"
        spec = response_format.get("json_schema")
        if (
            kind == "json_schema"
            and isinstance(spec, dict)
            and isinstance(spec.get("schema"), dict)
        ):
            config["responseJsonSchema"] = spec["schema"]
    return config


# --------------------------------------------------------------------------- responses


def finish_reason(reason: Any, has_calls: bool = False) -> str | None:
    """OpenAI ``finish_reason`` for a Gemini ``finishReason`` (None while still going)."""
    if not reason:
        return None
    if reason in FILTERED:
        return "content_filter"
    if reason == "MAX_TOKENS":
        return "length"
    return "tool_calls" if has_calls else "stop"


def openai_usage(meta: Any) -> dict[str, Any]:
    """OpenAI ``usage``: thinking tokens are billed as output, so they are completion tokens."""
    meta = meta if isinstance(meta, dict) else {}

    def count(key: str) -> int:
        value = meta.get(key)
        return int(value) if _number(value) else 0

    prompt = count("promptTokenCount") + count("toolUsePromptTokenCount")
    thoughts = count("thoughtsTokenCount")
    completion = count("candidatesTokenCount") + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": count("cachedContentTokenCount")},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


def tool_call(part: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI tool call for a ``functionCall`` part (ids are made up when Gemini has none)."""
    call = part.get("functionCall") or {}
    out: dict[str, Any] = {
        "id": str(call.get("id") or new_call_id()),
        "type": "function",
        "function": {
            "name": str(call.get("name") or ""),
            "arguments": json.dumps(
                call.get("args") or {}, ensure_ascii=False, separators=(",", ":")
            ),
        },
    }
    sig = part.get("thoughtSignature")
    if isinstance(sig, str) and sig:
        out["extra_content"] = {"google": {"thought_signature": sig}}
    return out


def _read_parts(parts: Any) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(texts, thoughts, tool calls) of a candidate's parts."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in parts or ():
        if not isinstance(part, dict):
            continue
        if "functionCall" in part:
            calls.append(tool_call(part))
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else texts).append(part["text"])
    return texts, thoughts, calls


def _response_id(response: dict[str, Any]) -> str:
    rid = response.get("responseId")
    return f"chatcmpl-{rid}" if rid else f"chatcmpl-{secrets.token_hex(12)}"


def _blocked(response: dict[str, Any]) -> bool:
    feedback = response.get("promptFeedback")
    return isinstance(feedback, dict) and bool(feedback.get("blockReason"))


def from_gemini(
    response: dict[str, Any],
    public_model: str,
    *,
    created: int | None = None,
    provider: str = "gemini",
) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` for a ``GenerateContentResponse``.

    A blocked prompt (no candidates, ``promptFeedback.blockReason``) is one empty choice
    with ``finish_reason: "content_filter"``.
    """
    candidates = [c for c in response.get("candidates") or () if isinstance(c, dict)]
    choices: list[dict[str, Any]] = []
    for position, candidate in enumerate(candidates):
        texts, thoughts, calls = _read_parts((candidate.get("content") or {}).get("parts"))
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(texts) if texts or not calls else None,
            "refusal": None,
        }
        if calls:
            message["tool_calls"] = calls
        if thoughts:
            message["reasoning_content"] = "".join(thoughts)
        choices.append(
            {
                "index": int(candidate.get("index", position)),
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(
                    candidate.get("finishReason") or "STOP", bool(calls)
                ),
            }
        )
    if not choices:
        if not _blocked(response):
            raise error_from_status(
                provider, 502, "the answer has no candidates", code="upstream_bad_response"
            )
        choices = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "", "refusal": None},
                "logprobs": None,
                "finish_reason": "content_filter",
            }
        ]
    choices.sort(key=lambda c: c["index"])
    return {
        "id": _response_id(response),
        "object": "chat.completion",
        "created": created if created is not None else int(time.time()),
        "model": public_model,
        "choices": choices,
        "usage": openai_usage(response.get("usageMetadata")),
    }


def _retry_delay(details: Any) -> float | None:
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay") or ""))
            if match:
                return min(60.0, float(match.group(1)))
    return None


def gemini_error(
    provider: str,
    status: int | None,
    payload: Any,
    *,
    retry_after: float | None = None,
    fallback_message: str = "",
) -> ProxyError:
    """The CONTRACT.md error for a google.rpc error body (HTTP or inside a stream)."""
    if isinstance(payload, list) and payload:
        payload = payload[0]
    err = payload.get("error") if isinstance(payload, dict) else None
    err = err if isinstance(err, dict) else {}
    rpc = str(err.get("status") or "")
    message = str(err.get("message") or "") or fallback_message
    if status is None:
        code = err.get("code")
        status = code if isinstance(code, int) and code >= 400 else RPC_STATUSES.get(rpc, 500)
    details = err.get("details")
    reasons = (
        {d.get("reason") for d in details if isinstance(d, dict)}
        if isinstance(details, list)
        else set()
    )
    if status == 400 and ("API_KEY_INVALID" in reasons or rpc == "FAILED_PRECONDITION"):
        # A bad key, or billing/region not set up: the operator's problem, not the client's.
        status = 401 if "API_KEY_INVALID" in reasons else 403
    return error_from_status(
        provider,
        status,
        message,
        retry_after=retry_after if retry_after is not None else _retry_delay(details),
        overloaded=rpc == "UNAVAILABLE",
    )


class StreamTranslator:
    """Gemini ``alt=sse`` responses in, OpenAI chunk dicts out (one translator per stream).

    ``feed`` takes each parsed event; ``close`` (at end of stream) returns the usage chunk,
    or raises ``ProxyError`` if the stream ended before every candidate finished.
    """

    def __init__(
        self,
        public_model: str,
        *,
        provider: str = "gemini",
        include_usage: bool = False,
        created: int | None = None,
    ) -> None:
        self.model = public_model
        self.provider = provider
        self.include_usage = include_usage
        self.created = created if created is not None else int(time.time())
        self.id: str | None = None
        self.usage: dict[str, Any] = {}
        self.started: set[int] = set()
        self.finished: set[int] = set()
        self._tool_counts: dict[int, int] = {}

    def chunk(self, index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id or "",
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }
        if self.include_usage:
            out["usage"] = None
        return out

    def _delta(self, index: int, delta: dict[str, Any]) -> dict[str, Any]:
        if index not in self.started:
            self.started.add(index)
            delta = {"role": "assistant", **delta}
            delta.setdefault("content", "")
        return delta

    def feed(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        if "error" in response:
            raise gemini_error(self.provider, None, response, fallback_message="the stream failed")
        if self.id is None:
            self.id = _response_id(response)
        if isinstance(response.get("usageMetadata"), dict):
            self.usage = response["usageMetadata"]
        out: list[dict[str, Any]] = []
        candidates = [c for c in response.get("candidates") or () if isinstance(c, dict)]
        if not candidates and _blocked(response) and 0 not in self.finished:
            self.finished.add(0)
            out.append(self.chunk(0, self._delta(0, {})))
            out.append(self.chunk(0, {}, "content_filter"))
            return out
        for position, candidate in enumerate(candidates):
            index = int(candidate.get("index", position))
            if index in self.finished:
                continue
            texts, thoughts, calls = _read_parts((candidate.get("content") or {}).get("parts"))
            delta: dict[str, Any] = {}
            if texts and "".join(texts):
                delta["content"] = "".join(texts)
            if thoughts:
                delta["reasoning_content"] = "".join(thoughts)
            if calls:
                first = self._tool_counts.get(index, 0)
                self._tool_counts[index] = first + len(calls)
                delta["tool_calls"] = [{"index": first + k, **call} for k, call in enumerate(calls)]
            if delta or index not in self.started:
                out.append(self.chunk(index, self._delta(index, delta)))
            reason = candidate.get("finishReason")
            if reason:
                self.finished.add(index)
                out.append(
                    self.chunk(
                        index, {}, finish_reason(reason, self._tool_counts.get(index, 0) > 0)
                    )
                )
        return out

    def close(self) -> list[dict[str, Any]]:
        if not self.finished or self.started - self.finished:
            raise error_from_status(
                self.provider,
                502,
                "the stream ended before finishReason",
                code="upstream_stream_cut",
            )
        return [
            {
                "id": self.id or "",
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": openai_usage(self.usage),
            }
        ]
