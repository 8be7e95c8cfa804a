"""Service-standard compliance: community x period x standard (issue 12).

The view keeps facts (``projections.capacity``); :func:`compliance` judges every community against
every standard of its city's agency and of the province, for every period of the standard (month,
quarter, year) that has ended by the latest fact's date, by the version in force on the period's
last day (``standard_version``; periods before adoption or after retirement are not judged).

Indicators (the value for community C and period [first, last]):

* ``retirees_per_full_time_staff`` (max): retirees C manages on ``last`` / full-time staff active then;
* ``certified_share``: of those managed on ``last``, the share certified for the period's year;
* ``aged_80_visited_share``: of those managed on ``last`` and turning 80 in or before its year, the
  share with a home visit in the period;
* ``new_transfers_visited_30_days_share``: of the transfers from the danwei to C effective in the
  period, the share with a home visit within 30 days of the transfer (as known now);
* ``contact_card_share``: of the same transfers, the share with the contact card issued;
* ``training_hours_per_full_time_staff``: training hours in the period of C's full-time staff
  (``StaffTrained`` and completed courses) / full-time staff on ``last``;
* ``qualified_social_worker_share``: full-time staff on ``last`` qualified then / full-time staff;
* ``mean_satisfaction``: the mean score of the ratings in the period by retirees C managed that day.

``met`` is None when there is nothing to judge (no retirees, no transfers, no ratings), False for a
staff indicator of a community with retirees but no full-time staff. ``shortfall`` is how far below
standard, relative to the threshold (positive: short). Rows come furthest below first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from ledger.domain.values import INDICATOR_LIMIT, Indicator
from projections.base import Dispatching, Handler, Row
from projections.capacity import SHARED, facts, load
from projections.capacity_figures import (
    Facts,
    bounds,
    by_code,
    full_time_on,
    hours_between,
    last_day,
    lives_of,
    managed_on,
    periods,
    qualified_on,
    ratio,
    staff_of,
    standards_for,
    version_on,
)
from projections.shards import Merge
from projections.timeline import community_on

NAME = "compliance"
VISIT_WITHIN_DAYS = 30
STAFF_INDICATORS = frozenset({Indicator.RETIREES_PER_FULL_TIME_STAFF, Indicator.TRAINING_HOURS_PER_FULL_TIME_STAFF,
                              Indicator.QUALIFIED_SOCIAL_WORKER_SHARE})


def figures(facts_: Facts, code: str, lives: list[Row], first: str, last: str) -> dict[str, float | None]:
    """Every indicator's value for community ``code`` over ``[first, last]`` (None: nothing to measure)."""
    city = by_code(facts_)[code]["city"]
    staff = staff_of(facts_, code)
    full_time = full_time_on(staff, last)
    managed = managed_on(lives, code, last)
    year = int(last[:4])
    old = [life for life in managed if life["birth_year"] + 80 <= year]
    transfers = [(life, day, card) for life in lives for community, day, card in life["transfers"]
                 if community == code and first <= day <= last]
    ratings = [score for life in lives for day, score in life["ratings"]
               if first <= day <= last and community_on(life, day) == code]

    def visited(life: Row, since: str, until: str) -> bool:
        return any(since <= day <= until for day in life["home_visits"])

    def within(day: str) -> str:
        return (date.fromisoformat(day) + timedelta(days=VISIT_WITHIN_DAYS)).isoformat()

    hours = sum(hours_between(facts_, city, staff[s], first, last) for s in full_time)
    return {
        Indicator.RETIREES_PER_FULL_TIME_STAFF: ratio(len(managed), len(full_time), 2),
        Indicator.CERTIFIED_SHARE: ratio(sum(year in life["certified_years"] for life in managed), len(managed)),
        Indicator.AGED_80_VISITED_SHARE: ratio(sum(visited(life, first, last) for life in old), len(old)),
        Indicator.NEW_TRANSFERS_VISITED_30_DAYS_SHARE: ratio(
            sum(visited(life, day, within(day)) for life, day, _ in transfers), len(transfers)),
        Indicator.CONTACT_CARD_SHARE: ratio(sum(bool(card) for _, _, card in transfers), len(transfers)),
        Indicator.TRAINING_HOURS_PER_FULL_TIME_STAFF: ratio(hours, len(full_time), 2),
        Indicator.QUALIFIED_SOCIAL_WORKER_SHARE: ratio(sum(qualified_on(staff[s], last) for s in full_time),
                                                       len(full_time)),
        Indicator.MEAN_SATISFACTION: ratio(sum(ratings), len(ratings), 2),
        "_managed": len(managed),
    }


