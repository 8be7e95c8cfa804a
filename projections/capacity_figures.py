"""Figures over the capacity views' fact rows (``projections.capacity``): periods, who was managed
and employed on a day, the standards in force. Pure functions, no I/O.

Conventions: a period (``YYYY-MM``, ``YYYY-Qn`` or ``YYYY``) is judged on its last day; a retiree
counts for the community managing them that day (``timeline.community_on``); a staff member counts
when a stint covers the day (the leaving day counts, as in ``Community.staff_active_on``); a staff
member is qualified on a day when qualified at joining or holding a qualification obtained by then.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ledger.domain.values import StaffRole, covers
from projections.base import Row
from projections.timeline import community_on

Facts = dict[str, dict[str, Row]]


def period_of(day: str, period: str) -> str:
    if period == "month":
        return day[:7]
    if period == "quarter":
        return f"{day[:4]}-Q{(int(day[5:7]) - 1) // 3 + 1}"
    return day[:4]


def bounds(label: str) -> tuple[str, str]:
    """The first and last day (ISO) of a period label."""
    year = int(label[:4])
    if len(label) == 4:
        first, last = date(year, 1, 1), date(year, 12, 31)
    elif label[5] == "Q":
        quarter = int(label[6])
        first = date(year, 3 * quarter - 2, 1)
        last_month = 3 * quarter
        last = date(year, last_month, calendar.monthrange(year, last_month)[1])
    else:
        month = int(label[5:7])
        first, last = date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    return first.isoformat(), last.isoformat()


def periods(first_day: str, last_day: str, period: str) -> Iterator[str]:
    """Every period from the one holding ``first_day`` whose last day is on or before ``last_day``."""
    label = period_of(first_day, period)
    while True:
        _start, end = bounds(label)
        if end > last_day:
            return
        yield label
        label = period_of((date.fromisoformat(end) + timedelta(days=1)).isoformat(), period)


def by_code(facts: Facts) -> dict[str, Row]:
    return {row["code"]: row for row in facts["community"].values()}


def staff_of(facts: Facts, code: str) -> dict[str, Row]:
    prefix = code + "|"
    return {key[len(prefix):]: row for key, row in facts["staff"].items() if key.startswith(prefix)}


def active_on(member: Row, day: str) -> bool:
    return any(joined <= day and (left is None or day <= left) for joined, left in member["stints"])


def full_time_on(staff: dict[str, Row], day: str) -> list[str]:
    return sorted(s for s, m in staff.items() if m["role"] == StaffRole.FULL_TIME and active_on(m, day))


def qualified_on(member: Row, day: str) -> bool:
    return bool(member["qualified"]) or any(obtained <= day for _, obtained in member["qualifications"])


def level_on(member: Row, day: str) -> str | None:
    held = [level for level, obtained in sorted(member["qualifications"], key=lambda q: q[1]) if obtained <= day]
    return held[-1] if held else None


def managed_on(lives: list[Row], code: str, day: str) -> list[Row]:
    return [life for life in lives if community_on(life, day) == code]


def lives_of(facts: Facts) -> dict[str, list[Row]]:
    """Retiree rows by every community that ever managed them (a retiree may be under several)."""
    found: dict[str, list[Row]] = {}
    for life in facts["retiree"].values():
        for community in {p[0] for p in life["placements"]}:
            found.setdefault(community, []).append(life)
    return found


def course_hours(facts: Facts, city: str, course: str) -> int:
    """The hours of ``course`` as the community of ``city`` found it: its city's catalogue, then the province's."""
    for key, row in sorted(facts["course"].items(), key=lambda kv: kv[0].split("|")[0] != city):
        area, code = key.split("|", 1)
        if code == course and covers(area, city):
            return int(row["hours"])
    return 0


def hours_between(facts: Facts, city: str, member: Row, first: str, last: str) -> int:
    """Training hours in ``[first, last]``: ``StaffTrained`` hours and the hours of courses completed."""
    trained = sum(int(hours) for day, hours in member["trained"] if first <= day <= last)
    courses = sum(course_hours(facts, city, course) for course, day in member["completed"].items()
                  if first <= day <= last)
    return trained + courses


def standards_for(facts: Facts, city: str) -> list[Row]:
    """The standards of the city's agency and of the province, by area then code."""
    return sorted((s for s in facts["standard"].values() if covers(s["area"], city)),
                  key=lambda s: (s["area"], s["code"]))


def version_on(standard: Row, day: str) -> Row | None:
    """The version in force on ``day`` (None before adoption or once retired)."""
    current = None
    for version in standard["versions"]:
        if version["effective_from"] <= day:
            current = version
    return None if current is None or current["retired"] else current


def last_day(facts: Facts) -> str | None:
    meta = facts["meta"].get("last_day")
    return None if meta is None else str(meta["day"])


def ratio(part: float | int | Decimal, whole: float | int | Decimal, places: int = 4) -> float | None:
    return round(float(part) / float(whole), places) if whole else None


def plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value
