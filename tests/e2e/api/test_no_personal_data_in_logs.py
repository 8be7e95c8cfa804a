"""The service's own output (uvicorn access and error logs, the app's loggers) carries no names or ID numbers.

A real server runs as a subprocess (``python -m uvicorn api.main:create_app --factory``, access
log on, ``LEDGER_HOME`` set) over a demo ledger, and everything it prints is captured. The flow
enrolls people, reads their histories, and provokes every kind of refusal with personal data in
the request: rule violations, schema violations that would quote the input, 401 and 403 with
personal bodies, an oversized body, ID numbers in a query string, in a path and in a header. Then
none of the demo's or the flow's names and ID numbers may appear in the output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx
import orjson
import pytest

from devtools.demo import generate
from ledger.application import Ledger
from ledger.config import Settings
from ledger.tokens import TokenStore
from tests.e2e.conftest import free_port
from tests.people import id_number as id_number_of

ROOT = Path(__file__).resolve().parents[3]
BORN = "1948-05-06"
NEW_PEOPLE = [("刘晓明", id_number_of(BORN, 123)), ("Chen Xiuying", id_number_of(BORN, 222, "430104"))]
STAFF_NAME = "欧阳春花"


@dataclass(frozen=True)
class Service:
    url: str
    output: Path
    tokens: dict[str, str]
    personal: frozenset[str]
    retiree: str
    community: str
    city: str


def _personal_values(ledger: Ledger) -> tuple[set[str], Any]:
    """Every name and ID number in the demo ledger, and one community-managed retiree."""
    values: set[str] = set()
    subject = None
    for record in ledger.iter_log():
        entry = ledger.entry(record)
        if entry.type in ("Enrolled", "StaffJoined"):
            values.add(entry.data["name"])
            values.update([entry.data["id_number"]] if entry.type == "Enrolled" else [])
        if entry.type == "TransferredToCommunity" and subject is None:
            subject = ledger.retiree(UUID(str(record.originator_id)))
    return values, subject


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    home = tmp_path_factory.mktemp("logs") / "home"
    settings = Settings(home=home)
    ledger = Ledger(settings)
    try:
        generate(ledger, retirees=12, seed=3)
        personal, subject = _personal_values(ledger)
    finally:
        ledger.close()
    assert subject is not None and len(personal) > 20
    store = TokenStore.of(settings)
    tokens = {
        "agency": store.create("agency", f"city:{subject.city}")[0],
        "community": store.create("community", f"community:{subject.community}")[0],
        "auditor": store.create("auditor")[0],
        "outsider": store.create("agency", "city:Nowhere")[0],
    }
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("LEDGER_")}
    env |= {"LEDGER_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    output = home.parent / "server.log"
    command = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "debug", "--access-log"]
    with output.open("wb") as sink:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_until_up(url, server)
            people = frozenset(personal | {value for person in NEW_PEOPLE for value in person} | {STAFF_NAME})
            yield Service(url, output, tokens, people, str(subject.id), str(subject.community), str(subject.city))
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail("the server exited during start-up")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("the server did not answer /health within 60 s")


def enrollment(name: str, id_number: str, city: str) -> dict[str, Any]:
    return {"name": name, "id_number": id_number, "sex": "female", "birth_date": BORN,
            "danwei_code": "HN-TEX-01", "danwei_name": "Hunan Textile Mill", "retirement_date": "2003-05-06",
            "monthly_pension": "2300.00", "agency": "CS-SIA", "city": city, "district": "Yuelu"}


def drive(s: Service) -> list[int]:
    """The e2e flow; returns the statuses seen (so the test can tell the flow really ran)."""
    statuses: list[int] = []
    auth = {name: {"Authorization": f"Bearer {token}"} for name, token in s.tokens.items()}
    with httpx.Client(base_url=s.url, timeout=30) as http:

        def call(method: str, path: str, who: str | None, **kwargs: Any) -> httpx.Response:
            headers = {**(auth[who] if who else {}), **kwargs.pop("headers", {})}
            response = http.request(method, path, headers=headers, **kwargs)
            statuses.append(response.status_code)
            return response

        ids = []
        for name, id_number in NEW_PEOPLE:
            body = enrollment(name, id_number, s.city)
            created = call("POST", "/v1/retirees", "agency", json=body, headers={"Idempotency-Key": id_number})
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
            assert call("POST", "/v1/retirees", "agency", json=body).status_code == 422  # one enrollment per ID
            assert call("POST", "/v1/retirees", "outsider", json=body).status_code == 403
            assert call("POST", "/v1/retirees", None, json=body).status_code == 401
            bad = {**body, "id_number": name, "sex": id_number, "name": name * 40, "city": id_number * 4}
            assert call("POST", "/v1/retirees", "agency", json=bad).status_code == 422
            assert call("POST", "/v1/retirees", "agency", json={**body, "notes": name * 30000}).status_code == 413
            assert call("GET", f"/v1/retirees/{id_number}", "agency").status_code == 422
            query = {"as_of": "2024-01-01", "id_number": id_number, "name": name}
            assert call("GET", f"/v1/retirees/{ids[-1]}", "agency", params=query).status_code == 200
        staff = {"type": "staff_joined", "staff_id": "log-s1", "name": STAFF_NAME, "role": "volunteer",
                 "qualified_social_worker": False, "joined_on": "2020-01-01"}
        assert call("POST", f"/v1/communities/{s.community}/events", "community", json=staff).status_code == 201
        assert call("POST", f"/v1/communities/{s.community}/events", "community", json=staff).status_code == 422
        assert call("POST", f"/v1/communities/{s.community}/events", "agency", json=staff).status_code == 403
        for who in ("agency", "community", "auditor"):
            assert call("GET", f"/v1/retirees/{s.retiree}/history", who).status_code == 200
            assert call("GET", f"/v1/communities/{s.community}", who).status_code in (200, 403)
        assert call("GET", "/v1/log?limit=1000", "auditor").status_code == 200
        assert call("GET", "/v1/projections/workload", "auditor").status_code == 200
    return statuses


def test_the_service_log_names_no_one(service: Service) -> None:
    statuses = drive(service)
    assert {200, 201, 401, 403, 413, 422} <= set(statuses)
    time.sleep(0.5)  # let the access log lines of the last requests be written
    text = service.output.read_text(encoding="utf-8", errors="replace")
    text += "\n" + "\n".join(_messages(text))  # log lines are JSON objects (api.request_log): read them too
    assert "Application startup complete" in text, "the server's output was not captured"
    logged = '"POST /v1/retirees HTTP/1.1" 201' in text and '"POST /v1/retirees HTTP/1.1" 422' in text
    cut = "?..." in text  # the query string with an ID number and a name was cut from the access log
    assert logged and cut, "the access log is off or shows query strings"  # (never print the log itself)
    leaked = sorted(v for v in service.personal if v in text or quote(v) in text)
    assert leaked == [], f"{len(leaked)} names or ID numbers in the service's output"


def _messages(text: str) -> list[str]:
    """The ``message`` of every JSON log line in ``text``."""
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                found.append(str(orjson.loads(line).get("message", "")))
            except orjson.JSONDecodeError:
                continue
    return found
