"""The one error type the proxy raises, rendered as the CONTRACT.md error body.

Everything that can go wrong on a request ends up as a ``ProxyError`` so the client always
gets OpenAI's error shape with the status OpenAI would use, never a traceback.
"""

from __future__ import annotations

from typing import Any

import orjson

# Statuses at which trying another upstream (or the same one later) can help.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


class ProxyError(Exception):
    """An error with everything needed to answer the client in OpenAI's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}
        self.retryable = status in RETRYABLE_STATUSES if retryable is None else retryable

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            },
            "request_id": request_id,
        }

    def to_bytes(self, request_id: str | None = None) -> bytes:
        return orjson.dumps(self.body(request_id))

    def __repr__(self) -> str:
        return f"ProxyError({self.status}, {self.message!r}, code={self.code!r})"


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ProxyError:
    return ProxyError(400, message, param=param, code=code)


def invalid_api_key(message: str = "Invalid API key provided.") -> ProxyError:
    return ProxyError(401, message, code="invalid_api_key")


def permission_denied(message: str) -> ProxyError:
    return ProxyError(403, message, type="permission_error", code="permission_denied")


def model_not_found(model: str) -> ProxyError:
    return ProxyError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
        param="model",
    )


def upstream_error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    type: str | None = None,
    retry_after: float | None = None,
    retryable: bool | None = None,
) -> ProxyError:
    """An error that came from (or on the way to) a provider."""
    headers = {"retry-after": str(max(1, round(retry_after)))} if retry_after else {}
    if status == 429 and not headers:
        headers["retry-after"] = "1"  # CONTRACT: a 429 always says when to come back
    if type is None:
        type = "server_error" if status >= 500 else "invalid_request_error"
        if status == 429:
            type = "requests"
    return ProxyError(
        status,
        message,
        type=type,
        code=code,
        headers=headers,
        retryable=retryable,
        retry_after=retry_after,
    )
