"""End to end over real HTTP: a uvicorn server (tests/e2e/conftest.py) driven with httpx.

The flow registers a community, hires staff, enrolls a retiree, transfers them, delivers services,
rates them and adjusts the pension; then history, ``?as_of=`` state, ``?version=`` state and the
projections must tell the same story, in numbers. The other tests check the error contract:
nothing is appended by a refused request, and every error is ``application/problem+json``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest

from api.main import create_app
from tests.backends import BACKENDS
from tests.e2e.conftest import serving

PROBLEM = "application/problem+json"
PROBLEMS = "https://social-care-ledger.example/problems/"


@pytest.fixture(scope="module", params=BACKENDS)
def base_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A development-mode server on each backend: the embedded SQLite log, then a real Kafka broker."""
    extra: dict[str, str] = {}
    if request.param == "kafka":
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        name = f"e2e{uuid4().hex[:10]}"
        extra = {"LEDGER_LOG": f"kafka://{bootstrap}", "LEDGER_KAFKA_TOPIC": f"{name}.events", "LEDGER_NAME": name}
    home = tmp_path_factory.mktemp(f"e2e-{request.param}") / "home"
    with serving(create_app(dev_mode=True, host="127.0.0.1"), home, extra) as server:
        yield server.url

def community(code: str, city: str = "Changsha") -> dict[str, Any]:
    return {"code": code, "name": f"Community {code}", "city": city, "district": "Yuelu",
            "street": "Lushan Rd", "kind": "urban_community"}


def retiree(id_number: str, pension: str = "2500.00") -> dict[str, Any]:
    return {"name": "Zhang Wei", "id_number": id_number, "sex": "male", "birth_date": "1950-05-06",
            "danwei_code": "HN-RAIL-02", "danwei_name": "Changsha Railway Works", "retirement_date": "2010-05-06",
            "monthly_pension": pension, "agency": "CS-SIA", "city": "Changsha", "district": "Yuelu"}


def staff_joined(staff_id: str, role: str = "full_time") -> dict[str, Any]:
    return {"type": "staff_joined", "staff_id": staff_id, "name": "Li Na", "role": role,
            "qualified_social_worker": True, "joined_on": "2015-01-01"}


def service(service_id: str, community_code: str, kind: str, day: str, minutes: int) -> dict[str, Any]:
    return {"type": "service_delivered", "service_id": service_id, "community": community_code, "service_type": kind,
            "delivered_on": day, "staff_id": "s1", "duration_minutes": minutes, "notes": "routine"}


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"id", "version", "seq"}
    return body


def head(http: httpx.Client) -> int:
    body = http.get("/health").json()
    assert body["status"] == "ok"
    value: int = body["head"]
    return value


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEMS + slug
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def managed_retiree(http: httpx.Client, code: str, id_number: str) -> str:
    """A community with one full-time staff member ``s1`` and a retiree it manages since 2011."""
    created(http.post("/v1/communities", json=community(code)))
    created(http.post(f"/v1/communities/{code}/events", json=staff_joined("s1")))
    retiree_id = str(created(http.post("/v1/retirees", json=retiree(id_number)))["id"])
    transfer = {"type": "transferred_to_community", "from_danwei": "HN-RAIL-02", "community": code,
                "effective_date": "2011-01-01", "approved_by": "agency officer"}
    created(http.post(f"/v1/retirees/{retiree_id}/events", json=transfer))
    return retiree_id


