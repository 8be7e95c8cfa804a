"""The demo's agencies, standards, courses, training, qualifications, facilities and funding (issue 12).

Planned after the rest of the demo with a random generator of its own (derived from the seed), so the
earlier parts of a seed's history stay what they were. Communities differ in how keen they are on
training and how well funded they are, so some fall below the standards.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from devtools.demo_vocabulary import (
    AGENCIES,
    CITIES,
    COURSE_CATALOGUE,
    FACILITIES,
    FUNDING_SOURCES,
    QUALIFICATIONS,
    STANDARDS,
)
from ledger import commands as c
from ledger.domain.values import PROVINCE

if TYPE_CHECKING:
    from devtools.demo import _Planner

FIRST_YEAR = 2012


def principal(area: str) -> str:
    return "agency:HN-HRSS" if area == PROVINCE else f"agency:{CITIES[area][0]}-SIA"


def plan_capacity(planner: _Planner, codes: list[str], seed: int) -> None:
    """Adds the issue-12 commands to ``planner`` (nothing is written here)."""
    from devtools.demo import END, START

    rng = random.Random(f"capacity:{seed}")
    for area, name in AGENCIES.items():
        planner.add(START, c.EstablishAgency(area, name), principal(area))
    for area, code, title, hours, topic in COURSE_CATALOGUE:
        planner.add(START, c.OfferCourse(area, code, title, hours, topic), principal(area))
    for area, code, indicator, threshold, period, since, revisions, retired in STANDARDS:
        reference = f"{area[:2].upper()}-RS-{since[:4]}-{rng.randint(1, 40):02d}"
        planner.add(date.fromisoformat(since), c.AdoptStandard(
            area, code, indicator, Decimal(threshold), period, date.fromisoformat(since), reference), principal(area))
        for new, effective in revisions:
            planner.add(date.fromisoformat(effective), c.ReviseStandard(
                area, code, Decimal(new), date.fromisoformat(effective), f"{reference}-rev"), principal(area))
        if retired is not None:
            planner.add(date.fromisoformat(retired), c.RetireStandard(
                area, code, date.fromisoformat(retired), f"{reference}-end"), principal(area))
    qualified = {step.command.staff_id: step.command.qualified_social_worker for step in planner.steps
                 if isinstance(step.command, c.JoinStaff)}
    for code in codes:
        _community(planner, rng, code, qualified, END)


def _community(planner: _Planner, rng: random.Random, code: str, qualified: dict[str, bool], end: date) -> None:
    city, who = planner.cities[code], f"community:{code}"
    courses = [course for area, course, *_ in COURSE_CATALOGUE if area in (city, PROVINCE)]
    keen, wealth = rng.choice((0.15, 0.4, 0.7, 0.9)), rng.choice((0.4, 0.7, 1.0, 1.4))
    for stint in planner.stints[code]:
        if stint.role == "volunteer":
            continue
        taken: set[str] = set()
        level = -1 if not qualified.get(stint.staff_id) else rng.choice((-1, 0))
        last = min(stint.left or end, end)
        for year in range(max(FIRST_YEAR, stint.joined.year), last.year + 1):
            day = planner.day_between(date(year, 2, 1), date(year, 11, 30))
            if rng.random() < keen and stint.joined <= day <= last and len(taken) < len(courses):
                course = rng.choice([k for k in courses if k not in taken])
                taken.add(course)
                planner.add(day, c.EnrolInCourse(code, stint.staff_id, course, day), who)
                done = day + timedelta(days=rng.randint(14, 90))
                if done <= last and rng.random() < 0.85:
                    planner.add(done, c.CompleteCourse(code, stint.staff_id, course, done), who)
            obtained = planner.day_between(date(year, 5, 1), date(year, 10, 31))
            if (stint.role == "full_time" and level < len(QUALIFICATIONS) - 1 and rng.random() < 0.1 + keen / 5
                    and stint.joined <= obtained <= last):
                level += 1
                planner.add(obtained, c.ObtainQualification(code, stint.staff_id, QUALIFICATIONS[level], obtained),
                            who)
    for n, kind in enumerate(rng.sample(sorted(FACILITIES), rng.randint(1, 3)), 1):
        low, high = FACILITIES[kind]
        opened = planner.day_between(date(2008, 3, 1), date(2024, 12, 31))
        planner.add(opened, c.RecordFacility(code, f"{code}-F{n}", kind, rng.randint(low, high), opened), who)
    for year in range(FIRST_YEAR, end.year + 1):
        full_time = max(1, len(planner.active(code, date(year, 1, 15), ("full_time",))))
        for source, share in FUNDING_SOURCES.items():
            if source != "city" and rng.random() < 0.5:
                continue
            amount = Decimal(round(share * wealth * rng.uniform(0.7, 1.3) * 60000 * full_time, -2))
            purpose = {"city": "staff", "district": "activities", "province": "premises",
                       "lottery_welfare_fund": "activities", "other": "health_checks"}[source]
            area = PROVINCE if source == "province" else city
            planner.add(date(year, 1, 15), c.AllocateFunding(area, code, year, amount, source, purpose),
                        principal(area))
