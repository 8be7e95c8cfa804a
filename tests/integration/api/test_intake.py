"""The request gate (``api.intake``) through FastAPI's TestClient: media type, charset, bytes, JSON, lengths.

The TestClient hands the app any ``Content-Length`` it is given, which a real HTTP server would frame
itself (see tests/e2e/api/test_intake.py for the same refusals over a socket). Every refusal is a
problem+json answer and appends nothing (the head stays where it was). One app serves the module.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.intake import MAX_BODY_BYTES, RequestGate, body_operations
from api.main import create_app
from ledger.config import Settings
from tests.integration.api.test_errors import COMMUNITY, ENROLL, assert_problem, head

JSON = {"content-type": "application/json"}
BODY = json.dumps(COMMUNITY).encode()
_codes = itertools.count(100)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(Settings(home=tmp_path_factory.mktemp("intake") / "home"), dev_mode=True, host="127.0.0.1")
    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1") as client:
        yield client


def new_community() -> bytes:
    return json.dumps({**COMMUNITY, "code": f"CS-GT-{next(_codes)}"}).encode()


def refused(client: TestClient, status: int, slug: str, content: bytes, headers: dict[str, str],
            path: str = "/v1/communities") -> dict[str, Any]:
    before = head(client)
    body = assert_problem(client.post(path, content=content, headers=headers), status, slug)
    assert body["instance"] == path
    assert head(client) == before
    return body


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/problem+json",
                                          "application/jsonx", "text/json", "application/json-seq"])
def test_a_body_not_sent_as_application_json_is_415(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = refused(client, 415, "unsupported-media-type", BODY, headers)
    assert "application/json" in body["detail"]


@pytest.mark.parametrize("content_type", ["application/json; charset=latin-1", "application/json; charset=utf-16",
                                          "application/json;charset=UTF-32", "application/json; profile=x",
                                          "application/json; charset=utf-8; v=2"])
def test_a_charset_other_than_utf8_or_another_parameter_is_415(client: TestClient, content_type: str) -> None:
    refused(client, 415, "unsupported-media-type", BODY, {"content-type": content_type})


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON", "application/json; charset=utf-8",
                                          'application/json; charset="UTF-8"', "application/json;charset=utf-8"])
def test_application_json_in_utf8_is_accepted_however_it_is_spelled(client: TestClient, content_type: str) -> None:
    before = head(client)
    response = client.post("/v1/communities", content=new_community(), headers={"content-type": content_type})
    assert response.status_code == 201 and head(client) == before + 1


@pytest.mark.parametrize(("content", "said"), [
    (b"\xef\xbb\xbf" + BODY, "byte order mark"),
    (json.dumps(COMMUNITY).encode("utf-16"), "UTF-8"),  # with its BOM
    (json.dumps(COMMUNITY).encode("utf-16-le"), "UTF-8"),  # without: NUL bytes
    (json.dumps(COMMUNITY).encode("utf-16-be"), "UTF-8"),
    (json.dumps(COMMUNITY).encode("utf-32"), "UTF-8"),
    (json.dumps({**COMMUNITY, "name": "社区"}, ensure_ascii=False).encode("gb18030"), "UTF-8"),
    (b'{"code": "CS-YL-001", "name": "\xed\xa0\x80"}', "UTF-8"),  # an encoded surrogate is no UTF-8
])
def test_bytes_that_are_not_utf8_or_start_with_a_bom_are_400(client: TestClient, content: bytes, said: str) -> None:
    assert said in refused(client, 400, "bad-request", content, JSON)["detail"]


@pytest.mark.parametrize("content", [
    b'{"code": ', BODY[:-1], b'{"code": "CS-YL-001",}', b"{'code': 'CS-YL-001'}", b'{"code": "CS-YL-001"} {}',
    b'{"code": "CS-YL-001"}x', b'{"street": NaN}', b'{"street": Infinity}', b'{"street": 1e400}',
    b'{"street": "\\ud800"}', b'{"street": "tab\there"}', b'{"street": "\\x41"}', b"{" * 2000 + b"}" * 2000,
    b'{"code": 01}', b"nul", b"{,}",
])
def test_malformed_json_of_every_kind_is_400_and_never_echoed(client: TestClient, content: bytes) -> None:
    body = refused(client, 400, "bad-request", content, JSON)
    assert body["detail"].startswith("malformed JSON at byte ")


@pytest.mark.parametrize("content", [b"", b"   ", b"\r\n"])
def test_an_empty_body_is_400(client: TestClient, content: bytes) -> None:
    assert "empty" in refused(client, 400, "bad-request", content, JSON)["detail"]


@pytest.mark.parametrize("content", [b"[]", b"[1, 2]", b'"CS-YL-001"', b"42", b"null", b"true"])
def test_json_that_is_not_an_object_is_400(client: TestClient, content: bytes) -> None:
    assert "object" in refused(client, 400, "bad-request", content, JSON)["detail"]


def test_every_write_route_has_the_same_gate(client: TestClient) -> None:
    client.post("/v1/communities", json=COMMUNITY)  # 201, or 409 when another test registered it
    before = head(client)
    for path in ("/v1/retirees", "/v1/communities/CS-YL-001/events",
                 "/v1/retirees/6f1c2a7e-9b1d-4c55-8d0e-2a4f3b9c7d10/events"):
        assert_problem(client.post(path, content=b"[]", headers=JSON), 400, "bad-request")
        assert_problem(client.post(path, content=BODY, headers={"content-type": "text/plain"}), 415,
                       "unsupported-media-type")
    assert head(client) == before


@pytest.mark.parametrize("length", ["abc", "-1", "+5", "1e3", "0x10", "", "5 5"])
def test_a_content_length_that_is_not_a_number_is_400(client: TestClient, length: str) -> None:
    body = refused(client, 400, "bad-request", BODY, {**JSON, "content-length": length})
    assert "Content-Length" in body["detail"]


@pytest.mark.parametrize("length", [0, 1, len(BODY) - 1, len(BODY) + 1])
def test_a_content_length_that_does_not_match_the_body_is_400(client: TestClient, length: int) -> None:
    body = refused(client, 400, "bad-request", BODY, {**JSON, "content-length": str(length)})
    assert body["detail"] == "Content-Length does not match the body"


def test_a_content_length_over_the_limit_is_413_before_the_body_is_read(client: TestClient) -> None:
    refused(client, 413, "payload-too-large", BODY, {**JSON, "content-length": str(MAX_BODY_BYTES + 1)})


def test_a_matching_content_length_passes(client: TestClient) -> None:
    before, body = head(client), new_community()
    response = client.post("/v1/communities", content=body, headers={**JSON, "content-length": str(len(body))})
    assert response.status_code == 201 and head(client) == before + 1


def test_a_body_that_passes_the_gate_is_still_judged_by_its_schema(client: TestClient) -> None:
    before = head(client)
    assert_problem(client.post("/v1/retirees", content=b"{}", headers=JSON), 422, "validation-error")
    assert head(client) == before


@pytest.mark.parametrize(("field", "value"), [
    ("monthly_pension", "\uff12\uff15\uff10\uff10.00"),  # full-width digits
    ("monthly_pension", "\u0662\u0665\u0660\u0660"),  # Arabic-Indic digits
    ("retirement_date", "\uff12\uff10\uff10\uff12-03-04"),
    ("id_number", "\uff14" + ENROLL["id_number"][1:]),
])
def test_numbers_in_other_digits_are_refused_as_invalid_and_not_echoed(
    client: TestClient, field: str, value: str
) -> None:
    before = head(client)
    response = client.post("/v1/retirees", json={**ENROLL, field: value})
    body = assert_problem(response, 422, "validation-error")
    assert [error["loc"] for error in body["errors"]] == [["body", field]]
    assert value not in response.text and json.dumps(value) not in response.text
    assert head(client) == before


def test_a_get_with_a_stray_body_is_only_counted(client: TestClient) -> None:
    response = client.request("GET", "/v1/log", content=b"not json", headers={"content-type": "text/plain"})
    assert response.status_code == 200


def test_the_gate_knows_the_body_operations_from_the_openapi_document() -> None:
    operations = body_operations(create_app().openapi())
    assert sorted((method, pattern.pattern) for method, pattern in operations) == [
        ("POST", "/v1/agencies/[^/]+/events"), ("POST", "/v1/batches"), ("POST", "/v1/communities"),
        ("POST", "/v1/communities/[^/]+/events"),
        ("POST", "/v1/retirees"), ("POST", "/v1/retirees/[^/]+/events"), ("POST", "/v1/retirees/lookup"),
    ]
    assert RequestGate(create_app()).max_bytes == MAX_BODY_BYTES