def test_history_state_and_projections_agree(http: httpx.Client) -> None:
    code = "CS-YL-001"
    start = head(http)
    assert created(http.post("/v1/communities", json=community(code))) == {"id": code, "version": 1, "seq": start + 1}
    assert created(http.post(f"/v1/communities/{code}/events", json=staff_joined("s1")))["version"] == 2
    assert created(http.post(f"/v1/communities/{code}/events", json=staff_joined("s2", "volunteer")))["version"] == 3
    enrolled = created(http.post("/v1/retirees", json=retiree("430104195005061234")))
    rid = enrolled["id"]
    assert enrolled["version"] == 1
    events = f"/v1/retirees/{rid}/events"
    transfer = {"type": "transferred_to_community", "from_danwei": "HN-RAIL-02", "community": code,
                "effective_date": "2011-01-01", "approved_by": "agency officer", "expected_version": 1}
    assert created(http.post(events, json=transfer))["version"] == 2
    created(http.post(events, json=service("svc-1", code, "home_visit", "2024-03-10", 60)))
    created(http.post(events, json=service("svc-2", code, "health_check", "2024-03-20", 30)))
    created(http.post(events, json=service("svc-3", code, "home_visit", "2024-04-02", 45)))
    created(http.post(events, json={"type": "satisfaction_rated", "service_id": "svc-1", "score": 4,
                                    "rated_on": "2024-03-11", "channel": "phone"}))
    created(http.post(events, json={"type": "satisfaction_rated", "service_id": "svc-2", "score": 2,
                                    "rated_on": "2024-03-21", "channel": "in_person", "comment": "late"}))
    created(http.post(events, json={"type": "satisfaction_rated", "score": 5, "rated_on": "2024-04-03",
                                    "channel": "app"}))
    adjusted = created(http.post(events, json={
        "type": "pension_adjusted", "previous_amount": "2500.00", "new_amount": 2612.5, "effective_month": "2024-01",
        "reason": "annual_adjustment", "policy_reference": "Hunan 2024 adjustment", "expected_version": 8,
    }))
    assert adjusted["version"] == 9

    # history: every event once, in order, stamped, hash-linked along the global log
    history = http.get(f"/v1/retirees/{rid}/history").json()
    assert [e["type"] for e in history] == [
        "Enrolled", "TransferredToCommunity", "ServiceDelivered", "ServiceDelivered", "ServiceDelivered",
        "SatisfactionRated", "SatisfactionRated", "SatisfactionRated", "PensionAdjusted",
    ]
    assert [e["version"] for e in history] == list(range(1, 10))
    assert all(e["recorded_by"] == "dev" and e["stream"] == rid and e["event_id"] for e in history)
    assert history[-1]["seq"] == adjusted["seq"] == head(http)
    log = http.get("/v1/log", params={"after": 0, "limit": 1000}).json()
    assert log["next_after"] == head(http) == len(log["events"])
    assert [e["seq"] for e in log["events"]] == list(range(1, head(http) + 1))
    assert log["events"][0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(log["events"], log["events"][1:], strict=False))
    by_seq = {e["seq"]: e for e in log["events"]}
    assert all(by_seq[e["seq"]] == e for e in history)

    # state now, as of business dates, and at versions
    now = http.get(f"/v1/retirees/{rid}").json()
    assert (now["version"], now["monthly_pension"], now["stage"], now["community"]) == (9, "2612.50", "community", code)
    assert sorted(now["services"]) == ["svc-1", "svc-2", "svc-3"]
    before_2024 = http.get(f"/v1/retirees/{rid}", params={"as_of": "2023-12-31"}).json()
    assert (before_2024["monthly_pension"], before_2024["services"], before_2024["version"]) == ("2500.00", {}, 2)
    mid_march = http.get(f"/v1/retirees/{rid}", params={"as_of": "2024-03-15"}).json()
    assert mid_march["monthly_pension"] == "2612.50"  # effective 2024-01, though recorded last
    assert mid_march["services"] == {
        "svc-1": {"community": code, "service_type": "home_visit", "delivered_on": "2024-03-10", "rated": True}
    }
    at_v2 = http.get(f"/v1/retirees/{rid}", params={"version": 2}).json()
    assert (at_v2["version"], at_v2["stage"], at_v2["services"], at_v2["monthly_pension"]) == (
        2, "community", {}, "2500.00")
    at_v8 = http.get(f"/v1/retirees/{rid}", params={"version": 8}).json()
    assert at_v8["monthly_pension"] == "2500.00" and len(at_v8["services"]) == 3
    assert at_v8["overall_rated_on"] == ["2024-04-03"]

    # projections, read right after the writes, against figures computed here from the history
    minutes: dict[str, int] = defaultdict(int)
    services: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in history:
        if e["type"] == "ServiceDelivered":
            month = e["data"]["delivered_on"][:7]
            minutes[month] += e["data"]["duration_minutes"]
            services[month][e["data"]["service_type"]] += 1
    window = {"community": code, "month_from": "2024-03", "month_to": "2024-04"}
    workload = http.get("/v1/projections/workload", params=window).json()["rows"]
    assert [row["month"] for row in workload] == ["2024-03", "2024-04"]
    for row in workload:
        assert row["community"] == code and row["city"] == "Changsha"
        assert row["service_minutes"] == minutes[row["month"]]
        assert {k: v for k, v in row["services"].items() if v} == services[row["month"]]
        assert row["services_total"] == sum(services[row["month"]].values())
        assert (row["retirees_managed"], row["full_time_staff"], row["staff"]) == (1, 1, 2)
        assert row["retirees_per_full_time_staff"] == 1
    assert (workload[0]["service_minutes"], workload[1]["service_minutes"]) == (90, 45)

    satisfaction = http.get("/v1/projections/satisfaction", params=window).json()["rows"]
    assert [(r["month"], r["service_type"], r["count"], r["mean"]) for r in satisfaction] == [
        ("2024-03", "health_check", 1, 2), ("2024-03", "home_visit", 1, 4), ("2024-04", "overall", 1, 5),
    ]
    assert satisfaction[0]["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0}
    home_visits = http.get("/v1/projections/satisfaction", params={**window, "service_type": "home_visit"}).json()
    assert [r["mean"] for r in home_visits["rows"]] == [4]

    pensions = http.get("/v1/projections/pensions", params={"community": code, "month_from": "2023-12",
                                                           "month_to": "2024-02"}).json()["rows"]
    assert [(r["month"], r["total_monthly_pension"], r["adjustments"], r["adjustments_sum"]) for r in pensions] == [
        ("2023-12", "2500.00", 0, "0.00"), ("2024-01", "2612.50", 1, "112.50"), ("2024-02", "2612.50", 0, "0.00"),
    ]
    adjustment = history[-1]["data"]
    assert Decimal(adjustment["new_amount"]) - Decimal(adjustment["previous_amount"]) == Decimal(
        pensions[1]["adjustments_sum"])
    assert Decimal(pensions[-1]["total_monthly_pension"]) == Decimal(now["monthly_pension"])

    assert http.get("/v1/projections/workload", params={**window, "city": "Changsha"}).json()["rows"] == workload
    assert http.get("/v1/projections/workload", params={**window, "city": "Zhuzhou"}).json()["rows"] == []
    views = http.get("/v1/projections/status").json()["views"]
    assert views and all(v["lag"] == 0 and v["position"] == v["head"] == head(http) for v in views)

    staff = http.get(f"/v1/communities/{code}").json()
    assert [(s["staff_id"], s["role"], s["active"]) for s in staff["staff"]] == [
        ("s1", "full_time", True), ("s2", "volunteer", True)]


def test_a_version_conflict_is_409_and_appends_nothing(http: httpx.Client) -> None:
    rid = managed_retiree(http, "CS-FR-002", "430105194801021111")
    before = head(http)
    stale = {**service("svc-a", "CS-FR-002", "home_visit", "2024-05-01", 30), "expected_version": 1}
    body = problem(http.post(f"/v1/retirees/{rid}/events", json=stale), 409, "version-conflict")
    assert "version" in body["detail"]
    assert head(http) == before
    assert http.get("/v1/log", params={"after": before}).json() == {"events": [], "next_after": before}
    assert http.get(f"/v1/retirees/{rid}").json()["services"] == {}


def test_a_replayed_idempotency_key_returns_the_first_result_and_appends_nothing(http: httpx.Client) -> None:
    rid = managed_retiree(http, "CS-TX-003", "430103194907083333")
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
    minutes = http.get("/v1/projections/workload", params={"community": "CS-TX-003", "month_from": "2024-05",
                                                           "month_to": "2024-05"}).json()["rows"][0]
    assert minutes["service_minutes"] == 40
    elsewhere = http.post("/v1/communities/CS-TX-003/events", json=staff_joined("s9"), headers=key)
    problem(elsewhere, 422, "idempotency-key-reused")
    enroll_key = {"Idempotency-Key": f"enroll-{uuid4()}"}
    one = created(http.post("/v1/retirees", json=retiree("430103195001014444"), headers=enroll_key))
    assert created(http.post("/v1/retirees", json=retiree("430103195001014444"), headers=enroll_key)) == one
    assert head(http) == one["seq"] + 1  # the enrollment and its identity claim, once


def test_concurrent_writers_to_one_stream(base_url: str, http: httpx.Client) -> None:
    rid = managed_retiree(http, "CS-YL-006", "430104195306067777")
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


def test_unknown_retiree_or_community_is_404(http: httpx.Client) -> None:
    unknown = uuid4()
    problem(http.get(f"/v1/retirees/{unknown}"), 404, "not-found")
    problem(http.get(f"/v1/retirees/{unknown}/history"), 404, "not-found")
    before = head(http)
    problem(http.post(f"/v1/retirees/{unknown}/events", json={"type": "deceased", "date_of_death": "2024-01-01",
                                                               "reported_by": "family"}), 404, "not-found")
    problem(http.get("/v1/communities/ZZ-NONE-404"), 404, "not-found")
    assert head(http) == before


def test_a_broken_rule_is_422_with_the_rule_in_type(http: httpx.Client) -> None:
    rid = managed_retiree(http, "CS-KF-004", "430105195202025555")
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
    rid = managed_retiree(http, "CS-YH-005", "430111195103036666")
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
                      headers={"content-type": "application/json"}), 422, "validation-error")
    huge = {**service("svc-e", "CS-YH-005", "home_visit", "2024-05-01", 30), "notes": "x" * (65 * 1024)}
    problem(http.post(url, json=huge), 413, "payload-too-large")

    def chunks() -> Any:
        yield b'{"type": "service_delivered", "notes": "'
        for _ in range(70):
            yield b"y" * 1024
        yield b'"}'

    problem(http.post(url, content=chunks(), headers={"content-type": "application/json"}), 413, "payload-too-large")
    problem(http.get(f"/v1/retirees/{rid}", params={"as_of": "2024-01-01", "version": 1}), 422, "invalid-input")
    problem(http.get("/v1/log", params={"limit": 5000}), 422, "validation-error")
    problem(http.get("/v1/projections/workload", params={"month_to": "2024-1"}), 422, "invalid-input")
    problem(http.get("/v1/no-such-thing"), 404, "not-found")
    assert head(http) == before


def test_openapi_documents_the_versioned_routes(http: httpx.Client) -> None:
    assert http.get("/docs").status_code == 200
    paths = set(http.get("/openapi.json").json()["paths"])
    assert {"/health", "/v1/communities", "/v1/communities/{code}/events", "/v1/retirees",
            "/v1/retirees/{retiree_id}/events", "/v1/retirees/{retiree_id}", "/v1/retirees/{retiree_id}/history",
            "/v1/log", "/v1/projections/workload", "/v1/projections/satisfaction", "/v1/projections/pensions",
            "/v1/projections/status"} <= paths
