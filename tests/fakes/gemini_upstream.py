"""A fake Gemini Developer API on 127.0.0.1, in the real wire format (WIRE-FORMATS.md, Part C).

``FakeGemini().start()`` serves ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent`` (data-only SSE with ``alt=sse``, a JSON array without it) from a
uvicorn thread; configure a provider with ``fake.base_url`` and assert on ``fake.requests``.
It checks the key in ``x-goog-api-key`` (a ``key`` query parameter also works, as upstream,
and is recorded so tests can prove it was not used), rejects unknown fields with Google's
"Unknown name" error, and validates roles, parts, tools and generation config.

Answers are deterministic, like the Anthropic fake's: ``"Echo: <text>"`` (plus
``" [N images]"`` for inline or file data), a ``functionCall`` when the mode is ``ANY`` or
the text names a declared function, ``"Tool said: <responses>"`` after ``functionResponse``
parts, ``candidateCount`` candidates (``" #2"``, … appended after the first),
``stopSequences`` and ``maxOutputTokens`` (in words) applied.

Embeddings: ``:embedContent`` (``{"content", "taskType", "title", "outputDimensionality"}``
→ ``{"embedding": {"values": […]}}``) and ``:batchEmbedContents`` (``{"requests": […]}``,
at most 100, each naming the same ``models/…`` → ``{"embeddings": [{"values": […]}]}``)
for the ``embedding_models``. Vectors are deterministic per text: the full
``embedding_dim`` (3072, as gemini-embedding-001) vector is unit length, and
``outputDimensionality`` truncates it without renormalising, as Google's do.

Extra modes: ``safety`` (candidate ends with ``SAFETY``, no content), ``blocked`` (no
candidates, ``promptFeedback.blockReason``), ``thoughts`` (a ``thought: true`` part and
``thoughtsTokenCount``). ``require_signatures=True`` behaves like Gemini 3: function calls
of the current turn must carry their ``thoughtSignature``, which the fake attaches to the
calls it makes.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .anthropic_upstream import (
    MODES,
    Behaviour,
    ThreadedFake,
    cut_text,
    dumps,
    example_value,
    words,
)
from .openai_upstream import embedding_vector

DEFAULT_API_KEY = "AIza-fake-gemini-key"
QUOTA_METRIC = "generativelanguage.googleapis.com/generate_content_requests"
DEFAULT_MODELS = ("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro")
EMBEDDING_MODELS = ("gemini-embedding-001",)
EMBEDDING_DIM = 3072
MAX_BATCH = 100
TASK_TYPES = (
    "TASK_TYPE_UNSPECIFIED",
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
)
_EMBED_FIELDS = frozenset({"model", "content", "taskType", "title", "outputDimensionality"})
GEMINI_MODES = MODES | {"safety", "blocked", "thoughts"}

_RPC = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    400: "Request contains an invalid argument.",
    403: "The caller does not have permission",
    429: "You exceeded your current quota, please check your plan and billing details.",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
_TOP_LEVEL = frozenset(
    {
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "safetySettings",
        "cachedContent",
        "generationConfig",
        "labels",
    }
)
_GENERATION = frozenset(
    {
        "temperature",
        "topP",
        "topK",
        "candidateCount",
        "maxOutputTokens",
        "stopSequences",
        "presencePenalty",
        "frequencyPenalty",
        "seed",
        "responseMimeType",
        "responseSchema",
        "responseJsonSchema",
        "responseModalities",
        "responseLogprobs",
        "logprobs",
        "thinkingConfig",
        "mediaResolution",
        "speechConfig",
        "enableEnhancedCivicAnswers",
    }
)
_DATA_FIELDS = (
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
)
_PART_FLAGS = frozenset({"thought", "thoughtSignature", "videoMetadata", "partMetadata"})
SIGNATURE_ERROR = (
    "Function call is missing a thought_signature in functionCall parts. This is required for "
    "tools to work correctly, and missing thought_signature may lead to degraded model "
    "performance. Additional data, function call `{name}` , position {position}. Please refer "
    "to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
)


class GoogleError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        details: list[Any] | None = None,
        rpc: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.message = status, message
        self.rpc = rpc or _RPC.get(status, "UNKNOWN")
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.status, "message": self.message, "status": self.rpc}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


def _invalid(message: str) -> GoogleError:
    return GoogleError(400, message)


def _unknown(name: str, where: str = "") -> GoogleError:
    at = f" at '{where}'" if where else ""
    return _invalid(f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.')


class FakeGemini(ThreadedFake):
    """The Gemini Developer API (v1beta). ``api_key`` None accepts any key; ``models`` are
    the known model ids; ``crlf`` separates SSE events with ``\\r\\n\\r\\n`` like Google."""

    modes = GEMINI_MODES

    def __init__(
        self,
        *,
        api_key: str | None = DEFAULT_API_KEY,
        models: Iterable[str] = DEFAULT_MODELS,
        embedding_models: Iterable[str] = EMBEDDING_MODELS,
        embedding_dim: int = EMBEDDING_DIM,
        crlf: bool = False,
        require_signatures: bool = False,
        **kw: Any,
    ) -> None:
        self.api_key = api_key
        self.models = set(models)
        self.embedding_models = set(embedding_models)
        self.embedding_dim = embedding_dim
        self.crlf = crlf
        self.require_signatures = require_signatures
        super().__init__(**kw)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1beta"

    def routes(self) -> list[Route]:
        return [
            Route("/v1beta/models", self._list_models, methods=["GET"]),
            Route("/v1beta/{name:path}", self._generate, methods=["POST"]),
            Route("/{rest:path}", self._not_found, methods=["GET", "POST", "PUT", "DELETE"]),
        ]

    # ---- HTTP

    def _error(self, err: GoogleError) -> Response:
        return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

    async def _not_found(self, request: Request) -> Response:
        await self.record(request)
        return self._error(GoogleError(404, "Requested entity was not found."))

    async def _list_models(self, request: Request) -> Response:
        entry, _ = await self.record(request)
        try:
            self._check_key(entry)
        except GoogleError as err:
            return self._error(err)
        models = [
            {
                "name": f"models/{m}",
                "version": "001",
                "displayName": m,
                "inputTokenLimit": 1048576,
                "outputTokenLimit": 65536,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for m in sorted(self.models)
        ]
        models += [
            {
                "name": f"models/{m}",
                "version": "001",
                "displayName": m,
                "inputTokenLimit": 2048,
                "outputTokenLimit": 1,
                "supportedGenerationMethods": ["embedContent", "countTextTokens", "countTokens"],
            }
            for m in sorted(self.embedding_models)
        ]
        return JSONResponse({"models": models})

    def _check_key(self, entry: dict[str, Any]) -> None:
        key = entry["headers"].get("x-goog-api-key") or entry["query"].get("key")
        if self.api_key is None:
            return
        if not key:
            raise GoogleError(
                403,
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if key != self.api_key:
            raise GoogleError(
                400,
                "API key not valid. Please pass a valid API key.",
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    }
                ],
            )

    async def _generate(self, request: Request) -> Response:
        entry, body = await self.record(request)
        name = request.path_params["name"]
        path, _, method = name.rpartition(":")
        model = path.removeprefix("models/")
        if method in ("embedContent", "batchEmbedContents") and path.startswith("models/"):
            return self._embed(entry, body, model, method)
        try:
            self._check_key(entry)
            if not path.startswith("models/") or method not in (
                "generateContent",
                "streamGenerateContent",
            ):
                raise GoogleError(404, "Requested entity was not found.")
            behaviour = self.pick(model)
            if behaviour.mode == "status":
                raise self._status_error(behaviour, model)
            if model not in self.models:
                raise GoogleError(
                    404,
                    f"models/{model} is not found for API version v1beta, or is not "
                    f"supported for {method}. Call ListModels to see the list of available "
                    "models and their supported methods.",
                )
            if not isinstance(body, dict):
                raise _invalid("Invalid JSON payload received.")
            self._validate(body)
            responses = self._answer(body, behaviour, model, stream=method != "generateContent")
        except GoogleError as err:
            return self._error(err)
        if method == "generateContent":
            return JSONResponse(responses[0])
        if entry["query"].get("alt") != "sse":
            return Response(
                "[" + ",\r\n".join(dumps(r) for r in responses) + "]", media_type="application/json"
            )
        return StreamingResponse(self._sse(responses, behaviour), media_type="text/event-stream")

    # ---- embeddings

    def _embed(self, entry: dict[str, Any], body: Any, model: str, method: str) -> Response:
        try:
            self._check_key(entry)
            behaviour = self.pick(model)
            if behaviour.mode == "status":
                raise self._status_error(behaviour, model)
            if model not in self.embedding_models:
                raise GoogleError(
                    404,
                    f"models/{model} is not found for API version v1beta, or is not "
                    f"supported for {method}. Call ListModels to see the list of available "
                    "models and their supported methods.",
                )
            if not isinstance(body, dict):
                raise _invalid("Invalid JSON payload received.")
            if method == "embedContent":
                values = self._embed_one(body, model, "EmbedContentRequest")
                return JSONResponse({"embedding": {"values": values}})
            for key in body:
                if key != "requests":
                    raise _unknown(key)
            requests = body.get("requests")
            if not isinstance(requests, list) or not requests:
                raise _invalid("* BatchEmbedContentsRequest.requests: requests is not specified")
            if len(requests) > MAX_BATCH:
                raise _invalid(
                    f"* BatchEmbedContentsRequest.requests: at most {MAX_BATCH} requests can "
                    "be in one batch"
                )
            embeddings = []
            for i, request in enumerate(requests):
                where = f"BatchEmbedContentsRequest.requests[{i}]"
                if not isinstance(request, dict):
                    raise _invalid(f"Invalid value at 'requests[{i}]'")
                if request.get("model") != f"models/{model}":
                    raise _invalid(
                        f"* {where}.model: The model of each request must match the model of "
                        f"the batch request (models/{model})."
                    )
                embeddings.append({"values": self._embed_one(request, model, where)})
        except GoogleError as err:
            return self._error(err)
        return JSONResponse({"embeddings": embeddings})

    def _embed_one(self, request: dict[str, Any], model: str, where: str) -> list[float]:
        for key in request:
            if key not in _EMBED_FIELDS:
                raise _unknown(key)
        if "model" in request and request["model"] != f"models/{model}":
            raise _invalid(f"* {where}.model: must match the model in the URL")
        content = request.get("content")
        if not isinstance(content, dict):
            raise _invalid(f"* {where}.content: content is not specified")
        self._validate_parts(content.get("parts"), f"{where}.content")
        if any("text" not in part for part in content["parts"]):
            raise _invalid(f"* {where}.content.parts: {model} embeds text parts only")
        task = request.get("taskType")
        if task is not None and task not in TASK_TYPES:
            raise _invalid(
                "Invalid value at 'task_type' "
                f'(type.googleapis.com/google.ai.generativelanguage.v1beta.TaskType), "{task}"'
            )
        dims = request.get("outputDimensionality")
        if dims is not None and (
            not isinstance(dims, int)
            or isinstance(dims, bool)
            or not 1 <= dims <= self.embedding_dim
        ):
            raise _invalid(
                f"* {where}.output_dimensionality: must be between 1 and {self.embedding_dim}"
            )
        text = " ".join(part["text"] for part in content["parts"])
        vector = embedding_vector([task or "", text], self.embedding_dim)
        return vector[:dims] if dims else vector

    def _status_error(self, b: Behaviour, model: str) -> GoogleError:
        message = b.message or _MESSAGES.get(b.status, "Internal error encountered.")
        if b.status == 404 and not b.message:
            message = f"models/{model} is not found for API version v1beta."
        details = None
        headers: dict[str, str] = {}
        if b.status == 429:
            delay = b.retry_after if b.retry_after is not None else 1
            details = [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": QUOTA_METRIC,
                            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay:g}s"},
            ]
        return GoogleError(b.status, message, details=details, rpc=b.error_type, headers=headers)

    # ---- validation

    def _validate(self, body: dict[str, Any]) -> None:
        for key in body:
            if key not in _TOP_LEVEL:
                raise _unknown(key)
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            raise _invalid("* GenerateContentRequest.contents: contents is not specified")
        for i, content in enumerate(contents):
            if not isinstance(content, dict) or content.get("role") not in ("user", "model"):
                raise _invalid("Please use a valid role: user, model.")
            self._validate_parts(content.get("parts"), f"contents[{i}]")
        system = body.get("systemInstruction")
        if system is not None:
            if not isinstance(system, dict):
                raise _invalid("Invalid value at 'system_instruction'")
            self._validate_parts(system.get("parts"), "system_instruction")
        config = body.get("generationConfig") or {}
        for key in config:
            if key not in _GENERATION:
                raise _unknown(key, "generation_config")
        temperature = config.get("temperature")
        if temperature is not None and not 0 <= temperature <= 2:
            raise _invalid(
                "* GenerateContentRequest.generation_config.temperature: must be between 0 and 2"
            )
        count = config.get("candidateCount")
        if count is not None and not 1 <= count <= 8:
            raise _invalid(
                "* GenerateContentRequest.generation_config.candidate_count: must be "
                "between 1 and 8"
            )
        if len(config.get("stopSequences") or ()) > 5:
            raise _invalid("* GenerateContentRequest.generation_config.stop_sequences: at most 5")
        if ("responseJsonSchema" in config or "responseSchema" in config) and config.get(
            "responseMimeType"
        ) != "application/json":
            raise _invalid(
                "* GenerateContentRequest.generation_config.response_mime_type: "
                "must be application/json when a response schema is set"
            )
        self._validate_tools(body)
        if self.require_signatures:
            self._check_signatures(contents)

    def _validate_parts(self, parts: Any, where: str) -> None:
        if not isinstance(parts, list) or not parts:
            raise _invalid(
                f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty."
            )
        for j, part in enumerate(parts):
            if not isinstance(part, dict):
                raise _invalid(f"Invalid value at '{where}.parts[{j}]'")
            fields = [k for k in part if k in _DATA_FIELDS]
            for key in part:
                if key not in _DATA_FIELDS and key not in _PART_FLAGS:
                    raise _unknown(key, f"{where}.parts[{j}]")
            if len(fields) != 1:
                raise _invalid(
                    f"* GenerateContentRequest.{where}.parts[{j}].data: required "
                    "oneof field 'data' must have one initialized field"
                )
            kind = fields[0]
            value = part[kind]
            if kind == "text" and not isinstance(value, str):
                raise _invalid(f"Invalid value at '{where}.parts[{j}].text'")
            if kind == "inlineData":
                try:
                    base64.b64decode(str(value.get("data")), validate=True)
                except (binascii.Error, ValueError):
                    raise _invalid(
                        f"Invalid value at '{where}.parts[{j}].inline_data.data' "
                        "(TYPE_BYTES), Base64 decoding failed"
                    ) from None
                if not value.get("mimeType"):
                    raise _invalid(f"* {where}.parts[{j}].inline_data.mime_type: required")
            if kind == "fileData" and not (value.get("fileUri") and value.get("mimeType")):
                raise _invalid(f"* {where}.parts[{j}].file_data: fileUri and mimeType required")
            if kind == "functionCall" and not value.get("name"):
                raise _invalid(f"* {where}.parts[{j}].function_call.name: Name cannot be empty.")
            if kind == "functionResponse" and (
                not value.get("name") or not isinstance(value.get("response"), dict)
            ):
                raise _invalid(
                    f"* {where}.parts[{j}].function_response: name and response "
                    "(an object) are required"
                )

    def _validate_tools(self, body: dict[str, Any]) -> None:
        names: set[str] = set()
        for t, tool in enumerate(body.get("tools") or ()):
            for d, decl in enumerate(tool.get("functionDeclarations") or ()):
                where = f"tools[{t}].function_declarations[{d}]"
                for key in decl:
                    if key not in (
                        "name",
                        "description",
                        "parameters",
                        "parametersJsonSchema",
                        "response",
                        "responseJsonSchema",
                        "behavior",
                    ):
                        raise _unknown(key, where)
                if not decl.get("name"):
                    raise _invalid(f"* GenerateContentRequest.{where}.name: Name cannot be empty.")
                if "parameters" in decl and "parametersJsonSchema" in decl:
                    raise _invalid(
                        f"* {where}: parameters and parametersJsonSchema are mutually exclusive"
                    )
                names.add(decl["name"])
        config = (body.get("toolConfig") or {}).get("functionCallingConfig")
        if config is not None:
            mode = config.get("mode")
            if mode not in ("AUTO", "ANY", "NONE", "VALIDATED", None):
                raise _invalid(
                    f"Invalid value at 'tool_config.function_calling_config.mode' "
                    f'({mode}), "{mode}"'
                )
            allowed = config.get("allowedFunctionNames")
            if allowed and mode not in ("ANY", "VALIDATED"):
                raise _invalid(
                    "* GenerateContentRequest.tool_config.function_calling_config."
                    "allowed_function_names: only allowed with mode ANY"
                )
            for name in allowed or ():
                if name not in names:
                    raise _invalid(f"* allowed_function_names: {name} is not declared")

    @staticmethod
    def _check_signatures(contents: list[dict[str, Any]]) -> None:
        """Gemini 3: calls made since the last user text need their thought signature."""
        start = 0
        for i, content in enumerate(contents):
            if content["role"] == "user" and any("text" in p for p in content["parts"]):
                start = i
        for position, content in enumerate(contents[start:], start):
            if content["role"] != "model":
                continue
            calls = [p for p in content["parts"] if "functionCall" in p]
            if calls and not calls[0].get("thoughtSignature"):
                name = calls[0]["functionCall"]["name"]
                raise _invalid(SIGNATURE_ERROR.format(name=name, position=position + 1))

    # ---- answers

    def _answer(
        self, body: dict[str, Any], b: Behaviour, model: str, stream: bool
    ) -> list[dict[str, Any]]:
        """The response (``[response]``) or, for a stream, every event of it."""
        config = body.get("generationConfig") or {}
        prompt = self._prompt_tokens(body)
        rid = secrets.token_hex(8)
        common = {"modelVersion": model, "responseId": rid}
        if b.mode == "blocked":
            return [
                {
                    "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
                    "usageMetadata": {"promptTokenCount": prompt, "totalTokenCount": prompt},
                    **common,
                }
            ]
        n = int(config.get("candidateCount") or 1)
        plans = [self._plan(body, b, i) for i in range(n)]
        output = sum(
            len(words(dumps(p) if isinstance(p, dict) else p)) for plan in plans for p in plan[0]
        )
        thoughts = 5 if b.mode == "thoughts" else 0
        usage = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": output,
            "totalTokenCount": prompt + output + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
            **b.usage,
        }
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        if not stream:
            candidates = [self._candidate(i, plan[0], plan[1], b) for i, plan in enumerate(plans)]
            return [{"candidates": candidates, "usageMetadata": usage, **common}]
        events: list[dict[str, Any]] = []
        steps = max(len(plan[0]) for plan in plans)
        for step in range(steps):
            candidates = []
            for i, (pieces, finish) in enumerate(plans):
                if step < len(pieces):
                    last = step == len(pieces) - 1
                    candidates.append(
                        self._candidate(
                            i, [pieces[step]], finish if last else None, b, thought=step == 0
                        )
                    )
            meta = (
                usage
                if step == steps - 1
                else {"promptTokenCount": prompt, "totalTokenCount": prompt}
            )
            events.append({"candidates": candidates, "usageMetadata": meta, **common})
        return events

    def _candidate(
        self, index: int, pieces: list[Any], finish: str | None, b: Behaviour, thought: bool = True
    ) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if b.mode == "thoughts" and thought:
            parts.append({"text": "Thinking it over.", "thought": True})
        for piece in pieces:
            if isinstance(piece, dict):
                part = {"functionCall": piece}
                if self.require_signatures:
                    part["thoughtSignature"] = base64.b64encode(secrets.token_bytes(24)).decode()
                parts.append(part)
            elif piece:
                parts.append({"text": piece})
        candidate: dict[str, Any] = {"index": index}
        if parts:
            candidate["content"] = {"parts": parts, "role": "model"}
        if finish:
            candidate["finishReason"] = finish
        if finish == "SAFETY":
            candidate["safetyRatings"] = [
                {
                    "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                    "probability": "HIGH",
                    "blocked": True,
                }
            ]
        return candidate

    def _plan(self, body: dict[str, Any], b: Behaviour, index: int) -> tuple[list[Any], str]:
        """(pieces — words of text, or functionCall dicts —, finishReason) for a candidate."""
        if b.mode == "safety":
            return [""], "SAFETY"
        config = body.get("generationConfig") or {}
        last = body["contents"][-1]
        parts = last["parts"]
        responses = [p["functionResponse"] for p in parts if "functionResponse" in p]
        if last["role"] == "model":
            text = " (continued)"
        elif responses:
            text = "Tool said: " + "; ".join(dumps(r["response"]) for r in responses)
        else:
            text = " ".join(p["text"] for p in parts if "text" in p)
            call = self._call_for(body, text)
            if call is not None:
                return [call], "STOP"
            media = sum(1 for p in parts if "inlineData" in p or "fileData" in p)
            text = f"Echo: {text}" + (f" [{media} image{'s' * (media != 1)}]" if media else "")
        if index:
            text += f" #{index + 1}"
        text, _, why = cut_text(
            text, config.get("stopSequences") or (), config.get("maxOutputTokens")
        )
        return words(text) or [""], "MAX_TOKENS" if why == "max_tokens" else "STOP"

    @staticmethod
    def _call_for(body: dict[str, Any], text: str) -> dict[str, Any] | None:
        declarations = [
            d for t in body.get("tools") or () for d in t.get("functionDeclarations") or ()
        ]
        config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        mode = config.get("mode", "AUTO")
        if not declarations or mode == "NONE":
            return None
        allowed = config.get("allowedFunctionNames")
        if allowed:
            declarations = [d for d in declarations if d["name"] in allowed]
        chosen = (
            declarations[0]
            if mode == "ANY"
            else next((d for d in declarations if d["name"] in text), None)
        )
        if chosen is None:
            return None
        schema = chosen.get("parametersJsonSchema") or chosen.get("parameters") or {}
        return {"name": chosen["name"], "args": example_value(schema) or {}}

    @staticmethod
    def _prompt_tokens(body: dict[str, Any]) -> int:
        count = 0
        sources = [*body["contents"], body.get("systemInstruction") or {"parts": []}]
        for content in sources:
            for part in content["parts"]:
                count += len(words(part.get("text") or ""))
        return max(1, count)

    # ---- streaming

    async def _sse(self, events: list[dict[str, Any]], b: Behaviour) -> AsyncIterator[bytes]:
        end = "\r\n\r\n" if self.crlf else "\n\n"
        for i, event in enumerate(events):
            if i == b.after and b.mode == "stream_cut":
                return
            if i == b.after and b.mode == "stream_error":
                status = b.status if b.status != 500 or b.error_type else 503
                err = GoogleError(
                    status, b.message or _MESSAGES.get(status, "Internal error"), rpc=b.error_type
                )
                yield f"data: {dumps(err.body())}{end}".encode()
                return
            yield f"data: {dumps(event)}{end}".encode()
