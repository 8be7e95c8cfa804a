"""A rebuild split across processes: each folds one share of the streams, the view store merges them.

A rebuild is CPU-bound in one process: every event is decoded and folded into every view. On a
machine with more than one core, ``rebuild_split`` runs ``shares`` processes (new Python processes:
nothing of this process's threads or connections is inherited). Process ``i`` reads only the records of the
streams in share ``i`` (``ledger.eventlog.base.stream_share``; the SQLite log skips the other
rows itself) up to the head the rebuild began at, decodes them and folds them into every view with
the ordinary runner and views; its rows go to a private scratch file (``ScratchStore``: appended,
sorted once at the end). The parent then swaps every view in, in ONE transaction of the view store
(``SQLiteViewStore.load_shares``): the live rows deleted, the shares' rows inserted in key order,
the positions set to that head. Queries see the old views until then; appends go on meanwhile and
the next catch-up applies them.

A split rebuild equals a one-process rebuild row for row because of what the views are
(``projections.shards``): a row of a kind that is not ``shared`` is written by one stream's events,
so by one share, in its stream's order; a shared row (a community's month counters, the last day
seen) gets one part per share, and the parts are merged as partition owners' are. A row found in
two shares fails the swap (nothing is written).

A share that stops (a view's error, an event that cannot be decoded, a killed process) fails the
rebuild with its reason and the ``seq``; the other shares are stopped and nothing is swapped in.
"""

from __future__ import annotations

import gc
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import cast

from ledger import failpoints
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import InvalidInputError, ProjectionError
from ledger.eventlog.base import SHARES
from projections import registry
from projections.base import Projection
from projections.shards import shared_kinds
from projections.sources import SourcedRecord
from projections.store import LOG_SOURCE
from projections.store.scratch import ScratchStore
from projections.store.sqlite import SQLiteViewStore

Progress = Callable[[int, int], None]
SPLIT_MIN = 50_000
"""Below this many events a rebuild runs in one process (starting the others costs ~0.5 s)."""
SPILL_BYTES = 2 << 20
"""At most this many bytes of a share's rows of unread kinds (the audit trail's) wait in memory before they
are spilled to its scratch file. A larger buffer is no faster (the file has no journal), and each MB of
it cost a share about 2.5 MB at its peak at a million events: the holes it leaves in Python's memory stay."""


def check_shares(shares: int | None) -> None:
    """Refuses a number of processes that does not split the streams evenly (None: the default)."""
    if shares is not None and shares not in SHARES:
        raise InvalidInputError(f"a rebuild runs in 1, 2, 4, 8 or 16 processes, not {shares}")


def default_shares() -> int:
    """As many shares as usable cores, rounded down to a share count (1, 2, 4, 8 or 16)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(n for n in SHARES if n <= cores)


class ShareSource:
    """The embedded log's records of one share of the streams, up to ``stop`` (a ``LogSource``)."""

    def __init__(self, ledger: Ledger, share: int, shares: int, stop: int) -> None:
        self._ledger, self._share, self._shares, self._stop = ledger, share, shares, stop

    def read(self, positions: Mapping[str, int], limit: int) -> list[SourcedRecord]:
        records = self._ledger.read_share(positions.get(LOG_SOURCE, 0), self._stop, limit, self._share, self._shares)
        return [SourcedRecord(LOG_SOURCE, record.id, record) for record in records]

    def last_seq(self, positions: Mapping[str, int]) -> int:
        return positions.get(LOG_SOURCE, 0)

    def head(self) -> int:
        return self._stop

    def lag_by_source(self, positions: Mapping[str, int]) -> dict[str, int]:
        return {LOG_SOURCE: max(self._stop - positions.get(LOG_SOURCE, 0), 0)}

    def close(self) -> None:
        """Nothing to close: the ledger belongs to the share's process."""


def can_split(ledger: Ledger, projections: Sequence[Projection]) -> bool:
    """An embedded log, a Python to start the shares with and views they can import (the registry's)."""
    return (bool(sys.executable) and ledger.settings.backend == "sqlite"
            and all(any(p is q for q in registry.ALL) for p in projections))


