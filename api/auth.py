"""Who is calling: a principal authenticated by bearer token, or the trusted development caller.

Every route except ``/health``, ``/docs``, ``/openapi.json`` and ``GET /v1/audit/public-key``
depends on ``api.deps.current_caller``, which reads ``Authorization: Bearer <token>`` and asks the
token store (``HOME/auth.db``, ``ledger.tokens``). A missing, malformed, unknown or revoked token
is an ``AuthenticationError`` (401, ``WWW-Authenticate: Bearer``); it is raised while FastAPI
solves the route's dependencies, so before query and body validation (only a body that is not JSON
at all, or one over the size limit, is refused earlier).

Authorization lives in two places. Writes: ``Ledger.handle`` checks role and scope of every
command itself (it knows the retiree's city and community) against ``Context.access``; routes
only refuse roles that may not use the route at all, early. Reads: the routes look up the facts
(retiree city and current community, community code and city) and call :meth:`Caller.check_read`.

Development mode (``create_app(dev_mode=True)``, ``LEDGER_DEV_MODE=1``, ``ledger serve --dev``)
checks no token: every request is the ``dev`` caller, whose writes are trusted
(``Context.access=None``, recorded as ``dev``) and who may read everything, personal data
included. It serves loopback only: ``create_app`` refuses a non-loopback ``host`` and every
request that reached the server on a non-loopback address is refused (403).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ledger import commands as cmd
from ledger.access import Principal, Resource, Role, check_read, listed_retirees, sees_personal_data
from ledger.errors import AccessDeniedError, AuthenticationError
from ledger.privacy import redact
from ledger.tokens import TokenStore
from runtime.serving import is_loopback

DEV_PRINCIPAL = "dev"

DEV_BANNER = """
======================================================================
  DEVELOPMENT MODE: bearer tokens are NOT checked.
  Every request acts as the trusted 'dev' principal: it may write
  anything and read everything, names and ID numbers included.
  Served on the loopback interface only. Never use it with real data.
======================================================================"""


@dataclass(frozen=True)
class Caller:
    """The caller of one request: ``principal`` from a bearer token, or None for the dev caller."""

    principal: Principal | None

    @property
    def name(self) -> str:
        """Recorded as ``recorded_by`` and scoping ``Idempotency-Key``s: the principal's name or ``dev``."""
        return self.principal.name if self.principal is not None else DEV_PRINCIPAL

    def context(self, *, expected_version: int | None, idempotency_key: str | None) -> cmd.Context:
        """The write context; ``access`` is the principal, whose role and scope ``Ledger.handle`` checks."""
        return cmd.Context(
            principal=self.name,
            expected_version=expected_version,
            idempotency_key=idempotency_key,
            access=self.principal,
        )

    def require_role(self, *roles: Role) -> None:
        """AccessDeniedError unless the caller has one of ``roles`` (the dev caller has them all)."""
        if self.principal is not None and self.principal.role not in roles:
            raise AccessDeniedError(f"the role {self.principal.role} may not use this endpoint")

    def check_read(self, resource: Resource, **facts: str | None) -> None:
        """``ledger.access.check_read`` for token callers (AccessDeniedError); the dev caller reads all."""
        if self.principal is not None:
            check_read(self.principal, resource, **facts)

    def listed_retirees(self) -> dict[str, str]:
        """``ledger.access.listed_retirees`` for token callers; the dev caller lists every retiree."""
        return listed_retirees(self.principal) if self.principal is not None else {}

    def shown(self, data: Mapping[str, Any], personal: frozenset[str]) -> dict[str, Any]:
        """``data`` as this caller may see it: its ``personal`` fields (``ledger.privacy``) redacted
        unless the role may see personal data (the dev caller may)."""
        if self.principal is None or sees_personal_data(self.principal):
            return dict(data)
        return redact(data, personal)


def authenticate(tokens: TokenStore, credentials: str | None) -> Caller:
    """The caller a bearer token stands for; AuthenticationError when there is none or it is not valid."""
    if credentials is None:
        raise AuthenticationError("a bearer token is required (Authorization: Bearer <token>)")
    return Caller(tokens.authenticate(credentials))


_serves_loopback = lru_cache(maxsize=16)(is_loopback)
"""``is_loopback`` of the address a request reached (a server listens on few): parsed once, not per request."""


def dev_caller(server_host: str | None) -> Caller:
    """The development caller, for a request that reached the server at ``server_host``.

    Refused (AccessDeniedError) unless that address is a loopback address: even if a dev server
    was started some other way on a public interface, it answers nobody but the local machine.
    """
    if server_host is None or not _serves_loopback(server_host):
        raise AccessDeniedError("development mode answers requests on the loopback interface only")
    return Caller(None)
