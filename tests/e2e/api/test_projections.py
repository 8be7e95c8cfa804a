"""``/v1/projections`` over real HTTP (api/routers/projections.py), on the shared development-mode servers.

The workload, satisfaction and pension figures against a retiree's history, and the views' lag,
are checked in test_journey.py; the workload after idempotent replays and concurrent writes in
test_retirees.py.
"""

from __future__ import annotations

import httpx

from tests.e2e.api.conftest import head, problem


def test_a_malformed_month_is_422(http: httpx.Client) -> None:
    before = head(http)
    problem(http.get("/v1/projections/workload", params={"month_to": "2024-1"}), 422, "validation-error")  # pattern
    problem(http.get("/v1/projections/workload", params={"month_from": "2024-05", "month_to": "2024-04"}), 422,
            "invalid-input")
    assert head(http) == before


def test_a_service_type_on_a_view_without_service_types_is_refused_not_ignored(http: httpx.Client) -> None:
    for view in ("workload", "pensions", "standards", "compliance", "training", "funding"):
        problem(http.get(f"/v1/projections/{view}", params={"service_type": "home_visit"}), 422, "invalid-input")
    assert http.get("/v1/projections/satisfaction", params={"service_type": "home_visit"}).status_code == 200
    schema = http.get("/openapi.json").json()["paths"]
    assert "service_type" not in {p["name"] for p in schema["/v1/projections/workload"]["get"]["parameters"]}
    assert "service_type" in {p["name"] for p in schema["/v1/projections/satisfaction"]["get"]["parameters"]}
