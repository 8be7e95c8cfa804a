"""Pension roll: current pension per retiree; month-end totals and adjustments per community."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.errors import InvalidInputError
from projections.queries import Filters, pension_of, pensions
from projections.store.memory import InMemoryViewStore
from tests.integration.projections.support import Hunan, project

CS = "CS-YL-001"


@pytest.fixture
def scene(ledger: Ledger) -> tuple[InMemoryViewStore, Any, Any]:
    h = Hunan(ledger)
    h.community(CS)
    a, b = h.enroll(pension="2500"), h.enroll(pension="3000")
    h.transfer(a, CS, date(2024, 1, 10))
    h.transfer(b, CS, date(2024, 2, 20))
    h.adjust(a, "2500", "2600", "2024-03")
    h.suspend(b, "2024-04")
    h.resume(b, "2024-06", back_pay="6000")
    h.adjust(a, "2600", "2650", "2024-02", reason="correction")  # recorded later, effective earlier
    h.death(a, date(2024, 7, 15))
    return project(ledger), a, b


def test_month_end_totals_and_adjustments(scene: tuple[InMemoryViewStore, Any, Any]) -> None:
    views = scene[0]
    rows = {r["month"]: r for r in pensions(views, Filters(community=CS, month_to="2024-08"))}
    figures = {m: (r["total_monthly_pension"], r["pensions_in_payment"], r["suspended"]) for m, r in rows.items()}
    assert figures == {
        "2024-01": ("2500.00", 1, 0),
        "2024-02": ("5650.00", 2, 0),
        "2024-03": ("5650.00", 2, 0),
        "2024-04": ("2650.00", 1, 1),
        "2024-05": ("2650.00", 1, 1),
        "2024-06": ("5650.00", 2, 0),
        "2024-07": ("3000.00", 1, 0),
        "2024-08": ("3000.00", 1, 0),
    }
    assert (rows["2024-02"]["adjustments"], rows["2024-02"]["adjustments_sum"]) == (1, "50.00")
    assert (rows["2024-03"]["adjustments"], rows["2024-03"]["adjustments_sum"]) == (1, "100.00")
    assert rows["2024-04"]["adjustments"] == 0 and rows["2024-04"]["adjustments_sum"] == "0.00"
    assert rows["2024-01"]["city"] == "Changsha"


def test_current_pension_of_a_retiree(scene: tuple[InMemoryViewStore, Any, Any]) -> None:
    views, a, b = scene
    assert pension_of(views, a) == {
        "retiree_id": str(a), "monthly_pension": "2650.00", "pension_status": "ended", "stage": "deceased",
        "community": CS, "agency": "CS-SIA",
    }
    current = pension_of(views, str(b))
    assert current is not None and (current["monthly_pension"], current["pension_status"]) == ("3000.00", "active")
    assert pension_of(views, "00000000-0000-0000-0000-000000000000") is None
    with pytest.raises(InvalidInputError):
        pension_of(views, "not-a-uuid")
