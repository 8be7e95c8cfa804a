"""THE table from ledger errors to HTTP statuses and problem types, and the error handlers.

Every error response is ``application/problem+json`` (RFC 9457) with ``type``, ``title``,
``status`` and ``detail`` (plus ``instance``, the request path). Problem types are absolute URIs
under ``PROBLEM_BASE``:

=============================================  ======  =========================================
type (after ``PROBLEM_BASE``)                   status  when
=============================================  ======  =========================================
``unauthorized``                                401     no valid bearer token (missing, malformed,
                                                        unknown, revoked); ``WWW-Authenticate: Bearer``
``forbidden``                                   403     the token's role or scope does not allow it
``not-found``                                   404     unknown retiree, community, version, route
``version-conflict``                            409     ``expected_version`` differs; nothing written
``conflict``                                    409     a unique thing repeated (community code)
``rule/<rule>``                                 422     a domain rule refused the command; the body
                                                        also carries ``rule``
``invalid-input``                               422     input the schema cannot judge (bad month, ...)
``validation-error``                            422     the request does not match its schema; the
                                                        body carries ``errors`` (loc, msg, type)
``idempotency-key-reused``                      422     an ``Idempotency-Key`` reused for another request
``bad-request``                                 400     a body that is not a UTF-8 JSON object (empty,
                                                        malformed, BOM, UTF-16 ...), a bad
                                                        ``Content-Length`` (``api.intake``)
``payload-too-large``                           413     a body over 64 KiB (``api.intake``)
``uri-too-long``                                414     a query string over 2 KiB (``api.intake``)
``unsupported-media-type``                      415     a body not sent as ``application/json``
                                                        (charset other than utf-8) (``api.intake``)
``method-not-allowed`` ...                      4xx     other HTTP errors (``http-<status>`` otherwise)
``unavailable``                                 503     the event log cannot be reached
``integrity-violation``                         409     the stored history it would read fails its
                                                        checks (hash chain, sealing): nothing is
                                                        decided on it; ``ledger verify`` names it
``projection-failed``                           500     a view cannot apply an event (names view, seq)
``internal-error``                              500     a bug; the detail says nothing more
=============================================  ======  =========================================

Details never echo request values: validation errors keep only location, message and error type,
and ledger errors carry messages that are free of personal data by contract. Logs get no more:
a 5xx is logged with the error's type, the method, the path and the stack frames, never the
exception's message (it might quote input).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConflictError,
    IdempotencyKeyReusedError,
    IntegrityViolationError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
    NotTheWriterError,
    ProjectionError,
    RuleViolationError,
    UnavailableError,
    VersionConflictError,
)

PROBLEM_BASE = "https://social-care-ledger.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}

log = logging.getLogger("api.errors")


# The one table: error class -> (HTTP status, problem type slug, title). Looked up along the MRO,
# so a subclass without its own row inherits its parent's.
ERROR_TABLE: dict[type[LedgerError], tuple[int, str, str]] = {
    AuthenticationError: (401, "unauthorized", "Unauthorized"),
    AccessDeniedError: (403, "forbidden", "Forbidden"),
    NotFoundError: (404, "not-found", "Not found"),
    VersionConflictError: (409, "version-conflict", "Version conflict"),
    ConflictError: (409, "conflict", "Conflict"),
    RuleViolationError: (422, "rule", "Rule violated"),
    IdempotencyKeyReusedError: (422, "idempotency-key-reused", "Idempotency key reused"),
    InvalidInputError: (422, "invalid-input", "Invalid input"),
    NotTheWriterError: (503, "not-the-writer", "Not the writer"),
    UnavailableError: (503, "unavailable", "Event log unavailable"),
    IntegrityViolationError: (409, "integrity-violation", "Integrity violation"),
    ProjectionError: (500, "projection-failed", "Projection failed"),
    LedgerError: (500, "internal-error", "Internal error"),
}

_HTTP_SLUGS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Payload too large"),
    414: ("uri-too-long", "URI too long"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def problem_type(slug: str) -> str:
    return PROBLEM_BASE + slug


def problem_of(error: LedgerError) -> tuple[int, dict[str, Any]]:
    """The status and problem body for a ledger error (without ``instance``)."""
    for cls in type(error).__mro__:
        row = ERROR_TABLE.get(cls)  # type: ignore[call-overload]
        if row is not None:
            break
    else:  # pragma: no cover - LedgerError itself is in the table
        row = ERROR_TABLE[LedgerError]
    status, slug, title = row
    if isinstance(error, RuleViolationError):
        slug = f"rule/{error.rule}"
    detail = "an internal error occurred" if slug == "internal-error" else error.detail
    body: dict[str, Any] = {"type": problem_type(slug), "title": title, "status": status, "detail": detail}
    if isinstance(error, RuleViolationError):
        body["rule"] = error.rule
    if isinstance(error, NotTheWriterError):
        body["writer"] = error.writer
    return status, body


def problem_response(
    status: int, slug: str, title: str, detail: str, instance: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": problem_type(slug), "title": title, "status": status, "detail": detail}
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def _body_response(status: int, body: dict[str, Any], request: Request) -> JSONResponse:
    return JSONResponse({**body, "instance": request.url.path}, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def _log_server_error(exc: BaseException, request: Request, what: str) -> None:
    """Type, method, path and stack frames (code locations only): never the message, which may quote input."""
    frames = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
    log.error("%s %s on %s %s\n%s", what, type(exc).__name__, request.method, request.url.path, frames)


async def _ledger_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LedgerError)
    status, body = problem_of(exc)
    if status >= 500:
        _log_server_error(exc, request, "ledger error")
    response = _body_response(status, body, request)
    if isinstance(exc, AuthenticationError):
        response.headers.update(BEARER_CHALLENGE)
    return response


def _clean_loc(loc: Any) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


def validation_problem(errors: Iterable[Any]) -> dict[str, Any]:
    """The 422 ``validation-error`` body for pydantic errors: where, what and which kind, never the
    offending input (it may be personal data)."""
    cleaned: list[dict[str, Any]] = []
    places: list[str] = []
    for err in errors:
        loc = _clean_loc(err.get("loc", ()))
        kind = str(err.get("type", ""))
        msg = str(err.get("msg", ""))
        if kind == "union_tag_invalid":  # pydantic's message quotes the tag that was sent
            msg = f"unknown type; expected one of: {err.get('ctx', {}).get('expected_tags', '')}"
        cleaned.append({"loc": loc, "msg": msg, "type": kind})
        places.append(".".join(str(part) for part in loc))
    detail = "the request does not match its schema"
    if places:
        detail += " at: " + ", ".join(places[:5])
    return {"type": problem_type("validation-error"), "title": "Validation error", "status": 422, "detail": detail,
            "errors": cleaned}


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _body_response(422, validation_problem(exc.errors()), request)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_SLUGS.get(exc.status_code, (f"http-{exc.status_code}", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    response = problem_response(exc.status_code, slug, title, detail, request.url.path)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    _log_server_error(exc, request, "unexpected")
    return problem_response(500, "internal-error", "Internal error", "an internal error occurred", request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    """Registers the handlers that turn every error into problem+json."""
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)

