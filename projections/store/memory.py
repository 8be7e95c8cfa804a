"""A view store in memory: the ``ViewStore`` contract without a disk, for tests and throwaway runs.

It behaves like ``SQLiteViewStore``: rows are kept JSON-encoded (orjson), so callers never share a
stored dict and a row that the SQLite store cannot encode is refused here too; positions and versions
must fit a 64-bit signed integer and names must be encodable as UTF-8, as in SQLite. ``apply``
validates everything before it writes anything, so a failure leaves the store as it was. One lock
serialises every method; after ``close`` every method but ``close`` raises ``UnavailableError``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson

from ledger.errors import UnavailableError
from projections.store import (
    LOG_SOURCE,
    EncodedChanges,
    EncodingStore,
    StalePositionsError,
    ViewRow,
    ViewSnapshot,
    stale,
)

PREFIX_END = "\U0010ffff"
INTEGER_RANGE = range(-(2**63), 2**63)


def _integer(value: int) -> int:
    """``value`` as SQLite stores an INTEGER: converted by ``int`` and limited to 64 bits."""
    number = int(value)
    if number not in INTEGER_RANGE:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")
    return number


def _check_text(texts: Iterable[str]) -> None:
    """Raises ``UnicodeEncodeError`` for a name SQLite could not bind (a lone surrogate)."""
    for text in texts:
        text.encode()


def _load(data: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(data)
    return loaded


class InMemoryViewStore(EncodingStore):
    """``ViewStore`` in process memory; see ``projections.store`` for the contract."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._closed = False
        self._rows: dict[str, dict[tuple[str, str], bytes]] = {}
        self._positions: dict[str, dict[str, int]] = {}
        self._versions: dict[str, int] = {}
        self._checks: dict[str, bytes] = {}
        self._workers: dict[str, dict[str, float]] = {}

    @contextmanager
    def _open(self) -> Iterator[None]:
        with self._lock:
            if self._closed:
                raise UnavailableError("the view store failed: it is closed")
            yield

    def position(self, name: str, source: str = LOG_SOURCE) -> int:
        with self._open():
            return self._positions.get(name, {}).get(source, 0)

    def positions(self, name: str) -> dict[str, int]:
        with self._open():
            return dict(self._positions.get(name, {}))

    def version(self, name: str) -> int | None:
        with self._open():
            return self._versions.get(name)

    def get(self, name: str, kind: str, key: str) -> dict[str, Any] | None:
        with self._open():
            found = self._rows.get(name, {}).get((kind, key))
        return None if found is None else _load(found)

    def rows(self, name: str, kind: str | None = None, prefix: str = "") -> list[ViewRow]:
        with self._open():
            found = sorted(
                (row_kind, key, data)
                for (row_kind, key), data in self._rows.get(name, {}).items()
                if (kind is None or row_kind == kind) and (not prefix or prefix <= key < prefix + PREFIX_END)
            )
        return [ViewRow(row_kind, key, _load(data)) for row_kind, key, data in found]

    def snapshot(self, name: str) -> ViewSnapshot:
        with self._open():
            return ViewSnapshot(self.positions(name), self.version(name), self.rows(name))

    def apply_encoded(
        self, name: str, version: int, changes: EncodedChanges, position: int | Mapping[str, int],
        source: str = LOG_SOURCE, *, expected: Mapping[str, int] | None = None,
    ) -> None:
        """``apply`` with rows already JSON-encoded (orjson bytes; ``None`` deletes): the rebuild's path."""
        given = {source: position} if isinstance(position, int) else dict(position)
        positions = {src: _integer(at) for src, at in given.items()}
        stored_version = _integer(version)
        encoded = dict(changes)
        _check_text([name, *positions, *(kind for kind, _ in encoded), *(key for _, key in encoded)])
        with self._open():
            refused = stale(self._positions.get(name, {}), expected, positions, self._versions.get(name),
                            stored_version)
            if refused is not None:
                raise StalePositionsError(refused)
            rows = self._rows.setdefault(name, {})
            for where, data in encoded.items():
                if data is None:
                    rows.pop(where, None)
                else:
                    rows[where] = data
            self._positions.setdefault(name, {}).update(positions)
            self._versions[name] = stored_version

    def drop(self, name: str) -> None:
        with self._open():
            for table in (self._rows, self._positions, self._versions, self._checks):
                table.pop(name, None)

    def replace(self, name: str, replacement: str) -> None:
        with self._open():
            tables: tuple[dict[str, Any], ...] = (self._rows, self._positions, self._versions, self._checks)
            for table in tables:
                table.pop(name, None)
                if replacement in table:
                    table[name] = table.pop(replacement)

    def record_check(self, name: str, check: Mapping[str, Any]) -> None:
        encoded = orjson.dumps(check)
        _check_text([name])
        with self._open():
            self._checks[name] = encoded

    def checks(self) -> dict[str, dict[str, Any]]:
        with self._open():
            found = sorted(self._checks.items())
        return {name: _load(data) for name, data in found}

    def heartbeat(self, views: Sequence[str], worker: str, at: float) -> None:
        _check_text([*views, worker])
        with self._open():
            for view in views:
                self._workers.setdefault(view, {})[worker] = at

    def workers(self) -> dict[str, dict[str, float]]:
        with self._open():
            return {view: dict(sorted(seen.items())) for view, seen in sorted(self._workers.items())}

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._rows, self._positions, self._versions, self._checks, self._workers = {}, {}, {}, {}, {}
