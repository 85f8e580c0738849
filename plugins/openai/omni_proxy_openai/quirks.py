"""What OpenAI-compatible upstreams do differently from OpenAI, as small pure functions.

- **Error bodies.** OpenRouter answers ``{"error": {"code": 402, "message": …, "metadata":
  {…}}}``: the code is the HTTP status as an *integer*, and ``metadata`` names the provider
  behind it (``provider_name``, ``raw``) or why the input was flagged (``reasons``,
  ``flagged_input``). OpenAI's own ``code`` is a string or null.
- **Errors after a 200.** Once generation started, OpenRouter reports a failure in the body
  (``{"error": …}``, or ``choices[].error``) or as an SSE event that is also a chunk
  (``"error": {…}, "choices": [{"finish_reason": "error"}]``), sometimes followed by
  ``[DONE]``. Those must become errors the fallback logic and the client see, never a
  silently truncated answer.
- **402 Payment Required** (OpenRouter, DeepSeek: out of credits) is the operator's problem,
  not the client's: a retryable 502 another model may fix.
- **Groq** puts usage in ``x_groq.usage`` on the last chunk when it does not send OpenAI's
  ``include_usage`` chunk; ``usage_from_x_groq`` turns it into one.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from omni_proxy import ProxyError, error_from_status, error_message

INSUFFICIENT_CREDITS = "upstream_insufficient_credits"
CONTENT_POLICY = "content_policy_violation"


def _metadata(err: Any) -> dict[str, Any]:
    meta = err.get("metadata") if isinstance(err, dict) else None
    return meta if isinstance(meta, dict) else {}


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def upstream_error_of(
    provider: str,
    status: int | None,
    payload: Any,
    *,
    retry_after: float | None = None,
    fallback_message: str = "",
) -> ProxyError:
    """The CONTRACT.md error for an error body; ``status`` None means it came inside a 200
    (a body or a stream event), so an integer ``error.code`` is taken as the status."""
    err = payload.get("error") if isinstance(payload, dict) else None
    message, code, param, _ = error_message(payload)
    message = message or fallback_message
    raw_code = err.get("code") if isinstance(err, dict) else None
    if _is_int(raw_code):
        code = None  # OpenRouter's numeric code is a status, not an OpenAI error code
        if status is None or status == 200:
            status = raw_code if 400 <= raw_code <= 599 else 502
    if status is None or status < 400:
        status = 502
    meta = _metadata(err)
    where = meta.get("provider_name")
    raw = meta.get("raw")
    if where or isinstance(raw, str):
        detail = str(where or "")
        if isinstance(raw, str) and raw and raw not in message:
            detail = f"{detail}: {raw[:300]}" if detail else raw[:300]
        if detail:
            message = f"{message} ({detail})" if message else detail
    if status == 402:
        return error_from_status(
            provider,
            402,
            message or "insufficient credits",
            code=INSUFFICIENT_CREDITS,
            retry_after=retry_after,
        )
    if status == 403 and ("reasons" in meta or "flagged_input" in meta):
        reasons = meta.get("reasons")
        why = ", ".join(str(r) for r in reasons) if isinstance(reasons, list) else ""
        text = f"{provider}: {message or 'the input was flagged by moderation'}"
        return ProxyError(
            400,
            f"{text} ({why})" if why else text,
            code=CONTENT_POLICY,
            param="messages",
            retryable=False,
        )
    return error_from_status(
        provider, status, message, code=code, param=param, retry_after=retry_after
    )


def failed_choices(data: dict[str, Any]) -> dict[str, Any] | None:
    """The error when every choice of a 200 ``chat.completion`` failed (OpenRouter puts a
    mid-generation failure on the choice), else None."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        return None
    errors = [c.get("error") for c in choices if isinstance(c, dict)]
    if len(errors) == len(choices) and all(isinstance(e, dict) for e in errors):
        return {"error": errors[0]}
    return None


def usage_from_x_groq(chunk: dict[str, Any]) -> dict[str, Any] | None:
    """OpenAI ``usage`` from Groq's ``x_groq.usage`` (which also carries timings)."""
    extra = chunk.get("x_groq")
    usage = extra.get("usage") if isinstance(extra, dict) else None
    if not isinstance(usage, dict) or not _is_int(usage.get("prompt_tokens")):
        return None
    prompt = int(usage["prompt_tokens"])
    completion = int(usage.get("completion_tokens") or 0)
    total = usage.get("total_tokens")
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(total) if _is_int(total) else prompt + completion,
    }


def usage_chunk(last: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    """The ``include_usage`` chunk OpenAI would have sent after ``last``."""
    return {
        "id": last.get("id", "chatcmpl-usage"),
        "object": "chat.completion.chunk",
        "created": last.get("created", 0),
        "model": last.get("model", ""),
        "choices": [],
        "usage": usage,
    }


def drop_message_fields(messages: Any, fields: tuple[str, ...]) -> Any:
    """``messages`` without ``fields`` on any message (Groq rejects ``messages[].name``)."""
    if not isinstance(messages, list):
        return messages
    return [
        {k: v for k, v in m.items() if k not in fields} if isinstance(m, dict) else m
        for m in messages
    ]
