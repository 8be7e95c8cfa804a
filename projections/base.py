"""The Projection protocol (DESIGN.md section 5) and the small tools every view shares.

A projection is a named, versioned, pure ``evolve(rows, event)``: given the same rows and the
same event it makes the same changes, and it does no I/O and reads no clock. The runner owns
positions and transactions; a projection only reads and writes its own rows.

Rows are keyed by ``(kind, key)`` and hold JSON-able dicts (``ledger.codec.to_plain`` values:
ISO dates, Decimal amounts as strings, ints). Events are the domain event objects; views
dispatch on ``type(event).__name__`` with :func:`dispatch`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from ledger.domain.community import Community
from ledger.errors import ProjectionError  # noqa: F401  (re-exported: the runner raises it)

Row = dict[str, Any]
Handler = Callable[["Rows", Any], None]
Amount = int | Decimal
Cells = dict[str, dict[str, Amount]]
"""Counters by row key, then by field: what one fact adds to a view's period rows."""


class Rows(Protocol):
    """Read/write access to one view's rows while one event is applied.

    ``get`` returns a fresh copy (changing it changes nothing until ``put``). ``seq`` is the
    global sequence number of the event being applied (its place in the log).
    """

    @property
    def seq(self) -> int: ...

    def get(self, kind: str, key: str) -> Row | None: ...

    def put(self, kind: str, key: str, row: Row) -> None: ...

    def delete(self, kind: str, key: str) -> None: ...


class Projection(Protocol):
    """A named, versioned view. Bump ``version`` whenever ``evolve`` changes what it writes."""

    name: str
    version: int

    def evolve(self, rows: Rows, event: object) -> None: ...


class Dispatching:
    """A view whose ``evolve`` is exactly :func:`dispatch` over its ``handlers`` (by event type name).

    So the runner may call the handler of each event itself and skip the events the view has no
    handler for (see :func:`handlers_of`); a view that does more in ``evolve`` must not derive from it.
    """

    handlers: ClassVar[Mapping[str, Handler]]

    def evolve(self, rows: Rows, event: object) -> None:
        dispatch(self.handlers, rows, event)


def handlers_of(projection: object) -> Mapping[str, Handler] | None:
    """The handlers a projection's ``evolve`` dispatches to by type name, or None when it may do anything."""
    if isinstance(projection, Dispatching) and type(projection).evolve is Dispatching.evolve:
        return projection.handlers
    return None


def dispatch(handlers: Mapping[str, Handler], rows: Rows, event: object) -> None:
    """Runs the handler for the event's type name; a view reads only the types it has handlers for.

    So a new event type needs no change in views that do not read it. That every handler names an
    event type the domain has (no silent typo) is checked by ``tests/unit/projections/test_registry.py``.
    """
    handler = handlers.get(type(event).__name__)
    if handler is not None:
        handler(rows, event)


def bump(rows: Rows, kind: str, key: str, amounts: Mapping[str, Amount]) -> None:
    """Adds counters to a row; fields that reach zero are dropped and an empty row is deleted.

    Dropping zeros keeps rows canonical: the same facts give the same rows whatever the order
    or batching in which they arrived (so a rebuild equals incremental catch-up).
    """
    row = rows.get(kind, key) or {}
    for field, amount in amounts.items():
        if isinstance(amount, Decimal):
            total: Amount = Decimal(row.get(field, "0")) + amount
            row[field] = str(total)
        else:
            total = int(row.get(field, 0)) + amount
            row[field] = total
        if not total:
            del row[field]
    if row:
        rows.put(kind, key, row)
    else:
        rows.delete(kind, key)


def add_cell(cells: Cells, key: str, field: str, amount: Amount) -> None:
    cell = cells.setdefault(key, {})
    cell[field] = cell.get(field, 0) + amount


def merge_cells(into: Cells, more: Cells) -> Cells:
    for key, amounts in more.items():
        for field, amount in amounts.items():
            add_cell(into, key, field, amount)
    return into


def apply_difference(rows: Rows, kind: str, old: Cells, new: Cells) -> None:
    """Replaces one fact's old contribution to period rows with its new one (adds new - old)."""
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key, {}), new.get(key, {})
        if before == after:  # the usual case: most periods keep their contribution
            continue
        change = {f: after.get(f, 0) - before.get(f, 0) for f in sorted(before.keys() | after.keys())}
        change = {f: v for f, v in change.items() if v}
        if change:
            bump(rows, kind, key, change)


def bump_cells(rows: Rows, kind: str, cells: Cells) -> None:
    """Adds a contribution's change to the ``kind`` rows as :func:`apply_difference` does (keys in order,
    each key's nonzero fields in order), for a view that computed the change itself."""
    for key in sorted(cells):
        amounts = cells[key]
        change = {f: amounts[f] for f in sorted(amounts) if amounts[f]}
        if change:
            bump(rows, kind, key, change)


def community_row(event: Community.Registered) -> Row:
    return {"code": event.code, "name": event.name, "city": event.city, "district": event.district, "kind": event.kind}


_TEXTS: dict[int, str] = {}
_TEXTS_BOUND = 1 << 16


def stream_id(event: Any) -> str:
    """``str(event.originator_id)``, cached by the UUID's integer (a UUID hashes in Python, an int in C):
    every view keys its rows by it, on every event."""
    number = event.originator_id.int
    text = _TEXTS.get(number)
    if text is None:
        if len(_TEXTS) >= _TEXTS_BOUND:
            _TEXTS.clear()
        text = _TEXTS[number] = str(event.originator_id)
    return text


def cell_key(*parts: str) -> str:
    """Row keys join their parts with ``|`` (community codes and months never contain it)."""
    return "|".join(parts)


def move_contribution(
    rows: Rows, retiree_id: str, change: Callable[[Row], None], contribution: Callable[[Row], Cells], kind: str
) -> None:
    """Changes a retiree's ``("retiree", id)`` row and moves their contribution to the ``kind`` rows with it.

    The same changes as ``projections.timeline.update_life``, computing the contribution once per
    event instead of twice where ``rows`` can remember it (an optional fast path: rows with
    ``recall`` / ``remember``, as ``projections.rows.RebuildRows`` has; remembered values are forgotten
    whenever the row is written by anything else). Plain ``Rows`` work unchanged.
    """
    life = rows.get("retiree", retiree_id)
    if life is None:
        raise LookupError(f"retiree {retiree_id} has no Enrolled event before this one")
    recall = getattr(rows, "recall", None)
    old = recall("retiree", retiree_id) if recall is not None else None
    if old is None:
        old = contribution(life)
    change(life)
    new = contribution(life)
    apply_difference(rows, kind, old, new)
    rows.put("retiree", retiree_id, life)
    if recall is not None:
        rows.remember("retiree", retiree_id, new)  # type: ignore[attr-defined]
