"""Audit trail: every retiree event in log order, with seq, author and business date, no personal data."""

from __future__ import annotations

from datetime import date

import orjson

from ledger.application import Ledger
from projections.queries import audit_trail
from tests.integration.projections.support import Hunan, project

CS = "CS-YL-001"


def test_every_event_of_the_retiree_in_log_order_without_personal_fields(ledger: Ledger) -> None:
    h = Hunan(ledger)
    h.community(CS)
    h.staff(CS, "s1", date(2020, 1, 1))
    a, other = h.enroll(), h.enroll()
    h.transfer(a, CS, date(2023, 6, 1))
    h.transfer(other, CS, date(2023, 6, 1))
    h.service(a, CS, "v1", "home_visit", date(2024, 1, 15), "s1", 30)
    h.rate(a, 4, date(2024, 1, 20), "v1")
    h.adjust(a, "2500", "2600", "2024-03")
    trail = audit_trail(project(ledger), a)
    history = ledger.history(a)
    assert [e["type"] for e in trail] == [
        "Enrolled", "TransferredToCommunity", "ServiceDelivered", "SatisfactionRated", "PensionAdjusted",
    ]
    assert [e["seq"] for e in trail] == [entry.seq for entry in history]
    assert [e["version"] for e in trail] == [1, 2, 3, 4, 5]
    assert [e["business_date"] for e in trail] == ["2010-01-01", "2023-06-01", "2024-01-15", "2024-01-20", "2024-03-01"]
    assert {e["recorded_by"] for e in trail} == {"system"}
    assert trail[4]["facts"] == {"previous_amount": "2500.00", "new_amount": "2600.00", "effective_month": "2024-03",
                                 "reason": "annual_adjustment", "policy_reference": ""}
    text = orjson.dumps(trail).decode()
    for personal in ("Test Person", "430102", "1950-03-01", "private note", "private comment", "female"):
        assert personal not in text


def test_unknown_retiree_has_an_empty_trail(ledger: Ledger) -> None:
    assert audit_trail(project(ledger), "00000000-0000-0000-0000-000000000001") == []
