"""The ``ViewStore`` contract (``projections.store``), run against every implementation: in memory,
SQLite and PostgreSQL (a real server: ``tests.postgres_fixtures``, a fresh database per test)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger.errors import UnavailableError
from projections.store import EncodingStore, StalePositionsError, ViewRow, ViewStore, Write
from projections.store.memory import InMemoryViewStore
from projections.store.postgres import PostgresViewStore
from projections.store.sqlite import SQLiteViewStore

FACTORIES: dict[str, Callable[[Path, pytest.FixtureRequest], ViewStore]] = {
    "memory": lambda _, __: InMemoryViewStore(),
    "postgres": lambda _, request: PostgresViewStore(request.getfixturevalue("postgres_dsn")),
    "sqlite": lambda tmp_path, _: SQLiteViewStore(tmp_path / "views.db"),
}
MARKS = {"postgres": [pytest.mark.postgres]}


@pytest.fixture(params=[pytest.param(name, id=name, marks=MARKS.get(name, [])) for name in sorted(FACTORIES)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ViewStore]:
    opened = FACTORIES[request.param](tmp_path, request)
    yield opened
    opened.close()


State = tuple[list[tuple[str, str, dict[str, Any]]], dict[str, int], int | None]


def state(store: ViewStore, name: str = "v") -> State:
    """The view's rows, positions and version."""
    return [(r.kind, r.key, r.data) for r in store.rows(name)], store.positions(name), store.version(name)


def test_an_unknown_view_is_empty_at_position_0_without_a_version(store: ViewStore) -> None:
    assert (store.position("nope"), store.position("nope", "kafka:0"), store.positions("nope")) == (0, 0, {})
    assert (store.version("nope"), store.get("nope", "k", "a"), store.rows("nope")) == (None, None, [])
    store.drop("nope")
    store.replace("nope", "neither")
    assert state(store, "nope") == state(store, "neither") == ([], {}, None)


def test_apply_writes_rows_version_and_position(store: ViewStore) -> None:
    store.apply("v", 3, {("k", "a"): {"n": 1, "nested": {"x": [1, 2]}}, ("k", "b"): {}}, 5)
    assert store.get("v", "k", "a") == {"n": 1, "nested": {"x": [1, 2]}} and store.get("v", "k", "b") == {}
    assert store.get("v", "k", "c") is None and store.get("v", "other", "a") is None
    assert (store.version("v"), store.position("v"), store.positions("v")) == (3, 5, {"log": 5})
    store.apply("v", 4, {("k", "a"): {"n": 2}}, 6)
    assert (store.get("v", "k", "a"), store.version("v"), store.position("v")) == ({"n": 2}, 4, 6)


def test_none_deletes_a_row_and_deleting_a_missing_row_is_harmless(store: ViewStore) -> None:
    store.apply("v", 1, {("k", "a"): {"n": 1}, ("k", "b"): {"n": 2}}, 1)
    store.apply("v", 1, {("k", "a"): None, ("k", "never"): None}, 2)
    assert store.get("v", "k", "a") is None
    assert state(store) == ([("k", "b", {"n": 2})], {"log": 2}, 1)


def test_rows_are_copies_not_aliases(store: ViewStore) -> None:
    written: dict[str, Any] = {"n": 1, "items": [1]}
    store.apply("v", 1, {("k", "a"): written}, 1)
    written["n"], written["items"][0] = 99, 99
    fetched = store.get("v", "k", "a")
    assert fetched == {"n": 1, "items": [1]}
    assert fetched is not None
    fetched["n"] = 42
    store.rows("v")[0].data["items"].append(7)
    assert store.get("v", "k", "a") == {"n": 1, "items": [1]}
    assert store.get("v", "k", "a") is not store.get("v", "k", "a")
    assert store.rows("v")[0].data == {"n": 1, "items": [1]}


def test_rows_are_stored_as_json(store: ViewStore) -> None:
    store.apply("v", 1, {("k", "a"): {"pair": (1, 2), "nan": float("nan"), "text": "é"}}, 1)
    assert store.get("v", "k", "a") == {"pair": [1, 2], "nan": None, "text": "é"}


