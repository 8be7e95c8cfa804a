"""The composition root of the HTTP API: ``create_app()``.

Nothing is built at import time. The lifespan builds the ``Ledger``, the view store and the
projection runner, the token store and the checkpoint store once, catches the views up, and
registers ``runner.catch_up`` in ``ledger.after_append`` so that a GET right after a successful
POST sees the write (read-your-writes); when a signing key exists (``ledger keys init``), a
checkpoint is signed every ``checkpoint_every`` events as well. All routes live under ``/v1`` except
``GET /health``; OpenAPI is at ``/docs``.

Logs carry no personal data: uvicorn's access log shows paths without query strings and with
anything shaped like an ID number masked, and an exception that escapes a request is contained
here (the error handlers already answered 500 and logged it without its message), so the server
never prints its message.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from api.auth import DEV_BANNER, check_dev_host, dev_mode_from_env
from api.deps import Services
from api.errors import BodySizeLimit, install_error_handlers
from api.responses import problems
from api.routers import audit, communities, health, log, projections, retirees
from ledger import __version__
from ledger.application import Ledger
from ledger.checkpoints import Checkpointer, CheckpointStore, Signer
from ledger.config import Settings
from ledger.errors import LedgerError, NotFoundError
from ledger.tokens import TokenStore
from projections.runner import ProjectionRunner
from projections.store.sqlite import SQLiteViewStore

logger = logging.getLogger("api.main")
_ID_NUMBER_LIKE = re.compile(r"\d{14,17}[\dXx]")


def open_services(settings: Settings, checkpoint_every: int | None = None) -> Services:
    """Builds the ledger, views, runner, token and checkpoint stores; views caught up, hooks registered."""
    ledger = Ledger(settings)
    opened: list[Callable[[], None]] = [ledger.close]
    try:
        store = SQLiteViewStore(settings.views_path)
        opened.append(store.close)
        checkpoints = CheckpointStore.for_settings(settings)
        opened.append(checkpoints.close)
        signer = _signer(settings)
    except BaseException:
        for close in reversed(opened):
            close()
        raise
    runner = ProjectionRunner(ledger, store)
    catch_up = _guarded("projections stopped", lambda: runner.catch_up())
    catch_up()
    ledger.after_append.append(catch_up)
    if signer is not None:
        checkpointer = Checkpointer(ledger, checkpoints, signer, every=checkpoint_every or settings.checkpoint_every)
        ledger.after_append.append(_guarded("checkpoint not signed", checkpointer.maybe_checkpoint))
    return Services(ledger=ledger, store=store, runner=runner, tokens=TokenStore.of(settings), checkpoints=checkpoints)


def _signer(settings: Settings) -> Signer | None:
    """The ledger's signing key, or None before ``ledger keys init`` (then no checkpoints are signed)."""
    try:
        return Signer.load(settings)
    except NotFoundError:
        return None


def close_services(services: Services) -> None:
    services.runner.close()
    services.checkpoints.close()
    services.store.close()
    services.ledger.close()


def _guarded(what: str, work: Callable[[], object]) -> Callable[[], None]:
    """``work`` with its failures logged, never raised.

    After an append the write is committed when the hooks run, so a failing projection or
    checkpoint must not turn it into an error; at start the ledger stays available for writes and
    audit reads. A stopped runner keeps its position (``/v1/projections/status`` shows the lag); the
    log line names the error and its detail (views, seqs, event types), never personal data.
    """

    def run() -> None:
        try:
            work()
        except LedgerError as error:
            logger.error("%s: %s: %s", what, type(error).__name__, error.detail)
        except Exception as error:
            logger.error("%s: %s", what, type(error).__name__)

    return run


class LedgerAPI(FastAPI):
    """FastAPI that keeps request exceptions in: Starlette re-raises them after the 500 is sent, and
    the server would then log their messages; the 500 handler has logged them already (without)."""

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
        if dev_mode:
            logger.warning(DEV_BANNER)
        services = open_services(settings if settings is not None else Settings.from_env(), checkpoint_every)
        app.state.services = services
        try:
            yield
        finally:
            close_services(services)

    app = LedgerAPI(
        title="Social Care Ledger",
        version=__version__,
        description="Event-sourced service records of community-managed enterprise retirees (Hunan). "
        "Every /v1 route needs `Authorization: Bearer <token>` except GET /v1/audit/public-key.",
        lifespan=lifespan,
        docs_url="/docs",
        debug=False,
    )
    app.state.dev_mode = dev_mode
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit)
    app.include_router(health.router, responses=problems(414))
    for router in (communities.router, retirees.router, log.router, projections.router, audit.router):
        app.include_router(router, prefix="/v1", responses=problems(414))
    return app
