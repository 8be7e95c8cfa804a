"""Bearer tokens: created once, stored hashed, checked in constant time, revocable.

A token reads ``scl_<id>_<secret>``: ``<id>`` is 16 hex digits (public: it names the token in
listings and in the principal recorded on events), ``<secret>`` is ``secrets.token_urlsafe(32)``
(256 random bits). The store (SQLite, ``HOME/auth.db``, file mode 0600) keeps the id, role,
scope, label, times and SHA-256 of the secret; never the secret itself, so the token is shown
exactly once, by :meth:`TokenStore.create`. A plain (unsalted) hash is enough because the secret
is random and long; it is compared with ``hmac.compare_digest``.

Each call opens its own short SQLite connection, so one store may be shared by threads and a
running server sees tokens created or revoked by the CLI at once.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ledger.access import Principal, Role, Scope, parse_role
from ledger.config import Settings
from ledger.errors import AuthenticationError, InvalidInputError, NotFoundError, UnavailableError
from ledger.files import private_folder

PREFIX = "scl"
_TOKEN = re.compile(r"^scl_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
_TOKEN_ID = re.compile(r"^[0-9a-f]{16}$")
_MAX_TOKEN_LENGTH = 128
_MAX_LABEL_LENGTH = 200
# Compared against when the id is unknown, so that unknown and wrong secrets take the same path.
_DUMMY_HASH = hashlib.sha256(b"no such token").hexdigest()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    scope TEXT NOT NULL,
    label TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)
"""


@dataclass(frozen=True)
class TokenInfo:
    """What the store knows about a token; never the secret."""

    token_id: str
    role: Role
    scope: Scope
    label: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def principal(self) -> Principal:
        return Principal(self.token_id, self.role, self.scope)


def auth_path(settings: Settings) -> Path:
    """Where the token store of a ledger home lives."""
    return settings.home / "auth.db"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """The token table in one SQLite file; created (with its folder) on first use."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.path = path
        self._clock = clock
        self._ready = False

    @classmethod
    def of(cls, settings: Settings) -> TokenStore:
        return cls(auth_path(settings))

    def create(self, role: Role | str, scope: Scope | str | None = None, label: str = "") -> tuple[str, TokenInfo]:
        """Creates a token and returns ``(token, info)``; the token is not stored and cannot be
        recovered later. ``scope`` may be omitted for auditors and viewers (``all``). Raises
        InvalidInputError when the role, scope or label is invalid."""
        role = parse_role(role)
        scope = Scope.for_role(role, scope if scope is None or isinstance(scope, str) else str(scope))
        if len(label) > _MAX_LABEL_LENGTH or not label.isprintable():
            raise InvalidInputError(f"a label is printable text of at most {_MAX_LABEL_LENGTH} characters")
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        info = TokenInfo(token_id, role, scope, label, self._clock())
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO tokens (id, role, scope, label, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (token_id, str(role), str(scope), label, _hash(secret), info.created_at.isoformat()),
            )
        return f"{PREFIX}_{token_id}_{secret}", info

    def authenticate(self, token: str) -> Principal:
        """The principal of a valid, unrevoked token; AuthenticationError otherwise.

        The stored hash is compared with ``hmac.compare_digest``, also (against a dummy) when
        the id is unknown.
        """
        match = _TOKEN.match(token) if len(token) <= _MAX_TOKEN_LENGTH else None
        if match is None:
            raise AuthenticationError("malformed bearer token")
        token_id, secret = match.groups()
        with self._connection() as conn:
            row = conn.execute(
                "SELECT role, scope, secret_sha256, revoked_at FROM tokens WHERE id = ?", (token_id,)
            ).fetchone()
        expected = row[2] if row is not None else _DUMMY_HASH
        matches = hmac.compare_digest(expected.encode(), _hash(secret).encode())
        if row is None or not matches or row[3] is not None:
            raise AuthenticationError("invalid or revoked bearer token")
        return Principal(token_id, Role(row[0]), Scope.parse(row[1]))

    def revoke(self, token_id: str) -> bool:
        """Revokes a token for good. True if it was active; False if unknown or already revoked."""
        if not _TOKEN_ID.match(token_id):
            return False
        with self._connection() as conn:
            cursor = conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (self._clock().isoformat(), token_id),
            )
            return cursor.rowcount == 1

    def get(self, token_id: str) -> TokenInfo:
        """The token's info; NotFoundError if there is no such token."""
        with self._connection() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM tokens WHERE id = ?", (token_id,)).fetchone()
        if row is None:
            raise NotFoundError("no token with this id")
        return _info(row)

    def list(self) -> builtins.list[TokenInfo]:
        """Every token, revoked ones included, oldest first; never a secret."""
        with self._connection() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM tokens ORDER BY created_at, id").fetchall()
        return [_info(row) for row in rows]

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """One connection, one transaction (committed on success); SQLite errors become
        UnavailableError."""
        try:
            if not self._ready:
                self._prepare()
            with closing(sqlite3.connect(self.path, timeout=10)) as conn, conn:
                yield conn
        except sqlite3.Error as error:
            raise UnavailableError(f"the token store is unavailable: {type(error).__name__}") from None

    def _prepare(self) -> None:
        private_folder(self.path.parent)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        with closing(sqlite3.connect(self.path, timeout=10)) as conn, conn:
            conn.execute(_SCHEMA)
        self._ready = True


_COLUMNS = "id, role, scope, label, created_at, revoked_at"


def _info(row: tuple[str, str, str, str, str, str | None]) -> TokenInfo:
    token_id, role, scope, label, created, revoked = row
    return TokenInfo(
        token_id=token_id,
        role=Role(role),
        scope=Scope.parse(scope),
        label=label,
        created_at=datetime.fromisoformat(created),
        revoked_at=datetime.fromisoformat(revoked) if revoked is not None else None,
    )
