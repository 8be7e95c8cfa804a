"""Schemathesis against the OpenAPI schema of a real server with a populated ledger and valid tokens.

Every operation gets ``MAX_EXAMPLES`` generated requests per generation mode (valid and invalid
data), derandomized so CI runs the same cases each time. Each request carries a token that may
use the operation (agency of the subject's city, community managing the subject, auditor for the
log and audit, viewer for projections) and, for about half of the cases, the path names a real
retiree or community, so requests get past the 404s into the rules. For every case: no 5xx, the
response matches its documented schema, status and content type, and a refused request (4xx)
leaves the global sequence where it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import create_app
from api.schemas import CODE_PATTERN
from devtools.demo import generate
from ledger.application import Ledger
from ledger.config import Settings
from ledger.integrity.checkpoints import init_signing_key
from ledger.tokens import TokenStore
from tests.e2e.conftest import Server, serving

MAX_EXAMPLES = 50


def _operations() -> list[Any]:
    """(operation, mode) pairs from the app's own OpenAPI document (building it touches no file or socket);
    operations without parameters or body have nothing to make invalid, so no negative mode."""
    found = []
    for path, item in create_app().openapi()["paths"].items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            found.append(pytest.param(label, GenerationMode.POSITIVE, id=f"{label} positive"))
            if operation.get("parameters") or operation.get("requestBody"):
                found.append(pytest.param(label, GenerationMode.NEGATIVE, id=f"{label} negative"))
    return found

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
COMMUNITY_EVENTS = {"service_delivered", "satisfaction_rated", "eligibility_certified"}


@dataclass(frozen=True)
class Fuzzed:
    server: Server
    tokens: dict[str, str]
    retiree: str
    community: str


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """A demo ledger (20 retirees) with a signing key; the subject is a living retiree managed by a community."""
    home: Path = tmp_path_factory.mktemp("fuzz") / "home"
    settings_ = Settings(home=home)
    init_signing_key(settings_)
    ledger = Ledger(settings_)
    try:
        generate(ledger, retirees=20, seed=7)
        subject = next(
            retiree for retiree in (ledger.retiree(UUID(r.stream)) for r in _enrolled(ledger))
            if retiree.community is not None and retiree.stage == "community"
        )
    finally:
        ledger.close()
    store = TokenStore.of(settings_)
    tokens = {
        "agency": store.create("agency", f"city:{subject.city}")[0],
        "community": store.create("community", f"community:{subject.community}")[0],
        "auditor": store.create("auditor")[0],
        "viewer": store.create("viewer")[0],
    }
    with serving(create_app(), home) as server:
        yield Fuzzed(server, tokens, str(subject.id), str(subject.community))


def _enrolled(ledger: Ledger) -> Iterator[Any]:
    for record in ledger.iter_log():
        entry = ledger.entry(record)
        if entry.type == "Enrolled":
            yield entry


@pytest.fixture(scope="module")
def api_schema(fuzzed: Fuzzed) -> Any:
    return schemathesis.openapi.from_url(f"{fuzzed.server.url}/openapi.json")


def token_for(case: Any) -> str:
    path, method = case.operation.path, case.method.upper()
    if path.startswith(("/v1/log", "/v1/audit")):
        return "auditor"
    if path.startswith("/v1/projections"):
        return "viewer"
    if method == "POST" and path == "/v1/communities/{code}/events":
        return "community"
    body = case.body if isinstance(case.body, dict) else {}
    if method == "POST" and path == "/v1/retirees/{retiree_id}/events" and body.get("type") in COMMUNITY_EVENTS:
        return "community"
    return "agency"


def aim(case: Any, fuzzed: Fuzzed) -> None:
    """Points about half of the well-formed path parameters at the real subject (deterministically)."""
    params = case.path_parameters or {}
    retiree = params.get("retiree_id")
    if isinstance(retiree, str):
        try:
            if UUID(retiree).int % 2 == 0:
                params["retiree_id"] = fuzzed.retiree
        except ValueError:
            pass
    code = params.get("code")
    if isinstance(code, str) and re.fullmatch(CODE_PATTERN, code) and len(code) <= 64 and len(code) % 2 == 0:
        params["code"] = fuzzed.community


@pytest.mark.parametrize(("operation", "mode"), _operations())
def test_the_api_keeps_its_schema_and_refusals_append_nothing(
    operation: str, mode: GenerationMode, fuzzed: Fuzzed, api_schema: Any
) -> None:
    found = api_schema.find_operation_by_label(operation)
    assert found is not None, operation

    @given(case=found.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        aim(case, fuzzed)
        before = fuzzed.server.head()
        response = case.call(base_url=fuzzed.server.url,
                             headers={"Authorization": f"Bearer {fuzzed.tokens[token_for(case)]}"})
        case.validate_response(response, checks=CHECKS)
        if 400 <= response.status_code < 500:
            assert fuzzed.server.head() == before, f"{response.status_code} but the log grew"

    check()
