"""Blue/green: a projection's new version is built beside the live view, which keeps serving, and swapped in.

Two runners share one view store as two worker processes would (each its own connection): the old code
(version 1) keeps the live view current while the new code (version 2, counting ten per event) builds
``counter~v2`` beside it and swaps it in once caught up. Readers take one consistent snapshot at a time
all along, while events are appended: no read fails or sees a torn view (the count always matches the
version and position read with it), none is staler than the lag bound, and reads switch from version
1 to 2 and never back. Run on SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from ledger.application import Ledger
from projections.runner import ProjectionRunner, green
from projections.store import ViewStore
from projections.store.postgres import PostgresViewStore
from projections.store.sqlite import SQLiteViewStore
from tests.integration.projections.support import Hunan
from tests.integration.projections.test_runner import CS, Counter, seed

LAG_BOUND = 100
"""Events a read may trail the log by: what is appended while the old runner does one cycle."""
STEP = {1: 1, 2: 10}


def sqlite_stores(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], ViewStore]:
    return lambda: SQLiteViewStore(tmp_path / "views.db")


def postgres_stores(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], ViewStore]:
    url = request.getfixturevalue("postgres_dsn")
    return lambda: PostgresViewStore(url)


@pytest.mark.parametrize("stores", [pytest.param(sqlite_stores, id="sqlite"),
                                    pytest.param(postgres_stores, id="postgres", marks=pytest.mark.postgres)])
def test_a_new_version_is_built_beside_the_live_view_and_swapped_in_under_read_load(
    ledger: Ledger, tmp_path: Path, request: pytest.FixtureRequest,
    stores: Callable[[Path, pytest.FixtureRequest], Callable[[], ViewStore]],
) -> None:
    seed(ledger)
    h = Hunan(ledger)
    for n in range(400):
        h.staff(CS, f"before-{n}", date(2024, 1, 1))
    opener = stores(tmp_path, request)
    old_store, new_store, read_store = opener(), opener(), opener()
    old = ProjectionRunner(ledger, old_store, [Counter(version=1)], batch_size=50)
    new = ProjectionRunner(ledger, new_store, [Counter(version=2, step=10)], batch_size=50, rebuild_rows=20,
                           rebuild_batch=20)  # the green view is stored in many small steps: a slow build
    old.catch_up()
    running = threading.Event()
    running.set()
    reads: dict[str, list[tuple[int | None, int, int]]] = {}  # per reader: (version, position, lag) of each read
    failures: list[str] = []

    def append() -> None:
        for n in range(150):
            h.staff(CS, f"during-{n}", date(2024, 1, 1))
            time.sleep(0.004)

    def old_worker() -> None:
        while running.is_set():
            old.catch_up()
            time.sleep(0.005)

    def reader() -> None:
        mine = reads.setdefault(threading.current_thread().name, [])
        while running.is_set():
            head = ledger.head()
            try:
                view = read_store.snapshot("counter")
            except Exception as error:  # any failed read fails the test
                failures.append(f"{type(error).__name__}: {error}")
                continue
            position = view.positions.get("log", 0)
            total = next((row.data["n"] for row in view.rows if row.key == "all"), 0)
            if view.version not in STEP or total != position * STEP[view.version]:
                failures.append(f"torn read: version {view.version}, position {position}, count {total}")
            mine.append((view.version, position, head - position))

    switched: list[float] = []

    def new_worker() -> None:  # deployed a moment later; it keeps the view current once it is the live one
        time.sleep(0.3)
        started = time.monotonic()
        while running.is_set():
            new.catch_up()
            if not switched and new_store.version("counter") == 2:
                switched.append(time.monotonic() - started)
            time.sleep(0.005)

    appender = threading.Thread(target=append)
    threads = [threading.Thread(target=work) for work in (old_worker, new_worker, reader, reader)]
    for thread in [appender, *threads]:
        thread.start()
    try:
        appender.join()
        deadline = time.monotonic() + 30
        while new_store.version("counter") != 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
    finally:
        running.clear()
        for thread in threads:
            thread.join()
    new.catch_up()
    assert not failures, failures[:5]
    for seen in reads.values():  # each reader: the old version until the switch, then the new one, never back
        versions = [version for version, _, _ in seen]
        assert 1 in versions and 2 in versions and versions[versions.index(2):].count(1) == 0
    worst = max(lag for seen in reads.values() for _, _, lag in seen)
    assert worst <= LAG_BOUND, f"a read trailed the log by {worst} events"
    assert new_store.get("counter", "count", "all") == {"n": ledger.head() * 10}
    assert new_store.version(green(new.projections[0])) is None and new_store.rows(green(new.projections[0])) == []
    assert old.superseded() == ["counter"] and old.catch_up() == 0  # the old code leaves the new view alone
    assert new_store.get("counter", "count", "all") == {"n": ledger.head() * 10}
    print(f"\nblue/green: {sum(map(len, reads.values()))} reads, none failed, worst lag {worst} events, "
          f"switched {switched[0]:.2f} s after the new version started")
    for store in (old_store, new_store, read_store):
        store.close()
