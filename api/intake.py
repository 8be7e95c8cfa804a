"""What a request must be before a route sees it: the one place for the rules on query strings and bodies.

``RequestGate`` (ASGI middleware) refuses, with a problem (``api.errors``) and before any route runs,
so nothing is appended:

=======================================================  ======  ==========================
the request                                               status  type
=======================================================  ======  ==========================
a query string over ``MAX_QUERY_BYTES`` (2 KiB)           414     ``uri-too-long``
a ``Content-Length`` that is not ASCII digits, or         400     ``bad-request``
several that differ, or one the body does not match
a body over ``MAX_BODY_BYTES`` (64 KiB), declared or      413     ``payload-too-large``
counted (chunked bodies too)
=======================================================  ======  ==========================

and for the operations that take a JSON body (those with a ``requestBody`` in OpenAPI; on others a
body is only counted), in this order:

=======================================================  ======  ==========================
a ``Content-Type`` other than ``application/json``, or    415     ``unsupported-media-type``
a parameter other than ``charset=utf-8``
an empty body                                             400     ``bad-request``
bytes that are not UTF-8 (UTF-16 or UTF-32 with or        400     ``bad-request``
without a byte order mark, NUL bytes), or a UTF-8 BOM
malformed JSON: truncated, trailing data, ``NaN``, a      400     ``bad-request``
lone surrogate, a number beyond a double, nested over
1024 levels ...
well-formed JSON that is not an object                    400     ``bad-request``
=======================================================  ======  ==========================

``POST /v1/batches`` (``BATCH_PATHS``) takes up to ``MAX_BATCH_BYTES`` (16 MiB) and
``MAX_BATCH_ITEMS`` commands, as a JSON array (``application/json``) or NDJSON
(``application/x-ndjson``, one JSON value a line); the same media-type and UTF-8 rules apply, the
gate parses it once (``parse_batch``, 400 naming the byte or line) and the route judges each item.

``POST /v1/sheets/{kind}`` (``SHEET_PATHS``) takes a spreadsheet file of up to ``MAX_BATCH_BYTES`` as
``text/csv`` or the XLSX media type (415 otherwise); the route reads it (``ledger.exchange.tables``) and
answers an empty one.

So a charset is a question of the media type (415) and the bytes are a question of the body (400:
RFC 8259 §8.1 says JSON is UTF-8 without a BOM). Details say what is wrong, never what was sent.
A body that passes is handed on in one piece, and FastAPI judges it against its schema (422).

A ``Content-Length`` the HTTP server itself cannot frame (not digits, negative, two that differ)
never reaches an ASGI app: uvicorn answers it. Served with ``http=ProblemH11Protocol``
(``runtime.serving.HTTP_PROTOCOL``, as ``ledger serve`` does), that answer is a 400 problem too
instead of uvicorn's plain text.
"""

from __future__ import annotations

import json
import re
from typing import Any

import h11
import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.errors import PROBLEM_MEDIA_TYPE, problem_response, problem_type

