"""The ``Rows`` a view sees while the runner applies a batch of events to it.

Reads fall through three layers: the current event's writes, the batch's kept writes, the store.
Writes are encoded at once (so a value that is not JSON-able fails at the ``put`` that wrote it)
and stay in memory until the runner hands ``changes()`` to ``ViewStore.apply``. ``discard``
forgets the current event's writes, so a failing event leaves no trace in the batch.
"""

from __future__ import annotations

from typing import Any

import orjson

from projections.store import ViewStore

Key = tuple[str, str]


class BatchRows:
    def __init__(self, store: ViewStore, view: str) -> None:
        self._store = store
        self._view = view
        self._kept: dict[Key, bytes | None] = {}
        self._current: dict[Key, bytes | None] = {}
        self._seq = 0

    @property
    def seq(self) -> int:
        return self._seq

    def begin(self, seq: int) -> None:
        """Starts applying the event at ``seq``."""
        self._seq = seq
        self._current = {}

    def keep(self) -> None:
        """The current event applied cleanly: its writes join the batch."""
        self._kept.update(self._current)
        self._current = {}

    def discard(self) -> None:
        self._current = {}

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        for layer in (self._current, self._kept):
            if (kind, key) in layer:
                data = layer[(kind, key)]
                return None if data is None else orjson.loads(data)  # type: ignore[no-any-return]
        return self._store.get(self._view, kind, key)

    def put(self, kind: str, key: str, row: dict[str, Any]) -> None:
        self._current[(kind, key)] = orjson.dumps(row)

    def delete(self, kind: str, key: str) -> None:
        self._current[(kind, key)] = None

    def changes(self) -> dict[Key, dict[str, Any] | None]:
        """The batch's kept writes, decoded (``None`` = delete)."""
        return {key: None if data is None else orjson.loads(data) for key, data in self._kept.items()}
