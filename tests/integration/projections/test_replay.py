"""A realistic replay: hundreds of events written in shuffled business-date order, checked against
figures computed here from the raw log (``iter_log`` + ``entry``), never through projection code;
and views caught up after every append equal views rebuilt from scratch.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger import commands as c
from ledger.application import HistoryEntry, Ledger
from ledger.errors import RuleViolationError
from projections import registry
from projections.queries import Filters, satisfaction, workload
from projections.runner import ProjectionRunner
from projections.store.sqlite import SQLiteViewStore
from tests.people import id_number

COMMUNITIES = {"CS-YL-001": "Changsha", "CS-FR-002": "Changsha", "ZZ-TY-001": "Zhuzhou"}
TYPES = ("home_visit", "health_check", "cultural_activity", "policy_consultation")
FIRST, LAST = date(2023, 1, 1), date(2025, 12, 31)


def day_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def generate(ledger: Ledger, seed: int = 11, retirees: int = 30) -> None:
    """Appends a few hundred events; commands a rule refuses are simply not recorded."""
    rng = random.Random(seed)
    staff: dict[str, list[str]] = defaultdict(list)
    for code, city in COMMUNITIES.items():
        ledger.handle(c.RegisterCommunity(code, f"{code} community", city, "D", "S", "urban_community"))
        for n in range(4):
            staff_id = f"{code}-S{n}"
            role = rng.choice(("full_time", "full_time", "part_time", "volunteer"))
            ledger.handle(c.JoinStaff(code, staff_id, "Staff", role, rng.random() < 0.4,
                                      day_between(rng, date(2021, 1, 1), date(2024, 6, 1))))
            staff[code].append(staff_id)
    ids: list[UUID] = []
    for n in range(retirees):
        born = day_between(rng, date(1935, 1, 1), date(1962, 1, 1))
        enrolled = ledger.handle(c.Enroll("Person", id_number(born, sequence=n % 1000), "male", born, "D1", "Works",
                                          date(born.year + 60, 1, 1), Decimal(rng.randint(2000, 5000)), "CS-SIA",
                                          "Changsha", "Yuelu"))
        ids.append(UUID(enrolled.id))
    # everything else in shuffled business-date order, so the log is far from date order
    plan: list[c.Command] = []
    for rid in ids:
        effective = day_between(rng, FIRST, date(2023, 9, 1))
        plan.append(c.TransferToCommunity(rid, "D1", rng.choice(list(COMMUNITIES)), effective, "agency"))
    attempts: list[Any] = []
    for rid in ids:
        if rng.random() < 0.25:
            attempts.append(c.Relocate(rid, rng.choice(list(COMMUNITIES)), day_between(rng, date(2023, 10, 1), LAST),
                                       "family"))
        for year in (2023, 2024, 2025):
            if rng.random() < 0.7:
                attempts.append(c.CertifyEligibility(rid, year, "in_person", day_between(rng, date(year, 1, 1),
                                                                                         date(year, 12, 31))))
        for k in range(rng.randint(2, 8)):
            attempts.append(("service", rid, k))
    rng.shuffle(attempts)
    for command in plan:
        ledger.handle(command)
    delivered: list[tuple[UUID, str, date]] = []
    for attempt in attempts:
        if isinstance(attempt, tuple):
            _, rid, k = attempt
            day = day_between(rng, FIRST, LAST)
            where = ledger.retiree(rid).community_on(day)
            if where is None:
                continue
            attempt = c.DeliverService(rid, f"SV-{rid.hex[:6]}-{k}", where, rng.choice(TYPES), day,
                                       rng.choice(staff[where]), rng.choice((15, 30, 45, 60)))
        try:
            ledger.handle(attempt)
        except RuleViolationError:
            continue
        if isinstance(attempt, c.DeliverService):
            delivered.append((attempt.retiree_id, attempt.service_id, attempt.delivered_on))
    ratings: list[c.Command] = []
    for rid, service_id, day in delivered:
        if rng.random() < 0.6:
            rated = min(day + timedelta(days=rng.randint(0, 9)), LAST)
            ratings.append(c.RateSatisfaction(rid, rng.randint(1, 5), rated, "phone", service_id))
    for rid in ids:
        if rng.random() < 0.5:
            ratings.append(c.RateSatisfaction(rid, rng.randint(1, 5), day_between(rng, FIRST, LAST), "survey"))
    rng.shuffle(ratings)
    for code in COMMUNITIES:
        for staff_id in rng.sample(staff[code], 2):
            ratings.append(c.RecordStaffLeft(code, staff_id, day_between(rng, date(2024, 7, 1), LAST), "left"))
    for rid in rng.sample(ids, 5):  # deaths after the last placement, recorded last
        last_placement = ledger.retiree(rid).placements[-1][1]
        ratings.append(c.RecordDeath(rid, day_between(rng, last_placement, LAST), "family"))
    for command in ratings:
        try:
            ledger.handle(command)
        except RuleViolationError:
            continue


# ---- the oracle: figures straight from the log ---------------------------------------------------------


def month_end(month: str) -> date:
    year, number = int(month[:4]), int(month[5:7])
    return date(year + number // 12, number % 12 + 1, 1) - timedelta(days=1)


class Oracle:
    def __init__(self, entries: list[HistoryEntry]) -> None:
        self.code: dict[str, str] = {}
        self.placements: dict[str, list[tuple[str, date]]] = defaultdict(list)
        self.death: dict[str, date] = {}
        self.entries = entries
        self.services: dict[tuple[str, str], dict[str, Any]] = {}
        self.stints: dict[tuple[str, str], list[list[Any]]] = defaultdict(list)
        for e in entries:
            d = e.data
            if e.type == "Registered":
                self.code[e.stream] = d["code"]
            elif e.type == "TransferredToCommunity":
                self.placements[e.stream].append((d["community"], d["effective_date"]))
            elif e.type == "Relocated":
                self.placements[e.stream].append((d["to_community"], d["effective_date"]))
            elif e.type == "Deceased":
                self.death[e.stream] = d["date_of_death"]
            elif e.type == "ServiceDelivered":
                self.services[(e.stream, d["service_id"])] = d
            elif e.type == "StaffJoined":
                self.stints[(self.code[e.stream], d["staff_id"])].append(
                    [d["joined_on"], None, d["role"], d["qualified_social_worker"]])
            elif e.type == "StaffLeft":
                self.stints[(self.code[e.stream], d["staff_id"])][-1][1] = d["left_on"]

    def community_on(self, retiree: str, day: date) -> str | None:
        if retiree in self.death and day > self.death[retiree]:
            return None
        found = [code for code, since in sorted(self.placements[retiree], key=lambda p: p[1]) if since <= day]
        return found[-1] if found else None

    def managed_at_end(self, code: str, month: str) -> int:
        end = month_end(month)
        return sum(1 for r in self.placements
                   if not (r in self.death and self.death[r] <= end) and self.community_on(r, end) == code)

    def staff_at_end(self, code: str, month: str) -> tuple[int, int, int]:
        end = month_end(month)
        active = [(role, qualified) for (where, _), stints in self.stints.items() if where == code
                  for joined, left, role, qualified in stints if joined <= end and (left is None or left > end)]
        return len(active), sum(r == "full_time" for r, _ in active), sum(q for _, q in active)

    def flows(self) -> Counter[tuple[str, str, str]]:
        counts: Counter[tuple[str, str, str]] = Counter()
        for e in self.entries:
            d = e.data
            if e.type == "TransferredToCommunity":
                counts[(d["community"], f"{d['effective_date']:%Y-%m}", "transfers_in")] += 1
            elif e.type == "Relocated":
                counts[(d["to_community"], f"{d['effective_date']:%Y-%m}", "transfers_in")] += 1
                counts[(d["from_community"], f"{d['effective_date']:%Y-%m}", "transfers_out")] += 1
            elif e.type == "Deceased" and (where := self.community_on(e.stream, d["date_of_death"])):
                counts[(where, f"{d['date_of_death']:%Y-%m}", "transfers_out")] += 1
            elif e.type == "ServiceDelivered":
                counts[(d["community"], f"{d['delivered_on']:%Y-%m}", d["service_type"])] += 1
                counts[(d["community"], f"{d['delivered_on']:%Y-%m}", "service_minutes")] += d["duration_minutes"]
            elif e.type == "EligibilityCertified" and (where := self.community_on(e.stream, d["certified_on"])):
                counts[(where, f"{d['certified_on']:%Y-%m}", "certifications")] += 1
            elif e.type == "StaffLeft":
                counts[(self.code[e.stream], f"{d['left_on']:%Y-%m}", "staff_left")] += 1
        return counts

    def ratings(self) -> dict[tuple[str, str, str], list[int]]:
        scores: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for e in self.entries:
            if e.type != "SatisfactionRated":
                continue
            d, month = e.data, f"{e.data['rated_on']:%Y-%m}"
            if d["service_id"] is None:
                where = self.community_on(e.stream, d["rated_on"])
                if where is not None:
                    scores[(where, month, "overall")].append(d["score"])
            else:
                service = self.services[(e.stream, d["service_id"])]
                scores[(service["community"], month, service["service_type"])].append(d["score"])
        return scores


@pytest.fixture
def replayed(ledger: Ledger, tmp_path: Path) -> tuple[Ledger, SQLiteViewStore, ProjectionRunner]:
    store = SQLiteViewStore(tmp_path / "views.db")
    runner = ProjectionRunner(ledger, store)

    def catch_up() -> None:
        runner.catch_up()

    ledger.after_append.append(catch_up)
    generate(ledger)
    return ledger, store, runner


def test_the_replay_is_realistic_and_out_of_date_order(
    replayed: tuple[Ledger, SQLiteViewStore, ProjectionRunner],
) -> None:
    ledger = replayed[0]
    entries = [ledger.entry(record) for record in ledger.iter_log()]
    kinds = Counter(e.type for e in entries)
    assert len(entries) >= 300 and kinds["ServiceDelivered"] >= 80 and kinds["SatisfactionRated"] >= 40
    assert kinds["Relocated"] >= 3 and kinds["Deceased"] >= 3 and kinds["StaffLeft"] >= 3
    services = [e.data["delivered_on"] for e in entries if e.type == "ServiceDelivered"]
    assert services != sorted(services)


def test_workload_matches_figures_computed_from_the_raw_log(
    replayed: tuple[Ledger, SQLiteViewStore, ProjectionRunner],
) -> None:
    ledger, store, _ = replayed
    oracle = Oracle([ledger.entry(record) for record in ledger.iter_log()])
    flows = oracle.flows()
    rows = workload(store, Filters(month_from="2023-01", month_to="2025-12"))
    assert len(rows) == 3 * 36
    for row in rows:
        code, month = row["community"], row["month"]
        assert row["retirees_managed"] == oracle.managed_at_end(code, month), (code, month)
        staff, full_time, qualified = oracle.staff_at_end(code, month)
        assert (row["staff"], row["full_time_staff"], row["qualified_social_workers"]) == (staff, full_time, qualified)
        for field in ("transfers_in", "transfers_out", "service_minutes", "certifications", "staff_left"):
            assert row[field] == flows[(code, month, field)], (code, month, field)
        assert row["services"] == {kind: flows[(code, month, kind)] for kind in row["services"]}
    assert sum(row["services_total"] for row in rows) == sum(1 for _ in oracle.services)
    assert sum(row["retirees_managed"] for row in rows if row["month"] == "2025-12") == sum(
        oracle.managed_at_end(code, "2025-12") for code in COMMUNITIES)


def test_satisfaction_matches_figures_computed_from_the_raw_log(
    replayed: tuple[Ledger, SQLiteViewStore, ProjectionRunner],
) -> None:
    ledger, store, _ = replayed
    expected = Oracle([ledger.entry(record) for record in ledger.iter_log()]).ratings()
    rows = satisfaction(store, Filters())
    assert {(r["community"], r["month"], r["service_type"]) for r in rows} == set(expected)
    for row in rows:
        scores = expected[(row["community"], row["month"], row["service_type"])]
        assert row["count"] == len(scores)
        assert row["mean"] == round(sum(scores) / len(scores), 2)
        assert row["distribution"] == {str(s): scores.count(s) for s in range(1, 6)}
        assert row["city"] == COMMUNITIES[row["community"]]


def test_views_caught_up_after_every_append_equal_a_rebuild(
    replayed: tuple[Ledger, SQLiteViewStore, ProjectionRunner],
) -> None:
    ledger, store, runner = replayed
    names = [p.name for p in registry.ALL]
    incremental = {name: store.rows(name) for name in names}
    positions = {name: store.position(name) for name in names}
    assert set(positions.values()) == {ledger.head()}
    assert runner.rebuild() == ledger.head()
    assert {name: store.rows(name) for name in names} == incremental
    assert {name: store.position(name) for name in names} == positions
    assert all(status.lag == 0 for status in runner.status())
