"""Who may write and read what: roles, scopes, principals and the decision tables (pure, no I/O).

A bearer token (``ledger.tokens``) authenticates a :class:`Principal`: a role and a scope
(``agency`` with ``city:NAME``, ``community`` with ``community:CODE``, ``auditor`` and ``viewer``
with ``all``). The API asks :func:`check_write` before ``Ledger.handle`` and :func:`check_read`
before a query; both raise :class:`AccessDeniedError` (HTTP 403) or return ``None``. The caller
looks up the facts a decision needs (the retiree's city and managing community, the city of the
community a command names) and passes them in; a needed fact given as ``None`` (unknown) denies:
every rule fails closed. Comparisons are exact (``Changsha`` is not ``changsha``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ledger import commands as cmd
from ledger.errors import AccessDeniedError, InvalidInputError

_TOKEN_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class Role(StrEnum):
    AGENCY = "agency"
    COMMUNITY = "community"
    AUDITOR = "auditor"
    VIEWER = "viewer"


class ScopeKind(StrEnum):
    CITY = "city"
    COMMUNITY = "community"
    ALL = "all"


class Resource(StrEnum):
    """What a read concerns; ``audit`` is verification and evidence export."""

    RETIREE = "retiree"
    HISTORY = "history"
    COMMUNITY = "community"
    AGENCY = "agency"
    LOG = "log"
    PROJECTIONS = "projections"
    AUDIT = "audit"


_SUBJECTS = frozenset({Resource.RETIREE, Resource.HISTORY, Resource.COMMUNITY})

# The one scope kind each role carries.
SCOPE_OF_ROLE: Mapping[Role, ScopeKind] = {
    Role.AGENCY: ScopeKind.CITY,
    Role.COMMUNITY: ScopeKind.COMMUNITY,
    Role.AUDITOR: ScopeKind.ALL,
    Role.VIEWER: ScopeKind.ALL,
}


_SCOPE_VALUE = {
    ScopeKind.CITY: re.compile(r"^\w(?:[\w .'-]{0,62}[\w.])?$"),
    ScopeKind.COMMUNITY: re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$"),
    ScopeKind.ALL: re.compile(r"^$"),
}


def _shown(text: str) -> str:
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


@dataclass(frozen=True)
class Scope:
    """Where a principal may act: a city (name), a community (code), or all; validated (InvalidInputError)."""

    kind: ScopeKind
    value: str = ""

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", ScopeKind(self.kind))
        except ValueError:
            raise InvalidInputError(f"unknown scope kind {_shown(str(self.kind))}") from None
        if not _SCOPE_VALUE[self.kind].match(self.value):
            raise InvalidInputError(f"invalid value for a {self.kind} scope: {_shown(self.value)}")

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``city:NAME``, ``community:CODE`` or ``all``; anything else raises InvalidInputError."""
        if text == ScopeKind.ALL:
            return cls(ScopeKind.ALL)
        kind, sep, value = text.partition(":")
        if not sep or kind not in (ScopeKind.CITY, ScopeKind.COMMUNITY):
            raise InvalidInputError(f"scope must be 'city:NAME', 'community:CODE' or 'all', got {_shown(text)}")
        return cls(ScopeKind(kind), value)

    @classmethod
    def for_role(cls, role: Role | str, text: str | None) -> Scope:
        """The scope for a new principal of ``role``: parsed from ``text``; auditors and
        viewers may omit it (``all``). Raises InvalidInputError if it does not fit the role."""
        role = parse_role(role)
        scope = cls(ScopeKind.ALL) if text is None and SCOPE_OF_ROLE[role] == ScopeKind.ALL else cls.parse(text or "")
        _check_fits(role, scope)
        return scope

    def __str__(self) -> str:
        return str(self.kind) if self.kind == ScopeKind.ALL else f"{self.kind}:{self.value}"


def parse_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInputError(f"role must be one of {', '.join(Role)}, got {_shown(str(role))}") from None


