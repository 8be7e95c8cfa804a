"""The caller of a request: token principals, the development caller, loopback and the LEDGER_DEV_MODE switch."""

from __future__ import annotations

import pytest

from api.auth import Caller, dev_caller
from ledger.access import Principal, Resource, Role, Scope
from ledger.errors import AccessDeniedError, InvalidInputError
from ledger.privacy import RETIREE_STATE
from runtime.serving import check_dev_host, dev_mode_from_env, is_loopback

AGENCY = Principal("0123456789abcdef", Role.AGENCY, Scope.parse("city:Changsha"))
AUDITOR = Principal("fedcba9876543210", Role.AUDITOR, Scope.parse("all"))
PERSON = {"name": "Wang Fang", "id_number": "430102195203041234", "city": "Changsha"}


def test_a_token_caller_writes_with_its_principal_checked_and_recorded() -> None:
    context = Caller(AGENCY).context(expected_version=3, idempotency_key="k")
    assert context.access == AGENCY
    assert context.principal == context.recorded_by == "agency:city:Changsha#0123456789abcdef"
    assert (context.expected_version, context.idempotency_key) == (3, "k")


def test_the_dev_caller_writes_trusted_as_dev() -> None:
    context = Caller(None).context(expected_version=None, idempotency_key=None)
    assert context.access is None and context.recorded_by == "dev"


def test_personal_fields_are_redacted_for_auditors_only() -> None:
    assert Caller(AGENCY).shown(PERSON, RETIREE_STATE) == PERSON
    assert Caller(None).shown(PERSON, RETIREE_STATE) == PERSON
    assert Caller(AUDITOR).shown(PERSON, RETIREE_STATE) == {"name": "***", "id_number": "***", "city": "Changsha"}


def test_roles_outside_a_route_are_refused_and_the_dev_caller_never() -> None:
    Caller(AGENCY).require_role(Role.AGENCY, Role.COMMUNITY)
    Caller(None).require_role(Role.COMMUNITY)
    with pytest.raises(AccessDeniedError):
        Caller(AUDITOR).require_role(Role.AGENCY)


def test_reads_follow_the_access_table_except_for_the_dev_caller() -> None:
    Caller(None).check_read(Resource.LOG)
    Caller(AUDITOR).check_read(Resource.LOG)
    with pytest.raises(AccessDeniedError):
        Caller(AGENCY).check_read(Resource.LOG)
    with pytest.raises(AccessDeniedError):
        Caller(AGENCY).check_read(Resource.RETIREE, retiree_city="Zhuzhou", retiree_community="ZZ-HT-001")


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("localhost", False), ("testserver", False), ("", False),
])
def test_only_loopback_addresses_count_as_local(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    if loopback:
        assert dev_caller(host).principal is None
        check_dev_host(host)
    else:
        with pytest.raises(AccessDeniedError):
            dev_caller(host)
        with pytest.raises(InvalidInputError):
            check_dev_host(host)


def test_an_unknown_binding_is_left_to_the_per_request_check() -> None:
    check_dev_host(None)
    with pytest.raises(AccessDeniedError):
        dev_caller(None)


@pytest.mark.parametrize(("value", "on"), [("1", True), ("true", True), ("ON", True), ("0", False), ("", False),
                                           ("off", False)])
def test_ledger_dev_mode_is_switched_on_only_explicitly(value: str, on: bool) -> None:
    assert dev_mode_from_env({"LEDGER_DEV_MODE": value}) is on
    assert dev_mode_from_env({}) is False


def test_an_unclear_ledger_dev_mode_is_an_error_not_a_guess() -> None:
    with pytest.raises(InvalidInputError):
        dev_mode_from_env({"LEDGER_DEV_MODE": "perhaps"})
