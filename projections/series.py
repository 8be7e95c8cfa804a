"""Period arithmetic and running totals for the query side (no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from projections.store import ViewRow, ViewStore

CENTS = Decimal("0.01")
Number = int | Decimal


def next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def next_year(year: str) -> str:
    return f"{int(year) + 1:04d}"


def number(value: Any) -> Number:
    """A stored counter: Decimal amounts are stored as strings, counts as ints."""
    return Decimal(value) if isinstance(value, str) else int(value)


def money(value: Number) -> str:
    return str(Decimal(value).quantize(CENTS))


def ratio(part: Number, whole: Number, places: int = 4) -> float | None:
    """``part / whole`` rounded, or None when ``whole`` is zero."""
    return round(float(part) / float(whole), places) if whole else None


def grouped(rows: list[ViewRow]) -> dict[str, dict[str, dict[str, Any]]]:
    """Period rows keyed ``CODE|PERIOD`` as {code: {period: data}}."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        code, period = row.key.split("|", 1)
        found.setdefault(code, {})[period] = row.data
    return found


def running(
    cells: Mapping[str, Mapping[str, Any]],
    fields: Sequence[str],
    last: str,
    step: Callable[[str], str],
) -> Iterator[tuple[str, dict[str, Number], Mapping[str, Any]]]:
    """Every period from the first with a row up to ``last``: (period, running totals, the period's row).

    The totals sum the ``fields`` of every row up to and including the period, so quiet periods
    carry the last figures forward.
    """
    if not cells:
        return
    totals: dict[str, Number] = dict.fromkeys(fields, 0)
    period = min(cells)
    while period <= last:
        cell = cells.get(period, {})
        for field in fields:
            totals[field] = totals[field] + number(cell.get(field, 0))
        yield period, dict(totals), cell
        period = step(period)


def communities(store: ViewStore, view: str) -> dict[str, dict[str, Any]]:
    """The view's registered communities by code."""
    return {row.data["code"]: row.data for row in store.rows(view, "community")}
