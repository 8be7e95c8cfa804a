"""``ledger bench --integrity``: what the Merkle tree costs, beside baselines from the same run.

* appends with the tree vs the same appends with the tree's write switched off (``tree.add`` made a
  no-op for the baseline only), one event per transaction through ``Ledger.handle``;
* proof latency (inclusion and consistency) at ``events`` events vs reading one stored event by seq;
* verify (chain + tree + checkpoints, ``verify_rows``) vs a bare loop computing the same chain hashes
  over the same rows, and a bare loop with the tree head too (what the tree adds on one core).

Each pair runs interleaved ``rounds`` times on the same data (the order alternating, or rotating for
verify's three loops); a figure is the median ratio with its spread (min to max) across rounds. The
log is written straight through the recorder in large batches (the same insert path, hash chain and
tree as every append), so 100k+ events take seconds.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from hashlib import sha256
from pathlib import Path
from unittest import mock
from uuid import uuid4

from eventsourcing.persistence import StoredEvent

from bench.paired import Paired
from bench.workload import populate, service
from ledger.application import Ledger
from ledger.config import Settings
from ledger.eventlog import tree as stored_tree
from ledger.eventlog.base import Row
from ledger.integrity import merkle, proofs
from ledger.integrity.chain import link_digest
from ledger.integrity.verify import RUN, verify_rows

Report = Callable[[str], None]


@contextmanager
def without_tree() -> Iterator[None]:
    """The baseline's appends: the same transaction without the tree's rows (bench only)."""
    with mock.patch.object(stored_tree, "add", lambda *args, **kwargs: None):
        yield


def synthetic_log(ledger: Ledger, events: int, report: Report, batch: int = 2000) -> None:
    """``events`` realistic-sized records (streams of 50, ~400 B of state) through the recorder's insert."""
    topic = "ledger.domain.retiree:Retiree.ServiceDelivered"
    stream, version = uuid4(), 0
    for start in range(0, events, batch):
        rows = []
        for _ in range(min(batch, events - start)):
            if version == 50:
                stream, version = uuid4(), 0
            version += 1
            rows.append(StoredEvent(stream, version, topic, os.urandom(400)))
        ledger.log.insert_events(rows, event_ids=[str(uuid4()) for _ in rows])
        if start % 20_000 == 0:
            report(f"writing a {events:,}-event log: {start:,}")


def append_figure(root: Path, appends: int, rounds: int, report: Report) -> Paired:
    report("appends with and without the tree")
    rates: dict[bool, list[float]] = {True: [], False: []}
    ledgers = {tree: Ledger(Settings(home=root / f"appends-{tree}", keys_dir=root / "keys")) for tree in (True, False)}
    try:
        rids = {tree: populate(ledger, 20) for tree, ledger in ledgers.items()}
        for round_ in range(rounds):
            for tree in (True, False) if round_ % 2 == 0 else (False, True):
                ledger, ids = ledgers[tree], rids[tree]
                base = round_ * appends
                with nullcontext() if tree else without_tree():
                    began = time.perf_counter()
                    for n in range(appends):
                        ledger.handle(service(ids[n % len(ids)], base + n))
                rates[tree].append(appends / (time.perf_counter() - began))
    finally:
        for ledger in ledgers.values():
            ledger.close()
    return Paired("appends/s with the Merkle tree", "/s", "the same appends without the tree",
                  rates[True], rates[False])


def proof_figures(ledger: Ledger, samples: int, rounds: int, report: Report) -> list[Paired]:
    report("proof latency")
    size, rng = ledger.head(), random.Random(7)
    inclusion, consistency, point = [], [], []
    for _ in range(rounds):
        seqs = [rng.randint(1, size) for _ in range(samples)]
        firsts = [rng.randint(1, size) for _ in range(samples)]
        point.append(_p99(seqs, lambda seq: ledger.read_log(seq - 1, 1)))
        inclusion.append(_p99(seqs, lambda seq: proofs.inclusion(ledger.log, seq, size)))
        consistency.append(_p99(firsts, lambda first: proofs.consistency(ledger.log, first, size)))
    return [
        Paired(f"inclusion proof p99 at {size:,} events", "ms", "reading one event by seq, p99", inclusion, point),
        Paired(f"consistency proof p99 at {size:,} events", "ms", "reading one event by seq, p99", consistency,
               point),
    ]