def test_rows_are_sorted_by_kind_and_key_and_filtered_by_kind_and_prefix(store: ViewStore) -> None:
    keys = [("month", "2024-02"), ("month", "2024-01"), ("community", "ZZ"), ("month", "2023-12"),
            ("community", "CS"), ("month", "2024-10"), ("month", "B"), ("month", "é")]
    store.apply("v", 1, {where: {"at": "/".join(where)} for where in keys}, 1)
    assert [(r.kind, r.key) for r in store.rows("v")] == [
        ("community", "CS"), ("community", "ZZ"), ("month", "2023-12"), ("month", "2024-01"), ("month", "2024-02"),
        ("month", "2024-10"), ("month", "B"), ("month", "é"),
    ]
    assert [r.data for r in store.rows("v", "community")] == [{"at": "community/CS"}, {"at": "community/ZZ"}]
    assert [r.key for r in store.rows("v", "month", "2024-0")] == ["2024-01", "2024-02"]
    assert [r.key for r in store.rows("v", "month", "2024")] == ["2024-01", "2024-02", "2024-10"]
    assert [(r.kind, r.key) for r in store.rows("v", prefix="Z")] == [("community", "ZZ")]
    assert store.rows("v", "month", "2025") == [] and store.rows("v", "unknown") == []
    assert len(store.rows("v", prefix="")) == len(keys)


def test_positions_are_kept_per_source(store: ViewStore) -> None:
    store.apply("v", 1, {}, 4)
    store.apply("v", 1, {}, 7, source="kafka:0")
    store.apply("v", 1, {}, {"kafka:1": 2, "kafka:2": 9})
    assert store.positions("v") == {"log": 4, "kafka:0": 7, "kafka:1": 2, "kafka:2": 9}
    store.apply("v", 1, {}, {"kafka:1": 3})  # sources not named keep theirs
    assert store.positions("v") == {"log": 4, "kafka:0": 7, "kafka:1": 3, "kafka:2": 9}
    assert (store.position("v"), store.position("v", "kafka:1"), store.position("v", "kafka:3")) == (4, 3, 0)


def test_an_empty_mapping_changes_no_position_but_writes_rows_and_version(store: ViewStore) -> None:
    store.apply("fresh", 2, {}, {})
    assert state(store, "fresh") == ([], {}, 2)
    store.apply("v", 1, {}, 5)
    store.apply("v", 2, {("k", "a"): {"n": 1}}, {})
    assert state(store) == ([("k", "a", {"n": 1})], {"log": 5}, 2)


@pytest.mark.parametrize(
    ("changes", "position", "version", "error"),
    [
        ({("k", "b"): {"n": 2}, ("k", "c"): {"n": object()}}, 6, 1, TypeError),
        ({("k", "b"): {"n": 2}, ("k", "c"): {"n": 2**64}}, 6, 1, TypeError),
        ({("k", "b"): {"n": 2}, ("k", "c"): {1: "not a str key"}}, 6, 1, TypeError),
        ({("k", "b"): {"n": 2}, ("k", "a"): None}, {"log": 6, "kafka:0": 2**63}, 1, OverflowError),
        ({("k", "b"): {"n": 2}, ("k", "a"): None}, 6, 2**63, OverflowError),
        ({("k", "b"): {"n": 2}, ("k", "\ud800"): {"n": 3}}, 6, 1, UnicodeEncodeError),
    ],
    ids=["unencodable", "int-beyond-64-bits", "non-str-key", "position-overflow", "version-overflow", "surrogate"],
)
def test_a_failing_apply_changes_nothing(
    store: ViewStore, changes: dict[tuple[str, str], Any], position: Any, version: int, error: type[Exception]
) -> None:
    store.apply("v", 1, {("k", "a"): {"n": 1}}, {"log": 5, "kafka:0": 1})
    before = state(store)
    with pytest.raises(error):
        store.apply("v", version, changes, position)
    assert state(store) == before == ([("k", "a", {"n": 1})], {"log": 5, "kafka:0": 1}, 1)
    assert store.get("v", "k", "b") is None


def test_store_apply_is_all_or_nothing(store: ViewStore) -> None:
    store.apply("v", 1, {("k", "a"): {"n": 1}}, 5)
    bad: dict[tuple[str, str], Any] = {("k", "b"): {"n": 2}, ("k", "c"): {"n": object()}}
    with pytest.raises(TypeError):
        store.apply("v", 1, bad, 6)
    assert store.position("v") == 5 and store.get("v", "k", "b") is None
    store.apply("v", 1, {("k", "a"): None, ("k", "b"): {"n": 2}}, 6, source="partition-0")
    assert (store.position("v"), store.position("v", "partition-0")) == (5, 6)
    assert [(r.kind, r.key, r.data) for r in store.rows("v")] == [("k", "b", {"n": 2})]
    store.drop("v")
    assert store.version("v") is None and store.rows("v") == [] and store.position("v", "partition-0") == 0