def _check_fits(role: Role, scope: Scope) -> None:
    wanted = SCOPE_OF_ROLE[role]
    if scope.kind != wanted:
        shape = "all" if wanted == ScopeKind.ALL else f"{wanted}:..."
        raise InvalidInputError(f"a {role} token needs the scope {shape!r}, got {str(scope)!r}")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. Role and scope must fit each other (InvalidInputError if not)."""

    token_id: str
    role: Role
    scope: Scope

    def __post_init__(self) -> None:
        if not _TOKEN_ID.match(self.token_id):
            raise InvalidInputError("invalid token id")
        object.__setattr__(self, "role", parse_role(self.role))
        _check_fits(self.role, self.scope)

    @property
    def name(self) -> str:
        """The id events record as ``recorded_by``, e.g. ``agency:city:Changsha#3f9a...``: role, scope,
        token id; never personal data."""
        return f"{self.role}:{self.scope}#{self.token_id}"


def _eq(value: str, fact: object) -> bool:
    return fact is not None and fact == value


# The write decision table, derived from the commands' own declarations (``ledger.commands``): each
# command, the one role that may issue it, and the facts that must ALL equal the principal's scope
# value ("command.X" is the command's own field X; the others are the keyword arguments of check_write).
WRITE_RULES: Mapping[type, tuple[Role, tuple[str, ...]]] = {
    kind: (Role(declared.role), declared.scope) for kind, declared in cmd.COMMANDS.items()
}


def commands_of(role: Role) -> frozenset[type]:
    """The command types ``role`` may issue at all (within its scope)."""
    return frozenset(kind for kind, (allowed, _) in WRITE_RULES.items() if allowed == role)


def check_write(
    principal: Principal,
    command: object,
    *,
    retiree_city: str | None = None,
    retiree_community: str | None = None,
    community_city: str | None = None,
) -> None:
    """Raises AccessDeniedError unless ``principal`` may issue ``command`` (see WRITE_RULES).

    Facts, looked up by the caller before the write: ``retiree_city`` / ``retiree_community``
    are the city and the CURRENT managing community of the retiree a retiree command names;
    ``community_city`` is the city of the community a transfer or relocation moves the retiree
    to. Enrollments and registrations are judged on the command's own ``city``, staff events on
    its ``community``. Consequences: an agency moves retirees only between communities of its
    own city, and a community records services only for retirees it manages now (not for one
    who has moved away since). Unknown command types are denied.
    """
    kind = type(command).__name__
    rule = WRITE_RULES.get(type(command))
    if rule is None or rule[0] != principal.role:
        raise AccessDeniedError(f"the role {principal.role} may not issue {kind}")
    facts = {"retiree_city": retiree_city, "retiree_community": retiree_community, "community_city": community_city}
    needed = (
        getattr(command, name.removeprefix("command."), None) if name.startswith("command.") else facts[name]
        for name in rule[1]
    )
    if not all(_eq(principal.scope.value, fact) for fact in needed):
        raise AccessDeniedError(f"{kind} is outside the scope {principal.scope}")


def can_write(principal: Principal, command: object, **facts: str | None) -> bool:
    """:func:`check_write` as a boolean."""
    return _allowed(lambda: check_write(principal, command, **facts))


def check_read(
    principal: Principal,
    resource: Resource | str,
    *,
    retiree_city: str | None = None,
    retiree_community: str | None = None,
    community: str | None = None,
    community_city: str | None = None,
    agency_area: str | None = None,
) -> None:
    """Raises AccessDeniedError unless ``principal`` may read ``resource``.

    auditor: everything. viewer: ``projections`` only. agency: retirees whose ``retiree_city``
    is its city, communities whose ``community_city`` is its city, projections. community: the
    retirees whose CURRENT ``retiree_community`` is its code, the ``community`` with its code,
    projections. ``agency`` (an agency's standards, courses and history: public policy) is read by every
    agency, community and auditor, given its ``agency_area``.
    ``history`` is judged as a retiree when retiree facts are given, otherwise as
    a community. ``log`` (the global log) and ``audit`` are for auditors only. An unknown
    resource name raises InvalidInputError.
    """
    try:
        what = Resource(resource)
    except ValueError:
        raise InvalidInputError(f"unknown resource {_shown(str(resource))}") from None
    if principal.role == Role.AUDITOR or what == Resource.PROJECTIONS:
        return
    if what == Resource.AGENCY:  # standards and courses: every agency and community reads them, viewers not
        if principal.role in (Role.AGENCY, Role.COMMUNITY) and agency_area is not None:
            return
        raise AccessDeniedError(f"the role {principal.role} may not read {what}")
    if principal.role not in (Role.AGENCY, Role.COMMUNITY) or what not in _SUBJECTS:
        raise AccessDeniedError(f"the role {principal.role} may not read {what}")
    about_retiree = what == Resource.RETIREE or (
        what == Resource.HISTORY and (retiree_city is not None or retiree_community is not None)
    )
    if principal.role == Role.AGENCY:
        fact = retiree_city if about_retiree else community_city
    else:
        fact = retiree_community if about_retiree else community
    if not _eq(principal.scope.value, fact):
        raise AccessDeniedError(f"this {what} is outside the scope {principal.scope}")


def can_read(principal: Principal, resource: Resource | str, **facts: str | None) -> bool:
    """:func:`check_read` as a boolean."""
    return _allowed(lambda: check_read(principal, resource, **facts))


def _allowed(decide: Callable[[], None]) -> bool:
    try:
        decide()
    except AccessDeniedError:
        return False
    return True


def listed_retirees(principal: Principal) -> dict[str, str]:
    """The facts a retiree must have for ``principal`` to find them in retiree lists (the directory):
    an agency those of its ``city``, a community those it manages now (``community``); auditors and
    viewers every retiree (the directory holds no personal data, so it is read as a projection)."""
    if principal.role == Role.AGENCY:
        return {"city": principal.scope.value}
    if principal.role == Role.COMMUNITY:
        return {"community": principal.scope.value}
    return {}


def sees_personal_data(principal: Principal) -> bool:
    """Whether responses to ``principal`` may carry names and ID numbers.

    Agencies and communities: yes, for what they may read at all (check_read limits that to
    their scope); they serve these people. Auditors: no; they verify histories, hashes and
    rules, which needs no identity, and they read across every city. Viewers: no; they see
    projections only. Which fields are personal is ``ledger.privacy``'s rule.
    """
    return principal.role in (Role.AGENCY, Role.COMMUNITY)
