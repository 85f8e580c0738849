"""The admin and feedback request bodies: one schema for their checks and ``/openapi.json``.

Validated like the API bodies (``wire.models``: strict, unknown fields allowed, the same
OpenAI-worded 400s); the routes then turn the checked values into what they store (money
into ``Decimal``, times into ``datetime``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, Required

from pydantic import Field
from typing_extensions import TypedDict

from .models import OPEN, adapter, checker

#: An INTEGER column on PostgreSQL.
MAX_LIMIT = 2**31 - 1
MAX_BUDGET_USD = 10**12
MAX_COMMENT_CHARS = 4000
MAX_GRACE_S = 30 * 86400

Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)] | None
#: USD: a number, or a decimal string (exact); the route checks the string's value.
Money = Annotated[float, Field(ge=0, le=MAX_BUDGET_USD)] | str | None
Guardrails = Annotated[
    dict[str, Any] | None,
    Field(
        description="The org's override of the config's `guardrails` (any part of it, e.g. "
        '`{"pii": {"mode": "block"}}`); null removes it. Master key only.'
    ),
]
Permission = Literal["read", "write", "admin"]
BudgetPeriod = Literal["daily", "weekly", "monthly", "total"]


OrgName = Annotated[str, Field(min_length=1, description="Printable, at most 200 characters.")]


class _Organization(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    monthly_budget_usd: Money
    soft_budget_usd: Money
    rpm_limit: Limit
    tpm_limit: Limit
    guardrails: Guardrails


class OrganizationCreate(_Organization):
    name: Required[OrgName]


class OrganizationUpdate(_Organization, total=False):
    name: OrgName


class ApiKeyUpdate(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    name: str | None
    alias: Annotated[str | None, Field(description="Synonym of name.")]
    key_alias: Annotated[str | None, Field(description="Synonym of name.")]
    expires_at: Annotated[
        str | float | None, Field(description="An ISO 8601 time or a unix timestamp.")
    ]
    rpm_limit: Limit
    tpm_limit: Limit
    models: Annotated[
        list[Annotated[str, Field(min_length=1)]] | None,
        Field(description="Models the key may use (null: every model)."),
    ]
    max_budget_usd: Money
    budget_period: BudgetPeriod | None


class ApiKeyCreate(ApiKeyUpdate, total=False):
    org_id: str | None
    org: Annotated[str | None, Field(description="An organization name (created if needed).")]
    org_name: Annotated[str | None, Field(description="Synonym of org.")]
    permissions: Annotated[
        str | list[Permission] | None,
        Field(description="A list, or a comma-separated string (default read,write)."),
    ]


class ApiKeyRotate(TypedDict, total=False):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    grace_period_s: Annotated[
        float | None,
        Field(ge=0, le=MAX_GRACE_S, description="Seconds the old secret stays valid (default 0)."),
    ]


class FeedbackRequest(TypedDict):
    __pydantic_config__ = OPEN  # type: ignore[misc]

    request_id: Annotated[
        str,
        Field(
            min_length=1,
            pattern=r"\S",  # not blank
            description="The id of one of your requests (x-request-id).",
        ),
    ]
    score: Annotated[float, Field(ge=0, le=1)]
    comment: NotRequired[Annotated[str, Field(max_length=MAX_COMMENT_CHARS)] | None]


ORGANIZATION_CREATE = adapter(OrganizationCreate)
ORGANIZATION_UPDATE = adapter(OrganizationUpdate)
API_KEY_CREATE = adapter(ApiKeyCreate)
API_KEY_UPDATE = adapter(ApiKeyUpdate)
API_KEY_ROTATE = adapter(ApiKeyRotate)
FEEDBACK = adapter(FeedbackRequest)

check_organization_create = checker(ORGANIZATION_CREATE)
check_organization_update = checker(ORGANIZATION_UPDATE)
check_api_key_create = checker(API_KEY_CREATE)
check_api_key_update = checker(API_KEY_UPDATE)
check_api_key_rotate = checker(API_KEY_ROTATE)
check_feedback = checker(FEEDBACK)
