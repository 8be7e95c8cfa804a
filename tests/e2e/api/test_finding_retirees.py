"""Finding retirees over real HTTP: ``GET /v1/retirees`` (the directory) and ``POST /v1/retirees/lookup``.

On the shared development-mode servers (the dev caller lists every retiree); scope per role is in
tests/e2e/api/test_access_matrix.py. Each test uses its own community codes and ID numbers.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.api.conftest import BORN, community, created, managed_retiree, problem, retiree
from tests.people import id_number


def _pages(http: httpx.Client, limit: int, **params: str) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        response = http.get("/v1/retirees", params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["lag"] == 0 and int(response.headers["Ledger-Lag"]) == 0
        pages.append(body["retirees"])
        cursor = body["next"]
        if cursor is None:
            return pages


def _placed(http: httpx.Client, code: str, number: str) -> str:
    rid = str(created(http.post("/v1/retirees", json=retiree(number)))["id"])
    transfer = {"type": "transferred_to_community", "from_danwei": "HN-RAIL-02", "community": code,
                "effective_date": "2011-01-01", "approved_by": "agency officer"}
    created(http.post(f"/v1/retirees/{rid}/events", json=transfer))
    return rid


def test_the_directory_pages_through_a_community_and_reflects_the_last_write(http: httpx.Client) -> None:
    code = "CS-DIR-001"
    first = managed_retiree(http, code, id_number(BORN, 1, "430181"))
    ids = sorted([first, *(_placed(http, code, id_number(BORN, n, "430181")) for n in range(2, 6))])
    pages = _pages(http, 2, community=code)
    assert [len(page) for page in pages] == [2, 2, 1]
    flat = [row for page in pages for row in page]
    assert [row["retiree_id"] for row in flat] == ids  # every retiree once, in id order
    assert flat[0] == {"retiree_id": ids[0], "city": "Changsha", "district": "Yuelu", "community": code,
                       "stage": "community", "pension_status": "active", "enrolled": "2010-05-06"}
    death = {"type": "deceased", "date_of_death": "2024-01-05", "reported_by": "family"}
    created(http.post(f"/v1/retirees/{ids[0]}/events", json=death))
    rows = http.get("/v1/retirees", params={"community": code, "stage": "deceased"}).json()["retirees"]
    assert [(row["retiree_id"], row["pension_status"]) for row in rows] == [(ids[0], "ended")]  # no wait needed
    living = http.get("/v1/retirees", params={"community": code, "stage": "community", "city": "Changsha"})
    assert [row["retiree_id"] for row in living.json()["retirees"]] == ids[1:]
    assert http.get("/v1/retirees", params={"community": code, "city": "Zhuzhou"}).json() == {
        "retirees": [], "next": None, "position": http.get("/health").json()["head"], "lag": 0}


@pytest.mark.parametrize("params", [
    {"stage": "retired"}, {"pension_status": "paused"}, {"limit": 0}, {"limit": 1001}, {"cursor": "not-a-uuid"},
    {"cursor": "3F2504E0-4F89-11D3-9A0C-0305E82C3301"}, {"community": "bad code!"},
])
def test_bad_parameters_are_422(http: httpx.Client, params: dict[str, Any]) -> None:
    problem(http.get("/v1/retirees", params=params), 422, "validation-error")


def test_lookup_by_id_number_in_the_body(http: httpx.Client) -> None:
    created(http.post("/v1/communities", json=community("CS-DIR-002")))
    number = id_number(BORN, 7, "430182")
    rid = _placed(http, "CS-DIR-002", number)
    found = http.post("/v1/retirees/lookup", json={"id_number": number})
    assert found.status_code == 200 and found.json() == {"retiree_id": rid}
    assert http.post("/v1/retirees/lookup", json={"id_number": " " + number.lower() + " "}).json() == {
        "retiree_id": rid}  # normalised as at enrolment
    missing = problem(http.post("/v1/retirees/lookup", json={"id_number": id_number(BORN, 8, "430182")}), 404,
                      "not-found")
    assert number not in str(missing)
    bad = problem(http.post("/v1/retirees/lookup", json={"id_number": number[:-1] + "0" if number[-1] != "0"
                                                          else number[:-1] + "1"}), 422, "validation-error")
    assert number[:17] not in str(bad)  # errors never quote the number
    problem(http.post("/v1/retirees/lookup", json={"id_number": number, "name": "Zhang Wei"}), 422, "validation-error")
    assert http.get("/v1/retirees/lookup").status_code in (404, 405, 422)  # never a GET with the number in the URL