MAX_BODY_BYTES = 64 * 1024
MAX_QUERY_BYTES = 2 * 1024
MAX_BATCH_BYTES = 16 * 1024 * 1024
MAX_BATCH_ITEMS = 10_000
JSON_MEDIA_TYPE = "application/json"
NDJSON_MEDIA_TYPE = "application/x-ndjson"
BATCH_PATHS = frozenset({"/v1/batches"})
"""Bulk operations: bodies up to ``MAX_BATCH_BYTES``, a JSON array or NDJSON (the route parses them)."""
SHEET_PATHS = re.compile(r"/v1/sheets/[^/]+")
"""Spreadsheet uploads: bodies up to ``MAX_BATCH_BYTES``, CSV or XLSX (the route reads them)."""
SHEET_MEDIA_TYPES = ("text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
BODY_STATUSES = (400, 413, 415)
"""What an operation with a JSON body may answer from here (``api.openapi`` lists them)."""
_UTF8_BOM = b"\xef\xbb\xbf"


class RefusedError(Exception):
    """A request the gate refuses: ``status``, the problem ``slug`` and title, and a ``detail`` free of input."""

    def __init__(self, status: int, slug: str, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail


def _bad(detail: str) -> RefusedError:
    return RefusedError(400, "bad-request", "Bad request", detail)


def _too_large(max_bytes: int) -> RefusedError:
    detail = f"request bodies are limited to {max_bytes} bytes"
    return RefusedError(413, "payload-too-large", "Payload too large", detail)


def declared_length(headers: Headers, max_bytes: int) -> int | None:
    """The body length the request declares (None: not declared), checked (400, 413)."""
    values = {value.strip() for value in headers.getlist("content-length")}
    if not values:
        return None
    if len(values) > 1:
        raise _bad("several different Content-Length headers")
    (value,) = values
    if not (value.isascii() and value.isdigit()):
        raise _bad("Content-Length must be a non-negative number of bytes (ASCII digits)")
    if int(value) > max_bytes:
        raise _too_large(max_bytes)
    return int(value)


def check_media_type(headers: Headers, allowed: tuple[str, ...] = (JSON_MEDIA_TYPE,)) -> str:
    """One of the ``allowed`` media types with at most ``charset=utf-8`` (415 otherwise); it is returned."""
    values = headers.getlist("content-type")
    media_type, *parameters = (values[0] if len(values) == 1 else "").split(";")
    media_type = media_type.strip().lower()
    if media_type not in allowed:
        raise RefusedError(415, "unsupported-media-type", "Unsupported media type",
                           f"request bodies are sent as Content-Type: {' or '.join(allowed)}")
    for parameter in filter(str.strip, parameters):
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() != "utf-8":
            raise RefusedError(415, "unsupported-media-type", "Unsupported media type",
                               "bodies are UTF-8: the only parameter allowed is charset=utf-8")
    return media_type


def check_json_object(body: bytes) -> None:
    """A UTF-8 JSON object, without a byte order mark (400 otherwise)."""
    check_text(body)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise _bad(f"malformed JSON at byte {error.pos}") from None
    if not isinstance(value, dict):
        raise _bad("the request body must be a JSON object")


def parse_batch(body: bytes, media_type: str) -> list[Any]:
    """The items of a bulk body: a JSON array, or NDJSON (one JSON value a line, blank lines skipped);
    400 naming the byte or line of malformed JSON. Each item is judged by the route."""
    check_text(body)
    if media_type == JSON_MEDIA_TYPE:
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise _bad(f"malformed JSON at byte {error.pos}") from None
        if not isinstance(items, list):
            raise _bad("the request body must be a JSON array of commands")
    else:
        items = []
        for number, line in enumerate(body.split(b"\n"), 1):
            if line.strip():
                try:
                    items.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    raise _bad(f"malformed JSON on line {number}") from None
    if not items:
        raise _bad("a batch holds at least one command")
    if len(items) > MAX_BATCH_ITEMS:
        raise RefusedError(413, "payload-too-large", "Payload too large",
                           f"a batch holds at most {MAX_BATCH_ITEMS} commands")
    return items


def check_text(body: bytes) -> None:
    """Non-empty UTF-8 without a byte order mark or NUL bytes (400 otherwise)."""
    if not body.strip():
        raise _bad("the request body is empty")
    if body.startswith(_UTF8_BOM):
        raise _bad("JSON text must not start with a byte order mark")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("JSON text must be UTF-8 (RFC 8259); UTF-16 and other encodings are refused") from None
    if b"\x00" in body:
        raise _bad("JSON text must be UTF-8 (RFC 8259); it contains NUL bytes (UTF-16?)")


def body_operations(document: dict[str, Any]) -> list[tuple[str, re.Pattern[str]]]:
    """(method, path pattern) of the operations with a ``requestBody`` in an OpenAPI document."""
    found: list[tuple[str, re.Pattern[str]]] = []
    for template, item in document.get("paths", {}).items():
        pattern = re.compile("".join(
            "[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]*\})", template)))
        found.extend((method.upper(), pattern) for method, operation in item.items()
                     if isinstance(operation, dict) and "requestBody" in operation)
    return found


def _path(scope: Scope) -> str:
    path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
    return path[len(root):] if root and path.startswith(root) else path


class RequestGate:
    """ASGI middleware enforcing the module's rules; nothing reaches a route when a request is refused.

    The body is read (and counted) here and handed on in one piece, so a chunked or under-declared body
    is caught as well as a declared one.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._body_paths: dict[str, re.Pattern[str]] | None = None
        """Per method, one pattern: the alternation of its body operations' paths (one match per request)."""

    def takes_json_body(self, scope: Scope) -> bool:
        """Whether the request is for an operation with a JSON body (its OpenAPI document says which)."""
        if self._body_paths is None:
            operations = body_operations(scope["app"].openapi()) if "app" in scope else []
            by_method: dict[str, list[str]] = {}
            for method, path in operations:
                by_method.setdefault(method, []).append(f"(?:{path.pattern})")
            self._body_paths = {method: re.compile("|".join(paths)) for method, paths in by_method.items()}
        paths = self._body_paths.get(str(scope.get("method")))
        return paths is not None and paths.fullmatch(_path(scope)) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
                raise RefusedError(414, "uri-too-long", "URI too long",
                                   f"query strings are limited to {MAX_QUERY_BYTES} bytes")
            headers = Headers(scope=scope)
            post = scope.get("method") == "POST"
            bulk = post and _path(scope) in BATCH_PATHS
            sheet = post and not bulk and SHEET_PATHS.fullmatch(_path(scope)) is not None
            limit = MAX_BATCH_BYTES if bulk or sheet else self.max_bytes
            declared = declared_length(headers, limit)
            body = await self._read(receive, limit)
            if body is None:
                return  # the client went away before sending its body
            if declared is not None and declared != len(body):
                raise _bad("Content-Length does not match the body")
            if bulk:
                media_type = check_media_type(headers, (JSON_MEDIA_TYPE, NDJSON_MEDIA_TYPE))
                scope.setdefault("state", {})["batch_items"] = parse_batch(body, media_type)
            elif sheet:
                if body:  # an empty body is the route's to answer (422: send the file)
                    check_media_type(headers, SHEET_MEDIA_TYPES)
            elif self.takes_json_body(scope):
                check_media_type(headers)
                check_json_object(body)
        except RefusedError as refused:
            response = problem_response(refused.status, refused.slug, refused.title, refused.detail,
                                        str(scope.get("path", "")))
            await response(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _read(receive: Receive, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        return b"".join(chunks)


class ProblemH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, whose answer to a request it cannot parse (a Content-Length that is not
    digits, negative or doubled; a broken request line or header) is a 400 problem, not plain text."""

    def send_400_response(self, msg: str) -> None:
        body = json.dumps({"type": problem_type("bad-request"), "title": "Bad request", "status": 400,
                           "detail": "the HTTP request cannot be parsed (request line, headers or Content-Length)"})
        data = body.encode()
        headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(data)).encode()),
                   (b"connection", b"close")]
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"), h11.Data(data=data),
                      h11.EndOfMessage()):
            output = self.conn.send(event)
            if output:
                self.transport.write(output)
        self.transport.close()
