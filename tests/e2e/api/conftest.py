"""The development-mode servers shared by the HTTP tests in this folder, and their request helpers.

``base_url`` starts ONE development-mode server (no tokens, every write recorded by ``dev``) per
backend, the embedded SQLite log and a real Kafka broker (marker ``kafka``), for the whole folder
(served with ``runtime.serving.HTTP_PROTOCOL``, so even a request uvicorn cannot parse is answered with a problem):
starting a server on Kafka is slow, so the tests of every router share it. Tests that share a
server must not collide: each one registers its own community codes and enrolls its own ID
numbers, and a check on the global log compares ``head()`` before and after (never an absolute
sequence number). Servers with tokens (the access matrix, schemathesis) are started by their own
modules with :func:`tests.e2e.conftest.serving`.

Every error is ``application/problem+json`` (:func:`problem`); a refused request appends nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from api.main import create_app
from runtime.serving import HTTP_PROTOCOL as HTTP
from tests.backends import BACKENDS
from tests.e2e.conftest import serving

PROBLEM = "application/problem+json"
PROBLEMS = "https://social-care-ledger.example/problems/"
BORN = "1950-05-06"
"""The birth date of every ``retiree`` body: give it an ID number made with ``tests.people.id_number(BORN, ...)``."""


@pytest.fixture(scope="package", params=BACKENDS)
def base_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A development-mode server on each backend: the embedded SQLite log, then a real Kafka broker."""
    extra: dict[str, str] = {}
    if request.param == "kafka":
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        name = f"e2e{uuid4().hex[:10]}"
        extra = {"LEDGER_LOG": f"kafka://{bootstrap}", "LEDGER_KAFKA_TOPIC": f"{name}.events", "LEDGER_NAME": name}
    home = tmp_path_factory.mktemp(f"e2e-{request.param}") / "home"
    with serving(create_app(dev_mode=True, host="127.0.0.1"), home, extra, http=HTTP) as server:
        yield server.url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


def community(code: str, city: str = "Changsha") -> dict[str, Any]:
    return {"code": code, "name": f"Community {code}", "city": city, "district": "Yuelu",
            "street": "Lushan Rd", "kind": "urban_community"}


def retiree(id_number: str, pension: str = "2500.00") -> dict[str, Any]:
    return {"name": "Zhang Wei", "id_number": id_number, "sex": "male", "birth_date": BORN,
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
