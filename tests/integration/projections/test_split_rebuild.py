"""A rebuild split across processes (``projections.split``): each share of the streams folded in its own
process into a scratch file, the shares swapped in together; the rows equal a one-process rebuild."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.demo import generate
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import InvalidInputError, ProjectionError
from ledger.eventlog.base import stream_share
from projections import registry
from projections.rows import ByKind, ShareRows
from projections.runner import ProjectionRunner
from projections.shards import SHARD, shared_kinds, summed
from projections.split import ShareSource
from projections.store import ViewSnapshot
from projections.store.scratch import ScratchStore
from projections.store.sqlite import SQLiteViewStore

Rows = dict[tuple[str, str, str], Any]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("split")
    settings = Settings(home=root / "home", keys_dir=root / "keys")
    ledger = Ledger(settings)
    generate(ledger, retirees=120, seed=5)
    ledger.close()
    yield settings


@pytest.fixture(scope="module")
def one_process(home: Settings, tmp_path_factory: pytest.TempPathFactory) -> Rows:
    """Every view rebuilt in this process (the reference)."""
    ledger = Ledger(home)
    store = SQLiteViewStore(tmp_path_factory.mktemp("reference") / "views.db")
    try:
        ProjectionRunner(ledger, store, shares=1).rebuild()
        return stored(store)
    finally:
        store.close()
        ledger.close()


def stored(store: SQLiteViewStore) -> Rows:
    return {(p.name, row.kind, row.key): row.data for p in registry.ALL for row in store.rows(p.name)}


def snapshots(store: SQLiteViewStore) -> dict[str, ViewSnapshot]:
    return {p.name: store.snapshot(p.name) for p in registry.ALL}


@pytest.mark.parametrize(("shares", "bound"), [(2, 100_000), (4, 100_000), (2, 40)])
def test_a_split_rebuild_equals_a_one_process_rebuild_row_for_row(home: Settings, one_process: Rows, shares: int,
                                                                  bound: int, tmp_path: Path) -> None:
    """With small bounds the shares spill often, hand over the rows they keep early and read rows back
    from their scratch files."""
    ledger = Ledger(home)
    store = SQLiteViewStore(tmp_path / "views.db")
    seen: list[tuple[int, int]] = []
    try:
        runner = ProjectionRunner(ledger, store, split_min=0, rebuild_rows=bound, rebuild_bytes=bound * 100)
        replayed = runner.rebuild(progress=lambda done, total: seen.append((done, total)), shares=shares)
        assert replayed == ledger.head()
        assert stored(store) == one_process
        assert set(runner.positions().values()) == {ledger.head()}
        assert {store.version(p.name) for p in registry.ALL} == {p.version for p in registry.ALL}
        assert seen[-1] == (ledger.head(), ledger.head())
        assert [done for done, _ in seen] == sorted(done for done, _ in seen)
        assert not list(tmp_path.glob(".rebuild-*"))  # the scratch files are gone
    finally:
        store.close()
        ledger.close()


def test_the_shares_split_the_streams_and_their_shared_rows_need_merging(home: Settings, tmp_path: Path) -> None:
    """Each share holds whole streams, and some month counters gather retirees of both shares: the merge
    in the swap is what makes the split rebuild equal (the test above fails without it)."""
    ledger = Ledger(home)
    try:
        head = ledger.head()
        parts = [ledger.read_share(0, head, head, share, 2) for share in range(2)]
        assert sorted(r.id for part in parts for r in part) == list(range(1, head + 1))
        for share, part in enumerate(parts):
            assert {stream_share(r.originator_id, 2) for r in part} == {share}
        months: list[set[str]] = []
        for share in range(2):
            scratch = ScratchStore(tmp_path / f"share{share}.db")
            source = ShareSource(ledger, share, 2, head)
            ProjectionRunner(ledger, scratch, [registry.by_name("workload")], source=source, settle_s=0.0,
                             shard=str(share)).catch_up()
            months.append({r.key.split(SHARD)[0] for r in scratch.rows("workload", "month")})
            scratch.close()
        assert months[0] & months[1]
    finally:
        ledger.close()


def test_read_share_refuses_a_share_count_that_does_not_divide_the_streams(home: Settings) -> None:
    ledger = Ledger(home)
    try:
        with pytest.raises(ValueError, match="shares must be one of"):
            ledger.read_share(0, ledger.head(), 10, 0, 3)
        assert len(ledger.read_share(10, ledger.head() - 10, 50, 1, 4)) == 50
    finally:
        ledger.close()


def test_merging_shares_sums_the_parts_of_shared_rows(tmp_path: Path) -> None:
    workload = registry.by_name("workload")
    (kind,) = shared_kinds(workload)
    for share, visits in enumerate([2, 3]):
        scratch = ScratchStore(tmp_path / f"share{share}.db")
        scratch.apply("workload", workload.version, {
            (kind, f"CS|2024-01{SHARD}{share}"): {"visits": visits},
            (kind, f"CS|2024-02{SHARD}{share}"): {"visits": 1} if share else None,
            ("staff", f"s{share}"): {"name": "x"},
        }, {"log": 9})
        scratch.finish()
        scratch.close()
    store = SQLiteViewStore(tmp_path / "views.db")
    store.apply("workload", workload.version, {("staff", "old"): {"name": "gone"}}, {"log": 3})
    store.load_shares({"workload": (workload.version, shared_kinds(workload))},
                      [tmp_path / "share0.db", tmp_path / "share1.db"], {"log": 9})
    assert {(r.kind, r.key): r.data for r in store.rows("workload")} == {
        (kind, "CS|2024-01"): summed([{"visits": 2}, {"visits": 3}]), (kind, "CS|2024-02"): {"visits": 1},
        ("staff", "s0"): {"name": "x"}, ("staff", "s1"): {"name": "x"}}
    assert store.positions("workload") == {"log": 9}
    store.close()


def test_a_row_that_two_shares_wrote_fails_the_swap_and_changes_nothing(tmp_path: Path) -> None:
    for share in range(2):
        scratch = ScratchStore(tmp_path / f"share{share}.db")
        scratch.apply("directory", 1, {("retiree", "same"): {"share": share}}, {"log": 4})
        scratch.finish()
        scratch.close()
    store = SQLiteViewStore(tmp_path / "views.db")
    store.apply("directory", 1, {("retiree", "before"): {"n": 1}}, {"log": 2})
    before = store.snapshot("directory")
    with pytest.raises(ProjectionError, match="declared shared; nothing was swapped in"):
        store.load_shares({"directory": (1, {})}, [tmp_path / "share0.db", tmp_path / "share1.db"], {"log": 4})
    assert store.snapshot("directory") == before
    store.close()


def test_a_scratch_store_reads_back_the_latest_write_of_a_row(tmp_path: Path) -> None:
    scratch = ScratchStore(tmp_path / "share.db")
    scratch.apply("v", 1, {("retiree", "a"): {"n": 1}, ("retiree", "b"): {"n": 1}}, {"log": 1})
    scratch.apply("v", 1, {("retiree", "a"): {"n": 2}, ("retiree", "b"): None}, {"log": 2})
    assert scratch.get("v", "retiree", "a") == {"n": 2}
    assert scratch.get("v", "retiree", "b") is None and scratch.get("v", "retiree", "c") is None
    assert [(r.key, r.data) for r in scratch.rows("v")] == [("a", {"n": 2})]
    assert scratch.positions("v") == {"log": 2} and scratch.version("v") == 1
    scratch.close()


def test_an_undecodable_event_fails_the_split_rebuild_with_its_seq_and_leaves_the_live_views(
        home: Settings, tmp_path: Path) -> None:
    copy = Settings(home=tmp_path / "home", keys_dir=home.keys_dir)
    copy.home.mkdir()
    source = sqlite3.connect(home.home / "events.db")
    target = sqlite3.connect(copy.home / "events.db")
    source.backup(target)
    source.close()
    ledger = Ledger(copy)
    store = SQLiteViewStore(tmp_path / "views.db")
    try:
        ProjectionRunner(ledger, store, shares=1).rebuild()
        before = snapshots(store)
        bad = ledger.head() // 2
        target.execute("UPDATE stored_events SET state=? WHERE rowid=?", (b"not an event", bad))
        target.commit()
        with pytest.raises(ProjectionError) as failed:
            ProjectionRunner(ledger, store, split_min=0).rebuild(shares=2)
        assert failed.value.seq == bad and "cannot be decoded" in failed.value.detail
        assert "nothing was swapped in" in failed.value.detail
        assert snapshots(store) == before
        assert not list(tmp_path.glob(".rebuild-*"))
    finally:
        target.close()
        store.close()
        ledger.close()


def _share_processes() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "stat").read_text().split()[3] == str(os.getpid()) \
                    and b"projections.split" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_killed_share_process_fails_the_rebuild_and_leaves_the_live_views(
        home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    points = tmp_path / "failpoints"
    points.mkdir()
    (points / "rebuild-share").touch()
    monkeypatch.setenv("LEDGER_FAILPOINTS", str(points))
    ledger = Ledger(home)
    store = SQLiteViewStore(tmp_path / "views.db")
    failure: list[BaseException] = []
    try:
        ProjectionRunner(ledger, store, shares=1).rebuild()
        before = snapshots(store)

        def rebuild() -> None:
            try:
                ProjectionRunner(ledger, store, split_min=0).rebuild(shares=2)
            except BaseException as error:  # the test inspects it
                failure.append(error)

        worker = threading.Thread(target=rebuild)
        worker.start()
        deadline = time.monotonic() + 60
        while not (points / "rebuild-share.reached").exists() or len(_share_processes()) < 2:
            assert time.monotonic() < deadline, "the share processes never reached the failpoint"
            time.sleep(0.05)
        os.kill(_share_processes()[0], signal.SIGKILL)
        (points / "rebuild-share").unlink()
        worker.join(60)
        assert not worker.is_alive()
        assert len(failure) == 1 and isinstance(failure[0], ProjectionError)
        assert "stopped (exit code -9); nothing was swapped in" in failure[0].detail
        assert snapshots(store) == before
        assert not _share_processes() and not list(tmp_path.glob(".rebuild-*"))
    finally:
        store.close()
        ledger.close()


def test_a_split_rebuild_then_catch_up_takes_in_what_was_appended_meanwhile(
        home: Settings, one_process: Rows, tmp_path: Path) -> None:
    """The swap stores the head the rebuild began at; the events after it are the next catch-up's."""
    ledger = Ledger(home)
    store = SQLiteViewStore(tmp_path / "views.db")
    try:
        runner = ProjectionRunner(ledger, store, split_min=0)
        real_head = ledger.head
        ledger.head = lambda: real_head() - 25  # type: ignore[method-assign]  # the head when the rebuild began
        try:
            assert runner.rebuild(shares=2) == real_head() - 25
        finally:
            del ledger.head
        assert set(runner.positions().values()) == {real_head() - 25}
        assert runner.catch_up() == 25
        assert stored(store) == one_process
    finally:
        store.close()
        ledger.close()


