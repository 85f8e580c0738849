"""The few primitives each SQL dialect supplies to the shared queries (``common``, ``rollup``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any


class Dialect:
    """SQL and conversions that differ between SQLite and PostgreSQL."""

    dialect: str

    async def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run a statement; return the number of rows it changed."""
        raise NotImplementedError

    def _ts(self, value: datetime) -> Any:
        """A datetime as a query parameter."""
        raise NotImplementedError

    def _money(self, value: Decimal | None) -> Any:
        raise NotImplementedError

    def _day(self, column: str) -> str:
        """SQL: the UTC date (YYYY-MM-DD text) of a timestamp column."""
        raise NotImplementedError

    def _minute(self, column: str) -> str:
        """SQL: the UTC minute (``YYYY-MM-DDTHH:MM`` text) of a timestamp column."""
        raise NotImplementedError

    def _hour(self, column: str) -> str:
        """SQL: the UTC hour (``YYYY-MM-DDTHH`` text) of a timestamp column."""
        raise NotImplementedError

    def _money_units(self, column: str) -> str:
        """SQL: one money value in the exactly summable form the rollups store."""
        raise NotImplementedError

    def _sum_money(self, column: str) -> str:
        """SQL: an exact sum of a money column (see ``_money_sum_out``)."""
        return f"COALESCE(SUM({self._money_units(column)}), 0)"

    def _money_sum_out(self, value: Any) -> Decimal:
        raise NotImplementedError

    def _latency_us(self, column: str) -> str:
        """SQL: a latency in ms as whole microseconds (what the rollups sum), as the
        migration's triggers compute it."""
        raise NotImplementedError

    def _latency_bin(self, column: str) -> str:
        """SQL: the latency histogram bin of a latency in ms, exactly as the migration's
        triggers and its ``requests_org_latency_bin`` index compute it."""
        raise NotImplementedError
