"""The OpenAPI document states what the server enforces (``api.openapi``); building it touches no file."""

from __future__ import annotations

from typing import Any

import pytest

from api.main import create_app
from api.schemas import UUID_PATTERN

FILE_UPLOADS = {"POST /v1/sheets/{kind}"}
"""Operations whose body is a CSV or XLSX file: a schema for it would let any bytes pass as valid."""


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{method.upper()} {path}", operation) for path, item in document["paths"].items()
            for method, operation in item.items()]


def test_every_operation_may_answer_414_and_every_body_operation_400_413_415(document: dict[str, Any]) -> None:
    bodies = []
    for label, operation in operations(document):
        assert "414" in operation["responses"], label
        if "requestBody" in operation:
            bodies.append(label)
            assert {"400", "413", "415"} <= set(operation["responses"]), label
            media_types = ["application/json", "application/x-ndjson"] if label == "POST /v1/batches" else [
                "application/json"]
            assert list(operation["requestBody"]["content"]) == media_types, label
        elif label in FILE_UPLOADS:  # the body is the file itself, described in prose (see api.routers.sheets)
            assert {"400", "413", "415"} <= set(operation["responses"]), label
        else:
            assert "415" not in operation["responses"], label
    assert len(bodies) == 7


def test_errors_are_documented_as_problem_json_only(document: dict[str, Any]) -> None:
    for label, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                assert list(response["content"]) == ["application/problem+json"], (label, status)


def test_no_parameter_is_documented_as_null(document: dict[str, Any]) -> None:
    for label, operation in operations(document):
        for parameter in operation.get("parameters", []):
            assert "null" not in str(parameter["schema"]), (label, parameter["name"])
            assert parameter["schema"].get("default", "none") is not None, (label, parameter["name"])


def test_the_limits_the_server_applies_are_in_the_schema(document: dict[str, Any]) -> None:
    retiree_id = next(p for p in document["paths"]["/v1/retirees/{retiree_id}"]["get"]["parameters"]
                      if p["name"] == "retiree_id")
    assert retiree_id["schema"]["pattern"] == UUID_PATTERN
    workload = {p["name"]: p["schema"] for p in document["paths"]["/v1/projections/workload"]["get"]["parameters"]}
    assert workload["month_from"]["pattern"].startswith("^(19[0-9][0-9]")
    satisfaction = {p["name"]: p["schema"]
                    for p in document["paths"]["/v1/projections/satisfaction"]["get"]["parameters"]}
    assert "overall" in satisfaction["service_type"]["enum"] and "service_type" not in workload
    assert workload["Ledger-Min-Seq"]["type"] == "integer"
    enroll = document["components"]["schemas"]["EnrollIn"]["properties"]
    assert "MOD 11-2" in enroll["id_number"]["description"] and enroll["id_number"]["pattern"]
    assert enroll["monthly_pension"]["anyOf"][0]["multipleOf"] == 0.01
    assert "\\d" not in str(document["components"]["schemas"])  # ECMA and Python disagree on what \d is


def test_the_retiree_directory_and_lookup_are_typed(document: dict[str, Any]) -> None:
    listing = document["paths"]["/v1/retirees"]["get"]
    parameters = {p["name"]: p["schema"] for p in listing["parameters"]}
    assert set(parameters) == {"city", "community", "stage", "pension_status", "cursor", "limit", "Ledger-Min-Seq"}
    assert (parameters["limit"]["minimum"], parameters["limit"]["maximum"], parameters["limit"]["default"]) == (
        1, 1000, 100)
    assert parameters["cursor"]["pattern"] == UUID_PATTERN
    schemas = document["components"]["schemas"]
    assert schemas["Stage"]["enum"] == ["danwei", "community", "deceased"]
    assert schemas["PensionStatus"]["enum"] == ["active", "suspended", "ended"]
    entry = schemas["DirectoryEntryOut"]["properties"]
    assert set(entry) == {"retiree_id", "city", "district", "community", "stage", "pension_status", "enrolled"}
    assert entry["enrolled"]["format"] == "date"
    assert set(schemas["RetireesPageOut"]["properties"]) == {"retirees", "next", "position", "lag"}
    lookup = document["paths"]["/v1/retirees/lookup"]["post"]
    assert "id_number" not in str(lookup.get("parameters", []))  # in the body, never in the URL
    assert {"403", "404", "422"} <= set(lookup["responses"])
    assert set(schemas["LookupIn"]["properties"]) == {"id_number"}
