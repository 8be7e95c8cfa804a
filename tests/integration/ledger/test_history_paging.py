"""Paged history (``Ledger.history(after_version=, limit=)``) and the cache of decoded entries per stream
(``LEDGER_HISTORY_CACHE``), on every backend: pages add up to the whole history, reads stay exact after
appends (also another writer's), and the log is read only after what the cache holds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from typer.testing import CliRunner

import cli.main  # noqa: F401  (registers the commands on the app)
from bench.workload import populate, service
from cli.base import app as ledger_app
from ledger.application import HistoryCache, HistoryEntry, Ledger
from ledger.config import Settings
from ledger.errors import InvalidInputError, NotFoundError
from tests.backends import backend_settings  # noqa: F401  (fixture)
from tests.conftest import TODAY

EVENTS = 23  # enrollment, transfer and 21 services
NOON = datetime(2026, 6, 30, 12)


def long_retiree(app: Ledger, events: int = EVENTS) -> UUID:
    (rid,) = populate(app, 1)
    for n in range(events - 2):
        app.handle(service(rid, n))
    return rid


@pytest.fixture(params=[50_000, 0, 7], ids=["cached", "uncached", "tiny-cache"])
def app(request: pytest.FixtureRequest, backend_settings: Settings) -> Iterator[Ledger]:  # noqa: F811
    ledger = Ledger(replace(backend_settings, history_cache=request.param), clock=lambda: TODAY)
    yield ledger
    ledger.close()


def pages(app: Ledger, rid: UUID, limit: int, **query: Any) -> list[list[HistoryEntry]]:
    found, after = [], 0
    while page := app.history(rid, after_version=after, limit=limit, **query):
        found.append(page)
        after = page[-1].version
    return found


@pytest.mark.parametrize("limit", [1, 5, 23, 100])
def test_the_pages_add_up_to_the_whole_history(app: Ledger, limit: int) -> None:
    rid = long_retiree(app)
    whole = app.history(rid)
    assert [e.version for e in whole] == list(range(1, EVENTS + 1))
    got = pages(app, rid, limit)
    assert [len(page) for page in got] == [min(limit, EVENTS - n) for n in range(0, EVENTS, limit)]
    assert [e for page in got for e in page] == whole == app.history(rid)  # again: from the cache where kept


def test_a_page_keeps_the_version_and_as_of_filters(app: Ledger) -> None:
    rid = long_retiree(app)
    assert [e.version for e in app.history(rid, version=10, after_version=5, limit=3)] == [6, 7, 8]
    assert [e.version for e in app.history(rid, version=10, after_version=8)] == [9, 10]
    assert app.history(rid, version=10, after_version=10) == app.history(rid, version=3, after_version=20) == []
    on = service(rid, 9).delivered_on  # the 10th service: version 12
    in_effect = app.history(rid, as_of=on)
    assert [e.version for e in in_effect] == list(range(1, 13))
    assert [e for page in pages(app, rid, 4, as_of=on) for e in page] == in_effect
    assert app.history(rid, as_of=on, after_version=2, limit=2) == in_effect[2:4]


def test_after_the_last_version_the_page_is_empty_and_unknowns_stay_not_found(app: Ledger) -> None:
    rid = long_retiree(app)
    assert app.history(rid, after_version=EVENTS) == app.history(rid, after_version=10**9, limit=5) == []
    assert app.history(rid, limit=0) == []
    with pytest.raises(NotFoundError, match="no stream"):
        app.history(uuid4(), after_version=3, limit=5)
    with pytest.raises(NotFoundError, match=f"no version {EVENTS + 1}"):
        app.history(rid, version=EVENTS + 1, after_version=2, limit=1)
    assert app.history(rid, version=EVENTS, after_version=EVENTS - 1)[0].version == EVENTS


def test_an_event_appended_after_a_cached_read_appears(app: Ledger) -> None:
    rid = long_retiree(app)
    before = app.history(rid)
    assert app.history(rid, after_version=EVENTS) == []
    app.handle(service(rid, 100))
    after = app.history(rid)
    assert after[:-1] == before and (after[-1].version, after[-1].type) == (EVENTS + 1, "ServiceDelivered")
    assert app.history(rid, after_version=EVENTS) == after[-1:]
    assert app.history(rid, version=EVENTS + 1, after_version=EVENTS, limit=1) == after[-1:]


def test_a_cached_prefix_is_not_read_again(backend_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    app = Ledger(backend_settings, clock=lambda: TODAY)
    try:
        rid = long_retiree(app)
        reads: list[tuple[int | None, int | None]] = []
        select_stream = app.log.select_stream

        def counted(stream: UUID | str, *, gt: int | None = None, limit: int | None = None) -> Any:
            reads.append((gt, limit))
            return select_stream(stream, gt=gt, limit=limit)

        monkeypatch.setattr(app.log, "select_stream", counted)
        first = app.history(rid, limit=6)
        assert reads == [(0, 6)]
        assert app.history(rid, limit=6) == first and reads == [(0, 6)]  # the page is in the cache: no read
        assert [e.version for e in app.history(rid, after_version=4, limit=4)] == [5, 6, 7, 8]
        assert reads[1:] == [(6, 4)]  # only what comes after the cached six (and all four are kept)
        app.handle(service(rid, 100))
        assert len(app.history(rid)) == EVENTS + 1 and reads[2:] == [(10, None)]
    finally:
        app.close()


def test_a_cached_history_sees_what_another_writer_appended(tmp_path: Any) -> None:
    settings = Settings(home=tmp_path / "home", keys_dir=tmp_path / "keys")
    first, second = Ledger(settings, clock=lambda: TODAY), Ledger(settings, clock=lambda: TODAY)
    try:
        rid = long_retiree(first)
        assert len(first.history(rid)) == EVENTS
        second.handle(service(rid, 100))
        assert [e.version for e in first.history(rid, after_version=EVENTS - 1)] == [EVENTS, EVENTS + 1]
        assert first.history(rid) == second.history(rid)
    finally:
        first.close()
        second.close()


def test_concurrent_pages_stay_exact_while_events_are_appended(tmp_path: Any) -> None:
    app = Ledger(Settings(home=tmp_path / "home", keys_dir=tmp_path / "keys"), clock=lambda: TODAY)
    try:
        rid = long_retiree(app)
        done = threading.Event()

        def read(n: int) -> None:
            while not done.is_set():
                page = app.history(rid, after_version=n % 7, limit=1 + n % 5)
                assert [e.version for e in page] == list(range(n % 7 + 1, n % 7 + 1 + len(page)))

        with ThreadPoolExecutor(6) as pool:
            readers = [pool.submit(read, n) for n in range(5)]
            for n in range(30):
                app.handle(service(rid, 100 + n))
            done.set()
            for reader in readers:
                reader.result()
        fresh = Ledger(replace(app.settings, history_cache=0), clock=lambda: TODAY)
        try:
            assert app.history(rid) == fresh.history(rid)
        finally:
            fresh.close()
    finally:
        app.close()


def entries(stream: str, versions: range) -> list[HistoryEntry]:
    return [HistoryEntry(seq=v, stream=stream, version=v, type="T", timestamp=NOON, recorded_by="x",
                         event_id=None, data={}, prev_hash="", hash="") for v in versions]


def test_the_cache_is_bounded_by_entries_least_recently_used_first() -> None:
    cache = HistoryCache(10)
    a, b, c = uuid4(), uuid4(), uuid4()
    cache.extend(a, entries("a", range(1, 5)))
    cache.extend(b, entries("b", range(1, 5)))
    cache.get(a)  # a is used: b goes first
    cache.extend(c, entries("c", range(1, 5)))
    assert (len(cache.get(a)), len(cache.get(b)), len(cache.get(c))) == (4, 0, 4)
    cache.extend(c, entries("c", range(5, 20)))  # a prefix longer than the cache: only its start is kept
    assert ([e.version for e in cache.get(c)], cache.get(a)) == (list(range(1, 11)), ())


def test_the_cache_keeps_only_what_continues_its_prefix() -> None:
    cache = HistoryCache(100)
    s = uuid4()
    cache.extend(s, entries("s", range(3, 6)))  # a gap: versions 1 and 2 are missing
    assert cache.get(s) == ()
    cache.extend(s, entries("s", range(1, 4)))
    cache.extend(s, entries("s", range(2, 6)))  # overlaps what is held (another read was first)
    assert [e.version for e in cache.get(s)] == [1, 2, 3]
    off = HistoryCache(0)
    off.extend(s, entries("s", range(1, 4)))
    assert off.get(s) == ()


def test_the_cache_size_comes_from_the_environment() -> None:
    assert Settings.from_env({}).history_cache == 50_000
    assert Settings.from_env({"LEDGER_HISTORY_CACHE": "0"}).history_cache == 0
    with pytest.raises(InvalidInputError, match="LEDGER_HISTORY_CACHE"):
        Settings.from_env({"LEDGER_HISTORY_CACHE": "-1"})


def test_the_history_command_shows_a_page(tmp_path: Any) -> None:
    home = tmp_path / "home"
    app = Ledger(Settings(home=home), clock=lambda: TODAY)
    try:
        rid = long_retiree(app)
    finally:
        app.close()

    def shown(*args: str) -> list[int]:
        result = CliRunner().invoke(ledger_app, ["history", str(rid), *args],
                                    env={"LEDGER_HOME": str(home), "COLUMNS": "200", "LEDGER_LOG": "sqlite"})
        assert result.exit_code == 0, result.output
        rows = [line.split("│") for line in result.stdout.splitlines() if line.startswith("│")]
        return [int(row[2]) for row in rows if row[2].strip().isdigit()]

    assert shown() == list(range(1, EVENTS + 1))
    assert shown("--after-version", "4", "--limit", "3") == [5, 6, 7]
    assert shown("--after-version", str(EVENTS)) == []
    assert CliRunner().invoke(ledger_app, ["history", str(rid), "--limit", "0"]).exit_code == 2
