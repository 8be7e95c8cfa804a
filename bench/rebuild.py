"""``ledger bench``'s rebuild figure: every view rebuilt from the log vs a loop that only reads and decodes it.

``build_log`` writes a realistic log (the demo generator's Hunan history: communities, staff, retirees
with transfers, adjustments, certifications, services and ratings) through the real write path,
``Ledger.handle_many``, in batches of ``batch`` commands, so every domain rule is checked and 1,000,000
events take minutes, not hours. ``rebuild_figures`` then runs, interleaved ``rounds`` times on that
same log, a rebuild of every registered view into a fresh SQLite view store and the ceiling: reading
and decoding every event (decryption included) and nothing else, in one process. The rebuild splits
the streams across as many processes as there are usable cores (``projections.split``), as
``ledger projections rebuild`` does. Peak memory is measured in one extra untimed rebuild in a fresh
process (``rebuild_memory``, so tracing does not slow the timed rounds and nothing else this process
did counts): its peak RSS, the largest share process's, all of them together (sampled every 20 ms)
and what Python allocated in it (tracemalloc).
"""

from __future__ import annotations

import os
import pickle
import shutil
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from uuid import UUID, uuid5

import orjson

from bench.paired import Paired, interleaved
from devtools.demo import END, _Planner
from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.domain.values import NAMESPACE
from ledger.errors import LedgerError
from projections.runner import ProjectionRunner
from projections.store.sqlite import SQLiteViewStore

Report = Callable[[str], None]
EVENTS_PER_RETIREE = 45
"""About how many events the demo plans per retiree (communities and staff included); sizes the plan."""


def build_log(settings: Settings, events: int, seed: int = 7, batch: int = 2000,
              report: Report = lambda _: None) -> int:
    """Appends about ``events`` events of a demo history to the ledger at ``settings``; returns its head.

    The plan is the demo generator's, sorted by business date and cut after ``events`` commands (each
    records one event), so every prefix is a consistent history.
    """
    planner = _Planner(seed)
    retirees = max(1, events // EVENTS_PER_RETIREE + 1)
    codes = planner.communities(max(3, round(retirees / 40)))
    for index in range(retirees):
        planner.retiree(index, codes)
    steps = sorted(planner.steps, key=lambda s: (s.day, s.rank, s.order))[:events]
    namespace = uuid5(NAMESPACE, f"bench-rebuild:{seed}")
    ledger = Ledger(settings)
    try:
        ids: dict[int, UUID] = {}
        for start in range(0, len(steps), batch):
            chunk = steps[start:start + batch]
            refs: dict[int, int] = {}
            items: list[tuple[c.Command, c.Context]] = []
            for n, step in enumerate(chunk):
                command = step.command
                if isinstance(command, c.Enroll):
                    refs[step.retiree] = n
                elif step.retiree >= 0:
                    target = c.Ref(refs[step.retiree]) if step.retiree in refs else ids[step.retiree]
                    command = replace(command, retiree_id=target)  # type: ignore[arg-type]
                context = c.Context(principal=step.principal, event_id=uuid5(namespace, str(step.order)), today=END)
                items.append((command, context))
            results = ledger.handle_many(items)
            failed = [r for r in results if isinstance(r, LedgerError)]
            if failed:
                raise AssertionError(f"{len(failed)} commands of the benchmark log failed: {failed[0]}")
            for retiree, n in refs.items():
                ids[retiree] = UUID(results[n].id)  # type: ignore[union-attr]
            if start // batch % 50 == 0:
                report(f"writing a {len(steps):,}-event log: {start + len(chunk):,}")
        return ledger.head()
    finally:
        ledger.close()


def decode_only(ledger: Ledger, batch: int = 5000) -> int:
    """The ceiling: read and decode every event in log order (what any rebuild must do), fold a count."""
    counts: dict[str, int] = {}
    after = 0
    while records := ledger.read_log(after, batch):
        for record in records:
            name = type(ledger.mapper.to_domain_event(record)).__name__
            counts[name] = counts.get(name, 0) + 1
        after = records[-1].id
    return sum(counts.values())


def rebuild_all(ledger: Ledger, views: Path, shares: int | None = None) -> int:
    """Rebuilds every registered view into a fresh SQLite view store at ``views`` (in ``shares`` processes;
    default: as many as usable cores); returns events replayed."""
    for leftover in (views, views.with_name(views.name + "-wal"), views.with_name(views.name + "-shm")):
        leftover.unlink(missing_ok=True)
    store = SQLiteViewStore(views)
    try:
        runner = ProjectionRunner(ledger, store, settle_s=0.0)
        return runner.rebuild(shares=shares)
    finally:
        store.close()


def bench_log(root: Path, events: int | None, report: Report, keys_dir: Path | None = None) -> tuple[Settings, Path]:
    """The settings of the log at ``root`` (written first with ``build_log`` when ``events`` is given) and an
    empty scratch folder beside it for the rebuilt views."""
    settings = Settings(home=root, keys_dir=keys_dir or root.parent / "keys")
    if events is not None:
        build_log(settings, events, report=report)
    scratch = root / "bench-views"
    scratch.mkdir(parents=True, exist_ok=True)
    return settings, scratch


def rebuild_figures(root: Path, events: int | None = None, rounds: int = 5, report: Report = lambda _: None,
                    keys_dir: Path | None = None) -> dict[str, object]:
    """Rebuild vs decode-only over the log at ``root`` (written first with ``build_log`` when ``events``
    is given), interleaved ``rounds`` times. Returns events/s median and (min, max) per side, the
    median ratio and its spread, and peak memory (MB)."""
    settings, scratch = bench_log(root, events, report, keys_dir)
    ledger = Ledger(settings)
    try:
        head = ledger.head()
        report(f"rebuild vs decode-only over {head:,} events, {rounds} rounds")

        def ours(round_: int) -> float:
            began = time.perf_counter()
            replayed = rebuild_all(ledger, scratch / "views.db")
            if replayed != head:
                raise AssertionError(f"the rebuild replayed {replayed} of {head} events")
            return head / (time.perf_counter() - began)

        def theirs(round_: int) -> float:
            began = time.perf_counter()
            decoded = decode_only(ledger)
            if decoded != head:
                raise AssertionError(f"decode-only read {decoded} of {head} events")
            return head / (time.perf_counter() - began)

        mine, base = interleaved(rounds, ours, theirs)
    finally:
        ledger.close()
    try:
        memory = rebuild_memory(settings, scratch / "views.db")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    figure = Paired(f"rebuild events/s, all views, {head:,} events", "/s", "read + decode only, same log",
                    mine, base, extra=tuple(memory.items()))
    ratios = figure.ratios
    return {"events": head, "rounds": rounds,
            "rebuild": {"median": statistics.median(mine), "min": min(mine), "max": max(mine), "rounds": mine},
            "decode_only": {"median": statistics.median(base), "min": min(base), "max": max(base), "rounds": base},
            "ratio": {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)},
            **memory, "figure": figure}


