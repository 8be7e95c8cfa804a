"""Service standards: certified share and the share of retirees aged 80+ visited in Q4, per year."""

from __future__ import annotations

from datetime import date

from ledger.application import Ledger
from projections.queries import Filters, standards
from tests.integration.projections.support import Hunan, project

CS = "CS-YL-001"


def test_yearly_shares_count_retirees_managed_at_year_end(ledger: Ledger) -> None:
    h = Hunan(ledger)
    h.community(CS)
    h.staff(CS, "s1", date(2020, 1, 1))
    a = h.enroll(born=date(1940, 5, 1), retired=date(2000, 6, 1))  # 80+ since 2020
    b = h.enroll(born=date(1950, 5, 1))  # 74 in 2024
    c = h.enroll(born=date(1944, 12, 31), retired=date(2004, 12, 31))  # turns 80 on 2024-12-31
    d = h.enroll(born=date(1930, 2, 1), retired=date(1990, 2, 1))  # dies in 2024
    for retiree in (a, b, c, d):
        h.transfer(retiree, CS, date(2023, 6, 1))
    h.certify(a, date(2023, 7, 1))
    h.certify(a, date(2024, 3, 1))
    h.certify(b, date(2024, 4, 1))
    h.certify(d, date(2024, 2, 1))
    h.service(a, CS, "v1", "home_visit", date(2024, 10, 15), "s1", 30)
    h.service(a, CS, "v2", "home_visit", date(2024, 12, 1), "s1", 30)  # a second Q4 visit counts once
    h.service(c, CS, "v3", "home_visit", date(2024, 9, 30), "s1", 30)  # Q3: not the last quarter
    h.service(b, CS, "v4", "home_visit", date(2024, 11, 1), "s1", 30)  # not 80+
    h.death(d, date(2024, 5, 1))
    rows = {r["year"]: r for r in standards(project(ledger), Filters(month_to="2025-01"))}
    assert sorted(rows) == [2023, 2024, 2025]
    y23, y24, y25 = rows[2023], rows[2024], rows[2025]
    assert (y23["managed"], y23["certified"], y23["certified_share"]) == (4, 1, 0.25)
    assert (y23["aged_80_plus"], y23["aged_80_plus_visited"], y23["visited_share"]) == (2, 0, 0.0)
    assert (y24["managed"], y24["certified"], y24["certified_share"]) == (3, 2, 0.6667)
    assert (y24["aged_80_plus"], y24["aged_80_plus_visited"], y24["visited_share"]) == (2, 1, 0.5)
    assert (y25["managed"], y25["certified"], y25["aged_80_plus"], y25["aged_80_plus_visited"]) == (3, 0, 2, 0)
    unbounded = standards(project(ledger), Filters())
    assert [r["year"] for r in unbounded] == [2023, 2024]  # b turning 80 in 2030 is foreseen, not recorded
