"""Community workload: month-end figures, flows in the month, staff; out-of-order business dates."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ledger.application import Ledger
from projections.queries import Filters, workload
from projections.store.memory import InMemoryViewStore
from tests.integration.projections.support import Hunan, project

CS, ZZ = "CS-YL-001", "ZZ-TY-001"


@pytest.fixture
def views(ledger: Ledger) -> InMemoryViewStore:
    h = Hunan(ledger)
    h.community(CS)
    h.community(ZZ)
    h.staff(CS, "s1", date(2015, 1, 1), qualified=True)
    h.staff(CS, "s3", date(2024, 1, 5), role="volunteer")
    h.staff(CS, "s2", date(2024, 2, 10))
    h.staff_left(CS, "s2", date(2024, 3, 15))
    h.staff(ZZ, "z1", date(2024, 3, 1), role="part_time", qualified=True)
    a, b, c, d = h.enroll(), h.enroll(), h.enroll(), h.enroll()
    h.transfer(a, CS, date(2024, 1, 10))
    h.transfer(b, CS, date(2024, 1, 20))
    h.transfer(c, CS, date(2024, 2, 5))
    h.service(a, CS, "v2", "health_check", date(2024, 2, 1), "s1", 45)  # recorded before the earlier visit
    h.service(a, CS, "v1", "home_visit", date(2024, 1, 15), "s1", 30)
    h.certify(a, date(2024, 2, 10))
    h.relocate(b, ZZ, date(2024, 3, 1))
    h.death(c, date(2024, 3, 20))
    h.transfer(d, CS, date(2024, 1, 5))  # recorded last, takes effect first
    h.training(CS, "s1", 12, date(2024, 2, 20))
    return project(ledger)


def by_month(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["community"], row["month"]): row for row in rows}


def test_month_end_counts_and_flows_follow_business_dates(views: InMemoryViewStore) -> None:
    rows = by_month(workload(views, Filters(month_from="2023-12", month_to="2024-04")))
    jan, feb, mar = (rows[(CS, f"2024-0{m}")] for m in (1, 2, 3))
    assert (jan["retirees_managed"], jan["transfers_in"], jan["transfers_out"]) == (3, 3, 0)
    assert (feb["retirees_managed"], feb["transfers_in"], feb["certifications"]) == (4, 1, 1)
    assert (mar["retirees_managed"], mar["transfers_in"], mar["transfers_out"]) == (2, 0, 2)
    assert rows[(ZZ, "2024-03")]["retirees_managed"] == 1 and rows[(ZZ, "2024-03")]["transfers_in"] == 1


def test_services_are_counted_by_type_and_minutes_in_their_month(views: InMemoryViewStore) -> None:
    rows = by_month(workload(views, Filters(community=CS, month_from="2024-01", month_to="2024-02")))
    jan, feb = rows[(CS, "2024-01")], rows[(CS, "2024-02")]
    assert jan["services"]["home_visit"] == 1 and jan["services"]["health_check"] == 0
    assert (jan["services_total"], jan["service_minutes"]) == (1, 30)
    assert feb["services"]["health_check"] == 1 and feb["service_minutes"] == 45
    assert feb["training_hours"] == 12


def test_staff_figures_turnover_and_qualified_share(views: InMemoryViewStore) -> None:
    rows = by_month(workload(views, Filters(community=CS, month_from="2023-12", month_to="2024-04")))
    dec, jan, feb, mar = (rows[(CS, m)] for m in ("2023-12", "2024-01", "2024-02", "2024-03"))
    assert (dec["full_time_staff"], dec["staff"], dec["qualified_social_worker_share"]) == (1, 1, 1.0)
    assert (jan["full_time_staff"], jan["staff"], jan["staff_joined"]) == (1, 2, 1)
    assert jan["qualified_social_worker_share"] == 0.5 and jan["retirees_per_full_time_staff"] == 3.0
    assert (feb["full_time_staff"], feb["staff"], feb["qualified_social_worker_share"]) == (2, 3, 0.3333)
    assert feb["retirees_per_full_time_staff"] == 2.0 and feb["turnover"] == 0.0
    assert (mar["full_time_staff"], mar["staff_left"], mar["full_time_left"], mar["turnover"]) == (1, 1, 1, 1.0)


def test_quiet_months_carry_month_end_figures_forward(views: InMemoryViewStore) -> None:
    rows = workload(views, Filters(community=CS, month_from="2020-06", month_to="2020-06"))
    assert len(rows) == 1
    assert rows[0]["full_time_staff"] == 1 and rows[0]["retirees_managed"] == 0 and rows[0]["services_total"] == 0
    later = workload(views, Filters(community=CS, month_from="2025-01", month_to="2025-03"))
    assert [row["month"] for row in later] == ["2025-01", "2025-02", "2025-03"]
    assert {(row["retirees_managed"], row["full_time_staff"]) for row in later} == {(2, 1)}
    assert workload(views, Filters(month_from="2024-04")) == []  # no month_to: up to the last recorded fact
    assert workload(views, Filters(month_from="2026-03", month_to="2099-12"))[-1]["month"] == "2026-03"  # bounded


def test_city_filter_and_row_order(views: InMemoryViewStore) -> None:
    rows = workload(views, Filters(city="Zhuzhou"))
    assert {row["community"] for row in rows} == {ZZ} and rows[0]["city"] == "Zhuzhou"
    assert rows[0]["retirees_per_full_time_staff"] is None  # no full-time staff
    everything = workload(views, Filters(month_from="2024-03", month_to="2024-03"))
    assert [(row["community"], row["month"]) for row in everything] == [(CS, "2024-03"), (ZZ, "2024-03")]


def test_a_death_recorded_late_with_an_earlier_date_moves_the_figures(ledger: Ledger) -> None:
    h = Hunan(ledger)
    h.community(CS)
    h.community(ZZ)
    a = h.enroll()
    h.transfer(a, CS, date(2024, 1, 10))
    h.relocate(a, ZZ, date(2024, 6, 1))
    h.death(a, date(2024, 4, 2))  # died before the relocation took effect: it never happened
    rows = by_month(workload(project(ledger), Filters(month_from="2024-03", month_to="2024-07")))
    assert rows[(CS, "2024-03")]["retirees_managed"] == 1
    assert rows[(CS, "2024-04")]["retirees_managed"] == 0 and rows[(CS, "2024-04")]["transfers_out"] == 1
    assert (rows[(CS, "2024-06")]["transfers_out"], rows[(CS, "2024-07")]["retirees_managed"]) == (0, 0)
    assert [key for key in rows if key[0] == ZZ] == []
