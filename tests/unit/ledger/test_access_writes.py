"""The write decision table: every command for every role, inside and outside its scope."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from ledger import commands as c
from ledger.access import (
    AccessDeniedError,
    Principal,
    Role,
    Scope,
    can_write,
    check_write,
    commands_of,
)
from ledger.errors import LedgerError
from tests.people import id_number

RID = UUID("00000000-0000-4000-8000-000000000001")
CITY, OTHER_CITY = "Changsha", "Zhuzhou"
CODE, OTHER_CODE = "CS-YL-001", "ZZ-HT-002"

PRINCIPALS = {
    Role.AGENCY: Principal("a1", Role.AGENCY, Scope.parse(f"city:{CITY}")),
    Role.COMMUNITY: Principal("c1", Role.COMMUNITY, Scope.parse(f"community:{CODE}")),
    Role.AUDITOR: Principal("u1", Role.AUDITOR, Scope.parse("all")),
    Role.VIEWER: Principal("v1", Role.VIEWER, Scope.parse("all")),
}

DAY = date(2024, 3, 1)
COMMANDS: dict[type, Any] = {
    c.Enroll: c.Enroll(
        name="Li Hua", id_number=id_number("1950-01-01"), sex="male", birth_date=date(1950, 1, 1), danwei_code="D1",
        danwei_name="Mill", retirement_date=date(2010, 1, 1), monthly_pension=Decimal("2500"), agency="CS-SIA",
        city=CITY, district="Yuelu",
    ),
    c.RegisterCommunity: c.RegisterCommunity(
        code=CODE, name="Yuelu 1", city=CITY, district="Yuelu", street="S", kind="urban_community"
    ),
    c.TransferToCommunity: c.TransferToCommunity(
        retiree_id=RID, from_danwei="D1", community=CODE, effective_date=DAY, approved_by="a"
    ),
    c.Relocate: c.Relocate(retiree_id=RID, to_community=CODE, effective_date=DAY, reason="moved"),
    c.AdjustPension: c.AdjustPension(
        retiree_id=RID, previous_amount=Decimal("2500"), new_amount=Decimal("2600"), effective_month="2024-01",
        reason="annual_adjustment",
    ),
    c.SuspendPension: c.SuspendPension(retiree_id=RID, effective_month="2024-01", reason="certification missed"),
    c.ResumePension: c.ResumePension(retiree_id=RID, effective_month="2024-02", reason="certified"),
    c.RecordDeath: c.RecordDeath(retiree_id=RID, date_of_death=DAY, reported_by="family"),
    c.DeliverService: c.DeliverService(
        retiree_id=RID, service_id="s1", community=CODE, service_type="home_visit", delivered_on=DAY,
        staff_id="st1", duration_minutes=30,
    ),
    c.RateSatisfaction: c.RateSatisfaction(retiree_id=RID, score=5, rated_on=DAY, channel="phone", service_id="s1"),
    c.CertifyEligibility: c.CertifyEligibility(retiree_id=RID, year=2024, method="in_person", certified_on=DAY),
    c.JoinStaff: c.JoinStaff(
        community=CODE, staff_id="st1", name="Zhao Min", role="full_time", qualified_social_worker=True,
        joined_on=DAY,
    ),
    c.RecordStaffLeft: c.RecordStaffLeft(community=CODE, staff_id="st1", left_on=DAY, reason="moved"),
    c.RecordTraining: c.RecordTraining(community=CODE, staff_id="st1", course="care", hours=8, completed_on=DAY),
    c.EnrolInCourse: c.EnrolInCourse(community=CODE, staff_id="st1", course="C1", enrolled_on=DAY),
    c.CompleteCourse: c.CompleteCourse(community=CODE, staff_id="st1", course="C1", completed_on=DAY),
    c.ObtainQualification: c.ObtainQualification(community=CODE, staff_id="st1", level="social_worker",
                                                 obtained_on=DAY),
    c.RecordFacility: c.RecordFacility(community=CODE, facility_id="F1", kind="activity_room", area_m2=80,
                                       opened_on=DAY),
    c.EstablishAgency: c.EstablishAgency(area=CITY, name="Changsha SIA"),
    c.AdoptStandard: c.AdoptStandard(area=CITY, code="STD1", indicator="certified_share",
                                     threshold=Decimal("0.9"), period="year", effective_from=DAY),
    c.ReviseStandard: c.ReviseStandard(area=CITY, code="STD1", threshold=Decimal("0.95"), effective_from=DAY),
    c.RetireStandard: c.RetireStandard(area=CITY, code="STD1", effective_from=DAY),
    c.OfferCourse: c.OfferCourse(area=CITY, code="C1", title="Policy", hours=16, topic="policy"),
    c.AllocateFunding: c.AllocateFunding(area=CITY, community=CODE, year=2024, amount=Decimal("1000"),
                                         source="city", purpose="staff"),
}

# The specification, written out (not derived from the module): who may issue what, and the
# facts that place the command inside that principal's scope (the minimum needed).
EXPECTED: dict[type, tuple[Role, dict[str, str]]] = {
    c.Enroll: (Role.AGENCY, {}),
    c.RegisterCommunity: (Role.AGENCY, {}),
    c.TransferToCommunity: (Role.AGENCY, {"retiree_city": CITY, "community_city": CITY}),
    c.Relocate: (Role.AGENCY, {"retiree_city": CITY, "community_city": CITY}),
    c.AdjustPension: (Role.AGENCY, {"retiree_city": CITY}),
    c.SuspendPension: (Role.AGENCY, {"retiree_city": CITY}),
    c.ResumePension: (Role.AGENCY, {"retiree_city": CITY}),
    c.RecordDeath: (Role.AGENCY, {"retiree_city": CITY}),
    c.DeliverService: (Role.COMMUNITY, {"retiree_community": CODE}),
    c.RateSatisfaction: (Role.COMMUNITY, {"retiree_community": CODE}),
    c.CertifyEligibility: (Role.COMMUNITY, {"retiree_community": CODE}),
    c.JoinStaff: (Role.COMMUNITY, {}),
    c.RecordStaffLeft: (Role.COMMUNITY, {}),
    c.RecordTraining: (Role.COMMUNITY, {}),
    c.EnrolInCourse: (Role.COMMUNITY, {}),
    c.CompleteCourse: (Role.COMMUNITY, {}),
    c.ObtainQualification: (Role.COMMUNITY, {}),
    c.RecordFacility: (Role.COMMUNITY, {}),
    c.EstablishAgency: (Role.AGENCY, {}),
    c.AdoptStandard: (Role.AGENCY, {}),
    c.ReviseStandard: (Role.AGENCY, {}),
    c.RetireStandard: (Role.AGENCY, {}),
    c.OfferCourse: (Role.AGENCY, {}),
    c.AllocateFunding: (Role.AGENCY, {}),
}

# Ways to step outside the scope of the role that may issue the command: (changed command
# fields, changed facts). A fact set to None is unknown, which must deny too.
OUTSIDE: dict[type, list[tuple[dict[str, Any], dict[str, str | None]]]] = {
    c.Enroll: [({"city": OTHER_CITY}, {})],
    c.RegisterCommunity: [({"city": OTHER_CITY}, {})],
    c.TransferToCommunity: [
        ({}, {"retiree_city": OTHER_CITY}),
        ({}, {"community_city": OTHER_CITY}),
        ({}, {"retiree_city": None}),
        ({}, {"community_city": None}),
    ],
    c.Relocate: [
        ({}, {"retiree_city": OTHER_CITY}),
        ({}, {"community_city": OTHER_CITY}),
        ({}, {"retiree_city": None}),
        ({}, {"community_city": None}),
    ],
    c.AdjustPension: [({}, {"retiree_city": OTHER_CITY}), ({}, {"retiree_city": None})],
    c.SuspendPension: [({}, {"retiree_city": OTHER_CITY}), ({}, {"retiree_city": None})],
    c.ResumePension: [({}, {"retiree_city": OTHER_CITY}), ({}, {"retiree_city": None})],
    c.RecordDeath: [({}, {"retiree_city": OTHER_CITY}), ({}, {"retiree_city": None})],
    c.DeliverService: [
        ({"community": OTHER_CODE}, {}),
        ({}, {"retiree_community": OTHER_CODE}),
        ({}, {"retiree_community": None}),
    ],
    c.RateSatisfaction: [({}, {"retiree_community": OTHER_CODE}), ({}, {"retiree_community": None})],
    c.CertifyEligibility: [({}, {"retiree_community": OTHER_CODE}), ({}, {"retiree_community": None})],
    c.JoinStaff: [({"community": OTHER_CODE}, {})],
    c.RecordStaffLeft: [({"community": OTHER_CODE}, {})],
    c.RecordTraining: [({"community": OTHER_CODE}, {})],
    c.EnrolInCourse: [({"community": OTHER_CODE}, {})],
    c.CompleteCourse: [({"community": OTHER_CODE}, {})],
    c.ObtainQualification: [({"community": OTHER_CODE}, {})],
    c.RecordFacility: [({"community": OTHER_CODE}, {})],
    c.EstablishAgency: [({"area": OTHER_CITY}, {})],
    c.AdoptStandard: [({"area": OTHER_CITY}, {})],
    c.ReviseStandard: [({"area": OTHER_CITY}, {})],
    c.RetireStandard: [({"area": OTHER_CITY}, {})],
    c.OfferCourse: [({"area": OTHER_CITY}, {})],
    c.AllocateFunding: [({"area": OTHER_CITY}, {})],
}

INSIDE_CASES = [(kind, role) for kind in EXPECTED for role in Role]
OUTSIDE_CASES = [
    (kind, role, i) for kind, variants in OUTSIDE.items() for i in range(len(variants)) for role in Role
]


def test_the_table_covers_every_command() -> None:
    assert set(EXPECTED) == set(COMMANDS) == set(OUTSIDE) == set(c.EVENT_OF_COMMAND)


@pytest.mark.parametrize(("kind", "role"), INSIDE_CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_inside_the_scope_only_the_designated_role_may_write(kind: type, role: Role) -> None:
    allowed_role, facts = EXPECTED[kind]
    principal = PRINCIPALS[role]
    if role == allowed_role:
        check_write(principal, COMMANDS[kind], **facts)
        assert can_write(principal, COMMANDS[kind], **facts)
    else:
        with pytest.raises(AccessDeniedError):
            check_write(principal, COMMANDS[kind], **facts)
        assert not can_write(principal, COMMANDS[kind], **facts)


@pytest.mark.parametrize(("kind", "role", "variant"), OUTSIDE_CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_outside_the_scope_every_role_is_denied(kind: type, role: Role, variant: int) -> None:
    changes, fact_changes = OUTSIDE[kind][variant]
    facts: dict[str, str | None] = {**EXPECTED[kind][1], **fact_changes}
    command = replace(COMMANDS[kind], **changes)
    with pytest.raises(AccessDeniedError):
        check_write(PRINCIPALS[role], command, **facts)


def test_a_community_may_not_write_for_a_retiree_it_managed_before_but_not_now() -> None:
    # the retiree moved to another community; the old community may not backfill a service
    with pytest.raises(AccessDeniedError, match="outside the scope"):
        check_write(PRINCIPALS[Role.COMMUNITY], COMMANDS[c.DeliverService], retiree_community=OTHER_CODE)


def test_auditors_and_viewers_may_not_write_anything() -> None:
    assert commands_of(Role.AUDITOR) == commands_of(Role.VIEWER) == frozenset()
    assert commands_of(Role.AGENCY) | commands_of(Role.COMMUNITY) == set(c.EVENT_OF_COMMAND)


def test_an_unknown_command_type_is_denied() -> None:
    with pytest.raises(AccessDeniedError):
        check_write(PRINCIPALS[Role.AGENCY], object(), retiree_city=CITY)


def test_denial_is_a_ledger_error_coded_forbidden_without_personal_data() -> None:
    with pytest.raises(AccessDeniedError) as caught:
        check_write(PRINCIPALS[Role.AGENCY], replace(COMMANDS[c.Enroll], city=OTHER_CITY))
    assert isinstance(caught.value, LedgerError)
    assert caught.value.code == "forbidden"
    assert "Li Hua" not in caught.value.detail and "430102" not in caught.value.detail
    with pytest.raises(AccessDeniedError) as caught:
        check_write(PRINCIPALS[Role.VIEWER], COMMANDS[c.JoinStaff])
    assert "Zhao Min" not in caught.value.detail


def test_city_comparison_is_exact() -> None:
    with pytest.raises(AccessDeniedError):
        check_write(PRINCIPALS[Role.AGENCY], replace(COMMANDS[c.Enroll], city="changsha"))
