"""One redaction rule: every read path withholds the same personal fields from the same roles."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import pytest

from api.auth import Caller
from api.presenters import community_state, event_out, events_json, retiree_state
from devtools.demo import generate
from ledger import commands as c
from ledger.access import Principal, Role, Scope
from ledger.application import Ledger
from ledger.privacy import REDACTED, personal_fields, redact_event
from projections.audit import entry
from tests.integration.ledger.test_application import managed_retiree

CALLERS = {
    "agency": Caller(Principal("a1", Role.AGENCY, Scope.parse("city:Changsha"))),
    "community": Caller(Principal("c1", Role.COMMUNITY, Scope.parse("community:CS-YL-001"))),
    "auditor": Caller(Principal("u1", Role.AUDITOR, Scope.parse("all"))),
    "viewer": Caller(Principal("v1", Role.VIEWER, Scope.parse("all"))),
    "dev": Caller(None),
}
SEES = {"agency": True, "community": True, "auditor": False, "viewer": False, "dev": True}


def withheld(data: dict[str, Any]) -> set[str]:
    return {key for key, value in data.items() if value == REDACTED}


@pytest.fixture
def served(ledger: Ledger) -> UUID:
    rid = managed_retiree(ledger)
    ledger.handle(c.DeliverService(retiree_id=rid, service_id="sv-1", community="CS-YL-001",
                                   service_type="home_visit", delivered_on=date(2020, 3, 2), staff_id="s-1",
                                   duration_minutes=45, notes="knee pain, lives alone"))
    ledger.handle(c.RateSatisfaction(retiree_id=rid, score=4, rated_on=date(2020, 3, 3), channel="phone",
                                     service_id="sv-1", comment="kind staff"))
    return rid


@pytest.mark.parametrize("role", CALLERS)
def test_every_read_path_withholds_the_same_personal_fields(ledger: Ledger, served: UUID, role: str) -> None:
    caller = CALLERS[role]
    history = ledger.history(served)
    log = [ledger.entry(record) for record in ledger.read_log(0, 1000)]
    by_type = {e.type: e for e in history}
    assert {"Enrolled", "ServiceDelivered", "SatisfactionRated"} <= set(by_type)
    for path in (history, [e for e in log if e.stream == str(served)]):  # /history and /log
        for item in path:
            expected = set(personal_fields(item.type)) if not SEES[role] else set()
            assert withheld(event_out(item, caller).data) == expected, (role, item.type)
    state = retiree_state(ledger.retiree(served), caller)  # GET /retirees/{id}
    assert withheld(state) == (set() if SEES[role] else set(personal_fields("Enrolled")))
    staff = community_state(ledger.community("CS-YL-001"), caller)["staff"][0]  # GET /communities/{code}
    assert withheld(staff) == (set() if SEES[role] else set(personal_fields("StaffJoined")))
    for item in history:  # the audit view and the CLI's history table use the same marks
        event = ledger.mapper.to_domain_event(ledger.log.select_stream(served)[item.version - 1])
        facts = entry(item.seq, event)["facts"]  # type: ignore[arg-type]
        assert not set(facts) & personal_fields(item.type)
        assert set(facts) == set(item.data) - personal_fields(item.type)
        assert withheld(redact_event(item.type, item.data)) == set(personal_fields(item.type))


@pytest.mark.parametrize("role", ["dev", "auditor"])
def test_history_written_by_orjson_equals_the_event_models_field_for_field(ledger: Ledger, role: str) -> None:
    generate(ledger, retirees=8, seed=4)
    entries = [ledger.entry(record) for record in ledger.read_log(0, 10_000)]
    values = [value for e in entries for value in e.data.values()]
    assert {Decimal, date} <= {type(value) for value in values}  # what orjson writes itself, or by default=
    caller = CALLERS[role]
    written = events_json(entries, caller)  # GET /retirees/{id}/history
    assert orjson.loads(written) == [event_out(item, caller).model_dump() for item in entries]
