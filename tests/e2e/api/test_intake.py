"""Tighter input over real HTTP (api/intake.py, ledger/fields.py, api/schemas.py), on the shared servers.

Bodies: ``application/json`` only (415), UTF-8 only (415 for another charset, 400 for other bytes or
a BOM), malformed JSON of every kind and anything but an object 400, a ``Content-Length`` the server
cannot frame or the body does not match 400; amounts and dates in ASCII digits only; path ids in
canonical UUID form only (422). Every answer is problem+json, never plain text or a 5xx, and a
refused request appends nothing.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.api.conftest import BORN, PROBLEM, community, head, problem, retiree
from tests.people import id_number

JSON = {"content-type": "application/json"}
NOT_CANONICAL = ["6F1C2A7E-9B1D-4C55-8D0E-2A4F3B9C7D10", "{6f1c2a7e-9b1d-4c55-8d0e-2a4f3b9c7d10}",
                 "6f1c2a7e9b1d4c558d0e2a4f3b9c7d10", "urn:uuid:6f1c2a7e-9b1d-4c55-8d0e-2a4f3b9c7d10",
                 "6f1c2a7e-9b1d-4c55-8d0e-2a4f3b9c7d1", "6f1c2a7e-9b1d-4c55-8d0e-2a4f3b9c7d10a"]


def refused(http: httpx.Client, status: int, slug: str, content: bytes, headers: dict[str, str],
            path: str = "/v1/communities") -> dict[str, Any]:
    before = head(http)
    body = problem(http.post(path, content=content, headers=headers), status, slug)
    assert head(http) == before
    return body


def test_a_body_that_is_not_json_is_415(http: httpx.Client) -> None:
    body = json.dumps(community("CS-IN-001")).encode()
    refused(http, 415, "unsupported-media-type", body, {"content-type": "text/plain"})
    form = {"content-type": "application/x-www-form-urlencoded"}
    refused(http, 415, "unsupported-media-type", b"code=CS-IN-001", form)
    refused(http, 415, "unsupported-media-type", body, {})


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "gb2312"])
def test_a_charset_other_than_utf8_is_415(http: httpx.Client, charset: str) -> None:
    body = json.dumps(community("CS-IN-002")).encode()
    refused(http, 415, "unsupported-media-type", body, {"content-type": f"application/json; charset={charset}"})


@pytest.mark.parametrize("encode", [
    lambda text: b"\xef\xbb\xbf" + text.encode(), lambda text: text.encode("utf-16"),
    lambda text: text.encode("utf-16-le"), lambda text: text.encode("gb18030"),
])
def test_a_bom_or_bytes_other_than_utf8_are_400(http: httpx.Client, encode: Any) -> None:
    text = json.dumps({**community("CS-IN-003"), "name": "长沙社区"}, ensure_ascii=False)
    refused(http, 400, "bad-request", encode(text), JSON)


@pytest.mark.parametrize("content", [
    b'{"code": "CS-IN-004", "name": ', b"{", b'{"code": "CS-IN-004",}', b'{"code": NaN}', b'{"a": 1} {"b": 2}', b"",
    b"[]", b'"a string"', b"17", b"null",
])
def test_malformed_empty_or_non_object_json_is_400(http: httpx.Client, content: bytes) -> None:
    refused(http, 400, "bad-request", content, JSON)
    refused(http, 400, "bad-request", content, JSON, "/v1/retirees")


def test_full_width_digits_in_an_amount_or_a_date_are_refused(http: httpx.Client) -> None:
    number = id_number(BORN, 901, "430121")
    for field, value in (("monthly_pension", "\uff12\uff15\uff10\uff10.00"),
                         ("retirement_date", "\uff12\uff10\uff11\uff10-05-06"), ("id_number", "\uff14" + number[1:])):
        before = head(http)
        response = http.post("/v1/retirees", json={**retiree(number), field: value})
        body = problem(response, 422, "validation-error")
        assert body["errors"][0]["loc"] == ["body", field] and value not in response.text
        assert head(http) == before
    assert http.post("/v1/retirees", json=retiree(number)).status_code == 201  # the same in ASCII digits


def test_an_id_number_must_check_and_carry_the_birth_date(http: httpx.Client) -> None:
    number = id_number(BORN, 902, "430121")
    for wrong, slug in ((number[:17] + ("1" if number[17] == "0" else "0"), "validation-error"),
                        (id_number("1951-05-06", 902, "430121"), "invalid-input")):
        before = head(http)
        response = http.post("/v1/retirees", json=retiree(wrong))
        problem(response, 422, slug)
        assert wrong not in response.text and wrong[6:14] not in response.text
        assert head(http) == before


@pytest.mark.parametrize("written", NOT_CANONICAL)
def test_a_retiree_id_in_another_form_than_canonical_is_422(http: httpx.Client, written: str) -> None:
    before = head(http)
    for response in (http.get(f"/v1/retirees/{written}"), http.get(f"/v1/retirees/{written}/history"),
                     http.post(f"/v1/retirees/{written}/events", json={"type": "deceased", "reported_by": "x",
                                                                        "date_of_death": "2020-01-01"})):
        body = problem(response, 422, "validation-error")
        assert body["errors"][0]["loc"] == ["path", "retiree_id"]
    assert head(http) == before


def test_the_canonical_form_of_a_known_retiree_is_found(http: httpx.Client) -> None:
    rid = http.post("/v1/retirees", json=retiree(id_number(BORN, 903, "430121"))).json()["id"]
    assert http.get(f"/v1/retirees/{rid}").status_code == 200
    problem(http.get(f"/v1/retirees/{rid.upper()}"), 422, "validation-error")


def raw(base_url: str, request: bytes) -> bytes:
    """What the server answers to ``request`` written on a socket of its own, until it closes."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("length", [b"abc", b"-5", b"+7", b"7, 8", b"0x07"])
def test_a_content_length_the_server_cannot_frame_is_a_400_problem(base_url: str, http: httpx.Client,
                                                                   length: bytes) -> None:
    before = head(http)
    answer = raw(base_url, b"POST /v1/communities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: " + length + b"\r\nConnection: close\r\n\r\n{}")
    status, _, rest = answer.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 400 ") and f"content-type: {PROBLEM}".encode() in headers.lower()
    assert json.loads(body)["type"].endswith("/problems/bad-request")
    assert head(http) == before


def test_a_content_length_shorter_than_the_body_cuts_it_and_is_refused_as_a_problem(base_url: str,
                                                                                    http: httpx.Client) -> None:
    before = head(http)
    body = json.dumps(community("CS-IN-005")).encode()
    answer = raw(base_url, b"POST /v1/communities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 10\r\nConnection: close\r\n\r\n" + body)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"malformed JSON" in answer and b"text/plain" not in answer
    assert head(http) == before


def test_a_body_shorter_than_its_content_length_appends_nothing(base_url: str, http: httpx.Client) -> None:
    before = head(http)
    body = json.dumps(community("CS-IN-006")).encode()
    answer = raw(base_url, b"POST /v1/communities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: " + str(len(body) + 10).encode() + b"\r\n\r\n" + body)
    assert b"text/plain" not in answer and not answer.startswith(b"HTTP/1.1 5")  # the client went away: no answer
    assert head(http) == before
    problem(http.get("/v1/communities/CS-IN-006"), 404, "not-found")
