"""``GET /v1/retirees/{id}/history?after_version=&limit=``: pages of the history as a JSON list of
events, the next one named by an RFC 8288 ``Link`` header until the last page, on every backend."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from bench.workload import populate, service
from ledger.application import Ledger
from ledger.config import Settings
from runtime.bootstrap import Services
from tests.backends import backend_settings  # noqa: F401  (fixture)

LOCAL = "http://127.0.0.1"
EVENTS = 12  # enrollment, transfer and 10 services
NEXT = re.compile(r'^<(/v1/retirees/[0-9a-f-]{36}/history\?after_version=(\d+)&limit=(\d+))>; rel="next"$')


@contextmanager
def served(settings: Settings) -> Iterator[tuple[TestClient, Ledger]]:
    app = create_app(settings, dev_mode=True)
    with TestClient(app, base_url=LOCAL) as client:
        services: Services = app.state.services
        yield client, services.ledger


@pytest.fixture
def client(backend_settings: Settings) -> Iterator[tuple[TestClient, Ledger]]:  # noqa: F811
    with served(backend_settings) as both:
        yield both


def long_retiree(ledger: Ledger, events: int = EVENTS) -> UUID:
    (rid,) = populate(ledger, 1)
    for n in range(events - 2):
        ledger.handle(service(rid, n))
    return rid


def follow(client: TestClient, url: str, **params: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Every event from ``url`` on, following ``Link: rel="next"``; and the links followed."""
    events: list[dict[str, Any]] = []
    links: list[str] = []
    answer = client.get(url, params=params)
    while True:
        assert answer.status_code == 200, answer.text
        events += answer.json()
        if "link" not in answer.headers:
            return events, links
        match = NEXT.match(answer.headers["link"])
        assert match is not None, answer.headers["link"]
        assert (int(match[2]), int(match[3])) == (answer.json()[-1]["version"], params.get("limit", 100))
        links.append(match[1])
        answer = client.get(match[1])


@pytest.mark.parametrize("limit", [1, 5, 6, 12, 1000])
def test_following_the_links_gives_the_whole_history(client: tuple[TestClient, Ledger], limit: int) -> None:
    http, ledger = client
    rid = long_retiree(ledger)
    whole = http.get(f"/v1/retirees/{rid}/history", params={"limit": 1000})
    assert "link" not in whole.headers
    assert [e["version"] for e in whole.json()] == list(range(1, EVENTS + 1))
    events, links = follow(http, f"/v1/retirees/{rid}/history", limit=limit)
    assert events == whole.json()
    assert len(links) == (EVENTS - 1) // limit  # no link after the last page, even when it is full


def test_the_default_page_is_a_hundred_events(client: tuple[TestClient, Ledger]) -> None:
    http, ledger = client
    rid = long_retiree(ledger, 102)
    first = http.get(f"/v1/retirees/{rid}/history")
    assert len(first.json()) == 100
    assert first.headers["link"] == f'</v1/retirees/{rid}/history?after_version=100&limit=100>; rel="next"'
    last = http.get(f"/v1/retirees/{rid}/history", params={"after_version": 100})
    assert [e["version"] for e in last.json()] == [101, 102] and "link" not in last.headers


def test_past_the_last_version_the_list_is_empty_until_an_event_is_appended(
    client: tuple[TestClient, Ledger],
) -> None:
    http, ledger = client
    rid = long_retiree(ledger)
    path = f"/v1/retirees/{rid}/history"
    assert len(http.get(path).json()) == EVENTS  # now cached
    for after in (EVENTS, 10**9):
        answer = http.get(path, params={"after_version": after, "limit": 5})
        assert (answer.status_code, answer.json(), "link" in answer.headers) == (200, [], False)
    ledger.handle(service(rid, 100))
    newest = http.get(path, params={"after_version": EVENTS}).json()
    assert [(e["version"], e["type"]) for e in newest] == [(EVENTS + 1, "ServiceDelivered")]
    assert http.get(path).json()[-1] == newest[0]


@pytest.mark.parametrize(("name", "value"), [
    ("limit", "0"), ("limit", "1001"), ("limit", "-1"), ("limit", "ten"), ("limit", "1e2"), ("limit", "\u0665"),
    ("after_version", "-1"), ("after_version", "x"), ("after_version", str(10**9 + 1)),
])
def test_out_of_bounds_paging_is_a_validation_problem(settings: Settings, name: str, value: str) -> None:
    with served(settings) as (http, ledger):
        rid = long_retiree(ledger, 3)
        answer = http.get(f"/v1/retirees/{rid}/history", params={name: value})
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"


def test_an_unknown_retiree_is_not_found_on_every_page(settings: Settings) -> None:
    with served(settings) as (http, _):
        answer = http.get(f"/v1/retirees/{uuid4()}/history", params={"after_version": 5, "limit": 2})
        assert answer.status_code == 404


def test_paging_works_with_the_cache_switched_off(settings: Settings) -> None:
    with served(replace(settings, history_cache=0)) as (http, ledger):
        assert ledger.history_cache.max_entries == 0
        rid = long_retiree(ledger)
        events, links = follow(http, f"/v1/retirees/{rid}/history", limit=5)
        assert [e["version"] for e in events] == list(range(1, EVENTS + 1)) and len(links) == 2


def test_the_paging_is_documented(settings: Settings) -> None:
    with served(settings) as (http, _):
        operation = http.get("/openapi.json").json()["paths"]["/v1/retirees/{retiree_id}/history"]["get"]
        parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
        limit, after = parameters["limit"], parameters["after_version"]
        assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 1000, 100)
        assert (after["minimum"], after["default"]) == (0, 0)
        assert "Link" in operation["responses"]["200"]["headers"]
        assert 'rel="next"' in operation["description"]