def test_drop_deletes_rows_positions_and_version_of_that_view_only(store: ViewStore) -> None:
    store.apply("v", 1, {("k", "a"): {"n": 1}}, {"log": 3, "kafka:0": 2})
    store.apply("w", 2, {("k", "a"): {"n": 2}}, 4)
    store.drop("v")
    assert state(store) == ([], {}, None) and store.get("v", "k", "a") is None
    assert state(store, "w") == ([("k", "a", {"n": 2})], {"log": 4}, 2)
    store.apply("v", 5, {("k", "z"): {}}, 1)
    assert state(store) == ([("k", "z", {})], {"log": 1}, 5)


def test_replace_swaps_in_rows_positions_and_version_and_the_replacement_disappears(store: ViewStore) -> None:
    store.apply("v", 1, {("k", "old"): {"n": 1}, ("k", "both"): {"n": 1}}, {"log": 9, "kafka:0": 4})
    store.apply("v~new", 2, {("k", "new"): {"n": 2}, ("k", "both"): {"n": 2}}, 3)
    store.apply("w", 1, {("k", "w"): {}}, 1)
    store.replace("v", "v~new")
    assert state(store) == ([("k", "both", {"n": 2}), ("k", "new", {"n": 2})], {"log": 3}, 2)
    assert state(store, "v~new") == ([], {}, None)
    assert state(store, "w") == ([("k", "w", {})], {"log": 1}, 1)


def test_replace_with_an_empty_replacement_view_keeps_its_version_and_no_rows(store: ViewStore) -> None:
    store.apply("v", 1, {("k", "a"): {"n": 1}}, 8)
    store.apply("v~new", 2, {}, {})
    store.replace("v", "v~new")
    assert state(store) == ([], {}, 2) and state(store, "v~new") == ([], {}, None)


def test_replace_with_a_missing_replacement_leaves_no_view(store: ViewStore) -> None:
    store.apply("v", 1, {("k", "a"): {"n": 1}}, 8)
    store.replace("v", "missing")
    assert state(store) == ([], {}, None) and state(store, "missing") == ([], {}, None)


def test_views_are_independent(store: ViewStore) -> None:
    store.apply("v", 1, {("k", "a"): {"view": "v"}}, 2, source="kafka:0")
    store.apply("w", 7, {("k", "a"): {"view": "w"}}, 5)
    store.apply("v", 1, {("k", "a"): None}, 3, source="kafka:0")
    assert state(store) == ([], {"kafka:0": 3}, 1)
    assert state(store, "w") == ([("k", "a", {"view": "w"})], {"log": 5}, 7)
    assert store.position("w", "kafka:0") == 0 and store.position("v") == 0


def test_concurrent_applies_are_all_kept(store: ViewStore) -> None:
    def write(worker: int) -> None:
        for n in range(25):
            store.apply("v", 1, {("k", f"{worker}-{n:02d}"): {"n": n}}, n + 1, source=f"w{worker}")

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.rows("v")) == 100 and store.positions("v") == {f"w{worker}": 25 for worker in range(4)}
    assert [r.key for r in store.rows("v", prefix="3-")] == [f"3-{n:02d}" for n in range(25)]


def test_apply_with_expected_positions_is_a_compare_and_set(store: ViewStore) -> None:
    store.apply("v", 1, {("k", "a"): {"n": 1}}, {"log": 5}, expected={})
    with pytest.raises(StalePositionsError, match="log 5"):  # another runner is at 5 already
        store.apply("v", 1, {("k", "a"): {"n": 2}, ("k", "b"): {"n": 2}}, {"log": 6}, expected={})
    assert (store.rows("v"), store.positions("v")) == ([ViewRow("k", "a", {"n": 1})], {"log": 5})
    store.apply("v", 1, {("k", "a"): {"n": 2}}, {"log": 6}, expected={"log": 5})
    assert store.get("v", "k", "a") == {"n": 2} and store.positions("v") == {"log": 6}
    store.apply("v", 1, {}, {"kafka:1": 3}, expected={"log": 6})  # a new source starts from 0
    with pytest.raises(StalePositionsError):  # kafka:1 is at 3, not 0
        store.apply("v", 1, {}, {"kafka:1": 4}, expected={"log": 6})
    store.apply("v", 1, {("k", "c"): {"n": 3}}, {"kafka:1": 4})  # without expected: no check, as before
    assert store.positions("v") == {"log": 6, "kafka:1": 4}


