"""Property: random command sequences never leave a retiree in a state that breaks a rule, and
replaying the recorded events (through the storage codec) always reproduces the same state."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from eventsourcing.persistence import Mapper
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.codec import OrjsonTranscoder
from ledger.domain.retiree import Retiree
from ledger.errors import RuleViolationError
from tests.people import id_number

TODAY = date(2026, 6, 30)
COMMUNITIES = ["CS-YL-001", "CS-FR-002", "ZZ-HT-001"]
days = st.integers(min_value=0, max_value=8000).map(lambda n: date(2004, 1, 1) + timedelta(days=n))
months = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(2003, 2027), st.integers(1, 12))
amounts = st.decimals(min_value=Decimal("-10"), max_value=Decimal("9000"), places=2, allow_nan=False)
service_ids = st.sampled_from([f"sv-{n}" for n in range(6)])

serve = st.tuples(st.just("serve"), service_ids, st.sampled_from([*COMMUNITIES, "current", "current"]), days,
                  st.booleans())
rate = st.tuples(st.just("rate"), st.one_of(st.none(), service_ids), st.integers(0, 6), days)
certify = st.tuples(st.just("certify"), days, st.booleans())
commands = st.one_of(  # repeated entries weigh the everyday commands above death
    serve, serve, serve, rate, rate, certify, certify,
    st.tuples(st.just("transfer"), st.sampled_from(COMMUNITIES), days),
    st.tuples(st.just("relocate"), st.sampled_from(COMMUNITIES), days),
    st.tuples(st.just("adjust"), amounts, months, st.sampled_from(["annual_adjustment", "correction"]), st.booleans()),
    st.tuples(st.just("suspend"), months),
    st.tuples(st.just("resume"), months, amounts),
    st.tuples(st.just("die"), days),
)


def stamp() -> dict[str, Any]:
    return {"recorded_by": "property", "event_id": uuid4()}


def run(retiree: Retiree, command: tuple[Any, ...]) -> None:
    kind, *args = command
    if kind == "transfer":
        retiree.transfer_to_community(from_danwei="D-1", community=args[0], effective_date=args[1],
                                      approved_by="a", personnel_file=True, socialized_payment=True,
                                      contact_card=True, party_relation=False, **stamp())
    elif kind == "relocate":
        retiree.relocate(to_community=args[0], effective_date=args[1], reason="moved", **stamp())
    elif kind == "adjust":
        previous = retiree.monthly_pension if args[3] else args[0] + 1
        retiree.adjust_pension(previous_amount=previous, new_amount=args[0], effective_month=args[1],
                               reason=args[2], policy_reference="", **stamp())
    elif kind == "certify":
        year = args[0].year if args[1] else args[0].year - 1
        retiree.certify_eligibility(year=year, certified_on=args[0], today=TODAY, method="in_person", **stamp())
    elif kind == "suspend":
        retiree.suspend_pension(effective_month=args[0], reason="missed", **stamp())
    elif kind == "resume":
        retiree.resume_pension(effective_month=args[0], back_pay=args[1], reason="ok", **stamp())
    elif kind == "serve":
        community = (retiree.community or "none") if args[1] == "current" else args[1]
        retiree.deliver_service(service_id=args[0], community=community, delivered_on=args[2], staff_active=args[3],
                                today=TODAY, service_type="home_visit", staff_id="s", duration_minutes=30,
                                notes="", **stamp())
    elif kind == "rate":
        retiree.rate_satisfaction(service_id=args[0], score=args[1], rated_on=args[2], today=TODAY, comment="",
                                  channel="phone", **stamp())
    else:
        retiree.record_death(date_of_death=args[0], today=TODAY, reported_by="family", **stamp())


def check_rules(events: list[Any], retiree: Retiree) -> None:
    """The rules of DESIGN.md section 2, judged on the recorded history as a whole."""
    names = [type(e).__name__ for e in events]
    assert names[0] == "Enrolled" and names.count("TransferredToCommunity") <= 1
    if "Relocated" in names:
        assert names.index("TransferredToCommunity") < names.index("Relocated")
    amount = events[0].monthly_pension
    status = "active"
    certified: set[int] = set()
    rated: set[str] = set()
    delivered: dict[str, date] = {}
    dead = False
    for event, name in zip(events, names, strict=True):
        assert not dead or (name == "PensionAdjusted" and event.reason == "correction")
        if name == "PensionAdjusted":
            assert event.previous_amount == amount and event.new_amount > 0 and status != "suspended"
            amount = event.new_amount
        elif name == "PensionSuspended":
            assert status == "active"
            status = "suspended"
        elif name == "PensionResumed":
            assert status == "suspended" and event.back_pay >= 0
            status = "active"
        elif name == "EligibilityCertified":
            assert event.year not in certified and event.certified_on <= TODAY
            certified.add(event.year)
        elif name == "ServiceDelivered":
            assert event.delivered_on <= TODAY and event.service_id not in delivered
            delivered[event.service_id] = event.delivered_on
        elif name == "SatisfactionRated" and event.service_id is not None:
            assert event.service_id in delivered and event.service_id not in rated
            assert 1 <= event.score <= 5 and event.rated_on >= delivered[event.service_id]
            rated.add(event.service_id)
        elif name == "Deceased":
            dead, status = True, "ended"  # the pension ends; corrections up to the month of death stay possible
    assert retiree.monthly_pension == amount and amount > 0


def replay(events: list[Any]) -> Retiree:
    mapper: Mapper[Any] = Mapper(transcoder=OrjsonTranscoder())
    aggregate = None
    for event in events:
        aggregate = mapper.to_domain_event(mapper.to_stored_event(event)).mutate(aggregate)  # type: ignore[attr-defined]
    assert isinstance(aggregate, Retiree)
    return aggregate


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.booleans(), st.lists(commands, max_size=40))
def test_random_commands_keep_every_rule_and_replay_reproduces_the_state(
    transferred: bool, script: list[tuple[Any, ...]]
) -> None:
    retiree = Retiree.enroll(retiree_id=uuid4(), name="Li Wei", id_number=id_number(date(1950, 1, 1)), sex="male",
                             birth_date=date(1950, 1, 1), danwei_code="D-1", danwei_name="Works",
                             retirement_date=date(2004, 1, 1), monthly_pension=Decimal("2500"), agency="A",
                             city="Changsha", district="Yuelu", today=TODAY, **stamp())
    events = list(retiree.collect_events())
    if transferred:  # most real histories start with the move to the community
        script = [("transfer", "CS-YL-001", date(2004, 6, 1)), *script]
    for command in script:
        try:
            run(retiree, command)
        except RuleViolationError:
            assert retiree.collect_events() == []  # a refused command leaves no event behind
        events.extend(retiree.collect_events())
    check_rules(events, retiree)
    again = replay(events)
    assert vars(again) == vars(retiree)