def judge(indicator: str, value: float | None, threshold: Decimal, managed: int) -> tuple[bool | None, float | None]:
    """(met, shortfall relative to the threshold; positive when short)."""
    if value is None:
        short = indicator in STAFF_INDICATORS and managed > 0
        return (False, None) if short else (None, None)
    limit = float(threshold)
    if INDICATOR_LIMIT[indicator][0] == "max":
        return value <= limit, round((value - limit) / limit, 4)
    return value >= limit, round((limit - value) / limit, 4)


def compliance(store: Any, community: str | None = None, city: str | None = None,
               month_from: str | None = None, month_to: str | None = None) -> list[dict[str, Any]]:
    """Rows of community x period x standard, the furthest below standard first (then by community,
    period, standard). Filters: a community code, a city, the months of the periods' last days."""
    return judged(load(store, NAME), community, city, month_from, month_to)


def judged(facts_: Facts, community: str | None = None, city: str | None = None,
           month_from: str | None = None, month_to: str | None = None) -> list[dict[str, Any]]:
    """:func:`compliance` over fact rows already loaded."""
    until = last_day(facts_)
    if until is None:
        return []
    lives = lives_of(facts_)
    found: list[dict[str, Any]] = []
    cache: dict[tuple[str, str, str], dict[str, float | None]] = {}
    for code, where in sorted(by_code(facts_).items()):
        if (community is not None and code != community) or (city is not None and where["city"] != city):
            continue
        for standard in standards_for(facts_, where["city"]):
            for label in periods(standard["versions"][0]["effective_from"], until, standard["period"]):
                first, last = bounds(label)
                if (month_from is not None and last[:7] < month_from) or (month_to is not None and last[:7] > month_to):
                    continue
                version = version_on(standard, last)
                if version is None:
                    continue
                values = cache.get((code, first, last))
                if values is None:
                    values = cache[(code, first, last)] = figures(facts_, code, lives.get(code, []), first, last)
                value, threshold = values[standard["indicator"]], Decimal(version["threshold"])
                met, shortfall = judge(standard["indicator"], value, threshold, int(values["_managed"] or 0))
                found.append({
                    "community": code, "name": where["name"], "city": where["city"], "period": label,
                    "period_end": last, "standard": standard["code"], "area": standard["area"],
                    "indicator": standard["indicator"], "direction": INDICATOR_LIMIT[standard["indicator"]][0],
                    "standard_version": version["version"], "threshold": str(threshold), "value": value,
                    "met": met, "shortfall": shortfall,
                })
    return sorted(found, key=_furthest_below_first)


def _furthest_below_first(row: dict[str, Any]) -> tuple[Any, ...]:
    rank = {False: 0, True: 1, None: 2}[row["met"]]
    shortfall = row["shortfall"]
    return (rank, -(shortfall if shortfall is not None else float("inf")), row["community"], row["period_end"],
            row["area"], row["standard"])


class ComplianceView(Dispatching):
    """Facts for judging communities against the agencies' standards; see the module docstring."""

    name = NAME
    version = 1
    shared: ClassVar[Mapping[str, Merge]] = SHARED
    handlers: ClassVar[dict[str, Handler]] = facts(
        "Registered", "AgencyEstablished", "StandardAdopted", "StandardRevised", "StandardRetired", "CourseOffered",
        "Enrolled", "TransferredToCommunity", "Relocated", "Deceased", "EligibilityCertified", "ServiceDelivered",
        "SatisfactionRated", "StaffJoined", "StaffLeft", "StaffTrained", "EnrolledInCourse", "CourseCompleted",
        "QualificationObtained",
    )