def test_a_rebuild_refuses_a_share_count_that_does_not_divide_the_streams(home: Settings, tmp_path: Path) -> None:
    ledger = Ledger(home)
    store = SQLiteViewStore(tmp_path / "views.db")
    try:
        with pytest.raises(InvalidInputError, match="1, 2, 4, 8 or 16 processes, not 3"):
            ProjectionRunner(ledger, store).rebuild(shares=3)
        with pytest.raises(InvalidInputError, match="not 0"):
            ProjectionRunner(ledger, store, shares=0)
        assert all(store.version(p.name) is None for p in registry.ALL)
    finally:
        store.close()
        ledger.close()


def test_share_rows_spill_unread_kinds_and_keep_read_ones_to_the_end(tmp_path: Path) -> None:
    scratch = ScratchStore(tmp_path / "share.db")
    rows = ShareRows(scratch, "v", bound=10, bytes_bound=30, shared=frozenset({"month"}), shard="1")
    assert rows.get("retiree", "a") is None  # read: "retiree" rows stay in memory
    rows.put("retiree", "a", {"n": 1})
    rows.put("event", "a|1", {"seq": 1, "padding": "x" * 40})  # never read: spilled once 30 bytes wait
    rows.put("month", "CS|2024-01", {"visits": 1})
    assert rows.full
    spilled = rows.take()
    assert set(spilled) == {("event", "a|1"), ("month", f"CS|2024-01{SHARD}1")}
    scratch.apply_encoded("v", 1, spilled, {"log": 1})
    scratch.apply_encoded("v", 1, {}, {"log": 1})  # the store holds a view's last write: push this one out
    assert rows.get("event", "a|1") == {"seq": 1, "padding": "x" * 40}  # read back from the scratch file
    assert rows.get("month", "CS|2024-01") == {"visits": 1}
    rows.put("retiree", "a", {"n": 2})
    assert not rows.full and rows.take() == {}
    assert rows.take(final=True) == {("retiree", "a"): b'{"n":2}'}
    scratch.close()


