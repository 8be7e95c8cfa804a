"""The ``Rows`` a view sees while the runner applies events to it: per batch, or for a whole rebuild.

Reads fall through three layers: the current event's writes, the batch's kept writes, the store.
Writes are encoded at once (so a value that is not JSON-able fails at the ``put`` that wrote it)
and stay in memory until the runner hands them to the store. ``discard`` forgets the current
event's writes, so a failing event leaves no trace in the batch.

``BatchRows`` lives for one batch of catch-up. ``RebuildRows`` lives for a whole rebuild of a view
that started empty: rows it wrote stay in memory (encoded once) across batches, so a row the view
never wrote is known to be absent without a SELECT; the runner flushes the kept writes in large
transactions whenever it is ``full`` (more than ``bound`` rows or ``bytes_bound`` encoded bytes wait).
After a flush, when the stored rows still in memory pass twice those bounds, rows of kinds the view
never read (the audit trail's events) leave memory; if that is not enough, everything leaves
and reads of rows not in memory go to the store again. It also remembers, per row, a value derived
from it (``recall`` / ``remember``: a retiree's contribution to period rows), forgotten whenever
the row is written, so a view can skip recomputing it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from projections.shards import SHARD
from projections.store import EncodedChanges, ViewStore

Key = tuple[str, str]
Encoded = dict[Key, bytes | None]
_UNSEEN = b""  # never a row's encoding (orjson writes at least "{}")


class BatchRows:
    def __init__(self, store: ViewStore, view: str) -> None:
        self._store = store
        self._view = view
        self._kept: Encoded = {}
        self._current: Encoded = {}
        self._seq = 0

    @property
    def seq(self) -> int:
        return self._seq

    def begin(self, seq: int) -> None:
        """Starts applying the event at ``seq``."""
        self._seq = seq
        if self._current:
            self._current = {}

    def keep(self) -> None:
        """The current event applied cleanly: its writes join the batch."""
        if self._current:
            self._kept.update(self._current)
            self._current = {}

    def discard(self) -> None:
        self._current = {}

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        where = (kind, key)
        for layer in (self._current, self._kept):
            if where in layer:
                data = layer[where]
                return None if data is None else orjson.loads(data)  # type: ignore[no-any-return]
        return self._missing(kind, key)

    def _missing(self, kind: str, key: str) -> dict[str, Any] | None:
        return self._store.get(self._view, kind, key)

    def put(self, kind: str, key: str, row: dict[str, Any]) -> None:
        self._current[(kind, key)] = orjson.dumps(row)

    def delete(self, kind: str, key: str) -> None:
        self._current[(kind, key)] = None

    @property
    def pending(self) -> int:
        """How many kept writes wait for the store."""
        return len(self._kept)

    def take(self, final: bool = False) -> EncodedChanges:
        """The kept writes, encoded (``None`` = delete), handed over to be stored; the batch is empty after.
        ``final``: the last take of a fold (the same here)."""
        kept, self._kept = self._kept, {}
        return kept

    def changes(self) -> dict[Key, dict[str, Any] | None]:
        """The batch's kept writes, decoded (``None`` = delete)."""
        return {key: None if data is None else orjson.loads(data) for key, data in self._kept.items()}


