"""The OpenAPI document and the route table over real HTTP, on the shared development-mode servers.

Every documented operation is fuzzed against its schema in test_schemathesis.py; the access matrix
(test_access_matrix.py) checks that its tables cover every endpoint.
"""

from __future__ import annotations

import httpx

from tests.e2e.api.conftest import head, problem


def test_openapi_documents_the_versioned_routes(http: httpx.Client) -> None:
    assert http.get("/docs").status_code == 200
    paths = set(http.get("/openapi.json").json()["paths"])
    assert {"/health", "/v1/communities", "/v1/communities/{code}/events", "/v1/retirees",
            "/v1/retirees/{retiree_id}/events", "/v1/retirees/{retiree_id}", "/v1/retirees/{retiree_id}/history",
            "/v1/log", "/v1/projections/workload", "/v1/projections/satisfaction", "/v1/projections/pensions",
            "/v1/projections/status"} <= paths


def test_an_unknown_route_is_404(http: httpx.Client) -> None:
    before = head(http)
    problem(http.get("/v1/no-such-thing"), 404, "not-found")
    assert head(http) == before
