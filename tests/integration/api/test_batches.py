"""``POST /v1/batches``: each item judged as on its own endpoint, answered by index, saved together."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.errors import PROBLEM_BASE
from api.main import create_app
from ledger.config import Settings
from ledger.tokens import TokenStore
from tests.integration.api.test_app import COMMUNITY, LOCAL
from tests.people import id_number

RETIREE = {"type": "enrolled", "name": "Wang Fang", "sex": "female", "birth_date": "1950-03-01",
           "danwei_code": "D-1", "danwei_name": "Mill", "retirement_date": "2005-03-01", "monthly_pension": "2000.00",
           "agency": "ZZ-SIA", "city": "Zhuzhou", "district": "Hetang"}


def enrolled(sequence: int, city: str = "Zhuzhou") -> dict[str, Any]:
    return {**RETIREE, "id_number": id_number("1950-03-01", sequence), "city": city}


def adjusted(retiree: str, previous: str, new: str, month: str = "2024-01") -> dict[str, Any]:
    return {"type": "pension_adjusted", "retiree_id": retiree, "previous_amount": previous, "new_amount": new,
            "effective_month": month, "reason": "annual_adjustment"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        yield client


def test_items_are_decided_in_order_and_answered_by_index(client: TestClient) -> None:
    response = client.post("/v1/batches", json=[
        {**COMMUNITY, "type": "registered"}, enrolled(1), adjusted("@1", "2000.00", "2100.00"),
        adjusted("@1", "2000.00", "2200.00", "2025-01"),  # the previous amount is 2100 by now: a broken rule
        adjusted("@1", "2100.00", "2200.00", "2025-01"), adjusted("@9", "1.00", "2.00")])  # no item 9 before
    assert response.status_code == 200
    body = response.json()
    assert (body["appended"], body["replayed"], body["failed"]) == (4, 0, 2)
    results = body["results"]
    assert [r["status"] for r in results] == [201, 201, 201, 422, 201, 422]
    assert results[3]["problem"]["type"] == PROBLEM_BASE + "rule/previous_amount_must_match"
    assert results[5]["problem"]["type"] == PROBLEM_BASE + "invalid-input"
    retiree = results[1]["id"]
    assert [r["id"] for r in results[2:5:2]] == [retiree, retiree]
    assert client.get(f"/v1/retirees/{retiree}").json()["monthly_pension"] == "2200.00"
    history = client.get(f"/v1/retirees/{retiree}/history").json()
    assert [e["seq"] for e in history] == [results[i]["seq"] for i in (1, 2, 4)]
    head = client.get("/health").json()["head"]
    assert {v["position"] for v in client.get("/v1/projections/status").json()["views"]} == {head}  # caught up


def test_an_item_off_its_schema_refuses_the_whole_batch_and_names_the_item(client: TestClient) -> None:
    response = client.post("/v1/batches", json=[enrolled(1), {"type": "pension_adjusted"}, {"type": "no_such"}])
    assert (response.status_code, response.json()["type"]) == (422, PROBLEM_BASE + "validation-error")
    assert {tuple(e["loc"][:2]) for e in response.json()["errors"]} == {("body", 1), ("body", 2)}
    assert client.get("/health").json()["head"] == 0


def test_ndjson_bodies_are_read_line_by_line(client: TestClient) -> None:
    lines = b"\n".join(orjson.dumps(item) for item in (enrolled(1), enrolled(2))) + b"\n\n"
    response = client.post("/v1/batches", content=lines, headers={"Content-Type": "application/x-ndjson"})
    assert [r["status"] for r in response.json()["results"]] == [201, 201]


@pytest.mark.parametrize(("content", "content_type", "status", "detail"), [
    (b'{"type": "enrolled"}', "application/json", 400, "JSON array"),
    (b"[]", "application/json", 400, "at least one"),
    (b"[{]", "application/json", 400, "malformed JSON at byte"),
    (b'{"a": 1}\n{', "application/x-ndjson", 400, "line 2"),
    (b"[{}]", "text/csv", 415, "application/x-ndjson"),
    (b"[" + b",".join([b"{}"] * 10_001) + b"]", "application/json", 413, "at most 10000"),
])
def test_a_malformed_batch_is_refused_whole(
    client: TestClient, content: bytes, content_type: str, status: int, detail: str
) -> None:
    response = client.post("/v1/batches", content=content, headers={"Content-Type": content_type})
    assert (response.status_code, response.headers["content-type"]) == (status, "application/problem+json")
    assert detail in response.json()["detail"]
    assert client.get("/health").json()["head"] == 0


def test_a_batch_repeated_with_its_idempotency_key_appends_nothing(client: TestClient) -> None:
    batch = [enrolled(1), adjusted("@0", "2000.00", "2100.00")]
    first = client.post("/v1/batches", json=batch, headers={"Idempotency-Key": "annual-2024"}).json()
    head = client.get("/health").json()["head"]
    again = client.post("/v1/batches", json=batch, headers={"Idempotency-Key": "annual-2024"}).json()
    assert client.get("/health").json()["head"] == head
    assert (again["appended"], again["replayed"]) == (0, 2)
    assert [(r["id"], r["seq"]) for r in again["results"]] == [(r["id"], r["seq"]) for r in first["results"]]
    changed = client.post("/v1/batches", json=[enrolled(1), adjusted(first["results"][0]["id"], "2100.00",
                                                                      "2300.00")],
                          headers={"Idempotency-Key": "annual-2024"}).json()
    assert changed["results"][1]["problem"]["type"] == PROBLEM_BASE + "idempotency-key-reused"
    assert client.get("/health").json()["head"] == head


def test_every_item_is_checked_against_the_callers_role_and_scope(settings: Settings) -> None:
    token, _ = TokenStore.of(settings).create("agency", "city:Zhuzhou")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        results = client.post("/v1/batches", json=[enrolled(1), enrolled(2, city="Changsha")], headers=auth).json()
        assert [r["status"] for r in results["results"]] == [201, 403]
        assert client.post("/v1/batches", json=[enrolled(3)]).status_code == 401
        viewer, _ = TokenStore.of(settings).create("auditor", "all")
        denied = client.post("/v1/batches", json=[enrolled(3)], headers={"Authorization": f"Bearer {viewer}"})
        assert denied.status_code == 403
        assert client.get("/health").json()["head"] == 2  # the Zhuzhou retiree and its identity claim
