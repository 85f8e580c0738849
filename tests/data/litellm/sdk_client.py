"""LiteLLM's SDK as a client of omni-proxy (run by tests/test_litellm.py in its own venv).

Prints one JSON line with what each call saw, for the test to check.
"""

import asyncio
import json
import os

import litellm

BASE = os.environ["BASE_URL"]
KEY = os.environ["API_KEY"]
MODEL = "openai/auto"
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
        },
    },
}


def extra(obj):
    """The proxy's ``omni`` object, wherever LiteLLM kept it."""
    found = getattr(obj, "omni", None)
    if found is None and hasattr(obj, "model_extra"):
        found = (obj.model_extra or {}).get("omni")
    if found is None and hasattr(obj, "_hidden_params"):
        found = (obj._hidden_params.get("additional_headers") or {}).get("omni")
    return found


def usage_of(obj):
    u = getattr(obj, "usage", None)
    if u is None:
        return None
    return {"prompt": u.prompt_tokens, "completion": u.completion_tokens, "total": u.total_tokens}


def main():
    out = {}
    r = litellm.completion(
        model=MODEL,
        api_base=BASE,
        api_key=KEY,
        messages=[{"role": "user", "content": "Say hello to LiteLLM"}],
    )
    out["chat"] = {
        "content": r.choices[0].message.content,
        "finish": r.choices[0].finish_reason,
        "usage": usage_of(r),
        "omni": extra(r),
        "headers": {
            k: v
            for k, v in (r._hidden_params.get("additional_headers") or {}).items()
            if "request-id" in k
        },
    }

    chunks = list(
        litellm.completion(
            model=MODEL,
            api_base=BASE,
            api_key=KEY,
            messages=[{"role": "user", "content": "Stream a short poem about rivers"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)
    usages = [usage_of(c) for c in chunks if getattr(c, "usage", None)]
    rebuilt = litellm.stream_chunk_builder(chunks)
    out["stream"] = {
        "text": text,
        "chunks": len(chunks),
        "usages": usages,
        "rebuilt_text": rebuilt.choices[0].message.content,
        "rebuilt_usage": usage_of(rebuilt),
        "finish": rebuilt.choices[0].finish_reason,
        "omni": [o for o in (extra(c) for c in chunks) if o],
    }

    r = litellm.completion(
        model=MODEL,
        api_base=BASE,
        api_key=KEY,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[TOOL],
        tool_choice="required",
    )
    call = r.choices[0].message.tool_calls[0]
    out["tool"] = {
        "name": call.function.name,
        "arguments": json.loads(call.function.arguments),
        "finish": r.choices[0].finish_reason,
    }

    async def both():
        a = await litellm.acompletion(
            model=MODEL,
            api_base=BASE,
            api_key=KEY,
            messages=[{"role": "user", "content": "async hello"}],
        )
        stream = await litellm.acompletion(
            model=MODEL,
            api_base=BASE,
            api_key=KEY,
            messages=[{"role": "user", "content": "async stream"}],
            stream=True,
        )
        pieces = [c async for c in stream]
        return a, pieces

    a, pieces = asyncio.run(both())
    out["async"] = {
        "content": a.choices[0].message.content,
        "usage": usage_of(a),
        "stream_text": "".join((c.choices[0].delta.content or "") for c in pieces if c.choices),
    }

    try:
        litellm.completion(
            model=MODEL,
            api_base=BASE,
            api_key="sk-wrong-key",
            messages=[{"role": "user", "content": "x"}],
            num_retries=0,
        )
        out["error"] = None
    except Exception as exc:  # LiteLLM maps the OpenAI error to its own classes
        out["error"] = {
            "type": type(exc).__name__,
            "status": getattr(exc, "status_code", None),
            "message": str(exc)[:500],
        }
    print(json.dumps(out))


main()