def _p99(values: list[int], call: Callable[[int], object]) -> float:
    latencies = []
    for value in values:
        began = time.perf_counter()
        call(value)
        latencies.append(time.perf_counter() - began)
    latencies.sort()
    return latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000


def verify_figures(ledger: Ledger, rounds: int, report: Report) -> list[Paired]:
    """Verify (chain + tree + checks, ``verify_rows``) vs the bare chain-hash loop (issue 9's figure),
    and the bare loop computing the tree head too vs the chain alone (what the tree costs on one core).

    The three loops run on the same rows in every round, in an order that rotates round by round.
    Verify folds the tree in a helper process on a machine with a second core (``ledger.integrity.heads``);
    the bare tree loop does the same hashes in one process (``merkle.Frontier.extend`` in runs, as
    verify does in-process), so verify beside it shows what the second core buys.
    """
    report("verify with the tree")
    rows = list(ledger.log.raw_rows())  # the same rows for every loop, as verify reads them (reads not timed)
    loops: dict[str, Callable[[], object]] = {
        "verify": lambda: verify_rows(rows, [], None),
        "chain": lambda: _bare_chain(rows, tree=False),
        "chain_tree": lambda: _bare_chain(rows, tree=True),
    }
    rates: dict[str, list[float]] = {name: [] for name in loops}
    names = list(loops)
    for round_ in range(rounds):
        turn = round_ % len(names)
        for name in names[turn:] + names[:turn]:
            rates[name].append(_rate(len(rows), loops[name]))
    return [
        Paired("verify events/s (chain + tree)", "/s", "bare chain-hash loop", rates["verify"], rates["chain"]),
        Paired("bare chain + tree-head loop events/s", "/s", "bare chain-hash loop", rates["chain_tree"],
               rates["chain"]),
    ]


def _bare_chain(rows: list[Row], tree: bool) -> None:
    """The ceiling: the chain's hashes over the stored bytes (and the tree head, fed in runs of ``RUN``
    leaves as verify feeds it in-process), nothing checked, one process."""
    prev, frontier, run = bytes(32), merkle.Frontier(), list[bytes]()
    for seq, stream, version, topic, state, event_id, _, _ in rows:
        prev = link_digest(prev, seq, stream, version, topic, event_id, sha256(state).digest())
        if tree:
            run.append(prev)
            if len(run) == RUN:
                frontier.extend(run)
                run.clear()
    if tree:
        frontier.extend(run)
        frontier.root()
    if rows and prev.hex() != rows[-1][7]:
        raise AssertionError("the bare loop disagrees with the stored chain")


def _rate(count: int, work: Callable[[], object]) -> float:
    began = time.perf_counter()
    result = work()
    if getattr(result, "ok", True) is False:
        raise AssertionError(f"verify failed on the benchmark log: {result}")
    return count / (time.perf_counter() - began)


def run(root: Path, events: int = 100_000, appends: int = 300, samples: int = 300, rounds: int = 5,
        report: Report = lambda _: None) -> list[Paired]:
    """Every integrity figure; ``root`` is a scratch folder."""
    figures = [append_figure(root, appends, rounds, report)]
    ledger = Ledger(Settings(home=root / "proofs", keys_dir=root / "keys"))
    try:
        synthetic_log(ledger, events, report)
        figures += proof_figures(ledger, samples, rounds, report)
        figures += verify_figures(ledger, rounds, report)
    finally:
        ledger.close()
    return figures

