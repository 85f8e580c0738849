"""Built-in list prices: the per-million-token prices of well-known upstream models.

The table is pydantic's ``genai-prices`` (MIT, updated with each provider's price changes
and released monthly; pure data, no network at run time: its bundled snapshot is used and
its auto-update is never started). It is read once, while the registry is built, and only
when some model leaves out ``cost_input``/``cost_output``: loading the table costs most of
a second, and nothing here runs per request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

log = logging.getLogger("omni_proxy")

#: omni-proxy provider (or preset / plugin) names that ``genai-prices`` spells differently.
_PROVIDER_IDS = {"gemini": "google", "vertex": "google", "azure": "azure"}


@dataclass(slots=True, frozen=True)
class TablePrice:
    """USD per million tokens, as the table lists them for one upstream model."""

    cost_input: Decimal
    cost_output: Decimal
    #: Input tokens served from the upstream's prompt cache (None: the input price).
    cost_cached_input: Decimal | None
    #: Reasoning tokens, where billed apart from other output (None: the output price).
    cost_reasoning: Decimal | None
    #: The table's own id for the model, to show where a price came from.
    table_id: str


def table_available() -> bool:
    """Whether the price table is installed (it is a dependency, but stay usable without)."""
    try:
        import genai_prices  # noqa: F401
    except ImportError:  # pragma: no cover - a declared dependency
        return False
    return True


def lookup(upstream_model: str, providers: tuple[str | None, ...] = ()) -> TablePrice | None:
    """The table's price for ``upstream_model``, trying each provider name in turn and
    then the model id alone; None when the table does not know it."""
    try:
        from genai_prices import data_snapshot
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    snapshot = data_snapshot.get_snapshot()
    ids: list[str | None] = []
    for name in providers:
        if name:
            pid = _PROVIDER_IDS.get(name.lower(), name.lower())
            if pid not in ids:
                ids.append(pid)
    ids.append(None)
    for provider_id in ids:
        try:
            _, info = snapshot.find_provider_model(upstream_model, None, provider_id, None)
        except LookupError:
            continue
        return _from_table(info)
    return None


def _from_table(info: Any) -> TablePrice | None:
    prices = info.get_prices(datetime.now(tz=UTC))
    cost_input = _base(getattr(prices, "input_mtok", None))
    cost_output = _base(getattr(prices, "output_mtok", None))
    if cost_input is None:
        return None
    return TablePrice(
        cost_input=cost_input,
        cost_output=cost_output if cost_output is not None else Decimal(0),
        cost_cached_input=_base(getattr(prices, "cache_read_mtok", None)),
        cost_reasoning=_base(getattr(prices, "output_reasoning_mtok", None)),
        table_id=str(info.id),
    )


def _base(price: Any) -> Decimal | None:
    """A flat price, or a tiered price's base tier (the rate below its first threshold)."""
    if price is None:
        return None
    if isinstance(price, Decimal):
        return price
    base = getattr(price, "base", None)
    return Decimal(str(base)) if base is not None else None
