"""``ledger projections verify``: rebuild views into a scratch store and compare them with the live ones.

A view's rows are served as stored, so a row edited in the view database (or a projection that no
longer folds the log into what it stored) goes unnoticed until something compares. For each chosen
view this reads the live positions, version and rows in one snapshot (``ViewStore.snapshot``: one read
transaction), so a worker that moves the view meanwhile changes nothing: the check is at the position
P read then. The log is replayed from the start up to exactly P into a fresh ``InMemoryViewStore`` by
a ``ProjectionRunner`` (the fold catch-up and rebuild use) over the log source cut at P; views at the
same position share one pass. Rows are compared in (kind, key) order, and the first difference is
named by its row kind, key and field names only, never by values. The result is stored with the view
(``ViewStore.record_check``) for ``projections status`` and ``/health``; live rows are never written.
Views are aggregates, so both sets of rows are held in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ledger.application import Ledger
from ledger.errors import InvalidInputError
from projections.base import Projection, Row
from projections.runner import Progress, ProjectionRunner
from projections.shards import merged, shared_kinds
from projections.sources import LogSource, SourcedRecord, source_for
from projections.store import ViewRow, ViewStore
from projections.store.memory import InMemoryViewStore

Kind = Literal["missing", "extra", "different", "position"]
"""``missing``: in the rebuild, not in the live view; ``extra``: in the live view, not in the rebuild;
``different``: in both, with other values in ``fields``; ``position``: the log ends before the view's
position (the view was not built from this log)."""

_ABSENT = object()


@dataclass(frozen=True)
class Difference:
    kind: Kind
    table: str = ""  # the row's kind
    key: str = ""
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "position":
            return "position: the log ends before the view's position"
        named = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{self.kind} {self.table}/{self.key}{named}"


@dataclass(frozen=True)
class Check:
    """A view checked at ``position`` on ``at``: ``rows`` compared (live or rebuilt), ``differing`` of
    them differ, ``difference`` is the first (None: the view equals its rebuild)."""

    view: str
    at: datetime
    position: int
    rows: int
    differing: int = 0
    difference: Difference | None = None

    @property
    def ok(self) -> bool:
        return self.difference is None

    def summary(self) -> str:
        if self.difference is None:
            return "OK"
        more = f" (+{self.differing - 1} more)" if self.differing > 1 else ""
        return self.difference.describe() + more

    def to_plain(self) -> dict[str, Any]:
        difference = self.difference
        return {"at": self.at.isoformat(), "position": self.position, "rows": self.rows, "differing": self.differing,
                "ok": self.ok, "difference": None if difference is None else {
                    "kind": difference.kind, "table": difference.table, "key": difference.key,
                    "fields": list(difference.fields)}}

    @classmethod
    def from_plain(cls, view: str, plain: Mapping[str, Any]) -> Check:
        found = plain.get("difference")
        difference = None if found is None else Difference(found["kind"], found["table"], found["key"],
                                                           tuple(found["fields"]))
        return cls(view, datetime.fromisoformat(plain["at"]), int(plain["position"]), int(plain["rows"]),
                   int(plain["differing"]), difference)


def choose(projections: Sequence[Projection], names: Sequence[str] | None) -> list[Projection]:
    """The projections called ``names`` (None: all); an unknown name raises ``InvalidInputError``."""
    known = {p.name: p for p in projections}
    if names is None:
        return list(known.values())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInputError(f"unknown projection(s) {unknown}; known: {sorted(known)}")
    return [known[n] for n in dict.fromkeys(names)]


def verify(
    ledger: Ledger,
    store: ViewStore,
    chosen: Sequence[Projection],
    progress: Progress | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Check]:
    """Checks the views of ``chosen`` in ``store`` against the log; stores and returns the results.

    ``progress`` is called with (log records replayed, records to replay) over all the passes.
    """
    at = clock()
    source = source_for(ledger)
    try:
        live = {p.name: store.snapshot(p.name) for p in chosen}
        at_positions: dict[tuple[tuple[str, int], ...], list[Projection]] = {}
        for p in chosen:
            at_positions.setdefault(tuple(sorted(live[p.name].positions.items())), []).append(p)
        checks: dict[str, Check] = {}
        cuts = {positions: _UpTo(source, dict(positions)) for positions in at_positions}
        done, total = 0, sum(cut.seq for cut in cuts.values())
        for positions, group in sorted(at_positions.items(), key=lambda item: cuts[item[0]].seq):
            scratch, cut = InMemoryViewStore(), cuts[positions]
            runner = ProjectionRunner(ledger, scratch, group, source=cut, settle_s=0.0)
            runner.catch_up(progress=_offset(progress, done, total))
            reached = runner.positions()
            for p in group:
                rows = merged(live[p.name].rows, shared_kinds(p))
                checks[p.name] = _compare(p.name, at, cut.seq, rows, scratch.rows(p.name), reached[p.name])
            done += cut.seq
    finally:
        source.close()
    for check in checks.values():
        store.record_check(check.view, check.to_plain())
    return [checks[p.name] for p in chosen]


def last_checks(store: ViewStore) -> dict[str, Check]:
    """The stored result of each view's last check (views never checked, or rebuilt since, have none)."""
    return {view: Check.from_plain(view, plain) for view, plain in store.checks().items()}