def test_a_view_another_version_serves_refuses_a_compare_and_set_even_at_the_same_positions(store: ViewStore) -> None:
    store.apply("v", 2, {("k", "a"): {"n": 20}}, {"log": 5}, expected={})  # a blue/green swap left version 2 at 5
    with pytest.raises(StalePositionsError, match="version 2"):  # a runner of version 1, also at 5, is stale
        store.apply("v", 1, {("k", "a"): {"n": 6}}, {"log": 6}, expected={"log": 5})
    assert (store.get("v", "k", "a"), store.version("v"), store.positions("v")) == ({"n": 20}, 2, {"log": 5})


def test_encoded_applies_check_expected_positions_too(store: ViewStore) -> None:
    apply_encoded = getattr(store, "apply_encoded", None)
    if apply_encoded is None:  # optional: the runner falls back to apply
        assert isinstance(store, ViewStore)
        return
    apply_encoded("v", 1, {("k", "a"): b'{"n":1}'}, {"log": 2}, expected={})
    with pytest.raises(StalePositionsError):
        apply_encoded("v", 1, {("k", "a"): b'{"n":9}'}, {"log": 3}, expected={"log": 1})
    assert store.get("v", "k", "a") == {"n": 1} and store.positions("v") == {"log": 2}


def test_apply_many_stores_each_view_and_refuses_only_the_stale_one(store: ViewStore) -> None:
    assert isinstance(store, EncodingStore)  # every store here has it; the runner falls back to one view at a time
    store.apply("b", 1, {("k", "x"): {"n": 0}}, {"log": 4}, expected={})  # another runner moved b to 4
    big = {("k", f"r{n:03d}"): orjson.dumps({"n": n}) for n in range(120)}  # PostgreSQL copies this many in
    refused = store.apply_many([
        Write("a", 1, big, {"log": 5}, {}),
        Write("b", 1, {("k", "x"): b'{"n":9}'}, {"log": 5}, {}),  # built from 0: stale
        Write("c", 2, {("k", "y"): b'{"n":2}', ("k", "z"): None}, {"log": 5}, None),
        Write("d", 1, {("k", f"s{n:03d}"): orjson.dumps({"m": n}) for n in range(110)}, {"log": 5}, {}),
    ])
    assert list(refused) == ["b"] and "log 4" in refused["b"]
    assert state(store, "b") == ([("k", "x", {"n": 0})], {"log": 4}, 1)  # untouched
    assert state(store, "a") == ([("k", f"r{n:03d}", {"n": n}) for n in range(120)], {"log": 5}, 1)
    assert state(store, "c") == ([("k", "y", {"n": 2})], {"log": 5}, 2)
    assert state(store, "d") == ([("k", f"s{n:03d}", {"m": n}) for n in range(110)], {"log": 5}, 1)


def test_workers_are_remembered_per_view_with_when_each_was_last_seen(store: ViewStore) -> None:
    assert store.workers() == {}
    store.heartbeat(["audit", "pensions"], "host-1:10", 100.0)
    store.heartbeat(["pensions"], "host-2:20", 105.0)
    store.heartbeat(["audit"], "host-1:10", 110.5)
    assert store.workers() == {"audit": {"host-1:10": 110.5}, "pensions": {"host-1:10": 100.0, "host-2:20": 105.0}}
    store.drop("audit")  # the rows go; who runs the view is not part of them
    assert store.workers()["audit"] == {"host-1:10": 110.5}


def test_a_closed_store_is_unavailable(store: ViewStore) -> None:
    store.apply("v", 1, {("k", "a"): {"n": 1}}, 1)
    store.close()
    with pytest.raises(UnavailableError):
        store.get("v", "k", "a")
    with pytest.raises(UnavailableError):
        store.apply("v", 1, {("k", "a"): {"n": 2}}, 2)
    store.close()  # closing again is harmless
    with pytest.raises(UnavailableError):
        store.version("v")
