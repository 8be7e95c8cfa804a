"""Queries over the views, for the API and the CLI: plain JSON-able dicts, no SQL here.

Months and years are those of the events' business dates. Figures "at month end" (retirees
managed, staff, pension totals) and "at year end" are running totals, so every month from a
community's first activity up to ``month_to`` (without it: the last month with a recorded fact
in the view; at most ``FILL_AHEAD`` months past it) has a row, quiet months included. Rows are
sorted by (community, month[, service_type]).
Filters name a community by code, or a city (from the community's ``Registered`` event).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.domain.values import MONTH_PATTERN, ServiceType
from ledger.errors import InvalidInputError
from projections import audit as audit_view
from projections import pensions as pensions_view
from projections import satisfaction as satisfaction_view
from projections import standards as standards_view
from projections import workload as workload_view
from projections.registry import view_rows
from projections.series import communities, grouped, money, next_month, next_year, ratio, running
from projections.store import ViewStore

SERVICE_TYPES = tuple(t.value for t in ServiceType)
FORESEEN = frozenset({"aged_80_plus"})
FILL_AHEAD = 24
"""Months that a query with ``month_to`` may run past the view's last recorded fact (bounds the rows)."""


@dataclass(frozen=True)
class Filters:
    """Query filters; every one is optional. Months are ``YYYY-MM`` (bad ones: ``InvalidInputError``)."""

    community: str | None = None
    city: str | None = None
    month_from: str | None = None
    month_to: str | None = None
    service_type: str | None = None

    def __post_init__(self) -> None:
        for name in ("month_from", "month_to"):
            value = getattr(self, name)
            if value is not None and not MONTH_PATTERN.match(value):
                raise InvalidInputError(f"{name} must be YYYY-MM, got {value!r}")
        if self.month_from and self.month_to and self.month_from > self.month_to:
            raise InvalidInputError("month_from must not be after month_to")
        allowed = (*SERVICE_TYPES, satisfaction_view.OVERALL)
        if self.service_type is not None and self.service_type not in allowed:
            raise InvalidInputError(f"service_type must be one of {', '.join(allowed)}")

    def in_range(self, month: str) -> bool:
        return (self.month_from is None or month >= self.month_from) and (
            self.month_to is None or month <= self.month_to
        )

    def in_years(self, year: str) -> bool:
        return (self.month_from is None or year >= self.month_from[:4]) and (
            self.month_to is None or year <= self.month_to[:4]
        )

    def keeps(self, code: str, known: Mapping[str, Mapping[str, Any]]) -> bool:
        if self.community is not None and code != self.community:
            return False
        return self.city is None or known.get(code, {}).get("city") == self.city


