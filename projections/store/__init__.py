"""The view store contract (DESIGN.md section 5): rows and positions, written together.

A view is a named set of rows keyed by ``(kind, key)`` holding JSON-able dicts, plus the
version of the code that wrote them and one position per source (``projections.sources``):
for ``"log"``, the embedded event log, the ``seq`` of the last event folded into the rows; for
``"kafka:<partition>"``, the next offset to read in that partition of the topic. 0 means nothing
of that source applied yet. ``apply`` is atomic: the changed rows, the positions and the version
are stored in one transaction or not at all, so every event is applied exactly once however the
process stops. With ``expected`` (the positions the writer started from), ``apply`` is also a
compare-and-set: when another runner moved the view meanwhile (another worker, another process on
the same store), it raises ``StalePositionsError`` and writes nothing, so two runners on one view
never both apply the same events.

A view may also hold the result of its last check (``projections.verify``): a JSON-able dict
stored with ``record_check``. It belongs to the view's rows: ``drop`` deletes it and ``replace``
takes the replacement's (none, for a rebuilt view), so a check never outlives the rows it judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from ledger.errors import ConflictError

LOG_SOURCE = "log"

Changes = Mapping[tuple[str, str], dict[str, Any] | None]
"""Rows to write by ``(kind, key)``; ``None`` deletes the row."""

EncodedChanges = Mapping[tuple[str, str], bytes | None]
"""Rows to write, already JSON-encoded (orjson bytes); ``None`` deletes the row. Stores may offer
``apply_encoded(name, version, changes, position, source)`` taking these (optional: not part of
``ViewStore``; the runner falls back to ``apply``)."""


class StalePositionsError(ConflictError):
    """The view's stored positions are not those the writer started from: another runner applied
    those events first; nothing was written."""

    code = "stale-positions"


def stale(stored: Mapping[str, int], expected: Mapping[str, int] | None, new: Mapping[str, int],
          stored_version: int | None = None, version: int | None = None) -> str | None:
    """Why ``apply`` with these positions must be refused (None: it may go on). A view another version of
    its projection wrote is refused too: positions alone could match right after a blue/green swap."""
    if expected is None:
        return None
    if stored_version not in (None, version):
        return f"the view is at version {stored_version}, not {version}: another version serves it now"
    for source in sorted({*expected, *new}):
        if stored.get(source, 0) != expected.get(source, 0):
            return (f"the view is at {source} {stored.get(source, 0)}, not {expected.get(source, 0)}: "
                    "another runner applied these events first")
    return None


@dataclass(frozen=True)
class Write:
    """One view's part of ``apply_many``: its changed rows (encoded), the positions they bring it to and,
    for a compare-and-set, the positions it was built from."""

    name: str
    version: int
    changes: EncodedChanges
    positions: Mapping[str, int]
    expected: Mapping[str, int] | None = None


class EncodingStore:
    """``apply`` for stores whose writes go through ``apply_encoded`` (rows as orjson bytes), and
    ``apply_many``, which stores several views' writes (one transaction where the store can)."""

    def apply_encoded(
        self, name: str, version: int, changes: EncodedChanges, position: int | Mapping[str, int],
        source: str = LOG_SOURCE, *, expected: Mapping[str, int] | None = None,
    ) -> None:
        """``apply`` with rows already JSON-encoded (orjson bytes; ``None`` deletes). A store overrides this
        or ``apply_many``: each is made of the other."""
        positions = {source: position} if isinstance(position, int) else dict(position)
        refused = self.apply_many([Write(name, version, changes, positions, expected)])
        if refused:
            raise StalePositionsError(refused[name])

    def apply_many(self, writes: Sequence[Write]) -> dict[str, str]:
        """Stores each write as ``apply_encoded`` would; returns why each refused one was refused, by view
        name (a stale compare-and-set refuses only its own view: the others are stored)."""
        refused = {}
        for write in writes:
            try:
                self.apply_encoded(write.name, write.version, write.changes, write.positions, expected=write.expected)
            except StalePositionsError as error:
                refused[write.name] = error.detail
        return refused

    def apply(
        self, name: str, version: int, changes: Changes, position: int | Mapping[str, int], source: str = LOG_SOURCE,
        *, expected: Mapping[str, int] | None = None,
    ) -> None:
        encoded = {where: None if row is None else orjson.dumps(row) for where, row in changes.items()}
        self.apply_encoded(name, version, encoded, position, source, expected=expected)


@dataclass(frozen=True)
class ViewRow:
    kind: str
    key: str
    data: dict[str, Any]


@dataclass(frozen=True)
class ViewSnapshot:
    """A view's positions, version and rows as they stood at one moment."""

    positions: dict[str, int]
    version: int | None
    rows: list[ViewRow]


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

    def snapshot(self, name: str) -> ViewSnapshot:
        """The view's positions, version and rows read together (one read transaction): a writer
        elsewhere, even in another process, cannot move the positions between the reads."""
        ...

    def apply(
        self, name: str, version: int, changes: Changes, position: int | Mapping[str, int], source: str = LOG_SOURCE,
        *, expected: Mapping[str, int] | None = None,
    ) -> None:
        """Writes the changes, the version and the new positions in ONE transaction.

        ``position`` is the new position of ``source``, or a mapping of sources to their new
        positions (sources not named keep theirs; an empty mapping changes no position).
        With ``expected``, the stored position of every source named there or in the new positions
        must equal ``expected``'s (missing: 0), and the stored version must be ``version`` (or none),
        checked in the same transaction; else ``StalePositionsError`` and nothing is written.
        """
        ...

    def drop(self, name: str) -> None:
        """Deletes the view's rows, positions and version (atomically)."""
        ...

    def replace(self, name: str, replacement: str) -> None:
        """Atomically makes the view ``replacement`` (rows, positions, version) the view ``name``."""
        ...

    def record_check(self, name: str, check: Mapping[str, Any]) -> None:
        """Stores ``check`` (JSON-able) as the view's last check result, replacing the one before."""
        ...

    def checks(self) -> dict[str, dict[str, Any]]:
        """The last check result of every view that has one, by view name."""
        ...

    def heartbeat(self, views: Sequence[str], worker: str, at: float) -> None:
        """Records that ``worker`` (a projection worker's name) runs ``views``, seen at ``at`` (epoch s)."""
        ...

    def workers(self) -> dict[str, dict[str, float]]:
        """Per view, the workers that said they run it and when each was last seen (epoch s)."""
        ...

    def close(self) -> None: ...
