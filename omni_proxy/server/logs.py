"""Logging: one structured line per request and per upstream failure.

JSON lines when stderr is not a terminal (or ``OMNI_LOG_FORMAT=json``), readable text on a
terminal (or ``OMNI_LOG_FORMAT=text``): one format for every line on stderr, uvicorn's own
included, so a log collector never meets a line it cannot parse. (``serve``'s banner, the
address and the demo key, goes to stdout as plain text for people and scripts.)
Keys, prompts and completions are never
written at all: the request line carries ids, models, tokens, money and timings only.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

import orjson

from ..plugins import hookimpl
from ..types import RequestRecord

REQUEST_LOG = logging.getLogger("omni_proxy.request")
UPSTREAM_LOG = logging.getLogger("omni_proxy.upstream")


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = getattr(record, "fields", None)
        extra = ""
        if isinstance(fields, dict):
            extra = " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        text = f"{stamp} {record.levelname:<7} {record.getMessage()}{extra}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure(level: str = "info", fmt: str | None = None) -> None:
    """Root logging for the proxy; called once by ``serve`` (and in each worker)."""
    fmt = fmt or os.environ.get("OMNI_LOG_FORMAT") or ("text" if sys.stderr.isatty() else "json")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else TextFormatter())
    for name in ("omni_proxy", "uvicorn"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    for name in ("uvicorn.error", "uvicorn.access"):
        # uvicorn's own config may have given these handlers; they go through "uvicorn".
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class RequestLogPlugin:
    """Default ``record``: the per-request log line."""

    @hookimpl(trylast=True)
    def record(self, event: RequestRecord) -> None:
        if not REQUEST_LOG.isEnabledFor(logging.INFO):
            return
        fields = {
            "request_id": event.request_id,
            "client_request_id": event.client_request_id,
            "endpoint": event.endpoint,
            "org": event.org_id,
            "key_id": event.key_id,
            "task": event.task_type,
            "model_requested": event.model_requested,
            "model": event.model_used,
            "provider": event.provider,
            "status": event.status,
            "stream": event.stream,
            "latency_ms": round(event.latency_ms, 2),
            "ttft_ms": round(event.ttft_ms, 2) if event.ttft_ms is not None else None,
            "prompt_tokens": event.prompt_tokens,
            "completion_tokens": event.completion_tokens,
            "cost": float(event.cost),
            "savings": float(event.savings),
            "fallbacks": event.fallback_count,
            "error": event.error,
            "client_disconnected": event.client_disconnected or None,
        }
        level = logging.WARNING if event.status >= 500 else logging.INFO
        REQUEST_LOG.log(level, "request", extra={"fields": fields})


def upstream_failure(
    request_id: str, model: str, provider: str, status: int, code: str | None, message: str
) -> None:
    UPSTREAM_LOG.warning(
        "upstream failure",
        extra={
            "fields": {
                "request_id": request_id,
                "model": model,
                "provider": provider,
                "status": status,
                "code": code,
                "error": message[:300],
            }
        },
    )
