"""The proxy's own OpenAPI 3.1 document, served at ``GET /openapi.json`` without auth.

Generated: the request bodies' schemas come from the models that validate them
(``wire.models``, ``wire.admin_models``, through pydantic's JSON Schema, their ``$defs``
lifted into ``components``), the paths from ``OPERATIONS`` filtered by the routes this app
registers. Response shapes the proxy builds itself are written here. Unknown fields are
always allowed (``additionalProperties: true``): the proxy passes them on to the provider.
The document is built once per route table and cached as bytes.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import orjson
from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import __version__
from . import admin_models, models
from .responses import INCLUDABLE

OPENAPI_VERSION = "3.1.0"

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: list[str] | None = None, **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": True}
    if required:
        schema["required"] = required
    return schema


STRING: Schema = {"type": "string"}
NUMBER: Schema = {"type": "number"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
ANY_OBJECT: Schema = {"type": "object", "additionalProperties": True}

ERROR_STATUSES = {
    "400": "The request is invalid (`invalid_request_error`).",
    "401": "No valid API key (`invalid_api_key`).",
    "403": "The key lacks a permission (`permission_error`).",
    "404": "Unknown model or object (`model_not_found`, `not_found`).",
    "408": "The request body did not arrive in time (`request_timeout`).",
    "413": "The request body is over the proxy's limit (`request_too_large`).",
    "415": "A multipart body where JSON is expected (`unsupported_content_type`).",
    "431": "The request headers are over the proxy's limit.",
    "429": "Rate limit (`rate_limit_exceeded`, with `retry-after`) or budget "
    "(`insufficient_quota`).",
    "502": "Every upstream attempt failed.",
    "503": "No upstream could take the request.",
    "504": "The upstream attempts ran past the request's deadline.",
}

RESPONSE_SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "required": ["error", "request_id"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": STRING,
                    "type": STRING,
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
                "additionalProperties": True,
            },
            "request_id": {"type": ["string", "null"]},
        },
        "additionalProperties": True,
    },
    "AnthropicError": {
        "type": "object",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": obj(["type", "message"], type=STRING, message=STRING),
        },
        "additionalProperties": True,
    },
    "Omni": obj(
        request_id=STRING,
        task_type=STRING,
        provider=STRING,
        model_used=STRING,
        cost=NUMBER,
        premium_cost=NUMBER,
        savings_estimate=NUMBER,
        latency_ms=NUMBER,
        fallbacks={"type": "array", "items": ANY_OBJECT},
        expected_quality={
            "type": "number",
            "description": "The answering model's expected share of the premium model's "
            "quality (when a quality model is in use).",
        },
        native={
            "type": "boolean",
            "description": "On `/v1/responses`: true when the model's provider served the "
            "Responses API itself (passthrough), false when it was translated onto chat.",
        },
    ),
    "ChatCompletion": obj(
        ["id", "object", "created", "model", "choices"],
        id=STRING,
        object={"const": "chat.completion"},
        created=INTEGER,
        model=STRING,
        choices={
            "type": "array",
            "items": obj(["index", "message"], index=INTEGER, message=ANY_OBJECT),
        },
        usage=nullable(ANY_OBJECT),
        omni=ref("Omni"),
    ),
    "SimpleChatResponse": obj(
        ["output", "model_used", "cost", "latency_ms", "savings_estimate", "request_id"],
        output={"type": ["string", "null"]},
        model_used=STRING,
        cost=NUMBER,
        latency_ms=NUMBER,
        savings_estimate=NUMBER,
        expected_quality=nullable(NUMBER),
        request_id=STRING,
        task_type=STRING,
        provider=STRING,
        premium_cost=NUMBER,
        fallbacks={"type": "array"},
        usage=nullable(ANY_OBJECT),
    ),
    "AgentStepResponse": obj(
        ["output", "tool_calls", "done", "model_used", "request_id"],
        output={"type": ["string", "null"]},
        tool_calls={"type": "array"},
        finish_reason={"type": ["string", "null"]},
        message=ANY_OBJECT,
        done=BOOLEAN,
        model_used=STRING,
        cost=NUMBER,
        latency_ms=NUMBER,
        savings_estimate=NUMBER,
        request_id=STRING,
        omni=ref("Omni"),
    ),
    "RouterDebugResponse": obj(
        ["task_type", "selected_model", "plan", "candidates", "reason", "request_id"],
        task_type=STRING,
        classification=ANY_OBJECT,
        selected_model=STRING,
        provider=STRING,
        strategy=STRING,
        plan={"type": "array", "items": STRING},
        candidates={"type": "array", "items": ANY_OBJECT},
        reason=STRING,
        request_id=STRING,
    ),
    "Model": obj(
        ["id", "object", "created", "owned_by"],
        id=STRING,
        object={"const": "model"},
        created=INTEGER,
        owned_by=STRING,
    ),
    "ModelList": obj(
        ["object", "data"], object={"const": "list"}, data={"type": "array", "items": ref("Model")}
    ),
    "Status": obj(["status"], status=STRING),
    "EmbeddingList": obj(
        ["object", "data", "model"],
        object={"const": "list"},
        data={"type": "array", "items": ANY_OBJECT},
        model=STRING,
        usage=ANY_OBJECT,
    ),
    "Completion": obj(
        ["id", "object", "model", "choices"],
        id=STRING,
        object={"const": "text_completion"},
        model=STRING,
        choices={"type": "array", "items": ANY_OBJECT},
    ),
    "TokenCount": obj(["input_tokens"], input_tokens=INTEGER),
    "Message": obj(
        ["id", "type", "role", "content", "model"],
        id=STRING,
        type={"const": "message"},
        role={"const": "assistant"},
        content={"type": "array", "items": ANY_OBJECT},
        model=STRING,
        stop_reason={"type": ["string", "null"]},
        usage=ANY_OBJECT,
    ),
    "ResponseObject": obj(["id", "object"], id=STRING, object={"const": "response"}),
    "ResponseItemList": obj(
        ["object", "data", "first_id", "last_id", "has_more"],
        object={"const": "list"},
        data={
            "type": "array",
            "description": "Items used to generate the response (OpenAI's `ItemResource`).",
            "items": obj(["id", "type"], id=STRING, type=STRING),
        },
        first_id={"type": ["string", "null"], "description": "Null on an empty page."},
        last_id={"type": ["string", "null"], "description": "Null on an empty page."},
        has_more=BOOLEAN,
    ),
    "Usage": obj(
        ["total_requests", "total_tokens", "total_cost", "total_savings", "by_day"],
        total_requests=INTEGER,
        total_tokens=INTEGER,
        total_cost=NUMBER,
        total_premium_cost=NUMBER,
        total_savings=NUMBER,
        success_rate={"type": ["number", "null"]},
        by_day={"type": "array", "items": ANY_OBJECT},
        by_model={"type": ["array", "object"]},
        by_task={"type": ["array", "object"]},
    ),
    "Organization": obj(["id", "object"], id=STRING, object={"const": "organization"}),
    "ApiKey": obj(["id", "object"], id=STRING, object={"const": "api_key"}),
    "Deleted": obj(["id", "deleted"], id=STRING, object=STRING, deleted=BOOLEAN),
    "List": obj(["object", "data"], object={"const": "list"}, data={"type": "array"}),
    "AuditLog": obj(
        ["object", "data", "has_more", "first_id", "last_id"],
        object={"const": "list"},
        data={
            "type": "array",
            "items": obj(
                ["id", "action", "target_type", "actor", "created_at"],
                id=STRING,
                object={"const": "audit_log.entry"},
                org_id={"type": ["string", "null"]},
                actor={"type": "string", "description": "`master`, `key:<id>` or `cli:<user>`."},
                actor_key_id={"type": ["string", "null"]},
                action=STRING,
                target_type=STRING,
                target_id={"type": ["string", "null"]},
                before={"type": ["object", "null"]},
                after={"type": ["object", "null"]},
                source={"type": ["string", "null"]},
                created_at=STRING,
            ),
        },
        has_more=BOOLEAN,
        first_id={"type": ["string", "null"]},
        last_id={"type": ["string", "null"]},
    ),
}

#: Request bodies, by the name the operations use: the models that validate them.
REQUEST_MODELS: dict[str, Any] = {
    "ChatCompletionRequest": models.ChatCompletionRequest,
    "SimpleChatRequest": models.SimpleChatRequest,
    "CompletionRequest": models.CompletionRequest,
    "EmbeddingsRequest": models.EmbeddingsRequest,
    "MessagesRequest": models.MessagesRequest,
    "CountTokensRequest": models.CountTokensRequest,
    "ResponsesRequest": models.ResponsesRequest,
    "FeedbackRequest": admin_models.FeedbackRequest,
    "OrganizationCreate": admin_models.OrganizationCreate,
    "OrganizationUpdate": admin_models.OrganizationUpdate,
    "ApiKeyCreate": admin_models.ApiKeyCreate,
    "ApiKeyUpdate": admin_models.ApiKeyUpdate,
    "ApiKeyRotate": admin_models.ApiKeyRotate,
}


@functools.cache
def schemas() -> dict[str, Schema]:
    """Every component schema: the responses', and the request models' JSON Schemas with each
    nested one as a component of its own (built on first use: it takes a while)."""
    keys, defs = TypeAdapter.json_schemas(
        [(name, "validation", TypeAdapter(kind)) for name, kind in REQUEST_MODELS.items()],
        ref_template="#/components/schemas/{model}",
    )
    out: dict[str, Schema] = {**RESPONSE_SCHEMAS, **defs.get("$defs", {})}
    for (name, _), schema in keys.items():
        if schema.get("$ref") != f"#/components/schemas/{name}":
            out[name] = schema
    return out


def __getattr__(name: str) -> Any:
    if name == "SCHEMAS":  # the old constant, built when first asked for
        return schemas()
    raise AttributeError(name)


REQUEST_ID_HEADER: Schema = {
    "description": "The request's id: the client's `x-request-id` if it sent a sane one.",
    "required": True,
    "schema": STRING,
}


def _error_responses(schema: str = "Error", extra: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, text in ERROR_STATUSES.items():
        out[status] = _json(text, schema)
    for status in extra:
        out[status] = _json("Error.", schema)
    out["default"] = _json("Any other error, in the same shape.", schema)
    return out


def _json(description: str, schema: str, *, stream: bool = False) -> Schema:
    content: Schema = {"application/json": {"schema": ref(schema)}}
    if stream:
        content["text/event-stream"] = {
            "schema": {"type": "string", "description": "Server-sent events."}
        }
    return {
        "description": description,
        "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
        "content": content,
    }


def _op(
    op_id: str,
    summary: str,
    ok: Schema,
    *,
    body: str | None = None,
    status: str = "200",
    public: bool = False,
    errors: str = "Error",
    params: list[Schema] | None = None,
    extra_errors: tuple[str, ...] = (),
) -> Schema:
    op: Schema = {
        "operationId": op_id,
        "summary": summary,
        "responses": {status: ok, **_error_responses(errors, extra_errors)},
    }
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(body)}},
        }
    if params:
        op["parameters"] = params
    if public:
        op["security"] = []
    return op


def _path_param(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": STRING,
        "description": description,
    }


def _query(name: str, description: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": STRING,
        "description": description,
    }


_CHAT = "Chat completion (OpenAI wire format; SSE with `stream: true`)."
_EMBED = "Embeddings (OpenAI format); `model: auto` picks the cheapest embedding model."
_COMPLETE = "Legacy completions, served with chat models."
_TEXT: Schema = {
    "description": "Prometheus text format.",
    "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
    "content": {"text/plain": {"schema": STRING}},
}
_HTML: Schema = {
    "description": "An HTML page.",
    "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
    "content": {"text/html": {"schema": STRING}},
}
_OPENAPI: Schema = {
    "description": "This document.",
    "headers": {"x-request-id": {"$ref": "#/components/headers/RequestId"}},
    "content": {"application/json": {"schema": ANY_OBJECT}},
}

# (path, method) -> operation, for every route the proxy may register.
OPERATIONS: dict[tuple[str, str], Schema] = {
    ("/health", "get"): _op("health", "Liveness.", _json("Alive.", "Status"), public=True),
    ("/ready", "get"): _op(
        "ready", "Readiness: the database answers.", _json("Ready.", "Status"), public=True
    ),
    ("/openapi.json", "get"): _op("openapi", "This OpenAPI document.", _OPENAPI, public=True),
    ("/metrics", "get"): _op(
        "metrics", "Prometheus metrics (admin key unless `metrics_public`).", _TEXT
    ),
    ("/dashboard", "get"): _op("dashboard", "Analytics pages.", _HTML),
    ("/v1/models", "get"): _op(
        "listModels",
        "The registry in OpenAI's list format, plus `auto`.",
        _json("Models.", "ModelList"),
    ),
    ("/v1/models/{model}", "get"): _op(
        "getModel",
        "One model.",
        _json("The model.", "Model"),
        params=[_path_param("model", "A registry name or `auto`.")],
    ),
    ("/v1/chat/completions", "post"): _op(
        "createChatCompletion",
        _CHAT,
        _json("The completion (or its SSE stream).", "ChatCompletion", stream=True),
        body="ChatCompletionRequest",
    ),
    ("/chat/completions", "post"): _op(
        "createChatCompletionAlias",
        _CHAT,
        _json("The completion (or its SSE stream).", "ChatCompletion", stream=True),
        body="ChatCompletionRequest",
    ),
    ("/v1/chat", "post"): _op(
        "simpleChat",
        "Simple contract: messages and routing options in; the answer and its price out.",
        _json("The answer.", "SimpleChatResponse"),
        body="SimpleChatRequest",
    ),
    ("/v1/agent-step", "post"): _op(
        "agentStep",
        "One step of an agent loop, routed as `agent_step`.",
        _json("The step.", "AgentStepResponse"),
        body="SimpleChatRequest",
    ),
    ("/v1/router/debug", "post"): _op(
        "routerDebug",
        "The routing decision for a request, explained, without calling a provider.",
        _json("The decision.", "RouterDebugResponse"),
        body="SimpleChatRequest",
    ),
    ("/v1/feedback", "post"): _op(
        "createFeedback",
        "A quality score (0..1) for one of the caller's org's requests; 404 for any other.",
        {"description": "Stored."},
        body="FeedbackRequest",
        status="204",
    ),
    ("/v1/embeddings", "post"): _op(
        "createEmbeddings", _EMBED, _json("Embeddings.", "EmbeddingList"), body="EmbeddingsRequest"
    ),
    ("/embeddings", "post"): _op(
        "createEmbeddingsAlias",
        _EMBED,
        _json("Embeddings.", "EmbeddingList"),
        body="EmbeddingsRequest",
    ),
    ("/v1/completions", "post"): _op(
        "createCompletion",
        _COMPLETE,
        _json("The completion (or its SSE stream).", "Completion", stream=True),
        body="CompletionRequest",
    ),
    ("/completions", "post"): _op(
        "createCompletionAlias",
        _COMPLETE,
        _json("The completion (or its SSE stream).", "Completion", stream=True),
        body="CompletionRequest",
    ),
    ("/v1/messages", "post"): _op(
        "createMessage",
        "Anthropic Messages format in and out; errors in Anthropic's shape.",
        _json("The message (or its SSE stream).", "Message", stream=True),
        body="MessagesRequest",
        errors="AnthropicError",
    ),
    ("/v1/messages/count_tokens", "post"): _op(
        "countMessageTokens",
        "Anthropic's token count for a Messages body: the upstream's own count when the "
        "model's provider offers one, else the proxy's estimate.",
        _json("The count.", "TokenCount"),
        body="CountTokensRequest",
        errors="AnthropicError",
    ),
    ("/v1/responses", "post"): _op(
        "createResponse",
        "OpenAI Responses API.",
        _json("The response (or its SSE stream).", "ResponseObject", stream=True),
        body="ResponsesRequest",
    ),
    ("/v1/responses/{response_id}", "get"): _op(
        "getResponse",
        "A stored response of the caller's organization.",
        _json("The response.", "ResponseObject"),
        params=[_path_param("response_id", "Response id.")],
    ),
    ("/v1/responses/{response_id}/input_items", "get"): _op(
        "listResponseInputItems",
        "The input items of a stored response of the caller's organization: the conversation "
        "carried over from `previous_response_id`, then the request's `input`.",
        _json("A page of items.", "ResponseItemList"),
        params=[
            _path_param("response_id", "Response id."),
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                "description": "Items per page.",
            },
            {
                "name": "order",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
                "description": "`desc` (default): newest item first.",
            },
            _query("after", "An item id: list the items after it."),
            {
                "name": "include",
                "in": "query",
                "required": False,
                "style": "form",
                "explode": True,
                "schema": {"type": "array", "items": {"type": "string", "enum": list(INCLUDABLE)}},
                "description": "Accepted (also as `include[]`) and without effect: items "
                "always carry everything that was stored.",
            },
        ],
    ),
    ("/v1/responses/{response_id}", "delete"): _op(
        "deleteResponse",
        "Delete a stored response.",
        _json("Deleted.", "Deleted"),
        params=[_path_param("response_id", "Response id.")],
    ),
    ("/v1/usage", "get"): _op(
        "getUsage",
        "The caller's organization's usage (ISO dates; default the last 30 days).",
        _json("Usage.", "Usage"),
        params=[
            _query("from", "Start (ISO 8601 date or time)."),
            _query("to", "End (ISO 8601 date or time)."),
            _query("org_id", "Another org (master key only)."),
        ],
    ),
    ("/v1/organizations", "get"): _op(
        "listOrganizations", "Organizations (admin).", _json("Organizations.", "List")
    ),
    ("/v1/organizations", "post"): _op(
        "createOrganization",
        "Create an organization (master key).",
        _json("Created.", "Organization"),
        status="201",
        body="OrganizationCreate",
        extra_errors=("409",),
    ),
    ("/v1/organizations/{org_id}", "get"): _op(
        "getOrganization",
        "One organization (admin).",
        _json("The organization.", "Organization"),
        params=[_path_param("org_id", "Organization id.")],
    ),
    ("/v1/organizations/{org_id}", "post"): _op(
        "updateOrganization",
        "Update an organization (master key).",
        _json("Updated.", "Organization"),
        body="OrganizationUpdate",
        params=[_path_param("org_id", "Organization id.")],
        extra_errors=("409",),
    ),
    ("/v1/organizations/{org_id}", "patch"): _op(
        "patchOrganization",
        "Update an organization (master key).",
        _json("Updated.", "Organization"),
        body="OrganizationUpdate",
        params=[_path_param("org_id", "Organization id.")],
        extra_errors=("409",),
    ),
    ("/v1/organizations/{org_id}", "delete"): _op(
        "deleteOrganization",
        "Delete an organization (master key).",
        _json("Deleted.", "Deleted"),
        params=[_path_param("org_id", "Organization id.")],
    ),
    ("/v1/audit-log", "get"): _op(
        "listAuditLog",
        "Who changed which org, key, budget, limit or guardrail setting, newest first (admin: "
        "own org; the master key all).",
        _json("A page of entries.", "AuditLog"),
        params=[
            _query("limit", "Entries per page, 1-200 (default 50)."),
            _query("after", "The previous page's `last_id`."),
            _query("org_id", "Only this organization (another org: master key only)."),
            _query("action", "e.g. `key.create`, `key.revoke`, `org.update`."),
            _query("target_type", "`org` or `api_key`."),
            _query("target_id", "An org or key id."),
        ],
    ),
    ("/v1/api-keys", "get"): _op(
        "listApiKeys",
        "API keys (admin; never the secrets).",
        _json("Keys.", "List"),
        params=[_query("org_id", "Only this organization's keys.")],
    ),
    ("/v1/api-keys", "post"): _op(
        "createApiKey",
        "Create a key; the secret is in the answer, once.",
        _json("Created.", "ApiKey"),
        status="201",
        body="ApiKeyCreate",
    ),
    ("/v1/api-keys/{key_id}", "get"): _op(
        "getApiKey",
        "One key (admin).",
        _json("The key.", "ApiKey"),
        params=[_path_param("key_id", "Key id.")],
    ),
    ("/v1/api-keys/{key_id}", "post"): _op(
        "updateApiKey",
        "Change a key's alias, expiry, models, budget or limits (admin).",
        _json("Updated.", "ApiKey"),
        body="ApiKeyUpdate",
        params=[_path_param("key_id", "Key id.")],
    ),
    ("/v1/api-keys/{key_id}", "patch"): _op(
        "patchApiKey",
        "Change a key's alias, expiry, models, budget or limits (admin).",
        _json("Updated.", "ApiKey"),
        body="ApiKeyUpdate",
        params=[_path_param("key_id", "Key id.")],
    ),
    ("/v1/api-keys/{key_id}/rotate", "post"): _op(
        "rotateApiKey",
        "A new secret for the key (shown once); the old one valid for grace_period_s.",
        _json("Rotated.", "ApiKey"),
        body="ApiKeyRotate",
        params=[_path_param("key_id", "Key id.")],
    ),
    ("/v1/api-keys/{key_id}", "delete"): _op(
        "revokeApiKey",
        "Revoke a key (admin).",
        _json("Revoked.", "ApiKey"),
        params=[_path_param("key_id", "Key id.")],
    ),
}

# /ready answers 503 with its own status body, not an error.
OPERATIONS[("/ready", "get")]["responses"]["503"] = _json("Not ready.", "Status")

_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def registered(routes: Any) -> frozenset[tuple[str, str]]:
    """(OpenAPI path, lower-case method) for each Starlette ``Route`` in ``routes``."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Route) and route.methods:
            path = _CONVERTER.sub(r"{\1}", route.path)
            found.update((path, m.lower()) for m in route.methods if m != "HEAD")
    return frozenset(found)


def document(present: frozenset[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The OpenAPI document for the routes in ``present`` (default: every known route)."""
    paths: dict[str, dict[str, Any]] = {}
    for (path, method), op in OPERATIONS.items():
        if present is None or (path, method) in present:
            paths.setdefault(path, {})[method] = op
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "omni-proxy",
            "version": __version__,
            "description": "An OpenAI-compatible LLM proxy and router. Errors are "
            '`{"error": {"message", "type", "param", "code"}, "request_id"}` with the '
            "status OpenAI uses; never a traceback.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"apiKeyHeader": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "headers": {"RequestId": REQUEST_ID_HEADER},
            "schemas": schemas(),
        },
    }


@functools.lru_cache(maxsize=8)
def _rendered(present: frozenset[tuple[str, str]]) -> bytes:
    return orjson.dumps(document(present))


async def openapi_endpoint(request: Request) -> Response:
    body = _rendered(registered(request.app.routes))
    return Response(body, media_type="application/json")


__all__ = ["OPERATIONS", "document", "openapi_endpoint", "registered", "schemas"]
