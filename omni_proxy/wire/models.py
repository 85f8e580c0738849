"""The one schema of the request bodies the proxy reads: checks, limits and ``/openapi.json``.

Bodies are ``TypedDict``\\ s validated by pydantic (``TypeAdapter``, strict, unknown fields
kept): the client's own dict is what travels on, untouched; validation only says whether it
may. The cross-field rules OpenAI enforces (a tool message answers a call of the preceding
assistant message; ``stream_options`` only with ``stream``; ``tool_choice`` only with
``tools``) are validators of the request. ``ValidationError`` becomes a ``ProxyError`` worded
as OpenAI words its 400s, with ``param`` the dotted path of the bad value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, NotRequired, get_args

import orjson
from pydantic import (
    AfterValidator,
    ConfigDict,
    Discriminator,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import ErrorDetails, PydanticCustomError
from typing_extensions import TypedDict

from ..errors import ProxyError, bad_request

#: Strict (no "1" for 1, no 1.0 for an int: as OpenAI) and open: unknown fields are kept,
#: because the body that travels on is the client's own dict, never the validated copy. The
#: copy skips them (``extra="ignore"``): collecting them doubled the cost of a message.
OPEN = ConfigDict(strict=True, extra="ignore", json_schema_extra={"additionalProperties": True})

#: Messages in one conversation at most (``max_messages`` in the config): each is checked,
#: classified and estimated on the event loop; 250k of them held every other tenant ~1 s.
MAX_MESSAGES = 10_000
#: Longest model name accepted: no registry name is longer, and a 1 MB one was echoed
#: into a 2 MB log line and row.
MAX_MODEL_CHARS = 256
#: Most output tokens a request may ask for. OpenAI's spec sets no maximum, but OpenAI
#: answers 400 for more than the model can write; no model writes ten million, and the
#: bound keeps budget reservations (``max_tokens`` times ``n``) in range.
MAX_OUTPUT_TOKENS = 10_000_000
MAX_EMBEDDING_INPUTS = 2048
MAX_STOP = 4
MAX_FEEDBACK_COMMENT = 4000

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]
Priority = Literal["cheap", "balanced", "best"]
LatencyPref = Literal["fast", "normal"]
Strategy = Literal["hybrid", "cost", "quality", "latency", "cascade"]
ROLES = frozenset(get_args(Role))
PRIORITIES: tuple[str, ...] = get_args(Priority)
LATENCY_PREFS: tuple[str, ...] = get_args(LatencyPref)
STRATEGIES: tuple[str, ...] = get_args(Strategy)


def _doc(text: str) -> Any:
    return Field(description=text)


NonEmpty = Annotated[str, Field(min_length=1)]
ModelName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_MODEL_CHARS,
        description="A registry model name, or 'auto' to let the router choose.",
    ),
]
OutputTokens = Annotated[int, Field(ge=1, le=MAX_OUTPUT_TOKENS)]
Money = Annotated[float, Field(ge=0)] | str


def invalid(message: str, param: str | None, code: str | None = "invalid_value") -> Exception:
    """A validator's error that the translator turns into exactly this 400."""
    return PydanticCustomError(
        "omni_invalid", "{message}", {"message": message, "param": param, "code": code}
    )


# -- routing extensions (read by the proxy, never sent upstream) -----------------------------
class RoutingOptions(TypedDict, total=False):
    """The proxy's routing fields; each also has an ``x-omni-*`` header."""

    __pydantic_config__ = OPEN  # type: ignore[misc]

    priority: Priority | None
    latency_pref: LatencyPref | None
    max_cost: Annotated[
        Money | None, _doc("Most this request may cost, in USD (a number or a decimal string).")
    ]
    strategy: Strategy | None
    quality_floor: Annotated[
        Annotated[float, Field(ge=0, le=1)] | str | None,
        _doc("Keep at least this share of the premium model's expected quality."),
    ]
    strict_model: Annotated[
        bool | str | None,
        _doc(
            "The named model or an error, never another model (header `x-omni-strict-model`; "
            "LiteLLM's `disable_fallbacks` is accepted too)."
        ),
    ]


