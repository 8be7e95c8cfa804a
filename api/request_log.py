"""Request ids and JSON logs.

``RequestId`` (ASGI middleware, the outermost) gives every request an id: a sane incoming
``X-Request-ID`` (1 to 64 characters of ``A-Z a-z 0-9 . _ : -`` without a run of 14 digits, which could
be an ID number) is kept, anything else is replaced by a fresh one; the id is answered in the
``X-Request-ID`` header and put on every log record written while the request runs.

``json_logs()`` makes the server's log lines JSON objects, one a line: ``time``, ``level``,
``logger``, ``message``, ``request_id`` (when in a request) and ``error`` (an exception's type, never
its message). Messages carry no personal data: the access log is scrubbed (``api.main``) and the
error handlers log types, not values.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_DIGIT_RUN = re.compile(r"\d{14}")
_LOGGERS = ("api", "ledger", "projections", "runtime")
"""Our loggers; uvicorn's get the formatter on the handlers uvicorn gave them."""
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")
_SHARED = "_ledger_shared"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def sane_request_id(value: str | None) -> str | None:
    """``value`` if it may be echoed and logged, else None."""
    if value is None or not _SANE.fullmatch(value) or _DIGIT_RUN.search(value):
        return None
    return value


class RequestId:
    """ASGI middleware: the request id on the context, the log records and the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = sane_request_id(Headers(scope=scope).get(HEADER)) or uuid.uuid4().hex

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = rid
            await send(message)

        token = request_id.set(rid)
        try:
            await self.app(scope, receive, sending)
        finally:
            request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or None) on each record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line; an exception shows as its type only."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid is not None:
            line["request_id"] = rid
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
        return orjson.dumps(line).decode()


def json_logs() -> None:
    """JSON lines on uvicorn's handlers, which our loggers then share (idempotent).

    Only when uvicorn configured its logging (``ledger serve``, ``uvicorn --factory``); in-process
    test clients keep Python's defaults.
    """
    formatter = JsonFormatter()
    default = logging.getLogger("uvicorn").handlers
    for name in _UVICORN:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)
            if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
                handler.addFilter(RequestIdFilter())
    if logging.getLogger().handlers:  # the host configured logging (a test runner): our records reach it already
        return
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        for stale in [h for h in logger.handlers if getattr(h, _SHARED, False) and h not in default]:
            logger.removeHandler(stale)  # uvicorn configured its logging again (several servers in one process)
        for handler in default:
            if handler not in logger.handlers:
                setattr(handler, _SHARED, True)
                logger.addHandler(handler)
