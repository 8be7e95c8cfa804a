"""``Annotated`` dependency aliases for the routers.

The services are bootstrapped once per application in the lifespan (``api.main``) and kept on
``app.state.services``; routers only ever see them through these aliases. The dependencies that only
look something up are ``async`` (run inline, not on the thread pool: a hop there costs more than they
do); ``current_caller`` may read the token store, so it stays on the pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, cast

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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


def current_caller(
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The authenticated caller (401 without a valid bearer token), or the dev caller in development mode."""
    if request.app.state.dev_mode:
        server = request.scope.get("server")
        return dev_caller(str(server[0]) if server else None)
    return authenticate(services.tokens, credentials.credentials if credentials is not None else None)


def _one_of(*roles: Role) -> Callable[[Caller], Awaitable[Caller]]:
    async def require(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
        caller.require_role(*roles)
        return caller

    return require


ServicesDep = Annotated[Services, Depends(get_services)]
LedgerDep = Annotated[Ledger, Depends(get_ledger)]
StoreDep = Annotated[ViewStore, Depends(get_store)]
RunnerDep = Annotated[ProjectionRunner, Depends(get_runner)]
CheckpointsDep = Annotated[CheckpointStore, Depends(get_checkpoints)]
CallerDep = Annotated[Caller, Depends(current_caller)]
# Early refusals (403 before the body is judged) for roles that may not use a write route at all;
# the precise role-and-scope decision is made by Ledger.handle.
AgencyDep = Annotated[Caller, Depends(_one_of(Role.AGENCY))]
CommunityDep = Annotated[Caller, Depends(_one_of(Role.COMMUNITY))]
WriterDep = Annotated[Caller, Depends(_one_of(Role.AGENCY, Role.COMMUNITY))]
IdempotencyKeyDep = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeating a request with the same key returns the first result and appends nothing.",
    ),
]