# -- chat completions ------------------------------------------------------------------------
class TextPart(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    type: Literal["text"]
    text: str


#: Any type but "text" (an image, audio, a file...), as a pattern: the check stays in Rust.
NOT_TEXT = r"^(?:$|[^t]|t$|t[^e]|te$|te[^x]|tex$|tex[^t]|text.)"


class OtherPart(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    type: Annotated[str, Field(pattern=NOT_TEXT, description="Any type but 'text'.")]


ContentPart = Annotated[TextPart | OtherPart, Field(union_mode="left_to_right")]
#: Left to right: a string is the common case, and is tried first.
Content = Annotated[str | list[ContentPart], Field(union_mode="left_to_right")]


def _json_object(args: str) -> bool:
    if not args or args.isspace():  # "" is what some clients send for a call without arguments
        return True
    try:
        return orjson.loads(args).__class__ is dict
    except orjson.JSONDecodeError:
        return False


class FunctionCall(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    name: str
    arguments: Annotated[str, _doc("A JSON object, encoded.")]


class ToolCall(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    id: str
    type: NotRequired[str]
    function: NotRequired[FunctionCall]


class _Message(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    content: Content
    name: NotRequired[str]


class SystemMessage(_Message):
    role: Literal["system"]


class DeveloperMessage(_Message):
    role: Literal["developer"]


class UserMessage(_Message):
    role: Literal["user"]


def _note_tools(value: Any, info: ValidationInfo) -> Any:
    """Mark the request as one whose conversation needs the tool-call pass (most don't).
    On fields: a validator on a discriminated union's member is not run."""
    if isinstance(info.context, dict):
        info.context["tool_messages"] = True
    return value


class ToolMessage(_Message):
    role: Literal["tool"]
    tool_call_id: Annotated[
        str,
        AfterValidator(_note_tools),
        _doc("The id of a call of the preceding assistant message."),
    ]


class AssistantMessage(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    role: Literal["assistant"]
    content: NotRequired[Content | None]
    name: NotRequired[str]
    tool_calls: NotRequired[Annotated[list[ToolCall], AfterValidator(_note_tools)] | None]


class FunctionMessage(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    role: Literal["function"]
    content: NotRequired[Content | None]
    name: NotRequired[str]


ChatMessage = Annotated[
    SystemMessage
    | DeveloperMessage
    | UserMessage
    | AssistantMessage
    | ToolMessage
    | FunctionMessage,
    Discriminator("role"),
]


#: A function's JSON Schema: not copied (a schema can be large); ``_chat_rules`` checks it
#: is an object.
JsonObject = Annotated[Any, WithJsonSchema({"type": "object", "additionalProperties": True})]


class FunctionDefinition(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    name: str
    description: NotRequired[str]
    parameters: NotRequired[JsonObject]


class Tool(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    type: str
    function: NotRequired[FunctionDefinition]


class StreamOptions(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    include_usage: bool | None


class ResponseFormat(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    type: str


Stop = str | Annotated[list[str], Field(max_length=MAX_STOP)]


class _Sampling(RoutingOptions, total=False):
    """Fields chat and legacy completions share."""

    stream: bool | None
    stream_options: StreamOptions | None
    temperature: Annotated[float, Field(ge=0, le=2)] | None
    top_p: Annotated[float, Field(ge=0, le=1)] | None
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None
    frequency_penalty: Annotated[float, Field(ge=-2, le=2)] | None
    n: Annotated[int, Field(ge=1, le=128)] | None
    max_tokens: OutputTokens | None
    seed: Annotated[int, Field(ge=-(2**63), le=2**63 - 1)] | None
    stop: Stop | None
    user: str


class ChatCompletionRequest(_Sampling):
    model: ModelName
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    max_completion_tokens: NotRequired[OutputTokens | None]
    top_logprobs: NotRequired[Annotated[int, Field(ge=0, le=MAX_TOP_LOGPROBS)] | None]
    tools: NotRequired[list[Tool] | None]
    tool_choice: NotRequired[
        Annotated[
            Literal["none", "auto", "required"] | dict[str, Any] | None,
            _doc("Anything but 'none' needs 'tools'."),
        ]
    ]
    response_format: NotRequired[ResponseFormat | None]


class SimpleChatRequest(ChatCompletionRequest):
    """``/v1/chat``, ``/v1/agent-step``, ``/v1/router/debug``: ``model`` defaults to auto."""

    model: NotRequired[ModelName]  # type: ignore[misc]


def _conversation(messages: list[Any]) -> None:
    """A tool message answers a call of the assistant message before it (as OpenAI)."""
    open_calls: set[str] | None = None
    for i, msg in enumerate(messages):
        role = msg["role"]
        if role == "tool":
            if not open_calls or msg["tool_call_id"] not in open_calls:
                _orphan(i, msg["tool_call_id"], open_calls)
        elif role == "assistant":
            calls = msg.get("tool_calls")
            open_calls = _tool_call_ids(i, calls) if calls else None
        else:
            open_calls = None


def _tool_call_ids(i: int, calls: list[Any]) -> set[str]:
    """An assistant message's calls: a function call names its function, with a JSON object
    as arguments. Their ids."""
    ids: set[str] = set()
    for j, call in enumerate(calls):
        ids.add(call["id"])
        if call.get("type", "function") != "function":
            continue
        fn = call.get("function")
        if fn is None:
            at = f"messages[{i}].tool_calls[{j}].function.name"
            raise invalid(f"Missing required parameter: '{at}'.", at, None)
        if not _json_object(fn["arguments"]):
            at = f"messages[{i}].tool_calls[{j}].function.arguments"
            raise invalid(
                f"Invalid value for '{at}': expected a JSON object encoded as a string.", at
            )
    return ids


def _position(items: list[Any], item: Any) -> int:
    """``item``'s index (by identity: an equal item may come earlier)."""
    return next(i for i, x in enumerate(items) if x is item)


def _orphan(i: int, call_id: str, open_calls: set[str] | None) -> None:
    where = f"messages[{i}]"
    if not open_calls:
        raise invalid(
            f"Invalid parameter: '{where}': messages with role 'tool' must be a response to a "
            "preceding assistant message with 'tool_calls'.",
            f"{where}.role",
        )
    raise invalid(
        f"Invalid parameter: '{where}.tool_call_id' {call_id!r} is not among the "
        "'tool_calls' of the preceding assistant message.",
        f"{where}.tool_call_id",
    )


def _sampling_rules(body: Mapping[str, Any]) -> None:
    if body.get("stream_options") is not None and body.get("stream") is not True:
        raise invalid(  # as OpenAI; otherwise providers disagree
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )


def _chat_rules(body: Mapping[str, Any], info: ValidationInfo) -> Mapping[str, Any]:
    """The cross-field checks of a chat request, once its fields are well typed."""
    if info.context is None or info.context.get("tool_messages"):
        _conversation(body["messages"])
    if body.get("stream_options") is not None:
        _sampling_rules(body)
    tools: list[Any] = body.get("tools") or []
    for tool in tools:
        if tool["type"] != "function":
            continue
        fn = tool.get("function")
        if fn is None:
            at = f"tools[{_position(tools, tool)}].function.name"
            raise invalid(f"Missing required parameter: '{at}'.", at, None)
        if fn.get("parameters", fn).__class__ is not dict:
            at = f"tools[{_position(tools, tool)}].function.parameters"
            raise invalid(
                f"Invalid type for '{at}': expected an object, but got "
                f"{type_name(fn['parameters'])} instead.",
                at,
                "invalid_type",
            )
    choice = body.get("tool_choice")
    if choice not in ("none", None) and not tools:
        raise invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
            "specified.",
            "tool_choice",
            None,  # as before, and as OpenAI: no code
        )
    return body


# -- legacy completions ----------------------------------------------------------------------
class CompletionRequest(_Sampling):
    model: NotRequired[ModelName]
    prompt: str | Annotated[list[str], Field(min_length=1)]


# -- embeddings ------------------------------------------------------------------------------
class EmbeddingsRequest(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    model: NotRequired[ModelName]
    input: Annotated[
        NonEmpty
        | Annotated[list[NonEmpty], Field(min_length=1, max_length=MAX_EMBEDDING_INPUTS)]
        | Annotated[list[int], Field(min_length=1, max_length=MAX_EMBEDDING_INPUTS)]
        | Annotated[
            list[Annotated[list[int], Field(min_length=1)]],
            Field(min_length=1, max_length=MAX_EMBEDDING_INPUTS),
        ],
        _doc("A non-empty string, or an array of non-empty strings or of token arrays."),
    ]
    encoding_format: NotRequired[Literal["float", "base64"] | None]
    dimensions: NotRequired[Annotated[int, Field(ge=1)] | None]
    user: NotRequired[str]


# -- Anthropic Messages and OpenAI Responses (checked in depth by their translators) --------
class AnthropicMessage(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


SystemPrompt = str | list[dict[str, Any]]


class CountTokensRequest(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    model: ModelName
    messages: Annotated[list[AnthropicMessage], Field(min_length=1)]
    system: NotRequired[SystemPrompt]
    tools: NotRequired[list[dict[str, Any]]]
    tool_choice: NotRequired[dict[str, Any]]


class MessagesRequest(CountTokensRequest, RoutingOptions):  # type: ignore[misc]
    max_tokens: Annotated[int, Field(ge=1)]
    stream: NotRequired[bool]
    temperature: NotRequired[Annotated[float, Field(ge=0, le=1)]]


#: The Responses API's bounds (``formats.responses.parse_request`` applies them).
MIN_OUTPUT_TOKENS_RESPONSES = 16
MAX_TOP_LOGPROBS = 20


class ResponsesRequest(RoutingOptions):
    """Documents ``/v1/responses``; ``formats.responses.parse_request`` checks it (its input
    items and tools are converted as they are checked)."""

    model: ModelName
    input: NotRequired[str | list[JsonObject]]
    instructions: NotRequired[str | None]
    previous_response_id: NotRequired[str | None]
    stream: NotRequired[bool | None]
    tools: NotRequired[list[JsonObject] | None]
    tool_choice: NotRequired[Literal["none", "auto", "required"] | JsonObject | None]
    max_output_tokens: NotRequired[
        Annotated[int, Field(ge=MIN_OUTPUT_TOKENS_RESPONSES, le=MAX_OUTPUT_TOKENS)] | None
    ]
    temperature: NotRequired[Annotated[float, Field(ge=0, le=2)] | None]
    top_p: NotRequired[Annotated[float, Field(ge=0, le=1)] | None]
    top_logprobs: NotRequired[Annotated[int, Field(ge=0, le=MAX_TOP_LOGPROBS)] | None]
    metadata: NotRequired[
        Annotated[
            dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]],
            Field(max_length=16),
        ]
        | None
    ]
    truncation: NotRequired[Literal["auto", "disabled"] | None]
    store: NotRequired[bool | None]
    parallel_tool_calls: NotRequired[bool | None]
    user: NotRequired[str | None]


# -- the adapters ----------------------------------------------------------------------------
def adapter(kind: Any) -> TypeAdapter[Any]:
    """A validator for ``kind`` (one place to set how every body is validated)."""
    return TypeAdapter(kind)


#: The chat request. ``max_messages`` is the config's and is checked before this runs (by
#: length alone: 250k messages are refused before any of them is looked at).
CHAT = adapter(Annotated[ChatCompletionRequest, AfterValidator(_chat_rules)])
SIMPLE_CHAT = adapter(Annotated[SimpleChatRequest, AfterValidator(_chat_rules)])
COMPLETION = adapter(Annotated[CompletionRequest, AfterValidator(_sampling_rules)])
EMBEDDINGS = adapter(EmbeddingsRequest)
MESSAGES = adapter(MessagesRequest)
COUNT_TOKENS = adapter(CountTokensRequest)


# -- ValidationError -> ProxyError, in OpenAI's words ----------------------------------------
_KINDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "none_required": "null",
}
_NAMES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}


def type_name(value: Any) -> str:
    """How OpenAI names a JSON value's type in its error messages."""
    return _NAMES.get(type(value), type(value).__name__)


def _walk(loc: tuple[int | str, ...]) -> tuple[str, int]:
    """``(dotted path, where the innermost union member's label sits or -1)``.

    Labels are not fields: a message's role (the discriminator's tag, right after its index
    in ``messages``) and a member's type name (``str``, ``list[...]``, ``ToolCall``).
    """
    out = ""
    tag = -1
    for k, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif k >= 2 and isinstance(loc[k - 1], int) and loc[k - 2] == "messages" and part in ROLES:
            continue
        elif not part.isidentifier() or part[0].isupper() or part in _TYPE_LABELS:
            tag = k
        else:
            out += f".{part}" if out else part
    return out, tag


_TYPE_LABELS = frozenset({"str", "int", "float", "bool"})


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _one(err: ErrorDetails, param: str) -> ProxyError:
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    value = err.get("input")
    name = f"'{param}'"
    if kind == "omni_invalid":
        return bad_request(ctx["message"], param=ctx["param"], code=ctx["code"])
    if kind == "string_pattern_mismatch" and param.endswith(".type"):  # "text" without text
        at = f"{param[: -len('.type')]}.text"
        return bad_request(f"Missing required parameter: '{at}'.", param=at)
    if kind == "string_pattern_mismatch":
        return bad_request(
            f"Invalid value for {name}: {value!r} does not match the pattern "
            f"{ctx.get('pattern')!r}.",
            param=param,
            code="invalid_value",
        )
    if kind == "missing":
        return bad_request(f"Missing required parameter: {name}.", param=param)
    if kind in _KINDS:
        if not param:
            return bad_request(
                f"The request body must be a JSON object, but got {type_name(value)}.",
                code="invalid_type",
            )
        return bad_request(
            f"Invalid type for {name}: expected {_KINDS[kind]}, but got {type_name(value)} "
            "instead.",
            param=param,
            code="invalid_type",
        )
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        below = kind.startswith("greater")
        sign = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">"}.get(
            kind, "<"
        )
        bound = _number(next(iter(ctx.values())))
        number = "integer" if isinstance(value, int) else "decimal"
        side = "below minimum" if below else "above maximum"
        return bad_request(
            f"Invalid {name}: {number} {side} value. Expected a value {sign} {bound}, but got "
            f"{value} instead.",
            param=param,
            code=f"{number}_{'below_min' if below else 'above_max'}_value",
        )
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        thing = "string" if kind.startswith("string") else "array"
        a = "a" if thing == "string" else "an"
        if kind.endswith("short"):
            limit = ctx.get("min_length", 1)
            if thing == "array" and not value:
                return bad_request(
                    f"Invalid {name}: empty array. Expected an array with minimum length "
                    f"{limit}, but got an empty array instead.",
                    param=param,
                    code="empty_array",
                )
            return bad_request(
                f"Invalid {name}: {thing} too short. Expected {a} {thing} with minimum length "
                f"{limit}, but got {a} {thing} with length {len(value)} instead.",
                param=param,
                code="empty_string"
                if thing == "string" and not value
                else f"{thing}_below_min_length",
            )
        return bad_request(
            f"Invalid {name}: {thing} too long. Expected {a} {thing} with maximum length "
            f"{ctx.get('max_length')}, but got {a} {thing} with length {len(value)} instead.",
            param=param,
            code=f"{thing}_above_max_length",
        )
    if kind == "literal_error":
        return bad_request(
            f"Invalid value for {name}: expected one of {ctx.get('expected')}, but got {value!r}.",
            param=param,
            code="invalid_value",
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        key = str(ctx.get("discriminator", "")).strip("'")
        at = f"{param}.{key}" if param else key
        if kind == "union_tag_not_found":
            return bad_request(f"Missing required parameter: '{at}'.", param=at)
        got = value.get(key) if isinstance(value, dict) else value
        return bad_request(
            f"Invalid value for '{at}': expected one of {ctx.get('expected_tags')}, but got "
            f"{got!r}.",
            param=at,
            code="invalid_value",
        )
    return bad_request(f"Invalid {name}: {err['msg']}.", param=param or None)


def _located(err: ErrorDetails) -> ProxyError:
    return _one(err, _walk(err["loc"])[0])


def to_proxy_error(exc: ValidationError) -> ProxyError:
    """The first problem of ``exc`` as OpenAI would word it (unions: the likeliest member)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    param, tag = _walk(first["loc"])
    if tag < 0:
        return _one(first, param)
    # A union failed: every member reported. A member whose outer type fit the value failed
    # deeper inside; that is the error to report. Otherwise: none of the types fit.
    prefix = first["loc"][:tag]
    members = [e for e in errors if e["loc"][:tag] == prefix]
    # A member whose type fit failed deeper inside, or on a constraint: that is the error.
    fitting = [e for e in members if len(e["loc"]) > tag + 1]
    fitting += [e for e in members if e["type"] not in _KINDS and e["type"] != "literal_error"]
    if fitting:
        return _located(fitting[0])
    kinds: list[str] = []
    for e in members:
        k = _KINDS.get(e["type"], "")
        if e["type"] == "literal_error":
            k = f"one of {(e.get('ctx') or {}).get('expected')}"
        if k and k not in kinds:
            kinds.append(k)
    if len(kinds) < 2:
        return _one(members[0], param)
    return bad_request(
        f"Invalid type for '{param}': expected {', '.join(kinds[:-1])} or {kinds[-1]}, but got "
        f"{type_name(first.get('input'))} instead.",
        param=param,
        code="invalid_type",
    )


def to_anthropic_error(exc: ValidationError) -> ProxyError:
    """As Anthropic words its 400s (``"max_tokens: Field required"``), same ``param``."""
    err = to_proxy_error(exc)
    if err.param and err.message.startswith("Missing required parameter"):
        err.message = f"{err.param}: Field required"
    elif err.param:
        err.message = f"{err.param}: {exc.errors(include_url=False)[0]['msg']}"
    return err


def checker(
    adapter: TypeAdapter[Any], translate: Callable[[ValidationError], ProxyError] = to_proxy_error
) -> Callable[[Any], Any]:
    """``adapter``'s validation raising the ``ProxyError`` that ``translate`` words."""
    validate = adapter.validate_python

    def check(body: Any) -> Any:
        try:
            validate(body, context={})
        except ValidationError as exc:
            raise translate(exc) from None
        return body

    return check
