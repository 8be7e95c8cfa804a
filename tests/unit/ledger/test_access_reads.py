"""Read rules, personal-data visibility and redaction."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.access import (
    AccessDeniedError,
    Principal,
    Resource,
    Role,
    Scope,
    can_read,
    check_read,
    sees_personal_data,
)
from ledger.errors import InvalidInputError
from ledger.privacy import RETIREE_STATE, personal_fields, redact_event
from tests.people import id_number

CITY, OTHER_CITY = "Changsha", "Changde"
CODE, OTHER_CODE = "CS-YL-001", "CS-YL-002"

AGENCY = Principal("a1", Role.AGENCY, Scope.parse(f"city:{CITY}"))
COMMUNITY = Principal("c1", Role.COMMUNITY, Scope.parse(f"community:{CODE}"))
AUDITOR = Principal("u1", Role.AUDITOR, Scope.parse("all"))
VIEWER = Principal("v1", Role.VIEWER, Scope.parse("all"))

# Facts of a subject that is inside the scope of both the agency and the community above.
OWN_RETIREE = {"retiree_city": CITY, "retiree_community": CODE}
OWN_COMMUNITY = {"community": CODE, "community_city": CITY}
FOREIGN_RETIREE = {"retiree_city": OTHER_CITY, "retiree_community": OTHER_CODE}
FOREIGN_COMMUNITY = {"community": OTHER_CODE, "community_city": OTHER_CITY}

# (principal, resource, facts, allowed) — the read rules of the brief, written out.
CASES: list[tuple[Principal, Resource, dict[str, str], bool]] = [
    *[(AUDITOR, r, f, True) for r in Resource for f in (OWN_RETIREE, FOREIGN_RETIREE, FOREIGN_COMMUNITY, {})],
    (VIEWER, Resource.PROJECTIONS, {}, True),
    *[(VIEWER, r, f, False) for r in Resource if r != Resource.PROJECTIONS for f in (OWN_RETIREE, OWN_COMMUNITY)],
    (AGENCY, Resource.RETIREE, OWN_RETIREE, True),
    (AGENCY, Resource.RETIREE, FOREIGN_RETIREE, False),
    (AGENCY, Resource.RETIREE, {"retiree_city": OTHER_CITY, "retiree_community": CODE}, False),
    (AGENCY, Resource.RETIREE, {}, False),
    (AGENCY, Resource.HISTORY, OWN_RETIREE, True),
    (AGENCY, Resource.HISTORY, FOREIGN_RETIREE, False),
    (AGENCY, Resource.HISTORY, OWN_COMMUNITY, True),
    (AGENCY, Resource.HISTORY, FOREIGN_COMMUNITY, False),
    (AGENCY, Resource.COMMUNITY, OWN_COMMUNITY, True),
    (AGENCY, Resource.COMMUNITY, {"community_city": CITY}, True),
    (AGENCY, Resource.COMMUNITY, FOREIGN_COMMUNITY, False),
    (AGENCY, Resource.COMMUNITY, {}, False),
    (AGENCY, Resource.PROJECTIONS, {}, True),
    (AGENCY, Resource.LOG, {}, False),
    (AGENCY, Resource.AUDIT, OWN_RETIREE, False),
    (COMMUNITY, Resource.RETIREE, OWN_RETIREE, True),
    (COMMUNITY, Resource.RETIREE, {"retiree_city": OTHER_CITY, "retiree_community": CODE}, True),
    (COMMUNITY, Resource.RETIREE, {"retiree_city": CITY, "retiree_community": OTHER_CODE}, False),
    (COMMUNITY, Resource.RETIREE, {}, False),
    (COMMUNITY, Resource.HISTORY, OWN_RETIREE, True),
    (COMMUNITY, Resource.HISTORY, FOREIGN_RETIREE, False),
    (COMMUNITY, Resource.HISTORY, OWN_COMMUNITY, True),
    (COMMUNITY, Resource.HISTORY, FOREIGN_COMMUNITY, False),
    (COMMUNITY, Resource.COMMUNITY, OWN_COMMUNITY, True),
    (COMMUNITY, Resource.COMMUNITY, {"community": OTHER_CODE, "community_city": CITY}, False),
    (COMMUNITY, Resource.COMMUNITY, {}, False),
    (COMMUNITY, Resource.PROJECTIONS, {}, True),
    (COMMUNITY, Resource.LOG, {}, False),
    (COMMUNITY, Resource.AUDIT, OWN_COMMUNITY, False),
]


@pytest.mark.parametrize(("principal", "resource", "facts", "allowed"), CASES, ids=str)
def test_read_rules(principal: Principal, resource: Resource, facts: dict[str, str], allowed: bool) -> None:
    assert can_read(principal, resource, **facts) is allowed
    if allowed:
        check_read(principal, str(resource), **facts)
    else:
        with pytest.raises(AccessDeniedError):
            check_read(principal, resource, **facts)


def test_every_resource_is_readable_by_the_auditor_and_only_projections_by_the_viewer() -> None:
    assert {r for r in Resource if can_read(AUDITOR, r)} == set(Resource)
    assert {r for r in Resource if can_read(VIEWER, r, **OWN_RETIREE, **OWN_COMMUNITY)} == {Resource.PROJECTIONS}


def test_an_unknown_resource_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError):
        check_read(AUDITOR, "secrets")


def test_agencies_and_communities_see_personal_data_auditors_and_viewers_do_not() -> None:
    assert sees_personal_data(AGENCY)
    assert sees_personal_data(COMMUNITY)
    assert not sees_personal_data(AUDITOR)
    assert not sees_personal_data(VIEWER)


def test_redaction_replaces_the_marked_personal_fields_and_keeps_the_input() -> None:
    data: dict[str, Any] = {"name": "Li Hua", "id_number": id_number("1950-01-01"), "sex": "male",
                            "birth_date": "1950-01-01", "city": "Changsha"}
    shown = redact_event("Enrolled", data)
    assert shown == {"name": "***", "id_number": "***", "sex": "***", "birth_date": "***", "city": "Changsha"}
    assert data["name"] == "Li Hua"


def test_redaction_does_not_add_missing_fields() -> None:
    assert redact_event("Enrolled", {"city": "Changde"}) == {"city": "Changde"}


def test_free_text_and_staff_names_are_personal_and_community_names_are_not() -> None:
    assert personal_fields("ServiceDelivered") == {"notes"}
    assert personal_fields("SatisfactionRated") == {"comment"}
    assert personal_fields("StaffJoined") == {"name"}
    assert personal_fields("Registered") == frozenset()
    assert {"name", "id_number", "sex", "birth_date"} == RETIREE_STATE