def _where(code: str, known: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    community = known.get(code, {})
    return {"community": code, "name": community.get("name"), "city": community.get("city")}


def _periods(
    store: ViewStore, view: str, kind: str, fields: tuple[str, ...], f: Filters, foreseen: frozenset[str] = frozenset()
) -> Iterator[tuple[str, str, dict[str, Any], Mapping[str, Any]]]:
    """(code, period, running totals, period row) for every kept community and period in range.

    Periods run up to ``month_to``, or without it to the last period with a recorded fact, and
    never more than ``FILL_AHEAD`` months past that. Rows holding only ``foreseen`` fields (changes
    known in advance, such as a retiree turning 80) do not count as recorded facts.
    """
    cells = grouped(view_rows(store, view, kind))
    recorded = [p for periods in cells.values() for p, row in periods.items() if set(row) - foreseen]
    if not recorded:
        return
    known = communities(store, view)
    last = max(recorded)
    step, keep = (next_month, f.in_range) if kind == "month" else (next_year, f.in_years)
    if f.month_to is not None:
        wanted, limit = f.month_to[: len(last)], last
        for _ in range(FILL_AHEAD if kind == "month" else FILL_AHEAD // 12):
            limit = step(limit)
        last = max(last, min(wanted, limit))
    for code in sorted(cells):
        if not f.keeps(code, known):
            continue
        for period, totals, cell in running(cells[code], fields, last, step):
            if keep(period):
                yield code, period, totals, cell


def workload(store: ViewStore, f: Filters) -> list[dict[str, Any]]:
    """Community x month workload (see ``projections.workload`` for the definitions)."""
    known = communities(store, workload_view.NAME)
    found = []
    for code, month, t, c in _periods(store, workload_view.NAME, "month", workload_view.RUNNING, f):
        services = {kind: int(c.get(workload_view.SERVICE_PREFIX + kind, 0)) for kind in SERVICE_TYPES}
        full_time, staff = t["full_time_staff"], t["staff"]
        found.append({
            **_where(code, known),
            "month": month,
            "retirees_managed": t["managed"],
            "transfers_in": c.get("transfers_in", 0),
            "transfers_out": c.get("transfers_out", 0),
            "services": services,
            "services_total": sum(services.values()),
            "service_minutes": c.get("service_minutes", 0),
            "certifications": c.get("certifications", 0),
            "full_time_staff": full_time,
            "retirees_per_full_time_staff": ratio(t["managed"], full_time, 2),
            "staff": staff,
            "qualified_social_workers": t["qualified_social_workers"],
            "qualified_social_worker_share": ratio(t["qualified_social_workers"], staff),
            "staff_joined": c.get("staff_joined", 0),
            "staff_left": c.get("staff_left", 0),
            "full_time_left": c.get("full_time_left", 0),
            "turnover": ratio(c.get("full_time_left", 0), full_time),
            "training_hours": c.get("training_hours", 0),
        })
    return found


def _satisfaction_cells(store: ViewStore, f: Filters) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
    known = communities(store, satisfaction_view.NAME)
    cells = []
    for row in view_rows(store, satisfaction_view.NAME, "cell"):
        code, month, service_type = row.key.split("|")
        if f.keeps(code, known) and f.in_range(month) and f.service_type in (None, service_type):
            cells.append((code, month, service_type, row.data))
    yield from sorted(cells, key=lambda cell: cell[:3])


def satisfaction(store: ViewStore, f: Filters) -> list[dict[str, Any]]:
    """Community x month x service type: count, mean score and the 1-5 distribution."""
    known = communities(store, satisfaction_view.NAME)
    return [
        {
            **_where(code, known),
            "month": month,
            "service_type": service_type,
            "count": cell["count"],
            "mean": round(cell["sum"] / cell["count"], 2),
            "distribution": {str(score): cell.get(f"s{score}", 0) for score in range(1, 6)},
        }
        for code, month, service_type, cell in _satisfaction_cells(store, f)
    ]


def lowest_communities(store: ViewStore, f: Filters, n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` communities with the lowest mean score over the filtered ratings (ties: more ratings first)."""
    if n < 1:
        raise InvalidInputError("n must be at least 1")
    known = communities(store, satisfaction_view.NAME)
    totals: dict[str, list[int]] = {}
    for code, _month, _type, cell in _satisfaction_cells(store, f):
        count_sum = totals.setdefault(code, [0, 0])
        count_sum[0] += cell["count"]
        count_sum[1] += cell["sum"]
    ranked = sorted(totals.items(), key=lambda item: (item[1][1] / item[1][0], -item[1][0], item[0]))
    return [
        {**_where(code, known), "count": count, "mean": round(total / count, 2)}
        for code, (count, total) in ranked[:n]
    ]


def pensions(store: ViewStore, f: Filters) -> list[dict[str, Any]]:
    """Community x month pension roll: totals at month end, adjustments effective in the month."""
    known = communities(store, pensions_view.NAME)
    return [
        {
            **_where(code, known),
            "month": month,
            "total_monthly_pension": money(t["total_monthly_pension"]),
            "pensions_in_payment": t["pensions_in_payment"],
            "suspended": t["suspended"],
            "adjustments": c.get("adjustments", 0),
            "adjustments_sum": money(Decimal(c.get("adjustments_sum", "0"))),
        }
        for code, month, t, c in _periods(store, pensions_view.NAME, "month", pensions_view.RUNNING, f)
    ]


def _retiree_key(retiree_id: UUID | str) -> str:
    try:
        return str(retiree_id if isinstance(retiree_id, UUID) else UUID(retiree_id))
    except ValueError:
        raise InvalidInputError("retiree id must be a UUID") from None


def pension_of(store: ViewStore, retiree_id: UUID | str) -> dict[str, Any] | None:
    """A retiree's current pension, status and community (None: unknown to the view)."""
    key = _retiree_key(retiree_id)
    row = store.get(pensions_view.NAME, "retiree", key)
    if row is None:
        return None
    fields = ("monthly_pension", "pension_status", "stage", "community", "agency")
    return {"retiree_id": key, **{field: row[field] for field in fields}}


def standards(store: ViewStore, f: Filters) -> list[dict[str, Any]]:
    """Community x year: certification share and the share of retirees aged 80+ visited in Q4."""
    known = communities(store, standards_view.NAME)
    return [
        {
            **_where(code, known),
            "year": int(year),
            "managed": t["managed"],
            "certified": c.get("certified", 0),
            "certified_share": ratio(c.get("certified", 0), t["managed"]),
            "aged_80_plus": t["aged_80_plus"],
            "aged_80_plus_visited": c.get("aged_80_plus_visited", 0),
            "visited_share": ratio(c.get("aged_80_plus_visited", 0), t["aged_80_plus"]),
        }
        for code, year, t, c in _periods(store, standards_view.NAME, "year", standards_view.RUNNING, f, FORESEEN)
    ]


def audit_trail(store: ViewStore, retiree_id: UUID | str) -> list[dict[str, Any]]:
    """Every event of the retiree in log order, without personal fields ([] if unknown)."""
    retiree, prefix = _retiree_key(retiree_id), _retiree_key(retiree_id) + "|"
    return [{"seq": int(row.key[len(prefix):]), "retiree_id": retiree, **row.data}
            for row in store.rows(audit_view.NAME, "event", prefix)]
