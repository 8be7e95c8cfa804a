"""``/v1/agencies`` and the capacity views over HTTP (development mode; access denial is in the e2e matrix):
standards, courses and funding written, read back as state, history and projections; bad input and broken
rules are 422 problems that append nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.config import Settings

PROBLEM_BASE = "https://social-care-ledger.example/problems/"
CS = "CS-YL-001"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, dev_mode=True, host="127.0.0.1"), base_url="http://127.0.0.1") as client:
        ok(client, "/v1/communities", {"code": CS, "name": "Yuelu", "city": "Changsha", "district": "Yuelu",
                                       "street": "S", "kind": "urban_community"})
        ok(client, f"/v1/communities/{CS}/events", {"type": "staff_joined", "staff_id": "s1", "name": "Li Na",
                                                    "role": "full_time", "qualified_social_worker": False,
                                                    "joined_on": "2020-01-01"})
        ok(client, "/v1/agencies/Changsha/events", {"type": "agency_established", "name": "Changsha SIA"})
        yield client


def ok(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def head(client: TestClient) -> int:
    value: int = client.get("/health").json()["head"]
    return value


def problem(response: Any, slug: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM_BASE + slug


def test_standards_and_courses_are_read_back_as_state_and_history(client: TestClient) -> None:
    ok(client, "/v1/agencies/Changsha/events", {
        "type": "standard_adopted", "code": "S1", "indicator": "retirees_per_full_time_staff", "threshold": 40,
        "period": "quarter", "effective_from": "2021-01-01", "policy_reference": "CS-RS-2021-03"})
    appended = ok(client, "/v1/agencies/Changsha/events", {
        "type": "standard_revised", "code": "S1", "threshold": "30", "effective_from": "2022-07-01"})
    ok(client, "/v1/agencies/Changsha/events", {"type": "course_offered", "code": "C1", "title": "Case work",
                                                "hours": 16, "topic": "social_work_methods"})
    assert (appended["id"], appended["version"]) == ("Changsha", 3)

    state = client.get("/v1/agencies/Changsha").json()
    assert state["area"] == "Changsha" and state["version"] == 4
    assert [v["threshold"] for v in state["standards"]["S1"]["versions"]] == ["40", "30"]
    assert state["courses"]["C1"]["hours"] == 16
    history = client.get("/v1/agencies/Changsha/history").json()
    assert [e["type"] for e in history] == ["AgencyEstablished", "StandardAdopted", "StandardRevised", "CourseOffered"]


def test_an_unknown_agency_is_a_404(client: TestClient) -> None:
    assert client.get("/v1/agencies/Zhuzhou").status_code == 404
    response = client.post("/v1/agencies/Zhuzhou/events", json={
        "type": "course_offered", "code": "C1", "title": "T", "hours": 8, "topic": "policy"})
    assert response.status_code == 404


@pytest.mark.parametrize("body", [
    {"type": "standard_adopted", "code": "S1", "indicator": "retirees_per_staff", "threshold": 40, "period": "year",
     "effective_from": "2021-01-01"},
    {"type": "standard_adopted", "code": "S1", "indicator": "certified_share", "threshold": "-1", "period": "year",
     "effective_from": "2021-01-01"},
    {"type": "standard_adopted", "code": "S1", "indicator": "certified_share", "threshold": 0.9, "period": "week",
     "effective_from": "2021-01-01"},
    {"type": "course_offered", "code": "C1", "title": "T", "hours": 0, "topic": "policy"},
    {"type": "funding_allocated", "community": CS, "year": 2024, "amount": "12.345", "source": "city",
     "purpose": "staff"},
    {"type": "funding_allocated", "community": CS, "year": 2024, "amount": "100", "source": "bank",
     "purpose": "staff"},
])
def test_bad_input_is_a_422_and_appends_nothing(client: TestClient, body: dict[str, Any]) -> None:
    before = head(client)
    problem(client.post("/v1/agencies/Changsha/events", json=body), "validation-error")
    assert head(client) == before


@pytest.mark.parametrize(("body", "rule"), [
    ({"type": "enrolled_in_course", "staff_id": "s1", "course": "NOPE", "enrolled_on": "2024-02-01"},
     "course_offered"),
    ({"type": "qualification_obtained", "staff_id": "ghost", "level": "social_worker", "obtained_on": "2024-02-01"},
     "staff_known"),
    ({"type": "facility_recorded", "facility_id": "F1", "kind": "activity_room", "area_m2": 80,
      "opened_on": "2099-01-01"}, "date_in_future"),
])
def test_unknown_courses_and_staff_are_named_rule_violations(client: TestClient, body: dict[str, Any],
                                                             rule: str) -> None:
    before = head(client)
    problem(client.post(f"/v1/communities/{CS}/events", json=body), f"rule/{rule}")
    assert head(client) == before


def test_funding_and_training_reach_their_views(client: TestClient) -> None:
    ok(client, "/v1/agencies/Changsha/events", {"type": "course_offered", "code": "C1", "title": "Case work",
                                                "hours": 16, "topic": "social_work_methods"})
    ok(client, f"/v1/communities/{CS}/events", {"type": "enrolled_in_course", "staff_id": "s1", "course": "C1",
                                                "enrolled_on": "2024-02-01"})
    ok(client, f"/v1/communities/{CS}/events", {"type": "course_completed", "staff_id": "s1", "course": "C1",
                                                "completed_on": "2024-03-01"})
    funded = ok(client, "/v1/agencies/Changsha/events", {
        "type": "funding_allocated", "community": CS, "year": 2024, "amount": "60000", "source": "city",
        "purpose": "staff"})
    assert funded["id"] == CS  # recorded on the community's stream
    state = client.get(f"/v1/communities/{CS}").json()
    assert state["funding"] == {"2024": "60000.00"} and state["staff"][0]["courses"] == {"C1": "completed"}

    funding = client.get("/v1/projections/funding", params={"community": CS},
                         headers={"Ledger-Min-Seq": str(funded["seq"])}).json()["rows"]
    assert [(r["year"], r["total"], r["full_time_staff"], r["per_full_time_staff"]) for r in funding] == [
        (2024, "60000.00", 1, "60000.00")]
    training = client.get("/v1/projections/training", params={"community": CS, "month_from": "2024-01"}).json()
    assert [(r["year"], r["staff_id"], r["hours"], r["courses_completed"]) for r in training["rows"]] == [
        (2024, "s1", 16, ["C1"])]
    compliance = client.get("/v1/projections/compliance").json()
    assert compliance["rows"] == [] and compliance["lag"] == 0  # no standard adopted