def test_share_rows_past_twice_the_bound_hand_everything_over_and_read_it_back(tmp_path: Path) -> None:
    scratch = ScratchStore(tmp_path / "share.db")
    rows = ShareRows(scratch, "v", bound=2, bytes_bound=1 << 20, shared=frozenset(), shard="0")
    rows.put("event", "x", {"v": 1})  # not read yet: waits to be spilled
    assert rows.get("event", "x") == {"v": 1}  # read from the spill; from now on "event" rows stay in memory
    rows.put("event", "x", {"v": 2})
    for n in range(4):
        assert rows.get("retiree", str(n)) is None
        rows.put("retiree", str(n), {"n": n})
    assert rows.pending == 6 and rows.full  # 5 rows kept > 2 * bound
    handed = rows.take()
    assert dict(handed) == {("event", "x"): b'{"v":2}', **{("retiree", str(n)): b'{"n":%d}' % n for n in range(4)}}
    scratch.apply_encoded("v", 1, handed, {"log": 1})
    scratch.apply_encoded("v", 1, {}, {"log": 2})  # push the held write out to the file
    assert rows.pending == 0
    assert rows.get("retiree", "3") == {"n": 3}  # no longer in memory: read back from the store
    rows.put("retiree", "3", {"n": 30})  # "retiree" is still a read kind: kept in memory again
    assert rows.take() == {} and rows.take(final=True) == {("retiree", "3"): b'{"n":30}'}
    scratch.close()


def test_rows_held_by_kind_read_as_a_mapping_by_kind_and_key() -> None:
    held = ByKind({"retiree": {"a": b"{}", "b": None}, "month": {}, "staff": {"s": b"[]"}})
    assert len(held) == 3
    assert list(held) == [("retiree", "a"), ("retiree", "b"), ("staff", "s")]
    assert held["retiree", "b"] is None and held.get(("staff", "s")) == b"[]"
    assert held.get(("month", "x"), b"absent") == b"absent" and ("nothing", "a") not in held
    with pytest.raises(KeyError):
        held["retiree", "c"]
    assert held == {("retiree", "a"): b"{}", ("retiree", "b"): None, ("staff", "s"): b"[]"}
