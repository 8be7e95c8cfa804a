"""``Annotated`` dependency aliases for the routers.

The services are bootstrapped once per application in the lifespan (``api.main``) and kept on
``app.state.services``; routers only ever see them through these aliases. Every dependency is ``async``
(run inline, not on the thread pool: a hop there costs more than they do); only reading the token store
(``api.auth.authenticate``) goes to the pool, and only for a bearer token (not in development mode).

The append routes take ONE dependency, ``Writer`` (``AgencyWriterDep``, ``CommunityWriterDep``,
``WriterDep``): the ledger and the authenticated caller, refused early (403) when its role may not use
the route at all. FastAPI solves each dependency per request (~25 µs each), so the write path solves
two (it and the bearer scheme) where it solved six.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.auth import Caller, authenticate, dev_caller
from ledger.access import Role
from ledger.application import Ledger
from ledger.integrity.checkpoints import CheckpointStore
from projections.runner import ProjectionRunner
from projections.store import ViewStore
from runtime.bootstrap import Services


async def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


async def get_ledger(services: Annotated[Services, Depends(get_services)]) -> Ledger:
    return services.ledger


async def get_store(services: Annotated[Services, Depends(get_services)]) -> ViewStore:
    return services.store


async def get_runner(services: Annotated[Services, Depends(get_services)]) -> ProjectionRunner:
    return services.runner


async def get_checkpoints(services: Annotated[Services, Depends(get_services)]) -> CheckpointStore:
    return services.checkpoints


# auto_error=False: a missing token becomes our own 401 problem (api.auth), not FastAPI's.
_bearer = HTTPBearer(auto_error=False, description="A token made with `ledger tokens create`.")


async def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The authenticated caller (401 without a valid bearer token), or the dev caller in development mode.

    A token is looked up in the token store on every request (no cache: a revoked token is refused at
    once), on the thread pool; the dev caller is decided inline."""
    if request.app.state.dev_mode:
        server = request.scope.get("server")
        return dev_caller(str(server[0]) if server else None)
    if credentials is None:
        return authenticate(request.app.state.services.tokens, None)  # raises: no token, nothing to read
    services = cast(Services, request.app.state.services)
    return await run_in_threadpool(authenticate, services.tokens, credentials.credentials)


@dataclass(frozen=True)
class Writer:
    """What an append route needs, from one dependency: the ledger and the caller (``api.appending``)."""

    ledger: Ledger
    caller: Caller


def _writer(*roles: Role) -> Callable[..., Awaitable[Writer]]:
    """The dependency of an append route open to ``roles``: authenticates (401), refuses other roles (403)."""

    async def writer(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Writer:
        caller = await current_caller(request, credentials)
        caller.require_role(*roles)
        return Writer(cast(Services, request.app.state.services).ledger, caller)

    return writer


ServicesDep = Annotated[Services, Depends(get_services)]
LedgerDep = Annotated[Ledger, Depends(get_ledger)]
StoreDep = Annotated[ViewStore, Depends(get_store)]
RunnerDep = Annotated[ProjectionRunner, Depends(get_runner)]
CheckpointsDep = Annotated[CheckpointStore, Depends(get_checkpoints)]
CallerDep = Annotated[Caller, Depends(current_caller)]
# Early refusals (403 before the body is judged) for roles that may not use a write route at all;
# the precise role-and-scope decision is made by Ledger.handle.
AgencyWriterDep = Annotated[Writer, Depends(_writer(Role.AGENCY))]
CommunityWriterDep = Annotated[Writer, Depends(_writer(Role.COMMUNITY))]
WriterDep = Annotated[Writer, Depends(_writer(Role.AGENCY, Role.COMMUNITY))]
IdempotencyKeyDep = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeating a request with the same key returns the first result and appends nothing.",
    ),
]
