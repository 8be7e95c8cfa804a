"""The projection runner: read the log from each view's stored position, evolve, store atomically.

For each batch of log records and each view behind them, the view's changed rows and its new
position are written in one ``ViewStore.apply`` transaction, so every event is applied to every
view exactly once, whenever the process stops. A view whose ``evolve`` raises stops the runner:
the events before it are stored, its position stays just before the failing event, and
``ProjectionError`` names the view, the ``seq`` and the event type (never log-and-skip).

A rebuild replays the whole log into a shadow view (``NAME~rebuild``) while the live view keeps
answering queries, then swaps it in atomically. ``catch_up`` rebuilds a view first when its
stored version differs from the code's. All public methods hold one lock, so the API may call
``catch_up`` after every append from any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ledger.application import Ledger
from ledger.errors import InvalidInputError
from ledger.eventlog.base import LogRecord
from projections import registry
from projections.base import Projection, ProjectionError
from projections.rows import BatchRows
from projections.store import ViewStore

Progress = Callable[[int, int], None]
"""Called after each batch with (log records processed so far, records to process in total)."""

SHADOW_SUFFIX = "~rebuild"


@dataclass(frozen=True)
class ViewStatus:
    name: str
    version: int
    stored_version: int | None
    position: int
    head: int
    lag: int


@dataclass
class _Target:
    projection: Projection
    view: str
    position: int


class ProjectionRunner:
    """Keeps the views of ``projections`` (default: ``registry.ALL``) in step with the ledger's log."""

    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore,
        projections: Sequence[Projection] | None = None,
        batch_size: int = 500,
    ) -> None:
        self._ledger = ledger
        self._store = store
        self._projections = tuple(projections) if projections is not None else registry.ALL
        names = [p.name for p in self._projections]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"projection names must be unique: {names}")
        self._batch_size = batch_size
        self._lock = threading.RLock()

    @property
    def projections(self) -> tuple[Projection, ...]:
        return self._projections

    def catch_up(self, names: Sequence[str] | None = None, progress: Progress | None = None) -> int:
        """Applies the events after each view's position; returns how many log records were applied.

        A view written by another version of its projection is rebuilt first (counted too).
        """
        with self._lock:
            chosen = self._select(names)
            stale = [p for p in chosen if self._store.version(p.name) not in (None, p.version)]
            applied = self._rebuild(stale, progress) if stale else 0
            targets = [_Target(p, p.name, self._store.position(p.name)) for p in chosen]
            return applied + self._advance(targets, progress)

    def rebuild(self, names: Sequence[str] | None = None, progress: Progress | None = None) -> int:
        """Replays the whole log into fresh views and swaps them in; returns the records replayed."""
        with self._lock:
            return self._rebuild(self._select(names), progress)

    def status(self) -> list[ViewStatus]:
        with self._lock:
            head = self._ledger.head()
            found = []
            for p in self._projections:
                position, stored = self._store.position(p.name), self._store.version(p.name)
                found.append(ViewStatus(p.name, p.version, stored, position, head, head - position))
            return found

    def _select(self, names: Sequence[str] | None) -> list[Projection]:
        if names is None:
            return list(self._projections)
        known = {p.name: p for p in self._projections}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InvalidInputError(f"unknown projection(s) {unknown}; known: {sorted(known)}")
        return [known[n] for n in dict.fromkeys(names)]

    def _rebuild(self, chosen: list[Projection], progress: Progress | None) -> int:
        targets = [_Target(p, p.name + SHADOW_SUFFIX, 0) for p in chosen]
        for target in targets:
            self._store.drop(target.view)
        applied = self._advance(targets, progress)
        for target in targets:
            if target.position == 0:  # an empty log: make sure the view exists at its version
                self._store.apply(target.view, target.projection.version, {}, 0)
            self._store.replace(target.projection.name, target.view)
        return applied

    def _advance(self, targets: list[_Target], progress: Progress | None) -> int:
        if not targets:
            return 0
        start = min(t.position for t in targets)
        total = max(self._ledger.head() - start, 0)
        applied = 0
        while True:
            records = self._ledger.read_log(after=start, limit=self._batch_size)
            if not records:
                return applied
            events = [(record.id, self._decode(record)) for record in records]
            for target in targets:
                todo = [(seq, event) for seq, event in events if seq > target.position]
                if todo:
                    self._apply(target, todo)
            start = records[-1].id
            applied += len(records)
            if progress is not None:
                progress(applied, max(total, applied))

    def _decode(self, record: LogRecord) -> object:
        try:
            return self._ledger.mapper.to_domain_event(record)
        except Exception as error:
            raise ProjectionError(
                f"the event at seq {record.id} cannot be decoded ({type(error).__name__}: {error}); "
                "no view was advanced past it",
                seq=record.id,
            ) from error

    def _apply(self, target: _Target, todo: list[tuple[int, object]]) -> None:
        projection = target.projection
        rows = BatchRows(self._store, target.view)
        last = target.position
        for seq, event in todo:
            rows.begin(seq)
            try:
                projection.evolve(rows, event)
            except Exception as error:
                rows.discard()
                if last != target.position:
                    self._store.apply(target.view, projection.version, rows.changes(), last)
                    target.position = last
                raise self._failure(projection, seq, event, error, target.position) from error
            rows.keep()
            last = seq
        self._store.apply(target.view, projection.version, rows.changes(), last)
        target.position = last

    @staticmethod
    def _failure(projection: Projection, seq: int, event: object, error: Exception, position: int) -> ProjectionError:
        cause = error.detail if isinstance(error, ProjectionError) else f"{type(error).__name__}: {error}"
        return ProjectionError(
            f"view {projection.name!r} (version {projection.version}) stopped before the event at seq {seq} "
            f"({type(event).__name__}): {cause}; its position stays at {position}",
            view=projection.name,
            seq=seq,
        )
