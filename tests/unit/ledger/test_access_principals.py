"""Roles, scopes and principals: parsing, validation and the recorded principal name."""

from __future__ import annotations

import pytest

from ledger.access import Principal, Role, Scope, ScopeKind, parse_role
from ledger.errors import InvalidInputError


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("city:Changsha", ScopeKind.CITY, "Changsha"),
        ("city:长沙", ScopeKind.CITY, "长沙"),
        ("city:Zhang Jia Jie", ScopeKind.CITY, "Zhang Jia Jie"),
        ("community:CS-YL-001", ScopeKind.COMMUNITY, "CS-YL-001"),
        ("all", ScopeKind.ALL, ""),
    ],
)
def test_scopes_parse_and_print_back(text: str, kind: ScopeKind, value: str) -> None:
    scope = Scope.parse(text)
    assert (scope.kind, scope.value) == (kind, value)
    assert str(scope) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Changsha",
        "city:",
        "city: Changsha",
        "city:Changsha ",
        "city:Chang:sha",
        "city:Chang#sha",
        "community:",
        "community:CS YL 001",
        "community:CS-YL-001#x",
        "community:-CS",
        "district:Yuelu",
        "all:",
        "ALL",
        "city:" + "x" * 65,
    ],
)
def test_bad_scopes_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInputError):
        Scope.parse(text)


def test_scope_kinds_fit_roles() -> None:
    assert Scope.for_role("agency", "city:Changde") == Scope(ScopeKind.CITY, "Changde")
    assert Scope.for_role(Role.COMMUNITY, "community:CD-WL-003") == Scope(ScopeKind.COMMUNITY, "CD-WL-003")
    assert Scope.for_role("auditor", None) == Scope(ScopeKind.ALL)
    assert Scope.for_role("viewer", "all") == Scope(ScopeKind.ALL)


@pytest.mark.parametrize(
    ("role", "text"),
    [
        ("agency", "community:CS-YL-001"),
        ("agency", "all"),
        ("agency", None),
        ("community", "city:Changsha"),
        ("community", None),
        ("auditor", "city:Changsha"),
        ("viewer", "community:CS-YL-001"),
    ],
)
def test_a_scope_that_does_not_fit_the_role_is_invalid_input(role: str, text: str | None) -> None:
    with pytest.raises(InvalidInputError):
        Scope.for_role(role, text)


def test_unknown_roles_are_invalid_input() -> None:
    assert parse_role("viewer") is Role.VIEWER
    with pytest.raises(InvalidInputError):
        parse_role("admin")


def test_principal_name_carries_role_scope_and_token_id() -> None:
    agency = Principal("0123456789abcdef", Role.AGENCY, Scope.parse("city:Changsha"))
    assert agency.name == "agency:city:Changsha#0123456789abcdef"
    community = Principal("feedc0de00000000", Role.COMMUNITY, Scope.parse("community:CS-YL-001"))
    assert community.name == "community:community:CS-YL-001#feedc0de00000000"
    assert Principal("ab", Role.AUDITOR, Scope.parse("all")).name == "auditor:all#ab"


def test_a_principal_whose_scope_does_not_fit_its_role_cannot_exist() -> None:
    with pytest.raises(InvalidInputError):
        Principal("ab", Role.VIEWER, Scope.parse("city:Changsha"))
    with pytest.raises(InvalidInputError):
        Principal("a#b", Role.AUDITOR, Scope.parse("all"))


def test_roles_given_as_text_become_roles() -> None:
    principal = Principal("ab", "auditor", Scope.parse("all"))  # type: ignore[arg-type]
    assert principal.role is Role.AUDITOR