def _offset(progress: Progress | None, before: int, total: int) -> Progress | None:
    """One pass's progress as part of all the passes'."""
    if progress is None:
        return None
    report = progress
    return lambda done, _: report(before + done, total)


def _compare(view: str, at: datetime, position: int, live: list[ViewRow], rebuilt: list[ViewRow],
             reached: int) -> Check:
    live_rows = {(row.kind, row.key): row.data for row in live}
    replayed = {(row.kind, row.key): row.data for row in rebuilt}
    keys = sorted(live_rows.keys() | replayed.keys())
    differences = [d for where in keys if (d := _row_difference(where, replayed.get(where), live_rows.get(where)))]
    if reached < position:
        differences.insert(0, Difference("position"))
    return Check(view, at, position, len(keys), len(differences), differences[0] if differences else None)


def _row_difference(where: tuple[str, str], rebuilt: Row | None, live: Row | None) -> Difference | None:
    table, key = where
    if live is None:
        return Difference("missing", table, key)
    if rebuilt is None:
        return Difference("extra", table, key)
    fields = tuple(sorted(f for f in rebuilt.keys() | live.keys() if rebuilt.get(f, _ABSENT) != live.get(f, _ABSENT)))
    return Difference("different", table, key, fields) if fields else None


class _UpTo:
    """``source`` cut at a live view's positions: the replay applies, in ``seq`` order, exactly the records
    the view has (per source, those before its position there). A view folded by partition owners can
    stand further in one partition than in another: the records past a partition's position are read
    (``seq`` order needs them) and left out."""

    def __init__(self, source: LogSource, positions: Mapping[str, int]) -> None:
        self._source = source
        self._cut = dict(positions)
        self.seq = source.last_seq(positions)
        self._read: dict[str, int] = {}  # how far the reads went in each source, left-out records included

    def read(self, positions: Mapping[str, int], limit: int) -> list[SourcedRecord]:
        while True:
            at = {s: max(positions.get(s, 0), self._read.get(s, 0)) for s in {*positions, *self._read}}
            left = self.seq - self._source.last_seq(at)
            if left <= 0:
                return []
            found = self._source.read(at, min(limit, left))
            if not found:
                return []
            for record in found:
                self._read[record.source] = max(self._read.get(record.source, 0), record.position)
            kept = [r for r in found if r.seq <= self.seq and r.position <= self._cut.get(r.source, 0)]
            if kept:
                return kept

    def last_seq(self, positions: Mapping[str, int]) -> int:
        return self._source.last_seq(positions)

    def head(self) -> int:
        return min(self._source.head(), self.seq)

    def lag_by_source(self, positions: Mapping[str, int]) -> dict[str, int]:
        return self._source.lag_by_source(positions)

    def close(self) -> None:
        """The source belongs to ``verify``."""
