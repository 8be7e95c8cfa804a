"""The projection runner: read the log from each view's stored positions, evolve, store atomically.

The log comes from a ``LogSource`` (``projections.sources``): the embedded log, or the Kafka
topic read straight from the broker with one position per partition. For each batch of records
and each view behind them, the view's changed rows and the positions of every source the batch
advanced are written in one transaction (the views of a batch all in ONE, through the store's
``apply_many``, each still a compare-and-set; else one ``ViewStore.apply`` per view), so every event
is applied to every view exactly once, whenever the process stops. A view whose ``evolve`` raises
stops the runner: the events before it are stored, its positions stay just before the failing event,
and ``ProjectionError`` names the view, the ``seq`` and the event type (never log-and-skip).

A rebuild replays the whole log into a shadow view (``NAME~rebuild``) while the live view keeps
answering queries, then swaps it in atomically. On the embedded log with a SQLite view store, a long
log is rebuilt in several processes instead, one share of the streams each (``projections.split``).
``catch_up`` rebuilds a view first when its stored version differs from the code's.

A view that starts empty (a rebuild's shadow, or a view never written) is filled through
``RebuildRows``: its rows stay in memory across batches (read ``rebuild_batch`` records at a
time, default ``batch_size``) and are stored, with the positions they cover, in one transaction
whenever more than ``rebuild_rows`` writes or ``rebuild_bytes`` encoded bytes wait, and at the
end (so memory stays bounded per view; see ``RebuildRows``). Every event is decoded once for
all views.

All public methods hold one lock, so the API may call
``catch_up`` after every append from any thread; it then returns once the views hold every
event the ledger has acknowledged (waiting up to ``settle_s`` for the topic to show them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from ledger.application import Ledger
from ledger.errors import InvalidInputError, ProjectionError
from projections import registry
from projections.base import Projection, handlers_of
from projections.rows import BatchRows, RebuildRows, ShareRows
from projections.shards import Sharded, shared_kinds
from projections.sources import PARTITION_PREFIX, SETTLE_S, LogSource, SourcedRecord, partition_source, source_for
from projections.split import SPILL_BYTES, SPLIT_MIN, can_split, check_shares, default_shares, rebuild_split
from projections.store import EncodedChanges, StalePositionsError, ViewStore, Write
from projections.store.sqlite import SQLiteViewStore

Progress = Callable[[int, int], None]
"""Called after each batch with (log records processed so far, records to process in total)."""

SHADOW_SUFFIX = "~rebuild"


def green(projection: Projection) -> str:
    """Where a new version of a view is built beside the live one (blue/green)."""
    return f"{projection.name}~v{projection.version}"


@dataclass(frozen=True)
class ViewStatus:
    """``position`` is the ``seq`` of the last applied event, ``head`` the log's last ``seq``,
    ``lag`` their difference; ``positions`` the stored position per source."""

    name: str
    version: int
    stored_version: int | None
    position: int
    head: int
    lag: int
    positions: dict[str, int] = field(default_factory=dict)
    lag_by_source: dict[str, int] = field(default_factory=dict)
    """Per source (a topic partition, or the embedded log), the seqs by which the view is behind it."""


@dataclass
class _Target:
    projection: Projection
    view: str
    positions: dict[str, int]
    seq: int  # the last applied seq (what ``positions`` cover)
    rows: RebuildRows | ShareRows | None = None  # an empty view's rows, kept across batches
    pending: dict[str, int] = field(default_factory=dict)  # positions applied to ``rows``, not yet stored
    pending_seq: int = 0
    lost: bool = False  # another runner stored this view's next events first: skip it until the next call


class ProjectionRunner:
    """Keeps the views of ``projections`` (default: ``registry.ALL``) in step with the ledger's log.

    ``source`` defaults to ``source_for(ledger)``: the topic itself for a Kafka ledger, else the
    embedded log. The ledger decodes the records (``ledger.mapper``) in either case.

    With ``partitions`` the runner owns those partitions of the topic (``projections.shards``): it
    folds only their records, each partition in offset order, into every view it runs, and stores
    the rows with those partitions' positions only, a compare-and-set on them; rows that sum across
    partitions get this partition's part. Workers owning the other partitions fold the rest.
    """

    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore,
        projections: Sequence[Projection] | None = None,
        batch_size: int = 500,
        source: LogSource | None = None,
        settle_s: float = SETTLE_S,
        rebuild_rows: int = 100_000,
        rebuild_bytes: int = 16 << 20,
        rebuild_batch: int | None = None,
        partitions: Sequence[int] | None = None,
        shard: str | None = None,
        shares: int | None = None,
        split_min: int = SPLIT_MIN,
    ) -> None:
        self._ledger = ledger
        self._store = store
        self._projections = tuple(projections) if projections is not None else registry.ALL
        names = [p.name for p in self._projections]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"projection names must be unique: {names}")
        self._batch_size = batch_size
        self._owns_source = source is None
        self._source = source if source is not None else source_for(ledger, partitions)
        self._owned = None if partitions is None else frozenset(partition_source(p) for p in partitions)
        check_shares(shares)
        self._shares = default_shares() if shares is None else shares
        self._split_min = split_min
        self._shard = shard  # folding one share of the streams (``projections.split``): shared rows get part ``shard``
        self._settle_s = settle_s
        self._rebuild_rows = rebuild_rows
        self._rebuild_bytes = rebuild_bytes
        self._rebuild_batch = rebuild_batch or batch_size
        self._lock = threading.RLock()

    @property
    def projections(self) -> tuple[Projection, ...]:
        return self._projections

    def catch_up(self, names: Sequence[str] | None = None, progress: Progress | None = None) -> int:
        """Applies the events after each view's positions; returns how many log records were applied.

        Blue/green: a view whose rows an OLDER version of its projection wrote keeps serving while this
        version builds beside it (``NAME~vN``, its positions stored with its rows, so a worker stopped
        midway resumes); once the new one has caught up with the log it is swapped in atomically and the
        old rows are dropped. Workers still running the old code keep the live view current meanwhile.
        A view a NEWER version already serves is left to that version's runners (``superseded``).
        """
        with self._lock:
            targets = []
            for p in self._select(names):
                stored = self._store.version(p.name)
                if stored is None or stored == p.version:
                    targets.append(self._target(p, p.name))
                elif stored < p.version:
                    targets.append(self._target(p, green(p)))
            applied = self._advance(targets, progress)
            for target in targets:
                if target.view != target.projection.name and not target.lost:
                    self._switch(target)
            return applied

    def superseded(self) -> list[str]:
        """The views a newer version of their projection serves: this runner leaves them alone."""
        with self._lock:
            return [p.name for p in self._projections if (self._store.version(p.name) or 0) > p.version]

    def _switch(self, target: _Target) -> None:
        """Swaps a caught-up green view in for the live one (old rows dropped in the same transaction).
        Partition owners swap it once it stands at or past the live view in every partition."""
        if target.seq == 0 and self._store.version(target.view) is None:  # an empty log: the view still exists
            self._store.apply(target.view, target.projection.version, {}, {})
        live = self._store.positions(target.projection.name)
        if self._owned is not None:
            green_at = self._store.positions(target.view)
            caught_up = all(green_at.get(source, 0) >= at for source, at in live.items())
        else:
            caught_up = target.seq >= self._source.last_seq(live)
        if caught_up:
            self._store.replace(target.projection.name, target.view)

    def rebuild(self, names: Sequence[str] | None = None, progress: Progress | None = None,
                shares: int | None = None) -> int:
        """Replays the whole log into fresh views and swaps them in; returns the records replayed.

        On the embedded log with a SQLite view store, a log of at least ``split_min`` events is folded in
        ``shares`` processes (default: the runner's, as many as usable cores; ``projections.split``)."""
        if self._owned is not None:
            raise InvalidInputError("a rebuild replays every partition: run it without --partitions")
        check_shares(shares)
        with self._lock:
            return self._rebuild(self._select(names), progress, self._shares if shares is None else shares)

    def status(self) -> list[ViewStatus]:
        with self._lock:
            head = self._source.head()
            found = []
            for p in self._projections:
                target = self._target(p, p.name)
                at = self._covered(target)
                found.append(ViewStatus(p.name, p.version, self._store.version(p.name), at, head,
                                        head - at, target.positions, self._source.lag_by_source(target.positions)))
            return found

    def positions(self) -> dict[str, int]:
        """The ``seq`` each view has applied every record up to (cheap: no look at the log's head)."""
        with self._lock:
            return {p.name: self._covered(self._target(p, p.name)) for p in self._projections}

    def _covered(self, target: _Target) -> int:
        """The seq up to which the view holds every record: short of ``target.seq`` when partition owners
        folded some partitions further than others (``TopicSource.covered_seq``)."""
        covered = getattr(self._source, "covered_seq", None)
        return target.seq if covered is None else int(covered(target.positions))

    def close(self) -> None:
        """Closes the source if the runner opened it (the ledger and the store belong to the caller)."""
        with self._lock:
            if self._owns_source:
                self._source.close()

    def _select(self, names: Sequence[str] | None) -> list[Projection]:
        if names is None:
            return list(self._projections)
        known = {p.name: p for p in self._projections}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InvalidInputError(f"unknown projection(s) {unknown}; known: {sorted(known)}")
        return [known[n] for n in dict.fromkeys(names)]

    def _target(self, projection: Projection, view: str) -> _Target:
        positions = self._store.positions(view)
        if self._owned is not None:
            positions = {source: at for source, at in positions.items() if source in self._owned}
        return _Target(projection, view, positions, self._source.last_seq(positions))

    def _rebuild(self, chosen: list[Projection], progress: Progress | None, shares: int) -> int:
        if (shares > 1 and self._owns_source and isinstance(self._store, SQLiteViewStore)
                and can_split(self._ledger, chosen) and self._ledger.head() >= self._split_min):
            spill = min(self._rebuild_bytes // shares, SPILL_BYTES)  # bytes: in all, and each share's small
            bounds = (self._rebuild_rows, spill, self._rebuild_batch)
            return rebuild_split(self._ledger, self._store, chosen, shares, progress, bounds)
        for p in chosen:
            self._store.drop(p.name + SHADOW_SUFFIX)
        targets = [self._target(p, p.name + SHADOW_SUFFIX) for p in chosen]
        applied = self._advance(targets, progress)
        for target in targets:
            if target.lost:  # another runner is rebuilding it: its swap, not ours
                continue
            if target.seq == 0:  # an empty log: make sure the view exists at its version
                self._store.apply(target.view, target.projection.version, {}, {})
            self._store.replace(target.projection.name, target.view)
        return applied

    def _advance(self, targets: list[_Target], progress: Progress | None) -> int:
        if not targets:
            return 0
        for target in targets:
            if not target.positions and self._store.version(target.view) is None:  # empty: fill it in memory
                bounds = (self._rebuild_rows, self._rebuild_bytes)
                target.rows = RebuildRows(self._store, target.view, *bounds) if self._shard is None else ShareRows(
                    self._store, target.view, *bounds, frozenset(shared_kinds(target.projection)), self._shard)
        behind = min(targets, key=lambda t: t.seq)  # the views' positions cover nested prefixes of the log
        start = dict(behind.positions)
        if self._owned is not None:  # a partition's owner: each partition from the view furthest behind in it
            start = {source: min(t.positions.get(source, 0) for t in targets) for source in self._owned}
        total = max(self._source.head() - behind.seq, 0) if progress is not None else 0
        applied, last, waited_since = 0, behind.seq, None
        batch = self._rebuild_batch if all(t.rows is not None for t in targets) else self._batch_size
        while True:
            records = self._source.read(start, batch)
            if not records:
                if self._owned is not None or last >= self._ledger.head():  # owned partitions: read to their ends
                    for target in targets:
                        self._store_rows(target, final=True)
                    return applied
                # the ledger acknowledged events its log source does not show yet (a topic's markers)
                waited_since = waited_since or time.monotonic()
                if time.monotonic() - waited_since > self._settle_s:
                    for target in targets:
                        self._store_rows(target, final=True)
                    return applied
                time.sleep(0.01)
                continue
            events = [(record, self._decode(record)) for record in records]
            batch_rows: list[tuple[_Target, BatchRows]] = []  # the views' rows of this batch: stored together
            try:
                for target in [t for t in targets if not t.lost]:
                    done = {**target.positions, **target.pending}
                    todo = events if done == start else [  # the usual case: every view at the same place
                        (r, e) for r, e in events if r.position > done.get(r.source, 0)]
                    if todo:
                        self._apply(target, todo, batch_rows)
            except ProjectionError:
                self._store_batch(batch_rows)  # the other views keep what they applied
                for target in targets:
                    self._store_rows(target)
                raise
            self._store_batch(batch_rows)
            for record in records:
                start[record.source] = record.position
            last = records[-1].seq
            applied += len(records)
            if progress is not None:
                progress(applied, max(total, applied))

    def _decode(self, sourced: SourcedRecord) -> object:
        try:
            return self._ledger.mapper.to_domain_event(sourced.record)
        except Exception as error:
            raise ProjectionError(
                f"the event at seq {sourced.seq} cannot be decoded ({type(error).__name__}: {error}); "
                "no view was advanced past it",
                seq=sourced.seq,
            ) from error

    def _apply(self, target: _Target, todo: list[tuple[SourcedRecord, object]],
               batch_rows: list[tuple[_Target, BatchRows]]) -> None:
        """Evolves the view over ``todo``; adds its rows to ``batch_rows`` (stored with the batch's other
        views), or, for an empty view filled in memory, stores them once more than the rebuild bounds
        wait (and before raising)."""
        projection = target.projection
        rows = target.rows if target.rows is not None else BatchRows(self._store, target.view)
        sharded = None if self._owned is None else Sharded(rows, shared_kinds(projection))
        view_rows = rows if sharded is None else sharded
        evolve = projection.evolve
        handlers = handlers_of(projection)  # a dispatching view: call its handlers, skip the other events
        begin, keep, by_partition = rows.begin, rows.keep, self._owned is not None
        for index, (sourced, event) in enumerate(todo):
            if handlers is not None:
                handler = handlers.get(type(event).__name__)
                if handler is None:
                    continue
            else:
                handler = evolve
            begin(sourced.record.id)
            if by_partition:  # this partition's part of the shared rows
                sharded.shard = sourced.source.removeprefix(PARTITION_PREFIX)  # type: ignore[union-attr]
            try:
                handler(view_rows, event)
            except Exception as error:
                rows.discard()
                self._applied(target, todo[:index])
                self._store_rows(target, rows)
                raise self._failure(projection, sourced.seq, event, error, target) from error
            keep()
        self._applied(target, todo)
        if target.rows is None:
            batch_rows.append((target, rows))
        elif target.rows.full:
            self._store_rows(target, rows)

    @staticmethod
    def _applied(target: _Target, done: list[tuple[SourcedRecord, object]]) -> None:
        for sourced, _ in done:
            target.pending[sourced.source] = sourced.position
        if done:
            target.pending_seq = done[-1][0].seq

    def _store_rows(self, target: _Target, rows: BatchRows | None = None, final: bool = False) -> None:
        """Stores the kept writes with the positions they cover, in one transaction (nothing if none);
        ``final``: the last store of this call (``ShareRows`` then hands over what it kept in memory).

        The write is a compare-and-set on the positions the rows were built from: when another runner
        (a second worker, another process on the same store) stored the view's next events first,
        nothing is stored, the target is ``lost`` for the rest of this call, and the next call starts
        again from the stored positions. So several runners on one view never apply an event twice.
        """
        rows = rows if rows is not None else target.rows
        if rows is None or target.lost or not (target.pending or (final and rows.pending)):
            return
        try:
            self._write(target, rows.take(final))
        except StalePositionsError:
            self._lose(target)
            return
        self._stored(target)

    def _store_batch(self, batch_rows: list[tuple[_Target, BatchRows]]) -> None:
        """Stores several views' rows of one batch, each with its positions; in ONE transaction when the
        store has ``apply_many`` (a catch-up of all views commits once), each still a compare-and-set."""
        batch_rows = [(target, rows) for target, rows in batch_rows if target.pending and not target.lost]
        apply_many = getattr(self._store, "apply_many", None)
        if apply_many is None or len(batch_rows) < 2:
            for target, rows in batch_rows:
                self._store_rows(target, rows)
            return
        refused = apply_many([Write(target.view, target.projection.version, rows.take(), dict(target.pending),
                                    dict(target.positions)) for target, rows in batch_rows])
        for target, _ in batch_rows:
            if target.view in refused:
                self._lose(target)
            else:
                self._stored(target)

    @staticmethod
    def _lose(target: _Target) -> None:
        target.lost, target.pending, target.rows = True, {}, None

    @staticmethod
    def _stored(target: _Target) -> None:
        target.positions.update(target.pending)
        target.seq = target.pending_seq
        target.pending = {}

    def _write(self, target: _Target, changes: EncodedChanges) -> None:
        version, expected = target.projection.version, dict(target.positions)
        apply_encoded = getattr(self._store, "apply_encoded", None)
        if apply_encoded is not None:
            apply_encoded(target.view, version, changes, target.pending, expected=expected)
            return
        decoded = {where: None if data is None else orjson.loads(data) for where, data in changes.items()}
        self._store.apply(target.view, version, decoded, target.pending, expected=expected)

    @staticmethod
    def _failure(projection: Projection, seq: int, event: object, error: Exception, target: _Target) -> ProjectionError:
        cause = error.detail if isinstance(error, ProjectionError) else f"{type(error).__name__}: {error}"
        where = ", ".join(f"{source} {position}" for source, position in sorted(target.positions.items()))
        return ProjectionError(
            f"view {projection.name!r} (version {projection.version}) stopped before the event at seq {seq} "
            f"({type(event).__name__}): {cause}; it has applied the log up to seq {target.seq}"
            + (f" (positions: {where})" if where else ""),
            view=projection.name,
            seq=seq,
        )
