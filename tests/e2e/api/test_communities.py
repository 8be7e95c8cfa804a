"""``/v1/communities`` over real HTTP (api/routers/communities.py), on the shared development-mode servers.

Registering a community, its staff events and its read are also walked in test_journey.py (staff
roles and activity) and set up by ``managed_retiree`` for the retiree tests; the access rules of
every community endpoint are in test_access_matrix.py.
"""

from __future__ import annotations

import httpx

from tests.e2e.api.conftest import head, problem


def test_an_unknown_community_is_404(http: httpx.Client) -> None:
    before = head(http)
    problem(http.get("/v1/communities/ZZ-NONE-404"), 404, "not-found")
    assert head(http) == before
