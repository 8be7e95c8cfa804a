"""Views folded by partition: one owner per topic partition, rows that sum across partitions merged on read.

A worker that owns some of the topic's partitions (``ProjectionRunner(partitions=...)``) folds only
their records, each partition in offset order, and stores its rows with those partitions' positions
in one transaction. That keeps every view exact because of what the views are:

* a row of every kind but the view's ``shared`` ones is written by the events of ONE stream (a
  retiree's life, a community's staff, an agency's standards), and a stream lives on one partition
  (the record key is the stream id), so it has exactly one writer, in its stream's order;
* a ``shared`` kind's row gathers many streams' facts (a community's month counters, the last day
  seen) with an order-free merge: a sum, a maximum. A partition's owner writes its part of such a
  row under its own key, ``KEY#PARTITION`` (``#`` never occurs in a key: codes are ``[A-Za-z0-9_.-]``),
  and reads merge the parts (``merged``): the sum of the parts is the sum of the facts.

So a view's rows merged equal the rows of one fold over the whole log in ``seq`` order (a test folds
a realistic log both ways). A runner that folds the whole log writes shared rows under the bare key;
merged reads add them in too, so the two kinds of runner can take turns on one view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from projections.base import Amount, Row
from projections.store import ViewRow, ViewStore

SHARD = "#"

Merge = Callable[[Sequence[Row]], Row | None]
"""Merges the parts of one shared row (at least one) into the row, or None when nothing is left."""


def summed(parts: Sequence[Row]) -> Row | None:
    """Counters (``projections.base.bump`` rows) added field by field; zero fields dropped as ``bump`` does."""
    if len(parts) == 1:
        return parts[0]
    totals: dict[str, Amount] = {}
    for part in parts:
        for field, value in part.items():
            amount: Amount = Decimal(value) if isinstance(value, str) else int(value)
            totals[field] = totals.get(field, 0) + amount
    row = {field: str(total) if isinstance(total, Decimal) else total for field, total in totals.items() if total}
    return row or None


def latest(field: str) -> Merge:
    """The part with the greatest ``field`` (a running maximum, such as the last day seen)."""
    def merge(parts: Sequence[Row]) -> Row | None:
        return max(parts, key=lambda part: part[field])
    return merge


def shared_kinds(projection: object) -> Mapping[str, Merge]:
    """The kinds of a projection's rows that gather facts from many streams, with their merges."""
    return getattr(projection, "shared", {})


def merged(rows: list[ViewRow], merges: Mapping[str, Merge]) -> list[ViewRow]:
    """``rows`` (sorted by kind and key, as stores return them) with the parts of each shared row
    merged under its bare key; still sorted."""
    if not merges or not any(row.kind in merges for row in rows):
        return rows
    out: list[ViewRow] = []
    parts: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if row.kind in merges:
            parts.setdefault((row.kind, row.key.split(SHARD, 1)[0]), []).append(row.data)
        else:
            out.append(row)
    for (kind, key), found in parts.items():
        data = merges[kind](found)
        if data is not None:
            out.append(ViewRow(kind, key, data))
    out.sort(key=lambda row: (row.kind, row.key))
    return out


def read_rows(store: ViewStore, view: str, merges: Mapping[str, Merge], kind: str | None = None,
              prefix: str = "") -> list[ViewRow]:
    """``store.rows`` of a view with its shared rows merged (what every query reads)."""
    return merged(store.rows(view, kind, prefix), merges)


class Sharded:
    """The ``Rows`` a partition's owner gives a view: shared kinds read and write this partition's part
    (``KEY#shard``); every other kind, and everything else (``seq``, ``recall``...), as the rows it wraps."""

    def __init__(self, rows: Any, merges: Mapping[str, Merge]) -> None:
        self._rows = rows
        self._shared = frozenset(merges)
        self.shard = ""

    @property
    def seq(self) -> int:
        return int(self._rows.seq)

    def _key(self, kind: str, key: str) -> str:
        return f"{key}{SHARD}{self.shard}" if kind in self._shared else key

    def get(self, kind: str, key: str) -> Row | None:
        return self._rows.get(kind, self._key(kind, key))  # type: ignore[no-any-return]

    def put(self, kind: str, key: str, row: Row) -> None:
        self._rows.put(kind, self._key(kind, key), row)

    def delete(self, kind: str, key: str) -> None:
        self._rows.delete(kind, self._key(kind, key))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rows, name)
