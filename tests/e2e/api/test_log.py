"""``/v1/log`` over real HTTP (api/routers/log.py), on the shared development-mode servers.

The hash chain and paging of the whole log are checked in test_journey.py, the log after a refused
write in test_retirees.py; who may read the log (the auditor) in test_access_matrix.py.
"""

from __future__ import annotations

import httpx

from tests.e2e.api.conftest import head, problem


def test_a_log_page_over_the_limit_is_422(http: httpx.Client) -> None:
    before = head(http)
    problem(http.get("/v1/log", params={"limit": 5000}), 422, "validation-error")
    assert head(http) == before
