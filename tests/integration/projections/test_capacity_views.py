"""The compliance, training and funding views: figures recomputed here, independently, from the raw
events of a demo ledger (its NDJSON export) must equal the views'; a standard revised mid-year judges
each period by the version in force on its last day."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from devtools.demo import generate
from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.exchange.ndjson import export_ndjson
from projections.compliance import compliance
from projections.funding import funding
from projections.training import training
from tests.integration.projections.support import Hunan, project

Lines = list[dict[str, Any]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lines, Any]]:
    ledger = Ledger(Settings(home=tmp_path_factory.mktemp("capacity") / "home"))
    try:
        generate(ledger, retirees=160, seed=5)
        out = io.BytesIO()
        export_ndjson(ledger, out)
        yield [orjson.loads(line) for line in out.getvalue().splitlines()], project(ledger)
    finally:
        ledger.close()


class Raw:
    """The facts, read straight from the export lines (no code of the views)."""

    def __init__(self, lines: Lines) -> None:
        self.city: dict[str, str] = {}
        self.placements: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.death: dict[str, str] = {}
        self.certified: dict[str, set[int]] = defaultdict(set)
        self.cards: list[tuple[str, str, bool]] = []
        self.ratings: list[tuple[str, str, int]] = []
        self.stints: dict[tuple[str, str], list[list[Any]]] = defaultdict(list)
        self.role: dict[tuple[str, str], str] = {}
        self.qualified: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.hours: list[tuple[str, str, str, int]] = []
        self.courses: dict[tuple[str, str], int] = {}
        self.completed: list[tuple[str, str, str, str]] = []
        self.funds: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
        self.standards: dict[tuple[str, str], dict[str, Any]] = {}
        for line in lines:
            self.read(line["type"], line["stream"], line["data"])

    def read(self, kind: str, stream: str, d: dict[str, Any]) -> None:
        staff = (d.get("code", ""), d.get("staff_id", ""))
        if kind == "Registered":
            self.city[d["code"]] = d["city"]
        elif kind == "TransferredToCommunity":
            self.placements[stream].append((d["effective_date"], d["community"]))
            self.cards.append((d["community"], d["effective_date"], d["contact_card"]))
        elif kind == "Relocated":
            self.placements[stream].append((d["effective_date"], d["to_community"]))
        elif kind == "Deceased":
            self.death[stream] = d["date_of_death"]
        elif kind == "EligibilityCertified":
            self.certified[stream].add(d["year"])
        elif kind == "SatisfactionRated":
            self.ratings.append((stream, d["rated_on"], d["score"]))
        elif kind == "StaffJoined":
            self.stints[staff].append([d["joined_on"], None])
            self.role[staff] = d["role"]
            if d["qualified_social_worker"]:
                self.qualified[staff].append(d["joined_on"])
        elif kind == "StaffLeft":
            self.stints[staff][-1][1] = d["left_on"]
        elif kind == "QualificationObtained":
            self.qualified[staff].append(d["obtained_on"])
        elif kind == "StaffTrained":
            self.hours.append((*staff, d["completed_on"], d["hours"]))
        elif kind == "CourseOffered":
            self.courses[(d["area"], d["code"])] = d["hours"]
        elif kind == "CourseCompleted":
            self.completed.append((*staff, d["completed_on"], d["course"]))
        elif kind == "FundingAllocated":
            self.funds[(d["code"], d["year"])] += Decimal(d["amount"])
        elif kind == "StandardAdopted":
            self.standards[(d["area"], d["code"])] = {**d, "versions": [(d["effective_from"], d["threshold"], False)]}
        elif kind in ("StandardRevised", "StandardRetired"):
            versions = self.standards[(d["area"], d["code"])]["versions"]
            versions.append((d["effective_from"], d.get("threshold", versions[-1][1]), kind == "StandardRetired"))

    def where(self, retiree: str, day: str) -> str | None:
        if retiree in self.death and day > self.death[retiree]:
            return None
        held = [code for since, code in sorted(self.placements[retiree]) if since <= day]
        return held[-1] if held else None

    def managed(self, code: str, day: str) -> list[str]:
        return [r for r in self.placements if self.where(r, day) == code]

    def full_time(self, code: str, day: str) -> list[tuple[str, str]]:
        return [s for s, stints in self.stints.items() if s[0] == code and self.role[s] == "full_time"
                and any(j <= day and (left is None or day <= left) for j, left in stints)]

    def trained(self, staff: tuple[str, str], first: str, last: str) -> int:
        city = self.city[staff[0]]
        total = sum(h for code, s, day, h in self.hours if (code, s) == staff and first <= day <= last)
        for code, s, day, course in self.completed:
            if (code, s) == staff and first <= day <= last:
                total += self.courses.get((city, course)) or self.courses[("Hunan", course)]
        return total


def test_funding_per_retiree_and_per_full_time_staff_match_the_raw_events(demo: tuple[Lines, Any]) -> None:
    lines, store = demo
    raw = Raw(lines)
    rows = funding(store)
    assert len(rows) == len(raw.funds) > 0
    for row in rows:
        last = f"{row['year']}-12-31"
        total = raw.funds[(row["community"], row["year"])]
        managed, staff = len(raw.managed(row["community"], last)), len(raw.full_time(row["community"], last))
        assert Decimal(row["total"]) == total
        assert (row["retirees_managed"], row["full_time_staff"]) == (managed, staff)
        assert row["per_managed_retiree"] == (str((total / managed).quantize(Decimal("0.01"))) if managed else None)


def test_training_hours_and_qualifications_match_the_raw_events(demo: tuple[Lines, Any]) -> None:
    lines, store = demo
    raw = Raw(lines)
    rows = training(store, year_from=2015)
    assert rows and any(r["hours"] for r in rows) and any(r["courses_outstanding"] for r in rows)
    for row in rows:
        staff, year = (row["community"], row["staff_id"]), row["year"]
        first, last = f"{year}-01-01", f"{year}-12-31"
        assert row["hours"] == raw.trained(staff, first, last), row
        assert row["qualified"] == any(day <= last for day in raw.qualified[staff])


def _version(versions: list[tuple[str, str, bool]], day: str) -> tuple[int, str] | None:
    found = None
    for number, (since, threshold, retired) in enumerate(versions, 1):
        if since <= day:
            found = None if retired else (number, threshold)
    return found


def test_compliance_values_thresholds_and_versions_match_the_raw_events(demo: tuple[Lines, Any]) -> None:
    lines, store = demo
    raw = Raw(lines)
    rows = compliance(store)
    assert {r["indicator"] for r in rows} >= {"retirees_per_full_time_staff", "certified_share", "mean_satisfaction"}
    assert any(r["met"] is False for r in rows) and any(r["met"] is True for r in rows)  # some below standard
    checked = 0
    for row in rows:
        code, last = row["community"], row["period_end"]
        standard = raw.standards[(row["area"], row["standard"])]
        assert _version(standard["versions"], last) == (row["standard_version"], row["threshold"])
        first = min(day for day in _days_of(row["period"]))
        managed = raw.managed(code, last)
        staff = raw.full_time(code, last)
        expected: float | None
        if row["indicator"] == "retirees_per_full_time_staff":
            expected = round(len(managed) / len(staff), 2) if staff else None
        elif row["indicator"] == "certified_share":
            certified = sum(int(last[:4]) in raw.certified[r] for r in managed)
            expected = round(certified / len(managed), 4) if managed else None
        elif row["indicator"] == "contact_card_share":
            cards = [card for k, day, card in raw.cards if k == code and first <= day <= last]
            expected = round(sum(cards) / len(cards), 4) if cards else None
        elif row["indicator"] == "mean_satisfaction":
            scores = [s for r, day, s in raw.ratings if first <= day <= last and raw.where(r, day) == code]
            expected = round(sum(scores) / len(scores), 2) if scores else None
        elif row["indicator"] == "training_hours_per_full_time_staff":
            hours = sum(raw.trained(s, first, last) for s in staff)
            expected = round(hours / len(staff), 2) if staff else None
        else:
            continue
        checked += 1
        assert row["value"] == expected, row
        if expected is not None:
            limit = float(row["threshold"])
            assert row["met"] == (expected <= limit if row["direction"] == "max" else expected >= limit)
    assert checked > 100


def test_the_furthest_below_standard_come_first(demo: tuple[Lines, Any]) -> None:
    _, store = demo
    rows = compliance(store)
    short = [r["shortfall"] for r in rows if r["met"] is False and r["shortfall"] is not None]
    assert rows[0]["met"] is False and short == sorted(short, reverse=True)
    rank = {False: 0, True: 1, None: 2}
    assert [r["met"] for r in rows] == sorted((r["met"] for r in rows), key=lambda met: rank[met])


def _days_of(period: str) -> Iterator[str]:
    year = int(period[:4])
    if len(period) == 4:
        first, last = date(year, 1, 1), date(year, 12, 31)
    elif period[5] == "Q":
        quarter = int(period[6])
        first = date(year, 3 * quarter - 2, 1)
        last = (date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)) - timedelta(days=1)
    else:
        first = date(year, int(period[5:7]), 1)
        last = date(year + (first.month == 12), first.month % 12 + 1, 1) - timedelta(days=1)
    yield first.isoformat()
    yield last.isoformat()


# ---- a standard revised mid-year ------------------------------------------------------------------

CS = "CS-YL-001"


def test_each_period_is_judged_by_the_version_in_force_on_its_last_day(tmp_path: Path) -> None:
    ledger = Ledger(Settings(home=tmp_path / "home"), clock=lambda: date(2026, 6, 30))
    try:
        h = Hunan(ledger)
        h.community(CS)
        h.staff(CS, "s1", date(2023, 1, 1))
        for _ in range(2):
            h.transfer(h.enroll(), CS, date(2023, 6, 1))  # 2 retirees per full-time staff member throughout
        ledger.handle(c.EstablishAgency("Changsha", "Changsha SIA"))
        ledger.handle(c.EstablishAgency("Hunan", "Hunan SIA"))
        ledger.handle(c.AdoptStandard("Changsha", "Q", "retirees_per_full_time_staff", Decimal(3), "quarter",
                                      date(2024, 1, 1), "v1"))
        ledger.handle(c.ReviseStandard("Changsha", "Q", Decimal("1.5"), date(2024, 5, 15), "v2"))  # mid-Q2
        ledger.handle(c.RetireStandard("Changsha", "Q", date(2024, 10, 1), "end"))
        ledger.handle(c.AdoptStandard("Hunan", "Y", "retirees_per_full_time_staff", Decimal("1.8"), "year",
                                      date(2024, 1, 1), "y1"))
        ledger.handle(c.ReviseStandard("Hunan", "Y", Decimal(2), date(2025, 7, 1), "y2"))  # mid-2025
        h.staff(CS, "v1", date(2026, 1, 5), role="volunteer")  # the latest fact: judged up to 2025
        rows = compliance(project(ledger))
    finally:
        ledger.close()

    judged = {(r["standard"], r["period"]): (r["standard_version"], r["threshold"], r["value"], r["met"])
              for r in rows}
    assert judged == {
        ("Q", "2024-Q1"): (1, "3", 2.0, True),
        ("Q", "2024-Q2"): (2, "1.5", 2.0, False),  # revised on 15 May: Q2 ends under version 2
        ("Q", "2024-Q3"): (2, "1.5", 2.0, False),  # retired from 1 October: Q4 is not judged
        ("Y", "2024"): (1, "1.8", 2.0, False),
        ("Y", "2025"): (2, "2", 2.0, True),  # revised in July: the year ends under version 2
    }
    assert [(r["standard"], r["period"]) for r in rows][:3] == [("Q", "2024-Q2"), ("Q", "2024-Q3"), ("Y", "2024")]
