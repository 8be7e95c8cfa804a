"""The rows of ``/v1/projections/*``, typed so that OpenAPI documents every field, and their pages.

Each view's rows come in one fixed order (``ORDER``: by community and period, compliance with the
communities furthest below standard first). A page holds at most ``limit`` rows; ``next_cursor``
(null on the last page) is an opaque token naming the last row's place in that order, so the next page
starts right after it even when rows were added in between (no row is skipped or repeated because
others appeared). Money is a decimal string (``"5157.56"``), shares are 0..1, ``null`` means "no
denominator" (e.g. no retiree aged 80+ to visit).
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, Field

from ledger.errors import InvalidInputError


class Where(BaseModel):
    """The community a row is about: code, name and city (from its ``Registered`` event)."""

    community: str
    name: str | None
    city: str | None


class ServicesByType(BaseModel):
    """Services delivered in the month, by type."""

    home_visit: int = 0
    health_check: int = 0
    cultural_activity: int = 0
    policy_consultation: int = 0
    certification_assistance: int = 0
    hardship_relief: int = 0
    emergency_assistance: int = 0
    other: int = 0


class WorkloadRow(Where):
    """Community x month: retirees managed at month end, transfers, services and minutes, certifications,
    staff at month end (full-time, qualified social workers), staff who joined or left, turnover
    (full-time staff who left / full-time staff), training hours completed in the month."""

    month: str
    retirees_managed: int
    transfers_in: int
    transfers_out: int
    services: ServicesByType
    services_total: int
    service_minutes: int
    certifications: int
    full_time_staff: int
    retirees_per_full_time_staff: float | None
    staff: int
    qualified_social_workers: int
    qualified_social_worker_share: float | None
    staff_joined: int
    staff_left: int
    full_time_left: int
    turnover: float | None
    training_hours: int | float


class SatisfactionRow(Where):
    """Community x month x service type (``overall``: all types): count, mean and distribution (1..5)."""

    month: str
    service_type: str
    count: int
    mean: float | None
    distribution: dict[str, int] = Field(description="score ('1'..'5') -> how many gave it")


class PensionsRow(Where):
    """Community x month: total monthly pension in payment at month end, pensions in payment and suspended,
    adjustments recorded in the month and their sum."""

    month: str
    total_monthly_pension: str
    pensions_in_payment: int
    suspended: int
    adjustments: int
    adjustments_sum: str


class StandardsRow(Where):
    """Community x year: retirees managed, certified, the share; aged 80+ and those visited in the last quarter."""

    year: int
    managed: int
    certified: int
    certified_share: float | None
    aged_80_plus: int
    aged_80_plus_visited: int
    visited_share: float | None


class ComplianceRow(Where):
    """Community x period x standard: the indicator's ``value`` against the ``threshold`` of the standard's
    version in force on ``period_end``; ``met`` (null without a value), ``shortfall`` how far below
    (``min``) or above (``max``) the threshold, 0 when met."""

    period: str
    period_end: str
    standard: str
    area: str
    indicator: str
    direction: str
    standard_version: int
    threshold: str
    value: float | None
    met: bool | None
    shortfall: float | None


class TrainingRow(Where):
    """Community x year x staff member: training hours against the standard, courses completed and
    outstanding, qualification; the community's full-time staff, qualified share and staff who left
    within a year of joining, beside it."""

    year: int
    staff_id: str
    role: str
    active_at_year_end: bool
    hours: int | float
    standard_hours: str | None = Field(description="the standard's yearly hours (a decimal string)")
    meets_standard: bool | None
    courses_completed: list[str]
    courses_outstanding: list[str]
    qualification: str | None
    qualified: bool
    left_within_a_year: bool
    community_full_time_staff: int
    community_qualified_share: float | None
    community_left_within_a_year: int


class Facilities(BaseModel):
    """Facilities open at year end, by kind."""

    service_station: int = 0
    activity_room: int = 0
    elderly_canteen: int = 0


class FundingRow(Where):
    """Community x year: funding (CNY) in all, by source and by purpose, per managed retiree and per
    full-time staff (null without any), and the facilities open at year end with their area."""

    year: int
    total: str
    by_source: dict[str, str]
    by_purpose: dict[str, str]
    retirees_managed: int
    full_time_staff: int
    per_managed_retiree: str | None
    per_full_time_staff: str | None
    facilities: Facilities
    facility_area_m2: int | float


Row = TypeVar("Row", bound=BaseModel)


class Page(BaseModel, Generic[Row]):
    """A page of a view's rows. ``next_cursor``: pass it as ``cursor`` for the next page (null on the last).
    ``position``: the seq the view has applied up to; ``lag``: how far that is behind the log head the read
    saw (or the ``Ledger-Min-Seq`` it named) once the bounded wait ended; 0 means caught up."""

    rows: list[Row]
    next_cursor: str | None = None
    position: int = 0
    lag: int = 0


def _below_first(row: dict[str, Any]) -> tuple[Any, ...]:
    rank = {False: 0, True: 1, None: 2}[row["met"]]
    return (rank, -(row["shortfall"] or 0.0), row["community"], row["period_end"], row["area"], row["standard"])


ORDER: dict[str, Callable[[dict[str, Any]], tuple[Any, ...]]] = {
    "workload": lambda r: (r["community"], r["month"]),
    "satisfaction": lambda r: (r["community"], r["month"], r["service_type"]),
    "pensions": lambda r: (r["community"], r["month"]),
    "standards": lambda r: (r["community"], r["year"]),
    "compliance": _below_first,
    "training": lambda r: (r["community"], r["year"], r["staff_id"]),
    "funding": lambda r: (r["community"], r["year"]),
}
"""Each view's row order; a cursor is the last row's place in it."""


def cursor_of(view: str, place: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([view, *place])).decode().rstrip("=")


def _place(view: str, cursor: str) -> tuple[Any, ...]:
    bad = InvalidInputError(f"cursor is not one this view ({view}) answered; start again without it")
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise bad from None
    if not isinstance(decoded, list) or not decoded or decoded[0] != view:
        raise bad
    return tuple(decoded[1:])


def page(view: str, rows: Sequence[dict[str, Any]], cursor: str | None, limit: int | None
         ) -> tuple[list[dict[str, Any]], str | None]:
    """The rows after ``cursor`` in the view's order, at most ``limit`` (all without), and the next cursor."""
    order = ORDER[view]
    ranked = sorted(rows, key=order)
    start = 0
    if cursor is not None:
        place = _place(view, cursor)
        try:
            start = bisect_right(ranked, place, key=order)
        except TypeError:  # a forged cursor whose parts do not compare with the rows'
            raise InvalidInputError(f"cursor is not one this view ({view}) answered; start again without it") from None
    chosen = ranked[start:] if limit is None else ranked[start:start + limit]
    more = limit is not None and start + limit < len(ranked)
    return chosen, cursor_of(view, order(chosen[-1])) if more and chosen else None


def flat(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows with nested mappings spread into ``a.b`` columns (for CSV/XLSX), and the columns in first-seen order."""
    columns: dict[str, None] = {}
    out = []
    for row in rows:
        spread: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, dict):
                for inner, item in value.items():
                    spread[f"{key}.{inner}"] = item
            else:
                spread[key] = value
        columns.update(dict.fromkeys(spread))
        out.append(spread)
    return list(columns), out
