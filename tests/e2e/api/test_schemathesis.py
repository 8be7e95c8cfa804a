"""Schemathesis against the OpenAPI schema of a real server with a populated ledger and valid tokens.

Every operation gets ``MAX_EXAMPLES`` generated requests per generation mode (valid and invalid
data), derandomized so CI runs the same cases each time. Each request carries a token that may
use the operation (agency of the subject's city, community managing the subject, auditor for the
log and audit, viewer for projections) and, for about half of the cases, the path names a real
retiree or community, so requests get past the 404s into the rules. Every case runs ALL the checks
schemathesis has (``CHECKS``: no 5xx; status, content type, headers and body as documented; data
the schema allows is accepted and data it forbids refused; auth enforced ...), and a refused
request (4xx) leaves the global sequence where it was.

Two settings say what the OpenAPI document cannot: a refusal may also be 413 or 414 (documented on
every operation, but not in schemathesis' list for invalid data), and a schema-valid request may
still be refused with a 422 that judged what no JSON Schema can state (``beyond_the_schema``): a
domain rule or the ledger's clock (``rule/...``), the ledger's state or a relation between
parameters (``invalid-input``, ``idempotency-key-reused``), or the ID number's check character
and birth date (prose in the schema). A 422 ``validation-error`` for anything else is a mismatch.
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
from schemathesis.checks import CHECKS as REGISTERED
from schemathesis.checks import is_check_class, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.main import create_app
from api.schemas import CODE_PATTERN
from devtools.demo import generate
from ledger.application import Ledger
from ledger.config import Settings
from ledger.integrity.checkpoints import init_signing_key
from ledger.tokens import TokenStore
from runtime.serving import HTTP_PROTOCOL
from tests.e2e.api.conftest import PROBLEMS
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

load_all_checks()
CHECKS = [check for check in REGISTERED.get_all() if not is_check_class(check)]
"""Every check of the installed schemathesis (14 in 4.32; the stateful ones have nothing to look at here)."""
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "414", "415", "422", "428", "429", "5xx"]
CONFIG = {"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}}
PROSE_CHECKS = {"id_number_check", "id_number_birth_date"}
"""Validation errors of limits the schema states in prose only (``ledger.fields.IdNumber``)."""
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
    with serving(create_app(), home, http=HTTP_PROTOCOL) as server:  # as `ledger serve` runs it
        yield Fuzzed(server, tokens, str(subject.id), str(subject.community))


def _enrolled(ledger: Ledger) -> Iterator[Any]:
    for record in ledger.iter_log():
        entry = ledger.entry(record)
        if entry.type == "Enrolled":
            yield entry


@pytest.fixture(scope="module")
def api_schema(fuzzed: Fuzzed) -> Any:
    return schemathesis.openapi.from_url(f"{fuzzed.server.url}/openapi.json",
                                         config=SchemathesisConfig.from_dict(CONFIG))


def beyond_the_schema(response: Any) -> bool:
    """A 422 that judged what no JSON Schema can state (the module docstring says which)."""
    if response.status_code != 422:
        return False
    body = response.json()
    slug = str(body["type"]).removeprefix(PROBLEMS)
    if slug.startswith("rule/") or slug in ("invalid-input", "idempotency-key-reused"):
        return True
    return slug == "validation-error" and all(error["type"] in PROSE_CHECKS for error in body["errors"])


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
    """Points about half of the well-formed path parameters at the real subject (deterministically), and a
    ``Ledger-Min-Seq`` past the log's head at the head (a view would wait for it in vain)."""
    params = case.path_parameters or {}
    retiree = params.get("retiree_id")
    if isinstance(retiree, str):
        try:
            if UUID(retiree).int % 2 == 0:
                params["retiree_id"] = fuzzed.retiree
        except ValueError:
            pass
    seq = (case.headers or {}).get("Ledger-Min-Seq")
    if isinstance(seq, int | str) and str(seq).isdigit() and int(seq) > fuzzed.server.head():
        case.headers["Ledger-Min-Seq"] = str(fuzzed.server.head())  # a seq the log has not reached waits 2 s
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
        auth = {"Authorization": f"Bearer {fuzzed.tokens[token_for(case)]}"}
        case.headers = {**(case.headers or {}), **auth}  # a negative case never loses its token
        before = fuzzed.server.head()
        response = case.call(base_url=fuzzed.server.url)
        excluded = [positive_data_acceptance] if beyond_the_schema(response) else []
        case.validate_response(response, checks=CHECKS, excluded_checks=excluded, headers=auth)
        if 400 <= response.status_code < 500:
            assert fuzzed.server.head() == before, f"{response.status_code} but the log grew"

    check()
