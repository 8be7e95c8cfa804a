"""The view store contract (DESIGN.md section 5): rows and positions, written together.

A view is a named set of rows keyed by ``(kind, key)`` holding JSON-able dicts, plus the
version of the code that wrote them and one position per source (``projections.sources``):
for ``"log"``, the embedded event log, the ``seq`` of the last event folded into the rows; for
``"kafka:<partition>"``, the next offset to read in that partition of the topic. 0 means nothing
of that source applied yet. ``apply`` is atomic: the changed rows, the positions and the version
are stored in one transaction or not at all, so every event is applied exactly once however the
process stops.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

LOG_SOURCE = "log"

Changes = Mapping[tuple[str, str], dict[str, Any] | None]
"""Rows to write by ``(kind, key)``; ``None`` deletes the row."""


@dataclass(frozen=True)
class ViewRow:
    kind: str
    key: str
    data: dict[str, Any]


class ViewStore(Protocol):
    def position(self, name: str, source: str = LOG_SOURCE) -> int:
        """The view's position in ``source`` (0: nothing applied yet)."""
        ...

    def positions(self, name: str) -> dict[str, int]:
        """The view's position in every source it has one for."""
        ...

    def version(self, name: str) -> int | None:
        """The projection version that wrote the view's rows (None: no such view)."""
        ...

    def get(self, name: str, kind: str, key: str) -> dict[str, Any] | None:
        """One row as a fresh dict, or None."""
        ...

    def rows(self, name: str, kind: str | None = None, prefix: str = "") -> list[ViewRow]:
        """The view's rows (of one kind, with keys starting with ``prefix``) sorted by kind and key."""
        ...

    def apply(
        self, name: str, version: int, changes: Changes, position: int | Mapping[str, int], source: str = LOG_SOURCE
    ) -> None:
        """Writes the changes, the version and the new positions in ONE transaction.

        ``position`` is the new position of ``source``, or a mapping of sources to their new
        positions (sources not named keep theirs; an empty mapping changes no position).
        """
        ...

    def drop(self, name: str) -> None:
        """Deletes the view's rows, positions and version (atomically)."""
        ...

    def replace(self, name: str, replacement: str) -> None:
        """Atomically makes the view ``replacement`` (rows, positions, version) the view ``name``."""
        ...

    def close(self) -> None: ...