def rebuild_split(ledger: Ledger, store: SQLiteViewStore, projections: Sequence[Projection], shares: int,
                  progress: Progress | None = None, bounds: tuple[int, int, int] = (100_000, 16 << 20, 500)) -> int:
    """Rebuilds ``projections`` in ``shares`` processes and swaps them in; returns the records replayed.
    ``bounds`` are each share's ``rebuild_rows``, ``rebuild_bytes`` and ``rebuild_batch``."""
    stop = ledger.head()
    names = [p.name for p in projections]
    folder = Path(tempfile.mkdtemp(prefix=".rebuild-", dir=store.path.parent))
    running: dict[Connection, subprocess.Popen[bytes]] = {}
    try:
        for share in range(shares):
            reading, writing = os.pipe()
            try:
                child = subprocess.Popen([sys.executable, "-c", CHILD, str(writing)], stdin=subprocess.PIPE,
                                         pass_fds=(writing,))
            finally:
                os.close(writing)
            running[Connection(reading, writable=False)] = child
            assert child.stdin is not None
            child.stdin.write(pickle.dumps((ledger.settings, names, share, shares, stop,
                                            str(folder / f"share{share}.db"), bounds)))
            child.stdin.close()
        _wait(running, stop, progress)
        store.load_shares({p.name: (p.version, shared_kinds(p)) for p in projections},
                          [folder / f"share{share}.db" for share in range(shares)], {LOG_SOURCE: stop})
        return stop
    finally:
        for channel, child in running.items():
            if child.poll() is None:
                child.kill()
            child.wait()
            channel.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait(running: dict[Connection, subprocess.Popen[bytes]], stop: int, progress: Progress | None) -> None:
    """Gathers the shares' progress until every one is done; the first failure stops the rest and is raised."""
    done = dict.fromkeys(running, 0)
    pending = set(running)
    while pending:
        for ready in wait(list(pending)):
            channel = cast(Connection, ready)
            try:
                kind, *detail = channel.recv()
            except EOFError:  # the process ended without a word: killed, or out of memory
                code = running[channel].wait()
                raise ProjectionError(f"a rebuild process stopped (exit code {code}); nothing was swapped in") from None
            if kind == "failed":
                message, view, seq = detail
                raise ProjectionError(f"{message}; nothing was swapped in", view=view, seq=seq)
            done[channel] = detail[0]
            if kind == "done":
                pending.discard(channel)
            if progress is not None:
                progress(sum(done.values()), stop)


CHILD = "from projections.split import serve; serve()"


def serve() -> None:
    """A share's process: reads its task from stdin (pickled by ``rebuild_split``), folds, reports on the
    connection whose file descriptor is its first argument."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops the shares
    channel = Connection(int(sys.argv[1]), readable=False)
    try:
        task: tuple[Settings, list[str], int, int, int, str, tuple[int, int, int]] = pickle.load(sys.stdin.buffer)
        fold_share(*task, report=lambda *message: channel.send(message))
    except OSError:  # the parent is gone (its end of the pipe closed): nobody waits for this share
        sys.exit(1)
    finally:
        with suppress(OSError):
            channel.close()


def fold_share(settings: Settings, names: list[str], share: int, shares: int, stop: int, scratch: str,
               bounds: tuple[int, int, int], report: Callable[..., None]) -> None:
    """Folds the records of share ``share``'s streams up to ``stop`` into the scratch file ``scratch``; reports
    ``("progress", n)`` per batch, then ``("done", n)`` or ``("failed", message, view, seq)``."""
    from projections.runner import ProjectionRunner  # the runner imports this module

    try:
        ledger = Ledger(settings)
        store = ScratchStore(Path(scratch))
        try:
            failpoints.reached("rebuild-share")
            rows, size, batch = bounds
            runner = ProjectionRunner(ledger, store, [registry.by_name(name) for name in names],
                                      source=ShareSource(ledger, share, shares, stop), settle_s=0.0,
                                      rebuild_rows=rows, rebuild_bytes=size, rebuild_batch=batch, shard=str(share))

            def progress(done: int, _: int) -> None:
                gc.freeze()  # what the batch left alive stays: the collector stops walking it (~13 % of a fold)
                report("progress", done)

            applied = runner.catch_up(progress=progress)
            store.finish()
        finally:
            store.close()
            ledger.close()
        report("done", applied)
    except ProjectionError as error:
        report("failed", error.detail, error.view, error.seq)
    except Exception as error:  # reported to the parent, which raises it as the rebuild's failure
        report("failed", f"the rebuild of share {share} of {shares} failed ({type(error).__name__}: {error})", "", 0)
