"""``/v1/projections/*`` keep their word on a demo ledger: cursor paging gives every row once in the view's
order, the typed response models lose no field of the queries' rows, CSV/XLSX downloads hold the same rows,
unknown communities and cities are 404, and bad cursors 422 (api/projection_rows.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.projection_rows import ORDER
from devtools.demo import generate
from ledger.application import Ledger
from ledger.config import Settings
from ledger.exchange import tables
from projections import compliance, funding, queries, training
from runtime.bootstrap import bootstrap

LOCAL = "http://127.0.0.1"
VIEWS = tuple(ORDER)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("pages") / "home"
    ledger = Ledger(Settings(home=home))
    try:
        generate(ledger, retirees=40, seed=11)
    finally:
        ledger.close()
    return home


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=home), dev_mode=True), base_url=LOCAL) as client:
        yield client


def pages(client: TestClient, view: str, limit: int, **params: Any) -> list[list[dict[str, Any]]]:
    found, cursor = [], None
    while True:
        response = client.get(f"/v1/projections/{view}",
                              params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        found.append(body["rows"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def raw_rows(home: Path, view: str) -> list[dict[str, Any]]:
    """The rows straight from the query functions (no HTTP, no response model)."""
    services = bootstrap(Settings(home=home))
    try:
        services.settle()
        store, f = services.store, queries.Filters()
        return {"workload": lambda: queries.workload(store, f), "satisfaction": lambda: queries.satisfaction(store, f),
                "pensions": lambda: queries.pensions(store, f), "standards": lambda: queries.standards(store, f),
                "compliance": lambda: compliance.compliance(store, None, None, None, None),
                "training": lambda: training.training(store, None, None),
                "funding": lambda: funding.funding(store, None, None)}[view]()
    finally:
        services.close()


@pytest.mark.parametrize("view", VIEWS)
def test_paging_gives_every_row_once_in_order_with_no_field_lost(client: TestClient, home: Path, view: str) -> None:
    expected = sorted(raw_rows(home, view), key=ORDER[view])
    assert len(expected) > 7, "the demo should give each view several pages"
    paged = pages(client, view, limit=7)
    assert all(len(page) == 7 for page in paged[:-1]) and 1 <= len(paged[-1]) <= 7
    assert [row for page in paged for row in page] == expected  # same rows, same values, every field kept
    whole = client.get(f"/v1/projections/{view}").json()
    assert whole["rows"] == expected and whole["next_cursor"] is None


def test_compliance_pages_keep_the_furthest_below_standard_first(client: TestClient) -> None:
    rows = [row for page in pages(client, "compliance", limit=25) for row in page]
    ranks = [{False: 0, True: 1, None: 2}[row["met"]] for row in rows]
    assert ranks == sorted(ranks) and ranks[0] == 0
    unmet = [row["shortfall"] for row in rows if row["met"] is False]
    assert unmet == sorted(unmet, reverse=True)


def test_a_cursor_survives_rows_added_after_it(client: TestClient) -> None:
    first = client.get("/v1/projections/workload", params={"limit": 5}).json()
    community = {"code": "ZZ-PG-001", "name": "Paging Community", "city": "Zhuzhou", "district": "Hetang",
                 "street": "Jianshe Rd", "kind": "urban_community"}
    assert client.post("/v1/communities", json=community).status_code == 201
    staff = {"type": "staff_joined", "staff_id": "s1", "name": "Chen Jing", "role": "full_time",
             "qualified_social_worker": False, "joined_on": "2019-09-01"}
    assert client.post("/v1/communities/ZZ-PG-001/events", json=staff).status_code == 201
    rest = [row for page in pages(client, "workload", limit=50, cursor=first["next_cursor"]) for row in page]
    everything = client.get("/v1/projections/workload", params={"limit": 5000}).json()["rows"]
    assert first["rows"] + rest == everything  # nothing skipped, nothing repeated
    assert any(row["community"] == "ZZ-PG-001" for row in rest)


@pytest.mark.parametrize("fmt", tables.FORMATS)
def test_downloads_hold_the_same_rows_as_the_json(client: TestClient, fmt: tables.Format) -> None:
    params = {"city": "Changsha", "month_from": "2015-01", "month_to": "2016-12"}
    rows = [row for page in pages(client, "workload", limit=100, **params) for row in page]
    response = client.get("/v1/projections/workload", params={**params, "format": fmt})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(tables.MEDIA_TYPES[fmt].split(";")[0])
    assert response.headers["content-disposition"] == f'attachment; filename="workload.{fmt}"'
    header, cells = tables.read(response.content, fmt)
    assert header[:4] == ["community", "name", "city", "month"] and "services.home_visit" in header
    assert len(cells) == len(rows) > 0
    for (_, line), row in zip(cells, rows, strict=True):
        got = dict(zip(header, line, strict=True))
        assert (got["community"], got["month"]) == (row["community"], row["month"])
        assert int(got["services.home_visit"]) == row["services"]["home_visit"]
        assert int(got["service_minutes"]) == row["service_minutes"]


def test_a_download_of_funding_spreads_sources_into_columns(client: TestClient) -> None:
    rows = client.get("/v1/projections/funding").json()["rows"]
    header, cells = tables.read(client.get("/v1/projections/funding", params={"format": "csv"}).content, "csv")
    sources = {f"by_source.{source}" for row in rows for source in row["by_source"]}
    assert sources and sources <= set(header)
    assert [line[header.index("total")] for _, line in cells] == [row["total"] for row in rows]


@pytest.mark.parametrize(("params", "status", "kind"), [
    ({"community": "ZZ-NONE-404"}, 404, "not-found"),
    ({"city": "Atlantis"}, 404, "not-found"),
    ({"cursor": "bm90LWEtY3Vyc29y"}, 422, "invalid-input"),
    ({"cursor": "%%%"}, 422, "invalid-input"),
    ({"limit": 0}, 422, "validation-error"),
    ({"limit": 5001}, 422, "validation-error"),
    ({"format": "pdf"}, 422, "validation-error"),
])
def test_unknown_places_and_bad_paging_are_clear_problems(client: TestClient, params: dict[str, Any], status: int,
                                                          kind: str) -> None:
    for view in ("workload", "compliance"):
        response = client.get(f"/v1/projections/{view}", params=params)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith(kind)


def test_a_cursor_of_one_view_is_refused_by_another(client: TestClient) -> None:
    cursor = client.get("/v1/projections/workload", params={"limit": 2}).json()["next_cursor"]
    assert cursor is not None
    response = client.get("/v1/projections/pensions", params={"cursor": cursor})
    assert response.status_code == 422 and "cursor" in response.json()["detail"]


def test_openapi_documents_each_views_fields(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for view, model in (("workload", "WorkloadRow"), ("compliance", "ComplianceRow"), ("funding", "FundingRow")):
        get = document["paths"][f"/v1/projections/{view}"]["get"]
        content = get["responses"]["200"]["content"]
        assert set(content) >= {"application/json", tables.MEDIA_TYPES["csv"], tables.MEDIA_TYPES["xlsx"]}
        assert {"cursor", "limit", "format"} <= {p["name"] for p in get["parameters"]}
        assert "404" in get["responses"]
        assert len(schemas[model]["properties"]) >= 10
    assert "retirees_per_full_time_staff" in schemas["WorkloadRow"]["properties"]
