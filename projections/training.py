"""Training of practitioners: community x staff member x year (issue 12).

The view keeps facts (``projections.capacity``: staff stints, trainings, courses, qualifications and
the agencies' standards and catalogues). :func:`training` gives, for every staff member and every
year they were active in (up to the year of the latest fact):

* ``hours`` trained that year (``StaffTrained`` hours and the hours of the courses completed) and the
  ``standard_hours``: the threshold of a ``training_hours_per_full_time_staff`` standard of the city or
  the province in force on the year's last day, per year (a quarterly standard counts four times, a
  monthly one twelve), for full-time staff only; ``meets_standard`` compares the two;
* ``courses_outstanding``: courses enrolled in by the year's end and not completed by then;
* ``qualification``: the highest level obtained by the year's end (``qualified``: that, or qualified
  at joining);
* beside it, the community's figures for that year: ``community_qualified_share`` (of full-time staff
  active on 31 December) and ``community_left_within_a_year`` (staff who left that year less than 365
  days after joining): turnover next to training.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from ledger.domain.values import Indicator, StaffRole
from projections.base import Dispatching, Handler, Row
from projections.capacity import SHARED, facts, load
from projections.capacity_figures import (
    Facts,
    active_on,
    by_code,
    full_time_on,
    hours_between,
    last_day,
    level_on,
    qualified_on,
    ratio,
    staff_of,
    standards_for,
    version_on,
)
from projections.shards import Merge

NAME = "training"
PER_YEAR = {"year": 1, "quarter": 4, "month": 12}


def standard_hours(facts_: Facts, city: str, day: str) -> Decimal | None:
    """The yearly training hours asked of a full-time staff member of ``city`` on ``day`` (the highest
    in force of the city's and the province's standards), or None."""
    found = []
    for standard in standards_for(facts_, city):
        version = version_on(standard, day)
        if standard["indicator"] == Indicator.TRAINING_HOURS_PER_FULL_TIME_STAFF and version is not None:
            found.append(Decimal(version["threshold"]) * PER_YEAR[standard["period"]])
    return max(found, default=None)


def left_within_a_year(member: Row, year: int) -> int:
    """Stints that ended in ``year`` less than 365 days after they began."""
    return sum(1 for joined, left in member["stints"] if left is not None and int(left[:4]) == year
               and (date.fromisoformat(left) - date.fromisoformat(joined)).days < 365)


def training(store: Any, community: str | None = None, city: str | None = None,
             year_from: int | None = None, year_to: int | None = None) -> list[dict[str, Any]]:
    """Rows by community, year and staff id (see the module docstring)."""
    return staff_years(load(store, NAME), community, city, year_from, year_to)


def staff_years(facts_: Facts, community: str | None = None, city: str | None = None,
                year_from: int | None = None, year_to: int | None = None) -> list[dict[str, Any]]:
    until = last_day(facts_)
    if until is None:
        return []
    found = []
    for code, where in sorted(by_code(facts_).items()):
        if (community is not None and code != community) or (city is not None and where["city"] != city):
            continue
        staff = staff_of(facts_, code)
        first_year = min((int(s[0][:4]) for m in staff.values() for s in m["stints"]), default=None)
        if first_year is None:
            continue
        for year in range(max(first_year, year_from or first_year), min(int(until[:4]), year_to or 9999) + 1):
            first, last = f"{year:04d}-01-01", f"{year:04d}-12-31"
            full_time = full_time_on(staff, last)
            summary = {
                "community_full_time_staff": len(full_time),
                "community_qualified_share": ratio(sum(qualified_on(staff[s], last) for s in full_time),
                                                   len(full_time)),
                "community_left_within_a_year": sum(left_within_a_year(m, year) for m in staff.values()),
            }
            target = standard_hours(facts_, where["city"], last)
            for staff_id, member in sorted(staff.items()):
                if not any(j <= last and (left is None or left >= first) for j, left in member["stints"]):
                    continue
                hours = hours_between(facts_, where["city"], member, first, last)
                full = member["role"] == StaffRole.FULL_TIME
                outstanding = sorted(c for c, day in member["enrolled"].items()
                                     if day <= last and not member["completed"].get(c, "9999") <= last)
                found.append({
                    "community": code, "name": where["name"], "city": where["city"], "year": year,
                    "staff_id": staff_id, "role": member["role"], "active_at_year_end": active_on(member, last),
                    "hours": hours, "standard_hours": str(target) if full and target is not None else None,
                    "meets_standard": (hours >= target) if full and target is not None else None,
                    "courses_completed": sorted(c for c, day in member["completed"].items() if first <= day <= last),
                    "courses_outstanding": outstanding, "qualification": level_on(member, last),
                    "qualified": qualified_on(member, last),
                    "left_within_a_year": left_within_a_year(member, year) > 0, **summary,
                })
    return found


class TrainingView(Dispatching):
    """Facts for the training of practitioners; see the module docstring."""

    name = NAME
    version = 1
    shared: ClassVar[Mapping[str, Merge]] = SHARED
    handlers: ClassVar[dict[str, Handler]] = facts(
        "Registered", "AgencyEstablished", "StandardAdopted", "StandardRevised", "StandardRetired", "CourseOffered",
        "StaffJoined", "StaffLeft", "StaffTrained", "EnrolledInCourse", "CourseCompleted", "QualificationObtained",
    )

