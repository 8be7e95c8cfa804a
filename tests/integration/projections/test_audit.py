"""Audit trail: every retiree event in log order, with seq, author and business date, no personal data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import orjson

from ledger.application import Ledger
from ledger.codec import to_plain
from projections.audit import entry
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


def test_the_trail_answers_each_entry_as_to_plain_writes_it_from_rows_without_the_keys_parts(ledger: Ledger) -> None:
    """The rows keep dates, times and UUIDs for the JSON encoder and leave the seq and the retiree to the
    key: what the trail answers is still ``entry``, the event's ``to_plain`` form, key for key and in order."""
    h = Hunan(ledger)
    h.community(CS)
    h.staff(CS, "s1", date(2020, 1, 1))
    a = h.enroll()
    h.transfer(a, CS, date(2023, 6, 1))
    h.service(a, CS, "v1", "home_visit", date(2024, 1, 15), "s1", 30)
    h.adjust(a, "2500", "2600", "2024-03")
    store = project(ledger)
    expected = [entry(record.id, ledger.mapper.to_domain_event(record)) for record in ledger.log.select_stream(a)]
    trail = audit_trail(store, a)
    assert orjson.dumps(trail) == orjson.dumps(expected)  # same keys, same order, same text
    assert all(set(row.data) == set(expected[0]) - {"seq", "retiree_id"}
               for row in store.rows("audit", "event", f"{a}|"))
    for moment in (datetime(2024, 3, 1, 8, 30, tzinfo=UTC), datetime(2024, 3, 1, 8, 30, 0, 5, UTC),
                   datetime(2024, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=8))), date(2024, 2, 29), a):
        assert orjson.loads(orjson.dumps({"v": moment})) == {"v": to_plain(moment)}