class RebuildRows(BatchRows):
    """Rows of a view rebuilt from empty, kept in memory between flushes; see the module docstring."""

    def __init__(self, store: ViewStore, view: str, bound: int, bytes_bound: int = 16 << 20) -> None:
        super().__init__(store, view)
        self._bound = bound
        self._bytes_bound = bytes_bound
        self._pending_bytes = 0  # encoded bytes written since the last flush (rewrites counted again)
        self._clean: dict[Key, bytes] = {}  # stored rows still in memory
        self._read_kinds: set[str] = set()
        self._evicted: set[str] = set()  # kinds whose stored rows may be missing from memory
        self._all_evicted = False
        self._memo: dict[Key, Any] = {}
        self._memo_current: dict[Key, Any] = {}

    def begin(self, seq: int) -> None:  # BatchRows.begin and keep inlined: they run per event and view
        self._seq = seq
        if self._current:
            self._current = {}
        if self._memo_current:
            self._memo_current = {}

    def keep(self) -> None:
        if self._current:
            self._kept.update(self._current)
            self._current = {}
        if self._memo_current:
            memo = self._memo
            for where, value in self._memo_current.items():
                if value is None:
                    memo.pop(where, None)
                else:
                    memo[where] = value
            self._memo_current = {}
            if len(memo) > self._bound:
                self._memo = {}

    def discard(self) -> None:
        super().discard()
        self._memo_current = {}

    def get(self, kind: str, key: str) -> dict[str, Any] | None:  # BatchRows.get's layers, inlined
        self._read_kinds.add(kind)
        where = (kind, key)
        data = self._current.get(where, _UNSEEN)
        if data is _UNSEEN:
            data = self._kept.get(where, _UNSEEN)
            if data is _UNSEEN:
                data = self._clean.get(where)
                if data is None:
                    return self._missing(kind, key)
        return None if data is None else orjson.loads(data)  # type: ignore[arg-type, no-any-return]

    def _missing(self, kind: str, key: str) -> dict[str, Any] | None:
        data = self._clean.get((kind, key))
        if data is not None:
            return orjson.loads(data)  # type: ignore[no-any-return]
        if self._all_evicted or kind in self._evicted:
            return self._store.get(self._view, kind, key)
        return None  # the view started empty and never wrote it

    def put(self, kind: str, key: str, row: dict[str, Any]) -> None:
        data = bytes(memoryview(orjson.dumps(row)))  # orjson's own bytes keep a ~4 KB buffer: copy it to size
        self._current[(kind, key)] = data
        self._pending_bytes += len(data)
        self._memo_current[(kind, key)] = None

    @property
    def full(self) -> bool:
        """More than ``bound`` rows or ``bytes_bound`` bytes wait for the store: time to flush."""
        return len(self._kept) > self._bound or self._pending_bytes > self._bytes_bound

    def delete(self, kind: str, key: str) -> None:
        super().delete(kind, key)
        self._memo_current[(kind, key)] = None

    def recall(self, kind: str, key: str) -> Any:
        """What was remembered for the row since it was last written (None: nothing)."""
        where = (kind, key)
        if where in self._memo_current:
            return self._memo_current[where]
        return self._memo.get(where)

    def remember(self, kind: str, key: str, value: Any) -> None:
        """Remembers ``value`` for the row as it stands now (forgotten with the event if it is discarded)."""
        self._memo_current[(kind, key)] = value

    def take(self, final: bool = False) -> Encoded:
        kept = dict(sorted(super().take().items()))  # in key order: the store's B-tree fills page by page
        clean = self._clean
        for where, data in kept.items():
            if data is None:
                clean.pop(where, None)
            else:
                clean[where] = data
        self._pending_bytes = 0
        if self._over(clean):
            unread = {kind for kind, _ in clean} - self._read_kinds
            self._evicted |= unread
            self._clean = clean = {where: data for where, data in clean.items() if where[0] not in unread}
            if self._over(clean):
                self._clean, self._all_evicted = {}, True
        return kept

    def _over(self, clean: dict[Key, bytes]) -> bool:
        """Stored rows kept in memory pass twice the bounds."""
        return len(clean) > 2 * self._bound or sum(map(len, clean.values())) > 2 * self._bytes_bound


class ByKind(Mapping[Key, "bytes | None"]):
    """Encoded rows held per kind, ``{kind: {key: data}}``, read as a mapping by ``(kind, key)``.

    A share holds hundreds of thousands of rows: this way it holds no ``(kind, key)`` tuple per row
    (about 64 bytes each, and one built per read and write)."""

    __slots__ = ("kinds",)

    def __init__(self, kinds: dict[str, dict[str, bytes | None]]) -> None:
        self.kinds = kinds

    def __getitem__(self, where: Key) -> bytes | None:
        kind, key = where
        return self.kinds[kind][key]

    def __iter__(self) -> Iterator[Key]:
        for kind, rows in self.kinds.items():
            for key in rows:
                yield kind, key

    def __len__(self) -> int:
        return sum(map(len, self.kinds.values()))


