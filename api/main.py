"""The HTTP app: ``create_app()``, wired by the one composition root (``runtime.bootstrap``).

Nothing is built at import time. The lifespan bootstraps the services with the read side
following the log in its own thread: a POST returns once its events are stored, and a projection
read waits (bounded) until the views have caught up with the log head it saw (read-your-writes).
With a signing key (``ledger keys init``) the same thread signs a checkpoint every
``checkpoint_every`` events. All routes live under ``/v1`` except ``GET /health``, ``GET /metrics``
(``api.metrics``) and the pages of ``api.docs`` (``/docs`` and ``/redoc`` from vendored files, ``/``
redirecting to ``/dashboard``). ``uvicorn --factory api.main:create_app`` serves it (settings from
``LEDGER_*``). Every response carries ``X-Request-ID``; served by uvicorn, log lines are JSON
(``api.request_log``).

Logs carry no personal data: uvicorn's access log shows paths without query strings and with
anything shaped like an ID number masked, and an exception that escapes a request is contained
here (the error handlers already answered 500 and logged it without its message), so the server
never prints its message.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import Receive, Scope, Send

from api.auth import DEV_BANNER
from api.docs import install_docs
from api.errors import install_error_handlers
from api.intake import RequestGate
from api.metrics import HTTPMetrics, Metrics
from api.metrics import router as metrics_router
from api.openapi import stated
from api.request_log import RequestId, json_logs
from api.responses import problems
from api.routers import agencies, audit, batches, communities, dashboard, health, log, projections, retirees, sheets
from ledger import __version__
from ledger.config import Settings
from runtime.bootstrap import bootstrap
from runtime.serving import check_dev_host, dev_mode_from_env

logger = logging.getLogger("api.main")
_ID_NUMBER_LIKE = re.compile(r"\d{14,17}[\dXx]")
VERSIONED = (communities.router, agencies.router, retirees.router, batches.router, log.router, projections.router,
             audit.router, sheets.router)
"""The ``/v1`` routers, in the order the OpenAPI document lists them (after ``/health`` and ``/metrics``)."""


class LedgerAPI(FastAPI):
    """FastAPI that keeps request exceptions in: Starlette re-raises them after the 500 is sent, and
    the server would then log their messages; the 500 handler has logged them already (without).
    Its OpenAPI document states what the server enforces (``api.openapi``), its paths in
    ``documented_order`` whatever order requests try the routes in."""

    documented_order: tuple[str, ...] = ()

    def openapi(self) -> dict[str, Any]:
        document = stated(super().openapi())  # idempotent; FastAPI caches the document it corrects
        rank: dict[str, int] = {}
        for path in self.documented_order:
            rank.setdefault(path, len(rank))
        paths: dict[str, Any] = document.get("paths", {})
        ordered = sorted(paths, key=lambda path: rank.get(path, len(rank)))  # stable: others keep their order
        if list(paths) != ordered:
            document["paths"] = {path: paths[path] for path in ordered}
        return document

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except Exception:
            if scope["type"] == "lifespan":
                raise


class _AccessLogScrubber(logging.Filter):
    """Rewrites uvicorn's access-log records: no query string, ID-number-shaped digits masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, _, query = args[2].partition("?")
            shown = _ID_NUMBER_LIKE.sub("***", path) + ("?..." if query else "")
            record.args = (*args[:2], shown, *args[3:])
        return True


def scrub_access_log() -> None:
    """Installs the scrubber on ``uvicorn.access`` once (idempotent)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _AccessLogScrubber) for f in access.filters):
        access.addFilter(_AccessLogScrubber())


def _paths(*routers: APIRouter, prefix: str = "") -> tuple[str, ...]:
    return tuple(prefix + path for router in routers for route in router.routes
                 if isinstance(path := getattr(route, "path", None), str))


def create_app(
    settings: Settings | None = None,
    *,
    dev_mode: bool = False,
    host: str | None = None,
    checkpoint_every: int | None = None,
) -> FastAPI:
    """The FastAPI app. ``settings`` default to ``Settings.from_env()``, read when the app starts.

    ``dev_mode`` (or ``LEDGER_DEV_MODE=1``) serves without tokens (``api.auth``) and says so with a
    WARNING banner at start. It raises ``InvalidInputError`` when ``host`` (the address the server
    will bind) is not a loopback address; without ``host`` every request is checked instead.
    ``checkpoint_every``: with a signing key, a checkpoint is signed each time the head crosses a
    multiple of it (default: ``settings.checkpoint_every``, ``LEDGER_CHECKPOINT_EVERY``).
    """
    dev_mode = dev_mode or dev_mode_from_env(os.environ)
    if dev_mode:
        check_dev_host(host)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scrub_access_log()
        json_logs()
        if dev_mode:
            logger.warning(DEV_BANNER)
        chosen = settings if settings is not None else Settings.from_env()
        services = bootstrap(chosen, follow=chosen.follow, checkpoint_every=checkpoint_every)
        app.state.services = services
        services.ledger.on_handled.append(app.state.metrics.observe_append)
        try:
            yield
        finally:
            services.close()

    app = LedgerAPI(
        title="Social Care Ledger",
        version=__version__,
        description="Event-sourced service records of community-managed enterprise retirees (Hunan). "
        "Every /v1 route needs `Authorization: Bearer <token>` except GET /v1/audit/public-key.",
        lifespan=lifespan,
        docs_url=None,  # served from vendored files by api.docs (works offline)
        redoc_url=None,
        debug=False,
    )
    app.state.dev_mode = dev_mode
    app.state.metrics = Metrics(lambda: getattr(app.state, "services", None))
    install_error_handlers(app)
    app.add_middleware(RequestGate)
    app.add_middleware(HTTPMetrics, metrics=app.state.metrics)
    app.add_middleware(RequestId)  # outermost: refusals carry the id too
    # A request tries the routers in turn, and FastAPI matches each router's routes one by one: the retirees'
    # (where most appends go) first, /health and /metrics last. The document keeps its order.
    for router in sorted(VERSIONED, key=lambda router: router is not retirees.router):
        app.include_router(router, prefix="/v1", responses=problems(400, 414))
    app.include_router(health.router, responses=problems(400, 414))
    app.include_router(metrics_router, responses=problems(400, 414))
    app.documented_order = _paths(health.router, metrics_router) + _paths(*VERSIONED, prefix="/v1")
    app.include_router(dashboard.router)
    install_docs(app)  # after the routers: a registered /dashboard is kept
    return app
