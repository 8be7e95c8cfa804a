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
    redact,
    sees_personal_data,
    visible_to,
)
from ledger.errors import InvalidInputError

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


def test_redact_replaces_names_and_id_numbers_at_any_depth_and_keeps_the_input() -> None:
    data: dict[str, Any] = {
        "name": "Li Hua",
        "id_number": "430102195001011234",
        "city": "Changsha",
        "staff": {"s1": {"name": "Zhao Min", "role": "full_time"}},
        "events": [{"type": "Enrolled", "data": {"name": "Li Hua", "sex": "male"}}],
    }
    shown = redact(data)
    assert shown == {
        "name": "***",
        "id_number": "***",
        "city": "Changsha",
        "staff": {"s1": {"name": "***", "role": "full_time"}},
        "events": [{"type": "Enrolled", "data": {"name": "***", "sex": "male"}}],
    }
    assert data["name"] == "Li Hua" and data["staff"]["s1"]["name"] == "Zhao Min"


def test_redact_does_not_add_missing_fields() -> None:
    assert redact({"city": "Changde"}) == {"city": "Changde"}


def test_visible_to_redacts_only_for_roles_that_may_not_see_personal_data() -> None:
    data = {"name": "Li Hua", "monthly_pension": "2500.00"}
    assert visible_to(AGENCY, data) == data
    assert visible_to(COMMUNITY, data) == data
    assert visible_to(AUDITOR, data) == {"name": "***", "monthly_pension": "2500.00"}
    assert visible_to(VIEWER, data)["name"] == "***"
