"""The one error table and the problem+json handlers, through FastAPI's TestClient.

The app runs in development mode (no tokens; the TestClient talks to 127.0.0.1), except where a
test is about authentication itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import PROBLEM_BASE, IdempotencyKeyReusedError, problem_of
from api.main import create_app
from ledger.config import Settings
from ledger.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConflictError,
    IntegrityViolationError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
    RuleViolationError,
    UnavailableError,
    VersionConflictError,
)
from projections.base import ProjectionError

ID_NUMBER = "430102195203041234"
COMMUNITY = {
    "code": "CS-YL-001",
    "name": "Yuelu Street Community",
    "city": "Changsha",
    "district": "Yuelu",
    "street": "Lushan Rd",
    "kind": "urban_community",
}
ENROLL = {
    "name": "Wang Fang",
    "id_number": ID_NUMBER,
    "sex": "female",
    "birth_date": "1952-03-04",
    "danwei_code": "HN-TEX-01",
    "danwei_name": "Hunan Textile Mill No. 1",
    "retirement_date": "2002-03-04",
    "monthly_pension": "2500.00",
    "agency": "CS-SIA",
    "city": "Changsha",
    "district": "Yuelu",
}


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    app = create_app(settings, dev_mode=True, host="127.0.0.1")

    def boom() -> None:
        raise RuntimeError(f"bug while handling {ID_NUMBER}")

    def ledger_bug() -> None:
        raise LedgerError(f"raw detail mentioning {ID_NUMBER}")

    app.add_api_route("/boom", boom)
    app.add_api_route("/ledger-bug", ledger_bug)
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1") as client:
        yield client


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + slug
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def head(client: TestClient) -> int:
    value: int = client.get("/health").json()["head"]
    return value


# ---- the table -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (AuthenticationError("invalid or revoked bearer token"), 401, "unauthorized"),
        (AccessDeniedError("the role viewer may not read retiree"), 403, "forbidden"),
        (NotFoundError("no retiree with this id"), 404, "not-found"),
        (ConflictError("community X is already registered"), 409, "conflict"),
        (VersionConflictError("expected version 1, the stream is at version 2"), 409, "version-conflict"),
        (RuleViolationError("one_certification_per_year", "already certified for 2024"), 422,
         "rule/one_certification_per_year"),
        (InvalidInputError("month must be YYYY-MM"), 422, "invalid-input"),
        (IdempotencyKeyReusedError("reused"), 422, "idempotency-key-reused"),
        (UnavailableError("the event log is unavailable"), 503, "unavailable"),
        (IntegrityViolationError("seq 7 does not match its hash"), 409, "integrity-violation"),
        (ProjectionError("workload cannot apply Relocated at seq 9", view="workload", seq=9), 500,
         "projection-failed"),
        (LedgerError("unclassified"), 500, "internal-error"),
    ],
)
def test_each_ledger_error_has_one_status_and_problem_type(error: LedgerError, status: int, slug: str) -> None:
    got_status, body = problem_of(error)
    assert (got_status, body["type"], body["status"]) == (status, PROBLEM_BASE + slug, status)


def test_a_subclass_without_a_row_inherits_its_parents_status() -> None:
    class StaffNotFoundError(NotFoundError):
        pass

    assert problem_of(StaffNotFoundError("no such staff member"))[0] == 404


def test_a_rule_violation_names_its_rule_in_type_and_body() -> None:
    _, body = problem_of(RuleViolationError("date_in_future", "service date 2999-01-01 is in the future"))
    assert body["type"].endswith("/problems/rule/date_in_future")
    assert body["rule"] == "date_in_future"


# ---- the handlers ----------------------------------------------------------------------------


def test_unknown_retiree_is_a_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/v1/retirees/6f1c2a7e-9b1d-4c55-8d0e-2a4f3b9c7d10"), 404, "not-found")
    assert_problem(client.get("/v1/retirees/6f1c2a7e-9b1d-4c55-8d0e-2a4f3b9c7d10/history"), 404, "not-found")


def test_a_community_stream_is_not_a_retiree(client: TestClient) -> None:
    client.post("/v1/communities", json=COMMUNITY)
    community_id = client.get("/v1/communities/CS-YL-001").json()["id"]
    assert_problem(client.get(f"/v1/retirees/{community_id}"), 404, "not-found")
    assert_problem(client.get(f"/v1/retirees/{community_id}/history"), 404, "not-found")


def test_unknown_community_and_route_are_404_problems(client: TestClient) -> None:
    assert_problem(client.get("/v1/communities/ZZ-NO-999"), 404, "not-found")
    event = {"type": "staff_left", "staff_id": "s1", "left_on": "2020-01-01", "reason": "moved"}
    assert_problem(client.post("/v1/communities/ZZ-NO-999/events", json=event), 404, "not-found")
    assert_problem(client.get("/v1/nothing-here"), 404, "not-found")


def test_wrong_method_is_a_405_problem(client: TestClient) -> None:
    assert_problem(client.delete("/health"), 405, "method-not-allowed")


def test_registering_a_community_twice_is_a_409_and_appends_nothing(client: TestClient) -> None:
    assert client.post("/v1/communities", json=COMMUNITY).status_code == 201
    before = head(client)
    assert_problem(client.post("/v1/communities", json=COMMUNITY), 409, "conflict")
    assert head(client) == before


def test_a_stale_expected_version_is_a_409_and_appends_nothing(client: TestClient) -> None:
    client.post("/v1/communities", json=COMMUNITY)
    before = head(client)
    event = {"type": "staff_joined", "staff_id": "s1", "name": "Li Na", "role": "full_time",
             "qualified_social_worker": True, "joined_on": "2015-01-01", "expected_version": 7}
    body = assert_problem(client.post("/v1/communities/CS-YL-001/events", json=event), 409, "version-conflict")
    assert "7" in body["detail"]
    assert head(client) == before


def test_a_broken_rule_is_a_422_naming_the_rule(client: TestClient) -> None:
    client.post("/v1/communities", json=COMMUNITY)
    event = {"type": "staff_left", "staff_id": "nobody", "left_on": "2020-01-01", "reason": "moved"}
    body = assert_problem(
        client.post("/v1/communities/CS-YL-001/events", json=event), 422, "rule/staff_active_in_community"
    )
    assert body["rule"] == "staff_active_in_community"


def test_a_second_enrollment_names_the_rule_but_not_the_person(client: TestClient) -> None:
    assert client.post("/v1/retirees", json=ENROLL).status_code == 201
    response = client.post("/v1/retirees", json=ENROLL)
    assert_problem(response, 422, "rule/one_enrollment_per_id_number")
    assert ID_NUMBER not in response.text and "Wang" not in response.text


def test_validation_errors_say_where_but_never_echo_the_input(client: TestClient) -> None:
    response = client.post("/v1/retirees", json={**ENROLL, "id_number": "Wang Fang's number", "sex": "Wang"})
    body = assert_problem(response, 422, "validation-error")
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "id_number"), ("body", "sex")}
    assert "Wang" not in response.text
    assert all(set(e) == {"loc", "msg", "type"} for e in body["errors"])


def test_unknown_event_type_and_extra_fields_are_422(client: TestClient) -> None:
    client.post("/v1/communities", json=COMMUNITY)
    unknown = {"type": "staff_promoted", "staff_id": "s1"}
    body = assert_problem(client.post("/v1/communities/CS-YL-001/events", json=unknown), 422, "validation-error")
    assert body["errors"][0]["type"] == "union_tag_invalid"
    assert "staff_promoted" not in body["errors"][0]["msg"]
    extra = {**COMMUNITY, "code": "CS-YL-002", "mayor": "someone"}
    body = assert_problem(client.post("/v1/communities", json=extra), 422, "validation-error")
    assert body["errors"][0]["loc"] == ["body", "mayor"]


def test_malformed_json_is_a_400_problem(client: TestClient) -> None:
    response = client.post("/v1/communities", content=b'{"code": ', headers={"content-type": "application/json"})
    assert_problem(response, 400, "bad-request")
    assert head(client) == 0  # every other kind of bad body: test_intake.py


def test_a_declared_oversized_body_is_a_413_problem_and_appends_nothing(client: TestClient) -> None:
    body = {**COMMUNITY, "street": "x" * (70 * 1024)}
    assert_problem(client.post("/v1/communities", json=body), 413, "payload-too-large")
    assert head(client) == 0


def test_a_streamed_oversized_body_without_length_is_a_413_problem(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"code": "CS-YL-001", "street": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}'

    response = client.post("/v1/communities", content=chunks(), headers={"content-type": "application/json"})
    assert_problem(response, 413, "payload-too-large")
    assert head(client) == 0


def test_a_body_just_under_the_limit_is_judged_on_its_merits(client: TestClient) -> None:
    body = {**COMMUNITY, "street": "x" * (60 * 1024)}
    response = client.post("/v1/communities", json=body)
    assert_problem(response, 422, "validation-error")  # the street is too long, not the body


def test_too_long_idempotency_key_is_a_422(client: TestClient) -> None:
    response = client.post("/v1/communities", json=COMMUNITY, headers={"Idempotency-Key": "k" * 201})
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert client.post("/v1/communities", json=COMMUNITY, headers={"Idempotency-Key": "k" * 200}).status_code == 201


def test_as_of_together_with_version_is_a_422(client: TestClient) -> None:
    retiree_id = client.post("/v1/retirees", json=ENROLL).json()["id"]
    response = client.get(f"/v1/retirees/{retiree_id}", params={"as_of": "2010-01-01", "version": 1})
    assert_problem(response, 422, "invalid-input")


def test_bad_query_values_are_422(client: TestClient) -> None:
    assert_problem(client.get("/v1/log", params={"limit": 0}), 422, "validation-error")
    assert_problem(client.get("/v1/log", params={"limit": 1001}), 422, "validation-error")
    assert_problem(client.get("/v1/log", params={"after": -1}), 422, "validation-error")
    assert_problem(client.get("/v1/log", params={"after": 2**70}), 422, "validation-error")
    assert_problem(client.get("/v1/retirees/not-a-uuid"), 422, "validation-error")
    assert_problem(client.get("/v1/projections/workload", params={"month_from": "2024-13"}), 422, "validation-error")
    assert_problem(client.get("/v1/projections/workload", params={"month_from": "\uff12\uff10\uff12\uff14-01"}), 422,
                   "validation-error")
    months = {"month_from": "2024-05", "month_to": "2024-04"}
    assert_problem(client.get("/v1/projections/workload", params=months), 422, "invalid-input")


def test_a_bug_is_a_500_problem_that_reveals_nothing(client: TestClient) -> None:
    for path in ("/boom", "/ledger-bug"):
        response = client.get(path)
        assert_problem(response, 500, "internal-error")
        assert ID_NUMBER not in response.text


def test_a_bug_is_logged_by_type_and_place_but_never_by_message(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        for path in ("/boom", "/ledger-bug"):
            assert client.get(path).status_code == 500
    assert "RuntimeError on GET /boom" in caplog.text and "LedgerError on GET /ledger-bug" in caplog.text
    assert "test_errors.py" in caplog.text  # the stack frames are there, for whoever debugs it
    assert ID_NUMBER not in caplog.text


def test_a_bug_does_not_escape_to_the_server_which_would_log_its_message(app: FastAPI) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    async def request() -> None:
        app.state.services = None  # the route needs none
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": "/boom", "raw_path": b"/boom", "root_path": "", "query_string": b"", "headers": [],
                 "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
        await app(scope, receive, send)  # Starlette re-raises after its 500; the app must keep it in

    asyncio.run(request())
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 500


def test_a_query_string_over_2_kib_is_a_414_problem(client: TestClient) -> None:
    assert_problem(client.get("/v1/log", params={"after": "0", "x": "y" * 2100}), 414, "uri-too-long")
    assert client.get("/v1/log", params={"after": "0", "x": "y" * 1900}).status_code == 200


def test_without_a_token_it_is_a_401_problem_with_a_bearer_challenge(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(home=tmp_path / "home"))) as secured:
        for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic dXNlcjpwdw=="}):
            response = secured.get("/v1/projections/status", headers=headers)
            body = assert_problem(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert "nonsense" not in body["detail"]
        assert secured.get("/health").status_code == 200
