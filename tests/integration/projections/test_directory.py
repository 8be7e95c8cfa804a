"""The retiree directory (projections/directory.py): one row per retiree, no personal data, paged and filtered."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from projections import directory
from projections.store.memory import InMemoryViewStore
from tests.integration.projections.support import Hunan, project

CS, FR = "CS-YL-001", "CS-FR-002"


@pytest.fixture
def h(ledger: Ledger) -> Hunan:
    hunan = Hunan(ledger)
    hunan.community(CS)
    hunan.community(FR)
    return hunan


def _row(store: InMemoryViewStore, retiree: UUID) -> dict[str, Any] | None:
    return store.get(directory.NAME, "retiree", str(retiree))


def _all(store: InMemoryViewStore, limit: int, **wanted: str | None) -> list[list[str]]:
    """Every page, following ``next``; each page as its retiree ids."""
    pages, cursor = [], None
    while True:
        found = directory.page(store, wanted, after=cursor, limit=limit)
        pages.append([row["retiree_id"] for row in found.rows])
        if found.next is None:
            return pages
        assert found.next == found.rows[-1]["retiree_id"]
        cursor = found.next


def test_a_row_follows_enrolment_transfer_relocation_suspension_and_death(ledger: Ledger, h: Hunan) -> None:
    a = h.enroll(retired=date(2009, 6, 30))
    assert _row(project(ledger), a) == {
        "city": "Changsha", "district": "Yuelu", "community": None, "stage": "danwei", "pension_status": "active",
        "enrolled": "2009-06-30",
    }
    h.transfer(a, CS, date(2011, 1, 1))
    assert _row(project(ledger), a) == {
        "city": "Changsha", "district": "Yuelu", "community": CS, "stage": "community", "pension_status": "active",
        "enrolled": "2009-06-30",
    }
    h.relocate(a, FR, date(2015, 3, 1))
    h.suspend(a, "2024-02")
    row = _row(project(ledger), a)
    assert row is not None and (row["community"], row["stage"], row["pension_status"]) == (FR, "community", "suspended")
    h.resume(a, "2024-04")
    h.death(a, date(2024, 7, 15))
    row = _row(project(ledger), a)
    assert row is not None and (row["community"], row["stage"], row["pension_status"]) == (FR, "deceased", "ended")


def test_rows_hold_no_personal_data(ledger: Ledger, h: Hunan) -> None:
    a = h.enroll()
    store = project(ledger)
    text = str(store.rows(directory.NAME))
    retiree = ledger.retiree(a)
    assert retiree.name not in text and retiree.id_number not in text and "1950-03-01" not in text
    (entry,) = directory.page(store, {}).rows
    assert set(entry) == {"retiree_id", *directory.FIELDS}


def test_pages_add_up_to_every_retiree_once_in_id_order(ledger: Ledger, h: Hunan) -> None:
    ids = sorted(str(h.enroll()) for _ in range(7))
    store = project(ledger)
    for limit in (1, 2, 3, 7, 8, 100):
        pages = _all(store, limit)
        flat = [retiree for page in pages for retiree in page]
        assert flat == ids
        assert all(len(page) <= limit for page in pages)
    assert _all(store, 7) == [ids]  # a full last page has no next
    assert directory.page(store, {}, after=ids[-1]).rows == []


def test_filters_are_exact_and_combined(ledger: Ledger, h: Hunan) -> None:
    danwei = h.enroll()
    here, there, gone = h.enroll(), h.enroll(), h.enroll()
    zz = h.enroll(city="Zhuzhou")
    for retiree, code in ((here, CS), (there, FR), (gone, CS)):
        h.transfer(retiree, code, date(2012, 1, 1))
    h.suspend(there, "2024-01")
    h.death(gone, date(2024, 5, 1))
    store = project(ledger)

    def ids(**wanted: str | None) -> set[UUID]:
        return {UUID(row["retiree_id"]) for row in directory.page(store, wanted, limit=1000).rows}

    assert ids() == {danwei, here, there, gone, zz}
    assert ids(city="Changsha") == {danwei, here, there, gone}
    assert ids(city="Zhuzhou") == {zz}
    assert ids(community=CS) == {here, gone}
    assert ids(community=CS, stage="community") == {here}
    assert ids(stage="danwei") == {danwei, zz}
    assert ids(pension_status="suspended") == {there}
    assert ids(pension_status="ended", city="Changsha") == {gone}
    assert ids(city="Changsha", community=None) == ids(city="Changsha")
    assert ids(city="changsha") == set()  # exact, as scopes are


def test_the_scope_narrows_the_filters(ledger: Ledger, h: Hunan) -> None:
    here, zz = h.enroll(), h.enroll(city="Zhuzhou")
    h.transfer(here, CS, date(2012, 1, 1))
    store = project(ledger)

    def ids(within: dict[str, str], **wanted: str | None) -> set[UUID]:
        return {UUID(row["retiree_id"]) for row in directory.page(store, wanted, within=within).rows}

    assert ids({"city": "Zhuzhou"}) == {zz}
    assert ids({"city": "Zhuzhou"}, city="Changsha") == set()  # a filter outside the scope finds nothing
    assert ids({"community": CS}) == {here}
    assert ids({"community": CS}, community=FR) == set()
    assert ids({"community": CS}, city="Changsha") == {here}
    with pytest.raises(ValueError, match="district"):
        directory.page(store, {"district": "Yuelu"})
