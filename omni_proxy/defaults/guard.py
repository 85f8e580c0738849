"""Default guard: personal data and credentials masked, blocked or left, per ``guardrails``.

An org's override (``guardrails`` on the org, set through the admin API) rides on its keys'
principals as ``limits["guardrails"]`` and is merged over the config's settings.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..config import Config, GuardrailSettings
from ..errors import ProxyError
from ..guardrails.detect import Finding, find
from ..guardrails.masking import (
    TEXT_FIELDS,
    Masker,
    RestoringStream,
    TooDeep,
    rewrite_strings,
)
from ..guardrails.stream import guard_blocked
from ..plugins import hookimpl
from ..types import CallContext, Principal

NAME = "omni_proxy.defaults.guard"

_merged: dict[tuple[int, bytes], GuardrailSettings] = {}


def settings_for(config: Config, principal: Principal | None) -> GuardrailSettings:
    """The config's guardrails with the principal's org override merged over them."""
    override = principal.limits.get("guardrails") if principal is not None else None
    if not override:
        return config.guardrails
    key = (id(config), orjson.dumps(override, option=orjson.OPT_SORT_KEYS))
    settings = _merged.get(key)
    if settings is None:
        base = config.guardrails.model_dump()
        for part, values in override.items():
            if isinstance(values, dict) and isinstance(base.get(part), dict):
                base[part] = {**base[part], **values}
            else:
                base[part] = values
        if len(_merged) > 1024:
            _merged.clear()
        settings = _merged[key] = GuardrailSettings.model_validate(base)
    return settings


class _Scan:
    """One request's pass over its strings: masks, and remembers what to block."""

    __slots__ = ("blocked", "context", "masker", "pii", "region", "secrets")

    def __init__(self, settings: GuardrailSettings, masker: Masker, context: CallContext) -> None:
        self.pii = settings.pii.mode
        self.secrets = settings.secrets.mode
        self.region = settings.pii.phone_region
        self.masker = masker
        self.context = context
        self.blocked: set[str] = set()

    def __call__(self, text: str) -> str:
        found = find(
            text, pii=self.pii != "none", secrets=self.secrets != "none", region=self.region
        )
        if not found:
            return text
        counts = self.context.findings
        if counts is None:
            counts = self.context.findings = {}
        masked: list[Finding] = []
        for f in found:
            counts[f.kind] = counts.get(f.kind, 0) + 1
            mode = self.secrets if f.secret else self.pii
            if mode == "block":
                self.blocked.add(f.kind)
            else:
                masked.append(f)
        if self.blocked or not masked:
            return text
        return self.masker.mask(text, masked)


def _refuse(blocked: set[str]) -> ProxyError:
    kinds = ", ".join(sorted(blocked))
    if any(k in ("API_KEY", "PRIVATE_KEY", "TOKEN") for k in blocked):
        return guard_blocked(
            f"The request contains a credential ({kinds}); it was not sent to any model. "
            "Remove it and try again.",
            "secret_detected",
        )
    return guard_blocked(
        f"The request contains personal data ({kinds}); it was not sent to any model. "
        "Remove it and try again.",
        "pii_detected",
    )


@hookimpl(trylast=True)
def guard_request(
    body: dict[str, Any], principal: Principal | None, config: Config, context: CallContext
) -> None:
    settings = settings_for(config, principal)
    if not settings.active():
        return
    assert context.guard is not None
    masker = context.guard.get(NAME)
    if masker is None:
        restorable = []
        if settings.pii.restore:
            restorable += ["EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP"]
        if settings.secrets.restore:
            restorable += ["API_KEY", "PRIVATE_KEY", "TOKEN"]
        masker = context.guard[NAME] = Masker(restorable)
    scan = _Scan(settings, masker, context)
    for field in TEXT_FIELDS:
        value = body.get(field)
        if value is not None:
            try:
                body[field] = rewrite_strings(value, scan)
            except TooDeep as exc:
                raise guard_blocked(f"{exc}; it cannot be checked.", "too_deep", field) from None
            if scan.blocked:
                raise _refuse(scan.blocked)


@hookimpl(trylast=True)
def guard_response(response: Any, stream: bool, context: CallContext) -> Any:
    masker: Masker | None = (context.guard or {}).get(NAME)
    if masker is None or not masker.originals:
        return None
    if stream:
        return RestoringStream(masker)
    if isinstance(response, dict):
        for field in ("choices", "output", "content"):
            if field in response:
                rewrite_strings(response[field], masker.restore)
    return None
