"""Role x endpoint: every write and read endpoint for every caller, inside and outside its scope, over HTTP.

The callers (tests/e2e/conftest.py): agencies of Changsha and of Zhuzhou, the communities
CS-YL-001 ("own": it manages the subjects) and CS-FR-002 ("other", also in Changsha), an auditor,
a viewer, and three callers without a valid token (none, a garbage token, a revoked one). The
expected statuses are written out below, one row per case, not computed from ``ledger.access``.
A write that is refused appends nothing; one that is accepted records the caller's principal.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.main import create_app
from ledger.config import Settings
from ledger.integrity.checkpoints import init_signing_key
from tests.e2e.conftest import Server, Tokens, make_tokens, serving
from tests.people import id_number

CALLERS = ("agency_cs", "agency_zz", "community_own", "community_other", "auditor", "viewer", "none", "garbage",
           "revoked")
PROBLEMS = "https://social-care-ledger.example/problems/"
_numbers = itertools.count(1)

# ---- the expected statuses ----------------------------------------------------------------------------
#                                  agency     agency     community  community
#                                  Changsha   Zhuzhou    own        other      auditor  viewer  none  garbage revoked
WRITES: dict[str, tuple[int, ...]] = {
    "register_community_changsha": (201,      403,       403,       403,       403,     403,    401,  401,    401),
    "register_community_zhuzhou":  (403,      201,       403,       403,       403,     403,    401,  401,    401),
    "enroll_in_changsha":          (201,      403,       403,       403,       403,     403,    401,  401,    401),
    "transfer_within_changsha":    (201,      403,       403,       403,       403,     403,    401,  401,    401),
    "transfer_to_zhuzhou":         (403,      403,       403,       403,       403,     403,    401,  401,    401),
    "relocate":                    (201,      403,       403,       403,       403,     403,    401,  401,    401),
    "adjust_pension":              (201,      403,       403,       403,       403,     403,    401,  401,    401),
    "suspend_pension":             (201,      403,       403,       403,       403,     403,    401,  401,    401),
    "resume_pension":              (201,      403,       403,       403,       403,     403,    401,  401,    401),
    "record_death":                (201,      403,       403,       403,       403,     403,    401,  401,    401),
    "deliver_service":             (403,      403,       201,       403,       403,     403,    401,  401,    401),
    "deliver_service_after_move":  (403,      403,       403,       201,       403,     403,    401,  401,    401),
    "rate_satisfaction":           (403,      403,       201,       403,       403,     403,    401,  401,    401),
    "certify_eligibility":         (403,      403,       201,       403,       403,     403,    401,  401,    401),
    "staff_joined":                (403,      403,       201,       403,       403,     403,    401,  401,    401),
    "staff_left":                  (403,      403,       201,       403,       403,     403,    401,  401,    401),
    "staff_trained":               (403,      403,       201,       403,       403,     403,    401,  401,    401),
    "enrolled_in_course":          (403,      403,       201,       403,       403,     403,    401,  401,    401),
    "course_completed":            (403,      403,       201,       403,       403,     403,    401,  401,    401),
    "qualification_obtained":      (403,      403,       201,       403,       403,     403,    401,  401,    401),
    "facility_recorded":           (403,      403,       201,       403,       403,     403,    401,  401,    401),
    "standard_adopted_changsha":   (201,      403,       403,       403,       403,     403,    401,  401,    401),
    "standard_revised_changsha":   (201,      403,       403,       403,       403,     403,    401,  401,    401),
    "standard_retired_changsha":   (201,      403,       403,       403,       403,     403,    401,  401,    401),
    "course_offered_zhuzhou":      (403,      201,       403,       403,       403,     403,    401,  401,    401),
    "funding_allocated_changsha":  (201,      403,       403,       403,       403,     403,    401,  401,    401),
    # inside the Changsha agency's scope, but the community lies in Zhuzhou: a broken rule, not a denial
    "funding_to_zhuzhou":          (422,      403,       403,       403,       403,     403,    401,  401,    401),
}
READS: dict[str, tuple[int, ...]] = {
    "retiree":                     (200,      403,       200,       403,       200,     403,    401,  401,    401),
    "retiree_as_of":               (200,      403,       200,       403,       200,     403,    401,  401,    401),
    "retiree_at_version":          (200,      403,       200,       403,       200,     403,    401,  401,    401),
    "retiree_history":             (200,      403,       200,       403,       200,     403,    401,  401,    401),
    "moved_retiree":               (200,      403,       403,       200,       200,     403,    401,  401,    401),
    "moved_retiree_history":       (200,      403,       403,       200,       200,     403,    401,  401,    401),
    "community":                   (200,      403,       200,       403,       200,     403,    401,  401,    401),
    "community_history":           (200,      403,       200,       403,       200,     403,    401,  401,    401),
    "zhuzhou_community":           (403,      200,       403,       403,       200,     403,    401,  401,    401),
    "log":                         (403,      403,       403,       403,       200,     403,    401,  401,    401),
    "workload":                    (200,      200,       200,       200,       200,     200,    401,  401,    401),
    "satisfaction":                (200,      200,       200,       200,       200,     200,    401,  401,    401),
    "pensions":                    (200,      200,       200,       200,       200,     200,    401,  401,    401),
    "standards":                   (200,      200,       200,       200,       200,     200,    401,  401,    401),
    "compliance":                  (200,      200,       200,       200,       200,     200,    401,  401,    401),
    "training":                    (200,      200,       200,       200,       200,     200,    401,  401,    401),
    "funding":                     (200,      200,       200,       200,       200,     200,    401,  401,    401),
    "retirees":                    (200,      200,       200,       200,       200,     200,    401,  401,    401),
    "agency":                      (200,      200,       200,       200,       200,     403,    401,  401,    401),
    "agency_history":              (200,      200,       200,       200,       200,     403,    401,  401,    401),
    "projections_status":          (200,      200,       200,       200,       200,     200,    401,  401,    401),
    "audit_checkpoints":           (403,      403,       403,       403,       200,     403,    401,  401,    401),
    # the served ledger has no signing key: nothing is signed, so an auditor gets 404 there
    "audit_latest_checkpoint":     (403,      403,       403,       403,       404,     403,    401,  401,    401),
    "audit_checkpoint_note":       (403,      403,       403,       403,       404,     403,    401,  401,    401),
    "audit_verify":                (403,      403,       403,       403,       200,     403,    401,  401,    401),
    "audit_tree_head":             (403,      403,       403,       403,       200,     403,    401,  401,    401),
    "audit_inclusion":             (403,      403,       403,       403,       200,     403,    401,  401,    401),
    "audit_consistency":           (403,      403,       403,       403,       200,     403,    401,  401,    401),
    "audit_public_key":            (200,      200,       200,       200,       200,     200,    200,  200,    200),
    "health":                      (200,      200,       200,       200,       200,     200,    200,  200,    200),
    "metrics":                     (200,      200,       200,       200,       200,     200,    200,  200,    200),
    "openapi":                     (200,      200,       200,       200,       200,     200,    200,  200,    200),
    "sheet_export":                (200,      200,       200,       200,       200,     200,    401,  401,    401),
}


# ---- the world ----------------------------------------------------------------------------------------


@dataclass
class World:
    """A secured server with communities CS-YL-001 (staff s1) and CS-FR-002 (staff t1) in Changsha,
    ZZ-HT-001 in Zhuzhou, a retiree managed by CS-YL-001 and one who moved from there to CS-FR-002."""

    server: Server
    http: httpx.Client
    tokens: Tokens
    subject: str = ""
    moved: str = ""

    def post(self, caller: str, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, json=body, headers=self.tokens.headers(caller))

    def ok(self, caller: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(caller, path, body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def enrolled(self) -> str:
        return str(self.ok("agency_cs", "/v1/retirees", enrollment())["id"])

    def managed(self, code: str = "CS-YL-001") -> str:
        retiree = self.enrolled()
        self.ok("agency_cs", f"/v1/retirees/{retiree}/events", transfer(code))
        return retiree

    def moved_away(self) -> str:
        retiree = self.managed()
        self.ok("agency_cs", f"/v1/retirees/{retiree}/events",
                {"type": "relocated", "to_community": "CS-FR-002", "effective_date": "2020-01-01", "reason": "moved"})
        return retiree

    def staff(self) -> str:
        staff_id = f"st-{next(_numbers)}"
        self.ok("community_own", "/v1/communities/CS-YL-001/events", staff_joined(staff_id))
        return staff_id

    def enrolled_staff(self) -> str:
        staff_id = self.staff()
        self.ok("community_own", "/v1/communities/CS-YL-001/events", {
            "type": "enrolled_in_course", "staff_id": staff_id, "course": "CS-C1", "enrolled_on": "2024-02-01"})
        return staff_id

    def standard(self) -> str:
        code = f"STD-{next(_numbers)}"
        self.ok("agency_cs", "/v1/agencies/Changsha/events", standard_adopted(code))
        return code


def standard_adopted(code: str) -> dict[str, Any]:
    return {"type": "standard_adopted", "code": code, "indicator": "certified_share", "threshold": "0.9",
            "period": "year", "effective_from": "2020-01-01", "policy_reference": "CS-RS-2020-01"}


def funding(code: str) -> dict[str, Any]:
    return {"type": "funding_allocated", "community": code, "year": 2024, "amount": "50000.00", "source": "city",
            "purpose": "staff"}


def enrollment(city: str = "Changsha") -> dict[str, Any]:
    number = next(_numbers)
    return {"name": "Zhao Min", "id_number": id_number("1950-01-02", number % 1000, f"4301{number // 1000 % 100:02d}"),
            "sex": "female", "birth_date": "1950-01-02",
            "danwei_code": "HN-TEX-01", "danwei_name": "Hunan Textile Mill", "retirement_date": "2005-01-02",
            "monthly_pension": "2500.00", "agency": "CS-SIA", "city": city, "district": "Yuelu"}


def community(code: str, city: str) -> dict[str, Any]:
    return {"code": code, "name": f"Community {code}", "city": city, "district": "Central", "street": "Main St",
            "kind": "urban_community"}


def transfer(code: str) -> dict[str, Any]:
    return {"type": "transferred_to_community", "from_danwei": "HN-TEX-01", "community": code,
            "effective_date": "2010-01-01", "approved_by": "officer"}


def staff_joined(staff_id: str) -> dict[str, Any]:
    return {"type": "staff_joined", "staff_id": staff_id, "name": "Sun Li", "role": "full_time",
            "qualified_social_worker": True, "joined_on": "2015-01-01"}


def service(code: str, staff_id: str, service_id: str = "svc-1") -> dict[str, Any]:
    return {"type": "service_delivered", "service_id": service_id, "community": code, "service_type": "home_visit",
            "delivered_on": "2024-03-10", "staff_id": staff_id, "duration_minutes": 30}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home: Path = tmp_path_factory.mktemp("matrix") / "home"
    tokens = make_tokens(home)
    init_signing_key(Settings(home=home))
    with serving(create_app(), home) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        w = World(server, http, tokens)
        w.ok("agency_cs", "/v1/communities", community("CS-YL-001", "Changsha"))
        w.ok("agency_cs", "/v1/communities", community("CS-FR-002", "Changsha"))
        w.ok("agency_zz", "/v1/communities", community("ZZ-HT-001", "Zhuzhou"))
        w.ok("community_own", "/v1/communities/CS-YL-001/events", staff_joined("s1"))
        w.ok("community_other", "/v1/communities/CS-FR-002/events", staff_joined("t1"))
        w.ok("agency_cs", "/v1/agencies/Changsha/events", {"type": "agency_established", "name": "Changsha SIA"})
        w.ok("agency_zz", "/v1/agencies/Zhuzhou/events", {"type": "agency_established", "name": "Zhuzhou SIA"})
        w.ok("agency_cs", "/v1/agencies/Changsha/events", {"type": "course_offered", "code": "CS-C1",
                                                           "title": "Case work", "hours": 16, "topic": "policy"})
        w.subject = w.managed()
        w.ok("community_own", f"/v1/retirees/{w.subject}/events", service("CS-YL-001", "s1", "svc-0"))
        w.moved = w.moved_away()
        yield w


# ---- the write cases: each prepares a fresh target (as the callers allowed to) and returns the request ----

Request = tuple[str, dict[str, Any]]


def _retiree_event(retiree: str, body: dict[str, Any]) -> Request:
    return f"/v1/retirees/{retiree}/events", body


def _suspended(w: World) -> str:
    retiree = w.managed()
    w.ok("agency_cs", f"/v1/retirees/{retiree}/events",
         {"type": "pension_suspended", "effective_month": "2024-02", "reason": "certification missed"})
    return retiree


def _served(w: World) -> str:
    retiree = w.managed()
    w.ok("community_own", f"/v1/retirees/{retiree}/events", service("CS-YL-001", "s1"))
    return retiree


WRITE_CASES: dict[str, Callable[[World], Request]] = {
    "register_community_changsha": lambda w: ("/v1/communities", community(f"CS-N-{next(_numbers)}", "Changsha")),
    "register_community_zhuzhou": lambda w: ("/v1/communities", community(f"ZZ-N-{next(_numbers)}", "Zhuzhou")),
    "enroll_in_changsha": lambda w: ("/v1/retirees", enrollment()),
    "transfer_within_changsha": lambda w: _retiree_event(w.enrolled(), transfer("CS-YL-001")),
    "transfer_to_zhuzhou": lambda w: _retiree_event(w.enrolled(), transfer("ZZ-HT-001")),
    "relocate": lambda w: _retiree_event(w.managed(), {
        "type": "relocated", "to_community": "CS-FR-002", "effective_date": "2020-01-01", "reason": "moved"}),
    "adjust_pension": lambda w: _retiree_event(w.managed(), {
        "type": "pension_adjusted", "previous_amount": "2500.00", "new_amount": "2600.00",
        "effective_month": "2024-01", "reason": "annual_adjustment"}),
    "suspend_pension": lambda w: _retiree_event(w.managed(), {
        "type": "pension_suspended", "effective_month": "2024-02", "reason": "certification missed"}),
    "resume_pension": lambda w: _retiree_event(_suspended(w), {
        "type": "pension_resumed", "effective_month": "2024-04", "reason": "certified", "back_pay": "5000.00"}),
    "record_death": lambda w: _retiree_event(w.managed(), {
        "type": "deceased", "date_of_death": "2024-03-01", "reported_by": "family"}),
    "deliver_service": lambda w: _retiree_event(w.managed(), service("CS-YL-001", "s1")),
    "deliver_service_after_move": lambda w: _retiree_event(w.moved_away(), service("CS-FR-002", "t1")),
    "rate_satisfaction": lambda w: _retiree_event(_served(w), {
        "type": "satisfaction_rated", "service_id": "svc-1", "score": 4, "rated_on": "2024-03-11",
        "channel": "phone"}),
    "certify_eligibility": lambda w: _retiree_event(w.managed(), {
        "type": "eligibility_certified", "year": 2024, "method": "in_person", "certified_on": "2024-02-01"}),
    "staff_joined": lambda w: ("/v1/communities/CS-YL-001/events", staff_joined(f"st-{next(_numbers)}")),
    "staff_left": lambda w: ("/v1/communities/CS-YL-001/events", {
        "type": "staff_left", "staff_id": w.staff(), "left_on": "2024-01-31", "reason": "moved on"}),
    "staff_trained": lambda w: ("/v1/communities/CS-YL-001/events", {
        "type": "staff_trained", "staff_id": w.staff(), "course": "elder care", "hours": 16,
        "completed_on": "2024-01-20"}),
    "enrolled_in_course": lambda w: ("/v1/communities/CS-YL-001/events", {
        "type": "enrolled_in_course", "staff_id": w.staff(), "course": "CS-C1", "enrolled_on": "2024-02-01"}),
    "course_completed": lambda w: ("/v1/communities/CS-YL-001/events", {
        "type": "course_completed", "staff_id": w.enrolled_staff(), "course": "CS-C1", "completed_on": "2024-03-01"}),
    "qualification_obtained": lambda w: ("/v1/communities/CS-YL-001/events", {
        "type": "qualification_obtained", "staff_id": w.staff(), "level": "social_worker",
        "obtained_on": "2024-05-01"}),
    "facility_recorded": lambda w: ("/v1/communities/CS-YL-001/events", {
        "type": "facility_recorded", "facility_id": f"F-{next(_numbers)}", "kind": "activity_room", "area_m2": 90,
        "opened_on": "2019-09-01"}),
    "standard_adopted_changsha": lambda w: ("/v1/agencies/Changsha/events", standard_adopted(f"STD-{next(_numbers)}")),
    "standard_revised_changsha": lambda w: ("/v1/agencies/Changsha/events", {
        "type": "standard_revised", "code": w.standard(), "threshold": "0.95", "effective_from": "2022-07-01"}),
    "standard_retired_changsha": lambda w: ("/v1/agencies/Changsha/events", {
        "type": "standard_retired", "code": w.standard(), "effective_from": "2025-01-01"}),
    "course_offered_zhuzhou": lambda w: ("/v1/agencies/Zhuzhou/events", {
        "type": "course_offered", "code": f"ZZ-C{next(_numbers)}", "title": "Elder care", "hours": 24,
        "topic": "elderly_care"}),
    "funding_allocated_changsha": lambda w: ("/v1/agencies/Changsha/events", funding("CS-YL-001")),
    "funding_to_zhuzhou": lambda w: ("/v1/agencies/Changsha/events", funding("ZZ-HT-001")),
}


def _cases(table: dict[str, tuple[int, ...]]) -> list[Any]:
    return [pytest.param(name, caller, row[i], id=f"{name}-{caller}")
            for name, row in table.items() for i, caller in enumerate(CALLERS)]


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    slug = {401: "unauthorized", 403: "forbidden", 422: "rule/funding_within_area"}.get(status)
    if slug is not None:
        assert body["type"] == PROBLEMS + slug and body["status"] == status
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_tables_cover_every_endpoint_of_the_api(world: World) -> None:
    paths = world.http.get("/openapi.json").json()["paths"]
    operations = {f"{method.upper()} {path}" for path, item in paths.items() for method in item}
    covered = {
        "POST /v1/communities", "POST /v1/communities/{code}/events", "GET /v1/communities/{code}",
        "GET /v1/communities/{code}/history", "POST /v1/retirees", "POST /v1/retirees/{retiree_id}/events",
        "GET /v1/retirees/{retiree_id}", "GET /v1/retirees/{retiree_id}/history", "GET /v1/log",
        "GET /v1/projections/workload", "GET /v1/projections/satisfaction", "GET /v1/projections/pensions",
        "GET /v1/projections/standards", "GET /v1/projections/status", "GET /v1/audit/checkpoints",
        "GET /v1/audit/verify", "GET /v1/audit/public-key", "GET /health", "GET /metrics", "GET /v1/audit/tree-head",
        "GET /v1/audit/proof/inclusion", "GET /v1/audit/proof/consistency", "GET /v1/audit/checkpoints/latest",
        "GET /v1/audit/checkpoint", "POST /v1/batches", "POST /v1/agencies/{area}/events", "GET /v1/agencies/{area}",
        "GET /v1/agencies/{area}/history", "GET /v1/projections/compliance", "GET /v1/projections/training",
        "GET /v1/projections/funding", "GET /v1/retirees", "POST /v1/retirees/lookup", "GET /v1/sheets/{kind}",
        "POST /v1/sheets/{kind}",
    }
    assert operations == covered
    assert set(WRITE_CASES) == set(WRITES)
    assert set(READ_PATHS) == set(READS)
    assert {len(row) for row in (*WRITES.values(), *READS.values())} == {len(CALLERS)}


@pytest.mark.parametrize(("case", "caller", "expected"), _cases(WRITES))
def test_write(world: World, case: str, caller: str, expected: int) -> None:
    path, body = WRITE_CASES[case](world)
    before = world.server.head()
    response = world.post(caller, path, body)
    assert response.status_code == expected, response.text
    if expected != 201:
        assert_problem(response, expected)
        assert world.server.head() == before, "a refused write appended something"
        return
    seq = response.json()["seq"]
    assert world.server.head() >= seq > before
    written = world.http.get("/v1/log", params={"after": seq - 1, "limit": 1}, headers=world.tokens.headers("auditor"))
    assert written.json()["events"][0]["recorded_by"] == world.tokens.principals[caller]


def _as_item(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """A write case as an item of ``POST /v1/batches``: the command names its own target."""
    parts = path.strip("/").split("/")  # v1, retirees|communities|agencies[, target, events]
    if len(parts) == 2:
        return {**body, "type": "enrolled" if parts[1] == "retirees" else "registered"}
    return {**body, {"retirees": "retiree_id", "communities": "community", "agencies": "area"}[parts[1]]: parts[2]}


@pytest.mark.parametrize(("case", "caller", "expected"), _cases(WRITES))
def test_write_in_a_batch(world: World, case: str, caller: str, expected: int) -> None:
    """The same command in a batch gets the same answer: writers get it per item, the others for the request."""
    before = world.server.head()
    response = world.http.post("/v1/batches", json=[_as_item(*WRITE_CASES[case](world))],
                               headers=world.tokens.headers(caller))
    writer = caller in ("agency_cs", "agency_zz", "community_own", "community_other")
    if not writer:
        assert response.status_code == expected, response.text
        assert_problem(response, expected)
        return
    assert response.status_code == 200, response.text
    (item,) = response.json()["results"]
    assert item["status"] == expected, item
    if expected == 201:
        assert world.server.head() >= item["seq"] > before
        written = world.http.get("/v1/log", params={"after": item["seq"] - 1, "limit": 1},
                                 headers=world.tokens.headers("auditor"))
        assert written.json()["events"][0]["recorded_by"] == world.tokens.principals[caller]
    else:
        assert item["problem"]["status"] == expected


READ_PATHS: dict[str, Callable[[World], str]] = {
    "retiree": lambda w: f"/v1/retirees/{w.subject}",
    "retiree_as_of": lambda w: f"/v1/retirees/{w.subject}?as_of=2015-01-01",
    "retiree_at_version": lambda w: f"/v1/retirees/{w.subject}?version=1",
    "retiree_history": lambda w: f"/v1/retirees/{w.subject}/history",
    "moved_retiree": lambda w: f"/v1/retirees/{w.moved}",
    "moved_retiree_history": lambda w: f"/v1/retirees/{w.moved}/history",
    "community": lambda w: "/v1/communities/CS-YL-001",
    "community_history": lambda w: "/v1/communities/CS-YL-001/history",
    "zhuzhou_community": lambda w: "/v1/communities/ZZ-HT-001",
    "log": lambda w: "/v1/log?after=0&limit=10",
    "workload": lambda w: "/v1/projections/workload?community=CS-YL-001",
    "satisfaction": lambda w: "/v1/projections/satisfaction?city=Changsha",
    "pensions": lambda w: "/v1/projections/pensions?month_from=2024-01&month_to=2024-02",
    "standards": lambda w: "/v1/projections/standards",
    "compliance": lambda w: "/v1/projections/compliance?city=Changsha",
    "training": lambda w: "/v1/projections/training?community=CS-YL-001",
    "funding": lambda w: "/v1/projections/funding?month_from=2024-01",
    "retirees": lambda w: "/v1/retirees?city=Changsha&limit=5",
    "agency": lambda w: "/v1/agencies/Changsha",
    "agency_history": lambda w: "/v1/agencies/Changsha/history",
    "projections_status": lambda w: "/v1/projections/status",
    "audit_checkpoints": lambda w: "/v1/audit/checkpoints",
    "audit_latest_checkpoint": lambda w: "/v1/audit/checkpoints/latest",
    "audit_checkpoint_note": lambda w: "/v1/audit/checkpoint",
    "audit_verify": lambda w: "/v1/audit/verify",
    "audit_tree_head": lambda w: "/v1/audit/tree-head",
    "audit_inclusion": lambda w: "/v1/audit/proof/inclusion?seq=1&tree_size=2",
    "audit_consistency": lambda w: "/v1/audit/proof/consistency?first=1&second=2",
    "audit_public_key": lambda w: "/v1/audit/public-key",
    "health": lambda w: "/health",
    "metrics": lambda w: "/metrics",  # public, as /health: counts and lags, no personal data
    "openapi": lambda w: "/openapi.json",
    "sheet_export": lambda w: "/v1/sheets/adjustments?format=csv",
}


@pytest.mark.parametrize(("case", "caller", "expected"), _cases(READS))
def test_read(world: World, case: str, caller: str, expected: int) -> None:
    before = world.server.head()
    response = world.http.get(READ_PATHS[case](world), headers=world.tokens.headers(caller))
    assert response.status_code == expected, response.text
    if expected != 200:
        assert_problem(response, expected)
    assert world.server.head() == before


# ---- spreadsheets: a file of one row, decided per row as its own endpoint would ---------------------------

#                          agency     agency     community  community
#                          Changsha   Zhuzhou    own        other      auditor  viewer  none  garbage revoked
SHEET_IMPORT: tuple[int | None, ...] = (403, 403, 201,      403,       None,    None,   None, None,   None)
"""The row's status in ``POST /v1/sheets/certifications`` (None: the request itself is refused, 403 or 401)."""


