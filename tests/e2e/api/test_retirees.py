"""``/v1/retirees`` over real HTTP (api/routers/retirees.py), on the shared development-mode servers.

Enrollment, events on a retiree's stream and the reads of one retiree: version conflicts,
idempotent replays, concurrent writers, unknown retirees, broken rules and schema violations.
A refused request appends nothing (``head()`` before and after); every error is
``application/problem+json``. Each test enrolls its own ID numbers in its own community.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import uuid4

import httpx

from tests.e2e.api.conftest import BORN, created, head, managed_retiree, problem, retiree, service, staff_joined
from tests.people import id_number


def test_a_version_conflict_is_409_and_appends_nothing(http: httpx.Client) -> None:
    rid = managed_retiree(http, "CS-FR-002", id_number(BORN, 111, "430105"))
    before = head(http)
    stale = {**service("svc-a", "CS-FR-002", "home_visit", "2024-05-01", 30), "expected_version": 1}
    body = problem(http.post(f"/v1/retirees/{rid}/events", json=stale), 409, "version-conflict")
    assert "version" in body["detail"]
    assert head(http) == before
    assert http.get("/v1/log", params={"after": before}).json() == {"events": [], "next_after": before}
    assert http.get(f"/v1/retirees/{rid}").json()["services"] == {}


def test_a_replayed_idempotency_key_returns_the_first_result_and_appends_nothing(http: httpx.Client) -> None:
    rid = managed_retiree(http, "CS-TX-003", id_number(BORN, 333, "430103"))
    url = f"/v1/retirees/{rid}/events"
    key = {"Idempotency-Key": f"visit-{uuid4()}"}
    first = http.post(url, json=service("svc-b", "CS-TX-003", "home_visit", "2024-05-02", 40), headers=key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    after_first = head(http)
    again = http.post(url, json=service("svc-b", "CS-TX-003", "home_visit", "2024-05-02", 40), headers=key)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert head(http) == after_first
    changed = http.post(url, json=service("svc-b", "CS-TX-003", "home_visit", "2024-05-02", 45), headers=key)
    problem(changed, 422, "idempotency-key-reused")  # another body under the same key: refused, not dropped
    assert head(http) == after_first
    minutes = http.get("/v1/projections/workload", params={"community": "CS-TX-003", "month_from": "2024-05",
                                                           "month_to": "2024-05"}).json()["rows"][0]
    assert minutes["service_minutes"] == 40
    elsewhere = http.post("/v1/communities/CS-TX-003/events", json=staff_joined("s9"), headers=key)
    problem(elsewhere, 422, "idempotency-key-reused")
    enroll_key = {"Idempotency-Key": f"enroll-{uuid4()}"}
    one = created(http.post("/v1/retirees", json=retiree(id_number(BORN, 444, "430103")), headers=enroll_key))
    assert created(http.post("/v1/retirees", json=retiree(id_number(BORN, 444, "430103")), headers=enroll_key)) == one
    assert head(http) == one["seq"] + 2  # the enrollment, its identity claim and the key's claim, once


def test_concurrent_writers_to_one_stream(base_url: str, http: httpx.Client) -> None:
    rid = managed_retiree(http, "CS-YL-006", id_number(BORN, 777, "430104"))
    url = f"/v1/retirees/{rid}/events"

    def post(body: dict[str, Any]) -> int:
        with httpx.Client(base_url=base_url, timeout=30) as own:
            return own.post(url, json=body).status_code

    checked = [{**service(f"race-{i}", "CS-YL-006", "home_visit", "2024-06-01", 10), "expected_version": 2}
               for i in range(12)]
    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(post, checked))
    assert statuses == [201] + [409] * 11  # exactly one writer wins at version 2
    unchecked = [service(f"free-{i}", "CS-YL-006", "health_check", "2024-06-02", 10) for i in range(12)]
    with ThreadPoolExecutor(12) as pool:
        assert set(pool.map(post, unchecked)) == {201}  # no check asked: lost races are retried
    assert len(http.get(f"/v1/retirees/{rid}").json()["services"]) == 13
    row = http.get("/v1/projections/workload", params={"community": "CS-YL-006", "month_from": "2024-06",
                                                       "month_to": "2024-06"}).json()["rows"][0]
    assert (row["services_total"], row["service_minutes"]) == (13, 130)


def test_an_unknown_retiree_is_404(http: httpx.Client) -> None:
    unknown = uuid4()
    problem(http.get(f"/v1/retirees/{unknown}"), 404, "not-found")
    problem(http.get(f"/v1/retirees/{unknown}/history"), 404, "not-found")
    before = head(http)
    problem(http.post(f"/v1/retirees/{unknown}/events", json={"type": "deceased", "date_of_death": "2024-01-01",
                                                               "reported_by": "family"}), 404, "not-found")
    assert head(http) == before


def test_a_broken_rule_is_422_with_the_rule_in_type(http: httpx.Client) -> None:
    rid = managed_retiree(http, "CS-KF-004", id_number(BORN, 555, "430105"))
    url = f"/v1/retirees/{rid}/events"
    certify = {"type": "eligibility_certified", "year": 2024, "method": "in_person", "certified_on": "2024-02-01"}
    created(http.post(url, json=certify))
    before = head(http)
    body = problem(http.post(url, json={**certify, "certified_on": "2024-06-01"}), 422,
                   "rule/one_certification_per_year")
    assert body["rule"] == "one_certification_per_year"
    outsider = service("svc-c", "CS-YL-001", "home_visit", "2024-05-01", 30)  # not this retiree's community
    problem(http.post(url, json=outsider), 422, "rule/service_by_managing_community")
    assert head(http) == before


def test_schema_violations_are_422_and_oversized_bodies_413(http: httpx.Client) -> None:
    rid = managed_retiree(http, "CS-YH-005", id_number(BORN, 666, "430111"))
    url = f"/v1/retirees/{rid}/events"
    before = head(http)
    body = problem(http.post(url, json={"type": "abducted", "on": "2024-01-01"}), 422, "validation-error")
    assert body["errors"][0]["type"] == "union_tag_invalid"
    body = problem(http.post(url, json={**service("svc-d", "CS-YH-005", "home_visit", "2024-05-01", 30),
                                        "cost": 100}), 422, "validation-error")
    assert body["errors"] == [{"loc": ["body", "service_delivered", "cost"], "msg": "Extra inputs are not permitted",
                               "type": "extra_forbidden"}]
    problem(http.post(url, json=service("svc-d", "CS-YH-005", "home_visit", "2024-05-01", 1441)), 422,
            "validation-error")
    problem(http.post(url, content=b'{"type": "deceased", "date_of_death": NaN}',
                      headers={"content-type": "application/json"}), 400, "bad-request")  # NaN is no JSON
    huge = {**service("svc-e", "CS-YH-005", "home_visit", "2024-05-01", 30), "notes": "x" * (65 * 1024)}
    problem(http.post(url, json=huge), 413, "payload-too-large")

    def chunks() -> Any:
        yield b'{"type": "service_delivered", "notes": "'
        for _ in range(70):
            yield b"y" * 1024
        yield b'"}'

    problem(http.post(url, content=chunks(), headers={"content-type": "application/json"}), 413, "payload-too-large")
    problem(http.get(f"/v1/retirees/{rid}", params={"as_of": "2024-01-01", "version": 1}), 422, "invalid-input")
    assert head(http) == before
