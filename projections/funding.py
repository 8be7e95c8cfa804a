"""Funding and infrastructure: community x year (issue 12).

The view keeps facts (``projections.capacity``: funding by community and year, facilities, where
retirees were managed, staff stints). :func:`funding` gives, for every community and year with funding
allocated: the total and its split by source and purpose, the retirees managed and the full-time staff
active on 31 December, the funding ``per_managed_retiree`` and ``per_full_time_staff`` (None when there
are none), and the facilities open by the year's end (count and m² by kind).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from ledger.domain.values import FacilityKind
from projections.base import Dispatching, Handler
from projections.capacity import SHARED, facts, load
from projections.capacity_figures import Facts, by_code, full_time_on, lives_of, managed_on, staff_of
from projections.series import money
from projections.shards import Merge

NAME = "funding"


def _per(total: Decimal, count: int) -> str | None:
    return money(total / count) if count else None


def funding(store: Any, community: str | None = None, city: str | None = None,
            year_from: int | None = None, year_to: int | None = None) -> list[dict[str, Any]]:
    """Rows by community and year (see the module docstring)."""
    return community_years(load(store, NAME), community, city, year_from, year_to)


def community_years(facts_: Facts, community: str | None = None, city: str | None = None,
                    year_from: int | None = None, year_to: int | None = None) -> list[dict[str, Any]]:
    known = by_code(facts_)
    lives = lives_of(facts_)
    found = []
    for key, cell in sorted(facts_["funding"].items()):
        code, year_text = key.split("|")
        year, where = int(year_text), known.get(code, {})
        if (community is not None and code != community) or (city is not None and where.get("city") != city):
            continue
        if (year_from is not None and year < year_from) or (year_to is not None and year > year_to):
            continue
        last = f"{year:04d}-12-31"
        total = Decimal(cell["total"])
        managed = len(managed_on(lives.get(code, []), code, last))
        full_time = len(full_time_on(staff_of(facts_, code), last))
        opened = [f for k, f in facts_["facility"].items() if k.startswith(code + "|") and f["opened_on"] <= last]
        found.append({
            "community": code, "name": where.get("name"), "city": where.get("city"), "year": year,
            "total": money(total),
            "by_source": {k.removeprefix("source:"): money(Decimal(v)) for k, v in sorted(cell.items())
                          if k.startswith("source:")},
            "by_purpose": {k.removeprefix("purpose:"): money(Decimal(v)) for k, v in sorted(cell.items())
                           if k.startswith("purpose:")},
            "retirees_managed": managed, "full_time_staff": full_time,
            "per_managed_retiree": _per(total, managed), "per_full_time_staff": _per(total, full_time),
            "facilities": {kind.value: sum(1 for f in opened if f["kind"] == kind) for kind in FacilityKind},
            "facility_area_m2": sum(int(f["area_m2"]) for f in opened),
        })
    return found


class FundingView(Dispatching):
    """Facts for funding per retiree and per full-time staff; see the module docstring."""

    name = NAME
    version = 1
    shared: ClassVar[Mapping[str, Merge]] = SHARED
    handlers: ClassVar[dict[str, Handler]] = facts(
        "Registered", "Enrolled", "TransferredToCommunity", "Relocated", "Deceased", "StaffJoined", "StaffLeft",
        "FacilityRecorded", "FundingAllocated",
    )