class ShareRows(BatchRows):
    """The rows one share of a split rebuild (``projections.split``) folds into its scratch store.

    Its failure discards everything it wrote, so an event's writes go straight to memory (no per-event
    layer: ``discard`` cannot undo them). Rows of the ``shared`` kinds are this share's part, ``KEY#shard``
    (``projections.shards``). Rows of the kinds a view reads stay in memory until the end (``take(final=True)``
    hands them over once); rows of kinds it never read (the audit trail's events) are spilled to the store
    whenever more than ``bytes_bound`` of them wait, and read back from it if a view ever asks for one. If
    the rows kept pass ``2 * bound``, they are handed over too and later reads of anything not in memory
    go to the store. Rows are held per kind (``ByKind``), and nothing is remembered (no ``recall``): at a
    million events the remembered contributions cost a share 33 MB and saved no measurable time.
    """

    def __init__(self, store: ViewStore, view: str, bound: int, bytes_bound: int, shared: frozenset[str],
                 shard: str) -> None:
        super().__init__(store, view)
        self._bound, self._bytes_bound = bound, bytes_bound
        self._shared, self._suffix = shared, SHARD + shard
        self._held: dict[str, dict[str, bytes | None]] = {}  # the kinds read so far: their rows, kept
        self._spill: dict[str, dict[str, bytes | None]] = {}  # writes of kinds not read (yet), since the last spill
        self._spilled_bytes = 0
        self._stored: set[str] = set()  # kinds with rows in the store
        self._all_stored = False

    def begin(self, seq: int) -> None:
        self._seq = seq

    def keep(self) -> None:
        """Nothing to do: the writes were kept as they were made."""

    def discard(self) -> None:
        """Nothing can be undone: the share's process fails with the event."""

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        if kind in self._shared:
            key += self._suffix
        held = self._held.get(kind)
        if held is None:
            held = self._held[kind] = {}
        data = held.get(key, _UNSEEN)
        if data is _UNSEEN:
            data = self._spill.get(kind, {}).get(key, _UNSEEN)
            if data is _UNSEEN:
                return self._store.get(self._view, kind, key) if self._all_stored or kind in self._stored else None
        return None if data is None else orjson.loads(data)  # type: ignore[arg-type, no-any-return]

    def put(self, kind: str, key: str, row: dict[str, Any]) -> None:
        self._write(kind, key, bytes(memoryview(orjson.dumps(row))))  # orjson's bytes keep a ~4 KB buffer

    def delete(self, kind: str, key: str) -> None:
        self._write(kind, key, None)

    def _write(self, kind: str, key: str, data: bytes | None) -> None:
        if kind in self._shared:
            key += self._suffix
        held = self._held.get(kind)
        if held is not None:
            held[key] = data
            return
        spill = self._spill.get(kind)
        if spill is None:
            spill = self._spill[kind] = {}
        spill[key] = data
        self._spilled_bytes += 0 if data is None else len(data)

    @property
    def full(self) -> bool:
        return self._spilled_bytes > self._bytes_bound or self._kept_count() > 2 * self._bound

    def _kept_count(self) -> int:
        return sum(map(len, self._held.values()))

    @property
    def pending(self) -> int:
        return self._kept_count() + sum(map(len, self._spill.values()))

    def take(self, final: bool = False) -> ByKind:
        """The spilled writes; with ``final`` (or once the kept rows pass ``2 * bound``) every write."""
        spill, self._spill, self._spilled_bytes = self._spill, {}, 0
        self._stored.update(spill)
        if not final and self._kept_count() <= 2 * self._bound:
            return ByKind(spill)
        for kind, rows in self._held.items():
            if kind in spill:  # written while its kind was unread, then once read: the later write wins
                spill[kind].update(rows)
            elif rows:
                spill[kind] = rows
        self._held = {kind: {} for kind in self._held}  # still read: their next writes stay in memory
        self._all_stored = not final
        return ByKind(spill)