@pytest.mark.parametrize(("caller", "expected"), list(zip(CALLERS, SHEET_IMPORT, strict=True)))
def test_sheet_import(world: World, caller: str, expected: int | None) -> None:
    content = f"retiree_id,year,method,certified_on\r\n{world.managed()},2024,in_person,2024-02-01\r\n".encode()
    before = world.server.head()
    response = world.http.post("/v1/sheets/certifications", content=content,
                               headers={**world.tokens.headers(caller), "Content-Type": "text/csv"})
    if expected is None:
        status = 403 if caller in ("auditor", "viewer") else 401
        assert response.status_code == status, response.text
        assert_problem(response, status)
    else:
        assert response.status_code == 200, response.text
        assert [r["status"] for r in response.json()["results"]] == [expected]
    assert world.server.head() == before + (expected == 201)


# ---- finding retirees: the directory in each caller's scope, lookup by ID number ----------------------

#                     agency     agency     community  community
#                     Changsha   Zhuzhou    own        other      auditor  viewer  none  garbage revoked
LOOKUP: tuple[int, ...] = (200,  404,       200,       404,       200,     403,    401,  401,    401)
"""``POST /v1/retirees/lookup`` of the subject's ID number: out of scope is 404, as an unknown number."""


@pytest.fixture(scope="module")
def listed(world: World) -> tuple[str, str]:
    """A retiree managed by CS-YL-001 whose ID number the test knows, and that number."""
    body = enrollment()
    retiree = str(world.ok("agency_cs", "/v1/retirees", body)["id"])
    world.ok("agency_cs", f"/v1/retirees/{retiree}/events", transfer("CS-YL-001"))
    return retiree, str(body["id_number"])


