"""A rebuild filled in memory (``RebuildRows``: rows kept across batches, flushed in large batches,
contributions remembered) gives exactly the rows of a from-scratch fold with plain rows."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from devtools.demo import generate
from ledger.application import Ledger
from projections import registry
from projections.base import Projection
from projections.rows import RebuildRows
from projections.runner import ProjectionRunner
from projections.store.memory import InMemoryViewStore
from projections.store.sqlite import SQLiteViewStore

Rows = dict[tuple[str, str, str], Any]


class PlainRows:
    """The simplest ``Rows``: a dict, a JSON copy on every read and write, nothing remembered."""

    def __init__(self, view: str, into: Rows) -> None:
        self.view, self.into, self.seq = view, into, 0

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        found = self.into.get((self.view, kind, key))
        copied: dict[str, Any] | None = None if found is None else orjson.loads(orjson.dumps(found))
        return copied

    def put(self, kind: str, key: str, row: dict[str, Any]) -> None:
        self.into[(self.view, kind, key)] = orjson.loads(orjson.dumps(row))

    def delete(self, kind: str, key: str) -> None:
        self.into.pop((self.view, kind, key), None)


def fold(ledger: Ledger, projections: tuple[Projection, ...]) -> Rows:
    """Every view folded event by event from the start of the log, outside the runner."""
    found: Rows = {}
    rows = {p.name: PlainRows(p.name, found) for p in projections}
    for record in ledger.iter_log():
        event = ledger.mapper.to_domain_event(record)
        for p in projections:
            rows[p.name].seq = record.id
            p.evolve(rows[p.name], event)
    return found


def stored(store: InMemoryViewStore | SQLiteViewStore, projections: tuple[Projection, ...]) -> Rows:
    return {(p.name, r.kind, r.key): r.data for p in projections for r in store.rows(p.name)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from ledger.config import Settings

    root = tmp_path_factory.mktemp("demo")
    ledger = Ledger(Settings(home=root / "home", keys_dir=root / "keys"))
    generate(ledger, retirees=40, seed=3)
    yield ledger, fold(ledger, registry.ALL)
    ledger.close()


@pytest.mark.parametrize("bound", [100_000, 50, 1])
def test_a_rebuild_in_memory_equals_a_fold_from_scratch(demo: Any, bound: int) -> None:
    ledger, expected = demo
    store = InMemoryViewStore()
    runner = ProjectionRunner(ledger, store, batch_size=300, rebuild_rows=bound)
    assert runner.rebuild() == ledger.head()
    assert stored(store, registry.ALL) == expected
    assert set(runner.positions().values()) == {ledger.head()}


def test_a_rebuild_into_sqlite_equals_catch_up_batch_by_batch(demo: Any, tmp_path: Any) -> None:
    ledger, expected = demo
    rebuilt = SQLiteViewStore(tmp_path / "rebuilt.db")
    ProjectionRunner(ledger, rebuilt, rebuild_rows=200).rebuild()
    stepwise = InMemoryViewStore()
    for p in registry.ALL:  # views that exist already are caught up with per-batch rows (no memory kept)
        stepwise.apply(p.name, p.version, {}, {})
    ProjectionRunner(ledger, stepwise, batch_size=7).catch_up()
    assert stored(rebuilt, registry.ALL) == stored(stepwise, registry.ALL) == expected
    rebuilt.close()


def test_rebuild_rows_forget_what_they_remembered_when_the_row_changes_or_the_event_fails() -> None:
    store = InMemoryViewStore()
    rows = RebuildRows(store, "v", bound=10)
    rows.begin(1)
    rows.put("retiree", "a", {"n": 1})
    rows.remember("retiree", "a", {"cells": 1})
    rows.keep()
    assert rows.recall("retiree", "a") == {"cells": 1}
    rows.begin(2)
    rows.put("retiree", "a", {"n": 2})
    assert rows.recall("retiree", "a") is None
    rows.discard()
    assert rows.recall("retiree", "a") == {"cells": 1}
    assert rows.get("retiree", "a") == {"n": 1}
    assert rows.get("retiree", "never-written") is None


def test_rebuild_rows_read_flushed_rows_back_from_the_store_once_they_leave_memory() -> None:
    store = InMemoryViewStore()
    rows = RebuildRows(store, "v", bound=2)
    rows.begin(1)
    for n in range(5):
        rows.put("event", str(n), {"n": n})
    rows.keep()
    store.apply_encoded("v", 1, rows.take(), {"log": 1})
    assert rows.pending == 0
    assert rows.get("event", "3") == {"n": 3}  # not in memory any more: read from the store
    assert store.get("v", "event", "4") == {"n": 4}


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_apply_encoded_stores_what_apply_stores(backend: str, tmp_path: Any) -> None:
    stores = [InMemoryViewStore(), InMemoryViewStore()] if backend == "memory" else [
        SQLiteViewStore(tmp_path / "a.db"), SQLiteViewStore(tmp_path / "b.db")]
    plain, encoded = stores
    first = {("month", "CS|2024-01"): {"n": 1}, ("retiree", "a"): {"placements": [["CS", "2024-01-02"]]}}
    plain.apply("v", 2, first, {"log": 5})
    encoded.apply_encoded("v", 2, {where: orjson.dumps(row) for where, row in first.items()}, {"log": 5})
    plain.apply("v", 2, {("month", "CS|2024-01"): None}, {"log": 6})
    encoded.apply_encoded("v", 2, {("month", "CS|2024-01"): None}, {"log": 6})
    assert plain.snapshot("v") == encoded.snapshot("v")
    assert encoded.positions("v") == {"log": 6} and encoded.version("v") == 2