def rebuild_memory(settings: Settings, views: Path) -> dict[str, float]:
    """The memory of one more rebuild, run in a fresh process so nothing else this process did (writing the
    log, other figures' servers) counts: its peak traced Python memory, its peak RSS, the largest share
    process's peak RSS and the peak of all of them together (sampled every 20 ms)."""
    probe = subprocess.run([sys.executable, "-c", "from bench.rebuild import memory_probe; memory_probe()"],
                           input=pickle.dumps((settings, views)), capture_output=True, check=False)
    if probe.returncode != 0:
        raise AssertionError(f"the memory probe failed: {probe.stderr.decode(errors='replace')[-2000:]}")
    found: dict[str, float] = orjson.loads(probe.stdout)
    return found


def memory_probe() -> None:
    """``rebuild_memory``'s process: one rebuild of every view, its memory as JSON on stdout."""
    settings, views = pickle.load(sys.stdin.buffer)
    ledger = Ledger(settings)
    together = _TreeRss()
    together.start()
    tracemalloc.start()
    try:
        rebuild_all(ledger, views)
        _, traced = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        together.stop()
        ledger.close()
    # Peaks from /proc's VmHWM, not getrusage: a process started by fork keeps, in ru_maxrss, the peak of
    # the image it replaced at exec (in a whole bench run, the bench process's 800 MB).
    own = _status_mb(os.getpid(), "VmHWM")
    sys.stdout.buffer.write(orjson.dumps({"peak_traced_mb": traced / 2**20, "max_rss_mb": own,
                                          "share_max_rss_mb": together.child_peak_mb,
                                          "all_processes_rss_mb": together.peak_mb}))


class _TreeRss(threading.Thread):
    """Samples, every 20 ms, the RSS of this process and its children together (Linux ``/proc``) and keeps
    the peak; also the largest child's own peak (its ``VmHWM``, as last seen before it ended)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mb = 0.0
        self.child_peak_mb = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.02):
            self._sample()

    def _sample(self) -> None:
        me = os.getpid()
        children = [int(pid) for pid in _children(me)]
        self.peak_mb = max(self.peak_mb, sum(_status_mb(pid, "VmRSS") for pid in [me, *children]))
        self.child_peak_mb = max([self.child_peak_mb, *(_status_mb(pid, "VmHWM") for pid in children)])

    def stop(self) -> None:
        """Stops sampling, after one last sample (a rebuild shorter than one period still gets one)."""
        self._done.set()
        self.join()
        self._sample()


def _children(pid: int) -> list[str]:
    """The processes any thread of ``pid`` started."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += (task / "children").read_text().split()
        except OSError:
            continue
    return found


def _status_mb(pid: int, field: str) -> float:
    """A memory field of ``/proc/PID/status`` (``VmRSS``: resident now, ``VmHWM``: its peak), in MB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone meanwhile
        return 0.0
    found = next((line for line in status.splitlines() if line.startswith(field + ":")), None)
    return 0.0 if found is None else int(found.split()[1]) / 1024


def rebuild_figure(home: Path, keys_dir: Path, rounds: int = 5, report: Report = lambda _: None) -> Paired:
    """The ``Paired`` figure ``bench.run`` reports, over the log already at ``home``."""
    figure = rebuild_figures(home, None, rounds, report, keys_dir=keys_dir)["figure"]
    assert isinstance(figure, Paired)
    return figure