@pytest.mark.parametrize(("caller", "expected"), list(zip(CALLERS, LOOKUP, strict=True)))
def test_lookup_by_id_number(world: World, listed: tuple[str, str], caller: str, expected: int) -> None:
    retiree, number = listed
    before = world.server.head()
    response = world.http.post("/v1/retirees/lookup", json={"id_number": number},
                               headers=world.tokens.headers(caller))
    assert response.status_code == expected, response.text
    if expected == 200:
        assert response.json() == {"retiree_id": retiree}
    else:
        assert_problem(response, expected)
    if expected == 404:  # the same answer as for a number nobody has: existence is not revealed
        unknown = world.http.post("/v1/retirees/lookup", json={"id_number": id_number("1950-01-02", 999, "439999")},
                                  headers=world.tokens.headers(caller))
        assert unknown.status_code == 404
        assert unknown.json()["detail"] == response.json()["detail"]
    assert world.server.head() == before


@pytest.mark.parametrize(("caller", "sees_subject", "sees_moved"), [
    ("agency_cs", True, True), ("agency_zz", False, False), ("community_own", True, False),
    ("community_other", False, True), ("auditor", True, True), ("viewer", True, True),
])
def test_the_directory_lists_the_retirees_in_the_callers_scope(
    world: World, caller: str, sees_subject: bool, sees_moved: bool
) -> None:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = _get(world, caller, "/v1/retirees?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        found += page["retirees"]
        cursor = page["next"]
        if cursor is None:
            break
    ids = {row["retiree_id"] for row in found}
    assert (world.subject in ids, world.moved in ids) == (sees_subject, sees_moved)
    assert len(ids) == len(found)
    if caller == "agency_zz":
        assert found == []
    if caller.startswith("community"):
        assert {row["community"] for row in found} == {world.tokens.principals[caller].split(":")[2].split("#")[0]}
    assert not any("Zhao Min" in str(row) or "name" in row or "id_number" in row for row in found)


# ---- what each role sees -------------------------------------------------------------------------------


def _get(world: World, caller: str, path: str) -> Any:
    response = world.http.get(path, headers=world.tokens.headers(caller))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(("caller", "shown"), [("agency_cs", True), ("community_own", True), ("auditor", False)])
def test_personal_fields_are_shown_only_to_agencies_and_communities(world: World, caller: str, shown: bool) -> None:
    state = _get(world, caller, f"/v1/retirees/{world.subject}")
    past = _get(world, caller, f"/v1/retirees/{world.subject}?version=1")
    enrolled = _get(world, caller, f"/v1/retirees/{world.subject}/history")[0]
    staff = _get(world, caller, "/v1/communities/CS-YL-001")["staff"][0]
    joined = _get(world, caller, "/v1/communities/CS-YL-001/history")[1]
    if shown:
        assert (state["name"], past["name"], enrolled["data"]["name"]) == ("Zhao Min",) * 3
        assert state["id_number"][6:14] == "19500102" and enrolled["data"]["id_number"] == state["id_number"]
        assert staff["name"] == joined["data"]["name"] == "Sun Li"
    else:
        assert (state["name"], state["id_number"], past["name"], past["id_number"]) == ("***",) * 4
        assert (enrolled["data"]["name"], enrolled["data"]["id_number"]) == ("***", "***")
        assert staff["name"] == joined["data"]["name"] == "***"
    assert state["city"] == "Changsha" and state["community"] == "CS-YL-001"  # the rest is never hidden
    assert staff["staff_id"] == "s1" and enrolled["data"]["danwei_name"] == "Hunan Textile Mill"


def test_the_auditors_log_hides_personal_fields_but_not_community_names(world: World) -> None:
    events = _get(world, "auditor", "/v1/log?after=0&limit=1000")["events"]
    by_type = {e["type"]: e["data"] for e in events}
    assert by_type["Enrolled"]["name"] == by_type["Enrolled"]["id_number"] == "***"
    assert by_type["StaffJoined"]["name"] == "***"
    assert by_type["Registered"]["name"].startswith("Community ")
    assert not any("Zhao Min" in str(e) or "Sun Li" in str(e) for e in events)


def test_the_auditor_verifies_the_log_and_everyone_gets_the_public_key(world: World) -> None:
    report = _get(world, "auditor", "/v1/audit/verify")
    assert report["ok"] is True and report["checked"] == report["head"] == world.server.head()
    key = world.http.get("/v1/audit/public-key").json()
    assert key["algorithm"] == "Ed25519" and key["pem"].startswith("-----BEGIN PUBLIC KEY-----")


@pytest.mark.parametrize(("caller", "expected"), [("none", 401), ("garbage", 401), ("revoked", 401),
                                                  ("auditor", 403), ("viewer", 403), ("agency_cs", 422)])
def test_callers_who_may_not_write_learn_nothing_about_their_bodies(world: World, caller: str, expected: int) -> None:
    before = world.server.head()
    body = {**enrollment(), "id_number": "not an id number", "extra": True}
    response = world.post(caller, "/v1/retirees", body)
    assert response.status_code == expected, response.text
    assert ("errors" in response.json()) == (expected == 422)
    assert world.server.head() == before
