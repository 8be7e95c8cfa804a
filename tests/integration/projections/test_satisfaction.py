"""Satisfaction by community x service type x month, overall ratings, lowest communities."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import InvalidInputError
from projections.queries import Filters, lowest_communities, satisfaction
from projections.store.memory import InMemoryViewStore
from tests.integration.projections.support import Hunan, project

CS, ZZ = "CS-YL-001", "ZZ-TY-001"


@pytest.fixture
def views(ledger: Ledger) -> InMemoryViewStore:
    h = Hunan(ledger)
    h.community(CS)
    h.community(ZZ)
    h.staff(CS, "s1", date(2020, 1, 1))
    a, b, d = h.enroll(), h.enroll(), h.enroll()
    for retiree in (a, b, d):
        h.transfer(retiree, CS, date(2023, 6, 1))
    h.service(a, CS, "v1", "home_visit", date(2024, 1, 15), "s1", 30)
    h.service(a, CS, "v2", "health_check", date(2024, 2, 1), "s1", 45)
    h.service(d, CS, "v3", "home_visit", date(2024, 1, 25), "s1", 20)
    h.rate(a, 4, date(2024, 1, 20), "v1")
    h.rate(d, 5, date(2024, 1, 28), "v3")
    h.rate(a, 2, date(2024, 3, 2), "v2")  # rated in March: counts in March
    h.rate(b, 5, date(2024, 2, 15))  # overall, while in CS
    h.rate(b, 3, date(2024, 3, 10))  # overall, recorded before the relocation dated earlier
    h.relocate(b, ZZ, date(2024, 3, 1))
    return project(ledger)


def cells(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(row["community"], row["month"], row["service_type"]): row for row in rows}


def test_ratings_count_for_the_service_community_type_and_rating_month(views: InMemoryViewStore) -> None:
    found = cells(satisfaction(views, Filters()))
    visits = found[(CS, "2024-01", "home_visit")]
    assert (visits["count"], visits["mean"]) == (2, 4.5)
    assert visits["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    assert (found[(CS, "2024-03", "health_check")]["count"], found[(CS, "2024-03", "health_check")]["mean"]) == (1, 2.0)
    assert (CS, "2024-02", "health_check") not in found


def test_overall_ratings_follow_the_community_managing_on_the_rating_date(views: InMemoryViewStore) -> None:
    found = cells(satisfaction(views, Filters(service_type="overall")))
    assert set(found) == {(CS, "2024-02", "overall"), (ZZ, "2024-03", "overall")}
    assert found[(ZZ, "2024-03", "overall")]["mean"] == 3.0 and found[(ZZ, "2024-03", "overall")]["city"] == "Zhuzhou"


def test_rows_are_sorted_and_filtered(views: InMemoryViewStore) -> None:
    rows = satisfaction(views, Filters(community=CS, month_from="2024-01", month_to="2024-02"))
    assert [(r["month"], r["service_type"]) for r in rows] == [("2024-01", "home_visit"), ("2024-02", "overall")]


def test_lowest_communities_rank_by_mean_score(views: InMemoryViewStore) -> None:
    ranked = lowest_communities(views, Filters(), n=5)
    assert [(r["community"], r["count"], r["mean"]) for r in ranked] == [(ZZ, 1, 3.0), (CS, 4, 4.0)]
    assert [r["community"] for r in lowest_communities(views, Filters(), n=1)] == [ZZ]


def test_bad_filters_are_invalid_input() -> None:
    for bad in ({"month_from": "2024-13"}, {"month_to": "24-01"}, {"service_type": "massage"},
                {"month_from": "2024-05", "month_to": "2024-01"}):
        with pytest.raises(InvalidInputError):
            Filters(**bad)  # type: ignore[arg-type]
